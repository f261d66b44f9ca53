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
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                raise FormatError("E_VALUE", f"tensor {name!r} holds NaN or infinity")
        for table in model.tables.values():
            _check_table(table)
    except BaseException:
        model.close()
        raise
    return model


def _check_table(t) -> None:
    """§10.2.3: rank blocks, padding, fallback order, sparse index, float values."""
    from .table import _fail

    for p in range(t.num_partitions):
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
    if t._sparse:
        ri = t._row_index.astype(np.int64)
        if (np.diff(ri) < 0).any():
            _fail("E_SPARSE", f"table {t.name!r}: the row index decreases")
        cols = t._columns.astype(np.int64)
        if cols.size and int(cols.max()) >= t.dim:
            _fail("E_SPARSE", f"table {t.name!r}: a column index is >= dim {t.dim}")
        step_ok = np.diff(cols) > 0
        starts = ri[1:-1]
        starts = starts[(starts > 0) & (starts < cols.size)]
        step_ok[starts - 1] = True  # a new row may start at any column
        if not step_ok.all():
            _fail("E_SPARSE", f"table {t.name!r}: columns are not strictly ascending within a row")
        values = t._values
    else:
        values = t._rows
    if values.dtype.kind == "f" and not np.isfinite(values).all():
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
