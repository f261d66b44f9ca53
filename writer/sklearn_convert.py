"""Convert fitted scikit-learn text classifiers to phq files of the NLU profile.

    phq.writer.from_sklearn(pipeline, "intent.phq", quant="linear8", fingerprint_bits=16)

Writes profile 2 (spec/nlu-profile-v2.md). Supported:
  featurization  CountVectorizer, TfidfVectorizer (analyzer word / char / char_wb), a
                 CountVectorizer followed by a TfidfTransformer, DictVectorizer, and
                 FeatureUnion of those (transformer_weights included, nesting allowed);
  column steps   feature selection (SelectKBest, SelectFromModel, ... any SelectorMixin),
                 MaxAbsScaler, StandardScaler(with_mean=False), between the featurizer
                 and the classifier (sklearn_estimators.py);
  classifier     LogisticRegression(CV), LinearSVC, SGDClassifier, RidgeClassifier(CV),
                 Perceptron, PassiveAggressiveClassifier, MultinomialNB, ComplementNB,
                 BernoulliNB, OneVsRestClassifier of the linear ones; binary or
                 multi-class (sklearn_estimators.py); CalibratedClassifierCV over a
                 linear one (sigmoid or isotonic, ensemble or not: sklearn_calibration.py);
given as a Pipeline, or as parts: `from_sklearn((vectorizer, classifier), path)`.

What goes where: each vocabulary term's column of `coef_` (times the term's idf and the
union's transformer weight) becomes the term's row in the table "features" (keys are the
terms, prefixed per featurizer when there are several); rows that quantize to zero are
dropped. A featurizer with a norm also gets a table of its whole vocabulary holding each
term's idf (or a key set when there is no idf), because the norm runs over every term of
the document, weighted or not. The intercepts go to the tensor "intercept"; labels,
featurizer settings and the probability rule go to the metadata object "phq.nlu".

Before writing, the converter checks its own reading of the model: it featurizes and
scores probe documents both ways (scikit-learn's, and phq.nlu's rules from the extracted
settings) and refuses the model if they disagree, so an unsupported setting can never
produce a file that scores differently.
"""

from __future__ import annotations

import codecs
import math
import os
import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from phq.errors import UsageError
from phq.featurize import MAX_NGRAM_WIDTH, TOKEN_PATTERNS, make_featurizer
from phq.nlu import PROFILE_KEY, PROFILE_VERSION, UNICODE_VERSION  # one definition for writer and runtime

from .build import Table
from .sklearn_calibration import calibrated_parts, check_calibration, fold_estimators, is_calibrated
from .sklearn_estimators import CLASSIFIERS, Linear, fold_column_steps, linear_classifier, reference_scores, split_column_steps  # noqa: F401  (CLASSIFIERS: re-exported)
from .sklearn_estimators import _cls, _fitted, _is_sklearn  # one reading of scikit-learn objects

SCORE_TABLE = "features"
INTERCEPT = "intercept"

TEXT_VECTORIZERS = ("CountVectorizer", "TfidfVectorizer")
# A featurizer's output dtype: float64 and integers are exact; float32 rounds every value
# (tf x idf, the norm, the division), so the self-checks allow FLOAT32_RTOL (spec §10).
EXACT_RTOL = 1e-9
FLOAT32_RTOL = 2.0**-16
KEY_SEPARATOR = "\x1f"  # between a featurizer's name and a term in a union's keys

# Probe documents: Unicode, accents, punctuation, whitespace runs, empty, repeated terms.
PROBE_TEXTS = [
    "",
    "play the beatles",
    "Play THE Beatles, please!! play play",
    "  wake   me\tup at 7:30\n\ntomorrow  ",
    "Café déjà vu — naïve façade; Ærøskøbing",
    "what's the weather in São Paulo? 明天 天气",
    "x",
    "a b c d e f g h i j k l m n o p",
    "ΟΔΟΣ ΣΑ Σ ὈΔΥΣΣΕΎΣ İstanbul ß ﬁne Ǆ ½ ２０２６ ①",
    "tab\tsep\u00a0nbsp\u3000ideo\u0085nel\ufeffbom\u200bzwsp\u001cfs x\u2028y",
    "e\u0301 n\u0303 \u1100\u1161 한국어 ﷺ ﷽ Ⅻ",
    "👍🏽 👨\u200d👩\u200d👧 🇫🇷 \U000e0001 \U0010fffd \u0378\u0379",
]


@dataclass
class Branch:
    """One featurizer of the model: its settings, vocabulary and coef_ columns."""

    name: str
    config: dict
    vocabulary: dict  # term -> column within this branch
    idf: np.ndarray | None
    norm: str | None
    weight: float
    vectorizer: Any  # the fitted scikit-learn object(s), for the self-check
    tfidf: Any = None
    offset: int = 0
    norm_table: str | None = None
    rtol: float = EXACT_RTOL  # the self-checks' tolerance: FLOAT32_RTOL for a float32 featurizer
    binarize: float | None = None  # BernoulliNB(binarize=t): the classifier sees x > t

    @property
    def size(self) -> int:
        return len(self.vocabulary)


def _text_config(vec) -> dict:
    name = _cls(vec)
    _fitted(vec, "vocabulary_")
    problems = []
    if vec.input != "content":
        problems.append(f"input={vec.input!r} (only 'content': the runtime scores text, not files)")
    for attr in ("preprocessor", "tokenizer"):
        if getattr(vec, attr) is not None:
            problems.append(f"a custom {attr} (code cannot be stored in a file)")
    if callable(vec.analyzer):
        problems.append("a custom analyzer (code cannot be stored in a file)")
    elif vec.analyzer not in ("word", "char", "char_wb"):
        problems.append(f"analyzer={vec.analyzer!r}")
    if vec.strip_accents not in (None, "ascii", "unicode"):
        problems.append(f"strip_accents={vec.strip_accents!r} (only None, 'ascii', 'unicode')")
    if vec.decode_error not in ("strict", "ignore", "replace"):
        problems.append(f"decode_error={vec.decode_error!r}")
    encoding = str(vec.encoding)
    try:
        utf8 = codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        utf8 = False
    if not utf8:
        problems.append(f"encoding={encoding!r} (profile 2 runtimes decode UTF-8 only: decode the bytes yourself and pass text)")
    lo, hi = (int(x) for x in vec.ngram_range)
    if not (1 <= lo <= hi <= 64 and hi - lo < MAX_NGRAM_WIDTH):
        problems.append(f"ngram_range=({lo}, {hi}) (the profile allows 1 <= lo <= hi <= 64 and hi - lo <= {MAX_NGRAM_WIDTH - 1})")
    tokenizer = None
    if vec.analyzer == "word":
        pattern = vec.token_pattern
        tokenizer = TOKEN_PATTERNS.get(pattern) if isinstance(pattern, str) else None
        if tokenizer is None:
            problems.append(
                f"token_pattern={pattern!r} (no portable equivalent; use one of "
                + ", ".join(repr(p) for p in sorted(TOKEN_PATTERNS))
                + ": spec/nlu-profile-v2.md §6.1)"
            )
    if problems:
        raise UsageError(f"{name} with " + "; ".join(problems) + " is not supported")
    cfg = {
        "kind": "text",
        "analyzer": vec.analyzer,
        "ngram_range": [lo, hi],
        "lowercase": bool(vec.lowercase),
        "strip_accents": vec.strip_accents,
        "binary": bool(vec.binary),
        "sublinear_tf": False,
        "decode_error": vec.decode_error,
        "tokenizer": tokenizer,
        "stop_words": None,
    }
    if vec.analyzer == "word":
        stop = vec.get_stop_words()
        if stop is not None:
            words = sorted(stop)
            if not all(isinstance(w, str) for w in words):
                raise UsageError(f"{name}: stop_words must be strings")
            cfg["stop_words"] = words
    return cfg


def _dtype_rtol(vec) -> float:
    """The self-check tolerance a vectorizer's dtype needs; other dtypes are refused by name."""
    dt = np.dtype(vec.dtype)
    if dt == np.float64 or (dt.kind in "iu" and dt.itemsize >= 4):
        return EXACT_RTOL
    if dt == np.float32:
        return FLOAT32_RTOL
    raise UsageError(
        f"{_cls(vec)} with dtype={dt.name} is not supported (supported: float64, float32, or integer counts "
        "of 32 bits or more; narrower types round or overflow feature values)"
    )


def _tfidf_params(tf) -> tuple[dict, np.ndarray | None, str | None]:
    """(config changes, idf or None, norm) of a TfidfTransformer (or a TfidfVectorizer)."""
    norm = tf.norm
    if norm not in (None, "l1", "l2"):
        raise UsageError(f"{_cls(tf)} with norm={norm!r} is not supported (only None, 'l1', 'l2')")
    idf = None
    if tf.use_idf:
        _fitted(tf, "idf_")
        idf = np.asarray(tf.idf_, dtype=np.float64)
    return {"sublinear_tf": bool(tf.sublinear_tf)}, idf, norm


def _vocabulary(vec) -> dict:
    vocab = vec.vocabulary_
    for term in vocab:
        if not isinstance(term, str):
            raise UsageError(f"{_cls(vec)}: feature name {term!r} is not a string; phq keys are text")
        try:
            term.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"{_cls(vec)}: feature name {term!r} is not valid Unicode (lone surrogate)") from None
    cols = np.fromiter(vocab.values(), dtype=np.int64, count=len(vocab))
    if cols.size and (np.sort(cols) != np.arange(cols.size)).any():
        raise UsageError(f"{_cls(vec)}: vocabulary_ columns are not 0..{len(vocab) - 1}")
    return {t: int(j) for t, j in vocab.items()}


def _branch(name: str, steps: list, weight: float) -> Branch:
    """A featurization chain: [vectorizer] or [CountVectorizer, TfidfTransformer]."""
    steps = [s for s in steps if s is not None and not (isinstance(s, str) and s == "passthrough")]
    if not steps:
        raise UsageError(f"featurizer {name!r} has no steps")
    vec, rest = steps[0], steps[1:]
    if _is_sklearn(vec, TEXT_VECTORIZERS):
        cfg = _text_config(vec)
        idf, norm, tfidf = None, None, None
        if _cls(vec) == "TfidfVectorizer":
            change, idf, norm = _tfidf_params(vec)
            cfg.update(change)
        if rest and _is_sklearn(rest[0], ("TfidfTransformer",)):
            if _cls(vec) == "TfidfVectorizer":
                raise UsageError(f"featurizer {name!r}: a TfidfTransformer after a TfidfVectorizer is not supported")
            tfidf, rest = rest[0], rest[1:]
            change, idf, norm = _tfidf_params(tfidf)
            cfg.update(change)
        if rest:
            raise UsageError(
                f"featurizer {name!r}: step {_cls(rest[0])} after {_cls(vec)} is not supported "
                "(supported: an optional TfidfTransformer; feature selection and scaling are supported "
                "only between the whole featurizer and the classifier)"
            )
        vocab = _vocabulary(vec)
        if idf is not None and idf.shape != (len(vocab),):
            raise UsageError(f"featurizer {name!r}: idf_ has {idf.size} entries for {len(vocab)} terms")
        branch = Branch(name, cfg, vocab, idf, norm, weight, vec, tfidf)
        branch.rtol = _dtype_rtol(vec)
        return branch
    if _is_sklearn(vec, ("DictVectorizer",)):
        _fitted(vec, "vocabulary_")
        if rest:
            raise UsageError(f"featurizer {name!r}: step {_cls(rest[0])} after DictVectorizer is not supported")
        if not isinstance(vec.separator, str):
            raise UsageError(f"DictVectorizer separator must be a string, got {vec.separator!r}")
        return Branch(name, {"kind": "dict", "separator": vec.separator}, _vocabulary(vec), None, None, weight, vec)
    if _cls(vec) == "HashingVectorizer":
        raise UsageError(
            "HashingVectorizer is not supported: it keeps no feature strings, and phq stores features by "
            "their strings (use CountVectorizer or TfidfVectorizer; the MPH makes the strings free)"
        )
    raise UsageError(
        f"{_cls(vec)} is not a supported featurizer (supported: CountVectorizer, TfidfVectorizer, "
        "DictVectorizer, FeatureUnion of those, optionally followed by TfidfTransformer)"
    )


def _branches(step, name: str, weight: float) -> list[Branch]:
    if _is_sklearn(step, ("FeatureUnion",)):
        weights = step.transformer_weights or {}
        out: list[Branch] = []
        for sub_name, sub in step.transformer_list:
            if isinstance(sub, str) and sub == "drop":
                continue
            if isinstance(sub, str):
                raise UsageError(f"FeatureUnion transformer {sub_name!r}={sub!r} is not supported")
            w = float(weights.get(sub_name, 1.0))
            full = f"{name}__{sub_name}" if name else sub_name
            out += _branches(sub, full, weight * w)
        return out
    if _is_sklearn(step, ("Pipeline",)):
        return [_branch(name, [s for _, s in step.steps], weight)]
    return [_branch(name, [step], weight)]


def _split(model) -> tuple[list, Any]:
    """(featurization steps, classifier) from a Pipeline or a (steps..., classifier) sequence."""
    steps, _, clf = _parts(model)
    return steps, clf


def _parts(model) -> tuple[list, list, Any]:
    """(featurization steps, column steps, classifier) from a Pipeline or a (steps..., classifier) sequence."""
    if _is_sklearn(model, ("Pipeline",)):
        steps = [s for _, s in model.steps]
    elif isinstance(model, (list, tuple)):
        steps = list(model)
    else:
        raise UsageError(
            f"from_sklearn needs a Pipeline or a (vectorizer, classifier) pair, got {_cls(model)}; "
            "a bare classifier has no feature strings"
        )
    steps = [s for s in steps if s is not None and not (isinstance(s, str) and s == "passthrough")]
    if len(steps) < 2:
        raise UsageError("from_sklearn needs a featurizer and a classifier")
    featurizer, columns = split_column_steps(steps[:-1])
    return featurizer, columns, steps[-1]


def _classifier(clf) -> Linear:
    """The classifier as a linear map (k = 1 for two classes): sklearn_estimators.linear_classifier."""
    return linear_classifier(clf)


def _classifier_parts(clf) -> tuple[np.ndarray, np.ndarray, list, str]:
    """(coef, intercept, classes, name) of one calibrated fold's classifier (sklearn_calibration)."""
    lin = _classifier(clf)
    if not hasattr(clf, "decision_function"):
        raise UsageError(f"CalibratedClassifierCV over {lin.name} is not supported: it calibrates predict_proba, "
                         "which is not a linear score (calibrate a linear classifier with a decision_function)")
    return lin.coef, lin.intercept, lin.classes, lin.name


def _check_fold_decision(clf, coef: np.ndarray, intercept: np.ndarray, probe) -> None:
    """_check_decision for one calibrated fold, whose weights are rows of the stacked table."""
    _check_decision(dataclasses.replace(_classifier(clf), coef=coef, intercept=intercept), probe)


def _classes_meta(classes: list) -> tuple[list, str]:
    items = [c.item() if isinstance(c, np.generic) else c for c in classes]
    for kind, typ in (("bool", bool), ("int", int), ("float", float), ("str", str)):
        if all(isinstance(c, typ) and (typ is bool or not isinstance(c, bool)) for c in items):
            if kind == "float" and not all(math.isfinite(c) for c in items):
                break
            return items, kind
    raise UsageError(f"class labels must all be str, all int, all finite float or all bool; got {classes[:5]!r}")


def _proba_rule(lin: Linear, k: int, probe: np.ndarray) -> str | None:
    """The probability rule, confirmed numerically against the estimator's predict_proba."""
    if lin.predict_proba is None:
        return None
    from phq.nlu import proba_from_scores  # one implementation of the rules

    # large random probes saturate every rule to 0/1 (normalized logistic then equals softmax);
    # scaled-down copies give moderate scores where the rules differ
    probe = np.concatenate([probe, probe * 1e-2])
    d = np.asarray(lin.decision(probe), dtype=np.float64)
    p = np.asarray(lin.predict_proba(probe), dtype=np.float64)
    rules = lin.proba_rules or ("logistic", "modified_huber") + (("softmax",) if k > 1 else ())
    for rule in rules:
        got = proba_from_scores(rule, d)
        if got.shape == p.shape and np.allclose(got, p, rtol=1e-9, atol=1e-12):
            return rule
    raise UsageError(f"{lin.name}.predict_proba follows no rule phq knows (logistic, softmax, modified_huber)")


def convert(model, *, table_name: str = SCORE_TABLE) -> tuple[dict, dict, dict, list[Branch]]:
    """(tables, tensors, metadata, branches) for phq.writer.write."""
    import sklearn  # noqa: F401  (a fitted model implies it; fail clearly otherwise)

    steps, column_steps, clf = _parts(model)
    if len(steps) == 1:
        branches = _branches(steps[0], "", 1.0)
    else:  # e.g. [CountVectorizer, TfidfTransformer] given as parts
        branches = [_branch("", steps, 1.0)]
    if len(branches) > 64:
        raise UsageError(f"{len(branches)} featurizers exceed the profile's limit of 64")
    if len({b.config["kind"] for b in branches}) != 1:
        raise UsageError("a FeatureUnion mixing text and dict featurizers cannot be scored (they need different inputs)")
    cal = None
    if is_calibrated(clf):  # a CalibratedClassifierCV: folds x k columns (writer/sklearn_calibration.py)
        cal = calibrated_parts(clf, _classifier_parts)
        lin = Linear(cal.coef, cal.intercept, cal.classes, cal.estimator, decision=None, predict_proba=None)
    else:
        lin = _classifier(clf)
    classes, est = lin.classes, lin.name

    offset = 0
    for b in branches:
        b.offset = offset
        offset += b.size
        if not b.name:  # a single featurizer, not in a union
            b.name = b.config["kind"]
    # the classifier's columns are those after selection/scaling: its coef over the featurizers' columns
    coef = fold_column_steps(lin.coef, column_steps, offset)
    intercept = lin.intercept
    if coef.shape[1] != offset:
        raise UsageError(f"{est}: coef_ has {coef.shape[1]} features; the featurizers produce {offset}")
    if lin.binarize is not None:
        _binarized(branches, lin)
    names = [b.name for b in branches]
    if len(set(names)) != len(names):
        raise UsageError(f"featurizer names must be distinct, got {names}")

    tables: dict = {}
    keys: list[str] = []
    rows: list[np.ndarray] = []
    featurizers = []
    for b in branches:
        prefix = "" if len(branches) == 1 else b.name + KEY_SEPARATOR
        terms = list(b.vocabulary)
        cols = np.fromiter(b.vocabulary.values(), np.int64, len(terms))
        block = coef[:, b.offset + cols].T * b.weight  # (terms, k)
        if b.idf is not None:
            block = block * b.idf[cols][:, None]
        keys += [prefix + t for t in terms]
        rows.append(block)
        cfg = {"name": b.name, "key_prefix": prefix, **b.config, "norm": b.norm, "norm_table": None, "weight": b.weight}
        if b.norm is not None:
            cfg["norm_table"] = b.norm_table = f"norm:{b.name}"
            if b.idf is not None:
                tables[b.norm_table] = Table(terms, b.idf[cols][:, None], drop_zero_rows=False, scale="table")
            else:
                tables[b.norm_table] = Table(terms, np.zeros((len(terms), 0), np.float32), drop_zero_rows=False)
        featurizers.append(cfg)
    k = coef.shape[0]
    matrix = np.concatenate(rows) if rows else np.zeros((0, k))
    tables = {table_name: Table(keys, matrix, drop_zero_rows=True), **tables}
    label_list, label_type = _classes_meta(classes)

    width = lin.coef.shape[1]  # the classifier's own input columns (after selection)
    probe = np.random.default_rng(0).standard_normal((6, width)) if width else np.zeros((6, 0))
    if lin.binarize is not None:  # BernoulliNB scores x > binarize: probe with 0/1 values
        probe = (probe > 0.0).astype(np.float64)
    profile = {
        "profile": PROFILE_VERSION,
        "unicode": UNICODE_VERSION,
        "input": branches[0].config["kind"],
        "classes": label_list,
        "classes_type": label_type,
        "estimator": est,
        "table": table_name,
        "intercept": INTERCEPT,
        "proba": "calibrated" if cal else _proba_rule(lin, k, probe),
        "featurizers": featurizers,
        "source": {"library": "scikit-learn", "version": sklearn.__version__, "pipeline": " -> ".join(_describe(model))},
    }
    tensors = {INTERCEPT: intercept}
    if cal:
        profile["calibration"] = cal.member
        tensors.update(cal.tensors)
        check_calibration(clf, cal, probe, _check_fold_decision)
    else:
        _check_decision(lin, probe)
    return tables, tensors, {PROFILE_KEY: profile}, branches


def _describe(model) -> list[str]:
    steps = [s for _, s in model.steps] if _is_sklearn(model, ("Pipeline",)) else list(model)
    return [_cls(s) for s in steps if s is not None and not isinstance(s, str)]


def _check_decision(lin: Linear, probe) -> None:
    """The estimator's decision values must be probe @ coef.T + intercept."""
    if probe.shape[1] == 0:
        return
    d = np.asarray(lin.decision(probe), dtype=np.float64).reshape(len(probe), -1)
    mine = probe @ lin.coef.T + lin.intercept
    if not np.allclose(d, mine, rtol=1e-7, atol=1e-9):
        worst = float(np.max(np.abs(d - mine)))
        raise UsageError(
            f"{lin.name}: its decision values are not the linear function of its weights phq stores "
            f"(largest difference {worst:.3g} on random probe vectors); cannot convert"
        )


def _binarized(branches: list[Branch], lin: Linear) -> None:
    """BernoulliNB(binarize=t) scores the indicator x > t of each feature: with t = 0 over
    text featurizers whose value is > 0 for every present term, that indicator is the term's
    presence, which the profile computes with binary=True, no idf, no norm, weight 1."""
    t = lin.binarize
    for b in branches:
        why = None
        if b.config["kind"] != "text":
            why = "a DictVectorizer's values may be zero or negative, so x > binarize is not the presence of a key"
        elif t != 0.0:
            why = "only binarize=0.0 (a term's presence) or None (features used as they are) is exactly representable"
        elif b.weight <= 0:
            why = f"the FeatureUnion weight {b.weight} of featurizer {b.name!r} makes present terms' values <= 0"
        elif b.idf is not None and not (b.idf > 0).all():
            why = f"featurizer {b.name!r} has an idf <= 0, so a present term's value can be <= 0"
        if why:
            raise UsageError(f"{lin.name}(binarize={t!r}) is not supported here: {why}")
        b.config.update(binary=True, sublinear_tf=False)
        b.idf, b.norm, b.weight, b.binarize = None, None, 1.0, t


def _check_featurization(model, branches: list[Branch], probe_docs: list) -> None:
    """Featurize probe documents with scikit-learn and with the stored settings: same matrix
    (within FLOAT32_RTOL for a float32 featurizer, else EXACT_RTOL)."""
    steps, _ = _split(model)
    expected = _transform(steps, probe_docs)
    total = sum(b.size for b in branches)
    got = np.zeros((len(probe_docs), total))
    for b in branches:
        fz = make_featurizer(b.config)
        span = slice(b.offset, b.offset + b.size)
        if b.binarize is not None and expected.shape[1] == total:  # BernoulliNB sees x > binarize
            expected[:, span] = expected[:, span] > b.binarize
        for d, doc in enumerate(probe_docs):
            tf = {t: v for t, v in fz.features(doc).items() if t in b.vocabulary}
            if not tf:
                continue
            cols = np.fromiter((b.vocabulary[t] for t in tf), np.int64, len(tf))
            x = np.fromiter(tf.values(), np.float64, len(tf))
            if b.idf is not None:
                x = x * b.idf[cols]
            if b.norm == "l2":
                n = math.sqrt(float((x * x).sum()))
            elif b.norm == "l1":
                n = float(np.abs(x).sum())
            else:
                n = 1.0
            if n > 0:
                x = x / n
            np.add.at(got[d], b.offset + cols, x * b.weight)
    if expected.shape != got.shape:
        raise UsageError(
            f"the model's featurizer ({' -> '.join(_cls(s) for s in steps)}) produces {expected.shape[1]} features "
            f"where its vocabularies hold {got.shape[1]}; one of these steps changes the feature count in a way phq does not read"
        )
    for b in branches:
        span = slice(b.offset, b.offset + b.size)
        close = np.isclose(expected[:, span], got[:, span], rtol=b.rtol, atol=b.rtol * 1e-3, equal_nan=True)
        if close.all():
            continue
        d, j = (int(v) for v in np.argwhere(~close)[0])
        term = next(t for t, c in b.vocabulary.items() if c == j)
        raise UsageError(
            f"the stored featurization settings do not reproduce the model's own featurization: featurizer "
            f"{b.name!r} ({_cls(b.vectorizer)}) gives term {term!r} of probe document {probe_docs[d]!r} the value "
            f"{expected[d, b.offset + j]!r}, the stored settings {_settings(b)} give {got[d, b.offset + j]!r}; "
            f"a setting of {_cls(b.vectorizer)} other than these changes its output, which phq cannot reproduce"
        )


def _settings(b: Branch) -> str:
    cfg = {k: v for k, v in b.config.items() if k != "stop_words"}
    cfg.update(idf="yes" if b.idf is not None else "no", norm=b.norm, weight=b.weight)
    return "(" + ", ".join(f"{k}={v!r}" for k, v in cfg.items()) + ")"


def _transform(steps: list, docs: list) -> np.ndarray:
    out = docs
    for s in steps:
        out = s.transform(out)
    return out.toarray() if hasattr(out, "toarray") else np.asarray(out)


def _check_scores(model, tables: dict, tensors: dict, meta: dict, branches: list[Branch], docs: list) -> None:
    """End to end: the model's own decision values on probe documents (featurizer, selection,
    scaling, classifier) equal §8's scores from the tables as written (before quantization).
    This is what proves that a norm table keeps the whole vocabulary while the score table
    holds only selected terms, and that scaling folded into the weights."""
    steps, column_steps, clf = _parts(model)
    X = _transform(steps, docs)
    for s in column_steps:
        X = s.transform(X)
        X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    if is_calibrated(clf):  # the score table holds the folds' columns side by side (§2.4)
        lin = Linear(None, None, list(clf.classes_), _cls(clf), decision=None, predict_proba=None)
        expected = np.concatenate([np.asarray(_classifier(e).decision(X), np.float64).reshape(len(docs), -1)
                                   for e in fold_estimators(clf)], axis=1)
    else:
        lin = _classifier(clf)
        expected = np.asarray(lin.decision(X), np.float64).reshape(len(docs), -1)
    profile = meta[PROFILE_KEY]
    got, mags = reference_scores(tables, np.asarray(tensors[INTERCEPT], np.float64), profile, docs)
    rtol = max(b.rtol for b in branches)
    bad = np.abs(expected - got) > rtol * mags + 1e-12
    if bad.any():
        d, c = (int(v) for v in np.argwhere(bad)[0])
        raise UsageError(
            f"{lin.name}: the converted model scores probe document {docs[d]!r} {got[d, c]!r} (output {c}) "
            f"where the scikit-learn model gives {expected[d, c]!r}; the steps between the featurizer and the "
            f"classifier ({', '.join(_cls(s) for s in column_steps) or 'none'}) or the classifier change the scores "
            "in a way phq does not read"
        )


def probe_documents(branches: list[Branch], extra: list | None) -> list:
    if branches[0].config["kind"] == "dict":
        docs: list = [{}]
        for b in branches:
            terms = list(b.vocabulary)[:50]
            docs.append({t: 1.5 for t in terms})
        return docs + list(extra or [])
    docs = list(PROBE_TEXTS)
    for b in branches:
        terms = sorted(b.vocabulary)[:200]
        docs.append(" ".join(terms))
        docs.append(" . ".join(reversed(terms)).upper())
    return docs + list(extra or [])


def from_sklearn(model, path: str | os.PathLike, *, metadata: dict | None = None, check_texts: list | None = None,
                 texts: list | None = None, labels: list | None = None, min_agreement: float | None = None,
                 **options) -> "ConversionReport":
    """Write a fitted scikit-learn model as a phq file of the NLU profile; returns its
    ConversionReport (phq.writer.fidelity: agreement with the model on probe texts, ...).

    `model`: a Pipeline, or a sequence (featurizer steps..., classifier). `options` are
    phq.writer.write options (quant, scale, fingerprint_bits, gamma, layout, seed, ...)
    applied to every table. `metadata` adds keys to the file's metadata (not "phq.nlu").
    `check_texts` adds documents to the featurization self-check. `texts`, `labels`: probe
    documents of the fidelity report; `min_agreement`: refuse a file below it.
    """
    from . import write
    from .fidelity import Gate, Probes, check_min_agreement

    min_agreement = check_min_agreement(min_agreement)
    if metadata is not None and (not isinstance(metadata, dict) or PROFILE_KEY in metadata):
        raise UsageError(f"metadata must be a dict without the key {PROFILE_KEY!r}")
    if "drop_zero_rows" in options:
        raise UsageError("drop_zero_rows is decided by the converter (score rows: dropped; norm tables: kept)")
    tables, tensors, meta, branches = convert(model)
    docs = probe_documents(branches, check_texts)
    _check_featurization(model, branches, docs)
    _check_scores(model, tables, tensors, meta, branches, docs)
    gate = Gate(Probes(model, branches, texts, labels, builtin=PROBE_TEXTS), min_agreement, path, options)
    try:
        size = write(path, tables, tensors=tensors, metadata={**(metadata or {}), **meta}, check_file=gate, **options)
    except TypeError as e:
        raise UsageError(f"from_sklearn: {e}") from None
    return gate.report(size)
