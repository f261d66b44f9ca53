"""Convert CRFsuite sequence taggers (and optionally an intent classifier) to phq files of NLU
profile 3 (spec/nlu-profile-v3.md).

    templates = ["bias", "bos", "eos", [["w", 0]], [["w", -1]], [["w", 1]], [["s3", 0]], [["shape", 0]]]
    X = [phq.nlu.token_features([t for t, _, _ in phq.nlu.tokenize(text)], templates) for text in texts]
    crf = sklearn_crfsuite.CRF(c1=0.1, c2=0.01).fit(X, y)
    phq.writer.from_crfsuite(crf, "joint.phq", templates=templates, classifier=pipeline, quant="linear8")

`model`: a fitted sklearn_crfsuite.CRF, a pycrfsuite.Tagger (opened), or the path of a CRFsuite
model file. The CRF must have been trained on the strings `phq.nlu.token_features` computes with
the same `templates` (each string an attribute of weight 1): every attribute of the model is
parsed back into its template, and a model holding an attribute no template produces is refused.

What goes where: the state features become the hashed table "tagger.state" (keys: attribute
strings; row: one weight per label, in CRFsuite's label order), the transition weights the f32
tensor "tagger.transitions" (labels x labels, from x to). With `classifier`, a fitted
scikit-learn pipeline converted as by `from_sklearn`, its tables and tensor join the same file.

Weights are read through CRFsuite's model dump (`Tagger.info()`), which prints them with six
decimals; the self-check below accepts a path on which CRFsuite and the converted float weights
disagree only when both paths score within that rounding of each other.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from phq import unicode as uni
from phq.errors import ProfileError, UsageError
from phq.nlu import PROFILE_KEY, UNICODE_VERSION
from phq.tagger import TOKENIZERS, _features, check_labels, check_templates, template_json, tokenize, viterbi

from .build import Table

STATE_TABLE = "tagger.state"
TRANSITIONS = "tagger.transitions"
DUMP_STEP = 5e-7  # half a unit of the dump's sixth decimal

HOWTO = (
    "train the CRF on phq.nlu.token_features(tokens, templates) (lists of attribute strings, each of "
    "weight 1; tokens from phq.nlu.tokenize) and pass the same templates to from_crfsuite"
)


def _tagger(model) -> tuple[Any, str]:
    """(an opened pycrfsuite.Tagger, a description) for the accepted model kinds."""
    import pycrfsuite

    if isinstance(model, pycrfsuite.Tagger):
        return model, "pycrfsuite.Tagger"
    if isinstance(model, (str, os.PathLike)):
        t = pycrfsuite.Tagger()
        try:
            t.open(os.fspath(model))
        except (OSError, ValueError) as e:
            raise UsageError(f"{os.fspath(model)!s}: not a CRFsuite model file ({e})") from None
        return t, "crfsuite model file"
    if type(model).__name__ == "CRF" and type(model).__module__.startswith("sklearn_crfsuite"):
        if getattr(model, "modelfile", None) is None or not getattr(model, "training_log_", None) and model.tagger_ is None:
            raise UsageError("the sklearn_crfsuite.CRF is not fitted; fit it before converting")
        tagger = model.tagger_
        if tagger is None:
            raise UsageError("the sklearn_crfsuite.CRF is not fitted; fit it before converting")
        return tagger, "sklearn_crfsuite.CRF"
    raise UsageError(f"from_crfsuite converts sklearn_crfsuite.CRF, pycrfsuite.Tagger or a CRFsuite model file path, got {type(model).__name__}")


def _matchers(templates: list) -> dict[str, list[re.Pattern]]:
    """By the name before the first '=': the patterns of the templates starting with it."""
    out: dict[str, list[re.Pattern]] = {}
    for t in templates:
        if isinstance(t, str):
            out.setdefault(t, []).append(re.compile(re.escape(t) + r"\Z"))
            continue
        names = [f"{a}{'' if o == 0 else f'{o:+d}'}" for a, o in t]
        body = r"\|".join(re.escape(n) + "=(.*)" for n in names)
        out.setdefault(names[0], []).append((re.compile(body + r"\Z", re.S), [a for a, _ in t]))
    return out


_SPACE = re.compile(uni.SPACE_CLASS)
_WORD = re.compile(uni.WORD_CLASS)


def plausible(attribute: str, value: str) -> bool:
    """Whether the attribute of spec §4.1 can take this value for some token."""
    if attribute in ("digit", "upper", "title"):
        return value in ("0", "1")
    if not value or _SPACE.search(value):
        return False
    if attribute == "raw":
        return True
    if attribute in ("shape", "sshape"):
        if any(c not in "dXxw" and _WORD.match(c) for c in value):
            return False
        return attribute == "shape" or all(a != b for a, b in zip(value, value[1:]))
    # w, pN, sN: values of the lowercased token
    if uni.lower(value) != value:
        return False
    return attribute == "w" or len(value) <= int(attribute[1:])


def _producible(a: str, match: dict) -> bool:
    head = a.split("=", 1)[0] if "=" in a else a
    for entry in match.get(head, ()):
        if isinstance(entry, re.Pattern):
            if entry.match(a):
                return True
            continue
        pattern, attrs = entry
        m = pattern.match(a)
        if m and all(plausible(at, v) for at, v in zip(attrs, m.groups())):
            return True
    return False


def check_attributes(attributes, templates: list) -> None:
    """Refuse attributes that no template produces, by name or by value (spec/nlu-profile-v3.md §9)."""
    match = _matchers(templates)
    bad = []
    for a in attributes:
        if not _producible(a, match):
            bad.append(a)
            if len(bad) >= 5:
                break
    if bad:
        raise UsageError(
            f"the CRF has attributes that the templates do not produce, e.g. {bad[:5]}; phq computes features "
            f"itself, so it can only store a CRF trained on them: {HOWTO}"
        )


def read_crf(tagger) -> tuple[list[str], dict[str, np.ndarray], np.ndarray]:
    """(labels in CRFsuite's id order, attribute -> weight row, transitions (from, to))."""
    info = tagger.info()
    labels = [lab for lab, _ in sorted(info.labels.items(), key=lambda kv: int(kv[1]))]
    index = {lab: i for i, lab in enumerate(labels)}
    L = len(labels)
    rows: dict[str, np.ndarray] = {}
    for (attr, lab), w in info.state_features.items():
        row = rows.get(attr)
        if row is None:
            row = rows[attr] = np.zeros(L)
        row[index[lab]] = float(w)
    trans = np.zeros((L, L))
    for (a, b), w in info.transitions.items():
        trans[index[a], index[b]] = float(w)
    return labels, rows, trans


PROBE_TEXTS = [
    "",
    "play yesterday by the beatles",
    "Book a table for 2 at 7:30 pm in São Paulo, tomorrow!",
    "WILL IT RAIN IN NEW YORK CITY NEXT WEEK",
    "rate this book 4 out of 6 stars",
    "add Ærøskøbing naïve café to my playlist ‘chill’ — 明天 İstanbul ΟΔΟΣ",
    "x",
]


def probe_texts(rows: dict, extra: list | None) -> list:
    """Probe utterances: fixed ones, the model's own word values strung together, and `extra`."""
    words = sorted({a[2:] for a in rows if a.startswith("w=") and "|" not in a})[:400]
    texts = list(PROBE_TEXTS)
    for i in range(0, len(words), 8):
        texts.append(" ".join(words[i : i + 8]))
        texts.append(" ".join(reversed(words[i : i + 8])).title())
    return texts + list(extra or [])


def _self_check(tagger, labels, rows, trans, templates, tokenizer, texts) -> None:
    """The converted float weights and CRFsuite tag the probe texts alike (spec §9)."""
    import pycrfsuite

    L = len(labels)
    for text in texts:
        toks = [t for t, _, _ in tokenize(text, tokenizer, "replace")]
        if not toks:
            continue
        feats = _features(toks, templates)
        state = np.zeros((len(toks), L))
        for i, fs in enumerate(feats):
            for f in fs:
                r = rows.get(f)
                if r is not None:
                    state[i] += r
        mine = viterbi(state, trans)
        theirs = [labels.index(x) for x in tagger.tag(pycrfsuite.ItemSequence(feats))]
        if mine == theirs:
            continue

        def score(path):
            return sum(state[i, j] for i, j in enumerate(path)) + sum(trans[a, b] for a, b in zip(path, path[1:]))

        bound = DUMP_STEP * (sum(len(f) + 1 for f in feats) + 1)
        if abs(score(mine) - score(theirs)) > bound:
            raise UsageError(
                f"self-check failed: on the probe {text[:60]!r} CRFsuite tags {[labels[j] for j in theirs]} and the "
                f"converted weights {[labels[j] for j in mine]}; the CRF was not trained on these templates' features "
                f"({HOWTO})"
            )


def convert(model, *, templates, tokenizer: str = "word_punct", decode_error: str = "replace", check_texts=None) -> tuple[dict, dict, dict]:
    """(tables, tensors, tagger object) of the tagger part."""
    if tokenizer not in TOKENIZERS:
        raise UsageError(f"tokenizer must be one of {sorted(TOKENIZERS)}, got {tokenizer!r}")
    if decode_error not in ("strict", "ignore", "replace"):
        raise UsageError("decode_error must be 'strict', 'ignore' or 'replace'")
    try:
        tpl = check_templates(template_json(list(templates)) if templates is not None else None)
    except ProfileError as e:
        raise UsageError(f"templates: {e}") from None
    tagger, _ = _tagger(model)
    labels, rows, trans = read_crf(tagger)
    if not labels:
        raise UsageError("the CRF has no labels (was it trained?)")
    try:
        check_labels(labels)
    except ProfileError as e:
        raise UsageError(f"the CRF's labels are not BIO labels: {e}") from None
    check_attributes(rows, tpl)
    _self_check(tagger, labels, rows, trans, tpl, tokenizer, probe_texts(rows, check_texts))
    keys = sorted(rows)
    matrix = np.stack([rows[k] for k in keys]) if keys else np.zeros((0, len(labels)))
    import pycrfsuite

    obj = {
        "tokenizer": tokenizer,
        "decode_error": decode_error,
        "templates": template_json(tpl),
        "labels": labels,
        "scheme": "bio",
        "state_table": STATE_TABLE,
        "transitions": TRANSITIONS,
        "estimator": "CRF",
        "source": {"library": "python-crfsuite", "version": getattr(pycrfsuite, "__version__", "?")},
    }
    tables = {STATE_TABLE: Table(keys, matrix, drop_zero_rows=True)}
    return tables, {TRANSITIONS: trans.astype(np.float32)}, obj


def from_crfsuite(model, path: str | os.PathLike, *, templates, classifier=None, tokenizer: str = "word_punct",
                  decode_error: str = "replace", metadata: dict | None = None, check_texts: list | None = None, **options) -> int:
    """Write a CRFsuite tagger (and, with `classifier`, a scikit-learn intent classifier) as a phq
    file of NLU profile 3; returns its size. `options` are phq.writer.write options (quant,
    scale, fingerprint_bits, ...) for every table."""
    from . import write

    if metadata is not None and (not isinstance(metadata, dict) or PROFILE_KEY in metadata):
        raise UsageError(f"metadata must be a dict without the key {PROFILE_KEY!r}")
    if "drop_zero_rows" in options:
        raise UsageError("drop_zero_rows is decided by the converter")
    tables, tensors, tagger = convert(model, templates=templates, tokenizer=tokenizer, decode_error=decode_error, check_texts=check_texts)
    clf_obj = None
    if classifier is not None:
        from .sklearn_convert import _check_featurization, _check_scores, convert as convert_sklearn, probe_documents

        ctables, ctensors, cmeta, branches = convert_sklearn(classifier)
        docs = probe_documents(branches, check_texts)
        _check_featurization(classifier, branches, docs)
        _check_scores(classifier, ctables, ctensors, cmeta, branches, docs)
        clf_obj = {k: v for k, v in cmeta[PROFILE_KEY].items() if k not in ("profile", "unicode")}
        if clf_obj["input"] != "text":
            raise UsageError("a joint model's classifier must read text (its input is a dict model)")
        tables = {**ctables, **tables}
        tensors = {**ctensors, **tensors}
    profile = {"profile": 3, "unicode": UNICODE_VERSION, "classifier": clf_obj, "tagger": tagger}
    try:
        return write(path, tables, tensors=tensors, metadata={**(metadata or {}), PROFILE_KEY: profile}, **options)
    except TypeError as e:
        raise UsageError(f"from_crfsuite: {e}") from None
