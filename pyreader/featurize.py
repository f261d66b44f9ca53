"""Featurizers of the NLU profile (spec/nlu-profile-v1.md §4): raw input -> {term: tf}.

They reproduce scikit-learn's CountVectorizer / TfidfVectorizer analyzers ("word", "char",
"char_wb") and DictVectorizer exactly, from the settings the converter stores in the
file's metadata, without importing scikit-learn. `analyze(doc)` returns the same list of
terms, in the same order, as scikit-learn's `build_analyzer()(doc)`; `features(doc)`
returns each term's term-frequency value before idf weighting and normalization.

Terms are not filtered by a vocabulary here: the model's hashed table is the vocabulary
(a term that is not a key is absent, or is rejected by the fingerprints).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from numbers import Number

# scikit-learn's _VectorizerMixin._white_spaces: runs of two or more whitespace characters
WHITE_SPACES = re.compile(r"\s\s+")

ANALYZERS = ("word", "char", "char_wb")
STRIP_ACCENTS = (None, "ascii", "unicode")
NORMS = (None, "l1", "l2")
DECODE_ERRORS = ("strict", "ignore", "replace")


class ConfigError(ValueError):
    """A featurizer configuration is malformed (the NLU layer turns it into a ProfileError)."""


def strip_accents_unicode(s: str) -> str:
    """NFKD, then drop combining characters (left unchanged if already ASCII)."""
    if s.isascii():
        return s
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


def strip_accents_ascii(s: str) -> str:
    """NFKD, then drop every non-ASCII character."""
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")


def word_ngrams(tokens: list[str], lo: int, hi: int, stop_words: frozenset | None) -> list[str]:
    """Tokens minus stop words, then all n-grams for n in [lo, hi], joined by one space.

    Unigrams come first (when lo == 1), then bigrams, and so on, each in text order.
    """
    if stop_words is not None:
        tokens = [t for t in tokens if t not in stop_words]
    if hi == 1:
        return tokens if lo == 1 else []
    out = list(tokens) if lo == 1 else []
    n_tok = len(tokens)
    for n in range(max(lo, 2), min(hi, n_tok) + 1):
        out.extend(" ".join(tokens[i : i + n]) for i in range(n_tok - n + 1))
    return out


def char_ngrams(text: str, lo: int, hi: int) -> list[str]:
    """Character n-grams of the text with whitespace runs collapsed to one space."""
    text = WHITE_SPACES.sub(" ", text)
    size = len(text)
    out = list(text) if lo == 1 else []
    for n in range(max(lo, 2), min(hi, size) + 1):
        out.extend(text[i : i + n] for i in range(size - n + 1))
    return out


def char_wb_ngrams(text: str, lo: int, hi: int) -> list[str]:
    """Character n-grams inside each whitespace-separated word padded with one space.

    A padded word shorter than n yields itself once (for the smallest such n) and stops.
    """
    text = WHITE_SPACES.sub(" ", text)
    out: list[str] = []
    for word in text.split():
        w = " " + word + " "
        size = len(w)
        for n in range(lo, hi + 1):
            if n >= size:
                out.append(w)
                break
            out.extend(w[i : i + n] for i in range(size - n + 1))
    return out


def _bool(cfg: Mapping, name: str) -> bool:
    v = cfg.get(name)
    if not isinstance(v, bool):
        raise ConfigError(f"{name} must be true or false, got {v!r}")
    return v


def _choice(cfg: Mapping, name: str, allowed: tuple):
    v = cfg.get(name)
    if v not in allowed or isinstance(v, bool):
        raise ConfigError(f"{name} must be one of {list(allowed)}, got {v!r}")
    return v


class TextFeaturizer:
    """kind "text": CountVectorizer / TfidfVectorizer semantics (spec/nlu-profile-v1.md §4.1)."""

    kind = "text"

    def __init__(self, cfg: Mapping):
        self.analyzer = _choice(cfg, "analyzer", ANALYZERS)
        rng = cfg.get("ngram_range")
        if not (
            isinstance(rng, list)
            and len(rng) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in rng)
            and 1 <= rng[0] <= rng[1] <= 64
        ):
            raise ConfigError(f"ngram_range must be [lo, hi] with 1 <= lo <= hi <= 64, got {rng!r}")
        self.lo, self.hi = rng
        self.lowercase = _bool(cfg, "lowercase")
        self.strip_accents = _choice(cfg, "strip_accents", STRIP_ACCENTS)
        self.binary = _bool(cfg, "binary")
        self.sublinear_tf = _bool(cfg, "sublinear_tf")
        self.encoding = cfg.get("encoding")
        if not isinstance(self.encoding, str):
            raise ConfigError(f"encoding must be a string, got {self.encoding!r}")
        self.decode_error = _choice(cfg, "decode_error", DECODE_ERRORS)
        self.token_pattern = None
        self.stop_words = None
        if self.analyzer == "word":
            pattern = cfg.get("token_pattern")
            if not isinstance(pattern, str):
                raise ConfigError(f"token_pattern must be a string, got {pattern!r}")
            try:
                self.token_pattern = re.compile(pattern)
            except re.error as e:
                raise ConfigError(f"token_pattern {pattern!r} is not a valid regular expression: {e}") from None
            if self.token_pattern.groups > 1:
                raise ConfigError(f"token_pattern {pattern!r} has more than one capturing group")
            stop = cfg.get("stop_words")
            if stop is not None:
                if not (isinstance(stop, list) and all(isinstance(w, str) for w in stop)):
                    raise ConfigError("stop_words must be null or a list of strings")
                self.stop_words = frozenset(stop)

    def preprocess(self, doc) -> str:
        if isinstance(doc, (bytes, bytearray)):
            doc = bytes(doc).decode(self.encoding, self.decode_error)
        if not isinstance(doc, str):
            raise TypeError(f"a text model scores str (or bytes) documents, got {type(doc).__name__}")
        if self.lowercase:
            doc = doc.lower()
        if self.strip_accents == "unicode":
            doc = strip_accents_unicode(doc)
        elif self.strip_accents == "ascii":
            doc = strip_accents_ascii(doc)
        return doc

    def analyze(self, doc) -> list[str]:
        text = self.preprocess(doc)
        if self.analyzer == "word":
            return word_ngrams(self.token_pattern.findall(text), self.lo, self.hi, self.stop_words)
        if self.analyzer == "char":
            return char_ngrams(text, self.lo, self.hi)
        return char_wb_ngrams(text, self.lo, self.hi)

    def features(self, doc) -> dict[str, float]:
        counts: dict[str, float] = {}
        for term in self.analyze(doc):
            counts[term] = counts.get(term, 0) + 1
        if self.binary:
            return dict.fromkeys(counts, 1.0)
        if self.sublinear_tf:
            return {t: 1.0 + math.log(c) for t, c in counts.items()}
        return {t: float(c) for t, c in counts.items()}


class DictFeaturizer:
    """kind "dict": DictVectorizer semantics (spec/nlu-profile-v1.md §4.2)."""

    kind = "dict"

    def __init__(self, cfg: Mapping):
        self.separator = cfg.get("separator")
        if not isinstance(self.separator, str):
            raise ConfigError(f"separator must be a string, got {self.separator!r}")

    def analyze(self, doc) -> list[tuple[str, float]]:
        if not isinstance(doc, Mapping):
            raise TypeError(f"a dict model scores mappings of feature -> value, got {type(doc).__name__}")
        out: list[tuple[str, float]] = []
        for f, v in doc.items():
            if isinstance(v, str):
                out.append((f"{f}{self.separator}{v}", 1.0))
            elif isinstance(v, Number) or v is None:
                # the feature's name is f itself; a non-str f cannot be a key of the table
                if isinstance(f, str):
                    out.append((f, math.nan if v is None else float(v)))
            elif not isinstance(v, Mapping) and isinstance(v, Iterable):
                for x in v:
                    if not isinstance(x, str):
                        raise TypeError(f"feature {f!r}: an iterable value must hold only strings, got {type(x).__name__}")
                    out.append((f"{f}{self.separator}{x}", 1.0))
            else:
                raise TypeError(f"feature {f!r}: unsupported value type {type(v).__name__}")
        return out

    def features(self, doc) -> dict[str, float]:
        values: dict[str, float] = {}
        for term, v in self.analyze(doc):
            values[term] = values.get(term, 0.0) + v
        return values


def make_featurizer(cfg: Mapping):
    kind = cfg.get("kind")
    if kind == "text":
        return TextFeaturizer(cfg)
    if kind == "dict":
        return DictFeaturizer(cfg)
    raise ConfigError(f"featurizer kind must be 'text' or 'dict', got {kind!r}")
