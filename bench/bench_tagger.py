#!/usr/bin/env python3
"""Slot taggers side by side on SNIPS: python-crfsuite's tagger, phq in Python, phq in C.

    python bench/bench_tagger.py [--quick] [--out bench/results/tagger.json]

One run, single thread, the 700 SNIPS test utterances. A CRF is trained with sklearn-crfsuite
on phq's token features (examples/snips/report.py's templates; the full training set, or a
subset with --quick), converted with phq.writer.from_crfsuite (linear8, tagger only), and each
runtime tags every utterance from its raw text: python-crfsuite gets the tokens and feature
strings from phq.nlu (the same work phq does) and then runs CRFsuite's Viterbi; phq Python runs
`Parser.tag`; phq C runs phq_nlu_parse (bench/bench_nlu_c.c). Times are CPU time of the
running thread; batch = best of REPS passes. Writes flat keys to bench/results/tagger.json
(ratios > 1: phq faster). No timing is asserted by the tests.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
import bench_nlu  # noqa: E402

DATA = C.REPO.parent / "shared" / "data" / "snips"
OUT = C.DEFAULT_RESULTS / "tagger.json"
CACHE = C.DEFAULT_CACHE / "tagger"


def snips_report():
    spec = importlib.util.spec_from_file_location("snips_report", C.REPO / "examples" / "snips" / "report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def timed(fn, items, reps: int) -> tuple[float, list[float]]:
    best = float("inf")
    for _ in range(reps):
        t = time.thread_time()
        for x in items:
            fn(x)
        best = min(best, time.thread_time() - t)
    lat = []
    for x in items:
        t = time.thread_time_ns()
        fn(x)
        lat.append(time.thread_time_ns() - t)
    lat.sort()
    return best, lat


def run(quick: bool, reps: int, log=print) -> dict:
    import pycrfsuite

    import phq.nlu
    import phq.writer

    rep = snips_report()
    train, test = rep.load(DATA, quick)
    texts = [ex["text"] for ex in test]
    CACHE.mkdir(parents=True, exist_ok=True)
    log(f"training a CRF on {len(train)} utterances", flush=True)
    crf = rep.train_crf(train, quick, 0.05, 0.05)
    crf_file = Path(crf.modelfile.name)
    model = CACHE / f"tagger{'-quick' if quick else ''}.phq"
    phq.writer.from_crfsuite(crf, model, templates=rep.TEMPLATES)
    tagger = pycrfsuite.Tagger()
    tagger.open(str(crf_file))

    def crfsuite_tag(text):
        toks = phq.nlu.tokenize(text)
        return tagger.tag(phq.nlu.token_features([t for t, _, _ in toks], rep.TEMPLATES)) if toks else []

    res: dict = {"quick": quick, "utterances": len(texts), "reps": reps, "runtimes": {}}
    with phq.nlu.load(model) as parser:
        for name, fn in (("crfsuite", crfsuite_tag), ("phq-python", lambda t: parser.tag([t]))):
            log(name, flush=True)
            best, lat = timed(fn, texts, reps)
            res["runtimes"][name] = {"batch_per_s": len(texts) / best, "single_p50_us": lat[len(lat) // 2] / 1e3,
                                     "single_p99_us": lat[int((len(lat) - 1) * 0.99)] / 1e3}
        # same labels: CRFsuite's tagger and phq's on every test utterance (linear8 may differ rarely)
        same = sum(crfsuite_tag(t) == [lab for lab in parser._tagger.tag(t)[1]] for t in texts) if hasattr(parser, "_tagger") else None
        res["label_agreement_crfsuite"] = None if same is None else same / len(texts)
    exe = bench_nlu.build_c_bench()
    if exe:
        log("phq-c", flush=True)
        tfile = CACHE / "texts.txt"
        tfile.write_text("".join(t.replace("\n", " ") + "\n" for t in texts), encoding="utf-8")
        out = subprocess.run([str(exe), str(model), str(tfile), str(reps)], capture_output=True, text=True)
        res["runtimes"]["phq-c"] = json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr.strip()[:200]}
    res["crfsuite_bytes"] = crf_file.stat().st_size
    res["phq_bytes"] = model.stat().st_size
    r = res["runtimes"]

    def per_s(name):
        return r.get(name, {}).get("batch_per_s")

    res["summary"] = {
        "tagger_python_vs_crfsuite": round(C.ratio(per_s("phq-python"), per_s("crfsuite")) or 0, 3) or None,
        "tagger_c_vs_crfsuite": round(C.ratio(per_s("phq-c"), per_s("crfsuite")) or 0, 3) or None,
        "tagger_crfsuite_per_s": round(per_s("crfsuite") or 0, 1),
        "tagger_python_per_s": round(per_s("phq-python") or 0, 1),
        "tagger_c_per_s": round(per_s("phq-c") or 0, 1),
        "tagger_c_single_p50_us": r.get("phq-c", {}).get("single_p50_us"),
    }
    return res


def table(res: dict) -> str:
    rows = ["| runtime | batch (utt/s) | single p50 (µs) | single p99 (µs) |", "|---|---:|---:|---:|"]
    for name, r in res["runtimes"].items():
        if "error" in r:
            rows.append(f"| {name} | error: {r['error'][:60]} | | |")
        else:
            rows.append(f"| {name} | {r['batch_per_s']:,.0f} | {r['single_p50_us']:.1f} | {r['single_p99_us']:.1f} |")
    s = res["summary"]
    rows += ["", f"phq Python vs python-crfsuite: **{s['tagger_python_vs_crfsuite']}×**, phq C vs python-crfsuite: **{s['tagger_c_vs_crfsuite']}×** (> 1: phq faster)."]
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    if not DATA.exists():
        print(f"SNIPS not found at {DATA}", file=sys.stderr)
        return 2
    res = run(a.quick, a.reps or (1 if a.quick else 5))
    C.finish(res, a.out or (C.QUICK_RESULTS / "tagger.json" if a.quick else OUT), table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
