"""Profile 3 (spec/nlu-profile-v3.md) model files for the C runtime's tagger tests (test_tagger.c)
and error tests (test_nlu.c's err_* scan), written with phq.writer.write and hand-made "phq.nlu"
metadata (no converter, no Python tagger):

  tg_kat.phq         §13's Viterbi vectors: labels O, B-a, I-a; template raw; rows per token; T[O][I-a] = -5
  tg_feat.phq        §13's feature-list templates (word_punct, strict)
  tg_attr.phq        shape, w, title, sshape on nonspace_runs tokens (§13 attribute vectors)
  tg_np / tg_replace / tg_ignore.phq   tokenizer nonspace_runs, decode_error replace / ignore
  tg_joint.phq       a classifier (profile 2 object) beside the tg_kat tagger
  tg_rand_<i>.phq    random small models (templates bias + raw, vocabulary t0..t7) for brute force
  err_<CODE>_tg_<why>.phq   one file per profile 3 error case of §8

    python gen_tagger_testdata.py OUTDIR   (also called by gen_nlu_testdata.py)
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np

import phq.writer

FEAT_TEMPLATES = ["bias", "bos", "eos", [["w", 0]], [["w", -1]], [["p2", 0]], [["s3", 0]], [["shape", 0]],
                  [["sshape", 0]], [["digit", 0]], [["upper", 0]], [["title", 0]], [["w", 0], ["w", 1]]]


def tagger(templates, labels, tokenizer="word_punct", decode="strict", **kw):
    d = {"tokenizer": tokenizer, "decode_error": decode, "templates": templates, "labels": labels, "scheme": "bio",
         "state_table": "state", "transitions": "trans", "estimator": "CRF",
         "source": {"library": "hand", "version": "0"}}
    d.update(kw)
    return d


def classifier(**kw):
    d = {"input": "text", "classes": ["greet", "play", "stop"], "classes_type": "str", "estimator": "LogisticRegression",
         "table": "scores", "intercept": "intercept", "proba": "softmax",
         "featurizers": [{"name": "text", "kind": "text", "key_prefix": "", "norm": None, "norm_table": None,
                          "weight": 1.0, "analyzer": "word", "ngram_range": [1, 1], "lowercase": True,
                          "strip_accents": None, "binary": False, "sublinear_tf": False, "decode_error": "strict",
                          "tokenizer": "word_runs_min1", "stop_words": None}],
         "source": {"library": "hand", "version": "0"}}
    d.update(kw)
    return d


def write(path: Path, tag, rows=None, trans=None, cls=None, trans_dtype=np.float32, outer=None, tables=None,
          tensors=None):
    meta = {"profile": 3, "unicode": "14.0.0", "classifier": cls, "tagger": tag}
    if outer:
        outer(meta)
    L = len(tag["labels"]) if isinstance(tag, dict) and isinstance(tag.get("labels"), list) else 1
    t = {} if tables is None else dict(tables)
    x = {} if tensors is None else dict(tensors)
    if tag is not None and tables is None:
        t["state"] = rows if rows is not None else {"bias": [0.0] * L}
        x["trans"] = np.asarray(trans if trans is not None else np.zeros((L, L)), dtype=trans_dtype)
    if cls is not None and tables is None:
        t["scores"] = {"play": [0.0, 2.0, -1.0], "stop": [0.0, -1.0, 2.5], "hello": [1.5, 0.0, 0.0]}
        x["intercept"] = np.array([0.25, 0.0, -0.25])
    phq.writer.write(path, t, tensors=x, metadata={"phq.nlu": meta}, quant="f32")


KAT_ROWS = {"raw=x1": [1, 0, 0], "raw=x2": [0, 2, 0], "raw=x3": [0, 0, 3], "raw=y1": [3, -9, -9], "raw=y2": [0, 0, 6],
            "raw=w1": [0, 1, 0], "raw=w2": [0, 0, 1]}
KAT_T = [[0, 0, -5], [0, 0, 0], [0, 0, 0]]


def gen(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    lab3 = ["O", "B-a", "I-a"]
    kat = tagger([[["raw", 0]]], lab3)
    write(out / "tg_kat.phq", kat, {k: [float(v) for v in r] for k, r in KAT_ROWS.items()}, KAT_T)
    write(out / "tg_feat.phq", tagger(FEAT_TEMPLATES, ["O"]))
    write(out / "tg_attr.phq", tagger([[["shape", 0]], [["w", 0]], [["title", 0]], [["sshape", 0]], [["raw", 0]]], ["O"],
                                      tokenizer="nonspace_runs"))
    write(out / "tg_np.phq", tagger(["bias"], ["O"], tokenizer="nonspace_runs"))
    write(out / "tg_replace.phq", tagger(["bias"], ["O"], decode="replace"))
    write(out / "tg_ignore.phq", tagger(["bias"], ["O"], decode="ignore"))
    write(out / "tg_joint.phq", kat, {k: [float(v) for v in r] for k, r in KAT_ROWS.items()}, KAT_T, cls=classifier())
    rng = np.random.default_rng(14)
    for i in range(30):
        L = int(rng.integers(1, 7))
        labels = ["O"] + [f"{'BI'[j % 2]}-s{j // 2}" for j in range(L - 1)]
        rows = {"bias": rng.normal(0, 1, L).astype(np.float32).tolist()}
        for v in range(8):
            rows[f"raw=t{v}"] = rng.normal(0, 2, L).astype(np.float32).tolist()
        trans = rng.normal(0, 1.5, (L, L))
        write(out / f"tg_rand_{i}.phq", tagger(["bias", [["raw", 0]]], labels), rows, trans,
              trans_dtype=np.float64 if i % 2 else np.float32)

    # ---- errors (§8), the expected code in the name
    def err(code, why, tag=None, cls=None, **kw):
        write(out / f"err_{code}_tg_{why}.phq", copy.deepcopy(kat) if tag is None else tag, cls=cls, **kw)

    def tg(**kw):
        d = copy.deepcopy(kat)
        d.update(kw)
        return d

    def drop(key):
        d = copy.deepcopy(kat)
        d.pop(key)
        return d

    err("E_NLU_VERSION", "unicode15", outer=lambda m: m.update(unicode="15.0.0"))
    err("E_NLU_VERSION", "unicode15_and_bad_tagger", tag=tg(scheme="bioes"), outer=lambda m: m.update(unicode="15.0.0"))
    err("E_NLU_SCHEMA", "outer_unknown", outer=lambda m: m.update(extra=1))
    err("E_NLU_SCHEMA", "outer_no_tagger", outer=lambda m: m.pop("tagger"))
    err("E_NLU_SCHEMA", "outer_no_classifier", outer=lambda m: m.pop("classifier"))
    err("E_NLU_SCHEMA", "outer_unicode_number", outer=lambda m: m.update(unicode=14))
    write(out / "err_E_NLU_SCHEMA_tg_both_null.phq", None, tables={"state": {"bias": [0.0]}},
          tensors={"trans": np.zeros((1, 1), np.float32)})
    err("E_NLU_SCHEMA", "tagger_not_object", outer=lambda m: m.update(tagger=[1]))
    err("E_NLU_SCHEMA", "classifier_not_object", outer=lambda m: m.update(classifier="x"))
    err("E_NLU_SCHEMA", "tagger_unknown", tag=tg(extra=1))
    for key in ("tokenizer", "decode_error", "templates", "labels", "scheme", "state_table", "transitions", "estimator", "source"):
        err("E_NLU_SCHEMA", f"no_{key}", tag=drop(key))
    err("E_NLU_SCHEMA", "tokenizer", tag=tg(tokenizer="word_runs_min1"))
    err("E_NLU_SCHEMA", "decode", tag=tg(decode_error="surrogateescape"))
    err("E_NLU_SCHEMA", "template_attr", tag=tg(templates=[[["p9", 0]]]))
    err("E_NLU_SCHEMA", "template_offset", tag=tg(templates=[[["w", 9]]]))
    err("E_NLU_SCHEMA", "template_offset_float", tag=tg(templates=[[["w", 1.0]]]))
    err("E_NLU_SCHEMA", "template_five", tag=tg(templates=[[["w", 0]] * 5]))
    err("E_NLU_SCHEMA", "template_empty", tag=tg(templates=[[]]))
    err("E_NLU_SCHEMA", "template_triple", tag=tg(templates=[[["w", 0, 1]]]))
    err("E_NLU_SCHEMA", "template_name", tag=tg(templates=["BIAS"]))
    err("E_NLU_SCHEMA", "template_repeated", tag=tg(templates=[[["w", 0], ["w", 1]], "bias", [["w", 0], ["w", 1]]]))
    err("E_NLU_SCHEMA", "templates_empty", tag=tg(templates=[]))
    err("E_NLU_SCHEMA", "templates_257", tag=tg(templates=["bias"] + [[["w", o], ["p1", p], ["s1", q]] for o in range(-8, 9)
                                                                       for p in range(-8, 9) for q in (0,)][:256]))
    err("E_NLU_SCHEMA", "labels_not_bio", tag=tg(labels=["O", "B-a", "X-a"]))
    err("E_NLU_SCHEMA", "labels_empty_slot", tag=tg(labels=["O", "B-", "I-a"]))
    err("E_NLU_SCHEMA", "labels_repeated", tag=tg(labels=["O", "B-a", "B-a"]))
    err("E_NLU_SCHEMA", "labels_number", tag=tg(labels=["O", "B-a", 3]))
    err("E_NLU_SCHEMA", "labels_empty", tag=tg(labels=[]))
    err("E_NLU_SCHEMA", "labels_1025", tag=tg(labels=["O"] + [f"B-s{i}" for i in range(1024)]))
    err("E_NLU_SCHEMA", "scheme", tag=tg(scheme="bioes"))
    err("E_NLU_SCHEMA", "state_table_number", tag=tg(state_table=1))
    err("E_NLU_SCHEMA", "source_string", tag=tg(source="x"))
    err("E_NLU_SCHEMA", "classifier_profile", cls=classifier(profile=2))
    err("E_NLU_SCHEMA", "classifier_unicode", cls=classifier(unicode="14.0.0"))
    err("E_NLU_SCHEMA", "classifier_dict_beside_tagger", cls=classifier(input="dict"))
    err("E_NLU_SCHEMA", "classifier_one_class", cls=classifier(classes=["greet"]))
    err("E_NLU_SCHEMA", "classifier_no_table", cls={k: v for k, v in classifier().items() if k != "table"})
    # REFERENCE: rows are checked after every schema row
    err("E_NLU_REFERENCE", "state_missing", tag=tg(state_table="nope"))
    err("E_NLU_REFERENCE", "state_dim", tag=tg(labels=["O", "B-a"]), rows={"bias": [0.0, 0.0, 0.0]}, trans=np.zeros((2, 2)))
    err("E_NLU_REFERENCE", "trans_missing", tag=tg(transitions="nope"))
    err("E_NLU_REFERENCE", "trans_shape", trans=np.zeros((3, 4)))
    err("E_NLU_REFERENCE", "trans_1d", trans=np.zeros(9))
    err("E_NLU_REFERENCE", "trans_dtype", trans=np.zeros((3, 3)), trans_dtype=np.int32)
    # (a non-finite transition: phq.writer.write refuses NaN/inf tensors, so no file is made here)
    err("E_NLU_REFERENCE", "classifier_intercept_missing", cls=classifier(intercept="nope"))
    # a name shared by the two parts: the tagger's state table is the classifier's score table (dim 3 = L)
    write(out / "err_E_NLU_REFERENCE_tg_shared_name.phq", tg(state_table="scores"), trans=KAT_T, cls=classifier())
    # UNSUPPORTED: a valid classifier-only profile 3 model with dict input (the C runtime reads text)
    d = classifier(input="dict")
    d["featurizers"] = [{"name": "f", "kind": "dict", "key_prefix": "", "norm": None, "norm_table": None,
                         "weight": 1.0, "separator": "="}]
    write(out / "err_E_NLU_UNSUPPORTED_tg_dict_classifier.phq", None, cls=d)


if __name__ == "__main__":
    gen(Path(sys.argv[1]))
