"""phq.featurize reproduces scikit-learn's analyzers and DictVectorizer term for term."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlu_corpus import TRICKY
from phq.errors import UsageError
from phq.featurize import TOKEN_PATTERNS, DictFeaturizer, TextFeaturizer, char_wb_ngrams, make_featurizer, strip_accents_unicode

sk_text = pytest.importorskip("sklearn.feature_extraction.text")
from sklearn.feature_extraction import DictVectorizer  # noqa: E402

CountVectorizer, TfidfVectorizer = sk_text.CountVectorizer, sk_text.TfidfVectorizer
# stop lists that the token pattern would split differently: scikit-learn only warns
pytestmark = pytest.mark.filterwarnings("ignore:Your stop_words may be inconsistent")

ALPHABET = st.sampled_from(
    list("abcdeXYZ019 ") + [" ", "  ", "\t", "\n", "\u00a0", "\u2003", ".", ",", "!", "'", "-", "_", "é", "É", "ñ", "ß", "ﬁ", "İ", "Σ", "ς",
                            "e\u0301", "\u0301", "日", "本", "🎵", "Ⅻ", "²", "\u200b", "\x00", "\ud800",
                            "\ufeff", "\u0085", "\x1c", "\u3000", "\u0345", "ʰ", "Ǆ", "한", "ﷺ", "\u0378", "\U000e0001", "ᾼ", "ΐ"]
)
TEXT = st.lists(ALPHABET, max_size=40).map("".join)
PATTERNS = sorted(TOKEN_PATTERNS)  # every spelling the converter maps to a named tokenizer (spec §10)


def config_of(vec) -> dict:
    """The profile's featurizer config for a scikit-learn text vectorizer (as the converter stores it)."""
    from phq.writer.sklearn_convert import _text_config

    cfg = _text_config(vec)
    cfg["sublinear_tf"] = bool(getattr(vec, "sublinear_tf", False))
    return cfg


@st.composite
def vectorizers(draw):
    analyzer = draw(st.sampled_from(["word", "char", "char_wb"]))
    lo = draw(st.integers(1, 3))
    hi = draw(st.integers(lo, lo + 2))
    kwargs = dict(
        analyzer=analyzer,
        ngram_range=(lo, hi),
        lowercase=draw(st.booleans()),
        strip_accents=draw(st.sampled_from([None, "ascii", "unicode"])),
        binary=draw(st.booleans()),
    )
    if analyzer == "word":
        kwargs["token_pattern"] = draw(st.sampled_from(PATTERNS))
        kwargs["stop_words"] = draw(st.sampled_from([None, "english", ["the", "a", "é", "Play"]]))
    return kwargs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kwargs=vectorizers(), docs=st.lists(TEXT, min_size=1, max_size=4))
def test_analyzer_parity(kwargs, docs):
    # fitted (on a fixed vocabulary) only so that the converter's reading is the real one
    vec = CountVectorizer(vocabulary=["zz"], **kwargs).fit(["x"])
    ours = TextFeaturizer(config_of(vec))
    theirs = vec.build_analyzer()
    for doc in docs:
        assert ours.analyze(doc) == theirs(doc), (kwargs, doc)


@pytest.mark.parametrize("doc", TRICKY)
@pytest.mark.parametrize("analyzer,ngram", [("word", (1, 3)), ("char", (1, 5)), ("char_wb", (2, 5))])
@pytest.mark.parametrize("strip", [None, "unicode", "ascii"])
def test_tricky_texts(doc, analyzer, ngram, strip):
    vec = CountVectorizer(analyzer=analyzer, ngram_range=ngram, strip_accents=strip, vocabulary=["zz"]).fit(["x"])
    assert TextFeaturizer(config_of(vec)).analyze(doc) == vec.build_analyzer()(doc)


@pytest.mark.parametrize("sublinear", [False, True])
@pytest.mark.parametrize("binary", [False, True])
def test_tf_values_match_the_vectorizer(sublinear, binary):
    """features() values equal the vectorizer's matrix before idf and norm."""
    docs = TRICKY + ["play play play the beatles beatles", "a a a a b"]
    vec = TfidfVectorizer(ngram_range=(1, 2), use_idf=False, norm=None, sublinear_tf=sublinear, binary=binary).fit(docs)
    fz = TextFeaturizer(config_of(vec))
    X = vec.transform(docs).toarray()
    for d, doc in enumerate(docs):
        got = np.zeros(X.shape[1])
        for term, v in fz.features(doc).items():
            got[vec.vocabulary_[term]] = v  # every term of a fitted doc is in the vocabulary
        np.testing.assert_allclose(got, X[d], rtol=1e-12)


def test_byte_documents_are_decoded_like_sklearn():
    for errors in ("strict", "replace", "ignore"):
        vec = CountVectorizer(decode_error=errors, analyzer="char", vocabulary=["zz"]).fit(["x"])
        fz = TextFeaturizer(config_of(vec))
        for doc in ("café olé".encode(), b"ab\xffcd\xe2\x82 \xed\xa0\x80\xf0\x9f\x8e\xb5\xc0\xaf"):
            try:
                want = vec.build_analyzer()(doc)
            except UnicodeDecodeError:
                with pytest.raises(UnicodeDecodeError):
                    fz.analyze(doc)
                continue
            assert fz.analyze(doc) == want
    with pytest.raises(TypeError):
        fz.analyze(42)


@pytest.mark.parametrize("setting", [dict(encoding="latin-1"), dict(token_pattern=r"(\w)\w*"), dict(token_pattern=r"[a-z]+"), dict(ngram_range=(1, 20))])
def test_settings_without_a_portable_equivalent_are_refused_by_name(setting):
    """spec/nlu-profile-v2.md §10: the converter names the setting it cannot write."""
    vec = CountVectorizer(vocabulary=["zz"], **setting).fit(["x"])
    name = next(iter(setting))
    with pytest.raises(UsageError, match=name):
        config_of(vec)


def test_very_long_input_is_linear():
    doc = "play the beatles " * 20000  # 340k characters
    vec = CountVectorizer(analyzer="char_wb", ngram_range=(2, 4), vocabulary=["zz"]).fit(["x"])
    ours = TextFeaturizer(config_of(vec)).features(doc)
    assert ours[" pl"] == 20000 and ours["les "] == 20000
    assert sum(ours.values()) == len(vec.build_analyzer()(doc))


def test_char_wb_short_words_counted_once():
    # " a " has 3 characters: n = 3 yields it, n = 4 and 5 are not tried
    assert char_wb_ngrams("a bc", 3, 5) == [" a ", " bc", "bc ", " bc "]


def test_strip_accents_unicode_keeps_ascii_untouched():
    assert strip_accents_unicode("plain") == "plain"
    assert strip_accents_unicode("ﬁancé") == "fiance"  # NFKD also expands the ligature


@st.composite
def dict_docs(draw):
    keys = st.sampled_from(["a", "b", "city", "len", "w", "é"])
    values = st.one_of(
        st.sampled_from(["x", "y", "São", ""]),
        st.floats(-5, 5, allow_nan=False),
        st.integers(-3, 3),
        st.booleans(),
        st.lists(st.sampled_from(["p", "q", "q"]), max_size=3),
    )
    return draw(st.dictionaries(keys, values, max_size=5))


@settings(max_examples=200, deadline=None)
@given(docs=st.lists(dict_docs(), min_size=1, max_size=5), sep=st.sampled_from(["=", ":", "\x1f"]))
def test_dict_parity(docs, sep):
    vec = DictVectorizer(separator=sep).fit(docs)
    X = vec.transform(docs).toarray()
    fz = DictFeaturizer({"separator": sep})
    for d, doc in enumerate(docs):
        got = np.zeros(X.shape[1])
        for term, v in fz.features(doc).items():
            got[vec.vocabulary_[term]] += v
        np.testing.assert_allclose(got, X[d], rtol=1e-12)


def test_dict_none_is_nan_and_bad_values_are_refused():
    fz = DictFeaturizer({"separator": "="})
    assert math.isnan(fz.features({"x": None})["x"])
    assert fz.features({1: 2.0}) == {}  # a non-str name with a number cannot be a key
    assert fz.features({1: "a"}) == {"1=a": 1.0}
    with pytest.raises(TypeError):
        fz.features({"x": {"nested": 1}})
    with pytest.raises(TypeError):
        fz.features({"x": [1, 2]})
    with pytest.raises(TypeError):
        fz.features("not a dict")


@pytest.mark.parametrize(
    "cfg,message",
    [
        ({"kind": "image"}, "kind"),
        ({"kind": "dict", "separator": 1}, "separator"),
        ({"kind": "text", "analyzer": "sentence"}, "analyzer"),
        ({"kind": "text", "analyzer": "char", "ngram_range": [3, 2]}, "ngram_range"),
        ({"kind": "text", "analyzer": "char", "ngram_range": [1, 65]}, "ngram_range"),
        ({"kind": "text", "analyzer": "char", "ngram_range": [1, True]}, "ngram_range"),
    ],
)
def test_bad_configs_are_refused(cfg, message):
    from phq.featurize import ConfigError

    with pytest.raises(ConfigError, match=message):
        make_featurizer(cfg)
