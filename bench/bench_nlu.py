#!/usr/bin/env python3
"""NLU runtimes side by side on CLINC150: scikit-learn, fastText, phq (pure, accelerated, C).

    python bench/bench_nlu.py [--quick] [--out bench/results/nlu.json] [--readme]

One run, single thread, the same test utterances for every runtime (the 4,500 in-scope test
utterances of CLINC150; `--quick`: 300 training utterances per... a small subset, for the
smoke test). Models: `svc-l2` (word 1-2-gram tf-idf + LinearSVC, the CLINC150 report's
default) and `svc-word+char` (the same plus char_wb 2-4-grams, for memory). For each runtime:
batch throughput (utterances/s, best of REPS passes over the whole list), single-utterance
latency p50/p99 (each utterance classified alone), all in CPU time of the running thread
(so that other jobs on the machine do not inflate them), and the peak memory a batch prediction
adds (each runtime in its own process: peak RSS after predicting minus RSS after loading).
Writes flat keys to bench/results/nlu.json (ratios > 1: phq faster) and, with --readme, the
README's NLU table. Never run by the tests with timings asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

DATA = C.REPO.parent / "shared" / "data" / "clinc150" / "data_full.json"
OUT = C.DEFAULT_RESULTS / "nlu.json"
CACHE = C.DEFAULT_CACHE / "nlu"
BUILD = C.REPO / "build"
README_BEGIN, README_END = "<!-- nlu-bench:begin -->", "<!-- nlu-bench:end -->"
FOOT_BEGIN, FOOT_END = "<!-- nlu-footprint:begin -->", "<!-- nlu-footprint:end -->"


def load(quick: bool):
    data = json.loads(DATA.read_text())
    train, test = data["train"], data["test"]
    if quick:
        rng = np.random.default_rng(0)
        train = [train[i] for i in rng.choice(len(train), 1500, replace=False)]
        test = test[:300]
    return [t for t, _ in train], [y for _, y in train], [t for t, _ in test], [y for _, y in test]


def pipelines():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.svm import LinearSVC

    def word():
        return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)

    return {
        "svc-l2": lambda: make_pipeline(word(), LinearSVC(C=1.0, random_state=0)),
        "svc-word+char": lambda: make_pipeline(
            FeatureUnion([("word", word()), ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2))]),
            LinearSVC(C=1.0, random_state=0),
        ),
    }


def footprint() -> dict:
    """Object-code size of the C runtime (text + data of its objects, from `size`)."""
    subprocess.run(["make", "-s", "-C", str(C.REPO / "creader"), "all"], capture_output=True)
    out: dict = {}
    for name in ("phq.o", "phq_nlu.o", "phq_nlu_open.o", "phq_nlu_json.o"):
        r = subprocess.run(["size", str(BUILD / name)], capture_output=True, text=True)
        if r.returncode == 0:
            text, data = (int(x) for x in r.stdout.splitlines()[1].split()[:2])
            out[name] = text + data
    tables = C.REPO / "creader" / "phq_unicode_data.h"
    out["unicode_tables_note"] = f"phq_nlu.o holds the Unicode 14.0.0 tables generated into {tables.name}"
    return out


def build_c_bench() -> Path | None:
    """The C benchmark program, built with the library's flags; None without a compiler."""
    exe = BUILD / "bench_nlu_c"
    cr = C.REPO / "creader"
    srcs = [C.BENCH_DIR / "bench_nlu_c.c", cr / "phq.c", cr / "phq_posix.c", *sorted(cr.glob("phq_nlu*.c"))]
    srcs = [s for s in srcs if s.name != "phq_nlu_cli.c" and "conform" not in s.name]
    if not (cr / "phq_nlu.c").exists():
        return None
    BUILD.mkdir(exist_ok=True)
    cmd = ["gcc", "-std=c99", "-O2", "-ffp-contract=off", "-I", str(cr), *map(str, srcs), "-lm", "-o", str(exe)]
    if subprocess.run(cmd, capture_output=True).returncode != 0:
        return None
    return exe


# -- one runtime in its own process ------------------------------------------------------------
def worker(a) -> dict:
    texts = Path(a.texts).read_text(encoding="utf-8").split("\n")[:-1]
    reps = a.reps
    a.runtime = a.worker
    if a.runtime in ("phq-pure", "phq-accel"):
        if a.runtime == "phq-pure":
            os.environ["PHQ_PURE"] = "1"
        import phq.nlu

        t0 = time.perf_counter()
        clf = phq.nlu.load(a.model)
        clf.predict(texts[:1])
        open_s = time.perf_counter() - t0
        predict = clf.predict
        accelerated = getattr(clf, "accelerated", False)
    elif a.runtime == "sklearn":
        import joblib

        t0 = time.perf_counter()
        pipe = joblib.load(a.model)
        pipe.predict(texts[:1])
        open_s = time.perf_counter() - t0
        predict, accelerated = pipe.predict, False
    elif a.runtime == "fasttext":
        import fasttext

        t0 = time.perf_counter()
        ft = fasttext.load_model(a.model)
        open_s = time.perf_counter() - t0

        def predict(batch):
            return ft.predict(batch, k=1)[0]

        accelerated = False
    else:
        raise SystemExit(f"unknown runtime {a.runtime}")
    base = C.rss_kib()
    C.reset_peak()
    best = float("inf")
    labels = None
    for _ in range(reps):
        t = time.thread_time()  # CPU time of this thread: what the work costs, whatever else runs
        labels = predict(texts)
        best = min(best, time.thread_time() - t)
    peak = C.peak_kib()
    lat = []
    for _ in range(max(1, reps // 2)):
        for text in texts:
            t = time.thread_time_ns()
            predict([text])
            lat.append(time.thread_time_ns() - t)
    lat.sort()
    labels = [x[0] if isinstance(x, list) else x for x in labels]
    return {
        "runtime": a.runtime,
        "utterances": len(texts),
        "batch_seconds": best,
        "batch_per_s": len(texts) / best,
        "single_p50_us": lat[len(lat) // 2] / 1e3,
        "single_p99_us": lat[int((len(lat) - 1) * 0.99)] / 1e3,
        "open_ms": open_s * 1e3,
        "batch_peak_mib": max(0, peak - base) / 1024 if peak else None,
        "accelerated": accelerated,
        "labels": [str(x).replace("__label__", "") for x in labels],
    }


def run_worker(runtime: str, model: Path, texts: Path, reps: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", runtime, "--model", str(model), "--texts", str(texts), "--reps", str(reps)]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return {"runtime": runtime, "error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout)


def run_c(exe: Path, model: Path, texts: Path, reps: int) -> dict:
    """The C program in its own process; its peak RSS from wait4 (that child only)."""
    proc = subprocess.Popen([str(exe), str(model), str(texts), str(reps)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        return {"runtime": "phq-c", "error": err.strip()[:200]}
    res = json.loads(out)
    res["runtime"] = "phq-c"
    # the library's own memory: its arena and the largest workspace (the process's peak RSS would
    # count the parent's pages it inherited before exec, not the runtime)
    res["runtime_mib"] = (res["arena_bytes"] + res["max_workspace_bytes"]) / (1 << 20)
    return res


# -- the run -------------------------------------------------------------------------------------
def run(quick: bool, reps: int, log=print) -> dict:
    import joblib

    import phq.writer

    Xtr, ytr, Xte, yte = load(quick)
    CACHE.mkdir(parents=True, exist_ok=True)
    texts = CACHE / ("texts-quick.txt" if quick else "texts.txt")
    texts.write_text("".join(t.replace("\n", " ") + "\n" for t in Xte), encoding="utf-8")
    exe = build_c_bench()
    res: dict = {"quick": quick, "utterances": len(Xte), "reps": reps, "models": {}, "footprint": footprint()}
    for name, make in pipelines().items():
        if quick and name != "svc-l2":
            continue
        log(f"[{name}] training on {len(Xtr)} utterances", flush=True)
        pipe = make().fit(Xtr, ytr)
        stem = CACHE / f"{name}{'-quick' if quick else ''}"
        joblib.dump(pipe, f"{stem}.joblib")
        phq.writer.from_sklearn(pipe, f"{stem}.phq")
        m: dict = {"phq_bytes": Path(f"{stem}.phq").stat().st_size, "runtimes": {}}
        for rt, model in (("sklearn", f"{stem}.joblib"), ("phq-pure", f"{stem}.phq"), ("phq-accel", f"{stem}.phq")):
            log(f"[{name}] {rt}", flush=True)
            m["runtimes"][rt] = run_worker(rt, Path(model), texts, reps)
        if exe:
            log(f"[{name}] phq-c", flush=True)
            m["runtimes"]["phq-c"] = run_c(exe, Path(f"{stem}.phq"), texts, reps)
        if name == "svc-l2":
            ft = train_fasttext(Xtr, ytr, stem)
            if ft:
                log(f"[{name}] fasttext", flush=True)
                m["runtimes"]["fasttext"] = run_worker("fasttext", ft, texts, reps)
        want = list(yte)
        for rt, r in m["runtimes"].items():
            if "labels" in r:
                r["accuracy"] = float(np.mean([a == b for a, b in zip(r.pop("labels"), want)]))
        res["models"][name] = m
    return res


def train_fasttext(Xtr, ytr, stem: Path) -> Path | None:
    try:
        import fasttext
    except ImportError:
        return None
    path = Path(f"{stem}.fasttext.bin")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        for t, y in zip(Xtr, ytr):
            f.write(f"__label__{y} {t.replace(chr(10), ' ')}\n")
    model = fasttext.train_supervised(f.name, epoch=25, lr=0.5, wordNgrams=2, dim=100, minCount=1, thread=1, verbose=0, seed=0)
    os.unlink(f.name)
    model.save_model(str(path))
    return path


def flat(res: dict) -> dict:
    """The headline figures as flat keys (ratios > 1: phq faster)."""
    s: dict = {}
    for name, m in res["models"].items():
        key = name.replace("-", "_").replace("+", "_")
        for rt, r in m["runtimes"].items():
            if "error" in r:
                continue
            k = rt.replace("-", "_")
            s[f"{key}_{k}_batch_per_s"] = round(r["batch_per_s"], 1)
            s[f"{key}_{k}_single_p50_us"] = round(r["single_p50_us"], 2)
            s[f"{key}_{k}_single_p99_us"] = round(r["single_p99_us"], 2)
            for mem in ("batch_peak_mib", "runtime_mib"):
                if r.get(mem) is not None:
                    s[f"{key}_{k}_{mem}"] = round(r[mem], 1)
            if "accuracy" in r:
                s[f"{key}_{k}_accuracy"] = round(r["accuracy"], 4)
    m = res["models"].get("svc-l2", {}).get("runtimes", {})

    def per_s(rt):
        r = m.get(rt, {})
        return r.get("batch_per_s") if "error" not in r else None

    def r3(x):
        return None if x is None else round(x, 3)

    s["accel_batch_vs_sklearn"] = r3(C.ratio(per_s("phq-accel"), per_s("sklearn")))
    s["c_batch_vs_sklearn"] = r3(C.ratio(per_s("phq-c"), per_s("sklearn")))
    s["c_batch_vs_fasttext"] = r3(C.ratio(per_s("phq-c"), per_s("fasttext")))
    s["accel_batch_vs_fasttext"] = r3(C.ratio(per_s("phq-accel"), per_s("fasttext")))
    fp = res.get("footprint", {})
    s["c_runtime_object_bytes"] = sum(v for k, v in fp.items() if k.endswith(".o")) or None
    c = m.get("phq-c", {})
    s["c_arena_bytes"] = c.get("arena_bytes")
    s["c_max_workspace_bytes"] = c.get("max_workspace_bytes")
    s["accel_single_p50_us"] = s.get("svc_l2_phq_accel_single_p50_us")
    s["c_single_p50_us"] = s.get("svc_l2_phq_c_single_p50_us")
    s["fasttext_single_p50_us"] = s.get("svc_l2_fasttext_single_p50_us")
    return s


def table(res: dict) -> str:
    rows = ["| model | runtime | batch (utt/s) | single p50 (µs) | single p99 (µs) | memory (MiB) | accuracy |", "|---|---|---:|---:|---:|---:|---:|"]
    for name, m in res["models"].items():
        for rt, r in m["runtimes"].items():
            if "error" in r:
                rows.append(f"| {name} | {rt} | error: {r['error'][:60]} | | | | |")
                continue
            peak = r.get("batch_peak_mib", r.get("runtime_mib"))
            peak_s = "" if peak is None else f"{peak:.2f}"
            acc_s = "" if "accuracy" not in r else f"{100 * r['accuracy']:.2f}%"
            rows.append(
                f"| {name} | {rt} | {r['batch_per_s']:,.0f} | {r['single_p50_us']:.1f} | {r['single_p99_us']:.1f} | {peak_s} | {acc_s} |"
            )
    s = res["summary"]
    rows.append("")
    rows.append(
        "Times are CPU time of the running thread (batch: best of the passes over all utterances; single: each "
        "utterance classified alone). Memory: what a batch prediction adds to the Python process's peak RSS; for C, "
        "the runtime's arena plus its largest workspace. Accuracy: CLINC150 test labels (the C bench prints none)."
    )
    rows.append(
        f"svc-l2 ratios (> 1: phq faster): accelerated Python vs scikit-learn **{s.get('accel_batch_vs_sklearn')}×**, "
        f"C vs scikit-learn **{s.get('c_batch_vs_sklearn')}×**, C vs fastText **{s.get('c_batch_vs_fasttext')}×**."
    )
    return "\n".join(rows)


def footprint_text(res: dict) -> str:
    s = res["summary"]
    fp = res.get("footprint", {})
    objs = ", ".join(f"{k} {v:,}" for k, v in fp.items() if k.endswith(".o"))
    return (
        f"Footprint (measured by `make bench-nlu`): object code {s.get('c_runtime_object_bytes') or 0:,} bytes "
        f"(text + data: {objs}; `phq_nlu.o` carries the Unicode 14.0.0 tables); memory per open model: "
        f"{s.get('c_arena_bytes') or 0:,} bytes of arena for the CLINC150 svc-l2 model (150 labels; the tables "
        f"stay in the mapped file) plus a workspace of at most {s.get('c_max_workspace_bytes') or 0:,} bytes "
        f"for its longest test utterance."
    )


def _replace_between(body: str, begin: str, end: str, text: str) -> str:
    head, rest = body.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{text}\n{end}{tail}"


def update_readme(res: dict) -> bool:
    readme = C.REPO / "README.md"
    body = readme.read_text(encoding="utf-8")
    if README_BEGIN not in body:
        return False
    body = _replace_between(body, README_BEGIN, README_END, f"{table(res)}\n\nCommand: `make bench-nlu` ({res.get('command') or C.command_line()}).")
    if FOOT_BEGIN in body:
        body = _replace_between(body, FOOT_BEGIN, FOOT_END, footprint_text(res))
    readme.write_text(body, encoding="utf-8")
    return True


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small subset (smoke test)")
    ap.add_argument("--reps", type=int, default=None, help="passes over the utterances (default 5, quick 1)")
    ap.add_argument("--out", type=Path, default=None, help=f"JSON result (default {OUT}; quick: bench/out/quick/nlu.json)")
    ap.add_argument("--readme", action="store_true", help="rewrite the README's NLU table")
    ap.add_argument("--readme-only", action="store_true", help=f"rewrite the README's tables from {OUT}, run nothing")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--texts", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        a.reps = a.reps or 1
        print(json.dumps(worker(a)))
        return 0
    if a.readme_only:
        res = json.loads(OUT.read_text())
        for m in res["models"].values():
            c = m["runtimes"].get("phq-c", {})
            if "arena_bytes" in c:
                c.pop("process_peak_mib", None)
                c["runtime_mib"] = (c["arena_bytes"] + c["max_workspace_bytes"]) / (1 << 20)
        res["summary"] = flat(res)
        OUT.write_text(json.dumps(res, indent=2) + "\n")
        return 0 if update_readme(res) else 1
    if not DATA.exists():
        print(f"CLINC150 not found at {DATA}", file=sys.stderr)
        return 2
    reps = a.reps or (1 if a.quick else 5)
    res = run(a.quick, reps)
    res["summary"] = flat(res)
    out = a.out or (C.QUICK_RESULTS / "nlu.json" if a.quick else OUT)
    C.finish(res, out, table)
    if a.readme and not a.quick:
        update_readme(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
