"""Every NLU runtime answers the same: the NLU conformance suite with Python (pure and
accelerated) and C (plain and ASan+UBSan), and differential runs C vs pure Python on the whole
hard-strings corpus, a 1 MB input, random texts and real CLINC150 models (decision values
bit-identical: spec/nlu-profile-v2.md §8.6, same libm on one machine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import phq.nlu
from phq.conformance import nlu as suite
from phq.conformance.nlu_corpus import hard_strings
from test_c_agreement import ROOT, c_binary

VALID = [e for e in suite.load_suite() if e["expect"] == "accept"]


def c_answers(model, texts: list[bytes], binary: str = "phq-nlu-conform") -> list[dict]:
    reqs = "".join(f"score {t.hex() or '-'}\n" for t in texts)
    out = subprocess.run([str(c_binary(binary)), str(model)], input=reqs.encode(), capture_output=True, timeout=600)
    lines = out.stdout.decode().rstrip("\n").split("\n")
    assert lines[0] == "ok" and lines[-1] == "end", lines[:2]
    return [json.loads(x) for x in lines[1:-1]]


def py_answers(model, texts: list[bytes], pure: bool = True) -> list[dict]:
    old = os.environ.get("PHQ_PURE")
    os.environ["PHQ_PURE"] = "1" if pure else "0"
    try:
        lines = suite.answer(model, [("score", None, t) for t in texts]).rstrip("\n").split("\n")
    finally:
        if old is None:
            del os.environ["PHQ_PURE"]
        else:
            os.environ["PHQ_PURE"] = old
    return [json.loads(x) for x in lines[1:-1]]


def strip_messages(answers):
    """Labels, decision values and error codes (exact); probabilities rounded to 12 significant
    digits (exp and the softmax sum are not bit-exact across runtimes: spec §8.6)."""
    out = []
    for a in answers:
        a = {k: v for k, v in a.items() if k != "message"}
        if "proba" in a and a.get("decision") == a["proba"]:  # a calibrated model: its decision values are probabilities (§8.5.1)
            a["decision"] = [float(f"{p:.12g}") for p in a["decision"]]
        if "proba" in a:
            a["proba"] = [float(f"{p:.12g}") for p in a["proba"]]
        out.append(a)
    return out


@pytest.mark.parametrize("runtime", ["c", "c-asan", "py-pure", "py-accel"])
def test_every_runtime_passes_the_nlu_suite(runtime, monkeypatch):
    if runtime.startswith("c"):
        reader = [str(c_binary("phq-nlu-conform" + ("-asan" if runtime == "c-asan" else "")))]
    else:
        monkeypatch.setenv("PHQ_PURE", "1" if runtime == "py-pure" else "0")
        reader = suite.reference_reader
    results = suite.run(reader, timeout=600)
    assert len(results) == len(suite.load_suite())
    assert [(r.file, r.outcome, r.detail) for r in results if r.status != "PASS"] == []


def test_the_accelerated_runtime_is_the_c_one():
    for e in VALID:
        with phq.nlu.load(suite.NLU_DIR / e["file"]) as clf:
            if isinstance(clf, phq.nlu.Parser):  # profile 3: the tagger and the classifier, when there is one
                assert clf.tagger.accelerated and (clf.classifier is None or clf.classifier.accelerated), e["file"]
            else:
                assert clf.accelerated, e["file"]


@pytest.mark.parametrize("entry", VALID, ids=[e["file"] for e in VALID])
def test_c_equals_pure_python_bit_for_bit_on_every_hard_string(entry):
    texts = hard_strings()
    if entry["file"].startswith(("y_word2", "y_char_2_4", "y_union")):  # one word, char, char_wb model each
        size = 1 << 20 if entry["file"].startswith("y_word2") else 1 << 17  # pure Python char n-grams: ~20 s/MB
        texts += [("play the beatles " * 62000).encode()[:size], ("ΣΑΣ ﬁ İ 한국어 " * 40000).encode()[:size]]
    model = suite.NLU_DIR / entry["file"]
    c, py = c_answers(model, texts), py_answers(model, texts)
    assert len(c) == len(py) == len(texts)
    assert strip_messages(c) == strip_messages(py)  # labels and decision values exactly


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=40), st.binary(max_size=40)), min_size=1, max_size=20))
def test_c_equals_pure_python_on_random_texts(texts):
    data = [t.encode("utf-8", "surrogatepass") if isinstance(t, str) else t for t in texts]
    for entry in VALID[:4]:
        model = suite.NLU_DIR / entry["file"]
        assert strip_messages(c_answers(model, data)) == strip_messages(py_answers(model, data))


def test_python_accelerated_equals_pure_including_surrogates_and_input_errors():
    model = suite.NLU_DIR / next(e["file"] for e in VALID if e["file"].startswith("y_union"))
    docs = ["play the beatles", "pl\ud800ay ΣΑΣ", "", "ﬁne İstanbul", b"bytes \xff doc"] * 3
    with phq.nlu.load(model) as accel:
        assert accel.accelerated
        got = accel.decision_function(docs)
    os.environ["PHQ_PURE"] = "1"
    try:
        with phq.nlu.load(model) as pure:
            assert not pure.accelerated
            want = pure.decision_function(docs)
    finally:
        del os.environ["PHQ_PURE"]
    np.testing.assert_array_equal(got, want)
    strict = suite.NLU_DIR / "y_decode_strict.phq"
    for env in ("0", "1"):
        os.environ["PHQ_PURE"] = env
        try:
            with phq.nlu.load(strict) as clf, pytest.raises(phq.UsageError, match="UTF-8"):
                clf.predict(["fine", b"not \xff utf-8"])
        finally:
            del os.environ["PHQ_PURE"]


def test_a_key_prefix_lone_surrogate_counts_three_bytes_everywhere(tmp_path):
    """v2 §2.2: the 1,024-byte limit counts a lone surrogate (a `\\uD800` escape) as 3 bytes,
    its generalized UTF-8 length; such a prefix makes every key of its featurizer absent."""
    from test_nlu import profile, text_featurizer, write

    at_limit = write(tmp_path / "at.phq", profile(featurizers=[text_featurizer(key_prefix="\ud800" * 341 + "a")]))
    over = write(tmp_path / "over.phq", profile(featurizers=[text_featurizer(key_prefix="\ud800" * 342)]))
    texts = [b"play the beatles", b""]
    c_ok, py_ok = c_answers(at_limit, texts), py_answers(at_limit, texts)
    assert strip_messages(c_ok) == strip_messages(py_ok)
    assert all(a.get("label") == "PlayMusic" for a in py_ok)  # keys absent: the intercepts decide
    c_out = subprocess.run([str(c_binary("phq-nlu-conform")), str(over)], input=b"score 61\n", capture_output=True, timeout=60)
    assert c_out.stdout.decode().startswith("error E_NLU_SCHEMA "), c_out.stdout
    for env in ("0", "1"):
        os.environ["PHQ_PURE"] = env
        try:
            with pytest.raises(phq.ProfileError) as e:
                phq.nlu.load(over)
            assert e.value.code == "E_NLU_SCHEMA"
        finally:
            del os.environ["PHQ_PURE"]


def test_the_c_tool_classifies_lines(tmp_path):
    """build/phq-nlu MODEL: one JSON object per input line; --top and --proba."""
    model = suite.NLU_DIR / "y_word2_lower_tfidf_l2_softmax.phq"
    lines = ["play the beatles", "", "weather tomorrow in Москва"]
    out = subprocess.run([str(c_binary("phq-nlu")), "--top", "2", "--proba", str(model)], input="\n".join(lines).encode() + b"\n", capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = [json.loads(x) for x in out.stdout.decode().splitlines()]
    with phq.nlu.load(model) as clf:
        want = clf.predict(lines).tolist()
        proba = clf.predict_proba(lines)
    assert [g["label"] for g in got] == want
    for g, p in zip(got, proba):
        assert len(g["top"]) == 2 and g["top"][0]["label"] == g["label"]
        assert g["top"][0]["probability"] == pytest.approx(float(p.max()), rel=1e-12)
    bad = subprocess.run([str(c_binary("phq-nlu")), str(suite.NLU_DIR / "n_profile_4.phq")], input=b"x\n", capture_output=True, timeout=60)
    assert bad.returncode == 1 and b"E_NLU_VERSION" in bad.stderr


# -- real models: CLINC150 (skipped without the data set beside the checkout) -----------------------
DATA = ROOT.parent / "shared" / "data" / "clinc150" / "data_full.json"


@pytest.fixture(scope="module")
def clinc150(tmp_path_factory):
    if not DATA.exists():
        pytest.skip(f"CLINC150 not found at {DATA}")
    pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.svm import LinearSVC

    import phq.writer

    data = json.loads(DATA.read_text())
    Xtr, ytr = [t for t, _ in data["train"]], [y for _, y in data["train"]]
    Xte = [t for t, _ in data["test"]]

    def word():
        return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)

    recipes = {
        "svc-l2": lambda: make_pipeline(word(), LinearSVC(C=1.0, random_state=0)),
        "svc-l1": lambda: make_pipeline(word(), LinearSVC(C=1.0, penalty="l1", dual=False, max_iter=2000, random_state=0)),
        "svc-word+char": lambda: make_pipeline(
            FeatureUnion([("word", word()), ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2))]),
            LinearSVC(C=1.0, random_state=0),
        ),
    }
    out = tmp_path_factory.mktemp("clinc150")
    models = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, make in recipes.items():
            path = out / f"{name}.phq"
            phq.writer.from_sklearn(make().fit(Xtr, ytr), path)
            models[name] = path
    return models, Xte


@pytest.mark.parametrize("name", ["svc-l2", "svc-l1", "svc-word+char"])
def test_c_and_python_agree_on_clinc150_and_the_hard_strings(clinc150, name):
    """Issue 13's acceptance: identical labels (and decision values) on 100% of the CLINC150
    test utterances and of the hard strings, for real models."""
    models, Xte = clinc150
    texts = [t.encode() for t in Xte] + hard_strings()
    c, py = c_answers(models[name], texts), py_answers(models[name], texts)
    assert [a.get("label") for a in c] == [a.get("label") for a in py]
    assert strip_messages(c) == strip_messages(py)
    with phq.nlu.load(models[name]) as clf:
        assert clf.accelerated
        assert clf.predict(Xte).tolist() == [a["label"] for a in py[: len(Xte)]]


def test_the_readme_c_program_compiles_and_classifies(tmp_path):
    """examples/c/classify.c is the README's program, and it answers as phq.nlu does."""
    src = ROOT / "examples" / "c" / "classify.c"
    assert src.read_text() in (ROOT / "README.md").read_text(encoding="utf-8")
    c_binary("phq-nlu")  # builds build/libphq.a
    exe = tmp_path / "classify"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'creader'}", str(src), str(ROOT / "build" / "libphq.a"), "-lm", "-o", str(exe)], check=True)
    model = suite.NLU_DIR / "y_word2_lower_tfidf_l2_softmax.phq"
    lines = ["play the beatles", "wake me up at 7", "", "Größe ΣΑΣ"]
    out = subprocess.run([str(exe), str(model)], input="\n".join(lines).encode() + b"\n", capture_output=True, timeout=60, check=True)
    with phq.nlu.load(model) as clf:
        assert [json.loads(x) for x in out.stdout.decode().splitlines()] == clf.predict(lines).tolist()


@pytest.mark.parametrize("clash", ["classifier table = tagger tensor", "classifier tensor = tagger table"])
def test_a_name_shared_across_kinds_by_the_two_parts_is_refused_by_every_runtime(tmp_path, clash):
    """v3 §2.1: no name of the classifier (tables and tensor) equals a name of the tagger, whatever
    their kinds (the format lets a table and a tensor share a name; the profile does not)."""
    import shutil

    from phq.conformance import nlu as N
    from phq.conformance import nlu_tagger as T

    name, meta, tables, tensors, opts = T.valid_models(
        lambda n, seed: N._model(n, [N._featurizer(ngram_range=[1, 2])], N.FIVE, proba="softmax", seed=seed, quant="linear8"))[-1]
    c, t = meta["phq.nlu"]["classifier"], meta["phq.nlu"]["tagger"]
    if clash == "classifier table = tagger tensor":
        tables[t["transitions"]] = tables.pop(c["table"])
        c["table"] = t["transitions"]
    else:
        tensors[t["state_table"]] = tensors.pop(c["intercept"])
        c["intercept"] = t["state_table"]
    path = tmp_path / "clash.phq"
    N._write(path, meta, tables, tensors, opts)
    for env in ("0", "1"):
        os.environ["PHQ_PURE"] = env
        try:
            with pytest.raises(phq.ProfileError) as e:
                phq.nlu.load(path)
            assert e.value.code == "E_NLU_REFERENCE", (env, e.value)
        finally:
            del os.environ["PHQ_PURE"]
    adapters = [[str(c_binary("phq-nlu-conform")), str(path)]]
    if shutil.which("node"):
        adapters.append(["node", str(ROOT / "js" / "bin" / "phq-conform.js"), "--nlu", str(path)])
    for cmd in adapters:
        out = subprocess.run(cmd, input=b"", capture_output=True, timeout=60).stdout.decode()
        assert out.startswith("error E_NLU_REFERENCE "), (cmd[0], out)
