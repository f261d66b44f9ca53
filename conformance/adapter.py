"""The Python reference adapter of the conformance reader protocol (conformance/README.md).

    python -m phq.conformance.adapter FILE  < probes  > answer
"""

from __future__ import annotations

import sys

import numpy as np

import phq
from phq import layout as L


def parse_probes(text: str) -> list[tuple[bytes, bytes]]:
    probes = []
    for line in text.splitlines():
        if not line.strip():
            continue
        table_hex, key_hex = line.split()
        probes.append((bytes.fromhex(table_hex), b"" if key_hex == "-" else bytes.fromhex(key_hex)))
    return probes


def hexdata(b: bytes) -> str:
    return b.hex() if b else "-"


def dtype_name(dtype: np.dtype) -> str:
    for code, dt in L.TENSOR_DTYPES.items():
        if dt == dtype:
            return L.TENSOR_DTYPE_NAMES[code]
    raise AssertionError(f"unexpected tensor dtype {dtype}")


def answer(path, probes: list[tuple[bytes, bytes]], open_model=phq.validate) -> str:
    """The protocol answer for one file: full validation, then the probes."""
    try:
        model = open_model(path)
    except phq.FormatError as e:
        return f"error {e.code} {e.message}\n"
    try:
        lines = ["ok"]
        meta = [s for s in model.sections if s.kind == L.KIND_META]
        lines.append("meta " + (hexdata(bytes(model._buf[meta[0].offset : meta[0].offset + meta[0].size])) if meta else "-"))
        for name, arr in model.tensors.items():
            shape = ",".join(str(d) for d in arr.shape) or "-"
            lines.append(f"tensor {name.encode().hex()} {dtype_name(arr.dtype)} {shape} {hexdata(arr.tobytes())}")
        for name, t in model.tables.items():
            lines.append(f"table {name.encode().hex()} {t.num_keys} {t.dim} {t.quant}")
        for table_name, key in probes:
            t = model.tables[table_name.decode("utf-8")]
            slot = t.slot(key)
            if slot < 0:
                lines.append("absent")
                continue
            raw = np.ascontiguousarray(t.raw_at(slot)).tobytes()
            deq = np.ascontiguousarray(t.row_at(slot), dtype="<f4").tobytes()
            lines.append(f"found {slot} {hexdata(raw)} {hexdata(deq)}")
        lines.append("end")
        return "\n".join(lines) + "\n"
    except phq.FormatError as e:  # a lookup-time check (§10.3)
        return f"error {e.code} {e.message}\n"
    finally:
        model.close()


def versioned(max_version: tuple[int, int]):
    """An open function reading as a reader of that format version (older readers refuse
    newer features, §3.2: `python -m phq.conformance.adapter --max-version 1.0 FILE`)."""
    return lambda path: phq.validate(path, max_version=max_version)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    opener = phq.validate
    if len(argv) == 3 and argv[0] == "--max-version":
        major, _, minor = argv[1].partition(".")
        opener = versioned((int(major), int(minor or 0)))
        argv = argv[2:]
    if len(argv) != 1:
        print("usage: python -m phq.conformance.adapter [--max-version 1.0] FILE < probes", file=sys.stderr)
        return 2
    sys.stdout.write(answer(argv[0], parse_probes(sys.stdin.read()), opener))
    return 0


if __name__ == "__main__":
    sys.exit(main())
