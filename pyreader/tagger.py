"""Sequence tagging and joint intent + slots parsing (spec/nlu-profile-v3.md).

    import phq.nlu
    tokens = phq.nlu.tokenize("Play Yesterday by the Beatles")      # [(token, start, end), ...]
    feats = phq.nlu.token_features([t for t, _, _ in tokens], templates)  # train crfsuite on these
    with phq.nlu.load("joint.phq") as nlu:
        nlu.parse(["play yesterday by the beatles"])
        # [{"intent": {"name": "PlayMusic", "score": 0.97},
        #   "slots": [{"slot": "track", "value": "yesterday", "start": 5, "end": 14}, ...]}]

Everything here follows profile 3 (tokenizers §3, attributes and templates §4, scores and
Viterbi §6, spans §7); text handling (decoding, lowercasing, Unicode data) is profile 2's
(`phq.unicode`). No regular expression is taken from a file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

from . import _unicode_data as ucd
from . import unicode as uni
from .errors import ProfileError, UsageError

TOKENIZERS = {
    # §3: a maximal run of word characters, or one other non-whitespace code point
    "word_punct": re.compile(uni.WORD_CLASS + "+|" + uni.NONSPACE_CLASS),
    # §3: a maximal run of non-whitespace code points
    "nonspace_runs": re.compile(uni.NONSPACE_CLASS + "+"),
}
MAX_AFFIX = 8
ATTRIBUTES = ("w", "raw", "shape", "sshape", "digit", "upper", "title") + tuple(
    f"{k}{n}" for k in "ps" for n in range(1, MAX_AFFIX + 1)
)
SPECIAL_TEMPLATES = ("bias", "bos", "eos")
MAX_OFFSET = 8
MAX_COMPONENTS = 4
MAX_TEMPLATES = 256
MAX_LABELS = 1024
TAGGER_MEMBERS = frozenset({"tokenizer", "decode_error", "templates", "labels", "scheme", "state_table", "transitions", "estimator", "source"})

_UPPER = frozenset(cp for cp, seq in ucd.LOWERCASE.items() if seq != (cp,))
_is_cased = uni.is_cased
_WORD = re.compile(uni.WORD_CLASS)


def _schema(msg: str) -> ProfileError:
    return ProfileError("E_NLU_SCHEMA", msg)


# -- §3 tokens --------------------------------------------------------------------------------
def tokenize(text, tokenizer: str = "word_punct", decode_error: str = "strict") -> list[tuple[str, int, int]]:
    """(token, start, end) for each token of `text`: start/end are code-point offsets into the
    decoded text, end exclusive (spec/nlu-profile-v3.md §3). Bytes are decoded by profile 2 §4."""
    if tokenizer not in TOKENIZERS:
        raise UsageError(f"tokenizer must be one of {sorted(TOKENIZERS)}, got {tokenizer!r}")
    text = _decode(text, decode_error)
    return [(m.group(), m.start(), m.end()) for m in TOKENIZERS[tokenizer].finditer(text)]


def _decode(text, decode_error: str) -> str:
    if isinstance(text, (bytes, bytearray, memoryview)):
        try:
            return uni.decode(text, decode_error)
        except UnicodeDecodeError as e:
            raise UsageError(f"a text is not UTF-8 (byte {e.start}: {e.reason}) and the model's decode_error is 'strict'") from None
    if not isinstance(text, str):
        raise UsageError(f"a text must be str or bytes, got {type(text).__name__}")
    return text


# -- §4 attributes and templates -----------------------------------------------------------
def shape(token: str) -> str:
    """§4.1: d for 0-9, X for a code point with a lowercase mapping other than itself, x for
    another cased code point, w for another word character, the code point itself otherwise."""
    out = []
    for c in token:
        cp = ord(c)
        if 0x30 <= cp <= 0x39:
            out.append("d")
        elif cp in _UPPER:
            out.append("X")
        elif _is_cased(cp):
            out.append("x")
        elif _WORD.match(c):
            out.append("w")
        else:
            out.append(c)
    return "".join(out)


def _squeeze(s: str) -> str:
    return "".join(c for i, c in enumerate(s) if i == 0 or s[i - 1] != c)


def token_attributes(token: str) -> dict[str, str]:
    """Every attribute of §4.1 for one token (a str of code points)."""
    low = uni.lower(token)
    sh = shape(token)
    attrs = {
        "w": low,
        "raw": token,
        "shape": sh,
        "sshape": _squeeze(sh),
        "digit": "1" if token and all("0" <= c <= "9" for c in token) else "0",
        "upper": "1" if "X" in sh and "x" not in sh else "0",
        "title": "1" if sh[:1] == "X" and "X" not in sh[1:] else "0",
    }
    for n in range(1, MAX_AFFIX + 1):
        attrs[f"p{n}"] = low[:n]
        attrs[f"s{n}"] = low[-n:]
    return attrs


def _offset(o: int) -> str:
    return "" if o == 0 else f"{o:+d}"


def check_templates(templates) -> list:
    """Templates of §4.2, checked: raises ConfigError-like ProfileError(E_NLU_SCHEMA)."""
    if not (isinstance(templates, list) and 1 <= len(templates) <= MAX_TEMPLATES):
        raise _schema(f"templates must be a list of 1..{MAX_TEMPLATES} templates")
    seen = set()
    out = []
    for i, t in enumerate(templates):
        if isinstance(t, str):
            if t not in SPECIAL_TEMPLATES:
                raise _schema(f"templates[{i}]: {t[:40]!r} is not one of {list(SPECIAL_TEMPLATES)}")
            norm = t
        else:
            if not (isinstance(t, (list, tuple)) and 1 <= len(t) <= MAX_COMPONENTS):
                raise _schema(f"templates[{i}] must be \"bias\", \"bos\", \"eos\" or a list of 1..{MAX_COMPONENTS} [attribute, offset] pairs")
            comps = []
            for c in t:
                if not (isinstance(c, (list, tuple)) and len(c) == 2 and isinstance(c[0], str) and c[0] in ATTRIBUTES and isinstance(c[1], int)
                        and not isinstance(c[1], bool) and -MAX_OFFSET <= c[1] <= MAX_OFFSET):
                    shown = repr(c)[:60]
                    raise _schema(f"templates[{i}]: component {shown} is not [attribute, offset] with an attribute of "
                                  f"spec §4.1 and an offset in -{MAX_OFFSET}..{MAX_OFFSET}")
                comps.append((c[0], c[1]))
            norm = tuple(comps)
        if norm in seen:
            raise _schema(f"templates[{i}] repeats an earlier template")
        seen.add(norm)
        out.append(norm)
    return out


def token_features(tokens: Sequence[str], templates) -> list[list[str]]:
    """The feature strings of each token (spec/nlu-profile-v3.md §4.2), in template order.

    `tokens`: the token strings of one utterance (e.g. from `tokenize`); `templates`: as stored
    in a model's "tagger" object. Pass the result as the xseq of python-crfsuite / the X of
    sklearn-crfsuite: each string is an attribute of weight 1, exactly what the runtime computes.
    """
    if isinstance(tokens, (str, bytes)):
        raise UsageError("tokens must be a sequence of token strings, not one string")
    try:
        comp = check_templates(list(templates))
    except ProfileError as e:
        raise UsageError(str(e)) from None
    except TypeError:
        raise UsageError("templates must be a list of templates (spec/nlu-profile-v3.md §4.2)") from None
    toks = list(tokens)
    for t in toks:
        if not isinstance(t, str):
            raise UsageError(f"a token must be a str, got {type(t).__name__}")
    return _features(toks, comp)


def _features(toks: list[str], comp: list) -> list[list[str]]:
    n = len(toks)
    attrs = [token_attributes(t) for t in toks]
    out: list[list[str]] = []
    for i in range(n):
        feats = []
        for t in comp:
            if t == "bias":
                feats.append("bias")
            elif t == "bos":
                if i == 0:
                    feats.append("bos")
            elif t == "eos":
                if i == n - 1:
                    feats.append("eos")
            else:
                parts = []
                for a, o in t:
                    j = i + o
                    if not 0 <= j < n:
                        break
                    parts.append(f"{a}{_offset(o)}={attrs[j][a]}")
                else:
                    feats.append("|".join(parts))
        out.append(feats)
    return out


def template_json(templates) -> list:
    """Checked templates back to their JSON form (lists of [attribute, offset])."""
    return [t if isinstance(t, str) else [[a, o] for a, o in t] for t in templates]


# -- §5 labels -----------------------------------------------------------------------------
def check_labels(labels) -> list[str]:
    if not (isinstance(labels, list) and 1 <= len(labels) <= MAX_LABELS and all(isinstance(x, str) for x in labels)):
        raise _schema(f"labels must be a list of 1..{MAX_LABELS} strings")
    if len(set(labels)) != len(labels):
        raise _schema("labels must be distinct")
    for x in labels:
        if not (x == "O" or (x[:2] in ("B-", "I-") and len(x) > 2)):
            raise _schema(f"label {x[:60]!r} is not \"O\", \"B-<slot>\" or \"I-<slot>\" (scheme \"bio\")")
    return labels


# -- §6 decoding ----------------------------------------------------------------------------
def viterbi(state: np.ndarray, trans: np.ndarray) -> list[int]:
    """Best label path (§6.2): state (n, L) and trans (L, L) binary64 scores. At each step the
    best predecessor is the first i (lowest index) of the largest delta[i] + trans[i, j]; a
    candidate replaces the best so far only when strictly greater (NaN never does)."""
    n, L = state.shape
    if n == 0:
        return []
    back = np.zeros((n, L), np.int64)
    delta = state[0].copy()
    for t in range(1, n):
        cand = delta[:, None] + trans  # (i, j)
        best = _first_best(cand)
        back[t] = best
        delta = cand[best, np.arange(L)] + state[t]
    path = [int(_first_best(delta[:, None])[0])]
    for t in range(n - 1, 0, -1):
        path.append(int(back[t, path[-1]]))
    path.reverse()
    return path


def _first_best(cand: np.ndarray) -> np.ndarray:
    """Per column: the index the §6.2 scan keeps (best starts at row 0; strictly greater wins)."""
    if not np.isnan(cand).any():
        return cand.argmax(axis=0)
    out = np.zeros(cand.shape[1], np.int64)
    for j in range(cand.shape[1]):
        col = cand[:, j]
        best = col[0]
        for i in range(1, len(col)):
            if col[i] > best:  # False whenever either side is NaN
                best, out[j] = col[i], i
    return out


# -- §7 spans ---------------------------------------------------------------------------------
def spans(labels: Sequence[str], offsets: Sequence[tuple[int, int]]) -> list[tuple[str, int, int]]:
    """(slot, start, end) from a label path (§7): B-x starts a span; I-x continues the open span
    when it is an x span, else starts one; O closes the open span."""
    out: list[list] = []
    open_ = None
    for lab, (s, e) in zip(labels, offsets):
        if lab == "O":
            open_ = None
            continue
        kind, slot = lab[0], lab[2:]
        if kind == "I" and open_ is not None and open_[0] == slot:
            open_[2] = e
        else:
            open_ = [slot, s, e]
            out.append(open_)
    return [tuple(x) for x in out]


def _span_triples(path: Sequence[int], labels: Sequence[str], offsets) -> list[tuple[int, int, int]]:
    """spans() as (start, end, index of the label that began the span)."""
    out: list[list] = []
    open_ = None
    for y, (s, e) in zip(path, offsets):
        lab = labels[y]
        if lab == "O":
            open_ = None
            continue
        if lab[0] == "I" and open_ is not None and labels[open_[2]][2:] == lab[2:]:
            open_[1] = e
        else:
            open_ = [s, e, y]
            out.append(open_)
    return [tuple(x) for x in out]


# -- the tagger of a model -------------------------------------------------------------------
class Tagger:
    """The "tagger" object of a profile 3 model (spec/nlu-profile-v3.md §2.2)."""

    def __init__(self, cfg: Mapping, model):
        if not isinstance(cfg, Mapping):
            raise _schema("tagger must be an object or null")
        unknown = sorted(map(str, set(cfg) - TAGGER_MEMBERS))
        missing = sorted(TAGGER_MEMBERS - set(cfg))
        if unknown or missing:
            raise _schema(f"the tagger object has unknown members {unknown[:5]} / lacks {missing}")
        self.tokenizer = cfg["tokenizer"]
        if self.tokenizer not in TOKENIZERS:
            raise _schema(f"tagger.tokenizer must be one of {sorted(TOKENIZERS)}, got {str(self.tokenizer)[:40]!r}")
        self.decode_error = cfg["decode_error"]
        if self.decode_error not in uni.DECODE_ERRORS:
            raise _schema(f"tagger.decode_error must be one of {list(uni.DECODE_ERRORS)}")
        self.templates = check_templates(cfg["templates"])
        self.labels = check_labels(cfg["labels"])
        self._index = {lab: j for j, lab in enumerate(self.labels)}
        if cfg["scheme"] != "bio":
            raise _schema("tagger.scheme must be \"bio\"")
        if not isinstance(cfg["estimator"], str) or not isinstance(cfg["source"], Mapping):
            raise _schema("tagger.estimator must be a string and tagger.source an object")
        st, tr = cfg["state_table"], cfg["transitions"]
        if not isinstance(st, str) or not isinstance(tr, str):
            raise _schema("tagger.state_table and tagger.transitions must be strings (names)")
        self.state_table_name, self.transitions_name = st, tr
        self.model = model

    def resolve(self) -> None:
        """E_NLU_REFERENCE checks (after every schema check, spec §8)."""
        L = len(self.labels)
        tables, tensors = self.model.tables, self.model.tensors
        if self.state_table_name not in tables:
            raise ProfileError("E_NLU_REFERENCE", f"state table {self.state_table_name!r} is not in the file")
        self.table = tables[self.state_table_name]
        if self.table.dim != L:
            raise ProfileError("E_NLU_REFERENCE", f"state table {self.state_table_name!r} has dim {self.table.dim}; {L} labels need {L}")
        t = tensors.get(self.transitions_name)
        if t is None:
            raise ProfileError("E_NLU_REFERENCE", f"transitions tensor {self.transitions_name!r} is not in the file")
        if t.shape != (L, L) or t.dtype not in (np.float32, np.float64):
            raise ProfileError("E_NLU_REFERENCE", f"transitions tensor {self.transitions_name!r} has shape {t.shape} and dtype {t.dtype}; expected f32 or f64 ({L}, {L})")
        self.trans = np.asarray(t, np.float64)
        if not np.isfinite(self.trans).all():
            raise ProfileError("E_NLU_REFERENCE", f"transitions tensor {self.transitions_name!r} holds non-finite values")
        self._c = self._c_runtime()

    def _c_runtime(self):
        """The C runtime (creader/phq_nlu_tagger.c through phq._accel_nlu) over the same mapped bytes,
        or None: pure Python (the reference) when the extension is not built, PHQ_PURE is set or the C
        runtime refuses the file."""
        from .nlu import c_runtime

        return c_runtime(self.model)

    @property
    def accelerated(self) -> bool:
        """True when utterances are tagged by the C runtime (creader/phq_nlu_tagger.c)."""
        return self._c is not None

    def tag_many(self, texts: list, slots: bool = False) -> list:
        """Per text: (decoded text, [(start, end, label index)]) for its tokens (slots False) or its
        spans (slots True, §7.1; the label that began the span). Through the C runtime when it is
        available (the same answers: tests/test_tagger_accel.py), else in Python; a text the C runtime
        is not given (a str holding surrogates, a bytearray) or refuses is tagged in Python, which
        raises its usage error in text order."""
        got = self._c.tag(texts, slots) if self._c is not None else [None] * len(texts)
        out = []
        for text, r in zip(texts, got):
            decoded = _decode(text, self.decode_error)  # raises the usage error of a refused text
            if r is None or (r and isinstance(r[0], str)):  # not given to C (or refused by it): Python's answer
                toks, labels = self.tag(decoded)
                path = [self._index[lab] for lab in labels]
                offsets = [(a, b) for _, a, b in toks]
                r = _span_triples(path, self.labels, offsets) if slots else [(a, b, y) for (a, b), y in zip(offsets, path)]
            out.append((decoded, r))
        return out

    def state_scores(self, feats: list[list[str]]) -> np.ndarray:
        """(n, L) binary64: for each token, the rows of its features added in order (§6.1)."""
        n, L = len(feats), len(self.labels)
        out = np.zeros((n, L))
        flat, tok = [], []
        for i, fs in enumerate(feats):
            for f in fs:
                try:
                    flat.append(f.encode("utf-8"))
                except UnicodeEncodeError:  # a surrogate: no UTF-8 form, absent (profile 2 §7.2)
                    continue
                tok.append(i)
        if not flat:
            return out
        slots = self.table.slots(flat)
        found = slots >= 0
        if found.any():
            rows = self.table.rows_at(slots[found]).astype(np.float64)
            tok_a = np.asarray(tok, np.int64)[found]
            # np.add.at adds rows one at a time in index order: the left-to-right sum of §6.1
            np.add.at(out, tok_a, rows)
        return out

    def tag(self, text) -> tuple[list[tuple[str, int, int]], list[str]]:
        """(tokens with offsets, label of each token)."""
        toks = tokenize(text, self.tokenizer, self.decode_error)
        feats = _features([t for t, _, _ in toks], self.templates)
        path = viterbi(self.state_scores(feats), self.trans)
        return toks, [self.labels[j] for j in path]


class Parser:
    """A profile 3 model: an intent classifier, a tagger, or both. Use `phq.nlu.load`."""

    def __init__(self, model, prof: Mapping, *, owns_model: bool = False):
        from .nlu import Classifier, UNICODE_VERSION

        self.model = model
        self._owns = owns_model
        members = {"profile", "unicode", "classifier", "tagger"}
        if set(prof) != members:
            raise _schema(f"a profile 3 object has exactly the members {sorted(members)}; got {sorted(map(str, prof))[:8]}")
        if prof["unicode"] != UNICODE_VERSION:
            if not isinstance(prof["unicode"], str):
                raise _schema("unicode must be a string")
            raise ProfileError("E_NLU_VERSION", f"the model's Unicode version {prof['unicode'][:20]!r} is not {UNICODE_VERSION}")
        c, t = prof["classifier"], prof["tagger"]
        if c is None and t is None:
            raise _schema("a profile 3 model needs a classifier, a tagger or both")
        if c is not None and not isinstance(c, Mapping):
            raise _schema("classifier must be an object or null")
        if c is not None and ("profile" in c or "unicode" in c):
            raise _schema("the classifier object has no profile or unicode member (they are the outer object's)")
        if c is not None and t is not None and c.get("input") != "text":
            raise _schema("a classifier beside a tagger must have input \"text\" (both read the utterance)")
        self.tagger = Tagger(t, model) if t is not None else None
        # the classifier object is a profile 2 object without profile and unicode (spec §2.1)
        self.classifier = Classifier(model, profile={**c, "profile": 2, "unicode": prof["unicode"]}) if c is not None else None
        if self.tagger is not None:
            if self.classifier is not None:
                mine = {self.tagger.state_table_name, self.tagger.transitions_name}
                theirs = {c.get("table"), c.get("intercept")} | {b.norm_table_name for b in self.classifier.branches}
                if mine & theirs:
                    raise ProfileError("E_NLU_REFERENCE", f"the tagger and the classifier share the name(s) {sorted(mine & theirs)}")
            self.tagger.resolve()
        self.profile = prof
        self.profile_version = 3

    # the classifier's interface, so a joint model also answers predict / predict_proba
    def __getattr__(self, name):
        if name in ("classes_", "predict", "decision_function", "predict_proba", "input", "n_outputs"):
            clf = self.__dict__.get("classifier")
            if clf is None:
                raise AttributeError(f"{name}: this model has no classifier (a tagger only)")
            return getattr(clf, name)
        raise AttributeError(name)

    @property
    def accelerated(self) -> bool:
        """True when every part (tagger, classifier) runs in the C runtime (phq._accel_nlu)."""
        return all(part.accelerated for part in (self.tagger, self.classifier) if part is not None)

    def tag(self, texts) -> list[list[dict]]:
        """Per text, its tokens: [{"token", "start", "end", "label"}]."""
        if self.tagger is None:
            raise UsageError("this model has no tagger")
        labels = self.tagger.labels
        return [[{"token": decoded[s:e], "start": s, "end": e, "label": labels[y]} for s, e, y in r]
                for decoded, r in self.tagger.tag_many(_texts(texts))]

    def parse(self, texts) -> list[dict]:
        """Per text: {"intent": {"name", "score"} or None, "slots": [{"slot", "value", "start", "end"}]}
        (spec/nlu-profile-v3.md §7). Offsets are code-point offsets into the decoded text."""
        texts = _texts(texts)
        intents = [None] * len(texts)
        if self.classifier is not None:
            intents = self._intents(texts)
        if self.tagger is None:
            return [{"intent": intent, "slots": []} for intent in intents]
        labels = self.tagger.labels
        return [{"intent": intent, "slots": [{"slot": labels[y][2:], "value": decoded[s:e], "start": s, "end": e} for s, e, y in r]}
                for intent, (decoded, r) in zip(intents, self.tagger.tag_many(texts, slots=True))]

    def _intents(self, texts: list) -> list[dict]:
        clf = self.classifier
        d = clf.decision_function(texts)
        if clf.proba is not None:
            p = clf.predict_proba(texts)
            idx = p.argmax(axis=1) if d.ndim > 1 else (d > 0).astype(np.int64)
            score = p[np.arange(len(texts)), idx]
        elif d.ndim == 1:
            idx = (d > 0).astype(np.int64)
            score = np.where(idx == 1, d, -d)
        else:
            idx = d.argmax(axis=1)
            score = d[np.arange(len(texts)), idx]
        return [{"name": _json_label(clf.classes_[i]), "score": float(s)} for i, s in zip(idx, score)]

    def close(self) -> None:
        if self._owns:
            self.model.close()

    def __enter__(self) -> "Parser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        parts = []
        if self.classifier is not None:
            parts.append(f"classes={len(self.classifier.classes_)}")
        if self.tagger is not None:
            parts.append(f"labels={len(self.tagger.labels)} templates={len(self.tagger.templates)}")
        return f"<phq.nlu.Parser {' '.join(parts)}>"


def _json_label(x):
    return x.item() if hasattr(x, "item") else x


def _texts(texts) -> list:
    if isinstance(texts, (str, bytes, bytearray, Mapping)):
        raise UsageError("pass a list of texts, not a single text (wrap it in a list)")
    return list(texts)
