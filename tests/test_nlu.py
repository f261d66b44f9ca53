"""phq.nlu: the runtime of the NLU profile (spec/nlu-profile-v2.md; profile 1 by §12), without scikit-learn."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import phq.nlu
import phq.writer
from phq.cli import main
from phq.errors import PROFILE_ERROR_CODES, ProfileError, UsageError

CLASSES = ["PlayMusic", "GetWeather", "SetAlarm"]
WORDS = {"play": [2.0, -1.0, -1.0], "beatles": [1.5, 0.0, -0.5], "rain": [-1.0, 2.5, 0.0], "alarm": [0.0, -0.5, 3.0], "the beatles": [1.0, 0.0, 0.0]}
BIAS = np.array([0.1, -0.2, 0.05])


def text_featurizer(**over):
    cfg = {
        "name": "text",
        "kind": "text",
        "key_prefix": "",
        "analyzer": "word",
        "ngram_range": [1, 2],
        "lowercase": True,
        "strip_accents": None,
        "binary": False,
        "sublinear_tf": False,
        "decode_error": "strict",
        "tokenizer": "word_runs_min2",
        "stop_words": None,
        "norm": None,
        "norm_table": None,
        "weight": 1.0,
    }
    cfg.update(over)
    return cfg


def profile(**over):
    prof = {
        "profile": 2,
        "unicode": "14.0.0",
        "input": "text",
        "classes": CLASSES,
        "classes_type": "str",
        "estimator": "hand-made",
        "table": "features",
        "intercept": "intercept",
        "proba": "softmax",
        "featurizers": [text_featurizer()],
        "source": {},
    }
    prof.update(over)
    return prof


def profile1(**over):
    """A profile 1 object (spec/nlu-profile-v1.md): encoding and token_pattern, no unicode."""
    feats = over.pop("featurizers", None) or [text_featurizer()]
    v1feats = []
    for f in feats:
        f = dict(f)
        tok = f.pop("tokenizer")
        f["encoding"] = "utf-8"
        f["token_pattern"] = {"word_runs_min2": r"(?u)\b\w\w+\b", "word_runs_min1": r"(?u)\b\w+\b", "nonspace_runs": r"\S+", None: None}[tok]
        v1feats.append(f)
    prof = profile(profile=1, featurizers=v1feats)
    del prof["unicode"], prof["source"]
    prof.update(over)
    return prof


def with_raw_label(path, placeholder: str, raw: str):
    """Replace a string label in META by raw JSON text of the same length (labels such as
    1e400 that no JSON writer emits), then repair the checksums."""
    from phq import layout as L
    from phq.conformance.surgery import PhqBytes

    data = PhqBytes(path.read_bytes())
    i = data.find(L.KIND_META)
    quoted = json.dumps(placeholder).encode()
    at = data.bytes().index(quoted)
    raw = raw.ljust(len(quoted))  # JSON allows the blanks
    assert len(raw) == len(quoted)
    data.patch(at, raw.encode()).fix((i,))
    path.write_bytes(data.bytes())
    return path


def write(path, prof=None, tables=None, tensors=None, quant="f32", metadata=None):
    meta = metadata if metadata is not None else {"phq.nlu": prof if prof is not None else profile()}
    phq.writer.write(
        path,
        tables if tables is not None else {"features": WORDS},
        tensors=tensors if tensors is not None else {"intercept": BIAS},
        metadata=meta,
        quant=quant,
    )
    return path


def expected_scores(text):
    """§1 by hand: counts of unigrams and bigrams (lowercased, 2+ word characters)."""
    import re

    tokens = re.findall(r"(?u)\b\w\w+\b", text.lower())
    terms = tokens + [" ".join(p) for p in zip(tokens, tokens[1:])]
    s = BIAS.copy()
    for t in terms:
        s += np.asarray(WORDS.get(t, [0, 0, 0]), float)
    return s


def test_hand_written_model_scores_by_the_spec(tmp_path):
    p = write(tmp_path / "m.phq")
    docs = ["Play the Beatles", "will it rain", "alarm alarm please", "", "nothing known here", "play play rain"]
    with phq.nlu.load(p) as clf:
        np.testing.assert_allclose(clf.decision_function(docs), [expected_scores(d) for d in docs], rtol=1e-6)
        assert list(clf.predict(docs)) == [CLASSES[int(np.argmax(expected_scores(d)))] for d in docs]
        proba = clf.predict_proba(docs)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        e = np.exp(expected_scores(docs[0]))
        np.testing.assert_allclose(proba[0], e / e.sum(), rtol=1e-6)
        assert clf.decision_function([]).shape == (0, 3)
        assert clf.predict([]).shape == (0,)


def test_norm_table_and_prefixes(tmp_path):
    """Two featurizers with prefixes; the second has an l2 norm over its idf table."""
    idf = {"ab": 2.0, "bc": 1.0, "zz": 3.0}
    feats = [
        text_featurizer(name="w", key_prefix="w\x1f", ngram_range=[1, 1]),
        text_featurizer(name="c", key_prefix="c\x1f", analyzer="char", ngram_range=[2, 2], tokenizer=None, norm="l2", norm_table="norm:c"),
    ]
    table = {"w\x1fplay": [1.0, 0.0, 0.0], "c\x1fab": [0.0, 4.0, 0.0], "c\x1fbc": [0.0, 0.0, 2.0]}
    p = write(tmp_path / "m.phq", profile(featurizers=feats, proba=None), tables={"features": table, "norm:c": {k: [v] for k, v in idf.items()}})
    with phq.nlu.load(p) as clf:
        got = clf.decision_function(["abc", "play", "zzab"])
    # "abc": bigrams ab, bc; x = (2, 1); N = sqrt(5); score = (1*4/N, 1*2/N) (rows hold idf*coef)
    n1 = math.sqrt(5.0)
    # "zzab": bigrams zz, za, ab; in vocabulary: zz (3), ab (2); N = sqrt(13)
    n3 = math.sqrt(13.0)
    np.testing.assert_allclose(got, BIAS + np.array([[0, 4 / n1, 2 / n1], [1, 0, 0], [0, 4 / n3, 0]]), rtol=1e-6)


def test_dim0_norm_table_is_a_key_set(tmp_path):
    feats = [text_featurizer(ngram_range=[1, 1], norm="l1", norm_table="vocab")]
    tables = {"features": {"play": [3.0, 0, 0]}, "vocab": ({"play": [], "music": []}.keys(), np.zeros((2, 0)))}
    p = write(tmp_path / "m.phq", profile(featurizers=feats), tables=tables)
    with phq.nlu.load(p) as clf:
        got = clf.decision_function(["play music music unseen"])
    np.testing.assert_allclose(got[0], BIAS + [3.0 / 3, 0, 0], rtol=1e-6)  # l1 norm = 1 + 2


def test_binary_model_and_proba_rules(tmp_path):
    d = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    from phq.nlu import proba_from_scores

    np.testing.assert_allclose(proba_from_scores("logistic", d)[:, 1], 1 / (1 + np.exp(-d)))
    np.testing.assert_allclose(proba_from_scores("modified_huber", d)[:, 1], [0, 0.25, 0.5, 0.75, 1])
    multi = proba_from_scores("modified_huber", np.array([[-2.0, -3.0], [1.0, 0.0]]))
    np.testing.assert_allclose(multi, [[0.5, 0.5], [2 / 3, 1 / 3]])  # all-zero row -> uniform
    p = write(
        tmp_path / "b.phq",
        profile(classes=[False, True], classes_type="bool", proba="logistic"),
        tables={"features": {"good": [2.0], "bad": [-2.0]}},
        tensors={"intercept": np.array([0.25])},
    )
    with phq.nlu.load(p) as clf:
        assert clf.decision_function(["good good", "bad"]).tolist() == pytest.approx([4.25, -1.75])
        assert clf.predict(["good", "bad", ""]).tolist() == [True, False, True]
        assert clf.predict_proba(["bad"])[0, 1] == pytest.approx(1 / (1 + math.exp(1.75)))


def test_predict_proba_absent_when_the_model_has_no_rule(tmp_path):
    p = write(tmp_path / "m.phq", profile(proba=None))
    with phq.nlu.load(p) as clf:
        assert not hasattr(clf, "predict_proba")
        with pytest.raises(AttributeError, match="no probabilities"):
            clf.predict_proba(["x"])


def test_single_document_and_wrong_inputs_are_usage_errors(tmp_path):
    p = write(tmp_path / "m.phq")
    with phq.nlu.load(p) as clf:
        with pytest.raises(UsageError, match="list of documents"):
            clf.predict("play music")
        with pytest.raises(UsageError):
            clf.predict([{"a": 1}])
        with pytest.raises(UsageError, match="batch_size"):
            clf.predict(["x"], batch_size=0)
        assert clf.predict(iter(["play"])).tolist() == ["PlayMusic"]  # any iterable of documents


def test_lone_surrogates_are_skipped(tmp_path):
    """Terms holding a lone surrogate cannot be keys (keys are UTF-8): skipped, not an error."""
    p = write(tmp_path / "m.phq", profile(featurizers=[text_featurizer(tokenizer="nonspace_runs")]))
    with phq.nlu.load(p) as clf:
        got = clf.decision_function(["play pl\ud800ay rain"])[0]
    np.testing.assert_allclose(got, BIAS + np.add(WORDS["play"], WORDS["rain"]), rtol=1e-6)


BAD = {
    "E_NLU_MISSING": dict(metadata={"labels": CLASSES}),
    "E_NLU_VERSION": dict(prof=profile(profile=4)),
    "version: unicode": dict(prof=profile(unicode="15.0.0")),
    "schema: profile type": dict(prof=profile(profile="2")),
    "schema: unicode type": dict(prof=profile(unicode=14)),
    "schema: unknown member": dict(prof=profile(threshold=0.5)),
    "schema: missing member": dict(prof={k: v for k, v in profile().items() if k != "source"}),
    "schema: classes": dict(prof=profile(classes=["only"])),
    "schema: duplicate classes": dict(prof=profile(classes=["a", "a", "b"])),
    "schema: duplicate float classes": dict(prof=profile(classes=[1, 1.0, 2], classes_type="float")),
    "schema: huge int class": dict(prof=profile(classes=[10**400, 1, 2], classes_type="int")),
    "schema: class type": dict(prof=profile(classes_type="int")),
    "schema: input": dict(prof=profile(input="image")),
    "schema: proba": dict(prof=profile(proba="isotonic")),
    "schema: softmax binary": dict(prof=profile(classes=["a", "b"], proba="softmax"), tables={"features": {"x": [1.0]}}, tensors={"intercept": np.zeros(1)}),
    "schema: featurizers": dict(prof=profile(featurizers=[])),
    "schema: featurizer config": dict(prof=profile(featurizers=[text_featurizer(ngram_range=[0, 2])])),
    "schema: ngram width": dict(prof=profile(featurizers=[text_featurizer(ngram_range=[1, 17])])),
    "schema: unknown featurizer member": dict(prof=profile(featurizers=[text_featurizer(max_df=0.5)])),
    "schema: tokenizer for char": dict(prof=profile(featurizers=[text_featurizer(analyzer="char")])),
    "schema: stop words for char": dict(prof=profile(featurizers=[text_featurizer(analyzer="char", tokenizer=None, stop_words=["a"])])),
    "schema: unknown tokenizer": dict(prof=profile(featurizers=[text_featurizer(tokenizer="(a+)+$")])),
    "schema: key prefix too long": dict(prof=profile(featurizers=[text_featurizer(key_prefix="x" * 1025)])),
    "schema: weight": dict(prof=profile(featurizers=[text_featurizer(weight="1")])),
    "schema: kind vs input": dict(prof=profile(input="dict")),
    "schema: norm_table without norm": dict(prof=profile(featurizers=[text_featurizer(norm_table="features")])),
    "schema: prefixes": dict(prof=profile(featurizers=[text_featurizer(), text_featurizer(name="b")])),
    "schema: v1 pattern": dict(prof=profile1(featurizers=[text_featurizer()]) | {"featurizers": [dict(profile1()["featurizers"][0], token_pattern="(a+)+$")]}),
    "schema: v1 encoding": dict(prof=profile1() | {"featurizers": [dict(profile1()["featurizers"][0], encoding="latin-1")]}),
    "reference: table": dict(prof=profile(table="nope")),
    "reference: table dim": dict(prof=profile(classes=["a", "b"], proba=None)),
    "reference: intercept": dict(prof=profile(intercept="bias")),
    "reference: intercept shape": dict(tensors={"intercept": np.zeros(2)}),
    "reference: intercept dtype": dict(tensors={"intercept": np.zeros(3, np.int32)}),
    "reference: intercept f16": dict(tensors={"intercept": np.zeros(3, np.float16)}),
    "reference: norm table missing": dict(prof=profile(featurizers=[text_featurizer(norm="l2", norm_table="norm:x")])),
    "reference: norm table dim": dict(prof=profile(featurizers=[text_featurizer(norm="l2", norm_table="features")])),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_profile_errors(tmp_path, case):
    p = write(tmp_path / "bad.phq", **BAD[case])
    want = case if case.startswith("E_") else "E_NLU_" + case.split(":")[0].upper()
    with pytest.raises(ProfileError) as e:
        phq.nlu.load(p)
    assert e.value.code == want and e.value.code in PROFILE_ERROR_CODES
    assert main(["predict", str(p), "play"]) == 1


def test_every_profile_error_code_is_produced():
    produced = {c if c.startswith("E_") else "E_NLU_" + c.split(":")[0].upper() for c in BAD}
    # the reference runtime implements the whole profile: E_NLU_UNSUPPORTED is for runtimes that
    # do not (the C runtime refuses dict models; tests/test_nlu_c.py)
    assert produced == set(PROFILE_ERROR_CODES) - {"E_NLU_UNSUPPORTED"}


def test_cli_predict(tmp_path, capsys):
    p = write(tmp_path / "m.phq")
    assert main(["predict", str(p), "play the beatles", "will it rain"]) == 0
    assert capsys.readouterr().out.splitlines() == ["PlayMusic\tplay the beatles", "GetWeather\twill it rain"]
    assert main(["predict", str(p), "set an alarm", "--top", "2", "--proba", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["label"] == "SetAlarm" and [t["label"] for t in row["top"]] == ["SetAlarm", "PlayMusic"]
    assert sum(t["probability"] for t in row["top"]) < 1.0
    inp = tmp_path / "docs.txt"
    inp.write_text("play\nrain\n", encoding="utf-8")
    assert main(["predict", str(p), "--input", str(inp)]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == ["PlayMusic", "GetWeather"]
    assert main(["predict", str(p), "x", "--top", "0"]) == 2
    assert main(["predict", str(tmp_path / "missing.phq"), "x"]) == 2
    (tmp_path / "junk.phq").write_bytes(b"not a phq file at all" * 4)
    assert main(["predict", str(tmp_path / "junk.phq"), "x"]) == 1


def test_cli_predict_without_proba_rule(tmp_path, capsys):
    p = write(tmp_path / "m.phq", profile(proba=None))
    assert main(["predict", str(p), "x", "--proba"]) == 2
    assert "defines no probabilities" in capsys.readouterr().err


BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in ("sklearn", "scipy", "joblib"):
                raise ImportError("blocked: " + name)
    sys.meta_path.insert(0, Block())
    """
)


def test_runtime_needs_no_scikit_learn(tmp_path):
    """Score a converted scikit-learn model in a process where sklearn/scipy cannot be imported."""
    sk = pytest.importorskip("sklearn")
    del sk
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    from nlu_corpus import corpus

    texts, labels = corpus(200)
    pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LinearSVC(random_state=0)).fit(texts, labels)
    path = tmp_path / "m.phq"
    phq.writer.from_sklearn(pipe, path)
    docs = ["play the beatles", "will it rain in paris", "wake me up at noon"]
    code = BLOCKER + textwrap.dedent(
        f"""
        import json, phq.nlu
        from phq.cli import main
        with phq.nlu.load({str(path)!r}) as clf:
            print(json.dumps(clf.predict({docs!r}).tolist()))
        assert main(["predict", {str(path)!r}, "play the beatles"]) == 0
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("sklearn", "scipy", "joblib"))
        assert not loaded, loaded
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[0]) == pipe.predict(docs).tolist()


def test_profile_spec_error_table_matches_the_code():
    """spec/nlu-profile-v2.md §9 lists exactly the profile error codes, in order."""
    import re

    from conftest import ROOT

    text = (ROOT / "spec" / "nlu-profile-v2.md").read_text(encoding="utf-8")
    section = text.split("## 9.")[1].split("## 10.")[0]
    assert re.findall(r"^\| `(E_NLU_\w+)` \|", section, re.M) == list(PROFILE_ERROR_CODES)


@pytest.mark.parametrize("raw", ["1e400", "-1e999", "1E+309"])
def test_float_labels_out_of_binary64_range_are_refused(tmp_path, raw):
    """spec §2.1: a "float" label is a finite binary64 (JSON's 1e400 parses to infinity)."""
    p = write(tmp_path / "m.phq", profile(classes=[1.5, 2.5, "PLACE"], classes_type="float"))
    with pytest.raises(ProfileError, match="E_NLU_SCHEMA"):
        phq.nlu.load(write(tmp_path / "m.phq", profile(classes=[1.5, 2.5, "PLACE"], classes_type="float")))
    with_raw_label(p, "PLACE", raw)
    with pytest.raises(ProfileError) as e:
        phq.nlu.load(p)
    assert e.value.code == "E_NLU_SCHEMA" and "2.1" in str(e.value)


def test_profile1_files_score_like_profile2(tmp_path):
    """spec §12: a profile 1 file is read through the profile 2 rules, with the same answers."""
    feats = [text_featurizer(), text_featurizer(name="c", key_prefix="c\x1f", analyzer="char_wb", ngram_range=[2, 3], tokenizer=None, norm="l2", norm_table="norm:c")]
    tables = {"features": WORDS | {"c\x1f pl": [0.5, 0.0, 0.0]}, "norm:c": {" pl": [1.5], "ay": [1.0]}}
    docs = ["Play the Beatles", "play ΣΑΣ", "", "rain rain alarm"]
    feats[0]["key_prefix"] = "w\x1f"
    tables["features"] = {("w\x1f" + k if k in WORDS else k): v for k, v in tables["features"].items()}
    v2 = write(tmp_path / "v2.phq", profile(featurizers=feats), tables=tables)
    v1 = write(tmp_path / "v1.phq", profile1(featurizers=feats), tables=tables)
    with phq.nlu.load(v1) as a, phq.nlu.load(v2) as b:
        assert a.profile_version == 1 and b.profile_version == 2
        np.testing.assert_array_equal(a.decision_function(docs), b.decision_function(docs))


def test_scores_follow_the_spec_order_bit_for_bit(tmp_path):
    """spec §8.1: score = intercept + (0 + u1*W1 + u2*W2 + ...) per featurizer, left to right in
    first-occurrence order; checked against a plain Python loop on values that expose any
    reordering (large and small magnitudes)."""
    rng = np.random.default_rng(7)
    words = [f"w{i:03d}" for i in range(300)]
    rows = {w: (rng.standard_normal(3) * 10.0 ** rng.integers(-6, 7, 3)).astype(np.float32).tolist() for w in words}
    p = write(tmp_path / "m.phq", profile(featurizers=[text_featurizer(ngram_range=[1, 1], sublinear_tf=False)]), tables={"features": rows})
    docs = [" ".join(rng.choice(words, int(rng.integers(1, 200)))) for _ in range(40)]
    with phq.nlu.load(p) as clf:
        got = clf.decision_function(docs)
    for doc, row in zip(docs, got):
        counts: dict[str, int] = {}
        for t in doc.split():
            counts[t] = counts.get(t, 0) + 1
        partial = [0.0, 0.0, 0.0]
        for t, c in counts.items():
            w = np.asarray(rows[t], np.float32).astype(np.float64)
            partial = [partial[j] + float(c) * float(w[j]) for j in range(3)]
        want = [float(BIAS[j]) + partial[j] for j in range(3)]
        assert row.tolist() == want


def test_scoring_memory_is_bounded_by_found_rows(tmp_path):
    """Issue 15 item 5: 65,536 classes and absent terms cost no dense row per term."""
    k = 1 << 16
    classes = [f"c{i}" for i in range(k)]
    row = np.zeros(k, np.float32)
    row[123] = 1.0
    p = write(tmp_path / "m.phq", profile(classes=classes, proba=None), tables={"features": ({"play": 0}.keys(), row[None, :])}, tensors={"intercept": np.zeros(k)}, quant="linear8")
    import tracemalloc

    with phq.nlu.load(p) as clf:
        doc = " ".join(f"unseen{i}" for i in range(60)) + " play"
        tracemalloc.start()
        got = clf.predict([doc])
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert got.tolist() == ["c123"]
    assert peak < 64 * k * 8  # far below one dense float64 row per term (60 x 65,536 x 8 bytes)
