"""Lookup speed, string key -> float32 row: phq (accelerated and pure Python) against a dict of numpy rows and BBHash + a payload.

    .venv/bin/python bench/bench_lookup.py                       # 1M keys x 150 columns, 3 repeats
    .venv/bin/python bench/bench_lookup.py --n 20000 --repeats 1 --out lookup.json

The model: N synthetic feature keys (_common.make_key), `--dim` columns (default 150, a
CLINC150-sized intent classifier), random normal weights, written by phq's writer with its
defaults (linear8, per-column scales, dense, gamma 2, 16-bit fingerprints), cached in
bench/out/. Every peer serves the same rows (the phq file's dequantized rows) for the same
`str` keys, each in a fresh process per repetition:

  phq      table[key] (single), table.get(key) (absent), table.lookup(batch) (batch),
           table.slot(key) (MPH + fingerprint only, for context); with the optional
           compiled accelerator phq._accel when it is built (`accelerated` in the result)
  phq_pure the same calls with PHQ_PURE=1: the pure Python/numpy reader
  dict     {str: float32 row}: d[key], d.get(key), np.stack([d[k] ...]) - no compression at
           all: the speed of light for a Python process, at many times the memory
  bbhash   PyPI bbhash 0.6.0 (C++ BBHash) over MurmurHash3 x64 128 (first 64 bits, as the
           build benchmark), gamma 2, plus a uint8 payload in BBHash order with phq's scales:
           single: mmh3.hash64(key) -> mph.lookup -> (payload[i] - zp) * scale;
           batch: the faster of two hashing routes (hash64 list comprehension; str.encode +
           mmh3.hash_bytes + numpy) -> mph.lookup_many -> payload.take -> dequantize;
           absent keys: BBHash has no fingerprints, so it returns another key's row for most
           of them (its false-positive rate is reported); not-found indices are masked.

Per repetition each figure is the best of `--passes` passes over the sample (`--sample`
keys, default 20,000 single and 65,536 batched in batches of `--batch`, default 4096);
the result is the median over repetitions. Ratios are peer time / phq time: above 1, phq is
faster. Times are per key in nanoseconds.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

SCRIPT = Path(__file__).resolve()
TABLE = "features"
PEERS = ("phq", "phq_pure", "dict", "bbhash")


def model_path(cache: Path, n: int, dim: int) -> Path:
    return cache / f"lookup_{n}x{dim}_linear8.phq"


def ensure_model(cache: Path, n: int, dim: int, log=print) -> Path:
    path = model_path(cache, n, dim)
    if path.exists():
        return path
    import numpy as np

    import phq.writer

    cache.mkdir(parents=True, exist_ok=True)
    keys = C.make_keys(n)
    rows = (np.random.default_rng(7).standard_normal((n, dim)) * 0.5).astype(np.float32)
    t = time.perf_counter()
    phq.writer.write(path, {TABLE: (keys, rows)}, layout="dense")  # writer defaults otherwise
    log(f"[lookup] built {path.name} in {time.perf_counter() - t:.1f} s")
    return path


# --- worker ---------------------------------------------------------------------------------------
def _best(fn, passes: int) -> float:
    best = None
    for _ in range(passes):
        gc.collect()
        t0 = time.perf_counter_ns()
        fn()
        dt = time.perf_counter_ns() - t0
        best = dt if best is None else min(best, dt)
    return best


def worker(a) -> dict:
    import os

    if a.peer == "phq_pure":
        os.environ["PHQ_PURE"] = "1"  # read at a table's first lookup
    else:
        os.environ.pop("PHQ_PURE", None)
    import numpy as np

    import phq

    n, S, B = a.n, a.sample, a.batch
    rng = np.random.default_rng(11)
    present = [C.make_key(int(i)) for i in rng.integers(0, n, S)]
    absent = [C.make_key(n + i) for i in range(S)]
    bpresent = [C.make_key(int(i)) for i in rng.integers(0, n, a.batch_sample)]
    babsent = [C.make_key(n + i) for i in range(a.batch_sample)]
    batches = [bpresent[i : i + B] for i in range(0, len(bpresent), B)]
    abatches = [babsent[i : i + B] for i in range(0, len(babsent), B)]
    model = phq.open(a.path)
    t = model.tables[TABLE]
    check = present[:200]
    expect = t.lookup(check)[0]
    out: dict = {"peer": a.peer}

    if a.peer in ("phq", "phq_pure"):
        get, getitem, lookup, slot = t.get, t.__getitem__, t.lookup, t.slot
        out["accelerated"] = t.accelerated

        def single():
            for k in present:
                getitem(k)

        def single_absent():
            for k in absent:
                get(k)

        def single_slot():
            for k in present:
                slot(k)

        def batch():
            for b in batches:
                lookup(b)

        def batch_absent():
            for b in abatches:
                lookup(b)

        got = np.stack([t[k] for k in check])
        out["absent_reported_present"] = sum(t.get(k) is not None for k in absent) / S
        out["single_slot_ns"] = _best(single_slot, a.passes) / S
    elif a.peer == "dict":
        keys = [C.make_key(i) for i in range(n)]
        rows = t.rows_at(t.slots(keys))
        d = {k: rows[i].copy() for i, k in enumerate(keys)}  # one float32 array per key
        del keys, rows
        gc.collect()
        zero = np.zeros(t.dim, np.float32)
        dget = d.get

        def single():
            for k in present:
                d[k]

        def single_absent():
            for k in absent:
                dget(k)

        def batch():
            for b in batches:
                np.stack([d[k] for k in b])

        def batch_absent():
            for b in abatches:
                np.stack([dget(k, zero) for k in b])

        got = np.stack([d[k] for k in check])
        out["absent_reported_present"] = sum(k in d for k in absent) / S
    else:  # bbhash + payload
        import bbhash
        import mmh3

        keys = [C.make_key(i) for i in range(n)]
        h64 = mmh3.hash64
        hs = [h64(k, 0, signed=False)[0] for k in keys]
        mph = bbhash.PyMPHF(hs, n, 1, 2.0)
        idx = np.asarray(mph.lookup_many(np.asarray(hs, dtype=np.uint64)), dtype=np.intp)
        payload = np.empty((n, t.dim), np.uint8)
        payload[idx] = t.raw_rows_at(t.slots(keys))
        del keys, hs, idx
        gc.collect()
        zp, sc = t._zero_point_f32, t._scale_f32  # the same scales: same rows, bit for bit
        lookup1, many = mph.lookup, mph.lookup_many
        digest = mmh3.hash_bytes
        enc = str.encode

        def hash_listcomp(b):
            return [h64(k, 0, signed=False)[0] for k in b]

        def hash_numpy(b):
            raw = b"".join(map(digest, map(enc, b)))
            return np.frombuffer(raw, dtype="<u8")[::2].copy()  # lookup_many wants a writable buffer

        def rows_for(b, hashing):
            i = many(hashing(b))
            i = np.asarray(i)
            ok = i < n
            if ok.all():
                r = payload.take(i.astype(np.intp), axis=0) - zp
            else:
                r = payload.take(np.where(ok, i, 0).astype(np.intp), axis=0) - zp
                r[~ok] = 0
            r *= sc
            return r

        def single():
            for k in present:
                i = lookup1(h64(k, 0, signed=False)[0])
                r = payload[i] - zp
                r *= sc

        def single_absent():
            for k in absent:
                i = lookup1(h64(k, 0, signed=False)[0])
                if i is not None:
                    r = payload[i] - zp
                    r *= sc

        routes = {"listcomp": hash_listcomp, "numpy": hash_numpy}
        tb = {name: _best(lambda h=h: [rows_for(b, h) for b in batches], a.passes) for name, h in routes.items()}
        route = min(tb, key=tb.get)
        hashing = routes[route]
        out["batch_hash_route"] = route
        out["batch_route_ns"] = {k: v / len(bpresent) for k, v in tb.items()}

        def batch():
            for b in batches:
                rows_for(b, hashing)

        def batch_absent():
            for b in abatches:
                rows_for(b, hashing)

        got = rows_for(check, hashing)
        out["absent_reported_present"] = sum(lookup1(h64(k, 0, signed=False)[0]) is not None for k in absent) / S
    out["single_ns"] = _best(single, a.passes) / S
    out["single_absent_ns"] = _best(single_absent, a.passes) / S
    out["batch_ns"] = _best(batch, a.passes) / len(bpresent)
    out["batch_absent_ns"] = _best(batch_absent, a.passes) / len(babsent)
    out["sanity_ok"] = bool(np.array_equal(np.asarray(got, np.float32), expect))
    out["rss_kib"] = C.rss_kib()
    return out


# --- orchestration --------------------------------------------------------------------------------
FIELDS = ("single_ns", "single_absent_ns", "batch_ns", "batch_absent_ns", "single_slot_ns", "absent_reported_present", "rss_kib")
RATIOS = (("batch_ns", "batch_lookup"), ("single_ns", "single_lookup"), ("batch_absent_ns", "batch_absent_lookup"),
          ("single_absent_ns", "single_absent_lookup"))


def run_lookup(n: int, dim: int, repeats: int, cache: Path, use_bbhash: bool = True, sample: int = 20000,
               batch_sample: int = 65536, batch: int = 4096, passes: int = 5, log=print) -> dict:
    path = ensure_model(cache, n, dim, log)
    bb_ok, bb_reason = C.bbhash_status() if use_bbhash else (False, "bbhash skipped (--no-bbhash)")
    peers = [p for p in PEERS if p != "bbhash" or bb_ok]
    common = ["--path", str(path), "--n", str(n), "--sample", str(sample), "--batch-sample", str(batch_sample),
              "--batch", str(batch), "--passes", str(passes)]
    runs: dict = {p: [] for p in peers}
    for r in range(repeats):
        for p in peers:
            rec = C.run_worker(SCRIPT, ["--peer", p, *common])
            runs[p].append(rec)
            log(f"[lookup] rep {r + 1}/{repeats} {p}: single {rec['single_ns']:.0f} ns, batch {rec['batch_ns']:.0f} ns/key")
    med: dict = {}
    for p, rs in runs.items():
        m = {f: C.median([x.get(f) for x in rs]) for f in FIELDS}
        m["sanity_ok"] = all(x["sanity_ok"] for x in rs)
        if p == "bbhash":
            m["batch_hash_route"] = rs[0].get("batch_hash_route")
        if p.startswith("phq"):
            m["accelerated"] = all(x.get("accelerated") for x in rs)
        med[p] = m
    res: dict = {
        "n": n, "dim": dim, "quant": "linear8", "scale": "column", "layout": "dense", "gamma": 2.0,
        "fingerprint_bits": 16, "model_bytes": path.stat().st_size, "repeats": repeats, "passes": passes,
        "sample": sample, "batch_sample": batch_sample, "batch": batch, "bbhash_available": bb_ok,
        "bbhash_reason": bb_reason, "units": {"*_ns": "nanoseconds per key (wall)", "rss_kib": "KiB"},
        "medians": med, "runs": runs, "ratios": {},
    }
    ph, pure = med["phq"], med["phq_pure"]
    ra = res["ratios"]
    res["phq_accelerated"] = ph["accelerated"]
    # the unprefixed ratios are the default reader's (accelerated when phq._accel is built);
    # phq_pure_* the pure Python reader's (PHQ_PURE=1)
    for peer in ("bbhash", "dict"):
        m = med.get(peer)
        for f, name in RATIOS:
            ra[f"{name}_vs_{peer}"] = C.ratio(m and m[f], ph[f])
            ra[f"phq_pure_{name}_vs_{peer}"] = C.ratio(m and m[f], pure[f])
    for f, name in RATIOS:  # above 1: the accelerator is faster
        ra[f"accel_speedup_{name}"] = C.ratio(pure[f], ph[f])
    return res


def format_table(res: dict) -> str:
    lines = [f"lookup: {res['n']:,} keys x {res['dim']} linear8 (model {res['model_bytes'] / 2**20:.1f} MiB), "
             f"batches of {res['batch']}, median of {res['repeats']}; phq accelerated: {res.get('phq_accelerated')}"]
    if not res["bbhash_available"]:
        lines.append(f"bbhash: {res['bbhash_reason']}")
    for p, m in res["medians"].items():
        lines.append(f"  {p:7s} single {m['single_ns']:8.0f} ns  absent {m['single_absent_ns']:8.0f} ns  "
                     f"batch {m['batch_ns']:7.0f} ns/key  batch absent {m['batch_absent_ns']:7.0f} ns/key  "
                     f"absent reported present {m['absent_reported_present']:.4f}  RSS {m['rss_kib'] / 1024:.0f} MiB")
    for k, v in res["ratios"].items():
        lines.append(f"  {k:40s} {'n/a' if v is None else f'{v:.3f}'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--peer", choices=PEERS, help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=1_000_000, help="keys (default 1,000,000)")
    ap.add_argument("--dim", type=int, default=150, help="columns (default 150)")
    ap.add_argument("--repeats", type=int, default=3, help="fresh processes per peer (default 3)")
    ap.add_argument("--passes", type=int, default=5, help="passes per process; the best counts (default 5)")
    ap.add_argument("--sample", type=int, default=20000, help="keys looked up one by one (default 20,000)")
    ap.add_argument("--batch-sample", type=int, default=65536, help="keys looked up in batches (default 65,536)")
    ap.add_argument("--batch", type=int, default=4096, help="keys per batch (default 4096)")
    ap.add_argument("--cache", type=Path, default=C.DEFAULT_CACHE)
    ap.add_argument("--no-bbhash", action="store_true")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    if a.worker:
        C.write_result(a.result, worker(a))
        return 0
    res = run_lookup(a.n, a.dim, a.repeats, a.cache, not a.no_bbhash, a.sample, a.batch_sample, a.batch, a.passes,
                     log=lambda s: print(s, file=sys.stderr, flush=True))
    return C.finish(res, a.out, format_table)


if __name__ == "__main__":
    sys.exit(main())
