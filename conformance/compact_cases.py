"""Golden files of format 1.2 (spec/format-v1.2.md): the compact sparse layout.

Valid files cover every scheme, the writer's own choices, and the edge cases of the
encoding that the writer's choices rarely reach (forced through `writer.compact.to_compact`'s
parameters): an empty table, one key, rows all stored, no value stored, a table that ends
on a block boundary, the largest 1- and 2-byte deltas, the largest block, 4-byte deltas,
8-byte bases, no low bits and 24 low bits. Invalid files carry one defect each, one per
check of v1.2 §6, with the code that check reports.
"""

from __future__ import annotations

import struct

import numpy as np

from phq import layout as L
from phq.writer.build import Table
from phq.writer.compact import to_compact
from phq.writer.quant import Sparse
from phq.writer.serialize import SectionOut, to_bytes

from .generate import Case, keys_for, probes_for, rows_for, sections_of
from .surgery import TABLE_FIELDS, PhqBytes


def compact_sections(keys, rows, *, table="t", index_width=None, delta_width=None, row_block_log2=None, low_bits=None, **options):
    """The sections of a one-table model whose table is compact: built as a 1.0 sparse table,
    then its ROW_INDEX and COLUMNS re-encoded (with forced parameters when given)."""
    secs = sections_of({table: Table(keys, rows, layout="sparse", **options)})
    ti = next(i for i, x in enumerate(secs) if x.kind == L.KIND_TABLE)
    ri_i = next(i for i, x in enumerate(secs) if x.kind == L.KIND_ROW_INDEX)
    d = dict(L.TABLE_DESCRIPTOR.parse(bytes(secs[ti].buffers[0])))
    d.pop("_io", None)
    ri = np.asarray(secs[ri_i].buffers[0])
    cols = np.asarray(secs[ri_i + 1].buffers[0])
    c = to_compact(Sparse(ri, cols, None), d["num_keys"], d["dim"], index_width=index_width, delta_width=delta_width,
                   row_block_log2=row_block_log2, low_bits=low_bits)
    d.update(layout=L.LAYOUT_COMPACT, index_width=c.index_width, column_width=0, reserved0=c.delta_width,
             reserved1=c.row_block_log2 | c.column_low_bits << 8)
    head = SectionOut(L.KIND_TABLE, buffers=[L.TABLE_DESCRIPTOR.build(d), secs[ti].buffers[1]],
                      features=secs[ti].features | L.FEATURE_COMPACT_SPARSE)
    owner = secs[ri_i].owner
    parts = [SectionOut(k, owner=owner, buffers=[a]) for k, a in
             ((L.KIND_ROW_BASES, c.bases), (L.KIND_ROW_DELTAS, c.deltas), (L.KIND_COLUMN_LOW, c.low), (L.KIND_COLUMN_HIGH, c.high))]
    return secs[:ti] + [head] + secs[ti + 1 : ri_i] + parts + secs[ri_i + 2 :]


def compact_case(name, tests, spec="v1.2 §4", n=40, dim=12, rows=None, rows_seed=31, zeros=0.6, keys=None, steps=255, probe_limit=24, **params):
    keys = keys if keys is not None else keys_for(n)
    rows = rows if rows is not None else rows_for(len(keys), dim, rows_seed, zeros)
    data = to_bytes(compact_sections(keys, rows, **params))
    return Case(name, data, tests, spec, probes=probes_for("t", keys, probe_limit), inputs={"t": dict(zip(keys, rows))}, steps=steps)


def dense_rows(n: int, length: int, dim: int, seed: int) -> np.ndarray:
    """n rows of `length` non-zero values each (in the first columns), the others zero."""
    rng = np.random.default_rng(seed)
    rows = np.zeros((n, dim), np.float32)
    rows[:, :length] = np.round(rng.uniform(0.5, 2.0, size=(n, length)), 3) * rng.choice([-1, 1], size=(n, length))
    return rows


def valid_cases_v12() -> list[Case]:
    c: list[Case] = []
    for quant in ("f32", "f16", "linear8", "linear4", "codebook4", "codebook8"):
        steps = {"linear4": 15, "codebook4": 0, "codebook8": 0}.get(quant, 255)
        c.append(compact_case(f"compact_{quant}", f"a {quant} table in the compact layout, parameters the writer's choice", "v1.2 §3-§5",
                              quant=quant, scale="column" if quant != "f32" and quant != "f16" else "column", steps=steps))
    c.append(compact_case("compact_row_block_scales", "linear8 row-block scales (groups of slots) with a compact index", n=60,
                          scale="row-block", block_rows=8))
    c.append(compact_case("compact_wide", "dim 300 (columns past one byte) with the writer's choice of l", n=60, dim=300, zeros=0.97, probe_limit=6))
    c.append(compact_case("compact_empty_table", "n = 0: one base, one delta, empty columns", "v1.2 §4, §14", n=0,
                          keys=[], rows=np.zeros((0, 5), np.float32)))
    one = compact_case("compact_one_key", "one key: bases [0], deltas [0, k]", "v1.2 §4", n=1)
    c.append(one)
    c.append(compact_case("compact_all_stored", "every value stored (no zero): each region is k ones then H zeros", n=30, dim=10, zeros=0.0))
    c.append(compact_case("compact_nothing_stored", "every row empty: nnz 0, COLUMN_HIGH is n H zero bits", n=30, dim=10,
                          rows=np.zeros((30, 10), np.float32)))
    c.append(compact_case("compact_block_boundary", "n = 64 = 8 blocks of 8 rows: the last base is row_index(64) = nnz", n=64,
                          row_block_log2=3))
    c.append(compact_case("compact_block_boundary_plus_one", "n = 65 with blocks of 8 rows: the last block holds one row (and row n)", n=65,
                          row_block_log2=3))
    c.append(compact_case("compact_max_delta_u8", "rows of 85 values, blocks of 4 rows: deltas 0, 85, 170, 255 (the largest 1-byte delta)",
                          n=12, dim=100, rows=dense_rows(12, 85, 100, 32), row_block_log2=2, delta_width=1))
    c.append(compact_case("compact_max_delta_u16", "rows of 4369 values, blocks of 16 rows: the last delta of a block is 65535", n=17,
                          dim=4400, rows=dense_rows(17, 4369, 4400, 33), row_block_log2=4, delta_width=2, quant="linear4", steps=15, probe_limit=2))
    c.append(compact_case("compact_one_big_block", "row_block_log2 15: one base for the whole table", n=50, row_block_log2=15, delta_width=4))
    c.append(compact_case("compact_delta_width_4", "4-byte deltas", n=40, row_block_log2=2, delta_width=4))
    c.append(compact_case("compact_bases_u64", "8-byte bases", n=40, index_width=8))
    c.append(compact_case("compact_low_bits_0", "l = 0: a column is all high part (H = dim zero bits a row)", n=40, low_bits=0))
    c.append(compact_case("compact_low_bits_24", "l = 24: H = 1, every column in COLUMN_LOW", n=40, low_bits=24))
    c.append(compact_case("compact_row_block_0", "row_block_log2 0: a base per row, every delta 0", n=40, row_block_log2=0, delta_width=1))
    # a 1.2 file with a compact table beside a 1.0 sparse table and a linear4 dense one: three feature bits
    k3, r3 = keys_for(40), rows_for(40, 6, 34, 0.7)
    secs = compact_sections(k3, r3, table="c")
    more = sections_of({"p": Table(k3, r3, layout="sparse"), "q": Table(k3, r3, quant="linear4", layout="dense")})
    first_table = next(i for i, x in enumerate(more) if x.kind == L.KIND_TABLE)
    shift = len(secs)
    more = [SectionOut(x.kind, owner=x.owner + shift if x.owner != L.NO_OWNER else x.owner, flags=x.flags, buffers=x.buffers, features=x.features)
            for x in more[first_table:]]
    c.append(Case("compact_beside_plain_sparse", to_bytes(secs + more), "a compact table, a 1.0 sparse table and a linear4 table in one file",
                  "v1.2 §1", probes=probes_for("c", k3, 6) + probes_for("p", k3, 6) + probes_for("q", k3, 6),
                  inputs={"c": dict(zip(k3, r3)), "p": dict(zip(k3, r3))}))
    return c


def invalid_cases_v12() -> list[Case]:
    c: list[Case] = []

    def bad(name, data, code, tests, spec):
        c.append(Case(name, data if isinstance(data, bytes) else data.bytes(), tests, spec, outcome=code))

    n, dim, l = 40, 12, 2
    keys = keys_for(n)
    rows = rows_for(n, dim, 41, 0.6)
    opts = dict(scale="table")
    secs = compact_sections(keys, rows, row_block_log2=3, delta_width=1, low_bits=l, **opts)
    good = to_bytes(secs)
    plain = to_bytes(sections_of({"t": Table(keys, rows, layout="sparse", **opts)}))
    P = PhqBytes
    i_t = P(good).find(L.KIND_TABLE)
    i_b, i_d, i_lo, i_hi = (P(good).find(k) for k in (L.KIND_ROW_BASES, L.KIND_ROW_DELTAS, L.KIND_COLUMN_LOW, L.KIND_COLUMN_HIGH))
    at = lambda i: P(good).section_offset(i)  # noqa: E731
    size = lambda i: P(good).entry(i).size  # noqa: E731
    pi = P(plain).find(L.KIND_ROW_INDEX)
    ri = np.frombuffer(plain, "<u4", n + 1, P(plain).section_offset(pi)).astype(np.int64)
    cols = np.frombuffer(plain, "u1", int(ri[-1]), P(plain).section_offset(pi + 1)).astype(np.int64)
    nnz = int(ri[-1])
    tf = TABLE_FIELDS
    bad("compact_without_feature_bit", P(good).set_header("required_features", 0).set_header("minor", 0).fix(), "E_RESERVED",
        "the COMPACT_SPARSE bit cleared: delta_width, row_block_log2 and column_low_bits are reserved bytes again", "v1.2 §1, §3")
    bad("layout_2_without_feature_bit", P(good).set_header("required_features", 0).set_header("minor", 0)
        .set_in_section(i_t, tf, "reserved0", 0).set_in_section(i_t, tf, "reserved1", 0).fix((i_t,)), "E_ENUM",
        "layout 2 in a file that does not set COMPACT_SPARSE (its fields zero)", "v1.2 §1, §3")
    pt = P(plain).find(L.KIND_TABLE)
    bad("plain_sparse_with_delta_width", P(plain).set_header("required_features", L.FEATURE_COMPACT_SPARSE).set_header("minor", 2)
        .set_in_section(pt, tf, "reserved0", 1).fix((pt,)), "E_ENUM", "a 1.0 sparse table with delta_width 1 in a 1.2 file", "v1.2 §3")
    bad("compact_delta_width_3", P(good).set_in_section(i_t, tf, "reserved0", 3).fix((i_t,)), "E_ENUM", "delta_width 3", "v1.2 §3")
    bad("compact_row_block_log2_16", P(good).set_in_section(i_t, tf, "reserved1", 16 | l << 8).fix((i_t,)), "E_ENUM", "row_block_log2 16", "v1.2 §3")
    bad("compact_column_low_bits_25", P(good).set_in_section(i_t, tf, "reserved1", 3 | 25 << 8).fix((i_t,)), "E_ENUM", "column_low_bits 25", "v1.2 §3")
    bad("compact_column_width_1", P(good).set_in_section(i_t, tf, "column_width", 1).fix((i_t,)), "E_ENUM", "a compact table with column_width 1", "v1.2 §3")
    bad("compact_index_width_2", P(good).set_in_section(i_t, tf, "index_width", 2).fix((i_t,)), "E_ENUM", "a compact table with index_width 2", "v1.2 §3")
    # sizes: the block size, the delta width, l and dim come from the descriptor and size the parts
    bad("compact_row_bases_size", P(good).set_in_section(i_t, tf, "reserved1", 2 | l << 8).fix((i_t,)), "E_SECTION_SIZE",
        "row_block_log2 2 (blocks of 4 rows): ROW_BASES holds 6 entries, 11 needed", "v1.2 §4.1")
    bad("compact_row_deltas_size", P(good).set_in_section(i_t, tf, "reserved0", 2).fix((i_t,)), "E_SECTION_SIZE",
        "delta_width 2: ROW_DELTAS holds 41 bytes, 82 needed", "v1.2 §4.2")
    bad("compact_column_low_size", P(good).set_in_section(i_t, tf, "reserved1", 3 | 3 << 8).fix((i_t,)), "E_SECTION_SIZE",
        "column_low_bits 3: COLUMN_LOW holds nnz x 2 bits, nnz x 3 needed", "v1.2 §4.3")
    bad("compact_column_high_size", P(good).set_in_section(i_t, tf, "dim", 13).fix((i_t,)), "E_SECTION_SIZE",
        "dim 13 (H = 4, not 3): COLUMN_HIGH too short", "v1.2 §4.4")
    moved = list(secs)
    j = next(i for i, x in enumerate(moved) if x.kind == L.KIND_ROW_DELTAS)
    moved.insert(j - 1, moved.pop(j))
    bad("compact_parts_out_of_order", to_bytes(moved), "E_SECTION_ORDER", "ROW_DELTAS before ROW_BASES", "v1.2 §2")
    bad("compact_column_low_missing", to_bytes([x for x in secs if x.kind != L.KIND_COLUMN_LOW]), "E_SECTION_ORDER", "no COLUMN_LOW part", "v1.2 §2")
    extra = list(secs)
    k = next(i for i, x in enumerate(extra) if x.kind == L.KIND_COLUMN_HIGH)
    extra.insert(k + 1, SectionOut(L.KIND_COLUMNS, owner=extra[k].owner, buffers=[b""]))
    bad("compact_with_columns_part", to_bytes(extra), "E_SECTION_ORDER", "a compact table with a 1.0 COLUMNS part too", "v1.2 §2")
    bad("compact_part_ancillary", P(good).set_entry(i_hi, "flags", L.FLAG_ANCILLARY).fix(), "E_RESERVED", "COLUMN_HIGH flagged ancillary", "v1.2 §2")
    deltas = np.frombuffer(good, np.uint8, size(i_d), at(i_d)).astype(int)
    bases = np.frombuffer(good, "<u4", size(i_b) // 4, at(i_b)).astype(int)
    bad("compact_row_index_first", P(good).patch(at(i_d), bytes([1])).fix((i_d,)), "E_SPARSE", "row_index(0) = 1", "v1.2 §4.2, §6")
    bad("compact_row_index_last", P(good).patch(at(i_d) + n, bytes([deltas[n] + 1])).fix((i_d,)), "E_SPARSE",
        "row_index(n) = nnz + 1", "v1.2 §4.2, §6")
    s = next(i for i in range(1, n - 1) if i % 8 not in (0, 7) and deltas[i + 1] > deltas[i])
    bad("compact_row_index_decreasing", P(good).patch(at(i_d) + s, bytes([deltas[s + 1] + 1])).fix((i_d,)), "E_SPARSE",
        f"row_index({s}) > row_index({s + 1})", "v1.2 §6")
    bad("compact_block_first_delta", P(good).patch(at(i_b) + 4, struct.pack("<I", bases[1] - 1))
        .patch(at(i_d) + 8, bytes(int(x) + 1 for x in deltas[8:16])).fix((i_b, i_d)), "E_SPARSE",
        "block 1: base one less and every delta one more (the same row indexes), its first delta 1 instead of 0", "v1.2 §4.2, §6")
    bad("compact_base_past_nnz", P(good).patch(at(i_b) + 4, struct.pack("<I", 0xFFFFFF00)).fix((i_b,)), "E_SPARSE",
        "ROW_BASES[1] = 2^32 - 256: the rows of block 1 start past nnz", "v1.2 §4.2, §6")
    hb = np.frombuffer(good, np.uint8, size(i_hi), at(i_hi))
    hi_bits = np.unpackbits(hb, bitorder="little")
    ones = np.flatnonzero(hi_bits)
    assert ones.size == nnz
    bad("compact_high_one_removed", P(good).xor(at(i_hi) + int(ones[0]) // 8, 1 << (int(ones[0]) % 8)).fix((i_hi,)), "E_SPARSE",
        "the first value's one bit cleared: its region holds one bit fewer than values", "v1.2 §4.4, §6")
    z = int(np.flatnonzero(hi_bits[: int(ones[-1])] == 0)[0])
    bad("compact_high_one_added", P(good).xor(at(i_hi) + z // 8, 1 << (z % 8)).fix((i_hi,)), "E_SPARSE",
        "a zero bit of a region set: one bit more than values", "v1.2 §4.4, §6")
    h = L.compact_high_bits(dim, l)
    assert (nnz + n * h) % 8 and (nnz * l) % 8, "the padding cases need partial last bytes"
    bad("compact_high_padding", P(good).xor(at(i_hi) + size(i_hi) - 1, 0x80).fix((i_hi,)), "E_PADDING",
        "the last padding bit of COLUMN_HIGH set", "v1.2 §4.4, §6")
    bad("compact_low_padding", P(good).xor(at(i_lo) + size(i_lo) - 1, 0x80).fix((i_lo,)), "E_PADDING",
        "the last padding bit of COLUMN_LOW set", "v1.2 §4.3, §6")
    assert int(cols.max()) == dim - 1
    bad("compact_column_past_dim", P(good).set_in_section(i_t, tf, "dim", dim - 1).fix((i_t,)), "E_SPARSE",
        f"dim {dim - 1} (H still {h}): a stored column {dim - 1} is past the table", "v1.2 §6")
    # two values of one row with the same high part: their low parts swapped (columns descending)
    row = np.repeat(np.arange(n), np.diff(ri))
    i = next(i for i in range(nnz - 1) if row[i] == row[i + 1] and cols[i] >> l == cols[i + 1] >> l)
    low = bytearray(np.frombuffer(good, np.uint8, size(i_lo), at(i_lo)).tobytes())
    bits = np.unpackbits(np.frombuffer(bytes(low), np.uint8), bitorder="little")
    bits[i * l : (i + 2) * l] = np.concatenate([bits[(i + 1) * l : (i + 2) * l], bits[i * l : (i + 1) * l]])
    bad("compact_columns_descending", P(good).patch(at(i_lo), np.packbits(bits, bitorder="little").tobytes()).fix((i_lo,)), "E_SPARSE",
        f"values {i} and {i + 1} of one row: low parts swapped, columns {cols[i + 1]} then {cols[i]}", "v1.2 §6")
    return c
