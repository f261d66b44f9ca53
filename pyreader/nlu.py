"""phq.nlu: score text (or feature dicts) with a linear model stored in a phq file.

    import phq.nlu
    with phq.nlu.load("intent.phq") as clf:
        clf.classes_                      # labels
        clf.predict(["play the beatles", "will it rain tomorrow"])
        clf.decision_function(texts)      # (n,) for two classes, (n, n_classes) otherwise
        clf.predict_proba(texts)          # when the model defines probabilities

A calibrated model (scikit-learn's CalibratedClassifierCV; spec §2.4, §8.5.1, phq.calibration) has
(n, n_classes) decision values, also for two classes: its averaged calibrated probabilities.

Joint intent + slots models (profile 3, spec/nlu-profile-v3.md; `phq.writer.from_crfsuite`) load
as a `Parser`: `parse(texts)` gives {"intent": {"name", "score"}, "slots": [...]} per text, and
`tokenize` / `token_features` compute exactly the tagger features to train a CRF on (phq.tagger).

The file follows the NLU profile (spec/nlu-profile-v2.md; profile 1 files too): its metadata object
"phq.nlu" describes the featurizers (scikit-learn's CountVectorizer, TfidfVectorizer and
DictVectorizer semantics, reproduced in `phq.featurize`), the table of per-class feature
weights, the intercept tensor, the class labels and the probability rule. Files are
written by `phq.writer.from_sklearn`. No scikit-learn (or scipy) import happens here.
"""

from __future__ import annotations

import copyreg
import math
import os
from collections.abc import Mapping, Sequence

import numpy as np

from .calibration import Calibration
from .errors import FormatError, ProfileError, UsageError
from .featurize import MAX_PREFIX_BYTES, ConfigError, check_members, make_featurizer, utf8_len
from .reader import Model, open_model
from .tagger import Parser, token_features, tokenize  # profile 3 (spec/nlu-profile-v3.md)

try:  # the C NLU runtime (creader/phq_nlu.c), when setup.py could build it
    from . import _accel_nlu
except ImportError:  # pragma: no cover - pure installs
    _accel_nlu = None

PROFILE_KEY = "phq.nlu"
PROFILE_VERSION = 2  # what the converter writes (spec/nlu-profile-v2.md)
PROFILE_VERSIONS = (1, 2)  # what Classifier reads (profile 1 through spec §12); load() also reads 3 (phq.tagger)
UNICODE_VERSION = "14.0.0"
PROBA_RULES = (None, "logistic", "softmax", "modified_huber")
CLASS_TYPES = {"str": str, "int": int, "float": float, "bool": bool}
MAX_CLASSES = 1 << 16
MAX_FEATURIZERS = 64
INT64 = (-(1 << 63), (1 << 63) - 1)
# spec §2: the members of the "phq.nlu" object of profile 2 (exactly these)
MEMBERS = frozenset({"profile", "unicode", "input", "classes", "classes_type", "estimator", "table", "intercept", "proba", "featurizers", "source"})
OPTIONAL_MEMBERS = frozenset({"calibration"})  # §2.4: a calibrated classifier (profile 2 only)
CALIBRATED = "calibrated"  # the proba rule of a calibrated model (§8.5.1)
# scoring works in chunks of at most this many (document, term) pairs x output columns
CHUNK_ELEMENTS = 1 << 22

__all__ = ["load", "Classifier", "Parser", "tokenize", "token_features", "PROFILE_KEY", "PROFILE_VERSION"]


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
    profile's rule (spec/nlu-profile-v2.md §8.5)."""
    if rule == CALIBRATED:  # the decision values are the probabilities (§8.5.1)
        return np.array(d, dtype=np.float64)
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


def _labels(classes, ctype: str) -> np.ndarray:
    """Class labels checked by spec §2.1 (finite floats, int64 ints, distinct values)."""
    want = CLASS_TYPES[ctype]
    out = []
    for c in classes:
        if want is bool:
            ok = isinstance(c, bool)
        elif want is float:
            ok = isinstance(c, (int, float)) and not isinstance(c, bool)
            if ok:
                try:
                    c = float(c)
                except OverflowError:
                    ok = False
                ok = ok and math.isfinite(c)
        elif want is int:
            ok = isinstance(c, int) and not isinstance(c, bool) and INT64[0] <= c <= INT64[1]
        else:
            ok = isinstance(c, str)
        if not ok:
            shown = repr(c) if not isinstance(c, (int, str)) or len(str(c)) < 40 else f"{str(c)[:40]}..."
            raise _schema(f"class label {shown} is not a {ctype!r} label of spec §2.1")
        out.append(c)
    if len(set(out)) != len(out) or (want is float and len(set(map(float, out))) != len(out)):
        raise _schema("class labels must be distinct")
    if want is str:
        return np.asarray(out, dtype=object if any("\x00" in x for x in out) else None)
    return np.asarray(out, dtype={int: np.int64, float: np.float64, bool: np.bool_}[want])


class _Branch:
    """One featurizer with the keys it reads: prefix + term in the score table, and its norm table."""

    def __init__(self, cfg: Mapping, model: Model, index: int, profile: int):
        where = f"featurizers[{index}]"
        if not isinstance(cfg, Mapping):
            raise _schema(f"{where} must be an object")
        try:
            check_members(cfg, profile)
            self.featurizer = make_featurizer(cfg, profile)
        except ConfigError as e:
            raise _schema(f"{where}: {e}") from None
        self.name = cfg.get("name")
        if not isinstance(self.name, str):
            raise _schema(f"{where}.name must be a string")
        self.prefix = cfg.get("key_prefix")
        if not isinstance(self.prefix, str) or utf8_len(self.prefix) > MAX_PREFIX_BYTES:
            raise _schema(f"{where}.key_prefix must be a string of at most {MAX_PREFIX_BYTES} UTF-8 bytes")
        weight = cfg.get("weight")
        if profile >= 2 and (not isinstance(weight, (int, float)) or isinstance(weight, bool)):
            raise _schema(f"{where}.weight must be a number")
        self.norm = cfg.get("norm")
        if self.norm not in (None, "l1", "l2"):
            raise _schema(f"{where}.norm must be null, \"l1\" or \"l2\", got {self.norm!r}")
        self.norm_table = None
        self.norm_table_name = name = cfg.get("norm_table")
        if self.norm is None:
            if name is not None:
                raise _schema(f"{where}.norm_table must be null when norm is null")
        elif not isinstance(name, str):
            raise _schema(f"{where}.norm_table must name a table when norm is {self.norm!r}")

    def resolve(self, model: Model, index: int) -> None:
        """The references of spec §9's E_NLU_REFERENCE row (checked after every schema check)."""
        name = self.norm_table_name
        if self.norm is None:
            return
        if name not in model.tables:
            raise ProfileError("E_NLU_REFERENCE", f"featurizers[{index}]: norm table {name!r} is not in the file")
        self.norm_table = model.tables[name]
        if self.norm_table.dim not in (0, 1):
            raise ProfileError("E_NLU_REFERENCE", f"norm table {name!r} has dim {self.norm_table.dim}; the profile needs 0 or 1")

    def featurize(self, doc) -> dict[str, float]:
        try:
            return self.featurizer.features(doc)
        except TypeError as e:
            raise UsageError(str(e)) from None
        except UnicodeDecodeError as e:
            raise UsageError(f"a document is not UTF-8 (byte {e.start}: {e.reason}) and the model's decode_error is 'strict'") from None


def _encode(terms: list[str], prefix: str) -> tuple[list[bytes], np.ndarray]:
    """UTF-8 keys of prefix + term; a term holding a surrogate has no UTF-8 form and is absent
    from every table (spec §7.2), so it is marked invalid instead of looked up."""
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


def _sequential_sums(n_docs: int, doc_of: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-document sums of `values` rows, each added left to right from 0.0 in the order given
    (spec §8.1: np.bincount accumulates in input order; np.add.reduceat does not)."""
    if values.ndim == 1:
        return np.bincount(doc_of, values, minlength=n_docs)
    k = values.shape[1]
    bins = (doc_of[:, None] * k + np.arange(k)).ravel()
    return np.bincount(bins, values.ravel(), minlength=n_docs * k).reshape(n_docs, k)


class Classifier:
    """A linear classifier read from a phq file of the NLU profile. Use `phq.nlu.load`."""

    def __init__(self, model: Model, *, owns_model: bool = False, profile: Mapping | None = None):
        self.model = model
        self._owns = owns_model
        # profile: the classifier object of a profile 3 model, as a profile 2 object (phq.tagger)
        prof = profile if profile is not None else model.metadata.get(PROFILE_KEY) if isinstance(model.metadata, Mapping) else None
        if prof is None:
            raise ProfileError("E_NLU_MISSING", f"{model.name}: the metadata has no {PROFILE_KEY!r} object (not an NLU model)")
        if not isinstance(prof, Mapping):
            raise _schema(f"{PROFILE_KEY!r} must be a JSON object")
        version = prof.get("profile")
        if not isinstance(version, int) or isinstance(version, bool):
            raise _schema("profile must be an integer")
        if version not in PROFILE_VERSIONS:
            raise ProfileError("E_NLU_VERSION", f"NLU profile {version if abs(version) < 10**9 else '(huge)'} is not supported (this runtime reads profiles {list(PROFILE_VERSIONS)})")
        if version >= 2:
            if prof.get("unicode") != UNICODE_VERSION:
                u = prof.get("unicode")
                if not isinstance(u, str):
                    raise _schema(f"unicode must be a string, got {type(u).__name__}")
                raise ProfileError("E_NLU_VERSION", f"the model's Unicode version {u[:20]!r} is not {UNICODE_VERSION}")
            unknown = sorted(set(prof) - MEMBERS - OPTIONAL_MEMBERS)
            missing = sorted(MEMBERS - set(prof))
            if unknown or missing:
                raise _schema(f"the {PROFILE_KEY!r} object has unknown members {unknown[:5]} / lacks {missing}")
            if not isinstance(prof.get("estimator"), str) or not isinstance(prof.get("source"), Mapping):
                raise _schema("estimator must be a string and source an object")
        else:  # profile 1: no member it does not define (profile v2 §12)
            unknown = sorted(map(str, set(prof) - (MEMBERS - {"unicode"})))
            if unknown:
                raise _schema(f"the {PROFILE_KEY!r} object of a profile 1 file has unknown members {unknown[:5]}")
        self.profile = prof
        self.profile_version = version

        ctype = prof.get("classes_type")
        if ctype not in CLASS_TYPES:
            raise _schema(f"classes_type must be one of {sorted(CLASS_TYPES)}, got {ctype!r}")
        classes = prof.get("classes")
        if not (isinstance(classes, list) and 2 <= len(classes) <= MAX_CLASSES):
            raise _schema(f"classes must be a list of 2..{MAX_CLASSES} labels")
        self.classes_ = _labels(classes, ctype)

        self.input = prof.get("input")
        if self.input not in ("text", "dict"):
            raise _schema(f"input must be \"text\" or \"dict\", got {self.input!r}")
        self.proba = prof.get("proba")
        self.calibration = None
        if "calibration" in prof and version >= 2:  # §2.4
            if self.proba != CALIBRATED:
                raise _schema(f"a model with a calibration has proba {CALIBRATED!r}, got {self.proba!r}")
            self.calibration = Calibration(prof["calibration"], len(classes))
        elif self.proba not in PROBA_RULES:
            raise _schema(f"proba must be one of {list(PROBA_RULES)}, got {self.proba!r}"
                          + (f" ({CALIBRATED!r} needs the member calibration)" if self.proba == CALIBRATED else ""))
        if self.proba == "softmax" and len(classes) == 2:
            raise _schema("proba \"softmax\" needs three classes or more")
        table_name, bias_name = prof.get("table"), prof.get("intercept")
        if not isinstance(table_name, str) or not isinstance(bias_name, str):
            raise _schema("table and intercept must be strings (names)")

        cfgs = prof.get("featurizers")
        if not (isinstance(cfgs, list) and 1 <= len(cfgs) <= MAX_FEATURIZERS):
            raise _schema(f"featurizers must be a list of 1..{MAX_FEATURIZERS} objects")
        self.branches = [_Branch(c, model, i, version) for i, c in enumerate(cfgs)]
        kinds = {b.featurizer.kind for b in self.branches}
        if kinds != {self.input}:
            raise _schema(f"input is {self.input!r} but the featurizers are of kind {sorted(kinds)}")
        prefixes = [b.prefix for b in self.branches]
        if len(set(prefixes)) != len(prefixes):
            raise _schema("featurizers must have distinct key prefixes")

        # E_NLU_REFERENCE, after every schema check (spec §9: checks in the table's order)
        if table_name not in model.tables:
            raise ProfileError("E_NLU_REFERENCE", f"score table {table_name!r} is not in the file")
        self.table = model.tables[table_name]
        self.n_outputs = 1 if len(classes) == 2 else len(classes)
        # columns of the score table and the intercept: k, or folds x k for a calibrated model (§2.4)
        self.n_columns = self.n_outputs
        if self.calibration is not None:
            self.n_columns = self.calibration.n_maps
            self.n_outputs = len(classes)  # decision values: the K probabilities
        if self.table.dim != self.n_columns:
            raise ProfileError(
                "E_NLU_REFERENCE",
                f"score table {table_name!r} has dim {self.table.dim}; {len(classes)} classes need {self.n_columns}",
            )
        bias = model.tensors.get(bias_name)
        if bias is None:
            raise ProfileError("E_NLU_REFERENCE", f"intercept tensor {bias_name!r} is not in the file")
        if bias.shape != (self.n_columns,) or bias.dtype not in (np.float32, np.float64):
            raise ProfileError(
                "E_NLU_REFERENCE",
                f"intercept tensor {bias_name!r} has shape {bias.shape} and dtype {bias.dtype}; expected f32 or f64 ({self.n_columns},)",
            )
        self.intercept_ = bias.astype(np.float64)
        for i, b in enumerate(self.branches):
            b.resolve(model, i)
        if self.calibration is not None:
            self.calibration.resolve(model)
        self._c = self._c_runtime()

    def _c_runtime(self):
        """The C runtime over the same mapped bytes, or None: pure Python (the reference) when
        the extension is not built, PHQ_PURE is set, the model is a dict model (the C runtime
        reads text only) or the C runtime refuses the file."""
        return c_runtime(self.model) if self.input == "text" else None

    @property
    def accelerated(self) -> bool:
        """True when documents are scored by the C runtime (creader/phq_nlu.c)."""
        return self._c is not None

    # -- scoring -----------------------------------------------------------------------
    def _check_docs(self, X) -> Sequence:
        if isinstance(X, (str, bytes, Mapping)):
            raise UsageError("pass a list of documents, not a single document (wrap it in a list)")
        if not isinstance(X, Sequence):
            X = list(X)
        return X

    def _decisions(self, docs: Sequence) -> np.ndarray:
        """Decision values (n, n_outputs): the scores, or a calibrated model's probabilities (§8.5.1)."""
        scores = self._scores(docs)
        return scores if self.calibration is None else self.calibration.probabilities(scores)

    def _scores(self, docs: Sequence) -> np.ndarray:
        """Scores (n, columns) in the order of spec §8.1, in binary64."""
        n = len(docs)
        out = np.tile(self.intercept_, (n, 1))
        k = self.n_columns
        for b in self.branches:
            index: dict[str, int] = {}
            inv: list[int] = []
            doc_of: list[int] = []
            tf: list[float] = []
            for d, doc in enumerate(docs):  # (document, distinct term) pairs, first-occurrence order
                feats = b.featurize(doc)
                inv.extend(index.setdefault(t, len(index)) for t in feats)
                doc_of.extend([d] * len(feats))
                tf.extend(feats.values())
            if not index:
                continue
            terms = list(index)
            inv_a = np.asarray(inv, np.int64)
            doc_a = np.asarray(doc_of, np.int64)
            u = np.asarray(tf, np.float64)
            keys, valid = _encode(terms, b.prefix)
            contributes = valid
            if b.norm is not None:  # §8.2
                nkeys = keys if not b.prefix else _encode(terms, "")[0]
                nslots = b.norm_table.slots(nkeys)
                in_vocab = (nslots >= 0) & valid
                idf = np.ones(len(terms))
                if b.norm_table.dim and in_vocab.any():
                    idf[in_vocab] = b.norm_table.rows_at(nslots[in_vocab])[:, 0].astype(np.float64)
                x = u * np.where(in_vocab, idf, 0.0)[inv_a]
                norm = _sequential_sums(n, doc_a, x * x if b.norm == "l2" else np.abs(x))
                if b.norm == "l2":
                    norm = np.sqrt(norm)
                s = np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)
                u = u * s[doc_a]
                contributes = contributes & in_vocab
            slots = np.full(len(terms), -1, np.int64)
            if contributes.any():
                slots[contributes] = self.table.slots([keys[i] for i in np.flatnonzero(contributes)])
            found = slots >= 0
            if not found.any():
                continue
            row_of = np.cumsum(found) - 1  # unique term -> row of the found-rows matrix
            rows = self.table.rows_at(slots[found]).astype(np.float64)
            pairs = np.flatnonzero(found[inv_a])
            partial = np.zeros((n, k))
            step = max(1, CHUNK_ELEMENTS // k)  # bounded memory: found pairs x k per chunk
            for lo in range(0, len(pairs), step):
                sel = pairs[lo : lo + step]
                d = doc_a[sel]
                here = np.unique(d)
                contrib = rows[row_of[inv_a[sel]]] * u[sel][:, None]
                # each document's running partial goes first, so the sum continues left to right
                sums = _sequential_sums(n, np.concatenate([here, d]), np.concatenate([partial[here], contrib]))
                partial[here] = sums[here]
            out += partial
        return out
    def decision_function(self, X, *, batch_size: int = 256) -> np.ndarray:
        """Scores: shape (n,) for two classes (positive = classes_[1]), else (n, n_classes)."""
        docs = self._check_docs(X)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise UsageError(f"batch_size must be a positive integer, got {batch_size!r}")
        if self._c is not None:
            scores = self._c_scores(docs)
        else:
            parts = [self._decisions(docs[i : i + batch_size]) for i in range(0, len(docs), batch_size)]
            scores = np.concatenate(parts) if parts else np.zeros((0, self.n_outputs))
        return scores[:, 0] if self.n_outputs == 1 else scores

    def _c_scores(self, docs: Sequence) -> np.ndarray:
        out = np.empty((len(docs), self.n_outputs))
        fallback, errors = self._c.decision(docs, out)
        if not fallback and not errors:
            return out
        bad = sorted([(i, msg) for i, _, msg in errors] + [(i, None) for i in fallback])
        for i, msg in bad:  # in document order, as the pure path would meet them
            if msg is not None:
                raise UsageError(f"document {i}: {msg}")
            out[i] = self._decisions([docs[i]])[0]
        return out

    def score(self, X, y, sample_weight=None) -> float:
        """Mean accuracy of predict(X) against the labels y (scikit-learn's ClassifierMixin.score),
        weighted by sample_weight when given."""
        docs = self._check_docs(X)
        y = np.asarray(y, dtype=object if self.classes_.dtype == object else None)
        if y.ndim != 1 or len(y) != len(docs):
            raise UsageError(f"y must hold one label per document: {len(docs)} documents, y has shape {y.shape}")
        hits = (self.predict(docs) == y).astype(np.float64)
        if sample_weight is None:
            return float(hits.mean()) if hits.size else float("nan")
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != hits.shape:
            raise UsageError(f"sample_weight must hold one weight per document, got shape {w.shape}")
        return float(np.average(hits, weights=w))

    def predict(self, X, *, batch_size: int = 256) -> np.ndarray:
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

    def _predict_proba(self, X, *, batch_size: int = 256) -> np.ndarray:
        return proba_from_scores(self.proba, self.decision_function(X, batch_size=batch_size))

    # -- lifetime ------------------------------------------------------------------------
    def __reduce__(self):
        """Pickling reopens the model: by its path (the file must still be there, and is read
        again), or, for a model opened from bytes, from those bytes (which the pickle holds)."""
        prof = self.model.metadata.get(PROFILE_KEY) if isinstance(self.model.metadata, Mapping) else None
        part = "classifier" if isinstance(prof, Mapping) and prof.get("profile") == 3 else None
        return _reopen, (_source(self.model), part)

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


def c_runtime(model: Model):
    """phq._accel_nlu's Model over a phq model's mapped bytes, or None: when the extension is not
    built, PHQ_PURE is set, or the C runtime refuses the file (the pure Python runtime, the
    reference, then answers)."""
    if _accel_nlu is None or os.environ.get("PHQ_PURE", "") not in ("", "0"):
        return None
    try:
        return _accel_nlu.Model(model._buf)
    except (ProfileError, FormatError, UsageError, BufferError, TypeError, ValueError):
        return None


def load(source) -> "Classifier | Parser":
    """Open a phq file of the NLU profile: a Classifier (profiles 1 and 2), or a Parser (profile 3:
    classifier and/or tagger, spec/nlu-profile-v3.md). Raises phq.FormatError for bad bytes and
    phq.ProfileError for a valid file that is not a scorable model.

    source: a path, or the file's bytes (bytes, bytearray, memoryview, any buffer: see phq.open).
    Both kinds pickle: a model opened from a path pickles as its path and is reopened from it;
    one opened from bytes pickles with its bytes."""
    model = open_model(source)
    try:
        prof = model.metadata.get(PROFILE_KEY) if isinstance(model.metadata, Mapping) else None
        if isinstance(prof, Mapping) and type(prof.get("profile")) is int and prof.get("profile") == 3:
            return Parser(model, prof, owns_model=True)
        return Classifier(model, owns_model=True)
    except BaseException:
        model.close()
        raise



def _source(model: Model):
    """What a pickled model reopens: its path, or the file's bytes for a model opened from memory."""
    if model.path is not None:
        return model.path
    if model._buf is None:
        raise UsageError("cannot pickle a closed model that was opened from bytes")
    return model._buf.tobytes()


def _reopen(source, part: str | None = None):
    """Unpickling: load(source); part "classifier" is the classifier of a profile 3 file."""
    m = load(source)
    if part == "classifier" and isinstance(m, Parser) and m.classifier is not None:
        m.classifier._owns = True
        return m.classifier
    return m


def _reduce_parser(parser: Parser):
    return _reopen, (_source(parser.model), None)


copyreg.pickle(Parser, _reduce_parser)  # phq.tagger.Parser pickles as Classifier does
