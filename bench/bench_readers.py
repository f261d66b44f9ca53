"""Many readers: memory of 8 processes serving lookups from one phq file vs one process.

    .venv/bin/python bench/bench_readers.py                     # 256 MiB model, 1 and 8 readers
    .venv/bin/python bench/bench_readers.py --mb 8 --readers 1 4

The model is bench_open's dense f32 model (`--dim` 128 columns) of `--mb` MiB, stored as
phq, as .npz and as pickle (the same keys and rows; files shared with bench_open). Each
reader is a fresh process that opens its copy, looks up **every key** of the model (so it
has touched every row), reports ready and waits. With all R readers alive, the
orchestrator reads `Pss` (proportional set size: a page shared by k processes counts 1/k in
each) from /proc/PID/smaps_rollup of every reader and sums them: the machine memory the R
readers cost together. A phq file is mapped read-only from the page cache, so R readers
share one copy; a pickle or .npz is loaded into each process's private memory, so R
readers hold R copies.

Also measured: an idle process that imported numpy and phq (`baseline`), so that
"model memory" = total PSS - R x baseline. Ratios:

  readers_pss_ratio_{R}_vs_1_{kind}        total PSS of R readers / of one reader
  readers_model_pss_ratio_{R}_vs_1_{kind}  the same for model memory (near 1: one copy)
  readers_{R}_total_pss_vs_{kind}          kind's total PSS / phq's, R readers (> 1: phq smaller)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
import bench_open  # noqa: E402

SCRIPT = Path(__file__).resolve()
KINDS = ("phq", "npz", "pickle")
CHUNK = 4096


def serve(a) -> int:
    """A reader: open, look every key up, say ready, wait for stdin to close."""
    import numpy as np

    import phq

    n = a.n
    total = 0.0
    if a.kind == "baseline":
        pass
    elif a.kind == "phq":
        t = phq.open(a.path).tables[bench_open.TABLE]
        for i in range(0, n, CHUNK):
            rows, found = t.lookup([C.make_key(j).encode() for j in range(i, min(n, i + CHUNK))])
            total += float(rows[:, 0].sum())
            assert found.all()
    else:
        if a.kind == "npz":
            z = np.load(a.path)
            w = z["w"]
            vocab = {k: i for i, k in enumerate(z["keys"].tolist())}
        else:
            import pickle

            with open(a.path, "rb") as f:
                obj = pickle.load(f)
            w, vocab = obj["w"], obj["vocab"]
        for i in range(0, n, CHUNK):
            rows = w[[vocab[C.make_key(j)] for j in range(i, min(n, i + CHUNK))]]
            total += float(rows[:, 0].sum())
    sys.stdout.write(f"ready {total:.3f}\n")
    sys.stdout.flush()
    sys.stdin.read()  # until the orchestrator closes our stdin
    return 0


def _group(kind: str, path: str, n: int, count: int, timeout: float = 900) -> dict:
    cmd = [sys.executable, str(SCRIPT), "--serve", "--kind", kind, "--path", path, "--n", str(n)]
    procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(count)]
    try:
        t0 = time.perf_counter()
        sums = []
        for p in procs:
            line = p.stdout.readline()
            if not line.startswith("ready"):
                raise RuntimeError(f"reader {kind} failed: {line!r}")
            sums.append(line.split()[1])
        ready_s = time.perf_counter() - t0
        time.sleep(0.2)
        per = [C.pss_kib(p.pid) for p in procs]
    finally:
        for p in procs:
            try:
                p.stdin.close()
            except OSError:
                pass
        for p in procs:
            p.wait(timeout=timeout)
    return {
        "readers": count,
        "total_pss_kib": sum(x.get("Pss", 0) for x in per),
        "total_pss_anon_kib": sum(x.get("Pss_Anon", 0) for x in per),
        "total_pss_file_kib": sum(x.get("Pss_File", 0) for x in per),
        "total_rss_kib": sum(x.get("Rss", 0) for x in per),
        "per_process": per,
        "ready_s": ready_s,
        "checksums_agree": len(set(sums)) == 1,
        "checksum": sums[0] if sums else None,
    }


def run_readers(mb: float, dim: int, readers: list[int], cache: Path, log=print) -> dict:
    n = bench_open.rows_for(mb, dim)
    model = bench_open.ensure_models(n, dim, cache, False, log)
    fmt_ok, fmt_reason = C.package_status("safetensors", "joblib")  # ensure_formats writes them all
    paths = {"phq": model["phq_path"]}
    if fmt_ok:
        f = bench_open.ensure_formats(model, cache, log)
        paths["npz"], paths["pickle"] = f["npz"]["path"], f["pickle"]["path"]
    res: dict = {"num_keys": n, "dim": dim, "model_mib": model["phq_bytes"] / 2**20, "readers": readers,
                 "kinds": list(paths), "peers_available": fmt_ok, "peers_reason": fmt_reason,
                 "smaps_rollup": os.path.exists(f"/proc/{os.getpid()}/smaps_rollup"), "groups": {}, "ratios": {}}
    base = _group("baseline", model["phq_path"], n, 1)
    res["baseline_pss_kib"] = base["total_pss_kib"]
    for kind, path in paths.items():
        for r in readers:
            g = _group(kind, path, n, r)
            g["model_pss_kib"] = g["total_pss_kib"] - r * base["total_pss_kib"]
            res["groups"].setdefault(kind, {})[str(r)] = g
            log(f"[readers] {kind} x{r}: total PSS {g['total_pss_kib'] / 1024:.0f} MiB "
                f"(model {g['model_pss_kib'] / 1024:.0f} MiB), ready in {g['ready_s']:.1f} s")
    one = str(min(readers))
    sums = {g["checksum"] for gs in res["groups"].values() for g in gs.values()}
    res["sanity_ok"] = len(sums) == 1 and all(g["checksums_agree"] for gs in res["groups"].values() for g in gs.values())
    ra = res["ratios"]
    for kind, gs in res["groups"].items():
        for r in readers:
            if str(r) == one:
                continue
            ra[f"readers_pss_ratio_{r}_vs_1_{kind}"] = C.ratio(gs[str(r)]["total_pss_kib"], gs[one]["total_pss_kib"])
            ra[f"readers_model_pss_ratio_{r}_vs_1_{kind}"] = C.ratio(gs[str(r)]["model_pss_kib"], gs[one]["model_pss_kib"])
    for kind in paths:
        if kind == "phq":
            continue
        for r in readers:
            ra[f"readers_{r}_total_pss_vs_{kind}"] = C.ratio(
                res["groups"][kind][str(r)]["total_pss_kib"], res["groups"]["phq"][str(r)]["total_pss_kib"])
    return res


def format_table(res: dict) -> str:
    lines = [f"readers: {res['num_keys']:,} keys x {res['dim']} f32 ({res['model_mib']:.0f} MiB), every key looked up "
             f"by every reader; idle process {res['baseline_pss_kib'] / 1024:.0f} MiB PSS"]
    for kind, gs in res["groups"].items():
        for r, g in gs.items():
            lines.append(f"  {kind:6s} x{r}: total PSS {g['total_pss_kib'] / 1024:8.1f} MiB  "
                         f"(file {g['total_pss_file_kib'] / 1024:7.1f}, anon {g['total_pss_anon_kib'] / 1024:7.1f})  "
                         f"model {g['model_pss_kib'] / 1024:8.1f} MiB")
    for k, v in res["ratios"].items():
        lines.append(f"  {k:42s} {'n/a' if v is None else f'{v:.3f}'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--kind", choices=("baseline", *KINDS), help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--mb", type=float, default=256, help="model payload in MiB (default 256)")
    ap.add_argument("--dim", type=int, default=128, help="f32 columns (default 128)")
    ap.add_argument("--readers", type=int, nargs="+", default=[1, 8], help="reader counts (default 1 8)")
    ap.add_argument("--cache", type=Path, default=C.DEFAULT_CACHE)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    if a.serve:
        return serve(a)
    res = run_readers(a.mb, a.dim, sorted(set(a.readers)), a.cache, log=lambda s: print(s, file=sys.stderr, flush=True))
    return C.finish(res, a.out, format_table)


if __name__ == "__main__":
    sys.exit(main())
