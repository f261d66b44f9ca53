"""NLU profile 3 (spec/nlu-profile-v3.md): tokens, token features, Viterbi, spans, parse, checks."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import phq
import phq.nlu
import phq.writer
from phq import tagger as tg
from phq.errors import ProfileError, UsageError

TEMPLATES = ["bias", "bos", "eos", [["w", 0]], [["w", -1]], [["p2", 0]], [["s3", 0]], [["shape", 0]],
             [["sshape", 0]], [["digit", 0]], [["upper", 0]], [["title", 0]], [["w", 0], ["w", 1]]]


# -- §3 tokens (the spec's §13 vectors) ------------------------------------------------------
@pytest.mark.parametrize("text, tokenizer, errors, want", [
    ("Play Yesterday by the Beatles", "word_punct", "strict",
     [["Play", 0, 4], ["Yesterday", 5, 14], ["by", 15, 17], ["the", 18, 21], ["Beatles", 22, 29]]),
    ("7:30pm İstanbul!", "word_punct", "strict", [["7", 0, 1], [":", 1, 2], ["30pm", 2, 6], ["İstanbul", 7, 15], ["!", 15, 16]]),
    ("don't  STOP-me", "word_punct", "strict", [["don", 0, 3], ["'", 3, 4], ["t", 4, 5], ["STOP", 7, 11], ["-", 11, 12], ["me", 12, 14]]),
    ("  ", "word_punct", "strict", []),
    ("", "word_punct", "strict", []),
    ("don't  STOP-me", "nonspace_runs", "strict", [["don't", 0, 5], ["STOP-me", 7, 14]]),
    (b"a\xffb c", "word_punct", "replace", [["a", 0, 1], ["\ufffd", 1, 2], ["b", 2, 3], ["c", 4, 5]]),
    (b"a\xffb c", "word_punct", "ignore", [["ab", 0, 2], ["c", 3, 4]]),
    ("a\u3000b\u00a0c\ufeffd", "word_punct", "strict", [["a", 0, 1], ["b", 2, 3], ["c", 4, 5], ["\ufeff", 5, 6], ["d", 6, 7]]),
    ("x\ud800y", "word_punct", "strict", [["x", 0, 1], ["\ud800", 1, 2], ["y", 2, 3]]),
])
def test_tokens_known_answers(text, tokenizer, errors, want):
    assert [list(t) for t in phq.nlu.tokenize(text, tokenizer, errors)] == want


def test_tokens_strict_bytes_refused():
    with pytest.raises(UsageError, match="not UTF-8"):
        phq.nlu.tokenize(b"a\xff", "word_punct", "strict")


def test_attributes_known_answers():
    assert tg.shape("Ab9_é中ǅİ-") == "XxdwxwXX-"
    assert tg.token_attributes("İ")["w"] == "i\u0307"
    assert tg.token_attributes("ΟΔΟΣ")["w"] == "οδος"
    assert tg.token_attributes("ǅungla")["title"] == "1"
    a = tg.token_attributes("İstanbul")
    assert a["p2"] == "i\u0307" and a["s8"] == "i\u0307stanbu"[1:] + "l" and a["s3"] == "bul"
    assert tg.token_attributes("2026")["digit"] == "1" and tg.token_attributes("２０")["digit"] == "0"
    assert tg.token_attributes("NASA")["upper"] == "1" and tg.token_attributes("NASa")["upper"] == "0"


def test_features_known_answers():
    toks = [t for t, _, _ in phq.nlu.tokenize("Play THE Beatles")]
    got = phq.nlu.token_features(toks, TEMPLATES)
    assert got == [
        ["bias", "bos", "w=play", "p2=pl", "s3=lay", "shape=Xxxx", "sshape=Xx", "digit=0", "upper=0", "title=1", "w=play|w+1=the"],
        ["bias", "w=the", "w-1=play", "p2=th", "s3=the", "shape=XXX", "sshape=X", "digit=0", "upper=1", "title=0", "w=the|w+1=beatles"],
        ["bias", "eos", "w=beatles", "w-1=the", "p2=be", "s3=les", "shape=Xxxxxxx", "sshape=Xx", "digit=0", "upper=0", "title=1"],
    ]
    last = phq.nlu.token_features(["7", ":", "30pm"], TEMPLATES)[2]
    assert last == ["bias", "eos", "w=30pm", "w-1=:", "p2=30", "s3=0pm", "shape=ddxx", "sshape=dx", "digit=0", "upper=0", "title=0"]
    one = phq.nlu.token_features(["x"], ["bos", "eos", [["w", -8], ["w", 0]], [["raw", 8]]])
    assert one == [["bos", "eos"]]
    assert phq.nlu.token_features([], TEMPLATES) == []


@pytest.mark.parametrize("bad", [
    [], ["nope"], [[["w", 9]]], [[["w", -9]]], [[["zz", 0]]], [[["w", 0]] * 5], [[["w", True]]], [[["w", 0]], [["w", 0]]],
    ["bias"] * 2, [[["p9", 0]]], [[["w"]]], [7],
])
def test_templates_out_of_range(bad):
    with pytest.raises(UsageError):
        phq.nlu.token_features(["a"], bad)


# -- §6 Viterbi ------------------------------------------------------------------------------
def brute_force(state, trans):
    n, L = state.shape
    best, best_path = None, None
    for path in itertools.product(range(L), repeat=n):  # lexicographic: the first best is the spec's tie-break
        s = sum(state[t, j] for t, j in enumerate(path)) + sum(trans[a, b] for a, b in zip(path, path[1:]))
        if best is None or s > best + 1e-9:
            best, best_path = s, list(path)
    return best, best_path


def path_score(state, trans, path):
    return sum(state[t, j] for t, j in enumerate(path)) + sum(trans[a, b] for a, b in zip(path, path[1:]))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(0, 2**32 - 1), st.booleans())
def test_viterbi_vs_brute_force(n, L, seed, coarse):
    rng = np.random.default_rng(seed)
    if coarse:  # small integers: many ties, checking the lowest-index rule
        state = rng.integers(-2, 3, (n, L)).astype(float)
        trans = rng.integers(-2, 3, (L, L)).astype(float)
    else:
        state = rng.standard_normal((n, L))
        trans = rng.standard_normal((L, L))
    path = tg.viterbi(state, trans)
    best, _ = brute_force(state, trans)
    assert len(path) == n and all(0 <= j < L for j in path)
    assert path_score(state, trans, path) == pytest.approx(best, abs=1e-9)
    assert path == reference_viterbi(state, trans)


def reference_viterbi(state, trans):
    """§6.2 written as the spec's loops."""
    n, L = state.shape
    delta = list(state[0])
    back = []
    for t in range(1, n):
        nd, bk = [], []
        for j in range(L):
            best, v = 0, delta[0] + trans[0, j]
            for i in range(1, L):
                c = delta[i] + trans[i, j]
                if c > v:
                    best, v = i, c
            bk.append(best)
            nd.append(v + state[t, j])
        back.append(bk)
        delta = nd
    y = 0
    for j in range(1, L):
        if delta[j] > delta[y]:
            y = j
    path = [y]
    for bk in reversed(back):
        path.append(bk[path[-1]])
    return path[::-1]


def test_viterbi_nan_never_wins():
    state = np.array([[np.nan, 1.0, 0.0], [0.0, 0.0, np.nan]])
    trans = np.zeros((3, 3))
    assert tg.viterbi(state, trans) == reference_viterbi(state, trans)
    assert tg.viterbi(np.full((2, 2), np.nan), np.zeros((2, 2))) == [0, 0]


LABELS = ["O", "B-a", "I-a"]
TRANS_KAT = np.array([[0, 0, -5], [0, 0, 0], [0, 0, 0]], float)


@pytest.mark.parametrize("state, path, spans", [
    ([[1, 0, 0], [0, 2, 0], [0, 0, 3]], ["O", "B-a", "I-a"], [("a", 1, 2)]),
    ([[0, 0, 0], [0, 0, 0]], ["O", "O"], []),
    ([[3, -9, -9], [0, 0, 6]], ["O", "I-a"], [("a", 1, 1)]),
    ([[0, 1, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]], ["B-a", "I-a", "B-a", "I-a"], [("a", 0, 1), ("a", 2, 3)]),
])
def test_viterbi_and_spans_known_answers(state, path, spans):
    got = [LABELS[j] for j in tg.viterbi(np.array(state, float), TRANS_KAT)]
    assert got == path
    offsets = [(i, i) for i in range(len(path))]  # token i spans (i, i): the spans name tokens
    assert tg.spans(got, offsets) == spans


def test_spans_rules():
    off = [(0, 1), (2, 3), (4, 5), (6, 7)]
    assert tg.spans(["I-x", "I-x", "I-y", "O"], off) == [("x", 0, 3), ("y", 4, 5)]
    assert tg.spans(["B-x", "B-x", "O", "I-x"], off) == [("x", 0, 1), ("x", 2, 3), ("x", 6, 7)]
    assert tg.spans([], []) == []


# -- models written by hand -------------------------------------------------------------------
def tagger_obj(labels, templates=TEMPLATES, **over):
    obj = {"tokenizer": "word_punct", "decode_error": "replace", "templates": templates, "labels": labels, "scheme": "bio",
           "state_table": "tagger.state", "transitions": "tagger.transitions", "estimator": "CRF", "source": {}}
    obj.update(over)
    return obj


def write_tagger(path, rows, labels, trans, *, obj=None, outer=None, quant="f32", tensors=None):
    prof = {"profile": 3, "unicode": "14.0.0", "classifier": None, "tagger": obj if obj is not None else tagger_obj(labels)}
    prof.update(outer or {})
    t = {"tagger.transitions": np.asarray(trans, np.float32)} if tensors is None else tensors
    phq.writer.write(path, {"tagger.state": rows}, tensors=t, metadata={"phq.nlu": prof}, quant=quant)
    return path


PLAY_ROWS = {"w=play": [2.0, 0.0, 0.0], "w=beatles": [0.0, 1.0, 0.0], "w-1=the": [0.0, 1.5, 0.0],
             "w=yesterday": [0.0, 3.0, 0.0], "w-1=yesterday": [0.5, 0.0, 0.0], "bias": [0.5, 0.0, 0.0]}


def test_tagger_only_model_parse(tmp_path):
    labels = ["O", "B-track", "I-track"]
    trans = np.zeros((3, 3))
    trans[0, 2] = -4.0
    p = write_tagger(tmp_path / "t.phq", PLAY_ROWS, labels, trans)
    with phq.nlu.load(p) as m:
        assert isinstance(m, tg.Parser) and m.classifier is None
        res = m.parse(["Play Yesterday by  THE Beatles", "", "   ", b"play \xff yesterday"])
        assert res[0] == {"intent": None, "slots": [
            {"slot": "track", "value": "Yesterday", "start": 5, "end": 14},
            {"slot": "track", "value": "Beatles", "start": 23, "end": 30}]}
        assert res[1] == {"intent": None, "slots": []} and res[2] == res[1]
        assert res[3]["slots"] == [{"slot": "track", "value": "yesterday", "start": 7, "end": 16}]
        assert json.loads(json.dumps(res)) == res
        tags = m.tag(["play yesterday"])[0]
        assert [t["label"] for t in tags] == ["O", "B-track"]
        with pytest.raises(AttributeError, match="no classifier"):
            m.predict(["x"])
        with pytest.raises(UsageError):
            m.parse("play")


def test_state_sums_match_manual(tmp_path):
    labels = ["O", "B-track", "I-track"]
    p = write_tagger(tmp_path / "t.phq", PLAY_ROWS, labels, np.zeros((3, 3)))
    with phq.nlu.load(p) as m:
        toks = ["play", "the", "beatles"]
        state = m.tagger.state_scores(tg._features(toks, m.tagger.templates))
        feats = phq.nlu.token_features(toks, TEMPLATES)
        want = np.array([[sum(PLAY_ROWS.get(f, [0, 0, 0])[j] for f in fs) for j in range(3)] for fs in feats])
        assert np.array_equal(state, want)


def test_ten_thousand_tokens_linear(tmp_path, monkeypatch):
    """A 10,000-token utterance is tagged; the Viterbi work is one L x L step per token (counted in
    the pure runtime; the C runtime's counts are in creader/tests/test_tagger.c)."""
    labels = ["O", "B-track", "I-track"]
    p = write_tagger(tmp_path / "t.phq", PLAY_ROWS, labels, np.zeros((3, 3)))
    monkeypatch.setenv("PHQ_PURE", "1")
    steps = []
    real = tg._first_best
    monkeypatch.setattr(tg, "_first_best", lambda c: steps.append(c.shape) or real(c))
    with phq.nlu.load(p) as m:
        text = " ".join(["play", "yesterday"] * 5000)
        res = m.parse([text])[0]
    assert len(res["slots"]) == 5000 and res["slots"][-1]["end"] == len(text)
    assert len(steps) == 10000 and all(s[0] <= 3 for s in steps)


def expect_profile_error(path, code):
    with pytest.raises(ProfileError) as e:
        phq.nlu.load(path)
    assert e.value.code == code, str(e.value)


@pytest.mark.parametrize("mutate, code", [
    (lambda o: o.update(templates=[[["w", 9]]]), "E_NLU_SCHEMA"),
    (lambda o: o.update(templates=[[["bogus", 0]]]), "E_NLU_SCHEMA"),
    (lambda o: o.update(templates=["bias", "bias"]), "E_NLU_SCHEMA"),
    (lambda o: o.update(templates=[]), "E_NLU_SCHEMA"),
    (lambda o: o.update(labels=["O", "B-x", "X-y"]), "E_NLU_SCHEMA"),
    (lambda o: o.update(labels=["O", "O", "B-x"]), "E_NLU_SCHEMA"),
    (lambda o: o.update(scheme="bilou"), "E_NLU_SCHEMA"),
    (lambda o: o.update(tokenizer="regex:\\w+"), "E_NLU_SCHEMA"),
    (lambda o: o.update(extra=1), "E_NLU_SCHEMA"),
    (lambda o: o.pop("source"), "E_NLU_SCHEMA"),
    (lambda o: o.update(labels=["O", "B-x"]), "E_NLU_REFERENCE"),  # the table has 3 columns
    (lambda o: o.update(labels=["O", "B-x", "I-x", "B-y"]), "E_NLU_REFERENCE"),
    (lambda o: o.update(state_table="nope"), "E_NLU_REFERENCE"),
    (lambda o: o.update(transitions="nope"), "E_NLU_REFERENCE"),
])
def test_bad_tagger_profiles(tmp_path, mutate, code):
    labels = ["O", "B-x", "I-x"]
    obj = tagger_obj(labels)
    mutate(obj)
    p = write_tagger(tmp_path / "bad.phq", PLAY_ROWS, labels, np.zeros((3, 3)), obj=obj)
    expect_profile_error(p, code)


@pytest.mark.parametrize("tensors", [
    {"tagger.transitions": np.zeros((3, 2), np.float32)},
    {"tagger.transitions": np.zeros((3, 3), np.int32)},
    {"tagger.transitions": np.zeros((9,), np.float32)},
])
def test_bad_transitions(tmp_path, tensors):
    p = write_tagger(tmp_path / "bad.phq", PLAY_ROWS, ["O", "B-x", "I-x"], None, tensors=tensors)
    expect_profile_error(p, "E_NLU_REFERENCE")


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_transitions(tmp_path, bad):
    """The writer refuses non-finite tensors, so the value is put in by byte surgery."""
    from corrupt_util import edit_section, entries, write_image

    sentinel = np.float32(1234.5)
    trans = np.zeros((3, 3), np.float32)
    trans[1, 2] = sentinel
    p = write_tagger(tmp_path / "ok.phq", PLAY_ROWS, ["O", "B-x", "I-x"], trans)
    data = p.read_bytes()
    at = data.index(sentinel.tobytes())
    e = next(e for e in entries(data) if e.offset <= at < e.offset + e.size)
    image = edit_section(data, e.index, at - e.offset, np.float32(bad).tobytes())
    expect_profile_error(write_image(tmp_path / "bad.phq", image), "E_NLU_REFERENCE")


@pytest.mark.parametrize("outer, code", [
    ({"unicode": "15.0.0"}, "E_NLU_VERSION"),
    ({"tagger": None}, "E_NLU_SCHEMA"),
    ({"extra": 1}, "E_NLU_SCHEMA"),
    ({"classifier": 5}, "E_NLU_SCHEMA"),
    ({"profile": 4}, "E_NLU_VERSION"),
])
def test_bad_outer_objects(tmp_path, outer, code):
    p = write_tagger(tmp_path / "bad.phq", PLAY_ROWS, ["O", "B-x", "I-x"], np.zeros((3, 3)), outer=outer)
    expect_profile_error(p, code)
