"""phq.writer.from_sklearn's fidelity report (phq.writer.fidelity): its figures are the ones a
caller would measure by hand, min_agreement refuses atomically, and bad arguments are
UsageErrors. Small synthetic models (nlu_corpus); the CLI on CLINC150 is in test_cli_eval.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

import phq
import phq.nlu
import phq.writer
from nlu_corpus import corpus, dict_corpus
from phq.errors import UsageError
from phq.writer import fidelity as F

pytest.importorskip("sklearn")
from sklearn.feature_extraction import DictVectorizer  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

TRAIN, LABELS = corpus(400, seed=1)
TEST, TEST_LABELS = corpus(200, seed=2)


@pytest.fixture(scope="module")
def pipe():
    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LinearSVC(random_state=0)).fit(TRAIN, LABELS)


@pytest.fixture(scope="module")
def noisy():
    """A model built to disagree once coarsely quantized: 12 classes learned from random labels,
    so many documents sit near a tie between two classes."""
    rng = np.random.default_rng(3)
    labels = [f"c{int(j)}" for j in rng.integers(0, 12, len(TRAIN))]
    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LinearSVC(C=10.0, random_state=0)).fit(TRAIN, labels)


def test_f32_agrees_exactly_and_the_report_matches_the_file(tmp_path, pipe):
    path = tmp_path / "m.phq"
    r = phq.writer.from_sklearn(pipe, path, quant="f32")
    assert isinstance(r, phq.writer.ConversionReport) and not isinstance(r, int)
    assert r.written and r.bytes == path.stat().st_size and r.path == str(path)
    assert r.agreement == 1.0 and r.n_disagree == 0
    assert 0 <= r.max_decision_error < 1e-5
    assert r.texts_source == "generated" and r.n_texts == len(F.generated_texts(_branches(pipe), _builtin()))
    assert r.n_texts > F.GENERATED_PROBES  # the built-in probes plus the vocabulary documents
    assert r.accuracy_before is None and r.accuracy_after is None and r.n_labels == 0
    assert r.estimator == "LinearSVC" and r.n_classes == len(pipe.classes_)
    assert r.settings["quant"] == "f32" and r.settings["fingerprint_bits"] == 16 and "progress" not in r.settings


def _branches(pipe):
    from phq.writer.sklearn_convert import convert

    return convert(pipe)[3]


def _builtin():
    from phq.writer.sklearn_convert import PROBE_TEXTS

    return PROBE_TEXTS


def test_given_texts_and_labels_are_measured_as_by_hand(tmp_path, pipe):
    path = tmp_path / "m.phq"
    r = phq.writer.from_sklearn(pipe, path, quant="linear4", scale="table", texts=TEST, labels=TEST_LABELS)
    with phq.nlu.load(path) as clf:
        ours = clf.predict(TEST)
        d = np.abs(clf.decision_function(TEST) - pipe.decision_function(TEST)).max()
    theirs = pipe.predict(TEST)
    assert r.texts_source == "given" and r.n_texts == len(TEST) and r.n_labels == len(TEST)
    assert r.agreement == pytest.approx(float((ours == theirs).mean()), abs=0)
    assert r.n_disagree == int((ours != theirs).sum())
    assert r.max_decision_error == pytest.approx(d, rel=1e-12) and r.max_decision_error > 0
    assert r.accuracy_before == pytest.approx(pipe.score(TEST, TEST_LABELS), abs=0)
    assert r.accuracy_after == pytest.approx(float((ours == np.asarray(TEST_LABELS)).mean()), abs=0)


def test_coarse_quantization_of_a_model_built_to_disagree(tmp_path, noisy):
    r = phq.writer.from_sklearn(noisy, tmp_path / "c.phq", quant="linear4", scale="table", fingerprint_bits=0)
    assert r.agreement < 1.0 and r.n_disagree > 0 and r.max_decision_error > 0
    assert r.agreement == pytest.approx(1 - r.n_disagree / r.n_texts)
    exact = phq.writer.from_sklearn(noisy, tmp_path / "f.phq", quant="f32")
    assert exact.agreement == 1.0  # the disagreement is the quantization's, not the probes'


def test_min_agreement_refuses_and_writes_nothing(tmp_path, noisy):
    path = tmp_path / "c.phq"
    opts = dict(quant="linear4", scale="table", fingerprint_bits=0)
    found = phq.writer.from_sklearn(noisy, tmp_path / "probe.phq", **opts).agreement
    with pytest.raises(phq.writer.AgreementError) as e:
        phq.writer.from_sklearn(noisy, path, min_agreement=found + 1e-9, **opts)
    assert isinstance(e.value, UsageError)
    assert e.value.agreement == found and e.value.min_agreement == found + 1e-9
    assert f"{100 * found:.2f}%" in str(e.value) and "min_agreement" in str(e.value) and "not written" in str(e.value)
    rep = e.value.report
    assert not rep.written and rep.bytes == (tmp_path / "probe.phq").stat().st_size  # what the file would have been
    assert not path.exists() and phq.writer.stale_temp_files(path) == []
    # a previous file at the path stays as it was
    path.write_bytes(b"previous")
    with pytest.raises(phq.writer.AgreementError):
        phq.writer.from_sklearn(noisy, path, min_agreement=1.0, **opts)
    assert path.read_bytes() == b"previous" and phq.writer.stale_temp_files(path) == []
    # at the threshold: written
    ok = phq.writer.from_sklearn(noisy, path, min_agreement=found, **opts)
    assert ok.written and ok.min_agreement == found and path.stat().st_size == ok.bytes


def test_to_dict_is_flat_json_and_conversions_are_deterministic(tmp_path, pipe):
    a = phq.writer.from_sklearn(pipe, tmp_path / "a.phq", texts=TEST[:50], labels=TEST_LABELS[:50])
    b = phq.writer.from_sklearn(pipe, tmp_path / "b.phq", texts=TEST[:50], labels=TEST_LABELS[:50])
    da, db = a.to_dict(), b.to_dict()
    assert all(isinstance(v, (str, int, float, bool, type(None))) for v in da.values())
    assert json.loads(json.dumps(da, allow_nan=False)) == da
    assert da["setting_quant"] == "linear8" and da["agreement"] == a.agreement and da["bytes"] == a.bytes
    assert {k: v for k, v in da.items() if k != "path"} == {k: v for k, v in db.items() if k != "path"}
    assert (tmp_path / "a.phq").read_bytes() == (tmp_path / "b.phq").read_bytes()
    g1 = F.generated_texts(_branches(pipe), _builtin())
    assert g1 == F.generated_texts(_branches(pipe), _builtin())  # the generated probes too
    assert "agreement with scikit-learn" in a.summary() and "accuracy: scikit-learn" in a.summary()


def test_dict_models_get_generated_probes(tmp_path):
    X, y = dict_corpus(300, seed=4)
    pipe = make_pipeline(DictVectorizer(), LogisticRegression(max_iter=500)).fit(X, y)
    r = phq.writer.from_sklearn(pipe, tmp_path / "d.phq", quant="f32")
    assert r.agreement == 1.0 and r.n_texts == F.GENERATED_PROBES + 1 and r.max_decision_error < 1e-5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(labels=["a"]), "labels= needs texts="),
        (dict(texts=["a", "b"], labels=["x"]), "1 labels for 2 texts"),
        (dict(texts=[]), "texts= is empty"),
        (dict(texts="play music"), "not a single document"),
        (dict(min_agreement=1.5), r"min_agreement must be a number in \[0, 1\]"),
        (dict(min_agreement="0.9"), "min_agreement must be"),
        (dict(min_agreement=True), "min_agreement must be"),
        (dict(texts=[{"a": 1}]), "cannot score the probe texts"),
    ],
)
def test_bad_arguments_are_usage_errors_and_write_nothing(tmp_path, pipe, kwargs, match):
    path = tmp_path / "x.phq"
    with pytest.raises(UsageError, match=match):
        phq.writer.from_sklearn(pipe, path, **kwargs)
    assert not path.exists() and phq.writer.stale_temp_files(path) == []


def test_write_check_file_sees_the_complete_file_and_can_refuse(tmp_path):
    seen = []

    def check(tmp):
        with phq.open(tmp) as m:
            seen.append(len(m.tables["t"]))
        raise UsageError("no")

    path = tmp_path / "w.phq"
    with pytest.raises(UsageError, match="no"):
        phq.writer.write(path, {"t": {"a": [1.0], "b": [2.0]}}, check_file=check)
    assert seen == [2] and not path.exists() and phq.writer.stale_temp_files(path) == []
