"""Read (keys, rows) from TSV, JSONL, NPZ and Parquet files (spec §13.6 describes the formats),
whole or in batches (the partitioned build reads shards batch by batch)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import zipfile
from dataclasses import dataclass
from itertools import repeat

import numpy as np

from phq import layout as L
from phq.errors import UsageError

# §13.6: a TSV weight is an ASCII decimal number; no spaces, underscores, hex, nan or inf
# (Python's float() would accept "1_0" as 10 and " 1 " as 1). Possessive: linear time.
_NUMBER = rb"[+-]?(?:[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][+-]?[0-9]++)?+"
_NUMBER_RE = re.compile(_NUMBER)
_WEIGHTS_RE = re.compile(rb"(?:\t" + _NUMBER + rb")*+")
_HEX_RE = re.compile(r"(?:[0-9A-Fa-f]{2})*+")
MAX_JSON_DEPTH = L.MAX_METADATA_DEPTH  # a JSONL record or --metadata nests at most this deep (§5.2's rule)
NPZ_MAX_BYTES = 1 << 32  # default bound on the inflated size of an NPZ input's two arrays

# Test-only: called as _TEST_HOOK(path, records_so_far) between two batches of a TSV or
# JSONL read (tests change a file there, deterministically, to check §13.8).
_TEST_HOOK = None


class InputChangedError(UsageError):
    """An input file changed while a build read it (spec §13.8): the build is refused and
    the previous output, if any, is left as it was."""


@dataclass(frozen=True)
class InputState:
    """What a build records of an input file at its first reading pass (§13.8)."""

    path: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    sha256: str

    def stat_fields(self) -> tuple:
        return (self.size, self.mtime_ns, self.ctime_ns, self.inode)


def _stat_fields(st: os.stat_result) -> tuple:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def input_state(path: str | os.PathLike) -> InputState:
    """Stat and SHA-256 of an input file, read once; refuses a file that changes meanwhile."""
    p = os.fspath(path)
    h = hashlib.sha256()
    if not stat.S_ISREG(os.stat(p).st_mode):  # before open(): opening a FIFO would block
        raise UsageError(f"{p}: not a regular file (a build reads its inputs more than once)")
    with open(p, "rb") as f:
        before = os.fstat(f.fileno())
        if not stat.S_ISREG(before.st_mode):
            raise UsageError(f"{p}: not a regular file")
        read = 0
        while chunk := f.read(1 << 20):
            h.update(chunk)
            read += len(chunk)
        after = os.fstat(f.fileno())
    if read != before.st_size or _stat_fields(after) != _stat_fields(before):
        raise InputChangedError(f"{p}: the file changed while it was being read; nothing was written; "
                                "build again once it is complete")
    return InputState(p, *_stat_fields(before), h.hexdigest())


def check_stat(state: InputState) -> None:
    """The cheap check after a reading pass, in the process that read: size, modification
    and change times, inode unchanged."""
    try:
        now = _stat_fields(os.stat(state.path))
    except OSError as e:
        raise InputChangedError(f"{state.path}: the file disappeared during the build ({e.strerror})") from None
    if now != state.stat_fields():
        raise InputChangedError(_changed(state, now[0], now[1]))


def reading(state: InputState, read):
    """read() under §13.8 rule 2: the stat is checked after it, and an error it raises for a
    file that changed meanwhile is reported as the change."""
    try:
        value = read()
    except InputChangedError:
        raise
    except UsageError:
        check_stat(state)
        raise
    check_stat(state)
    return value


def check_unchanged(state: InputState) -> None:
    """The last check, before the output replaces its target: size, modification time and
    SHA-256 read again (portable across the machines of a shared filesystem, whose device
    numbers and change times need not agree)."""
    try:
        again = input_state(state.path)
    except OSError as e:
        raise InputChangedError(f"{state.path}: the file cannot be read again ({e.strerror})") from None
    if (again.size, again.mtime_ns, again.sha256) != (state.size, state.mtime_ns, state.sha256):
        raise InputChangedError(_changed(state, again.size, again.mtime_ns, again.sha256))


def _changed(state: InputState, size: int, mtime_ns: int, digest: str | None = None) -> str:
    what = []
    if size != state.size:
        what.append(f"size {state.size} -> {size} bytes")
    if mtime_ns != state.mtime_ns:
        what.append("modification time")
    if digest is not None and digest != state.sha256:
        what.append("content (SHA-256)")
    return (f"{state.path}: the input changed during the build ({', '.join(what) or 'change time or inode'}); "
            "nothing was written; build again once the input is complete")


def _end_of_read(path, f, consumed: int, opened: tuple) -> None:
    """After reading a text input to its end: every byte present at open was read and
    the file did not change meanwhile (a truncation would otherwise look like a shorter file)."""
    now = _stat_fields(os.fstat(f.fileno()))
    if consumed != opened[0] or now != opened:
        raise InputChangedError(f"{path}: the file changed while it was being read ({opened[0]} bytes at open, "
                                f"{consumed} read, {now[0]} now); nothing was written")


_ESCAPE = re.compile(rb"\\(x[0-9A-Fa-f]{2}|[tnr\\])")
_SIMPLE = {b"t": b"\t", b"n": b"\n", b"r": b"\r", b"\\": b"\\"}


def _unescape(raw: bytes) -> bytes:
    def sub(m):
        s = m.group(1)
        return _SIMPLE[s] if s in _SIMPLE else bytes([int(s[1:], 16)])

    return _ESCAPE.sub(sub, raw) if b"\\" in raw else raw


def iter_tsv(path: str | os.PathLike, batch: int = 1 << 16, *, header: bool = False, sep: str = "\t", progress=None,
             float32: bool = False):
    """read_tsv in batches of at most `batch` records: yields (keys, rows float64 (k, dim)).
    Memory is bounded by the batch, not the file (partitioned builds, writer/partitioned.py).
    header: skip line 1; sep: the field separator, "\t" (the format), "space" (runs of spaces
    and tabs, as str.split) or another single ASCII character; progress: callable(bytes_read,
    file_size) after each batch; float32: refuse weights beyond float32's range (FILE:LINE),
    as a build would without the line."""
    return _changes_first(path, _iter_tsv(path, batch, header, _separator(sep), progress, float32))


SEPARATORS = {"tab": "\t", "space": "space", "comma": ",", "semicolon": ";"}


def _separator(sep: str):
    """The field splitter for --sep: None for the format's tab (the fast path), else a
    function line -> (key bytes, weights as b"\tw1\tw2")."""
    sep = SEPARATORS.get(sep, sep)
    if sep == "\t":
        return None
    if sep == "space":
        def split(line: bytes):
            fields = line.split()
            return (fields[0] if fields else b""), b"".join(b"\t" + f for f in fields[1:])
        return split
    if not (isinstance(sep, str) and len(sep) == 1 and sep.isascii() and sep not in "\r\n\\"):
        raise UsageError(f"sep must be tab, space, comma, semicolon or one ASCII character (not a newline or backslash), got {sep!r}")
    c = sep.encode()

    def split(line: bytes):
        at = line.find(c)
        return (line, b"") if at < 0 else (line[:at], line[at:].replace(c, b"\t"))
    return split


def _changes_first(path, batches):
    """A bad record in a file that changed while it was read is reported as the change
    (a cut in mid-line looks like a short row otherwise)."""
    opened = None
    try:
        opened = _stat_fields(os.stat(path))
        yield from batches
    except InputChangedError:
        raise
    except UsageError:
        try:
            now = _stat_fields(os.stat(path))
        except OSError:
            now = None
        if opened is not None and now != opened:
            raise InputChangedError(f"{path}: the file changed while it was being read; nothing was written") from None
        raise


def _iter_tsv(path, batch: int, header: bool = False, split=None, progress=None, float32: bool = False):
    dim = None
    keys: list[bytes] = []
    parts: list[bytes] = []  # each line's weights with their tabs: b"\t1\t-2.5"
    first = 2 if header else 1  # line number of parts[0]
    with open(path, "rb") as f:
        opened = _stat_fields(os.fstat(f.fileno()))
        if opened[0] == 1 and f.read(1) == b"\n":
            _end_of_read(path, f, 1, opened)
            return  # a lone final newline: no record (read_tsv's rule)
        f.seek(0)
        consumed = 0
        for number, line in enumerate(f, 1):
            consumed += len(line)
            if header and number == 1:
                continue
            if line.endswith(b"\n"):
                line = line[:-1]
            if line.endswith(b"\r"):
                line = line[:-1]
            if split is None:
                tab = line.find(b"\t")
                keys.append(_unescape(line if tab < 0 else line[:tab]))
                parts.append(b"" if tab < 0 else line[tab:])
            else:
                key, weights = split(line)
                keys.append(_unescape(key))
                parts.append(weights)
            if len(keys) >= batch:
                rows, dim = _tsv_rows(path, first, parts, dim, float32)
                yield keys, rows
                keys, parts, first = [], [], number + 1
                if progress is not None:
                    progress(consumed, opened[0])
                if _TEST_HOOK is not None:
                    _TEST_HOOK(path, number)
        _end_of_read(path, f, consumed, opened)
    if keys:
        yield keys, _tsv_rows(path, first, parts, dim, float32)[0]
    if progress is not None:
        progress(consumed, opened[0])


def _tsv_rows(path, first: int, parts: list[bytes], dim: int | None, float32: bool = False) -> tuple[np.ndarray, int]:
    """The weights of a batch of lines, checked and parsed in a few C calls (no Python
    float() per value): one tab per weight, every line as many weights as line 1, the
    whole batch in the grammar of §13.6, then numpy's text parser (correctly rounded,
    like float())."""
    if dim is None:
        dim = parts[0].count(b"\t")
    blob = b"".join(parts)
    if set(map(bytes.count, parts, repeat(b"\t", len(parts)))) != {dim} or not _WEIGHTS_RE.fullmatch(blob):
        for i, weights in enumerate(parts):  # the first bad line, in line order (error path)
            if not _WEIGHTS_RE.fullmatch(weights):
                raise UsageError(f"{path}:{first + i}: {_bad_weight(weights)}{_line_hint(path, first + i, weights, dim)}")
            count = weights.count(b"\t")
            if count != dim:
                raise UsageError(f"{path}:{first + i}: {count} weights, expected {dim} like the first line"
                                 f"{_line_hint(path, first + i, weights, dim)}")
    values = np.fromstring(blob, dtype=np.float64, sep=" ") if dim else np.zeros(0)
    if values.size != len(parts) * dim:  # cannot happen after the grammar check; never guess
        raise UsageError(f"{path}:{first}: cannot parse the weights of lines {first}..{first + len(parts) - 1}")
    rows = values.reshape(len(parts), dim)
    check_range(rows, lambda i: f"{path}:{first + i}", float32)
    return rows, dim


F32_MAX = float(np.finfo(np.float32).max)


def check_range(rows: np.ndarray, where, float32: bool = False) -> None:
    """§13.4 at the input: every weight finite (and with float32, within float32's range, the
    writer's reference precision), refused with where(row index) (FILE:LINE or FILE: row N)."""
    if rows.size and rows.dtype.kind == "f":
        with np.errstate(invalid="ignore", over="ignore"):
            bad = ~(np.abs(rows) <= (F32_MAX if float32 else np.inf))  # NaN and infinity included
        if bad.any():
            i, j = (int(x) for x in np.argwhere(bad)[0])
            v = float(rows[i, j])
            what = "is NaN" if v != v else ("is beyond binary64's range" if abs(v) == float("inf") else
                                            f"is {v:g}, beyond float32's range (+-{F32_MAX:.6g})")
            raise UsageError(f"{where(i)}: weight {j + 1} {what}; weights must be finite" + (" float32 values" if float32 else ""))


def _regular(path) -> bool:
    """Whether path is a regular file (opening a FIFO to peek at it would block)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _first_line(path) -> bytes:
    if not _regular(path):
        raise OSError(f"{path}: not a regular file")
    with open(path, "rb") as f:
        return f.readline(1 << 16).rstrip(b"\r\n")


def _line_hint(path, number: int, weights: bytes, dim: int) -> str:
    """Why a line that breaks the TSV grammar probably does: a header row, a comment, a blank
    line (an empty line is a record: the empty key, no weights), another separator."""
    try:
        line1 = _first_line(path)
    except OSError:
        return ""
    fields = weights[1:].split(b"\t") if weights else []
    if number == 1 and fields and not any(_NUMBER_RE.fullmatch(f) for f in fields):
        return " -- line 1 looks like a header row: skip it with --header (phq build) or remove it"
    if line1.startswith(b"#"):
        return (" -- line 1 starts with '#', but TSV input has no comments: every line is a record "
                "(remove comment lines, or skip one first line with --header)")
    if line1 == b"" and number > 1:
        return (" -- line 1 is empty, and an empty line is a record (the empty key with no weights), "
                "so it set the number of weights to 0: remove blank lines")
    if b"\t" not in line1 and re.search(rb"[ ,;][+-]?[0-9.]", line1) and number > 1:
        return (" -- line 1 has no tab: fields are separated by tabs; for another separator use "
                "--sep space|comma|semicolon|CHAR (phq build)")
    if number > 1 and not weights:
        return " -- an empty line is a record (the empty key with no weights): remove blank lines"
    return ""


_SPACED = re.compile(rb"\S+(?:[ ,;]+" + _NUMBER + rb")+[ ]*")


def looks_space_separated(path) -> bool:
    """Line 1 has no tab but reads as a key and numbers separated by spaces, commas or
    semicolons (`a 1 2`): read as TSV it would be one key with no weights (phq build refuses
    it unless --sep says how to read it)."""
    try:
        line1 = _first_line(path)
    except OSError:
        return False
    return b"\t" not in line1 and _SPACED.fullmatch(line1) is not None


def _bad_weight(weights: bytes) -> str:
    for i, field in enumerate(weights[1:].split(b"\t"), 1):
        if not _NUMBER_RE.fullmatch(field):
            shown = field[:40].decode("ascii", "backslashreplace") + ("..." if len(field) > 40 else "")
            return (f"a weight is not a number: weight {i} is {shown!r} (a weight is an ASCII decimal number "
                    "such as -1.5, 2 or 3e-4: no spaces, underscores, nan or inf)")
    return "a weight is not a number"


def read_tsv(path: str | os.PathLike) -> tuple[list[bytes], np.ndarray]:
    """One record per line: key<TAB>w1<TAB>w2... Keys are raw bytes with the escapes
    \\t \\n \\r \\\\ and \\xHH (for any byte, e.g. non-UTF-8 keys). Every line is a record,
    an empty line is the empty key with no weights; a final newline is optional."""
    return _concat(iter_tsv(path))


def iter_jsonl(path: str | os.PathLike, batch: int = 1 << 16, *, progress=None, float32: bool = False):
    """read_jsonl in batches of at most `batch` records: yields (keys, rows float64 (k, dim));
    progress: callable(bytes_read, file_size) after each batch."""
    return _changes_first(path, _iter_jsonl(path, batch, progress, float32))


def _iter_jsonl(path, batch: int, progress=None, float32: bool = False):
    keys: list = []
    rows: list = []
    lines: list[int] = []  # the line number of each record (blank lines hold none)
    dim = None
    with open(path, "rb") as f:
        opened = _stat_fields(os.fstat(f.fileno()))
        consumed = 0
        for number, line in enumerate(f, 1):
            consumed += len(line)
            if not line.strip():
                continue
            key, weights = _jsonl_record(path, number, line)
            if dim is None:
                dim = len(weights)
            elif len(weights) != dim:
                raise UsageError(f"{path}:{number}: rows have different lengths {sorted({dim, len(weights)})}")
            keys.append(key)
            rows.append(weights)
            lines.append(number)
            if len(keys) >= batch:
                yield keys, _jsonl_rows(path, rows, dim, lines, float32)
                keys, rows, lines = [], [], []
                if progress is not None:
                    progress(consumed, opened[0])
                if _TEST_HOOK is not None:
                    _TEST_HOOK(path, number)
        _end_of_read(path, f, consumed, opened)
    if keys:
        yield keys, _jsonl_rows(path, rows, dim, lines, float32)
    if progress is not None:
        progress(consumed, opened[0])


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def json_too_deep(value, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays/objects nest deeper than `limit` (the top level is level 1); stops
    as soon as it knows, so a cyclic Python structure also answers True."""
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list, tuple)):
            if d > limit:
                return True
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return False


def load_json(where: str, text: bytes | str):
    """Strict JSON (RFC 8259: no NaN/Infinity) nesting at most MAX_JSON_DEPTH levels; UsageError otherwise."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise UsageError(f"{where}: JSON nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as e:  # also UnicodeDecodeError and Python's int-digit limit
        raise UsageError(f"{where}: not JSON, or a number the writer cannot hold ({e})") from None
    depth_marks = text.count(b"[" if isinstance(text, bytes) else "[") + text.count(b"{" if isinstance(text, bytes) else "{")
    if depth_marks > MAX_JSON_DEPTH and json_too_deep(value):
        raise UsageError(f"{where}: JSON nests deeper than {MAX_JSON_DEPTH} levels")
    return value


def _jsonl_record(path, number: int, line: bytes):
    where = f"{path}:{number}"
    obj = load_json(where, line)
    if not isinstance(obj, dict):
        raise UsageError(f"{where}: expected an object {{'key' or 'key_hex', 'weights'}}")
    if "key_hex" in obj:
        h = obj["key_hex"]
        if not (isinstance(h, str) and _HEX_RE.fullmatch(h)):
            raise UsageError(f"{where}: key_hex must be a string of hex digit pairs")
        key = bytes.fromhex(h)
    elif "key" in obj:
        key = obj["key"]
        if not isinstance(key, str):
            raise UsageError(f"{where}: key must be a string")
    else:
        raise UsageError(f"{where}: expected {{'key' or 'key_hex', 'weights'}}: no key")
    weights = obj.get("weights")
    if not isinstance(weights, list):
        raise UsageError(f"{where}: weights must be a list of numbers")
    if not set(map(type, weights)) <= {int, float}:  # bool is not a number in JSON
        raise UsageError(f"{where}: weights must be numbers")
    return key, weights


def _jsonl_rows(path, rows: list, dim: int, lines: list[int], float32: bool = False) -> np.ndarray:
    try:
        out = np.asarray(rows, dtype=np.float64).reshape(len(rows), dim)
    except (TypeError, ValueError, OverflowError):
        for i, r in enumerate(rows):  # the first record numpy cannot take (e.g. an integer past binary64)
            try:
                np.asarray(r, dtype=np.float64)
            except (TypeError, ValueError, OverflowError) as e:
                raise UsageError(f"{path}:{lines[i]}: weights must be numbers within binary64's range ({e})") from None
        raise UsageError(f"{path}: weights must be numbers within binary64's range") from None
    check_range(out, lambda i: f"{path}:{lines[i]}", float32)
    return out


def read_jsonl(path: str | os.PathLike) -> tuple[list, np.ndarray]:
    """One JSON object per line: {"key": "text", "weights": [...]} or {"key_hex": "..."}."""
    return _concat(iter_jsonl(path))


def _concat(batches) -> tuple[list, np.ndarray]:
    keys: list = []
    parts: list[np.ndarray] = []
    for k, r in batches:
        keys += k
        parts.append(r)
    if not parts:
        return keys, np.zeros((0, 0), dtype=np.float64)
    return keys, np.concatenate(parts) if len(parts) > 1 else parts[0]


def read_npz(path: str | os.PathLike, max_bytes: int | None = None, *, float32: bool = False) -> tuple[list, np.ndarray]:
    """Arrays `keys` (str or bytes dtype; note numpy 'S' strips trailing NUL bytes) and
    `weights` (num_keys x dim). Object arrays are refused (no pickle). Before anything is
    inflated, each array's header (shape x itemsize) must agree with the size the archive
    declares for it, and the two together must be at most `max_bytes` (default
    NPZ_MAX_BYTES, 4 GiB)."""
    _check_npz_sizes(path, NPZ_MAX_BYTES if max_bytes is None else max_bytes)
    try:
        with np.load(path, allow_pickle=False) as z:
            keys, weights = z["keys"], z["weights"]
    except KeyError as e:
        raise UsageError(f"{path}: missing array {e}") from None
    except (ValueError, EOFError, zipfile.BadZipFile) as e:
        raise UsageError(f"{path}: {e}") from None
    except MemoryError:
        raise UsageError(f"{path}: not enough memory to load its arrays") from None
    if keys.dtype.kind not in "US":
        raise UsageError(f"{path}: keys must be a str or bytes array, got {keys.dtype}")
    if weights.ndim == 2 and weights.dtype.kind == "f":
        check_range(weights, lambda i: f"{path}: row {i} of 'weights'", float32)
    return keys.tolist(), weights


def _check_npz_sizes(path, max_bytes: int) -> None:
    total = 0
    try:
        with zipfile.ZipFile(path) as z:
            for name in ("keys", "weights"):
                try:
                    info = z.getinfo(name + ".npy")
                except KeyError:
                    raise UsageError(f"{path}: missing array '{name}'") from None
                with z.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    read_header = np.lib.format.read_array_header_2_0 if version >= (2, 0) else np.lib.format.read_array_header_1_0
                    shape, _, dtype = read_header(f)
                    header = f.tell()
                if dtype.hasobject:
                    raise UsageError(f"{path}: array '{name}' holds Python objects (pickles are refused)")
                data = dtype.itemsize
                for d in shape:
                    data *= int(d)
                if header + data != info.file_size:
                    raise UsageError(f"{path}: array '{name}' declares {data} bytes of data but the archive "
                                     f"declares {info.file_size - header}")
                total += info.file_size
    except zipfile.BadZipFile:
        raise UsageError(f"{path}: not an NPZ archive (an NPZ is a zip of .npy arrays 'keys' and 'weights', "
                         "as numpy.savez writes)") from None
    except (ValueError, EOFError) as e:
        raise UsageError(f"{path}: bad array header ({e})") from None
    if total > max_bytes:
        raise UsageError(f"{path}: its arrays inflate to {total} bytes, more than the bound {max_bytes} "
                         f"(read_npz(max_bytes=...)); split large inputs into Parquet or TSV shards")


def iter_parquet(path: str | os.PathLike, batch: int = 1 << 16):
    """A Parquet file in batches of at most `batch` rows: yields (keys bytes, rows (k, dim)).

    Schema (spec §13.6): a column `key` of type string or binary (large_ variants too),
    and the weights either as one column `weights` of type list, large_list or
    fixed_size_list of floats or integers (every row the same length), or, without a
    `weights` column, as every other column in schema order, each numeric (one weight
    per column). Nulls are refused. Needs pyarrow (`pip install phq[dask]`).
    """
    pa, pq = _pyarrow(path)
    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as e:
        raise UsageError(f"{path}: not a readable Parquet file ({e})") from None
    schema = pf.schema_arrow
    names = schema.names
    if "key" not in names:
        raise UsageError(f"{path}: Parquet input needs a column 'key' (string or binary); columns are {names}")
    kt = schema.field("key").type
    if not (pa.types.is_string(kt) or pa.types.is_large_string(kt) or pa.types.is_binary(kt) or pa.types.is_large_binary(kt)):
        raise UsageError(f"{path}: column 'key' must be string or binary, not {kt}")
    if "weights" in names:
        wt = schema.field("weights").type
        if not (pa.types.is_list(wt) or pa.types.is_large_list(wt) or pa.types.is_fixed_size_list(wt)):
            raise UsageError(f"{path}: column 'weights' must be a list of numbers, not {wt}")
        if not (pa.types.is_floating(wt.value_type) or pa.types.is_integer(wt.value_type)):
            raise UsageError(f"{path}: column 'weights' must hold numbers, not {wt.value_type}")
        columns = ["key", "weights"]
    else:
        columns = ["key"] + [n for n in names if n != "key"]
        for n in columns[1:]:
            t = schema.field(n).type
            if not (pa.types.is_floating(t) or pa.types.is_integer(t)):
                raise UsageError(f"{path}: weight column {n!r} must be numeric, not {t}")
    row = 0
    try:
        for rb in pf.iter_batches(batch_size=batch, columns=columns):
            k = rb.column(0)
            if k.null_count:
                raise UsageError(f"{path}: row {row + _first_null(k)}: null key")
            binary = pa.large_binary() if pa.types.is_large_string(k.type) or pa.types.is_large_binary(k.type) else pa.binary()
            keys = k.cast(binary).to_pylist()  # str columns: their UTF-8 bytes, as the writer encodes text
            if columns[1:] == ["weights"]:
                rows = _list_rows(path, row, rb.column(1))
            elif len(columns) > 1:
                cols = []
                for j in range(1, len(columns)):
                    c = rb.column(j)
                    if c.null_count:
                        raise UsageError(f"{path}: row {row + _first_null(c)}: null weight in column {columns[j]!r}")
                    cols.append(c.to_numpy(zero_copy_only=False))
                rows = np.stack(cols, axis=1)
            else:
                rows = np.zeros((len(keys), 0), dtype=np.float64)
            row += len(keys)
            yield keys, rows
    except pa.ArrowException as e:
        raise UsageError(f"{path}: cannot read Parquet data ({e})") from None


def parquet_dim(path: str | os.PathLike) -> int | None:
    """The row length a Parquet file's schema declares (fixed_size_list or several
    columns), or None when only the data tells (a variable-length list column)."""
    pa, pq = _pyarrow(path)
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as e:
        raise UsageError(f"{path}: not a readable Parquet file ({e})") from None
    if "weights" in schema.names:
        t = schema.field("weights").type
        return t.list_size if pa.types.is_fixed_size_list(t) else None
    return len(schema.names) - 1


def _pyarrow(path):
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(f"{path}: reading Parquet needs pyarrow (pip install 'phq[dask]')") from None
    return pa, pq


def _first_null(arr) -> int:
    return int(np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False))[0])


def _list_rows(path, row0: int, col) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(col)
    if col.null_count:
        raise UsageError(f"{path}: row {row0 + _first_null(col)}: null weights")
    if pa.types.is_fixed_size_list(col.type):
        dim = col.type.list_size
    else:
        lengths = pc.list_value_length(col).to_numpy(zero_copy_only=False)
        dim = int(lengths[0]) if n else 0
        if n and (lengths != dim).any():
            bad = int(np.flatnonzero(lengths != dim)[0])
            raise UsageError(f"{path}: row {row0 + bad}: {int(lengths[bad])} weights, expected {dim} like row {row0}")
    values = col.flatten()
    if values.null_count:
        raise UsageError(f"{path}: a null weight near row {row0}")
    return values.to_numpy(zero_copy_only=False).reshape(n, dim)


def read_parquet(path: str | os.PathLike) -> tuple[list[bytes], np.ndarray]:
    """The whole Parquet file (schema: iter_parquet)."""
    keys, rows = _concat(iter_parquet(path))
    if not keys:
        rows = rows.reshape(0, parquet_dim(path) or 0)
    return keys, rows


def _not_a_phq_file(path) -> None:
    """An input that is a phq file (e.g. named .npz) gets a message that says so."""
    if not _regular(path):
        return  # a FIFO, a device, a missing file: the reader reports it
    try:
        with open(path, "rb") as f:
            head = f.read(len(L.SIGNATURE))
    except OSError:
        return  # the reader reports it
    if head == L.SIGNATURE:
        raise UsageError(f"{path}: this is a phq file, not a table input (TSV, JSONL, NPZ or Parquet); "
                         "`phq inspect` / `phq lookup` read it, `phq diff` compares two")


def iter_table_file(path: str | os.PathLike, batch: int = 1 << 16):
    """(keys, rows) batches of any input file, picked by extension like read_table_file."""
    _not_a_phq_file(path)
    ext = os.path.splitext(str(path))[1].lower()
    if ext in (".tsv", ".txt"):
        return iter_tsv(path, batch)
    if ext == ".jsonl":
        return iter_jsonl(path, batch)
    if ext == ".parquet":
        return iter_parquet(path, batch)
    if ext == ".npz":
        return iter([read_npz(path)])
    raise UsageError(f"{path}: unknown input type {ext!r} (expected .tsv, .jsonl, .npz or .parquet)")


def read_table_file(path: str | os.PathLike, *, header: bool = False, sep: str = "\t", progress=None, float32: bool = False):
    """Pick the reader by extension: .tsv/.txt, .jsonl, .npz, .parquet. header and sep apply
    to TSV (see iter_tsv); progress(bytes_read, file_size) is called by the TSV and JSONL
    readers; float32 refuses weights beyond float32's range with their line (row)."""
    _not_a_phq_file(path)
    ext = os.path.splitext(str(path))[1].lower()
    if (header or sep not in ("\t", "tab")) and ext not in (".tsv", ".txt"):
        raise UsageError(f"{path}: --header and --sep apply to TSV input (.tsv, .txt) only")
    if ext in (".tsv", ".txt"):
        return _concat(iter_tsv(path, header=header, sep=sep, progress=progress, float32=float32))
    if ext == ".jsonl":
        return _concat(iter_jsonl(path, progress=progress, float32=float32))
    if ext == ".npz":
        return read_npz(path, float32=float32)
    if ext == ".parquet":
        return read_parquet(path)
    raise UsageError(f"{path}: unknown input type {ext!r} (expected .tsv, .jsonl, .npz or .parquet)")
