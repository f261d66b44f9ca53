"""Turn (key, row) tables, tensors and metadata into phq v1.0 sections (spec §5, §13)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from phq import layout as L
from phq.errors import UsageError
from phq.hashing import fingerprint_of_np, hash_keys
from phq.table import encode_key  # one rule for readers and writers: §6

from . import quant as Q
from .mph import HashCollision, build_mph, default_partitions
from .inputs import json_too_deep
from .compact import to_compact
from .serialize import SectionOut

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")

QUANTS = {
    "f32": L.QUANT_F32, "f16": L.QUANT_F16, "linear8": L.QUANT_LINEAR8,
    # format 1.1 (spec/format-v1.1.md): a file using them is written as 1.1, else as 1.0
    "linear4": L.QUANT_LINEAR4, "codebook4": L.QUANT_CODEBOOK4, "codebook8": L.QUANT_CODEBOOK8,
}
SCALES = {"table": L.SCALE_TABLE, "column": L.SCALE_COLUMN, "row-block": L.SCALE_ROW_BLOCK}
LAYOUTS = ("dense", "sparse", "auto")
# how a sparse table's rows are indexed: "plain" (1.0's ROW_INDEX + COLUMNS) or "compact"
# (format 1.2, spec/format-v1.2.md: two-level row index, Elias-Fano columns); opt-in, so that
# files keep their 1.0/1.1 bytes unless asked
SPARSE_ENCODINGS = ("plain", "compact")

Progress = Callable[[str, int, int], None]


@dataclass
class Options:
    """Build options of one table (defaults are the writer's, not the format's)."""

    gamma: float = 2.0
    seed: int = 0
    fingerprint_bits: int = 16
    quant: str = "linear8"
    scale: str = "column"
    block_rows: int = 256
    layout: str = "auto"
    sparse: str = "plain"
    drop_zero_rows: bool = False
    partitions: int | None = None
    max_levels: int = L.MAX_LEVELS

    def check(self) -> None:
        if not (isinstance(self.gamma, (int, float)) and math.isfinite(self.gamma) and 0.5 <= self.gamma <= 100):
            raise UsageError(f"gamma must be a number in [0.5, 100], got {self.gamma!r}")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 1 << 32):
            raise UsageError(f"seed must be an integer in [0, 2^32), got {self.seed!r}")
        if self.fingerprint_bits not in L.FINGERPRINT_WIDTHS:
            raise UsageError(f"fingerprint_bits must be one of {L.FINGERPRINT_WIDTHS}, got {self.fingerprint_bits!r}")
        if self.quant not in QUANTS:
            raise UsageError(f"quant must be one of {sorted(QUANTS)}, got {self.quant!r}")
        if self.scale not in SCALES:
            raise UsageError(f"scale must be one of {sorted(SCALES)}, got {self.scale!r}")
        if QUANTS[self.quant] in L.CODEBOOK_LEVELS and self.scale == "row-block":
            raise UsageError(f"{self.quant} has one codebook per table or per column: scale must be 'table' or 'column'")
        if not (isinstance(self.block_rows, int) and 1 <= self.block_rows < 1 << 32):
            raise UsageError(f"block_rows must be an integer in [1, 2^32), got {self.block_rows!r}")
        if self.layout not in LAYOUTS:
            raise UsageError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if self.sparse not in SPARSE_ENCODINGS:
            raise UsageError(f"sparse must be one of {SPARSE_ENCODINGS}, got {self.sparse!r}")
        if self.partitions is not None and not (isinstance(self.partitions, int) and 1 <= self.partitions <= L.MAX_PARTITIONS):
            raise UsageError(f"partitions must be an integer in [1, {L.MAX_PARTITIONS}], got {self.partitions!r}")
        if not (isinstance(self.max_levels, int) and 0 <= self.max_levels <= L.MAX_LEVELS):
            raise UsageError(f"max_levels must be an integer in [0, {L.MAX_LEVELS}], got {self.max_levels!r}")

    @property
    def gamma_milli(self) -> int:
        return int(round(self.gamma * 1000))


@dataclass
class Table:
    """A table with per-table options: `Table(keys, rows, quant="f16", ...)`."""

    keys: Any
    rows: Any
    options: dict = field(default_factory=dict)

    def __init__(self, keys, rows=None, **options):
        self.keys, self.rows, self.options = keys, rows, options


def encode_keys(raw_keys: list) -> list[bytes]:
    """encode_key over a list, with fast paths for all-str and all-bytes lists."""
    first = type(raw_keys[0]) if raw_keys else bytes
    if first is str:
        try:
            return [k.encode("utf-8") for k in raw_keys]
        except (AttributeError, UnicodeEncodeError):
            pass  # mixed types or an unencodable key: the slow path names it
    elif first is bytes and all(type(k) is bytes for k in raw_keys):
        return raw_keys
    return [encode_key(k) for k in raw_keys]


def _as_pairs(name: str, value) -> tuple[list, Any, dict]:
    if isinstance(value, Table):
        keys, rows, options = value.keys, value.rows, value.options
        if rows is None:
            if not isinstance(keys, Mapping):
                raise UsageError(f"table {name!r}: Table(keys) needs a mapping, or pass rows")
            keys, rows = list(keys.keys()), list(keys.values())
        return list(keys), rows, options
    if isinstance(value, Mapping):
        return list(value.keys()), list(value.values()), {}
    if isinstance(value, tuple) and len(value) == 2:
        return list(value[0]), value[1], {}
    raise UsageError(f"table {name!r} must be a mapping key -> row, a (keys, rows) pair or phq.writer.Table")


def as_rows(name: str, rows, n: int) -> np.ndarray:
    """Rows as a C-contiguous float32 (n, dim) array; refuses NaN/inf (§13.4)."""
    try:
        if isinstance(rows, list) and n and all(np.ndim(r) == 0 for r in rows[:1]):
            raise UsageError(f"table {name!r}: each row must be a sequence of weights (use [w] for dim 1)")
        arr = np.asarray(rows, dtype=np.float64) if not isinstance(rows, np.ndarray) else rows
    except (TypeError, ValueError) as e:
        raise UsageError(f"table {name!r}: rows are not a rectangular numeric array ({e})") from None
    if n == 0 and arr.size == 0:
        arr = arr.reshape(0, arr.shape[1] if arr.ndim == 2 else 0)
    if arr.ndim != 2 or arr.shape[0] != n:
        raise UsageError(f"table {name!r}: rows must have shape (num_keys={n}, dim), got {arr.shape}")
    if arr.shape[1] > L.MAX_DIM:
        raise UsageError(f"table {name!r}: dim {arr.shape[1]} exceeds the limit {L.MAX_DIM}")
    return finite_float32(f"table {name!r}", arr)


def finite_float32(where: str, arr: np.ndarray) -> np.ndarray:
    """§13.4 for a numeric array: refuse non-numeric dtypes, NaN, infinity and values that
    overflow float32; return it as C-contiguous float32."""
    if arr.dtype.kind not in "fiub":
        raise UsageError(f"{where}: rows must be numeric, got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise UsageError(f"{where}: weight [{r}, {c}] is {arr[r, c]!r}; NaN and infinity are refused")
    out = np.ascontiguousarray(arr, dtype=np.float32)
    if arr.dtype.kind == "f" and not np.isfinite(out).all():
        raise UsageError(f"{where}: a weight overflows float32")
    return out


def check_name(kind: str, name) -> bytes:
    """§5.1: names are 1..255 bytes of UTF-8."""
    if not isinstance(name, str):
        raise UsageError(f"{kind} names must be str, got {type(name).__name__}")
    try:
        raw = name.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{kind} name {name!r} is not encodable as UTF-8") from None
    if not 1 <= len(raw) <= L.MAX_NAME_BYTES:
        raise UsageError(f"{kind} name {name!r} must be 1..{L.MAX_NAME_BYTES} bytes of UTF-8")
    return raw


def table_sections(name: str, value, defaults: Options, owner: int, progress: Progress | None) -> list[SectionOut]:
    raw_keys, rows, overrides = _as_pairs(name, value)
    opts = Options(**{**defaults.__dict__, **overrides}) if overrides else defaults
    try:
        opts.check()
    except TypeError as e:
        raise UsageError(f"table {name!r}: {e}") from None
    name_bytes = check_name("table", name)
    keys = encode_keys(raw_keys)
    n = len(keys)
    if n > L.MAX_KEYS:
        raise UsageError(f"table {name!r}: {n} keys exceed the limit {L.MAX_KEYS}")
    mat = as_rows(name, rows, n)
    dim = mat.shape[1]
    quant = QUANTS[opts.quant]
    granularity = L.SCALE_NONE if quant in (L.QUANT_F32, L.QUANT_F16) else SCALES[opts.scale]

    if opts.drop_zero_rows and n:
        keep = ~Q.zero_rows(mat, quant, granularity)
        if not keep.all():
            keys = [k for k, kp in zip(keys, keep) if kp]
            mat = mat[keep]
            n = len(keys)

    if progress:
        progress(f"{name}: hash", 0, n)
    hashes = hash_keys(keys, opts.seed)
    partitions = opts.partitions or default_partitions(n, opts.gamma_milli)
    try:
        mph = build_mph(
            hashes,
            gamma_milli=opts.gamma_milli,
            num_partitions=partitions,
            max_levels=opts.max_levels,
            progress=(lambda d, t: progress(f"{name}: mph", d, t)) if progress else None,
        )
    except HashCollision as e:
        i, j = e.pairs[0]
        if keys[i] == keys[j]:
            raise UsageError(f"table {name!r}: duplicate key {raw_keys_repr(keys[i])}") from None
        raise UsageError(
            f"table {name!r}: keys {raw_keys_repr(keys[i])} and {raw_keys_repr(keys[j])} have the same 128-bit "
            f"hash under seed {opts.seed}; choose another seed"
        ) from None
    slot_rows = mat[mph.order] if n else mat
    q = Q.quantize(slot_rows, quant, granularity, opts.block_rows)
    itemsize = L.QUANT_CODE_BITS[quant] / 8

    sparse = compact = None
    if opts.layout != "dense":
        sparse = Q.to_sparse(q)
        nnz = sparse.values.size
        if opts.sparse == "compact":  # v1.2
            compact = to_compact(sparse, n, dim)
            sparse_bytes = compact.index_bytes() + L.align(Q.code_bytes(nnz, quant))
        else:
            sparse_bytes = Q.sparse_bytes(n, dim, nnz, itemsize)
        if opts.layout == "auto" and sparse_bytes >= L.align(Q.code_bytes(n * dim, quant)):
            sparse = compact = None

    fp_bits = opts.fingerprint_bits
    if fp_bits:
        fps = fingerprint_of_np(hashes[mph.order, 1], fp_bits).astype(L.FINGERPRINT_DTYPES[fp_bits])
    else:
        fps = np.zeros(0, dtype=np.uint8)
    descriptor = dict(
        num_keys=n,
        dim=dim,
        seed=opts.seed,
        num_partitions=partitions,
        gamma_milli=opts.gamma_milli,
        nnz=sparse.values.size if sparse is not None else n * dim,
        hash_scheme=L.HASH_MURMUR3_128,
        quant=quant,
        layout=L.LAYOUT_DENSE if sparse is None else L.LAYOUT_COMPACT if compact is not None else L.LAYOUT_SPARSE,
        fingerprint_bits=fp_bits,
        scale_granularity=granularity,
        index_width=compact.index_width if compact is not None else sparse.row_index.dtype.itemsize if sparse is not None else 0,
        column_width=sparse.columns.dtype.itemsize if sparse is not None and compact is None else 0,
        reserved0=compact.delta_width if compact is not None else 0,  # v1.2 §3: delta_width
        scale_block_rows=opts.block_rows if granularity == L.SCALE_ROW_BLOCK else 0,
        name_len=len(name_bytes),
        # v1.2 §3: row_block_log2 (offset 46) and column_low_bits (offset 47)
        reserved1=compact.row_block_log2 | compact.column_low_bits << 8 if compact is not None else 0,
        reserved2=0,
        reserved3=0,
    )
    part = lambda kind, *bufs: SectionOut(kind, owner=owner, buffers=list(bufs))  # noqa: E731
    stored = Q.pack_nibbles if L.QUANT_CODE_BITS[quant] == 4 else (lambda codes: codes)  # v1.1 §4.3
    out = [
        SectionOut(L.KIND_TABLE, buffers=[L.TABLE_DESCRIPTOR.build(descriptor), name_bytes],
                   features=L.quant_feature(quant) | (L.FEATURE_COMPACT_SPARSE if compact is not None else 0)),
        part(L.KIND_MPH_PARTITIONS, mph.partitions),
        part(L.KIND_MPH_LEVELS, mph.level_words),
        part(L.KIND_MPH_BITMAP, mph.bitmap),
        part(L.KIND_MPH_RANK, mph.rank),
        part(L.KIND_MPH_FALLBACK, mph.fallback),
        part(L.KIND_FINGERPRINTS, fps),
        part(L.KIND_SCALES, q.scales),
    ]
    if q.levels is not None:
        out.append(part(L.KIND_CODEBOOK, np.ascontiguousarray(q.levels, dtype="<f4")))
    if sparse is None:
        out.append(part(L.KIND_ROWS, stored(q.codes)))
    elif compact is not None:
        out += [part(L.KIND_ROWS, stored(sparse.values)), part(L.KIND_ROW_BASES, compact.bases), part(L.KIND_ROW_DELTAS, compact.deltas),
                part(L.KIND_COLUMN_LOW, compact.low), part(L.KIND_COLUMN_HIGH, compact.high)]
    else:
        out += [part(L.KIND_ROWS, stored(sparse.values)), part(L.KIND_ROW_INDEX, sparse.row_index), part(L.KIND_COLUMNS, sparse.columns)]
    return out


def raw_keys_repr(key: bytes) -> str:
    try:
        return repr(key.decode("utf-8"))
    except UnicodeDecodeError:
        return repr(key)


def tensor_section(name: str, value) -> SectionOut:
    name_bytes = check_name("tensor", name)
    arr = np.asarray(value)
    code = next((c for c, dt in L.TENSOR_DTYPES.items() if dt == arr.dtype.newbyteorder("=")), None)
    if code is None:
        raise UsageError(f"tensor {name!r}: dtype {arr.dtype} is not one of {sorted(L.TENSOR_DTYPE_NAMES.values())}")
    if arr.ndim > L.MAX_TENSOR_NDIM:
        raise UsageError(f"tensor {name!r}: {arr.ndim} dimensions exceed the limit {L.MAX_TENSOR_NDIM}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise UsageError(f"tensor {name!r}: NaN and infinity are refused")
    head = L.TENSOR_HEADER.build(dict(dtype=code, ndim=arr.ndim, name_len=len(name_bytes), reserved=0))
    shape = np.asarray(arr.shape, dtype="<u8")
    prefix = L.TENSOR_HEADER_SIZE + 8 * arr.ndim + len(name_bytes)
    pad = b"\0" * (L.align(prefix) - prefix)
    data = np.ascontiguousarray(arr, dtype=L.TENSOR_DTYPES[code])
    return SectionOut(L.KIND_TENSOR, buffers=[head, shape, name_bytes, pad, data])


def metadata_section(metadata) -> SectionOut:
    if not isinstance(metadata, Mapping):
        raise UsageError(f"metadata must be a mapping (a JSON object), got {type(metadata).__name__}")
    if json_too_deep(dict(metadata), L.MAX_METADATA_DEPTH):  # before json.dumps, which recurses
        raise UsageError(f"metadata nests deeper than {L.MAX_METADATA_DEPTH} levels")
    try:
        text = json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise UsageError(f"metadata is not JSON-serializable ({e}; NaN, infinity and numbers beyond binary64 "
                         "such as 1e400 cannot be written)") from None
    # §5.2/§13.3: a lone surrogate (which UTF-8 cannot encode) is written as a \uXXXX escape;
    # a high and a low surrogate in a row would read back as one character: refused
    if _SURROGATE_PAIR.search(text):
        raise UsageError("metadata holds a surrogate pair as two code points (it would read back as one "
                         "character); pass the character itself")
    raw = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")
    if len(raw) > L.MAX_METADATA_BYTES:
        raise UsageError(f"metadata is {len(raw)} bytes; the limit is {L.MAX_METADATA_BYTES}")
    return SectionOut(L.KIND_META, buffers=[raw])


def build_sections(tables, tensors, metadata, defaults: Options, progress: Progress | None) -> list[SectionOut]:
    """§13.1 section order: META (if any), TENSORs, then each TABLE followed by its parts."""
    if not isinstance(tables, Mapping):
        raise UsageError("tables must be a mapping name -> table")
    defaults.check()
    sections: list[SectionOut] = []
    if metadata is not None:
        sections.append(metadata_section(metadata))
    for name, value in (tensors or {}).items():
        sections.append(tensor_section(name, value))
    for name, value in tables.items():
        sections += table_sections(name, value, defaults, len(sections), progress)
    if len(sections) > L.MAX_SECTIONS:
        raise UsageError(f"{len(sections)} sections exceed the limit {L.MAX_SECTIONS}")
    return sections
