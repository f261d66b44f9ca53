"""Profile 3 (spec/nlu-profile-v3.md) golden models of the NLU conformance suite: taggers and joint
intent + slots models with `parse`, `tokens` and `features` requests over the hard strings, and
invalid profile 3 files for each E_NLU_* code a tagger can earn (spec v3 §8). Used by
conformance/nlu.py (generate, adapter, judge); the expected answers come from the pure runtime.

Label paths must not depend on the order in which a runtime sums (spec v3 §6.3): the "_int" models
hold weights that are multiples of 1/4 (every sum exact in binary64, so ties are real and decided by
the tie rule alone); for the others a parse case is kept only when its best path beats the second
best by more than MARGIN (a 2-best Viterbi over the reference's state scores), and, in a joint
model, when the intent's top two decision values are MARGIN apart.
"""

from __future__ import annotations

import copy
import json

import numpy as np

from .nlu_corpus import SCRIPTS

MARGIN = 1e-6
PARSE_CASES = 300   # hard strings parsed per model (the hand-made ones first, then a sample, then the 64 KiB text)
TOKENS_CASES = 120  # of which the first also get a tokens request
FEATURE_TEXTS = 40  # and these a features request for tokens 0, 1 and the last

# every attribute of §4.1, offsets -2..2, the special templates, a 4-component conjunction
TEMPLATES = [
    "bias", "bos", "eos",
    [["w", 0]], [["w", -1]], [["w", 1]], [["raw", 0]], [["raw", -2]],
    [["p1", 0]], [["p3", 0]], [["p8", 0]], [["s1", 0]], [["s2", 0]], [["s8", 1]],
    [["shape", 0]], [["sshape", 0]], [["sshape", 2]], [["digit", 0]], [["upper", 0]], [["title", 0]],
    [["w", -1], ["w", 0]], [["title", -1], ["s2", 0], ["shape", 1], ["digit", 2]],
]
SLOTS = ["artist", "time", "city"]


def labels(slots=SLOTS) -> list[str]:
    return ["O"] + [f"{p}-{s}" for s in slots for p in "BI"]


def _keys(tokenizer: str, templates) -> list[str]:
    """Feature strings of the scripts corpus (so the hard strings hit the state table)."""
    import phq.nlu

    keys: dict[str, None] = {}
    for text in SCRIPTS:
        toks = [t for t, _, _ in phq.nlu.tokenize(text, tokenizer, "replace")]
        for fs in phq.nlu.token_features(toks, templates):
            for f in fs:
                try:
                    f.encode("utf-8")
                except UnicodeEncodeError:
                    continue
                keys.setdefault(f)
    return list(keys)


def tagger_object(labs, *, tokenizer="word_punct", decode_error="replace", templates=TEMPLATES, **over) -> dict:
    obj = {"tokenizer": tokenizer, "decode_error": decode_error, "templates": templates, "labels": labs, "scheme": "bio",
           "state_table": "tagger.state", "transitions": "tagger.transitions", "estimator": "conformance",
           "source": {"library": "phq.conformance"}}
    obj.update(over)
    return obj


def tagger_model(name, *, seed, integer=False, quant="f32", tokenizer="word_punct", decode_error="replace",
                 trans_dtype=np.float32, keep=0.6, classifier=None, labs=None):
    """(name, metadata, tables, tensors, write options) of a profile 3 golden model."""
    rng = np.random.default_rng(seed)
    labs = labs or labels()
    L = len(labs)
    keys = [k for k in _keys(tokenizer, TEMPLATES) if rng.random() < keep]
    if integer:  # multiples of 1/4: exact sums in any order, many ties
        rows = rng.integers(-6, 7, (len(keys), L)) / 4.0
        trans = rng.integers(-6, 7, (L, L)) / 4.0
    else:
        rows = rng.standard_normal((len(keys), L)) * rng.choice([0.1, 1.0, 3.0], (len(keys), 1))
        trans = rng.standard_normal((L, L)) * 2.0
    # an I-x after O is usually expensive, but some invalid transitions are left cheap (spec §6.2)
    for j, lab in enumerate(labs):
        if lab.startswith("I-") and rng.random() < 0.7:
            trans[0, j] -= 4.0
    tables = {"tagger.state": (keys, rows.astype(np.float32))}
    tensors = {"tagger.transitions": trans.astype(trans_dtype)}
    cls = None
    if classifier is not None:
        _, cmeta, ctables, ctensors, _ = classifier
        cls = {k: v for k, v in cmeta["phq.nlu"].items() if k not in ("profile", "unicode")}
        tables.update(ctables)
        tensors.update(ctensors)
    prof = {"profile": 3, "unicode": "14.0.0", "classifier": cls,
            "tagger": tagger_object(labs, tokenizer=tokenizer, decode_error=decode_error)}
    return name, {"phq.nlu": prof}, tables, tensors, {"quant": quant}


def valid_models(classifier_model) -> list[tuple]:
    """classifier_model(name, seed) -> a profile 2 golden model tuple (conformance/nlu.py's _model)."""
    return [
        tagger_model("y3_tagger_int_word_punct_replace", seed=31, integer=True),
        tagger_model("y3_tagger_linear8_word_punct_strict", seed=32, quant="linear8", decode_error="strict"),
        tagger_model("y3_tagger_f16_nonspace_ignore_f64_transitions", seed=33, quant="f16", tokenizer="nonspace_runs",
                     decode_error="ignore", trans_dtype=np.float64),
        tagger_model("y3_tagger_linear4_one_label", seed=34, quant="linear4", labs=["O"]),
        tagger_model("y3_joint_linear8_softmax", seed=35, quant="linear8", classifier=classifier_model("joint", 36)),
    ]


def invalid_models() -> list[tuple]:
    """(name, metadata, tables, tensors, options, code, surgery) of invalid profile 3 files, each a
    small valid integer tagger with one defect. surgery(bytes) -> bytes or None."""
    name0, meta0, tables0, tensors0, opts0 = tagger_model("n3_base", seed=37, integer=True, keep=0.03)
    L = len(meta0["phq.nlu"]["tagger"]["labels"])

    def bad(name, code, tagger=None, outer=None, tables=None, tensors=None, surgery=None):
        meta = copy.deepcopy(meta0)
        if tagger:
            tagger(meta["phq.nlu"]["tagger"])
        if outer:
            outer(meta["phq.nlu"])
        t = dict(tables0) if tables is None else tables
        x = dict(tensors0) if tensors is None else tensors
        return name, meta, t, x, opts0, code, surgery

    def set_(**kv):
        return lambda o: o.update(kv)

    keys, rows = tables0["tagger.state"]
    trans = tensors0["tagger.transitions"]
    return [
        bad("n3_unicode_15", "E_NLU_VERSION", outer=set_(unicode="15.0.0")),
        bad("n3_both_parts_null", "E_NLU_SCHEMA", outer=set_(tagger=None)),
        bad("n3_unknown_outer_member", "E_NLU_SCHEMA", outer=set_(slots_only=True)),
        bad("n3_unknown_tagger_member", "E_NLU_SCHEMA", tagger=set_(crf_c1=0.1)),
        bad("n3_unknown_tokenizer", "E_NLU_SCHEMA", tagger=set_(tokenizer="(\\w+)+$")),
        bad("n3_template_offset_9", "E_NLU_SCHEMA", tagger=set_(templates=["bias", [["w", 9]]])),
        bad("n3_template_unknown_attribute", "E_NLU_SCHEMA", tagger=set_(templates=["bias", [["p9", 0]]])),
        bad("n3_template_five_components", "E_NLU_SCHEMA", tagger=set_(templates=[[["w", 0]] * 5])),
        bad("n3_template_repeated", "E_NLU_SCHEMA", tagger=set_(templates=[[["w", 0], ["w", 1]], "bias", [["w", 0], ["w", 1]]])),
        bad("n3_templates_257", "E_NLU_SCHEMA", tagger=set_(templates=["bias"] + [[["w", o], ["p1", p]] for o in range(-8, 9)
                                                                               for p in range(-8, 9)][:256])),
        bad("n3_labels_not_bio", "E_NLU_SCHEMA", tagger=lambda o: o["labels"].__setitem__(1, "X-artist")),
        bad("n3_labels_repeated", "E_NLU_SCHEMA", tagger=lambda o: o["labels"].__setitem__(2, o["labels"][1])),
        bad("n3_scheme_bioes", "E_NLU_SCHEMA", tagger=set_(scheme="bioes")),
        # the label set disagrees with the table and the transitions
        bad("n3_labels_fewer_than_table_columns", "E_NLU_REFERENCE", tagger=lambda o: o["labels"].pop()),
        bad("n3_state_table_missing", "E_NLU_REFERENCE", tagger=set_(state_table="tagger.nope")),
        bad("n3_transitions_missing", "E_NLU_REFERENCE", tagger=set_(transitions="tagger.nope")),
        bad("n3_transitions_shape", "E_NLU_REFERENCE", tensors={"tagger.transitions": trans[:-1, :-1].copy()}),
        bad("n3_transitions_int", "E_NLU_REFERENCE", tensors={"tagger.transitions": np.zeros((L, L), np.int32)}),
        bad("n3_state_table_dim", "E_NLU_REFERENCE", tables={"tagger.state": (keys, np.asarray(rows)[:, :-1].copy())}),
        # (a NaN in the transitions is E_NLU_REFERENCE for a runtime and E_VALUE for a validator, which
        # the C adapter runs first: no single expected code, so it is tested in tests/test_tagger.py and
        # creader/tests instead of here)
    ]


# -- requests and the reference's answers ---------------------------------------------------------
def requests(path, corpus: list[bytes], picked: list[int], has_classifier: bool) -> list[tuple]:
    """(kind, argument, corpus index) requests of a profile 3 model."""
    import phq.nlu

    reqs = [("parse", None, i) for i in picked]
    reqs += [("tokens", None, i) for i in picked[:TOKENS_CASES]]
    with phq.nlu.load(path) as m:
        for i in picked[:FEATURE_TEXTS]:
            try:
                n = len(phq.nlu.tokenize(corpus[i], m.tagger.tokenizer, m.tagger.decode_error))
            except phq.UsageError:
                n = 1
            for k in sorted({0, 1, n - 1, n}):  # token n does not exist: a usage error
                if k >= 0:
                    reqs.append(("features", k, i))
    if has_classifier:
        reqs += [("score", None, i) for i in picked[:20]]
    else:
        reqs.append(("score", None, picked[0]))  # a tagger-only model has no decision values: a usage error
    return reqs


def answer_lines(m, reqs: list[tuple], score_line) -> list[str]:
    """The adapter protocol's answer lines for a Parser (profile 3); score_line(m, data) answers a
    score request as profile 2 does."""
    import phq
    import phq.nlu
    from phq import tagger as tg

    out = []
    for kind, arg, data in reqs:
        try:
            if kind == "parse":
                out.append(json.dumps(m.parse([data])[0], ensure_ascii=False))
            elif kind == "tokens":
                if m.tagger is None:
                    raise _NoTagger
                toks = phq.nlu.tokenize(data, m.tagger.tokenizer, m.tagger.decode_error)
                out.append(json.dumps({"tokens": [list(t) for t in toks]}, ensure_ascii=False))
            elif kind == "features":
                if m.tagger is None:
                    raise _NoTagger
                toks = [t for t, _, _ in phq.nlu.tokenize(data, m.tagger.tokenizer, m.tagger.decode_error)]
                if arg >= len(toks):
                    raise _NoTagger
                feats = phq.nlu.token_features(toks, tg.template_json(m.tagger.templates))
                out.append(json.dumps({"features": feats[arg]}, ensure_ascii=False))
            elif kind == "terms":
                if m.classifier is None:
                    raise _NoTagger
                feats = m.classifier.branches[arg].featurize(data)
                out.append(json.dumps({"terms": [[t, v] for t, v in feats.items()]}))
            else:
                if m.classifier is None:
                    raise _NoTagger
                out.append(score_line(m.classifier, data))
        except _NoTagger:
            out.append(json.dumps({"error": "UsageError", "message": f"the model cannot answer {kind}"}))
        except phq.UsageError as e:
            out.append(json.dumps({"error": "E_INPUT", "message": str(e)[:120]}))
    return out


class _NoTagger(Exception):
    """A request the model cannot answer (no such part, no such token): a usage error."""


def kept(m, data: bytes, integer: bool) -> bool:
    """A parse case whose answer cannot change within the profile's tolerance (module docstring)."""
    import phq
    import phq.nlu
    from phq import tagger as tg

    try:
        if m.classifier is not None:
            d = np.atleast_1d(m.classifier.decision_function([data])[0])
            if len(d) == 1:
                if d[0] != 0.0 and abs(d[0]) <= MARGIN:
                    return False
            else:
                top = np.sort(d)[::-1]
                if not (top[0] == top[1] or top[0] - top[1] > MARGIN):
                    return False
        if integer:
            return True
        toks = tg.tokenize(data, m.tagger.tokenizer, m.tagger.decode_error)
    except phq.UsageError:
        return True  # an input error: no path
    state = m.tagger.state_scores(tg._features([t for t, _, _ in toks], m.tagger.templates))
    return path_margin(state, m.tagger.trans) > MARGIN


def path_margin(state: np.ndarray, trans: np.ndarray) -> float:
    """Best minus second-best label-path score (2-best Viterbi); inf when there is one path."""
    n, L = state.shape
    if n == 0:
        return np.inf
    b1, b2 = state[0].copy(), np.full(L, -np.inf)
    for t in range(1, n):
        cand = np.concatenate([b1[:, None] + trans, b2[:, None] + trans])  # (2L, L)
        top = -np.sort(-cand, axis=0)
        b1, b2 = top[0] + state[t], top[1] + state[t]
    final = -np.sort(-np.concatenate([b1, b2]))
    return float(final[0] - final[1]) if np.isfinite(final[1]) else np.inf
