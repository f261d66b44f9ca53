"""Read (keys, rows) from TSV, JSONL, NPZ and Parquet files (spec §13.6 describes the formats),
whole or in batches (the partitioned build reads shards batch by batch)."""

from __future__ import annotations

import json
import os
import re

import numpy as np

from phq.errors import UsageError

_ESCAPE = re.compile(rb"\\(x[0-9A-Fa-f]{2}|[tnr\\])")
_SIMPLE = {b"t": b"\t", b"n": b"\n", b"r": b"\r", b"\\": b"\\"}


def _unescape(raw: bytes) -> bytes:
    def sub(m):
        s = m.group(1)
        return _SIMPLE[s] if s in _SIMPLE else bytes([int(s[1:], 16)])

    return _ESCAPE.sub(sub, raw) if b"\\" in raw else raw


def iter_tsv(path: str | os.PathLike, batch: int = 1 << 16):
    """read_tsv in batches of at most `batch` records: yields (keys, rows float64 (k, dim)).
    Memory is bounded by the batch, not the file (partitioned builds, writer/partitioned.py)."""
    dim = None
    keys: list[bytes] = []
    rows: list[list[float]] = []
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 1 and f.read(1) == b"\n":
            return  # a lone final newline: no record (read_tsv's rule)
        f.seek(0)
        for number, line in enumerate(f, 1):
            if line.endswith(b"\n"):
                line = line[:-1]
            if line.endswith(b"\r"):
                line = line[:-1]
            fields = line.split(b"\t")
            try:
                row = [float(x) for x in fields[1:]]
            except ValueError:
                raise UsageError(f"{path}:{number}: a weight is not a number") from None
            if dim is None:
                dim = len(row)
            elif len(row) != dim:
                raise UsageError(f"{path}:{number}: {len(row)} weights, expected {dim} like line 1")
            keys.append(_unescape(fields[0]))
            rows.append(row)
            if len(keys) >= batch:
                yield keys, np.asarray(rows, dtype=np.float64).reshape(len(keys), dim)
                keys, rows = [], []
    if keys:
        yield keys, np.asarray(rows, dtype=np.float64).reshape(len(keys), dim)


def read_tsv(path: str | os.PathLike) -> tuple[list[bytes], np.ndarray]:
    """One record per line: key<TAB>w1<TAB>w2... Keys are raw bytes with the escapes
    \\t \\n \\r \\\\ and \\xHH (for any byte, e.g. non-UTF-8 keys). Every line is a record,
    an empty line is the empty key with no weights; a final newline is optional."""
    return _concat(iter_tsv(path))


def iter_jsonl(path: str | os.PathLike, batch: int = 1 << 16):
    """read_jsonl in batches of at most `batch` records: yields (keys, rows float64 (k, dim))."""
    keys: list = []
    rows: list = []
    dim = None
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                key = bytes.fromhex(obj["key_hex"]) if "key_hex" in obj else obj["key"]
                weights = obj["weights"]
            except (ValueError, KeyError, TypeError) as e:
                raise UsageError(f"{path}:{number}: expected {{'key' or 'key_hex', 'weights'}}: {e}") from None
            if not isinstance(key, (str, bytes)) or not isinstance(weights, list):
                raise UsageError(f"{path}:{number}: key must be a string and weights a list")
            if dim is None:
                dim = len(weights)
            elif len(weights) != dim:
                raise UsageError(f"{path}:{number}: rows have different lengths {sorted({dim, len(weights)})}")
            keys.append(key)
            rows.append(weights)
            if len(keys) >= batch:
                yield keys, _jsonl_rows(path, rows, dim)
                keys, rows = [], []
    if keys:
        yield keys, _jsonl_rows(path, rows, dim)


def _jsonl_rows(path, rows: list, dim: int) -> np.ndarray:
    try:
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), dim)
    except (TypeError, ValueError) as e:
        raise UsageError(f"{path}: weights must be numbers ({e})") from None


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


def read_npz(path: str | os.PathLike) -> tuple[list, np.ndarray]:
    """Arrays `keys` (str or bytes dtype; note numpy 'S' strips trailing NUL bytes) and
    `weights` (num_keys x dim). Object arrays are refused (no pickle)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            keys, weights = z["keys"], z["weights"]
    except KeyError as e:
        raise UsageError(f"{path}: missing array {e}") from None
    except ValueError as e:
        raise UsageError(f"{path}: {e}") from None
    if keys.dtype.kind not in "US":
        raise UsageError(f"{path}: keys must be a str or bytes array, got {keys.dtype}")
    return keys.tolist(), weights


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


def iter_table_file(path: str | os.PathLike, batch: int = 1 << 16):
    """(keys, rows) batches of any input file, picked by extension like read_table_file."""
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


def read_table_file(path: str | os.PathLike):
    """Pick the reader by extension: .tsv/.txt, .jsonl, .npz, .parquet."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext in (".tsv", ".txt"):
        return read_tsv(path)
    if ext == ".jsonl":
        return read_jsonl(path)
    if ext == ".npz":
        return read_npz(path)
    if ext == ".parquet":
        return read_parquet(path)
    raise UsageError(f"{path}: unknown input type {ext!r} (expected .tsv, .jsonl, .npz or .parquet)")
