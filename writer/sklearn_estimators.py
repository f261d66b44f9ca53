"""Classifiers and column steps that from_sklearn reads as one linear map (spec/nlu-profile-v2.md §10).

Every supported classifier becomes a `Linear`: a coefficient matrix `coef` (k, F) and an
intercept (k,) with k = 1 for two classes, plus the estimator's own decision values as phq
defines them (`decision`, for the converter's self-check) and its predict_proba (to
confirm a probability rule numerically):

  LogisticRegression(CV), LinearSVC, SGDClassifier, RidgeClassifier(CV), Perceptron,
  PassiveAggressiveClassifier     coef_, intercept_; decision_function.
  MultinomialNB                   jll = X @ feature_log_prob_.T + class_log_prior_;
  ComplementNB                    jll = X @ feature_log_prob_.T (sklearn adds the prior
                                  only with one class, which the profile cannot hold; its
                                  `norm` option is already inside feature_log_prob_);
  BernoulliNB                     jll = B @ (flp - neg).T + class_log_prior_ + Σ neg, with
                                  neg = log(1 - exp(flp)) and B = X (binarize=None) or the
                                  presence indicator of each term (binarize=0.0 over text
                                  featurizers whose values are > 0 for every present term).
                                  The decision values are jll - mean(jll) over the classes
                                  (K > 2: coef and intercept centered per term) or
                                  jll1 - jll0 (two classes); predict_proba = softmax(jll),
                                  i.e. the "softmax" rule, or "logistic" of jll1 - jll0.
  OneVsRestClassifier             its estimators_ (each one of the linear classifiers above
                                  but NB) stacked: row c = estimator c's coef_ (one row for
                                  two classes); classes from label_binarizer_.

Column steps between the featurizer and the classifier (`split_column_steps`):
  feature selection (any scikit-learn SelectorMixin: SelectKBest, SelectPercentile,
  SelectFromModel, VarianceThreshold, GenericUnivariateSelect, RFE, ...): the classifier's
  columns are the selected subset; unselected terms get all-zero rows (dropped from the
  score table) while a norm table keeps every term, because the vectorizer's norm ran
  over the whole vocabulary before selection.
  MaxAbsScaler, StandardScaler(with_mean=False): X / scale_, folded into the weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from phq.errors import UsageError
from phq.featurize import make_featurizer

LINEAR = (
    "LogisticRegression",
    "LogisticRegressionCV",
    "LinearSVC",
    "SGDClassifier",
    "RidgeClassifier",
    "RidgeClassifierCV",
    "Perceptron",
    "PassiveAggressiveClassifier",
)
NAIVE_BAYES = ("MultinomialNB", "ComplementNB", "BernoulliNB")
META = ("OneVsRestClassifier",)
CLASSIFIERS = LINEAR + NAIVE_BAYES + META
SCALERS = ("MaxAbsScaler", "StandardScaler")


def _cls(obj) -> str:
    return type(obj).__name__


def _is_sklearn(obj, names: tuple) -> bool:
    """Exactly one of the named scikit-learn classes (a subclass may behave differently)."""
    return _cls(obj) in names and type(obj).__module__.startswith("sklearn.")


def _fitted(obj, attr: str) -> None:
    if not hasattr(obj, attr):
        raise UsageError(f"{_cls(obj)} is not fitted (no {attr}); fit it before converting")


@dataclass
class Linear:
    """A classifier read as decision = X @ coef.T + intercept (k = 1 for two classes)."""

    coef: np.ndarray  # (k, F) float64
    intercept: np.ndarray  # (k,) float64
    classes: list
    name: str
    decision: Callable[[Any], np.ndarray]  # the estimator's own decision values, (n,) or (n, k)
    predict_proba: Callable[[Any], np.ndarray] | None
    binarize: float | None = None  # BernoulliNB: the features are x > binarize (None: as given)
    proba_rules: tuple = ()  # the rules predict_proba may follow, when known (else every rule is tried)


def _finite(name: str, coef: np.ndarray, intercept: np.ndarray) -> None:
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise UsageError(f"{name}: its weights or intercepts hold NaN or infinity")


def _two_or_more(name: str, classes: list) -> None:
    if len(classes) < 2:
        raise UsageError(f"{name} was fitted on {len(classes)} class(es); the profile needs at least 2")


def _coef_linear(clf) -> Linear:
    name = _cls(clf)
    _fitted(clf, "coef_")
    lb = getattr(clf, "_label_binarizer", None)
    if lb is not None and str(getattr(lb, "y_type_", "")).startswith("multilabel"):
        raise UsageError(f"{name} fitted on multilabel targets is not supported")
    coef = clf.coef_
    if hasattr(coef, "toarray"):  # after .sparsify()
        coef = coef.toarray()
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    classes = list(clf.classes_)
    _two_or_more(name, classes)
    k = 1 if len(classes) == 2 else len(classes)
    if coef.shape[0] != k:
        raise UsageError(f"{name}: coef_ has shape {coef.shape} for {len(classes)} classes")
    intercept = np.broadcast_to(np.asarray(clf.intercept_, dtype=np.float64), (k,)).copy()
    _finite(name, coef, intercept)
    proba = clf.predict_proba if hasattr(clf, "predict_proba") else None
    return Linear(coef, intercept, classes, name, clf.decision_function, proba)


def _naive_bayes(clf) -> Linear:
    name = _cls(clf)
    _fitted(clf, "feature_log_prob_")
    classes = list(clf.classes_)
    _two_or_more(name, classes)
    flp = np.asarray(clf.feature_log_prob_, dtype=np.float64)
    prior = np.asarray(clf.class_log_prior_, dtype=np.float64)
    binarize = None
    if name == "MultinomialNB":
        jll_coef, jll_b = flp, prior
    elif name == "ComplementNB":  # scikit-learn adds the prior only with a single class
        jll_coef, jll_b = flp, np.zeros(len(classes))
    else:  # BernoulliNB
        with np.errstate(divide="ignore"):
            neg = np.log(1 - np.exp(flp))
        jll_coef, jll_b = flp - neg, prior + neg.sum(axis=1)
        if clf.binarize is not None:
            binarize = float(clf.binarize)
    if len(classes) == 2:
        coef, intercept = jll_coef[1:] - jll_coef[:1], jll_b[1:] - jll_b[:1]
    else:  # centered over the classes: same predictions and softmax, far smaller 8-bit error
        coef, intercept = jll_coef - jll_coef.mean(axis=0), jll_b - jll_b.mean()
    _finite(name, coef, intercept)

    def decision(X):
        return nb_decision(clf.predict_joint_log_proba(X))

    rules = ("logistic",) if len(classes) == 2 else ("softmax",)  # softmax of jll; two classes: logistic of jll1 - jll0
    return Linear(coef, np.asarray(intercept, np.float64), classes, name, decision, clf.predict_proba, binarize, rules)


def nb_decision(jll) -> np.ndarray:
    """Naive Bayes decision values as phq defines them (scikit-learn defines none): the joint
    log-likelihood centered over the classes, jll - mean(jll) (K > 2), or jll1 - jll0 (K = 2).
    The centering changes no prediction or softmax probability; it removes from every term's
    row the part common to all classes, which 8-bit quantization would otherwise spend its
    steps on (spec/nlu-profile-v2.md §10.1)."""
    jll = np.asarray(jll, dtype=np.float64)
    if jll.shape[1] == 2:
        return jll[:, 1] - jll[:, 0]
    return jll - jll.mean(axis=1, keepdims=True)


def _one_vs_rest(clf) -> Linear:
    name = _cls(clf)
    _fitted(clf, "estimators_")
    lb = clf.label_binarizer_
    if not str(lb.y_type_) in ("binary", "multiclass"):
        raise UsageError(f"{name} fitted on {lb.y_type_} targets is not supported (only binary or multiclass)")
    classes = list(lb.classes_)
    _two_or_more(name, classes)
    rows, bs = [], []
    for c, est in zip(classes if len(classes) > 2 else classes[1:], clf.estimators_):
        if _cls(est) == "_ConstantPredictor":
            raise UsageError(f"{name}: class {c!r} was constant in the training data (a _ConstantPredictor, not a linear model)")
        if not _is_sklearn(est, LINEAR):
            raise UsageError(
                f"{name} over {_cls(est)} is not supported (its estimators must be one of {', '.join(LINEAR)}: "
                "one-vs-rest scores each class by the estimator's decision_function)"
            )
        sub = _coef_linear(est)
        if sub.coef.shape[0] != 1:
            raise UsageError(f"{name}: estimator for class {c!r} has {sub.coef.shape[0]} outputs, expected 1")
        rows.append(sub.coef[0])
        bs.append(sub.intercept[0])
    k = 1 if len(classes) == 2 else len(classes)
    if len(rows) != k:
        raise UsageError(f"{name}: {len(rows)} estimators for {len(classes)} classes")
    proba = clf.predict_proba if hasattr(clf, "predict_proba") else None
    return Linear(np.array(rows, np.float64), np.array(bs, np.float64), classes, f"{name}({_cls(clf.estimators_[0])})", clf.decision_function, proba)


def linear_classifier(clf) -> Linear:
    name = _cls(clf)
    if _is_sklearn(clf, LINEAR):
        return _coef_linear(clf)
    if _is_sklearn(clf, NAIVE_BAYES):
        return _naive_bayes(clf)
    if _is_sklearn(clf, META):
        return _one_vs_rest(clf)
    raise UsageError(f"{name} is not a supported classifier (supported: {', '.join(CLASSIFIERS)})")


# ---------------------------------------------------------------- column steps


def _is_selector(step) -> bool:
    try:
        from sklearn.feature_selection import SelectorMixin
    except ImportError:  # pragma: no cover
        return False
    return isinstance(step, SelectorMixin) and type(step).__module__.startswith("sklearn.")


def is_column_step(step) -> bool:
    return _is_selector(step) or _is_sklearn(step, SCALERS)


def split_column_steps(steps: list) -> tuple[list, list]:
    """(featurizer steps, column steps): the trailing selection/scaling steps of `steps`."""
    cut = len(steps)
    while cut > 1 and is_column_step(steps[cut - 1]):
        cut -= 1
    for s in steps[:cut]:
        if is_column_step(s):
            raise UsageError(
                f"{_cls(s)} before another featurizing step is not supported: feature selection and "
                "scaling are supported only between the whole featurizer and the classifier"
            )
    return steps[:cut], steps[cut:]


def _column_map(step, width: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(input columns kept, in output order; divisor per output column or None)."""
    name = _cls(step)
    if _is_selector(step):
        try:
            support = np.asarray(step.get_support(), dtype=bool)
        except Exception as e:  # noqa: BLE001  (an unfitted selector raises sklearn's NotFittedError)
            raise UsageError(f"{name} is not fitted ({type(e).__name__}: {e}); fit it before converting") from None
        if support.shape != (width,):
            raise UsageError(f"{name}: get_support() has {support.size} entries for {width} input features")
        return np.flatnonzero(support), None
    if name == "StandardScaler" and step.with_mean:
        raise UsageError(
            "StandardScaler(with_mean=True) is not supported: centering makes every absent term count, and "
            "scikit-learn itself cannot center sparse text features (use with_mean=False or MaxAbsScaler)"
        )
    scale = getattr(step, "scale_", None)
    if scale is None:
        if name == "StandardScaler" and not step.with_std:
            return np.arange(width), None
        raise UsageError(f"{name} is not fitted (no scale_); fit it before converting")
    scale = np.asarray(scale, dtype=np.float64)
    if scale.shape != (width,):
        raise UsageError(f"{name}: scale_ has {scale.size} entries for {width} input features")
    if not (np.isfinite(scale).all() and (scale > 0).all()):
        raise UsageError(f"{name}: scale_ holds a zero, negative or non-finite value")
    return np.arange(width), scale


def fold_column_steps(coef: np.ndarray, steps: list, width: int) -> np.ndarray:
    """The classifier's coef (k, columns after the steps) as coef over the featurizer's `width` columns."""
    maps = []
    for step in steps:
        cols, scale = _column_map(step, width)
        maps.append((cols, scale, width))
        width = cols.size
    if coef.shape[1] != width:
        raise UsageError(f"the classifier has {coef.shape[1]} features; the steps before it produce {width}")
    for cols, scale, in_width in reversed(maps):
        if scale is not None:
            coef = coef / scale
        full = np.zeros((coef.shape[0], in_width))
        full[:, cols] = coef
        coef = full
    return coef


# ---------------------------------------------------------------- the end-to-end check's scorer


def reference_scores(tables: dict, intercept: np.ndarray, profile: dict, docs: list) -> tuple[np.ndarray, np.ndarray]:
    """(scores, magnitudes) of docs by §8 with the unquantized tables; magnitude[c] =
    |intercept[c]| + Σ |u × W[t][c]|, the scale of the rounding a float featurizer may add."""
    score_table = tables[profile["table"]]
    rows = np.asarray(score_table.rows, np.float64)
    keep = (rows != 0).any(axis=1)  # the rows the writer drops store only zeros
    W = {key: rows[i] for i, key in enumerate(score_table.keys) if keep[i]}
    k = len(intercept)
    scores = np.tile(intercept, (len(docs), 1))
    mags = np.tile(np.abs(intercept), (len(docs), 1))
    for cfg in profile["featurizers"]:
        fz = make_featurizer(cfg)
        norm_idf = None
        if cfg["norm_table"] is not None:
            t = tables[cfg["norm_table"]]
            vals = np.asarray(t.rows, np.float64)
            norm_idf = {key: (float(vals[i, 0]) if vals.shape[1] else 1.0) for i, key in enumerate(t.keys)}
        for d, doc in enumerate(docs):
            tf = fz.features(doc)
            s = 1.0
            if norm_idf is not None:
                x = np.array([v * norm_idf[t] for t, v in tf.items() if t in norm_idf], np.float64)
                n = math.sqrt(float((x * x).sum())) if cfg["norm"] == "l2" else float(np.abs(x).sum())
                s = 1.0 / n if n > 0 else 0.0
            for t, v in tf.items():
                row = W.get(cfg["key_prefix"] + t)
                if row is None or (norm_idf is not None and t not in norm_idf):
                    continue
                scores[d] += v * s * row
                mags[d] += np.abs(v * s * row)
    return scores.reshape(len(docs), k), mags.reshape(len(docs), k)
