"""`phq spec diff A B`: what changed between two format versions, and is it compatible?

Compares the machine-readable declarations of two versions (`phq.layout.VERSIONS`: the
construct structures, enums, section kinds, feature bits, error codes and limits) and
classifies every change by the named rules of spec/format-v1.1.md §6, in the manner of
`buf breaking`. A change is compatible when readers of the older version read every
newer file correctly or refuse it with a documented code before misreading it, and
readers of the newer version read every older file.

JSON (`--json`): {"from": "1.0", "to": "1.1", "compatible": bool,
"changes": [{"rule", "compatible", "what", "detail", "gate"}...]}.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from . import layout as L
from .errors import UsageError


@dataclass
class Change:
    rule: str  # a rule name of spec/format-v1.1.md §6
    compatible: bool
    what: str  # e.g. "enum quant = 3 (linear4)"
    detail: str
    gate: str | None = None  # the required feature bit that gates it, if any


def parse_version(text: str) -> tuple[int, int]:
    try:
        major, minor = (int(x) for x in str(text).split("."))
    except ValueError:
        raise UsageError(f"a format version looks like 1.0, got {text!r}") from None
    if (major, minor) not in L.VERSIONS:
        known = ", ".join(f"{a}.{b}" for a, b in sorted(L.VERSIONS))
        raise UsageError(f"format version {text} is not declared (known: {known})")
    return major, minor


def _fields(struct) -> dict[str, tuple[int, int, str]]:
    """name -> (offset, size, type name) of a construct Struct."""
    out, pos = {}, 0
    for sub in struct.subcons:
        size = sub.sizeof()
        out[sub.name] = (pos, size, type(sub.subcon).__name__ + ":" + repr(getattr(sub.subcon, "fmtstr", size)))
        pos += size
    return out


def _structs(a: dict, b: dict, gates: dict | None = None) -> list[Change]:
    gates = gates or {}
    out = []
    for name in sorted(set(a) | set(b)):
        if name not in b:
            out.append(Change("STRUCT_REMOVED", False, f"struct {name}", "no longer declared"))
            continue
        if name not in a:
            out.append(Change("STRUCT_ADDED", True, f"struct {name}", f"{b[name].sizeof()} bytes"))
            continue
        fa, fb = _fields(a[name]), _fields(b[name])
        if a[name].sizeof() != b[name].sizeof():
            out.append(Change("STRUCT_SIZE_CHANGED", False, f"struct {name}", f"{a[name].sizeof()} -> {b[name].sizeof()} bytes"))
        by_place_a = {(o, s): n for n, (o, s, _) in fa.items()}
        covered = set()  # new fields that take the bytes of a reserved field of the old version
        for field, (off, size, typ) in fa.items():
            if field in fb:
                off2, size2, typ2 = fb[field]
                if (off2, size2) != (off, size):
                    out.append(Change("FIELD_MOVED", False, f"{name}.{field}", f"offset {off} size {size} -> offset {off2} size {size2}"))
                elif typ2 != typ:
                    out.append(Change("FIELD_TYPE_CHANGED", False, f"{name}.{field}", f"{typ} -> {typ2}"))
                continue
            # the new fields (absent from the old version) that tile exactly the old field's bytes
            tile = sorted((o, n) for n, (o, s, _) in fb.items() if n not in fa and off <= o and o + s <= off + size)
            tiled = bool(tile) and sum(fb[n][1] for _, n in tile) == size
            if not tiled:
                out.append(Change("FIELD_REMOVED", False, f"{name}.{field}", f"offset {off}"))
                continue
            names = [n for _, n in tile]
            covered.update(names)
            if field.startswith("reserved"):
                gate = {gates.get(("field", name, n)) for n in names}
                gated = None not in gate and len(gate) == 1
                detail = f"reserved field at offset {off} now means {', '.join(repr(n) for n in names)}" + (
                    f", only in files that set {next(iter(gate))}" if gated else ", not gated by a required feature bit")
                out.append(Change("RESERVED_FIELD_USED", gated, f"{name}.{'+'.join(names)}", detail, next(iter(gate)) if gated else None))
            elif len(names) == 1:
                out.append(Change("FIELD_RENAMED", True, f"{name}.{field}", f"now {names[0]!r} (same bytes)"))
            else:
                out.append(Change("FIELD_REMOVED", False, f"{name}.{field}", f"offset {off}: split into {names}"))
        for field, (off, size, _) in fb.items():
            if field not in fa and field not in covered and (off, size) not in by_place_a:
                out.append(Change("STRUCT_SIZE_CHANGED", False, f"{name}.{field}", f"new field at offset {off}"))
    return out


def diff_versions(old: tuple[int, int], new: tuple[int, int]) -> list[Change]:
    a, b = L.VERSIONS[old], L.VERSIONS[new]
    gates = b["gates"]
    out: list[Change] = []
    if old[0] != new[0]:
        out.append(Change("MAJOR_CHANGED", False, "major", f"{old[0]} -> {new[0]}"))
    out += _structs(a["structs"], b["structs"], gates)
    for enum in sorted(set(a["enums"]) | set(b["enums"])):
        ea, eb = a["enums"].get(enum, {}), b["enums"].get(enum, {})
        for value in sorted(set(ea) | set(eb)):
            what = f"enum {enum} = {value}"
            if value not in eb:
                out.append(Change("ENUM_VALUE_REMOVED", False, what, f"was {ea[value]!r}"))
            elif value not in ea:
                gate = gates.get(("enum", enum, value))
                detail = f"{eb[value]!r}" + (f", only in files that set {gate}" if gate else ", not gated by a required feature bit")
                out.append(Change("ENUM_VALUE_ADDED", gate is not None, f"{what} ({eb[value]})", detail, gate))
            elif ea[value] != eb[value]:
                out.append(Change("ENUM_VALUE_CHANGED", False, what, f"{ea[value]!r} -> {eb[value]!r}"))
    ka, kb = a["section_kinds"], b["section_kinds"]
    for kind in sorted(set(ka) | set(kb)):
        what = f"section kind 0x{kind:04X}"
        if kind not in kb:
            out.append(Change("SECTION_KIND_REMOVED", False, f"{what} ({ka[kind]['name']})", "no longer defined"))
        elif kind not in ka:
            gate = gates.get(("section_kind", None, kind))
            critical = kb[kind]["critical"]
            ok = not critical or gate is not None
            why = "ancillary: old readers skip it" if not critical else (f"critical, only in files that set {gate}" if gate else "critical and not gated: old readers refuse valid files")
            out.append(Change("SECTION_KIND_ADDED", ok, f"{what} ({kb[kind]['name']})", why, gate))
    for word in ("required_features", "optional_features"):
        fa, fb = a[word], b[word]
        for bit in sorted(set(fa) | set(fb)):
            what = f"{word} bit {bit}"
            if bit not in fb:
                out.append(Change("FEATURE_BIT_REMOVED", False, what, f"was {fa[bit]}"))
            elif bit not in fa:
                how = "old readers refuse files that set it (E_FEATURE)" if word == "required_features" else "old readers ignore it"
                out.append(Change("FEATURE_BIT_ADDED", True, f"{what} ({fb[bit]})", how))
            elif fa[bit] != fb[bit]:
                out.append(Change("FEATURE_BIT_CHANGED", False, what, f"{fa[bit]} -> {fb[bit]}"))
    codes_a, codes_b = a["error_codes"], b["error_codes"]
    for code in codes_a:
        if code not in codes_b:
            out.append(Change("ERROR_CODE_REMOVED", False, f"error code {code}", "codes are stable names"))
    for code in codes_b:
        if code not in codes_a:
            out.append(Change("ERROR_CODE_ADDED", True, f"error code {code}", "new name"))
    for name in sorted(set(a["limits"]) | set(b["limits"])):
        la, lb = a["limits"].get(name), b["limits"].get(name)
        if la == lb:
            continue
        if la is None or lb is None:
            out.append(Change("LIMIT_LOWERED" if lb is None else "LIMIT_RAISED", False, f"limit {name}", f"{la} -> {lb}"))
        elif lb < la:
            out.append(Change("LIMIT_LOWERED", False, f"limit {name}", f"{la} -> {lb}: newer readers refuse valid older files"))
        else:
            out.append(Change("LIMIT_RAISED", False, f"limit {name}", f"{la} -> {lb}: older readers refuse valid newer files"))
    return out


def report(old: tuple[int, int], new: tuple[int, int]) -> dict:
    changes = diff_versions(old, new)
    return {
        "from": f"{old[0]}.{old[1]}",
        "to": f"{new[0]}.{new[1]}",
        "compatible": all(c.compatible for c in changes),
        "changes": [asdict(c) for c in changes],
    }


def text(rep: dict) -> str:
    changes = rep["changes"]
    breaking = [c for c in changes if not c["compatible"]]
    head = (
        f"{rep['from']} -> {rep['to']}: {len(changes)} change(s), "
        + ("all compatible" if not breaking else f"{len(breaking)} BREAKING")
    )
    lines = [head]
    for c in changes:
        mark = "compatible" if c["compatible"] else "BREAKING  "
        lines.append(f"  {mark}  {c['rule']:<20} {c['what']}: {c['detail']}")
    return "\n".join(lines) + "\n"


def to_json(rep: dict) -> str:
    return json.dumps(rep, indent=1)
