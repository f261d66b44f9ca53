"""Partitioned builds from sharded Parquet input: wall time and peak memory per process.

    .venv/bin/python bench/bench_partitioned.py              # 50M keys, dim 4 (results/partitioned.json)
    .venv/bin/python bench/bench_partitioned.py --quick      # 200k keys (bench/out/quick/partitioned.json)

Generates `--keys` synthetic feature keys (dim `--dim` float32 weights, half of them zero)
into `--shards` Parquet files under bench/out/ (reused when present), then builds the same
model with each engine and worker count, every build in a fresh driver process. Reports
the driver's wall time and peak RSS (VmHWM) and every worker process's peak RSS (VmHWM
read inside the worker by its last task), and checks that every build wrote the same
bytes (SHA-256). Dask runs use a LocalCluster started before the clock starts (its
start-up time is reported separately).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_CACHE, DEFAULT_RESULTS, QUICK_RESULTS, finish, peak_kib, run_worker, write_result  # noqa: E402

SCRIPT = Path(__file__).resolve()


def generate(data: Path, keys: int, dim: int, shards: int) -> list[Path]:
    """Parquet shards: key `w=<i>|ctx=<i*7919 mod 100003>` (binary), weights fixed_size_list<float32>[dim]."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    marker = data / "params.json"
    params = {"keys": keys, "dim": dim, "shards": shards, "version": 1}
    paths = [data / f"part-{s:05d}.parquet" for s in range(shards)]
    if marker.exists() and json.loads(marker.read_text()) == params and all(p.exists() for p in paths):
        return paths
    data.mkdir(parents=True, exist_ok=True)
    for p in data.glob("part-*.parquet"):
        p.unlink()
    rng = np.random.default_rng(0)
    per = -(-keys // shards)
    for s, path in enumerate(paths):
        lo, hi = s * per, min(keys, (s + 1) * per)
        ids = np.arange(lo, hi, dtype=np.int64)
        k = pc.binary_join_element_wise(
            pa.array(np.full(ids.size, "w="), pa.string()), pc.cast(pa.array(ids), pa.string()),
            pa.array(np.full(ids.size, "|ctx="), pa.string()), pc.cast(pa.array(ids * 7919 % 100003), pa.string()), "")
        w = rng.normal(size=(ids.size, dim)).astype(np.float32)
        w[rng.random((ids.size, dim)) < 0.5] = 0.0
        t = pa.table({"key": k.cast(pa.binary()),
                      "weights": pa.FixedSizeListArray.from_arrays(pa.array(w.reshape(-1), pa.float32()), dim)})
        pq.write_table(t, path, row_group_size=1 << 17)
    marker.write_text(json.dumps(params))
    return paths


def worker(a) -> None:
    """One build in this (fresh) process: the driver."""
    import phq.writer as W

    shards = sorted(Path(a.data).glob("part-*.parquet"))
    out = Path(a.model)
    scheduler, cluster, startup = None, None, 0.0
    if a.engine == "dask":
        import logging

        from distributed import Client, LocalCluster

        t0 = time.perf_counter()
        cluster = LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
        scheduler = Client(cluster)
        startup = time.perf_counter() - t0
    report: dict = {}
    t0 = time.perf_counter()
    size = W.build_partitioned(shards, out, partitions=a.partitions, engine=a.engine,
                               workers=a.workers if a.engine == "processes" else None, scheduler=scheduler,
                               report=report, quant="linear8", scale="column", layout="auto", fingerprint_bits=16)
    seconds = time.perf_counter() - t0
    if cluster is not None:
        scheduler.close()
        cluster.close()
    h = hashlib.sha256()
    with open(out, "rb") as f:
        while chunk := f.read(1 << 24):
            h.update(chunk)
    out.unlink()
    stages: dict[str, float] = {}
    peaks: dict[int, int] = {}
    for t in report["tasks"]:
        stages[t["stage"]] = stages.get(t["stage"], 0.0) + t["seconds"]
        if t["pid"] != os.getpid():
            peaks[t["pid"]] = max(peaks.get(t["pid"], 0), t["peak_rss_kib"] or 0)
    write_result(a.result, {
        "engine": a.engine, "workers": a.workers, "partitions": a.partitions, "seconds": seconds,
        "cluster_startup_seconds": startup, "file_bytes": size, "sha256": h.hexdigest(),
        "driver_peak_rss_mib": peak_kib() / 1024,
        "workers_peak_rss_mib": [peaks[p] / 1024 for p in sorted(peaks)],
        "task_seconds_by_stage": stages, "keys": sum(report["keys"].values()),
    })


def table(res: dict) -> str:
    lines = [f"partitioned build: {res['keys']:,} keys x dim {res['dim']}, {res['shards']} Parquet shards, "
             f"P = {res['partitions']}; identical bytes across runs: {res['identical']}",
             f"{'engine':<10} {'workers':>7} {'seconds':>8} {'driver MiB':>11}  worker peak MiB",
             ]
    for r in res["runs"]:
        w = ", ".join(f"{v:.0f}" for v in r["workers_peak_rss_mib"]) or "(in driver)"
        lines.append(f"{r['engine']:<10} {r['workers']:>7} {r['seconds']:>8.1f} {r['driver_peak_rss_mib']:>11.0f}  {w}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="200k keys, 4 shards, 4 partitions")
    ap.add_argument("--keys", type=int, default=None)
    ap.add_argument("--dim", type=int, default=4)
    ap.add_argument("--shards", type=int, default=None)
    ap.add_argument("--partitions", type=int, default=None)
    ap.add_argument("--runs", default="local:1,processes:1,processes:2,dask:1,dask:2", help="engine:workers,...")
    ap.add_argument("--data", default=None, help="shard directory (default bench/out/partitioned_<keys>)")
    ap.add_argument("--out", default=None, help="results JSON")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a)
        return 0
    keys = a.keys or (200_000 if a.quick else 50_000_000)
    if a.quick and keys > 200_000:
        ap.error("--quick builds at most 200k keys")
    shards = a.shards or (4 if a.quick else 50)
    partitions = a.partitions or (4 if a.quick else 16)
    data = Path(a.data) if a.data else DEFAULT_CACHE / f"partitioned_{keys}"
    out = Path(a.out) if a.out else (QUICK_RESULTS if a.quick else DEFAULT_RESULTS) / "partitioned.json"
    t0 = time.perf_counter()
    paths = generate(data, keys, a.dim, shards)
    gen = time.perf_counter() - t0
    runs = []
    for spec in a.runs.split(","):
        engine, _, w = spec.partition(":")
        load = os.getloadavg()[0]
        r = run_worker(SCRIPT, ["--engine", engine, "--workers", w or "1", "--partitions", str(partitions),
                                "--data", str(data), "--model", str(data / f"model-{engine}-{w}.phq")])
        r["loadavg_1min_before"] = load  # other work on the machine slows the 2-worker runs most
        r["loadavg_1min_after"] = os.getloadavg()[0]
        runs.append(r)
        print(f"  {engine} x{r['workers']}: {r['seconds']:.1f} s", file=sys.stderr, flush=True)
    res = {
        "quick": a.quick, "keys": keys, "dim": a.dim, "shards": shards, "partitions": partitions,
        "input_bytes": sum(p.stat().st_size for p in paths), "generate_seconds": gen,
        "identical": len({r["sha256"] for r in runs}) == 1 and all(r["keys"] == keys for r in runs),
        "runs": runs,
    }
    return finish(res, out, table)


if __name__ == "__main__":
    sys.exit(main())
