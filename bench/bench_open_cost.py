"""Worst cases of issue 15, item 1: time and peak memory of opening a file and of its first
lookup, on every path, for (a) a valid ~8 MB file whose META is one flat JSON object and
(b) a file of 65 tables with a 1 MB metadata object. Not part of `make bench`.

    .venv/bin/python bench/bench_open_cost.py [--members 600000]

Each measurement runs in a fresh process (peak RSS = ru_maxrss of that process).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

STAGES = {
    "pure open + first lookup": "import os; os.environ['PHQ_PURE']='1'\nimport phq\nm = phq.open(P)\n[m.tables[n].get(b'k1') for n in m.tables]",
    "accelerated open + first lookup of every table": "import phq\nm = phq.open(P)\n[m.tables[n].get(b'k1') for n in m.tables]",
    "validate": "import phq\nphq.validate(P).close()",
    "C phq_open, no workspace (phq._accel.Model)": "import phq, phq._accel as a\nm = phq.open(P)\nimport time\nt0 = time.perf_counter(); a.Model(m._buf); T = time.perf_counter() - t0",
}


def run(path: str, code: str) -> dict:
    prog = (
        "import resource, time, sys\nP = sys.argv[1]\nT = None\nt0 = time.perf_counter()\n" + code +
        "\nwall = time.perf_counter() - t0\nimport json\nprint(json.dumps({'s': T if T is not None else wall, "
        "'peak_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))"
    )
    out = subprocess.run([sys.executable, "-c", prog, path], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import phq.writer

    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=360_000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        meta = {f"member{i:07d}": i for i in range(a.members)}
        one = os.path.join(d, "meta.phq")
        phq.writer.write(one, {"t": ([b"k1", b"k2"], np.ones((2, 3), np.float32))}, metadata=meta)
        many = os.path.join(d, "tables65.phq")
        tables = {f"t{j}": ([f"k{i}".encode() for i in range(50)], np.ones((50, 4), np.float32)) for j in range(65)}
        phq.writer.write(many, tables, metadata={f"m{i:06d}": i for i in range(60_000)})
        for label, path in (("flat META", one), ("65 tables", many)):
            print(f"{label}: {os.path.getsize(path) / 1e6:.1f} MB")
            for stage, code in STAGES.items():
                r = run(path, code)
                print(f"  {stage:50} {r['s']:7.3f} s   peak {r['peak_mib']:6.0f} MiB")


if __name__ == "__main__":
    main()
