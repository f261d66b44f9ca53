"""Like-for-like lookups in C/C++: phq's C reader against BBHash's own C++ (BooPHF.h), and the
accelerated Python reader on the same model.

    .venv/bin/python bench/bench_c_bbhash.py                 # 10^6 and 10^7 keys -> bench/results/c_bbhash.json
    .venv/bin/python bench/bench_c_bbhash.py --n 1000000     # one size
    .venv/bin/python bench/bench_c_bbhash.py --quick         # 20k keys -> bench/out/quick/c_bbhash.json

BooPHF.h comes from the bbhash source distribution on PyPI, fetched at run time into the
cache (bench/out/, git-ignored; `pip download --no-deps --no-binary :all: bbhash==0.6.0`):
no third-party code is committed. phq.c (C99) and bench_c_bbhash.cpp (C++11, includes
BooPHF.h) are compiled with the same flags ($PHQ_BENCH_CFLAGS, default `-O2 -march=native`).
What each peer does and how it is timed: see bench_c_bbhash.cpp and bench/README.md.

The model: one table of n keys (bench/_common.make_key) x 150 columns, linear8 with column
scales, 16-bit fingerprints, gamma 2 (BBHash gets the table's gamma), dense rows. Up to 2M
keys it is written by phq.writer.write (one partition); above, by
phq.writer.build_partitioned from NPZ shards with one partition per 625k keys (the plain
writer needs ~4 GB per million keys x 150 columns); both cached in bench/out/.

accel: phq.open(model).tables["features"].lookup(keys) in batches of --batch keys (bytes
keys; phq._accel when built), members and non-members, best of --repeats passes, timed in
thread CPU time (time.thread_time_ns) like the C/C++ peers.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

SCRIPT = Path(__file__).resolve()
TABLE = "features"
DIM = 150
BBHASH_VERSION = "0.6.0"
DEFAULT_FLAGS = "-O2 -march=native"
PLAIN_WRITER_MAX = 2_000_000
KEYS_PER_PARTITION = 625_000


# --- BBHash's header, from PyPI --------------------------------------------------------------------
def fetch_bbhash_header(cache: Path) -> tuple[Path | None, str | None]:
    """The directory holding BooPHF.h from bbhash==0.6.0's sdist (downloaded once into the cache)."""
    root = cache / f"bbhash-{BBHASH_VERSION}-sdist"
    hdr = root / "BooPHF.h"
    if hdr.exists():
        return root, None
    root.mkdir(parents=True, exist_ok=True)
    p = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
                        "--no-binary", ":all:", f"bbhash=={BBHASH_VERSION}", "-d", str(root)], capture_output=True, text=True)
    tars = sorted(root.glob(f"bbhash-{BBHASH_VERSION}.tar.gz"))
    if p.returncode != 0 or not tars:
        return None, f"pip download of the bbhash {BBHASH_VERSION} sdist failed: {(p.stderr or p.stdout)[-500:]}"
    with tarfile.open(tars[0]) as tf:
        member = next((m for m in tf.getmembers() if m.name.endswith("/src/BooPHF.h") and m.isfile()), None)
        if member is None:
            return None, f"the bbhash {BBHASH_VERSION} sdist holds no src/BooPHF.h"
        data = tf.extractfile(member).read()
    if b"class mphf" not in data:
        return None, "BooPHF.h of the sdist has no mphf class"
    tmp = hdr.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, hdr)
    return root, None


def build_exe(cache: Path) -> tuple[Path | None, str, str | None]:
    flags = os.environ.get("PHQ_BENCH_CFLAGS", DEFAULT_FLAGS)
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not cc or not cxx:
        return None, flags, "no C and C++ compilers (gcc/g++) found"
    hdr, reason = fetch_bbhash_header(cache)
    if hdr is None:
        return None, flags, reason
    out = cache / "c_bbhash"
    out.mkdir(parents=True, exist_ok=True)
    obj, exe = out / "phq.o", out / "bench_c_bbhash"
    fl = flags.split()
    for cmd in ([cc, "-std=c99", *fl, "-c", str(C.REPO / "creader" / "phq.c"), "-o", str(obj)],
                [cxx, "-std=c++11", *fl, f"-I{hdr}", str(C.BENCH_DIR / "bench_c_bbhash.cpp"), str(obj), "-o", str(exe),
                 "-lpthread"]):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            return None, flags, f"compiling failed: {' '.join(cmd)}: {p.stderr[-1500:]}"
    return exe, flags, None


# --- the model ----------------------------------------------------------------------------------------
def model_path(cache: Path, n: int) -> Path:
    return cache / f"c_bbhash_{n}x{DIM}.phq"


def ensure_model(cache: Path, n: int, log=print) -> Path:
    path = model_path(cache, n)
    if path.exists():
        return path
    import numpy as np

    import phq.writer

    keys = C.load_keys(C.keys_file(cache, n), n)
    rng = np.random.default_rng(0)
    opts = dict(quant="linear8", scale="column", gamma=2.0, fingerprint_bits=16, layout="dense")
    t0 = time.perf_counter()
    tmp = path.with_suffix(".phq.part")
    if n <= PLAIN_WRITER_MAX:
        rows = rng.standard_normal((n, DIM), dtype=np.float32)
        phq.writer.write(tmp, {TABLE: (keys, rows)}, **opts)
    else:
        shard_dir = cache / f"c_bbhash_{n}_shards"
        shard_dir.mkdir(parents=True, exist_ok=True)
        shards, step = [], 500_000
        for s in range(0, n, step):
            sp = shard_dir / f"{s // step:04d}.npz"
            w = rng.standard_normal((min(n, s + step) - s, DIM), dtype=np.float32)
            np.savez(sp, keys=np.array(keys[s:s + step], dtype="S"), weights=w)
            shards.append(str(sp))
        del keys
        phq.writer.build_partitioned(shards, tmp, partitions=math.ceil(n / KEYS_PER_PARTITION), **opts)
        shutil.rmtree(shard_dir, ignore_errors=True)
    os.replace(tmp, path)
    log(f"[c_bbhash] built {path.name} in {time.perf_counter() - t0:.1f} s")
    return path


# --- the accelerated Python reader ------------------------------------------------------------------
def worker_accel(a) -> dict:
    import phq

    keys = C.load_keys(Path(a.keys), a.n)
    non = [k + b"/x" for k in keys]
    res = {"accelerated": None}
    with phq.open(a.model) as m:
        t = m.tables[TABLE]
        res["accelerated"] = bool(t.accelerated)
        for name, ks in (("member", keys), ("nonmember", non)):
            best, found = None, 0
            for _ in range(a.repeats):
                found = 0
                t0 = time.thread_time_ns()  # CPU time, as the C/C++ peers (a shared machine)
                for i in range(0, a.n, a.batch):
                    _, f = t.lookup(ks[i:i + a.batch])
                    found += int(f.sum())
                dt = (time.thread_time_ns() - t0) / a.n
                best = dt if best is None else min(best, dt)
            res[name] = {"mean": best, "found": found}
    return res


def accel_status() -> bool:
    try:
        import phq._accel  # noqa: F401
    except Exception:
        return False
    return os.environ.get("PHQ_PURE") != "1"


# --- one run ------------------------------------------------------------------------------------------
def run_c_bbhash(ns: list[int], repeats: int, batch: int, cache: Path, accel: bool = True, log=print) -> dict:
    res: dict = {"benchmark": "c_bbhash", "ns": ns, "dim": DIM, "repeats": repeats, "batch": batch,
                 "bbhash_version": BBHASH_VERSION, "points": {}}
    exe, flags, reason = build_exe(cache)
    res["cflags"] = flags
    res["c_bbhash_available"] = exe is not None
    res["c_bbhash_reason"] = reason
    res["accel_available"] = accel and accel_status()
    for n in ns:
        keys = C.keys_file(cache, n)
        model = ensure_model(cache, n, log=log)
        pt: dict = {"n": n, "model_bytes": model.stat().st_size, "load_average": os.getloadavg()[0]}
        if exe is not None:
            p = subprocess.run([str(exe), str(model), str(keys), TABLE, str(repeats), str(batch)], capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit(f"bench_c_bbhash failed ({p.returncode}): {p.stderr[-3000:]}")
            # BBHash prints its own statistics on stdout: the result is the last JSON line
            pt["c"] = json.loads([ln for ln in p.stdout.splitlines() if ln.startswith("{")][-1])
        if res["accel_available"]:
            pt["accel"] = C.run_worker(SCRIPT, ["accel", "--model", str(model), "--keys", str(keys), "--n", str(n),
                                                "--repeats", str(repeats), "--batch", str(batch)])
        pt["load_average_after"] = os.getloadavg()[0]
        res["points"][str(n)] = pt
        log(f"[c_bbhash] n = {n:,} done")
    return res


def flat(res: dict) -> dict:
    """Flat keys: per n and figure, plus the headline ones at the largest n measured."""
    s: dict = {"c_bbhash_available": res["c_bbhash_available"], "c_bbhash_reason": res["c_bbhash_reason"],
               "c_bbhash_cflags": res["cflags"], "c_bbhash_batch": res["batch"], "c_bbhash_ns": res["ns"]}
    for n, pt in res["points"].items():
        c = pt.get("c")
        if c:
            for fig in ("phq_slot", "phq_slot_single", "bbhash_slot", "phq_row", "phq_row_single", "bbhash_row"):
                for who in ("member", "nonmember"):
                    for stat in ("mean", "p50", "p99"):
                        s[f"c_bbhash_n{n}_{fig}_{who}_{stat}_ns"] = c[fig][who][stat]
            s[f"c_bbhash_n{n}_sanity_ok"] = bool(
                c["sanity"]["slot_permutation_ok"] and c["sanity"]["row_batches_differing"] == 0
                and c["sanity"]["phq_members_found"] == c["n"] and c["sanity"]["bbhash_members_found"] == c["n"])
            s[f"c_bbhash_n{n}_partitions"] = c["partitions"]
            s[f"c_bbhash_n{n}_bbhash_bits_per_key"] = c["bbhash_bits_per_key"]
        s[f"c_bbhash_n{n}_load_average"] = pt["load_average"]
        a = pt.get("accel")
        if a:
            s[f"accel_n{n}_row_member_ns"] = a["member"]["mean"]
            s[f"accel_n{n}_row_nonmember_ns"] = a["nonmember"]["mean"]
    big = str(max(int(n) for n in res["points"])) if res["points"] else None
    c = res["points"][big].get("c") if big else None
    a = res["points"][big].get("accel") if big else None
    s["c_bbhash_headline_n"] = int(big) if big else None
    s["c_slot_ns"] = c["phq_slot"]["member"]["mean"] if c else None
    s["c_row_ns"] = c["phq_row"]["member"]["mean"] if c else None
    s["bbhash_slot_ns"] = c["bbhash_slot"]["member"]["mean"] if c else None
    s["bbhash_row_ns"] = c["bbhash_row"]["member"]["mean"] if c else None
    s["c_slot_vs_bbhash"] = C.ratio(s["bbhash_slot_ns"], s["c_slot_ns"])
    s["c_row_vs_bbhash"] = C.ratio(s["bbhash_row_ns"], s["c_row_ns"])
    s["c_slot_nonmember_vs_bbhash"] = C.ratio(c and c["bbhash_slot"]["nonmember"]["mean"], c and c["phq_slot"]["nonmember"]["mean"])
    s["c_row_nonmember_vs_bbhash"] = C.ratio(c and c["bbhash_row"]["nonmember"]["mean"], c and c["phq_row"]["nonmember"]["mean"])
    s["accel_row_ns"] = a["member"]["mean"] if a else None
    s["accel_row_nonmember_ns"] = a["nonmember"]["mean"] if a else None
    return s


def format_table(res: dict) -> str:
    out = [f"c_bbhash: {DIM} linear8 columns, column scales, 16-bit fingerprints, gamma 2; flags {res['cflags']}; "
           f"ns/key (mean / p50 / p99 of per-{res['batch']}-key batches); member | non-member"]
    if not res["c_bbhash_available"]:
        out.append(f"  C/C++: skipped ({res['c_bbhash_reason']})")
    for n, pt in res["points"].items():
        out.append(f"  n = {int(n):,} (load average {pt['load_average']:.1f} -> {pt['load_average_after']:.1f})")
        c = pt.get("c")
        if c:
            for fig, label in (("phq_slot", "phq batched  hash -> slot"), ("phq_slot_single", "phq single   hash -> slot"),
                               ("bbhash_slot", "BBHash       hash -> slot"), ("phq_row", "phq batched  str -> row"),
                               ("phq_row_single", "phq single   str -> row"), ("bbhash_row", "BBHash       str -> row")):
                m, x = c[fig]["member"], c[fig]["nonmember"]
                out.append(f"    {label}  {m['mean']:8.1f} {m['p50']:8.1f} {m['p99']:8.1f} | "
                           f"{x['mean']:8.1f} {x['p50']:8.1f} {x['p99']:8.1f}")
        a = pt.get("accel")
        if a:
            out.append(f"    phq accel (Python) str -> row {a['member']['mean']:8.1f} | {a['nonmember']['mean']:8.1f}")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", choices=["accel"], help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--keys", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, nargs="+", help="key counts (default 10^6 10^7; 20,000 with --quick)")
    ap.add_argument("--repeats", type=int, default=None, help="passes over all keys; the best counts (default 3; 1 with --quick)")
    ap.add_argument("--batch", type=int, default=4096, help="keys per batched call and per timed batch (default 4096)")
    ap.add_argument("--quick", action="store_true", help="20k keys, results to bench/out/quick/ only")
    ap.add_argument("--cache", type=Path, default=C.DEFAULT_CACHE, help="keys, models, BooPHF.h (default bench/out)")
    ap.add_argument("--no-accel", action="store_true", help="skip the Python reader")
    ap.add_argument("--out", type=Path, help="result JSON (default bench/results/c_bbhash.json)")
    a = ap.parse_args()
    if a.worker:
        a.n = a.n[0]
        C.write_result(a.result, worker_accel(a))
        return 0
    ns = a.n or ([20_000] if a.quick else [1_000_000, 10_000_000])
    repeats = a.repeats or (1 if a.quick else 3)
    res = run_c_bbhash(ns, repeats, a.batch, a.cache, not a.no_accel)
    res["flat"] = flat(res)
    res["machine"], res["command"] = C.machine_info(), C.command_line()
    out = a.out or ((C.QUICK_RESULTS if a.quick else C.DEFAULT_RESULTS) / "c_bbhash.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(format_table(res))
    print(f"  -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
