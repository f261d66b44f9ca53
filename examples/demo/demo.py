"""`make demo`: the claim on real data, in about a minute.

    make demo                                          # fresh clone: venv, `pip install -e .[demo]`, this script
    .venv/bin/python examples/demo/demo.py [--out build/demo]

1. Reads SNIPS (shipped compressed in examples/snips/data/, CC0): 13,784 training and 700
   test utterances, 7 intents, 39 slot types.
2. Trains the float models users ship today: an intent classifier (scikit-learn, TF-IDF word
   1-2-grams + LinearSVC, on all 13,784 utterances) and a slot tagger (a CRF, sklearn-crfsuite,
   on phq.nlu.token_features). To finish in about a minute the CRF trains on a subset
   (DEMO_CRF_UTTERANCES utterances, DEMO_CRF_ITERATIONS L-BFGS iterations), so its slot F1 is
   a few points below the full protocol's (`make snips`: 13,784 utterances, 150 iterations,
   95.0%); both sides of the table use the same trained CRF.
3. Converts both into one phq file (phq.writer.from_crfsuite(..., classifier=...), 8-bit).
4. Scores the 700 test utterances both ways: intent accuracy, slot F1 (exact spans, micro).
5. Times, in fresh processes (median of 3), each side's imports, model load and first
   prediction.
6. Prints one side-by-side table, parses a few utterances with `phq predict`, validates the
   file with `phq validate`, and ends with one line: the claim.

Writes OUT/snips.phq, the float models (OUT/float/), and OUT/demo.json (every figure).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

DEMO_CRF_UTTERANCES = 3000  # of 13,784 (a fixed-seed sample)
DEMO_CRF_ITERATIONS = 50
TIMING_RUNS = 3
UTTERANCES = [
    "play yesterday by the beatles",
    "will it rain in paris tomorrow",
    "book a table for two at an italian restaurant tonight",
    "add this song to my workout playlist",
]


def snips_report():
    """examples/snips/report.py as a module: its data loader, BIO labels, templates, CRF
    training and slot F1 (one protocol for the demo and the full report)."""
    spec = importlib.util.spec_from_file_location("snips_report", ROOT / "examples" / "snips" / "report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# what a user's process runs to answer its first utterance, timed from a fresh interpreter
FLOAT_RUN = """
import json, sys, time
t0 = time.perf_counter()
import joblib, pycrfsuite, sklearn.feature_extraction.text, sklearn.pipeline, sklearn.svm
import phq.nlu  # the CRF's token features (phq.nlu.token_features: what it was trained on)
t1 = time.perf_counter()
clf = joblib.load(sys.argv[1])
tagger = pycrfsuite.Tagger()
tagger.open(sys.argv[2])
t2 = time.perf_counter()
text, templates = sys.argv[3], json.loads(sys.argv[4])
intent = clf.predict([text])[0]
labels = tagger.tag(phq.nlu.token_features([t for t, _, _ in phq.nlu.tokenize(text)], templates))
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "first": t3 - t2}))
"""
PHQ_RUN = """
import json, sys, time
t0 = time.perf_counter()
import phq.nlu
t1 = time.perf_counter()
model = phq.nlu.load(sys.argv[1])
t2 = time.perf_counter()
parse = model.parse([sys.argv[3]])
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "first": t3 - t2}))
"""


def timed(script: str, *args: str) -> dict:
    """Median import, load and first-prediction times of `script` over TIMING_RUNS fresh processes."""
    runs = []
    for _ in range(TIMING_RUNS):
        out = subprocess.run([sys.executable, "-c", script, *args], check=True, capture_output=True, text=True).stdout
        runs.append(json.loads(out))
    return {k: statistics.median(r[k] for r in runs) for k in ("import", "load", "first")}


def phq_command() -> list[str]:
    exe = Path(sys.executable).with_name("phq")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "phq"]


def run_cli(*args: str) -> int:
    """Run the phq CLI as a user would, echoing the command line."""
    shown = " ".join(a if a and all(c.isalnum() or c in "/._-=" for c in a) else json.dumps(a) for a in args)
    print(f"\n$ phq {shown}", flush=True)
    return subprocess.run([*phq_command(), *args]).returncode


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def table(r: dict) -> str:
    rows = [
        ("SNIPS, 700 test utterances", "float: scikit-learn + CRFsuite", "phq: one file, 8-bit"),
        ("model bytes", f"{r['float_bytes']:,}", f"{r['phq_bytes']:,} ({r['smaller']:.1f}x smaller)"),
        ("intent accuracy", f"{r['intent_acc_float']:.2f}%", f"{r['intent_acc_phq']:.2f}%"),
        ("slot F1", f"{r['slot_f1_float']:.2f}%", f"{r['slot_f1_phq']:.2f}%"),
        ("imports (fresh process)", ms(r["import_seconds_float"]), ms(r["import_seconds_phq"])),
        ("load the model", ms(r["load_seconds_float"]), ms(r["load_seconds_phq"])),
        ("first prediction", ms(r["first_seconds_float"]), ms(r["first_seconds_phq"])),
    ]
    w = [max(len(row[i]) for row in rows) for i in range(3)]
    line = lambda row: "| " + " | ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(row)) + " |"  # noqa: E731
    return "\n".join([line(rows[0]), "| " + " | ".join(["-" * w[0], "-" * (w[1] - 1) + ":", "-" * (w[2] - 1) + ":"]) + " |",
                      *map(line, rows[1:])])


def summary(r: dict, path: str) -> str:
    return (f"phq demo: {r['smaller']:.1f}x smaller than the float models ({r['float_bytes']:,} -> {r['phq_bytes']:,} bytes), "
            f"intent accuracy {r['intent_acc_float']:.2f}% -> {r['intent_acc_phq']:.2f}%, "
            f"slot F1 {r['slot_f1_float']:.2f}% -> {r['slot_f1_phq']:.2f}%, "
            f"model load {r['load_seconds_float'] / r['load_seconds_phq']:.0f}x faster; {path} is valid")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "demo", help="output folder (default build/demo)")
    a = ap.parse_args(argv)
    start = time.perf_counter()
    R = snips_report()
    import joblib
    import phq.nlu
    import phq.writer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    train, test = R.load(R.SHIPPED_DATA, quick=False)
    rng = np.random.default_rng(0)
    crf_train = [train[i] for i in sorted(rng.choice(len(train), DEMO_CRF_UTTERANCES, replace=False))]
    print(f"SNIPS: {len(train):,} training utterances, {len(test)} test utterances (examples/snips/data, CC0)")
    print(f"training the float models: intents on {len(train):,} utterances (TF-IDF + LinearSVC), "
          f"slots on {len(crf_train):,} (CRF, {len(R.TEMPLATES)} feature templates, {DEMO_CRF_ITERATIONS} iterations) ...", flush=True)
    t0 = time.perf_counter()
    clf = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LinearSVC())
    clf.fit([e["text"] for e in train], [e["intent"] for e in train])
    crf = R.train_crf(crf_train, False, c1=0.1, c2=0.01, max_iterations=DEMO_CRF_ITERATIONS)
    train_seconds = time.perf_counter() - t0

    out = a.out
    (out / "float").mkdir(parents=True, exist_ok=True)
    clf_path, crf_path, phq_path = out / "float" / "intent.joblib", out / "float" / "slots.crfsuite", out / "snips.phq"
    joblib.dump(clf, clf_path)
    shutil.copyfile(crf.modelfile.name, crf_path)
    print(f"converting both into one phq file: phq.writer.from_crfsuite(crf, {phq_path.name!r}, classifier=...) ...", flush=True)
    phq.writer.from_crfsuite(crf, phq_path, templates=R.TEMPLATES, classifier=clf)

    texts = [e["text"] for e in test]
    gold = set().union(*(R.span_set(i, e["slots"]) for i, e in enumerate(test)))
    gold_intents = np.array([e["intent"] for e in test])
    with phq.nlu.load(phq_path) as model:
        parses = model.parse(texts)
    pred_phq = set().union(*(R.span_set(i, p["slots"]) for i, p in enumerate(parses)))
    r = {
        "n_train_intent": len(train), "n_train_crf": len(crf_train), "crf_iterations": DEMO_CRF_ITERATIONS, "n_test": len(test),
        "train_seconds": round(train_seconds, 1),
        "float_bytes": clf_path.stat().st_size + crf_path.stat().st_size,
        "float_bytes_intent_joblib": clf_path.stat().st_size, "float_bytes_crfsuite": crf_path.stat().st_size,
        "phq_bytes": phq_path.stat().st_size,
        "intent_acc_float": round(100 * float(np.mean(clf.predict(texts) == gold_intents)), 2),
        "intent_acc_phq": round(100 * float(np.mean(np.array([p["intent"]["name"] for p in parses]) == gold_intents)), 2),
        "slot_f1_float": round(100 * R.f1(gold, R.crf_spans(crf, test))[2], 2),
        "slot_f1_phq": round(100 * R.f1(gold, pred_phq)[2], 2),
    }
    r["smaller"] = round(r["float_bytes"] / r["phq_bytes"], 2)
    print("timing load and first prediction in fresh processes ...", flush=True)
    f = timed(FLOAT_RUN, str(clf_path), str(crf_path), UTTERANCES[0], json.dumps(R.TEMPLATES))
    p = timed(PHQ_RUN, str(phq_path), "", UTTERANCES[0])
    r |= {f"{k}_seconds_{side}": t[k] for side, t in (("float", f), ("phq", p)) for k in ("import", "load", "first")}
    print()
    print(table(r))

    shown = os.path.relpath(phq_path) if not os.path.relpath(phq_path).startswith("..") else str(phq_path)
    if run_cli("predict", shown, *UTTERANCES) != 0:
        return 1
    if run_cli("validate", shown) != 0:
        return 1
    r["seconds"] = round(time.perf_counter() - start, 1)
    (out / "demo.json").write_text(json.dumps(r, indent=1, sort_keys=True) + "\n")
    print()
    print(summary(r, shown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
