"""Open cost against file size: phq.open of a ~10 MB and a >= 1 GB model.

    .venv/bin/python bench/bench_open.py                       # 10 MiB vs 1 GiB, 9 repeats
    .venv/bin/python bench/bench_open.py --small-mb 1 --large-mb 8 --repeats 3

Both models are dense f32 tables of `--dim` columns (default 128: 512 bytes a row), so
the large one has ~100x the keys and ~100x the bytes of the small one. They are built once
with phq.writer.write and kept in bench/out/ (git-ignored) for the next run; so is an .npy
of the same payload, opened with np.load(mmap_mode="r") for context.

Each measurement is a fresh subprocess that imports numpy and phq first, then records
  open_s          time of phq.open(path)          (np.load(path, mmap_mode="r") for .npy)
  first_lookup_s  time of the first lookup, copied out: np.array(model.tables["w"][key])
  rss_open_kib    VmRSS increase across the open
  rss_lookup_kib  VmRSS increase across the first lookup
Repeated --repeats times per case (round-robin), medians reported. "warm": the file's
pages are in the page cache (one discarded warm-up run first); "cold": the file's cached
pages are dropped with posix_fadvise(DONTNEED) just before the open (no root needed).

A ratio large/small near 1 means the cost does not grow with the file.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

SCRIPT = Path(__file__).resolve()
TABLE = "w"
MIB = 1 << 20


# --- worker (fresh process per measurement) ------------------------------------------------------
def _drop_cache(path: str) -> bool:
    if not hasattr(os, "posix_fadvise"):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return True
    finally:
        os.close(fd)


def worker(a) -> dict:
    import numpy as np

    import phq

    key = a.key.encode("ascii") if a.key is not None else None
    skey = a.key
    if a.kind in ("safetensors", "npz", "pickle", "joblib"):
        import json
        import pickle

        if a.kind == "safetensors":
            from safetensors import safe_open
        if a.kind == "joblib":
            import joblib
    dropped = _drop_cache(a.path) if a.cold else False
    gc.collect()
    s0 = C.proc_status()
    t0 = time.perf_counter_ns()
    # open: whatever must happen before a key can be looked up (the vocabulary included)
    if a.kind == "phq":
        m = phq.open(a.path)
    elif a.kind == "npy":
        m = np.load(a.path, mmap_mode="r")
    elif a.kind == "safetensors":
        m = safe_open(a.path, "numpy")
        with open(a.path + ".vocab.json", "rb") as f:
            vocab = {k: i for i, k in enumerate(json.load(f))}
    elif a.kind == "npz":
        m = np.load(a.path)
        vocab = {k: i for i, k in enumerate(m["keys"].tolist())}
    elif a.kind == "pickle":
        with open(a.path, "rb") as f:
            m = pickle.load(f)
    else:  # joblib, its arrays memory-mapped: the most favourable way to load it
        m = joblib.load(a.path, mmap_mode="r")
    t1 = time.perf_counter_ns()
    s1 = C.proc_status()
    t2 = time.perf_counter_ns()
    if a.kind == "phq":
        row = np.array(m.tables[TABLE][key])
    elif a.kind == "npy":
        row = np.array(m[a.row])
    elif a.kind == "safetensors":
        row = np.array(m.get_slice("w")[vocab[skey]])
    elif a.kind == "npz":
        row = np.array(m["w"][vocab[skey]])
    else:
        row = np.array(m["w"][m["vocab"][skey]])
    t3 = time.perf_counter_ns()
    s2 = C.proc_status()
    ok = bool(row.shape == (a.dim,) and np.isfinite(row).all())

    def d(k, x, y):
        return (y.get(k, 0) - x.get(k, 0)) if k in x and k in y else None

    return {
        "open_s": (t1 - t0) / 1e9,
        "first_lookup_s": (t3 - t2) / 1e9,
        "open_plus_lookup_s": (t1 - t0 + t3 - t2) / 1e9,
        "rss_open_kib": d("VmRSS", s0, s1),
        "rss_lookup_kib": d("VmRSS", s1, s2),
        "rss_total_kib": d("VmRSS", s0, s2),
        "rss_file_total_kib": d("RssFile", s0, s2),
        "rss_anon_total_kib": d("RssAnon", s0, s2),
        "rss_before_kib": s0.get("VmRSS"),
        "cache_dropped": dropped,
        "row_sum": float(row.astype(np.float64).sum()),
        "sanity_ok": ok,
    }


# --- model files ------------------------------------------------------------------------------------
def rows_for(mb: float, dim: int) -> int:
    return max(1, math.ceil(mb * MIB / (dim * 4)))


def _phq_ok(path: Path, n: int, dim: int) -> bool:
    import phq

    try:
        with phq.open(path) as m:
            t = m.tables.get(TABLE)
            return t is not None and t.num_keys == n and t.dim == dim and t.quant == "f32" and t.layout == "dense"
    except Exception:
        return False


def _npy_ok(path: Path, n: int, dim: int) -> bool:
    import numpy as np

    try:
        a = np.load(path, mmap_mode="r")
        return a.shape == (n, dim) and a.dtype == np.float32
    except Exception:
        return False


def ensure_models(n: int, dim: int, cache: Path, want_npy: bool, log=print) -> dict:
    """Build (or reuse) the phq model and the .npy of the same payload. Returns paths and sizes."""
    import numpy as np

    import phq.writer

    cache.mkdir(parents=True, exist_ok=True)
    phq_path = cache / f"open_{n}x{dim}_f32.phq"
    npy_path = cache / f"open_{n}x{dim}_f32.npy"
    need_phq = not (phq_path.exists() and _phq_ok(phq_path, n, dim))
    need_npy = want_npy and not (npy_path.exists() and _npy_ok(npy_path, n, dim))
    built = {"phq": False, "npy": False, "build_s": None}
    if need_phq or need_npy:
        t = time.perf_counter()
        rows = np.random.default_rng(n).standard_normal((n, dim), dtype=np.float32)
        if need_phq:
            keys = C.make_keys(n)
            phq.writer.write(phq_path, {TABLE: (keys, rows)}, quant="f32", layout="dense")
            del keys
            built["phq"] = True
        if need_npy:
            tmp = npy_path.with_suffix(".npy.tmp")
            with open(tmp, "wb") as f:
                np.save(f, rows)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, npy_path)
            built["npy"] = True
        del rows
        built["build_s"] = time.perf_counter() - t
        log(f"[open] built {n} x {dim} model(s) in {built['build_s']:.1f} s ({phq_path.name})")
    else:
        log(f"[open] reusing {phq_path.name}" + (f" and {npy_path.name}" if want_npy else ""))
    out = {
        "num_keys": n,
        "dim": dim,
        "phq_path": str(phq_path),
        "phq_bytes": phq_path.stat().st_size,
        "built_this_run": built,
        "lookup_key": C.make_key(n // 2),
        "npy_row": n // 2,
    }
    if want_npy:
        out["npy_path"] = str(npy_path)
        out["npy_bytes"] = npy_path.stat().st_size
    return out


FORMATS = ("safetensors", "npz", "pickle", "joblib")


def ensure_formats(model: dict, cache: Path, log=print) -> dict:
    """The same model (keys + f32 rows, rows[i] the row of make_key(i)) as safetensors (+ a
    JSON vocabulary beside it), .npz (arrays `keys` and `w`), pickle and joblib (a dict
    {"vocab": {key: i}, "w": rows}). Built once, reused. Returns {format: path}."""
    import json
    import pickle

    import joblib
    import numpy as np
    import safetensors.numpy

    n, dim = model["num_keys"], model["dim"]
    stem = cache / f"open_{n}x{dim}_f32"
    paths = {f: Path(f"{stem}.{ext}") for f, ext in
             (("safetensors", "safetensors"), ("npz", "npz"), ("pickle", "pkl"), ("joblib", "joblib"))}
    missing = [f for f, p in paths.items() if not p.exists() or (f == "safetensors" and not Path(f"{p}.vocab.json").exists())]
    if missing:
        t = time.perf_counter()
        rows = np.random.default_rng(n).standard_normal((n, dim), dtype=np.float32)  # as ensure_models
        keys = [C.make_key(i) for i in range(n)]
        for f in missing:
            p = paths[f]
            tmp = Path(f"{p}.tmp")
            if f == "safetensors":
                safetensors.numpy.save_file({"w": rows}, str(tmp))
                Path(f"{p}.vocab.json").write_text(json.dumps(keys))
            elif f == "npz":
                with open(tmp, "wb") as fh:
                    np.savez(fh, keys=np.array(keys), w=rows)
            elif f == "pickle":
                with open(tmp, "wb") as fh:
                    pickle.dump({"vocab": {k: i for i, k in enumerate(keys)}, "w": rows}, fh, protocol=pickle.HIGHEST_PROTOCOL)
            else:
                joblib.dump({"vocab": {k: i for i, k in enumerate(keys)}, "w": rows}, str(tmp))
            os.replace(tmp, p)
        del rows, keys
        log(f"[open] built {', '.join(missing)} copies of {stem.name} in {time.perf_counter() - t:.1f} s")
    out = {}
    for f, p in paths.items():
        size = p.stat().st_size + (Path(f"{p}.vocab.json").stat().st_size if f == "safetensors" else 0)
        out[f] = {"path": str(p), "bytes": size}
    return out


# --- orchestration ------------------------------------------------------------------------------------
def _measure(kind: str, model: dict, cold: bool) -> dict:
    args = ["--kind", kind, "--dim", str(model["dim"])]
    if kind == "phq":
        args += ["--path", model["phq_path"], "--key", model["lookup_key"]]
    elif kind == "npy":
        args += ["--path", model["npy_path"], "--row", str(model["npy_row"])]
    else:
        args += ["--path", model["formats"][kind]["path"], "--key", model["lookup_key"]]
    if cold:
        args.append("--cold")
    return C.run_worker(SCRIPT, args)


FIELDS = ("open_s", "first_lookup_s", "open_plus_lookup_s", "rss_open_kib", "rss_lookup_kib", "rss_total_kib",
          "rss_file_total_kib", "rss_anon_total_kib")


def run_open(small_mb: float, large_mb: float, dim: int, repeats: int, cache: Path,
             npy: bool = True, cold: bool = True, formats: bool = True, format_repeats: int | None = None,
             log=print) -> dict:
    sizes = {"small": rows_for(small_mb, dim), "large": rows_for(large_mb, dim)}
    models = {name: ensure_models(n, dim, cache, npy, log) for name, n in sizes.items()}
    fmt_ok, fmt_reason = C.package_status("safetensors", "joblib") if formats else (False, "formats skipped (--no-formats)")
    if fmt_ok:
        for m in models.values():
            m["formats"] = ensure_formats(m, cache, log)
    kinds = ["phq"] + (["npy"] if npy else [])
    modes = ["warm"] + (["cold"] if cold else [])
    raw: dict = {}
    for mode in modes:  # all warm runs first: a cold run would re-read pages for the next warm one
        cases = [(k, s) for k in kinds for s in sizes]
        if mode == "warm":
            for k, s in cases:
                _measure(k, models[s], False)  # warm-up, discarded
        for r in range(repeats):
            for k, s in cases:
                rec = _measure(k, models[s], mode == "cold")
                raw.setdefault(mode, {}).setdefault(k, {}).setdefault(s, []).append(rec)
        log(f"[open] {mode}: {repeats} repeat(s) of {len(cases)} case(s) done")
    if fmt_ok:  # the other formats: warm page cache only, phq again in the same round-robin
        fr = format_repeats or repeats
        cases = [(k, s) for k in FORMATS for s in sizes]
        for k, s in cases:
            _measure(k, models[s], False)  # warm-up, discarded
        for r in range(fr):
            for k, s in cases:
                raw.setdefault("formats", {}).setdefault(k, {}).setdefault(s, []).append(_measure(k, models[s], False))
            for s in sizes:
                raw["formats"].setdefault("phq", {}).setdefault(s, []).append(_measure("phq", models[s], False))
        log(f"[open] formats: {fr} repeat(s) of {len(cases)} case(s) done")
    result: dict = {
        "dim": dim,
        "repeats": repeats,
        "models": models,
        "size_ratio_large_vs_small": C.ratio(models["large"]["phq_bytes"], models["small"]["phq_bytes"]),
        "units": {"*_s": "seconds (wall, perf_counter)", "*_kib": "KiB (from /proc/self/status)"},
        "formats_available": fmt_ok,
        "formats_reason": fmt_reason,
        "medians": {},
        "runs": raw,
        "ratios": {},
    }
    for mode, by_kind in raw.items():
        for k, by_size in by_kind.items():
            for s, recs in by_size.items():
                med = {f: C.median([r[f] for r in recs]) for f in FIELDS}
                med["sanity_ok"] = all(r["sanity_ok"] for r in recs)
                med["cache_dropped"] = all(r["cache_dropped"] for r in recs)
                result["medians"].setdefault(mode, {}).setdefault(k, {})[s] = med
            m = result["medians"][mode][k]
            if mode == "formats":
                continue
            pre = "" if k == "phq" else f"{k}_"
            suf = "" if mode == "warm" else f"_{mode}"
            ra = result["ratios"]
            ra[f"{pre}open_time_ratio_large_vs_small{suf}"] = C.ratio(m["large"]["open_s"], m["small"]["open_s"])
            ra[f"{pre}open_rss_ratio_large_vs_small{suf}"] = C.ratio(m["large"]["rss_open_kib"], m["small"]["rss_open_kib"])
            ra[f"{pre}first_lookup_time_ratio_large_vs_small{suf}"] = C.ratio(
                m["large"]["first_lookup_s"], m["small"]["first_lookup_s"])
            ra[f"{pre}open_plus_lookup_time_ratio_large_vs_small{suf}"] = C.ratio(
                m["large"]["open_plus_lookup_s"], m["small"]["open_plus_lookup_s"])
            ra[f"{pre}open_plus_lookup_rss_ratio_large_vs_small{suf}"] = C.ratio(
                m["large"]["rss_total_kib"], m["small"]["rss_total_kib"])
        if mode == "formats":
            mp = result["medians"][mode]["phq"]
            ra = result["ratios"]
            for k in FORMATS:
                for s in sizes:
                    mk = result["medians"][mode][k][s]
                    # > 1: phq is faster / smaller
                    ra[f"open_lookup_time_vs_{k}_{s}"] = C.ratio(mk["open_plus_lookup_s"], mp[s]["open_plus_lookup_s"])
                    ra[f"open_lookup_rss_vs_{k}_{s}"] = C.ratio(mk["rss_total_kib"], mp[s]["rss_total_kib"])
                ra[f"{k}_open_plus_lookup_time_ratio_large_vs_small"] = C.ratio(
                    result["medians"][mode][k]["large"]["open_plus_lookup_s"], result["medians"][mode][k]["small"]["open_plus_lookup_s"])
            result["formats_rows_agree"] = all(
                len({round(r["row_sum"], 3) for k in result["medians"][mode] for r in raw[mode][k][s]}) == 1 for s in sizes)
            continue
        if npy:
            mp, mn = result["medians"][mode]["phq"], result["medians"][mode]["npy"]
            suf = "" if mode == "warm" else f"_{mode}"
            for s in sizes:
                result["ratios"][f"phq_vs_npy_open_time_{s}{suf}"] = C.ratio(mp[s]["open_s"], mn[s]["open_s"])
    return result


def format_table(res: dict) -> str:
    ms = res["models"]
    lines = [f"small: {ms['small']['num_keys']:,} keys x {res['dim']} f32 = {ms['small']['phq_bytes'] / MIB:.1f} MiB; "
             f"large: {ms['large']['num_keys']:,} keys = {ms['large']['phq_bytes'] / MIB:.1f} MiB "
             f"(x{res['size_ratio_large_vs_small']:.0f}); median of {res['repeats']}"]
    for mode, by_kind in res["medians"].items():
        for k, by_size in by_kind.items():
            for s, m in by_size.items():
                lines.append(f"  {mode:4s} {k:3s} {s:5s}  open {m['open_s'] * 1e3:8.3f} ms  +{m['rss_open_kib']} KiB   "
                             f"first lookup {m['first_lookup_s'] * 1e3:8.3f} ms  +{m['rss_lookup_kib']} KiB")
    for k, v in res["ratios"].items():
        lines.append(f"  {k:54s} {'n/a' if v is None else f'{v:.3f}'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--kind", choices=("phq", "npy", *FORMATS), help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--key", help=argparse.SUPPRESS)
    ap.add_argument("--row", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--cold", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--small-mb", type=float, default=10, help="payload of the small model in MiB (default 10)")
    ap.add_argument("--large-mb", type=float, default=1024, help="payload of the large model in MiB (default 1024)")
    ap.add_argument("--dim", type=int, default=128, help="f32 columns per row (default 128)")
    ap.add_argument("--repeats", type=int, default=9, help="fresh-process measurements per case (default 9)")
    ap.add_argument("--cache", type=Path, default=C.DEFAULT_CACHE, help="where models are kept (default bench/out)")
    ap.add_argument("--no-npy", action="store_true", help="skip the np.load(mmap_mode='r') context measurement")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold (page cache dropped) measurements")
    ap.add_argument("--no-formats", action="store_true", help="skip safetensors, npz, pickle and joblib")
    ap.add_argument("--format-repeats", type=int, help="fresh processes per format case (default --repeats)")
    ap.add_argument("--out", type=Path, help="write the result JSON here")
    a = ap.parse_args(argv)
    if a.worker:
        C.write_result(a.result, worker(a))
        return 0
    res = run_open(a.small_mb, a.large_mb, a.dim, a.repeats, a.cache, not a.no_npy, not a.no_cold,
                   not a.no_formats, a.format_repeats, log=lambda s: print(s, file=sys.stderr, flush=True))
    return C.finish(res, a.out, format_table)


if __name__ == "__main__":
    sys.exit(main())
