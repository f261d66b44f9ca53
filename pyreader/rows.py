"""Rows of a sparse table in their sparse form: work and memory in proportion to the values
stored, whatever the table's dim (issue 15: a table of dim 2^24 has 64 MiB dense float32 rows).

    import phq, phq.rows
    with phq.open("model.phq") as m:
        t = m.tables["features"]
        slots = t.slots(keys)                         # int64, -1 = absent: 8 bytes per key
        row, cols, values = phq.rows.stored_entries(t, slots[slots >= 0])

`Table.lookup(keys)` returns dense (k, dim) rows, absent keys included (zero rows): k x dim x 4
bytes by its contract. For wide tables look keys up with `Table.slots` and read the rows
found with `stored_entries` (sparse tables) or one at a time with `Table.row_at`.
"""

from __future__ import annotations

import numpy as np

from . import layout as L
from .errors import FormatError, UsageError

__all__ = ["row_lengths", "stored_entries"]


def _spans(t, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return t._spans(slots)  # §9.2 (v1.2 §4.2 for compact tables), checked as in §10.3


def _slots(t, slots) -> np.ndarray:
    if not t._sparse:
        raise UsageError(f"table {t.name!r} is dense: read its rows with row_at or rows_at")
    s = np.asarray(slots, dtype=np.int64).reshape(-1)
    if s.size and (int(s.min()) < 0 or int(s.max()) >= t.num_keys):
        raise UsageError(f"slots must be in [0, {t.num_keys})")
    return s


def row_lengths(t, slots) -> np.ndarray:
    """Number of values stored for each slot of a sparse table (int64)."""
    s = _slots(t, slots)
    start, end = _spans(t, s)
    return end - start


def stored_entries(t, slots, *, raw: bool = False):
    """(row, column, value) arrays of the values stored for the rows `slots` of a sparse
    table: row[i] is the position in `slots` of the value's row (ascending), column[i] its
    column (ascending within a row), value[i] the dequantized float32 weight, bit for bit
    as `Table.rows_at` gives it (§8, format 1.1 §5), or with raw=True the stored code (in
    the storage dtype; 4-bit codes as uint8). A column not stored holds 0.0 in every
    scheme (raw: the zero code of its scale group, §9.2). Raises FormatError E_SPARSE
    for a column >= dim or a row outside the payload, UsageError for a dense table or a
    slot outside [0, num_keys)."""
    s = _slots(t, slots)
    start, end = _spans(t, s)
    lengths = end - start
    total = int(lengths.sum())
    row = np.repeat(np.arange(s.size), lengths)
    offsets = np.arange(total, dtype=np.int64) + np.repeat(start - (np.cumsum(lengths) - lengths), lengths)
    cols = t._columns_at(s, start, end, offsets)
    if total and int(cols.max()) >= t.dim:
        raise FormatError("E_SPARSE", f"table {t.name!r}: a column index is >= dim {t.dim}")
    codes = np.asarray(t._values[offsets])
    if raw:
        return row, cols, codes.astype(t.storage_dtype, copy=False)
    return row, cols, _decode(t, s, lengths, cols, codes)


def zero_codes(t, slots, row: np.ndarray, cols: np.ndarray) -> np.ndarray | int:
    """The zero code (§9.2) of each entry (row into slots, column), or 0 for a scheme
    without zero points."""
    if t._quant not in L.LINEAR_QUANTS:
        return 0
    zp = t.scales["zero_point"]
    if t._granularity == L.SCALE_COLUMN:
        return zp[cols]
    if t._granularity == L.SCALE_TABLE:
        return int(zp[0])
    s = np.asarray(slots, dtype=np.int64).reshape(-1)
    return zp[s[row] // t.descriptor.scale_block_rows]


def _decode(t, slots: np.ndarray, lengths: np.ndarray, cols: np.ndarray, codes: np.ndarray) -> np.ndarray:
    q = t._quant
    if q == L.QUANT_F32:
        return np.asarray(codes, np.float32)
    if q == L.QUANT_F16:
        return codes.astype(np.float32)
    if t.levels is not None:  # codebooks: v = levels[group][code]
        g = cols if t._granularity == L.SCALE_COLUMN else 0
        return np.asarray(t.levels[g, codes], np.float32)
    if t._granularity == L.SCALE_COLUMN:
        g = cols
    elif t._granularity == L.SCALE_TABLE:
        g = 0
    else:
        g = np.repeat(slots // t.descriptor.scale_block_rows, lengths)
    vals = codes.astype(np.float32) - t._zero_point_f32[g]  # u8 - f32 is exact in f32 (§8.1)
    vals *= t._scale_f32[g]
    return vals
