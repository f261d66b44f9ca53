"""Quantization (spec §8): float32 -> stored codes, and the payload layouts (§9).

The writer first converts every weight to float32 (the reference precision), then:
  f32      stores it as is;
  f16      rounds to nearest-even binary16 (values beyond binary16's range are refused);
  linear8  per group (table, column or block of rows): lo = min(0, min w), hi = max(0, max w),
           scale = float32((hi - lo) / 255), zero_point = round_half_even(-lo / scale),
           code = clamp(round_half_even(w / scale) + zero_point, 0, 255),
           so that 0.0 is exactly the code zero_point and reads back as 0.0.
All intermediate arithmetic is IEEE binary64 with round-half-even (np.rint), so the
codes are the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phq import layout as L
from phq.errors import UsageError

F16_MAX_FINITE = 65504.0
_SMALLEST_SUBNORMAL_F32 = np.float32(1e-45)


@dataclass
class Quantized:
    codes: np.ndarray  # (n, dim) in the storage dtype (4-bit codes: one u8 per code, unpacked)
    scales: np.ndarray  # SCALE_DTYPE, one record per group
    zero_code: np.ndarray  # (n, dim)-broadcastable storage-dtype value that means 0.0
    levels: np.ndarray | None = None  # codebook quants: (G, K) float32 levels (v1.1 §4.2)


def group_scale(values: np.ndarray, max_code: int = 255) -> tuple[np.float32, int]:
    """scale and zero point of one linear8 (max_code 255) or linear4 (15) group."""
    if values.size == 0:
        return np.float32(1.0), 0
    return range_scale(float(values.min()), float(values.max()), max_code)


def range_scale(vmin: float, vmax: float, max_code: int = 255) -> tuple[np.float32, int]:
    """scale and zero point of a non-empty group whose weights span [vmin, vmax] (§8.3).
    Only the extremes matter, so a group's scale can be computed from partial minima and
    maxima (the partitioned build's first pass)."""
    lo = min(0.0, vmin)
    hi = max(0.0, vmax)
    if hi == lo:  # all zeros: any scale represents them; 1.0 is the defined choice
        return np.float32(1.0), 0
    scale = np.float32((hi - lo) / max_code)
    if scale == 0:  # (hi - lo) below 255 subnormal steps
        scale = _SMALLEST_SUBNORMAL_F32
    if float(scale) * 255 > L.F32_MAX:
        raise UsageError(
            f"weights spanning [{lo:g}, {hi:g}] are too wide for linear8/linear4 (255 x scale must stay "
            "below float32's maximum); use f32"
        )
    zero_point = int(np.clip(np.rint(-lo / float(scale)), 0, max_code))
    return scale, zero_point


def range_scales(vmin: np.ndarray, vmax: np.ndarray, max_code: int = 255) -> np.ndarray:
    """range_scale of many groups at once (SCALE_DTYPE records): the same binary64
    arithmetic element by element, so a table of 10^6 columns costs no Python loop."""
    lo = np.minimum(0.0, np.asarray(vmin, dtype=np.float64))
    hi = np.maximum(0.0, np.asarray(vmax, dtype=np.float64))
    flat = hi == lo
    scale = ((hi - lo) / max_code).astype(np.float32)
    scale[(scale == 0) & ~flat] = _SMALLEST_SUBNORMAL_F32
    scale[flat] = 1.0
    wide = scale.astype(np.float64) * 255 > L.F32_MAX
    if wide.any():
        g = int(np.flatnonzero(wide)[0])
        range_scale(float(lo[g]), float(hi[g]), max_code)  # raises its UsageError
    zero_point = np.clip(np.rint(-lo / scale.astype(np.float64)), 0, max_code)
    zero_point[flat] = 0
    out = np.zeros(scale.size, dtype=L.SCALE_DTYPE)
    out["scale"], out["zero_point"] = scale, zero_point.astype(np.int64)
    return out


def _linear8_codes(values: np.ndarray, scale, zero_point, max_code: int = 255) -> np.ndarray:
    """values float32 (any shape); scale/zero_point broadcastable float64/int arrays."""
    q = np.rint(values.astype(np.float64) / np.asarray(scale, dtype=np.float64)) + zero_point
    return np.clip(q, 0, max_code).astype(np.uint8)


LINEAR_MAX_CODE = {L.QUANT_LINEAR8: 255, L.QUANT_LINEAR4: 15}


def dead_zone(values: np.ndarray) -> np.ndarray:
    """The weights linear8 would round to zero in this group (v1.1 §5.2 step 1): a codebook
    stores none of them, so it never has more non-zero values than linear8."""
    if values.size == 0:
        return np.zeros(values.shape, dtype=bool)
    scale, _ = group_scale(values.astype(np.float32, copy=False))
    return np.rint(values.astype(np.float64) / float(scale)) == 0


# Lloyd iterations of a codebook group before stopping (v1.1 §5.2 step 3). Lloyd stops by
# itself when no center moves; on CLINC150's svc-l2 weights that takes 65 iterations at the
# median and 126 at most for codebook4 (39 for codebook8), so the cap is only a bound on
# the cost (m x log|z| per iteration), not a stopping rule in practice. It was 25 before
# format 1.1's codebook files were regenerated (issue 16): 24 % more squared error.
KMEANS_MAX_ITERATIONS = 1000


def codebook_levels(values: np.ndarray, k: int) -> np.ndarray:
    """The K float32 levels of one codebook group (v1.1 §5.2): +0.0, then 1-D k-means
    centers of the weights outside the dead zone (equal-population start, prefix-sum means)."""
    z = np.sort(values[~dead_zone(values)].astype(np.float64), kind="stable")
    m = k - 1
    levels = np.zeros(k, dtype=np.float32)
    distinct = np.unique(z)
    if distinct.size <= m:
        levels[1 : 1 + distinct.size] = distinct.astype(np.float32)
        return levels
    csum = np.concatenate(([0.0], np.cumsum(z)))
    edges = (np.arange(m + 1) * z.size) // m
    centers = (csum[edges[1:]] - csum[edges[:-1]]) / (edges[1:] - edges[:-1])
    for _ in range(KMEANS_MAX_ITERATIONS):
        bounds = (centers[1:] + centers[:-1]) / 2
        cut = np.concatenate(([0], np.searchsorted(z, bounds, side="left"), [z.size]))
        count = cut[1:] - cut[:-1]
        new = np.where(count > 0, (csum[cut[1:]] - csum[cut[:-1]]) / np.maximum(count, 1), centers)
        if np.array_equal(new, centers):
            break
        centers = new
    levels[1:] = np.sort(centers.astype(np.float32))
    return levels


def codebook_codes(values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Code 0 in the dead zone, else the index of the nearest level (binary64 distance),
    the lowest on ties (v1.1 §5.2 step 4)."""
    return np.where(dead_zone(values), np.uint8(0), _nearest_level(values, levels)).astype(np.uint8)


def _nearest_level(values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    lv = levels.astype(np.float64)
    order = np.argsort(lv, kind="stable")  # ascending levels; equal levels keep index order
    srt = lv[order]
    v = values.astype(np.float64)
    hi = np.clip(np.searchsorted(srt, v, side="left"), 1, srt.size - 1)
    lo = hi - 1
    # candidates: the neighbours below and above; pick the nearer, then the lower index
    d_lo, d_hi = np.abs(v - srt[lo]), np.abs(v - srt[hi])
    # among equal level values the lowest index: first occurrence of each value in srt
    first = np.searchsorted(srt, srt, side="left")
    i_lo, i_hi = order[first[lo]], order[first[hi]]
    pick = np.where(d_lo < d_hi, i_lo, np.where(d_hi < d_lo, i_hi, np.minimum(i_lo, i_hi)))
    return pick.astype(np.uint8)


def quantize_codebook(rows: np.ndarray, quant: int, granularity: int) -> Quantized:
    """codebook4 / codebook8 with one codebook per table or per column."""
    n, dim = rows.shape
    k = L.CODEBOOK_LEVELS[quant]
    if granularity == L.SCALE_TABLE:
        levels = codebook_levels(rows.ravel(), k)[None, :]
        codes = codebook_codes(rows, levels[0]) if rows.size else np.zeros((n, dim), np.uint8)
    elif granularity == L.SCALE_COLUMN:
        levels = np.zeros((dim, k), dtype=np.float32)
        codes = np.zeros((n, dim), dtype=np.uint8)
        few = _few_distinct_columns(rows, k, levels, codes) if n else np.ones(dim, dtype=bool)
        for c in np.flatnonzero(~few):  # k-means (v1.1 §5.2 step 3), column by column
            levels[c] = codebook_levels(rows[:, c], k)
            codes[:, c] = codebook_codes(rows[:, c], levels[c])
    else:
        raise UsageError("codebook quantization has table or column codebooks, not row-block")
    return Quantized(codes.reshape(n, dim), np.zeros(0, dtype=L.SCALE_DTYPE), np.uint8(0), levels)


def _few_distinct_columns(rows: np.ndarray, k: int, levels: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """v1.1 §5.2 steps 1, 2 and 4 for every column at once: a column whose weights outside
    the dead zone take at most k - 1 distinct values gets those values as its levels and
    each weight the index of its own value (distance 0: no other level is as near). Fills
    `levels` and `codes` for those columns; returns which columns they are (a wide table
    with few rows is all of them: no per-column Python loop)."""
    w = rows.astype(np.float64)
    s = range_scales(rows.min(axis=0), rows.max(axis=0))["scale"].astype(np.float64)
    dz = np.rint(w / s[None, :]) == 0
    order = np.argsort(np.where(dz, np.nan, w), axis=0, kind="stable")  # dead zone (NaN) last
    srt = np.take_along_axis(np.where(dz, np.nan, w), order, axis=0)
    live = ~np.isnan(srt)
    new = live.copy()
    new[1:] &= srt[1:] != srt[:-1]
    rank = np.cumsum(new, axis=0)  # 1-based index of each sorted value among the distinct ones
    few = rank[-1] <= k - 1
    r, c = np.nonzero(new & few[None, :])
    levels[c, rank[r, c]] = srt[r, c].astype(np.float32)
    code = np.where(live, rank, 0)
    np.put_along_axis(codes, order, np.where(few[None, :], code, 0).astype(np.uint8), axis=0)
    return few


def pack_nibbles(codes: np.ndarray) -> np.ndarray:
    """A flat sequence of 4-bit codes as the nibble stream of v1.1 §4.3 (low nibble first)."""
    flat = np.ascontiguousarray(codes, dtype=np.uint8).ravel()
    if flat.size % 2:
        flat = np.concatenate((flat, np.zeros(1, np.uint8)))
    return (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8)


def group_count(granularity: int, num_keys: int, dim: int, block_rows: int) -> int:
    if granularity == L.SCALE_NONE:
        return 0
    if granularity == L.SCALE_TABLE:
        return 1
    if granularity == L.SCALE_COLUMN:
        return dim
    return -(-num_keys // block_rows)


def quantize(rows: np.ndarray, quant: int, granularity: int, block_rows: int) -> Quantized:
    """rows: float32 (n, dim), already in slot order (row-block groups follow slots)."""
    n, dim = rows.shape
    if quant in L.CODEBOOK_LEVELS:
        return quantize_codebook(rows, quant, granularity)
    linear = quant in LINEAR_MAX_CODE
    scales = np.zeros(group_count(granularity, n, dim, block_rows) if linear else 0, dtype=L.SCALE_DTYPE)
    if linear:
        top = LINEAR_MAX_CODE[quant]
        if granularity == L.SCALE_TABLE:
            scales[0] = group_scale(rows, top)
        elif granularity == L.SCALE_COLUMN:
            if n:
                scales[:] = range_scales(rows.min(axis=0), rows.max(axis=0), top)
            else:
                scales[:] = (1.0, 0)
        elif scales.size:  # row blocks: every block holds at least one row
            starts = np.arange(scales.size) * block_rows
            scales[:] = range_scales(np.minimum.reduceat(rows.min(axis=1), starts) if dim else np.zeros(scales.size),
                                     np.maximum.reduceat(rows.max(axis=1), starts) if dim else np.zeros(scales.size), top)
    return quantize_scaled(rows, quant, granularity, block_rows, scales)


def quantize_scaled(
    rows: np.ndarray, quant: int, granularity: int, block_rows: int, scales: np.ndarray, first_slot: int = 0
) -> Quantized:
    """quantize() with a given scale table: rows are the slots [first_slot, first_slot + n)
    of a table whose scales were computed over all its rows (for row-block, `scales`
    is the whole table's, indexed by global slot). The returned `scales` are those given."""
    n, dim = rows.shape
    if quant == L.QUANT_F32:
        return Quantized(rows, np.zeros(0, dtype=L.SCALE_DTYPE), np.float32(0))
    if quant == L.QUANT_F16:
        big = np.abs(rows) > F16_MAX_FINITE
        if big.any():
            r, c = np.argwhere(big)[0]
            raise UsageError(
                f"weight {rows[r, c]!r} is beyond float16's range (|w| <= {F16_MAX_FINITE}); use f32 or linear8"
            )
        return Quantized(rows.astype("<f2"), np.zeros(0, dtype=L.SCALE_DTYPE), np.float16(0))
    top = LINEAR_MAX_CODE[quant]
    if granularity == L.SCALE_TABLE:
        s, z = scales["scale"][0], int(scales["zero_point"][0])
        codes = _linear8_codes(rows, s, z, top)
        zero = np.uint8(z)
    elif granularity == L.SCALE_COLUMN:
        codes = _linear8_codes(rows, scales["scale"][None, :], scales["zero_point"][None, :], top)
        zero = scales["zero_point"].astype(np.uint8)[None, :]
    else:
        per_row = np.arange(first_slot, first_slot + n) // block_rows
        codes = _linear8_codes(rows, scales["scale"][per_row][:, None], scales["zero_point"][per_row][:, None], top)
        zero = scales["zero_point"].astype(np.uint8)[per_row][:, None]
    return Quantized(codes, scales, zero)


def zero_rows(rows: np.ndarray, quant: int, granularity: int) -> np.ndarray:
    """Rows that store only zeros under table/column scales (used by drop_zero_rows).

    Row-block scales depend on slot order, so for them (and for f32/f16) a row counts as
    zero when its float32 values are all exactly 0.0 (spec §13.4).
    """
    if quant not in (L.QUANT_F32, L.QUANT_F16) and granularity in (L.SCALE_TABLE, L.SCALE_COLUMN):
        q = quantize(rows, quant, granularity, 1)
        return ~(q.codes != q.zero_code).any(axis=1)
    if quant == L.QUANT_F16:
        return ~(rows.astype("<f2") != 0).any(axis=1)
    return ~(rows != 0).any(axis=1)


@dataclass
class Sparse:
    row_index: np.ndarray
    columns: np.ndarray
    values: np.ndarray


def to_sparse(q: Quantized) -> Sparse:
    """§9.2: per slot, its non-zero (column, code) pairs in ascending column order."""
    n, dim = q.codes.shape
    nonzero = q.codes != q.zero_code
    counts = nonzero.sum(axis=1, dtype=np.uint64)
    nnz = int(counts.sum())
    index_dtype = L.INDEX_DTYPES[4 if nnz < (1 << 32) else 8]
    column_dtype = L.COLUMN_DTYPES[1 if dim <= 256 else 2 if dim <= 65536 else 4]
    row_index = np.zeros(n + 1, dtype=index_dtype)
    row_index[1:] = np.cumsum(counts)
    r, c = np.nonzero(nonzero)  # row-major: rows ascending, columns ascending within a row
    return Sparse(row_index, c.astype(column_dtype), q.codes[r, c])


def code_bytes(count: int, quant: int) -> int:
    """Bytes of `count` stored codes (4-bit codes are packed two per byte, v1.1 §4.3)."""
    return (count * L.QUANT_CODE_BITS[quant] + 7) // 8


def sparse_bytes(n: int, dim: int, nnz: int, itemsize: int) -> int:
    iw = 4 if nnz < (1 << 32) else 8
    cw = 1 if dim <= 256 else 2 if dim <= 65536 else 4
    return L.align((n + 1) * iw) + L.align(nnz * cw) + L.align(-(-int(nnz * itemsize * 2) // 2))
