"""Tables of any MPH shape the spec allows, including the ones phq's writer never makes.

phq's writer (spec §13.2) sizes every level from the keys still unplaced, stops when a
partition runs out of keys or reaches `max_levels`, and gives every partition the same level
budget. The format is wider than that (§5.5, §7): a reader MUST answer for any file whose
structures satisfy §5.5 and the lookup of §7.2, for example

- a partition with zero levels whose keys all sit in its fallback list, beside partitions
  that have levels (the shape that made the pure-Python batch lookup lose keys);
- levels of any size in [1, 2^26 - 1] words, in any number 0..64, also levels that place no
  key at all (every key collides there) and levels after a partition has run out of keys;
- a lone key left unplaced at a level (its position bit stays 0, so the key goes on to the
  next level or to the fallback list);
- many partitions, most of them empty, with or without levels;
- sparse rows with index and column widths wider than needed (§9.2: readers MUST accept
  any defined width that can address the data).

`build(tables, metadata)` assembles a file from `TableShape`s and returns its bytes and,
for every table, the slot of every key (the truth a reader must reproduce). The MPH is
built here, independently of `phq.writer.mph`; quantization, sparse payloads and the file
layout reuse the writer's (they are not what this module varies). Test tooling: used by
tests/test_shapes.py and by the conformance generator (`y_shape_*` golden files).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from phq import layout as L
from phq.hashing import fingerprint_of_np, fmix64_np, hash_keys, level_position_np, partition_of_np
from phq.rank import rank_entries
from phq.writer import quant as Q
from phq.writer.build import QUANTS, SCALES
from phq.writer.serialize import SectionOut, to_bytes


@dataclass
class TableShape:
    keys: list  # distinct bytes keys
    rows: np.ndarray  # float32 (n, dim), rows[i] is keys[i]'s
    levels: list  # per partition: a list of level sizes in words (0..64 levels of 1..2^26-1 words)
    seed: int = 0
    place: int = 1000  # per mille of the lone keys of a level that are placed (the writer: all)
    fingerprint_bits: int = 16
    quant: str = "linear8"
    scale: str = "column"  # table, column or row-block (linear); table or column (codebook)
    block_rows: int = 4
    layout: str = "dense"  # dense or sparse
    index_width: int = 0  # sparse: 4 or 8 (0: the smallest that fits)
    column_width: int = 0  # sparse: 1, 2 or 4 (0: the smallest that fits)
    gamma_milli: int = 1000  # informational only (§5.4)


@dataclass
class BuiltTable:
    sections: list
    slots: dict = field(default_factory=dict)  # key -> slot
    partitions: np.ndarray = None  # PARTITION_DTYPE records, for the test's bookkeeping


def _placed(h1: np.ndarray, level: int, place: int) -> np.ndarray:
    """Which lone keys a level places: all of them (place = 1000), none (0), or a fixed
    pseudo-random share of them (a function of the digest and the level: deterministic)."""
    if place >= 1000:
        return np.ones(h1.size, bool)
    if place <= 0:
        return np.zeros(h1.size, bool)
    with np.errstate(over="ignore"):
        g = fmix64_np(h1 ^ np.uint64((0x9E3779B97F4A7C15 * (level + 1)) & ((1 << 64) - 1)))
    return (g % np.uint64(1000)) < np.uint64(place)


def build_mph(h1: np.ndarray, h2: np.ndarray, levels: list, place: int = 1000):
    """(records, level_words, bitmap, rank, fallback, order) of an MPH with the given
    per-partition level sizes; order[slot] = index of the key owning the slot."""
    P = len(levels)
    if not 1 <= P <= L.MAX_PARTITIONS:
        raise ValueError(f"{P} partitions")
    part = partition_of_np(h2, P).astype(np.intp) if P > 1 else np.zeros(h1.size, np.intp)
    records = np.zeros(P, dtype=L.PARTITION_DTYPE)
    all_words, all_bitmap, all_rank, all_fb, order = [], [], [], [], []
    for p in range(P):
        sizes = [int(w) for w in levels[p]]
        if len(sizes) > L.MAX_LEVELS or any(not 1 <= w <= L.MAX_LEVEL_WORDS for w in sizes):
            raise ValueError(f"partition {p}: level sizes {sizes} are outside the spec's limits")
        rem = np.flatnonzero(part == p)  # input order
        size = rem.size
        total_words = sum(sizes)
        bits = np.zeros(64 * total_words, bool)
        base = 0
        for i, words in enumerate(sizes):
            m = 64 * words
            if rem.size:
                pos = level_position_np(h1[rem], h2[rem], i, m).astype(np.int64)
                lone = np.bincount(pos, minlength=m)[pos] == 1
                put = lone & _placed(h1[rem], i, place)
                at = np.flatnonzero(put)
                at = at[np.argsort(pos[at], kind="stable")]  # slots in bit order (§7.3 rank)
                bits[base + pos[at]] = True
                order.append(rem[at])
                rem = rem[~put]
            base += m
        if rem.size:  # §7.4: what no level placed, ascending by (h1, h2)
            rem = rem[np.lexsort((h2[rem], h1[rem]))]
            if ((h1[rem][1:] == h1[rem][:-1]) & (h2[rem][1:] == h2[rem][:-1])).any():
                raise ValueError("two keys with one 128-bit digest")
            order.append(rem)
        fb = np.empty(rem.size, dtype=L.FALLBACK_DTYPE)
        fb["h1"], fb["h2"] = h1[rem], h2[rem]
        all_fb.append(fb)
        words = np.packbits(bits, bitorder="little").view(L.WORD_DTYPE) if bits.size else np.zeros(0, L.WORD_DTYPE)
        words = np.concatenate((words, np.zeros((-words.size) % L.RANK_BLOCK_WORDS, L.WORD_DTYPE)))
        all_bitmap.append(words)
        all_rank.append(rank_entries(words))
        all_words.append(np.asarray(sizes, dtype=L.LEVEL_DTYPE))
        records[p] = (size, rem.size, len(sizes), 0)

    def cat(parts, dtype):
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)

    order = cat(order, np.int64)
    assert order.size == h1.size
    return records, cat(all_words, L.LEVEL_DTYPE), cat(all_bitmap, L.WORD_DTYPE), cat(all_rank, L.WORD_DTYPE), cat(all_fb, L.FALLBACK_DTYPE), order


def table_sections(name: str, shape: TableShape, owner: int) -> BuiltTable:
    keys = list(shape.keys)
    n = len(keys)
    rows = np.asarray(shape.rows, np.float32)
    if rows.ndim != 2 or rows.shape[0] != n:
        raise ValueError(f"rows must be ({n}, dim), got {rows.shape}")
    dim = rows.shape[1]
    hashes = hash_keys(keys, shape.seed) if n else np.zeros((0, 2), np.uint64)
    h1, h2 = np.ascontiguousarray(hashes[:, 0]), np.ascontiguousarray(hashes[:, 1])
    records, level_words, bitmap, rank, fallback, order = build_mph(h1, h2, shape.levels, shape.place)
    quant = QUANTS[shape.quant]
    granularity = L.SCALE_NONE if quant in (L.QUANT_F32, L.QUANT_F16) else SCALES[shape.scale]
    q = Q.quantize(rows[order], quant, granularity, shape.block_rows)
    fpb = shape.fingerprint_bits
    fps = fingerprint_of_np(h2[order], fpb).astype(L.FINGERPRINT_DTYPES[fpb]) if fpb else np.zeros(0, np.uint8)
    sparse = Q.to_sparse(q) if shape.layout == "sparse" else None
    if sparse is not None:
        iw = shape.index_width or sparse.row_index.dtype.itemsize
        cw = shape.column_width or sparse.columns.dtype.itemsize
        if iw < sparse.row_index.dtype.itemsize or cw < sparse.columns.dtype.itemsize:
            raise ValueError("index or column width too narrow for the data")
        sparse = Q.Sparse(sparse.row_index.astype(L.INDEX_DTYPES[iw]), sparse.columns.astype(L.COLUMN_DTYPES[cw]), sparse.values)
    name_bytes = name.encode()
    descriptor = dict(
        num_keys=n, dim=dim, seed=shape.seed, num_partitions=len(shape.levels), gamma_milli=shape.gamma_milli,
        nnz=sparse.values.size if sparse is not None else n * dim, hash_scheme=L.HASH_MURMUR3_128, quant=quant,
        layout=L.LAYOUT_SPARSE if sparse is not None else L.LAYOUT_DENSE, fingerprint_bits=fpb,
        scale_granularity=granularity,
        index_width=sparse.row_index.dtype.itemsize if sparse is not None else 0,
        column_width=sparse.columns.dtype.itemsize if sparse is not None else 0, reserved0=0,
        scale_block_rows=shape.block_rows if granularity == L.SCALE_ROW_BLOCK else 0,
        name_len=len(name_bytes), reserved1=0, reserved2=0, reserved3=0,
    )
    part = lambda kind, *bufs: SectionOut(kind, owner=owner, buffers=list(bufs))  # noqa: E731
    stored = Q.pack_nibbles if L.QUANT_CODE_BITS[quant] == 4 else (lambda codes: codes)
    out = [
        SectionOut(L.KIND_TABLE, buffers=[L.TABLE_DESCRIPTOR.build(descriptor), name_bytes], features=L.quant_feature(quant)),
        part(L.KIND_MPH_PARTITIONS, records), part(L.KIND_MPH_LEVELS, level_words), part(L.KIND_MPH_BITMAP, bitmap),
        part(L.KIND_MPH_RANK, rank), part(L.KIND_MPH_FALLBACK, fallback), part(L.KIND_FINGERPRINTS, fps),
        part(L.KIND_SCALES, q.scales),
    ]
    if q.levels is not None:
        out.append(part(L.KIND_CODEBOOK, np.ascontiguousarray(q.levels, dtype="<f4")))
    if sparse is None:
        out.append(part(L.KIND_ROWS, stored(q.codes)))
    else:
        out += [part(L.KIND_ROWS, stored(sparse.values)), part(L.KIND_ROW_INDEX, sparse.row_index), part(L.KIND_COLUMNS, sparse.columns)]
    slots = {keys[int(i)]: s for s, i in enumerate(order)}
    return BuiltTable(out, slots, records)


def build(tables: dict, metadata: dict | None = None) -> tuple[bytes, dict]:
    """(file bytes, {table name: {key: slot}}) of a model holding the given TableShapes."""
    import json

    sections: list[SectionOut] = []
    if metadata is not None:
        text = json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        sections.append(SectionOut(L.KIND_META, buffers=[text]))
    truth = {}
    for name, shape in tables.items():
        built = table_sections(name, shape, owner=len(sections))
        sections += built.sections
        truth[name] = built.slots
    return to_bytes(sections), truth
