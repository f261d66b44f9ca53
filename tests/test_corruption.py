"""Damaged and hostile files: every error code, field by field, and fuzzing.

Untrusted bytes must never crash a reader, never make it read outside the file and never
make it allocate what a count claims before checking it; only `phq.FormatError` (with a
code of spec §11) may come out of `phq.open`, `phq.validate` and table lookups.

1. Field by field (header, section-table entries, TABLE descriptor, partition records,
   tensor header): each field in turn set to 0, all ones, value + 1 and value ^ high bit,
   - as is (no checksum repaired): the code the early checksums give;
   - with the checksums in front of it recomputed (`corrupt_util.fix_*`), so the check
     behind them is reached: the code spec §10.1's order determines.
2. Targeted corruptions reaching every remaining check, with their exact codes.
3. Unknown ancillary sections are skipped (top level and inside a table group); critical
   ones are refused.
4. Text-mode damage, Git LFS pointers, truncated and empty files.
5. Lookup-time checks (§10.3) on files that pass open but not validate.
6. Hypothesis: bit flips, byte substitutions, truncation, extension: validate always
   refuses; open + lookups raise nothing but FormatError and return well-shaped rows.
7. Every single-bit flip of one small file is refused by validate.
8. Resource caps: absurd counts are refused in a subprocess limited to ~1 GiB of address
   space.
The last test checks that the codes produced above cover every code of ERROR_CODES.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

import phq
from corrupt_util import (
    DESCRIPTOR_FIELDS,
    ENTRY_FIELDS,
    HEADER_FIELDS,
    PARTITION_FIELDS,
    TENSOR_FIELDS,
    assemble,
    bad_values,
    edit_entry,
    edit_header,
    edit_section,
    entries,
    find,
    fix_header,
    fix_section,
    get_struct_field,
    get_uint,
    raw_section,
    set_struct_field,
    set_uint,
    u64s,
    write_image,
)
from phq import layout as L
from phq.writer.build import Options, build_sections, tensor_section
from phq.writer.serialize import SectionOut

RAN_HERE: set[str] = set()  # test functions of this module that started in this process


@pytest.fixture(autouse=True)
def _record_run(request):
    RAN_HERE.add(request.node.originalname)

# --- fixtures: small files built by the writer ------------------------------------------


def _keys(n: int, prefix: str = "k") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def _rows(seed: int, n: int, dim: int, density: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    r = rng.normal(size=(n, dim)).astype(np.float32)
    if density < 1:
        r[rng.random((n, dim)) > density] = 0
    return r


# name -> writer arguments. All small (about 1-2 KB).
SPECS = {
    # dense linear8, column scales, plus metadata: also the file of the exhaustive flip test
    "dense": dict(tables={"t": (_keys(20), _rows(1, 20, 4))}, metadata={"a": 1}, layout="dense"),
    "sparse": dict(tables={"s": (_keys(30), _rows(2, 30, 16, 0.15))}, layout="sparse"),
    "rowblock": dict(tables={"r": (_keys(30), _rows(3, 30, 3))}, scale="row-block", block_rows=4, layout="dense"),
    "f16": dict(tables={"h": (_keys(10), _rows(4, 10, 3))}, quant="f16", fingerprint_bits=8),
    "f32": dict(tables={"f": (_keys(10), _rows(5, 10, 3))}, quant="f32", fingerprint_bits=32),
    "tensors": dict(
        tables={"t": (_keys(5), _rows(6, 5, 2))},
        tensors={"bias": np.arange(3, dtype=np.float32), "m": np.ones((2, 3), np.int16)},
        metadata={"labels": ["x", "y"]},
    ),
    # one level only: 15 of the 40 keys go to the fallback list
    "fallback": dict(tables={"t": (_keys(40), _rows(7, 40, 2))}, max_levels=1, gamma=1.0),
    # three partitions, each with fallback keys
    "parts": dict(tables={"t": (_keys(60), _rows(8, 60, 2))}, partitions=3, max_levels=1, gamma=1.0),
    "empty": dict(tables={"e": ([], np.zeros((0, 3), np.float32))}),
    "dim0": dict(tables={"z": (_keys(5), np.zeros((5, 0), np.float32))}),
}
WRITER_FIXTURES = list(SPECS)
ALL_FIXTURES = WRITER_FIXTURES + ["sparse8"]  # sparse8: the sparse table with an 8-byte row index
ABSENT = ["absent", "", "k9999", "zz"]


def sections(name: str) -> list[SectionOut]:
    """The writer's sections of a fixture (fresh objects each call)."""
    if name == "sparse8":
        return _sparse8_sections()
    kw = dict(SPECS[name])
    tables, tensors, metadata = kw.pop("tables"), kw.pop("tensors", None), kw.pop("metadata", None)
    return build_sections(tables, tensors, metadata, Options(**kw), None)


def _descriptor(sec: SectionOut) -> dict:
    raw = b"".join(bytes(v) for v in sec.views())
    d = dict(L.TABLE_DESCRIPTOR.parse(raw[: L.TABLE_DESCRIPTOR_SIZE]))
    d.pop("_io", None)
    return d


def _with_descriptor(sec: SectionOut, **changes) -> SectionOut:
    raw = b"".join(bytes(v) for v in sec.views())
    d = _descriptor(sec)
    d.update(changes)
    return dataclasses.replace(sec, buffers=[L.TABLE_DESCRIPTOR.build(d), raw[L.TABLE_DESCRIPTOR_SIZE :]])


def _sparse8_sections() -> list[SectionOut]:
    """The "sparse" fixture rewritten with index_width 8 (the writer uses 8 only from 2^32
    stored values on): a valid file whose row index holds u64 entries."""
    secs = sections("sparse")
    kinds = [s.kind for s in secs]
    t, ri = kinds.index(L.KIND_TABLE), kinds.index(L.KIND_ROW_INDEX)
    secs[t] = _with_descriptor(secs[t], index_width=8)
    index = np.frombuffer(b"".join(bytes(v) for v in secs[ri].views()), "<u4").astype("<u8")
    secs[ri] = dataclasses.replace(secs[ri], buffers=[index])
    return secs


def present_keys(name: str) -> list[str]:
    if name == "sparse8":
        name = "sparse"
    return [k for keys, _ in SPECS[name]["tables"].values() for k in keys]


def relayout(secs: list[SectionOut]) -> bytes:
    """Assemble sections after inserting/removing some: every owned section gets the index
    of the nearest TABLE before it as its owner."""
    out, table = [], None
    for i, s in enumerate(secs):
        if s.kind == L.KIND_TABLE and s.owner == L.NO_OWNER:
            table = i
        if s.owner != L.NO_OWNER and table is not None:
            s = dataclasses.replace(s, owner=table)
        out.append(s)
    return assemble(out)


@functools.cache
def image(name: str) -> bytes:
    if name == "bare":  # no sections at all: a 64-byte header (spec §14)
        return assemble([])
    return assemble(sections(name))


# --- running the reader -------------------------------------------------------------------
PRODUCED: set[str] = set()  # every FormatError code any test here has seen


def _note(e: phq.FormatError) -> str:
    PRODUCED.add(e.code)
    return e.code


def validate_code(path_dir, data: bytes, name: str = "x.phq") -> str | None:
    """The code phq.validate raises on `data` (None: the file is valid). Any exception
    other than FormatError propagates and fails the test."""
    path = write_image(path_dir / name, data)
    try:
        model = phq.validate(path)
    except phq.FormatError as e:
        return _note(e)
    model.close()
    return None


def open_code(path_dir, data: bytes, name: str = "x.phq") -> str | None:
    """The code phq.open raises on `data` (None: it opens)."""
    path = write_image(path_dir / name, data)
    try:
        model = phq.open(path)
    except phq.FormatError as e:
        return _note(e)
    model.close()
    return None


def check_pair(tmp_path, fixed: bytes, raw: bytes, expected: str | None, what: str) -> None:
    """`fixed` has the corruption with its checksums repaired, `raw` the same corruption
    without repair. validate must give `expected` on `fixed` (None: the file is valid);
    on `raw`, the structural code if open already refuses `fixed`, else E_CHECKSUM
    (spec §10: structural checks first, then checksums, then the rest)."""
    got = validate_code(tmp_path, fixed)
    assert got == expected, f"{what}: validate gave {got}, expected {expected}"
    at_open = open_code(tmp_path, fixed)
    got_raw = validate_code(tmp_path, raw)
    assert got_raw == (at_open or "E_CHECKSUM"), f"{what} (checksum not repaired): got {got_raw}"


# --- 1. field by field --------------------------------------------------------------------
def expected_header_code(img: bytes, name: str, value: int) -> str | None:
    """§10.1 steps 1-13 for one header field changed, the header CRCs recomputed."""
    count = get_struct_field(img, 0, HEADER_FIELDS, "section_count")
    if name == "signature":
        return "E_TEXT_MODE" if value.to_bytes(8, "little")[1:4] == b"PHQ" else "E_SIGNATURE"
    simple = {
        "major": "E_VERSION",
        "header_size": "E_HEADER_SIZE",
        "required_features": "E_FEATURE",  # unknown bits (known ones: below)
        "reserved": "E_RESERVED",
        "section_table_offset": "E_SECTION_TABLE",
    }
    if name == "required_features" and not value & ~L.KNOWN_REQUIRED_FEATURES:
        return None  # a known 1.1 bit (LINEAR4, CODEBOOK) on a file that does not use it: harmless (v1.1 §1)
    if name in simple:
        return simple[name]
    if name in ("minor", "optional_features"):
        return None  # §3.2/§3.3: every minor of major 1 and unknown optional bits are accepted
    if name == "file_size":
        return "E_TRUNCATED" if value > len(img) else "E_FILE_SIZE"
    if name == "section_count":
        if value > L.MAX_SECTIONS:
            return "E_LIMIT"
        if L.HEADER_SIZE + L.SECTION_ENTRY_SIZE * value > len(img):
            return "E_TRUNCATED"
        if value == 0:
            return "E_SECTION_GAP"  # no sections, yet bytes follow the header
        assert value == count + 1
        # one entry more: section 0 now starts before align64(end of the table), or, when
        # that rounds to the same place, the extra entry (zero padding) has offset 0
        return "E_SECTION_OVERLAP"
    raise AssertionError(name)


HEADER_FIXTURES = WRITER_FIXTURES + ["bare", "sparse8"]


@pytest.mark.parametrize("fixture", HEADER_FIXTURES)
@pytest.mark.parametrize("fld", HEADER_FIELDS, ids=lambda f: f.name)
def test_header_field_unrepaired(tmp_path, fixture, fld):
    """Any header byte but signature, major and header_size is caught by the header CRC."""
    img = image(fixture)
    orig = get_uint(img, fld.offset, fld.size)
    for label, value in bad_values(orig, fld.size):
        data = edit_header(img, fld.name, value, fix=False)
        if fld.name == "signature":
            want = expected_header_code(img, "signature", value)
        else:
            want = {"major": "E_VERSION", "header_size": "E_HEADER_SIZE"}.get(fld.name, "E_HEADER_CHECKSUM")
        assert validate_code(tmp_path, data) == want, f"{fld.name}={label}"


@pytest.mark.parametrize("fixture", HEADER_FIXTURES)
@pytest.mark.parametrize(
    "fld", [f for f in HEADER_FIELDS if f.name not in ("section_table_checksum", "header_checksum")], ids=lambda f: f.name
)
def test_header_field_behind_checksum(tmp_path, fixture, fld):
    """The header CRCs recomputed: the check the field itself is subject to fires."""
    img = image(fixture)
    orig = get_uint(img, fld.offset, fld.size)
    for label, value in bad_values(orig, fld.size):
        data = edit_header(img, fld.name, value)
        want = expected_header_code(img, fld.name, value)
        assert validate_code(tmp_path, data) == want, f"{fld.name}={label} ({value:#x})"


def expected_entry_code(img: bytes, e, name: str, value: int) -> str:
    """§10.1 steps 12-15 for one section-table field changed, the header CRCs recomputed."""
    if name in ("reserved", "flags"):
        # flags: unknown bits, or the ANCILLARY bit on a kind this version defines (§4.2)
        return "E_RESERVED"
    if name == "checksum":
        return "E_CHECKSUM"
    if name == "owner":
        # META/TENSOR/TABLE cannot have an owner; a part's owner must be its TABLE; a part
        # without owner closes the group and "needs the owner of its TABLE"
        return "E_SECTION_ORDER"
    if name == "offset":
        if value % L.ALIGNMENT:
            return "E_SECTION_ALIGN"
        return "E_SECTION_OVERLAP" if value < e.offset else "E_SECTION_GAP"
    if name == "size":
        if e.kind == L.KIND_META and value > L.MAX_METADATA_BYTES:
            return "E_LIMIT"  # §10.1 step 12: the META cap is checked before bounds
        if e.offset + value > len(img):
            return "E_SECTION_BOUNDS"
        new_end, old_end = L.align(e.offset + value), L.align(e.offset + e.size)
        if new_end < old_end:
            return "E_SECTION_GAP"
        if new_end > old_end:
            return "E_SECTION_OVERLAP"  # the next section now starts too early
        # same 64-byte block: the layout still tiles, the section's own check fails (the
        # extra byte is a zero padding byte: trailing garbage after the JSON text)
        return "E_METADATA" if e.kind == L.KIND_META else "E_SECTION_SIZE"
    if name == "kind":
        if value not in L.SECTION_NAMES:
            return "E_UNKNOWN_SECTION"  # critical (flags 0) and unknown
        if e.kind == L.KIND_META and value == L.KIND_TENSOR:  # JSON text read as a tensor
            body = img[e.offset : e.offset + e.size]
            return "E_SECTION_SIZE" if len(body) < L.TENSOR_HEADER_SIZE else "E_RESERVED" if any(body[4:8]) else "?"
        return "E_SECTION_ORDER"  # a part without owner, or the parts list changed
    raise AssertionError(name)


@pytest.mark.parametrize("fixture", ALL_FIXTURES)
def test_section_table_fields(tmp_path, fixture):
    """Every field of every entry: unrepaired -> E_HEADER_CHECKSUM (the header holds the
    section table's CRC); repaired -> the code of the layout/ownership check."""
    img = image(fixture)
    for e in entries(img):
        for fld in ENTRY_FIELDS:
            orig = get_uint(img, e.at + fld.offset, fld.size)
            for label, value in bad_values(orig, fld.size):
                what = f"section {e.index} ({L.SECTION_NAMES[e.kind]}) {fld.name}={label}"
                raw = edit_entry(img, e.index, fld.name, value, fix=False)
                assert validate_code(tmp_path, raw) == "E_HEADER_CHECKSUM", what
                got = validate_code(tmp_path, edit_entry(img, e.index, fld.name, value))
                assert got == expected_entry_code(img, e, fld.name, value), f"{what}: {got}"


def expected_descriptor_code(d: dict, name: str, v: int) -> str | None:
    """§10.1 step 15 for one TABLE descriptor field changed, the TABLE CRC recomputed.
    None: the result is another valid file (the field is informational, or the change is
    not visible in any size)."""
    n = d["num_keys"]
    linear = d["quant"] == L.QUANT_LINEAR8
    if name.startswith("reserved"):
        return "E_RESERVED"
    if name == "name_len":
        return "E_SECTION_SIZE"  # TABLE size must be 64 + name_len
    if name in ("seed", "gamma_milli"):
        return None  # any seed is valid (only lookups would notice); gamma is informational
    if name == "hash_scheme":
        return "E_ENUM"
    if name == "quant":
        if v not in L.QUANT_NAMES or (v == L.QUANT_LINEAR8) != linear:
            return "E_ENUM"  # undefined, or scale_granularity no longer fits
        return "E_SECTION_SIZE" if n * d["dim"] else None  # f32 <-> f16: ROWS size
    if name == "layout":
        return "E_ENUM"  # undefined, or index/column widths no longer fit the layout
    if name == "fingerprint_bits":
        if v not in L.FINGERPRINT_WIDTHS:
            return "E_ENUM"
        return "E_SECTION_SIZE" if n else None  # FINGERPRINTS size n * bits / 8
    if name == "scale_granularity":
        if v not in L.SCALE_NAMES or (v == L.SCALE_NONE) == linear:
            return "E_ENUM"
        if (v == L.SCALE_ROW_BLOCK) != (d["scale_block_rows"] > 0):
            return "E_ENUM"
        return "E_SECTION_SIZE"  # SCALES record count changes
    if name == "scale_block_rows":
        if (d["scale_granularity"] == L.SCALE_ROW_BLOCK) != (v > 0):
            return "E_ENUM"
        same = -(-n // v) == -(-n // d["scale_block_rows"])
        return None if same else "E_SECTION_SIZE"
    if name in ("index_width", "column_width"):
        allowed = L.INDEX_DTYPES if name == "index_width" else L.COLUMN_DTYPES
        if d["layout"] == L.LAYOUT_DENSE or v not in allowed:
            return "E_ENUM"
        return "E_SECTION_SIZE"  # ROW_INDEX / COLUMNS sizes
    if name == "num_keys":
        return "E_LIMIT" if v > L.MAX_KEYS else "E_MPH"  # Σ key_count = num_keys
    if name == "dim":
        return "E_LIMIT" if v > L.MAX_DIM else "E_SECTION_SIZE"  # column SCALES or nnz = n * dim
    if name == "num_partitions":
        return "E_LIMIT" if not 1 <= v <= L.MAX_PARTITIONS else "E_SECTION_SIZE"  # MPH_PARTITIONS
    if name == "nnz":
        if d["layout"] == L.LAYOUT_SPARSE and d["index_width"] == 4 and v >= 1 << 32:
            return "E_SPARSE"
        return "E_SECTION_SIZE"
    raise AssertionError(name)


@pytest.mark.parametrize("fixture", ALL_FIXTURES)
@pytest.mark.parametrize("fld", DESCRIPTOR_FIELDS, ids=lambda f: f.name)
def test_table_descriptor_fields(tmp_path, fixture, fld):
    img = image(fixture)
    t = find(img, L.KIND_TABLE)
    d = dict(L.TABLE_DESCRIPTOR.parse(img[t.offset : t.offset + L.TABLE_DESCRIPTOR_SIZE]))
    orig = d[fld.name]
    for label, value in bad_values(orig, fld.size):
        raw = edit_section(img, t.index, fld.offset, value.to_bytes(fld.size, "little"), fix=False)
        fixed = fix_section(bytearray(raw), t.index)
        check_pair(tmp_path, fixed, raw, expected_descriptor_code(d, fld.name, value), f"{fld.name}={label}")


def _partitions(img: bytes, t) -> list[dict]:
    """Partition records of the table whose TABLE entry is t, with their level words."""
    es = entries(img)
    prt, lvl = es[t.index + 1], es[t.index + 2]
    levels = np.frombuffer(img[lvl.offset : lvl.offset + lvl.size], "<u4")
    out, first = [], 0
    for p in range(prt.size // 16):
        rec = {f.name: get_struct_field(img, prt.offset + 16 * p, PARTITION_FIELDS, f.name) for f in PARTITION_FIELDS}
        rec["words"] = int(levels[first : first + rec["level_count"]].sum())
        first += rec["level_count"]
        out.append(rec)
    return out


def expected_partition_code(rec: dict, name: str, v: int) -> str:
    """§5.5.1 and the order of §10.1 step 15 for one partition-record field."""
    if name == "reserved":
        return "E_RESERVED"
    if name == "key_count":
        return "E_MPH"  # Σ key_count != num_keys
    if name == "fallback_count":
        if v > rec["key_count"] or rec["key_count"] - v > 64 * rec["words"]:
            return "E_MPH"
        return "E_SECTION_SIZE"  # MPH_FALLBACK size = 16 × Σ fallback_count
    if name == "level_count":
        return "E_LIMIT" if v > L.MAX_LEVELS else "E_SECTION_SIZE"  # MPH_LEVELS size = 4 × Σ level_count
    raise AssertionError(name)


@pytest.mark.parametrize("fixture", ALL_FIXTURES)
def test_partition_record_fields(tmp_path, fixture):
    img = image(fixture)
    t = find(img, L.KIND_TABLE)
    prt = entries(img)[t.index + 1]
    assert prt.kind == L.KIND_MPH_PARTITIONS
    for p, rec in enumerate(_partitions(img, t)):
        for fld in PARTITION_FIELDS:
            for label, value in bad_values(rec[fld.name], fld.size):
                raw = edit_section(img, prt.index, 16 * p + fld.offset, value.to_bytes(fld.size, "little"), fix=False)
                fixed = fix_section(bytearray(raw), prt.index)
                want = expected_partition_code(rec, fld.name, value)
                check_pair(tmp_path, fixed, raw, want, f"partition {p} {fld.name}={label}")


def tensor_oracle(body: bytes) -> str | None:
    """Spec §5.3 / §10.1 step 14 for one TENSOR section, written from the spec."""
    if len(body) < 8:
        return "E_SECTION_SIZE"
    dtype, ndim, name_len, reserved = body[0], body[1], int.from_bytes(body[2:4], "little"), body[4:8]
    if any(reserved):
        return "E_RESERVED"
    if dtype not in L.TENSOR_DTYPES:
        return "E_ENUM"
    if ndim > L.MAX_TENSOR_NDIM:
        return "E_LIMIT"
    prefix = 8 + 8 * ndim + name_len
    if prefix > len(body):
        return "E_SECTION_SIZE"
    name = body[8 + 8 * ndim : prefix]
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return "E_NAME"
    if not 1 <= len(name) <= 255:
        return "E_NAME"
    nbytes = L.TENSOR_DTYPES[dtype].itemsize
    for i in range(ndim):
        nbytes *= int.from_bytes(body[8 + 8 * i : 16 + 8 * i], "little")
    if nbytes >= 1 << 64:
        return "E_OVERFLOW"
    if L.align(prefix) + nbytes != len(body):
        return "E_SECTION_SIZE"
    if any(body[prefix : L.align(prefix)]):
        return "E_PADDING"
    return None


@pytest.mark.parametrize("nth", [0, 1])
def test_tensor_header_fields(tmp_path, nth):
    img = image("tensors")
    e = find(img, L.KIND_TENSOR, nth)
    body = img[e.offset : e.offset + e.size]
    assert tensor_oracle(body) is None
    for fld in TENSOR_FIELDS:
        for label, value in bad_values(get_uint(body, fld.offset, fld.size), fld.size):
            new = value.to_bytes(fld.size, "little")
            raw = edit_section(img, e.index, fld.offset, new, fix=False)
            fixed = fix_section(bytearray(raw), e.index)
            want = tensor_oracle(body[: fld.offset] + new + body[fld.offset + fld.size :])
            check_pair(tmp_path, fixed, raw, want, f"tensor {nth} {fld.name}={label}")


@pytest.mark.parametrize("size", [0, 1, 4, 7])
def test_a_tensor_under_8_bytes_is_a_section_size_error_in_every_reader(tmp_path, size):
    """§10.1 step 14: a TENSOR shorter than its 8-byte fixed header is E_SECTION_SIZE (Python
    pure and accelerated here; the C and JavaScript readers through their conformance adapters)."""
    import shutil

    from test_c_agreement import ROOT, c_binary

    img = assemble([raw_section(L.KIND_TENSOR, bytes([1, 0, 0, 0, 0, 0, 0])[:size])])
    assert validate_code(tmp_path, img) == "E_SECTION_SIZE"
    path = write_image(tmp_path / "t.phq", img)
    adapters = [[str(c_binary("phq-c-conform")), path]]
    if shutil.which("node"):
        adapters.append(["node", str(ROOT / "js" / "bin" / "phq-conform.js"), path])
    for cmd in adapters:
        out = subprocess.run(cmd, input=b"", capture_output=True, timeout=60).stdout.decode()
        assert out.startswith("error E_SECTION_SIZE "), (cmd[0], out)


def test_tensor_shape_fields(tmp_path):
    """Each u64 of a tensor's shape: 0, all ones, +1, ^high bit."""
    img = image("tensors")
    for nth in (0, 1):
        e = find(img, L.KIND_TENSOR, nth)
        body = img[e.offset : e.offset + e.size]
        for i in range(body[1]):
            at = 8 + 8 * i
            for label, value in bad_values(get_uint(body, at, 8), 8):
                raw = edit_section(img, e.index, at, u64s(value), fix=False)
                fixed = fix_section(bytearray(raw), e.index)
                want = tensor_oracle(body[:at] + u64s(value) + body[at + 8 :])
                assert want in ("E_SECTION_SIZE", "E_OVERFLOW")
                check_pair(tmp_path, fixed, raw, want, f"tensor {nth} shape[{i}]={label}")


def test_forward_compatible_header_fields_are_accepted(tmp_path):
    """§3.2/§3.3: a later minor version and unknown optional feature bits must be read."""
    img = image("dense")
    data = edit_header(edit_header(img, "minor", 7), "optional_features", (1 << 64) - 1)
    assert validate_code(tmp_path, data) is None


# --- 2. targeted structural corruptions ---------------------------------------------------
def _section_of(img, kind, nth=0):
    return find(img, kind, nth)


def _edit(name, kind, offset, new, nth=0, fix=True):
    img = image(name)
    e = _section_of(img, kind, nth)
    if offset < 0:
        offset += e.size
    return edit_section(img, e.index, offset, new, fix=fix)


def _replace(name, kind, payload: bytes, nth=0) -> bytes:
    secs = sections(name)
    idx = [i for i, s in enumerate(secs) if s.kind == kind][nth]
    secs[idx] = dataclasses.replace(secs[idx], buffers=[payload])
    return relayout(secs)


def _f32(x: float) -> bytes:
    return np.float32(x).tobytes()


def _padding_after(name: str, kind: int) -> bytes:
    img = bytearray(image(name))
    e = _section_of(img, kind)
    assert L.align(e.offset + e.size) > e.offset + e.size
    img[e.offset + e.size] = 1
    return bytes(img)


def _final_padding() -> bytes:
    img = bytearray(image("dense"))
    last = entries(img)[-1]
    assert last.offset + last.size < len(img)
    img[-1] = 0x80
    return bytes(img)


def _table_padding() -> bytes:
    """A byte of the padding between the section table and section 0 (odd count)."""
    img = bytearray(image("sparse"))  # 11 entries: the table ends at 416, section 0 at 448
    end = L.HEADER_SIZE + L.SECTION_ENTRY_SIZE * len(entries(img))
    assert end % L.ALIGNMENT
    img[end] = 7
    return bytes(img)


def _bitmap_bit(name: str, word: int, bit: int = 0) -> bytes:
    img = image(name)
    e = _section_of(img, L.KIND_MPH_BITMAP)
    w = int.from_bytes(img[e.offset + 8 * word : e.offset + 8 * word + 8], "little") ^ (1 << bit)
    return edit_section(img, e.index, 8 * word, u64s(w))


def _used_words(name: str) -> int:
    img = image(name)
    lvl = _section_of(img, L.KIND_MPH_LEVELS)
    return int(np.frombuffer(img[lvl.offset : lvl.offset + lvl.size], "<u4").sum())


def _two_tables_same_name() -> bytes:
    secs = build_sections({"t": (_keys(4), _rows(9, 4, 2)), "u": (_keys(4, "x"), _rows(10, 4, 2))}, None, None, Options(), None)
    img = assemble(secs)
    second = find(img, L.KIND_TABLE, 1)
    return edit_section(img, second.index, L.TABLE_DESCRIPTOR_SIZE, b"t")


def _two_tensors_same_name() -> bytes:
    return assemble([tensor_section("a", np.zeros(2, np.float32)), tensor_section("a", np.ones(3, np.int8))])


def _two_metas() -> bytes:
    secs = sections("dense")
    return relayout([secs[0], raw_section(L.KIND_META, b"{}")] + secs[1:])


def _table_name(name_bytes: bytes) -> bytes:
    secs = sections("dense")
    t = [s.kind for s in secs].index(L.KIND_TABLE)
    d = _descriptor(secs[t])
    d["name_len"] = len(name_bytes)
    secs[t] = dataclasses.replace(secs[t], buffers=[L.TABLE_DESCRIPTOR.build(d), name_bytes])
    return relayout(secs)


def _drop_part(kind: int) -> bytes:
    return relayout([s for s in sections("dense") if s.kind != kind])


def _swap_parts(a: int, b: int) -> bytes:
    secs = sections("dense")
    kinds = [s.kind for s in secs]
    i, j = kinds.index(a), kinds.index(b)
    secs[i], secs[j] = secs[j], secs[i]
    return relayout(secs)


def _extra_sparse_part() -> bytes:
    secs = sections("dense")
    return relayout(secs + [SectionOut(L.KIND_ROW_INDEX, owner=0, buffers=[b"\0" * 84])])


def _part_of_other_table() -> bytes:
    """The second table's ROWS claim the first TABLE as owner."""
    secs = build_sections({"t": (_keys(4), _rows(9, 4, 2)), "u": (_keys(4, "x"), _rows(10, 4, 2))}, None, None, Options(), None)
    img = assemble(secs)
    first, last = find(img, L.KIND_TABLE, 0), entries(img)[-1]
    return edit_entry(img, last.index, "owner", first.index)


def _tensor(arr, shape=None, name=b"x", pad_byte=0) -> bytes:
    """A one-TENSOR file holding arr's bytes under the given shape and name (the shape
    need not match the data)."""
    arr = np.asarray(arr)
    code = next(c for c, dt in L.TENSOR_DTYPES.items() if dt == arr.dtype)
    shape = list(arr.shape) if shape is None else shape
    head = L.TENSOR_HEADER.build(dict(dtype=code, ndim=len(shape), name_len=len(name), reserved=0))
    prefix = 8 + 8 * len(shape) + len(name)
    pad = bytearray(L.align(prefix) - prefix)
    if pad_byte:
        pad[-1] = pad_byte
    payload = head + u64s(*shape) + name + bytes(pad) + arr.tobytes()
    return assemble([raw_section(L.KIND_TENSOR, payload)])


def _fallback_swap() -> bytes:
    img = image("fallback")
    e = _section_of(img, L.KIND_MPH_FALLBACK)
    a, b = img[e.offset : e.offset + 16], img[e.offset + 16 : e.offset + 32]
    return edit_section(img, e.index, 0, b + a)


def _fallback_wrong_partition() -> bytes:
    """Partition 0's last fallback pair replaced by one that sorts last (h1 = 2^64 - 1) but
    whose h2 belongs to partition 1 of 3: only the partition check can catch it."""
    img = image("parts")
    t = find(img, L.KIND_TABLE)
    fb0 = _partitions(img, t)[0]["fallback_count"]
    assert fb0 >= 1
    e = _section_of(img, L.KIND_MPH_FALLBACK)
    return edit_section(img, e.index, 16 * (fb0 - 1), u64s((1 << 64) - 1, 1 << 63))


def _rank_entry(name: str, value: int, index: int = 0) -> bytes:
    return _edit(name, L.KIND_MPH_RANK, 8 * index, u64s(value))


def _sparse_index(name: str, slot: int, value: int) -> bytes:
    img = image(name)
    width = 8 if name == "sparse8" else 4
    e = _section_of(img, L.KIND_ROW_INDEX)
    return edit_section(img, e.index, width * slot, value.to_bytes(width, "little"))


def _sparse_columns_row(slot_row: int, new_cols: bytes) -> bytes:
    img = image("sparse")
    ri = _section_of(img, L.KIND_ROW_INDEX)
    index = np.frombuffer(img[ri.offset : ri.offset + ri.size], "<u4")
    start, end = int(index[slot_row]), int(index[slot_row + 1])
    assert end - start >= len(new_cols)
    cols = _section_of(img, L.KIND_COLUMNS)
    return edit_section(img, cols.index, start, new_cols)


def _sparse_row_with(n_values: int) -> int:
    img = image("sparse")
    ri = _section_of(img, L.KIND_ROW_INDEX)
    index = np.frombuffer(img[ri.offset : ri.offset + ri.size], "<u4")
    return int(np.flatnonzero(np.diff(index.astype(np.int64)) >= n_values)[0])


def _deep_json(depth: int) -> bytes:
    return b'{"a":' + b"[" * depth + b"]" * depth + b"}"


def _meta_over_limit(tmp_dir) -> str:
    """A real file whose META section is 16 MiB + 1 bytes (sparse on disk: zeros)."""
    size = L.MAX_METADATA_BYTES + 1
    return _file_with_one_section(tmp_dir, L.KIND_META, size, "meta_big.phq")


def _file_with_one_section(tmp_dir, kind: int, size: int, name: str) -> str:
    return _sparse_file(tmp_dir / name, [(kind, L.NO_OWNER, size)])


def _sparse_file(path, parts) -> str:
    """A file laid out per §2 from (kind, owner, bytes or size) parts; a part given by its
    size is left as a hole of zeros (a sparse file: no disk blocks). Section CRCs are 0
    (only open-time checks are meant to run); the header CRCs are right."""
    pos = L.align(L.HEADER_SIZE + L.SECTION_ENTRY_SIZE * len(parts))
    table, blobs = [], []
    for kind, owner, content in parts:
        size = len(content) if isinstance(content, bytes) else content
        table.append(L.SECTION_ENTRY.build(dict(kind=kind, flags=0, owner=owner, offset=pos, size=size, checksum=0, reserved=0)))
        if isinstance(content, bytes):
            blobs.append((pos, content))
        pos = L.align(pos + size)
    head = L.HEADER.build(dict(
        signature=L.SIGNATURE, major=1, minor=0, header_size=64, required_features=0, optional_features=0,
        file_size=pos, section_table_offset=64, section_count=len(parts), section_table_checksum=0, reserved=0,
        header_checksum=0))
    path = write_image(path, bytes(fix_header(bytearray(head + b"".join(table)))))
    with open(path, "r+b") as f:
        for at, blob in blobs:
            f.seek(at)
            f.write(blob)
        f.truncate(pos)
    return path


def _rank_value(name: str, index: int = 0) -> int:
    img = image(name)
    e = _section_of(img, L.KIND_MPH_RANK)
    return get_uint(img, e.offset + 8 * index, 8)


def _keys_beyond_bits() -> bytes:
    """The empty table claiming one key (num_keys 1, key_count 1) placed in levels it
    does not have (0 levels): ones[p] = 1 > 64 × 0 level words."""
    img = image("empty")
    t = find(img, L.KIND_TABLE)
    data = edit_section(img, t.index, 0, u64s(1))  # num_keys 1
    prt = find(data, L.KIND_MPH_PARTITIONS)
    return edit_section(data, prt.index, 0, (1).to_bytes(4, "little"))  # key_count 1, no level


def _owned_after_group() -> bytes:
    """An ancillary section owned by the TABLE, after an owner-less section closed the
    group: its owner is no longer 'the TABLE of the open group'."""
    secs = sections("dense")
    t = [s.kind for s in secs].index(L.KIND_TABLE)
    secs = secs + [tensor_section("after", np.zeros(1, np.float32)), raw_section(0x7001, b"x", owner=t, flags=1)]
    return assemble(secs)


# (id, builder, expected validate code)
TARGETED = [
    # padding (§2, §10.1 steps 12-13, §10.2 step 3)
    ("padding after META", lambda: _padding_after("dense", L.KIND_META), "E_PADDING"),
    ("padding after TABLE", lambda: _padding_after("dense", L.KIND_TABLE), "E_PADDING"),
    ("padding after section table", _table_padding, "E_PADDING"),
    ("final padding", _final_padding, "E_PADDING"),
    ("tensor padding before data", lambda: _tensor(np.zeros(2, np.float32), pad_byte=1), "E_PADDING"),
    ("bitmap padding word", lambda: _bitmap_bit("dense", _used_words("dense")), "E_PADDING"),
    # MPH (§5.5.1-§5.5.3)
    ("bitmap one bit more or less", lambda: _bitmap_bit("dense", 0, 63), "E_MPH"),
    ("level words 0", lambda: _edit("dense", L.KIND_MPH_LEVELS, 0, (0).to_bytes(4, "little")), "E_MPH"),
    ("level words 2^26", lambda: _edit("dense", L.KIND_MPH_LEVELS, 0, (1 << 26).to_bytes(4, "little")), "E_MPH"),
    ("level_count 65", lambda: _edit("dense", L.KIND_MPH_PARTITIONS, 8, (65).to_bytes(4, "little")), "E_LIMIT"),
    ("keys do not fit the levels", lambda: _keys_beyond_bits(), "E_MPH"),
    # rank (§5.5.4, validate)
    ("rank entry off by one", lambda: _rank_entry("dense", _rank_value("dense") + (1 << 32)), "E_RANK"),
    ("rank entry bit 63", lambda: _rank_entry("dense", _rank_value("dense") | (1 << 63)), "E_RANK"),
    # fallback (§5.5.5)
    ("fallback out of order", _fallback_swap, "E_FALLBACK"),
    ("fallback in wrong partition", _fallback_wrong_partition, "E_FALLBACK"),
    # scales (§5.5.7)
    ("scale 0", lambda: _edit("dense", L.KIND_SCALES, 0, _f32(0.0)), "E_SCALE"),
    ("scale negative", lambda: _edit("dense", L.KIND_SCALES, 8, _f32(-1.0)), "E_SCALE"),
    ("scale NaN", lambda: _edit("rowblock", L.KIND_SCALES, 0, _f32(np.nan)), "E_SCALE"),
    ("scale inf", lambda: _edit("sparse", L.KIND_SCALES, 0, _f32(np.inf)), "E_SCALE"),
    ("zero point 256", lambda: _edit("dense", L.KIND_SCALES, 4, (256).to_bytes(4, "little")), "E_SCALE"),
    ("zero point -1", lambda: _edit("rowblock", L.KIND_SCALES, 4, (-1).to_bytes(4, "little", signed=True)), "E_SCALE"),
    # sparse (§5.5.9, §5.5.10)
    ("row_index[0] != 0", lambda: _sparse_index("sparse", 0, 1), "E_SPARSE"),
    ("row_index[n] != nnz", lambda: _sparse_index("sparse", 30, _nnz("sparse") - 1), "E_SPARSE"),
    ("row_index decreasing", lambda: _sparse_index("sparse", 15, 0), "E_SPARSE"),
    ("row_index u64 decreasing", lambda: _sparse_index("sparse8", 15, (1 << 64) - 1), "E_SPARSE"),
    ("column >= dim", lambda: _sparse_columns_row(_sparse_row_with(1), bytes([16])), "E_SPARSE"),
    ("columns not ascending", lambda: _sparse_columns_row(_sparse_row_with(2), bytes([5, 5])), "E_SPARSE"),
    # float values (§5.3, §5.5.8)
    ("f32 weight NaN", lambda: _edit("f32", L.KIND_ROWS, 4, _f32(np.nan)), "E_VALUE"),
    ("f32 weight -inf", lambda: _edit("f32", L.KIND_ROWS, -4, _f32(-np.inf)), "E_VALUE"),
    ("f16 weight inf", lambda: _edit("f16", L.KIND_ROWS, 2, np.float16(np.inf).tobytes()), "E_VALUE"),
    ("f32 tensor NaN", lambda: _edit("tensors", L.KIND_TENSOR, -4, _f32(np.nan)), "E_VALUE"),
    # names (§5.1)
    ("table name not UTF-8", lambda: _edit("dense", L.KIND_TABLE, L.TABLE_DESCRIPTOR_SIZE, b"\xff"), "E_NAME"),
    ("table name empty", lambda: _table_name(b""), "E_NAME"),
    ("table name 256 bytes", lambda: _table_name(b"n" * 256), "E_NAME"),
    ("tensor name not UTF-8", lambda: _tensor(np.zeros(2, np.float32), name=b"\xc3("), "E_NAME"),
    ("two tables one name", _two_tables_same_name, "E_DUPLICATE_NAME"),
    ("two tensors one name", _two_tensors_same_name, "E_DUPLICATE_NAME"),
    ("two META sections", _two_metas, "E_DUPLICATE_SECTION"),
    # metadata (§5.2)
    ("metadata not JSON", lambda: _replace("dense", L.KIND_META, b"{'a': 1}"), "E_METADATA"),
    ("metadata not an object", lambda: _replace("dense", L.KIND_META, b"[1, 2]"), "E_METADATA"),
    ("metadata duplicate member", lambda: _replace("dense", L.KIND_META, b'{"a":1,"a":2}'), "E_METADATA"),
    ("metadata NaN", lambda: _replace("dense", L.KIND_META, b'{"a":NaN}'), "E_METADATA"),
    ("metadata -Infinity", lambda: _replace("dense", L.KIND_META, b'{"a":-Infinity}'), "E_METADATA"),
    ("metadata not UTF-8", lambda: _replace("dense", L.KIND_META, b'{"a":"\xff"}'), "E_METADATA"),
    ("metadata empty", lambda: _replace("dense", L.KIND_META, b""), "E_METADATA"),
    ("metadata nested 100000 deep", lambda: _replace("dense", L.KIND_META, _deep_json(100_000)), "E_METADATA"),
    # §5.2: 65 levels (the object plus 64 arrays) is one past the nesting limit
    ("metadata nested 65 deep", lambda: _replace("dense", L.KIND_META, b'{"a":' + b"[" * 64 + b"]" * 64 + b"}"), "E_METADATA"),
    # section order (§4.3)
    ("FINGERPRINTS missing", lambda: _drop_part(L.KIND_FINGERPRINTS), "E_SECTION_ORDER"),
    ("ROWS missing", lambda: _drop_part(L.KIND_ROWS), "E_SECTION_ORDER"),
    ("BITMAP and RANK swapped", lambda: _swap_parts(L.KIND_MPH_BITMAP, L.KIND_MPH_RANK), "E_SECTION_ORDER"),
    ("ROW_INDEX on a dense table", _extra_sparse_part, "E_SECTION_ORDER"),
    ("part owned by another TABLE", _part_of_other_table, "E_SECTION_ORDER"),
    ("part before any TABLE", lambda: assemble([SectionOut(L.KIND_ROWS, owner=0, buffers=[b"x"])]), "E_SECTION_ORDER"),
    ("owned section outside a group", lambda: _owned_after_group(), "E_SECTION_ORDER"),
    # tensors (§5.3)
    ("tensor shape overflows 64 bits", lambda: _tensor(np.zeros(0, np.uint8), shape=[1 << 32, 1 << 32]), "E_OVERFLOW"),
    ("tensor f64 shape overflows", lambda: _tensor(np.zeros(0, np.float64), shape=[1 << 61]), "E_OVERFLOW"),
    # a zero dimension makes the product 0 (fits), but the other extents are beyond what
    # the Python reader can describe: refused, not a crash (reader fix, see _tensor)
    ("empty tensor with 2^62 x 2^62 extents", lambda: _tensor(np.zeros(0, np.float32), shape=[0, 1 << 62, 1 << 62]), "E_OVERFLOW"),
    ("empty tensor with a 2^62 f32 extent", lambda: _tensor(np.zeros(0, np.float32), shape=[0, 1 << 62]), "E_OVERFLOW"),
    ("tensor ndim 9", lambda: _tensor(np.zeros(1, np.uint8), shape=[1] * 9), "E_LIMIT"),
    ("tensor shape too large for section", lambda: _tensor(np.zeros(3, np.uint8), shape=[4]), "E_SECTION_SIZE"),
    ("tensor section of 7 bytes", lambda: assemble([raw_section(L.KIND_TENSOR, b"\x01" * 7)]), "E_SECTION_SIZE"),
    ("TABLE section of 63 bytes", lambda: _replace("dense", L.KIND_TABLE, b"\0" * 63), "E_SECTION_SIZE"),
    # whole file
    ("one byte appended", lambda: image("dense") + b"\0", "E_FILE_SIZE"),
    ("64 zero bytes appended", lambda: image("dense") + b"\0" * 64, "E_FILE_SIZE"),
    ("last 64 bytes cut", lambda: image("dense")[:-64], "E_TRUNCATED"),
    ("header only", lambda: image("dense")[:64], "E_TRUNCATED"),
    ("section table cut", lambda: edit_header(image("dense")[:96], "file_size", 96), "E_TRUNCATED"),
    ("section byte changed", lambda: _edit("dense", L.KIND_ROWS, 0, b"\x55", fix=False), "E_CHECKSUM"),
    ("TABLE name byte changed", lambda: _edit("dense", L.KIND_TABLE, L.TABLE_DESCRIPTOR_SIZE, b"u", fix=False), "E_CHECKSUM"),
    ("empty section's checksum", lambda: edit_entry(image("dense"), find(image("dense"), L.KIND_MPH_FALLBACK).index, "checksum", 1), "E_CHECKSUM"),
    ("metadata byte changed", lambda: _edit("dense", L.KIND_META, 5, b"2", fix=False), "E_CHECKSUM"),
]


@pytest.mark.parametrize("case", TARGETED, ids=[c[0] for c in TARGETED])
def test_targeted_corruption(tmp_path, case):
    what, build, want = case
    data = build()
    assert data is not None
    assert validate_code(tmp_path, bytes(data)) == want


def test_metadata_over_limit_is_refused_before_reading(tmp_path):
    """§5.2: META above 16 MiB is E_LIMIT before its text is read (sparse file of zeros,
    which would be E_METADATA if it were parsed)."""
    path = _meta_over_limit(tmp_path)
    with pytest.raises(phq.FormatError) as info:
        phq.open(path)
    assert _note(info.value) == "E_LIMIT"


def test_metadata_at_limit_is_read(tmp_path):
    """The limit itself is allowed: 16 MiB of JSON (an object padded with spaces)."""
    text = b'{"a":1}' + b" " * (L.MAX_METADATA_BYTES - 7)
    data = assemble([raw_section(L.KIND_META, text)])
    path = write_image(tmp_path / "m.phq", data)
    with phq.validate(path) as model:
        assert model.metadata == {"a": 1}


# --- 3. unknown sections --------------------------------------------------------------------
PRIVATE_KIND = 0x7001


def _lookup_all(model, name: str):
    out = {}
    for tname, t in model.tables.items():
        keys = present_keys(name) + ABSENT
        rows, found = t.lookup(keys)
        raw, _ = t.lookup_raw(keys)
        single = [t.get(k) for k in keys]
        out[tname] = (rows, found, raw, single)
    return out


def _same_lookups(a, b) -> None:
    assert a.keys() == b.keys()
    for k in a:
        ra, fa, wa, sa = a[k]
        rb, fb, wb, sb = b[k]
        assert np.array_equal(ra, rb) and np.array_equal(fa, fb) and np.array_equal(wa, wb)
        assert all((x is None and y is None) or np.array_equal(x, y) for x, y in zip(sa, sb))


@pytest.mark.parametrize("fixture", ["dense", "sparse", "tensors"])
def test_unknown_ancillary_top_level_section_is_skipped(tmp_path, fixture):
    base = sections(fixture)
    with phq.validate(write_image(tmp_path / "base.phq", image(fixture))) as model:
        want = _lookup_all(model, fixture)
        want_meta, want_tensors = model.metadata, {k: v.copy() for k, v in model.tensors.items()}
    table_at = [s.kind for s in base].index(L.KIND_TABLE)
    for pos in sorted({0, table_at, len(base)}):  # first, just before the TABLE, last
        extra = raw_section(PRIVATE_KIND, b"private bytes\0\1\2", flags=L.FLAG_ANCILLARY)
        data = relayout(base[:pos] + [extra] + base[pos:])
        path = write_image(tmp_path / f"anc{pos}.phq", data)
        with phq.validate(path) as model:
            assert [(s.kind, s.index, s.ancillary) for s in model.skipped_sections] == [(PRIVATE_KIND, pos, True)]
            _same_lookups(_lookup_all(model, fixture), want)
            assert model.metadata == want_meta
            assert model.tensors.keys() == want_tensors.keys()
            assert all(np.array_equal(model.tensors[k], want_tensors[k]) for k in want_tensors)
        # the same section critical (flags 0): refused
        critical = relayout(base[:pos] + [dataclasses.replace(extra, flags=0)] + base[pos:])
        assert validate_code(tmp_path, critical) == "E_UNKNOWN_SECTION"
        # an ancillary section is still covered by its checksum in validation (§4.2), not at open
        e = entries(data)[pos]
        damaged = bytearray(data)
        damaged[e.offset] ^= 0xFF
        assert open_code(tmp_path, bytes(damaged)) is None
        assert validate_code(tmp_path, bytes(damaged)) == "E_CHECKSUM"


@pytest.mark.parametrize("fixture", ["dense", "sparse", "parts"])
def test_unknown_ancillary_section_owned_by_a_table_is_skipped(tmp_path, fixture):
    base = sections(fixture)
    with phq.validate(write_image(tmp_path / "base.phq", image(fixture))) as model:
        want = _lookup_all(model, fixture)
    t = [s.kind for s in base].index(L.KIND_TABLE)
    group_end = len(base)  # every fixture here ends with its table group
    for pos in (t + 1, t + 4, group_end):  # right after TABLE, among the parts, after the last part
        extra = raw_section(PRIVATE_KIND, b"\x09" * 70, owner=t, flags=L.FLAG_ANCILLARY)
        secs = base[:pos] + [extra] + base[pos:]
        data = relayout(secs)
        assert entries(data)[pos].owner == t
        path = write_image(tmp_path / f"own{pos}.phq", data)
        with phq.validate(path) as model:
            assert [(s.kind, s.index, s.owner) for s in model.skipped_sections] == [(PRIVATE_KIND, pos, t)]
            _same_lookups(_lookup_all(model, fixture), want)
        critical = relayout(base[:pos] + [dataclasses.replace(extra, flags=0)] + base[pos:])
        assert validate_code(tmp_path, critical) == "E_UNKNOWN_SECTION"


def test_known_kind_flagged_ancillary_is_refused(tmp_path):
    """§4.2: every kind of 1.0 is critical; setting ANCILLARY on one is E_RESERVED."""
    img = image("dense")
    for e in entries(img):
        assert validate_code(tmp_path, edit_entry(img, e.index, "flags", L.FLAG_ANCILLARY)) == "E_RESERVED"


# --- 4. text-mode damage, LFS pointers, short files -----------------------------------------
def _open_error(tmp_path, data: bytes) -> phq.FormatError:
    path = write_image(tmp_path / "t.phq", data)
    with pytest.raises(phq.FormatError) as info:
        phq.validate(path)
    _note(info.value)
    with pytest.raises(phq.FormatError) as info2:
        phq.open(path)
    assert info2.value.code == info.value.code
    return info.value


@pytest.mark.parametrize("fixture", ["dense", "tensors", "bare"])
@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b.replace(b"\r\n", b"\n"), id="CRLF->LF"),
        pytest.param(lambda b: b.replace(b"\n", b"\r\n"), id="LF->CRLF"),
        pytest.param(lambda b: re.sub(rb"(?<!\r)\n", b"\r\n", b), id="bare-LF->CRLF"),
        pytest.param(lambda b: bytes([b[0] & 0x7F]) + b[1:], id="high-bit-of-byte-0"),
        pytest.param(lambda b: bytes(x & 0x7F for x in b), id="7-bit-transfer"),
        pytest.param(lambda b: b.replace(b"\x1a", b""), id="ctrl-z-dropped"),
    ],
)
def test_text_mode_damage(tmp_path, fixture, damage):
    data = damage(image(fixture))
    assert data != image(fixture)
    assert _open_error(tmp_path, data).code == "E_TEXT_MODE"


def test_git_lfs_pointer(tmp_path):
    pointer = (
        b"version https://git-lfs.github.com/spec/v1\n"
        b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
        b"size 12345\n"
    )
    err = _open_error(tmp_path, pointer)
    assert err.code == "E_SIGNATURE"
    assert "LFS" in err.message


@pytest.mark.parametrize("length", range(8))
def test_prefix_of_signature_is_truncated(tmp_path, length):
    """The empty file and every prefix of the signature (e.g. 5 bytes): E_TRUNCATED."""
    assert _open_error(tmp_path, L.SIGNATURE[:length]).code == "E_TRUNCATED"


@pytest.mark.parametrize("length", [8, 9, 32, 63])
def test_signature_then_short_header_is_truncated(tmp_path, length):
    assert _open_error(tmp_path, image("dense")[:length]).code == "E_TRUNCATED"


@pytest.mark.parametrize(
    "data",
    [b"PK\x03\x04" + b"\0" * 100, b"abc", b"\x89PNG\r\n\x1a\n" + b"\0" * 56, b"\x89PHX\r\n\x1a\n"],
    ids=["zip", "short-text", "png", "near-miss"],
)
def test_not_a_phq_file(tmp_path, data):
    assert _open_error(tmp_path, data).code == "E_SIGNATURE"


# --- 5. lookup-time checks (§10.3) ------------------------------------------------------------
def _lookup_errors(path, keys, *, contains: bool = True) -> list[str]:
    """The codes of every lookup entry point on `keys` (each must raise FormatError).
    `key in table` only computes the slot: with contains=False (a row-level defect) it
    must answer True instead."""
    codes = []
    with phq.open(path) as model:
        (t,) = model.tables.values()
        calls = [
            lambda: t[keys[0]],
            lambda: t.get(keys[0]),
            lambda: t.raw(keys[0]),
            lambda: t.lookup(keys),
            lambda: t.lookup_raw(keys),
        ]
        if contains:
            calls.append(lambda: keys[0] in t)
        else:
            assert keys[0] in t
        for call in calls:
            with pytest.raises(phq.FormatError) as info:
                call()
            codes.append(_note(info.value))
    return codes


def _slot_of(name: str, key: str) -> int:
    return _slot_table(name)[key]


@functools.cache
def _slot_table(name: str) -> dict:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = write_image(os.path.join(d, "m.phq"), image(name))
        with phq.open(path) as model:
            (t,) = model.tables.values()
            return {k: t.slot(k) for k in present_keys(name)}


def _placed_keys(name: str, partition: int = 0) -> list[str]:
    """Keys of `partition` that sit in a level (not in the fallback list)."""
    img = image(name)
    recs = _partitions(img, find(img, L.KIND_TABLE))
    first = sum(r["key_count"] for r in recs[:partition])
    ones = recs[partition]["key_count"] - recs[partition]["fallback_count"]
    return [k for k in present_keys(name) if first <= _slot_of(name, k) < first + ones]


def _nnz(name: str) -> int:
    img = image(name)
    t = find(img, L.KIND_TABLE)
    return get_struct_field(img, t.offset, DESCRIPTOR_FIELDS, "nnz")


@pytest.mark.parametrize("fixture", ["dense", "parts", "sparse", "fallback"])
def test_corrupt_rank_entry_fails_lookups_with_e_rank(tmp_path, fixture):
    """Partition 0's first rank entry claiming 2^32 - 1 ones before its block: every key
    of partition 0 found in a level gets a rank >= ones[0]: E_RANK, not a read past the
    payload, from every lookup entry point."""
    data = _rank_entry(fixture, 0xFFFFFFFF)
    assert open_code(tmp_path, data) is None  # open does not read rank entries
    keys = _placed_keys(fixture)
    assert len(keys) >= 3
    path = write_image(tmp_path / "r.phq", data)
    assert set(_lookup_errors(path, keys[:3] + ABSENT)) == {"E_RANK"}
    assert validate_code(tmp_path, data) == "E_RANK"


@pytest.mark.parametrize("fixture", ["sparse", "sparse8"])
def test_row_index_past_nnz_fails_lookups_with_e_sparse(tmp_path, fixture):
    key = next(k for k in present_keys(fixture) if 0 < _slot_of(fixture, k) < 28)
    s = _slot_of(fixture, key)
    data = _sparse_index(fixture, s + 1, _nnz(fixture) + 1)
    assert open_code(tmp_path, data) is None  # open checks row_index[0] and row_index[n] only
    path = write_image(tmp_path / "s.phq", data)
    assert set(_lookup_errors(path, [key, "absent"], contains=False)) == {"E_SPARSE"}


@pytest.mark.parametrize("start,end", [((1 << 64) - 100, (1 << 64) - 1), ((1 << 64) - 5, (1 << 64) - 3), (1 << 63, 1 << 63)])
def test_u64_row_index_beyond_2_63_fails_lookups_with_e_sparse(tmp_path, start, end):
    """8-byte row-index entries >= 2^63 must not turn into negative numpy indexes (that
    was an IndexError in batch lookups, or a silent read of another row's values)."""
    key = next(k for k in present_keys("sparse8") if 0 < _slot_of("sparse8", k) < 28)
    s = _slot_of("sparse8", key)
    data = _sparse_index("sparse8", s, start)
    e = find(data, L.KIND_ROW_INDEX)
    data = edit_section(data, e.index, 8 * (s + 1), u64s(end))
    assert open_code(tmp_path, data) is None
    assert set(_lookup_errors(write_image(tmp_path / "s.phq", data), [key], contains=False)) == {"E_SPARSE"}
    assert validate_code(tmp_path, data) == "E_SPARSE"


def test_column_beyond_dim_fails_lookups_with_e_sparse(tmp_path):
    row = _sparse_row_with(1)
    key = next(k for k in present_keys("sparse") if _slot_of("sparse", k) == row)
    data = _sparse_columns_row(row, bytes([200]))
    assert open_code(tmp_path, data) is None
    assert set(_lookup_errors(write_image(tmp_path / "c.phq", data), [key], contains=False)) == {"E_SPARSE"}


# --- 6. hypothesis: random damage -----------------------------------------------------------
FUZZ_FIXTURES = ["dense", "sparse", "sparse8", "rowblock", "f16", "f32", "tensors", "fallback", "parts", "empty", "dim0"]


@st.composite
def damaged(draw, kinds=("flip", "flips", "substitute", "truncate", "extend")):
    name = draw(st.sampled_from(FUZZ_FIXTURES))
    img = image(name)
    n = len(img)
    kind = draw(st.sampled_from(kinds))
    data = bytearray(img)
    if kind == "flip":
        bit = draw(st.integers(0, 8 * n - 1))
        data[bit >> 3] ^= 1 << (bit & 7)
    elif kind == "flips":
        for bit in draw(st.sets(st.integers(0, 8 * n - 1), min_size=2, max_size=24)):
            data[bit >> 3] ^= 1 << (bit & 7)
    elif kind == "substitute":
        for at in draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=12)):
            data[at] ^= draw(st.integers(1, 255))  # never the same byte again
    elif kind == "truncate":
        data = data[: draw(st.integers(0, n - 1))]
    elif kind == "extend":
        data += draw(st.binary(min_size=1, max_size=300))
    elif kind == "entry":  # a section-table field, the header CRCs repaired
        es = entries(img)
        e = es[draw(st.integers(0, len(es) - 1))]
        fld = draw(st.sampled_from(ENTRY_FIELDS))
        orig = get_uint(img, e.at + fld.offset, fld.size)
        value = draw(st.one_of(st.integers(0, (1 << (8 * fld.size)) - 1), st.integers(max(0, orig - 130), orig + 130)))
        set_uint(data, e.at + fld.offset, fld.size, value)
        fix_header(data)
    elif kind == "inside":  # bytes inside one section, its CRC repaired: only structure/lookups can tell
        es = [e for e in entries(img) if e.size]
        e = es[draw(st.integers(0, len(es) - 1))]
        for at in draw(st.sets(st.integers(0, e.size - 1), min_size=1, max_size=6)):
            data[e.offset + at] = draw(st.integers(0, 255))
        fix_section(data, e.index)
    return name, kind, bytes(data), bytes(data) != img


FUZZ_SETTINGS = dict(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@settings(**FUZZ_SETTINGS)
@given(case=damaged())
def test_validate_refuses_random_damage(fuzz_dir, case):
    name, kind, data, changed = case
    assert changed
    code = validate_code(fuzz_dir, data)
    assert code is not None, f"{kind} damage of {name} was accepted"
    if kind == "truncate":
        assert code == "E_TRUNCATED"
    if kind == "extend":
        assert code == "E_FILE_SIZE"


@settings(**FUZZ_SETTINGS)
@given(case=damaged(("flip",)))
def test_validate_refuses_every_random_single_bit_flip(fuzz_dir, case):
    name, _, data, _ = case
    assert validate_code(fuzz_dir, data) is not None


def exercise(path, name: str) -> None:
    """Open and look everything up: only FormatError may escape; KeyError only from
    t[key]/t.raw(key) (absent key); returned rows have the table's dim and dtypes."""
    try:
        model = phq.open(path)
    except phq.FormatError as e:
        code = _note(e)
        if currently_in_test_context():  # --hypothesis-show-statistics: how often lookups run
            event(f"open: {code}")
        return
    if currently_in_test_context():
        event("open: ok")
    keys = present_keys(name)[:12] + ABSENT
    with model, warnings.catch_warnings():
        # a huge (finite) scale may overflow float32 when dequantizing: a warning, not an error
        warnings.simplefilter("ignore", RuntimeWarning)
        assert isinstance(model.metadata, dict)
        size = os.path.getsize(path)
        for arr in model.tensors.values():  # views of the file: never larger than it
            assert arr.nbytes <= size
        for t in list(model.tables.values()):
            dim, sdt = t.dim, t.storage_dtype
            for k in keys:
                for call, dtype in ((t.__getitem__, np.float32), (t.raw, sdt)):
                    try:
                        row = call(k)
                    except KeyError:
                        continue
                    except phq.FormatError as e:
                        _note(e)
                        continue
                    assert row.shape == (dim,) and row.dtype == dtype
                try:
                    row = t.get(k)
                    assert row is None or (row.shape == (dim,) and row.dtype == np.float32)
                    assert isinstance(k in t, bool)
                except phq.FormatError as e:
                    _note(e)
            for call, dtype in ((t.lookup, np.float32), (t.lookup_raw, sdt)):
                try:
                    rows, found = call(keys)
                except phq.FormatError as e:
                    _note(e)
                    continue
                assert rows.shape == (len(keys), dim) and rows.dtype == dtype
                assert found.shape == (len(keys),) and found.dtype == bool


@settings(**FUZZ_SETTINGS)
@given(case=damaged(("flip", "flips", "substitute", "truncate", "extend", "entry", "inside")))
def test_open_and_lookups_raise_only_format_errors(fuzz_dir, case):
    name, _, data, _ = case
    exercise(write_image(fuzz_dir / "o.phq", data), name)


@settings(**FUZZ_SETTINGS)
@given(case=damaged(("inside",)))
def test_lookups_on_structurally_valid_damage(fuzz_dir, case):
    """Damage inside sections with their CRCs repaired mostly passes open: lookups then
    run on corrupt MPH/fingerprint/scale/row bytes."""
    name, _, data, _ = case
    exercise(write_image(fuzz_dir / "i.phq", data), name)


@pytest.mark.parametrize("fixture", FUZZ_FIXTURES)
def test_lookups_on_intact_fixtures(tmp_path, fixture):
    """The fuzz harness itself on the undamaged files: every present key found."""
    path = write_image(tmp_path / "ok.phq", image(fixture))
    exercise(path, fixture)
    with phq.validate(path) as model:
        (t,) = model.tables.values()
        keys = present_keys(fixture)
        _, found = t.lookup(keys + ABSENT)
        assert found[: len(keys)].all()


# --- 7. exhaustive single-bit flips ---------------------------------------------------------
def test_every_single_bit_flip_is_refused(tmp_path):
    """All 8 × size flips of the 1280-byte "dense" file (one dense linear8 table plus
    metadata). The code is determined by where the flip lands."""
    img = image("dense")
    assert len(img) == 1280
    es = entries(img)
    table_end = L.HEADER_SIZE + L.SECTION_ENTRY_SIZE * len(es)
    owner = {}
    for e in es:
        for at in range(e.offset, e.offset + e.size):
            owner[at] = e
    fields_at = {}
    for f in HEADER_FIELDS:
        for at in range(f.offset, f.offset + f.size):
            fields_at[at] = f.name
    for bit in range(8 * len(img)):
        at = bit >> 3
        data = bytearray(img)
        data[at] ^= 1 << (bit & 7)
        data = bytes(data)
        code = validate_code(tmp_path, data)
        assert code is not None, f"flip of bit {bit} accepted"
        if at < L.HEADER_SIZE:
            f = fields_at[at]
            want = {"signature": {"E_TEXT_MODE", "E_SIGNATURE"}, "major": {"E_VERSION"}, "header_size": {"E_HEADER_SIZE"}}
            assert code in want.get(f, {"E_HEADER_CHECKSUM"}), (bit, f, code)
        elif at < table_end:
            assert code == "E_HEADER_CHECKSUM", (bit, code)
        elif at not in owner:
            assert code == "E_PADDING", (bit, code)
        else:  # inside a section: a structural code if open refuses, else the section CRC
            assert code == (open_code(tmp_path, data) or "E_CHECKSUM"), (bit, code)


# --- 8. resource caps -----------------------------------------------------------------------
def _descriptor_claim(name: str, **fields_) -> bytes:
    img = image(name)
    t = find(img, L.KIND_TABLE)
    data = bytearray(img)
    for k, v in fields_.items():
        set_struct_field(data, t.offset, DESCRIPTOR_FIELDS, k, v)
    return bytes(fix_section(data, t.index))


def _partition_claim(name: str, **fields_) -> bytes:
    img = image(name)
    e = find(img, L.KIND_MPH_PARTITIONS)
    data = bytearray(img)
    for k, v in fields_.items():
        set_struct_field(data, e.offset, PARTITION_FIELDS, k, v)
    return bytes(fix_section(data, e.index))


def _sparse_files_supported(tmp_path) -> bool:
    probe = tmp_path / "probe"
    with open(probe, "wb") as f:
        f.truncate(1 << 30)
    blocks = os.stat(probe).st_blocks * 512
    os.unlink(probe)
    return blocks < (1 << 20)


def test_table_size_overflow_on_sparse_file(tmp_path):
    """§10.1 step 15: n × dim × itemsize >= 2^64 is E_OVERFLOW. A table can only claim that
    with n >= 2^38 keys, and the MPH bitmap of the file must then hold n bits: a 33.5 GiB
    file, made sparse here (every part but the descriptor, partitions and levels is a hole),
    so open refuses it without reading or allocating any of it."""
    if not _sparse_files_supported(tmp_path):
        pytest.skip("this filesystem does not support sparse files")
    n, dim, P = 1 << 38, L.MAX_DIM, 65  # 64 partitions of 2^32 - 1 keys and one of the rest
    recs = np.zeros(P, L.PARTITION_DTYPE)
    recs["key_count"] = [0xFFFFFFFF] * 64 + [n - 64 * 0xFFFFFFFF]
    recs["level_count"] = 2
    levels = np.array([L.MAX_LEVEL_WORDS, 2] * P, "<u4")  # 2^32 - 64 + 128 bits per partition
    words = P * L.align(L.MAX_LEVEL_WORDS + 2, L.RANK_BLOCK_WORDS)
    desc = dict(
        num_keys=n, dim=dim, seed=0, num_partitions=P, gamma_milli=1000, nnz=n * dim, hash_scheme=L.HASH_MURMUR3_128,
        quant=L.QUANT_F32, layout=L.LAYOUT_DENSE, fingerprint_bits=0, scale_granularity=L.SCALE_NONE, index_width=0,
        column_width=0, reserved0=0, scale_block_rows=0, name_len=1, reserved1=0, reserved2=0, reserved3=0,
    )
    parts = [(L.KIND_TABLE, L.NO_OWNER, L.TABLE_DESCRIPTOR.build(desc) + b"t")] + [
        (kind, 0, content)
        for kind, content in [
            (L.KIND_MPH_PARTITIONS, recs.tobytes()),
            (L.KIND_MPH_LEVELS, levels.tobytes()),
            (L.KIND_MPH_BITMAP, 8 * words),
            (L.KIND_MPH_RANK, 8 * words // L.RANK_BLOCK_WORDS),
            (L.KIND_MPH_FALLBACK, 0),
            (L.KIND_FINGERPRINTS, 0),
            (L.KIND_SCALES, 0),
            (L.KIND_ROWS, 0),
        ]
    ]
    path = _sparse_file(tmp_path / "huge.phq", parts)
    try:
        assert os.path.getsize(path) > 32 << 30
        for call in (phq.open, phq.validate):  # validate refuses at open, before any checksum
            with pytest.raises(phq.FormatError) as info:
                call(path)
            assert _note(info.value) == "E_OVERFLOW"
    finally:
        os.unlink(path)


# (id, builder, expected code). Each claims far more than the file holds or than a limit of
# §12; the code is the first check of §10.1 that the claim fails: a limit (E_LIMIT), the
# file's end (E_TRUNCATED, E_SECTION_BOUNDS), or the size the counts require of a section
# that is present (E_SECTION_SIZE, E_MPH, E_SPARSE), never an allocation of that size.
HUGE_CLAIMS = [
    ("intact file (control)", lambda: image("dense"), "OK"),
    ("section_count 2^32-1", lambda: edit_header(image("dense"), "section_count", (1 << 32) - 1), "E_LIMIT"),
    ("section_count 65537", lambda: edit_header(image("dense"), "section_count", L.MAX_SECTIONS + 1), "E_LIMIT"),
    # at the limit, 2 MiB of entries are not there: refused before reading them
    ("section_count 65536", lambda: edit_header(image("dense"), "section_count", L.MAX_SECTIONS), "E_TRUNCATED"),
    ("file_size 2^64-1", lambda: edit_header(image("dense"), "file_size", (1 << 64) - 1), "E_TRUNCATED"),
    # a 4 GiB META (and a 2^64-1 one) in a 1 KB file: over the META cap, checked first
    ("META size 4 GiB", lambda: edit_entry(image("dense"), 0, "size", 1 << 32), "E_LIMIT"),
    ("META size 2^64-1", lambda: edit_entry(image("dense"), 0, "size", (1 << 64) - 1), "E_LIMIT"),
    ("TABLE size 2^63", lambda: edit_entry(image("sparse"), 0, "size", 1 << 63), "E_SECTION_BOUNDS"),
    ("num_keys 2^60", lambda: _descriptor_claim("dense", num_keys=1 << 60), "E_LIMIT"),
    ("num_keys 2^40 (the limit)", lambda: _descriptor_claim("dense", num_keys=L.MAX_KEYS), "E_MPH"),
    ("dim 2^31", lambda: _descriptor_claim("dense", dim=1 << 31), "E_LIMIT"),
    ("dim 2^24 (the limit)", lambda: _descriptor_claim("dense", dim=L.MAX_DIM), "E_SECTION_SIZE"),
    ("num_partitions 2^31", lambda: _descriptor_claim("dense", num_partitions=1 << 31), "E_LIMIT"),
    ("num_partitions 2^20 (the limit)", lambda: _descriptor_claim("dense", num_partitions=L.MAX_PARTITIONS), "E_SECTION_SIZE"),
    ("all three at once", lambda: _descriptor_claim("dense", num_keys=1 << 60, dim=1 << 31, num_partitions=1 << 31), "E_LIMIT"),
    ("dense nnz 2^63", lambda: _descriptor_claim("f32", nnz=1 << 63), "E_SECTION_SIZE"),
    ("sparse nnz 2^40", lambda: _descriptor_claim("sparse", nnz=1 << 40), "E_SPARSE"),
    ("sparse8 nnz 2^60", lambda: _descriptor_claim("sparse8", nnz=1 << 60), "E_SECTION_SIZE"),
    ("level_count 2^31", lambda: _partition_claim("dense", level_count=1 << 31), "E_LIMIT"),
    ("fallback_count 2^32-1", lambda: _partition_claim("dense", fallback_count=(1 << 32) - 1), "E_MPH"),
    ("key_count 2^32-1 = num_keys", lambda: _descriptor_claim_partition(), "E_MPH"),
    ("level words 2^26-1", lambda: _edit("dense", L.KIND_MPH_LEVELS, 0, ((1 << 26) - 1).to_bytes(4, "little")), "E_SECTION_SIZE"),
    ("tensor 2^32 x 2^32 u8", lambda: _tensor(np.zeros(0, np.uint8), shape=[1 << 32, 1 << 32]), "E_OVERFLOW"),
    ("tensor 2^31 x 2^31 u8", lambda: _tensor(np.zeros(0, np.uint8), shape=[1 << 31, 1 << 31]), "E_SECTION_SIZE"),
    ("empty tensor 0 x 2^62 x 2^62", lambda: _tensor(np.zeros(0, np.float32), shape=[0, 1 << 62, 1 << 62]), "E_OVERFLOW"),
    ("tensor ndim 255", lambda: _edit("tensors", L.KIND_TENSOR, 1, b"\xff"), "E_LIMIT"),
    ("tensor name_len 65535", lambda: _edit("tensors", L.KIND_TENSOR, 2, b"\xff\xff"), "E_SECTION_SIZE"),
    ("metadata nested 1e6 deep", lambda: _replace("dense", L.KIND_META, _deep_json(1_000_000)), "E_METADATA"),
]


def _descriptor_claim_partition() -> bytes:
    """num_keys 2^32-1 and one partition claiming all of them (the bitmap cannot hold them)."""
    data = _descriptor_claim("dense", num_keys=(1 << 32) - 1)
    e = find(data, L.KIND_MPH_PARTITIONS)
    return bytes(edit_section(data, e.index, 0, ((1 << 32) - 1).to_bytes(4, "little")))


_CAPPED_RUNNER = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    import phq

    def vm_bytes():
        for line in open("/proc/self/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
        return 0

    GiB = 1 << 30
    limit = max(GiB, vm_bytes() + GiB // 2)   # ~1 GiB of address space in all
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:                                       # the cap is real: 2 GiB cannot be had
        np.ones(2 * GiB, dtype=np.uint8)
        capped = False
    except MemoryError:
        capped = True
    out = {"capped": capped, "limit": limit, "results": {}}
    for path in sys.argv[1:]:
        res = []
        for step in ("validate", "open+lookup"):
            try:
                if step == "validate":
                    phq.validate(path).close()
                else:
                    with phq.open(path) as m:
                        for t in m.tables.values():
                            t.lookup(["k0", "k1", "absent"]); t.get("k0")
                res.append("OK")
            except phq.FormatError as e:
                res.append(e.code)
            except BaseException as e:
                res.append("CRASH " + type(e).__name__ + ": " + str(e)[:200])
        out["results"][path] = res
    print(json.dumps(out))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux facilities")
def test_huge_claims_are_refused_without_allocating(tmp_path):
    paths = {}
    for i, (what, build, _) in enumerate(HUGE_CLAIMS):
        paths[write_image(tmp_path / f"claim{i}.phq", bytes(build()))] = what
    meta = _meta_over_limit(tmp_path)  # a real 16 MiB + 1 META section
    paths[meta] = "META 16 MiB + 1"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", _CAPPED_RUNNER, *paths], capture_output=True, text=True, timeout=300, env=env
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["capped"], f"RLIMIT_AS of {out['limit']} bytes did not bite"
    expected = {what: code for what, _, code in HUGE_CLAIMS}
    expected["META 16 MiB + 1"] = "E_LIMIT"
    for path, res in out["results"].items():
        what = paths[path]
        assert res == [expected[what], expected[what]], f"{what}: {res}"
        if expected[what] in phq.ERROR_CODES:
            PRODUCED.add(expected[what])


# --- coverage of the error table -------------------------------------------------------------
def test_every_error_code_was_produced(request):
    """Runs last (file order): the codes the tests above produced cover ERROR_CODES."""
    defined = {name for name, obj in globals().items() if name.startswith("test_") and callable(obj)}
    # Only a process that ran every other test of the module has seen all it produced: not under
    # -k/-m, nor a pytest-xdist worker given part of the module (`make test` runs pytest-xdist
    # with --dist loadfile, which keeps a file in one worker, in file order).
    not_here = defined - RAN_HERE - {request.node.originalname}
    if not_here:
        # `make test` sets PHQ_FULL_SUITE=1: there the check must run, never skip.
        (pytest.fail if os.environ.get("PHQ_FULL_SUITE") == "1" else pytest.skip)(f"only part of this module ran in this process ({len(not_here)} tests elsewhere); the coverage check needs all of it")
    missing = sorted(set(phq.ERROR_CODES) - PRODUCED)
    assert not missing, f"no test produced {missing}"
