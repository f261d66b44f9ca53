"""MPH build speed and size: phq against BBHash (PyPI `bbhash` 0.6.0) on the same keys.

    .venv/bin/python bench/bench_build.py                      # N = 10M, gamma 1
    .venv/bin/python bench/bench_build.py --n 1000000 --gamma 1 2 --out build.json

Peers, each in a fresh subprocess per repetition, on the same list of N byte-string keys
(loaded from a cached file, so key generation is never timed):

  phq        phq.hashing.hash_keys(keys, seed)  +  phq.writer.mph.build_mph(hashes, gamma, P=1)
  bbhash/T   keys -> Python list of uint64 (MurmurHash3_x64_128, first half, via mmh3)
             +  bbhash.PyMPHF(list, n, T threads, gamma)            for T in --threads
  phq_write  phq.writer.write(path, {"keys": (keys, zeros((N, 0)))}, f32, no fingerprints):
             the end-to-end writer for a key-only table, file size in bits/key

Both peers hash the same bytes with the same function (MurmurHash3_x64_128); phq keeps
the 128-bit digest, BBHash takes 64 bits. BBHash's Python API needs a list of ints, so its
hashing is timed by two routes and the faster counts: a list comprehension over
mmh3.mmh3_x64_128_utupledigest (same values as mmh3.hash64(k, seed, signed=False)[0]),
and chunked mmh3.hash_bytes + numpy + tolist(). Peak memory is VmHWM reset after the keys
are loaded (Linux clear_refs), i.e. what the peer's own work adds on top of the keys.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

SCRIPT = Path(__file__).resolve()


# --- workers (run in a fresh process each) ------------------------------------------------------
def _begin(keys_path: str, n: int):
    keys = C.load_keys(Path(keys_path), n)
    gc.collect()
    base = C.rss_kib()
    reset = C.reset_peak()
    return keys, base, reset


def _memory(base: int, reset: bool, peak_hash: int | None = None) -> dict:
    peak = C.peak_kib()
    return {
        "rss_before_kib": base,
        "peak_rss_kib": peak,
        "peak_over_keys_kib": peak - base if reset else None,
        "peak_after_hashing_over_keys_kib": peak_hash - base if reset and peak_hash is not None else None,
        "peak_reset": reset,
    }


def worker_phq(a) -> dict:
    import numpy as np

    from phq.hashing import hash_keys
    from phq.writer.mph import build_mph

    keys, base, reset = _begin(a.keys, a.n)
    c0 = time.process_time_ns()
    t0 = time.perf_counter_ns()
    hashes = hash_keys(keys, a.seed)
    t1 = time.perf_counter_ns()
    peak_hash = C.peak_kib()  # VmHWM after hashing: a /proc read, outside both timings
    t2 = time.perf_counter_ns()
    mph = build_mph(hashes, gamma_milli=int(round(a.gamma * 1000)), num_partitions=1)
    t3 = time.perf_counter_ns()
    c1 = time.process_time_ns()
    mem = _memory(base, reset, peak_hash)
    # sanity (untimed): order is a permutation of the key indices
    ok = bool(mph.order.size == a.n and (a.n == 0 or np.bincount(mph.order, minlength=a.n).max() == 1))
    rec = mph.partitions[0]
    return {
        "hash_s": (t1 - t0) / 1e9,
        "build_s": (t3 - t2) / 1e9,
        "total_s": (t1 - t0 + t3 - t2) / 1e9,
        "cpu_s": (c1 - c0) / 1e9,
        "loadavg_1min_after": os.getloadavg()[0],
        "mph_bytes": int(mph.num_bytes()),
        "bits_per_key": 8 * mph.num_bytes() / a.n,
        "levels": int(rec["level_count"]),
        "fallback_keys": int(rec["fallback_count"]),
        "threads": 1,
        "sanity_ok": ok,
        **mem,
    }


def _hash_numpy_route(keys, seed: int) -> list:
    """Chunked mmh3.hash_bytes -> numpy -> tolist(): the vectorized way to a list of ints."""
    import mmh3
    import numpy as np

    digest = mmh3.hash_bytes
    out: list = []
    step = 1 << 16
    seeds = [seed] * step
    for start in range(0, len(keys), step):
        chunk = keys[start : start + step]
        raw = b"".join(map(digest, chunk, seeds[: len(chunk)]))
        out += np.frombuffer(raw, dtype="<u8")[::2].tolist()
    return out


def worker_bbhash(a) -> dict:
    import bbhash
    import mmh3
    import numpy as np

    keys, base, reset = _begin(a.keys, a.n)
    u = mmh3.mmh3_x64_128_utupledigest
    seed = a.seed
    c0 = time.process_time_ns()
    t0 = time.perf_counter_ns()
    hs = [u(k, seed)[0] for k in keys]
    t1 = time.perf_counter_ns()
    peak_hash = C.peak_kib()  # outside both timings
    t1b = time.perf_counter_ns()
    mph = bbhash.PyMPHF(hs, a.n, a.threads, a.gamma)
    t2 = time.perf_counter_ns()
    c1 = time.process_time_ns()
    mem = _memory(base, reset, peak_hash)

    # untimed: size two ways, sanity, then the alternative hashing route
    sys.stdout.flush()
    bits = int(mph.get_mem())  # BooPHF totalBitSize(): bits (it also prints a breakdown)
    save_path = Path(a.scratch) / f".bbhash-{os.getpid()}.mphf"
    mph.save(str(save_path))
    file_bytes = save_path.stat().st_size
    save_path.unlink()
    sample = np.asarray(hs[: min(a.n, 100_000)], dtype=np.uint64)
    got = mph.lookup_many(sample)
    ok = bool(got.size == sample.size and (got < a.n).all() and np.unique(got).size == got.size)
    t3 = time.perf_counter_ns()
    hs2 = _hash_numpy_route(keys, seed)
    t4 = time.perf_counter_ns()
    ok = ok and hs2[:1000] == hs[:1000] and len(hs2) == len(hs)
    listcomp_s = (t1 - t0) / 1e9
    numpy_s = (t4 - t3) / 1e9
    hash_s = min(listcomp_s, numpy_s)
    build_s = (t2 - t1b) / 1e9
    return {
        "hash_s": hash_s,
        "hash_route": "listcomp" if listcomp_s <= numpy_s else "numpy",
        "hash_listcomp_s": listcomp_s,
        "hash_numpy_route_s": numpy_s,
        "build_s": build_s,
        "total_s": hash_s + build_s,
        "total_listcomp_s": listcomp_s + build_s,
        "cpu_s": (c1 - c0) / 1e9,
        "loadavg_1min_after": os.getloadavg()[0],
        "get_mem_bits": bits,
        "bits_per_key": bits / a.n,
        "save_file_bytes": file_bytes,
        "file_bits_per_key": 8 * file_bytes / a.n,
        "threads": a.threads,
        "sanity_ok": ok,
        **mem,
    }


def worker_phq_write(a) -> dict:
    import numpy as np

    import phq
    import phq.writer

    keys, base, reset = _begin(a.keys, a.n)
    rows = np.zeros((a.n, 0), np.float32)
    path = Path(a.scratch) / f".bench-write-{os.getpid()}.phq"
    try:
        c0 = time.process_time_ns()
        t0 = time.perf_counter_ns()
        size = phq.writer.write(
            path, {"keys": (keys, rows)}, gamma=a.gamma, seed=a.seed, fingerprint_bits=0, quant="f32"
        )
        t1 = time.perf_counter_ns()
        c1 = time.process_time_ns()
        mem = _memory(base, reset)
        with phq.open(path) as m:
            t = m.tables["keys"]
            mph_bits = t.mph_bits_per_key
            partitions = t.num_partitions
            sample = keys[:: max(1, a.n // 1000)]
            slots = t.slots(sample)
            ok = bool((slots >= 0).all() and np.unique(slots).size == slots.size)
            del t, slots
    finally:
        try:
            path.unlink()
        except OSError:
            pass
    return {
        "total_s": (t1 - t0) / 1e9,
        "cpu_s": (c1 - c0) / 1e9,
        "loadavg_1min_after": os.getloadavg()[0],
        "file_bytes": int(size),
        "file_bits_per_key": 8 * size / a.n,
        "mph_bits_per_key": mph_bits,
        "partitions": partitions,
        "threads": 1,
        "sanity_ok": ok,
        **mem,
    }


WORKERS = {"phq": worker_phq, "bbhash": worker_bbhash, "phq_write": worker_phq_write}


# --- orchestration ---------------------------------------------------------------------------
def _gkey(g: float) -> str:
    return f"{g:g}"


def _median_record(runs: list[dict]) -> dict:
    """Median of every numeric field over repetitions; other fields from the first run."""
    out = dict(runs[0])
    for k, v in runs[0].items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = C.median([r[k] for r in runs])
    out["sanity_ok"] = all(r.get("sanity_ok", True) for r in runs)
    out["repeats"] = len(runs)
    if "total_s" in runs[0]:
        out["total_s_all"] = [r["total_s"] for r in runs]
    return out


def run_build(
    n: int,
    gammas: list[float],
    threads: list[int],
    repeats: int,
    cache: Path,
    use_bbhash: bool = True,
    seed: int = 0,
    log=print,
) -> dict:
    cache.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    kpath = C.keys_file(cache, n)
    log(f"[build] keys: {kpath} ({time.perf_counter() - t:.1f} s)")
    total_bytes = kpath.stat().st_size - (n - 1)
    bb_ok, bb_reason = C.bbhash_status() if use_bbhash else (False, "bbhash skipped (--no-bbhash)")
    result: dict = {
        "n": n,
        "seed": seed,
        "mean_key_bytes": total_bytes / n,
        "key_example": C.make_key(1),
        "repeats": repeats,
        "bbhash_available": bb_ok,
        "bbhash_reason": bb_reason,
        "units": {"*_s": "seconds (wall, perf_counter)", "*_kib": "KiB", "bits_per_key": "bits per key"},
        "gammas": {},
    }
    for g in gammas:
        common = ["--keys", str(kpath), "--n", str(n), "--gamma", str(g), "--seed", str(seed), "--scratch", str(cache)]
        peers = [("phq", ["phq"]), ("phq_write", ["phq_write"])]
        if bb_ok:
            peers += [(f"bbhash_t{th}", ["bbhash", "--threads", str(th)]) for th in threads]
        runs: dict[str, list[dict]] = {name: [] for name, _ in peers}
        for r in range(repeats):  # interleave peers so drift spreads evenly
            for name, wargs in peers:
                rec = C.run_worker(SCRIPT, [wargs[0], *common, *wargs[1:]])
                runs[name].append(rec)
                log(f"[build] gamma={g:g} rep {r + 1}/{repeats} {name}: total {rec['total_s']:.2f} s, "
                    f"{rec.get('bits_per_key', rec.get('file_bits_per_key')):.3f} bits/key")
        med = {name: _median_record(rs) for name, rs in runs.items()}
        entry: dict = {"phq": med["phq"], "phq_write": med["phq_write"]}
        if bb_ok:
            entry["bbhash"] = {str(th): med[f"bbhash_t{th}"] for th in threads}
        else:
            entry["bbhash"] = None
        entry["ratios"] = ratios_for(entry, threads)
        result["gammas"][_gkey(g)] = entry
    return result


def ratios_for(entry: dict, threads: list[int]) -> dict:
    p, w, bb = entry["phq"], entry["phq_write"], entry["bbhash"]
    out: dict = {
        "writer_time_vs_mph_build": C.ratio(w["total_s"], p["total_s"]),
        "writer_file_bits_vs_mph_bits": C.ratio(w["file_bits_per_key"], p["bits_per_key"]),
    }
    for th in threads:
        b = (bb or {}).get(str(th))
        sfx = "" if th == 1 else f"_{th}threads"
        if b is None:
            for k in ("build_throughput_vs_bbhash", "build_throughput_vs_bbhash_no_hashing",
                      "build_throughput_vs_bbhash_listcomp_hashing", "hashing_throughput_vs_bbhash",
                      "writer_throughput_vs_bbhash", "peak_rss_ratio_phq_vs_bbhash"):
                out[k + sfx] = None
            continue
        out["build_throughput_vs_bbhash" + sfx] = C.ratio(b["total_s"], p["total_s"])
        out["build_throughput_vs_bbhash_no_hashing" + sfx] = C.ratio(b["build_s"], p["build_s"])
        out["build_throughput_vs_bbhash_listcomp_hashing" + sfx] = C.ratio(b["total_listcomp_s"], p["total_s"])
        out["hashing_throughput_vs_bbhash" + sfx] = C.ratio(b["hash_s"], p["hash_s"])
        out["writer_throughput_vs_bbhash" + sfx] = C.ratio(b["total_s"], w["total_s"])
        out["peak_rss_ratio_phq_vs_bbhash" + sfx] = C.ratio(p["peak_over_keys_kib"], b["peak_over_keys_kib"])
    b1 = (bb or {}).get(str(threads[0])) if threads else None
    out["bits_per_key_ratio_phq_vs_bbhash"] = C.ratio(p["bits_per_key"], b1["bits_per_key"]) if b1 else None
    return out


# --- scaling: N = 10^4 ... 10^7 synthetic keys, and the wordfreq keys -----------------------------
POINT_FIELDS = ("hash_s", "build_s", "total_s", "bits_per_key", "peak_over_keys_kib")


def _point(name: str, kpath: Path, n: int, g: float, repeats: int, cache: Path, bb_ok: bool, seed: int, log) -> dict:
    common = ["--keys", str(kpath), "--n", str(n), "--gamma", str(g), "--seed", str(seed), "--scratch", str(cache)]
    peers = [("phq", ["phq"])] + ([("bbhash", ["bbhash", "--threads", "1"])] if bb_ok else [])
    runs: dict[str, list[dict]] = {p: [] for p, _ in peers}
    for _ in range(repeats):
        for p, wargs in peers:
            runs[p].append(C.run_worker(SCRIPT, [wargs[0], *common, *wargs[1:]]))
    med = {p: _median_record(rs) for p, rs in runs.items()}
    ph, bb = med["phq"], med.get("bbhash")
    pt = {"keys": name, "n": n, "gamma": g, "repeats": repeats,
          "sanity_ok": ph["sanity_ok"] and (bb is None or bb["sanity_ok"])}
    for f in POINT_FIELDS:
        pt[f"phq_{f}"] = ph[f]
        pt[f"bbhash_{f}"] = bb[f] if bb else None
    pt["build_throughput_vs_bbhash"] = C.ratio(bb and bb["total_s"], ph["total_s"])
    pt["build_throughput_vs_bbhash_no_hashing"] = C.ratio(bb and bb["build_s"], ph["build_s"])
    pt["bits_per_key_ratio_phq_vs_bbhash"] = C.ratio(ph["bits_per_key"], bb and bb["bits_per_key"])
    log(f"[scaling] {name} n={n:,} gamma={g:g}: phq {ph['total_s']:.3f} s {ph['bits_per_key']:.3f} bits/key"
        + (f", bbhash {bb['total_s']:.3f} s {bb['bits_per_key']:.3f} bits/key" if bb else ""))
    return pt


def run_scaling(ns: list[int], gammas: list[float], repeats: int, cache: Path, use_bbhash: bool = True,
                real: bool = True, real_limit: int | None = None, reuse: dict | None = None, seed: int = 0,
                real_pattern: str = "*.msgpack.gz", log=print) -> dict:
    """phq vs BBHash (1 thread) at every N of `ns` (synthetic keys) and on the wordfreq keys.
    `reuse`: a run_build result whose N is in `ns`: its medians are taken for that point
    instead of measuring it again. Points are medians of `repeats` fresh processes."""
    bb_ok, bb_reason = C.bbhash_status() if use_bbhash else (False, "bbhash skipped (--no-bbhash)")
    res: dict = {"ns": ns, "gammas": gammas, "repeats": repeats, "bbhash_available": bb_ok,
                 "bbhash_reason": bb_reason, "points": []}
    for n in ns:
        if reuse is not None and reuse["n"] == n and all(f"{g:g}" in reuse["gammas"] for g in gammas):
            for g in gammas:
                e = reuse["gammas"][f"{g:g}"]
                ph, bb = e["phq"], (e["bbhash"] or {}).get("1")
                pt = {"keys": "synthetic", "n": n, "gamma": g, "repeats": reuse["repeats"], "reused": True,
                      "sanity_ok": ph["sanity_ok"] and (bb is None or bb["sanity_ok"])}
                for f in POINT_FIELDS:
                    pt[f"phq_{f}"] = ph[f]
                    pt[f"bbhash_{f}"] = bb[f] if bb else None
                r = e["ratios"]
                pt["build_throughput_vs_bbhash"] = r.get("build_throughput_vs_bbhash")
                pt["build_throughput_vs_bbhash_no_hashing"] = r.get("build_throughput_vs_bbhash_no_hashing")
                pt["bits_per_key_ratio_phq_vs_bbhash"] = r.get("bits_per_key_ratio_phq_vs_bbhash")
                res["points"].append(pt)
            continue
        kpath = C.keys_file(cache, n)
        for g in gammas:
            res["points"].append(_point("synthetic", kpath, n, g, repeats, cache, bb_ok, seed, log))
    wf_ok, wf_reason = C.wordfreq_status() if real else (False, "real keys skipped (--no-real-keys)")
    res["wordfreq_available"], res["wordfreq_reason"] = wf_ok, wf_reason
    if wf_ok:
        kpath, n = C.wordfreq_keys_file(cache, real_limit, real_pattern)
        res["wordfreq"] = C.wordfreq_info(kpath, n, real_pattern)
        for g in gammas:
            res["points"].append(_point("wordfreq", kpath, n, g, repeats, cache, bb_ok, seed, log))
    return res


def plot_scaling(res: dict, path: Path) -> bool:
    """Time per key and bits per key against N (log scale), phq vs BBHash; wordfreq keys as
    separate markers. Returns False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:
        return False
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {"phq": "tab:blue", "bbhash": "tab:orange"}
    styles = {1.0: "-", 2.0: "--"}
    for peer in ("phq", "bbhash"):
        for g in res["gammas"]:
            pts = [p for p in res["points"] if p["keys"] == "synthetic" and p["gamma"] == g and p[f"{peer}_total_s"]]
            if not pts:
                continue
            xs = [p["n"] for p in pts]
            lab = f"{'phq' if peer == 'phq' else 'BBHash (1 thread)'}, γ={g:g}"
            ax1.plot(xs, [1e9 * p[f"{peer}_total_s"] / p["n"] for p in pts], styles.get(g, ":"), marker="o",
                     color=colors[peer], label=lab)
            ax2.plot(xs, [p[f"{peer}_bits_per_key"] for p in pts], styles.get(g, ":"), marker="o", color=colors[peer], label=lab)
            wf = [p for p in res["points"] if p["keys"] == "wordfreq" and p["gamma"] == g and p[f"{peer}_total_s"]]
            for p in wf:
                ax1.plot([p["n"]], [1e9 * p[f"{peer}_total_s"] / p["n"]], marker="*", markersize=13, color=colors[peer],
                         linestyle="none")
                ax2.plot([p["n"]], [p[f"{peer}_bits_per_key"]], marker="*", markersize=13, color=colors[peer], linestyle="none")
    ax1.set(xscale="log", xlabel="keys N", ylabel="ns per key (string hashing + MPH build)",
            title="MPH build time per key (lower is better)")
    ax2.set(xscale="log", xlabel="keys N", ylabel="bits per key", title="MPH size (lower is better)")
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
    ax1.plot([], [], marker="*", color="gray", linestyle="none", markersize=11, label="wordfreq keys (real)")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def format_table(result: dict) -> str:
    lines = [f"N = {result['n']:,} keys (mean {result['mean_key_bytes']:.1f} bytes), median of {result['repeats']} run(s)"]
    if not result["bbhash_available"]:
        lines.append(f"bbhash: {result['bbhash_reason']}")
    for g, e in result["gammas"].items():
        p, w = e["phq"], e["phq_write"]
        lines.append(f"gamma {g}:")
        lines.append(f"  phq        hash {p['hash_s']:7.2f} s  build {p['build_s']:7.2f} s  total {p['total_s']:7.2f} s  "
                     f"{p['bits_per_key']:.3f} bits/key  peak +{_mib(p['peak_over_keys_kib'])}  cpu {p['cpu_s']:.2f} s")
        for th, b in (e["bbhash"] or {}).items():
            lines.append(f"  bbhash t={th}  hash {b['hash_s']:7.2f} s  build {b['build_s']:7.2f} s  total {b['total_s']:7.2f} s  "
                         f"{b['bits_per_key']:.3f} bits/key (file {b['file_bits_per_key']:.3f})  peak +{_mib(b['peak_over_keys_kib'])}  cpu {b['cpu_s']:.2f} s")
        lines.append(f"  phq write  total {w['total_s']:7.2f} s  file {w['file_bits_per_key']:.3f} bits/key  peak +{_mib(w['peak_over_keys_kib'])}  cpu {w['cpu_s']:.2f} s")
        for k, v in e["ratios"].items():
            lines.append(f"  {k:54s} {'n/a' if v is None else f'{v:.3f}'}")
    return "\n".join(lines)


def _mib(kib) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.0f} MiB"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--keys", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--scratch", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=10_000_000, help="number of keys (default 10,000,000)")
    ap.add_argument("--gamma", type=float, nargs="+", default=[1.0], help="gamma value(s), e.g. --gamma 1 2 (default 1)")
    ap.add_argument("--bbhash-threads", type=int, nargs="+", default=[1, 2], help="BBHash thread counts (default 1 2)")
    ap.add_argument("--repeats", type=int, default=3, help="fresh-process repetitions per peer; medians are reported")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=C.DEFAULT_CACHE, help="where the key file is kept (default bench/out)")
    ap.add_argument("--no-bbhash", action="store_true", help="skip the BBHash peer (its figures become null)")
    ap.add_argument("--out", type=Path, help="write the result JSON here")
    a = ap.parse_args(argv)
    if a.worker:
        a.gamma = a.gamma[0]
        C.write_result(a.result, WORKERS[a.worker](a))
        return 0
    res = run_build(a.n, a.gamma, a.bbhash_threads, a.repeats, a.cache, not a.no_bbhash, a.seed,
                    log=lambda s: print(s, file=sys.stderr, flush=True))
    return C.finish(res, a.out, format_table)


if __name__ == "__main__":
    sys.exit(main())
