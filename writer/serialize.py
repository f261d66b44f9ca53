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
from typing import Callable

import crc32c as _crc32c
import numpy as np

from phq import layout as L


TEMP_SUFFIX = ".phq-tmp"  # §13.5: temporary files are named .NAME.<random>.phq-tmp


@dataclass
class SectionOut:
    kind: int
    owner: int = L.NO_OWNER
    flags: int = 0
    buffers: list = field(default_factory=list)  # bytes-like or numpy arrays, in order

    def views(self):
        for b in self.buffers:
            if isinstance(b, np.ndarray):
                b = np.ascontiguousarray(b)
                yield memoryview(b).cast("B") if b.size else memoryview(b"")
            else:
                yield memoryview(b)

    @property
    def size(self) -> int:
        return sum(v.nbytes for v in self.views())

    def checksum(self) -> int:
        crc = 0
        for v in self.views():
            crc = _crc32c.crc32c(v, crc)
        return crc


def plan(sections: list[SectionOut]) -> tuple[bytes, bytes, list[int], int]:
    """Header bytes, section-table bytes, section offsets and file size."""
    table_end = L.HEADER_SIZE + L.SECTION_ENTRY_SIZE * len(sections)
    pos = L.align(table_end)
    offsets, entries = [], []
    for s in sections:
        size = s.size
        offsets.append(pos)
        entries.append(
            L.SECTION_ENTRY.build(
                dict(kind=s.kind, flags=s.flags, owner=s.owner, offset=pos, size=size, checksum=s.checksum(), reserved=0)
            )
        )
        pos = L.align(pos + size)
    file_size = pos
    table = b"".join(entries)
    fields = dict(
        signature=L.SIGNATURE,
        major=L.FORMAT_MAJOR,
        minor=L.FORMAT_MINOR,
        header_size=L.HEADER_SIZE,
        required_features=0,
        optional_features=0,
        file_size=file_size,
        section_table_offset=L.HEADER_SIZE,
        section_count=len(sections),
        section_table_checksum=_crc32c.crc32c(table),
        reserved=0,
        header_checksum=0,
    )
    raw = L.HEADER.build(fields)
    fields["header_checksum"] = _crc32c.crc32c(raw[: L.HEADER_CHECKSUM_SPAN])
    return L.HEADER.build(fields), table, offsets, file_size


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


def write_sections(
    path: str | os.PathLike,
    sections: list[SectionOut],
    progress: Callable[[str, int, int], None] | None = None,
) -> int:
    """Write header, table and sections to `path` atomically; return the file size.

    The bytes go to a temporary file in the target's directory, which is flushed and
    fsynced, then renamed over the target (os.replace is atomic on POSIX and Windows).
    A crash at any moment leaves either the old file or the new one at `path`.
    """
    header, table, offsets, file_size = plan(sections)
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            f.write(table)
            pos = L.HEADER_SIZE + len(table)
            written = 0
            total = sum(s.size for s in sections)
            for s, off in zip(sections, offsets):
                f.write(b"\0" * (off - pos))
                for v in s.views():
                    f.write(v)
                    written += v.nbytes
                pos = off + s.size
                if progress is not None:
                    progress("write", written, total)
            f.write(b"\0" * (file_size - pos))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, 0o666 & ~_umask())
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
