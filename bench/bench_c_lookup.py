"""Lookup speed of the C reader (creader/) against BBHash's `lookup_many`, same keys.

    .venv/bin/python bench/bench_c_lookup.py                 # 10M keys -> bench/results/c_lookup.json
    .venv/bin/python bench/bench_c_lookup.py --quick         # 100k keys -> bench/out/quick/c_lookup.json

What is measured (per key, best of --repeats passes over all n keys, in one process each):

  c key->row    bench/bench_c_lookup.c: key bytes -> MurmurHash3_x64_128 -> MPH levels + rank
                -> fingerprint check -> dequantized float32 row (phq_get_f32), in C
  c batch       the same with phq_get_f32_many (16 keys at a time, overlapping memory
                accesses), 4096 keys per call
  c key->slot   the same without the row
  c hash->slot  from precomputed (h1, h2): what a BBHash lookup of a pre-hashed key does, plus
                phq's fingerprint check; and batched (phq_lookup_hash_many)
  bbhash        bbhash.PyMPHF.lookup_many(list of pre-hashed u64) (PyPI bbhash 0.6.0, C++
                BBHash behind a Python wrapper): keys hashed beforehand, untimed; the result
                is an index only (no fingerprint, no row), and includes the wrapper's list
                conversion, as a Python caller pays it

The model: one table of n keys (bench/_common.make_key), dim 1, linear8, 16-bit
fingerprints, gamma --gamma (default 2, both peers), built once with phq's writer and
cached in bench/out/. Ratios are bbhash ns / C ns (> 1: C faster). bbhash is optional: when
it is not importable its figures are null with the reason. The C program is compiled with
gcc -O2 (or $CC); without a compiler the run is skipped with the reason.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

SCRIPT = Path(__file__).resolve()
TABLE = "features"


def worker_bbhash(a) -> dict:
    import bbhash
    import mmh3

    keys = C.load_keys(Path(a.keys), a.n)
    u = mmh3.mmh3_x64_128_utupledigest
    hs = [u(k, 0)[0] for k in keys]
    del keys
    t0 = time.perf_counter_ns()
    mph = bbhash.PyMPHF(hs, a.n, 1, a.gamma)
    build_s = (time.perf_counter_ns() - t0) / 1e9
    best = None
    for _ in range(a.repeats):
        t0 = time.perf_counter_ns()
        got = mph.lookup_many(hs)
        dt = (time.perf_counter_ns() - t0) / a.n
        best = dt if best is None else min(best, dt)
    ok = len(got) == a.n and len(set(got)) == a.n
    return {"lookup_many_ns": best, "build_s": build_s, "sanity_ok": ok}


def build_c(out_dir: Path) -> tuple[Path | None, str | None]:
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc") or shutil.which("clang")
    if not cc:
        return None, "no C compiler (gcc/cc/clang) found"
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / "bench_c_lookup"
    src = [C.BENCH_DIR / "bench_c_lookup.c", C.REPO / "creader" / "phq.c", C.REPO / "creader" / "phq_posix.c"]
    cmd = [cc, "-std=c99", "-O2", "-o", str(exe), *map(str, src)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return None, f"compiling the C benchmark failed: {p.stderr[-2000:]}"
    return exe, None


def build_model(cache: Path, keys_path: Path, n: int, gamma: float) -> tuple[Path, float | None]:
    path = cache / f"c_lookup_{n}_g{gamma:g}.phq"
    if path.exists():
        return path, None
    import numpy as np

    import phq.writer

    keys = C.load_keys(keys_path, n)
    rows = (np.random.default_rng(0).standard_normal((n, 1)) * 0.5).astype(np.float32)
    t0 = time.perf_counter()
    phq.writer.write(path, {TABLE: (keys, rows)}, quant="linear8", gamma=gamma, fingerprint_bits=16,
                     layout="dense")
    return path, time.perf_counter() - t0


def run_c_lookup(n: int, gamma: float, repeats: int, cache: Path, use_bbhash: bool = True) -> dict:
    a = argparse.Namespace(n=n, gamma=gamma, repeats=repeats, cache=cache, no_bbhash=not use_bbhash)

    result: dict = {"benchmark": "c_lookup", "n": a.n, "gamma": a.gamma, "dim": 1, "quant": "linear8",
                    "fingerprint_bits": 16, "repeats": a.repeats, "command": C.command_line(),
                    "machine": C.machine_info()}
    exe, reason = build_c(a.cache)
    result["c_available"] = exe is not None
    result["c_reason"] = reason
    keys_path = C.keys_file(a.cache, a.n)
    model, write_s = build_model(a.cache, keys_path, a.n, a.gamma)
    result["model_bytes"] = model.stat().st_size
    result["writer_s"] = write_s
    c = None
    if exe is not None:
        p = subprocess.run([str(exe), str(model), str(keys_path), TABLE, str(a.repeats)], capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"C benchmark failed ({p.returncode}): {p.stderr}{p.stdout}")
        c = json.loads(p.stdout)
    result["c"] = c

    bb_ok, bb_reason = C.bbhash_status() if not a.no_bbhash else (False, "bbhash skipped (--no-bbhash)")
    result["bbhash_available"] = bb_ok
    result["bbhash_reason"] = bb_reason
    bb = None
    if bb_ok:
        bb = C.run_worker(SCRIPT, ["bbhash", "--keys", str(keys_path), "--n", str(a.n), "--gamma", str(a.gamma),
                                   "--repeats", str(a.repeats)])
    result["bbhash"] = bb

    lm = bb["lookup_many_ns"] if bb else None
    result["ratios"] = {
        "bbhash_lookup_many_over_c_key_to_row": C.ratio(lm, c and c["key_to_row_ns"]),
        "bbhash_lookup_many_over_c_batch_key_to_row": C.ratio(lm, c and c["batch_key_to_row_ns"]),
        "bbhash_lookup_many_over_c_batch_hash_to_slot": C.ratio(lm, c and c["batch_hash_to_slot_ns"]),
        "bbhash_lookup_many_over_c_key_to_slot": C.ratio(lm, c and c["key_to_slot_ns"]),
        "bbhash_lookup_many_over_c_hash_to_slot": C.ratio(lm, c and c["hash_to_slot_ns"]),
    }
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", choices=["bbhash"], help=argparse.SUPPRESS)
    ap.add_argument("--keys", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=None, help="number of keys (default 10,000,000; 100,000 with --quick)")
    ap.add_argument("--gamma", type=float, default=2.0, help="MPH gamma of both peers (default 2)")
    ap.add_argument("--repeats", type=int, default=3, help="passes over all keys; the best counts (default 3)")
    ap.add_argument("--quick", action="store_true", help="100k keys, results to bench/out/quick/ only")
    ap.add_argument("--cache", type=Path, default=C.DEFAULT_CACHE, help="keys and model cache (default bench/out)")
    ap.add_argument("--no-bbhash", action="store_true", help="skip the BBHash peer")
    ap.add_argument("--out", type=Path, help="result JSON (default bench/results/c_lookup.json)")
    a = ap.parse_args()
    if a.n is None:
        a.n = 100_000 if a.quick else 10_000_000
    if a.worker:
        C.write_result(a.result, worker_bbhash(a))
        return 0
    out = a.out or ((C.QUICK_RESULTS if a.quick else C.DEFAULT_RESULTS) / "c_lookup.json")
    result = run_c_lookup(a.n, a.gamma, a.repeats, a.cache, not a.no_bbhash)
    c, bb = result["c"], result["bbhash"]
    lm = bb["lookup_many_ns"] if bb else None
    reason, bb_reason = result["c_reason"], result["bbhash_reason"]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")

    print(f"c_lookup: n = {a.n:,}, dim 1 linear8, fingerprints 16, gamma {a.gamma:g}, model {result['model_bytes']:,} bytes")
    if c:
        print(f"  C  key -> f32 row   {c['key_to_row_ns']:8.1f} ns/lookup")
        print(f"  C  key -> f32 row   {c['batch_key_to_row_ns']:8.1f} ns/lookup   batched (phq_get_f32_many)")
        print(f"  C  key -> slot      {c['key_to_slot_ns']:8.1f} ns/lookup")
        print(f"  C  hash -> slot     {c['hash_to_slot_ns']:8.1f} ns/lookup   (MurmurHash3 alone {c['hash_only_ns']:.1f} ns)")
        print(f"  C  hash -> slot     {c['batch_hash_to_slot_ns']:8.1f} ns/lookup   batched (phq_lookup_hash_many)")
        print(f"  C  open {c['open_ns'] / 1e3:.1f} us, validate {c['validate_ns'] / 1e6:.1f} ms")
    else:
        print(f"  C: skipped ({reason})")
    if bb:
        print(f"  bbhash lookup_many  {lm:8.1f} ns/lookup   (pre-hashed u64, index only)")
        for k, v in result["ratios"].items():
            print(f"  ratio {k}: {v:.2f}" if v is not None else f"  ratio {k}: n/a")
    else:
        print(f"  bbhash: skipped ({bb_reason})")
    print(f"  -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
