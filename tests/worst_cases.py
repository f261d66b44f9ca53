"""Test-only builders of valid files shaped to make a reader's work large (issue 15, items 5-6).

Each file passes `phq.validate`; what makes it costly is a shape the spec allows but the
writer's defaults never produce: sparse tables of dim 2^24 with (almost) nothing stored,
tens of thousands of sections, a million MPH partitions, metadata of millions of empty JSON
containers or array elements. Used by tests (small sizes) and by bench/bench_worst.py (the
full sizes, timed and measured there, never in tests).
"""

from __future__ import annotations

import json
import os

import numpy as np

from phq import layout as L
from phq.writer.build import Options, build_sections, metadata_section
from phq.writer.serialize import SectionOut, to_bytes, write_sections

WIDE_DIM = L.MAX_DIM  # 2^24: one dense float32 row is 64 MiB


def _keys(n: int, prefix: str = "k") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def _patch_dim(sections: list[SectionOut], dim: int) -> None:
    """Set the dim of every TABLE descriptor (columns stored stay < the old dim, so < dim)."""
    for s in sections:
        if s.kind == L.KIND_TABLE:
            d = dict(L.TABLE_DESCRIPTOR.parse(bytes(s.buffers[0])))
            d.pop("_io", None)
            d["dim"] = dim
            s.buffers[0] = L.TABLE_DESCRIPTOR.build(d)


def wide_sparse_sections(n: int, *, dim: int = WIDE_DIM, stored: np.ndarray | None = None, quant: str = "f32",
                         scale: str = "table", name: str = "t", seed: int = 0, metadata=None) -> list[SectionOut]:
    """A sparse table of n keys and dim `dim` whose rows are `stored` (an (n, w) array, w
    small, zeros not stored; default all zeros: nnz = 0), padded with zero columns up to dim."""
    rows = np.zeros((n, 1), np.float32) if stored is None else np.asarray(stored, np.float32)
    opts = Options(quant=quant, scale=scale, layout="sparse", seed=seed, fingerprint_bits=16)
    sections = build_sections({name: (_keys(n), rows)}, None, metadata, opts, None)
    _patch_dim(sections, dim)
    return sections


def wide_sparse(path, n: int, **kw) -> str:
    write_sections(path, wide_sparse_sections(n, **kw))
    return os.fspath(path)


def many_sections(path, count: int = L.MAX_SECTIONS) -> str:
    """`count` sections: empty f32 tensors named t0, t1, ... (64 bytes of file each)."""
    tensors = {f"t{i}": np.zeros(0, np.float32) for i in range(count)}
    sections = build_sections({}, tensors, None, Options(), None)
    write_sections(path, sections)
    return os.fspath(path)


def many_partitions(path, partitions: int = L.MAX_PARTITIONS, n: int | None = None) -> str:
    """One table of `n` keys (default: one per partition) spread over `partitions` partitions."""
    n = partitions if n is None else n
    rows = np.ones((n, 1), np.float32)
    opts = Options(quant="f32", layout="dense", partitions=partitions, fingerprint_bits=8)
    write_sections(path, build_sections({"t": (_keys(n), rows)}, None, None, opts, None))
    return os.fspath(path)


def _raw_metadata(text: str) -> SectionOut:
    raw = text.encode("utf-8")
    assert len(raw) <= L.MAX_METADATA_BYTES
    return SectionOut(L.KIND_META, buffers=[raw])


def empty_containers(path, nbytes: int = L.MAX_METADATA_BYTES, last: str | None = None) -> str:
    """Metadata {"a":[{},[],{},[],...]} filling about nbytes: millions of empty containers
    (then `last`, a JSON value, as the array's last element when given)."""
    count = (nbytes - 16 - (len(last) + 1 if last else 0)) // 3
    body = ",".join(["{}", "[]"] * (count // 2) + ([last] if last else []))
    write_sections(path, [_raw_metadata('{"a":[' + body + "]}")])
    return os.fspath(path)


def many_members(path, nbytes: int = L.MAX_METADATA_BYTES) -> str:
    """Metadata {"k0":0,"k1":0,...} filling about nbytes: one object of about a million members."""
    parts, size, i = [], 2, 0
    while True:
        member = f'"k{i}":0'
        if size + len(member) + 1 > nbytes:
            break
        parts.append(member)
        size += len(member) + 1
        i += 1
    write_sections(path, [_raw_metadata("{" + ",".join(parts) + "}")])
    return os.fspath(path)


def big_array(path, nbytes: int = L.MAX_METADATA_BYTES, value: int = 0) -> str:
    """Metadata {"a":[v,v,...]} filling about nbytes: millions of array elements."""
    count = (nbytes - 16) // (len(str(value)) + 1)
    write_sections(path, [_raw_metadata('{"a":[' + ",".join([str(value)] * count) + "]}")])
    return os.fspath(path)


def big_sparse(path, n: int = 520_000, per_row: int = 60, dim: int = 1 << 16, seed: int = 0) -> str:
    """A sparse linear8 table of n keys with `per_row` stored values each (about
    n * per_row * 3 bytes: 2-byte columns and 1-byte codes), the shape of a big sparse NLU
    table; the payload is made in numpy, without a dense (n, dim) matrix."""
    from phq.writer.build import table_sections

    rng = np.random.default_rng(seed)
    # a small dense stand-in (n, 2) goes through the writer; the payload is then replaced
    opts = Options(quant="linear8", scale="table", layout="sparse", fingerprint_bits=16)
    sections = table_sections("t", (_keys(n), np.ones((n, 1), np.float32)), opts, 0, None)
    step = dim // per_row  # per_row strictly ascending columns per row: start + j * step
    cols = rng.integers(0, step, (n, 1), dtype=np.uint32) + np.arange(per_row, dtype=np.uint32)[None, :] * np.uint32(step)
    codes = rng.integers(1, 256, (n, per_row), dtype=np.uint8)
    nnz = n * per_row
    cw = 2 if dim <= 1 << 16 else 4
    row_index = (np.arange(n + 1, dtype=np.uint64) * per_row).astype("<u4")
    for s in sections:
        if s.kind == L.KIND_TABLE:
            d = dict(L.TABLE_DESCRIPTOR.parse(bytes(s.buffers[0])))
            d.pop("_io", None)
            d.update(dim=dim, nnz=nnz, index_width=4, column_width=cw)
            s.buffers[0] = L.TABLE_DESCRIPTOR.build(d)
        elif s.kind == L.KIND_SCALES:
            s.buffers = [np.array([(0.01, 128)], L.SCALE_DTYPE)]
        elif s.kind == L.KIND_ROWS:
            s.buffers = [codes.reshape(-1)]
        elif s.kind == L.KIND_ROW_INDEX:
            s.buffers = [row_index]
        elif s.kind == L.KIND_COLUMNS:
            s.buffers = [cols.reshape(-1).astype(f"<u{cw}")]
    write_sections(path, sections)
    return os.fspath(path)


def image(sections: list[SectionOut]) -> bytes:
    return to_bytes(sections)


__all__ = ["WIDE_DIM", "wide_sparse_sections", "wide_sparse", "many_sections", "many_partitions", "empty_containers", "many_members",
           "big_array", "big_sparse", "image", "json"]
