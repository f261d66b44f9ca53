"""Generate NLU model files (spec/nlu-profile-v2.md) for the C runtime's unit tests and fuzz seeds.

    python gen_nlu_testdata.py OUTDIR

The "phq.nlu" metadata is built by hand from the spec (§2), not by the converter, and every
expected answer is derived here by hand from the spec's rules (no featurizer is run):

  vectors.phq        one featurizer per known-answer vector of §14 (+ derived cases); terms
                     checked by test_nlu.c against tables written there
  score.phq          word [1, 2] + l2 norm with idf: decision values computed below in the §8.1
                     order from hand-listed terms (score.expect: one line per text)
  multi.phq          word + char_wb featurizers with prefixes, sublinear_tf, l1 norm, dim-0 norm
  binary.phq         two classes (k = 1), logistic probabilities, int labels
  softmax.phq        three classes, softmax, float labels; modified_huber.phq, bool labels
  v1.phq             a profile 1 file (token_pattern, encoding; §12)
  big.phq            150 classes x 20,000 terms: memory per open model
  err_<CODE>_<why>.phq  one file per profile error (§9), expected code in the name
"""
from __future__ import annotations

import copy
import math
import struct
import sys
from pathlib import Path

import numpy as np

import phq.writer

US = "\u001f"


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def text_feat(name="text", prefix="", **kw):
    d = {
        "name": name, "kind": "text", "key_prefix": prefix, "norm": None, "norm_table": None,
        "weight": 1.0, "analyzer": "word", "ngram_range": [1, 1], "lowercase": True,
        "strip_accents": None, "binary": False, "sublinear_tf": False, "decode_error": "strict",
        "tokenizer": "word_runs_min2", "stop_words": None,
    }
    d.update(kw)
    return d


def nlu_meta(featurizers, classes=("a", "b", "c"), classes_type="str", proba=None, **kw):
    d = {
        "profile": 2, "unicode": "14.0.0", "input": "text", "classes": list(classes),
        "classes_type": classes_type, "estimator": "LogisticRegression", "table": "scores",
        "intercept": "intercept", "proba": proba, "featurizers": featurizers,
        "source": {"library": "hand", "version": "0", "pipeline": "gen_nlu_testdata.py"},
    }
    d.update(kw)
    return d


def write_model(path: Path, meta: dict, score_rows: dict, k: int, intercept, norm_tables=None,
                intercept_dtype=np.float64, quant="f32", extra_tensors=None, extra_meta=None):
    tables = {"scores": {key: list(v) for key, v in score_rows.items()} if score_rows else ([], np.zeros((0, k), np.float32))}
    for name, spec in (norm_tables or {}).items():
        tables[name] = spec
    tensors = {"intercept": np.asarray(intercept, dtype=intercept_dtype)}
    tensors.update(extra_tensors or {})
    md = {"phq.nlu": meta}
    md.update(extra_meta or {})
    phq.writer.write(path, tables, tensors=tensors, metadata=md, quant=quant)


# ---- §14 known-answer vectors (+ derived cases), one featurizer each --------------------------
# (name, settings, text (str, or bytes), expected terms). Expected terms follow the spec's rules;
# where they differ from the table of §14 the comment says why (see the report).
VECTORS = [
    ("min2", dict(tokenizer="word_runs_min2"), "Play THE Beatles, a song", ["play", "the", "beatles", "song"]),
    ("min1", dict(tokenizer="word_runs_min1"), "a b_c 3", ["a", "b_c", "3"]),
    ("nonspace", dict(tokenizer="nonspace_runs", lowercase=False), "hi,\u3000there!\u00a0x", ["hi,", "there!", "x"]),
    ("stop", dict(ngram_range=[1, 2], stop_words=["the"]), "play the beatles", ["play", "beatles", "play beatles"]),
    ("sigma", dict(), "ΟΔΟΣ ΣΑ", ["οδος", "σα"]),
    # §14 lists "i\u0307stanbul" for "word, lowercase": U+0307 is not a word character (word.txt),
    # so word_runs_min2 splits it ("i" is then too short); nonspace_runs gives the table's answer.
    ("dotted_i_min2", dict(), "İstanbul", ["stanbul"]),
    ("dotted_i_nonspace", dict(tokenizer="nonspace_runs"), "İstanbul", ["i\u0307stanbul"]),
    ("strip_unicode", dict(strip_accents="unicode"), "İstanbul Ærø ﬁne", ["istanbul", "ærø", "fine"]),
    # §14 lists only "cafe": "ascii" removes U+2044 before tokenizing (§5.2 then §6), so "½" gives
    # the token "12"; "ŀ" gives "l" (U+00B7 removed), too short for word_runs_min2.
    ("strip_ascii", dict(strip_accents="ascii", lowercase=False), "café ½ ŀ", ["cafe", "12"]),
    ("char", dict(analyzer="char", ngram_range=[2, 3], lowercase=False, tokenizer=None), "ab  c",
     ["ab", "b ", " c", "ab ", "b c"]),
    ("char_wb", dict(analyzer="char_wb", ngram_range=[2, 3], tokenizer=None), "ab c",
     [" a", "ab", "b ", " ab", "ab ", " c", "c ", " c "]),
    ("replace", dict(decode_error="replace"), b"ab\xffcd", ["ab", "cd"]),
    # derived cases
    ("ignore", dict(decode_error="ignore"), b"ab\xffcd", ["abcd"]),
    ("replace_char", dict(decode_error="replace", analyzer="char", tokenizer=None, lowercase=False),
     b"a\xe0\x80b\xf0\x9f\x98", ["a", "\ufffd", "b"]),
    ("final_sigma_ignorable", dict(tokenizer="nonspace_runs"), "ΑΣ'Σ' Σ.'Σ",
     ["ασ'ς'", "σ.'ς"]),
    ("hangul", dict(strip_accents="unicode", tokenizer="word_runs_min1", lowercase=False), "한글 가",
     ["\u1112\u1161\u11ab\u1100\u1173\u11af", "\u1100\u1161"]),
    ("char_wb_long", dict(analyzer="char_wb", ngram_range=[1, 5], tokenizer=None, lowercase=False), "ab",
     [" ", "a", "b", " a", "ab", "b ", " ab", "ab ", " ab "]),
    ("char_ws", dict(analyzer="char", ngram_range=[1, 1], lowercase=False, tokenizer=None), "a\tb \t\u3000c",
     ["a", "\t", "b", " ", "c"]),
    ("binary_dups", dict(binary=True, tokenizer="word_runs_min1"), "x y x x", ["x", "y"]),
    ("sublinear", dict(sublinear_tf=True, tokenizer="word_runs_min1"), "x y x x", ["x", "y"]),
    ("ngram_lo2", dict(ngram_range=[2, 3], tokenizer="word_runs_min1"), "a b c a b",
     ["a b", "b c", "c a", "a b c", "b c a", "c a b"]),
    ("bom_nul", dict(tokenizer="nonspace_runs", lowercase=False), "\ufeffab\x00c d", ["\ufeffab\x00c", "d"]),
]


def gen_vectors(out: Path) -> None:
    feats = []
    lines = []
    for i, (name, kw, text, terms) in enumerate(VECTORS):
        feats.append(text_feat(name=name, prefix=name + US, **kw))
        tb = text if isinstance(text, bytes) else text.encode("utf-8")
        lines.append(f"{i} {tb.hex() or '-'} " + " ".join(t.encode("utf-8").hex() or "-" for t in terms))
    meta = nlu_meta(feats)
    write_model(out / "vectors.phq", meta, {"play": [1.0, 0.0, 0.0]}, 3, [0.0, 0.0, 0.0])
    (out / "vectors.expect").write_text("\n".join(lines) + "\n")


# ---- scoring: expected values computed here in the §8.1/§8.2 order -----------------------------

def gen_score(out: Path) -> None:
    W = {
        "play": [1.5, -0.25, 0.125], "beatles": [0.75, 2.0, -1.0], "play the": [0.5, 0.5, 0.5],
        "the beatles": [-0.5, 1.25, 3.0], "song": [-2.0, 0.0, 1.0], "rain": [0.0, -3.0, 2.5],
    }
    idf = {"play": 1.25, "the": 1.0, "beatles": 2.0, "play the": 1.5, "the beatles": 1.75,
           "beatles play": 1.125, "song": 1.5, "rain": 2.25}
    intercept = [0.1, -0.2, 0.3]
    feat = text_feat(ngram_range=[1, 2], norm="l2", norm_table="idf")
    meta = nlu_meta([feat], proba="softmax")
    write_model(out / "score.phq", meta, W, 3, intercept,
                norm_tables={"idf": ({k: [v] for k, v in idf.items()})})
    # texts with their distinct terms and counts in first-occurrence order, listed by hand
    cases = [
        ("play the beatles play", [("play", 2), ("the", 1), ("beatles", 1), ("play the", 1),
                                    ("the beatles", 1), ("beatles play", 1)]),
        ("", []),
        ("rain rain song unknown", [("rain", 2), ("song", 1), ("unknown", 1), ("rain rain", 1),
                                     ("rain song", 1), ("song unknown", 1)]),
    ]
    lines = []
    for text, terms in cases:
        V = [(t, c) for t, c in terms if t in idf]
        N = 0.0
        for t, c in V:
            x = float(c) * f32(idf[t])
            N = N + x * x
        N = math.sqrt(N)
        s = 1.0 / N if N > 0 else 0.0
        score = [float(np.float64(v)) for v in intercept]
        partial = [0.0, 0.0, 0.0]
        for t, c in V:
            if t not in W:
                continue
            u = float(c) * s
            for j in range(3):
                partial[j] = partial[j] + u * f32(W[t][j])
        score = [score[j] + partial[j] for j in range(3)]
        lines.append(text.encode().hex() + " " + " ".join(v.hex() for v in score))
    (out / "score.expect").write_text("\n".join(lines) + "\n")


def gen_others(out: Path) -> None:
    # two featurizers, l1 norm with a dim-0 norm table, sublinear tf, char_wb
    fw = text_feat(name="w", prefix="w" + US, tokenizer="word_runs_min1", sublinear_tf=True)
    fc = text_feat(name="c", prefix="c" + US, analyzer="char_wb", ngram_range=[2, 3], tokenizer=None,
                   norm="l1", norm_table="cnorm")
    meta = nlu_meta([fw, fc], classes=["x", "y", "z", "w"])
    W = {"w" + US + "hello": [1.0, 2.0, 3.0, 4.0], "c" + US + " h": [0.5, 0.25, 0.125, 1.0],
         "c" + US + "lo ": [-1.0, 0.0, 1.0, 0.5]}
    write_model(out / "multi.phq", meta, W, 4, [0.0, 0.0, 0.0, 0.0],
                norm_tables={"cnorm": ([" h", "he", "lo ", "el", "ll"], np.zeros((5, 0), np.float32))},
                intercept_dtype=np.float32)
    # binary model: k = 1, int labels, logistic
    meta = nlu_meta([text_feat()], classes=[-3, 7], classes_type="int", proba="logistic")
    write_model(out / "binary.phq", meta, {"good": [2.0], "bad": [-3.0]}, 1, [0.25])
    meta = nlu_meta([text_feat()], classes=[0.5, 1.0, -2.5], classes_type="float", proba="softmax")
    write_model(out / "softmax.phq", meta, {"good": [2.0, 0.0, -1.0]}, 3, [0.0, 0.0, 0.0])
    meta = nlu_meta([text_feat()], classes=[False, True], classes_type="bool", proba="modified_huber")
    write_model(out / "modified_huber.phq", meta, {"good": [0.5]}, 1, [-0.25])
    # labels with escapes
    meta = nlu_meta([text_feat()], classes=["a\"b", "tab\there", "é\u0001", "\U0001F600"])
    write_model(out / "labels.phq", meta, {"x": [1.0, 0, 0, 0]}, 4, [0, 0, 0, 0])
    # profile 1
    f1 = text_feat(tokenizer=None)
    del f1["tokenizer"]
    f1["token_pattern"] = "(?u)\\b\\w\\w+\\b"
    f1["encoding"] = "UTF-8"
    m1 = nlu_meta([f1])
    m1["profile"] = 1
    del m1["unicode"]
    write_model(out / "v1.phq", m1, {"play": [1.0, 0.0, -1.0]}, 3, [0.0, 0.5, 0.0])
    # a realistic size: 150 classes, 20,000 terms, linear8, word [1, 2] + idf norm
    rng = np.random.default_rng(1)
    K = 150
    vocab = [f"term{i}" for i in range(20000)]
    rows = rng.normal(0, 1, (len(vocab), K)).astype(np.float32)
    meta = nlu_meta([text_feat(ngram_range=[1, 2], norm="l2", norm_table="idf", stop_words=["the", "a", "an"])],
                    classes=[f"intent_{i}" for i in range(K)])
    tables = {"scores": (vocab, rows), "idf": (vocab, rng.uniform(1, 5, (len(vocab), 1)).astype(np.float32))}
    phq.writer.write(out / "big.phq", tables, tensors={"intercept": np.zeros(K)}, metadata={"phq.nlu": meta},
                     quant="linear8")


# ---- profile errors ----------------------------------------------------------------------------

def gen_errors(out: Path) -> None:
    base = nlu_meta([text_feat()])
    W = {"play": [1.0, 0.0, 0.0]}

    def err(code: str, why: str, mutate=None, meta=None, **kw):
        m = copy.deepcopy(base) if meta is None else meta
        if mutate:
            mutate(m)
        args = dict(score_rows=W, k=3, intercept=[0.0, 0.0, 0.0])
        args.update(kw)
        write_model(out / f"err_{code}_{why}.phq", m, args.pop("score_rows"), args.pop("k"), args.pop("intercept"),
                    **args)

    def f0(m):
        return m["featurizers"][0]

    # MISSING
    phq.writer.write(out / "err_E_NLU_MISSING_nometa.phq", {"scores": {"a": [1.0]}})
    phq.writer.write(out / "err_E_NLU_MISSING_other.phq", {"scores": {"a": [1.0]}}, metadata={"labels": ["x"]})
    # VERSION (and VERSION wins over a schema error elsewhere)
    err("E_NLU_VERSION", "profile4", lambda m: m.update(profile=4))
    err("E_NLU_VERSION", "profile0", lambda m: m.update(profile=0))
    err("E_NLU_VERSION", "unicode15", lambda m: m.update(unicode="15.0.0"))
    err("E_NLU_VERSION", "profile4_and_unknown", lambda m: m.update(profile=4, bogus=1))
    # SCHEMA
    phq.writer.write(out / "err_E_NLU_SCHEMA_notobject.phq", {"scores": {"a": [1.0]}}, metadata={"phq.nlu": [1]})
    err("E_NLU_SCHEMA", "profile_string", lambda m: m.update(profile="2"))
    err("E_NLU_SCHEMA", "profile_float", lambda m: m.update(profile=2.5))
    err("E_NLU_SCHEMA", "no_profile", lambda m: m.pop("profile"))
    err("E_NLU_SCHEMA", "no_unicode", lambda m: m.pop("unicode"))
    err("E_NLU_SCHEMA", "unicode_number", lambda m: m.update(unicode=14))
    err("E_NLU_SCHEMA", "unknown_member", lambda m: m.update(extra=True))
    for member in ["input", "classes", "classes_type", "estimator", "table", "intercept", "proba", "featurizers", "source"]:
        err("E_NLU_SCHEMA", f"missing_{member}", lambda m, member=member: m.pop(member))
    err("E_NLU_SCHEMA", "input_bad", lambda m: m.update(input="image"))
    err("E_NLU_SCHEMA", "one_class", lambda m: m.update(classes=["a"]), score_rows={"play": [1.0]}, k=1, intercept=[0.0])
    err("E_NLU_SCHEMA", "dup_labels", lambda m: m.update(classes=["a", "b", "a"]))
    err("E_NLU_SCHEMA", "dup_float_labels", lambda m: m.update(classes=[1, 2.0, 1.0], classes_type="float"))
    err("E_NLU_SCHEMA", "float_label_inf", lambda m: m.update(classes=[1, 2.0, 10**400], classes_type="float"))
    err("E_NLU_SCHEMA", "int_label_fraction", lambda m: m.update(classes=[1, 2, 3.5], classes_type="int"))
    err("E_NLU_SCHEMA", "int_label_overflow", lambda m: m.update(classes=[1, 2, 2**63], classes_type="int"))
    err("E_NLU_SCHEMA", "label_type", lambda m: m.update(classes=["a", "b", 3]))
    err("E_NLU_SCHEMA", "classes_type_bad", lambda m: m.update(classes_type="complex"))
    err("E_NLU_SCHEMA", "softmax_two", lambda m: m.update(classes=["a", "b"], proba="softmax"),
        score_rows={"play": [1.0]}, k=1, intercept=[0.0])
    err("E_NLU_SCHEMA", "proba_bad", lambda m: m.update(proba="sigmoid"))
    err("E_NLU_SCHEMA", "estimator_number", lambda m: m.update(estimator=1))
    err("E_NLU_SCHEMA", "source_string", lambda m: m.update(source="sklearn"))
    err("E_NLU_SCHEMA", "no_featurizers", lambda m: m.update(featurizers=[]))
    err("E_NLU_SCHEMA", "65_featurizers", lambda m: m.update(
        featurizers=[text_feat(name=f"f{i}", prefix=f"f{i}" + US) for i in range(65)]))
    err("E_NLU_SCHEMA", "dup_prefix", lambda m: m.update(featurizers=[text_feat(name="a", prefix="p"), text_feat(name="b", prefix="p")]))
    err("E_NLU_SCHEMA", "prefix_long", lambda m: f0(m).update(key_prefix="x" * 1025))
    err("E_NLU_SCHEMA", "feat_unknown", lambda m: f0(m).update(token_pattern="\\w+"))
    err("E_NLU_SCHEMA", "feat_missing_binary", lambda m: f0(m).pop("binary"))
    err("E_NLU_SCHEMA", "kind_dict_for_text", lambda m: m["featurizers"].__setitem__(0, {
        "name": "d", "kind": "dict", "key_prefix": "", "norm": None, "norm_table": None, "weight": 1.0, "separator": "="}))
    err("E_NLU_SCHEMA", "analyzer_bad", lambda m: f0(m).update(analyzer="regex"))
    err("E_NLU_SCHEMA", "ngram_lo0", lambda m: f0(m).update(ngram_range=[0, 1]))
    err("E_NLU_SCHEMA", "ngram_span16", lambda m: f0(m).update(ngram_range=[1, 17]))
    err("E_NLU_SCHEMA", "ngram_hi65", lambda m: f0(m).update(ngram_range=[60, 65]))
    err("E_NLU_SCHEMA", "ngram_three", lambda m: f0(m).update(ngram_range=[1, 2, 3]))
    err("E_NLU_SCHEMA", "ngram_float", lambda m: f0(m).update(ngram_range=[1.0, 2]))
    err("E_NLU_SCHEMA", "lowercase_int", lambda m: f0(m).update(lowercase=1))
    err("E_NLU_SCHEMA", "strip_bad", lambda m: f0(m).update(strip_accents="all"))
    err("E_NLU_SCHEMA", "decode_bad", lambda m: f0(m).update(decode_error="surrogateescape"))
    err("E_NLU_SCHEMA", "tokenizer_bad", lambda m: f0(m).update(tokenizer="(?u)\\b\\w\\w+\\b"))
    err("E_NLU_SCHEMA", "tokenizer_for_char", lambda m: f0(m).update(analyzer="char"))
    err("E_NLU_SCHEMA", "stop_words_for_char", lambda m: f0(m).update(analyzer="char", tokenizer=None, stop_words=["a"]))
    err("E_NLU_SCHEMA", "stop_words_number", lambda m: f0(m).update(stop_words=["a", 1]))
    err("E_NLU_SCHEMA", "stop_words_65537", lambda m: f0(m).update(stop_words=["w%d" % i for i in range(65537)]))
    err("E_NLU_SCHEMA", "norm_bad", lambda m: f0(m).update(norm="max"))
    err("E_NLU_SCHEMA", "norm_without_table", lambda m: f0(m).update(norm="l2"))
    err("E_NLU_SCHEMA", "table_without_norm", lambda m: f0(m).update(norm_table="idf"))
    err("E_NLU_SCHEMA", "weight_string", lambda m: f0(m).update(weight="1"))
    err("E_NLU_SCHEMA", "65537_classes", lambda m: m.update(classes=[f"c{i}" for i in range(65537)]),
        score_rows={"play": [0.0] * 65537}, k=65537, intercept=[0.0] * 65537)

    def v1(m):
        m["profile"] = 1
        del m["unicode"]
        f = f0(m)
        del f["tokenizer"]
        f["token_pattern"] = "(?u)\\b\\w\\w+\\b"
        f["encoding"] = "utf-8"

    err("E_NLU_SCHEMA", "v1_pattern", lambda m: (v1(m), f0(m).update(token_pattern="[a-z]+")))
    err("E_NLU_SCHEMA", "v1_encoding", lambda m: (v1(m), f0(m).update(encoding="latin-1")))
    err("E_NLU_SCHEMA", "v1_unicode_member", lambda m: (v1(m), m.update(unicode="14.0.0")))
    err("E_NLU_SCHEMA", "v2_token_pattern", lambda m: f0(m).update(token_pattern="(?u)\\b\\w\\w+\\b", encoding="utf-8"))
    # SCHEMA wins over REFERENCE
    err("E_NLU_SCHEMA", "and_missing_table", lambda m: m.update(table="nope", extra=1))
    # REFERENCE
    err("E_NLU_REFERENCE", "no_table", lambda m: m.update(table="nope"))
    err("E_NLU_REFERENCE", "dim", None, score_rows={"play": [1.0, 2.0]}, k=2)
    err("E_NLU_REFERENCE", "no_norm_table", lambda m: f0(m).update(norm="l2", norm_table="idf"))
    err("E_NLU_REFERENCE", "norm_dim2", lambda m: f0(m).update(norm="l2", norm_table="idf"),
        norm_tables={"idf": {"play": [1.0, 2.0]}})
    err("E_NLU_REFERENCE", "no_intercept", lambda m: m.update(intercept="bias"))
    err("E_NLU_REFERENCE", "intercept_i32", None, intercept_dtype=np.int32)
    err("E_NLU_REFERENCE", "intercept_shape", None, intercept=[0.0, 0.0])
    err("E_NLU_REFERENCE", "intercept_2d", None, intercept=[[0.0, 0.0, 0.0]])
    # UNSUPPORTED (a valid dict model)
    d = nlu_meta([{"name": "dict", "kind": "dict", "key_prefix": "", "norm": None, "norm_table": None,
                   "weight": 1.0, "separator": "="}], input="dict")
    err("E_NLU_UNSUPPORTED", "dict", meta=d)
    # REFERENCE wins over UNSUPPORTED
    d2 = copy.deepcopy(d)
    d2["table"] = "nope"
    err("E_NLU_REFERENCE", "dict_no_table", meta=d2)


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    gen_vectors(out)
    gen_score(out)
    gen_others(out)
    gen_errors(out)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import gen_tagger_testdata

    gen_tagger_testdata.gen(out)


if __name__ == "__main__":
    main()
