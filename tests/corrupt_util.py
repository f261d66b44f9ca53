"""Byte-level helpers for the corruption tests (tests/test_corruption.py).

Everything here works on `bytes`/`bytearray` images of phq files. Offsets of fixed-size
fields come from the construct declarations in `phq.layout`, never from literals, so a
layout change is followed automatically.

The `fix_*` helpers recompute checksums after a deliberate corruption, so that a test
reaches the structural check it targets instead of stopping at a CRC mismatch:

- `fix_header`      : section-table CRC32C (header bytes 52..56) and header CRC32C
                      (bytes 60..64, over bytes 0..60);
- `fix_section`     : the CRC32C of one section's bytes, stored in its table entry, then
                      `fix_header`.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import crc32c

from phq import layout as L
from phq.writer.serialize import SectionOut, to_bytes


# --- field tables ----------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    name: str
    offset: int  # within its structure
    size: int  # bytes


def fields(struct_) -> list[Field]:
    """(name, offset, size) of every field of a construct Struct, in order."""
    return [Field(*f) for f in L.field_table(struct_)]


HEADER_FIELDS = fields(L.HEADER)
ENTRY_FIELDS = fields(L.SECTION_ENTRY)
DESCRIPTOR_FIELDS = fields(L.TABLE_DESCRIPTOR)
PARTITION_FIELDS = fields(L.PARTITION_RECORD)
TENSOR_FIELDS = fields(L.TENSOR_HEADER)


def field(table: list[Field], name: str) -> Field:
    (f,) = [f for f in table if f.name == name]
    return f


# --- integers in byte images -----------------------------------------------------------
def get_uint(data, offset: int, size: int) -> int:
    return int.from_bytes(bytes(data[offset : offset + size]), "little")


def set_uint(data: bytearray, offset: int, size: int, value: int) -> None:
    data[offset : offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def bad_values(original: int, size: int) -> list[tuple[str, int]]:
    """The corruptions of a field of `size` bytes: 0, all ones, value + 1 and value with
    its high bit flipped; those equal to the original value (no corruption) are left out,
    and duplicates are kept once."""
    mask = (1 << (8 * size)) - 1
    cands = [
        ("zero", 0),
        ("ones", mask),
        ("plus1", (original + 1) & mask),
        ("highbit", original ^ (1 << (8 * size - 1))),
    ]
    out, seen = [], {original}
    for label, v in cands:
        if v not in seen:
            seen.add(v)
            out.append((label, v))
    return out


# --- structure of an image -------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    index: int
    at: int  # byte offset of the entry in the file
    kind: int
    flags: int
    owner: int
    offset: int
    size: int
    checksum: int


def section_count(data) -> int:
    return get_uint(data, field(HEADER_FIELDS, "section_count").offset, 4)


def entry_at(i: int) -> int:
    return L.HEADER_SIZE + i * L.SECTION_ENTRY_SIZE


def entries(data) -> list[Entry]:
    out = []
    for i in range(section_count(data)):
        at = entry_at(i)
        e = L.SECTION_ENTRY.parse(bytes(data[at : at + L.SECTION_ENTRY_SIZE]))
        out.append(Entry(i, at, e.kind, e.flags, e.owner, e.offset, e.size, e.checksum))
    return out


def find(data, kind: int, nth: int = 0) -> Entry:
    """The nth section of `kind`."""
    return [e for e in entries(data) if e.kind == kind][nth]


# --- checksum repair -------------------------------------------------------------------
def fix_header(data: bytearray) -> bytearray:
    """Recompute the section-table CRC (over the entries section_count claims, as far as
    the image has them) and then the header CRC."""
    count = section_count(data)
    end = min(len(data), L.HEADER_SIZE + L.SECTION_ENTRY_SIZE * count)
    hf = {f.name: f for f in HEADER_FIELDS}
    set_uint(data, hf["section_table_checksum"].offset, 4, crc32c.crc32c(bytes(data[L.HEADER_SIZE : end])))
    set_uint(data, hf["header_checksum"].offset, 4, crc32c.crc32c(bytes(data[: L.HEADER_CHECKSUM_SPAN])))
    return data


def fix_section(data: bytearray, index: int) -> bytearray:
    """Recompute section `index`'s CRC32C in its entry, then the header CRCs."""
    e = entries(data)[index]
    crc = crc32c.crc32c(bytes(data[e.offset : e.offset + e.size]))
    set_uint(data, e.at + field(ENTRY_FIELDS, "checksum").offset, 4, crc)
    return fix_header(data)


# --- targeted edits --------------------------------------------------------------------
def set_struct_field(data: bytearray, base: int, table: list[Field], name: str, value: int) -> None:
    f = field(table, name)
    set_uint(data, base + f.offset, f.size, value)


def get_struct_field(data, base: int, table: list[Field], name: str) -> int:
    f = field(table, name)
    return get_uint(data, base + f.offset, f.size)


def edit_section(data: bytes, index: int, offset: int, new: bytes, *, fix: bool = True) -> bytearray:
    """Overwrite bytes at `offset` inside section `index` (and fix its CRC if asked)."""
    out = bytearray(data)
    e = entries(out)[index]
    assert 0 <= offset and offset + len(new) <= e.size, "edit must stay inside the section"
    out[e.offset + offset : e.offset + offset + len(new)] = new
    return fix_section(out, index) if fix else out


def edit_entry(data: bytes, index: int, name: str, value: int, *, fix: bool = True) -> bytearray:
    """Set one field of section-table entry `index` (and fix the header CRCs if asked)."""
    out = bytearray(data)
    set_struct_field(out, entry_at(index), ENTRY_FIELDS, name, value)
    return fix_header(out) if fix else out


def edit_header(data: bytes, name: str, value: int, *, fix: bool = True) -> bytearray:
    """Set one header field (and fix the header CRCs if asked)."""
    out = bytearray(data)
    set_struct_field(out, 0, HEADER_FIELDS, name, value)
    return fix_header(out) if fix else out


# --- building images from sections ------------------------------------------------------
def assemble(sections: list[SectionOut]) -> bytes:
    """The file image the writer would produce for `sections` (same layout rules)."""
    return to_bytes(sections)


def raw_section(kind: int, payload: bytes, *, owner: int = L.NO_OWNER, flags: int = 0) -> SectionOut:
    return SectionOut(kind, owner=owner, flags=flags, buffers=[payload])


def write_image(path, data) -> str:
    """Write an image to `path`, unlinking first: a model may still map the old file, and
    truncating a mapped file in place would make its pages fault (SIGBUS)."""
    path = os.fspath(path)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    with open(path, "wb") as f:
        f.write(data)
    return path


def u64s(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}Q", *values)
