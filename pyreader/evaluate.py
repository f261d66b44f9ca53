"""phq.evaluate: an NLU model on labelled data (`phq eval`), two models' predictions compared
(`phq diff --texts`), and the data files both read. No scikit-learn import here (a joblib
reference model imports what it pickled).

Labelled data (`read_labelled`), one example per line, UTF-8:
  TSV    `text<TAB>label`: the label is after the line's last tab (a text may hold tabs, a label
         cannot); no escapes, so a text cannot hold a line break (use JSONL for those).
  JSONL  one JSON object per line with members "text" (a string; a JSON object for models
         that score feature dicts) and "label" (a JSON value of the model's label type, or a
         string read as a TSV label is). Other members are ignored.
The format follows the file name: `.jsonl`, `.ndjson` or `.json` is JSONL, any other name TSV
(`fmt=` / `--format` overrides). Every line is an example: a line that is not one (no tab,
not a JSON object, not UTF-8, a label of the wrong type) is a UsageError naming FILE:LINE.

Labels are compared as values of the model's `classes_type` (spec nlu-profile-v2 §2.1), so a
TSV label `3` is the integer 3 for a model whose classes are ints, and the string "3" for a
model whose classes are strings: `parse_label`. A gold label the model does not know is
kept (it counts as an error and appears in the per-class table with its support).

Metrics (`classification_report`): accuracy; per label precision, recall, F1 and support;
macro-F1, the unweighted mean F1 over every label that is a gold or a predicted label (as
scikit-learn's f1_score(average="macro")); a label never predicted has precision 0, one
never in the gold labels recall 0, and F1 is 0 when precision + recall is 0.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .errors import UsageError

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CONFUSIONS_SHOWN = 10
_INT = re.compile(r"[+-]?[0-9]+\Z")
_BOOL = {"true": True, "false": False, "1": True, "0": False}


@dataclass
class Labelled:
    docs: list
    labels: list  # raw: str from TSV, any JSON value from JSONL
    lines: list[int]
    format: str


def data_format(path: str, fmt: str = "auto") -> str:
    if fmt in ("tsv", "jsonl"):
        return fmt
    if fmt != "auto":
        raise UsageError(f"unknown data format {fmt!r} (auto, tsv or jsonl)")
    return "jsonl" if os.path.splitext(str(path))[1].lower() in JSONL_SUFFIXES else "tsv"


def _decoded_lines(path: str):
    """(line number, text without its line ending) of a UTF-8 file; '-' is stdin."""
    import sys

    name = "<stdin>" if path == "-" else path
    f = sys.stdin.buffer if path == "-" else open(path, "rb")
    try:
        for number, raw in enumerate(f, 1):
            try:
                yield number, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise UsageError(f"{name}:{number}: not UTF-8 text (byte {e.start + 1} of the line: {e.reason})") from None
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def read_lines(path: str) -> list[str]:
    """The lines of a UTF-8 text file ('-': stdin), one document each."""
    return [text for _, text in _decoded_lines(path)]


def _strict_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def read_labelled(path: str, fmt: str = "auto") -> Labelled:
    """The examples of a TSV or JSONL file (module docstring)."""
    fmt = data_format(path, fmt)
    docs, labels, lines = [], [], []
    for number, text in _decoded_lines(path):
        where = f"{path}:{number}"
        if fmt == "tsv":
            doc, tab, label = text.rpartition("\t")
            if not tab:
                raise UsageError(f"{where}: no tab: a TSV line is text<TAB>label" + (" (a blank line is not an example)" if not text.strip() else "")
                                 + "; JSONL files are read as JSONL when named .jsonl (or with --format jsonl)")
        else:
            try:
                obj = json.loads(text, parse_constant=_strict_constant)
            except ValueError as e:
                raise UsageError(f"{where}: not a JSON object ({e})") from None
            if not isinstance(obj, dict) or "text" not in obj or "label" not in obj:
                raise UsageError(f'{where}: a JSONL line is an object with members "text" and "label"')
            doc, label = obj["text"], obj["label"]
            if not isinstance(doc, (str, dict)):
                raise UsageError(f'{where}: "text" must be a string (or an object for a dict-input model)')
        docs.append(doc)
        labels.append(label)
        lines.append(number)
    if not docs:
        raise UsageError(f"{path}: no examples")
    return Labelled(docs, labels, lines, fmt)


def parse_label(value, ctype: str, where: str):
    """A label of the file as a value of the model's classes_type ("str", "int", "float", "bool")."""
    shown = value if not isinstance(value, str) or len(value) <= 40 else value[:40] + "..."
    if ctype == "str":
        if isinstance(value, str):
            return value
        raise UsageError(f"{where}: label {shown!r} is not a string; this model's labels are strings")
    if isinstance(value, str):
        s = value.strip()
        if ctype == "int" and _INT.match(s):
            return int(s)
        if ctype == "float":
            try:
                f = float(s)
            except ValueError:
                f = math.nan
            if math.isfinite(f):
                return f
        if ctype == "bool" and s.lower() in _BOOL:
            return _BOOL[s.lower()]
        raise UsageError(f"{where}: label {shown!r} is not {'an' if ctype == 'int' else 'a'} {ctype}; this model's labels are {ctype}s")
    if ctype == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if ctype == "float" and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if ctype == "bool" and isinstance(value, bool):
        return value
    raise UsageError(f"{where}: label {shown!r} is not {'an' if ctype == 'int' else 'a'} {ctype}; this model's labels are {ctype}s")


def classes_type(classes) -> str:
    """The classes_type of a list of labels (the converter's rule): str, int, float or bool."""
    items = [c.item() if isinstance(c, np.generic) else c for c in classes]
    for kind, typ in (("bool", bool), ("int", int), ("float", float)):
        if items and all(isinstance(c, typ) and (typ is bool or not isinstance(c, bool)) for c in items):
            return kind
    return "str"


def parse_labels(data: Labelled, ctype: str, path: str) -> list:
    return [parse_label(v, ctype, f"{path}:{n}") for v, n in zip(data.labels, data.lines)]


def _py(values) -> list:
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def classification_report(gold: list, pred: list, classes: list, confusions: int = CONFUSIONS_SHOWN) -> dict:
    """Accuracy, macro-F1, per-label table and the most confused pairs (module docstring).
    `classes`: the model's labels, which order the table (other gold labels follow, in order of
    first appearance)."""
    gold, pred, classes = _py(gold), _py(pred), _py(classes)
    if len(gold) != len(pred) or not gold:
        raise UsageError(f"{len(gold)} gold labels for {len(pred)} predictions")
    seen = set(gold) | set(pred)
    order = [c for c in classes if c in seen]
    known = set(order)
    for g in gold:
        if g not in known:
            order.append(g)
            known.add(g)
    support = Counter(gold)
    predicted = Counter(pred)
    hits = Counter(g for g, p in zip(gold, pred) if g == p)
    table = []
    for label in order:
        tp, n_pred, n_true = hits[label], predicted[label], support[label]
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_true if n_true else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table.append({"label": label, "precision": precision, "recall": recall, "f1": f1, "support": n_true, "predicted": n_pred})
    rank = {label: i for i, label in enumerate(order)}
    pairs = Counter((g, p) for g, p in zip(gold, pred) if g != p)
    top = sorted(pairs.items(), key=lambda item: (-item[1], rank[item[0][0]], rank[item[0][1]]))[: max(0, confusions)]
    class_set = set(classes)
    return {
        "n": len(gold),
        "correct": sum(hits.values()),
        "accuracy": sum(hits.values()) / len(gold),
        "macro_f1": float(np.mean([row["f1"] for row in table])),
        "classes": table,
        "confused": [{"gold": g, "predicted": p, "count": c} for (g, p), c in top],
        "confused_pairs": len(pairs),
        "unknown_labels": [label for label in order if label not in class_set],
    }


def is_phq_file(path: str) -> bool:
    from .layout import SIGNATURE

    with open(path, "rb") as f:
        return f.read(len(SIGNATURE)) == SIGNATURE


def load_joblib(path: str):
    """A pickled model, through joblib: this runs code from the file (only load files you trust)."""
    with open(path, "rb"):  # a missing or unreadable file is an OSError naming it
        pass
    try:
        import joblib
    except ImportError:
        raise UsageError("reading a joblib model needs joblib and scikit-learn: pip install 'phq[sklearn]' joblib") from None
    try:
        return joblib.load(path)
    except Exception as e:  # anything a pickle can raise: the file is not a model we can read
        raise UsageError(f"{path}: cannot load it with joblib ({type(e).__name__}: {e})") from None


def load_reference(path: str):
    """(predict function, kind) of a reference model: a phq file (phq.nlu) or a joblib pipeline."""
    if is_phq_file(path):
        from . import nlu

        clf = classifier_of(nlu.load(path), path)
        return clf, "phq"
    model = load_joblib(path)
    if not callable(getattr(model, "predict", None)):
        raise UsageError(f"{path}: the joblib object ({type(model).__name__}) has no predict method")
    return model, "joblib"


def classifier_of(model, path: str):
    """The classifier of a loaded NLU model (a profile 3 model's intent classifier)."""
    from .tagger import Parser

    if isinstance(model, Parser):
        if model.classifier is None:
            model.close()
            raise UsageError(f"{path}: this joint model has a tagger only, no intent classifier to evaluate")
        model.classifier._owns = True
        return model.classifier
    return model


def predictions(model, docs: list) -> list:
    try:
        return _py(model.predict(docs))
    except (ValueError, TypeError, AttributeError, KeyError) as e:
        raise UsageError(f"the model cannot score these documents ({type(e).__name__}: {e})") from None


def prepared_docs(clf, docs: list, path: str, lines: list[int] | None = None) -> list:
    """Documents as the classifier reads them: text models take strings; a dict-input model takes
    objects (a string is read as a JSON object, as phq predict does)."""
    out = []
    for i, d in enumerate(docs):
        where = f"{path}:{lines[i] if lines else i + 1}"
        if clf.input == "dict":
            if isinstance(d, str):
                try:
                    d = json.loads(d)
                except ValueError as e:
                    raise UsageError(f"{where}: this model scores feature dicts: each text must be a JSON object ({e})") from None
            if not isinstance(d, dict):
                raise UsageError(f"{where}: this model scores feature dicts: each text must be a JSON object")
        elif not isinstance(d, str):
            raise UsageError(f"{where}: this model scores text: the text must be a string")
        out.append(d)
    return out


def _label_scores(clf, docs: list) -> np.ndarray:
    """(n, classes) decision scores; a two-class model's single score d as (-d, d)."""
    d = np.asarray(clf.decision_function(docs), dtype=np.float64)
    return np.stack([-d, d], axis=1) if d.ndim == 1 else d


def prediction_changes(a, b, docs: list, lines: list[int], max_report: int) -> dict:
    """What changes between two classifiers' predictions on `docs` (phq diff --texts)."""
    sa, sb = _label_scores(a, docs), _label_scores(b, docs)
    ia, ib = sa.argmax(axis=1), sb.argmax(axis=1)
    la, lb = _py(a.classes_[ia]), _py(b.classes_[ib])
    changed = [i for i in range(len(docs)) if la[i] != lb[i]]
    by_pair = Counter((la[i], lb[i]) for i in changed)
    same_classes = len(a.classes_) == len(b.classes_) and _py(a.classes_) == _py(b.classes_)
    listed = []
    for i in changed[: max(0, max_report)]:
        text = docs[i] if isinstance(docs[i], str) else json.dumps(docs[i], ensure_ascii=False)
        listed.append({"line": lines[i], "text": text, "old": la[i], "old_score": float(sa[i, ia[i]]),
                       "new": lb[i], "new_score": float(sb[i, ib[i]])})
    return {
        "same": not changed,
        "texts": len(docs),
        "changed": len(changed),
        "max_score_change": float(np.abs(sa - sb).max()) if same_classes and len(docs) else None,
        "label_pairs": len(by_pair),  # distinct (old, new) pairs; the most frequent max_report are listed
        "changes_by_label": [{"old": o, "new": n, "count": c}
                             for (o, n), c in sorted(by_pair.items(), key=lambda item: (-item[1], str(item[0])))[: max(0, max_report)]],
        "changes": listed,
    }
