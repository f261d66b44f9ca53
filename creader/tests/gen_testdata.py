"""Generate phq files with the Python writer for the C reader's unit tests.

    python gen_testdata.py OUTDIR

For every file NAME.phq it writes NAME.keys: one line per probe key,
`TABLE_HEX KEY_HEX SLOT RAW_HEX DEQ_HEX` for a key of the table (expected values from the
Python reader's public API: Table.slot/raw/get), or `TABLE_HEX KEY_HEX absent` for a key
the Python reader reports absent. The empty key is written `-`. Deterministic.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np

import phq
import phq.writer


def hx(b: bytes) -> str:
    return b.hex() if b else "-"


def rows_for(rng: random.Random, n: int, dim: int, sparsity: float) -> list[list[float]]:
    out = []
    for _ in range(n):
        row = []
        for _ in range(dim):
            if rng.random() < sparsity:
                row.append(0.0)
            else:
                row.append(round(rng.uniform(-3.0, 3.0), 4) * (10.0 if rng.random() < 0.05 else 1.0))
        out.append(row)
    return out


def make(outdir: Path, name: str, tables: dict, probes_absent: int = 30, **opts) -> None:
    path = outdir / f"{name}.phq"
    phq.writer.write(path, tables, **opts)
    rng = random.Random(name)
    lines = []
    with phq.open(path) as m:
        for tname, spec in tables.items():
            t = m.tables[tname]
            if isinstance(spec, phq.writer.Table):
                spec = spec.keys
            keys = list(spec.keys()) if isinstance(spec, dict) else list(spec[0])
            keys = [k.encode() if isinstance(k, str) else bytes(k) for k in keys]
            rng.shuffle(keys)
            probe = keys[:200]
            probe += [b"absent-%d-%d" % (i, rng.randrange(10**9)) for i in range(probes_absent)]
            for k in probe:
                s = t.slot(k)
                if s < 0:
                    lines.append(f"{tname.encode().hex()} {hx(k)} absent")
                    continue
                raw = np.asarray(t.raw(k)).tobytes()
                deq = np.asarray(t.get(k), dtype="<f4").tobytes()
                lines.append(f"{tname.encode().hex()} {hx(k)} {s} {hx(raw)} {hx(deq)}")
    (outdir / f"{name}.keys").write_text("\n".join(lines) + "\n")


def main() -> None:
    outdir = Path(sys.argv[1])
    outdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1234)

    def table(n: int, dim: int, sparsity: float = 0.0, prefix: str = "k"):
        keys = [f"{prefix}={i}|w+1={rng.randrange(1000)}" for i in range(n)]
        return dict(zip(keys, rows_for(rng, n, dim, sparsity)))

    base = table(300, 5, 0.6)
    for quant in ("f32", "f16", "linear8"):
        scales = ("table", "column", "row-block") if quant == "linear8" else ("column",)
        for scale in scales:
            for layout in ("dense", "sparse"):
                make(outdir, f"{quant}_{scale}_{layout}", {"t": base}, quant=quant, scale=scale,
                     layout=layout, block_rows=7)
    # format 1.1 (spec/format-v1.1.md): 4-bit linear and codebook schemes. Dense tables use
    # 151 x 3 (odd nnz: a pad nibble), sparse ones the base table.
    odd = table(151, 3, 0.5)
    for quant in ("linear4", "codebook4", "codebook8"):
        scales = ("table", "column", "row-block") if quant == "linear4" else ("table", "column")
        for scale in scales:
            for layout in ("dense", "sparse"):
                make(outdir, f"{quant}_{scale}_{layout}", {"t": odd if layout == "dense" else base}, quant=quant,
                     scale=scale, layout=layout, block_rows=7)
    # format 1.2 (spec/format-v1.2.md): the compact sparse layout, every scheme
    for quant, scale in (("f32", "column"), ("f16", "column"), ("linear8", "column"), ("linear8", "row-block"), ("linear4", "table"),
                         ("codebook4", "column"), ("codebook8", "table")):
        make(outdir, f"{quant}_{scale}_compact", {"t": base}, quant=quant, scale=scale, layout="sparse", sparse="compact", block_rows=7)
    make(outdir, "wide_compact", {"t": table(50, 300, 0.97)}, layout="sparse", sparse="compact")
    make(outdir, "partitions7_compact", {"t": table(700, 40, 0.9)}, partitions=7, layout="sparse", sparse="compact")
    make(outdir, "v11_mixed", {"l4": phq.writer.Table(table(40, 1, prefix="l"), quant="linear4", layout="dense"),
                               "c4": phq.writer.Table(table(33, 7, 0.7, prefix="c"), quant="codebook4", layout="sparse"),
                               "c8": phq.writer.Table(table(20, 2, prefix="d"), quant="codebook8", scale="table"),
                               "l8": phq.writer.Table(table(25, 3, prefix="e"), quant="linear8")})
    make(outdir, "linear4_empty", {"t": {}}, quant="linear4")
    make(outdir, "codebook4_dim0", {"t": {f"s{i}": [] for i in range(9)}}, quant="codebook4")
    for fp in (0, 8, 32):
        make(outdir, f"fp{fp}", {"t": table(120, 2)}, fingerprint_bits=fp, probes_absent=5 if fp == 0 else 30)
    make(outdir, "partitions3", {"t": table(2000, 3, 0.3)}, partitions=3)
    make(outdir, "partitions7_sparse", {"t": table(700, 40, 0.9)}, partitions=7, layout="sparse")
    make(outdir, "fallback", {"t": table(500, 2)}, max_levels=1, gamma=1.0)
    make(outdir, "fallback_parts", {"t": table(900, 1)}, max_levels=2, gamma=0.5, partitions=4)
    make(outdir, "nolevels", {"t": table(50, 1)}, max_levels=0)
    make(outdir, "gamma1_big", {"t": table(20000, 1)}, gamma=1.0)
    make(outdir, "empty_table", {"t": {}})
    make(outdir, "one_key", {"t": {"only": [1.5, -2.0]}})
    make(outdir, "dim0", {"t": {f"s{i}": [] for i in range(40)}})
    make(outdir, "wide_sparse", {"t": table(50, 300, 0.97)}, layout="sparse")
    make(outdir, "odd_keys", {"t": {b"": [1.0], b"\xff\xfe\x00": [2.0], "café": [3.0],
                                   "x" * 100: [4.0], b"\x00" * 17: [5.0]}})
    make(outdir, "seeded", {"t": table(100, 2)}, seed=4294967295)
    make(outdir, "multi", {"a": table(30, 2, prefix="a"), "b": table(60, 3, prefix="b"),
                           "ünï": table(10, 1, prefix="u")},
         tensors={"bias": np.arange(6, dtype=np.float32).reshape(2, 3),
                  "i8": np.array([-1, 2, 3], np.int8), "u64": np.array([2**64 - 1], np.uint64),
                  "h": np.array([1.5, -2.0], np.float16), "d": np.array(3.25, np.float64),
                  "empty": np.zeros((0, 4), np.int32)},
         metadata={"labels": ["a", "b", "ç"], "nested": {"x": [1, 2, {"y": None}]}, "n": -1.5e-3})
    make(outdir, "no_tables", {}, tensors={"t": np.array([1.0], np.float32)})
    make(outdir, "many_sections", {f"tab{i:03d}": {f"k{i}": [float(i)]} for i in range(40)},
         tensors={f"t{i:04d}": np.array([i], np.int32) for i in range(700)})
    phq.writer.write(outdir / "empty_model.phq", {})
    (outdir / "empty_model.keys").write_text("")


if __name__ == "__main__":
    main()
