"""What a conversion cost: the fidelity report of `phq.writer.from_sklearn`.

    report = phq.writer.from_sklearn(pipe, "intent.phq", texts=X_val, labels=y_val, min_agreement=0.995)
    report.agreement, report.max_decision_error, report.accuracy_before, report.accuracy_after
    report.bytes, report.settings, report.to_dict()     # flat, JSON-able

Every conversion scores probe texts twice, with the scikit-learn model and with the file just
written (read back by phq.nlu from the complete temporary file, before it replaces the target),
and reports:
  agreement           share of probe texts whose predicted label is the same
  max_decision_error  the largest |decision_function(scikit-learn) - decision_function(phq)|
                      over texts and classes (None when the estimator has no decision_function)
  accuracy_before     scikit-learn's accuracy on the labels (None without labels=)
  accuracy_after      the phq file's accuracy on the labels (None without labels=)

Probe texts are the caller's (`texts=`, with `labels=` optionally: source "given"), or made
deterministically (source "generated"): the converter's fixed probe documents plus
GENERATED_PROBES documents of 1 to 8 vocabulary terms drawn with a fixed seed (terms of
tf-idf models drawn in proportion to their document frequency, exp(-idf), so the documents
look like frequent text; uniformly otherwise). Generated texts measure the quantization's
effect, not accuracy: pass held-out texts for figures that mean something for your data.

`min_agreement=` refuses a file whose agreement is below it: AgreementError (a UsageError)
names both numbers, carries the report, and nothing is written (the temporary file is
removed; a previous file at the path is left as it was).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from phq.errors import UsageError

GENERATED_PROBES = 1000  # vocabulary documents made when no texts= are given
GENERATED_SEED = 0
MAX_TERMS_PER_DOC = 8


class AgreementError(UsageError):
    """The converted file agrees with the model on fewer probe texts than min_agreement asked;
    nothing was written. `.report` is the refused file's report (written=False)."""

    def __init__(self, report: "ConversionReport"):
        self.report = report
        self.agreement = report.agreement
        self.min_agreement = report.min_agreement
        super().__init__(
            f"agreement {100 * report.agreement:.2f}% ({report.n_texts - report.n_disagree:,} of {report.n_texts:,} "
            f"{report.texts_source} probe texts) is below min_agreement {100 * report.min_agreement:.2f}%; "
            f"{report.path} was not written"
        )


@dataclass(frozen=True)
class ConversionReport:
    """The fidelity of one conversion (module docstring). Not an int: the file's size is `.bytes`."""

    path: str
    bytes: int
    written: bool
    estimator: str
    n_classes: int
    n_texts: int
    texts_source: str  # "given" (texts=) or "generated"
    agreement: float
    n_disagree: int
    max_decision_error: float | None
    n_labels: int  # texts with a label (0 without labels=)
    accuracy_before: float | None
    accuracy_after: float | None
    min_agreement: float | None
    settings: dict = field(default_factory=dict)  # the write options used (quant, scale, ...)

    def to_dict(self) -> dict:
        """Flat JSON-able dict: every field, the settings as setting_<name>."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            if name != "settings":
                out[name] = getattr(self, name)
        for name, value in self.settings.items():
            out[f"setting_{name}"] = value
        return out

    def summary(self) -> str:
        """A few lines for people (the CLI prints them, escaped)."""
        s = self.settings
        what = ", ".join(f"{k} {s[k]}" for k in ("quant", "scale", "fingerprint_bits") if k in s)
        verb = "wrote" if self.written else "refused (not written)"
        lines = [f"{verb} {self.path}: {self.bytes:,} bytes ({what})",
                 f"probe texts: {self.n_texts:,} ({self.texts_source}{', labelled' if self.n_labels else ''})",
                 f"agreement with scikit-learn: {100 * self.agreement:.2f}% ({self.n_disagree:,} of {self.n_texts:,} predictions differ)"]
        if self.max_decision_error is not None:
            lines.append(f"largest decision error: {self.max_decision_error:.6g}")
        if self.accuracy_before is not None:
            delta = 100 * (self.accuracy_after - self.accuracy_before)
            lines.append(f"accuracy: scikit-learn {100 * self.accuracy_before:.2f}% -> phq {100 * self.accuracy_after:.2f}% ({delta:+.2f} pt)")
        if self.min_agreement is not None:
            lines.append(f"min_agreement: {100 * self.min_agreement:.2f}% ({'met' if self.agreement >= self.min_agreement else 'NOT met'})")
        return "\n".join(lines)


def check_min_agreement(min_agreement) -> float | None:
    if min_agreement is None:
        return None
    if isinstance(min_agreement, bool) or not isinstance(min_agreement, (int, float)) or not (0.0 <= float(min_agreement) <= 1.0):
        raise UsageError(f"min_agreement must be a number in [0, 1] (a share of probe texts), got {min_agreement!r}")
    return float(min_agreement)


def generated_texts(branches: list, builtin: list) -> list:
    """The deterministic probe documents used when no texts= are given (module docstring)."""
    rng = np.random.default_rng(GENERATED_SEED)
    if branches[0].config["kind"] == "dict":
        terms = sorted({t for b in branches for t in b.vocabulary})
        if not terms:
            return [{}]
        sizes = rng.integers(1, MAX_TERMS_PER_DOC + 1, GENERATED_PROBES)
        picks = rng.integers(0, len(terms), int(sizes.sum()))
        out, at = [{}], 0
        for n in sizes:
            out.append({terms[j]: 1.0 for j in picks[at : at + n]})
            at += n
        return out
    # word branches make text that reads like the data; char-only models use their n-grams
    words = [b for b in branches if b.config.get("analyzer") == "word"] or branches
    terms: list[str] = []
    weights: list[np.ndarray] = []
    for b in words:
        ordered = sorted(b.vocabulary)
        terms += ordered
        if b.idf is not None:
            cols = np.fromiter((b.vocabulary[t] for t in ordered), np.int64, len(ordered))
            w = np.exp(-(b.idf[cols] - b.idf.min()))  # document frequency, up to a factor
        else:
            w = np.ones(len(ordered))
        weights.append(w / w.sum() if w.size else w)
    docs = list(builtin)
    if not terms:
        return docs
    p = np.concatenate(weights)
    p = p / p.sum()
    sizes = rng.integers(1, MAX_TERMS_PER_DOC + 1, GENERATED_PROBES)
    picks = rng.choice(len(terms), size=int(sizes.sum()), p=p)
    at = 0
    for n in sizes:
        docs.append(" ".join(terms[j] for j in picks[at : at + n]))
        at += n
    return docs


def _as_labels(values) -> np.ndarray:
    """Labels as an object array, so labels of any type compare with Python's == ."""
    arr = np.empty(len(values), dtype=object)
    arr[:] = [v.item() if isinstance(v, np.generic) else v for v in values]
    return arr


def _columns(d) -> np.ndarray:
    d = np.asarray(d, dtype=np.float64)
    return d.reshape(len(d), -1)


def _reference_decision(clf, X):
    """The model's values that a phq file's decision values reproduce (spec v2 §8.3, §8.5.1):
    a calibrated classifier's averaged probabilities, a linear classifier's decision function,
    naive Bayes' centred joint log-likelihood (sklearn_estimators)."""
    from .sklearn_calibration import is_calibrated
    from .sklearn_estimators import linear_classifier

    if is_calibrated(clf):
        return clf.predict_proba(X)
    if hasattr(clf, "decision_function"):
        return clf.decision_function(X)
    return linear_classifier(clf).decision(X)


class Probes:
    """Probe texts and the scikit-learn model's answers on them, computed once; `measure` scores a
    phq classifier against them (a size search can measure many candidate files)."""

    def __init__(self, model, branches: list, texts=None, labels=None, *, builtin: list):
        from .sklearn_convert import _parts  # the same reading of the model as the converter's

        if labels is not None and texts is None:
            raise UsageError("labels= needs texts= (one label per text)")
        if texts is not None:
            if isinstance(texts, (str, bytes, dict)):
                raise UsageError("texts= must be a list of documents, not a single document")
            docs = list(texts)
            if not docs:
                raise UsageError("texts= is empty: give at least one probe text (or leave it out to use generated ones)")
            self.source = "given"
        else:
            docs = generated_texts(branches, builtin)
            self.source = "generated"
        self.labels = None
        if labels is not None:
            if isinstance(labels, (str, bytes)):
                raise UsageError("labels= must be a list of labels, one per text")
            labels = list(labels)
            if len(labels) != len(docs):
                raise UsageError(f"labels= has {len(labels)} labels for {len(docs)} texts")
            self.labels = _as_labels(labels)
        self.docs = docs
        steps, columns, clf = _parts(model)
        try:
            X = docs
            for s in steps + columns:  # featurizers, then selection / scaling steps
                X = s.transform(X)
            self.predicted = _as_labels(clf.predict(X))
            self.decision = _columns(_reference_decision(clf, X))
        except (ValueError, TypeError, AttributeError, KeyError) as e:
            raise UsageError(f"the model cannot score the probe texts ({type(e).__name__}: {e}); texts= must be documents the model reads") from None
        self.estimator = type(clf).__name__
        self.n_classes = len(getattr(clf, "classes_", ()))
        self.accuracy_before = float(np.mean(self.predicted == self.labels)) if self.labels is not None else None

    def measure(self, clf) -> dict:
        """agreement, n_disagree, max_decision_error, accuracy_after of a phq.nlu classifier."""
        pred = _as_labels(clf.predict(self.docs))
        same = pred == self.predicted
        err = None
        if self.decision is not None:
            mine = _columns(clf.decision_function(self.docs))
            if mine.shape == self.decision.shape:
                err = float(np.abs(mine - self.decision).max()) if mine.size else 0.0
        return {
            "agreement": float(same.mean()),
            "n_disagree": int((~same).sum()),
            "max_decision_error": err,
            "accuracy_after": float(np.mean(pred == self.labels)) if self.labels is not None else None,
        }


class Gate:
    """The check_file hook of phq.writer.write: measures the complete temporary file and refuses it
    (AgreementError) below min_agreement; then `report(size)` gives the ConversionReport."""

    def __init__(self, probes: Probes, min_agreement, path, settings: dict):
        self.probes = probes
        self.min_agreement = check_min_agreement(min_agreement)
        self.path = str(path)
        self.settings = {k: v for k, v in settings.items() if k != "progress"}
        self.measured: dict | None = None

    def __call__(self, tmp_path: str) -> None:
        from phq import nlu

        with nlu.load(tmp_path) as clf:
            self.measured = self.probes.measure(clf)
        if self.min_agreement is not None and self.measured["agreement"] < self.min_agreement:
            raise AgreementError(self.report(os.path.getsize(tmp_path), written=False))

    def report(self, size: int, written: bool = True) -> ConversionReport:
        p, m = self.probes, self.measured
        assert m is not None, "the file was not measured"
        return ConversionReport(
            path=self.path, bytes=int(size), written=written, estimator=p.estimator, n_classes=p.n_classes,
            n_texts=len(p.docs), texts_source=p.source, agreement=m["agreement"], n_disagree=m["n_disagree"],
            max_decision_error=m["max_decision_error"], n_labels=0 if p.labels is None else len(p.labels),
            accuracy_before=p.accuracy_before, accuracy_after=m["accuracy_after"], min_agreement=self.min_agreement,
            settings=dict(self.settings),
        )
