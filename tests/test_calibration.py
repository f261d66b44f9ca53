"""Calibrated classifiers (issue 16; spec/nlu-profile-v2.md §2.4, §8.5.1): CalibratedClassifierCV over
the supported linear bases, sigmoid and isotonic, ensemble or not, binary and multi-class, converted
by phq.writer.from_sklearn and scored by the pure Python and the C runtime (the JavaScript runtime
runs the calibrated golden files of the NLU conformance suite, tests/test_nlu_conformance.py).

The CLINC150 test (a 20-intent subset, skipped when ../shared has no CLINC150) is the acceptance:
f32 probabilities within 1e-5 of predict_proba and linear8 agreement >= 99.5%.
examples/clinc150/calibrated.py measures the full data set.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import phq
import phq.nlu
from conftest import ROOT

pytest.importorskip("sklearn")
from sklearn.calibration import CalibratedClassifierCV  # noqa: E402
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

import phq.writer  # noqa: E402

CLINC = ROOT.parent / "shared" / "data" / "clinc150" / "data_full.json"
WORDS = "play music song weather rain sun alarm wake set book table dinner list add track".split()
LABELS = ["music", "weather", "alarm"]


def _texts(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X, y = [], []
    for i in range(n):
        c = i % 3
        X.append(" ".join(rng.choice(WORDS[c * 5:(c + 1) * 5], 3)) + " " + " ".join(rng.choice(WORDS, 2)))
        y.append(LABELS[c] if i % 7 else LABELS[(c + 1) % 3])  # some noise: probabilities are not all 0/1
    return X, np.array(y)


def _scores(path, X):
    """(pure, accelerated) predict_proba and predict of the file."""
    out = []
    for pure in ("1", ""):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PHQ_PURE", pure)
            with phq.nlu.load(path) as m:
                assert m.accelerated == (pure == "" and phq.nlu._accel_nlu is not None)
                out.append((m.predict_proba(X), m.predict(X), m.decision_function(X)))
    return out


BASES = {
    "LinearSVC": lambda: LinearSVC(random_state=0),
    "LogisticRegression": lambda: LogisticRegression(max_iter=200),
    "SGDClassifier": lambda: SGDClassifier(random_state=0),
    "RidgeClassifier": lambda: RidgeClassifier(),
}


# every base twice; over the grid: both methods x binary / multi-class x ensemble True / False
GRID = [(base, method, binary) for i, base in enumerate(sorted(BASES))
        for method, binary in ((("sigmoid", False), ("isotonic", True)) if i % 2 else (("isotonic", False), ("sigmoid", True)))]


@pytest.mark.parametrize("base,method,binary", GRID)
def test_calibrated_bases_convert_and_agree(tmp_path, base, method, binary):
    X, y = _texts()
    if binary:
        y = np.where(y == "music", "music", "other")
    ensemble = (base < "M") != binary
    pipe = Pipeline([("v", TfidfVectorizer(ngram_range=(1, 2))),
                     ("c", CalibratedClassifierCV(BASES[base](), method=method, cv=3, ensemble=ensemble))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(X, y)
    path = tmp_path / "m.phq"
    phq.writer.from_sklearn(pipe, path, quant="f32")
    want = pipe.predict_proba(X)
    (pp, lp, dp), (pa, la, da) = _scores(path, X)
    K = len(pipe.classes_)
    assert pp.shape == (len(X), K) and dp.shape == (len(X), K)  # decision values: the K probabilities (§8.5.1)
    np.testing.assert_array_equal(pp, dp)
    np.testing.assert_allclose(pa, pp, rtol=1e-12, atol=1e-15)  # the C runtime: same order of operations
    assert (lp == la).all()
    # f32 weights: a sigmoid is flat enough for 1e-5; an isotonic map fitted on 80 samples has steep
    # segments that multiply the float32 rounding of a score (CLINC150 below: within 1e-5)
    assert np.abs(pp - want).max() < (1e-5 if method == "sigmoid" else 1e-3)
    assert (lp == pipe.predict(X)).mean() >= 0.99
    with phq.nlu.load(path) as m:
        prof = m.profile
        assert prof["proba"] == "calibrated" and prof["calibration"]["folds"] == (3 if ensemble else 1)
        assert prof["estimator"] == f"CalibratedClassifierCV({base})"
        assert m.table.dim == prof["calibration"]["folds"] * (1 if binary else K)


def test_refusals_name_their_reason(tmp_path):
    X, y = _texts()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        temp = Pipeline([("v", CountVectorizer()), ("c", CalibratedClassifierCV(LinearSVC(), method="temperature", cv=2))]).fit(X, y)
        nested = CalibratedClassifierCV(Pipeline([("v", CountVectorizer()), ("s", LinearSVC())]), cv=2).fit(X, y)
        missing = Pipeline([("v", CountVectorizer()), ("c", CalibratedClassifierCV(LinearSVC(), cv=2))]).fit(X, y)
        two = y != LABELS[2]
        missing.steps[-1][1].calibrated_classifiers_[0].estimator = LinearSVC().fit(missing.steps[0][1].transform(np.array(X)[two]), y[two])
    with pytest.raises(phq.UsageError, match="method='temperature'"):
        phq.writer.from_sklearn(temp, tmp_path / "a.phq")
    with pytest.raises(phq.UsageError, match="vectorizer before"):
        phq.writer.from_sklearn((CountVectorizer().fit(X), nested), tmp_path / "b.phq")
    with pytest.raises(phq.UsageError, match="2 of the 3 classes"):
        phq.writer.from_sklearn(missing, tmp_path / "c.phq")
    from sklearn.naive_bayes import MultinomialNB

    nb = Pipeline([("v", CountVectorizer()), ("c", CalibratedClassifierCV(MultinomialNB(), cv=2))]).fit(X, y)
    with pytest.raises(phq.UsageError, match="calibrates predict_proba"):  # NB's score is not linear in its weights
        phq.writer.from_sklearn(nb, tmp_path / "d.phq")
    assert not any(tmp_path.iterdir())


def test_profile1_object_with_calibration_is_refused(tmp_path):
    """§2.4: profile 2 only; in a profile 1 object the member is unknown (E_NLU_SCHEMA)."""
    from phq.conformance.nlu import _as_profile1, _calibrated, FIVE, _write

    name, meta, tables, tensors, opts = _calibrated("p1", FIVE, "sigmoid", 3, 40)
    meta = {"phq.nlu": {**_as_profile1(meta["phq.nlu"]), "calibration": meta["phq.nlu"]["calibration"]}}
    path = tmp_path / "p1.phq"
    _write(path, meta, tables, tensors, opts)
    for pure in ("1", ""):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PHQ_PURE", pure)
            with pytest.raises(phq.ProfileError) as e:
                phq.nlu.load(path)
            assert e.value.code == "E_NLU_SCHEMA"


def test_nan_fold_scores_give_nan_not_a_crash(tmp_path):
    """A dict model (pure Python runtime) with a null feature value: NaN fold scores, NaN
    probabilities (§8.5.1: a NaN stays NaN through both maps), the first NaN wins predict."""
    from phq.conformance.nlu import _profile

    for method in ("sigmoid", "isotonic"):
        cfg = {"name": "dict", "kind": "dict", "key_prefix": "", "separator": "=", "norm": None, "norm_table": None, "weight": 1.0}
        prof = _profile([cfg], LABELS, proba="calibrated")
        tensors = {"intercept": np.zeros(6)}
        if method == "sigmoid":
            prof["calibration"] = {"method": "sigmoid", "folds": 2, "a": [-1.0] * 6, "b": [0.0] * 6}
        else:
            prof["calibration"] = {"method": "isotonic", "folds": 2, "points": [1, 2, 3, 1, 2, 3], "x": "cx", "y": "cy"}
            tensors["cx"] = np.array([0.0, -1, 1, -1, 0, 1, 0.0, -1, 1, -1, 0, 1])
            tensors["cy"] = np.array([0.5, 0, 1, 0, 0.5, 1, 0.5, 0, 1, 0, 0.5, 1])
        path = tmp_path / f"{method}.phq"
        phq.writer.write(path, {"features": (["len", "w=play"], np.array([[1.0] * 6, [2.0, 0, 0, 2.0, 0, 0]], np.float32))},
                         tensors=tensors, metadata={"phq.nlu": prof})
        with phq.nlu.load(path) as m:
            p = m.predict_proba([{"len": None}, {"w=play": 1}, {}])
            assert np.isnan(p[0]).all()
            assert np.isfinite(p[1:]).all() and np.allclose(p[1:].sum(axis=1), 1.0)
            assert m.predict([{"w=play": 1}])[0] == "music"


@pytest.fixture(scope="module")
def clinc20():
    if not CLINC.exists():
        pytest.skip(f"CLINC150 not found at {CLINC}")
    data = json.loads(CLINC.read_text(encoding="utf-8"))
    keep = set(sorted({lab for _, lab in data["train"]})[:20])
    tr = [p for p in data["train"] if p[1] in keep]
    te = [p for p in data["test"] if p[1] in keep]
    return [t for t, _ in tr], np.array([l for _, l in tr]), [t for t, _ in te], np.array([l for _, l in te])


@pytest.mark.parametrize("method,ensemble", [("sigmoid", True), ("isotonic", True), ("isotonic", False)])
def test_acceptance_clinc150_subset(tmp_path, clinc20, method, ensemble):
    """Issue 16's acceptance on 20 CLINC150 intents (2,000 train, 600 test utterances): f32
    probabilities within 1e-5 of predict_proba, linear8 agreement >= 99.5%, both runtimes."""
    Xtr, ytr, Xte, _ = clinc20
    pipe = Pipeline([("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                     ("clf", CalibratedClassifierCV(LinearSVC(random_state=0), method=method, cv=3, ensemble=ensemble))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(Xtr, ytr)
    want, want_label = pipe.predict_proba(Xte), pipe.predict(Xte)
    for quant in ("f32", "linear8"):
        path = tmp_path / f"{quant}.phq"
        phq.writer.from_sklearn(pipe, path, quant=quant)
        for proba, label, _ in _scores(path, Xte):
            agreement = float((label == want_label).mean())
            if quant == "f32":
                assert np.abs(proba - want).max() <= 1e-5
                assert agreement == 1.0
            else:
                assert agreement >= 0.995, agreement
