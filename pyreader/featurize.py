"""Featurizers of the NLU profile (spec/nlu-profile-v2.md §4-§7): raw input -> {term: tf}.

Text featurizers follow profile 2: UTF-8 decoding, lowercasing and accent stripping by the
pinned Unicode 14.0.0 data (`phq.unicode`), and three named tokenizers. No regular
expression is taken from a file: the patterns below are built from the Unicode tables.
They reproduce scikit-learn's CountVectorizer / TfidfVectorizer analyzers ("word", "char",
"char_wb") and DictVectorizer exactly for the settings the converter accepts (profile 1
settings are mapped to profile 2 by `profile1_text_config`, spec §12). `analyze(doc)`
returns the same list of terms, in the same order, as scikit-learn's `build_analyzer()(doc)`;
`features(doc)` returns each distinct term's tf, in order of first occurrence (spec §7.1).

Terms are not filtered by a vocabulary here: the model's hashed table is the vocabulary
(a term that is not a key is absent, or is rejected by the fingerprints).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from numbers import Number

from . import unicode as uni

ANALYZERS = ("word", "char", "char_wb")
STRIP_ACCENTS = (None, "ascii", "unicode")
NORMS = (None, "l1", "l2")
DECODE_ERRORS = uni.DECODE_ERRORS

# spec §6.1: the named tokenizers, as patterns over the profile's own character classes
TOKENIZERS = {
    "word_runs_min2": re.compile(uni.WORD_CLASS + "{2,}"),
    "word_runs_min1": re.compile(uni.WORD_CLASS + "+"),
    "nonspace_runs": re.compile(uni.NONSPACE_CLASS + "+"),
}
# spec §10: scikit-learn token_pattern spellings with a portable equivalent
TOKEN_PATTERNS = {
    r"(?u)\b\w\w+\b": "word_runs_min2",
    r"\b\w\w+\b": "word_runs_min2",
    r"(?u)\w\w+": "word_runs_min2",
    r"\w\w+": "word_runs_min2",
    r"(?u)\b\w+\b": "word_runs_min1",
    r"\b\w+\b": "word_runs_min1",
    r"(?u)\w+": "word_runs_min1",
    r"\w+": "word_runs_min1",
    r"(?u)\S+": "nonspace_runs",
    r"\S+": "nonspace_runs",
}
# spec §6.2: runs of two or more whitespace code points
WHITE_SPACES = re.compile(uni.SPACE_CLASS + "{2,}")
WORDS = TOKENIZERS["nonspace_runs"]

MAX_NGRAM_WIDTH = 16
UTF8_NAMES = ("utf-8", "utf8")
MAX_PREFIX_BYTES = 1024
MAX_STOP_WORDS = 65536
MAX_SEPARATOR_BYTES = 256


class ConfigError(ValueError):
    """A featurizer configuration is malformed (the NLU layer turns it into a ProfileError)."""


def strip_accents_unicode(s: str) -> str:
    """NFKD, then drop combining characters (spec §5.2)."""
    return uni.strip_unicode(s)


def strip_accents_ascii(s: str) -> str:
    """NFKD, then drop every non-ASCII character (spec §5.2)."""
    return uni.strip_ascii(s)


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
    """Character n-grams of the text with whitespace runs collapsed to one space (§6.2)."""
    text = WHITE_SPACES.sub(" ", text)
    size = len(text)
    out = list(text) if lo == 1 else []
    for n in range(max(lo, 2), min(hi, size) + 1):
        out.extend(text[i : i + n] for i in range(size - n + 1))
    return out


def char_wb_ngrams(text: str, lo: int, hi: int) -> list[str]:
    """Character n-grams inside each whitespace-separated word padded with one space (§6.3).

    A padded word shorter than n yields itself once (for the smallest such n) and stops.
    """
    text = WHITE_SPACES.sub(" ", text)
    out: list[str] = []
    for word in WORDS.findall(text):
        w = " " + word + " "
        size = len(w)
        for n in range(lo, hi + 1):
            if n >= size:
                out.append(w)
                break
            out.extend(w[i : i + n] for i in range(size - n + 1))
    return out


def utf8_len(s: str) -> int:
    return len(s.encode("utf-8", "surrogatepass"))


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


# spec §2.2: the members of a featurizer object, by kind (profile 2)
COMMON_MEMBERS = frozenset({"name", "kind", "key_prefix", "norm", "norm_table", "weight"})
TEXT_MEMBERS = COMMON_MEMBERS | {
    "analyzer", "ngram_range", "lowercase", "strip_accents", "binary", "sublinear_tf",
    "decode_error", "tokenizer", "stop_words",
}
DICT_MEMBERS = COMMON_MEMBERS | {"separator"}
# profile 1 (spec/nlu-profile-v1.md §2): encoding and token_pattern instead of tokenizer
TEXT_MEMBERS_V1 = (TEXT_MEMBERS - {"tokenizer"}) | {"encoding", "token_pattern"}


def profile1_text_config(cfg: Mapping) -> dict:
    """A profile 1 text featurizer's settings in profile 2 terms (spec/nlu-profile-v2.md §12).
    No pattern from the file is compiled: a token_pattern is looked up in TOKEN_PATTERNS."""
    out = {k: v for k, v in cfg.items() if k not in ("encoding", "token_pattern")}
    encoding = cfg.get("encoding")
    if not isinstance(encoding, str):
        raise ConfigError(f"encoding must be a string, got {encoding!r}")
    if encoding.lower() not in UTF8_NAMES:  # spec §12: exactly these spellings, ASCII case ignored
        raise ConfigError(f"encoding {encoding[:64]!r} is not UTF-8: profile 2 runtimes decode UTF-8 only")
    pattern = cfg.get("token_pattern")
    if cfg.get("analyzer") == "word":
        if not isinstance(pattern, str):
            raise ConfigError(f"token_pattern must be a string, got {type(pattern).__name__}")
        if pattern not in TOKEN_PATTERNS:
            raise ConfigError(
                f"token_pattern {pattern[:80]!r} has no portable equivalent (supported: "
                f"{', '.join(sorted(set(TOKEN_PATTERNS)))}); no runtime runs a pattern taken from a file"
            )
        out["tokenizer"] = TOKEN_PATTERNS[pattern]
    else:
        if pattern is not None:
            raise ConfigError(f"token_pattern must be null for analyzer {cfg.get('analyzer')!r}")
        out["tokenizer"] = None
    return out


class TextFeaturizer:
    """kind "text": CountVectorizer / TfidfVectorizer semantics (spec/nlu-profile-v2.md §4-§7)."""

    kind = "text"

    def __init__(self, cfg: Mapping):
        self.analyzer = _choice(cfg, "analyzer", ANALYZERS)
        rng = cfg.get("ngram_range")
        if not (
            isinstance(rng, list)
            and len(rng) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in rng)
            and 1 <= rng[0] <= rng[1] <= 64
            and rng[1] - rng[0] < MAX_NGRAM_WIDTH
        ):
            raise ConfigError(f"ngram_range must be [lo, hi] with 1 <= lo <= hi <= 64 and hi - lo <= {MAX_NGRAM_WIDTH - 1}, got {rng!r}")
        self.lo, self.hi = rng
        self.lowercase = _bool(cfg, "lowercase")
        self.strip_accents = _choice(cfg, "strip_accents", STRIP_ACCENTS)
        self.binary = _bool(cfg, "binary")
        self.sublinear_tf = _bool(cfg, "sublinear_tf")
        self.decode_error = _choice(cfg, "decode_error", DECODE_ERRORS)
        self.tokenizer = cfg.get("tokenizer")
        stop = cfg.get("stop_words")
        self.stop_words = None
        if self.analyzer == "word":
            if self.tokenizer not in TOKENIZERS:
                raise ConfigError(f"tokenizer must be one of {sorted(TOKENIZERS)}, got {self.tokenizer!r}")
            self.token_re = TOKENIZERS[self.tokenizer]
            if stop is not None:
                if not (isinstance(stop, list) and len(stop) <= MAX_STOP_WORDS and all(isinstance(w, str) for w in stop)):
                    raise ConfigError(f"stop_words must be null or a list of at most {MAX_STOP_WORDS} strings")
                self.stop_words = frozenset(stop)
        else:
            if self.tokenizer is not None or stop is not None:
                raise ConfigError(f"tokenizer and stop_words must be null for analyzer {self.analyzer!r}")

    def preprocess(self, doc) -> str:
        if isinstance(doc, (bytes, bytearray, memoryview)):
            doc = uni.decode(doc, self.decode_error)
        if not isinstance(doc, str):
            raise TypeError(f"a text model scores str (or bytes) documents, got {type(doc).__name__}")
        if self.lowercase:
            doc = uni.lower(doc)
        if self.strip_accents == "unicode":
            doc = uni.strip_unicode(doc)
        elif self.strip_accents == "ascii":
            doc = uni.strip_ascii(doc)
        return doc

    def analyze(self, doc) -> list[str]:
        text = self.preprocess(doc)
        if self.analyzer == "word":
            return word_ngrams(self.token_re.findall(text), self.lo, self.hi, self.stop_words)
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
    """kind "dict": DictVectorizer semantics (spec/nlu-profile-v2.md §7.3)."""

    kind = "dict"

    def __init__(self, cfg: Mapping):
        self.separator = cfg.get("separator")
        if not isinstance(self.separator, str) or utf8_len(self.separator) > MAX_SEPARATOR_BYTES:
            raise ConfigError(f"separator must be a string of at most {MAX_SEPARATOR_BYTES} UTF-8 bytes")

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


def check_members(cfg: Mapping, profile: int) -> None:
    """Spec §2.2: a featurizer object has exactly its kind's members (profile 1 too, §12);
    raises ConfigError."""
    kind = cfg.get("kind")
    if kind == "text":
        members = TEXT_MEMBERS if profile >= 2 else TEXT_MEMBERS_V1
    elif kind == "dict":
        members = DICT_MEMBERS
    else:
        raise ConfigError(f"featurizer kind must be 'text' or 'dict', got {kind!r}")
    unknown = sorted(map(str, set(cfg) - members))
    missing = sorted(members - set(cfg))
    if unknown:  # profile 1 too (profile v2 §12)
        raise ConfigError(f"unknown member(s) {unknown[:5]} (a setting a runtime does not know is never ignored)")
    if missing:
        raise ConfigError(f"missing member(s) {missing}")


def make_featurizer(cfg: Mapping, profile: int = 2):
    """A featurizer from its settings (profile 2, or profile 1 mapped by spec §12)."""
    kind = cfg.get("kind")
    if kind == "text":
        return TextFeaturizer(cfg if profile >= 2 else profile1_text_config(cfg))
    if kind == "dict":
        return DictFeaturizer(cfg)
    raise ConfigError(f"featurizer kind must be 'text' or 'dict', got {kind!r}")
