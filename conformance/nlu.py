"""The NLU conformance suite (conformance/nlu/, protocol in conformance/README.md).

    python -m phq.conformance.nlu generate [--out DIR] [--check]   # rebuild the golden files
    python -m phq.conformance.nlu adapter MODEL < requests > answer  # the Python reference adapter
    phq conformance run --version nlu --reader "build/phq-nlu-conform"

Golden NLU models (profile 2 and 1) with texts and their expected terms, decision values,
probabilities and labels; profile 3 taggers and a joint model with their expected parses, tokens
and feature lists (conformance/nlu_tagger.py); invalid profiles for every E_NLU_* code. The expected answers
come from the Python reference runtime (pure: PHQ_PURE=1 semantics, `phq.nlu` without the
accelerator); the judge compares labels and terms exactly and numbers within the profile's
tolerance (spec/nlu-profile-v2.md §8.6).
"""

from __future__ import annotations

import argparse
import copy
import filecmp
import hashlib
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import SUITE_DIR
from . import nlu_tagger
from .nlu_corpus import SCRIPTS, SPECIAL, hard_strings

NLU_DIR = SUITE_DIR / "nlu"
RTOL = ATOL = 1e-9  # spec §8.6
MARGIN = 1e-6  # every kept score case has its top-two decision values this far apart (or exactly tied)
SCORE_CASES = 400  # hard strings scored per model: the hand-made ones, then a model-specific sample
TERMS_CASES = 100  # of which the first ones also get a terms request per featurizer


# -- the adapter protocol -----------------------------------------------------------------------
def parse_requests(text: str) -> list[tuple]:
    out = []
    for line in text.split("\n"):
        parts = line.split()
        if not parts:
            continue
        if parts[0] in ("score", "parse", "tokens") and len(parts) == 2:
            out.append((parts[0], None, b"" if parts[1] == "-" else bytes.fromhex(parts[1])))
        elif parts[0] in ("terms", "features") and len(parts) == 3:
            out.append((parts[0], int(parts[1]), b"" if parts[2] == "-" else bytes.fromhex(parts[2])))
        else:
            raise ValueError(f"bad request line {line[:60]!r}")
    return out


def _label(v):
    return v.item() if hasattr(v, "item") else v


def _num(x: float):
    return float(x) if math.isfinite(x) else None


def answer(path, requests: list[tuple]) -> str:
    """The protocol answer of the Python runtime (pure or accelerated, as phq.nlu runs)."""
    import phq
    import phq.nlu

    try:
        clf = phq.nlu.load(path)
    except (phq.FormatError, phq.ProfileError) as e:
        return f"error {e.code} {e.message[:200]}\n"
    lines = ["ok"]
    with clf:
        if isinstance(clf, phq.nlu.Parser):  # profile 3
            lines += nlu_tagger.answer_lines(clf, requests, _score_line)
            requests = []
        for kind, f, data in requests:
            try:
                if kind == "terms":
                    feats = clf.branches[f].featurize(data)
                    lines.append(json.dumps({"terms": [[t, v] for t, v in feats.items()]}))
                    continue
                if kind != "score":  # parse, tokens, features: a profile 3 request
                    lines.append(json.dumps({"error": "UsageError", "message": f"a profile {clf.profile_version} model cannot answer {kind}"}))
                    continue
                lines.append(_score_line(clf, data))
            except phq.UsageError as e:
                lines.append(json.dumps({"error": "E_INPUT", "message": str(e)[:120]}))
    lines.append("end")
    return "\n".join(lines) + "\n"


def _score_line(clf, data) -> str:
    d = clf.decision_function([data])
    row = np.atleast_1d(d[0])
    obj = {"label": _label(clf.predict([data])[0]), "decision": [_num(x) for x in row]}
    if clf.proba is not None:
        obj["proba"] = [_num(x) for x in clf.predict_proba([data])[0]]
    return json.dumps(obj)


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= ATOL + RTOL * abs(b)


def judge(entry: dict, root: Path, output: str) -> tuple[str, str]:
    from .runner import first_line

    lines = output.rstrip("\n").split("\n") if output else []
    refused = first_line(lines)
    if refused:
        return refused
    if entry["expect"] == "accept-or-unsupported":
        return "accept-or-unsupported", ""
    if entry["expect"] != "accept":
        return "accept", "accepted an invalid model"
    expected = (root / entry["expected"]).read_text(encoding="utf-8").rstrip("\n").split("\n")
    got = [x.rstrip("\r") for x in lines[1:]]
    if len(got) != len(expected):
        return "wrong-answer", f"expected {len(expected) - 1} answers, got {len(got) - 1}"
    for i, (e, g) in enumerate(zip(expected, got)):
        if e == g:
            continue
        try:
            ev, gv = json.loads(e), json.loads(g)
        except ValueError:
            return "wrong-answer", f"answer {i + 1}: expected {e[:80]!r}, got {g[:80]!r}"
        problem = _compare(ev, gv)
        if problem:
            return "wrong-answer", f"answer {i + 1}: {problem}"
    return "accept", ""


def _compare(e, g) -> str | None:
    if not isinstance(e, dict) or not isinstance(g, dict):
        return f"expected {e!r:.80}, got {g!r:.80}"
    if "error" in e or "error" in g:
        return None if e.get("error") == g.get("error") else f"expected {e.get('error', 'an answer')}, got {g.get('error', 'an answer')}"
    for key in ("tokens", "features"):  # profile 3: exact
        if key in e:
            return None if g.get(key) == e[key] else f"{key}: expected {str(e[key])[:80]}, got {str(g.get(key))[:80]}"
    if "slots" in e:  # a parse (v3 §7.2): spans exactly, the intent's name exactly and its score within the tolerance
        if g.get("slots") != e["slots"]:
            return f"slots: expected {str(e['slots'])[:100]}, got {str(g.get('slots'))[:100]}"
        ei, gi = e["intent"], g.get("intent")
        if ei is None or gi is None:
            return None if ei is None and gi is None else f"intent: expected {ei!r:.60}, got {gi!r:.60}"
        if not isinstance(gi, dict) or gi.get("name") != ei["name"] or type(gi.get("name")) is not type(ei["name"]):
            return f"intent: expected {ei['name']!r}, got {str(gi)[:60]}"
        return None if _close(gi.get("score"), ei["score"]) else f"intent score: expected {ei['score']!r}, got {gi.get('score')!r}"
    if "terms" in e:
        et, gt = e["terms"], g.get("terms")
        if not isinstance(gt, list) or [t for t, _ in et] != [t[0] for t in gt if isinstance(t, list) and t]:
            return f"terms differ: expected {[t for t, _ in et][:6]!r}, got {str(gt)[:120]}"
        bad = [t for (t, v), x in zip(et, gt) if not _close(x[1] if len(x) > 1 else None, v)]
        return f"tf of {bad[:3]!r} differ" if bad else None
    if g.get("label") != e["label"] or type(g.get("label")) is not type(e["label"]):
        return f"label: expected {e['label']!r}, got {g.get('label')!r}"
    for key in ("decision", "proba"):
        if key not in e:
            continue
        ev, gv = e[key], g.get(key)
        if not isinstance(gv, list) or len(gv) != len(ev) or not all(_close(x, y) for x, y in zip(gv, ev)):
            return f"{key}: expected {str(ev)[:80]}, got {str(gv)[:80]}"
    return None


def load_suite(root: Path = NLU_DIR) -> list[dict]:
    manifest = root / "manifest.json"
    from phq.errors import UsageError

    if not manifest.is_file():
        raise UsageError(f"no NLU conformance suite at {root}")
    entries = json.loads(manifest.read_text())["models"]
    for m in entries:
        if hashlib.sha256((root / m["file"]).read_bytes()).hexdigest() != m["sha256"]:
            raise UsageError(f"golden file {m['file']} does not match its sha256 in the manifest")
    return entries


def requests_text(entry: dict, root: Path = NLU_DIR) -> str:
    """The requests sent to the adapter: the stored ones, with each `#i` (line i of
    hard_strings.txt) replaced by that text's hex."""
    if not entry.get("requests"):
        return ""
    corpus = (root / "hard_strings.txt").read_text().split("\n")
    lines = []
    for line in (root / entry["requests"]).read_text().split("\n"):
        if line:
            head, _, ref = line.rpartition(" ")
            lines.append(f"{head} {corpus[int(ref[1:])]}" if ref.startswith("#") else line)
    return "".join(x + "\n" for x in lines)


# -- the golden models --------------------------------------------------------------------------
def _featurizer(**over) -> dict:
    cfg = {
        "name": "text", "kind": "text", "key_prefix": "", "analyzer": "word", "ngram_range": [1, 1],
        "lowercase": True, "strip_accents": None, "binary": False, "sublinear_tf": False,
        "decode_error": "replace", "tokenizer": "word_runs_min2", "stop_words": None,
        "norm": None, "norm_table": None, "weight": 1.0,
    }
    cfg.update(over)
    if cfg["analyzer"] != "word":
        cfg["tokenizer"] = None
    return cfg


def _profile(featurizers, classes, ctype="str", proba=None, **over) -> dict:
    prof = {
        "profile": 2, "unicode": "14.0.0", "input": featurizers[0]["kind"], "classes": classes,
        "classes_type": ctype, "estimator": "conformance", "table": "features", "intercept": "intercept",
        "proba": proba, "featurizers": featurizers, "source": {"library": "phq.conformance"},
    }
    prof.update(over)
    return prof


def _vocabulary(cfg: dict) -> list[str]:
    """Terms of the featurizer over the scripts corpus (so that hard strings hit the tables)."""
    from phq.featurize import make_featurizer

    fz = make_featurizer(cfg)
    vocab: dict[str, None] = {}
    for text in SCRIPTS:
        for t in fz.features(text):
            try:
                t.encode("utf-8")
            except UnicodeEncodeError:
                continue
            vocab.setdefault(t)
    return list(vocab)


def _model(name: str, featurizers: list[dict], classes, ctype="str", proba=None, quant="f32", seed=0, keep=0.7, v1=False, columns=None, **over):
    """(name, metadata, tables, tensors, write options) of one golden model; `columns`: the score
    table's columns when not k (a calibrated model's folds x k)."""
    rng = np.random.default_rng(seed)
    k = columns or (1 if len(classes) == 2 else len(classes))
    keys, rows, tables = [], [], {}
    for f in featurizers:
        vocab = _vocabulary(f)
        chosen = [t for t in vocab if rng.random() < keep]
        keys += [f["key_prefix"] + t for t in chosen]
        rows.append(rng.standard_normal((len(chosen), k)) * rng.choice([0.1, 1.0, 3.0], (len(chosen), 1)))
        if f["norm"]:
            if f["norm_table"].endswith(":idf"):
                tables[f["norm_table"]] = (vocab, (1.0 + rng.random((len(vocab), 1)) * 4).astype(np.float32))
            else:
                tables[f["norm_table"]] = (vocab, np.zeros((len(vocab), 0), np.float32))
    matrix = np.concatenate(rows) if rows else np.zeros((0, k))
    tables = {"features": (keys, matrix.astype(np.float32)), **tables}
    prof = _profile(featurizers, classes, ctype, proba, **over)
    if v1:
        prof = _as_profile1(prof)
    tensors = {"intercept": (rng.standard_normal(k) * 0.5).astype(np.float64)}
    return name, {"phq.nlu": prof}, tables, tensors, {"quant": quant}


def _as_profile1(prof: dict) -> dict:
    pattern = {"word_runs_min2": r"(?u)\b\w\w+\b", "word_runs_min1": r"(?u)\b\w+\b", "nonspace_runs": r"\S+", None: None}
    prof = copy.deepcopy(prof)
    prof["profile"] = 1
    del prof["unicode"]
    for f in prof["featurizers"]:
        f["token_pattern"] = pattern[f.pop("tokenizer")]
        f["encoding"] = "utf-8"
    return prof


FIVE = ["PlayMusic", "GetWeather", "SetAlarm", "BookRestaurant", "AddToPlaylist"]


def valid_models() -> list[tuple]:
    return [
        _model("y_word2_lower_tfidf_l2_softmax", [_featurizer(ngram_range=[1, 2], norm="l2", norm_table="norm:text:idf")], FIVE, proba="softmax", seed=1),
        _model("y_word1_strip_unicode_binary_l1_keyset_linear8", [_featurizer(tokenizer="word_runs_min1", strip_accents="unicode", binary=True, norm="l1", norm_table="norm:text")], FIVE[:3], quant="linear8", seed=2),
        _model("y_nonspace_sublinear_bool_logistic", [_featurizer(tokenizer="nonspace_runs", lowercase=False, sublinear_tf=True)], [False, True], "bool", "logistic", seed=3),
        _model("y_char_2_4_ascii_int_modified_huber_linear4", [_featurizer(analyzer="char", ngram_range=[2, 4], strip_accents="ascii")], [3, 1, -7], "int", "modified_huber", quant="linear4", seed=4, keep=0.5),
        _model("y_char_1_3_nolower_binaryclass", [_featurizer(analyzer="char", ngram_range=[1, 3], lowercase=False)], ["no", "yes"], proba=None, seed=5, keep=0.5),
        _model(
            "y_union_word_stopwords_char_wb_l2_float_labels",
            [
                _featurizer(name="w", key_prefix="w\x1f", ngram_range=[1, 2], stop_words=["the", "a", "de", "и", "σα"]),
                _featurizer(name="c", key_prefix="c\x1f", analyzer="char_wb", ngram_range=[1, 3], strip_accents="unicode", norm="l2", norm_table="norm:c:idf"),
            ],
            [0.5, 1.0, 2.5, -3.25], "float", "logistic", seed=6, keep=0.4,
        ),
        _model("y_decode_strict", [_featurizer(decode_error="strict", ngram_range=[1, 2])], FIVE[:3], seed=7),
        _model("y_decode_ignore_char_wb", [_featurizer(decode_error="ignore", analyzer="char_wb", ngram_range=[2, 5])], FIVE[:3], seed=8, keep=0.5),
        _model("y_profile1_word_l2", [_featurizer(ngram_range=[1, 2], norm="l2", norm_table="norm:text:idf")], FIVE[:4], proba="softmax", seed=9, v1=True),
        _model("y_empty_score_table", [_featurizer()], FIVE[:3], seed=10, keep=0.0),
        _model("y_labels_with_escapes", [_featurizer()], ['say "hi"', "back\\slash", "tab\tnew\nline", "nul\x00", "é🎵\u2028"], proba="softmax", seed=11),
    ]


def _calibrated(name: str, classes, method: str, folds: int, seed: int, ctype="str", quant="f32", zero_fold=False):
    """A calibrated model (spec §2.4): folds x k score columns and one map per column. Isotonic
    maps have 1..12 points with x gaps of at least 0.1 (slopes at most 10, so a fold score within
    §8.6's bound moves a probability by far less than the judge's tolerance)."""
    k = 1 if len(classes) == 2 else len(classes)
    name, meta, tables, tensors, opts = _model(name, [_featurizer(ngram_range=[1, 2])], classes, ctype, "calibrated", quant, seed, columns=folds * k)
    rng = np.random.default_rng(1000 + seed)
    cal: dict = {"method": method, "folds": folds}
    if method == "sigmoid":
        cal["a"] = [float(v) for v in -rng.uniform(0.5, 3.0, folds * k)]
        cal["b"] = [float(v) for v in rng.uniform(-1.0, 1.0, folds * k)]
    else:
        points, xs, ys = [], [], []
        for j in range(folds * k):
            P = 1 if j == 1 else int(rng.integers(2, 13))
            if zero_fold and j < k:  # fold 0 maps everything to 0: its probabilities are uniform (1/K)
                P = 1
            x = np.cumsum(rng.uniform(0.1, 1.0, P)) - rng.uniform(1.0, 4.0)
            y = np.sort(np.round(rng.uniform(0.0, 1.0, P), 1))  # rounded: some equal neighbours
            if zero_fold and j < k:
                y[:] = 0.0
            points.append(P)
            xs.append(x)
            ys.append(y)
        cal |= {"points": points, "x": "calibration:x", "y": "calibration:y"}
        tensors["calibration:x"] = np.concatenate(xs)
        tensors["calibration:y"] = np.concatenate(ys)
    meta["phq.nlu"]["calibration"] = cal
    return name, meta, tables, tensors, opts


def calibrated_models() -> list[tuple]:
    return [
        _calibrated("y_calibrated_sigmoid_multiclass_3folds", FIVE, "sigmoid", 3, 40),
        _calibrated("y_calibrated_sigmoid_binary_1fold_linear8", ["no", "yes"], "sigmoid", 1, 41, quant="linear8"),
        _calibrated("y_calibrated_isotonic_binary_2folds", [False, True], "isotonic", 2, 42, ctype="bool"),
        _calibrated("y_calibrated_isotonic_multiclass_4folds_zero_fold", FIVE[:4], "isotonic", 4, 43, zero_fold=True),
    ]


def invalid_calibrated() -> list[tuple]:
    def bad(name, code, method, mutate):
        n, meta, tables, tensors, opts = _calibrated(name, FIVE[:3], method, 2, 44)
        mutate(meta["phq.nlu"], meta["phq.nlu"]["calibration"], tables, tensors)
        return n, meta, tables, tensors, opts, code

    def cal_set(**kv):
        def f(prof, cal, tables, tensors):
            cal.update(kv)
        return f

    def prof_set(**kv):
        def f(prof, cal, tables, tensors):
            prof.update(kv)
        return f

    def tensor(name, fn):
        def f(prof, cal, tables, tensors):
            tensors[name] = fn(tensors[name])
        return f

    def score_dim_k(prof, cal, tables, tensors):
        keys, rows = tables["features"]
        tables["features"] = (keys, rows[:, :3])

    def with_a(prof, cal, tables, tensors):
        cal["a"] = [1.0] * 6

    def x_not_increasing(x):
        x = x.copy()
        x[3] = x[2]  # map 0 has at least 2 points (map 1 has one): x[2], x[3] lie in one map when map 0 has 4+
        return x

    def y_decreasing(y):
        y = y.copy()
        y[0], y[2] = 1.0, 0.0  # map 0 (y sorted, P >= 3)
        return y

    return [
        bad("n_calibration_proba_softmax", "E_NLU_SCHEMA", "sigmoid", prof_set(proba="softmax")),
        bad("n_calibration_null", "E_NLU_SCHEMA", "sigmoid", prof_set(calibration=None)),
        bad("n_calibration_method_temperature", "E_NLU_SCHEMA", "sigmoid", cal_set(method="temperature")),
        bad("n_calibration_folds_zero", "E_NLU_SCHEMA", "sigmoid", cal_set(folds=0)),
        bad("n_calibration_folds_not_integer", "E_NLU_SCHEMA", "sigmoid", cal_set(folds=2.0)),
        bad("n_calibration_a_length", "E_NLU_SCHEMA", "sigmoid", cal_set(a=[1.0] * 5)),
        bad("n_calibration_b_not_number", "E_NLU_SCHEMA", "sigmoid", cal_set(b=[0.5] * 5 + ["1"])),
        bad("n_calibration_unknown_member", "E_NLU_SCHEMA", "sigmoid", cal_set(ensemble=True)),
        bad("n_calibration_isotonic_with_a", "E_NLU_SCHEMA", "isotonic", with_a),
        bad("n_calibration_points_zero", "E_NLU_SCHEMA", "isotonic", lambda p, c, t, ts: c["points"].__setitem__(1, 0)),
        bad("n_calibration_x_not_string", "E_NLU_SCHEMA", "isotonic", cal_set(x=7)),
        bad("n_calibration_x_missing", "E_NLU_REFERENCE", "isotonic", cal_set(x="calibration:none")),
        bad("n_calibration_x_f32", "E_NLU_REFERENCE", "isotonic", tensor("calibration:x", lambda x: x.astype(np.float32))),
        bad("n_calibration_points_sum", "E_NLU_REFERENCE", "isotonic", lambda p, c, t, ts: c["points"].__setitem__(0, c["points"][0] + 1)),
        bad("n_calibration_x_not_increasing", "E_NLU_REFERENCE", "isotonic", tensor("calibration:x", x_not_increasing)),
        bad("n_calibration_y_decreasing", "E_NLU_REFERENCE", "isotonic", tensor("calibration:y", y_decreasing)),
        bad("n_calibration_y_above_one", "E_NLU_REFERENCE", "isotonic", tensor("calibration:y", lambda y: y + 0.5)),
        bad("n_calibrated_score_table_dim", "E_NLU_REFERENCE", "sigmoid", score_dim_k),
    ]


def _bad(name: str, code: str, mutate) -> tuple:
    n, meta, tables, tensors, opts = _model(name, [_featurizer()], FIVE[:3], seed=20)
    prof = meta["phq.nlu"]
    result = mutate(prof, tables, tensors)
    if result is not None:
        meta = result
    return n, meta, tables, tensors, opts, code


def _set(**kv):
    def f(prof, tables, tensors):
        prof.update(kv)
    return f


def _feat(**kv):
    def f(prof, tables, tensors):
        prof["featurizers"][0].update(kv)
    return f


def invalid_models() -> list[tuple]:
    def drop(member):
        def f(prof, tables, tensors):
            del prof[member]
        return f

    def no_profile(prof, tables, tensors):
        return {"labels": FIVE}

    def drop_table(name):
        def f(prof, tables, tensors):
            tables.pop(name)
        return f

    def intercept(arr):
        def f(prof, tables, tensors):
            tensors["intercept"] = arr
        return f

    def v1_pattern(prof, tables, tensors):
        p1 = _as_profile1(prof)
        p1["featurizers"][0]["token_pattern"] = "(a+)+$"
        return {"phq.nlu": p1}

    def v1_member(where):
        def f(prof, tables, tensors):
            p1 = _as_profile1(prof)
            (p1 if where == "top" else p1["featurizers"][0])["threshold"] = 0.5
            return {"phq.nlu": p1}
        return f

    return [
        _bad("n_not_an_nlu_model", "E_NLU_MISSING", no_profile),
        _bad("n_profile_4", "E_NLU_VERSION", _set(profile=4)),  # profile 3 exists (spec/nlu-profile-v3.md)
        _bad("n_unicode_15", "E_NLU_VERSION", _set(unicode="15.0.0")),
        _bad("n_profile_not_integer", "E_NLU_SCHEMA", _set(profile="2")),
        _bad("n_unknown_member", "E_NLU_SCHEMA", _set(threshold=0.5)),
        _bad("n_missing_source", "E_NLU_SCHEMA", drop("source")),
        _bad("n_one_class", "E_NLU_SCHEMA", _set(classes=["only"])),
        _bad("n_duplicate_labels", "E_NLU_SCHEMA", _set(classes=["a", "b", "a"])),
        _bad("n_float_labels_equal", "E_NLU_SCHEMA", _set(classes=[1, 1.0, 2], classes_type="float")),
        _bad("n_int_label_out_of_range", "E_NLU_SCHEMA", _set(classes=[1, 2, 2**63], classes_type="int")),
        _bad("n_label_of_wrong_type", "E_NLU_SCHEMA", _set(classes=["a", "b", 3])),
        _bad("n_softmax_two_classes", "E_NLU_SCHEMA", _set(classes=["a", "b"], proba="softmax")),
        _bad("n_input_image", "E_NLU_SCHEMA", _set(input="image")),
        _bad("n_no_featurizers", "E_NLU_SCHEMA", _set(featurizers=[])),
        _bad("n_unknown_tokenizer_regex", "E_NLU_SCHEMA", _feat(tokenizer="(a+)+$")),
        _bad("n_profile1_regex_pattern", "E_NLU_SCHEMA", v1_pattern),
        _bad("n_profile1_unknown_member", "E_NLU_SCHEMA", v1_member("top")),  # §12: never ignored
        _bad("n_profile1_unknown_featurizer_member", "E_NLU_SCHEMA", v1_member("featurizer")),
        _bad("n_profile_3_as_float", "E_NLU_SCHEMA", _set(profile=3.0)),  # §2: 3.0 is not an integer
        _bad("n_ngram_range_too_wide", "E_NLU_SCHEMA", _feat(ngram_range=[1, 17])),
        _bad("n_ngram_range_zero", "E_NLU_SCHEMA", _feat(ngram_range=[0, 1])),
        _bad("n_unknown_featurizer_member", "E_NLU_SCHEMA", _feat(max_df=0.5)),
        _bad("n_tokenizer_for_char_analyzer", "E_NLU_SCHEMA", _feat(analyzer="char")),
        _bad("n_key_prefix_too_long", "E_NLU_SCHEMA", _feat(key_prefix="p" * 1025)),
        _bad("n_norm_table_without_norm", "E_NLU_SCHEMA", _feat(norm_table="features")),
        _bad("n_decode_error_unknown", "E_NLU_SCHEMA", _feat(decode_error="surrogateescape")),
        _bad("n_score_table_missing", "E_NLU_REFERENCE", drop_table("features")),
        _bad("n_score_table_dim", "E_NLU_REFERENCE", _set(classes=FIVE)),
        _bad("n_norm_table_missing", "E_NLU_REFERENCE", _feat(norm="l2", norm_table="norm:none")),
        _bad("n_intercept_missing", "E_NLU_REFERENCE", _set(intercept="bias")),
        _bad("n_intercept_shape", "E_NLU_REFERENCE", intercept(np.zeros(2))),
        _bad("n_intercept_f16", "E_NLU_REFERENCE", intercept(np.zeros(3, np.float16))),
        _bad("n_intercept_int", "E_NLU_REFERENCE", intercept(np.zeros(3, np.int32))),
        _bad("n_calibrated_proba_without_calibration", "E_NLU_SCHEMA", _set(proba="calibrated")),
    ] + invalid_calibrated()


def dict_model() -> tuple:
    cfg = {"name": "dict", "kind": "dict", "key_prefix": "", "separator": "=", "norm": None, "norm_table": None, "weight": 1.0}
    prof = _profile([cfg], FIVE[:3])
    rng = np.random.default_rng(30)
    keys = ["w=play", "w=rain", "len"]
    return "i_dict_input", {"phq.nlu": prof}, {"features": (keys, rng.standard_normal((3, 3)).astype(np.float32))}, {"intercept": np.zeros(3)}, {"quant": "f32"}


# -- generation ---------------------------------------------------------------------------------
def _write(path: Path, meta, tables, tensors, opts) -> None:
    import phq.writer

    phq.writer.write(path, tables, tensors=tensors, metadata=meta, fingerprint_bits=16, **opts)


def _hex(b: bytes) -> str:
    return b.hex() if b else "-"


def _kept(line: str) -> bool:
    """Score answers whose label cannot flip within the tolerance (spec §8.6)."""
    obj = json.loads(line)
    d = obj.get("decision")
    if not d or len(d) == 1:
        return not d or d[0] is None or d[0] == 0.0 or abs(d[0]) > MARGIN
    top = sorted(d, reverse=True)
    return top[0] == top[1] or top[0] - top[1] > MARGIN


def generate(out: Path) -> None:
    """Write the suite to `out`; PHQ_PURE is set while it runs and restored afterwards (left set,
    it disabled the accelerator for every later test of the same process)."""
    import os

    saved = os.environ.get("PHQ_PURE")
    os.environ["PHQ_PURE"] = "1"  # expected answers come from the pure reference runtime
    try:
        _generate(out)
    finally:
        if saved is None:
            del os.environ["PHQ_PURE"]
        else:
            os.environ["PHQ_PURE"] = saved


def _generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    corpus = hard_strings()
    (out / "hard_strings.txt").write_text("".join(_hex(b) + "\n" for b in corpus))
    entries = []
    for name, meta, tables, tensors, opts in valid_models() + [dict_model()] + calibrated_models():
        path = out / f"{name}.phq"
        _write(path, meta, tables, tensors, opts)
        n_feat = len(meta["phq.nlu"]["featurizers"])
        entry = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        if name.startswith("i_"):
            entry |= {"expect": "accept-or-unsupported", "what": "a dict model: read by runtimes with dict input, else E_NLU_UNSUPPORTED"}
            entries.append(entry)
            continue
        rng = np.random.default_rng(len(entries))
        fixed = len(SCRIPTS) + len(SPECIAL)  # the hand-made strings come first in the corpus
        picked = list(range(fixed)) + sorted(rng.choice(np.arange(fixed, len(corpus)), SCORE_CASES - fixed, replace=False).tolist())
        picked.append(len(corpus) - 1)  # the 64 KiB text
        reqs = [("score", None, i) for i in picked]
        reqs += [("terms", f, i) for f in range(n_feat) for i in picked[:TERMS_CASES]]
        ans = answer(path, [(kind, f, corpus[i]) for kind, f, i in reqs]).split("\n")
        assert ans[0] == "ok" and ans[-2] == "end", ans[:2]
        keep_lines, keep_reqs = ["ok"], []
        for (kind, f, i), line in zip(reqs, ans[1:-2]):
            if kind == "score" and "error" not in line and not _kept(line):
                continue
            keep_reqs.append(f"score #{i}" if kind == "score" else f"terms {f} #{i}")
            keep_lines.append(line)
        keep_lines.append("end")
        (out / f"{name}.requests").write_text("".join(r + "\n" for r in keep_reqs))
        (out / f"{name}.expected").write_text("\n".join(keep_lines[1:]) + "\n", encoding="utf-8")
        entry |= {"expect": "accept", "requests": f"{name}.requests", "expected": f"{name}.expected", "cases": len(keep_reqs)}
        entries.append(entry)
    # profile 3 (after the profile 2 models, whose sample seeds count the entries before them)
    v3 = nlu_tagger.valid_models(lambda name, seed: _model(name, [_featurizer(ngram_range=[1, 2])], FIVE, proba="softmax", seed=seed, quant="linear8"))
    for i, (name, meta, tables, tensors, opts) in enumerate(v3):
        path = out / f"{name}.phq"
        _write(path, meta, tables, tensors, opts)
        entries.append(_v3_entry(out, path, name, meta, corpus, i))
    bad = [(*m, None) for m in invalid_models()] + nlu_tagger.invalid_models()
    for name, meta, tables, tensors, opts, code, surgery in bad:
        path = out / f"{name}.phq"
        _write(path, meta, tables, tensors, opts)
        if surgery is not None:
            path.write_bytes(surgery(path.read_bytes()))
        got = answer(path, [])
        assert got.startswith(f"error {code} "), (name, got[:120])
        entries.append({"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "expect": code})
    manifest = {"suite": "phq NLU profiles 2 and 3", "spec": "spec/nlu-profile-v2.md, spec/nlu-profile-v3.md", "tolerance": {"rtol": RTOL, "atol": ATOL}, "hard_strings": len(corpus), "models": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


def _v3_entry(out: Path, path: Path, name: str, meta: dict, corpus: list[bytes], seed: int) -> dict:
    """Requests and expected answers of a profile 3 model (conformance/nlu_tagger.py)."""
    import phq.nlu

    rng = np.random.default_rng(100 + seed)
    fixed = len(SCRIPTS) + len(SPECIAL)
    picked = list(range(fixed)) + sorted(rng.choice(np.arange(fixed, len(corpus)), nlu_tagger.PARSE_CASES - fixed, replace=False).tolist())
    picked.append(len(corpus) - 1)  # the 64 KiB text
    has_cls = meta["phq.nlu"]["classifier"] is not None
    reqs = nlu_tagger.requests(path, corpus, picked, has_cls)
    with phq.nlu.load(path) as m:
        integer = "_int_" in name
        keep = {i: nlu_tagger.kept(m, corpus[i], integer) for i in picked}
    reqs = [r for r in reqs if r[0] != "parse" or keep[r[2]]]
    ans = answer(path, [(kind, arg, corpus[i]) for kind, arg, i in reqs]).split("\n")
    assert ans[0] == "ok" and ans[-2] == "end", ans[:2]
    (out / f"{name}.requests").write_text("".join((f"{k} {a} #{i}" if a is not None else f"{k} #{i}") + "\n" for k, a, i in reqs))
    (out / f"{name}.expected").write_text("\n".join(ans[1:-1]) + "\n", encoding="utf-8")  # the answers and "end"
    return {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "expect": "accept",
            "requests": f"{name}.requests", "expected": f"{name}.expected", "cases": len(reqs),
            "parse_cases_dropped_for_margin": sum(not v for v in keep.values())}


def check() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        cmp = filecmp.dircmp(tmp, NLU_DIR)
        bad = cmp.left_only + cmp.right_only + filecmp.cmpfiles(tmp, NLU_DIR, cmp.common_files, shallow=False)[1]
    if bad:
        print(f"NLU golden files differ from the generator's output: {sorted(bad)[:10]}", file=sys.stderr)
        return 1
    return 0


# -- running ------------------------------------------------------------------------------------
def reference_reader(path: Path, requests: str) -> str:
    return answer(path, parse_requests(requests))


def run(reader, timeout: float = 60.0, progress=None, root: Path = NLU_DIR):
    from .runner import Result, _invoke

    results = []
    for entry in load_suite(root):
        path = root / entry["file"]
        start = time.perf_counter()
        special, out = _invoke(reader, path, requests_text(entry, root), timeout)
        seconds = time.perf_counter() - start
        outcome, detail = (special, special) if special else judge(entry, root, out)
        if entry["expect"] == "accept-or-unsupported" and outcome in ("E_NLU_UNSUPPORTED", "accept-or-unsupported"):
            outcome = entry["expect"]
        ok = outcome == entry["expect"]
        r = Result(entry["file"], entry["expect"], outcome, "PASS" if ok else "FAIL", "" if ok else detail, round(seconds, 4))
        results.append(r)
        if progress:
            progress(r)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m phq.conformance.nlu")
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--out", type=Path, default=NLU_DIR)
    g.add_argument("--check", action="store_true")
    ad = sub.add_parser("adapter")
    ad.add_argument("model")
    a = ap.parse_args(argv)
    if a.cmd == "adapter":
        sys.stdout.write(answer(a.model, parse_requests(sys.stdin.read())))
        return 0
    if a.check:
        return check()
    if a.out.exists() and a.out == NLU_DIR:
        shutil.rmtree(a.out)
    generate(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
