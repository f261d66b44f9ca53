"""The C runtime's tagger and parse (creader/phq_nlu_tagger.c, spec/nlu-profile-v3.md) against the
Python runtime: build/phq-nlu-conform's `parse` answers equal phq.nlu.load(path).parse(...) in
intents and spans on every SNIPS test utterance and on the NLU conformance suite's hard strings,
for a joint model (quick SNIPS training: 800 utterances, 25 L-BFGS iterations) and its tagger alone.
Intent scores agree within 1e-9 (spec v2 §8.6); tokens and feature lists are compared too. The
Python side is the pure runtime (PHQ_PURE=1), not the C runtime phq.nlu otherwise tags through."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sklearn_crfsuite = pytest.importorskip("sklearn_crfsuite")

import phq.nlu  # noqa: E402
import phq.writer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SNIPS = ROOT.parent / "shared" / "data" / "snips"
ADAPTER = ROOT / "build" / "phq-nlu-conform"
sys.path.insert(0, str(ROOT))
from conformance.nlu_corpus import hard_strings  # noqa: E402
from examples.snips import report as snips  # noqa: E402

pytestmark = [
    pytest.mark.skipif(not (SNIPS / "train.jsonl").exists(), reason="../shared/data/snips is absent"),
    pytest.mark.skipif(not ADAPTER.exists(), reason="build/phq-nlu-conform is not built (make -C creader)"),
]


@pytest.fixture(scope="module")
def snips_data():
    return snips.load(SNIPS, quick=True)[0], [json.loads(x) for x in (SNIPS / "test.jsonl").read_text(encoding="utf-8").splitlines() if x]


@pytest.fixture(scope="module")
def models(tmp_path_factory, snips_data):
    train, _ = snips_data
    crf = snips.train_crf(train, quick=True, c1=0.1, c2=0.01)
    clf = snips.train_classifier(train)
    d = tmp_path_factory.mktemp("tagger_c")
    joint, tagger = d / "joint.phq", d / "tagger.phq"
    opts = dict(quant="linear8", scale="column", fingerprint_bits=16)
    phq.writer.from_crfsuite(crf, joint, templates=snips.TEMPLATES, classifier=clf, **opts)
    phq.writer.from_crfsuite(crf, tagger, templates=snips.TEMPLATES, **opts)
    return {"joint": joint, "tagger": tagger}


def c_answers(model: Path, requests: list[str]) -> list[dict]:
    out = subprocess.run([str(ADAPTER), str(model)], input="\n".join(requests) + "\n", capture_output=True, text=True,
                         encoding="utf-8", check=True).stdout.split("\n")[:-1]  # not splitlines: U+2028 etc. are not line ends here
    assert out[0] == "ok" and out[-1] == "end", out[:3]
    return [json.loads(x) for x in out[1:-1]]


def hexed(b: bytes) -> str:
    return b.hex() if b else "-"


def pure_load(model: Path):
    """The pure Python runtime (PHQ_PURE=1 while loading): phq.nlu otherwise tags through the C
    runtime itself, and the comparison would be C against C."""
    old = os.environ.get("PHQ_PURE")
    os.environ["PHQ_PURE"] = "1"
    try:
        nlu = phq.nlu.load(model)
    finally:
        if old is None:
            del os.environ["PHQ_PURE"]
        else:
            os.environ["PHQ_PURE"] = old
    assert not nlu.tagger.accelerated
    return nlu


def compare(model: Path, texts: list[bytes]) -> int:
    """Parse every text in C and in (pure) Python; returns how many were compared; asserts equality."""
    nlu = pure_load(model)
    got = c_answers(model, [f"parse {hexed(t)}" for t in texts])
    assert len(got) == len(texts)
    for t, c in zip(texts, got):
        try:
            py = nlu.parse([t])[0]
        except phq.UsageError:
            assert "error" in c, (t, c)
            continue
        assert "error" not in c, (t, c)
        assert [(s["slot"], s["value"], s["start"], s["end"]) for s in c["slots"]] == \
            [(s["slot"], s["value"], s["start"], s["end"]) for s in py["slots"]], t
        if py["intent"] is None:
            assert c["intent"] is None
        else:
            assert c["intent"]["name"] == py["intent"]["name"], t
            assert c["intent"]["score"] == pytest.approx(py["intent"]["score"], rel=1e-9, abs=1e-9)
    return len(texts)


@pytest.mark.parametrize("which", ["joint", "tagger"])
def test_snips_test_set_identical(models, snips_data, which):
    _, test = snips_data
    texts = [e["text"].encode("utf-8") for e in test]
    assert compare(models[which], texts) == 700
    # the model finds slots at all (a parse that answered nothing would agree trivially)
    got = c_answers(models[which], [f"parse {hexed(t)}" for t in texts[:50]])
    assert sum(len(g["slots"]) for g in got) > 50


@pytest.mark.parametrize("which", ["joint", "tagger"])
def test_hard_strings_identical(models, which):
    texts = [t for t in hard_strings() if len(t) <= 4096]
    assert compare(models[which], texts) == len(texts)


def test_tokens_and_features_equal_python(models, snips_data):
    _, test = snips_data
    texts = [e["text"] for e in test[:60]] + ["7:30pm İstanbul!", "don't  STOP-me", "Ab9_é中ǅİ- ΟΔΟΣ", "  ", ""]
    reqs = [f"tokens {hexed(t.encode())}" for t in texts]
    for t in texts:
        for i in range(len(phq.nlu.tokenize(t))):
            reqs.append(f"features {i} {hexed(t.encode())}")
    got = c_answers(models["tagger"], reqs)
    k = len(texts)
    for t, g in zip(texts, got[:k]):
        assert [tuple(x) for x in g["tokens"]] == [tuple(x) for x in phq.nlu.tokenize(t)], t
    at = k
    for t in texts:
        toks = [x for x, _, _ in phq.nlu.tokenize(t)]
        feats = phq.nlu.token_features(toks, snips.TEMPLATES)
        for i in range(len(toks)):
            assert got[at]["features"] == feats[i], (t, i)
            at += 1


def test_long_utterance_linear(models):
    """10,000 tokens parse in C (no timing assert) and agree with Python."""
    rng = np.random.default_rng(3)
    words = ["play", "the", "beatles", "in", "paris", "tomorrow", "7:30", "Book", "a", "table"]
    text = " ".join(words[i] for i in rng.integers(0, len(words), 10000)).encode()
    assert compare(models["joint"], [text]) == 1
