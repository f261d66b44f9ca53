"""The accelerated tagger (phq._accel_nlu: the C runtime's phq_nlu_tag under phq.nlu) against the
pure Python reference (PHQ_PURE=1): identical `tag` and `parse` answers (tokens, offsets, labels,
spans, values; usage errors with the same message) on the NLU conformance suite's hard strings, on
random texts and bytes (hypothesis), on synthetic taggers built to have exact ties (integer
weights), NaN state rows and 19..200 labels (the blocked Viterbi step), and on a CRF trained on
SNIPS (every test utterance) when ../shared/data/snips and sklearn-crfsuite are there."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import phq
import phq.nlu
import phq.writer

ROOT = Path(__file__).resolve().parents[1]
SNIPS = ROOT.parent / "shared" / "data" / "snips"
sys.path.insert(0, str(ROOT))
from conformance.nlu_corpus import hard_strings  # noqa: E402

pytestmark = pytest.mark.skipif(phq.nlu._accel_nlu is None, reason="the C accelerator is not built")

TEMPLATES = ["bias", "bos", "eos", [["w", 0]], [["w", -1]], [["w", 1]], [["raw", 0]], [["p2", 0]], [["s3", 0]],
             [["shape", 0]], [["sshape", 0]], [["digit", 0]], [["upper", 0]], [["title", 0]], [["w", -1], ["w", 0]],
             [["title", -1], ["s1", 1]]]


def _vocabulary(texts, templates, limit=4000):
    keys: dict[str, None] = {}
    for t in texts:
        toks = [x for x, _, _ in phq.nlu.tokenize(t, "word_punct", "replace")]
        for fs in phq.nlu.token_features(toks, templates):
            for f in fs:
                try:
                    f.encode("utf-8")
                except UnicodeEncodeError:
                    continue
                keys.setdefault(f)
                if len(keys) >= limit:
                    return list(keys)
    return list(keys)


def labels_of(n_slots):
    return ["O"] + [f"{p}-s{i}" for i in range(n_slots) for p in "BI"]


def write_model(path, *, n_slots, seed, integer, quant="f32", decode_error="replace", tokenizer="word_punct", sentinel=None):
    rng = np.random.default_rng(seed)
    labels = labels_of(n_slots)
    L = len(labels)
    sample = [t.decode("utf-8", "replace") for t in hard_strings()[:300]] + ["Play THE Beatles at 7:30pm, please", "book a table in Paris"]
    keys = _vocabulary(sample, TEMPLATES)
    keys = [k for k in keys if rng.random() < 0.8]
    if integer:  # small integers: exact ties everywhere (ties go to the lowest label index, spec 6.2)
        rows = rng.integers(-2, 3, (len(keys), L)).astype(np.float32)
        trans = rng.integers(-2, 3, (L, L)).astype(np.float32)
    else:
        rows = (rng.standard_normal((len(keys), L)) * rng.choice([0.1, 1.0, 3.0], (len(keys), 1))).astype(np.float32)
        trans = rng.standard_normal((L, L)).astype(np.float32)
    if sentinel is not None:
        rows[0, :] = 0.0
        rows[0, 1] = sentinel
    tagger = {"tokenizer": tokenizer, "decode_error": decode_error, "templates": TEMPLATES, "labels": labels, "scheme": "bio",
              "state_table": "tagger.state", "transitions": "tagger.transitions", "estimator": "synthetic", "source": {}}
    meta = {"phq.nlu": {"profile": 3, "unicode": "14.0.0", "classifier": None, "tagger": tagger}}
    phq.writer.write(path, {"tagger.state": (keys, rows)}, tensors={"tagger.transitions": trans}, metadata=meta, quant=quant)
    return path, keys[0]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("accel")
    out = {
        "ties19": write_model(d / "ties19.phq", n_slots=9, seed=1, integer=True)[0],
        "ties79_linear8": write_model(d / "ties79.phq", n_slots=39, seed=2, integer=True, quant="linear8")[0],
        "normal200_strict": write_model(d / "n200.phq", n_slots=100, seed=3, integer=False, decode_error="strict")[0],
        "normal8_nonspace_ignore": write_model(d / "n8.phq", n_slots=4, seed=4, integer=False, tokenizer="nonspace_runs", decode_error="ignore")[0],
    }
    out["nan_row"] = nan_model(d)
    return out


def nan_model(d):
    """A NaN in a state row (the writer refuses one; put in by byte surgery, as a hostile file would)."""
    from corrupt_util import edit_section, entries, write_image

    sentinel = np.float32(1234.5)
    path, key = write_model(d / "nan_ok.phq", n_slots=5, seed=5, integer=True, sentinel=sentinel)
    data = path.read_bytes()
    at = data.index(sentinel.tobytes())
    e = next(e for e in entries(data) if e.offset <= at < e.offset + e.size)
    image = edit_section(data, e.index, at - e.offset, np.float32(np.nan).tobytes())
    bad = write_image(d / "nan.phq", image)
    with phq.nlu.load(bad) as m:  # the NaN is there
        toks = [t for t, _, _ in phq.nlu.tokenize("x")]
        assert m.tagger.table.slots([key.encode()])[0] >= 0
    return bad


def pair(path, monkeypatch):
    monkeypatch.setenv("PHQ_PURE", "1")
    pure = phq.nlu.load(path)
    monkeypatch.delenv("PHQ_PURE")
    acc = phq.nlu.load(path)
    assert not pure.tagger.accelerated and acc.tagger.accelerated
    return pure, acc


def answer(m, fn, texts):
    try:
        return getattr(m, fn)(texts)
    except phq.UsageError as e:
        return ("UsageError", str(e))


def same(pure, acc, texts):
    for fn in ("tag", "parse"):
        want, got = answer(pure, fn, texts), answer(acc, fn, texts)
        assert got == want, (fn, texts[:3] if isinstance(texts, list) else texts)


@pytest.mark.parametrize("name", ["ties19", "ties79_linear8", "normal200_strict", "normal8_nonspace_ignore", "nan_row"])
def test_hard_strings_identical(models, monkeypatch, name):
    pure, acc = pair(models[name], monkeypatch)
    with pure, acc:
        corpus = hard_strings()
        as_str = [b.decode("utf-8", "surrogateescape") for b in corpus]  # lone surrogates: tagged in Python
        one_by_one = corpus[:250] if name == "normal200_strict" else corpus[:120]
        for t in one_by_one + (corpus[-1:] if name == "normal200_strict" else []) + as_str[:60]:  # the batch has the 64 KiB text
            same(pure, acc, [t])
        if name != "normal200_strict":  # a whole batch at once (strict: one bad text refuses the batch)
            same(pure, acc, corpus)
        else:
            bad = next(b for b in corpus if not _utf8(b))
            assert isinstance(answer(acc, "parse", [bad])[1], str)  # the usage error, as in pure
        labels = [t["label"] for r in acc.tag(corpus[:400] if name != "normal200_strict" else [c for c in corpus[:400] if _utf8(c)])
                  for t in r]
        assert len(set(labels)) > 3, "the model labels tokens with more than a few labels (a useful comparison)"


def _utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_edge_inputs_identical(models, monkeypatch):
    pure, acc = pair(models["ties19"], monkeypatch)
    with pure, acc:
        for texts in ([""], ["   "], ["\u3000"], [b""], ["a"], [" ".join(["play", "the", "Beatles", "7:30"] * 2500)],
                      ["x\ud800y"], [bytearray(b"play it")], [memoryview(b"play it")], ["ok", b"\xff\xfe", "ok\ud800"], []):
            same(pure, acc, texts)
        with pytest.raises(phq.UsageError):
            acc.parse([7])
        with pytest.raises(phq.UsageError):
            acc.parse("not a list")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(texts=st.lists(st.one_of(st.text(max_size=60), st.binary(max_size=60),
                                st.lists(st.sampled_from(["Play", "the", "BEATLES", "7:30pm", "İstanbul", "don't", ",", "ΟΔΟΣ", "  "]),
                                         max_size=12).map(" ".join)), max_size=4))
def test_random_texts_identical(models, monkeypatch, texts):
    for name in ("ties19", "normal8_nonspace_ignore"):
        pure, acc = pair(models[name], monkeypatch)
        with pure, acc:
            same(pure, acc, texts)


@pytest.mark.skipif(not (SNIPS / "test.jsonl").exists(), reason="../shared/data/snips is absent")
def test_snips_test_set_identical(tmp_path, monkeypatch):
    pytest.importorskip("sklearn_crfsuite")
    from examples.snips import report as snips

    train, _ = snips.load(SNIPS, quick=True)
    test = [json.loads(x) for x in (SNIPS / "test.jsonl").read_text(encoding="utf-8").splitlines() if x]
    crf = snips.train_crf(train, quick=True, c1=0.1, c2=0.01)
    path = tmp_path / "snips.phq"
    phq.writer.from_crfsuite(crf, path, templates=snips.TEMPLATES)
    pure, acc = pair(path, monkeypatch)
    with pure, acc:
        texts = [e["text"] for e in test]
        assert len(texts) == 700
        same(pure, acc, texts)
        assert sum(len(p["slots"]) for p in acc.parse(texts)) > 700
