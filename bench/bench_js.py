#!/usr/bin/env python3
"""The JavaScript runtime (js/) on CLINC150, in headless Chromium and in Node.

    python bench/bench_js.py [--reps 50] [--out bench/results/js.json] [--no-readme]

Trains the CLINC150 report's `svc-l2` model (word 1-2-gram tf-idf + LinearSVC, written with phq's
defaults: a ~1.1 MB file), then runs js/test-browser/bench.mjs: in Debian's chromium (headless,
the page js/test-browser/bench.html loading js/dist/phq.js from file://) and in Node, it times
`phq.open` (the format's §10.1 checks), `phq.load` (the NLU profile checks; the first one also
decodes the Unicode tables) and `predictIndex` on the 4,500 test utterances with performance.now().
The first open is
timed in 7 fresh pages (median; it includes compiling the reader's code). Browsers coarsen
performance.now() (100 us without cross-origin isolation), so each utterance's
latency is the mean of --reps back-to-back calls; `mean_us` is one whole pass divided by 4,500.
Also the gzipped size of the browser bundle (js/dist/phq.js, gzip -9; models excluded). Writes
flat keys to bench/results/js.json and the README's JS table. Wall-clock times on a shared machine:
read them as upper bounds. Never run by the tests.
"""
from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

REPO = C.REPO
DATA = REPO.parent / "shared" / "data" / "clinc150" / "data_full.json"
OUT = C.DEFAULT_RESULTS / "js.json"
README = REPO / "README.md"
BEGIN, END = "<!-- js-bench:begin -->", "<!-- js-bench:end -->"


def build(work: Path) -> tuple[Path, Path]:
    import importlib.util

    import phq.writer

    spec = importlib.util.spec_from_file_location("clinc150_report", REPO / "examples" / "clinc150" / "report.py")
    rep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rep)
    Xtr, ytr, Xte, _ = rep.load(DATA, quick=False)
    make = dict((n, f) for n, _, f in rep.models(quick=True))["svc-l2"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = make().fit(Xtr, ytr)
    model, texts = work / "clinc-svc-l2.phq", work / "clinc-test.json"
    phq.writer.from_sklearn(pipe, model)
    texts.write_text(json.dumps(list(Xte)))
    return model, texts


def table(r: dict) -> str:
    f = lambda v, d=1: f"{v:,.{d}f}"  # noqa: E731
    rows = [
        ("model open (`phq.open`, format §10.1) of the 1.1 MB svc-l2 file: the first in a fresh page (median of 7 pages) / again (median of 30)", f"{f(r['browser_fresh_page_open_ms_median7'], 1)} / {f(r['browser_open_p50_ms'], 1)} ms", f"{f(r['node_open_first_ms'], 1)} / {f(r['node_open_p50_ms'], 2)} ms", "≤ 5 ms"),
        ("NLU load (`phq.load`: profile checks; the first also decodes the Unicode tables)", f"{f(r['browser_fresh_page_nlu_load_ms_median7'], 1)} / {f(r['browser_nlu_load_p50_ms'], 1)} ms", f"{f(r['node_nlu_load_first_ms'], 1)} / {f(r['node_nlu_load_p50_ms'], 2)} ms", ""),
        ("per-utterance latency p50 / p90 / p99 (CLINC150 test, 4,500)", f"{f(r['browser_p50_us'])} / {f(r['browser_p90_us'])} / {f(r['browser_p99_us'])} µs", f"{f(r['node_p50_us'])} / {f(r['node_p90_us'])} / {f(r['node_p99_us'])} µs", "p50 ≤ 50 µs"),
        ("mean per utterance, one warm pass / the first pass", f"{f(r['browser_mean_us'])} / {f(r['browser_first_pass_mean_us'])} µs", f"{f(r['node_mean_us'])} / {f(r['node_first_pass_mean_us'])} µs", ""),
        ("browser bundle `js/dist/phq.js`, gzip -9 (models excluded; Unicode tables included)", f"{r['bundle_gzip_bytes'] / 1024:,.1f} KiB", "", "≤ 60 KB"),
    ]
    out = [f"| measured ({r['browser_version']}, Node {r['node_version']}) | headless Chromium | Node | target |", "| --- | --- | --- | --- |"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(out)


def update_readme(r: dict) -> None:
    text = README.read_text(encoding="utf-8")
    if BEGIN not in text:
        return
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(head + BEGIN + "\n" + table(r) + "\n" + END + tail, encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    a = ap.parse_args(argv)
    work = C.DEFAULT_CACHE / "js"
    work.mkdir(parents=True, exist_ok=True)
    model, texts = build(work)
    res = subprocess.run(["node", str(REPO / "js" / "test-browser" / "bench.mjs"), "--model", str(model), "--texts", str(texts),
                          "--reps", str(a.reps), "--chromium", a.chromium], capture_output=True, text=True, check=True)
    r = json.loads(res.stdout)
    bundle = (REPO / "js" / "dist" / "phq.js").read_bytes()
    r["bundle_bytes"] = len(bundle)
    r["bundle_gzip_bytes"] = len(gzip.compress(bundle, 9, mtime=0))
    r = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(r, indent=1, sort_keys=True) + "\n")
    print(table(r))
    if not a.no_readme:
        update_readme(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
