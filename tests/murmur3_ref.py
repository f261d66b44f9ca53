"""An independent, slow, pure-Python MurmurHash3_x64_128 (from the algorithm's published
description), used only to cross-check mmh3 and the spec's known-answer vectors."""

M = (1 << 64) - 1


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M


def _fmix(k):
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & M
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & M
    k ^= k >> 33
    return k


def murmur3_x64_128(data: bytes, seed: int) -> tuple[int, int]:
    c1, c2 = 0x87C37B91114253D5, 0x4CF5AD432745937F
    h1 = h2 = seed & 0xFFFFFFFF
    n = len(data)
    nblocks = n // 16
    for i in range(nblocks):
        k1 = int.from_bytes(data[16 * i : 16 * i + 8], "little")
        k2 = int.from_bytes(data[16 * i + 8 : 16 * i + 16], "little")
        k1 = (k1 * c1) & M
        k1 = _rotl(k1, 31)
        k1 = (k1 * c2) & M
        h1 ^= k1
        h1 = _rotl(h1, 27)
        h1 = (h1 + h2) & M
        h1 = (h1 * 5 + 0x52DCE729) & M
        k2 = (k2 * c2) & M
        k2 = _rotl(k2, 33)
        k2 = (k2 * c1) & M
        h2 ^= k2
        h2 = _rotl(h2, 31)
        h2 = (h2 + h1) & M
        h2 = (h2 * 5 + 0x38495AB5) & M
    tail = data[16 * nblocks :]
    k1 = k2 = 0
    if len(tail) > 8:
        k2 = int.from_bytes(tail[8:], "little")
        k2 = (k2 * c2) & M
        k2 = _rotl(k2, 33)
        k2 = (k2 * c1) & M
        h2 ^= k2
    if tail:
        k1 = int.from_bytes(tail[:8], "little")
        k1 = (k1 * c1) & M
        k1 = _rotl(k1, 31)
        k1 = (k1 * c2) & M
        h1 ^= k1
    h1 ^= n
    h2 ^= n
    h1 = (h1 + h2) & M
    h2 = (h2 + h1) & M
    h1 = _fmix(h1)
    h2 = _fmix(h2)
    h1 = (h1 + h2) & M
    h2 = (h2 + h1) & M
    return h1, h2
