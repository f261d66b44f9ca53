"""Timing of the Python reader's lookup paths, one against the other (issue 19: one authority
for lookups). Not part of `make bench`: a quick before/after check of a change to the paths.

    .venv/bin/python bench/bench_pure_paths.py [--keys 100000] [--batch 10000]

Prints per-key times of: pure scalar (`Table._pure_slot`, `_pure_get`), pure batch
(`_pure_slots`, `_pure_lookup`), the pure batch done as a loop of pure scalar lookups, and
the accelerated scalar and batch calls; present and absent keys; on a writer-made table (one
partition) and on a 16-partition table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

import phq
import phq.writer


def best(fn, repeat=5):
    t = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return min(t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=10_000)
    a = ap.parse_args()
    n, k = a.keys, a.batch
    rng = np.random.default_rng(1)
    keys = [f"w={i}|x".encode() for i in range(n)]
    rows = rng.normal(size=(n, 16)).astype(np.float32)
    present = [keys[i] for i in rng.choice(n, k, replace=False)]
    absent = [f"absent {i}".encode() for i in range(k)]
    with tempfile.TemporaryDirectory() as d:
        for parts in (1, 16):
            path = os.path.join(d, f"p{parts}.phq")
            phq.writer.write(path, {"t": (keys, rows)}, partitions=parts)
            with phq.open(path) as m:
                t = m.tables["t"]
                for label, ks in (("present", present), ("absent", absent)):
                    few = ks[:2000]
                    r = {
                        "pure scalar slot, us/key": best(lambda: [t._pure_slot(x) for x in few]) / len(few) * 1e6,
                        "pure scalar get, us/key": best(lambda: [t._pure_get(x) for x in few]) / len(few) * 1e6,
                        "pure batch slots, ns/key": best(lambda: t._pure_slots(ks)) / len(ks) * 1e9,
                        "pure batch lookup, ns/key": best(lambda: t._pure_lookup(ks)) / len(ks) * 1e9,
                        "pure batch of 1 key, us": best(lambda: [t._pure_slots([x]) for x in few[:200]]) / 200 * 1e6,
                        "pure scalar loop as batch slots, ns/key": best(lambda: np.array([t._pure_slot(x) for x in ks])) / len(ks) * 1e9,
                    }
                    if t.accelerated:
                        r["accel scalar slot, us/key"] = best(lambda: [t.slot(x) for x in few]) / len(few) * 1e6
                        r["accel batch lookup, ns/key"] = best(lambda: t.lookup(ks)) / len(ks) * 1e9
                    for name, v in r.items():
                        print(f"P={parts:<3} {label:8} {name:42} {v:9.2f}")


if __name__ == "__main__":
    main()
