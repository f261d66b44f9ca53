"""Compare two phq files (`phq diff A B`), in the manner of h5diff.

    import phq.diff
    report = phq.diff.diff("old.phq", "new.phq", atol=1e-3)
    report.same            # True when no data difference (within atol/rtol) was found
    report.summary()       # one line: "same" or "N differences: ..."
    report.text()          # the summary, then the details (what `phq diff` prints)
    report.to_json()       # the machine-readable report (schema below)

Both files are fully validated first (`phq.validate`, every checksum): a file that is not
valid raises `phq.FormatError` (its `.code`, the message names the file). Bad options raise
`phq.UsageError`. Nothing here prints or exits; `phq diff` maps the outcome to exit codes
0 same, 1 different, 2 error.

What is compared, and how each finding is classed
--------------------------------------------------
A finding is of class **"data"** when it changes what a reader answers (metadata, tensor
shapes/dtypes/values, table key sets and dimensions, rows, tables or tensors added or
removed, and sections of kinds this reader does not understand, which only a byte
comparison can see), and of class **"encoding"** when the answers stay the same but the
bytes differ (format version, feature flags, file size, sections of known kinds whose bytes
changed, a table's quantization, layout, scale granularity, fingerprint width, γ, seed,
partitions, scale tables). Only data findings make two files different; with
`strict=True` (`--strict`) encoding findings count too. So an f32 table and its linear8
copy are "same" when `atol`/`rtol` cover the quantization error.

- header: `format_version`, `required_features`, `optional_features` (the bits set in one
  file only are listed), `file_size`.
- sections: matched by kind and owner (META; TENSOR and TABLE by name; a table's parts by
  kind and table name; sections of unknown kinds by kind, owner and order of appearance);
  reported as added, removed, resized (sizes differ) or changed (same size, CRC32C
  differs). Offsets are not compared (they follow from the sizes).
- metadata: a JSON diff; paths such as `$.phq.nlu.classes[3]` (member names made of
  letters, digits, `_`, `-` and `.` follow a dot, other names are written `["name"]`;
  `detail.path` holds the exact list of member names and indices). Arrays are compared
  index by index. Values compare by JSON type and value (1 == 1.0; true != 1).
  Memory stays bounded by the META texts, not by a tree of Python values: byte-identical
  METAs are equal without parsing; a META whose tree of Python values would cost more
  than META_TREE_COST (64 MiB, estimated at 64 bytes a JSON value: about a million values)
  in either file is compared member by member of its top-level object (a shallow scan), a
  member over that cost in either file by its text only: equal text is equal, else a data finding
  with change "not_compared" and detail {path, bytes_a, bytes_b} (a and b null); a large
  member added or removed likewise has null a/b and its size in detail.
- tensors: dtype and shape; when the shapes agree, the values in chunks: `values_differ`
  counts elements that are not equal within tolerance, `max_abs` and `max_rel` are over
  all elements.
- tables: parameters; scale tables; rows. Rows are compared **slot by slot** when the two
  tables' MPH parts (MPH_PARTITIONS, MPH_LEVELS, MPH_BITMAP, MPH_RANK, MPH_FALLBACK) are
  byte-identical and seed, key count and hash scheme agree (then the slot of every key is
  the same in both); a table whose sections are all byte-identical is equal without
  reading its rows. When, in addition, the fingerprints differ at some slot, the tables
  hold different keys (a data finding "keys"). Otherwise rows can be compared only **per
  key**, for the keys passed as `keys=` (`--keys FILE`): keys found in one table only are
  listed, rows of keys found in both are compared. Without keys the rows are reported as
  not compared (a data finding: the files could not be shown to be equal), as h5diff does
  for objects it cannot compare. Rows are read through `Table.rows_at` (dequantized
  float32, whatever the quantization scheme) in chunks of about 2^20 values, so a big
  table is never held in memory at once; rows of two sparse tables are compared at the
  columns stored in either only (`phq.rows.stored_entries`, chunks of about 2^20 stored
  values; a column stored in neither is 0.0 in both), with the same figures, so the work
  follows the stored bytes, not num_keys × dim.

Work bounded by max_report: every finding is counted, but only the first max(max_report, 3)
of each area and class are built and kept in `report.findings` (the summary names the
first three differences); `counts` and `omitted` stay exact.

Tolerance: two values a (file A) and b (file B) are equal when `a == b` or
`|a - b| <= atol + rtol * |b|` (numpy.isclose, no NaN: valid files hold none). Reported
relative differences are `|a - b| / max(|a|, |b|)` (0 when both are 0), so they stay finite.

`atol="auto"` (the default of `phq diff`) makes a re-quantization of the same weights compare
equal: a value a of table A and b of table B are equal when the ranges of weights they may
stand for overlap; for the linear schemes and floats, `a ± (step_A[col] + rel_A |a|)` and
`b ± (step_B[col] + rel_B |b|)`, where a table's step is 0 for f32; 2^-25 with rel 2^-11 for f16 (half a binary16 ulp, subnormals included);
its scale for linear8 / linear4 (per column; the largest of the table or row-block scales
otherwise: rounding moves a weight by at most half a step, clamping at the group's extreme
by at most one). A codebook4 / codebook8 value stands for the weights whose nearest level it
is (half-way to the neighbouring levels of its group, unbounded beyond the outermost ones;
the zero level's cell reaches its neighbours and (max level - min level) / 255, twice the
dead zone the levels' range implies: the weights' own range, which sets the dead zone, is
not in the file, so this part is an estimate); two values compare equal when the weights
they may stand for overlap. Tensors (never quantized)
compare exactly.
`atol=0` compares exactly; a number is one tolerance for every value.

Tables by name: tables of the same name are compared. When neither file has more than one
table and their names differ (the CLI names a table after its input file: v1.tsv and v2.tsv
give tables "v1" and "v2"), the two tables are compared with each other, and the rename is an
encoding finding ("name"); `tables=` (`--table`) turns this off.

JSON report (`report.to_dict()`, `report.to_json()`, `phq diff --json`); keys are stable:

    schema           "phq-diff/1"
    a, b             the two paths
    same             bool: no data finding (no finding at all with strict)
    summary          the one-line summary
    options          {atol, rtol, strict, tables: [names] | null, keys: number of keys | null, max_report}
    counts           {data, encoding, by_area: {header, section, metadata, tensor, table}}:
                     number of findings (data + encoding per area)
    findings         {header|section|metadata|tensor|table: [finding, ...]}, each list
                     data findings first, cut at max_report; a finding is
                     {area, object, item, change, class, a, b, detail}
                       area    "header" | "section" | "metadata" | "tensor" | "table"
                       object  the tensor/table name, the section label, or null
                       item    header field | "section" | JSON path | "tensor" | "dtype" |
                               "shape" | "values" | "table" | a table parameter | "scales" |
                               "keys" | "rows"
                       change  "added" | "removed" | "changed" | "resized" | "not_compared"
                       class   "data" | "encoding"
                       a, b    the value in each file (null when absent or not meaningful)
                       detail  an object with extra facts (may be empty): for "values"
                               {compared, values_differ, max_abs, max_rel}; for "rows" the
                               rows object below; for "scales" {groups_a, groups_b, max_abs:
                               {field: max abs difference} | null}; for "keys" {method:
                               "keys" | "fingerprints", ...counts}; for metadata {path: [...]}
                               (+ bytes_a, bytes_b for a value too large to compare)
    omitted          {area: number of findings left out of `findings` by max_report}
    tensors          {name: {status, a: {dtype, shape} | null, b: ..., values}} where status
                     is "same" | "different" | "added" | "removed" and values is null or
                     {compared, values_differ, max_abs, max_rel}
    tables           {name: {status, a: params | null, b: params | null, rows}} where params
                     are {num_keys, dim, quant, layout, scale_granularity, scale_block_rows,
                     fingerprint_bits, gamma, seed, num_partitions, nnz, hash_scheme} and
                     rows is {method: "identical" | "slots" | "keys" | null, reason,
                     rows_compared, rows_differ, values_differ, max_abs, max_rel,
                     examples: [{slot | key, max_abs}], keys: null | {given, only_a,
                     only_b, in_neither, only_a_examples, only_b_examples}}
"""

from __future__ import annotations

import json
import math
import mmap
import os
import re
import struct
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from . import layout as L
from .errors import FormatError, UsageError
from .inspect import _dtype_name
from .output import json_text
from .rows import stored_entries

__all__ = ["diff", "read_keys", "DiffReport", "Finding"]

SCHEMA = "phq-diff/1"
AREAS = ("header", "section", "metadata", "tensor", "table")
CHUNK_VALUES = 1 << 20  # values per chunk of rows or tensor elements (float64 temporaries: ~8 MiB each)
_BYTE_CHUNK = 1 << 22  # bytes per chunk of a byte comparison
_KEY_CHUNK = 1 << 16  # keys hashed per batch by the per-key comparison
_TABLE_PARAMS = ("num_keys", "dim", "quant", "layout", "scale_granularity", "scale_block_rows", "fingerprint_bits",
                 "gamma", "seed", "num_partitions", "nnz", "hash_scheme")
_DATA_PARAMS = ("num_keys", "dim")  # the other parameters change the encoding, not the answers
_TITLES = {"header": "header:", "section": "sections:", "metadata": "metadata:", "tensor": "tensors:", "table": "tables:"}
_TENSOR_HEAD = struct.Struct("<BBHI").unpack_from  # L.TENSOR_HEADER: dtype, ndim, name_len, reserved
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")


# -- report ----------------------------------------------------------------------------------
@dataclass
class Finding:
    area: str
    object: str | None
    item: str
    change: str
    cls: str  # "data" | "encoding"
    a: Any = None
    b: Any = None
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"area": self.area, "object": self.object, "item": self.item, "change": self.change, "class": self.cls,
                "a": self.a, "b": self.b, "detail": self.detail}

    def label(self) -> str:
        """A short description for the summary line and the details."""
        d, ch = self.detail, self.change
        if self.area == "header":
            return f"{self.item.replace('_', ' ')} {self.a} -> {self.b}"
        if self.area == "section":
            if ch in ("added", "removed"):
                return f"section {self.object} {ch}"
            if ch == "resized":
                return f"section {self.object} resized {self.a['size']} -> {self.b['size']} bytes"
            return f"section {self.object} changed (crc32c {self.a['crc32c']} -> {self.b['crc32c']})"
        if self.area == "metadata":
            if ch == "added":
                return f"metadata {self.item} added: {_show(self.b)}"
            if ch == "removed":
                return f"metadata {self.item} removed (was {_show(self.a)})"
            if "bytes_a" in d:  # a value too large to compare as a tree
                if ch == "not_compared":
                    return (f"metadata {self.item}: texts differ ({d['bytes_a']} and {d['bytes_b']} bytes), "
                            "too large to compare value by value")
                return f"metadata {self.item} {ch} ({max(d['bytes_a'], d['bytes_b'])} bytes of JSON)"
            return f"metadata {self.item}: {_show(self.a)} -> {_show(self.b)}"
        what = f"{self.area} {self.object!r}"
        if self.item in ("tensor", "table"):
            return f"{what} {ch}"
        if self.item == "values":
            return f"{what}: {d['values_differ']} of {d['compared']} values differ (max abs {d['max_abs']:.6g}, max rel {d['max_rel']:.6g})"
        if self.item == "rows":
            if ch == "not_compared":
                return f"{what}: rows not compared ({d['reason']})"
            via = "slot by slot" if d["method"] == "slots" else "for the given keys"
            return (f"{what}: {d['rows_differ']} of {d['rows_compared']} rows differ, compared {via} "
                    f"(max abs {d['max_abs']:.6g}, max rel {d['max_rel']:.6g})")
        if self.item == "keys":
            if d.get("method") == "fingerprints":
                return f"{what}: different keys at {d['slots_differ']} slot(s) (fingerprints differ)"
            return f"{what}: {d['only_a']} given key(s) only in A, {d['only_b']} only in B"
        if self.item == "scales":
            more = (", max abs diff " + ", ".join(f"{k} {v:.6g}" for k, v in d["max_abs"].items())) if d.get("max_abs") else ""
            return f"{what}: scale table changed ({d['groups_a']} -> {d['groups_b']} groups{more})"
        return f"{what}: {self.item} {_show(self.a)} -> {_show(self.b)}"


def _show(v) -> str:
    text = json.dumps(v, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class DiffReport:
    a: str
    b: str
    options: dict
    findings: list = field(default_factory=list)  # the findings kept: at most max(max_report, 3) per area and class
    tensors: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)  # (area, class) -> number of findings, kept or not

    def _count(self, area: str | None = None, cls: str | None = None) -> int:
        if not self.counts and self.findings:  # a report put together by hand: count its list
            return sum(1 for f in self.findings if area in (None, f.area) and cls in (None, f.cls))
        return sum(n for (ar, c), n in self.counts.items() if area in (None, ar) and cls in (None, c))

    def _area(self, area: str) -> list:
        """The kept findings of one area, data findings first (so max_report never hides them)."""
        return sorted((f for f in self.findings if f.area == area), key=lambda f: f.cls != "data")

    def _of(self, cls: str) -> list:
        return [f for f in self.findings if f.cls == cls]

    @property
    def differences(self) -> list:
        """The kept findings that make the files different (data ones; all with strict)."""
        return list(self.findings) if self.options["strict"] else self._of("data")

    @property
    def same(self) -> bool:
        return not self._count(cls=None if self.options["strict"] else "data")

    def summary(self) -> str:
        diffs = self.differences  # the first three differences are always kept
        n_diffs = self._count(cls=None if self.options["strict"] else "data")
        n_enc = 0 if self.options["strict"] else self._count(cls="encoding")
        note = f" (+{n_enc} encoding change{'s' if n_enc != 1 else ''})" if n_enc else ""
        if not n_diffs:
            if n_enc == 1:
                note = f" (1 encoding change: {self._of('encoding')[0].label()})"
            return "same" + note
        shown = "; ".join(f.label() for f in diffs[:3]) + (f"; ... ({n_diffs - 3} more)" if n_diffs > 3 else "")
        return f"{n_diffs} difference{'s' if n_diffs != 1 else ''}: {shown}" + note

    def to_dict(self) -> dict:
        cap = self.options["max_report"]
        by_area = {area: self._area(area) for area in AREAS}
        counts = {area: self._count(area) for area in AREAS}
        return {
            "schema": SCHEMA,
            "a": self.a,
            "b": self.b,
            "same": self.same,
            "summary": self.summary(),
            "options": dict(self.options),
            "counts": {"data": self._count(cls="data"), "encoding": self._count(cls="encoding"), "by_area": counts},
            "findings": {area: [f.to_dict() for f in fs[:cap]] for area, fs in by_area.items()},
            "omitted": {area: counts[area] - min(cap, counts[area]) for area in AREAS},
            "tensors": self.tensors,
            "tables": self.tables,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """RFC 8259 JSON for every pair of valid files: huge integers exactly, numbers beyond
        binary64 (held as infinity) as 1e999 / -1e999 (phq.output.json_text)."""
        return json_text(self.to_dict(), indent=indent)

    def text(self) -> str:
        """The readable report: the summary line, then the details by area."""
        cap = self.options["max_report"]
        lines = [self.summary(), f"--- {self.a}", f"+++ {self.b}"]
        for area in AREAS:
            fs, total = self._area(area), self._count(area)
            if not total:
                continue
            lines.append(_TITLES[area])
            for f in fs[:cap]:
                tag = "" if f.cls == "data" else "  [encoding]"
                lines.append(f"  {f.label()}{tag}")
                lines.extend(f"      {x}" for x in _examples(f.detail, cap))
            if total > cap:
                lines.append(f"  ... {total - cap} more (--max-report)")
        for name, t in self.tables.items():
            rows = t.get("rows") or {}
            if t["status"] == "same" and rows.get("method"):
                via = {"identical": "byte-identical sections", "slots": "slot by slot", "keys": "for the given keys"}[rows["method"]]
                of = f" of {max(t['a']['num_keys'], t['b']['num_keys'])}" if rows["method"] == "keys" else ""
                lines.append(f"table {name!r}: same ({rows['rows_compared']}{of} rows, {via})")
        return "\n".join(lines)


class _Sink:
    """Where a diff puts its findings: every finding is counted, the first max(max_report, 3)
    of each area and class are kept (the summary shows the first three differences), the
    rest are never built: the work stays bounded by max_report, not by the differences."""

    def __init__(self, report: DiffReport):
        self.report = report
        self.keep = max(report.options["max_report"], 3)
        self.total = self.data = 0

    def room(self, area: str, cls: str) -> bool:
        return self.report.counts.get((area, cls), 0) < self.keep

    def count(self, area: str, cls: str, n: int = 1) -> None:
        c = self.report.counts
        c[(area, cls)] = c.get((area, cls), 0) + n
        self.total += n
        if cls == "data":
            self.data += n

    def append(self, f: Finding) -> None:
        if self.room(f.area, f.cls):
            self.report.findings.append(f)
        self.count(f.area, f.cls)


def _examples(detail: dict, cap: int) -> list[str]:
    out = []
    for e in detail.get("examples", [])[:cap]:
        where = f"slot {e['slot']}" if "slot" in e else f"key {e['key']!r}"
        out.append(f"{where}: max abs {e['max_abs']:.6g}")
    for side in ("a", "b"):
        ks = detail.get(f"only_{side}_examples", [])[:cap]
        if ks:
            out.append(f"only in {side.upper()}: " + ", ".join(repr(k) for k in ks) + (" ..." if detail[f"only_{side}"] > len(ks) else ""))
    return out


# -- value comparison ----------------------------------------------------------------------------
class _Stats:
    """Running comparison of value chunks (rows or tensor elements). atol: a number, or one
    per column (an array of dim values, with atol="auto"); qrel: the relative part of "auto",
    times max(|a|, |b|)."""

    def __init__(self, atol, rtol: float, cap: int, qrel: float = 0.0, cells=None):
        self.atol, self.rtol, self.cap, self.qrel = atol, rtol, cap, qrel
        self.cells = cells  # atol="auto": (cells of A, cells of B), each _Cells
        self.values = self.values_differ = self.rows = self.rows_differ = 0
        self.max_abs = self.max_rel = 0.0
        self.examples: list[dict] = []

    def add(self, a: np.ndarray, b: np.ndarray, label=None) -> None:
        """Compare a and b (same shape). With label (row i of a 2-d chunk -> {"slot"|"key": ...}),
        count rows and keep examples of differing rows."""
        if a.size:
            a64, b64 = a.astype(np.float64), b.astype(np.float64)
            d = np.abs(a64 - b64)
            absb = np.abs(b64)
            m = np.maximum(np.abs(a64), absb)
            bad = (a != b) & ~(d <= self.atol + self.rtol * absb + self.qrel * m)
            if self.cells is not None and bad.any():  # atol="auto": only the values outside the steps
                where = np.nonzero(bad)
                meet = _cells_meet(self.cells, a64[where], b64[where], where[-1])
                bad[tuple(w[meet] for w in where)] = False
            rel = np.divide(d, m, out=np.zeros_like(d), where=m > 0)
            self.values += a.size
            self.values_differ += int(np.count_nonzero(bad))
            self.max_abs = max(self.max_abs, float(d.max()))
            self.max_rel = max(self.max_rel, float(rel.max()))
        if label is None:
            return
        self.rows += a.shape[0]
        if not a.size:
            return
        row_bad = bad.any(axis=1)
        nbad = int(np.count_nonzero(row_bad))
        self.rows_differ += nbad
        if nbad and len(self.examples) < self.cap:
            idx = np.flatnonzero(row_bad)[: self.cap - len(self.examples)]
            row_max = d[idx].max(axis=1)
            for i, mx in zip(idx, row_max):
                self.examples.append({**label(int(i)), "max_abs": float(mx)})

    def add_entries(self, va: np.ndarray, vb: np.ndarray, row: np.ndarray, nrows: int, label, cols: np.ndarray | None = None) -> None:
        """Compare nrows rows given only at some of their columns: va[i] and vb[i] are the
        values of row row[i] (ascending) in A and B; every other column is 0 in both. The
        same counts and examples as add() of the dense rows, in work proportional to the
        entries."""
        self.rows += nrows
        if not va.size:
            return
        a64, b64 = va.astype(np.float64), vb.astype(np.float64)
        d = np.abs(a64 - b64)
        absb = np.abs(b64)
        m = np.maximum(np.abs(a64), absb)
        atol = self.atol[cols] if isinstance(self.atol, np.ndarray) else self.atol
        bad = (va != vb) & ~(d <= atol + self.rtol * absb + self.qrel * m)
        if self.cells is not None and bad.any():
            where = np.flatnonzero(bad)
            bad[where[_cells_meet(self.cells, a64[where], b64[where], cols[where])]] = False
        rel = np.divide(d, m, out=np.zeros_like(d), where=m > 0)
        self.values += va.size
        self.values_differ += int(np.count_nonzero(bad))
        self.max_abs = max(self.max_abs, float(d.max()))
        self.max_rel = max(self.max_rel, float(rel.max()))
        bad_rows = np.unique(row[bad])
        self.rows_differ += int(bad_rows.size)
        if bad_rows.size and len(self.examples) < self.cap:
            for r in bad_rows[: self.cap - len(self.examples)]:
                lo, hi = np.searchsorted(row, [r, r + 1])
                self.examples.append({**label(int(r)), "max_abs": float(d[lo:hi].max())})

    def values_dict(self) -> dict:
        return {"compared": self.values, "values_differ": self.values_differ, "max_abs": self.max_abs, "max_rel": self.max_rel}


# -- files -------------------------------------------------------------------------------------
class _File:
    """One validated model plus a private read-only mapping for byte comparisons."""

    def __init__(self, path):
        from .validate import validate

        self.path = os.fspath(path)
        try:
            self.model = validate(self.path)
        except FormatError as e:
            raise FormatError(e.code, f"{self.path}: {e.message}", e.offset) from None
        with open(self.path, "rb") as f:
            self.mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        owner_names = {t.sections[0].index: name for name, t in self.model.tables.items()}
        self.sections: dict[tuple, Any] = {}  # (kind, name, occurrence) -> Section
        self.table_of: dict[tuple, str | None] = {}
        seen: dict[tuple, int] = {}
        for s in self.model.sections:
            if s.kind == L.KIND_TENSOR:
                name, table = self._tensor_name(s), None
            elif s.kind == L.KIND_TABLE:
                name = table = owner_names[s.index]
            elif s.owner != L.NO_OWNER:
                name = table = owner_names[s.owner]
            else:
                name, table = "", None
            base = (s.kind, name)
            occurrence = seen[base] = seen.get(base, -1) + 1
            self.sections[base + (occurrence,)] = s
            self.table_of[base + (occurrence,)] = table

    def _tensor_name(self, s) -> str:
        _, ndim, name_len, _ = _TENSOR_HEAD(self.mm, s.offset)  # struct, not construct: 65,536 sections are allowed
        at = s.offset + L.TENSOR_HEADER_SIZE + 8 * ndim
        return self.mm[at : at + name_len].decode("utf-8")

    def rename_table(self, old: str, new: str) -> None:
        """Compare this file's table `old` as `new` (its sections too)."""
        self.model.tables = {new if k == old else k: v for k, v in self.model.tables.items()}
        sections, table_of = {}, {}
        for key, s in self.sections.items():
            kind, name, occ = key
            t = self.table_of[key]
            if t == old:
                key, t = (kind, new, occ), new
            sections[key], table_of[key] = s, t
        self.sections, self.table_of = sections, table_of

    def close(self) -> None:
        self.model.close()
        try:
            self.mm.close()
        except BufferError:  # a view is still referenced: the mapping closes when it is released
            pass


def _same_bytes(fa: _File, sa, fb: _File, sb) -> bool:
    if sa.size != sb.size or sa.checksum != sb.checksum:
        return False
    for off in range(0, sa.size, _BYTE_CHUNK):
        n = min(_BYTE_CHUNK, sa.size - off)
        if fa.mm[sa.offset + off : sa.offset + off + n] != fb.mm[sb.offset + off : sb.offset + off + n]:
            return False
    return True


def _section_label(key: tuple) -> str:
    kind, name, occurrence = key
    kind_name = L.SECTION_NAMES.get(kind, f"UNKNOWN_0x{kind:04x}")
    if kind in (L.KIND_TENSOR, L.KIND_TABLE):
        label = f"{kind_name} {name!r}"
    elif name:
        label = f"{kind_name} of table {name!r}"
    else:
        label = kind_name
    return label + (f" #{occurrence + 1}" if occurrence else "")


# -- metadata ------------------------------------------------------------------------------------
def _json_type(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)) or type(v).__name__ == "Decimal":
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def _path_text(parts: list) -> str:
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif _PLAIN_NAME.match(p):
            out += f".{p}"
        else:
            out += "[" + json.dumps(p, ensure_ascii=False) + "]"
    return out


def _jsonable(v):
    return str(v) if type(v).__name__ == "Decimal" else v


def _parts(path) -> list:
    """The member names and indices of a linked path (None | (parent, name or index))."""
    parts = []
    while path is not None:
        path, p = path
        parts.append(p)
    return parts[::-1]


_SCALAR_TYPES = (str, int, float, bool, type(None))
_CONTAINER_TYPES = (list, dict)
_ARRAY_CHUNK = 1 << 16  # array elements compared per pass (bounded lists of indices)


def _json_diff(a, b, path, out: _Sink) -> None:
    """Metadata findings of a against b. `path` is linked ((parent, name or index), None at the
    root) so that descending costs no list copy; a finding builds its path only when kept.
    Arrays of scalars of one type are compared inline (no call per element)."""
    ta, tb = _json_type(a), _json_type(b)
    if ta != tb:
        _meta_finding(out, "changed", path, a, b)
    elif ta == "object":
        for k, v in a.items():
            if k not in b:
                _meta_finding(out, "removed", (path, k), v, None)
            else:
                _json_diff(v, b[k], (path, k), out)
        for k, v in b.items():
            if k not in a:
                _meta_finding(out, "added", (path, k), None, v)
    elif ta == "array":
        # one C-level pass per chunk skips equal scalars and equal empty containers; what is
        # left is a difference or a container to descend into
        common = min(len(a), len(b))
        uncounted = 0
        for lo in range(0, common, _ARRAY_CHUNK):
            hi = min(common, lo + _ARRAY_CHUNK)
            todo = [i for i, x, y in zip(range(lo, hi), a[lo:hi], b[lo:hi])
                    if x.__class__ is not y.__class__ or x != y or (x and x.__class__ in _CONTAINER_TYPES)]
            for i in todo:
                x, y = a[i], b[i]
                if x.__class__ is y.__class__ and x.__class__ in _SCALAR_TYPES:  # same type, different value
                    if uncounted or not out.room("metadata", "data"):
                        uncounted += 1  # past max_report: counted, not built
                    else:
                        _meta_finding(out, "changed", (path, i), x, y)
                else:
                    _json_diff(x, y, (path, i), out)
        if uncounted:
            out.count("metadata", "data", uncounted)
        common = min(len(a), len(b))
        longer, change = (a, "removed") if len(a) > common else (b, "added")
        if len(longer) > common:
            if not out.room("metadata", "data"):  # count the rest without building them
                out.count("metadata", "data", len(longer) - common)
                return
            for i in range(common, len(longer)):
                v = longer[i]
                _meta_finding(out, change, (path, i), v if change == "removed" else None, v if change == "added" else None)
    elif a != b:
        _meta_finding(out, "changed", path, a, b)


META_TREE_COST = 64 << 20  # bytes a JSON text may cost as a tree of Python values, per side (estimated by _tree_cost)


def _tree_cost(text: bytes) -> int:
    """An upper estimate of the memory of json.loads(text): ~64 bytes a value (an empty
    list is 56, a float 24 + its slot) plus the text. Values are counted by separators and
    openers (an over-count when strings hold them)."""
    return len(text) + 64 * (text.count(b",") + text.count(b"[") + text.count(b"{") + 1)


def _diff_metadata(ma, mb, out: _Sink) -> None:
    """Metadata findings with memory bounded by the META texts: equal texts are equal
    metadata (no tree); texts whose trees cost at most META_TREE_COST are compared as trees
    (`_json_diff`); others member by member of the top-level object (a shallow scan),
    each member's values as trees when both cost at most META_TREE_COST, else by
    their text alone: equal text is equal, different text of a member too large to compare
    is a data finding "not_compared" (the files could not be shown equal)."""
    ra, rb = ma.metadata_bytes or b"{}", mb.metadata_bytes or b"{}"
    if ra == rb:
        return
    if _tree_cost(ra) <= META_TREE_COST and _tree_cost(rb) <= META_TREE_COST:
        _json_diff(ma.metadata, mb.metadata, None, out)
        return
    from .metajson import parse, top_level_members

    def value(raw: bytes, span):
        return None if span is None else parse(raw[span[0] : span[1]])

    spans_a = {name: (s, e) for name, s, e in top_level_members(ra)}
    spans_b = {name: (s, e) for name, s, e in top_level_members(rb)}
    for name in list(spans_a) + [n for n in spans_b if n not in spans_a]:
        x, y = spans_a.get(name), spans_b.get(name)
        ta = b"" if x is None else ra[x[0] : x[1]]
        tb = b"" if y is None else rb[y[0] : y[1]]
        if ta == tb:
            continue
        if _tree_cost(ta) <= META_TREE_COST and _tree_cost(tb) <= META_TREE_COST:
            if x is None or y is None:
                _meta_finding(out, "added" if x is None else "removed", (None, name), value(ra, x), value(rb, y))
            else:
                _json_diff(value(ra, x), value(rb, y), (None, name), out)
            continue
        if not out.room("metadata", "data"):
            out.count("metadata", "data")
            continue
        change = "added" if x is None else "removed" if y is None else "not_compared"
        out.append(Finding("metadata", None, _path_text([name]), change, "data", None, None,
                           {"path": [name], "bytes_a": len(ta), "bytes_b": len(tb)}))


def _meta_finding(out: _Sink, change: str, path, a, b) -> None:
    if not out.room("metadata", "data"):
        out.count("metadata", "data")
        return
    parts = _parts(path)
    out.append(Finding("metadata", None, _path_text(parts), change, "data", _jsonable(a), _jsonable(b), {"path": parts}))


# -- tensors -------------------------------------------------------------------------------------
def _tensor_info(arr) -> dict:
    return {"dtype": _dtype_name(arr.dtype), "shape": list(arr.shape)}


def _diff_tensor(name, ta, tb, opts, out: _Sink) -> dict:
    ia, ib = _tensor_info(ta), _tensor_info(tb)
    entry = {"status": "same", "a": ia, "b": ib, "values": None}
    before = out.total
    if ia["dtype"] != ib["dtype"]:
        out.append(Finding("tensor", name, "dtype", "changed", "data", ia["dtype"], ib["dtype"]))
    if ia["shape"] != ib["shape"]:
        out.append(Finding("tensor", name, "shape", "changed", "data", ia["shape"], ib["shape"]))
    else:
        st = _Stats(0.0 if opts["atol"] == "auto" else opts["atol"], opts["rtol"], 0)
        fa, fb = ta.reshape(-1), tb.reshape(-1)
        for lo in range(0, fa.size, CHUNK_VALUES):
            st.add(fa[lo : lo + CHUNK_VALUES], fb[lo : lo + CHUNK_VALUES])
        entry["values"] = st.values_dict()
        if st.values_differ:
            out.append(Finding("tensor", name, "values", "changed", "data", None, None, st.values_dict()))
    if out.total > before:
        entry["status"] = "different"
    return entry


# -- tables --------------------------------------------------------------------------------------
def _params(t) -> dict:
    d = t.descriptor
    p = {}
    for k in _TABLE_PARAMS:
        if k in ("scale_block_rows", "hash_scheme"):
            v = getattr(d, k, None)
            p[k] = None if v is None else int(v)
        else:
            v = getattr(t, k)
            p[k] = v if isinstance(v, (str, float)) else int(v)
    return p


def _key_text(k) -> str:
    return k.decode("utf-8", "backslashreplace") if isinstance(k, bytes) else k


def _rows_chunk(dim: int) -> int:
    return max(1, CHUNK_VALUES // max(dim, 1))


def _entry_chunks(lengths: np.ndarray, limit: int = CHUNK_VALUES):
    """[lo, hi) runs of rows holding about `limit` entries each (a longer row alone)."""
    n = lengths.size
    cum = np.cumsum(lengths)
    lo = 0
    while lo < n:
        base = int(cum[lo - 1]) if lo else 0
        hi = max(lo + 1, int(np.searchsorted(cum, base + limit, side="right")))
        yield lo, min(hi, n)
        lo = hi


def _compare_sparse(ta, tb, sa: np.ndarray, sb: np.ndarray, st: _Stats, label) -> None:
    """Rows sa[i] of A against sb[i] of B, two sparse tables of one dim, compared at the
    columns stored in either (work and memory proportional to the stored values read)."""
    dim = ta.dim
    for lo in range(0, sa.size, CHUNK_VALUES):
        ca, cb = sa[lo : lo + CHUNK_VALUES], sb[lo : lo + CHUNK_VALUES]
        (a0, a1), (b0, b1) = ta._spans(ca), tb._spans(cb)  # §9.2, v1.2 §4.2
        per_row = (a1 - a0) + (b1 - b0)
        for r0, r1 in _entry_chunks(per_row):
            ra, xa, va = stored_entries(ta, ca[r0:r1])
            rb, xb, vb = stored_entries(tb, cb[r0:r1])
            ka, kb = ra * dim + xa, rb * dim + xb  # rows < CHUNK_VALUES, dim <= 2^24: no overflow
            keys = np.union1d(ka, kb)
            ua, ub = np.zeros(keys.size, np.float32), np.zeros(keys.size, np.float32)
            ua[np.searchsorted(keys, ka)] = va
            ub[np.searchsorted(keys, kb)] = vb
            st.add_entries(ua, ub, keys // dim, r1 - r0, lambda i, base=lo + r0: label(base + i), keys % dim)


F16_STEP, F16_REL, DEQUANT_REL = 2.0 ** -25, 2.0 ** -11, 2.0 ** -22


class _Cells:
    """The weights a table's stored value may stand for (atol="auto", module docstring): for
    f32, f16, linear8 and linear4 the value plus or minus one step (and a relative part); for a
    codebook the value's cell: the weights whose nearest level it is (each half-way to its
    neighbours, unbounded beyond the outermost levels), the zero level's reaching to its
    neighbours (the dead zone)."""

    def __init__(self, t):
        dim, q = t.dim, t._quant
        self.step, self.rel, self.levels = np.zeros(dim), 0.0, None
        if q == L.QUANT_F32 or not t.num_keys:
            return
        if q == L.QUANT_F16:
            self.step, self.rel = np.full(dim, F16_STEP), F16_REL + DEQUANT_REL
            return
        if t.levels is not None:
            self.column = t._granularity == L.SCALE_COLUMN and t.levels.shape[0] == dim
            self.levels = []  # per group: (sorted distinct levels, low edges, high edges)
            for g in t.levels.astype(np.float64):
                srt = np.unique(g)
                mid = (srt[1:] + srt[:-1]) / 2
                lo = np.concatenate(([-np.inf], mid))
                hi = np.concatenate((mid, [np.inf]))
                z = np.searchsorted(srt, 0.0)
                if z < srt.size and srt[z] == 0.0:
                    # the dead zone (weights linear8 rounds to 0, half its step wide, v1.1 §5.2):
                    # the zero cell reaches the neighbouring levels and twice the half step the
                    # levels' own range gives (the weights' range, unknown here, is wider)
                    dz = (srt[-1] - srt[0]) / 255
                    lo[z] = min(srt[z - 1] if z else -np.inf, -dz)
                    hi[z] = max(srt[z + 1] if z + 1 < srt.size else np.inf, dz)
                self.levels.append((srt, lo, hi))
            return
        scale = t.scales["scale"].astype(np.float64)
        self.step = scale.copy() if t._granularity == L.SCALE_COLUMN else np.full(dim, scale.max(initial=0.0))
        self.rel = DEQUANT_REL

    def bounds(self, v: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[lo, hi] of the weights each value v (at column cols) may stand for."""
        if self.levels is None:
            w = self.step[cols] + self.rel * np.abs(v)
            return v - w, v + w
        lo, hi = v.copy(), v.copy()
        if self.column:  # the values grouped by column, one searchsorted per column present
            order = np.argsort(cols, kind="stable")
            cs = cols[order]
            present = np.unique(cs)
            starts = np.searchsorted(cs, present)
            ends = np.searchsorted(cs, present, side="right")
            parts = [(int(g), order[s0:e0]) for g, s0, e0 in zip(present, starts, ends)]
        else:
            parts = [(0, slice(None))]
        for g, sel in parts:
            srt, glo, ghi = self.levels[g]
            x = v[sel]
            i = np.clip(np.searchsorted(srt, x), 0, srt.size - 1)
            ok = srt[i] == x  # a stored value is one of its group's levels
            lo[sel] = np.where(ok, glo[i], x)
            hi[sel] = np.where(ok, ghi[i], x)
        return lo, hi


def _cells_meet(cells, a: np.ndarray, b: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Whether a (from A) and b (from B) may stand for the same weight: their cells meet."""
    lo_a, hi_a = cells[0].bounds(a, cols)
    lo_b, hi_b = cells[1].bounds(b, cols)
    return (lo_a <= hi_b) & (lo_b <= hi_a)


def _diff_table(name, fa: _File, fb: _File, opts, keys, out: _Sink) -> dict:
    ta, tb = fa.model.tables[name], fb.model.tables[name]
    pa, pb = _params(ta), _params(tb)
    entry = {"status": "same", "a": pa, "b": pb, "rows": None}
    before = out.data
    for k in _TABLE_PARAMS:
        if pa[k] != pb[k]:
            out.append(Finding("table", name, k, "changed", "data" if k in _DATA_PARAMS else "encoding", pa[k], pb[k]))
    parts_a = {s.kind: s for s in ta.sections}
    parts_b = {s.kind: s for s in tb.sections}

    def same_part(kind) -> bool:
        return kind in parts_a and kind in parts_b and _same_bytes(fa, parts_a[kind], fb, parts_b[kind])

    # scale tables (whatever their record type: compared field by field when the dtypes agree)
    sa, sb = ta.scales, tb.scales
    if not same_part(L.KIND_SCALES):
        detail = {"groups_a": int(sa.size), "groups_b": int(sb.size), "max_abs": None}
        if sa.dtype == sb.dtype and sa.shape == sb.shape and sa.size:  # per field of the record, e.g. scale, zero_point
            detail["max_abs"] = {
                f or "value": float(np.max(np.abs((sa[f] if f else sa).astype(np.float64) - (sb[f] if f else sb).astype(np.float64))))
                for f in (sa.dtype.names or (None,))
            }
        if sa.size or sb.size:
            out.append(Finding("table", name, "scales", "changed", "encoding", None, None, detail))

    rows = {"method": None, "reason": None, "rows_compared": 0, "rows_differ": 0, "values_differ": 0, "max_abs": 0.0,
            "max_rel": 0.0, "examples": [], "keys": None}
    entry["rows"] = rows
    identical = len(ta.sections) == len(tb.sections) and all(
        x.kind == y.kind and _same_bytes(fa, x, fb, y) for x, y in zip(ta.sections, tb.sections)
    )
    mph_same = (
        pa["num_keys"] == pb["num_keys"] and pa["seed"] == pb["seed"] and pa["hash_scheme"] == pb["hash_scheme"]
        and all(same_part(k) for k in L.MPH_PARTS)
    )
    if opts["atol"] == "auto" and pa["dim"] == pb["dim"]:
        st = _Stats(0.0, opts["rtol"], opts["max_report"], cells=(_Cells(ta), _Cells(tb)))
    else:
        st = _Stats(0.0 if opts["atol"] == "auto" else opts["atol"], opts["rtol"], opts["max_report"])
    if identical:
        rows.update(method="identical", rows_compared=ta.num_keys)
    elif pa["dim"] != pb["dim"] and keys is None:
        rows["reason"] = f"dim differs ({pa['dim']} vs {pb['dim']})"
    elif mph_same:
        rows["method"] = "slots"
        n = ta.num_keys
        if pa["dim"] == pb["dim"] and ta._sparse and tb._sparse:
            every = np.arange(n, dtype=np.int64)
            _compare_sparse(ta, tb, every, every, st, lambda i: {"slot": i})
        elif pa["dim"] == pb["dim"]:
            step = _rows_chunk(pa["dim"])
            for lo in range(0, n, step):
                slots = np.arange(lo, min(n, lo + step), dtype=np.int64)
                st.add(ta.rows_at(slots), tb.rows_at(slots), lambda i, lo=lo: {"slot": lo + i})
        else:
            rows["reason"] = f"dim differs ({pa['dim']} vs {pb['dim']})"
        _check_fingerprints(name, fa, ta, fb, tb, out)
    elif keys is None:
        rows["reason"] = "the MPHs differ; pass keys (--keys FILE) to compare rows per key"
    else:
        rows["method"] = "keys"
        rows["keys"] = _compare_keys(ta, tb, keys, st, pa["dim"] == pb["dim"], opts["max_report"])
        if pa["dim"] != pb["dim"]:
            rows["reason"] = f"dim differs ({pa['dim']} vs {pb['dim']}): only key presence was compared"
        ks = rows["keys"]
        if ks["only_a"] or ks["only_b"]:
            out.append(Finding("table", name, "keys", "changed", "data", None, None, {"method": "keys", **ks}))
    if rows["method"] in ("slots", "keys"):
        rows.update(rows_compared=st.rows, rows_differ=st.rows_differ, values_differ=st.values_differ, max_abs=st.max_abs,
                    max_rel=st.max_rel, examples=st.examples)
        if st.rows_differ:
            detail = {k: rows[k] for k in ("method", "rows_compared", "rows_differ", "values_differ", "max_abs", "max_rel", "examples")}
            out.append(Finding("table", name, "rows", "changed", "data", None, None, detail))
    elif rows["method"] is None and pa["dim"] == pb["dim"]:
        out.append(Finding("table", name, "rows", "not_compared", "data", None, None, {"reason": rows["reason"]}))
    if out.data > before:
        entry["status"] = "different"
    return entry


def _check_fingerprints(name, fa, ta, fb, tb, out: _Sink) -> None:
    """Same MPH: a slot whose fingerprints differ (in their common low bits, spec §7.5:
    fingerprint = h2 mod 2^bits) belongs to different keys in the two tables."""
    bits = min(ta.fingerprint_bits, tb.fingerprint_bits)
    if not bits:
        return
    sa, sb = next(s for s in ta.sections if s.kind == L.KIND_FINGERPRINTS), next(s for s in tb.sections if s.kind == L.KIND_FINGERPRINTS)
    if ta.fingerprint_bits == tb.fingerprint_bits and _same_bytes(fa, sa, fb, sb):
        return
    n = ta.num_keys
    va = np.frombuffer(fa.mm, L.FINGERPRINT_DTYPES[ta.fingerprint_bits], n, sa.offset)
    vb = np.frombuffer(fb.mm, L.FINGERPRINT_DTYPES[tb.fingerprint_bits], n, sb.offset)
    mask = np.uint64((1 << bits) - 1)
    differ = 0
    for lo in range(0, n, CHUNK_VALUES):
        x = va[lo : lo + CHUNK_VALUES].astype(np.uint64) & mask
        y = vb[lo : lo + CHUNK_VALUES].astype(np.uint64) & mask
        differ += int(np.count_nonzero(x != y))
    del va, vb  # release the exported buffers so the mapping can close
    if differ:
        out.append(Finding("table", name, "keys", "changed", "data", None, None, {"method": "fingerprints", "slots_differ": differ}))


def _compare_keys(ta, tb, keys: list, st: _Stats, rows_too: bool, cap: int) -> dict:
    res = {"given": len(keys), "only_a": 0, "only_b": 0, "in_neither": 0, "only_a_examples": [], "only_b_examples": []}
    sparse = rows_too and ta._sparse and tb._sparse  # compared at the stored columns only
    step, rstep = _KEY_CHUNK, _rows_chunk(max(ta.dim, tb.dim))  # keys hashed per chunk; dense rows per rstep
    for lo in range(0, len(keys), step):
        chunk = keys[lo : lo + step]
        sa, sb = ta.slots(chunk), tb.slots(chunk)
        fa, fb = sa >= 0, sb >= 0
        for side, mask in (("a", fa & ~fb), ("b", fb & ~fa)):
            idx = np.flatnonzero(mask)
            res[f"only_{side}"] += int(idx.size)
            room = cap - len(res[f"only_{side}_examples"])
            res[f"only_{side}_examples"] += [_key_text(chunk[i]) for i in idx[: max(room, 0)]]
        res["in_neither"] += int(np.count_nonzero(~fa & ~fb))
        both = np.flatnonzero(fa & fb)
        if sparse:
            _compare_sparse(ta, tb, sa[both], sb[both], st, lambda i, both=both, chunk=chunk: {"key": _key_text(chunk[both[i]])})
        elif rows_too:
            for r in range(0, both.size, rstep):
                part = both[r : r + rstep]
                st.add(ta.rows_at(sa[part]), tb.rows_at(sb[part]), lambda i, part=part, chunk=chunk: {"key": _key_text(chunk[part[i]])})
    return res


# -- entry points ----------------------------------------------------------------------------------
def read_keys(path) -> list[bytes]:
    """Keys of a --keys FILE: one key per line (UTF-8 text; the bytes of each line without its
    line ending are the key), duplicates dropped."""
    with open(path, "rb") as f:
        return list(dict.fromkeys(line.rstrip(b"\r\n") for line in f))


def _check_tolerance(name: str, v):
    if name == "atol" and v == "auto":
        return "auto"
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be a number, got {v!r}") from None
    if not math.isfinite(x) or x < 0:
        raise UsageError(f"{name} must be a finite number >= 0, got {v!r}")
    return x


def diff(
    a_path: str | os.PathLike,
    b_path: str | os.PathLike,
    *,
    atol: float | str = 0,
    rtol: float = 0,
    keys: Iterable | None = None,
    tables: Iterable[str] | None = None,
    strict: bool = False,
    max_report: int = 50,
) -> DiffReport:
    """Compare two phq files (see the module docstring for what and how).

    atol     absolute tolerance: a number, or "auto" (one quantization step of each table:
             a re-quantization of the same weights compares equal; `phq diff`'s default)
    rtol     relative tolerance, as numpy.isclose
    keys     keys (str or bytes) to compare rows by, for tables whose MPHs differ
    tables   restrict the comparison to these tables (header, metadata, tensors and other
             sections are then not compared); a name in neither file is a UsageError
    strict   count encoding changes as differences too
    max_report  the most items listed per area and per list (counts stay complete; findings
             past max(max_report, 3) per area and class are counted, not built)
    """
    opts = {"atol": _check_tolerance("atol", atol), "rtol": _check_tolerance("rtol", rtol), "strict": bool(strict),
            "tables": None, "keys": None, "max_report": max_report}
    if not isinstance(max_report, int) or isinstance(max_report, bool) or max_report < 0:
        raise UsageError(f"max_report must be an integer >= 0, got {max_report!r}")
    if isinstance(keys, (str, bytes)):
        raise UsageError("keys must be a list of keys, not one string (read a key file with phq.diff.read_keys)")
    if keys is not None:
        keys = list(dict.fromkeys(keys))
        opts["keys"] = len(keys)
    if isinstance(tables, str):
        tables = [tables]
    selected = None if tables is None else list(dict.fromkeys(tables))
    opts["tables"] = selected

    fa = _File(a_path)
    try:
        fb = _File(b_path)
    except BaseException:
        fa.close()
        raise
    try:
        return _diff_files(fa, fb, opts, keys, selected)
    finally:
        fa.close()
        fb.close()


def _diff_files(fa: _File, fb: _File, opts: dict, keys, selected) -> DiffReport:
    ma, mb = fa.model, fb.model
    report = DiffReport(fa.path, fb.path, opts)
    out = _Sink(report)
    renamed = None  # (name in A, name in B): each file's only table, compared with each other
    if selected is None and len(ma.tables) == 1 and len(mb.tables) == 1 and list(ma.tables) != list(mb.tables):
        renamed = (next(iter(ma.tables)), next(iter(mb.tables)))
        fb.rename_table(renamed[1], renamed[0])
    if selected is not None:
        missing = [n for n in selected if n not in ma.tables and n not in mb.tables]
        if missing:
            raise UsageError(f"no table {missing[0]!r} in either file (A has {list(ma.tables)}, B has {list(mb.tables)})")
    whole = selected is None
    if whole:  # header
        ha, hb = ma.header, mb.header
        va, vb = f"{ha.major}.{ha.minor}", f"{hb.major}.{hb.minor}"
        if va != vb:
            out.append(Finding("header", None, "format_version", "changed", "encoding", va, vb))
        for fld in ("required_features", "optional_features"):
            x, y = int(getattr(ha, fld)), int(getattr(hb, fld))
            if x != y:
                detail = {"only_a_bits": [i for i in range(64) if (x & ~y) >> i & 1], "only_b_bits": [i for i in range(64) if (y & ~x) >> i & 1]}
                out.append(Finding("header", None, fld, "changed", "encoding", f"0x{x:x}", f"0x{y:x}", detail))
        if ha.file_size != hb.file_size:
            out.append(Finding("header", None, "file_size", "changed", "encoding", int(ha.file_size), int(hb.file_size)))

    # sections
    def wanted(f: _File, key) -> bool:
        return whole or f.table_of[key] in selected

    keys_a = [k for k in fa.sections if wanted(fa, k)]
    in_a = set(keys_a)
    identical = set()  # keys of the sections byte-identical in both files
    for key in keys_a + [k for k in fb.sections if k not in in_a and wanted(fb, k)]:
        sa, sb = fa.sections.get(key), fb.sections.get(key)
        if sa is None or sb is None:
            change = "added" if sa is None else "removed"
        elif sa.size != sb.size:
            change = "resized"
        elif not _same_bytes(fa, sa, fb, sb):
            change = "changed"
        else:
            identical.add(key)
            continue
        cls = "encoding" if key[0] in L.SECTION_NAMES else "data"  # an unknown kind is compared only here
        if not out.room("section", cls):  # past max_report: counted, not built
            out.count("section", cls)
            continue
        info = lambda s: None if s is None else {"index": s.index, "size": s.size, "crc32c": f"{s.checksum:08x}", "ancillary": s.ancillary}  # noqa: E731
        detail = {"kind": L.SECTION_NAMES.get(key[0], f"UNKNOWN_0x{key[0]:04x}"), "kind_id": key[0], "name": key[1] or None}
        out.append(Finding("section", _section_label(key), "section", change, cls, info(sa), info(sb), detail))

    if whole:
        _diff_metadata(ma, mb, out)
        for name in list(ma.tensors) + [n for n in mb.tensors if n not in ma.tensors]:
            ta, tb = ma.tensors.get(name), mb.tensors.get(name)
            if ta is None or tb is None:
                change = "added" if ta is None else "removed"
                out.append(Finding("tensor", name, "tensor", change, "data", None if ta is None else _tensor_info(ta),
                                   None if tb is None else _tensor_info(tb)))
                report.tensors[name] = {"status": change, "a": None if ta is None else _tensor_info(ta),
                                        "b": None if tb is None else _tensor_info(tb), "values": None}
            elif (L.KIND_TENSOR, name, 0) in identical:  # same bytes: same values, nothing to read
                report.tensors[name] = {"status": "same", "a": _tensor_info(ta), "b": _tensor_info(tb), "values": {
                    "compared": int(ta.size), "values_differ": 0, "max_abs": 0.0, "max_rel": 0.0}}
            else:
                report.tensors[name] = _diff_tensor(name, ta, tb, opts, out)

    names = selected if selected is not None else list(ma.tables) + [n for n in mb.tables if n not in ma.tables]
    if renamed is not None:
        names = [renamed[0]]
        out.append(Finding("table", renamed[0], "name", "changed", "encoding", renamed[0], renamed[1]))
    for name in names:
        ta, tb = ma.tables.get(name), mb.tables.get(name)
        if ta is None or tb is None:
            change = "added" if ta is None else "removed"
            pa, pb = (None if ta is None else _params(ta)), (None if tb is None else _params(tb))
            out.append(Finding("table", name, "table", change, "data", pa, pb))
            report.tables[name] = {"status": change, "a": pa, "b": pb, "rows": None}
        else:
            report.tables[name] = _diff_table(name, fa, fb, opts, keys, out)
    return report
