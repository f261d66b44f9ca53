"""CalibratedClassifierCV on CLINC150 -> phq (issue 16): fidelity of calibrated models.

    .venv/bin/python examples/clinc150/calibrated.py [--classes N] [--bases svc,logreg] [--json OUT]

For each (base, method, ensemble) it fits Pipeline([TfidfVectorizer(word 1-2), CalibratedClassifierCV(base)])
on the train split (the first N intents when --classes is given), converts it with f32 and linear8
weights, and reports on the test split: the largest |proba - predict_proba| and the agreement of
predict with scikit-learn's, for the pure Python and the C runtime (accelerated path), plus file sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1].parent / "shared" / "data" / "clinc150" / "data_full.json"


def load(path: Path, classes: int | None):
    data = json.loads(path.read_text(encoding="utf-8"))
    train, test = data["train"], data["test"]
    if classes:
        keep = set(sorted({lab for _, lab in train})[:classes])
        train = [p for p in train if p[1] in keep]
        test = [p for p in test if p[1] in keep]
    Xtr, ytr = (list(x) for x in zip(*train))
    Xte, yte = (list(x) for x in zip(*test))
    return Xtr, np.array(ytr), Xte, np.array(yte)


def pipeline(base: str, method: str, ensemble: bool, cv: int = 3):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC

    clf = {"svc": lambda: LinearSVC(C=1.0, random_state=0), "logreg": lambda: LogisticRegression(C=10.0, max_iter=300)}[base]()
    return Pipeline([("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                     ("clf", CalibratedClassifierCV(clf, method=method, cv=cv, ensemble=ensemble))])


def measure(pipe, Xte, path: Path, quant: str) -> dict:
    import phq.nlu
    import phq.writer

    size = phq.writer.from_sklearn(pipe, path, quant=quant).bytes
    want = pipe.predict_proba(Xte)
    want_label = pipe.predict(Xte)
    out = {"bytes": size}
    for runtime, pure in (("pure", "1"), ("c", "")):
        os.environ["PHQ_PURE"] = pure
        with phq.nlu.load(path) as m:
            assert m.accelerated == (pure == ""), runtime
            p = m.predict_proba(Xte)
            out[f"{runtime}_max_abs_proba_err"] = float(np.abs(p - want).max())
            out[f"{runtime}_agreement"] = float((m.classes_[p.argmax(axis=1)] == want_label).mean())
    os.environ.pop("PHQ_PURE", None)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--classes", type=int, default=None, help="only the first N intents (default: all 150)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--cv", type=int, default=3)
    ap.add_argument("--bases", default="svc,logreg", help="comma-separated: svc (LinearSVC), logreg (LogisticRegression)")
    a = ap.parse_args(argv)
    if not DATA.exists():
        print(f"CLINC150 not found at {DATA}", file=sys.stderr)
        return 2
    Xtr, ytr, Xte, yte = load(DATA, a.classes)
    results = {"classes": len(set(ytr)), "train": len(Xtr), "test": len(Xte), "cv": a.cv}
    with tempfile.TemporaryDirectory() as tmp:
        for base in a.bases.split(","):
            for method in ("sigmoid", "isotonic"):
                for ensemble in (True, False):
                    name = f"{base}_{method}_{'ensemble' if ensemble else 'single'}"
                    t0 = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        pipe = pipeline(base, method, ensemble, a.cv).fit(Xtr, ytr)
                    results[f"{name}_sklearn_test_acc"] = float((pipe.predict(Xte) == yte).mean())
                    for quant in ("f32", "linear8"):
                        r = measure(pipe, Xte, Path(tmp) / "m.phq", quant)
                        for k, v in r.items():
                            results[f"{name}_{quant}_{k}"] = v
                    print(f"{name}: {time.perf_counter() - t0:.1f}s "
                          + " ".join(f"{q}: err {results[f'{name}_{q}_c_max_abs_proba_err']:.2e} agree {results[f'{name}_{q}_c_agreement']:.4f} "
                                     f"{results[f'{name}_{q}_bytes']} B" for q in ("f32", "linear8")), flush=True)
    if a.json:
        a.json.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
