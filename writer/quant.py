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
    codes: np.ndarray  # (n, dim) in the storage dtype
    scales: np.ndarray  # SCALE_DTYPE, one record per group
    zero_code: np.ndarray  # (n, dim)-broadcastable storage-dtype value that means 0.0


def group_scale(values: np.ndarray) -> tuple[np.float32, int]:
    """scale and zero point of one linear8 group (values: float32 of any shape)."""
    if values.size == 0:
        return np.float32(1.0), 0
    return range_scale(float(values.min()), float(values.max()))


def range_scale(vmin: float, vmax: float) -> tuple[np.float32, int]:
    """scale and zero point of a non-empty group whose weights span [vmin, vmax] (§8.3).
    Only the extremes matter, so a group's scale can be computed from partial minima and
    maxima (the partitioned build's first pass)."""
    lo = min(0.0, vmin)
    hi = max(0.0, vmax)
    if hi == lo:  # all zeros: any scale represents them; 1.0 is the defined choice
        return np.float32(1.0), 0
    scale = np.float32((hi - lo) / 255.0)
    if scale == 0:  # (hi - lo) below 255 subnormal steps
        scale = _SMALLEST_SUBNORMAL_F32
    if float(scale) * 255 > L.F32_MAX:
        raise UsageError(
            f"weights spanning [{lo:g}, {hi:g}] are too wide for linear8 (255 x scale must stay below "
            "float32's maximum); use f32"
        )
    zero_point = int(np.clip(np.rint(-lo / float(scale)), 0, 255))
    return scale, zero_point


def _linear8_codes(values: np.ndarray, scale, zero_point) -> np.ndarray:
    """values float32 (any shape); scale/zero_point broadcastable float64/int arrays."""
    q = np.rint(values.astype(np.float64) / np.asarray(scale, dtype=np.float64)) + zero_point
    return np.clip(q, 0, 255).astype(np.uint8)


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
    scales = np.zeros(group_count(granularity, n, dim, block_rows) if quant == L.QUANT_LINEAR8 else 0, dtype=L.SCALE_DTYPE)
    if quant == L.QUANT_LINEAR8:
        if granularity == L.SCALE_TABLE:
            scales[0] = group_scale(rows)
        elif granularity == L.SCALE_COLUMN:
            for c in range(dim):
                scales[c] = group_scale(rows[:, c])
        else:
            for g in range(scales.size):
                scales[g] = group_scale(rows[g * block_rows : (g + 1) * block_rows])
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
    if granularity == L.SCALE_TABLE:
        s, z = scales["scale"][0], int(scales["zero_point"][0])
        codes = _linear8_codes(rows, s, z)
        zero = np.uint8(z)
    elif granularity == L.SCALE_COLUMN:
        codes = _linear8_codes(rows, scales["scale"][None, :], scales["zero_point"][None, :])
        zero = scales["zero_point"].astype(np.uint8)[None, :]
    else:
        per_row = np.arange(first_slot, first_slot + n) // block_rows
        codes = _linear8_codes(rows, scales["scale"][per_row][:, None], scales["zero_point"][per_row][:, None])
        zero = scales["zero_point"].astype(np.uint8)[per_row][:, None]
    return Quantized(codes, scales, zero)


def zero_rows(rows: np.ndarray, quant: int, granularity: int) -> np.ndarray:
    """Rows that store only zeros under table/column scales (used by drop_zero_rows).

    Row-block scales depend on slot order, so for them (and for f32/f16) a row counts as
    zero when its float32 values are all exactly 0.0 (spec §13.4).
    """
    if quant == L.QUANT_LINEAR8 and granularity in (L.SCALE_TABLE, L.SCALE_COLUMN):
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


def sparse_bytes(n: int, dim: int, nnz: int, itemsize: int) -> int:
    iw = 4 if nnz < (1 << 32) else 8
    cw = 1 if dim <= 256 else 2 if dim <= 65536 else 4
    return L.align((n + 1) * iw) + L.align(nnz * cw) + L.align(nnz * itemsize)
