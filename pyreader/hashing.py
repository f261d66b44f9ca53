"""The phq hash scheme 1 (spec/format-v1.0.md §6), scalar and vectorized.

A key (bytes) is hashed once with MurmurHash3_x64_128 (the 128-bit x64 variant, as
`mmh3.hash64(key, seed, x64arch=True, signed=False)` returns it: the two little-endian
64-bit halves h1, h2 of the digest). Everything else derives from (h1, h2):

    partition(P)        = ((h2 >> 32) * P) >> 32
    level_hash(i)       = fmix64((h1 + i * h2) mod 2^64)
    level_position(i,m) = ((level_hash(i) >> 32) * m) >> 32      (m = level bits < 2^32)
    fingerprint(b)      = h2 mod 2^b

fmix64 is MurmurHash3's 64-bit finalizer. Rehashing the key string once per level (as the
article describes) costs e ~ 2.7 string hashes per key; deriving per-level hashes from one
128-bit digest gives the same independence at one string hash per key.
"""

from __future__ import annotations

import os
import sys

import mmh3
import numpy as np

try:  # the optional compiled accelerator (setup.py); mmh3 does the same without it
    from . import _accel
except ImportError:
    _accel = None

MASK64 = (1 << 64) - 1
_C1 = 0xFF51AFD7ED558CCD
_C2 = 0xC4CEB9FE1A85EC53


def key_hash(key: bytes, seed: int) -> tuple[int, int]:
    """(h1, h2) of MurmurHash3_x64_128(key, seed) as unsigned 64-bit integers."""
    return mmh3.mmh3_x64_128_utupledigest(key, seed)


def fmix64(k: int) -> int:
    k ^= k >> 33
    k = (k * _C1) & MASK64
    k ^= k >> 33
    k = (k * _C2) & MASK64
    k ^= k >> 33
    return k


def level_hash(h1: int, h2: int, level: int) -> int:
    return fmix64((h1 + level * h2) & MASK64)


def level_position(h1: int, h2: int, level: int, level_bits: int) -> int:
    return ((level_hash(h1, h2, level) >> 32) * level_bits) >> 32


def partition_of(h2: int, num_partitions: int) -> int:
    return ((h2 >> 32) * num_partitions) >> 32


def fingerprint_of(h2: int, bits: int) -> int:
    return h2 & ((1 << bits) - 1)


# --- vectorized forms (numpy uint64 arithmetic wraps modulo 2^64) ----------------------
_U32 = np.uint64(32)
_U33 = np.uint64(33)
_NC1 = np.uint64(_C1)
_NC2 = np.uint64(_C2)
_CHUNK = 1 << 16


def hash_keys(keys, seed: int) -> np.ndarray:
    """MurmurHash3_x64_128 of every key: an (n, 2) uint64 array of (h1, h2).

    Keys must already be bytes. With the optional accelerator (phq._accel, unless PHQ_PURE
    is set) one C loop hashes a list or tuple of keys; otherwise mmh3 hashes them in
    chunks, so that no list of n digests is ever held at once. Same values either way.
    """
    n = len(keys)
    out = np.empty((n, 2), dtype="<u8")
    if _accel is not None and sys.byteorder == "little" and type(keys) in (list, tuple) and os.environ.get("PHQ_PURE", "") in ("", "0"):
        try:
            _accel.hash_keys(keys, seed, out)
            return out
        except _accel.Fallback:
            pass  # a key type the C side does not take: mmh3 below
    digest = mmh3.hash_bytes
    seeds = [seed] * min(n, _CHUNK)
    for start in range(0, n, _CHUNK):
        chunk = keys[start : start + _CHUNK]
        raw = b"".join(map(digest, chunk, seeds[: len(chunk)]))
        out[start : start + len(chunk)] = np.frombuffer(raw, dtype="<u8").reshape(-1, 2)
    return out


def fmix64_np(k: np.ndarray) -> np.ndarray:
    k = k ^ (k >> _U33)
    k *= _NC1
    k ^= k >> _U33
    k *= _NC2
    k ^= k >> _U33
    return k


def level_position_np(h1: np.ndarray, h2: np.ndarray, level: int, level_bits) -> np.ndarray:
    """level_position for arrays; level_bits is a number or an array (one per key)."""
    with np.errstate(over="ignore"):
        g = fmix64_np(h1 + np.uint64(level) * h2)
        return ((g >> _U32) * np.asarray(level_bits, dtype=np.uint64)) >> _U32


_CHUNK_POS = 1 << 15  # 32K keys: one chunk's temporaries stay in the CPU cache


def level_positions_into(h1: np.ndarray, h2: np.ndarray, level: int, level_bits: int, out: np.ndarray) -> np.ndarray:
    """level_position of every key into out[:k] (int64), for the builder: chunk by chunk
    and in place, so the passes of fmix64 run in cache instead of streaming memory."""
    k = h1.size
    res = out[:k].view(np.uint64)
    tmp = np.empty(min(k, _CHUNK_POS), dtype=np.uint64)
    lvl, m = np.uint64(level), np.uint64(level_bits)
    with np.errstate(over="ignore"):
        for s in range(0, k, _CHUNK_POS):
            e = min(k, s + _CHUNK_POS)
            o, t = res[s:e], tmp[: e - s]
            if level:
                np.multiply(h2[s:e], lvl, out=o)
                o += h1[s:e]
            else:
                o[:] = h1[s:e]
            np.right_shift(o, _U33, out=t)
            o ^= t
            o *= _NC1
            np.right_shift(o, _U33, out=t)
            o ^= t
            o *= _NC2
            np.right_shift(o, _U33, out=t)
            o ^= t
            o >>= _U32
            o *= m
            o >>= _U32
    return out[:k]  # < 2^32: safe as a signed index


def partition_of_np(h2: np.ndarray, num_partitions: int) -> np.ndarray:
    return ((h2 >> _U32) * np.uint64(num_partitions)) >> _U32


def fingerprint_of_np(h2: np.ndarray, bits: int) -> np.ndarray:
    return h2 & np.uint64((1 << bits) - 1)
