"""Targeted byte surgery on phq files, for the invalid golden files.

Edits go through the same construct declarations the reader uses (phq.layout), so a field
is named, never addressed by a magic offset. After an edit the generator usually repairs
the checksums that would otherwise hide the defect under test (a corrupted offset would
first be reported as a section-table checksum mismatch).
"""

from __future__ import annotations

import crc32c
from construct import Struct

from phq import layout as L
from phq.writer.serialize import SectionOut


def field_offsets(struct: Struct) -> dict[str, tuple[int, int]]:
    """name -> (offset, size) of a fixed-size declaration."""
    return {name: (off, size) for name, off, size in L.field_table(struct)}


HEADER_FIELDS = field_offsets(L.HEADER)
ENTRY_FIELDS = field_offsets(L.SECTION_ENTRY)
TABLE_FIELDS = field_offsets(L.TABLE_DESCRIPTOR)
PARTITION_FIELDS = field_offsets(L.PARTITION_RECORD)
TENSOR_FIELDS = field_offsets(L.TENSOR_HEADER)


class PhqBytes:
    """A mutable phq file image with named-field edits and checksum repair."""

    def __init__(self, data: bytes):
        self.b = bytearray(data)

    # -- reading -------------------------------------------------------------------------
    @property
    def section_count(self) -> int:
        return self.get_header("section_count")

    def entry(self, i: int):
        at = L.HEADER_SIZE + i * L.SECTION_ENTRY_SIZE
        return L.SECTION_ENTRY.parse(bytes(self.b[at : at + L.SECTION_ENTRY_SIZE]))

    def find(self, kind: int, nth: int = 0) -> int:
        """Index of the nth section of a kind."""
        hits = [i for i in range(self.section_count) if self.entry(i).kind == kind]
        return hits[nth]

    def section_offset(self, i: int) -> int:
        return self.entry(i).offset

    # -- field edits ---------------------------------------------------------------------
    def _set(self, at: int, size: int, value: int) -> None:
        self.b[at : at + size] = (value % (1 << (8 * size))).to_bytes(size, "little")

    def _get(self, at: int, size: int) -> int:
        return int.from_bytes(self.b[at : at + size], "little")

    def get_header(self, name: str) -> int:
        off, size = HEADER_FIELDS[name]
        return self._get(off, size)

    def set_header(self, name: str, value: int) -> "PhqBytes":
        off, size = HEADER_FIELDS[name]
        self._set(off, size, value)
        return self

    def set_entry(self, i: int, name: str, value: int) -> "PhqBytes":
        off, size = ENTRY_FIELDS[name]
        self._set(L.HEADER_SIZE + i * L.SECTION_ENTRY_SIZE + off, size, value)
        return self

    def set_in_section(self, i: int, fields: dict, name: str, value: int, record: int = 0, record_size: int = 0) -> "PhqBytes":
        off, size = fields[name]
        self._set(self.section_offset(i) + record * record_size + off, size, value)
        return self

    def get_in_section(self, i: int, fields: dict, name: str, record: int = 0, record_size: int = 0) -> int:
        off, size = fields[name]
        return self._get(self.section_offset(i) + record * record_size + off, size)

    def patch(self, at: int, data: bytes) -> "PhqBytes":
        self.b[at : at + len(data)] = data
        return self

    def xor(self, at: int, mask: int) -> "PhqBytes":
        self.b[at] ^= mask
        return self

    # -- checksum repair -----------------------------------------------------------------
    def fix_section_crc(self, i: int) -> "PhqBytes":
        e = self.entry(i)
        return self.set_entry(i, "checksum", crc32c.crc32c(bytes(self.b[e.offset : e.offset + e.size])))

    def fix_table_crc(self) -> "PhqBytes":
        end = L.HEADER_SIZE + L.SECTION_ENTRY_SIZE * self.section_count
        return self.set_header("section_table_checksum", crc32c.crc32c(bytes(self.b[L.HEADER_SIZE : end])))

    def fix_header_crc(self) -> "PhqBytes":
        return self.set_header("header_checksum", crc32c.crc32c(bytes(self.b[: L.HEADER_CHECKSUM_SPAN])))

    def fix(self, sections: tuple[int, ...] = ()) -> "PhqBytes":
        """Repair the CRCs of the given sections, then the section table's and the header's."""
        for i in sections:
            self.fix_section_crc(i)
        return self.fix_table_crc().fix_header_crc()

    def bytes(self) -> bytes:
        return bytes(self.b)


def insert_section(sections: list[SectionOut], pos: int, new: SectionOut) -> list[SectionOut]:
    """Insert a section, renumbering the owners of the sections that move."""
    out = []
    for s in sections:
        owner = s.owner + 1 if s.owner != L.NO_OWNER and s.owner >= pos else s.owner
        out.append(SectionOut(s.kind, owner=owner, flags=s.flags, buffers=list(s.buffers), features=s.features))
    if new.owner != L.NO_OWNER and new.owner >= pos:
        raise ValueError("a new section cannot own sections before it")
    out.insert(pos, new)
    return out
