#!/usr/bin/env python3
"""Mutation fuzzer of the Python reader (`phq`) over the conformance golden files.

    .venv/bin/python fuzz/fuzz_py.py --seconds 60            # a timed run (make fuzz-py)
    .venv/bin/python fuzz/fuzz_py.py --count 100000 --seed 1  # a fixed number of mutated files
    .venv/bin/python fuzz/fuzz_py.py --atheris --seconds 300  # coverage-guided (pip install atheris)
    .venv/bin/python fuzz/fuzz_py.py --replay fuzz/findings/X.phq   # rerun a saved finding
    .venv/bin/python fuzz/fuzz_py.py --seed 1 --case 4711 -v  # rerun one case of a run

Every golden file of conformance/v1.*/{valid,invalid} is a seed. Each case takes one seed,
applies one to four mutations (bit flips, byte substitutions with interesting values,
truncation, extension, insertion/deletion, chunk copies, field-aware edits of the header,
section-table entries, TABLE descriptors, partition records, tensor headers and shapes and
array elements inside sections, section-level edits re-laid out by the writer, splices with
another seed), then, half of the time, repairs the checksums so the mutation reaches the
structural and lookup checks instead of stopping at a CRC mismatch.

The file is then read in-process: `phq.open`; when that succeeds, lookups of the seed's
probe keys plus a few random keys through every lookup entry point (`table[key]`,
`table.get`, `key in table`, `table.slot`, `table.raw`, `table.lookup`, `table.lookup_raw`),
checking shapes, dtypes and that the scalar and batch paths agree; then `phq.validate`.
Only `phq.FormatError` may come out (plus `KeyError` from `table[key]`/`table.raw(key)` for
an absent key). Anything else -- another exception, a result of the wrong shape, dtype or
value, scalar and batch lookups disagreeing, a case running longer than --timeout -- is a
BUG: the file, the keys and a traceback are saved under --findings and the run exits 1.

The engine is deterministic: case i of seed S uses `random.Random(S * 2**32 + i)`, so
`--seed S --case i` rebuilds exactly that file. No third-party package is needed beyond
phq's own dependencies; `--atheris` uses the `atheris` package when it is installed and
falls back to the built-in engine (with a note) when it is not.
"""

from __future__ import annotations

import argparse
import faulthandler
import hashlib
import json
import os
import random
import re
import shutil
import signal
import struct
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import phq
from phq import layout as L
from phq.conformance import SUITE_DIR
from phq.conformance.surgery import ENTRY_FIELDS, HEADER_FIELDS, PARTITION_FIELDS, TABLE_FIELDS, TENSOR_FIELDS, PhqBytes
from phq.writer.serialize import SectionOut, to_bytes

HERE = Path(__file__).resolve().parent
DEFAULT_FINDINGS = HERE / "findings"
VERSIONS = ("1.0", "1.1", "1.2")  # seeds: the golden files of every format version
MAX_FILE = 1 << 20  # mutated files never grow past 1 MiB
MAX_PROBES = 24  # probe keys per case (a random subset when the seed has more)
RANDOM_KEYS = 3
BATCH_ELEMENTS = 1 << 23  # rows x dim of one batch lookup, at most
INTERESTING_BYTES = (0x00, 0xFF, 0x7F, 0x80, 0x01)
# float32 / float16 bit patterns worth planting in SCALES and ROWS
F32_BITS = (
    0x7FC00000, 0xFFC00000, 0x7F800000, 0xFF800000, 0x80000000, 0x00000000, 0x00000001,
    0x7F7FFFFF, 0x3F800000, 0xBF800000,
    struct.unpack("<I", struct.pack("<f", L.F32_MAX / 255))[0],
    struct.unpack("<I", struct.pack("<f", L.F32_MAX / 255))[0] + 1,
)
F16_BITS = (0x7C00, 0xFC00, 0x7E00, 0x8000, 0x7BFF, 0x0001)
STORAGE_DTYPES = {np.dtype("<f4"), np.dtype("<f2"), np.dtype("u1")}
TENSOR_DTYPES = set(L.TENSOR_DTYPES.values())
KNOWN_KINDS = sorted(L.SECTION_NAMES)
# element width of the arrays inside each section kind (for the "element" mutator)
ELEMENT_WIDTHS = {
    L.KIND_META: (1,),
    L.KIND_TENSOR: (1, 2, 4, 8),
    L.KIND_TABLE: (1, 2, 4, 8),
    L.KIND_MPH_PARTITIONS: (4,),
    L.KIND_MPH_LEVELS: (4,),
    L.KIND_MPH_BITMAP: (1, 8),
    L.KIND_MPH_RANK: (4, 8),
    L.KIND_MPH_FALLBACK: (8,),
    L.KIND_FINGERPRINTS: (1, 2, 4),
    L.KIND_SCALES: (4,),
    L.KIND_ROWS: (1, 2, 4),
    L.KIND_ROW_INDEX: (4, 8),
    L.KIND_COLUMNS: (1, 2, 4),
}


# ---------------------------------------------------------------------------------------
# seeds
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Seed:
    name: str
    data: bytes
    keys: tuple  # probe keys (bytes), in file order, without duplicates


def _probe_keys(path: Path) -> tuple:
    keys: dict[bytes, None] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                keys[b"" if parts[1] == "-" else bytes.fromhex(parts[1])] = None
    return tuple(keys)


def load_seeds(suite: Path | None = None) -> list[Seed]:
    """Every golden file of the given suite folder, or of every format version's suite."""
    roots = [Path(suite)] if suite else [SUITE_DIR / f"v{v}" for v in VERSIONS]
    root = roots[0]
    seeds = []
    for root in roots:
        for folder in ("valid", "invalid"):
            for p in sorted((root / folder).glob("*.phq")):
                seeds.append(Seed(p.stem, p.read_bytes(), _probe_keys(p.with_suffix(".probes"))))
    if not seeds:
        raise SystemExit(f"no golden files under {root}")
    return seeds


# ---------------------------------------------------------------------------------------
# reading a (possibly broken) image: only what the mutators need, never trusting it
# ---------------------------------------------------------------------------------------
@dataclass
class Entry:
    index: int
    kind: int
    flags: int
    owner: int
    offset: int
    size: int


def entries(b) -> list[Entry]:
    """The section-table entries that lie inside the image (at most 4096)."""
    if len(b) < L.HEADER_SIZE:
        return []
    count = int.from_bytes(b[48:52], "little")
    n = max(0, min(count, (len(b) - L.HEADER_SIZE) // L.SECTION_ENTRY_SIZE, 4096))
    out = []
    for i in range(n):
        at = L.HEADER_SIZE + i * L.SECTION_ENTRY_SIZE
        kind, flags, owner, offset, size = struct.unpack_from("<HHIQQ", b, at)
        out.append(Entry(i, kind, flags, owner, offset, size))
    return out


def in_bounds(es: list[Entry], n: int) -> list[Entry]:
    return [e for e in es if e.offset + e.size <= n]


# ---------------------------------------------------------------------------------------
# mutators: each edits ctx.pb.b in place and returns a short description
# ---------------------------------------------------------------------------------------
class Skip(Exception):
    """The mutator does not apply to this image; another one is drawn."""


@dataclass
class Ctx:
    rng: random.Random
    pb: PhqBytes
    seeds: list
    touched: set = field(default_factory=set)  # section indices whose bytes changed

    @property
    def b(self) -> bytearray:
        return self.pb.b


def interesting_value(ctx: Ctx, size: int, orig: int) -> int:
    rng, bits = ctx.rng, 8 * size
    top = (1 << bits) - 1
    es = entries(ctx.b)
    roll = rng.random()
    if roll < 0.15 and es:  # a neighbour section's offset or end
        e = rng.choice(es)
        return rng.choice((e.offset, e.offset + e.size, L.align(e.offset + e.size), e.size))
    if roll < 0.25:
        return rng.randrange(0, 65) if rng.random() < 0.7 else rng.getrandbits(bits)
    if roll < 0.32 and size == 4:
        return rng.choice(F32_BITS)
    if roll < 0.35 and size == 2:
        return rng.choice(F16_BITS)
    cands = (
        0, 1, 2, top, top - 1, orig + 1, orig - 1, orig + 64, orig - 64, orig * 2, orig // 2,
        1 << 31, (1 << 31) - 1, 1 << 32, (1 << 32) - 1, 1 << 63, (1 << 63) - 1, 1 << (bits - 1),
        len(ctx.b), len(ctx.b) + 1, len(ctx.b) - 1, len(ctx.b) + 64, L.NO_OWNER, 0xFF, 0x100, 0xFFFF, 0x10000,
        orig ^ (1 << rng.randrange(bits)), L.MAX_SECTIONS, L.MAX_KEYS, L.MAX_DIM, L.MAX_PARTITIONS,
        L.MAX_PARTITIONS + 1, L.MAX_LEVELS + 1, L.MAX_LEVEL_WORDS + 1, L.MAX_METADATA_BYTES + 1,
    )
    return rng.choice(cands) % (1 << bits)


def _set(ctx: Ctx, at: int, size: int, value: int) -> None:
    if at < 0 or at + size > len(ctx.b):
        raise Skip
    ctx.b[at : at + size] = (value % (1 << (8 * size))).to_bytes(size, "little")


def _get(ctx: Ctx, at: int, size: int) -> int:
    return int.from_bytes(ctx.b[at : at + size], "little")


def _section_at(ctx: Ctx, at: int) -> None:
    for e in entries(ctx.b):
        if e.offset <= at < e.offset + e.size:
            ctx.touched.add(e.index)


def m_bitflip(ctx: Ctx) -> str:
    n = len(ctx.b)
    if not n:
        raise Skip
    rng = ctx.rng
    if rng.random() < 0.5:
        flips = 1
        lo, hi = 0, n
    else:
        flips = rng.randint(2, 16)
        lo = rng.randrange(n) if rng.random() < 0.5 else 0
        hi = min(n, lo + 16) if lo else n
    for _ in range(flips):
        at = rng.randrange(lo, hi)
        ctx.b[at] ^= 1 << rng.randrange(8)
        _section_at(ctx, at)
    return f"bitflip x{flips}"


def m_substitute(ctx: Ctx) -> str:
    n = len(ctx.b)
    if not n:
        raise Skip
    k = ctx.rng.randint(1, 8)
    for _ in range(k):
        at = ctx.rng.randrange(n)
        ctx.b[at] = ctx.rng.choice(INTERESTING_BYTES)
        _section_at(ctx, at)
    return f"substitute x{k}"


def m_truncate(ctx: Ctx) -> str:
    n = len(ctx.b)
    if not n:
        raise Skip
    rng = ctx.rng
    es = entries(ctx.b)
    if es and rng.random() < 0.4:  # near a section boundary
        e = rng.choice(es)
        cut = rng.choice((e.offset, e.offset + e.size)) + rng.randint(-3, 3)
    else:
        cut = rng.randrange(n)
    cut = max(0, min(n - 1, cut))
    del ctx.b[cut:]
    return f"truncate to {cut}"


def m_extend(ctx: Ctx) -> str:
    rng = ctx.rng
    roll = rng.random()
    if roll < 0.3:
        extra = bytes(64 * rng.randint(1, 4))
    elif roll < 0.5:
        extra = bytes(rng.randint(1, 63))
    else:
        extra = rng.randbytes(rng.randint(1, 256))
    ctx.b.extend(extra[: max(0, MAX_FILE - len(ctx.b))])
    return f"extend by {len(extra)}"


def m_insert_delete(ctx: Ctx) -> str:
    n = len(ctx.b)
    rng = ctx.rng
    at = rng.randrange(n + 1)
    if rng.random() < 0.5 and n:
        k = rng.randint(1, min(64, n - at) or 1)
        del ctx.b[at : at + k]
        _section_at(ctx, at)
        return f"delete {k} at {at}"
    k = rng.choice((1, 8, 64, rng.randint(1, 128)))
    ctx.b[at:at] = bytes(k) if rng.random() < 0.5 else rng.randbytes(k)
    _section_at(ctx, at)
    return f"insert {k} at {at}"


def m_copy_chunk(ctx: Ctx) -> str:
    n = len(ctx.b)
    if n < 2:
        raise Skip
    rng = ctx.rng
    k = rng.randint(1, min(64, n))
    src, dst = rng.randrange(n - k + 1), rng.randrange(n - k + 1)
    ctx.b[dst : dst + k] = ctx.b[src : src + k]
    _section_at(ctx, dst)
    return f"copy {k} bytes {src}->{dst}"


def m_header_field(ctx: Ctx) -> str:
    if len(ctx.b) < L.HEADER_SIZE:
        raise Skip
    name = ctx.rng.choice(list(HEADER_FIELDS))
    off, size = HEADER_FIELDS[name]
    if name == "signature":  # 8 bytes: one byte of it
        off, size = off + ctx.rng.randrange(8), 1
    v = interesting_value(ctx, size, _get(ctx, off, size))
    _set(ctx, off, size, v)
    return f"header.{name}={v}"


def m_entry_field(ctx: Ctx) -> str:
    es = entries(ctx.b)
    if not es:
        raise Skip
    e = ctx.rng.choice(es)
    name = ctx.rng.choice(list(ENTRY_FIELDS))
    off, size = ENTRY_FIELDS[name]
    at = L.HEADER_SIZE + e.index * L.SECTION_ENTRY_SIZE + off
    if name == "kind" and ctx.rng.random() < 0.5:
        v = ctx.rng.choice(KNOWN_KINDS + [0, 3, 0x7003, 0xFFFF])
    elif name == "owner" and ctx.rng.random() < 0.5:
        v = ctx.rng.choice((L.NO_OWNER, max(0, e.index - 1), e.index, e.index + 1, 0))
    else:
        v = interesting_value(ctx, size, _get(ctx, at, size))
    _set(ctx, at, size, v)
    return f"entry[{e.index}].{name}={v}"


def _sections_of_kind(ctx: Ctx, kinds, min_size: int = 1) -> list[Entry]:
    n = len(ctx.b)
    return [e for e in entries(ctx.b) if e.kind in kinds and e.size >= min_size and e.offset + min_size <= n]


def m_table_field(ctx: Ctx) -> str:
    es = _sections_of_kind(ctx, (L.KIND_TABLE,), L.TABLE_DESCRIPTOR_SIZE)
    if not es:
        raise Skip
    e = ctx.rng.choice(es)
    name = ctx.rng.choice(list(TABLE_FIELDS))
    off, size = TABLE_FIELDS[name]
    at = e.offset + off
    v = interesting_value(ctx, size, _get(ctx, at, size))
    _set(ctx, at, size, v)
    ctx.touched.add(e.index)
    return f"table@{e.index}.{name}={v}"


def m_partition_field(ctx: Ctx) -> str:
    es = _sections_of_kind(ctx, (L.KIND_MPH_PARTITIONS,), 16)
    if not es:
        raise Skip
    e = ctx.rng.choice(es)
    records = min(e.size, len(ctx.b) - e.offset) // 16
    if not records:
        raise Skip
    r = ctx.rng.randrange(records)
    name = ctx.rng.choice(list(PARTITION_FIELDS))
    off, size = PARTITION_FIELDS[name]
    at = e.offset + 16 * r + off
    v = interesting_value(ctx, size, _get(ctx, at, size))
    _set(ctx, at, size, v)
    ctx.touched.add(e.index)
    return f"partition@{e.index}[{r}].{name}={v}"


def m_tensor_field(ctx: Ctx) -> str:
    es = _sections_of_kind(ctx, (L.KIND_TENSOR,), L.TENSOR_HEADER_SIZE)
    if not es:
        raise Skip
    e = ctx.rng.choice(es)
    ndim = ctx.b[e.offset + 1]
    if ndim and ctx.rng.random() < 0.4:  # one extent of the shape
        j = ctx.rng.randrange(min(ndim, 8))
        at, size, what = e.offset + 8 + 8 * j, 8, f"shape[{j}]"
    else:
        what = ctx.rng.choice(list(TENSOR_FIELDS))
        off, size = TENSOR_FIELDS[what]
        at = e.offset + off
    v = interesting_value(ctx, size, _get(ctx, at, size))
    _set(ctx, at, size, v)
    ctx.touched.add(e.index)
    return f"tensor@{e.index}.{what}={v}"


def m_element(ctx: Ctx) -> str:
    """An array element inside a section (level sizes, rank entries, fallback hashes,
    fingerprints, scales, row codes, row index, columns...) set to an interesting value."""
    n = len(ctx.b)
    es = [e for e in entries(ctx.b) if e.size and e.offset < n]
    if not es:
        raise Skip
    e = ctx.rng.choice(es)
    width = ctx.rng.choice(ELEMENT_WIDTHS.get(e.kind, (1, 4, 8)))
    span = min(e.size, n - e.offset)
    if span < width:
        raise Skip
    at = e.offset + width * ctx.rng.randrange(span // width)
    v = interesting_value(ctx, width, _get(ctx, at, width))
    _set(ctx, at, width, v)
    ctx.touched.add(e.index)
    return f"element@{e.index}({L.SECTION_NAMES.get(e.kind, hex(e.kind))})+{at - e.offset}/{width}={v}"


def _sections_out(b) -> list[SectionOut] | None:
    es = entries(b)
    if not es or len(es) != int.from_bytes(b[48:52], "little") or len(in_bounds(es, len(b))) != len(es):
        return None
    return [SectionOut(e.kind, owner=e.owner, flags=e.flags, buffers=[bytes(b[e.offset : e.offset + e.size])]) for e in es]


def _renumber(secs: list[SectionOut], at: int, delta: int) -> None:
    for s in secs:
        if s.owner != L.NO_OWNER and s.owner >= at:
            s.owner = max(0, s.owner + delta)


def m_sections(ctx: Ctx) -> str:
    """A section-level edit, the file re-laid out by the writer (offsets, sizes and every
    checksum valid): reaches the group, ownership, size-vs-count and naming checks."""
    secs = _sections_out(ctx.b)
    if secs is None:
        raise Skip
    rng = ctx.rng
    i = rng.randrange(len(secs))
    op = rng.choice(("drop", "dup", "swap", "owner", "kind", "flags", "resize", "transplant", "unknown", "move"))
    renumber = rng.random() < 0.8
    if op == "drop":
        del secs[i]
        if renumber:
            _renumber(secs, i + 1, -1)
    elif op == "dup":
        s = secs[i]
        if renumber:
            _renumber(secs, i + 1, +1)
        secs.insert(i + 1, SectionOut(s.kind, owner=s.owner, flags=s.flags, buffers=list(s.buffers)))
    elif op == "swap" and len(secs) > 1:
        j = rng.randrange(len(secs))
        secs[i], secs[j] = secs[j], secs[i]
    elif op == "move" and len(secs) > 1:
        s = secs.pop(i)
        secs.insert(rng.randrange(len(secs) + 1), s)
    elif op == "owner":
        tables = [k for k, s in enumerate(secs) if s.kind == L.KIND_TABLE]
        secs[i].owner = rng.choice(tables + [L.NO_OWNER, i, max(0, i - 1)])
    elif op == "kind":
        secs[i].kind = rng.choice(KNOWN_KINDS + [0, 3, 0x0100, 0x7003, 0xFFFF])
    elif op == "flags":
        secs[i].flags = rng.choice((0, 1, 2, 3, 0x8000))
    elif op == "resize":
        body = secs[i].buffers[0]
        k = rng.choice((1, 2, 4, 8, 16, 64, rng.randint(1, 200)))
        if rng.random() < 0.5 and body:
            body = body[: max(0, len(body) - k)]
        else:
            body = body + (bytes(k) if rng.random() < 0.5 else rng.randbytes(k))
        secs[i].buffers = [body]
    elif op == "transplant":  # the body of a same-kind section from another seed
        donors = []
        for s in rng.sample(ctx.seeds, min(8, len(ctx.seeds))):
            other = _sections_out(s.data) or []
            donors += [o for o in other if o.kind == secs[i].kind]
        if not donors:
            raise Skip
        secs[i].buffers = list(rng.choice(donors).buffers)
    elif op == "unknown":  # an unknown section, ancillary or not, top level or in a group
        tables = [k for k, s in enumerate(secs) if s.kind == L.KIND_TABLE]
        owner = rng.choice(tables) if tables and rng.random() < 0.5 else L.NO_OWNER
        pos = rng.randrange(len(secs) + 1)
        if owner != L.NO_OWNER and owner >= pos:
            pos = owner + 1
        _renumber(secs, pos, +1)
        secs.insert(pos, SectionOut(rng.choice((0x0003, 0x0100, 0x7003)), owner=owner, flags=rng.choice((0, 1)), buffers=[rng.randbytes(rng.randint(0, 40))]))
    else:
        raise Skip
    if len(secs) > 4096:
        raise Skip
    data = to_bytes(secs)
    if len(data) > MAX_FILE:
        raise Skip
    ctx.pb.b[:] = data
    ctx.touched.clear()
    return f"sections.{op}[{i}]"


def m_splice(ctx: Ctx) -> str:
    rng = ctx.rng
    other = rng.choice(ctx.seeds).data
    a, b = ctx.b, other
    if rng.random() < 0.5:  # at 64-byte boundaries: whole sections of the other file
        ca = 64 * rng.randint(0, len(a) // 64)
        cb = 64 * rng.randint(0, len(b) // 64)
    else:
        ca, cb = rng.randint(0, len(a)), rng.randint(0, len(b))
    out = bytes(a[:ca]) + bytes(b[cb:])
    ctx.b[:] = out[:MAX_FILE]
    for e in entries(ctx.b):
        if e.offset + e.size > ca:
            ctx.touched.add(e.index)
    return f"splice at {ca} with +{cb}"


MUTATORS = (
    # (weight, function)
    (10, m_bitflip),
    (8, m_substitute),
    (4, m_truncate),
    (4, m_extend),
    (3, m_insert_delete),
    (3, m_copy_chunk),
    (6, m_header_field),
    (10, m_entry_field),
    (12, m_table_field),
    (8, m_partition_field),
    (6, m_tensor_field),
    (12, m_element),
    (10, m_sections),
    (4, m_splice),
)
_MUT_FUNCS = [m for _, m in MUTATORS]
_MUT_WEIGHTS = [w for w, _ in MUTATORS]


def repair(ctx: Ctx, length_changed: bool) -> str:
    """Recompute checksums (and sometimes file_size) so the mutation is seen by the checks
    behind them. Mode "touched": the mutated sections' CRCs; "all": every section's."""
    if len(ctx.b) < L.HEADER_SIZE:
        return "repair (none: no header)"
    rng, pb = ctx.rng, ctx.pb
    n = len(ctx.b)
    notes = []
    if length_changed and rng.random() < 0.6:
        pb.set_header("file_size", n)
        notes.append("file_size")
    es = in_bounds(entries(ctx.b), n)
    if rng.random() < 0.5:
        idx = [e.index for e in es if e.index in ctx.touched]
        mode = "touched"
    else:
        idx = [e.index for e in es]
        mode = "all"
    for i in idx:
        pb.fix_section_crc(i)
    pb.fix()
    notes.append(f"crc {mode}")
    return "repair " + "+".join(notes)


def step_name(step: str) -> str:
    """The mutator of a step description ("table@3.dim=0" -> "table")."""
    return re.match(r"[a-z_]*", step).group(0) or step


def mutate(rng: random.Random, seed: Seed, seeds: list[Seed]) -> tuple[bytes, list[str]]:
    ctx = Ctx(rng, PhqBytes(seed.data), seeds)
    steps = []
    rounds = 1 if rng.random() < 0.65 else rng.randint(2, 4)
    tries = 0
    while len(steps) < rounds and tries < 20:
        tries += 1
        m = rng.choices(_MUT_FUNCS, _MUT_WEIGHTS)[0]
        before = bytes(ctx.b)
        try:
            steps.append(m(ctx))
        except Skip:
            ctx.pb.b[:] = before
    if rng.random() < 0.5:
        steps.append(repair(ctx, len(ctx.b) != len(seed.data)))
    return bytes(ctx.b[:MAX_FILE]), steps


# ---------------------------------------------------------------------------------------
# running one file
# ---------------------------------------------------------------------------------------
class CaseTimeout(BaseException):
    """Raised by SIGALRM when a case runs longer than --timeout (a hang)."""


class WrongResult(Exception):
    """A lookup returned something of the wrong shape, type or value."""


def _on_alarm(signum, frame):
    raise CaseTimeout()


@dataclass
class Outcome:
    open: str = "ok"  # "ok" or the FormatError code
    validate: str = "ok"
    lookups: Counter = field(default_factory=Counter)  # FormatError codes raised by lookups
    lookups_run: int = 0
    bug: dict | None = None  # kind, stage, error, traceback


def random_keys(rng: random.Random, k: int) -> list:
    out = []
    for _ in range(k):
        roll = rng.random()
        if roll < 0.4:
            out.append(rng.randbytes(rng.randint(0, 24)))
        elif roll < 0.8:
            pts = [rng.choice((rng.randrange(0x20, 0x7F), rng.randrange(0xA0, 0xD800), rng.randrange(0xE000, 0x110000))) for _ in range(rng.randint(0, 12))]
            out.append("".join(map(chr, pts)))
        else:
            out.append(bytearray(rng.randbytes(rng.randint(0, 8))))
    return out


def _format_code(call):
    """(value, None) or (None, code) for a call that may raise FormatError only."""
    try:
        return call(), None
    except phq.FormatError as e:
        return None, e.code


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def check_row(row, dim: int, dtype, what: str) -> None:
    if not isinstance(row, np.ndarray) or row.shape != (dim,) or row.dtype != dtype:
        got = f"{type(row).__name__} {getattr(row, 'shape', '')} {getattr(row, 'dtype', '')}"
        raise WrongResult(f"{what} returned {got}, expected ndarray ({dim},) {np.dtype(dtype)}")


def check_model(model, keys: list, size: int, out: Outcome) -> None:
    """Every lookup entry point on every table; results checked for shape, dtype and
    agreement between the scalar and the batch paths."""
    if not isinstance(model.metadata, dict):
        raise WrongResult(f"metadata is {type(model.metadata).__name__}")
    for name, arr in model.tensors.items():
        if not isinstance(arr, np.ndarray) or arr.dtype not in TENSOR_DTYPES or arr.nbytes > size:
            raise WrongResult(f"tensor {name!r}: {type(arr).__name__} {getattr(arr, 'dtype', '')} {getattr(arr, 'nbytes', '')} bytes")
    absent = object()
    for t in list(model.tables.values()):
        dim, n, sdt = t.dim, t.num_keys, t.storage_dtype
        if sdt not in STORAGE_DTYPES:
            raise WrongResult(f"table {t.name!r}: storage dtype {sdt}")
        f32 = np.dtype(np.float32)
        # a legal sparse table may declare dim up to 2^24 in a 1 KiB file, and a batch
        # returns (k, dim) rows: keep batches (and the rows kept to compare with them)
        # within ~32 MiB of float32
        batch = keys[: max(1, BATCH_ELEMENTS // max(dim, 1))]
        scalar = []  # (slot, row, raw) or None when a FormatError came out
        for j, k in enumerate(keys):
            out.lookups_run += 1
            slot, code = _format_code(lambda: t.slot(k))
            if code:
                out.lookups[code] += 1
                scalar.append(None)
                # the other entry points on the same key must fail too (or, for batch
                # ones, may): they run the same slot computation
                for call in (lambda: t[k], lambda: t.get(k), lambda: k in t, lambda: t.raw(k)):
                    try:
                        call()
                    except phq.FormatError as e:
                        out.lookups[e.code] += 1
                    except KeyError:
                        raise WrongResult(f"KeyError for key {k!r} whose slot() raised {code}") from None
                    else:
                        raise WrongResult(f"a lookup of key {k!r} succeeded where slot() raised {code}")
                continue
            if type(slot) is not int or not -1 <= slot < n:
                raise WrongResult(f"table {t.name!r}: slot({k!r}) = {slot!r}, outside [-1, {n})")
            contains = k in t
            if contains is not (slot >= 0):
                raise WrongResult(f"`key in table` is {contains!r}, slot() is {slot}")
            got, gcode = _format_code(lambda: t.get(k, absent))
            if slot < 0:
                if gcode or got is not absent:
                    raise WrongResult(f"get() of an absent key returned {type(got).__name__}")
                for call in (t.__getitem__, t.raw):
                    try:
                        call(k)
                    except KeyError:
                        pass
                    else:
                        raise WrongResult(f"{call.__name__} of an absent key returned a row")
                scalar.append((slot, None, None))
                continue
            # present: rows may still fail the lookup-time checks (§10.3)
            row, code = _format_code(lambda: t[k])
            raw, code2 = _format_code(lambda: t.raw(k))
            if (code is None) != (code2 is None):
                raise WrongResult(f"t[key] gave {code or 'a row'}, t.raw(key) gave {code2 or 'a row'}")
            if code != gcode:
                raise WrongResult(f"t[key] gave {code or 'a row'}, t.get(key) gave {gcode or 'a row'}")
            if code:
                out.lookups[code] += 1
                out.lookups[code2] += 1
                scalar.append(None)
                continue
            check_row(row, dim, f32, "t[key]")
            check_row(raw, dim, sdt, "t.raw(key)")
            check_row(got, dim, f32, "t.get(key)")
            if not _same(row, got):
                raise WrongResult("t.get(key) and t[key] differ")
            scalar.append((slot, row, raw) if j < len(batch) else (slot, None, None))
        for call, dtype, i in ((t.lookup, f32, 1), (t.lookup_raw, sdt, 2)):
            res, code = _format_code(lambda: call(batch))
            if code:
                out.lookups[code] += 1
                if all(s is not None for s in scalar[: len(batch)]):
                    raise WrongResult(f"{call.__name__} raised {code}; every single lookup succeeded")
                continue
            if not (isinstance(res, tuple) and len(res) == 2):
                raise WrongResult(f"{call.__name__} returned {type(res).__name__}")
            rows, found = res
            if not isinstance(rows, np.ndarray) or rows.shape != (len(batch), dim) or rows.dtype != dtype:
                raise WrongResult(f"{call.__name__} rows: {getattr(rows, 'shape', rows)} {getattr(rows, 'dtype', '')}, expected ({len(batch)}, {dim}) {np.dtype(dtype)}")
            if not isinstance(found, np.ndarray) or found.shape != (len(batch),) or found.dtype != bool:
                raise WrongResult(f"{call.__name__} found: {getattr(found, 'shape', found)} {getattr(found, 'dtype', '')}")
            for j, s in enumerate(scalar[: len(batch)]):
                if s is None:
                    continue
                if bool(found[j]) != (s[0] >= 0):
                    raise WrongResult(f"{call.__name__}: key {batch[j]!r} found={bool(found[j])}, slot()={s[0]}")
                if s[0] < 0:
                    if rows[j].any():
                        raise WrongResult(f"{call.__name__}: the row of absent key {batch[j]!r} is not zero")
                elif not _same(rows[j], s[i]):
                    raise WrongResult(f"{call.__name__}: row of key {batch[j]!r} differs from the single lookup")
        empty, code = _format_code(lambda: t.lookup([]))
        if code or empty[0].shape != (0, dim) or empty[1].shape != (0,):
            raise WrongResult(f"lookup([]) gave {code or (empty[0].shape, empty[1].shape)}")


def run_file(path: str, keys: list, timeout: float) -> Outcome:
    """open + lookups + validate of one file, guarded by an alarm of `timeout` seconds."""
    out = Outcome()
    stage = "open"
    size = os.path.getsize(path)
    if timeout > 0:
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        try:
            model = phq.open(path)
        except phq.FormatError as e:
            out.open = e.code
        else:
            stage = "lookups"
            try:
                check_model(model, keys, size, out)
            except BaseException:
                model.close()
                raise
            stage = "close"
            model.close()
        stage = "validate"
        try:
            model = phq.validate(path)
        except phq.FormatError as e:
            out.validate = e.code
        else:
            model.close()
        if out.open != "ok" and out.validate != out.open:
            raise WrongResult(f"open refused the file with {out.open}, validate gave {out.validate}")
    except KeyboardInterrupt:
        raise
    except CaseTimeout:
        out.bug = dict(kind="hang", stage=stage, error=f"still running after {timeout} s", traceback=traceback.format_exc())
    except WrongResult as e:
        out.bug = dict(kind="wrong-result", stage=stage, error=str(e), traceback=traceback.format_exc())
    except BaseException as e:  # noqa: BLE001 - that is the point: anything else is a bug
        out.bug = dict(kind="exception", stage=stage, error=f"{type(e).__name__}: {e}"[:500], traceback=traceback.format_exc())
    finally:
        if timeout > 0:
            signal.setitimer(signal.ITIMER_REAL, 0)
    return out


def bug_signature(bug: dict) -> str:
    """Groups findings: kind, stage, exception type and the innermost phq frame."""
    where = ""
    for line in bug["traceback"].splitlines():
        if line.strip().startswith("File ") and ("pyreader" in line or "/phq/" in line):
            where = line.strip()
    return f"{bug['kind']}|{bug['stage']}|{bug['error'].split(':')[0]}|{where}"


# ---------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------
@dataclass
class Summary:
    seed: int
    files: int = 0
    seconds: float = 0.0
    validate: Counter = field(default_factory=Counter)
    open: Counter = field(default_factory=Counter)
    lookups: Counter = field(default_factory=Counter)
    lookups_run: int = 0
    mutators: Counter = field(default_factory=Counter)
    bugs: int = 0
    bug_kinds: Counter = field(default_factory=Counter)  # signature -> count
    findings: list = field(default_factory=list)  # saved reproducer paths
    engine: str = "builtin"

    @property
    def codes(self) -> set:
        return {c for c in list(self.validate) + list(self.open) + list(self.lookups) if c.startswith("E_")}

    def add(self, out: Outcome) -> None:
        self.files += 1
        self.open[out.open] += 1
        self.lookups_run += out.lookups_run
        self.lookups.update(out.lookups)
        if out.bug:
            self.bugs += 1
            self.validate["BUG"] += 1
        else:
            self.validate["accepted" if out.validate == "ok" else out.validate] += 1

    def as_json(self) -> dict:
        return {
            "engine": self.engine,
            "seed": self.seed,
            "mutated_files": self.files,
            "seconds": round(self.seconds, 3),
            "execs_per_second": round(self.files / self.seconds, 1) if self.seconds else None,
            "validate_outcomes": dict(sorted(self.validate.items())),
            "open_outcomes": dict(sorted(self.open.items())),
            "lookup_errors": dict(sorted(self.lookups.items())),
            "lookups_run": self.lookups_run,
            "distinct_codes": sorted(self.codes),
            "mutators": dict(sorted(self.mutators.items())),
            "bugs": self.bugs,
            "bug_signatures": dict(self.bug_kinds),
            "findings": self.findings,
        }

    def report(self) -> str:
        rate = self.files / self.seconds if self.seconds else 0.0
        lines = [
            f"phq Python reader fuzz ({self.engine} engine, seed {self.seed}): {self.files} mutated files in {self.seconds:.1f} s ({rate:.0f} exec/s)",
            "validate outcome: " + ", ".join(f"{k} {v}" for k, v in sorted(self.validate.items(), key=lambda kv: (-kv[1], kv[0]))),
            "open outcome:     " + ", ".join(f"{k} {v}" for k, v in sorted(self.open.items(), key=lambda kv: (-kv[1], kv[0]))),
            f"lookups:          {self.lookups_run} key lookups; errors: " + (", ".join(f"{k} {v}" for k, v in sorted(self.lookups.items())) or "none"),
            f"distinct codes:   {len(self.codes)} of {len(phq.ERROR_CODES)}" + (f" (never seen: {', '.join(sorted(set(phq.ERROR_CODES) - self.codes))})" if set(phq.ERROR_CODES) - self.codes else ""),
        ]
        if self.mutators:
            lines.append("mutators:         " + ", ".join(f"{k} {v}" for k, v in sorted(self.mutators.items())))
        lines.append(f"bugs:             {self.bugs}" + (f" ({len(self.bug_kinds)} distinct)" if self.bugs else ""))
        for sig, count in self.bug_kinds.items():
            lines.append(f"  {count} x {sig}")
        for p in self.findings:
            lines.append(f"  saved {p}")
        return "\n".join(lines)


class Runner:
    """Writes each case to a scratch file, runs it, records outcomes and findings."""

    def __init__(self, findings: Path, timeout: float = 5.0, seed: int = 0, keep_per_signature: int = 3, log=print):
        self.findings = Path(findings)
        self.timeout = timeout
        self.summary = Summary(seed)
        self.keep = keep_per_signature
        self.log = log
        shm = Path("/dev/shm")
        self.work = Path(tempfile.mkdtemp(prefix="phq-fuzz-", dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None))
        self.case_path = self.work / "case.phq"
        self._watchdog = open(self.work / "watchdog.txt", "w")
        self._old_alarm = None

    def __enter__(self) -> "Runner":
        try:
            self._old_alarm = signal.signal(signal.SIGALRM, _on_alarm)
        except BaseException:  # e.g. not the main thread: do not leak the work folder
            self.__exit__()
            raise
        if not faulthandler.is_enabled():  # a crash (SIGSEGV...) prints the Python stack
            try:
                faulthandler.enable()
            except (ValueError, OSError, AttributeError):  # stderr without a file descriptor
                pass
        return self

    def __exit__(self, *exc) -> None:
        if self._old_alarm is not None:
            signal.signal(signal.SIGALRM, self._old_alarm)
        faulthandler.cancel_dump_traceback_later()
        self._watchdog.close()
        shutil.rmtree(self.work, ignore_errors=True)

    def run(self, data: bytes, keys: list, about: str) -> Outcome:
        tmp = self.work / "next.phq"
        tmp.write_bytes(data)
        os.replace(tmp, self.case_path)  # a new inode: views of the last case stay valid
        # a C-level hang is not interrupted by SIGALRM: a hard watchdog ends the process
        # and leaves the case file and the traceback in the work folder
        if self.timeout > 0:
            self._watchdog.seek(0)
            self._watchdog.write(f"hard hang (still running after the alarm) in case: {about}\nfile: {self.case_path}\n")
            self._watchdog.truncate()
            self._watchdog.flush()
            faulthandler.dump_traceback_later(max(30.0, 6 * self.timeout), exit=True, file=self._watchdog)
        with warnings.catch_warnings():
            # a huge (finite) scale may overflow float32 when dequantizing: a warning, not an error
            warnings.simplefilter("ignore", RuntimeWarning)
            out = run_file(str(self.case_path), keys, self.timeout)
        if self.timeout > 0:
            faulthandler.cancel_dump_traceback_later()
        self.summary.add(out)
        if out.bug:
            self._save(data, keys, about, out)
        return out

    def _save(self, data: bytes, keys: list, about: str, out: Outcome) -> None:
        sig = bug_signature(out.bug)
        self.summary.bug_kinds[sig] += 1
        if self.summary.bug_kinds[sig] > self.keep:
            return
        self.findings.mkdir(parents=True, exist_ok=True)
        stem = f"{out.bug['kind']}-{out.bug['stage']}-{hashlib.sha1(data).hexdigest()[:12]}"
        path = self.findings / f"{stem}.phq"
        path.write_bytes(data)
        path.with_suffix(".keys").write_text("".join((_key_bytes(k).hex() or "-") + "\n" for k in keys))
        rel = os.path.relpath(path)
        path.with_suffix(".txt").write_text(
            f"{out.bug['kind']} in {out.bug['stage']}: {out.bug['error']}\n"
            f"case: {about}\n"
            f"open: {out.open}\n"
            f"replay: .venv/bin/python fuzz/fuzz_py.py --replay {rel}\n\n"
            f"{out.bug['traceback']}"
        )
        self.summary.findings.append(str(rel))
        self.log(f"BUG ({out.bug['kind']} in {out.bug['stage']}): {out.bug['error']}  -> {rel}")


def _key_bytes(k) -> bytes:
    return k.encode("utf-8") if isinstance(k, str) else bytes(k)


def case_keys(rng: random.Random, seed: Seed) -> list:
    keys = list(seed.keys)
    if len(keys) > MAX_PROBES:
        keys = rng.sample(keys, MAX_PROBES)
    return keys + random_keys(rng, RANDOM_KEYS)


def make_case(run_seed: int, i: int, seeds: list[Seed]) -> tuple[Seed, bytes, list[str], list]:
    rng = random.Random(run_seed * (1 << 32) + i)
    # valid seeds reach the deepest code: draw them twice as often as invalid ones
    weights = [2 if s.name.startswith("y_") else 1 for s in seeds]
    seed = rng.choices(seeds, weights)[0]
    data, steps = mutate(rng, seed, seeds)
    return seed, data, steps, case_keys(rng, seed)


def fuzz(count: int | None = None, seconds: float | None = None, seed: int = 0, findings: Path = DEFAULT_FINDINGS,
         timeout: float = 5.0, verbose: bool = False, log=print, progress: float = 0.0) -> Summary:
    """The built-in engine: `count` cases, or as many as fit in `seconds`."""
    if count is None and seconds is None:
        raise ValueError("give count or seconds")
    seeds = load_seeds()
    start = time.monotonic()
    next_progress = start + progress if progress else None
    with Runner(findings, timeout, seed, log=log) as runner:
        log(f"scratch folder {runner.work} (a case stuck in C code ends the run and stays there, with watchdog.txt)")
        i = 0
        try:
            while True:
                if count is not None and i >= count:
                    break
                now = time.monotonic()
                if seconds is not None and now - start >= seconds:
                    break
                if next_progress and now >= next_progress:
                    s = runner.summary
                    log(f"... {s.files} files, {s.files / (now - start):.0f} exec/s, {len(s.codes)} codes, {s.bugs} bugs")
                    next_progress = now + progress
                s_, data, steps, keys = make_case(seed, i, seeds)
                for st in steps:
                    runner.summary.mutators[step_name(st)] += 1
                about = f"seed {seed} case {i}: {s_.name} <- {'; '.join(steps)}"
                out = runner.run(data, keys, about)
                if verbose:
                    log(f"{about}\n   open {out.open}, validate {out.validate}, lookup errors {dict(out.lookups)}" + (f", BUG {out.bug['error']}" if out.bug else ""))
                i += 1
        except KeyboardInterrupt:
            log("interrupted")
        runner.summary.seconds = time.monotonic() - start
        return runner.summary


def replay(paths: list[str], timeout: float, log=print) -> int:
    """Run the checks on saved files (keys from FILE.keys or FILE.probes when present)."""
    bugs = 0
    with Runner(DEFAULT_FINDINGS, timeout) as runner:  # replay saves nothing
        for p in paths:
            p = Path(p)
            keys: list = []
            if p.with_suffix(".keys").is_file():
                keys = [b"" if line == "-" else bytes.fromhex(line) for line in p.with_suffix(".keys").read_text().split()]
            else:
                keys = list(_probe_keys(p.with_suffix(".probes"))) + [b"", b"x", "é"]
            shutil.copyfile(p, runner.case_path)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out = run_file(str(runner.case_path), keys, timeout)
            log(f"{p}: open {out.open}, validate {out.validate}, lookup errors {dict(out.lookups)}")
            if out.bug:
                bugs += 1
                log(f"  BUG ({out.bug['kind']} in {out.bug['stage']}): {out.bug['error']}\n{out.bug['traceback']}")
    return 1 if bugs else 0


# ---------------------------------------------------------------------------------------
# atheris (coverage-guided), optional
# ---------------------------------------------------------------------------------------
def fuzz_atheris(seconds: float | None, count: int | None, seed: int, findings: Path, timeout: float, corpus: Path | None,
                 json_path: Path | None = None, log=print) -> Summary | None:
    """Coverage-guided run with atheris/libFuzzer, the phq modules instrumented. The
    custom mutator mixes libFuzzer's byte mutations with this file's structure-aware
    ones. Returns None (the caller falls back) when atheris is not installed."""
    try:
        import atheris
    except ImportError:
        return None
    seeds = load_seeds()
    # instrument phq's own code only (numpy and the standard library stay fast)
    import gc

    n_inst = 0
    for obj in gc.get_objects():
        if callable(obj) and getattr(obj, "__module__", None) and str(obj.__module__).split(".")[0] == "phq":
            if isinstance(obj, type(fuzz)) and not getattr(obj, "__self__", None):
                try:
                    atheris.instrument_func(obj)
                    n_inst += 1
                except Exception:  # noqa: BLE001
                    pass
    try:
        from importlib.metadata import version

        log(f"atheris {version('atheris')}: instrumented {n_inst} phq functions")
    except Exception:  # noqa: BLE001
        log(f"atheris: instrumented {n_inst} phq functions")
    temp_corpus = corpus is None
    corpus = Path(corpus) if corpus else Path(tempfile.mkdtemp(prefix="phq-atheris-corpus-"))
    (corpus / "work").mkdir(parents=True, exist_ok=True)
    (corpus / "seed").mkdir(parents=True, exist_ok=True)
    for s in seeds:
        (corpus / "seed" / f"{s.name}.phq").write_bytes(s.data)
    all_keys = sorted({k for s in seeds for k in s.keys})
    keys = all_keys[:: max(1, len(all_keys) // MAX_PROBES)][:MAX_PROBES] + [b"", b"\x00", "é"]
    runner = Runner(findings, timeout, seed, log=log)
    runner.__enter__()
    runner.summary.engine = "atheris"
    start = time.monotonic()

    def finish() -> None:
        runner.summary.seconds = time.monotonic() - start
        summary = runner.summary
        log(summary.report())
        if json_path:
            write_json(json_path, summary)
        runner.__exit__(None, None, None)
        if temp_corpus:
            shutil.rmtree(corpus, ignore_errors=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1 if summary.bugs else 0)

    def test_one_input(data: bytes) -> None:
        if (seconds is not None and time.monotonic() - start >= seconds) or (count is not None and runner.summary.files >= count):
            finish()
        runner.run(bytes(data), keys, f"atheris input sha1 {hashlib.sha1(data).hexdigest()}")

    def custom_mutator(data: bytes, max_size: int, mseed: int) -> bytes:
        rng = random.Random(mseed)
        if rng.random() < 0.5:
            return atheris.Mutate(data, max_size)
        base = Seed("input", bytes(data), ())
        out, steps = mutate(rng, base, seeds)
        for st in steps:
            runner.summary.mutators[step_name(st)] += 1
        return out[:max_size]

    argv = [sys.argv[0], str(corpus / "work"), str(corpus / "seed"), "-max_len=65536", "-timeout=0", "-rss_limit_mb=2048",
            f"-seed={seed or 1}", "-print_final_stats=1", f"-artifact_prefix={findings}/atheris-"]
    if seconds is not None:
        argv.append(f"-max_total_time={int(seconds) + 30}")  # a backstop: finish() ends the run
    findings.mkdir(parents=True, exist_ok=True)
    atheris.Setup(argv, test_one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()  # never returns: finish() exits
    return None


def write_json(path: Path, summary: Summary) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary.as_json(), indent=1) + "\n")


# ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Mutation fuzzer of the phq Python reader over the conformance golden files.")
    how = ap.add_mutually_exclusive_group()
    how.add_argument("--seconds", type=float, help="run for this many seconds")
    how.add_argument("--count", type=int, help="run exactly this many mutated files")
    how.add_argument("--case", type=int, help="run only case I of --seed (with -v: its mutations)")
    how.add_argument("--replay", nargs="+", metavar="FILE", help="run the checks on saved files (e.g. findings)")
    ap.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    ap.add_argument("--findings", type=Path, default=DEFAULT_FINDINGS, help="where bugs are saved (default fuzz/findings)")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds one case may take before it counts as a hang (default 5)")
    ap.add_argument("--json", type=Path, help="also write the summary as JSON here")
    ap.add_argument("--atheris", action="store_true", help="coverage-guided mode (needs `pip install atheris`)")
    ap.add_argument("--corpus", type=Path, help="atheris corpus folder (default: a temporary one)")
    ap.add_argument("--progress", type=float, default=0.0, metavar="S", help="print a progress line every S seconds")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case")
    a = ap.parse_args(argv)
    if a.replay:
        return replay(a.replay, a.timeout)
    if a.case is not None:
        seed_, data, steps, keys = make_case(a.seed, a.case, load_seeds())
        about = f"seed {a.seed} case {a.case}: {seed_.name} <- {'; '.join(steps)}"
        with Runner(a.findings, a.timeout, a.seed) as runner:
            out = runner.run(data, keys, about)
        print(f"{about}\n   open {out.open}, validate {out.validate}, lookup errors {dict(out.lookups)}")
        if out.bug:
            print(out.bug["traceback"])
        return 1 if out.bug else 0
    if a.seconds is None and a.count is None:
        a.seconds = 60.0
    summary = None
    if a.atheris:
        summary = fuzz_atheris(a.seconds, a.count, a.seed, a.findings, a.timeout, a.corpus, a.json)
        if summary is None:
            print("atheris is not installed (pip install atheris): running the built-in engine instead", file=sys.stderr)
    if summary is None:
        summary = fuzz(a.count, a.seconds, a.seed, a.findings, a.timeout, a.verbose, progress=a.progress)
        print(summary.report())
    if a.json:
        write_json(a.json, summary)
    return 1 if summary.bugs else 0


if __name__ == "__main__":
    sys.exit(main())
