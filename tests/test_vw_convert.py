"""phq.writer.from_vw: Vowpal Wabbit linear models (--invert_hash) score texts as VW does
(spec/vw.md): binary (logistic, squared, hinge loss; --link logistic) and --oaa K, a named
or the default namespace, the constant, and named refusals. Trains tiny models in-process
with pyvw; the --oaa test uses a 20-intent CLINC150 subset (skipped without the data)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import phq
import phq.nlu
import phq.writer
from conftest import ROOT
from nlu_corpus import corpus
from phq.errors import UsageError

pyvw = pytest.importorskip("vowpalwabbit.pyvw")

DATA = ROOT.parent / "shared" / "data" / "clinc150" / "data_full.json"
TRAIN, LABELS = corpus(300, seed=1)
TEST = corpus(100, seed=2)[0]


def vw_text(t: str) -> str:
    """What VW parses as plain tokens: ':' and '|' are its syntax (value, namespace)."""
    return t.replace(":", " ").replace("|", " ")


def train(tmp_path, opts: str, examples: list[str], passes: int = 3):
    inv, model = tmp_path / "m.inv", tmp_path / "m.vw"
    vw = pyvw.Workspace(f"{opts} --quiet --invert_hash {inv} -f {model}")
    for _ in range(passes):
        for ex in examples:
            vw.learn(ex)
    vw.finish()  # writes --invert_hash and the model
    return inv, model


def scores(model, texts, ns="", extra=""):
    vw = pyvw.Workspace(f"-i {model} --quiet {extra}")
    try:
        return np.array([vw.predict(f"|{ns} {t}") for t in texts], np.float64)
    finally:
        vw.finish()


@pytest.mark.parametrize("loss", ["logistic", "squared", "hinge"])
@pytest.mark.parametrize("ns", ["", "w"], ids=["default-ns", "named-ns"])
def test_binary_parity(tmp_path, loss, ns):
    docs = [vw_text(t) for t in TRAIN]
    y = [1 if lab == "weather" else -1 for lab in LABELS]
    inv, model = train(tmp_path, f"--loss_function {loss} -b 22", [f"{v} |{ns} {t}" for v, t in zip(y, docs)])
    test = [vw_text(t) for t in TEST]
    raw = scores(model, test, ns)  # identity link: the linear score, clamped to the label range
    ws = pyvw.Workspace(f"-i {model} --quiet")
    try:
        phq.writer.from_vw(inv, tmp_path / "exact.phq", workspace=ws, texts=docs, classes=["other", "weather"], quant="f32")
    finally:
        ws.finish()
    phq.writer.from_vw(inv, tmp_path / "text.phq", quant="f32")
    with phq.open(tmp_path / "exact.phq") as f:
        lo, hi = f.metadata["phq.nlu"]["source"]["label_range"]
        assert f.metadata["phq.nlu"]["source"]["namespace"] == (ns or None)
    inside = (raw > lo) & (raw < hi)  # VW reports the score clamped to its label range
    assert inside.any()
    with phq.nlu.load(tmp_path / "exact.phq") as m:
        d = m.decision_function(test)
        np.testing.assert_allclose(np.clip(d, lo, hi), raw, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(m.predict(test) == "weather", raw > 0)
        assert list(m.classes_) == ["other", "weather"]
    with phq.nlu.load(tmp_path / "text.phq") as m:
        # 6 printed digits: each weight within 5e-6 relative, the sum within that of sum |w|
        d = m.decision_function(test)
        np.testing.assert_allclose(np.clip(d, lo, hi), raw, rtol=1e-4, atol=1e-4)


def test_binary_logistic_link_gives_the_probability_rule(tmp_path):
    docs = [vw_text(t) for t in TRAIN]
    y = [1 if lab == "weather" else -1 for lab in LABELS]
    inv, model = train(tmp_path, "--loss_function logistic --link logistic", [f"{v} | {t}" for v, t in zip(y, docs)])
    test = [vw_text(t) for t in TEST]
    p = scores(model, test)
    ws = pyvw.Workspace(f"-i {model} --quiet")
    try:
        phq.writer.from_vw(inv, tmp_path / "m.phq", workspace=ws, texts=docs, quant="f32")
    finally:
        ws.finish()
    with phq.nlu.load(tmp_path / "m.phq") as m:
        np.testing.assert_allclose(m.predict_proba(test)[:, 1], p, rtol=1e-5, atol=1e-6)
        assert list(m.classes_) == [-1, 1]


def test_collided_names_are_recovered_from_the_workspace(tmp_path):
    """--invert_hash keeps one name per weight slot: '7' and '07' share VW's slot 7 in the
    default hash mode, and only one is listed. With the workspace and texts both are scored."""
    ex = ["1 | play 7 jazz", "-1 | rain 07 tomorrow", "1 | play music", "-1 | weather paris"]
    inv, model = train(tmp_path, "", ex, passes=5)
    names = {line.split(":")[0] for line in inv.read_text().splitlines() if line.count(":") >= 2}
    assert len({"7", "07"} & names) == 1
    raw = scores(model, ["7", "07"])
    ws = pyvw.Workspace(f"-i {model} --quiet")
    try:
        phq.writer.from_vw(inv, tmp_path / "m.phq", workspace=ws, texts=[e.split("|")[1] for e in ex], quant="f32")
    finally:
        ws.finish()
    with phq.nlu.load(tmp_path / "m.phq") as m:
        np.testing.assert_allclose(m.decision_function(["7", "07"]), raw, rtol=1e-6, atol=1e-6)


@pytest.fixture(scope="module")
def clinc():
    if not DATA.exists():
        pytest.skip(f"CLINC150 not found at {DATA}")
    data = json.loads(DATA.read_text())
    intents = sorted({y for _, y in data["train"]})[:20]
    index = {y: i + 1 for i, y in enumerate(intents)}
    train_ = [(vw_text(x), index[y]) for x, y in data["train"] if y in index]
    test_ = [vw_text(x) for x, y in data["test"] + data["val"] if y in index]
    return train_, test_, intents


def test_oaa_clinc150_parity_and_linear8_agreement(tmp_path, clinc):
    train_, test_, intents = clinc
    inv, model = train(tmp_path, "--oaa 20 --loss_function logistic -b 23", [f"{y} |w {x}" for x, y in train_], passes=4)
    vw = pyvw.Workspace(f"-i {model} --quiet --scores")
    try:
        raw = np.array([vw.predict(f"|w {t}") for t in test_], np.float64)
        labels = raw.argmax(axis=1) + 1  # VW's --oaa prediction: the first class of the largest score
        phq.writer.from_vw(inv, tmp_path / "f32.phq", workspace=vw, texts=[x for x, _ in train_], classes=intents, quant="f32")
        phq.writer.from_vw(inv, tmp_path / "l8.phq", workspace=vw, texts=[x for x, _ in train_], classes=intents)
    finally:
        vw.finish()
    expected = np.array(intents)[labels - 1]
    with phq.nlu.load(tmp_path / "f32.phq") as m:
        d = m.decision_function(test_)
        # an unseen token that hashes into a trained slot scores in VW, not in phq: rare at -b 23
        same = np.isclose(d, raw, rtol=1e-5, atol=1e-5).all(axis=1)
        assert same.mean() >= 0.99, same.mean()
        np.testing.assert_allclose(d[same], raw[same], rtol=1e-5, atol=1e-5)
        assert (m.predict(test_) == expected).mean() >= 0.995
    with phq.nlu.load(tmp_path / "l8.phq") as m:
        agreement = float((m.predict(test_) == expected).mean())
    assert agreement >= 0.995, agreement


def _refused(tmp_path, opts, examples=None):
    examples = examples or ["1 |a play jazz |b now", "-1 |a rain |b today"]
    inv, _ = train(tmp_path, opts, examples)
    with pytest.raises(UsageError) as e:
        phq.writer.from_vw(inv, tmp_path / "x.phq")
    assert not (tmp_path / "x.phq").exists()
    return str(e.value)


def test_refusals_name_the_reason(tmp_path):
    assert "--quadratic ab" in _refused(tmp_path, "-q ab")
    assert "--ngram 2" in _refused(tmp_path, "--ngram 2", ["1 | play jazz now", "-1 | rain today"])
    assert "several namespaces ('a', 'b')" in _refused(tmp_path, "")
    (tmp_path / "r.txt").write_text("Version 9.11.9\nbits:18\n")
    with pytest.raises(UsageError, match="--invert_hash"):
        phq.writer.from_vw(tmp_path / "r.txt", tmp_path / "x.phq")
    inv, _ = train(tmp_path, "--oaa 3", ["1 | a", "2 | b", "3 | c"])
    with pytest.raises(UsageError, match="has 3 classes"):
        phq.writer.from_vw(inv, tmp_path / "x.phq", classes=["x", "y"])
    with pytest.raises(UsageError, match="texts= needs the workspace"):
        phq.writer.from_vw(inv, tmp_path / "x.phq", texts=["a"])


def test_oaa_two_classes_and_noconstant(tmp_path):
    """--oaa 2 has one output column in the profile: class 2's score minus class 1's;
    --noconstant leaves the intercept at 0."""
    docs = [vw_text(t) for t in TRAIN]
    y = [2 if lab == "weather" else 1 for lab in LABELS]
    inv, model = train(tmp_path, "--oaa 2 --noconstant --loss_function logistic -b 20", [f"{v} |w {t}" for v, t in zip(y, docs)])
    test = [vw_text(t) for t in TEST]
    vw = pyvw.Workspace(f"-i {model} --quiet --scores")
    try:
        raw = np.array([vw.predict(f"|w {t}") for t in test], np.float64)
        phq.writer.from_vw(inv, tmp_path / "m.phq", workspace=vw, texts=docs, classes=["other", "weather"], quant="f32")
    finally:
        vw.finish()
    with phq.open(tmp_path / "m.phq") as f:
        np.testing.assert_array_equal(f.tensors["intercept"], [0.0])
        assert f.metadata["phq.nlu"]["proba"] is None
    with phq.nlu.load(tmp_path / "m.phq") as m:
        np.testing.assert_allclose(m.decision_function(test), raw[:, 1] - raw[:, 0], rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(m.predict(test), np.array(["other", "weather"])[raw.argmax(axis=1)])
    with pytest.raises(UsageError, match="--oaa 2"):
        phq.writer.from_vw(inv, tmp_path / "x.phq", proba="logistic")
