"""Regenerate every golden file of the conformance suite, deterministically.

    python -m phq.conformance.generate [--out DIR] [--check]

Valid files (y_) are built with phq's writer; invalid ones (n_) by targeted byte surgery
on valid ones, each with exactly one defect and the checksums that would hide it
repaired. Expected answers come from the reference reader and are cross-checked against
the writer's inputs (membership, values within half a quantization step) before they are
written. `--check` regenerates into a temporary folder and compares with the committed
files byte for byte (exit 1 on any difference).
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
import json
import shutil
import struct
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from phq import layout as L
from phq.writer.build import Options, Table, build_sections
from phq.writer.serialize import SectionOut, to_bytes

from .adapter import answer, parse_probes
from .surgery import PARTITION_FIELDS, TABLE_FIELDS, TENSOR_FIELDS, PhqBytes, insert_section

VERSIONS = ("1.0", "1.1", "1.2")  # one folder of golden files per format version; v1.0/ never changes
HERE = Path(__file__).resolve().parent


@dataclass
class Case:
    name: str  # without prefix or extension
    data: bytes
    tests: str
    spec: str
    outcome: str = "accept"  # or an error code
    probes: list = field(default_factory=list)  # (table name, key bytes)
    inputs: dict = field(default_factory=dict)  # table -> {key: row} for the cross-check
    steps: int = 255  # the cross-check's tolerance: half a step of (range / steps); 0: any value

    @property
    def prefix(self) -> str:
        return "y" if self.outcome == "accept" else "n"


# -- building blocks -----------------------------------------------------------------------
WORDS = [
    "play", "the beatles", "adele", "yesterday", "song", "album", "weather", "rain",
    "forecast", "sunny", "alarm", "wake", "seven", "navigate", "home", "traffic",
]
BIGRAMS = ["w=play|w+1=the", "w=the|w+1=beatles", "w=set|w+1=alarm", "w=will|w+1=it", "w=take|w+1=me"]
ABSENT = [b"w=zebra", b"w=play|w+1=a", b"not a feature", b"", b"\x00", b"PLAY"]


def keys_for(n: int) -> list[bytes]:
    base = [f"w={w}".encode() for w in WORDS] + [b.encode() for b in BIGRAMS]
    return (base + [b"f%d" % i for i in range(max(0, n - len(base)))])[:n]


def rows_for(n: int, dim: int, seed: int, zeros: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = np.round(rng.normal(0, 1.5, size=(n, dim)), 3).astype(np.float32)
    rows[rng.random((n, dim)) < zeros] = 0.0
    return rows


def sections_of(tables=None, tensors=None, metadata=None, **options) -> list[SectionOut]:
    return build_sections(tables or {}, tensors, metadata, Options(**options), None)


def model(tables=None, tensors=None, metadata=None, **options) -> bytes:
    return to_bytes(sections_of(tables, tensors, metadata, **options))


def probes_for(table: str, keys: list[bytes], limit: int = 24) -> list[tuple[str, bytes]]:
    step = max(1, len(keys) // limit)
    return [(table, k) for k in keys[::step][:limit]] + [(table, k) for k in ABSENT if k not in set(keys)]


def table_case(name, tests, spec, n=21, dim=3, rows_seed=1, zeros=0.5, table="t", keys=None, probe_limit=24, **options):
    keys = keys if keys is not None else keys_for(n)
    rows = rows_for(len(keys), dim, rows_seed, zeros)
    data = model({table: (keys, rows)}, **options)
    return Case(name, data, tests, spec, probes=probes_for(table, keys, probe_limit), inputs={table: dict(zip(keys, rows))})


# -- valid files ---------------------------------------------------------------------------
def valid_cases() -> list[Case]:
    c: list[Case] = []
    c.append(Case("empty_model", model(), "a model with no sections at all", "§2, §14"))
    c.append(Case("metadata_only", model(metadata={"labels": ["PlayMusic", "GetWeather"], "note": "café ☕ \u2028", "n": [1, 2.5, -3e-7, None, True]}),
                  "metadata JSON with non-ASCII text and every JSON type", "§5.2"))
    tensors = {
        "f32": np.array([1.5, -2.25, 0.0], np.float32), "f16": np.array([[1, 2], [3, 4]], np.float16),
        "f64": np.array([np.pi]), "i8": np.array([-128, 127], np.int8), "i16": np.array([-2], np.int16),
        "i32": np.arange(6, dtype=np.int32).reshape(1, 2, 3), "i64": np.array([-(2**62)], np.int64),
        "u8": np.array([255], np.uint8), "u16": np.array([65535], np.uint16), "u32": np.array([2**32 - 1], np.uint32),
        "u64": np.array([2**64 - 1], np.uint64), "scalar": np.float32(7.0), "empty": np.zeros((0, 3), np.float32),
    }
    c.append(Case("tensors_every_dtype", model(tensors=tensors), "TENSOR sections of every dtype, 0-d, 3-d and empty", "§5.3"))
    for quant, scale in [("f32", "column"), ("f16", "column"), ("linear8", "table"), ("linear8", "column"), ("linear8", "row-block")]:
        for layout in ("dense", "sparse"):
            label = quant if quant != "linear8" else f"linear8_{scale.replace('-', '')}"
            c.append(table_case(f"{label}_{layout}", f"{quant} weights, {scale} scales, {layout} rows", "§8, §9",
                                quant=quant, scale=scale, layout=layout, block_rows=4))
    for bits in (0, 8, 16, 32):
        c.append(table_case(f"fingerprint_{bits}", f"{bits}-bit fingerprints (absent keys {'may be found' if bits == 0 else 'absent'})", "§7.5",
                            fingerprint_bits=bits))
    for gamma in (0.5, 1.0, 5.0):
        c.append(table_case(f"gamma_{str(gamma).replace('.', '_')}", f"MPH built with gamma {gamma}", "§7, §13.2", n=200, gamma=gamma, probe_limit=12))
    c.append(table_case("partitions_3", "three MPH partitions", "§7.1", n=200, partitions=3, gamma=1.0, probe_limit=12))
    c.append(table_case("partitions_5_with_fallback", "five partitions, two levels each, then fallback lists", "§7.1, §7.4", n=300, partitions=5, max_levels=2, gamma=1.0, probe_limit=16))
    c.append(table_case("fallback_one_level", "one level, the colliding keys in the fallback list", "§7.4", n=50, max_levels=1, gamma=1.0))
    c.append(table_case("fallback_only", "no level at all: every key in the fallback list", "§7.4", n=20, max_levels=0))
    c.append(table_case("many_rank_blocks", "3000 keys: many rank blocks and sub-blocks", "§5.5.4, §7.3", n=3000, dim=1, gamma=1.0, probe_limit=60, zeros=0.0))
    c.append(table_case("empty_table", "a table with no keys", "§14", n=0))
    c.append(table_case("one_key", "a table with one key", "§14", n=1))
    c.append(table_case("dim0_keyset", "dim 0: a key set with fingerprints", "§14", dim=0))
    c.append(table_case("dim1", "dim 1", "§14", dim=1))
    c.append(table_case("dim300_sparse", "dim 300: 2-byte sparse column indices", "§9.2", n=12, dim=300, zeros=0.95, layout="sparse", quant="f16"))
    # one key only: every found answer spells out all 65537 columns
    c.append(table_case("dim65537_sparse", "dim 65537: 4-byte sparse column indices", "§9.2", n=1, dim=65537, zeros=0.9998, layout="sparse", scale="table"))
    neg = np.array([[-0.0, 1.0], [0.0, -0.0]], np.float32)
    c.append(Case("f32_negative_zero_dense", model({"t": ([b"a", b"b"], neg)}, quant="f32", layout="dense"),
                  "dense f32 keeps -0.0 bit for bit", "§14", probes=[("t", b"a"), ("t", b"b")], inputs={"t": {b"a": neg[0], b"b": neg[1]}}))
    unicode_keys = ["café".encode(), "日本語".encode(), "🎵 music".encode(), "w=naïve|w+1=ü".encode()]
    c.append(table_case("unicode_keys", "UTF-8 keys outside ASCII", "§6", keys=unicode_keys))
    binary_keys = [b"", b"\xff\xfe", b"\x00\x00", b"\xc3\x28", bytes(range(256))]
    c.append(table_case("non_utf8_keys", "byte keys that are not UTF-8, and the empty key", "§6, §14", keys=binary_keys))
    c.append(table_case("seed_max", "hash seed 2^32-1", "§6", seed=2**32 - 1))
    # a whole model: metadata, tensors, several tables with different options
    k1, k2, k3 = keys_for(21), [b"c=pl", b"c=la", b"c=ay"], keys_for(8)
    r1, r2, r3 = rows_for(21, 4, 7), rows_for(3, 4, 8), rows_for(8, 2, 9)
    from phq.writer import Table

    full = model(
        {"words": (k1, r1), "chars": Table(k2, r2, quant="f16", layout="sparse"), "tags": Table(k3, r3, quant="f32", fingerprint_bits=8)},
        tensors={"bias": np.array([0.1, -0.2, 0.3, 0.0], np.float32), "transitions": np.eye(3, dtype=np.float32)},
        metadata={"labels": ["a", "b", "c", "d"], "featurizer": {"ngram_range": [1, 2]}},
    )
    c.append(Case("full_model", full, "metadata, two tensors and three tables with different options", "§1, §13.1",
                  probes=probes_for("words", k1, 8) + probes_for("chars", k2) + probes_for("tags", k3, 4),
                  inputs={"words": dict(zip(k1, r1)), "chars": dict(zip(k2, r2)), "tags": dict(zip(k3, r3))}))
    # extension points
    base = table_case("base", "", "", n=21)
    secs = sections_of({"t": (keys_for(21), rows_for(21, 3, 1))})
    c.append(Case("unknown_ancillary_section", to_bytes(insert_section(secs, 0, SectionOut(0x7001, flags=L.FLAG_ANCILLARY, buffers=[b"private data"]))),
                  "an unknown ancillary top-level section is skipped", "§4.2", probes=base.probes, inputs=base.inputs))
    c.append(Case("unknown_ancillary_in_table", to_bytes(insert_section(secs, 4, SectionOut(0x7002, owner=0, flags=L.FLAG_ANCILLARY, buffers=[b"\x01" * 100]))),
                  "an unknown ancillary section inside a table group is skipped", "§4.2, §4.3", probes=base.probes, inputs=base.inputs))
    c.append(Case("future_minor_version", PhqBytes(base.data).set_header("minor", 7).fix().bytes(),
                  "minor version 7 with no feature bits: a 1.x reader reads it", "§3.2", probes=base.probes, inputs=base.inputs))
    c.append(Case("unknown_optional_feature", PhqBytes(base.data).set_header("optional_features", 1 << 40).fix().bytes(),
                  "an unknown optional feature bit is ignored", "§3.3", probes=base.probes, inputs=base.inputs))
    return c


# -- invalid files -------------------------------------------------------------------------
def invalid_cases() -> list[Case]:
    c: list[Case] = []

    def bad(name, data, code, tests, spec):
        c.append(Case(name, data if isinstance(data, bytes) else data.bytes(), tests, spec, outcome=code))

    meta = {"labels": ["PlayMusic", "GetWeather", "SetAlarm"], "source": "conformance"}
    keys, rows = keys_for(21), rows_for(21, 3, 11)
    base = model({"t": (keys, rows)}, tensors={"bias": np.array([0.5, -0.5, 0.25], np.float32)}, metadata=meta)
    sparse = model({"t": (keys, rows_for(21, 3, 12, zeros=0.7))}, layout="sparse")
    fb = model({"t": (keys_for(60), rows_for(60, 2, 13))}, max_levels=1, gamma=1.0, partitions=2)
    f32 = model({"t": (keys, rows)}, quant="f32", layout="dense")
    P = lambda data=base: PhqBytes(data)  # noqa: E731
    i_meta = P().find(L.KIND_META)
    i_tensor = P().find(L.KIND_TENSOR)
    i_table = P().find(L.KIND_TABLE)
    part = lambda kind, data=base: P(data).find(kind)  # noqa: E731

    # §3.1 signature
    bad("not_phq", b"PK\x03\x04" + bytes(60), "E_SIGNATURE", "a zip file", "§3.1")
    bad("git_lfs_pointer", b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 1856\n", "E_SIGNATURE", "a Git LFS pointer instead of the model", "§3.1")
    bad("text_mode_crlf_to_lf", base.replace(b"\r\n", b"\n"), "E_TEXT_MODE", "CRLF converted to LF", "§3.1")
    bad("text_mode_lf_to_crlf", base.replace(b"\n", b"\r\n"), "E_TEXT_MODE", "LF converted to CRLF", "§3.1")
    bad("text_mode_high_bit_stripped", bytes(x & 0x7F for x in base), "E_TEXT_MODE", "a 7-bit transfer", "§3.1")
    bad("empty_file", b"", "E_TRUNCATED", "zero bytes", "§3.1")
    bad("truncated_in_signature", base[:5], "E_TRUNCATED", "5 bytes of the signature", "§3.1")
    # §3 header
    bad("truncated_in_header", base[:40], "E_TRUNCATED", "cut inside the header", "§10.1 step 2")
    bad("future_major_version", P().set_header("major", 2).fix(), "E_VERSION", "major version 2", "§3.2")
    bad("header_size", P().set_header("header_size", 128).fix(), "E_HEADER_SIZE", "header_size 128", "§3")
    bad("header_checksum", P().set_header("optional_features", 1), "E_HEADER_CHECKSUM", "a header byte changed, CRC not updated", "§3")
    bad("section_table_checksum", P().set_entry(0, "checksum", 0xDEADBEEF).fix_header_crc(), "E_HEADER_CHECKSUM", "a section-table byte changed, its CRC not updated", "§3, §4")
    bad("reserved_header_field", P().set_header("reserved", 1).fix(), "E_RESERVED", "header reserved field non-zero", "§3")
    bad("unknown_required_feature", P().set_header("required_features", 1 << 5).fix(), "E_FEATURE", "an unknown must-understand feature bit", "§3.3")
    bad("file_longer_than_header_says", base + bytes(64), "E_FILE_SIZE", "64 zero bytes appended", "§10.1 step 8")
    for what, kind in [("section_table", None), ("metadata", L.KIND_META), ("tensor", L.KIND_TENSOR), ("table", L.KIND_TABLE),
                       ("bitmap", L.KIND_MPH_BITMAP), ("rank", L.KIND_MPH_RANK), ("fingerprints", L.KIND_FINGERPRINTS), ("rows", L.KIND_ROWS)]:
        cut = L.HEADER_SIZE + 20 if kind is None else P().section_offset(P().find(kind)) + 3
        bad(f"truncated_in_{what}", base[:cut], "E_TRUNCATED", f"cut inside the {what}", "§10.1 step 8")
    bad("section_table_offset", P().set_header("section_table_offset", 128).fix(), "E_SECTION_TABLE", "section table not at 64", "§3")
    bad("too_many_sections", P().set_header("section_count", L.MAX_SECTIONS + 1).fix(), "E_LIMIT", "section_count 65537", "§12")
    # §4 section table and §2 layout
    bad("reserved_section_flags", P().set_entry(i_tensor, "flags", 2).fix(), "E_RESERVED", "reserved flag bit 1", "§4")
    bad("reserved_section_entry_field", P().set_entry(i_tensor, "reserved", 1).fix(), "E_RESERVED", "entry reserved field non-zero", "§4")
    bad("known_section_marked_ancillary", P().set_entry(i_tensor, "flags", L.FLAG_ANCILLARY).fix(), "E_RESERVED", "a v1.0 kind flagged ancillary", "§4.2")
    off = P().section_offset(i_tensor)
    bad("section_misaligned", P().set_entry(i_tensor, "offset", off + 8).fix(), "E_SECTION_ALIGN", "offset not a multiple of 64", "§2")
    bad("section_overlap", P().set_entry(i_tensor, "offset", off - 64).fix(), "E_SECTION_OVERLAP", "a section starts inside the previous one", "§2")
    bad("section_gap", P().set_entry(i_tensor, "offset", off + 64).fix(), "E_SECTION_GAP", "a hole before a section", "§2")
    last = P().section_count - 1
    grown = P(base + bytes(64)).set_header("file_size", len(base) + 64).fix()
    bad("trailing_bytes", grown, "E_SECTION_GAP", "64 bytes after the last section, counted in file_size", "§2")
    bad("section_past_end", P().set_entry(last, "size", P().entry(last).size + 4096).fix(), "E_SECTION_BOUNDS", "last section extends past the file", "§10.1 step 12")
    meta_end = P().section_offset(i_meta) + P().entry(i_meta).size
    bad("padding_not_zero", P().xor(meta_end + 1, 0x01), "E_PADDING", "a non-zero padding byte after the metadata", "§2")
    bad("metadata_oversize", P().set_entry(i_meta, "size", L.MAX_METADATA_BYTES + 1).fix(), "E_LIMIT", "a META section claiming 16 MiB + 1", "§5.2, §12")
    secs = sections_of({"t": (keys, rows)}, metadata=meta)
    bad("unknown_critical_section", to_bytes(insert_section(secs, 1, SectionOut(0x0003, buffers=[b"x"]))), "E_UNKNOWN_SECTION", "unknown kind without the ancillary flag", "§4.2")
    bad("unknown_critical_in_table", to_bytes(insert_section(secs, 3, SectionOut(0x7003, owner=1, buffers=[b"x"]))), "E_UNKNOWN_SECTION", "unknown critical kind inside a table group", "§4.2")
    bad("two_meta_sections", to_bytes(insert_section(secs, 1, SectionOut(L.KIND_META, buffers=[b"{}"]))), "E_DUPLICATE_SECTION", "two META sections", "§4.1")
    # §4.3 table groups
    drop = lambda kind: [s for s in secs if s.kind != kind]  # noqa: E731
    bad("table_part_missing", to_bytes(drop(L.KIND_MPH_RANK)), "E_SECTION_ORDER", "MPH_RANK missing", "§4.3")
    swapped = list(secs)
    a, b_ = [i for i, s in enumerate(secs) if s.kind in (L.KIND_FINGERPRINTS, L.KIND_SCALES)]
    swapped[a], swapped[b_] = secs[b_], secs[a]
    bad("table_parts_out_of_order", to_bytes(swapped), "E_SECTION_ORDER", "SCALES before FINGERPRINTS", "§4.3")
    dup = list(secs)
    j = next(i for i, s in enumerate(secs) if s.kind == L.KIND_SCALES)
    dup.insert(j, secs[j])
    bad("table_part_duplicated", to_bytes(dup), "E_SECTION_ORDER", "SCALES twice", "§4.3")
    ip = part(L.KIND_MPH_LEVELS)
    bad("part_without_owner", P().set_entry(ip, "owner", L.NO_OWNER).fix(), "E_SECTION_ORDER", "a table part with no owner", "§4.3")
    bad("part_wrong_owner", P().set_entry(ip, "owner", i_meta).fix(), "E_SECTION_ORDER", "a part owned by the META section", "§4.3")
    bad("meta_with_owner", P().set_entry(i_meta, "owner", 0).fix(), "E_SECTION_ORDER", "META with an owner", "§4.3")
    bad("dense_table_declared_sparse", P().set_in_section(i_table, TABLE_FIELDS, "layout", 1).set_in_section(i_table, TABLE_FIELDS, "index_width", 4)
        .set_in_section(i_table, TABLE_FIELDS, "column_width", 1).fix((i_table,)), "E_SECTION_ORDER", "layout says sparse, parts are dense", "§4.3")
    # §5.3 tensors
    bad("tensor_shape_mismatch", P().patch(P().section_offset(i_tensor) + 8, struct.pack("<Q", 4)).fix((i_tensor,)), "E_SECTION_SIZE", "tensor shape larger than its data", "§5.3")
    big = model(tensors={"t": np.zeros((0, 1), np.float32)})
    it = P(big).find(L.KIND_TENSOR)
    bad("tensor_shape_overflow", P(big).patch(P(big).section_offset(it) + 8, struct.pack("<QQ", 1 << 40, 1 << 40)).fix((it,)), "E_OVERFLOW", "a shape whose product overflows", "§5.3")
    bad("tensor_dtype_undefined", P().set_in_section(i_tensor, TENSOR_FIELDS, "dtype", 12).fix((i_tensor,)), "E_ENUM", "tensor dtype 12", "§5.3")
    bad("tensor_ndim_limit", P().set_in_section(i_tensor, TENSOR_FIELDS, "ndim", 9).fix((i_tensor,)), "E_LIMIT", "tensor with 9 dimensions", "§5.3, §12")
    bad("tensor_reserved", P().set_in_section(i_tensor, TENSOR_FIELDS, "reserved", 1).fix((i_tensor,)), "E_RESERVED", "tensor reserved field", "§5.3")
    bad("tensor_name_empty", P().set_in_section(i_tensor, TENSOR_FIELDS, "name_len", 0).fix((i_tensor,)), "E_NAME", "tensor with an empty name", "§5.1")
    bad("tensor_inf", _patch_tensor_value(model(tensors={"t": np.array([1.0, 2.0], np.float32)}), 1, np.float32(np.inf)),
        "E_VALUE", "a float tensor holding inf", "§5.3")
    two = sections_of(tensors={"w": np.ones(2, np.float32), "v": np.ones(2, np.float32)})
    two[1].buffers[2] = b"w"
    bad("duplicate_tensor_name", to_bytes(two), "E_DUPLICATE_NAME", "two tensors named w", "§5.1")
    # §5.2 metadata
    for name, raw, what in [
        ("metadata_not_utf8", b'{"a":"\xff"}', "invalid UTF-8"),
        ("metadata_not_json", b'{"a":1,}', "a trailing comma"),
        ("metadata_not_object", b'["a"]', "a top-level array"),
        ("metadata_duplicate_member", b'{"a":1,"\\u0061":2}', "a member name twice (once escaped)"),
        ("metadata_nan_literal", b'{"a":NaN}', "the NaN literal"),
        ("metadata_too_deep", b'{"a":' + b"[" * 64 + b"]" * 64 + b"}", "65 nesting levels"),
        ("metadata_byte_order_mark", b'\xef\xbb\xbf{"a":1}', "a UTF-8 byte-order mark"),
        ("metadata_control_character", b'{"a":"x\x01"}', "an unescaped control character"),
        ("metadata_lone_surrogate_utf8", b'{"a":"\xed\xa0\x80"}', "a UTF-8-encoded surrogate"),
    ]:
        bad(name, to_bytes([SectionOut(L.KIND_META, buffers=[raw])]), "E_METADATA", f"metadata with {what}", "§5.2")
    # §5.4 TABLE descriptor
    for name, fld, value, code, what in [
        ("table_hash_scheme_undefined", "hash_scheme", 2, "E_ENUM", "hash_scheme 2"),
        ("table_quant_undefined", "quant", 9, "E_ENUM", "quant 9"),
        ("table_fingerprint_bits_undefined", "fingerprint_bits", 12, "E_ENUM", "fingerprint_bits 12"),
        ("table_scale_granularity_inconsistent", "scale_granularity", 0, "E_ENUM", "linear8 without scales"),
        ("table_reserved", "reserved2", 1, "E_RESERVED", "descriptor reserved field"),
        ("table_name_len", "name_len", 2, "E_SECTION_SIZE", "name_len disagrees with the section size"),
        ("table_dim_limit", "dim", L.MAX_DIM + 1, "E_LIMIT", "dim 2^24+1"),
        ("table_partitions_zero", "num_partitions", 0, "E_LIMIT", "num_partitions 0"),
        ("table_partitions_limit", "num_partitions", L.MAX_PARTITIONS + 1, "E_LIMIT", "num_partitions 2^20+1"),
        ("table_num_keys_limit", "num_keys", L.MAX_KEYS + 1, "E_LIMIT", "num_keys 2^40+1"),
    ]:
        bad(name, P().set_in_section(i_table, TABLE_FIELDS, fld, value).fix((i_table,)), code, f"TABLE with {what}", "§5.4")
    bad("table_name_not_utf8", P().patch(P().section_offset(i_table) + 64, b"\xff").fix((i_table,)), "E_NAME", "table name not UTF-8", "§5.1")
    two = sections_of({"a": {b"k": [1.0]}, "b": {b"k": [2.0]}})
    two[next(i for i, s in enumerate(two) if s.kind == L.KIND_TABLE and s.buffers[1] == b"b")].buffers[1] = b"a"
    bad("duplicate_table_name", to_bytes(two), "E_DUPLICATE_NAME", "two tables named a", "§5.1")
    # §5.5 MPH
    ipart = part(L.KIND_MPH_PARTITIONS)
    kc = P().get_in_section(ipart, PARTITION_FIELDS, "key_count")
    bad("partition_key_counts_sum", P().set_in_section(ipart, PARTITION_FIELDS, "key_count", kc + 1).fix((ipart,)), "E_MPH", "partition key counts do not sum to num_keys", "§5.5.1")
    bad("partition_fallback_exceeds_keys", P().set_in_section(ipart, PARTITION_FIELDS, "fallback_count", kc + 1).fix((ipart,)), "E_MPH", "more fallback keys than keys", "§5.5.1")
    bad("partition_reserved", P().set_in_section(ipart, PARTITION_FIELDS, "reserved", 1).fix((ipart,)), "E_RESERVED", "partition record reserved field", "§5.5.1")
    bad("partition_level_count_limit", P().set_in_section(ipart, PARTITION_FIELDS, "level_count", 65).fix((ipart,)), "E_LIMIT", "65 levels", "§5.5.1, §12")
    ilev = part(L.KIND_MPH_LEVELS)
    bad("level_words_zero", P().patch(P().section_offset(ilev), struct.pack("<I", 0)).fix((ilev,)), "E_MPH", "a level of 0 words", "§5.5.2")
    w0 = struct.unpack_from("<I", base, P().section_offset(ilev))[0]
    bad("level_sizes_inconsistent_with_bitmap", P().patch(P().section_offset(ilev), struct.pack("<I", w0 + 32)).fix((ilev,)), "E_SECTION_SIZE", "level sizes that need more bitmap and rank words than stored", "§5.5.3")
    ibit = part(L.KIND_MPH_BITMAP)
    bits = np.frombuffer(base, "<u8", P().entry(ibit).size // 8, P().section_offset(ibit))
    zero_bit = int(np.flatnonzero(np.unpackbits(bits[:1].view(np.uint8), bitorder="little") == 0)[0])
    bad("bitmap_extra_one", P().xor(P().section_offset(ibit) + zero_bit // 8, 1 << (zero_bit % 8)).fix((ibit,)), "E_MPH", "a one bit too many in a level", "§5.5.3, §10.2")
    bad("bitmap_padding_word", P().xor(P().section_offset(ibit) + P().entry(ibit).size - 1, 0x80).fix((ibit,)), "E_PADDING", "a bit set in a partition's padding words", "§5.5.3, §10.2")
    irank = part(L.KIND_MPH_RANK)
    e0 = struct.unpack_from("<Q", base, P().section_offset(irank))[0]
    bad("rank_entry_wrong", P().patch(P().section_offset(irank), struct.pack("<Q", e0 + (1 << 32))).fix((irank,)), "E_RANK", "a sub-block count that disagrees with the bitmap", "§5.5.4, §10.2")
    bad("rank_points_past_n", P().patch(P().section_offset(irank), struct.pack("<Q", e0 | 0xFFFFFF00)).fix((irank,)), "E_RANK", "a rank past num_keys", "§7.2, §10.3")
    ifb = P(fb).find(L.KIND_MPH_FALLBACK)
    pairs = fb[P(fb).section_offset(ifb) : P(fb).section_offset(ifb) + 32]
    bad("fallback_unsorted", P(fb).patch(P(fb).section_offset(ifb), pairs[16:32] + pairs[0:16]).fix((ifb,)), "E_FALLBACK", "two fallback pairs swapped", "§5.5.5")
    h2 = struct.unpack_from("<Q", fb, P(fb).section_offset(ifb) + 8)[0]
    bad("fallback_wrong_partition", P(fb).patch(P(fb).section_offset(ifb) + 8, struct.pack("<Q", h2 ^ (1 << 63))).fix((ifb,)), "E_FALLBACK", "a fallback pair of another partition", "§5.5.5")
    # §5.5.7 scales
    isc = part(L.KIND_SCALES)
    so = P().section_offset(isc)
    bad("scale_nan", P().patch(so, struct.pack("<I", 0x7FC00000)).fix((isc,)), "E_SCALE", "a NaN scale", "§5.5.7")
    bad("scale_zero", P().patch(so, struct.pack("<f", 0.0)).fix((isc,)), "E_SCALE", "a zero scale", "§5.5.7")
    bad("scale_too_large", P().patch(so, struct.pack("<f", 1e37)).fix((isc,)), "E_SCALE", "255 x scale beyond FLT_MAX", "§5.5.7")
    bad("zero_point_256", P().patch(so + 4, struct.pack("<i", 256)).fix((isc,)), "E_SCALE", "zero point 256", "§5.5.7")
    # §5.5.8-10 payload
    iri = part(L.KIND_ROW_INDEX, sparse)
    ri = P(sparse).section_offset(iri)
    n = len(keys)
    nnz = struct.unpack_from("<I", sparse, ri + 4 * n)[0]
    bad("sparse_row_index_end", P(sparse).patch(ri + 4 * n, struct.pack("<I", nnz - 1)).fix((iri,)), "E_SPARSE", "row_index[n] != nnz", "§5.5.9")
    index = np.frombuffer(sparse, "<u4", n + 1, ri)
    k = int(np.flatnonzero(index[2:] < nnz)[0]) + 1  # row_index[k] := row_index[k + 1] + 1 > row_index[k + 1]
    bad("sparse_row_index_decreasing", P(sparse).patch(ri + 4 * k, struct.pack("<I", int(index[k + 1]) + 1)).fix((iri,)),
        "E_SPARSE", "a decreasing row index", "§5.5.9, §10.2")
    ico = part(L.KIND_COLUMNS, sparse)
    co = P(sparse).section_offset(ico)
    bad("sparse_column_out_of_range", P(sparse).patch(co, bytes([3])).fix((ico,)), "E_SPARSE", "a column index equal to dim", "§5.5.10")
    first_long = _first_row_with(sparse, 2)
    bad("sparse_columns_not_ascending", P(sparse).patch(co + first_long, bytes(reversed(_cols(sparse, first_long)))).fix((ico,)),
        "E_SPARSE", "columns not ascending within a row", "§5.5.10")
    bad("sparse_nnz_beyond_index_width", P(sparse).set_in_section(P(sparse).find(L.KIND_TABLE), TABLE_FIELDS, "nnz", 1 << 32).fix((P(sparse).find(L.KIND_TABLE),)),
        "E_SPARSE", "nnz 2^32 with a 4-byte row index", "§5.5.9")
    irow = P(f32).find(L.KIND_ROWS)
    bad("f32_weight_nan", P(f32).patch(P(f32).section_offset(irow) + 4, struct.pack("<I", 0x7FC00001)).fix((irow,)), "E_VALUE", "a NaN weight", "§5.5.8, §10.2")
    ifp = part(L.KIND_FINGERPRINTS)
    bad("fingerprints_size", P().set_entry(ifp, "size", P().entry(ifp).size + 2).fix(), "E_SECTION_SIZE", "FINGERPRINTS two bytes longer than n x 2", "§5.5.6")
    # §10.2 checksums
    bad("checksum_rows", P().xor(P().section_offset(part(L.KIND_ROWS)) + 5, 0x04), "E_CHECKSUM", "one payload bit flipped", "§10.2")
    mo = P().section_offset(i_meta) + base[P().section_offset(i_meta):].index(b"conformance") + 1
    bad("checksum_metadata", P().patch(mo, b"x"), "E_CHECKSUM", "a metadata letter changed, still valid JSON", "§10.2")
    anc = to_bytes(insert_section(secs, 0, SectionOut(0x7001, flags=L.FLAG_ANCILLARY, buffers=[b"private"])))
    bad("checksum_ancillary", P(anc).xor(P(anc).section_offset(0) + 2, 0x01), "E_CHECKSUM", "damage inside a skipped ancillary section", "§4.2, §10.2")
    return c


def _patch_tensor_value(data: bytes, index: int, value) -> bytes:
    p = PhqBytes(data)
    i = p.find(L.KIND_TENSOR)
    head = L.TENSOR_HEADER.parse(data[p.section_offset(i) : p.section_offset(i) + 8])
    at = p.section_offset(i) + L.align(8 + 8 * head.ndim + head.name_len) + 4 * index
    return p.patch(at, np.asarray(value, "<f4").tobytes()).fix((i,)).bytes()


def _row_spans(data: bytes):
    p = PhqBytes(data)
    t = p.find(L.KIND_TABLE)
    n = p.get_in_section(t, TABLE_FIELDS, "num_keys")
    ri = np.frombuffer(data, "<u4", n + 1, p.section_offset(p.find(L.KIND_ROW_INDEX)))
    return list(zip(ri[:-1].tolist(), ri[1:].tolist()))


def _first_row_with(data: bytes, length: int) -> int:
    return next(a for a, b in _row_spans(data) if b - a >= length)


def _cols(data: bytes, at: int) -> list[int]:
    p = PhqBytes(data)
    co = p.section_offset(p.find(L.KIND_COLUMNS))
    return list(data[co + at : co + at + 2])


# -- writing -------------------------------------------------------------------------------
def _probe_lines(probes) -> str:
    return "".join(f"{t.encode().hex()} {k.hex() or '-'}\n" for t, k in probes)


# -- version 1.1 (spec/format-v1.1.md) -------------------------------------------------------
def valid_cases_v11() -> list[Case]:
    c: list[Case] = []
    for quant, scales, steps in [("linear4", ("table", "column", "row-block"), 15), ("codebook4", ("table", "column"), 0), ("codebook8", ("table", "column"), 0)]:
        for scale in scales:
            for layout in ("dense", "sparse"):
                case = table_case(f"{quant}_{scale.replace('-', '')}_{layout}", f"{quant} codes, {scale} groups, {layout} rows (odd nnz: a pad nibble)",
                                  "v1.1 §3-§5", quant=quant, scale=scale, layout=layout, block_rows=4)
                case.steps = steps
                c.append(case)
    one = table_case("linear4_dim1", "a binary classifier's table: dim 1, 21 codes in 11 bytes", "v1.1 §4.3", dim=1, quant="linear4", layout="dense")
    one.steps = 15
    c.append(one)
    keys = keys_for(30)
    few = np.tile(np.array([[0.0, -1.5, 2.25]], np.float32), (30, 1)) * np.arange(1, 31)[:, None] % 4
    data = model({"t": (keys, few.astype(np.float32))}, quant="codebook4", scale="column", layout="dense")
    c.append(Case("codebook4_few_distinct_values", data, "a group with fewer distinct weights than levels: exact values, padding levels 0.0",
                  "v1.1 §5.2", probes=probes_for("t", keys), inputs={"t": dict(zip(keys, few.astype(np.float32)))}, steps=0))
    for quant in ("linear4", "codebook8"):
        c.append(Case(f"{quant}_empty_table", model({"t": ([], np.zeros((0, 3), np.float32))}, quant=quant),
                      f"an empty {quant} table", "v1.1 §4, §14", probes=[("t", k) for k in ABSENT]))
    k3, r3 = keys_for(40), rows_for(40, 4, 5)
    mixed = model({"a8": Table(k3, r3, quant="linear8"), "b4": Table(k3, r3, quant="linear4"), "c4": Table(k3, r3, quant="codebook4")})
    c.append(Case("mixed_schemes", mixed, "linear8, linear4 and codebook4 tables in one file: both feature bits set", "v1.1 §1",
                  probes=probes_for("a8", k3, 6) + probes_for("b4", k3, 6) + probes_for("c4", k3, 6),
                  inputs={"a8": dict(zip(k3, r3))}))
    c += shape_cases()
    # forward compatibility: built on 1.0 features only, so that 1.0 and 1.1 readers both read it
    base = table_case("x", "", "", layout="sparse")
    secs = sections_of({"t": (keys_for(21), rows_for(21, 3, 1))}, layout="sparse")
    extra = insert_section(secs, len(secs), SectionOut(0x00FE, flags=L.FLAG_ANCILLARY, buffers=[b"a 1.2 addition"]))
    data = PhqBytes(to_bytes(extra)).set_header("minor", 2).set_header("optional_features", 1 << 3).fix().bytes()
    c.append(Case("future_minor_ignorable_addition", data, "minor 2 with an unknown optional bit and an unknown ancillary section: read normally",
                  "§3.2, §3.3, §4.2, v1.1 §7", probes=base.probes, inputs=base.inputs))
    return c


def shape_cases() -> list[Case]:
    """MPH shapes and payload widths that phq's writer never makes but the spec allows
    (phq.conformance.shapes): every 1.x reader MUST read them (1.0 features only)."""
    from .shapes import TableShape, build

    def case(name, tests, spec, n=120, dim=3, **shape):
        keys = keys_for(n)
        rows = rows_for(n, dim, 31)
        data, _ = build({"t": TableShape(keys, rows, **shape)})
        return Case(f"shape_{name}", data, tests, spec, probes=probes_for("t", keys, 40), inputs={"t": dict(zip(keys, rows))})

    return [
        case("zero_level_partitions", "partitions of zero levels (every key in the fallback list) beside partitions with levels",
             "§5.5.1, §7.2, §7.4", levels=[[], [4, 2, 1], [], [3, 1]]),
        case("every_partition_fallback_only", "three partitions, no level at all: every key in a fallback list", "§7.1, §7.4",
             levels=[[], [], []], fingerprint_bits=8),
        case("max_levels", "64 one-word levels: the level limit reached, the rest in the fallback list", "§5.5.1, §12",
             n=400, levels=[[1] * 64], fingerprint_bits=32),
        case("levels_place_nothing", "levels where every key collides, then levels after the keys ran out", "§5.5.2, §7.2",
             n=60, levels=[[1, 1, 64, 1, 1]]),
        case("lone_keys_unplaced", "lone keys left for later levels and the fallback list (bits left 0)", "§7.2, §7.4",
             levels=[[8, 8, 8], [8]], place=500, fingerprint_bits=0),
        case("many_partitions", "200 partitions for 40 keys: most empty, some with levels and no keys", "§7.1",
             n=40, levels=[[2, 1] if p % 3 else [] for p in range(200)]),
        case("mixed_level_counts", "twelve partitions of 0 to 11 levels of different sizes", "§5.5.2",
             n=200, levels=[[p + 1] * p for p in range(12)]),
        case("sparse_wide_widths", "sparse rows with 8-byte row index and 4-byte columns for dim 3", "§9.2",
             layout="sparse", index_width=8, column_width=4, levels=[[], [3, 1]]),
    ]


def invalid_cases_v11() -> list[Case]:
    c: list[Case] = []

    def bad(name, data, code, tests, spec):
        c.append(Case(name, data if isinstance(data, bytes) else data.bytes(), tests, spec, outcome=code))

    keys = keys_for(21)
    lin4 = model({"t": (keys, rows_for(21, 3, 21))}, quant="linear4", layout="dense")  # 63 codes: a pad nibble
    cb4 = model({"t": (keys, rows_for(21, 3, 22))}, quant="codebook4", scale="table", layout="dense")
    P = PhqBytes
    i_rows = P(lin4).find(L.KIND_ROWS)
    rows_end = P(lin4).section_offset(i_rows) + P(lin4).entry(i_rows).size
    bad("linear4_pad_nibble_set", P(lin4).xor(rows_end - 1, 0x10).fix((i_rows,)), "E_PADDING", "the high nibble after the 63rd code is 1", "v1.1 §4.3")
    i_sc = P(lin4).find(L.KIND_SCALES)
    bad("linear4_zero_point_16", P(lin4).patch(P(lin4).section_offset(i_sc) + 4, struct.pack("<i", 16)).fix((i_sc,)), "E_SCALE", "a linear4 zero point of 16", "v1.1 §4.1")
    i_cb = P(cb4).find(L.KIND_CODEBOOK)
    at = P(cb4).section_offset(i_cb)
    bad("codebook_level0_not_zero", P(cb4).patch(at, struct.pack("<f", 0.5)).fix((i_cb,)), "E_SCALE", "level 0 is 0.5", "v1.1 §4.2")
    bad("codebook_level0_negative_zero", P(cb4).patch(at, struct.pack("<f", -0.0)).fix((i_cb,)), "E_SCALE", "level 0 is -0.0 (bit pattern not 0)", "v1.1 §4.2")
    bad("codebook_level_nan", P(cb4).patch(at + 8, struct.pack("<f", float("nan"))).fix((i_cb,)), "E_VALUE", "level 2 is NaN", "v1.1 §4.2")
    bad("codebook_size", P(cb4).set_entry(i_cb, "size", P(cb4).entry(i_cb).size - 4).fix(), "E_SECTION_SIZE", "CODEBOOK 4 bytes short of 16 levels", "v1.1 §4.2")
    bad("linear4_rows_size", P(lin4).set_entry(i_rows, "size", P(lin4).entry(i_rows).size - 1).fix(), "E_SECTION_SIZE", "ROWS one byte short of ceil(63 / 2)", "v1.1 §4.3")
    i_t = P(cb4).find(L.KIND_TABLE)
    bad("codebook_row_block", P(cb4).set_in_section(i_t, TABLE_FIELDS, "scale_granularity", 3).set_in_section(i_t, TABLE_FIELDS, "scale_block_rows", 4).fix((i_t,)),
        "E_ENUM", "codebook with row-block groups", "v1.1 §3")
    bad("linear4_without_granularity", P(lin4).set_in_section(i_t, TABLE_FIELDS, "scale_granularity", 0).fix((i_t,)), "E_ENUM", "linear4 with granularity 0", "v1.1 §3")
    bad("linear4_without_feature_bit", P(lin4).set_header("required_features", 0).set_header("minor", 0).fix(), "E_ENUM", "quant 3 in a file that does not set LINEAR4", "v1.1 §1")
    bad("codebook_without_feature_bit", P(cb4).set_header("required_features", L.FEATURE_LINEAR4).fix(), "E_ENUM", "quant 4 in a file that sets LINEAR4 only", "v1.1 §1")
    both = L.FEATURE_LINEAR4 | L.FEATURE_CODEBOOK
    bad("codebook_part_missing", P(lin4).set_in_section(i_t, TABLE_FIELDS, "quant", L.QUANT_CODEBOOK4).set_in_section(i_t, TABLE_FIELDS, "scale_granularity", 2)
        .set_header("required_features", both).fix((i_t,)), "E_SECTION_ORDER", "a codebook4 table without CODEBOOK", "v1.1 §2")
    bad("codebook_part_extra", P(cb4).set_in_section(i_t, TABLE_FIELDS, "quant", L.QUANT_LINEAR4).set_header("required_features", both).fix((i_t,)),
        "E_SECTION_ORDER", "a linear4 table with a CODEBOOK part", "v1.1 §2")
    secs = sections_of({"t": (keys, rows_for(21, 3, 22))}, quant="codebook4", scale="table", layout="dense")
    j = next(i for i, s in enumerate(secs) if s.kind == L.KIND_CODEBOOK)
    moved = list(secs)
    moved.insert(j - 1, moved.pop(j))  # CODEBOOK before SCALES
    bad("codebook_part_misplaced", to_bytes(moved), "E_SECTION_ORDER", "CODEBOOK before SCALES", "v1.1 §2")
    bad("codebook_marked_ancillary", P(cb4).set_entry(i_cb, "flags", L.FLAG_ANCILLARY).fix(), "E_RESERVED", "CODEBOOK flagged ancillary", "v1.1 §2")
    plain = model({"t": (keys, rows_for(21, 3, 23))})  # 1.0 features only: every 1.x reader refuses it the same way
    # bit 63: unknown to every reader of 1.x so far (bit 2, used here before format 1.2 defined it, is COMPACT_SPARSE now)
    bad("future_minor_must_understand", P(plain).set_header("minor", 3).set_header("required_features", 1 << 63).fix(),
        "E_FEATURE", "minor 3 with an unknown required bit (63)", "§3.3, v1.1 §7")
    return c


def valid_cases_v12() -> list[Case]:
    from .compact_cases import valid_cases_v12 as cases  # format 1.2 (spec/format-v1.2.md)

    return cases()


def invalid_cases_v12() -> list[Case]:
    from .compact_cases import invalid_cases_v12 as cases

    return cases()


SUITES = {"1.0": (valid_cases, invalid_cases), "1.1": (valid_cases_v11, invalid_cases_v11), "1.2": (valid_cases_v12, invalid_cases_v12)}


def _cross_check(case: Case, expected: str) -> None:
    """The reference reader's answer agrees with what was written (§7, §8)."""
    lines = expected.splitlines()
    assert lines[0] == "ok" and lines[-1] == "end", (case.name, lines[:1])
    answers = [x for x in lines if x.startswith(("found", "absent"))]
    assert len(answers) == len(case.probes), case.name
    for (table, key), ans in zip(case.probes, answers):
        rows = case.inputs.get(table, {})
        if key in rows:
            assert ans.startswith("found"), (case.name, key)
            deq = ans.split()[3]
            got = np.frombuffer(bytes.fromhex(deq), "<f4") if deq != "-" else np.zeros(0, np.float32)
            want = rows[key]
            # half a step of the widest possible group: the table's range is at most 2 x max|w|
            span = max(float(np.abs(r).max(initial=0)) for r in rows.values())
            atol = span / case.steps + 1e-6 if case.steps else 2 * span + 1e-6  # codebooks: bounded by the range
            assert got.shape == want.shape and np.allclose(got, want, atol=atol, rtol=1e-3), (case.name, key, got, want)


def generate(out: Path, version: str = "1.0") -> list[dict]:
    root = out / f"v{version}"
    if root.exists():
        shutil.rmtree(root)
    manifest = []
    valid, invalid = SUITES[version]
    cases = valid() + invalid()
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "duplicate golden file names"
    for case in cases:
        folder = root / ("valid" if case.prefix == "y" else "invalid")
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{case.prefix}_{case.name}"
        path = folder / f"{stem}.phq"
        path.write_bytes(case.data)
        probe_text = _probe_lines(case.probes)
        (folder / f"{stem}.probes").write_text(probe_text)
        got = answer(path, parse_probes(probe_text))  # through the protocol's own encoding
        if case.outcome == "accept":
            _cross_check(case, got)
            (folder / f"{stem}.expected").write_text(got)
        else:
            code = got.split()[1] if got.startswith("error ") else "accept"
            assert code == case.outcome, f"{stem}: the reference reader says {code}, the case expects {case.outcome}"
        manifest.append({
            "file": f"{folder.name}/{stem}.phq",
            "sha256": hashlib.sha256(case.data).hexdigest(),
            "expect": case.outcome,
            "tests": case.tests,
            "spec": case.spec,
        })
    doc = {"format_version": version, "protocol": 1, "files": manifest}
    (root / "manifest.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    return manifest


def _same_tree(a: Path, b: Path) -> list[str]:
    diffs = []
    files_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    files_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    diffs += [f"only in the new files: {p}" for p in sorted(files_a - files_b)]
    diffs += [f"only in the committed files: {p}" for p in sorted(files_b - files_a)]
    diffs += [f"differs: {p}" for p in sorted(files_a & files_b) if not filecmp.cmp(a / p, b / p, shallow=False)]
    return diffs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m phq.conformance.generate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE, help="folder to write v1.0/, v1.1/ into (default: the installed suite)")
    ap.add_argument("--check", action="store_true", help="regenerate into a temporary folder and compare with --out")
    ap.add_argument("--version", choices=VERSIONS, action="append", help="only this format version (repeatable; default all)")
    a = ap.parse_args(argv)
    versions = a.version or list(VERSIONS)
    if a.check:
        diffs = []
        with tempfile.TemporaryDirectory() as tmp:
            for v in versions:
                generate(Path(tmp), v)
                diffs += [f"v{v}: {d}" for d in _same_tree(Path(tmp) / f"v{v}", a.out / f"v{v}")]
        for d in diffs:
            print(d)
        print(f"{len(diffs)} difference(s)")
        return 1 if diffs else 0
    for v in versions:
        m = generate(a.out, v)
        print(f"wrote {len(m)} golden files to {a.out / ('v' + v)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
