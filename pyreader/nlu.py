"""phq.nlu: score text (or feature dicts) with a linear model stored in a phq file.

    import phq.nlu
    with phq.nlu.load("intent.phq") as clf:
        clf.classes_                      # labels
        clf.predict(["play the beatles", "will it rain tomorrow"])
        clf.decision_function(texts)      # (n,) for two classes, (n, n_classes) otherwise
        clf.predict_proba(texts)          # when the model defines probabilities

The file follows the NLU profile (spec/nlu-profile-v1.md): its metadata object
"phq.nlu" describes the featurizers (scikit-learn's CountVectorizer, TfidfVectorizer and
DictVectorizer semantics, reproduced in `phq.featurize`), the table of per-class feature
weights, the intercept tensor, the class labels and the probability rule. Files are
written by `phq.writer.from_sklearn`. No scikit-learn (or scipy) import happens here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from .errors import ProfileError, UsageError
from .featurize import ConfigError, make_featurizer
from .reader import Model, open_model

PROFILE_KEY = "phq.nlu"
PROFILE_VERSION = 1
PROBA_RULES = (None, "logistic", "softmax", "modified_huber")
CLASS_TYPES = {"str": str, "int": int, "float": float, "bool": bool}
MAX_CLASSES = 1 << 16
MAX_FEATURIZERS = 64

__all__ = ["load", "Classifier", "PROFILE_KEY", "PROFILE_VERSION"]


def _schema(msg: str) -> ProfileError:
    return ProfileError("E_NLU_SCHEMA", msg)


def _expit(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _normalize_rows(p: np.ndarray) -> np.ndarray:
    """Divide each row by its sum; an all-zero row becomes uniform (scikit-learn's rule)."""
    total = p.sum(axis=1)
    zero = total == 0
    if zero.any():
        p[zero] = 1.0
        total[zero] = p.shape[1]
    return p / total[:, None]


def proba_from_scores(rule: str, d: np.ndarray) -> np.ndarray:
    """Probabilities from decision scores d ((n,) for two classes, else (n, k)) by the
    profile's rule (spec/nlu-profile-v1.md §5.3)."""
    if rule == "softmax":
        e = np.exp(d - d.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if rule == "logistic":
        p = _expit(d)
    elif rule == "modified_huber":
        p = (np.clip(d, -1.0, 1.0) + 1.0) / 2.0
    else:
        raise UsageError(f"unknown probability rule {rule!r}")
    if d.ndim == 1:
        return np.stack([1.0 - p, p], axis=1)
    return _normalize_rows(p)


class _Branch:
    """One featurizer with the keys it reads: prefix + term in the score table, and its norm table."""

    def __init__(self, cfg: Mapping, model: Model, index: int):
        where = f"featurizers[{index}]"
        if not isinstance(cfg, Mapping):
            raise _schema(f"{where} must be an object")
        try:
            self.featurizer = make_featurizer(cfg)
        except ConfigError as e:
            raise _schema(f"{where}: {e}") from None
        self.name = cfg.get("name")
        if not isinstance(self.name, str):
            raise _schema(f"{where}.name must be a string")
        self.prefix = cfg.get("key_prefix")
        if not isinstance(self.prefix, str):
            raise _schema(f"{where}.key_prefix must be a string")
        self.norm = cfg.get("norm")
        if self.norm not in (None, "l1", "l2"):
            raise _schema(f"{where}.norm must be null, \"l1\" or \"l2\", got {self.norm!r}")
        self.norm_table = None
        name = cfg.get("norm_table")
        if self.norm is None:
            if name is not None:
                raise _schema(f"{where}.norm_table must be null when norm is null")
        else:
            if not isinstance(name, str):
                raise _schema(f"{where}.norm_table must name a table when norm is {self.norm!r}")
            if name not in model.tables:
                raise ProfileError("E_NLU_REFERENCE", f"{where}: norm table {name!r} is not in the file")
            self.norm_table = model.tables[name]
            if self.norm_table.dim not in (0, 1):
                raise ProfileError("E_NLU_REFERENCE", f"norm table {name!r} has dim {self.norm_table.dim}; the profile needs 0 or 1")

    def collect(self, docs: Sequence):
        """(unique terms, term index per occurrence, doc index per occurrence, tf per occurrence)."""
        index: dict[str, int] = {}
        inv: list[int] = []
        doc_of: list[int] = []
        tf: list[float] = []
        for d, doc in enumerate(docs):
            feats = self.featurizer.features(doc)
            inv.extend(index.setdefault(t, len(index)) for t in feats)
            doc_of.extend([d] * len(feats))
            tf.extend(feats.values())
        return list(index), np.asarray(inv, np.int64), np.asarray(doc_of, np.int64), np.asarray(tf, np.float64)


def _encode(terms: list[str], prefix: str) -> tuple[list[bytes], np.ndarray]:
    """UTF-8 keys of prefix + term; a term that is not valid Unicode (lone surrogates) cannot
    be a key (the writer refuses such keys), so it is marked invalid instead of looked up."""
    try:
        return [(prefix + t).encode("utf-8") for t in terms], np.ones(len(terms), bool)
    except UnicodeEncodeError:
        keys, ok = [], np.ones(len(terms), bool)
        for i, t in enumerate(terms):
            try:
                keys.append((prefix + t).encode("utf-8"))
            except UnicodeEncodeError:
                keys.append(b"")
                ok[i] = False
        return keys, ok


class Classifier:
    """A linear classifier read from a phq file of the NLU profile. Use `phq.nlu.load`."""

    def __init__(self, model: Model, *, owns_model: bool = False):
        self.model = model
        self._owns = owns_model
        prof = model.metadata.get(PROFILE_KEY) if isinstance(model.metadata, Mapping) else None
        if prof is None:
            raise ProfileError("E_NLU_MISSING", f"{model.path}: the metadata has no {PROFILE_KEY!r} object (not an NLU model)")
        if not isinstance(prof, Mapping):
            raise _schema(f"{PROFILE_KEY!r} must be a JSON object")
        version = prof.get("profile")
        if not isinstance(version, int) or isinstance(version, bool):
            raise _schema("profile must be an integer")
        if version != PROFILE_VERSION:
            raise ProfileError("E_NLU_VERSION", f"NLU profile {version} is not supported (this runtime reads profile {PROFILE_VERSION})")
        self.profile = prof

        ctype = prof.get("classes_type")
        if ctype not in CLASS_TYPES:
            raise _schema(f"classes_type must be one of {sorted(CLASS_TYPES)}, got {ctype!r}")
        classes = prof.get("classes")
        if not (isinstance(classes, list) and 2 <= len(classes) <= MAX_CLASSES):
            raise _schema(f"classes must be a list of 2..{MAX_CLASSES} labels")
        want = CLASS_TYPES[ctype]
        for c in classes:
            ok = isinstance(c, want) and (want is bool or not isinstance(c, bool))
            if want is float:
                ok = isinstance(c, (int, float)) and not isinstance(c, bool)
            if not ok:
                raise _schema(f"class label {c!r} is not of classes_type {ctype!r}")
        if len(set(map(repr, classes))) != len(classes):
            raise _schema("class labels must be distinct")
        self.classes_ = np.asarray([want(c) for c in classes])

        self.input = prof.get("input")
        if self.input not in ("text", "dict"):
            raise _schema(f"input must be \"text\" or \"dict\", got {self.input!r}")
        self.proba = prof.get("proba")
        if self.proba not in PROBA_RULES:
            raise _schema(f"proba must be one of {list(PROBA_RULES)}, got {self.proba!r}")
        if self.proba == "softmax" and len(classes) == 2:
            raise _schema("proba \"softmax\" needs three classes or more")

        table_name = prof.get("table")
        if not isinstance(table_name, str) or table_name not in model.tables:
            raise ProfileError("E_NLU_REFERENCE", f"score table {table_name!r} is not in the file")
        self.table = model.tables[table_name]
        self.n_outputs = 1 if len(classes) == 2 else len(classes)
        if self.table.dim != self.n_outputs:
            raise ProfileError(
                "E_NLU_REFERENCE",
                f"score table {table_name!r} has dim {self.table.dim}; {len(classes)} classes need {self.n_outputs}",
            )
        bias_name = prof.get("intercept")
        bias = model.tensors.get(bias_name) if isinstance(bias_name, str) else None
        if bias is None:
            raise ProfileError("E_NLU_REFERENCE", f"intercept tensor {bias_name!r} is not in the file")
        if bias.shape != (self.n_outputs,) or bias.dtype.kind != "f":
            raise ProfileError(
                "E_NLU_REFERENCE",
                f"intercept tensor {bias_name!r} has shape {bias.shape} and dtype {bias.dtype}; expected float ({self.n_outputs},)",
            )
        self.intercept_ = bias.astype(np.float64)

        cfgs = prof.get("featurizers")
        if not (isinstance(cfgs, list) and 1 <= len(cfgs) <= MAX_FEATURIZERS):
            raise _schema(f"featurizers must be a list of 1..{MAX_FEATURIZERS} objects")
        self.branches = [_Branch(c, model, i) for i, c in enumerate(cfgs)]
        kinds = {b.featurizer.kind for b in self.branches}
        if kinds != {self.input}:
            raise _schema(f"input is {self.input!r} but the featurizers are of kind {sorted(kinds)}")
        prefixes = [b.prefix for b in self.branches]
        if len(set(prefixes)) != len(prefixes):
            raise _schema("featurizers must have distinct key prefixes")

    # -- scoring -----------------------------------------------------------------------
    def _check_docs(self, X) -> Sequence:
        if isinstance(X, (str, bytes, Mapping)):
            raise UsageError("pass a list of documents, not a single document (wrap it in a list)")
        if not isinstance(X, Sequence):
            X = list(X)
        return X

    def _scores(self, docs: Sequence) -> np.ndarray:
        out = np.tile(self.intercept_, (len(docs), 1))
        for b in self.branches:
            try:
                terms, inv, doc_of, tf = b.collect(docs)
            except TypeError as e:
                raise UsageError(str(e)) from None
            if not terms:
                continue
            keys, valid = _encode(terms, b.prefix)
            weight = tf
            if b.norm is not None:
                nkeys, nvalid = (keys, valid) if not b.prefix else _encode(terms, "")
                slots = b.norm_table.slots(nkeys)
                in_vocab = (slots >= 0) & nvalid
                idf = b.norm_table.rows_at(slots)[:, 0].astype(np.float64) if b.norm_table.dim else np.ones(len(terms))
                x = tf * np.where(in_vocab, idf, 0.0)[inv]
                if b.norm == "l2":
                    norm = np.sqrt(np.bincount(doc_of, x * x, minlength=len(docs)))
                else:
                    norm = np.bincount(doc_of, np.abs(x), minlength=len(docs))
                scale = np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)
                # a term outside the norm table's vocabulary contributes nothing, even if a
                # fingerprint collision finds it in the score table (§5.3)
                weight = tf * scale[doc_of] * in_vocab[inv]
            rows, found = self.table.lookup(keys)
            rows[~valid] = 0
            contrib = rows.astype(np.float64)[inv] * weight[:, None]
            present, starts = np.unique(doc_of, return_index=True)
            out[present] += np.add.reduceat(contrib, starts, axis=0)
        return out

    def decision_function(self, X, *, batch_size: int = 1024) -> np.ndarray:
        """Scores: shape (n,) for two classes (positive = classes_[1]), else (n, n_classes)."""
        docs = self._check_docs(X)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise UsageError(f"batch_size must be a positive integer, got {batch_size!r}")
        parts = [self._scores(docs[i : i + batch_size]) for i in range(0, len(docs), batch_size)]
        scores = np.concatenate(parts) if parts else np.zeros((0, self.n_outputs))
        return scores[:, 0] if self.n_outputs == 1 else scores

    def predict(self, X, *, batch_size: int = 1024) -> np.ndarray:
        d = self.decision_function(X, batch_size=batch_size)
        if d.ndim == 1:
            return self.classes_[(d > 0).astype(np.int64)]
        return self.classes_[d.argmax(axis=1)] if len(d) else self.classes_[:0]

    @property
    def predict_proba(self):
        """Class probabilities by the model's rule; AttributeError when it defines none
        (so `hasattr(clf, "predict_proba")` answers as it does for the scikit-learn model)."""
        if self.proba is None:
            raise AttributeError(f"predict_proba: the model ({self.profile.get('estimator', '?')}) defines no probabilities")
        return self._predict_proba

    def _predict_proba(self, X, *, batch_size: int = 1024) -> np.ndarray:
        return proba_from_scores(self.proba, self.decision_function(X, batch_size=batch_size))

    # -- lifetime ------------------------------------------------------------------------
    def close(self) -> None:
        if self._owns:
            self.model.close()

    def __enter__(self) -> "Classifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<phq.nlu.Classifier {self.profile.get('estimator', '?')} classes={len(self.classes_)} "
            f"input={self.input} featurizers={[b.name for b in self.branches]} keys={len(self.table)}>"
        )


def load(path: str | os.PathLike) -> Classifier:
    """Open a phq file of the NLU profile. Raises phq.FormatError for bad bytes and
    phq.ProfileError for a valid file that is not a scorable model."""
    model = open_model(path)
    try:
        return Classifier(model, owns_model=True)
    except BaseException:
        model.close()
        raise

