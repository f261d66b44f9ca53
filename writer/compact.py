"""The compact sparse layout of format 1.2 (spec/format-v1.2.md): a two-level row index
(ROW_BASES + ROW_DELTAS) and Elias-Fano columns (COLUMN_LOW + COLUMN_HIGH), built from the
1.0 sparse form (row_index, columns) that `quant.to_sparse` makes.

Every parameter is chosen by the exact byte count of the sections it sizes (64-byte
alignment included), ties to the smallest value in a fixed order, so the file stays a
function of its inputs (§13.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phq import layout as L

from .quant import Sparse


@dataclass
class Compact:
    index_width: int  # bytes per ROW_BASES entry (4 or 8)
    delta_width: int  # bytes per ROW_DELTAS entry (1, 2 or 4)
    row_block_log2: int  # rows per ROW_BASES entry = 2^row_block_log2
    column_low_bits: int  # l: the low bits of a column stored in COLUMN_LOW
    bases: np.ndarray
    deltas: np.ndarray
    low: np.ndarray  # COLUMN_LOW bytes
    high: np.ndarray  # COLUMN_HIGH bytes

    def index_bytes(self) -> int:
        return sum(L.align(a.nbytes) for a in (self.bases, self.deltas, self.low, self.high))


def _max_block_delta(ri: np.ndarray, k: int) -> int:
    """max over s in [0, n] of row_index[s] - row_index[s rounded down to a multiple of 2^k]."""
    s = np.arange(ri.size)
    return int((ri - ri[(s >> k) << k]).max(initial=0))


def choose_index(ri: np.ndarray, iw: int) -> tuple[int, int]:
    """(delta_width, row_block_log2) of the smallest ROW_BASES + ROW_DELTAS (v1.2 §5)."""
    n = ri.size - 1
    best = None
    for k in range(L.MAX_ROW_BLOCK_LOG2 + 1):
        md = _max_block_delta(ri, k)
        for w in L.DELTA_DTYPES:
            if md >= 1 << (8 * w):
                continue
            cost = L.align(((n >> k) + 1) * iw) + L.align((n + 1) * w)
            if best is None or cost < best[0]:
                best = (cost, w, k)
    assert best is not None  # k = 0 has every delta 0
    return best[1], best[2]


def column_bytes(n: int, dim: int, nnz: int, l: int) -> int:
    """Aligned bytes of COLUMN_LOW + COLUMN_HIGH with l low bits (v1.2 §4.3, §4.4)."""
    h = L.compact_high_bits(dim, l)
    return L.align(-(-nnz * l // 8)) + L.align(-(-(nnz + n * h) // 8))


def choose_low_bits(n: int, dim: int, nnz: int) -> int:
    costs = [column_bytes(n, dim, nnz, l) for l in range(L.MAX_COLUMN_LOW_BITS + 1)]
    return int(np.argmin(costs))  # the first (smallest l) of the cheapest


def to_compact(sp: Sparse, n: int, dim: int, *, index_width: int | None = None, delta_width: int | None = None,
               row_block_log2: int | None = None, low_bits: int | None = None) -> Compact:
    """The compact form of a sparse table; the keyword parameters force a choice (the
    conformance suite's edge cases: widest bases, a given block size, delta width or l)."""
    ri = sp.row_index.astype(np.int64)
    nnz = int(ri[-1]) if ri.size else 0
    iw = index_width or (4 if nnz < 1 << 32 else 8)
    w, k = choose_index(ri, iw)
    if row_block_log2 is not None:
        k = row_block_log2
        md = _max_block_delta(ri, k)
        w = delta_width or next(x for x in L.DELTA_DTYPES if md < 1 << (8 * x))
    elif delta_width is not None:
        w = delta_width
        k = max(x for x in range(L.MAX_ROW_BLOCK_LOG2 + 1) if _max_block_delta(ri, x) < 1 << (8 * w))
    assert _max_block_delta(ri, k) < 1 << (8 * w), "deltas do not fit the forced width"
    bases = ri[:: 1 << k].astype(L.INDEX_DTYPES[iw])  # entries 0, 2^k, ..., (n >> k) << k
    s = np.arange(n + 1)
    deltas = (ri - ri[(s >> k) << k]).astype(L.DELTA_DTYPES[w])
    l = choose_low_bits(n, dim, nnz) if low_bits is None else low_bits
    cols = sp.columns.astype(np.int64)
    # COLUMN_LOW: value i's low l bits at bits [i l, (i + 1) l), least significant first
    if l and nnz:
        bits = ((cols[:, None] >> np.arange(l)) & 1).astype(np.uint8).reshape(-1)
        low = np.packbits(bits, bitorder="little")
    else:
        low = np.zeros(0, np.uint8)
    # COLUMN_HIGH: row s's region starts at bit row_index[s] + s H; value i (the j-th of its
    # row) is a one bit at region position (column >> l) + j, i.e. at bit i + s H + (column >> l)
    h = L.compact_high_bits(dim, l)
    total = nnz + n * h
    high = np.zeros(-(-total // 8), np.uint8)
    if nnz:
        row = np.repeat(np.arange(n, dtype=np.int64), np.diff(ri))
        pos = np.arange(nnz, dtype=np.int64) + row * h + (cols >> l)
        np.bitwise_or.at(high, pos >> 3, (1 << (pos & 7)).astype(np.uint8))
    return Compact(iw, w, k, l, bases, deltas, low, high)
