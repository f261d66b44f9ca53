"""Full validation (spec §10.2): structure, every checksum, every table's internals.

`phq.open` runs only the O(1)-in-file-size structural checks; `validate` reads every
byte once more. It raises the first FormatError it meets, in the order of §10.2.
"""

from __future__ import annotations

import os

import crc32c as _crc32c
import numpy as np

from . import layout as L
from .errors import FormatError
from .hashing import partition_of_np
from .rank import rank_entries
from .reader import Model, open_model


def validate(path: str | os.PathLike, *, max_version: tuple[int, int] | None = None) -> Model:
    """Check everything the spec requires; return the open model on success.
    `max_version=(1, 0)` validates as a 1.0 reader would (1.1 features refused)."""
    model = open_model(path) if max_version is None else open_model(path, max_version=max_version)
    try:
        buf = model._buf
        for start, end in model.padding_spans():  # §10.2 step 1
            model._check_zero(buf, start, end)
        for s in model.sections:  # §10.2 step 2: checksums, ancillary sections included
            if _crc32c.crc32c(buf[s.offset : s.offset + s.size]) != s.checksum:
                raise FormatError("E_CHECKSUM", f"section {s.index} ({s.name}) checksum mismatch", s.offset)
        for name, arr in model.tensors.items():  # §10.2.2
            if arr.size and arr.dtype.kind == "f" and not _all_finite(arr.reshape(-1)):
                raise FormatError("E_VALUE", f"tensor {name!r} holds NaN or infinity")
        for table in model.tables.values():
            _check_table(table)
    except BaseException:
        model.close()
        raise
    return model


_CHUNK = 1 << 21  # elements per vectorized pass (bounded temporaries: 16 MiB each at most)
_WORDS_CHUNK = 1 << 20  # bitmap words per pass over partitions


def _all_finite(flat) -> bool:
    """np.isfinite(flat).all() in chunks: no temporary the size of the array."""
    for lo in range(0, flat.size, _CHUNK):
        if not np.isfinite(flat[lo : lo + _CHUNK]).all():
            return False
    return True


def _check_table(t) -> None:
    """§10.2.3: rank blocks, padding, fallback order, sparse index, float values.

    Vectorized over partitions and chunked: the partitions that fail any check are found
    with numpy in passes of bounded size, then the first of them is checked alone, in the
    order of §10.2.3 (`_check_partition`), for its exact error."""
    from .table import _fail

    bad = _bad_partitions(t)
    if bad is not None:
        _check_partition(t, bad)
        raise AssertionError(f"partition {bad} failed a vectorized check but no scalar one")  # pragma: no cover
    if t._compact:
        _check_compact(t)
        values = t._values
    elif t._sparse:
        _check_sparse(t)
        values = t._values
    else:
        values = t._rows
    if values.dtype.kind == "f" and not _all_finite(values.reshape(-1)):
        _fail("E_VALUE", f"table {t.name!r}: a stored weight is NaN or infinite")
    # format 1.1 (spec/format-v1.1.md §4): the pad nibble of an odd 4-bit stream, codebooks
    packed = getattr(values, "packed", None)
    if packed is not None and t.nnz % 2 and int(packed[-1]) >> 4:
        _fail("E_PADDING", f"table {t.name!r}: the pad nibble after the last 4-bit code is not zero")
    if t.levels is not None:
        if not np.isfinite(t.levels).all():
            _fail("E_VALUE", f"table {t.name!r}: a codebook level is NaN or infinite")
        if t.levels.size and (t.levels[:, 0].view(np.uint32) != 0).any():
            _fail("E_SCALE", f"table {t.name!r}: level 0 of a codebook is not +0.0")


def _used_words(t) -> np.ndarray:
    """Bitmap words of each partition's levels (before its rank-block padding)."""
    cw = np.concatenate(([0], np.cumsum(t._level_bits // 64)))
    ls, lc = t._p_level_start, t._p_level_count
    return cw[ls + lc] - cw[ls]


def _bad_partitions(t) -> int | None:
    """The first partition failing a §10.2.3 MPH check (padding words, ones, rank entries,
    fallback order and membership), or None."""
    P = t.num_partitions
    used = _used_words(t)
    padded = -(-used // L.RANK_BLOCK_WORDS) * L.RANK_BLOCK_WORDS
    wb = t._p_word_base
    bad = np.zeros(P, bool)
    # bitmap and rank entries, over runs of whole partitions of about _WORDS_CHUNK words
    ends = wb + padded
    p0 = 0
    while p0 < P:
        p1 = max(p0 + 1, int(np.searchsorted(ends, wb[p0] + _WORDS_CHUNK, side="right")))
        p1 = min(p1, P)
        _check_bitmap_run(t, p0, p1, used[p0:p1], padded[p0:p1], bad)
        p0 = p1
    # fallback lists: strictly ascending (h1, h2) within a partition, in their partition
    fb = t._fallback
    fb_base = np.concatenate((t._p_fb_start, [fb.size]))
    for lo in range(0, fb.size, _CHUNK):
        hi = min(fb.size, lo + _CHUNK + 1)  # one entry of overlap: the pair across chunks
        h1, h2 = fb["h1"][lo:hi], fb["h2"][lo:hi]
        owner = np.searchsorted(fb_base, np.arange(lo, hi), side="right") - 1
        desc = ~((h1[1:] > h1[:-1]) | ((h1[1:] == h1[:-1]) & (h2[1:] > h2[:-1])))
        desc &= owner[1:] == owner[:-1]
        bad[owner[1:][desc]] = True
        if P > 1:
            bad[owner[partition_of_np(h2, P) != owner.astype(np.uint64)]] = True
    return int(np.argmax(bad)) if bad.any() else None


def _check_bitmap_run(t, p0: int, p1: int, used, padded, bad) -> None:
    """Mark in `bad` the partitions p0..p1-1 whose padding words, ones or rank entries are wrong."""
    wb = t._p_word_base
    w0 = int(wb[p0])
    n_words = int(padded.sum())
    if not n_words:
        bad[p0:p1] |= t._p_ones[p0:p1] != 0
        return
    words = t._bitmap[w0 : w0 + n_words]
    nblocks = n_words // L.RANK_BLOCK_WORDS
    blocks = padded // L.RANK_BLOCK_WORDS
    part = np.repeat(np.arange(p0, p1), blocks)  # partition of each rank block
    # padding: the words of a partition at or past its used count
    word_part = np.repeat(np.arange(p1 - p0), padded)
    pos = np.arange(n_words) - (wb[p0:p1] - w0)[word_part]
    nonzero_pad = (pos >= used[word_part]) & (words != 0)
    bad[p0 + word_part[nonzero_pad]] = True
    del word_part, pos, nonzero_pad
    counts = np.bitwise_count(words).reshape(nblocks, 4, L.RANK_SUBBLOCK_WORDS).sum(axis=2, dtype=np.int64)
    totals = counts.sum(axis=1)
    cum = np.concatenate(([0], np.cumsum(totals)))
    first_block = np.concatenate(([0], np.cumsum(blocks)))
    ones = cum[first_block[1:]] - cum[first_block[:-1]]
    bad[p0:p1] |= ones != t._p_ones[p0:p1]
    # §5.4.4: ones before the block within its partition, and the first three sub-block counts
    before = cum[:-1] - cum[first_block[:-1]][part - p0]
    expect = (
        before.astype(np.uint64)
        | (counts[:, 0].astype(np.uint64) << np.uint64(32))
        | (counts[:, 1].astype(np.uint64) << np.uint64(42))
        | (counts[:, 2].astype(np.uint64) << np.uint64(52))
    )
    stored = t._rank[w0 // L.RANK_BLOCK_WORDS : w0 // L.RANK_BLOCK_WORDS + nblocks]
    bad[part[stored != expect]] = True


def _check_partition(t, p: int) -> None:
    """§10.2.3 checks of one partition, in order (raises the first failure)."""
    from .table import _fail

    wb = int(t._p_word_base[p])
    ls, lc = int(t._p_level_start[p]), int(t._p_level_count[p])
    used = int(t._level_bits[ls : ls + lc].sum()) // 64
    words = t._bitmap[wb : wb + (-(-used // L.RANK_BLOCK_WORDS) * L.RANK_BLOCK_WORDS)]
    if words[used:].any():
        _fail("E_PADDING", f"table {t.name!r}: partition {p} has bits set in its padding words")
    ones = int(np.bitwise_count(words).sum(dtype=np.int64))
    if ones != int(t._p_ones[p]):
        _fail("E_MPH", f"table {t.name!r}: partition {p} bitmap has {ones} ones, expected {int(t._p_ones[p])}")
    if words.size:
        expect = rank_entries(np.ascontiguousarray(words))
        stored = t._rank[wb // L.RANK_BLOCK_WORDS : wb // L.RANK_BLOCK_WORDS + expect.size]
        bad = np.flatnonzero(stored != expect)
        if bad.size:
            _fail("E_RANK", f"table {t.name!r}: partition {p} rank entry {int(bad[0])} disagrees with the bitmap")
    fs, fc = int(t._p_fb_start[p]), int(t._p_fb_count[p])
    fb = t._fallback[fs : fs + fc]
    if fc:
        h1, h2 = fb["h1"], fb["h2"]
        ascending = (h1[1:] > h1[:-1]) | ((h1[1:] == h1[:-1]) & (h2[1:] > h2[:-1]))
        if not ascending.all():
            _fail("E_FALLBACK", f"table {t.name!r}: partition {p} fallback hashes are not strictly ascending")
        if t.num_partitions > 1 and (partition_of_np(h2, t.num_partitions) != p).any():
            _fail("E_FALLBACK", f"table {t.name!r}: a fallback hash of partition {p} belongs to another partition")


def _check_compact(t) -> None:
    """v1.2 §6: the compact layout's checks, in order, each in passes of _CHUNK rows."""
    from .compact import row_starts
    from .table import _fail

    n, k, l, h = t.num_keys, t._block_log2, t._low_bits, t._high_zeros
    prev = 0
    for lo in range(0, n + 1, _CHUNK):  # row_index(s) non-decreasing over [0, n]
        ri = row_starts(t, np.arange(lo, min(n + 1, lo + _CHUNK)))
        if ri.size and (ri[0] < prev or (np.diff(ri) < 0).any()):
            _fail("E_SPARSE", f"table {t.name!r}: the row index decreases")
        prev = int(ri[-1]) if ri.size else prev
    if (t._deltas[:: 1 << k] != 0).any():  # a block's first delta is 0 (the base is its row's start)
        _fail("E_SPARSE", f"table {t.name!r}: the delta of a block's first row is not 0")
    for arr, used in ((t._low, t.nnz * l), (t._high, t.nnz + n * h)):
        if arr.size and used % 8 and int(arr[-1]) >> (used % 8):
            _fail("E_PADDING", f"table {t.name!r}: padding bits after the last bit of COLUMN_LOW or COLUMN_HIGH are not 0")
    for lo in range(0, n, _CHUNK // 8 or 1):
        hi = min(n, lo + (_CHUNK // 8 or 1))
        ri = row_starts(t, np.arange(lo, hi + 1))
        a, b = int(ri[0]), int(ri[-1])
        r0, r1 = a + lo * h, b + hi * h
        bits = np.unpackbits(t._high[r0 >> 3 : (r1 + 7) >> 3], bitorder="little")[r0 & 7 : (r0 & 7) + (r1 - r0)]
        ones = np.flatnonzero(bits) + r0
        # the i-th one bit of these rows must lie in the region of value i's row
        row = np.repeat(np.arange(lo, hi, dtype=np.int64), np.diff(ri))
        if ones.size != b - a or ((ones < ri[row - lo] + row * h) | (ones >= ri[row - lo + 1] + (row + 1) * h)).any():
            _fail("E_SPARSE", f"table {t.name!r}: a row's COLUMN_HIGH region does not hold one bit per stored value")
        cols = (ones - np.arange(a, b) - row * h) << l
        if l and b > a:
            lb = np.unpackbits(t._low[(a * l) >> 3 : (b * l + 7) >> 3], bitorder="little")[(a * l) & 7 : ((a * l) & 7) + (b - a) * l]
            cols |= lb.reshape(b - a, l).astype(np.int64) @ (np.int64(1) << np.arange(l, dtype=np.int64))
        if cols.size and int(cols.max()) >= t.dim:
            _fail("E_SPARSE", f"table {t.name!r}: a column index is >= dim {t.dim}")
        step_ok = np.diff(cols) > 0
        step_ok[(ri[1:-1] - a - 1)[(ri[1:-1] > a) & (ri[1:-1] < b)]] = True  # steps across a row start
        if not step_ok.all():
            _fail("E_SPARSE", f"table {t.name!r}: columns are not strictly ascending within a row")


def _check_sparse(t) -> None:
    """§9.2 sparse index checks, in order, each in chunks (temporaries of _CHUNK elements)."""
    from .table import _fail

    ri, cols = t._row_index, t._columns
    for lo in range(0, ri.size - 1, _CHUNK):
        part = ri[lo : lo + _CHUNK + 1].astype(np.int64)
        if (np.diff(part) < 0).any():
            _fail("E_SPARSE", f"table {t.name!r}: the row index decreases")
    for lo in range(0, cols.size, _CHUNK):
        if int(cols[lo : lo + _CHUNK].max()) >= t.dim:
            _fail("E_SPARSE", f"table {t.name!r}: a column index is >= dim {t.dim}")
    # columns strictly ascending within a row: a step j-1 -> j may fall only where a row starts
    starts = ri[1:-1]
    for lo in range(1, cols.size, _CHUNK):
        hi = min(cols.size, lo + _CHUNK)
        c = cols[lo - 1 : hi].astype(np.int64)
        step_ok = np.diff(c) > 0  # step_ok[i]: pair (lo + i - 1, lo + i)
        if step_ok.all():
            continue
        # row starts in [lo, hi): the row index is ascending (checked above), so a search finds them
        a, b = np.searchsorted(starts, [lo, hi])
        s = starts[a:b].astype(np.int64)
        step_ok[s - lo] = True
        if not step_ok.all():
            _fail("E_SPARSE", f"table {t.name!r}: columns are not strictly ascending within a row")
