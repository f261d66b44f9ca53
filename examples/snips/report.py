"""SNIPS intent + slots report: a CRF slot tagger and an intent classifier shipped as one phq file.

    make snips                                   # this script on the full data
    .venv/bin/python examples/snips/report.py [--quick] [--data DIR] [--out DIR]

Trains on SNIPS train (13,784 utterances) and reports on SNIPS test (700):
  - the float models: sklearn-crfsuite's CRF (tagging by CRFsuite itself) and the
    scikit-learn intent classifier;
  - the joint phq files written by phq.writer.from_crfsuite at linear8 and linear4, parsed
    by phq.nlu (no CRFsuite or scikit-learn on that path);
intent accuracy, slot F1 (exact span match on character offsets, micro-averaged as conlleval
does: precision = correct / predicted spans, recall = correct / gold spans) and per-slot F1,
and file sizes against the CRFsuite model file and the classifier's joblib. The CRF is
trained on phq.nlu.token_features, so CRFsuite and phq see the same feature strings.

Writes results/report.json (flat keys) and results/report.md. `--quick` trains on a
subset with fewer iterations (a smoke test for CI: numbers are not meaningful).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data" / "snips"
SHIPPED_DATA = HERE / "data"  # the same files, xz-compressed (data/README.md): a fresh clone has them
DEFAULT_DATA = SHARED_DATA if (SHARED_DATA / "train.jsonl").exists() else SHIPPED_DATA

# the templates the CRF is trained on (spec/nlu-profile-v3.md §4.2)
TEMPLATES = [
    "bias", "bos", "eos",
    [["w", 0]], [["w", -1]], [["w", 1]], [["w", -2]], [["w", 2]],
    [["w", -1], ["w", 0]], [["w", 0], ["w", 1]], [["w", -2], ["w", -1]], [["w", 1], ["w", 2]],
    [["p3", 0]], [["s2", 0]], [["s3", 0]], [["s4", 0]],
    [["shape", 0]], [["sshape", 0]], [["digit", 0]], [["title", 0]], [["upper", 0]],
    [["title", -1]], [["title", 1]],
]
VARIANTS = [("phq8", dict(quant="linear8", scale="column", fingerprint_bits=16)),
            ("phq4", dict(quant="linear4", scale="column", fingerprint_bits=16))]


def has_data(data: Path) -> bool:
    return all((data / f"{n}.jsonl").exists() or (data / f"{n}.jsonl.xz").exists() for n in ("train", "test"))


def read_jsonl(data: Path, name: str) -> list:
    """data/NAME.jsonl, or data/NAME.jsonl.xz (the copy shipped in data/)."""
    path = data / f"{name}.jsonl"
    if path.exists():
        raw = path.read_bytes()
    else:
        import lzma

        raw = lzma.decompress((data / f"{name}.jsonl.xz").read_bytes())
    return [json.loads(x) for x in raw.decode("utf-8").splitlines() if x]


def load(data: Path, quick: bool):
    train = read_jsonl(data, "train")
    test = read_jsonl(data, "test")
    if quick:
        rng = np.random.default_rng(0)
        train = [train[i] for i in sorted(rng.choice(len(train), 800, replace=False))]
        test = test[::5]
    return train, test


def bio(example: dict):
    """Tokens (phq.nlu.tokenize) and BIO labels from the character-offset slots."""
    import phq.nlu

    toks = phq.nlu.tokenize(example["text"])
    labels = []
    for _, s, e in toks:
        lab = "O"
        for sl in example["slots"]:
            if sl["start"] <= s < sl["end"]:
                first = not any(sl["start"] <= s2 < s for _, s2, _ in toks)
                lab = ("B-" if first else "I-") + sl["slot"]
                break
        labels.append(lab)
    return toks, labels


def span_set(i: int, slots) -> set:
    return {(i, s["slot"], s["start"], s["end"]) for s in slots}


def f1(gold: set, pred: set) -> tuple[float, float, float]:
    ok = len(gold & pred)
    p = ok / len(pred) if pred else 0.0
    r = ok / len(gold) if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def per_slot(gold: set, pred: set) -> dict:
    out = {}
    for slot in sorted({g[1] for g in gold} | {p[1] for p in pred}):
        out[slot] = round(100 * f1({g for g in gold if g[1] == slot}, {p for p in pred if p[1] == slot})[2], 2)
    return out


def crf_spans(crf, test, templates=TEMPLATES) -> set:
    """Spans of the float CRF: CRFsuite's own tagger on phq's features."""
    import phq.nlu
    from phq.tagger import spans

    out = set()
    for i, ex in enumerate(test):
        toks = phq.nlu.tokenize(ex["text"])
        if not toks:
            continue
        labels = crf.predict_single(phq.nlu.token_features([t for t, _, _ in toks], templates))
        for slot, s, e in spans(labels, [(a, b) for _, a, b in toks]):
            out.add((i, slot, s, e))
    return out


class pure_runtime:
    """PHQ_PURE=1 while phq.nlu loads a model (the pure Python runtime), restored afterwards."""

    def __enter__(self):
        self.saved = os.environ.get("PHQ_PURE")
        os.environ["PHQ_PURE"] = "1"

    def __exit__(self, *exc):
        if self.saved is None:
            del os.environ["PHQ_PURE"]
        else:
            os.environ["PHQ_PURE"] = self.saved


def c_agreement(path: Path, texts: list[str], python: list[dict]):
    """Percentage of texts whose intent name and spans (slot, start, end, value) are identical between
    the pure Python parse and the C runtime's: build/phq-nlu-conform (creader, built here with make
    when missing) answering `parse` requests, else the C runtime inside phq.nlu (phq._accel_nlu).
    Returns (agreement %, which C runtime, seconds of the accelerated phq.nlu parse or None)."""
    import subprocess

    import phq.nlu

    def key(p):
        return ((p["intent"] or {}).get("name"), [(s["slot"], s["start"], s["end"], s["value"]) for s in p["slots"]])

    adapter = ROOT / "build" / "phq-nlu-conform"
    subprocess.run(["make", "-s", "-C", str(ROOT / "creader"), str(adapter)], capture_output=True)  # (re)built when stale
    secs = None
    with phq.nlu.load(path) as m:
        if m.tagger.accelerated:
            t0 = time.perf_counter()
            accel = m.parse(texts)
            secs = round(time.perf_counter() - t0, 3)
    if adapter.exists():
        reqs = "".join(f"parse {t.encode('utf-8').hex() or '-'}\n" for t in texts)
        out = subprocess.run([str(adapter), str(path)], input=reqs.encode(), capture_output=True, check=True).stdout.decode("utf-8")
        lines = out.split("\n")[:-1]
        assert lines[0] == "ok" and lines[-1] == "end", lines[:2]
        c, runtime = [json.loads(x) for x in lines[1:-1]], "build/phq-nlu-conform"
    elif secs is not None:
        c, runtime = accel, "phq._accel_nlu"
    else:
        return None, None, None
    same = sum(key(a) == key(b) for a, b in zip(python, c))
    return round(100 * same / len(texts), 2), runtime, secs


def train_crf(train, quick: bool, c1: float, c2: float, templates=TEMPLATES, max_iterations: int | None = None):
    import phq.nlu
    import sklearn_crfsuite

    X, y = [], []
    for ex in train:
        toks, labels = bio(ex)
        X.append(phq.nlu.token_features([t for t, _, _ in toks], templates))
        y.append(labels)
    iterations = max_iterations or (25 if quick else 150)
    crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=c1, c2=c2, max_iterations=iterations, all_possible_transitions=True)
    crf.fit(X, y)
    return crf


def train_classifier(train):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    clf = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(C=20, max_iter=2000))
    return clf.fit([e["text"] for e in train], [e["intent"] for e in train])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="subset and few iterations: a smoke test")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--per-intent", action="store_true", help="also train one CRF per intent (float) to compare with the shared tagger")
    a = ap.parse_args(argv)
    if not has_data(a.data):
        print(f"SNIPS not found at {a.data} (see data/README.md)", file=sys.stderr)
        return 2
    import joblib
    import phq.nlu
    import phq.writer

    train, test = load(a.data, a.quick)
    texts = [e["text"] for e in test]
    gold = set().union(*(span_set(i, e["slots"]) for i, e in enumerate(test)))
    gold_intents = [e["intent"] for e in test]
    t0 = time.perf_counter()
    crf = train_crf(train, a.quick, c1=0.1, c2=0.01)
    t_crf = time.perf_counter() - t0
    t0 = time.perf_counter()
    clf = train_classifier(train)
    t_clf = time.perf_counter() - t0
    res: dict = {"data": "SNIPS (sonos/nlu-benchmark 2017-06, CC0)", "quick": a.quick, "n_train": len(train), "n_test": len(test),
                 "n_gold_spans": len(gold), "templates": len(TEMPLATES), "crf_c1": 0.1, "crf_c2": 0.01,
                 "train_seconds_crf": round(t_crf, 1), "train_seconds_classifier": round(t_clf, 1),
                 "python": platform.python_version()}
    pred_float = crf_spans(crf, test)
    p, r, f = f1(gold, pred_float)
    res |= {"slot_f1_float": round(100 * f, 2), "slot_precision_float": round(100 * p, 2), "slot_recall_float": round(100 * r, 2)}
    float_intents = list(clf.predict(texts))
    res["intent_acc_float"] = float(round(100 * np.mean([a_ == b for a_, b in zip(float_intents, gold_intents)]), 2))
    per = {"float": per_slot(gold, pred_float)}
    a.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        res["crfsuite_bytes"] = os.path.getsize(crf.modelfile.name)
        joblib.dump(clf, tmp / "clf.joblib")
        res["classifier_joblib_bytes"] = os.path.getsize(tmp / "clf.joblib")
        joblib.dump(crf, tmp / "crf.joblib")
        res["crf_joblib_bytes"] = os.path.getsize(tmp / "crf.joblib")
        res["crf_state_features"] = len(crf.state_features_)
        for name, opts in VARIANTS:
            joint = tmp / f"joint-{name}.phq"
            res[f"joint_bytes_{name}"] = phq.writer.from_crfsuite(crf, joint, templates=TEMPLATES, classifier=clf, **opts)
            res[f"tagger_bytes_{name}"] = phq.writer.from_crfsuite(crf, tmp / f"tagger-{name}.phq", templates=TEMPLATES, **opts)
            t0 = time.perf_counter()
            with pure_runtime():
                with phq.nlu.load(joint) as m:
                    parses = m.parse(texts)  # the pure Python runtime: the reference
            res[f"parse_seconds_{name}"] = round(time.perf_counter() - t0, 2)
            agree, runtime, secs = c_agreement(joint, texts, parses)
            res |= {f"c_python_agreement_{name}": agree, f"c_runtime_{name}": runtime}
            if secs is not None:
                res[f"parse_seconds_accel_{name}"] = secs
            if name == "phq8":
                res["c_python_agreement"] = agree
            pred = set().union(*(span_set(i, x["slots"]) for i, x in enumerate(parses)))
            p, r, f = f1(gold, pred)
            res |= {f"slot_f1_{name}": round(100 * f, 2), f"slot_precision_{name}": round(100 * p, 2), f"slot_recall_{name}": round(100 * r, 2)}
            intents = [x["intent"]["name"] for x in parses]
            res[f"intent_acc_{name}"] = float(round(100 * np.mean([a_ == b for a_, b in zip(intents, gold_intents)]), 2))
            res[f"intent_agreement_{name}"] = float(round(100 * np.mean([a_ == b for a_, b in zip(intents, float_intents)]), 2))
            res[f"span_agreement_{name}"] = round(100 * len(pred & pred_float) / max(1, len(pred | pred_float)), 2)
            per[name] = per_slot(gold, pred)
        res["tagger_reduction_phq8"] = round(100 * (1 - res["tagger_bytes_phq8"] / res["crfsuite_bytes"]), 2)
        res["tagger_reduction_phq4"] = round(100 * (1 - res["tagger_bytes_phq4"] / res["crfsuite_bytes"]), 2)
        res["joint_reduction_phq8"] = round(100 * (1 - res["joint_bytes_phq8"] / (res["crfsuite_bytes"] + res["classifier_joblib_bytes"])), 2)
    if a.per_intent:
        res |= per_intent(train, test, gold, clf, float_intents, a.quick)
    res["acceptance_slot_f1_within_0.3pt"] = bool(abs(res["slot_f1_phq8"] - res["slot_f1_float"]) <= 0.3)
    res["acceptance_intent_acc_within_0.3pt"] = bool(abs(res["intent_acc_phq8"] - res["intent_acc_float"]) <= 0.3)
    res["acceptance_tagger_85pct_smaller"] = bool(res["tagger_reduction_phq8"] >= 85.0)
    (a.out / "report.json").write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    (a.out / "per_slot_f1.json").write_text(json.dumps(per, indent=1, sort_keys=True) + "\n")
    (a.out / "report.md").write_text(markdown(res, per))
    print(markdown(res, per))
    return 0


def per_intent(train, test, gold, clf, float_intents, quick) -> dict:
    """One float CRF per intent, chosen by the classifier's predicted intent (the alternative of
    spec/nlu-profile-v3.md §12)."""
    by = {}
    for ex in train:
        by.setdefault(ex["intent"], []).append(ex)
    crfs = {k: train_crf(v, quick, c1=0.1, c2=0.01) for k, v in sorted(by.items())}
    pred = set()
    for i, (ex, intent) in enumerate(zip(test, float_intents)):
        pred |= {(i, s, a, b) for (_, s, a, b) in crf_spans(crfs[intent], [ex])}
    p, r, f = f1(gold, pred)
    return {"per_intent_slot_f1_float": round(100 * f, 2), "per_intent_crfsuite_bytes": sum(os.path.getsize(c.modelfile.name) for c in crfs.values())}


def markdown(res: dict, per: dict) -> str:
    rows = [
        ("float (CRFsuite + scikit-learn)", res["intent_acc_float"], res["slot_f1_float"], f"{res['crfsuite_bytes']:,} + {res['classifier_joblib_bytes']:,} (crfsuite file + joblib)"),
        ("phq linear8 (joint file)", res["intent_acc_phq8"], res["slot_f1_phq8"], f"{res['joint_bytes_phq8']:,} (tagger alone {res['tagger_bytes_phq8']:,})"),
        ("phq linear4 (joint file)", res["intent_acc_phq4"], res["slot_f1_phq4"], f"{res['joint_bytes_phq4']:,} (tagger alone {res['tagger_bytes_phq4']:,})"),
    ]
    out = [f"SNIPS test ({res['n_test']} utterances, {res['n_gold_spans']} gold spans; train {res['n_train']}){' [QUICK: not meaningful]' if res['quick'] else ''}", "",
           "| model | intent accuracy % | slot F1 % | bytes |", "| --- | ---: | ---: | --- |"]
    out += [f"| {a} | {b:.2f} | {c:.2f} | {d} |" for a, b, c, d in rows]
    if res.get("c_python_agreement") is not None:
        out += ["", f"Python (pure) and C ({res['c_runtime_phq8']}) parses identical (intent and spans) on "
                    f"{res['c_python_agreement']:.2f}% of the test utterances at linear8, {res['c_python_agreement_phq4']:.2f}% at linear4."]
    out += ["", f"Tagger part {res['tagger_reduction_phq8']:.1f}% smaller than the CRFsuite model file at linear8 "
                f"({res['tagger_reduction_phq4']:.1f}% at linear4)."]
    if "per_intent_slot_f1_float" in res:
        out += [f"One CRF per intent (float, routed by the predicted intent): slot F1 {res['per_intent_slot_f1_float']:.2f}%, "
                f"{res['per_intent_crfsuite_bytes']:,} CRFsuite bytes in all."]
    worst = sorted(per["float"].items(), key=lambda kv: kv[1])[:8]
    out += ["", "Lowest per-slot F1 (float / phq8): " + ", ".join(f"{k} {v:.1f}/{per['phq8'].get(k, 0):.1f}" for k, v in worst), ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
