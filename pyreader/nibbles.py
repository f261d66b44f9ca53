"""4-bit code streams (spec/format-v1.1.md §4.3): views that unpack on access.

Code i of a nibble stream is in byte i // 2, low nibble when i is even, high nibble when
odd. The wrappers below stand in for the numpy views a table keeps of 8-bit codes, with
the few indexing forms the lookup paths use, and unpack only what is read: opening a
file never touches the payload.
"""

from __future__ import annotations

import numpy as np


def unpack(packed: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Codes at the given flat indices (int64 array of any shape) as uint8."""
    b = packed[index >> 1]
    return np.where(index & 1, b >> 4, b & 0x0F).astype(np.uint8)


class NibbleArray:
    """A flat stream of `count` 4-bit codes (sparse ROWS values)."""

    def __init__(self, packed: np.ndarray, count: int):
        self.packed = packed
        self.size = count
        self.dtype = np.dtype(np.uint8)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            start, stop, step = key.indices(self.size)
            return unpack(self.packed, np.arange(start, stop, step, dtype=np.int64))
        idx = np.asarray(key, dtype=np.int64)
        return unpack(self.packed, idx)

    def all(self) -> np.ndarray:
        return self[:]


class NibbleRows:
    """A dense (n, dim) matrix of 4-bit codes stored as one nibble stream (row-major)."""

    def __init__(self, packed: np.ndarray, n: int, dim: int):
        self.packed = packed
        self.shape = (n, dim)
        self.dtype = np.dtype(np.uint8)
        self._cols = np.arange(dim, dtype=np.int64)

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, rows, axis: int = 0) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        return unpack(self.packed, rows[..., None] * self.shape[1] + self._cols)

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return self.take(np.int64(key))
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            return self.take(np.arange(start, stop, step, dtype=np.int64))
        return self.take(key)
