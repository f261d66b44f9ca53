"""Read (keys, rows) from TSV, JSONL and NPZ files (spec §13.6 describes the formats)."""

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


def read_tsv(path: str | os.PathLike) -> tuple[list[bytes], np.ndarray]:
    """One record per line: key<TAB>w1<TAB>w2... Keys are raw bytes with the escapes
    \\t \\n \\r \\\\ and \\xHH (for any byte, e.g. non-UTF-8 keys). Every line is a record,
    an empty line is the empty key with no weights; a final newline is optional."""
    with open(path, "rb") as f:
        data = f.read()
    if data.endswith(b"\n"):
        data = data[:-1]
    lines = data.split(b"\n") if data else []
    keys: list[bytes] = []
    rows: list[list[float]] = []
    dim = None
    for number, line in enumerate(lines, 1):
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
    return keys, np.asarray(rows, dtype=np.float64).reshape(len(keys), dim or 0)


def read_jsonl(path: str | os.PathLike) -> tuple[list, np.ndarray]:
    """One JSON object per line: {"key": "text", "weights": [...]} or {"key_hex": "..."}."""
    keys: list = []
    rows: list = []
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
            keys.append(key)
            rows.append(weights)
    dims = {len(r) for r in rows}
    if len(dims) > 1:
        raise UsageError(f"{path}: rows have different lengths {sorted(dims)}")
    try:
        arr = np.asarray(rows, dtype=np.float64).reshape(len(keys), dims.pop() if dims else 0)
    except (TypeError, ValueError) as e:
        raise UsageError(f"{path}: weights must be numbers ({e})") from None
    return keys, arr


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


def read_table_file(path: str | os.PathLike):
    """Pick the reader by extension: .tsv/.txt, .jsonl, .npz."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext in (".tsv", ".txt"):
        return read_tsv(path)
    if ext == ".jsonl":
        return read_jsonl(path)
    if ext == ".npz":
        return read_npz(path)
    raise UsageError(f"{path}: unknown input type {ext!r} (expected .tsv, .jsonl or .npz)")
