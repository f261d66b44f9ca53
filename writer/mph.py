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
from phq.hashing import level_positions_into, partition_of_np
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
    """Levels of one partition (§13.2).

    Returns (level_words, bitmap words, rank entries, order, fallback (h1, h2)), where
    order lists the partition's key indices in slot order: a level's keys in the order of
    their bits (the rank order of §7.3), then the fallback keys in digest order. The
    remaining keys' digests are compacted level by level, and each level writes its keys'
    ids at their positions so that reading the positions with exactly one key, in order,
    yields that level's slots: no rank gathers, no final scatter.
    """
    n = h1.size
    ids = np.arange(n, dtype=np.uint32)
    scratch = np.empty(n, dtype=np.int64)  # one buffer for every level's positions
    level_sizes: list[int] = []
    level_bitmaps: list[np.ndarray] = []
    order_parts: list[np.ndarray] = []
    for level in range(max_levels):
        k = h1.size
        if k == 0:
            break
        words = level_words_for(k, gamma_milli)
        if words > L.MAX_LEVEL_WORDS:
            raise UsageError(
                f"a partition of {n} keys needs a level of {words} words (limit {L.MAX_LEVEL_WORDS}); "
                "use more partitions"
            )
        bits = words * 64
        pos = level_positions_into(h1, h2, level, bits, scratch)
        alone = np.bincount(pos, minlength=bits) == 1
        owner = np.empty(bits, dtype=np.uint32)
        owner[pos] = ids  # where a key is alone, its id is the one written
        # selections by index (flatnonzero + take) rather than by boolean mask: the same
        # elements in the same order, several times faster in numpy
        order_parts.append(owner.take(np.flatnonzero(alone)))
        level_sizes.append(words)
        level_bitmaps.append(np.packbits(alone, bitorder="little").view(L.WORD_DTYPE))
        keep = np.flatnonzero(~alone.take(pos))
        ids, h1, h2 = ids.take(keep), h1.take(keep), h2.take(keep)
    if ids.size:
        # §5.5.5: fallback digests ascending by (h1, h2); their slots follow the level slots
        fb_order = np.lexsort((h2, h1))
        ids, h1, h2 = ids[fb_order], h1[fb_order], h2[fb_order]
        same = (h1[1:] == h1[:-1]) & (h2[1:] == h2[:-1])
        if same.any():
            at = np.flatnonzero(same)
            raise HashCollision([(int(ids[i]), int(ids[i + 1])) for i in at])
        order_parts.append(ids)
    words = np.concatenate(level_bitmaps) if level_bitmaps else np.zeros(0, dtype=L.WORD_DTYPE)
    pad = (-words.size) % L.RANK_BLOCK_WORDS
    if pad:
        words = np.concatenate((words, np.zeros(pad, dtype=L.WORD_DTYPE)))
    order = np.concatenate(order_parts) if order_parts else np.zeros(0, dtype=np.uint32)
    return level_sizes, words, rank_entries(words), order, (h1, h2)


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
        groups = [None]  # all keys, in input order: no gather needed
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
        size = n if idx is None else idx.size
        if size > L.MAX_PARTITION_KEYS:
            raise UsageError(f"partition {p} holds {size} keys (limit {L.MAX_PARTITION_KEYS}); use more partitions")
        ph1, ph2 = (h1, h2) if idx is None else (h1[idx], h2[idx])
        try:
            levels, words, rank, local_order, (fb1, fb2) = _build_partition(ph1, ph2, gamma_milli, max_levels)
        except HashCollision as e:
            collisions.extend((i, j) if idx is None else (int(idx[i]), int(idx[j])) for i, j in e.pairs)
            continue
        order[first_slot : first_slot + size] = local_order if idx is None else idx[local_order]
        records[p] = (size, fb1.size, len(levels), 0)
        all_levels.append(np.asarray(levels, dtype=L.LEVEL_DTYPE))
        all_words.append(words)
        all_rank.append(rank)
        fb = np.empty(fb1.size, dtype=L.FALLBACK_DTYPE)
        fb["h1"], fb["h2"] = fb1, fb2
        all_fallback.append(fb)
        first_slot += size
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
