"""Lay sections out (spec §2, §4) and write the file atomically (§13.5).

The layout is fully determined by the section sizes: the section table follows the
64-byte header, each section starts at the next multiple of 64 after the previous one,
and the file ends at the next multiple of 64 after the last section. Padding is zeros.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import crc32c as _crc32c
import numpy as np

from phq import layout as L
from phq.errors import UsageError


TEMP_SUFFIX = ".phq-tmp"  # §13.5: temporary files are named .NAME.<random>.phq-tmp


@dataclass
class SectionOut:
    kind: int
    owner: int = L.NO_OWNER
    flags: int = 0
    buffers: list = field(default_factory=list)  # bytes-like or numpy arrays, in order
    # A large section can instead be produced chunk by chunk: `stream()` returns an
    # iterable of bytes-like objects or numpy arrays, and `length` is its size in bytes.
    # write_sections consumes it once, computing the CRC32C as the bytes go by.
    stream: Callable[[], Iterable] | None = None
    length: int | None = None
    features: int = 0  # required feature bits (§3.3) this section's contents need

    def views(self):
        for b in self.stream() if self.stream is not None else self.buffers:
            if isinstance(b, np.ndarray):
                b = np.ascontiguousarray(b)
                yield memoryview(b).cast("B") if b.size else memoryview(b"")
            else:
                yield memoryview(b).cast("B")

    @property
    def size(self) -> int:
        if self.stream is not None and self.length is not None:
            return self.length
        return sum(v.nbytes for v in self.views())

    def checksum(self) -> int:
        crc = 0
        for v in self.views():
            crc = _crc32c.crc32c(v, crc)
        return crc


def plan(sections: list[SectionOut]) -> tuple[bytes, bytes, list[int], int]:
    """Header bytes, section-table bytes, section offsets and file size."""
    pos = first_offset(len(sections))
    offsets, placed = [], []
    for s in sections:
        size = s.size
        offsets.append(pos)
        placed.append((s, pos, size, s.checksum()))
        pos = L.align(pos + size)
    header, table = header_and_table(placed, pos)
    return header, table, offsets, pos


def first_offset(section_count: int) -> int:
    """Offset of the first section: after the header and the section table, aligned."""
    return L.align(L.HEADER_SIZE + L.SECTION_ENTRY_SIZE * section_count)


def header_and_table(placed: list[tuple[SectionOut, int, int, int]], file_size: int) -> tuple[bytes, bytes]:
    """Header and section-table bytes for sections placed as (section, offset, size, crc32c)."""
    table = b"".join(
        L.SECTION_ENTRY.build(dict(kind=s.kind, flags=s.flags, owner=s.owner, offset=off, size=size, checksum=crc, reserved=0))
        for s, off, size, crc in placed
    )
    required = 0
    for s, *_ in placed:
        required |= s.features
    fields = dict(
        signature=L.SIGNATURE,
        major=L.FORMAT_MAJOR,
        minor=L.minor_for(required),  # the lowest version that holds the file (§3.2)
        header_size=L.HEADER_SIZE,
        required_features=required,
        optional_features=0,
        file_size=file_size,
        section_table_offset=L.HEADER_SIZE,
        section_count=len(placed),
        section_table_checksum=_crc32c.crc32c(table),
        reserved=0,
        header_checksum=0,
    )
    raw = L.HEADER.build(fields)
    fields["header_checksum"] = _crc32c.crc32c(raw[: L.HEADER_CHECKSUM_SPAN])
    return L.HEADER.build(fields), table


def to_bytes(sections: list[SectionOut]) -> bytes:
    """The whole file image in memory (for small files: tests, golden files)."""
    header, table, offsets, size = plan(sections)
    out = bytearray(size)
    out[: len(header)] = header
    out[L.HEADER_SIZE : L.HEADER_SIZE + len(table)] = table
    for s, off in zip(sections, offsets):
        for v in s.views():
            out[off : off + v.nbytes] = v
            off += v.nbytes
    return bytes(out)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms cannot open directories; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check_output_path(target: Path) -> None:
    """A UsageError naming the output's folder when it cannot hold the file (rather than the
    OSError of the temporary file the write would make there)."""
    directory = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise UsageError(f"{target}: is a directory; name the output file")
    if not directory.exists():
        raise UsageError(f"{target}: the output folder {str(directory)!r} does not exist (create it first)")
    if not directory.is_dir():
        raise UsageError(f"{target}: {str(directory)!r} is not a folder")


def write_sections(
    path: str | os.PathLike,
    sections: list[SectionOut],
    progress: Callable[[str, int, int], None] | None = None,
    before_replace: Callable[[], None] | None = None,
    check_file: Callable[[str], None] | None = None,
) -> int:
    """Write header, table and sections to `path` atomically; return the file size.

    `check_file`, if given, is called with the path of the complete, fsynced temporary file
    (before `before_replace`); an exception it raises removes the temporary file and leaves
    `path` as it was (from_sklearn measures the new file's fidelity there).

    `before_replace`, if given, runs once the temporary file is complete and fsynced,
    just before it replaces `path`; an exception it raises removes the temporary file and
    leaves `path` as it was (a build checks there that its inputs did not change, §13.8).

    The bytes go to a temporary file in the target's directory, which is flushed and
    fsynced, then renamed over the target (os.replace is atomic on POSIX and Windows).
    A crash at any moment leaves either the old file or the new one at `path`.

    Sections are written in one pass, each section's CRC32C computed as its bytes go by
    (streamed sections are never held whole); the header and the section table, which
    hold the sizes and checksums, are written last, at the start of the file.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    check_output_path(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            pos = first_offset(len(sections))
            f.write(b"\0" * pos)
            written = 0
            total = sum(s.size for s in sections) if progress is not None else 0
            placed = []
            for s in sections:
                size = crc = 0
                for v in s.views():
                    f.write(v)
                    crc = _crc32c.crc32c(v, crc)
                    size += v.nbytes
                if s.stream is not None and s.length is not None and size != s.length:
                    raise RuntimeError(f"section kind {s.kind}: streamed {size} bytes, declared {s.length}")
                placed.append((s, pos, size, crc))
                written += size
                end = L.align(pos + size)
                f.write(b"\0" * (end - pos - size))
                pos = end
                if progress is not None:
                    progress("write", written, total)
            file_size = pos
            header, table = header_and_table(placed, file_size)
            f.seek(0)
            f.write(header)
            f.write(table)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, 0o666 & ~_umask())
        if check_file is not None:
            check_file(tmp_name)
        if before_replace is not None:
            before_replace()
        os.replace(tmp_name, target)
    except BaseException as e:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        if isinstance(e, OSError) and e.errno is not None:  # disk full, quota, file too large ...
            raise OSError(e.errno, f"cannot write {target}: {e.strerror}; the previous file, if any, is unchanged") from e
        raise
    _fsync_dir(directory)
    return file_size


def stale_temp_files(path: str | os.PathLike) -> list[Path]:
    """Temporary files that writers of `path` left behind (only a writer killed outright,
    e.g. by SIGKILL or a power cut, leaves one). They are incomplete and safe to delete
    once no writer of `path` is running (spec §13.5)."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    return sorted(directory.glob(f".{glob_escape(target.name)}.*{TEMP_SUFFIX}"))


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
