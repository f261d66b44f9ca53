"""The spec's byte tables, error table, limits and known-answer vectors agree with the code."""

import re

import numpy as np
import pytest

import phq
from conftest import SPEC
from murmur3_ref import murmur3_x64_128
from phq import layout as L
from phq.hashing import fingerprint_of, fmix64, key_hash, level_position, partition_of
from phq.writer.quant import _linear8_codes, group_scale

TEXT = SPEC.read_text(encoding="utf-8")


def section(heading: str) -> str:
    """Text from a heading line starting with `heading` up to the next heading."""
    m = re.search(rf"^#+ {re.escape(heading)}.*?$(.*?)(?=^#)", TEXT, re.M | re.S)
    assert m, f"spec has no heading {heading!r}"
    return m.group(1)


def table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[-:| ]+\|$", line):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            rows.append(cells)
    return rows[1:]  # drop the header row


def byte_table(heading: str) -> list[tuple[int, int, str]]:
    """(offset, size, field) of the fixed-size rows of a layout table."""
    out = []
    for cells in table_rows(section(heading)):
        if cells[0].isdigit() and cells[1].isdigit():
            out.append((int(cells[0]), int(cells[1]), cells[3].strip("`")))
    return out


def construct_fields(struct) -> list[tuple[int, int, str]]:
    return [(off, size, name) for name, off, size in L.field_table(struct)]


@pytest.mark.parametrize(
    "heading, struct",
    [
        ("3. Header", L.HEADER),
        ("4. Section table", L.SECTION_ENTRY),
        ("5.4 TABLE", L.TABLE_DESCRIPTOR),
        ("5.5.1 MPH_PARTITIONS", L.PARTITION_RECORD),
        ("5.5.7 SCALES", L.SCALE_RECORD),
    ],
)
def test_byte_tables_match_declarations(heading, struct):
    assert byte_table(heading) == construct_fields(struct)


def test_tensor_header_table_matches_declaration():
    fixed = [r for r in byte_table("5.3 TENSOR") if r[0] < L.TENSOR_HEADER_SIZE]
    assert fixed == construct_fields(L.TENSOR_HEADER)


def test_sizes_and_signature():
    assert L.HEADER.sizeof() == L.HEADER_SIZE == 64
    assert L.SECTION_ENTRY.sizeof() == L.SECTION_ENTRY_SIZE == 32
    assert L.TABLE_DESCRIPTOR.sizeof() == L.TABLE_DESCRIPTOR_SIZE == 64
    assert L.PARTITION_RECORD.sizeof() == L.PARTITION_DTYPE.itemsize == 16
    assert L.SCALE_RECORD.sizeof() == L.SCALE_DTYPE.itemsize == 8
    hexsig = re.search(r"`signature` \| `([0-9A-F ]+)`", TEXT).group(1)
    assert bytes.fromhex(hexsig) == L.SIGNATURE


def test_section_kinds_match():
    kinds = {int(c[0], 16): c[1].strip("`") for c in table_rows(section("4.1 Section kinds"))}
    assert kinds == {k: v["name"] for k, v in L.VERSIONS[(1, 0)]["section_kinds"].items()}


def test_quant_enum_of_v10_matches():
    row = next(c for c in table_rows(section("5.4 TABLE")) if c[3] == "`quant`")
    listed = dict((int(n), name.strip("`")) for n, name in re.findall(r"(\d+) (`\w+`)", row[4]))
    assert listed == L.VERSIONS[(1, 0)]["enums"]["quant"]


# --- version 1.1 (spec/format-v1.1.md): its tables against the declared deltas ----------
V11 = (SPEC.parent / "format-v1.1.md").read_text(encoding="utf-8")


def v11_section(heading: str) -> str:
    m = re.search(rf"^#+ {re.escape(heading)}.*?$(.*?)(?=^#)", V11, re.M | re.S)
    assert m, f"format-v1.1.md has no heading {heading!r}"
    return m.group(1)


def test_v11_feature_bits_match():
    rows = table_rows(v11_section("1.1 §1 Header"))
    assert {int(c[0]): c[1].strip("`") for c in rows} == L.VERSIONS[(1, 1)]["required_features"]
    assert {1 << int(c[0]): c[1].strip("`") for c in rows} == {b: n for b, n in L.FEATURE_NAMES.items() if b < L.FEATURE_COMPACT_SPARSE}


def test_v11_section_kinds_and_quants_match():
    kinds = {int(c[0], 16): c[1].strip("`") for c in table_rows(v11_section("1.1 §2 Section kinds"))}
    v10, v11 = L.VERSIONS[(1, 0)], L.VERSIONS[(1, 1)]
    assert {k: v["name"] for k, v in v11["section_kinds"].items()} == {**{k: v["name"] for k, v in v10["section_kinds"].items()}, **kinds}
    quants = table_rows(v11_section("1.1 §3 TABLE descriptor"))
    assert {int(c[0]): c[1].strip("*") for c in quants} == v11["enums"]["quant"]
    assert {int(c[0]): int(c[2]) for c in quants} == L.QUANT_CODE_BITS
    gated = {int(c[0]): c[3].strip("`") for c in quants if c[3] != "—"}
    assert gated == {v: f for (what, _, v), f in v11["gates"].items() if what == "enum"}
    levels = {int(c[0]): int(re.search(r"G × (\d+)", c[6]).group(1)) for c in quants if "levels" in c[6]}
    assert levels == L.CODEBOOK_LEVELS


def test_tensor_dtypes_match():
    rows = [r for r in section("5.3 TENSOR").splitlines() if r.startswith("| dtype") or r.startswith("| type")]
    codes = [int(c) for c in rows[0].split("|")[2:-1]]
    names = [c.strip() for c in rows[1].split("|")[2:-1]]
    assert dict(zip(codes, names)) == L.TENSOR_DTYPE_NAMES


def test_error_table_matches_codes_in_order():
    codes = [c[0].strip("`") for c in table_rows(section("11. Error codes"))]
    assert codes == list(phq.ERROR_CODES)


def test_limits_table_matches_constants():
    rows = {c[0]: c[1] for c in table_rows(section("12. Limits"))}
    assert rows["sections"] == str(L.MAX_SECTIONS)
    assert str(L.MAX_METADATA_BYTES) in rows["META size"]
    assert rows["name"] == f"{L.MAX_NAME_BYTES} bytes"
    assert rows["tensor ndim"] == str(L.MAX_TENSOR_NDIM)
    assert rows["META JSON nesting depth"] == str(L.MAX_METADATA_DEPTH)
    assert rows["num_keys of a table"] == "2^40" and L.MAX_KEYS == 2**40
    assert rows["dim"] == "2^24" and L.MAX_DIM == 2**24
    assert rows["num_partitions"] == "2^20" and L.MAX_PARTITIONS == 2**20
    assert rows["levels per partition"] == str(L.MAX_LEVELS)
    assert L.MAX_LEVEL_WORDS == 2**26 - 1 and L.MAX_PARTITION_KEYS == 2**32 - 1


def kat_rows():
    rows = []
    for c in table_rows(section("15.1 Hash scheme 1")):
        key = b"" if c[0].startswith("(empty)") else bytes.fromhex(c[0].split("`")[1])
        rows.append((key, int(c[1]), int(c[2].strip("`"), 16), int(c[3].strip("`"), 16), int(c[4]), int(c[5]), int(c[6]), int(c[7].strip("`"), 16)))
    assert len(rows) >= 8
    return rows


@pytest.mark.parametrize("key, seed, h1, h2, part, pos0, pos1, fp16", kat_rows())
def test_hash_known_answers(key, seed, h1, h2, part, pos0, pos1, fp16):
    assert key_hash(key, seed) == (h1, h2)
    assert murmur3_x64_128(key, seed) == (h1, h2)  # independent implementation
    assert partition_of(h2, 3) == part
    assert level_position(h1, h2, 0, 128) == pos0
    assert level_position(h1, h2, 1, 64) == pos1
    assert fingerprint_of(h2, 16) == fp16


def test_fmix64_known_answers():
    for arg, want in re.findall(r"`fmix64\((0x[0-9a-f]+|\d+)\) = (0x[0-9a-f]+|0)`", section("15.1 Hash scheme 1")):
        assert fmix64(int(arg, 0)) == int(want, 0)


def test_linear8_known_answers():
    rows = table_rows(section("15.2 linear8"))
    assert len(rows) == 4
    for weights, scale, zp, codes, deq in rows:
        w = np.array([float(x.replace("−", "-")) for x in weights.split(",")], dtype=np.float32)
        s, z = group_scale(w)
        assert f"{np.float32(s).view(np.uint32):08x}" == scale.split("`")[1]
        assert z == int(zp)
        q = _linear8_codes(w, s, z)
        assert q.tolist() == [int(x) for x in codes.split(",")]
        v = (q.astype(np.float32) - np.float32(z)) * np.float32(s)
        assert " ".join(f"{x:08x}" for x in v.view(np.uint32)) == deq.strip("`")


def test_crc32c_known_answer():
    import crc32c

    assert crc32c.crc32c(b"123456789") == 0xE3069283
    assert crc32c.crc32c(b"") == 0


def test_vectorized_hash_forms_match_the_scalar_ones():
    import numpy as np

    from phq.hashing import (
        fingerprint_of_np, hash_keys, level_position_np, level_positions_into, partition_of_np,
    )

    rows = kat_rows()
    keys = [r[0] for r in rows if r[1] == 0]
    h = hash_keys(keys, 0)
    assert [tuple(map(int, x)) for x in h] == [(r[2], r[3]) for r in rows if r[1] == 0]
    h1, h2 = h[:, 0].copy(), h[:, 1].copy()
    for level, bits in [(0, 128), (1, 64), (7, 2**32 - 64)]:
        want = [level_position(int(a), int(b), level, bits) for a, b in zip(h1, h2)]
        assert level_position_np(h1, h2, level, bits).tolist() == want
        assert level_positions_into(h1, h2, level, bits, np.empty(len(keys), np.int64)).tolist() == want
    assert partition_of_np(h2, 3).tolist() == [partition_of(int(b), 3) for b in h2]
    assert fingerprint_of_np(h2, 16).tolist() == [fingerprint_of(int(b), 16) for b in h2]


# --- format 1.2 (spec/format-v1.2.md) ---------------------------------------------------------
V12 = (SPEC.parent / "format-v1.2.md").read_text(encoding="utf-8")


def v12_section(heading: str) -> str:
    m = re.search(rf"^#+ {re.escape(heading)}.*?$(.*?)(?=^#)", V12, re.M | re.S)
    assert m, f"format-v1.2.md has no heading {heading!r}"
    return m.group(1)


def test_v12_tables_match_the_declarations():
    """The feature bit, section kinds and descriptor fields of format-v1.2.md are those of
    phq.layout.VERSIONS[(1, 2)] and TABLE_DESCRIPTOR_V12."""
    v11, v12 = L.VERSIONS[(1, 1)], L.VERSIONS[(1, 2)]
    bits = {int(c[0]): c[1].strip("`") for c in table_rows(v12_section("1.2 §1 Header"))}
    assert {**v11["required_features"], **bits} == v12["required_features"] and bits == {2: "COMPACT_SPARSE"}
    kinds = {int(c[0], 16): c[1].strip("`") for c in table_rows(v12_section("1.2 §2 Section kinds"))}
    assert {k: v["name"] for k, v in v12["section_kinds"].items()} == {**{k: v["name"] for k, v in v11["section_kinds"].items()}, **kinds}
    assert all(v12["gates"][("section_kind", None, k)] == "COMPACT_SPARSE" for k in kinds)
    fields = {c[3].strip("`"): (int(c[0]), int(c[1]), c[2]) for c in table_rows(v12_section("1.2 §3 TABLE descriptor"))}
    declared = {name: (off, size) for name, off, size in L.field_table(L.TABLE_DESCRIPTOR_V12)}
    assert {f: (o, s) for f, (o, s, _) in fields.items()} == {f: declared[f] for f in fields}
    assert L.compact_high_bits(12, 2) == 3 and L.compact_high_bits(0, 0) == 0 and L.compact_high_bits(1 << 24, 24) == 1

