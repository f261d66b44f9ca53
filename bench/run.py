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
import bench_c_bbhash  # noqa: E402
import bench_c_lookup  # noqa: E402
import bench_lookup  # noqa: E402
import bench_open  # noqa: E402
import bench_readers  # noqa: E402

PARTS = ("build", "scaling", "lookup", "c_lookup", "c_bbhash", "open", "readers")
HEADLINE_KEYS = (
    "phq_bits_per_key_gamma1",
    "bbhash_bits_per_key_gamma1",
    "build_throughput_vs_bbhash",
    "batch_lookup_vs_bbhash",
    "c_lookup_vs_bbhash",
    "c_slot_vs_bbhash",
    "c_row_vs_bbhash",
    "open_time_ratio_large_vs_small",
    "open_rss_ratio_large_vs_small",
)


def _g(g: float) -> str:
    return f"gamma{g:g}"


def _mib(kib):
    return None if kib is None else kib / 1024


def summarize_more(s: dict, scaling: dict | None, lookup: dict | None, clook: dict | None, readers: dict | None,
                   cbb: dict | None = None) -> None:
    """Flat keys of the scaling, lookup, C lookup, C/C++ vs BBHash and readers parts."""
    if cbb is not None:
        s.update(cbb["flat"])
    if scaling is not None:
        s["scaling_ns"] = scaling["ns"]
        s["wordfreq_available"] = scaling.get("wordfreq_available")
        s["wordfreq_reason"] = scaling.get("wordfreq_reason")
        if scaling.get("wordfreq"):
            s["wordfreq_num_keys"] = scaling["wordfreq"]["num_keys"]
            s["wordfreq_mean_key_bytes"] = scaling["wordfreq"]["mean_key_bytes"]
        for pt in scaling["points"]:
            tag = "wordfreq" if pt["keys"] == "wordfreq" else f"scaling_n{pt['n']}"
            g = _g(pt["gamma"])
            s[f"{tag}_phq_bits_per_key_{g}"] = pt["phq_bits_per_key"]
            s[f"{tag}_bbhash_bits_per_key_{g}"] = pt["bbhash_bits_per_key"]
            s[f"{tag}_build_throughput_vs_bbhash_{g}"] = pt["build_throughput_vs_bbhash"]
            s[f"{tag}_build_throughput_vs_bbhash_no_hashing_{g}"] = pt["build_throughput_vs_bbhash_no_hashing"]
            s[f"{tag}_phq_ns_per_key_{g}"] = 1e9 * pt["phq_total_s"] / pt["n"]
            s[f"{tag}_phq_peak_rss_over_keys_mib_{g}"] = _mib(pt["phq_peak_over_keys_kib"])
            s[f"{tag}_bbhash_peak_rss_over_keys_mib_{g}"] = _mib(pt["bbhash_peak_over_keys_kib"])
        s["scaling_sanity_ok"] = all(pt["sanity_ok"] for pt in scaling["points"])
    if lookup is not None:
        s["lookup_num_keys"], s["lookup_dim"], s["lookup_batch"] = lookup["n"], lookup["dim"], lookup["batch"]
        s["lookup_repeats"] = lookup["repeats"]
        s.update(lookup["ratios"])
        for peer, m in lookup["medians"].items():
            s[f"{peer}_single_lookup_us"] = m["single_ns"] / 1e3
            s[f"{peer}_single_absent_lookup_us"] = m["single_absent_ns"] / 1e3
            s[f"{peer}_batch_lookup_ns_per_key"] = m["batch_ns"]
            s[f"{peer}_batch_absent_lookup_ns_per_key"] = m["batch_absent_ns"]
            s[f"{peer}_absent_reported_present"] = m["absent_reported_present"]
            s[f"{peer}_lookup_process_rss_mib"] = _mib(m["rss_kib"])
        ph = lookup["medians"]["phq"]
        s["phq_single_slot_us"] = ph["single_slot_ns"] / 1e3 if ph.get("single_slot_ns") else None
        pure = lookup["medians"].get("phq_pure") or {}
        s["phq_pure_single_slot_us"] = pure["single_slot_ns"] / 1e3 if pure.get("single_slot_ns") else None
        # the unprefixed phq figures are the default reader's: phq._accel when it is built
        s["phq_lookup_accelerated"] = lookup.get("phq_accelerated")
        s["lookup_sanity_ok"] = all(m["sanity_ok"] for m in lookup["medians"].values())
    if clook is not None:
        r = clook["ratios"]
        s["c_lookup_num_keys"] = clook["n"]
        s["c_available"], s["c_reason"] = clook["c_available"], clook["c_reason"]
        s["c_lookup_vs_bbhash"] = r["bbhash_lookup_many_over_c_batch_key_to_row"]
        s["c_single_lookup_vs_bbhash"] = r["bbhash_lookup_many_over_c_key_to_row"]
        s["c_batch_hash_to_slot_vs_bbhash"] = r["bbhash_lookup_many_over_c_batch_hash_to_slot"]
        c = clook["c"] or {}
        s["c_batch_key_to_row_ns"] = c.get("batch_key_to_row_ns")
        s["c_key_to_row_ns"] = c.get("key_to_row_ns")
        s["bbhash_lookup_many_ns"] = (clook["bbhash"] or {}).get("lookup_many_ns")
    if readers is not None:
        s["readers_model_mib"] = readers["model_mib"]
        s["readers_counts"] = readers["readers"]
        s["readers_baseline_pss_mib"] = _mib(readers["baseline_pss_kib"])
        s.update(readers["ratios"])
        for kind, gs in readers["groups"].items():
            for r, g in gs.items():
                s[f"readers_{r}_{kind}_total_pss_mib"] = _mib(g["total_pss_kib"])
                s[f"readers_{r}_{kind}_model_pss_mib"] = _mib(g["model_pss_kib"])
        s["readers_sanity_ok"] = readers["sanity_ok"]


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
        "wordfreq_version": machine.get("wordfreq"),
        "safetensors_version": machine.get("safetensors"),
        "joblib_version": machine.get("joblib"),
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


def headline_table(s: dict) -> list[str]:
    """The headline figures: one row each, phq | peer | ratio (above 1: phq better, except
    where the row says otherwise)."""
    f = _fmt
    nb = s.get("build_num_keys")
    rows = [
        "| figure | phq | peer | ratio (> 1: phq better) |",
        "| --- | ---: | --- | ---: |",
    ]
    if nb:
        rows += [
            f"| MPH bits/key, γ = 1, {nb:,} synthetic keys | {f(s.get('phq_bits_per_key_gamma1'))} | BBHash {f(s.get('bbhash_bits_per_key_gamma1'))} | "
            f"{f(C.ratio(s.get('bbhash_bits_per_key_gamma1'), s.get('phq_bits_per_key_gamma1')))} |",
            f"| MPH bits/key, γ = 2 | {f(s.get('phq_bits_per_key_gamma2'))} | BBHash {f(s.get('bbhash_bits_per_key_gamma2'))} | "
            f"{f(C.ratio(s.get('bbhash_bits_per_key_gamma2'), s.get('phq_bits_per_key_gamma2')))} |",
            f"| build throughput incl. string hashing, γ = 1 | 1 thread | BBHash, 1 thread | {f(s.get('build_throughput_vs_bbhash'), 2)} |",
            f"| build throughput incl. string hashing, γ = 2 | 1 thread | BBHash, 1 thread | {f(s.get('build_throughput_vs_bbhash_gamma2'), 2)} |",
            f"| build throughput, MPH only, γ = 1 | 1 thread | BBHash, 1 thread | {f(s.get('build_throughput_vs_bbhash_no_hashing'), 2)} |",
            f"| peak build memory over the keys, γ = 1 (BBHash ÷ phq) | {f(s.get('phq_peak_rss_over_keys_mib_gamma1'), 0)} MiB | "
            f"BBHash {f(s.get('bbhash_peak_rss_over_keys_mib_gamma1'), 0)} MiB | "
            f"{f(C.ratio(s.get('bbhash_peak_rss_over_keys_mib_gamma1'), s.get('phq_peak_rss_over_keys_mib_gamma1')), 2)} |",
        ]
    if s.get("wordfreq_num_keys"):
        rows += [
            f"| real keys (wordfreq, {s['wordfreq_num_keys']:,} words): MPH bits/key, γ = 1 | {f(s.get('wordfreq_phq_bits_per_key_gamma1'))} | "
            f"BBHash {f(s.get('wordfreq_bbhash_bits_per_key_gamma1'))} | "
            f"{f(C.ratio(s.get('wordfreq_bbhash_bits_per_key_gamma1'), s.get('wordfreq_phq_bits_per_key_gamma1')))} |",
            f"| real keys: build throughput incl. hashing, γ = 1 | 1 thread | BBHash, 1 thread | {f(s.get('wordfreq_build_throughput_vs_bbhash_gamma1'), 2)} |",
        ]
    if "lookup_num_keys" in s:
        lk = f"{s['lookup_num_keys']:,} keys × {s['lookup_dim']} linear8"
        acc = " (`phq._accel`)" if s.get("phq_lookup_accelerated") else ""
        rows += [
            f"| batch lookup str → f32 row ({lk}, {s['lookup_batch']} a batch){acc}, ns/key | {f(s.get('phq_batch_lookup_ns_per_key'), 0)} | "
            f"BBHash + payload {f(s.get('bbhash_batch_lookup_ns_per_key'), 0)} | {f(s.get('batch_lookup_vs_bbhash'), 2)} |",
            f"| batch lookup, ns/key | {f(s.get('phq_batch_lookup_ns_per_key'), 0)} | dict of rows {f(s.get('dict_batch_lookup_ns_per_key'), 0)} | "
            f"{f(s.get('batch_lookup_vs_dict'), 2)} |",
            f"| single lookup `table[key]`{acc}, µs | {f(s.get('phq_single_lookup_us'), 2)} | BBHash + payload {f(s.get('bbhash_single_lookup_us'), 2)} | "
            f"{f(s.get('single_lookup_vs_bbhash'), 2)} |",
            f"| single lookup, µs | {f(s.get('phq_single_lookup_us'), 2)} | dict of rows {f(s.get('dict_single_lookup_us'), 2)} | "
            f"{f(s.get('single_lookup_vs_dict'), 2)} |",
            f"| absent keys, batch, ns/key (BBHash answers a wrong row for {f(100 * (s.get('bbhash_absent_reported_present') or 0), 1)} % of them; "
            f"phq for {f(100 * (s.get('phq_absent_reported_present') or 0), 3)} %) | {f(s.get('phq_batch_absent_lookup_ns_per_key'), 0)} | "
            f"BBHash {f(s.get('bbhash_batch_absent_lookup_ns_per_key'), 0)} | {f(s.get('batch_absent_lookup_vs_bbhash'), 2)} |",
        ]
        if s.get("phq_pure_batch_lookup_ns_per_key") is not None and s.get("phq_lookup_accelerated"):
            rows += [
                f"| pure Python reader (`PHQ_PURE=1`): batch lookup, ns/key | {f(s.get('phq_pure_batch_lookup_ns_per_key'), 0)} | "
                f"BBHash + payload {f(s.get('bbhash_batch_lookup_ns_per_key'), 0)} | {f(s.get('phq_pure_batch_lookup_vs_bbhash'), 2)} |",
                f"| pure Python reader: single lookup, µs | {f(s.get('phq_pure_single_lookup_us'), 2)} | "
                f"BBHash + payload {f(s.get('bbhash_single_lookup_us'), 2)} | {f(s.get('phq_pure_single_lookup_vs_bbhash'), 2)} |",
            ]
    if "c_lookup_num_keys" in s:
        rows.append(f"| C reader batch key → row vs BBHash `lookup_many` of pre-hashed keys ({s['c_lookup_num_keys']:,} keys), ns | "
                    f"{f(s.get('c_batch_key_to_row_ns'), 1)} | BBHash {f(s.get('bbhash_lookup_many_ns'), 1)} | {f(s.get('c_lookup_vs_bbhash'), 2)} |")
    if s.get("c_bbhash_headline_n"):
        nn = f"{s['c_bbhash_headline_n']:,} keys"
        rows += [
            f"| C batched pre-hashed key → slot, BBHash's C++ `lookup` ({nn}, same flags), ns/key | {f(s.get('c_slot_ns'), 1)} | "
            f"BBHash {f(s.get('bbhash_slot_ns'), 1)} | {f(s.get('c_slot_vs_bbhash'), 2)} |",
            f"| C batched str → hash → slot → fingerprint → 150 linear8 → f32 row, same work in C++ for BBHash ({nn}), ns/key | "
            f"{f(s.get('c_row_ns'), 1)} | BBHash {f(s.get('bbhash_row_ns'), 1)} | {f(s.get('c_row_vs_bbhash'), 2)} |",
            f"| Python `table.lookup(keys)` (`phq._accel`), str → 150-wide f32 row ({nn}, {s.get('c_bbhash_batch')} a batch), ns/key | "
            f"{f(s.get('accel_row_ns'), 1)} | BBHash C++ {f(s.get('bbhash_row_ns'), 1)} | {f(C.ratio(s.get('bbhash_row_ns'), s.get('accel_row_ns')), 2)} |",
        ]
    if "open_small_mib" in s:
        rows.append(f"| open + first lookup, {s['open_large_mib']:.0f} MiB vs {s['open_small_mib']:.0f} MiB model (time ratio; near 1 = size-independent) | "
                    f"{f(s.get('open_plus_lookup_time_ratio_large_vs_small'), 2)} | .npy mmap {f(s.get('npy_open_plus_lookup_time_ratio_large_vs_small'), 2)} | |")
        for k in bench_open.FORMATS:
            if s.get(f"open_lookup_time_vs_{k}_large") is not None:
                rows.append(f"| open + first lookup, {s['open_large_mib']:.0f} MiB model: time / RSS | | {k} | "
                            f"{f(s.get(f'open_lookup_time_vs_{k}_large'), 1)} / {f(s.get(f'open_lookup_rss_vs_{k}_large'), 1)} |")
    if "readers_model_mib" in s:
        rc = max(s["readers_counts"])
        rows.append(f"| {rc} readers of a {s['readers_model_mib']:.0f} MiB model, total PSS MiB (ratio: pickle ÷ phq) | "
                    f"{f(s.get(f'readers_{rc}_phq_total_pss_mib'), 0)} | pickle {f(s.get(f'readers_{rc}_pickle_total_pss_mib'), 0)} | "
                    f"{f(s.get(f'readers_{rc}_total_pss_vs_pickle'), 2)} |")
        rows.append(f"| {rc} readers ÷ 1 reader, model memory (PSS minus idle interpreters; 1 = one copy) | "
                    f"{f(s.get(f'readers_model_pss_ratio_{rc}_vs_1_phq'), 2)} | pickle {f(s.get(f'readers_model_pss_ratio_{rc}_vs_1_pickle'), 2)} | |")
    return rows


def details_more(s: dict, gammas: list[float]) -> list[str]:
    out: list[str] = []
    f = _fmt
    if "scaling_ns" in s:
        gs = [_g(g) for g in gammas]
        out += ["MPH build scaling (medians of fresh processes; BBHash 1 thread; plot: `scaling.png`). "
                "Throughput ratio = BBHash time ÷ phq time, string hashing included.", "",
                "| keys | N | " + " | ".join(f"phq bits/key {g} | BBHash bits/key {g} | throughput ratio {g}" for g in gs) + " |",
                "| --- | ---: | " + " | ".join("---: | ---: | ---:" for _ in gs) + " |"]
        tags = [(f"scaling_n{n}", "synthetic", n) for n in s["scaling_ns"]]
        if s.get("wordfreq_num_keys"):
            tags.append(("wordfreq", "wordfreq (real)", s["wordfreq_num_keys"]))
        for tag, label, n in tags:
            out.append(f"| {label} | {n:,} | " + " | ".join(
                f"{f(s.get(f'{tag}_phq_bits_per_key_{g}'))} | {f(s.get(f'{tag}_bbhash_bits_per_key_{g}'))} | "
                f"{f(s.get(f'{tag}_build_throughput_vs_bbhash_{g}'), 2)}" for g in gs) + " |")
        if not s.get("wordfreq_available", True):
            out += ["", f"Real keys: n/a ({s.get('wordfreq_reason')})"]
        out.append("")
    if s.get("c_bbhash_ns"):
        out += [f"C/C++ lookups against BBHash's own C++ (BooPHF.h from the bbhash {bench_c_bbhash.BBHASH_VERSION} sdist), "
                f"both compiled with `{s.get('c_bbhash_cflags')}`, single thread; {bench_c_bbhash.DIM} linear8 columns, column "
                f"scales, 16-bit fingerprints, γ = 2. ns/key: mean / p50 / p99 of per-{s.get('c_bbhash_batch')}-key batches "
                "(thread CPU time), best of the passes. Member keys | non-member keys.", "",
                "| n | figure | phq batched | phq single-key | BBHash | phq batched, non-members | BBHash, non-members |",
                "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
        for n in s["c_bbhash_ns"]:
            for what, label in (("slot", "pre-hashed key → slot"), ("row", "str → f32 row")):
                def g(fig, who, _n=n):
                    k = f"c_bbhash_n{_n}_{fig}_{who}_"
                    return "n/a" if s.get(k + "mean_ns") is None else \
                        f"{s[k + 'mean_ns']:.1f} / {s[k + 'p50_ns']:.1f} / {s[k + 'p99_ns']:.1f}"
                out.append(f"| {n:,} | {label} | {g(f'phq_{what}', 'member')} | {g(f'phq_{what}_single', 'member')} | "
                           f"{g(f'bbhash_{what}', 'member')} | {g(f'phq_{what}', 'nonmember')} | {g(f'bbhash_{what}', 'nonmember')} |")
            if s.get(f"c_bbhash_n{n}_load_average") is not None:
                out.append(f"| {n:,} | load average of the machine (2 cores shared with other jobs) when this size started | "
                           f"{f(s[f'c_bbhash_n{n}_load_average'], 1)} | | | | |")
            if s.get(f"accel_n{n}_row_member_ns") is not None:
                out.append(f"| {n:,} | Python `table.lookup` (accelerated) str → f32 row, mean | {f(s[f'accel_n{n}_row_member_ns'], 1)} | | | "
                           f"{f(s[f'accel_n{n}_row_nonmember_ns'], 1)} | |")
        if not s.get("c_bbhash_available", True):
            out += ["", f"C/C++ figures are n/a: {s.get('c_bbhash_reason')}"]
        out.append("")
    if "lookup_num_keys" in s:
        out += [f"Lookups, str key → float32 row, {s['lookup_num_keys']:,} keys × {s['lookup_dim']} columns (linear8, column "
                f"scales, 16-bit fingerprints), batches of {s['lookup_batch']}; median of {s['lookup_repeats']} fresh "
                "process(es) per peer, each the best of several passes. Plot: `lookup.png`.", "",
                "| peer | single, µs | single absent, µs | batch, ns/key | batch absent, ns/key | absent keys answered with a row | process RSS, MiB |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for peer, label in (("phq", "phq (`phq._accel`)" if s.get("phq_lookup_accelerated") else "phq"),
                            ("phq_pure", "phq, pure Python (`PHQ_PURE=1`)"), ("bbhash", "BBHash + u8 payload"),
                            ("dict", "dict of float32 rows")):
            if s.get(f"{peer}_single_lookup_us") is None:
                continue
            out.append(f"| {label} | {f(s[f'{peer}_single_lookup_us'], 2)} | {f(s[f'{peer}_single_absent_lookup_us'], 2)} | "
                       f"{f(s[f'{peer}_batch_lookup_ns_per_key'], 0)} | {f(s[f'{peer}_batch_absent_lookup_ns_per_key'], 0)} | "
                       f"{f(100 * s[f'{peer}_absent_reported_present'], 3)} % | {f(s[f'{peer}_lookup_process_rss_mib'], 0)} |")
        out += ["", f"phq `table.slot(key)` alone (MPH + fingerprint, no row): {f(s.get('phq_single_slot_us'), 2)} µs "
                f"(pure Python: {f(s.get('phq_pure_single_slot_us'), 2)} µs). Accelerator speed-up (pure ÷ accelerated): "
                f"single {f(s.get('accel_speedup_single_lookup'), 1)}×, batch {f(s.get('accel_speedup_batch_lookup'), 1)}×.", ""]
        if s.get("lookup_remeasured"):
            r = s["lookup_remeasured"]
            out += [f"The lookup figures were re-measured by `{r['command']}` at {r['timestamp_utc']} (phq {r.get('git_commit')}), "
                    "merged into the full run's summary.", ""]
    if "c_lookup_num_keys" in s:
        out += [f"C reader ({s['c_lookup_num_keys']:,} keys, dim 1): batch key → row {f(s.get('c_batch_key_to_row_ns'), 1)} ns, "
                f"single key → row {f(s.get('c_key_to_row_ns'), 1)} ns; BBHash `lookup_many` of pre-hashed keys (index only) "
                f"{f(s.get('bbhash_lookup_many_ns'), 1)} ns; ratio {f(s.get('c_lookup_vs_bbhash'), 2)}; batch hash → slot vs "
                f"BBHash {f(s.get('c_batch_hash_to_slot_vs_bbhash'), 2)}.", ""]
    if s.get("open_lookup_time_vs_pickle_large") is not None:
        out += ["Open + first lookup of the same model in other formats (warm page cache): "
                "format's time (RSS) ÷ phq's; above 1, phq is faster (smaller).", "",
                "| format | small: time | small: RSS | large: time | large: RSS |", "| --- | ---: | ---: | ---: | ---: |"]
        for k in bench_open.FORMATS:
            out.append(f"| {k} | {f(s.get(f'open_lookup_time_vs_{k}_small'), 1)} | {f(s.get(f'open_lookup_rss_vs_{k}_small'), 1)} | "
                       f"{f(s.get(f'open_lookup_time_vs_{k}_large'), 1)} | {f(s.get(f'open_lookup_rss_vs_{k}_large'), 1)} |")
        out.append("")
    if "readers_model_mib" in s:
        out += [f"Readers of a {s['readers_model_mib']:.0f} MiB model, each looking up every key; total PSS (MiB) over the "
                f"processes; an idle interpreter is {f(s['readers_baseline_pss_mib'], 0)} MiB.", "",
                "| kind | " + " | ".join(f"{r} reader(s): total | {r}: model" for r in s["readers_counts"]) + " |",
                "| --- | " + " | ".join("---: | ---:" for _ in s["readers_counts"]) + " |"]
        for kind in ("phq", "npz", "pickle"):
            if s.get(f"readers_{s['readers_counts'][0]}_{kind}_total_pss_mib") is None:
                continue
            out.append(f"| {kind} | " + " | ".join(
                f"{f(s.get(f'readers_{r}_{kind}_total_pss_mib'), 0)} | {f(s.get(f'readers_{r}_{kind}_model_pss_mib'), 0)}"
                for r in s["readers_counts"]) + " |")
        out.append("")
    return out


def markdown(s: dict, gammas: list[float]) -> str:
    q = " (quick run: tiny sizes, not representative)" if s["quick"] else ""
    out = [f"# phq benchmark summary{q}", "", "## Headline", ""] + headline_table(s) + [""]
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
    out += details_more(s, gammas)
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


def plot_lookup(lookup: dict, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception:
        return False
    med = lookup["medians"]
    peers = [p for p in ("phq", "phq_pure", "bbhash", "dict") if p in med]
    labels = {"phq": "phq (phq._accel)" if lookup.get("phq_accelerated") else "phq", "phq_pure": "phq, pure Python",
              "bbhash": "BBHash + payload", "dict": "dict of rows"}
    figs = [("single_ns", "single"), ("single_absent_ns", "single, absent"), ("batch_ns", "batch"), ("batch_absent_ns", "batch, absent")]
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(peers)
    for j, p in enumerate(peers):
        ax.bar([i + j * width for i in range(len(figs))], [med[p][k] for k, _ in figs], width, label=labels[p])
    ax.set_xticks([i + width * (len(peers) - 1) / 2 for i in range(len(figs))], [lab for _, lab in figs])
    ax.set(yscale="log", ylabel="ns per key (log)",
           title=f"str key -> float32 row, {lookup['n']:,} keys x {lookup['dim']} (lower is better)")
    ax.legend()
    ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Run the phq benchmarks and write bench/results/.")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, written to bench/out/quick/")
    ap.add_argument("--out", type=Path, help="output directory (default bench/results, or bench/out/quick with --quick)")
    ap.add_argument("--cache", type=Path, help="generated keys and models (default bench/out, or OUT/cache with --quick)")
    ap.add_argument("--only", choices=PARTS, nargs="+", help="run these parts only")
    ap.add_argument("--n", type=int, help="keys for the build benchmark (default 10,000,000; 20,000 with --quick)")
    ap.add_argument("--gamma", type=float, nargs="+", default=[1.0, 2.0], help="gammas (default 1 2)")
    ap.add_argument("--bbhash-threads", type=int, nargs="+", default=[1, 2], help="BBHash thread counts (default 1 2)")
    ap.add_argument("--no-bbhash", action="store_true", help="skip BBHash (its figures become null with a reason)")
    ap.add_argument("--build-repeats", type=int, help="fresh processes per build peer (default 5; 1 with --quick)")
    ap.add_argument("--scaling-ns", type=int, nargs="+", help="N of the scaling sweep (default 10^4 10^5 10^6 10^7)")
    ap.add_argument("--scaling-repeats", type=int, help="fresh processes per scaling point (default 3; 1 with --quick)")
    ap.add_argument("--no-real-keys", action="store_true", help="skip the wordfreq keys")
    ap.add_argument("--lookup-n", type=int, help="keys of the lookup model (default 1,000,000; 20,000 with --quick)")
    ap.add_argument("--lookup-dim", type=int, default=150, help="columns of the lookup model (default 150)")
    ap.add_argument("--lookup-repeats", type=int, help="fresh processes per lookup peer (default 3; 1 with --quick)")
    ap.add_argument("--c-lookup-n", type=int, help="keys of the C lookup benchmark (default 10,000,000; 20,000 with --quick)")
    ap.add_argument("--c-bbhash-n", type=int, nargs="+", help="keys of the C/C++ vs BBHash benchmark (default 10^6 10^7; 20,000 with --quick)")
    ap.add_argument("--c-bbhash-repeats", type=int, help="passes over all keys in the C/C++ vs BBHash benchmark (default 3; 1 with --quick)")
    ap.add_argument("--open-repeats", type=int, help="fresh processes per open case (default 9; 3 with --quick)")
    ap.add_argument("--format-repeats", type=int, help="fresh processes per other-format open case (default 5; 1 with --quick)")
    ap.add_argument("--small-mb", type=float, help="small model payload, MiB (default 10; 1 with --quick)")
    ap.add_argument("--large-mb", type=float, help="large model payload, MiB (default 1024; 8 with --quick)")
    ap.add_argument("--dim", type=int, default=128, help="f32 columns of the open and readers models (default 128)")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-cache open measurements")
    ap.add_argument("--readers-mb", type=float, help="readers model payload, MiB (default 256; 4 with --quick)")
    ap.add_argument("--readers", type=int, nargs="+", help="reader counts (default 1 8; 1 3 with --quick)")
    ap.add_argument("--readme-only", action="store_true", help="rewrite the README table from results/summary.json, run nothing")
    ap.add_argument("--merge", action="store_true",
                    help="with --only: update the output directory's summary.json with this run's figures (keeping the "
                         "others and the full run's command), rewrite summary.md and, for bench/results, the README table")
    a = ap.parse_args(argv)
    if a.readme_only:
        return 0 if update_readme(json.loads((C.DEFAULT_RESULTS / "summary.json").read_text())) else 1
    q = a.quick
    out = a.out or (C.QUICK_RESULTS if q else C.DEFAULT_RESULTS)
    cache = a.cache or ((out / "cache") if q else C.DEFAULT_CACHE)
    n = a.n or (20_000 if q else 10_000_000)
    build_repeats = a.build_repeats or (1 if q else 5)
    open_repeats = a.open_repeats or (3 if q else 9)
    small_mb = a.small_mb or (1 if q else 10)
    large_mb = a.large_mb or (8 if q else 1024)
    a.bbhash_threads = sorted(set(a.bbhash_threads))
    parts = set(a.only or PARTS)
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731

    command = C.command_line()
    machine = C.machine_info()
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    build = opened = scaling = lookup = clook = readers = cbb = None

    def save(name: str, res: dict) -> None:
        res["machine"], res["command"] = machine, command
        (out / f"{name}.json").write_text(json.dumps(res, indent=2) + "\n")

    if "build" in parts:
        build = bench_build.run_build(n, a.gamma, a.bbhash_threads, build_repeats, cache, not a.no_bbhash, log=log)
        save("build", build)
        print(bench_build.format_table(build), flush=True)
    if "scaling" in parts:
        ns = a.scaling_ns or ([2_000, 20_000] if q else [10_000, 100_000, 1_000_000, 10_000_000])
        scaling = bench_build.run_scaling(
            ns, a.gamma, a.scaling_repeats or (1 if q else 3), cache, not a.no_bbhash, real=not a.no_real_keys,
            reuse=build, real_pattern="small_en.msgpack.gz" if q else "*.msgpack.gz", log=log)
        scaling["plot"] = "scaling.png" if bench_build.plot_scaling(scaling, out / "scaling.png") else None
        save("scaling", scaling)
    if "lookup" in parts:
        lookup = bench_lookup.run_lookup(
            a.lookup_n or (20_000 if q else 1_000_000), a.lookup_dim, a.lookup_repeats or (1 if q else 3), cache,
            not a.no_bbhash, sample=2_000 if q else 20_000, batch_sample=8_192 if q else 65_536,
            passes=2 if q else 5, log=log)
        lookup["plot"] = "lookup.png" if plot_lookup(lookup, out / "lookup.png") else None
        save("lookup", lookup)
        print(bench_lookup.format_table(lookup), flush=True)
    if "c_lookup" in parts:
        clook = bench_c_lookup.run_c_lookup(a.c_lookup_n or (20_000 if q else 10_000_000), 2.0, 3, cache, not a.no_bbhash)
        save("c_lookup", clook)
        log(f"[c_lookup] ratio bbhash lookup_many / C batch key->row: {clook['ratios']['bbhash_lookup_many_over_c_batch_key_to_row']}")
    if "c_bbhash" in parts:
        cbb = bench_c_bbhash.run_c_bbhash(a.c_bbhash_n or ([20_000] if q else [1_000_000, 10_000_000]),
                                          a.c_bbhash_repeats or (1 if q else 3), 4096, cache, log=log)
        cbb["flat"] = bench_c_bbhash.flat(cbb)
        save("c_bbhash", cbb)
        print(bench_c_bbhash.format_table(cbb), flush=True)
    if "open" in parts:
        opened = bench_open.run_open(small_mb, large_mb, a.dim, open_repeats, cache, True, not a.no_cold,
                                     format_repeats=a.format_repeats or (1 if q else 5), log=log)
        save("open", opened)
        print(bench_open.format_table(opened), flush=True)
    if "readers" in parts:
        readers = bench_readers.run_readers(a.readers_mb or (4 if q else 256), a.dim, sorted(set(a.readers or ([1, 3] if q else [1, 8]))),
                                            cache, log=log)
        save("readers", readers)
        print(bench_readers.format_table(readers), flush=True)
    summary = summarize(build, opened, a, machine, command)
    summarize_more(summary, scaling, lookup, clook, readers, cbb)
    summary["plots"] = [p for p in ("scaling.png", "lookup.png") if (out / p).exists()]
    summary["wall_seconds"] = round(time.perf_counter() - t0, 1)
    if a.merge and (out / "summary.json").exists():
        summary = merge_summary(json.loads((out / "summary.json").read_text()), summary, sorted(parts))
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(markdown(summary, a.gamma))
    if not q and a.out is None and (a.only is None or a.merge):
        update_readme(summary)
    log(f"[run] wrote {out}/summary.json and summary.md in {summary['wall_seconds']} s")
    return 0


# keys that describe a whole run: a merge keeps the full run's (the partial run's machine
# goes into `{part}_remeasured`)
RUN_KEYS = ("quick", "command", "timestamp_utc", "wall_seconds", "git_commit", "phq_version", "cpu_count", "cpu_model",
            "mem_total_gib", "platform")


def merge_summary(old: dict, new: dict, parts: list[str]) -> dict:
    """The full run's summary with this partial run's figures written over it; the run-level
    keys stay the full run's, and `{part}_remeasured` says which command re-measured what."""
    merged = dict(old)
    for k, v in new.items():
        if k not in RUN_KEYS:
            merged[k] = v
    merged["plots"] = sorted(set(old.get("plots", [])) | set(new.get("plots", [])))
    for part in parts:
        merged[f"{part}_remeasured"] = {"command": new["command"], "timestamp_utc": new["timestamp_utc"],
                                        "git_commit": new.get("git_commit"), "wall_seconds": new.get("wall_seconds"),
                                        "cpu_count": new.get("cpu_count"), "cpu_model": new.get("cpu_model")}
    return merged


README = C.REPO / "README.md"
MARK, END = "<!-- bench-summary -->", "<!-- /bench-summary -->"


def update_readme(s: dict) -> bool:
    """Replace the README's "Measured" block between MARK and END (or, without END, up to
    the next blank line) with the headline table of this run and its command."""
    text = README.read_text()
    if MARK not in text:
        return False
    head, rest = text.split(MARK, 1)
    if END in rest:
        tail = rest[rest.index(END):]
    else:
        lines = rest.split("\n")
        i = 1
        while i < len(lines) and lines[i].strip():
            i += 1
        tail = "\n".join(lines[i:])
    block = ["", *headline_table(s), "",
             f"Reproduce: `make bench` (= `{s['command']}`, about {s.get('wall_seconds', 0) / 60:.0f} min); "
             f"{s['timestamp_utc']}, {s['cpu_count']} CPUs ({s['cpu_model']}). Ratios are against peers measured in "
             "the same run on the same data; the machine's 2 cores are shared, so ratios move by about ±15 % between "
             "runs. Every table, the scaling and lookup plots: [bench/results/summary.md](bench/results/summary.md)."
             + "".join(f" {part.capitalize()} rows re-measured with `{s[part + '_remeasured']['command']}` at "
                       f"{s[part + '_remeasured']['timestamp_utc']}"
                       + (f" on {s[part + '_remeasured']['cpu_count']} CPUs ({s[part + '_remeasured']['cpu_model']})"
                          if s[part + "_remeasured"].get("cpu_model") else "") + "."
                       for part in PARTS if s.get(part + "_remeasured")), ""]
    README.write_text(head + MARK + "\n".join(block) + tail)
    return True


if __name__ == "__main__":
    sys.exit(main())
