"""Open a phq file: map it, run the structural checks of spec §10.1 once, serve views.

Every size is computed with Python integers (no overflow) and compared with the bytes
that exist before any view is made, so nothing is sliced out of bounds and nothing is
allocated in proportion to a count the file merely claims.
"""

from __future__ import annotations

import mmap
import os
import struct
import stat
from dataclasses import dataclass

import crc32c as _crc32c
import numpy as np

from . import layout as L
from . import metajson
from .errors import FormatError, UsageError
from .table import AccelModel, Table


_ENTRY_DTYPE = np.dtype([("kind", "<u2"), ("flags", "<u2"), ("owner", "<u4"), ("offset", "<u8"), ("size", "<u8"),
                         ("checksum", "<u4"), ("reserved", "<u4")])  # L.SECTION_ENTRY as a numpy record
assert _ENTRY_DTYPE.itemsize == L.SECTION_ENTRY_SIZE
_TENSOR_HEAD = struct.Struct("<BBHI").unpack_from  # L.TENSOR_HEADER
_SHAPES = [struct.Struct(f"<{n}Q").unpack_from for n in range(L.MAX_TENSOR_NDIM + 1)]  # a tensor's shape, by ndim


@dataclass(frozen=True)
class Section:
    index: int
    kind: int
    flags: int
    owner: int
    offset: int
    size: int
    checksum: int

    @property
    def name(self) -> str:
        return L.SECTION_NAMES.get(self.kind, f"UNKNOWN_0x{self.kind:04x}")

    @property
    def ancillary(self) -> bool:
        return bool(self.flags & L.FLAG_ANCILLARY)


def _signature_error(head: bytes) -> FormatError:
    """§3.1: tell a damaged phq file from a file that is not phq at all."""
    if len(head) < 8 and L.SIGNATURE.startswith(head):
        return FormatError("E_TRUNCATED", f"the file has only {len(head)} bytes", len(head))
    if head.startswith(b"version https://git-lfs"):
        return FormatError("E_SIGNATURE", "this is a Git LFS pointer file, not the model: run `git lfs pull`", 0)
    if head[1:4] == b"PHQ":
        return FormatError(
            "E_TEXT_MODE", "the phq signature was altered, as by a text-mode transfer; copy the file in binary mode", 0
        )
    return FormatError("E_SIGNATURE", f"not a phq file (starts with {head[:8]!r})", 0)


def _json_object(raw: bytes, offset: int):
    """The metadata object of a META text, after the checks of §5.2 (metajson.check)."""
    metajson.check(raw, offset)
    return metajson.parse(raw, offset)


def _name(raw: bytes, what: str, offset: int) -> str:
    if not 1 <= len(raw) <= L.MAX_NAME_BYTES:
        raise FormatError("E_NAME", f"{what} name must be 1..{L.MAX_NAME_BYTES} bytes", offset)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("E_NAME", f"{what} name is not UTF-8", offset) from None


_NO_BLOCK = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _open_regular(path: str):
    """The file at path, opened for reading, after checking that it is a regular file
    (spec §10: a FIFO, a device or a directory is refused with UsageError before any read;
    opening with O_NONBLOCK keeps even the open of a FIFO without a writer from blocking)."""
    try:
        fd = os.open(path, _NO_BLOCK)
    except IsADirectoryError:  # Windows
        raise UsageError(f"{path!r} is a directory, not a phq file") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise UsageError(f"{path!r} is {what}, not a regular file: a phq file is read from a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class Model:
    """An open phq file. Use `phq.open(source)`; close with `.close()` or `with`.

    `source` is a path (str or os.PathLike: the file is mapped) or the file's bytes (bytes,
    bytearray, memoryview, mmap, or any object of the buffer protocol: `path` is then None).
    A read-only buffer (bytes, a read-only memoryview or mmap) is read in place, zero-copy; a
    writable one (bytearray, a writable memoryview) is copied once, since the checks made at
    open must hold for the model's whole life and a caller could change writable bytes later."""

    def __init__(self, source, max_version: tuple[int, int] = (L.FORMAT_MAJOR, L.FORMAT_MINOR)):
        # a reader restricted to an older minor knows only that version's features and
        # section kinds (to show what such a reader does with newer files, §3.2)
        spec = L.VERSIONS.get(tuple(max_version))
        if spec is None:
            raise UsageError(f"max_version must be one of {sorted(L.VERSIONS)}, got {max_version!r}")
        self._known_required = sum(1 << bit for bit in spec["required_features"])
        self._known_kinds = frozenset(spec["section_kinds"])
        self._mm = None
        if isinstance(source, (str, os.PathLike)):
            self.path = os.fspath(source)
            self._source = None
            with _open_regular(self.path) as f:
                size = os.fstat(f.fileno()).st_size
                head = f.read(L.HEADER_SIZE)
                self._check_head(head, size)
                self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            buf, scalar = memoryview(self._mm), self._mm
        else:
            self.path = None
            buf = _buffer(source)
            size = buf.nbytes
            self._check_head(buf[: L.HEADER_SIZE].tobytes(), size)
            # the scalar lookup path slices its bytes: bytes slices are fastest, memoryview slices work
            scalar = source if type(source) is bytes else buf
            self._source = buf
        try:
            self._scalar = scalar
            self._open(size, buf)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _check_head(head: bytes, size: int) -> None:
        if head[:8] != L.SIGNATURE:
            raise _signature_error(head)
        if len(head) < L.HEADER_SIZE:
            raise FormatError("E_TRUNCATED", f"file has {size} bytes, the header alone needs {L.HEADER_SIZE}", size)

    @property
    def name(self) -> str:
        """The path, or "<memory>" for a model opened from bytes."""
        return self.path if self.path is not None else "<memory>"

    # -- §10.1 structural checks -------------------------------------------------------
    def _open(self, size: int, buf: memoryview) -> None:
        self._buf = buf
        h = L.HEADER.parse(buf[: L.HEADER_SIZE])
        if h.major != L.FORMAT_MAJOR:
            raise FormatError("E_VERSION", f"format {h.major}.{h.minor} is not supported (this reader reads 1.x)", 8)
        if h.header_size != L.HEADER_SIZE:
            raise FormatError("E_HEADER_SIZE", f"header_size is {h.header_size}, expected {L.HEADER_SIZE}", 12)
        if _crc32c.crc32c(buf[: L.HEADER_CHECKSUM_SPAN]) != h.header_checksum:
            raise FormatError("E_HEADER_CHECKSUM", "header checksum mismatch", 60)
        if h.reserved:
            raise FormatError("E_RESERVED", "reserved header field is not zero", 56)
        unknown = h.required_features & ~self._known_required
        if unknown:
            raise FormatError("E_FEATURE", f"required feature bits 0x{unknown:x} are not supported by this reader", 16)
        if h.file_size > size:
            raise FormatError("E_TRUNCATED", f"header says {h.file_size} bytes, the file has {size}", size)
        if h.file_size != size:
            raise FormatError("E_FILE_SIZE", f"header says {h.file_size} bytes, the file has {size}", 32)
        if h.section_table_offset != L.HEADER_SIZE:
            raise FormatError("E_SECTION_TABLE", f"section table at {h.section_table_offset}, expected {L.HEADER_SIZE}", 40)
        if h.section_count > L.MAX_SECTIONS:
            raise FormatError("E_LIMIT", f"{h.section_count} sections exceed the limit {L.MAX_SECTIONS}", 48)
        table_end = L.HEADER_SIZE + L.SECTION_ENTRY_SIZE * h.section_count
        if table_end > size:
            raise FormatError("E_TRUNCATED", f"the section table ends at {table_end}, past the end of the file", size)
        if _crc32c.crc32c(buf[L.HEADER_SIZE : table_end]) != h.section_table_checksum:
            raise FormatError("E_HEADER_CHECKSUM", "section table checksum mismatch", 52)
        self.header = h
        self.version = (h.major, h.minor)
        self.sections = self._read_section_table(buf, h.section_count, table_end, size)
        self._read_sections(buf)

    def _read_section_table(self, buf, count: int, table_end: int, size: int) -> list[Section]:
        """The entries checked in one vectorized pass; the first entry that fails a check
        (if any) is then checked alone, in the spec's order, for its exact error."""
        e = np.frombuffer(buf, _ENTRY_DTYPE, count, L.HEADER_SIZE)
        off, sz = e["offset"], e["size"]
        prev_end = np.empty(count, np.uint64)
        prev_end[:1] = table_end
        np.add(off[:-1], sz[:-1], out=prev_end[1:])  # may wrap only past a failing entry
        expected = (prev_end + np.uint64(L.ALIGNMENT - 1)) & ~np.uint64(L.ALIGNMENT - 1)
        fsize = np.uint64(size)
        bad = (e["flags"] & ~np.uint16(L.KNOWN_SECTION_FLAGS)).astype(bool) | (e["reserved"] != 0)
        bad |= (e["kind"] == L.KIND_META) & (sz > L.MAX_METADATA_BYTES)
        bad |= (off % np.uint64(L.ALIGNMENT)) != 0
        bad |= off != expected
        bad |= (off > fsize) | (sz > fsize - np.minimum(off, fsize))
        first_bad = int(np.argmax(bad)) if count and bad.any() else count
        if first_bad < count:  # raises the exact error of the first bad entry
            start = table_end if first_bad == 0 else int(off[first_bad - 1]) + int(sz[first_bad - 1])
            self._check_entries(buf, first_bad, first_bad + 1, start, size)
            raise AssertionError("a section entry failed a vectorized check but no scalar one")  # pragma: no cover
        last_end = int(off[-1]) + int(sz[-1]) if count else table_end
        if L.align(last_end) != size:
            raise FormatError("E_SECTION_GAP", f"the last section ends at {last_end}; the file has {size} bytes", last_end)
        return list(map(Section, range(count), e["kind"].tolist(), e["flags"].tolist(), e["owner"].tolist(), off.tolist(),
                        sz.tolist(), e["checksum"].tolist()))

    def _check_entries(self, buf, lo: int, hi: int, prev_end: int, size: int) -> list[Section]:
        """§10.1 checks of section entries lo..hi-1 one by one, in the spec's order."""
        sections = []
        for i in range(lo, hi):
            at = L.HEADER_SIZE + i * L.SECTION_ENTRY_SIZE
            e = L.SECTION_ENTRY.parse(buf[at : at + L.SECTION_ENTRY_SIZE])
            if e.flags & ~L.KNOWN_SECTION_FLAGS or e.reserved:
                raise FormatError("E_RESERVED", f"section {i}: reserved flag bits or field set", at + 2)
            if e.kind == L.KIND_META and e.size > L.MAX_METADATA_BYTES:
                raise FormatError("E_LIMIT", f"metadata is {e.size} bytes, the limit is {L.MAX_METADATA_BYTES}", at + 16)
            if e.offset % L.ALIGNMENT:
                raise FormatError("E_SECTION_ALIGN", f"section {i} starts at {e.offset}, not a multiple of 64", at + 8)
            expected = L.align(prev_end)
            if e.offset < expected:
                raise FormatError("E_SECTION_OVERLAP", f"section {i} starts at {e.offset}, before {expected}", at + 8)
            if e.offset > expected:
                raise FormatError("E_SECTION_GAP", f"section {i} starts at {e.offset}, expected {expected}", at + 8)
            if e.offset + e.size > size:
                raise FormatError("E_SECTION_BOUNDS", f"section {i} ends at {e.offset + e.size}, past {size}", at + 16)
            prev_end = e.offset + e.size
            sections.append(Section(i, e.kind, e.flags, e.owner, e.offset, e.size, e.checksum))
        return sections

    def padding_spans(self) -> list[tuple[int, int]]:
        """[start, end) of every inter-section padding run (§2), checked by validate."""
        spans, prev_end = [], L.HEADER_SIZE + L.SECTION_ENTRY_SIZE * len(self.sections)
        for s in self.sections:
            spans.append((prev_end, s.offset))
            prev_end = s.offset + s.size
        spans.append((prev_end, self.header.file_size))
        return [(a, b) for a, b in spans if b > a]

    @staticmethod
    def _check_zero(buf, start: int, end: int) -> None:
        if end > start and buf[start:end].tobytes().count(0) != end - start:
            raise FormatError("E_PADDING", "padding bytes are not zero", start)

    # -- metadata: checked at open (no tree), parsed at first use -------------------------
    @property
    def metadata(self) -> dict:
        """The META object (§5.2) as Python values ({} without META), parsed at the first
        access (open checks it without building the tree: metajson)."""
        md = self._metadata
        if md is None:
            md = self._metadata = metajson.parse(self.metadata_bytes, self._meta_offset)
        return md

    def metadata_names(self) -> list[str]:
        """The top-level member names of the metadata, in file order, without building the
        tree (a shallow scan when the metadata was not parsed yet)."""
        if self._metadata is not None:
            return list(self._metadata)
        return metajson.top_level_names(self.metadata_bytes)

    def _read_sections(self, buf) -> None:
        self._metadata: dict | None = {}
        self.metadata_bytes: bytes | None = None  # the META text, None without META
        self._meta_offset = 0
        self.tensors: dict[str, np.ndarray] = {}
        self.tables: dict[str, Table] = {}
        self.skipped_sections: list[Section] = []
        self._accel = AccelModel(buf)  # one C reader (one phq_open) for all the tables, at their first lookup
        seen_meta = False
        group: list[Section] | None = None  # the open TABLE group: [TABLE, parts...]
        for s in self.sections:
            known = s.kind in self._known_kinds
            if known and s.ancillary:
                raise FormatError("E_RESERVED", f"section {s.index}: {s.name} is critical but flagged ancillary", self._entry(s) + 2)
            if s.owner != L.NO_OWNER:
                if group is None or s.owner != group[0].index:
                    raise FormatError("E_SECTION_ORDER", f"section {s.index}: owner {s.owner} is not the TABLE just before it", self._entry(s) + 4)
                if known and s.kind in L.TOP_LEVEL_KINDS:
                    raise FormatError("E_SECTION_ORDER", f"section {s.index}: {s.name} cannot have an owner", self._entry(s) + 4)
                if not known:
                    if not s.ancillary:
                        raise FormatError("E_UNKNOWN_SECTION", f"section {s.index}: unknown critical kind 0x{s.kind:04x}", self._entry(s))
                    self.skipped_sections.append(s)
                    continue
                group.append(s)
                continue
            if group is not None:
                self._close_group(group)
                group = None
            if not known:
                if not s.ancillary:
                    raise FormatError("E_UNKNOWN_SECTION", f"section {s.index}: unknown critical kind 0x{s.kind:04x}", self._entry(s))
                self.skipped_sections.append(s)
                continue
            if s.kind not in L.TOP_LEVEL_KINDS:
                raise FormatError("E_SECTION_ORDER", f"section {s.index}: {s.name} needs the owner of its TABLE", self._entry(s) + 4)
            if s.kind == L.KIND_META:
                if seen_meta:
                    raise FormatError("E_DUPLICATE_SECTION", "more than one META section", self._entry(s))
                seen_meta = True
                raw = bytes(buf[s.offset : s.offset + s.size])
                metajson.check(raw, s.offset)
                self.metadata_bytes, self._meta_offset, self._metadata = raw, s.offset, None
            elif s.kind == L.KIND_TENSOR:
                name, arr = self._tensor(buf, s)
                if name in self.tensors:
                    raise FormatError("E_DUPLICATE_NAME", f"two tensors are named {name!r}", s.offset)
                self.tensors[name] = arr
            else:
                group = [s]
        if group is not None:
            self._close_group(group)

    @staticmethod
    def _entry(s: Section) -> int:
        return L.HEADER_SIZE + s.index * L.SECTION_ENTRY_SIZE

    def _tensor(self, buf, s: Section):
        # per-section work kept to plain struct reads and one numpy view: a file may hold
        # 65,536 sections (§5.1 limit), every one a tensor
        if s.size < L.TENSOR_HEADER_SIZE:
            raise FormatError("E_SECTION_SIZE", f"tensor section {s.index} is {s.size} bytes", s.offset)
        dtype_code, ndim, name_len, reserved = _TENSOR_HEAD(buf, s.offset)
        if reserved:
            raise FormatError("E_RESERVED", "tensor reserved field is not zero", s.offset + 4)
        dtype = L.TENSOR_DTYPES.get(dtype_code)
        if dtype is None:
            raise FormatError("E_ENUM", f"tensor dtype {dtype_code} is undefined", s.offset)
        if ndim > L.MAX_TENSOR_NDIM:
            raise FormatError("E_LIMIT", f"tensor has {ndim} dimensions (limit {L.MAX_TENSOR_NDIM})", s.offset + 1)
        prefix = L.TENSOR_HEADER_SIZE + 8 * ndim + name_len
        if prefix > s.size:
            raise FormatError("E_SECTION_SIZE", "tensor header runs past its section", s.offset)
        shape = _SHAPES[ndim](buf, s.offset + L.TENSOR_HEADER_SIZE)
        name_at = s.offset + L.TENSOR_HEADER_SIZE + 8 * ndim
        name = _name(bytes(buf[name_at : name_at + name_len]), "tensor", name_at)
        # §5.3: the span (itemsize x the non-zero dimensions) must stay below 2^63, even
        # for a tensor with a zero dimension, so every size fits a signed 64-bit integer
        span, count = dtype.itemsize, 1
        for d in shape:
            span *= d or 1
            count *= d
        if span >= 1 << 63:
            raise FormatError("E_OVERFLOW", f"tensor {name!r}: shape {list(shape)} spans 2^63 bytes or more", s.offset + 8)
        nbytes = count * dtype.itemsize
        data_at = L.align(prefix)
        if data_at + nbytes != s.size:
            raise FormatError("E_SECTION_SIZE", f"tensor {name!r}: section is {s.size} bytes, shape needs {data_at + nbytes}", s.offset)
        self._check_zero(buf, s.offset + prefix, s.offset + data_at)
        arr = np.frombuffer(buf, dtype, count, s.offset + data_at)
        return name, arr if ndim == 1 else arr.reshape(shape)

    def _close_group(self, group: list[Section]) -> None:
        table = Table(self._buf, group, self._scalar, required_features=self.header.required_features, accel=self._accel)
        if table.name in self.tables:
            raise FormatError("E_DUPLICATE_NAME", f"two tables are named {table.name!r}", group[0].offset)
        self.tables[table.name] = table

    # -- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        """Drop this model's views of the mapping. Arrays already handed out keep the
        mapping alive (they stay valid) until they are garbage collected."""
        self.tables, self.tensors = {}, {}
        self._buf = self._scalar = None
        mm, self._mm = getattr(self, "_mm", None), None
        if mm is not None:
            try:
                mm.close()
            except BufferError:
                pass  # views still exported; the mapping closes when they are released

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<phq.Model {self.name} v{self.version[0]}.{self.version[1]} tables={list(self.tables)} tensors={list(self.tensors)}>"


def _buffer(source) -> memoryview:
    """The bytes of a buffer-protocol object as a flat read-only memoryview of unsigned bytes:
    zero-copy for a read-only buffer, a private copy of a writable one (see Model)."""
    try:
        mv = memoryview(source)
    except TypeError:
        raise UsageError(f"phq.open takes a path (str, os.PathLike) or the file's bytes (bytes, bytearray, "
                         f"memoryview, mmap, any buffer), got {type(source).__name__}") from None
    if not mv.readonly:
        return memoryview(mv.tobytes())
    if not mv.c_contiguous:
        raise UsageError("phq.open: the buffer must be C-contiguous")
    return mv.cast("B") if (mv.format, mv.ndim) != ("B", 1) else mv


def open_model(source, *, max_version: tuple[int, int] = (L.FORMAT_MAJOR, L.FORMAT_MINOR)) -> Model:
    """Open and structurally check a phq file; lookups then read zero-copy views.

    source: a path (str or os.PathLike) or the file's bytes (bytes, bytearray, memoryview,
    mmap, any buffer-protocol object; read-only buffers zero-copy, writable ones copied
    once: see phq.Model). `max_version=(1, 0)` reads as a 1.0 reader would (refusing 1.1
    features)."""
    return Model(source, max_version)
