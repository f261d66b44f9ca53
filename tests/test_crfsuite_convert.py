"""phq.writer.from_crfsuite (spec/nlu-profile-v3.md §9): round trip against CRFsuite's own tagger,
refusals, joint models with a scikit-learn classifier, and `phq predict` on joint models."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

pycrfsuite = pytest.importorskip("pycrfsuite")
sklearn_crfsuite = pytest.importorskip("sklearn_crfsuite")

import phq.nlu  # noqa: E402
import phq.writer  # noqa: E402
from phq import tagger as tg  # noqa: E402
from phq.errors import UsageError  # noqa: E402

TEMPLATES = ["bias", "bos", "eos", [["w", 0]], [["w", -1]], [["w", 1]], [["s3", 0]], [["p2", 0]], [["shape", 0]],
             [["title", 0]], [["w", -1], ["w", 0]]]
ARTISTS = ["the beatles", "Queen", "Miles Davis", "Björk", "AC/DC", "Sigur Rós", "Los Lobos", "Ed Sheeran"]
TRACKS = ["Yesterday", "hey jude", "So What", "Jóga", "Back in Black", "Hoppípolla", "La Bamba", "Perfect"]
CITIES = ["Paris", "new york", "São Paulo", "Tokyo", "berlin", "İstanbul", "Reykjavík"]
DAYS = ["tomorrow", "today", "on Monday", "next week", "at 7:30 pm"]


def make_data(n: int, seed: int = 0) -> list[dict]:
    """Synthetic utterances of two intents with character-offset slots."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts: list[tuple[str, str | None]] = []
        if rng.random() < 0.5:
            intent = "PlayMusic"
            parts += [(rng.choice(["play", "Play", "put on", "I want to hear"]), None), (rng.choice(TRACKS), "track")]
            if rng.random() < 0.7:
                parts += [(rng.choice(["by", "from"]), None), (rng.choice(ARTISTS), "artist")]
        else:
            intent = "GetWeather"
            parts += [(rng.choice(["will it rain in", "weather for", "what's the forecast in"]), None), (rng.choice(CITIES), "city")]
            if rng.random() < 0.6:
                parts += [(rng.choice(DAYS), "time")]
        text, slots = "", []
        for chunk, slot in parts:
            if text:
                text += " "
            if slot:
                slots.append({"slot": slot, "start": len(text), "end": len(text) + len(chunk)})
            text += chunk
        out.append({"text": text, "intent": intent, "slots": slots})
    return out


def bio(example: dict) -> tuple[list[str], list[str]]:
    toks = phq.nlu.tokenize(example["text"])
    labels = []
    for _, s, e in toks:
        lab = "O"
        for sl in example["slots"]:
            if sl["start"] <= s and e <= sl["end"]:
                lab = ("B-" if s == sl["start"] else "I-") + sl["slot"]
        labels.append(lab)
    return [t for t, _, _ in toks], labels


@pytest.fixture(scope="module")
def data():
    return make_data(400), make_data(150, seed=1)


@pytest.fixture(scope="module")
def crf(data):
    train, _ = data
    X, y = [], []
    for ex in train:
        toks, labels = bio(ex)
        X.append(phq.nlu.token_features(toks, TEMPLATES))
        y.append(labels)
    return sklearn_crfsuite.CRF(c1=0.05, c2=0.01, max_iterations=60).fit(X, y)


@pytest.fixture(scope="module")
def classifier(data):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    train, _ = data
    return make_pipeline(TfidfVectorizer(), LogisticRegression()).fit([e["text"] for e in train], [e["intent"] for e in train])


def crf_labels(crf, texts):
    out = []
    for t in texts:
        toks = [x for x, _, _ in phq.nlu.tokenize(t)]
        out.append(crf.tagger_.tag(pycrfsuite.ItemSequence(phq.nlu.token_features(toks, TEMPLATES))) if toks else [])
    return out


@pytest.mark.parametrize("quant", ["f32", "linear8"])
def test_round_trip_labels_equal_crfsuite(tmp_path, data, crf, quant):
    _, test = data
    p = tmp_path / "t.phq"
    phq.writer.from_crfsuite(crf, p, templates=TEMPLATES, quant=quant)
    texts = [e["text"] for e in test] + ["", "PLAY HEY JUDE BY QUEEN", "weather for Reykjavík at 7:30 pm please"]
    want = crf_labels(crf, texts)
    with phq.nlu.load(p) as m:
        got = [[t["label"] for t in toks] for toks in m.tag(texts)]
    same = sum(a == b for a, b in zip(got, want))
    if quant == "f32":
        assert same == len(texts)
    else:  # 8-bit weights: nearly all paths survive quantization on this data
        assert same >= 0.97 * len(texts)


def test_model_file_and_tagger_inputs(tmp_path, crf):
    path = crf.modelfile.name
    a, b, c = tmp_path / "a.phq", tmp_path / "b.phq", tmp_path / "c.phq"
    phq.writer.from_crfsuite(crf, a, templates=TEMPLATES)
    phq.writer.from_crfsuite(path, b, templates=TEMPLATES)
    t = pycrfsuite.Tagger()
    t.open(path)
    phq.writer.from_crfsuite(t, c, templates=TEMPLATES)
    assert a.read_bytes() == b.read_bytes() == c.read_bytes()  # deterministic, same source


def test_joint_model_parse_and_intents(tmp_path, data, crf, classifier):
    _, test = data
    p = tmp_path / "joint.phq"
    phq.writer.from_crfsuite(crf, p, templates=TEMPLATES, classifier=classifier, quant="f32")
    texts = [e["text"] for e in test]
    with phq.nlu.load(p) as m:
        assert list(m.classes_) == list(classifier.classes_)
        res = m.parse(texts)
        assert [r["intent"]["name"] for r in res] == list(classifier.predict(texts))
        proba = classifier.predict_proba(texts).max(axis=1)
        assert np.allclose([r["intent"]["score"] for r in res], proba, rtol=1e-5)
        gold = {(i, s["slot"], s["start"], s["end"]) for i, e in enumerate(test) for s in e["slots"]}
        got = {(i, s["slot"], s["start"], s["end"]) for i, r in enumerate(res) for s in r["slots"]}
        assert len(gold & got) >= 0.95 * len(gold)
        for r, t in zip(res, texts):
            for s in r["slots"]:
                assert s["value"] == t[s["start"] : s["end"]]
        assert m.parse([""]) == [{"intent": {"name": m.parse([""])[0]["intent"]["name"], "score": m.parse([""])[0]["intent"]["score"]}, "slots": []}]


def test_refuses_foreign_features(tmp_path, data):
    train, _ = data
    X, y = [], []
    for ex in train[:80]:
        toks, labels = bio(ex)
        X.append([{"word": t.lower(), "is_title": t.istitle()} for t in toks])  # the tutorial's dict features
        y.append(labels)
    foreign = sklearn_crfsuite.CRF(max_iterations=10).fit(X, y)
    with pytest.raises(UsageError, match="token_features"):
        phq.writer.from_crfsuite(foreign, tmp_path / "x.phq", templates=TEMPLATES)


def test_refuses_templates_missing_from_list(tmp_path, crf):
    with pytest.raises(UsageError, match="templates do not produce"):
        phq.writer.from_crfsuite(crf, tmp_path / "x.phq", templates=["bias", "bos", "eos", [["w", 0]]])


def test_refuses_values_the_runtime_cannot_compute(tmp_path, data):
    """Attributes named like a template but computed differently (w not lowercased)."""
    train, _ = data
    X, y = [], []
    for ex in train[:200]:
        toks, labels = bio(ex)
        X.append([[f"w={t}", f"shape={t[:1]}"] for t in toks])
        y.append(labels)
    odd = sklearn_crfsuite.CRF(max_iterations=30).fit(X, y)
    with pytest.raises(UsageError, match="do not produce"):
        phq.writer.from_crfsuite(odd, tmp_path / "x.phq", templates=[[["w", 0]], [["shape", 0]]])


@pytest.mark.parametrize("attribute, value, ok", [
    ("w", "play", True), ("w", "Play", False), ("w", "a b", False), ("p2", "pla", False), ("s3", "lay", True),
    ("shape", "Xxd-", True), ("shape", "Xa", False), ("sshape", "Xxx", False), ("digit", "2", False), ("title", "1", True),
    ("raw", "Play", True), ("w", "", False),
])
def test_plausible_values(attribute, value, ok):
    from phq.writer.crfsuite_convert import plausible

    assert plausible(attribute, value) is ok


def test_self_check_catches_a_misread(tmp_path, crf, monkeypatch):
    """The self-check fails when the weights are read wrongly (here: transitions transposed)."""
    import phq.writer.crfsuite_convert as cc

    real = cc.read_crf

    def transposed(tagger):
        labels, rows, trans = real(tagger)
        return labels, rows, trans.T * 50  # exaggerated so that paths change
    monkeypatch.setattr(cc, "read_crf", transposed)
    with pytest.raises(UsageError, match="self-check"):
        phq.writer.from_crfsuite(crf, tmp_path / "x.phq", templates=TEMPLATES)


@pytest.mark.parametrize("bad", [[[["w", 12]]], [[["nope", 0]]], "bias", None])
def test_refuses_bad_templates(tmp_path, crf, bad):
    with pytest.raises(UsageError):
        phq.writer.from_crfsuite(crf, tmp_path / "x.phq", templates=bad)


def test_refuses_non_bio_labels(tmp_path):
    X = [[["bias", "w=a"], ["bias", "w=b"]]] * 3
    y = [["O", "LOC"]] * 3
    crf = sklearn_crfsuite.CRF(max_iterations=5).fit(X, y)
    with pytest.raises(UsageError, match="BIO"):
        phq.writer.from_crfsuite(crf, tmp_path / "x.phq", templates=["bias", [["w", 0]]])


def test_refuses_other_objects(tmp_path):
    with pytest.raises(UsageError):
        phq.writer.from_crfsuite(object(), tmp_path / "x.phq", templates=TEMPLATES)
    with pytest.raises(UsageError):
        phq.writer.from_crfsuite(tmp_path / "missing.crfsuite", tmp_path / "x.phq", templates=TEMPLATES)


def test_cli_predict_joint(tmp_path, crf, classifier, capsys):
    from phq.cli import main

    p = tmp_path / "joint.phq"
    phq.writer.from_crfsuite(crf, p, templates=TEMPLATES, classifier=classifier)
    texts = tmp_path / "in.txt"
    texts.write_text("play hey jude by Queen\nwill it rain in Paris tomorrow\n\n", encoding="utf-8")
    assert main(["predict", str(p), "--json", "--input", str(texts)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["intent"]["name"] for x in lines[:2]] == ["PlayMusic", "GetWeather"]
    assert {"slot": "artist", "value": "Queen", "start": 17, "end": 22} in lines[0]["slots"]
    assert main(["predict", str(p), "--input", str(texts)]) == 0
    out = capsys.readouterr().out
    assert "PlayMusic" in out and "artist=Queen" in out


def joint_parts(classifier, crf):
    from phq.writer.crfsuite_convert import convert as convert_crf
    from phq.writer.sklearn_convert import convert as convert_sklearn

    ctables, ctensors, cmeta, _ = convert_sklearn(classifier)
    ttables, ttensors, tagger = convert_crf(crf, templates=TEMPLATES)
    clf_obj = {k: v for k, v in cmeta["phq.nlu"].items() if k not in ("profile", "unicode")}
    return {**ctables, **ttables}, {**ctensors, **ttensors}, clf_obj, tagger


@pytest.mark.parametrize("case, code", [
    ("classifier_has_profile", "E_NLU_SCHEMA"),
    ("classifier_dict_input", "E_NLU_SCHEMA"),
    ("classifier_schema_error", "E_NLU_SCHEMA"),
    ("shared_name", "E_NLU_REFERENCE"),
    ("classifier_table_missing", "E_NLU_REFERENCE"),
])
def test_bad_joint_profiles(tmp_path, classifier, crf, case, code):
    from phq.errors import ProfileError

    tables, tensors, clf_obj, tagger = joint_parts(classifier, crf)
    if case == "classifier_has_profile":
        clf_obj["profile"] = 2
    elif case == "classifier_dict_input":
        clf_obj["input"] = "dict"
    elif case == "classifier_schema_error":
        clf_obj["proba"] = "bogus"
    elif case == "shared_name":
        tagger["state_table"] = "features"  # the classifier's score table
    elif case == "classifier_table_missing":
        clf_obj["table"] = "nope"
    prof = {"profile": 3, "unicode": "14.0.0", "classifier": clf_obj, "tagger": tagger}
    p = tmp_path / "bad.phq"
    phq.writer.write(p, tables, tensors=tensors, metadata={"phq.nlu": prof})
    with pytest.raises(ProfileError) as e:
        phq.nlu.load(p)
    assert e.value.code == code, str(e.value)
    if case == "shared_name":
        assert "share" in str(e.value)


def test_profile2_runtime_view_refuses_profile3(tmp_path, crf):
    """A runtime reading profiles 1 and 2 only (phq.nlu.Classifier) refuses a profile 3 file with E_NLU_VERSION."""
    from phq.errors import ProfileError
    from phq.reader import open_model

    p = tmp_path / "t.phq"
    phq.writer.from_crfsuite(crf, p, templates=TEMPLATES)
    with open_model(p) as model, pytest.raises(ProfileError) as e:
        phq.nlu.Classifier(model)
    assert e.value.code == "E_NLU_VERSION"
