"""Worst-case structural work (issue 15, items 5 and 6): time and peak RSS of open / validate /
inspect / diff / lookup on valid files shaped to make a reader work hard.

    .venv/bin/python bench/bench_worst.py                 # build (cached in bench/out/worst/) and measure all
    .venv/bin/python bench/bench_worst.py --only sections partitions --repeats 3
    .venv/bin/python bench/bench_worst.py --out /tmp/w.json

Cases (tests/worst_cases.py builds them): `sections` 65,536 sections; `partitions` 2^20 MPH
partitions holding 1,000 keys; `empty_json` 16 MiB of metadata made of ~5.6M empty JSON containers
(diffed against itself, and against a copy whose last container differs); `members_json` 16 MiB of
metadata, one object of ~1.3M members (the duplicate-name check); `array_json`
16 MiB of metadata, one array of ~8.4M numbers (diffed against the same array of other
numbers); `big_sparse` a ~97 MB sparse table; `wide_sparse` ~100k keys of dim 2^24 with no
stored values (diffed against its f16 copy: the rows are compared slot by slot; and
against a copy with another seed, per key for all its keys), and the CLI looking up one
absent and one present key in it (default options: refused, as its row prints 2^24
values; `--sparse`; `--max-values 0`: the whole row printed).

Operations named `*_pure` run with PHQ_PURE=1 (no accelerator: the pure Python META check);
`inspect` is `phq inspect --json` (describe + json_text), `inspect_text` the text summary.

Each (case, operation) runs in a fresh subprocess: wall time (and CPU time, `cpu_seconds`,
less sensitive to other load on the machine) of the operation alone and the
process's peak RSS (VmHWM, which includes the interpreter, numpy and the pages of the mapped
file that were read: `base_rss_mib` is that of the process after importing phq). The
budget of issue 15: about 1 s per 10 MB of file, memory within a small multiple of the file.
Times depend on the load of the machine: compare runs made under the same load. Results: flat keys `CASE.OP.seconds`,
`CASE.OP.peak_rss_mib`, `CASE.file_mib` in bench/results/worst.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests"))


def build(cache: Path, case: str) -> list[Path]:
    import numpy as np

    import worst_cases as W

    cache.mkdir(parents=True, exist_ok=True)
    paths = {
        "sections": [cache / "sections.phq"],
        "partitions": [cache / "partitions.phq"],
        "empty_json": [cache / "empty_json.phq", cache / "empty_json_b.phq"],
        "members_json": [cache / "members_json.phq"],
        "array_json": [cache / "array_json_a.phq", cache / "array_json_b.phq"],
        "big_sparse": [cache / "big_sparse.phq"],
        "wide_sparse": [cache / "wide_a.phq", cache / "wide_b.phq", cache / "wide_c.phq", cache / "wide_keys.txt"],
    }[case]
    if all(p.exists() for p in paths):
        return paths
    n_wide = 100_000
    if case == "sections":
        W.many_sections(paths[0])
    elif case == "partitions":
        W.many_partitions(paths[0], n=1000)
    elif case == "empty_json":
        W.empty_containers(paths[0])
        W.empty_containers(paths[1], last="[0]")
    elif case == "members_json":
        W.many_members(paths[0])
    elif case == "array_json":
        W.big_array(paths[0], value=0)
        W.big_array(paths[1], value=1)
    elif case == "big_sparse":
        W.big_sparse(paths[0])
    elif case == "wide_sparse":
        W.wide_sparse(paths[0], n_wide)
        W.wide_sparse(paths[1], n_wide, quant="f16")  # same MPH: rows compared slot by slot
        W.wide_sparse(paths[2], n_wide, seed=1)  # another MPH: rows compared per key
        paths[3].write_text("".join(f"k{i}\n" for i in range(n_wide)))
    del np
    return paths


OPS = {
    "sections": ["open", "validate", "inspect", "diff_self"],
    "partitions": ["open", "validate", "inspect", "diff_self"],
    "empty_json": ["open", "open_pure", "validate", "validate_pure", "inspect_text", "inspect_text_pure", "inspect",
                   "diff_self", "diff_ab", "diff_ab_pure"],
    "members_json": ["validate", "validate_pure", "inspect_text", "diff_self"],
    "array_json": ["validate", "diff_ab"],
    "big_sparse": ["open", "validate", "inspect", "diff_self"],
    "wide_sparse": ["validate", "diff_ab", "diff_keys", "lookup_cli", "lookup_cli_sparse", "lookup_cli_all"],
}


def _hwm_kib() -> int:
    """Peak RSS of this process image (VmHWM; unlike ru_maxrss it does not carry the peak of
    the parent that forked it over exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def worker(op: str, paths: list[str]) -> dict:
    """Run one operation in this process; return its time and the process peak RSS."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    import phq
    import phq.diff
    from phq.cli import main
    from phq.inspect import describe
    from phq.output import json_text

    op = op.removesuffix("_pure")
    base = _hwm_kib()
    t0 = time.perf_counter()
    c0 = time.process_time()
    info: dict = {}
    if op == "open":
        phq.open(paths[0]).close()
    elif op == "validate":
        phq.validate(paths[0]).close()
    elif op == "inspect":
        with phq.open(paths[0]) as m:
            info["json_bytes"] = len(json_text(describe(m), indent=2))
    elif op == "inspect_text":
        out = io.StringIO()
        with redirect_stdout(out):
            info["exit"] = main(["inspect", paths[0]])
        info["output_bytes"] = len(out.getvalue())
    elif op == "diff_self":
        info["same"] = phq.diff.diff(paths[0], paths[0]).same
    elif op == "diff_ab":
        r = phq.diff.diff(paths[0], paths[1]).to_dict()
        info["counts_data"] = r["counts"]["data"]
    elif op == "diff_keys":
        keys = phq.diff.read_keys(paths[3])
        r = phq.diff.diff(paths[0], paths[2], keys=keys).to_dict()
        info["rows_compared"] = r["tables"]["t"]["rows"]["rows_compared"]
    elif op.startswith("lookup_cli"):  # one absent and one present key; the row has 2^24 values
        extra = {"lookup_cli": [], "lookup_cli_sparse": ["--sparse"], "lookup_cli_all": ["--max-values", "0"]}[op]
        out = io.StringIO()
        with redirect_stdout(out), redirect_stderr(io.StringIO()):
            info["exit"] = main(["lookup", paths[0], "absent-key", "k1", *extra])
        info["output_bytes"] = len(out.getvalue())
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    peak = _hwm_kib()
    return {"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "peak_rss_mib": round(peak / 1024, 1), "base_rss_mib": round(base / 1024, 1), **info}


def run(case: str, op: str, paths: list[Path], timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--worker", op, *map(str, paths)]
    env = dict(os.environ)
    env.pop("PHQ_PURE", None)
    if op.endswith("_pure"):
        env["PHQ_PURE"] = "1"
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"seconds": None, "error": f"timeout after {timeout} s"}
    if r.returncode:
        return {"seconds": None, "error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}"}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--only", nargs="+", choices=list(OPS), help="cases to run (default all)")
    ap.add_argument("--cache", type=Path, default=BENCH / "out" / "worst")
    ap.add_argument("--out", type=Path, default=BENCH / "results" / "worst.json")
    ap.add_argument("--repeats", type=int, default=1, help="runs per operation; the fastest is kept")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker[0], a.worker[1:])))
        return 0
    results: dict = {}
    for case in a.only or list(OPS):
        paths = build(a.cache, case)
        results[f"{case}.file_mib"] = round(paths[0].stat().st_size / 2**20, 2)
        for op in OPS[case]:
            best = None
            for _ in range(a.repeats):
                r = run(case, op, paths, a.timeout)
                if best is None or (r.get("seconds") is not None and (best.get("seconds") is None or r["seconds"] < best["seconds"])):
                    best = r
            for k, v in best.items():
                results[f"{case}.{op}.{k}"] = v
            print(f"{case:12} {op:10} " + " ".join(f"{k}={v}" for k, v in best.items()), flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
