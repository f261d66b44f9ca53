"""Reading the compact sparse layout of format 1.2 (spec/format-v1.2.md §4-§6): the
two-level row index (ROW_BASES + ROW_DELTAS) and the Elias-Fano columns (COLUMN_LOW +
COLUMN_HIGH). A row's location costs two reads per end (a base and a delta); its columns
cost the k + H bits of its COLUMN_HIGH region and its k l bits of COLUMN_LOW, no more.
"""

from __future__ import annotations

import numpy as np

from .errors import FormatError


def _fail(msg: str):
    raise FormatError("E_SPARSE", msg)


def row_starts(t, s: np.ndarray) -> np.ndarray:
    """row_index(s) = ROW_BASES[s >> row_block_log2] + ROW_DELTAS[s] (v1.2 §4.2) of slots
    s in [0, n], as int64. A base above nnz is E_SPARSE before any addition (so the sum
    is exact: nnz is below 2^63 in a file that passed open, its ROWS being that large)."""
    base = t._bases[s >> t._block_log2]
    if base.size and int(base.max()) > t.nnz:
        _fail(f"table {t.name!r}: a row base is past nnz {t.nnz}")
    return base.astype(np.int64) + t._deltas[s]


def row_start(t, s: int) -> int:
    """row_starts for one slot, in Python integers (exact)."""
    iw, dw = t._iw, t._dw
    b = t._bases_at + iw * (s >> t._block_log2)
    d = t._deltas_at + dw * s
    buf = t._buf
    return int.from_bytes(buf[b : b + iw], "little") + int.from_bytes(buf[d : d + dw], "little")


def row_columns(t, s: int, start: int, end: int) -> np.ndarray:
    """The columns (int64, in stored order) of slot s, whose values are [start, end) (checked
    by the caller: 0 <= start <= end <= nnz). v1.2 §4.4: the row's COLUMN_HIGH region is bits
    [start + s H, end + (s + 1) H); it MUST hold exactly end - start one bits (E_SPARSE); the
    j-th one bit, at region position p_j, gives the high part p_j - j; COLUMN_LOW bits
    [i l, (i + 1) l) give value i's low part."""
    k, l, h = end - start, t._low_bits, t._high_zeros
    r0, r1 = start + s * h, end + (s + 1) * h
    hb = t._high[r0 >> 3 : (r1 + 7) >> 3]
    bits = np.unpackbits(hb, bitorder="little")[r0 & 7 : (r0 & 7) + (r1 - r0)]
    ones = np.flatnonzero(bits)
    if ones.size != k:
        _fail(f"table {t.name!r}: row {s} has {ones.size} one bits in its COLUMN_HIGH region, {k} values")
    cols = (ones - np.arange(k)) << l
    if l and k:
        a0, a1 = start * l, end * l
        lb = np.unpackbits(t._low[a0 >> 3 : (a1 + 7) >> 3], bitorder="little")[a0 & 7 : (a0 & 7) + (a1 - a0)]
        cols |= lb.reshape(k, l).astype(np.int64) @ (np.int64(1) << np.arange(l, dtype=np.int64))
    return cols


def columns_of(t, slots: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """row_columns of every slot, concatenated (the rows' checked spans given). Empty rows
    are read too: their region must hold no one bit, whichever path reads them."""
    parts = [row_columns(t, int(s), int(a), int(b)) for s, a, b in zip(slots, start, end)]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)
