"""Every fact about the phq byte layout, in one place (spec/format-v1.0.md, and the
version 1.1 additions of spec/format-v1.1.md, declared as deltas at the end).

Reader, writer, inspect and validate all import this module. Fixed-size structures are
declared once with `construct`; the writer builds them and the reader parses them through
these declarations. The lookup hot path never touches construct: it reads numpy views
prepared at open.
"""

from __future__ import annotations

import numpy as np
from construct import Bytes, Float32l, Int8ul, Int16ul, Int32ul, Int64ul, Struct

from .errors import ERROR_CODES

# --- §2 File structure -------------------------------------------------------------
SIGNATURE = b"\x89PHQ\r\n\x1a\n"  # §3.1: high bit, CR LF, ^Z, LF catch text-mode damage
ALIGNMENT = 64  # §2: every section starts on a multiple of 64 bytes
FORMAT_MAJOR = 1
FORMAT_MINOR = 2  # the latest minor this reader and writer know (a writer writes the lowest it can, §3.2)
HEADER_SIZE = 64
SECTION_ENTRY_SIZE = 32
NO_OWNER = 0xFFFFFFFF

# --- §3 Header ----------------------------------------------------------------------
HEADER = Struct(
    "signature" / Bytes(8),
    "major" / Int16ul,
    "minor" / Int16ul,
    "header_size" / Int32ul,
    "required_features" / Int64ul,
    "optional_features" / Int64ul,
    "file_size" / Int64ul,
    "section_table_offset" / Int64ul,
    "section_count" / Int32ul,
    "section_table_checksum" / Int32ul,
    "reserved" / Int32ul,
    "header_checksum" / Int32ul,
)
HEADER_CHECKSUM_SPAN = 60  # §3.2: CRC32C over bytes [0, 60)

# §3.3 feature flags. v1.0 defines none; a reader refuses unknown *required* bits
# (E_FEATURE) and ignores unknown *optional* bits.
# Version 1.1 defines two required bits (v1.1 §1); KNOWN_* are this reader's (the latest).
FEATURE_LINEAR4 = 1 << 0
FEATURE_CODEBOOK = 1 << 1
FEATURE_COMPACT_SPARSE = 1 << 2  # v1.2 §1
FEATURE_NAMES = {FEATURE_LINEAR4: "LINEAR4", FEATURE_CODEBOOK: "CODEBOOK", FEATURE_COMPACT_SPARSE: "COMPACT_SPARSE"}
KNOWN_REQUIRED_FEATURES = FEATURE_LINEAR4 | FEATURE_CODEBOOK | FEATURE_COMPACT_SPARSE
KNOWN_OPTIONAL_FEATURES = 0

# --- §4 Section table ---------------------------------------------------------------
SECTION_ENTRY = Struct(
    "kind" / Int16ul,
    "flags" / Int16ul,
    "owner" / Int32ul,
    "offset" / Int64ul,
    "size" / Int64ul,
    "checksum" / Int32ul,
    "reserved" / Int32ul,
)
FLAG_ANCILLARY = 0x0001  # §4.2: an unknown ancillary section is skipped
KNOWN_SECTION_FLAGS = FLAG_ANCILLARY

# §5 section kinds
KIND_META = 0x0001
KIND_TENSOR = 0x0002
KIND_TABLE = 0x0010
KIND_MPH_PARTITIONS = 0x0011
KIND_MPH_LEVELS = 0x0012
KIND_MPH_BITMAP = 0x0013
KIND_MPH_RANK = 0x0014
KIND_MPH_FALLBACK = 0x0015
KIND_FINGERPRINTS = 0x0016
KIND_SCALES = 0x0017
KIND_ROWS = 0x0018
KIND_ROW_INDEX = 0x0019
KIND_COLUMNS = 0x001A
KIND_CODEBOOK = 0x001B  # v1.1 §2
KIND_ROW_BASES = 0x001C  # v1.2 §2
KIND_ROW_DELTAS = 0x001D  # v1.2 §2
KIND_COLUMN_LOW = 0x001E  # v1.2 §2
KIND_COLUMN_HIGH = 0x001F  # v1.2 §2

SECTION_NAMES = {
    KIND_META: "META",
    KIND_TENSOR: "TENSOR",
    KIND_TABLE: "TABLE",
    KIND_MPH_PARTITIONS: "MPH_PARTITIONS",
    KIND_MPH_LEVELS: "MPH_LEVELS",
    KIND_MPH_BITMAP: "MPH_BITMAP",
    KIND_MPH_RANK: "MPH_RANK",
    KIND_MPH_FALLBACK: "MPH_FALLBACK",
    KIND_FINGERPRINTS: "FINGERPRINTS",
    KIND_SCALES: "SCALES",
    KIND_ROWS: "ROWS",
    KIND_ROW_INDEX: "ROW_INDEX",
    KIND_COLUMNS: "COLUMNS",
    KIND_CODEBOOK: "CODEBOOK",
    KIND_ROW_BASES: "ROW_BASES",
    KIND_ROW_DELTAS: "ROW_DELTAS",
    KIND_COLUMN_LOW: "COLUMN_LOW",
    KIND_COLUMN_HIGH: "COLUMN_HIGH",
}
TOP_LEVEL_KINDS = (KIND_META, KIND_TENSOR, KIND_TABLE)
# §5.4: the parts of a table, in the order they follow its TABLE section.
DENSE_PARTS = (
    KIND_MPH_PARTITIONS,
    KIND_MPH_LEVELS,
    KIND_MPH_BITMAP,
    KIND_MPH_RANK,
    KIND_MPH_FALLBACK,
    KIND_FINGERPRINTS,
    KIND_SCALES,
    KIND_ROWS,
)
SPARSE_PARTS = DENSE_PARTS + (KIND_ROW_INDEX, KIND_COLUMNS)
COMPACT_PARTS = DENSE_PARTS + (KIND_ROW_BASES, KIND_ROW_DELTAS, KIND_COLUMN_LOW, KIND_COLUMN_HIGH)  # v1.2 §2
MPH_PARTS = DENSE_PARTS[:5]


def table_parts(quant: int, layout: int) -> tuple[int, ...]:
    """The known parts of a table group, in order (§4.3; v1.1 §2 inserts CODEBOOK; v1.2 §2
    the compact layout's index parts)."""
    parts = {LAYOUT_DENSE: DENSE_PARTS, LAYOUT_SPARSE: SPARSE_PARTS, LAYOUT_COMPACT: COMPACT_PARTS}[layout]
    if quant in CODEBOOK_LEVELS:
        i = parts.index(KIND_ROWS)
        parts = parts[:i] + (KIND_CODEBOOK,) + parts[i:]
    return parts

# --- §5.3 TABLE descriptor ---------------------------------------------------------
TABLE_DESCRIPTOR = Struct(
    "num_keys" / Int64ul,
    "dim" / Int32ul,
    "seed" / Int32ul,
    "num_partitions" / Int32ul,
    "gamma_milli" / Int32ul,
    "nnz" / Int64ul,
    "hash_scheme" / Int8ul,
    "quant" / Int8ul,
    "layout" / Int8ul,
    "fingerprint_bits" / Int8ul,
    "scale_granularity" / Int8ul,
    "index_width" / Int8ul,
    "column_width" / Int8ul,
    "reserved0" / Int8ul,
    "scale_block_rows" / Int32ul,
    "name_len" / Int16ul,
    "reserved1" / Int16ul,
    "reserved2" / Int64ul,
    "reserved3" / Int64ul,
)
# v1.2 §3: the same 64 bytes with reserved0 and reserved1 given meaning in files that set
# COMPACT_SPARSE (the reader parses TABLE_DESCRIPTOR and reads these three from its bytes)
TABLE_DESCRIPTOR_V12 = Struct(
    *TABLE_DESCRIPTOR.subcons[:13],
    "delta_width" / Int8ul,  # was reserved0 (offset 39)
    *TABLE_DESCRIPTOR.subcons[14:16],
    "row_block_log2" / Int8ul,  # offset 46, with column_low_bits: was reserved1
    "column_low_bits" / Int8ul,  # offset 47
    *TABLE_DESCRIPTOR.subcons[17:],
)
TABLE_DESCRIPTOR_SIZE = 64
# the 1.0/1.1 declaration: the bytes 1.2 gives meaning to are reserved there (MUST be 0)

HASH_MURMUR3_128 = 1  # §6

QUANT_F32 = 0
QUANT_F16 = 1
QUANT_LINEAR8 = 2
QUANT_LINEAR4 = 3  # v1.1 §3
QUANT_CODEBOOK4 = 4  # v1.1 §3
QUANT_CODEBOOK8 = 5  # v1.1 §3
QUANT_NAMES = {
    QUANT_F32: "f32", QUANT_F16: "f16", QUANT_LINEAR8: "linear8",
    QUANT_LINEAR4: "linear4", QUANT_CODEBOOK4: "codebook4", QUANT_CODEBOOK8: "codebook8",
}
# the dtype of a stored code as a reader returns it (4-bit codes are unpacked to u1)
QUANT_DTYPES = {
    QUANT_F32: np.dtype("<f4"), QUANT_F16: np.dtype("<f2"), QUANT_LINEAR8: np.dtype("u1"),
    QUANT_LINEAR4: np.dtype("u1"), QUANT_CODEBOOK4: np.dtype("u1"), QUANT_CODEBOOK8: np.dtype("u1"),
}
QUANT_CODE_BITS = {QUANT_F32: 32, QUANT_F16: 16, QUANT_LINEAR8: 8, QUANT_LINEAR4: 4, QUANT_CODEBOOK4: 4, QUANT_CODEBOOK8: 8}
LINEAR_QUANTS = {QUANT_LINEAR8: 255, QUANT_LINEAR4: 15}  # quant -> largest code (= largest zero point)
CODEBOOK_LEVELS = {QUANT_CODEBOOK4: 16, QUANT_CODEBOOK8: 256}  # v1.1 §4.2

LAYOUT_DENSE = 0
LAYOUT_SPARSE = 1
LAYOUT_COMPACT = 2  # v1.2 §3: sparse rows with a two-level row index and Elias-Fano columns
LAYOUT_NAMES = {LAYOUT_DENSE: "dense", LAYOUT_SPARSE: "sparse", LAYOUT_COMPACT: "compact"}
SPARSE_LAYOUTS = (LAYOUT_SPARSE, LAYOUT_COMPACT)
DELTA_DTYPES = {1: np.dtype("u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4")}  # v1.2 §4.2
MAX_ROW_BLOCK_LOG2 = 15  # v1.2 §3: at most 32768 rows per ROW_BASES entry
MAX_COLUMN_LOW_BITS = 24  # v1.2 §3: columns < dim <= 2^24

SCALE_NONE = 0
SCALE_TABLE = 1
SCALE_COLUMN = 2
SCALE_ROW_BLOCK = 3
SCALE_NAMES = {SCALE_NONE: "none", SCALE_TABLE: "table", SCALE_COLUMN: "column", SCALE_ROW_BLOCK: "row-block"}

FINGERPRINT_WIDTHS = (0, 8, 16, 32)
FINGERPRINT_DTYPES = {8: np.dtype("u1"), 16: np.dtype("<u2"), 32: np.dtype("<u4")}
INDEX_DTYPES = {4: np.dtype("<u4"), 8: np.dtype("<u8")}
COLUMN_DTYPES = {1: np.dtype("u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4")}

# §5.4.1 MPH_PARTITIONS record
PARTITION_RECORD = Struct(
    "key_count" / Int32ul,
    "fallback_count" / Int32ul,
    "level_count" / Int32ul,
    "reserved" / Int32ul,
)
PARTITION_DTYPE = np.dtype(
    [("key_count", "<u4"), ("fallback_count", "<u4"), ("level_count", "<u4"), ("reserved", "<u4")]
)
LEVEL_DTYPE = np.dtype("<u4")  # §5.4.2: words (64 bits) per level
WORD_DTYPE = np.dtype("<u8")  # §5.4.3 bitmap words, §5.4.4 rank entries
FALLBACK_DTYPE = np.dtype([("h1", "<u8"), ("h2", "<u8")])  # §5.4.5

# §5.4.4 rank blocks: one u64 per 2048 bitmap bits: absolute rank (32 bits) plus the
# popcounts of the first three 512-bit sub-blocks (10 bits each). 64/2048 = 3.125%.
RANK_BLOCK_WORDS = 32
RANK_SUBBLOCK_WORDS = 8

# §8 SCALES record
SCALE_RECORD = Struct("scale" / Float32l, "zero_point" / Int32ul)
SCALE_DTYPE = np.dtype([("scale", "<f4"), ("zero_point", "<i4")])
F32_MAX = float(np.finfo(np.float32).max)  # §5.5.7: 255 x scale <= F32_MAX, so no value dequantizes to inf

# --- §5.2 TENSOR --------------------------------------------------------------------
TENSOR_HEADER = Struct(
    "dtype" / Int8ul,
    "ndim" / Int8ul,
    "name_len" / Int16ul,
    "reserved" / Int32ul,
)
TENSOR_HEADER_SIZE = 8
TENSOR_DTYPES = {
    1: np.dtype("<f4"),
    2: np.dtype("<f2"),
    3: np.dtype("<f8"),
    4: np.dtype("i1"),
    5: np.dtype("<i2"),
    6: np.dtype("<i4"),
    7: np.dtype("<i8"),
    8: np.dtype("u1"),
    9: np.dtype("<u2"),
    10: np.dtype("<u4"),
    11: np.dtype("<u8"),
}
TENSOR_DTYPE_NAMES = {
    1: "f32", 2: "f16", 3: "f64", 4: "i8", 5: "i16", 6: "i32", 7: "i64",
    8: "u8", 9: "u16", 10: "u32", 11: "u64",
}

# --- §12 Limits (readers refuse above them before allocating; writers never exceed) --
MAX_SECTIONS = 65536
MAX_METADATA_BYTES = 16 * 1024 * 1024
MAX_METADATA_DEPTH = 64
MAX_NAME_BYTES = 255
MAX_TENSOR_NDIM = 8
MAX_PARTITIONS = 1 << 20
MAX_LEVELS = 64
MAX_PARTITION_KEYS = (1 << 32) - 1
MAX_LEVEL_WORDS = (1 << 26) - 1  # level bits < 2^32, so multiply-shift fits in 64 bits
MAX_KEYS = 1 << 40
MAX_DIM = 1 << 24
MAX_GAMMA_MILLI = 100_000


def field_table(struct: Struct) -> list[tuple[str, int, int]]:
    """(name, offset, size) of every field of a fixed-size declaration, in order: the
    byte tables of the spec, as data (tests compare them with spec/format-v1.0.md)."""
    out, pos = [], 0
    for sub in struct.subcons:
        size = sub.sizeof()
        out.append((sub.name, pos, size))
        pos += size
    return out


def align(n: int, a: int = ALIGNMENT) -> int:
    """Round n up to a multiple of a."""
    return (n + a - 1) // a * a


def minor_for(required_features: int) -> int:
    """§3.2: the lowest minor version that defines every bit the file sets."""
    if required_features & FEATURE_COMPACT_SPARSE:
        return 2
    return 1 if required_features & (FEATURE_LINEAR4 | FEATURE_CODEBOOK) else 0


def compact_high_bits(dim: int, low_bits: int) -> int:
    """v1.2 §4.4: H, the zero bits of every row's region of COLUMN_HIGH: ceil(dim / 2^l)."""
    return (dim + (1 << low_bits) - 1) >> low_bits


def quant_feature(quant: int) -> int:
    """The required feature bit a table with this quant needs (0 for the 1.0 schemes)."""
    return {QUANT_LINEAR4: FEATURE_LINEAR4, QUANT_CODEBOOK4: FEATURE_CODEBOOK, QUANT_CODEBOOK8: FEATURE_CODEBOOK}.get(quant, 0)


# === The versions, as data (spec/format-v1.1.md §6) ===================================
# Each version's structures, enums, section kinds, feature bits, error codes and limits.
# `phq spec diff` compares two entries; tests check them against the spec's byte tables.
# A later version is written as a delta of the one before (numpy .npy style).
def _v10() -> dict:
    return {
        "version": (1, 0),
        "spec": "spec/format-v1.0.md",
        "structs": {
            "header": HEADER,
            "section_entry": SECTION_ENTRY,
            "tensor_header": TENSOR_HEADER,
            "table_descriptor": TABLE_DESCRIPTOR,
            "partition_record": PARTITION_RECORD,
            "scale_record": SCALE_RECORD,
        },
        "enums": {
            "quant": {QUANT_F32: "f32", QUANT_F16: "f16", QUANT_LINEAR8: "linear8"},
            "layout": {LAYOUT_DENSE: "dense", LAYOUT_SPARSE: "sparse"},
            "scale_granularity": dict(SCALE_NAMES),
            "hash_scheme": {HASH_MURMUR3_128: "murmur3_x64_128"},
            "fingerprint_bits": {w: str(w) for w in FINGERPRINT_WIDTHS},
            "index_width": {w: str(w) for w in INDEX_DTYPES},
            "column_width": {w: str(w) for w in COLUMN_DTYPES},
            "tensor_dtype": dict(TENSOR_DTYPE_NAMES),
            "section_flags": {FLAG_ANCILLARY: "ANCILLARY"},
        },
        "section_kinds": {k: {"name": v, "critical": True} for k, v in SECTION_NAMES.items() if k < KIND_CODEBOOK},
        "required_features": {},
        "optional_features": {},
        "gates": {},  # (what, enum or kind, value) -> required feature name
        "error_codes": list(ERROR_CODES),
        "limits": {
            "sections": MAX_SECTIONS, "metadata_bytes": MAX_METADATA_BYTES, "metadata_depth": MAX_METADATA_DEPTH,
            "name_bytes": MAX_NAME_BYTES, "tensor_ndim": MAX_TENSOR_NDIM, "partitions": MAX_PARTITIONS,
            "levels": MAX_LEVELS, "partition_keys": MAX_PARTITION_KEYS, "level_words": MAX_LEVEL_WORDS,
            "keys": MAX_KEYS, "dim": MAX_DIM,
        },
    }


def _v11() -> dict:
    v = _v10()
    v["version"], v["spec"] = (1, 1), "spec/format-v1.1.md"
    v["enums"]["quant"].update({QUANT_LINEAR4: "linear4", QUANT_CODEBOOK4: "codebook4", QUANT_CODEBOOK8: "codebook8"})
    v["section_kinds"][KIND_CODEBOOK] = {"name": "CODEBOOK", "critical": True}
    v["required_features"] = {0: "LINEAR4", 1: "CODEBOOK"}
    v["gates"] = {
        ("enum", "quant", QUANT_LINEAR4): "LINEAR4",
        ("enum", "quant", QUANT_CODEBOOK4): "CODEBOOK",
        ("enum", "quant", QUANT_CODEBOOK8): "CODEBOOK",
        ("section_kind", None, KIND_CODEBOOK): "CODEBOOK",
    }
    return v


def _v12() -> dict:
    v = _v11()
    v["version"], v["spec"] = (1, 2), "spec/format-v1.2.md"
    v["structs"]["table_descriptor"] = TABLE_DESCRIPTOR_V12
    v["enums"]["layout"][LAYOUT_COMPACT] = "compact"
    for k in (KIND_ROW_BASES, KIND_ROW_DELTAS, KIND_COLUMN_LOW, KIND_COLUMN_HIGH):
        v["section_kinds"][k] = {"name": SECTION_NAMES[k], "critical": True}
        v["gates"][("section_kind", None, k)] = "COMPACT_SPARSE"
    v["required_features"] = {0: "LINEAR4", 1: "CODEBOOK", 2: "COMPACT_SPARSE"}
    v["gates"][("enum", "layout", LAYOUT_COMPACT)] = "COMPACT_SPARSE"
    for f in ("delta_width", "row_block_log2", "column_low_bits"):
        v["gates"][("field", "table_descriptor", f)] = "COMPACT_SPARSE"
    return v


VERSIONS = {(1, 0): _v10(), (1, 1): _v11(), (1, 2): _v12()}
