"""A hashed table: structural checks at open (spec §10.1.4) and lookups (§7, §8, §9).

The lookup path reads the mapped bytes directly: single lookups with `struct` and byte
indexing (no numpy call until the row), batch lookups with vectorized numpy over views.
Every slot a lookup computes is compared with the partition's key count before it is
used, so a corrupt rank entry yields E_RANK, never a read outside the payload.

When the optional extension `phq._accel` is built (setup.py) and PHQ_PURE is not set, the
lookup methods (`slot`, `get`, `[]`, `slots`, `lookup`, `lookup_raw`) run in the C reader
(creader/phq.c) over the same mapped bytes, bit for bit the same answers; anything it does
not handle itself, an error included, is answered by the Python path (the `_pure_*`
methods), which stays the reference.
"""

from __future__ import annotations

import os
import struct
import sys
import threading
from functools import cached_property, partial

import mmh3
import numpy as np

from . import compact as C
from . import layout as L
from .errors import FormatError, UsageError
from .nibbles import NibbleArray, NibbleRows
from .hashing import MASK64, fingerprint_of_np, hash_keys, partition_of_np

try:  # the optional compiled accelerator (setup.py: the C reader bound for Python)
    from . import _accel
except ImportError:
    _accel = None
# what makes an accelerated call hand over to the Python path, which then answers (or raises)
_ACC_FALLBACK = (FormatError, UsageError, _accel.Fallback) if _accel is not None else ()

_digest = mmh3.mmh3_x64_128_utupledigest  # (h1, h2) of bytes: hashing.key_hash, without the call
_LITTLE = sys.byteorder == "little"  # memoryview casts read native order: a fast path on little-endian hosts
_LOW_MASKS = tuple((1 << i) - 1 for i in range(512))  # bits of a 512-bit sub-block before bit i
_U64 = struct.Struct("<Q").unpack_from
_U128 = struct.Struct("<QQ").unpack_from
_FP = {8: struct.Struct("<B").unpack_from, 16: struct.Struct("<H").unpack_from, 32: struct.Struct("<I").unpack_from}
_C1 = 0xFF51AFD7ED558CCD
_C2 = 0xC4CEB9FE1A85EC53


def encode_key(key) -> bytes:
    """§6: keys are bytes; str keys are UTF-8 encoded (strictly)."""
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        try:
            return key.encode("utf-8")
        except UnicodeEncodeError as e:
            raise UsageError(f"key {key!r} is not encodable as UTF-8 ({e.reason}); pass bytes instead") from None
    if isinstance(key, (bytearray, memoryview)):
        return bytes(key)
    raise UsageError(f"keys must be str or bytes, got {type(key).__name__}")


def encode_keys(keys) -> list:
    """encode_key of every key, as a list; all-str and all-bytes batches take one C-level
    pass (str.encode is strict UTF-8, as encode_key), anything else the checked route."""
    if not isinstance(keys, (list, tuple)):
        keys = list(keys)
    try:
        return list(map(str.encode, keys))
    except (TypeError, UnicodeEncodeError):  # not all str, or an unencodable str
        pass
    if all(type(k) is bytes for k in keys):
        return keys if type(keys) is list else list(keys)
    return [encode_key(k) for k in keys]


# batch rank (§7.3): masks of the entry's first 0..3 sub-block counts, and of the words of a
# 512-bit sub-block before each bit offset
_S32, _S33, _ONE = np.uint64(32), np.uint64(33), np.uint64(1)
_NC1, _NC2 = np.uint64(_C1), np.uint64(_C2)
_SCALAR_TAIL = 16  # batch lookups finish this many remaining keys or fewer one by one
_FIELD_MASKS = np.array([0, 0x3FF, 0xFFFFF, 0x3FFFFFFF], dtype=np.uint64)
_SUB_WORDS = np.arange(L.RANK_SUBBLOCK_WORDS)
_SUB_MASKS = np.zeros((512, L.RANK_SUBBLOCK_WORDS), dtype=np.uint64)
for _i in range(512):
    _SUB_MASKS[_i, : _i >> 6] = MASK64
    if _i & 63:
        _SUB_MASKS[_i, _i >> 6] = (1 << (_i & 63)) - 1
del _i
_SUB_MASKS_T = np.ascontiguousarray(_SUB_MASKS.T)


def _fail(code: str, msg: str, at: int | None = None):
    raise FormatError(code, msg, at)


def accel_enabled() -> bool:
    """True when phq._accel serves lookups: it was built and PHQ_PURE is unset (or "" or
    "0"). Read at each table's first lookup."""
    return _accel is not None and os.environ.get("PHQ_PURE", "") in ("", "0")


class AccelModel:
    """The C reader's view of one open file (phq._accel.Model: one phq_open over the mapped
    bytes), made at the first accelerated lookup of any of the file's tables and shared by
    all of them: the file's checks (its metadata included) run once per file, however
    many tables it holds. None when the C reader refuses the file (Python answers)."""

    def __init__(self, buf):
        self._buf = buf
        self._lock = threading.Lock()
        self._model = None
        self._done = False

    def get(self):
        if not self._done:
            with self._lock:
                if not self._done:
                    try:
                        self._model = _accel.Model(self._buf)
                    except Exception:
                        self._model = None
                    self._done = True
        return self._model


def _accel_table(table: "Table"):
    """phq._accel's view of a table (the C reader over the same mapped bytes), or None:
    accelerator off, or the C reader refused the file or read another descriptor. The
    Python reader's checks at open stay the authority; this never raises."""
    if not accel_enabled():
        return None
    try:
        cols = ()
        if table._quant in L.LINEAR_QUANTS and table._granularity == L.SCALE_COLUMN:  # rows: raw codes + §8.1
            cols = (table.scales["scale"].astype(np.float32), table.scales["zero_point"].astype(np.int32))
        if table._accel_model is None:
            table._accel_model = AccelModel(table._buf)
        model = table._accel_model.get()
        if model is None:
            return None
        acc = model.table(table.name.encode(), partial(np.empty, table.dim, np.float32), *cols)
        i = acc.info
        if (i["num_keys"], i["dim"], i["seed"], i["num_partitions"], i["fingerprint_bits"], i["quant"], i["itemsize"]) != (
            table.num_keys, table.dim, table.seed, table.num_partitions, table.fingerprint_bits, table._quant,
            table.storage_dtype.itemsize,
        ) or i["layout"] != table._layout:
            return None
        return acc
    except Exception:
        return None


class Table:
    """One hashed table of an open model: `table[key]` -> float32 row."""

    def __init__(self, buf, group, mm=None, required_features: int = L.KNOWN_REQUIRED_FEATURES, accel: AccelModel | None = None):
        self._accel_model = accel  # the file's shared C reader (reader.Model passes one per file)
        head = group[0]
        self.sections = list(group)
        at = head.offset
        if head.size < L.TABLE_DESCRIPTOR_SIZE:
            _fail("E_SECTION_SIZE", f"TABLE section {head.index} is {head.size} bytes", at)
        d = L.TABLE_DESCRIPTOR.parse(buf[at : at + L.TABLE_DESCRIPTOR_SIZE])
        # v1.2 §3: reserved0 and reserved1 are the compact layout's fields in files that set
        # COMPACT_SPARSE (checked with the descriptor's enums), reserved otherwise
        compact_bit = bool(required_features & L.FEATURE_COMPACT_SPARSE)
        if d.reserved2 or d.reserved3 or (not compact_bit and (d.reserved0 or d.reserved1)):
            _fail("E_RESERVED", "TABLE reserved field is not zero", at + 39)
        if head.size != L.TABLE_DESCRIPTOR_SIZE + d.name_len:
            _fail("E_SECTION_SIZE", f"TABLE section is {head.size} bytes, expected {L.TABLE_DESCRIPTOR_SIZE + d.name_len}", at)
        from .reader import _name  # one name rule for tables and tensors

        self.name = _name(bytes(buf[at + 64 : at + 64 + d.name_len]), "table", at + 64)
        self._check_descriptor(d, at, required_features)
        self.descriptor = d
        self.num_keys = n = d.num_keys
        self.dim = d.dim
        self.seed = d.seed
        self.num_partitions = d.num_partitions
        self.fingerprint_bits = d.fingerprint_bits
        self.nnz = d.nnz
        self._quant = d.quant
        self._granularity = d.scale_granularity
        self._layout = d.layout
        self._sparse = d.layout in L.SPARSE_LAYOUTS  # rows in sparse form (1.0 sparse, or 1.2 compact)
        self._compact = d.layout == L.LAYOUT_COMPACT

        wanted = L.table_parts(d.quant, d.layout)
        kinds = tuple(s.kind for s in group[1:])
        if kinds != wanted:
            names = lambda ks: [L.SECTION_NAMES.get(k, hex(k)) for k in ks]  # noqa: E731
            _fail("E_SECTION_ORDER", f"table {self.name!r}: parts {names(kinds)}, expected {names(wanted)}", at)
        part = {s.kind: s for s in group[1:]}
        self._parts = part

        def view(kind, dtype, count):
            s = part[kind]
            need = count * np.dtype(dtype).itemsize
            if need != s.size:
                _fail("E_SECTION_SIZE", f"table {self.name!r}: {s.name} is {s.size} bytes, counts require {need}", s.offset)
            return np.frombuffer(buf, dtype, count, s.offset)

        # -- MPH (§5.4.1-§5.4.5) -----------------------------------------------------
        P = d.num_partitions
        prt = view(L.KIND_MPH_PARTITIONS, L.PARTITION_DTYPE, P)
        if prt["reserved"].any():
            _fail("E_RESERVED", "partition record reserved field is not zero", part[L.KIND_MPH_PARTITIONS].offset)
        key_count = prt["key_count"].astype(np.int64)
        fb_count = prt["fallback_count"].astype(np.int64)
        level_count = prt["level_count"].astype(np.int64)
        if int(key_count.sum()) != n:
            _fail("E_MPH", f"partition key counts sum to {int(key_count.sum())}, num_keys is {n}")
        if (fb_count > key_count).any():
            _fail("E_MPH", "a partition has more fallback keys than keys")
        if (level_count > L.MAX_LEVELS).any():
            _fail("E_LIMIT", f"a partition has more than {L.MAX_LEVELS} levels")
        lvl_end = np.cumsum(level_count)
        lvl_start = lvl_end - level_count
        total_levels = int(lvl_end[-1]) if P else 0
        level_words = view(L.KIND_MPH_LEVELS, L.LEVEL_DTYPE, total_levels).astype(np.int64)
        if total_levels and (level_words.min() < 1 or level_words.max() > L.MAX_LEVEL_WORDS):
            _fail("E_MPH", f"a level size is outside [1, {L.MAX_LEVEL_WORDS}] words")
        cw = np.concatenate(([0], np.cumsum(level_words)))
        part_words = cw[lvl_end] - cw[lvl_start]
        if ((key_count - fb_count) > part_words * 64).any():
            _fail("E_MPH", "a partition places more keys than its levels have bits")
        padded = -(-part_words // L.RANK_BLOCK_WORDS) * L.RANK_BLOCK_WORDS
        word_base = np.concatenate(([0], np.cumsum(padded)))
        total_words = int(word_base[-1])
        self._bitmap = view(L.KIND_MPH_BITMAP, L.WORD_DTYPE, total_words)
        self._rank = view(L.KIND_MPH_RANK, L.WORD_DTYPE, total_words // L.RANK_BLOCK_WORDS)
        fb_base = np.concatenate(([0], np.cumsum(fb_count)))
        self._fallback = view(L.KIND_MPH_FALLBACK, L.FALLBACK_DTYPE, int(fb_base[-1]))
        first_slot = np.concatenate(([0], np.cumsum(key_count)))[:-1]
        # per-partition arrays for batch lookups
        self._p_first_slot = first_slot
        self._p_ones = key_count - fb_count
        self._p_word_base = word_base[:-1]
        self._p_level_start = lvl_start
        self._p_level_count = level_count
        self._p_fb_start = fb_base[:-1]
        self._p_fb_count = fb_count
        level_part = np.repeat(np.arange(P), level_count)
        self._level_bits = level_words * 64
        self._level_base = (cw[:-1] - cw[lvl_start][level_part]) * 64 if total_levels else np.zeros(0, np.int64)
        self._max_levels = int(level_count.max()) if P else 0
        self._bitmap_at = part[L.KIND_MPH_BITMAP].offset
        self._rank_at = part[L.KIND_MPH_RANK].offset
        self._fallback_at = part[L.KIND_MPH_FALLBACK].offset
        self._pcache: dict[int, tuple] = {}
        self._buf = buf
        self._mm = mm if mm is not None else buf  # mmap slices are bytes: fastest for the scalar path

        # -- fingerprints, scales, payload (§5.4.6-§5.4.10) --------------------------------
        fpb = d.fingerprint_bits
        self._fingerprints = view(L.KIND_FINGERPRINTS, L.FINGERPRINT_DTYPES[fpb], n) if fpb else view(L.KIND_FINGERPRINTS, "u1", 0)
        self._fp_at = part[L.KIND_FINGERPRINTS].offset
        self._fp_read = _FP.get(fpb)
        self._fp_mask = (1 << fpb) - 1
        # scalar readers of the single-key path: u64 rank entries and fingerprints by index
        rank_bytes = part[L.KIND_MPH_RANK]
        if _LITTLE and isinstance(buf, memoryview) and buf.format == "B" and buf.ndim == 1:
            self._rank_read = buf[rank_bytes.offset : rank_bytes.offset + 8 * self._rank.size].cast("Q").__getitem__
            self._fp_get = buf[self._fp_at : self._fp_at + n * (fpb >> 3)].cast({8: "B", 16: "H", 32: "I"}[fpb]).__getitem__ if fpb else None
        else:  # big-endian host, or a plain bytes buffer: struct reads
            ra, fa, fw, fr, mmv = rank_bytes.offset, self._fp_at, fpb >> 3, self._fp_read, self._mm
            self._rank_read = lambda i: _U64(mmv, ra + 8 * i)[0]
            self._fp_get = (lambda s: fr(mmv, fa + fw * s)[0]) if fpb else None
        self._p0 = self._partition(0) if P == 1 else None
        groups = {L.SCALE_NONE: 0, L.SCALE_TABLE: 1, L.SCALE_COLUMN: d.dim}.get(self._granularity)
        if groups is None:
            groups = -(-n // d.scale_block_rows)
        codebook = self._quant in L.CODEBOOK_LEVELS  # v1.1 §4.2: no scale records, G x K levels
        self.scales = view(L.KIND_SCALES, L.SCALE_DTYPE, 0 if codebook else groups)
        self.levels = None
        if codebook:
            k = L.CODEBOOK_LEVELS[self._quant]
            self.levels = view(L.KIND_CODEBOOK, "<f4", groups * k).reshape(groups, k)
        elif groups:
            top = L.LINEAR_QUANTS[self._quant]
            sc, zp = self.scales["scale"], self.scales["zero_point"]
            sc64 = sc.astype(np.float64)
            if not ((sc64 > 0) & (sc64 * 255 <= L.F32_MAX)).all() or zp.min() < 0 or zp.max() > top:
                _fail("E_SCALE", f"table {self.name!r}: a scale is outside (0, FLT_MAX/255] or a zero point outside 0..{top}", part[L.KIND_SCALES].offset)
        dtype = L.QUANT_DTYPES[self._quant]
        nibbles = L.QUANT_CODE_BITS[self._quant] == 4  # v1.1 §4.3: ROWS is a nibble stream
        self.storage_dtype = dtype
        if self._compact:  # v1.2 §4
            if d.index_width == 4 and d.nnz >= 1 << 32:
                _fail("E_SPARSE", "nnz does not fit the 4-byte row bases")
            self._values = NibbleArray(view(L.KIND_ROWS, "u1", (d.nnz + 1) // 2), d.nnz) if nibbles else view(L.KIND_ROWS, dtype, d.nnz)
            self._block_log2 = k = d.reserved1 & 0xFF
            self._low_bits = lb = d.reserved1 >> 8
            self._high_zeros = hz = L.compact_high_bits(d.dim, lb)
            self._iw, self._dw = d.index_width, d.reserved0
            self._bases = view(L.KIND_ROW_BASES, L.INDEX_DTYPES[d.index_width], (n >> k) + 1)
            self._deltas = view(L.KIND_ROW_DELTAS, L.DELTA_DTYPES[d.reserved0], n + 1)
            self._low = view(L.KIND_COLUMN_LOW, "u1", -(-d.nnz * lb // 8))
            self._high = view(L.KIND_COLUMN_HIGH, "u1", -(-(d.nnz + n * hz) // 8))
            self._bases_at, self._deltas_at = part[L.KIND_ROW_BASES].offset, part[L.KIND_ROW_DELTAS].offset
            if C.row_start(self, 0) != 0 or C.row_start(self, n) != d.nnz:
                _fail("E_SPARSE", "the row index must start at 0 and end at nnz", part[L.KIND_ROW_BASES].offset)
        elif self._sparse:
            if d.index_width == 4 and d.nnz >= 1 << 32:
                _fail("E_SPARSE", "nnz does not fit the 4-byte row index")
            self._values = NibbleArray(view(L.KIND_ROWS, "u1", (d.nnz + 1) // 2), d.nnz) if nibbles else view(L.KIND_ROWS, dtype, d.nnz)
            self._row_index = view(L.KIND_ROW_INDEX, L.INDEX_DTYPES[d.index_width], n + 1)
            self._columns = view(L.KIND_COLUMNS, L.COLUMN_DTYPES[d.column_width], d.nnz)
            if int(self._row_index[0]) != 0 or int(self._row_index[n]) != d.nnz:
                _fail("E_SPARSE", "the row index must start at 0 and end at nnz", part[L.KIND_ROW_INDEX].offset)
            self._index_at, self._iw = part[L.KIND_ROW_INDEX].offset, d.index_width
        else:
            if n * d.dim * dtype.itemsize >= 1 << 64:
                _fail("E_OVERFLOW", "num_keys * dim overflows 64 bits", at)
            if d.nnz != n * d.dim:
                _fail("E_SECTION_SIZE", f"dense table: nnz {d.nnz} != num_keys * dim", at + 24)
            if nibbles:
                self._rows = NibbleRows(view(L.KIND_ROWS, "u1", (n * d.dim + 1) // 2), n, d.dim)
            else:
                self._rows = view(L.KIND_ROWS, dtype, n * d.dim).reshape(n, d.dim)
        self._row = self._row_reader()

    @staticmethod
    def _check_descriptor(d, at: int, required_features: int = L.KNOWN_REQUIRED_FEATURES) -> None:
        if d.hash_scheme != L.HASH_MURMUR3_128:
            _fail("E_ENUM", f"hash_scheme {d.hash_scheme} is undefined", at + 32)
        if d.quant not in L.QUANT_NAMES:
            _fail("E_ENUM", f"quant {d.quant} is undefined", at + 33)
        if L.quant_feature(d.quant) & ~required_features:  # v1.1 §1, §5.3: undefined in this file
            _fail("E_ENUM", f"quant {d.quant} needs a feature bit the file does not set", at + 33)
        if d.layout not in L.LAYOUT_NAMES or (d.layout == L.LAYOUT_COMPACT and not required_features & L.FEATURE_COMPACT_SPARSE):
            _fail("E_ENUM", f"layout {d.layout} is undefined" + (" in a file that does not set COMPACT_SPARSE" if d.layout == L.LAYOUT_COMPACT else ""), at + 34)
        if d.fingerprint_bits not in L.FINGERPRINT_WIDTHS:
            _fail("E_ENUM", f"fingerprint_bits {d.fingerprint_bits} is undefined", at + 35)
        grouped = d.quant not in (L.QUANT_F32, L.QUANT_F16)  # linear and codebook schemes have groups
        if d.scale_granularity not in L.SCALE_NAMES or (d.scale_granularity == L.SCALE_NONE) == grouped or (
            d.quant in L.CODEBOOK_LEVELS and d.scale_granularity == L.SCALE_ROW_BLOCK  # v1.1 §3
        ):
            _fail("E_ENUM", f"scale_granularity {d.scale_granularity} does not fit quant {d.quant}", at + 36)
        if (d.scale_granularity == L.SCALE_ROW_BLOCK) != (d.scale_block_rows > 0):
            _fail("E_ENUM", "scale_block_rows must be > 0 exactly for row-block scales", at + 40)
        if d.layout == L.LAYOUT_SPARSE:
            if d.index_width not in L.INDEX_DTYPES or d.column_width not in L.COLUMN_DTYPES:
                _fail("E_ENUM", "sparse index_width must be 4 or 8 and column_width 1, 2 or 4", at + 37)
        elif d.layout == L.LAYOUT_COMPACT:  # v1.2 §3
            if d.index_width not in L.INDEX_DTYPES or d.column_width != 0:
                _fail("E_ENUM", "compact index_width must be 4 or 8 and column_width 0", at + 37)
        elif d.index_width or d.column_width:
            _fail("E_ENUM", "dense tables have index_width = column_width = 0", at + 37)
        if d.layout == L.LAYOUT_COMPACT:
            if d.reserved0 not in L.DELTA_DTYPES or (d.reserved1 & 0xFF) > L.MAX_ROW_BLOCK_LOG2 or (d.reserved1 >> 8) > L.MAX_COLUMN_LOW_BITS:
                _fail("E_ENUM", f"compact delta_width must be 1, 2 or 4, row_block_log2 <= {L.MAX_ROW_BLOCK_LOG2}, "
                      f"column_low_bits <= {L.MAX_COLUMN_LOW_BITS}", at + 39)
        elif d.reserved0 or d.reserved1:  # only reachable in a file that sets COMPACT_SPARSE
            _fail("E_ENUM", "delta_width, row_block_log2 and column_low_bits are 0 outside the compact layout", at + 39)
        if d.num_keys > L.MAX_KEYS:
            _fail("E_LIMIT", f"num_keys {d.num_keys} exceeds {L.MAX_KEYS}", at)
        if d.dim > L.MAX_DIM:
            _fail("E_LIMIT", f"dim {d.dim} exceeds {L.MAX_DIM}", at + 8)
        if not 1 <= d.num_partitions <= L.MAX_PARTITIONS:
            _fail("E_LIMIT", f"num_partitions {d.num_partitions} is outside [1, {L.MAX_PARTITIONS}]", at + 16)

    # -- descriptive properties ------------------------------------------------------------
    @property
    def quant(self) -> str:
        return L.QUANT_NAMES[self._quant]

    @property
    def layout(self) -> str:
        return L.LAYOUT_NAMES[self._layout]

    @property
    def scale_granularity(self) -> str:
        return L.SCALE_NAMES[self._granularity]

    @property
    def gamma(self) -> float:
        return self.descriptor.gamma_milli / 1000

    @property
    def mph_bytes(self) -> int:
        return sum(self._parts[k].size for k in L.MPH_PARTS)

    @property
    def mph_bits_per_key(self) -> float:
        return 8 * self.mph_bytes / self.num_keys if self.num_keys else 0.0

    def __len__(self) -> int:
        return self.num_keys

    def __iter__(self):
        raise TypeError("a phq table does not store its keys; look keys up with table[key] or table.lookup(keys)")

    def __repr__(self) -> str:
        return f"<phq.Table {self.name!r} keys={self.num_keys} dim={self.dim} {self.quant} {self.layout}>"

    # -- single lookups (§7.2) ----------------------------------------------------------------
    def _partition(self, p: int) -> tuple:
        c = self._pcache.get(p)
        if c is None:
            ls, lc = int(self._p_level_start[p]), int(self._p_level_count[p])
            levels = tuple(zip((int(x) for x in self._level_base[ls : ls + lc]), (int(x) for x in self._level_bits[ls : ls + lc])))
            wb = int(self._p_word_base[p])
            c = (
                int(self._p_first_slot[p]),
                int(self._p_ones[p]),
                self._bitmap_at + 8 * wb,
                wb // L.RANK_BLOCK_WORDS,  # index of the partition's first rank entry
                levels,
                int(self._p_fb_start[p]),
                int(self._p_fb_count[p]),
            )
            self._pcache[p] = c
        return c

    # -- the accelerator (phq._accel): same answers, the Python path below is the reference --
    @cached_property
    def _acc(self):
        """phq._accel's table, or None (pure Python); resolved at the first lookup."""
        return _accel_table(self)

    @cached_property
    def _acc_row(self):
        """key -> float32 row or None, through the accelerator (None when it is off). Dense
        f32 rows stay read-only views of the file, as on the Python path."""
        acc = self._acc
        if acc is None:
            return None
        if not self._sparse and self._quant == L.QUANT_F32:
            slot, rows = acc.slot, self._rows
            return lambda key: None if (s := slot(key)) < 0 else rows[s]
        return acc.get

    @property
    def accelerated(self) -> bool:
        """True when this table's lookups run in phq._accel (PHQ_PURE=1 turns it off)."""
        return self._acc is not None

    def slot(self, key) -> int:
        """The key's slot in [0, num_keys), or -1 when the table does not hold it."""
        acc = self._acc
        if acc is not None:
            try:
                return acc.slot(key)
            except _ACC_FALLBACK:  # a key type it leaves to Python, or an error: Python answers
                pass
        return self._pure_slot(key)

    def _pure_slot(self, key) -> int:
        """slot() on the Python path."""
        if type(key) is str:
            try:
                key = key.encode()
            except UnicodeEncodeError:
                key = encode_key(key)  # raises the UsageError
        elif type(key) is not bytes:
            key = encode_key(key)
        h1, h2 = _digest(key, self.seed)
        slot = self._walk(h1, h2)
        if slot >= 0 and self._fp_read is not None and self._fp_get(slot) != h2 & self._fp_mask:
            return -1
        return slot

    def _walk(self, h1: int, h2: int, start: int = 0) -> int:
        """§7.2 for a digest, fingerprint unchecked: its partition's levels from `start` on
        (the batch path's tail passes the level its keys reached), then the fallback list;
        the slot or -1. The one scalar definition of the walk, shared by single lookups and
        the batch path (which vectorizes the levels and hands every other case here)."""
        # The hot path: locals only, every constant a literal. fmix64 stops after its second
        # multiply: the last `k ^= k >> 33` leaves the top 32 bits (all that
        # level_position uses) unchanged.
        if self._p0 is not None:
            first, ones, bitmap_at, rank_q, levels, fb_start, fb_count = self._p0
        else:
            first, ones, bitmap_at, rank_q, levels, fb_start, fb_count = self._partition(((h2 >> 32) * self.num_partitions) >> 32)
        buf = self._buf
        k = acc = (h1 + start * h2) & 0xFFFFFFFFFFFFFFFF if start else h1
        for base, bits in levels[start:] if start else levels:  # §7.2
            k ^= k >> 33
            k = (k * 0xFF51AFD7ED558CCD) & 0xFFFFFFFFFFFFFFFF
            k ^= k >> 33
            b = base + (((((k * 0xC4CEB9FE1A85EC53) & 0xFFFFFFFFFFFFFFFF) >> 32) * bits) >> 32)
            if (buf[bitmap_at + (b >> 3)] >> (b & 7)) & 1:
                e = self._rank_read(rank_q + (b >> 11))  # §7.3
                r = e & 0xFFFFFFFF
                s = (b >> 9) & 3
                if s:
                    r += (e >> 32) & 0x3FF
                    if s > 1:
                        r += (e >> 42) & 0x3FF
                        if s > 2:
                            r += (e >> 52) & 0x3FF
                sub = bitmap_at + ((b >> 9) << 6)
                r += (int.from_bytes(self._mm[sub : sub + 64], "little") & _LOW_MASKS[b & 511]).bit_count()
                if r >= ones:
                    _fail("E_RANK", f"table {self.name!r}: rank {r} is past the partition's {ones} keys")
                return first + r
            acc += h2
            k = acc & 0xFFFFFFFFFFFFFFFF
        return self._fallback_slot(h1, h2, first, ones, fb_start, fb_count) if fb_count else -1

    def _fallback_slot(self, h1, h2, first, ones, fb_start, fb_count) -> int:
        lo, hi = 0, fb_count
        at = self._fallback_at + 16 * fb_start
        target = (h1, h2)
        while lo < hi:
            mid = (lo + hi) // 2
            v = _U128(self._mm, at + 16 * mid)
            if v < target:
                lo = mid + 1
            elif v > target:
                hi = mid
            else:
                return first + ones + mid
        return -1

    def __contains__(self, key) -> bool:
        return self.slot(key) >= 0

    def __getitem__(self, key) -> np.ndarray:
        acc = self._acc_row
        if acc is not None:
            try:
                row = acc(key)
            except _ACC_FALLBACK:
                return self._pure_getitem(key)
            if row is None:
                raise KeyError(key)
            return row
        return self._pure_getitem(key)

    def _pure_getitem(self, key) -> np.ndarray:
        slot = self._pure_slot(key)
        if slot < 0:
            raise KeyError(key)
        return self._row(slot)

    def get(self, key, default=None):
        acc = self._acc_row
        if acc is not None:
            try:
                row = acc(key)
            except _ACC_FALLBACK:
                return self._pure_get(key, default)
            return default if row is None else row
        return self._pure_get(key, default)

    def _pure_get(self, key, default=None):
        slot = self._pure_slot(key)
        return default if slot < 0 else self._row(slot)

    def raw(self, key) -> np.ndarray:
        """The stored row (codes in the storage dtype; sparse rows expanded). KeyError if absent."""
        slot = self.slot(key)
        if slot < 0:
            raise KeyError(key)
        return self.raw_at(slot)

    # -- rows (§8, §9) -----------------------------------------------------------------------
    @cached_property
    def _zero_point_f32(self) -> np.ndarray:
        return self.scales["zero_point"].astype(np.float32)

    @cached_property
    def _scale_f32(self) -> np.ndarray:
        return np.ascontiguousarray(self.scales["scale"])

    def _sparse_span(self, slot: int) -> tuple[int, int]:
        if self._compact:
            start, end = C.row_start(self, slot), C.row_start(self, slot + 1)
            if not start <= end <= self.nnz:
                _fail("E_SPARSE", f"table {self.name!r}: row {slot} spans [{start}, {end}) outside [0, {self.nnz})")
            return start, end
        w = self._iw
        start = int.from_bytes(self._buf[self._index_at + w * slot : self._index_at + w * (slot + 1)], "little")
        end = int.from_bytes(self._buf[self._index_at + w * (slot + 1) : self._index_at + w * (slot + 2)], "little")
        if not start <= end <= self.nnz:
            _fail("E_SPARSE", f"table {self.name!r}: row {slot} spans [{start}, {end}) outside [0, {self.nnz})")
        return start, end

    def _zero_code(self, slot: int) -> np.ndarray:
        """A writable row of zero codes for one slot (§9.2)."""
        if self._quant not in L.LINEAR_QUANTS:  # f32/f16 0.0; codebook code 0 (v1.1 §5)
            return np.zeros(self.dim, dtype=self.storage_dtype)
        return np.broadcast_to(self._zero_codes(np.array([slot])), (1, self.dim))[0].copy()

    def raw_at(self, slot: int) -> np.ndarray:
        if not 0 <= slot < self.num_keys:
            raise UsageError(f"slot {slot} is outside [0, {self.num_keys})")
        if not self._sparse:
            return self._rows[slot]
        start, end = self._sparse_span(slot)
        cols = C.row_columns(self, slot, start, end) if self._compact else self._columns[start:end]
        if cols.size and int(cols.max()) >= self.dim:
            _fail("E_SPARSE", f"table {self.name!r}: row {slot} has a column >= dim {self.dim}")
        row = self._zero_code(slot)
        row[cols] = self._values[start:end]
        return row

    def _row_reader(self):
        """row_at for a slot a lookup returned (so within [0, num_keys)): dense layouts
        dequantize with the fewest numpy calls, bit for bit as row_at; sparse rows take
        row_at (its E_SPARSE checks)."""
        if self._sparse:
            return self.row_at
        rows = self._rows
        if self._quant == L.QUANT_F32:
            return rows.__getitem__
        if self._quant == L.QUANT_F16:
            return lambda slot: rows[slot].astype(np.float32)
        if self.levels is not None:
            return self.row_at
        zp, sc = self._zero_point_f32, self._scale_f32
        if self._granularity == L.SCALE_COLUMN:
            def row(slot):
                out = rows[slot] - zp  # u8 - f32: exact, float32 (§8.1)
                out *= sc  # one binary32 rounding
                return out

            return row
        return self.row_at

    def row_at(self, slot: int) -> np.ndarray:
        """Dequantized float32 row of a slot (§8.1). f32 dense tables return a read-only view."""
        raw = self.raw_at(slot)
        if self._quant == L.QUANT_F32:
            return raw
        if self.levels is not None:
            return self._decode_codebook(raw[None, :], np.array([slot]))[0]
        out = raw.astype(np.float32)
        if self._quant == L.QUANT_F16:
            return out
        if self._granularity == L.SCALE_COLUMN:
            out -= self._zero_point_f32
            out *= self._scale_f32
            return out
        g = 0 if self._granularity == L.SCALE_TABLE else slot // self.descriptor.scale_block_rows
        out -= self._zero_point_f32[g]
        out *= self._scale_f32[g]
        return out

    # -- batch lookups (§7.2, vectorized) -----------------------------------------------------
    def slots_for_hashes(self, hashes: np.ndarray) -> np.ndarray:
        """Slots (int64, -1 = absent) for an (k, 2) uint64 array of (h1, h2) digests."""
        h1 = np.ascontiguousarray(hashes[:, 0], dtype=np.uint64)
        h2 = np.ascontiguousarray(hashes[:, 1], dtype=np.uint64)
        k = h1.size
        out = np.full(k, -1, dtype=np.int64)
        if k == 0 or self.num_keys == 0:
            return out
        P = self.num_partitions
        one = P == 1  # one partition: every per-partition figure is a scalar, nothing to gather
        p = None if one else partition_of_np(h2, P).astype(np.intp)
        todo = np.arange(k)  # keys not placed yet, and their digests (compacted level by level)
        t1, t2 = h1, h2
        hits = []  # per level: (key indices, bit, partition) of the keys placed there
        past = []  # keys that went past their partition's last level unplaced: (indices, h1, h2)
        for level in range(self._max_levels):
            if not todo.size:
                break
            if one:
                pt, wb = None, 0
                bits, base = int(self._level_bits[level]), int(self._level_base[level])
            else:
                live = level < self._p_level_count[p[todo]]
                if not live.all():
                    # partitions with fewer levels (any count 0..64 is valid, §5.5.1): their
                    # keys not placed so far may be in the fallback list (§7.4), looked up below
                    dead, live = np.flatnonzero(~live), np.flatnonzero(live)
                    past.append((todo.take(dead), t1.take(dead), t2.take(dead)))
                    todo, t1, t2 = todo.take(live), t1.take(live), t2.take(live)
                pt = p[todo]
                li = self._p_level_start[pt] + level
                bits, base, wb = self._level_bits[li], self._level_base[li], self._p_word_base[pt]
            if todo.size <= _SCALAR_TAIL:
                # a few keys left: finish them one by one (each numpy call of a level costs
                # about as much as a whole scalar lookup), through the scalar path's own walk
                for j in range(todo.size):
                    out[todo[j]] = self._walk(int(t1[j]), int(t2[j]), level)
                todo = todo[:0]
                break
            # level_position (§6) in place; fmix64's last xor-shift leaves the top 32 bits alone
            x = t2 * np.uint64(level) if level else t1.copy()
            if level:
                x += t1
            y = x >> _S33
            x ^= y
            x *= _NC1
            np.right_shift(x, _S33, out=y)
            x ^= y
            x *= _NC2
            x >>= _S32
            x *= bits if one else bits.view(np.uint64)
            x >>= _S32
            b = x.view(np.int64)
            b += base
            w = b >> 6
            w += wb
            y = self._bitmap[w]
            y >>= (b & 63).view(np.uint64)
            y &= _ONE
            hit = y.astype(bool)
            if hit.any():  # ranks of every level's hits are computed once, after the loop
                # selections by index (flatnonzero + take): faster than boolean masks in numpy
                hi = np.flatnonzero(hit)
                hits.append((todo.take(hi), b.take(hi), None if one else pt.take(hi)))
                miss = np.flatnonzero(~hit)
                todo, t1, t2 = todo.take(miss), t1.take(miss), t2.take(miss)
        if hits:
            idx = np.concatenate([x[0] for x in hits])
            hb = np.concatenate([x[1] for x in hits])
            hp = None if one else np.concatenate([x[2] for x in hits])
            r = self._rank_of(hb, 0 if one else self._p_word_base[hp])
            ones = self._p_ones[0] if one else self._p_ones[hp]
            if (r >= ones).any():
                _fail("E_RANK", f"table {self.name!r}: a rank is past its partition's key count")
            out[idx] = r if one else self._p_first_slot[hp] + r
        if past:  # every key that left the level walk unplaced, whatever its partition's level count
            past.append((todo, t1, t2))
            todo, t1, t2 = (np.concatenate(x) for x in zip(*past))
        if todo.size:
            pp = np.zeros(todo.size, np.intp) if one else p[todo]
            fb = np.flatnonzero(self._p_fb_count[pp] > 0)
            for j in fb:  # the fallback lists hold few keys, if any: the scalar search (§7.4)
                first, ones, *_rest, fb_start, fb_count = self._partition(int(pp[j]))
                out[todo[j]] = self._fallback_slot(int(t1[j]), int(t2[j]), first, ones, fb_start, fb_count)
        if self.fingerprint_bits:
            found = np.flatnonzero(out >= 0)
            want = fingerprint_of_np(h2[found], self.fingerprint_bits).astype(self._fingerprints.dtype)
            out[found[self._fingerprints[out[found]] != want]] = -1
        return out

    def _rank_of(self, b: np.ndarray, word_base) -> np.ndarray:
        """Vectorized §7.3 rank of bit b (relative to its partition; word_base a number or
        one per bit)."""
        e = self._rank[(b >> 11) + word_base // L.RANK_BLOCK_WORDS]
        r = (e & np.uint64(0xFFFFFFFF)).view(np.int64)
        # the first s = (b div 512) mod 4 ten-bit sub-block counts of the entry
        f = (e >> np.uint64(32)) & _FIELD_MASKS[(b >> 9) & 3]
        r += (f & np.uint64(0x3FF)).view(np.int64)
        r += ((f >> np.uint64(10)) & np.uint64(0x3FF)).view(np.int64)
        r += (f >> np.uint64(20)).view(np.int64)
        # the sub-block's words, masked to the bits before b (one mask column per bit
        # offset); laid out (8, k) so that the sum runs over contiguous rows
        start = ((b >> 9) << 3) + word_base
        words = self._bitmap[_SUB_WORDS[:, None] + start]
        words &= _SUB_MASKS_T[:, b & 511]
        return r + np.bitwise_count(words).sum(axis=0, dtype=np.int64)

    def slots(self, keys) -> np.ndarray:
        acc = self._acc
        if acc is not None:
            if type(keys) is not list and type(keys) is not tuple:
                keys = list(keys)
            out = np.empty(len(keys), np.int64)
            try:
                acc.slots(keys, out)
                return out
            except _ACC_FALLBACK:
                pass
        return self._pure_slots(keys)

    def _pure_slots(self, keys) -> np.ndarray:
        return self.slots_for_hashes(hash_keys(encode_keys(keys), self.seed))

    def _acc_rows(self, name: str, keys, dtype):
        """(rows, found) from the accelerator's batch call `name`, or None to fall back."""
        acc = self._acc  # keys: a list or tuple (callers materialize iterators: a fallback reuses them)
        if acc is None:
            return None
        rows, found = np.empty((len(keys), self.dim), dtype), np.empty(len(keys), bool)
        try:
            getattr(acc, name)(keys, rows, found)
        except _ACC_FALLBACK:
            return None
        return rows, found

    def lookup(self, keys) -> tuple[np.ndarray, np.ndarray]:
        """Batch lookup: (rows float32 (k, dim), found bool (k,)). Absent rows are zeros."""
        if self._acc is not None:
            keys = keys if type(keys) is list or type(keys) is tuple else list(keys)
            out = self._acc_rows("lookup", keys, np.float32)
            if out is not None:
                return out
        return self._pure_lookup(keys)

    def _pure_lookup(self, keys) -> tuple[np.ndarray, np.ndarray]:
        slots = self._pure_slots(keys)
        return self.rows_at(slots), slots >= 0

    def lookup_raw(self, keys) -> tuple[np.ndarray, np.ndarray]:
        """Batch lookup of stored rows: (codes (k, dim), found). Absent rows are zero bytes."""
        if self._acc is not None:
            keys = keys if type(keys) is list or type(keys) is tuple else list(keys)
            out = self._acc_rows("lookup_raw", keys, self.storage_dtype)
            if out is not None:
                return out
        return self._pure_lookup_raw(keys)

    def _pure_lookup_raw(self, keys) -> tuple[np.ndarray, np.ndarray]:
        slots = self._pure_slots(keys)
        return self.raw_rows_at(slots), slots >= 0

    def raw_rows_at(self, slots: np.ndarray) -> np.ndarray:
        slots = np.asarray(slots, dtype=np.int64)
        found = slots >= 0
        s = slots[found]
        out = np.zeros((slots.size, self.dim), dtype=self.storage_dtype)
        if not self._sparse:
            if s.size == slots.size:  # every key found: one gather
                return self._rows.take(s, axis=0)
            out[found] = self._rows[s]
            return out
        if s.size == 0:
            return out
        if self._quant in L.LINEAR_QUANTS:
            out[found] = self._zero_codes(s)
        start, end = self._spans(s)
        lengths = end - start
        total = int(lengths.sum())
        offsets = np.repeat(start - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths) + np.arange(total)
        cols = self._columns_at(s, start, end, offsets)
        if total and int(cols.max()) >= self.dim:
            _fail("E_SPARSE", f"table {self.name!r}: a column index is >= dim {self.dim}")
        rows = np.repeat(np.flatnonzero(found), lengths)
        out[rows, cols] = self._values[offsets]
        return out

    def _spans(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[start, end) of the stored values of slots s (int64), checked as in §10.3."""
        if self._compact:
            start, end = C.row_starts(self, s), C.row_starts(self, s + 1)
        else:
            w = self._row_index
            start = w[s].astype(np.int64)
            end = w[s + 1].astype(np.int64)
        # 8-byte index entries >= 2^63 turn negative in int64: refuse them too, or numpy
        # would index from the end (IndexError, or a silent read of another row's values)
        if (start < 0).any() or (start > end).any() or (end > self.nnz).any():
            _fail("E_SPARSE", f"table {self.name!r}: a row spans outside [0, nnz)")
        return start, end

    def _columns_at(self, s: np.ndarray, start: np.ndarray, end: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Columns (int64) of the values at `offsets`, the concatenated spans of slots s."""
        if self._compact:
            return C.columns_of(self, s, start, end)
        return self._columns[offsets].astype(np.int64)

    def _decode_codebook(self, raw: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """v1.1 §5: v = levels[group][code]; absent slots (-1) give zero rows."""
        lv = self.levels
        if self._granularity == L.SCALE_COLUMN:
            out = lv[np.arange(self.dim)[None, :], raw]
        else:
            out = lv[0][raw]
        out = np.array(out, dtype=np.float32)
        out[slots < 0] = 0
        return out

    def _zero_codes(self, slots: np.ndarray) -> np.ndarray:
        """linear8 zero codes of the slots' scale groups, broadcastable to (k, dim)."""
        zp = self.scales["zero_point"].astype(np.uint8)
        if self._granularity == L.SCALE_COLUMN:
            return zp[None, :]
        if self._granularity == L.SCALE_TABLE:
            return zp[0]
        return zp[slots // self.descriptor.scale_block_rows][:, None]

    def rows_at(self, slots: np.ndarray) -> np.ndarray:
        """Dequantized float32 rows for slots (-1 gives a zero row)."""
        slots = np.asarray(slots, dtype=np.int64)
        found = slots >= 0
        every = bool(found.all())
        if not every and not found.any():  # nothing found (e.g. an empty table, which has no scale groups)
            return np.zeros((slots.size, self.dim), dtype=np.float32)
        if not self._sparse and self._quant in L.LINEAR_QUANTS and self._granularity != L.SCALE_ROW_BLOCK:
            # dense linear8, one gather then §8.1 in two passes (u8 - f32 is exact in f32)
            raw = self._rows.take(slots, axis=0) if every else self.raw_rows_at(slots)
            g = slice(None) if self._granularity == L.SCALE_COLUMN else 0
            out = raw - self._zero_point_f32[g]
            out *= self._scale_f32[g]
        else:
            raw = self.raw_rows_at(slots)
            if self._quant == L.QUANT_F32:
                return raw
            if self._quant == L.QUANT_F16:
                return raw.astype(np.float32)
            if self.levels is not None:
                return self._decode_codebook(raw, slots)
            sc = self._scale_f32
            zp = self._zero_point_f32
            if self._granularity == L.SCALE_COLUMN:
                out = (raw.astype(np.float32) - zp) * sc
            elif self._granularity == L.SCALE_TABLE:
                out = (raw.astype(np.float32) - zp[0]) * sc[0]
            else:
                g = np.where(found, slots, 0) // self.descriptor.scale_block_rows
                out = (raw.astype(np.float32) - zp[g][:, None]) * sc[g][:, None]
        if not every:
            out[~found] = 0
        return out
