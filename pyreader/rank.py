"""Rank entries (spec §5.4.4): the one definition, used by the writer and by validate."""

from __future__ import annotations

import numpy as np

from . import layout as L


def rank_entries(words: np.ndarray) -> np.ndarray:
    """Rank entries of one partition's bitmap (its length a multiple of 32 words).

    Entry j covers words [32j, 32j + 32): bits 0-31 hold the number of one bits before the
    block (within the partition), bits 32-41, 42-51 and 52-61 the popcounts of its first
    three 512-bit sub-blocks; bits 62-63 are zero.
    """
    if words.size == 0:
        return np.zeros(0, dtype=L.WORD_DTYPE)
    counts = np.bitwise_count(words).astype(np.uint64).reshape(-1, 4, L.RANK_SUBBLOCK_WORDS).sum(axis=2)
    absolute = np.concatenate(([0], np.cumsum(counts.sum(axis=1))[:-1])).astype(np.uint64)
    return (
        absolute
        | (counts[:, 0] << np.uint64(32))
        | (counts[:, 1] << np.uint64(42))
        | (counts[:, 2] << np.uint64(52))
    ).astype(L.WORD_DTYPE)
