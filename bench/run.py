"""Run every phq benchmark and write the results the README shows.

    .venv/bin/python bench/run.py            # full run (`make bench`): N = 10M, 10 MiB vs 1 GiB
    .venv/bin/python bench/run.py --quick    # tiny sizes, written to bench/out/quick/

Writes, in the output directory (bench/results/ by default, bench/out/quick/ with --quick):
  build.json    bench_build.py's result (per gamma, per peer, medians and ratios)
  open.json     bench_open.py's result (per mode, kind and size, medians and ratios)
  summary.json  the headline figures as flat keys, machine info and the exact command
  summary.md    the headline figures as a Markdown table, with the command that made them

Every figure is a ratio against a peer measured in the same run on the same data, or a
size; nothing here compares an absolute time with a threshold.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
import bench_build  # noqa: E402
import bench_open  # noqa: E402

HEADLINE_KEYS = (
    "phq_bits_per_key_gamma1",
    "bbhash_bits_per_key_gamma1",
    "build_throughput_vs_bbhash",
    "open_time_ratio_large_vs_small",
    "open_rss_ratio_large_vs_small",
)


def _g(g: float) -> str:
    return f"gamma{g:g}"


def _mib(kib):
    return None if kib is None else kib / 1024


def summarize(build: dict | None, opened: dict | None, args, machine: dict, command: str) -> dict:
    s: dict = {
        "quick": bool(args.quick),
        "command": command,
        "timestamp_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu_count": machine["cpu_count"],
        "cpu_model": machine["cpu_model"],
        "mem_total_gib": machine["mem_total_gib"],
        "platform": machine["platform"],
        "python_version": machine["python"],
        "numpy_version": machine["numpy"],
        "mmh3_version": machine["mmh3"],
        "bbhash_version": machine["bbhash"],
        "phq_version": machine["phq"],
        "git_commit": machine["git_commit"],
    }
    if build is not None:
        s["build_num_keys"] = build["n"]
        s["build_mean_key_bytes"] = build["mean_key_bytes"]
        s["build_repeats"] = build["repeats"]
        s["bbhash_available"] = build["bbhash_available"]
        s["bbhash_reason"] = build["bbhash_reason"]
        s["phq_build_threads"] = 1
        s["bbhash_threads"] = args.bbhash_threads
        for gk, e in build["gammas"].items():
            g = _g(float(gk))
            p, w, bb, r = e["phq"], e["phq_write"], e["bbhash"] or {}, e["ratios"]
            b1 = bb.get("1")
            s[f"phq_bits_per_key_{g}"] = p["bits_per_key"]
            s[f"bbhash_bits_per_key_{g}"] = b1["bits_per_key"] if b1 else None
            s[f"bbhash_file_bits_per_key_{g}"] = b1["file_bits_per_key"] if b1 else None
            s[f"phq_write_file_bits_per_key_{g}"] = w["file_bits_per_key"]
            s[f"bits_per_key_ratio_phq_vs_bbhash_{g}"] = r.get("bits_per_key_ratio_phq_vs_bbhash")
            for k, v in r.items():
                if k != "bits_per_key_ratio_phq_vs_bbhash":
                    s[f"{k}_{g}"] = v
            s[f"phq_peak_rss_over_keys_mib_{g}"] = _mib(p["peak_over_keys_kib"])
            s[f"phq_peak_rss_after_hashing_over_keys_mib_{g}"] = _mib(p["peak_after_hashing_over_keys_kib"])
            s[f"phq_write_peak_rss_over_keys_mib_{g}"] = _mib(w["peak_over_keys_kib"])
            for th in args.bbhash_threads:
                b = bb.get(str(th))
                sfx = "" if th == 1 else f"_{th}threads"
                s[f"bbhash_peak_rss_over_keys_mib{sfx}_{g}"] = _mib(b["peak_over_keys_kib"]) if b else None
                s[f"bbhash_peak_rss_after_hashing_over_keys_mib{sfx}_{g}"] = (
                    _mib(b["peak_after_hashing_over_keys_kib"]) if b else None)
            s[f"levels_phq_{g}"] = p["levels"]
            s[f"sanity_ok_{g}"] = bool(p["sanity_ok"] and w["sanity_ok"] and all(b["sanity_ok"] for b in bb.values()))
        first = _g(float(next(iter(build["gammas"]))))
        # headline build ratios: gamma 1 if it ran, else the first gamma
        hg = "gamma1" if "gamma1" in {_g(float(k)) for k in build["gammas"]} else first
        s["build_throughput_vs_bbhash"] = s.get(f"build_throughput_vs_bbhash_{hg}")
        s["build_throughput_vs_bbhash_no_hashing"] = s.get(f"build_throughput_vs_bbhash_no_hashing_{hg}")
        s["build_headline_gamma"] = hg
    if opened is not None:
        m = opened["models"]
        s["open_small_mib"] = m["small"]["phq_bytes"] / bench_open.MIB
        s["open_large_mib"] = m["large"]["phq_bytes"] / bench_open.MIB
        s["open_small_keys"] = m["small"]["num_keys"]
        s["open_large_keys"] = m["large"]["num_keys"]
        s["open_size_ratio_large_vs_small"] = opened["size_ratio_large_vs_small"]
        s["open_repeats"] = opened["repeats"]
        s.update(opened["ratios"])
        warm = opened["medians"]["warm"]["phq"]
        for size in ("small", "large"):
            s[f"open_rss_kib_{size}"] = warm[size]["rss_open_kib"]
            s[f"open_plus_lookup_rss_kib_{size}"] = warm[size]["rss_total_kib"]
        s["open_sanity_ok"] = all(
            v["sanity_ok"] for by_kind in opened["medians"].values() for by_size in by_kind.values() for v in by_size.values()
        )
    return s


def _fmt(v, digits=3) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:.{digits}f}"


def markdown(s: dict, gammas: list[float]) -> str:
    q = " (quick run: tiny sizes, not representative)" if s["quick"] else ""
    out = [f"# phq benchmark summary{q}", ""]
    if "build_num_keys" in s:
        gs = [_g(g) for g in gammas]
        out += [
            f"MPH build, N = {s['build_num_keys']:,} synthetic feature keys (mean {s['build_mean_key_bytes']:.1f} bytes), "
            f"median of {s['build_repeats']} fresh process(es) per peer. Throughput ratios are "
            "BBHash time / phq time: above 1, phq is faster. phq builds on 1 thread.",
            "",
            "| figure | " + " | ".join(g.replace("gamma", "gamma ") for g in gs) + " |",
            "| --- | " + " | ".join("---:" for _ in gs) + " |",
        ]
        rows = [
            ("phq MPH bits/key", "phq_bits_per_key"),
            ("BBHash bits/key (get_mem)", "bbhash_bits_per_key"),
            ("BBHash bits/key (save file)", "bbhash_file_bits_per_key"),
            ("phq bits/key ÷ BBHash bits/key", "bits_per_key_ratio_phq_vs_bbhash"),
            ("phq key-only file (writer) bits/key", "phq_write_file_bits_per_key"),
            ("build throughput vs BBHash 1 thread, incl. string hashing", "build_throughput_vs_bbhash"),
            ("build throughput vs BBHash 1 thread, MPH only", "build_throughput_vs_bbhash_no_hashing"),
            ("build throughput vs BBHash 2 threads, incl. string hashing", "build_throughput_vs_bbhash_2threads"),
            ("build throughput vs BBHash 2 threads, MPH only", "build_throughput_vs_bbhash_no_hashing_2threads"),
            ("string hashing throughput vs BBHash's route", "hashing_throughput_vs_bbhash"),
            ("end-to-end writer throughput vs BBHash 1 thread", "writer_throughput_vs_bbhash"),
            ("phq peak memory ÷ BBHash peak memory (1 thread)", "peak_rss_ratio_phq_vs_bbhash"),
            ("phq peak memory over the keys, MiB", "phq_peak_rss_over_keys_mib"),
            ("BBHash peak memory over the keys, MiB (1 thread)", "bbhash_peak_rss_over_keys_mib"),
        ]
        for label, key in rows:
            out.append(f"| {label} | " + " | ".join(_fmt(s.get(f"{key}_{g}"), 1 if key.endswith("_mib") else 3) for g in gs) + " |")
        if not s.get("bbhash_available", True):
            out += ["", f"BBHash figures are n/a: {s.get('bbhash_reason')}"]
        out.append("")
    if "open_small_mib" in s:
        out += [
            f"Open cost, dense f32 model of {s['open_small_mib']:.1f} MiB vs {s['open_large_mib']:.1f} MiB "
            f"({s['open_size_ratio_large_vs_small']:.0f}x the bytes), median of {s['open_repeats']} fresh processes. "
            "Ratios large ÷ small: near 1, the cost does not grow with the file.",
            "",
            "| figure | warm page cache | cold (fadvise DONTNEED) |",
            "| --- | ---: | ---: |",
        ]
        rows = [
            ("phq.open time", "open_time_ratio_large_vs_small"),
            ("RSS added by phq.open", "open_rss_ratio_large_vs_small"),
            ("first lookup time", "first_lookup_time_ratio_large_vs_small"),
            ("open + first lookup time", "open_plus_lookup_time_ratio_large_vs_small"),
            ("RSS added by open + first lookup", "open_plus_lookup_rss_ratio_large_vs_small"),
            ("np.load(mmap_mode='r') time, for context", "npy_open_time_ratio_large_vs_small"),
        ]
        for label, key in rows:
            out.append(f"| {label} | {_fmt(s.get(key))} | {_fmt(s.get(key + '_cold'))} |")
        out.append(f"| phq.open time ÷ np.load time, large file | {_fmt(s.get('phq_vs_npy_open_time_large'))} | "
                   f"{_fmt(s.get('phq_vs_npy_open_time_large_cold'))} |")
        out.append("")
    out += [
        f"Machine: {s['cpu_count']} CPUs ({s['cpu_model']}), {s['mem_total_gib']} GiB, {s['platform']}; "
        f"Python {s['python_version']}, numpy {s['numpy_version']}, mmh3 {s['mmh3_version']}, "
        f"bbhash {s['bbhash_version']}; phq {s['phq_version']} at {s['git_commit']}; {s['timestamp_utc']}.",
        "",
        "Reproduce (from the repository root):",
        "",
        "```",
        s["command"],
        "```",
        "",
    ]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Run the phq benchmarks and write bench/results/.")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (N=20000, 1 MiB vs 8 MiB), written to bench/out/quick/")
    ap.add_argument("--out", type=Path, help="output directory (default bench/results, or bench/out/quick with --quick)")
    ap.add_argument("--cache", type=Path, help="generated keys and models (default bench/out, or OUT/cache with --quick)")
    ap.add_argument("--only", choices=("build", "open"), help="run one benchmark only")
    ap.add_argument("--n", type=int, help="keys for the build benchmark (default 10,000,000; 20,000 with --quick)")
    ap.add_argument("--gamma", type=float, nargs="+", default=[1.0, 2.0], help="gammas (default 1 2)")
    ap.add_argument("--bbhash-threads", type=int, nargs="+", default=[1, 2], help="BBHash thread counts (default 1 2)")
    ap.add_argument("--no-bbhash", action="store_true", help="skip BBHash (its figures become null with a reason)")
    ap.add_argument("--build-repeats", type=int, help="fresh processes per build peer (default 5; 1 with --quick)")
    ap.add_argument("--open-repeats", type=int, help="fresh processes per open case (default 9; 3 with --quick)")
    ap.add_argument("--small-mb", type=float, help="small model payload, MiB (default 10; 1 with --quick)")
    ap.add_argument("--large-mb", type=float, help="large model payload, MiB (default 1024; 8 with --quick)")
    ap.add_argument("--dim", type=int, default=128, help="f32 columns of the open models (default 128)")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-cache open measurements")
    a = ap.parse_args(argv)
    q = a.quick
    out = a.out or (C.QUICK_RESULTS if q else C.DEFAULT_RESULTS)
    cache = a.cache or ((out / "cache") if q else C.DEFAULT_CACHE)
    n = a.n or (20_000 if q else 10_000_000)
    build_repeats = a.build_repeats or (1 if q else 5)
    open_repeats = a.open_repeats or (3 if q else 9)
    small_mb = a.small_mb or (1 if q else 10)
    large_mb = a.large_mb or (8 if q else 1024)
    a.bbhash_threads = sorted(set(a.bbhash_threads))
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731

    command = C.command_line()
    machine = C.machine_info()
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    build = opened = None
    if a.only in (None, "build"):
        build = bench_build.run_build(n, a.gamma, a.bbhash_threads, build_repeats, cache, not a.no_bbhash, log=log)
        build["machine"], build["command"] = machine, command
        (out / "build.json").write_text(json.dumps(build, indent=2) + "\n")
        print(bench_build.format_table(build), flush=True)
    if a.only in (None, "open"):
        opened = bench_open.run_open(small_mb, large_mb, a.dim, open_repeats, cache, True, not a.no_cold, log=log)
        opened["machine"], opened["command"] = machine, command
        (out / "open.json").write_text(json.dumps(opened, indent=2) + "\n")
        print(bench_open.format_table(opened), flush=True)
    summary = summarize(build, opened, a, machine, command)
    summary["wall_seconds"] = round(time.perf_counter() - t0, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(markdown(summary, a.gamma))
    log(f"[run] wrote {out}/{{build,open,summary}}.json and summary.md in {summary['wall_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
