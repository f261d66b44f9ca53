"""Build the BBHash-style minimal perfect hash of a table (spec §7, writer rules §13.2).

Input: the (h1, h2) digests of the keys. Output: the MPH sections' arrays and `order`,
where order[slot] is the index of the key that owns that slot. Everything is vectorized
with numpy; the only per-key Python work is hashing, done elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from phq import layout as L
from phq.errors import UsageError
from phq.hashing import level_position_np, partition_of_np
from phq.rank import rank_entries


@dataclass
class MPH:
    partitions: np.ndarray  # PARTITION_DTYPE, one record per partition
    level_words: np.ndarray  # u32, words per level, all partitions concatenated
    bitmap: np.ndarray  # u64 words
    rank: np.ndarray  # u64 rank entries
    fallback: np.ndarray  # FALLBACK_DTYPE
    order: np.ndarray  # int64: order[slot] = input key index

    def num_bytes(self) -> int:
        return sum(a.nbytes for a in (self.partitions, self.level_words, self.bitmap, self.rank, self.fallback))


class HashCollision(Exception):
    """Two input keys have identical 128-bit digests: duplicates, or a real collision.

    `pairs` holds (i, j) input indices. The writer turns it into a UsageError that names
    the keys (duplicate key) or asks for another seed (true collision).
    """

    def __init__(self, pairs: list[tuple[int, int]]):
        self.pairs = pairs
        super().__init__(f"{len(pairs)} pair(s) of keys with identical 128-bit hashes")


def level_words_for(remaining: int, gamma_milli: int) -> int:
    """§13.2: ceil(gamma * remaining / 64) words, at least 1; integer arithmetic only."""
    return max(1, -(-gamma_milli * remaining // 64000))


def default_partitions(num_keys: int, gamma_milli: int) -> int:
    """Smallest partition count keeping level 0 at half the 2^32-bit limit (headroom for
    the binomial spread of partition sizes)."""
    per_partition_bits = 1 << 31
    return max(1, -(-num_keys * gamma_milli // (1000 * per_partition_bits)))


def _build_partition(h1, h2, gamma_milli, max_levels):
    """Levels of one partition. Returns (level_words list, words, rank, fallback idx, slot_of)."""
    n = h1.size
    remaining = np.arange(n)
    level_sizes: list[int] = []
    level_bitmaps: list[np.ndarray] = []
    slot_of = np.empty(n, dtype=np.int64)
    ones_before = 0
    for level in range(max_levels):
        if remaining.size == 0:
            break
        words = level_words_for(remaining.size, gamma_milli)
        if words > L.MAX_LEVEL_WORDS:
            raise UsageError(
                f"a partition of {n} keys needs a level of {words} words (limit {L.MAX_LEVEL_WORDS}); "
                "use more partitions"
            )
        bits = words * 64
        pos = level_position_np(h1[remaining], h2[remaining], level, bits).astype(np.intp)
        counts = np.bincount(pos, minlength=bits)
        alone = counts == 1
        placed = alone[pos]
        # slot = ones before this level + rank of the key's bit inside the level
        in_level_rank = np.cumsum(alone) - 1
        slot_of[remaining[placed]] = ones_before + in_level_rank[pos[placed]]
        ones_before += int(in_level_rank[-1]) + 1
        level_sizes.append(words)
        level_bitmaps.append(np.packbits(alone, bitorder="little").view(L.WORD_DTYPE))
        remaining = remaining[~placed]
    fallback_idx = remaining
    if fallback_idx.size:
        # §5.4.5: fallback digests ascending by (h1, h2); their slots follow the bitmap's ones
        fb_order = np.lexsort((h2[fallback_idx], h1[fallback_idx]))
        fallback_idx = fallback_idx[fb_order]
        a1, a2 = h1[fallback_idx], h2[fallback_idx]
        same = (a1[1:] == a1[:-1]) & (a2[1:] == a2[:-1])
        if same.any():
            at = np.flatnonzero(same)
            raise HashCollision([(int(fallback_idx[i]), int(fallback_idx[i + 1])) for i in at])
        slot_of[fallback_idx] = ones_before + np.arange(fallback_idx.size)
    words = np.concatenate(level_bitmaps) if level_bitmaps else np.zeros(0, dtype=L.WORD_DTYPE)
    pad = (-words.size) % L.RANK_BLOCK_WORDS
    if pad:
        words = np.concatenate((words, np.zeros(pad, dtype=L.WORD_DTYPE)))
    return level_sizes, words, rank_entries(words), fallback_idx, slot_of


def build_mph(
    hashes: np.ndarray,
    *,
    gamma_milli: int,
    num_partitions: int,
    max_levels: int = L.MAX_LEVELS,
    progress: Callable[[int, int], None] | None = None,
) -> MPH:
    n = hashes.shape[0]
    h1 = np.ascontiguousarray(hashes[:, 0])
    h2 = np.ascontiguousarray(hashes[:, 1])
    if num_partitions == 1:
        groups = [np.arange(n)]
    else:
        part = partition_of_np(h2, num_partitions).astype(np.intp)
        by_part = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[by_part], np.arange(num_partitions + 1))
        groups = [by_part[bounds[p] : bounds[p + 1]] for p in range(num_partitions)]
    records = np.zeros(num_partitions, dtype=L.PARTITION_DTYPE)
    all_levels, all_words, all_rank, all_fallback = [], [], [], []
    order = np.empty(n, dtype=np.int64)
    first_slot = 0
    collisions: list[tuple[int, int]] = []
    for p, idx in enumerate(groups):
        if idx.size > L.MAX_PARTITION_KEYS:
            raise UsageError(f"partition {p} holds {idx.size} keys (limit {L.MAX_PARTITION_KEYS}); use more partitions")
        try:
            levels, words, rank, fb_idx, slot_of = _build_partition(h1[idx], h2[idx], gamma_milli, max_levels)
        except HashCollision as e:
            collisions.extend((int(idx[i]), int(idx[j])) for i, j in e.pairs)
            continue
        order[first_slot + slot_of] = idx
        records[p] = (idx.size, fb_idx.size, len(levels), 0)
        all_levels.append(np.asarray(levels, dtype=L.LEVEL_DTYPE))
        all_words.append(words)
        all_rank.append(rank)
        fb = np.empty(fb_idx.size, dtype=L.FALLBACK_DTYPE)
        fb["h1"], fb["h2"] = h1[idx][fb_idx], h2[idx][fb_idx]
        all_fallback.append(fb)
        first_slot += idx.size
        if progress is not None:
            progress(first_slot, n)
    if collisions:
        raise HashCollision(collisions)

    def cat(parts, dtype):
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)

    return MPH(
        partitions=records,
        level_words=cat(all_levels, L.LEVEL_DTYPE),
        bitmap=cat(all_words, L.WORD_DTYPE),
        rank=cat(all_rank, L.WORD_DTYPE),
        fallback=cat(all_fallback, L.FALLBACK_DTYPE),
        order=order,
    )
