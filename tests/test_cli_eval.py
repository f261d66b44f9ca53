"""`phq convert`, `phq eval` and `phq diff --texts` on real CLINC150 models (issue 16's acceptance):
figures equal to the ones computed by hand (scikit-learn's metrics where they exist), exit
codes 0 / 1 / 2, JSON that parses, text output escaped, no traceback.

The models are small: LinearSVC on tf-idf, trained on 15 of the 150 intents (1,500 training
utterances, 450 test utterances) once per session. Skipped when CLINC150 is not beside the
checkout (../shared/data/clinc150/data_full.json)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import phq.nlu
import phq.writer
from conftest import ROOT
from phq.cli import main

DATA = ROOT.parent / "shared" / "data" / "clinc150" / "data_full.json"
pytestmark = [
    pytest.mark.skipif(not DATA.exists(), reason=f"CLINC150 not found at {DATA}"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]
pytest.importorskip("sklearn")
joblib = pytest.importorskip("joblib")
INTENTS = 15


class Clinc:
    """Paths of the session's CLINC150 subset models and data files."""


@pytest.fixture(scope="session")
def clinc(tmp_path_factory):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    d = json.loads(DATA.read_text(encoding="utf-8"))
    keep = sorted({lab for _, lab in d["train"]})[:INTENTS]
    train = [p for p in d["train"] if p[1] in keep]
    test = [p for p in d["test"] if p[1] in keep]
    c = Clinc()
    c.dir = tmp_path_factory.mktemp("clinc")
    c.Xtr, c.ytr = [x for x, _ in train], [y for _, y in train]
    c.Xte, c.yte = [x for x, _ in test], [y for _, y in test]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c.pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LinearSVC(C=1.0, random_state=0)).fit(c.Xtr, c.ytr)
        ids = {lab: i for i, lab in enumerate(keep)}
        c.int_pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LinearSVC(random_state=0)).fit(c.Xtr, [ids[y] for y in c.ytr])
    c.ids = ids
    c.joblib = c.dir / "svc.joblib"
    joblib.dump(c.pipe, c.joblib)
    c.f32 = c.dir / "f32.phq"
    phq.writer.from_sklearn(c.pipe, c.f32, quant="f32")
    c.coarse = c.dir / "coarse.phq"  # 4-bit, one scale, no fingerprints: predictions change
    phq.writer.from_sklearn(c.pipe, c.coarse, quant="linear4", scale="table", fingerprint_bits=0)
    c.int_joblib = c.dir / "int.joblib"
    joblib.dump(c.int_pipe, c.int_joblib)
    c.int_phq = c.dir / "int.phq"
    phq.writer.from_sklearn(c.int_pipe, c.int_phq)
    c.tsv = c.dir / "test.tsv"
    c.tsv.write_text("".join(f"{x}\t{y}\n" for x, y in test), encoding="utf-8")
    c.jsonl = c.dir / "test.jsonl"
    c.jsonl.write_text("".join(json.dumps({"text": x, "label": y, "id": i}) + "\n" for i, (x, y) in enumerate(test)), encoding="utf-8")
    c.int_tsv = c.dir / "int.tsv"
    c.int_tsv.write_text("".join(f"{x}\t{ids[y]}\n" for x, y in test), encoding="utf-8")
    c.texts = c.dir / "texts.txt"
    c.texts.write_text("".join(x + "\n" for x in c.Xte), encoding="utf-8")
    c.labels = c.dir / "labels.txt"
    c.labels.write_text("".join(y + "\n" for y in c.yte), encoding="utf-8")
    return c


def run(capsys, *argv):
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err, err
    return code, out, err


# -- phq convert -----------------------------------------------------------------------------------

def test_convert_prints_the_report_and_writes_the_file(clinc, capsys, tmp_path):
    out_path = tmp_path / "m.phq"
    code, out, _ = run(capsys, "convert", clinc.joblib, "-o", out_path)
    assert code == 0 and out_path.exists()
    assert out.startswith(f"wrote {out_path}: {out_path.stat().st_size:,} bytes (quant linear8")
    assert "probe texts: 1,012 (generated)" in out and "agreement with scikit-learn:" in out
    with phq.nlu.load(out_path) as clf:
        assert (clf.predict(clinc.Xte) == clinc.pipe.predict(clinc.Xte)).mean() > 0.99


def test_convert_json_with_labelled_data_matches_scikit_learn(clinc, capsys, tmp_path):
    for extra in (["--data", clinc.tsv], ["--data", clinc.jsonl], ["--texts", clinc.texts, "--labels", clinc.labels]):
        out_path = tmp_path / "m.phq"
        code, out, _ = run(capsys, "convert", clinc.joblib, "-o", out_path, "--quant", "linear4", "--fingerprint-bits", "8", "--json", *extra)
        assert code == 0
        r = json.loads(out)
        assert r["written"] and r["bytes"] == out_path.stat().st_size and r["texts_source"] == "given"
        assert r["n_texts"] == r["n_labels"] == len(clinc.Xte)
        assert r["setting_quant"] == "linear4" and r["setting_fingerprint_bits"] == 8
        assert r["accuracy_before"] == pytest.approx(clinc.pipe.score(clinc.Xte, clinc.yte), abs=0)
        with phq.nlu.load(out_path) as clf:
            ours = clf.predict(clinc.Xte)
        assert r["accuracy_after"] == pytest.approx(float((ours == np.asarray(clinc.yte)).mean()), abs=0)
        assert r["agreement"] == pytest.approx(float((ours == clinc.pipe.predict(clinc.Xte)).mean()), abs=0)
        assert all(not isinstance(v, (dict, list)) for v in r.values())  # flat


def test_convert_min_agreement_exits_1_and_writes_nothing(clinc, capsys, tmp_path):
    opts = ["--quant", "linear4", "--scale", "table", "--fingerprint-bits", "0", "--data", clinc.tsv]
    code, out, _ = run(capsys, "convert", clinc.joblib, "-o", tmp_path / "probe.phq", "--json", *opts)
    found = json.loads(out)["agreement"]
    assert code == 0 and found < 1.0
    out_path = tmp_path / "m.phq"
    code, out, err = run(capsys, "convert", clinc.joblib, "-o", out_path, "--min-agreement", "1.0", *opts)
    assert code == 1 and not out_path.exists() and phq.writer.stale_temp_files(out_path) == []
    assert out.startswith(f"refused (not written) {out_path}") and "NOT met" in out
    assert f"agreement {100 * found:.2f}%" in err and "below min_agreement 100.00%" in err
    code, out, err = run(capsys, "convert", clinc.joblib, "-o", out_path, "--min-agreement", str(found), "--json", *opts)
    assert code == 0 and out_path.exists() and json.loads(out)["min_agreement"] == found


def test_convert_usage_errors_exit_2_cleanly(clinc, capsys, tmp_path):
    out_path = tmp_path / "m.phq"
    cases = [
        (["--min-agreement", "2"], "min_agreement must be a number in [0, 1]"),
        (["--labels", clinc.labels], "--labels needs --texts"),
        (["--data", clinc.tsv, "--texts", clinc.texts], "--data gives texts and labels"),
    ]
    for extra, message in cases:
        code, _, err = run(capsys, "convert", clinc.joblib, "-o", out_path, *extra)
        assert code == 2 and message in err, (extra, err)
        assert not out_path.exists()
    short = tmp_path / "short.txt"
    short.write_text("a\nb\n")
    code, _, err = run(capsys, "convert", clinc.joblib, "-o", out_path, "--texts", clinc.texts, "--labels", short)
    assert code == 2 and f"has 2 lines for {len(clinc.Xte)} texts" in err
    notjoblib = tmp_path / "model.joblib"
    notjoblib.write_bytes(b"not a pickle at all")
    code, _, err = run(capsys, "convert", notjoblib, "-o", out_path)
    assert code == 2 and "cannot load it with joblib" in err
    code, _, err = run(capsys, "convert", tmp_path / "missing.joblib", "-o", out_path)
    assert code == 2 and "missing.joblib" in err
    joblib.dump({"not": "a model"}, tmp_path / "dict.joblib")
    code, _, err = run(capsys, "convert", tmp_path / "dict.joblib", "-o", out_path)
    assert code == 2 and "from_sklearn needs a Pipeline" in err
    code, _, err = run(capsys, "convert", clinc.joblib, "-o", clinc.joblib)
    assert code == 2 and "is the model being converted" in err
    assert not out_path.exists()


def test_convert_max_bytes_is_passed_to_from_sklearn(clinc, capsys, tmp_path):
    """--max-bytes N is from_sklearn(max_bytes=N): a size search where phq.writer has one (the file
    is then within N bytes); where it has none, a clean usage error naming the option."""
    out_path = tmp_path / "m.phq"
    code, out, err = run(capsys, "convert", clinc.joblib, "-o", out_path, "--max-bytes", "60000")
    if code == 0:
        assert out_path.stat().st_size <= 60000
    else:
        assert code == 2 and "max_bytes" in err and not out_path.exists()


# -- phq eval --------------------------------------------------------------------------------------

def test_eval_figures_equal_scikit_learn_metrics(clinc, capsys):
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    code, out, _ = run(capsys, "eval", clinc.coarse, "--data", clinc.tsv, "--json", "--confusions", "3")
    assert code == 0
    r = json.loads(out)
    with phq.nlu.load(clinc.coarse) as clf:
        pred = list(clf.predict(clinc.Xte))
        classes = list(clf.classes_)
    assert r["n"] == len(clinc.yte) and r["format"] == "tsv" and r["classes_type"] == "str"
    assert r["accuracy"] == pytest.approx(accuracy_score(clinc.yte, pred), abs=1e-15)
    assert r["macro_f1"] == pytest.approx(f1_score(clinc.yte, pred, average="macro"), abs=1e-12)
    labels = [row["label"] for row in r["classes"]]
    p, rc, f, s = precision_recall_fscore_support(clinc.yte, pred, labels=labels, zero_division=0)
    np.testing.assert_allclose([row["precision"] for row in r["classes"]], p, atol=1e-12)
    np.testing.assert_allclose([row["recall"] for row in r["classes"]], rc, atol=1e-12)
    np.testing.assert_allclose([row["f1"] for row in r["classes"]], f, atol=1e-12)
    assert [row["support"] for row in r["classes"]] == s.tolist()
    assert labels == [c for c in classes if c in set(clinc.yte) | set(pred)]
    pairs = {}
    for g, q in zip(clinc.yte, pred):
        if g != q:
            pairs[(g, q)] = pairs.get((g, q), 0) + 1
    assert r["confused_pairs"] == len(pairs) > 3 and len(r["confused"]) == 3
    counts = [c["count"] for c in r["confused"]]
    assert counts == sorted(pairs.values(), reverse=True)[:3]
    assert all(pairs[(c["gold"], c["predicted"])] == c["count"] for c in r["confused"])
    assert r["reference"] is None and r["unknown_labels"] == []
    # the same figures from JSONL, and in the text report
    code, out, _ = run(capsys, "eval", clinc.coarse, "--data", clinc.jsonl, "--json", "--confusions", "3")
    assert code == 0 and {k: v for k, v in json.loads(out).items() if k not in ("data", "format")} == {k: v for k, v in r.items() if k not in ("data", "format")}
    code, out, _ = run(capsys, "eval", clinc.coarse, "--data", clinc.tsv)
    assert code == 0 and f"accuracy {100 * r['accuracy']:.2f}%" in out and f"macro-F1 {100 * r['macro_f1']:.2f}%" in out
    assert "most confused" in out and f"{r['confused'][0]['gold']} -> {r['confused'][0]['predicted']}: {r['confused'][0]['count']}" in out


def test_eval_reference_adds_agreement(clinc, capsys):
    with phq.nlu.load(clinc.coarse) as clf:
        ours = clf.predict(clinc.Xte)
    theirs = clinc.pipe.predict(clinc.Xte)
    for ref in (clinc.joblib, clinc.f32):  # a joblib pipeline, and a phq file with the same answers
        code, out, _ = run(capsys, "eval", clinc.coarse, "--data", clinc.tsv, "--reference", ref, "--json")
        assert code == 0
        r = json.loads(out)["reference"]
        assert r["kind"] == ("joblib" if ref == clinc.joblib else "phq")
        assert r["agreement"] == pytest.approx(float((ours == theirs).mean()), abs=1e-15) and r["agreement"] < 1
        assert r["n_disagree"] == int((ours != theirs).sum())
        assert r["accuracy"] == pytest.approx(clinc.pipe.score(clinc.Xte, clinc.yte), abs=1e-15)
    code, out, _ = run(capsys, "eval", clinc.coarse, "--data", clinc.tsv, "--reference", clinc.joblib)
    assert code == 0 and "agreement" in out.splitlines()[2]


def test_eval_int_labels_parse_by_the_models_classes_type(clinc, capsys):
    code, out, _ = run(capsys, "eval", clinc.int_phq, "--data", clinc.int_tsv, "--json")
    assert code == 0
    r = json.loads(out)
    assert r["classes_type"] == "int" and r["unknown_labels"] == []
    assert all(isinstance(row["label"], int) for row in r["classes"])
    y = [clinc.ids[v] for v in clinc.yte]
    assert r["accuracy"] == pytest.approx(clinc.int_pipe.score(clinc.Xte, y), abs=0.005)  # linear8: within a few texts
    # string labels for a model of int labels: a usage error naming the line
    code, _, err = run(capsys, "eval", clinc.int_phq, "--data", clinc.tsv)
    assert code == 2 and f"{clinc.tsv}:1: label" in err and "this model's labels are ints" in err
    # phq convert reads labels the same way, by the pipeline's classes
    code, out, _ = run(capsys, "convert", clinc.int_joblib, "-o", clinc.dir / "int2.phq", "--data", clinc.int_tsv, "--json")
    assert code == 0 and json.loads(out)["accuracy_before"] == pytest.approx(clinc.int_pipe.score(clinc.Xte, y), abs=0)
    code, _, err = run(capsys, "convert", clinc.int_joblib, "-o", clinc.dir / "int3.phq", "--data", clinc.tsv)
    assert code == 2 and "this model's labels are ints" in err and not (clinc.dir / "int3.phq").exists()


def test_eval_bad_data_and_bad_models(clinc, capsys, tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("play music\tplay\nno tab here\n")
    code, _, err = run(capsys, "eval", clinc.f32, "--data", bad)
    assert code == 2 and f"{bad}:2: no tab" in err
    bad.write_bytes(b"caf\xe9\tx\n")
    code, _, err = run(capsys, "eval", clinc.f32, "--data", bad)
    assert code == 2 and f"{bad}:1: not UTF-8" in err
    badj = tmp_path / "bad.jsonl"
    badj.write_text('{"text": "a", "label": "b"}\n{"text": "a"}\n')
    code, _, err = run(capsys, "eval", clinc.f32, "--data", badj)
    assert code == 2 and f"{badj}:2:" in err
    badj.write_text('{"text": "a", "label": NaN}\n')
    code, _, err = run(capsys, "eval", clinc.f32, "--data", badj)
    assert code == 2 and "not a JSON object" in err
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    code, _, err = run(capsys, "eval", clinc.f32, "--data", empty)
    assert code == 2 and "no examples" in err
    notphq = tmp_path / "x.phq"
    notphq.write_text("hello, not a model at all" * 4)
    code, _, err = run(capsys, "eval", notphq, "--data", clinc.tsv)
    assert code == 1 and "E_SIGNATURE" in err
    code, _, err = run(capsys, "eval", clinc.f32, "--data", tmp_path / "missing.tsv")
    assert code == 2 and "missing.tsv" in err
    code, _, err = run(capsys, "eval", clinc.f32, "--data", clinc.tsv, "--reference", notphq)
    assert code == 2 and "cannot load it with joblib" in err
    # a gold label the model does not know, and a label that would drive the terminal
    odd = tmp_path / "odd.tsv"
    odd.write_text(f"{clinc.Xte[0]}\tnew_intent\x1b[2J\n{clinc.Xte[1]}\t{clinc.yte[1]}\n")
    code, out, _ = run(capsys, "eval", clinc.f32, "--data", odd)
    assert code == 0 and "\x1b" not in out and "new_intent\\x1b[2J" in out and "1 gold label(s) the model does not know" in out
    code, out, _ = run(capsys, "eval", clinc.f32, "--data", odd, "--json")
    assert code == 0 and json.loads(out)["unknown_labels"] == ["new_intent\x1b[2J"] and "\x1b" not in out


# -- phq diff --texts ------------------------------------------------------------------------------

def test_diff_texts_lists_prediction_changes(clinc, capsys):
    with phq.nlu.load(clinc.f32) as a, phq.nlu.load(clinc.coarse) as b:
        pa, pb = a.predict(clinc.Xte), b.predict(clinc.Xte)
        da, db = a.decision_function(clinc.Xte), b.decision_function(clinc.Xte)
    changed = np.flatnonzero(pa != pb)
    assert changed.size > 0
    code, out, _ = run(capsys, "diff", clinc.f32, clinc.coarse, "--texts", clinc.texts, "--json", "--max-report", "5")
    assert code == 1
    r = json.loads(out)
    assert not r["same"] and r["texts"] == len(clinc.Xte) and r["changed"] == changed.size
    assert len(r["changes"]) == min(5, changed.size)
    for c, i in zip(r["changes"], changed):
        assert c["line"] == i + 1 and c["text"] == clinc.Xte[i] and c["old"] == pa[i] and c["new"] == pb[i]
        assert c["old_score"] == pytest.approx(da[i].max()) and c["new_score"] == pytest.approx(db[i].max())
    pairs = {(pa[i], pb[i]) for i in changed}
    assert r["label_pairs"] == len(pairs) and len(r["changes_by_label"]) == min(5, len(pairs))
    counts = [p["count"] for p in r["changes_by_label"]]
    assert counts == sorted(counts, reverse=True) and all((p["old"], p["new"]) in pairs for p in r["changes_by_label"])
    code, out, _ = run(capsys, "diff", clinc.f32, clinc.coarse, "--texts", clinc.texts, "--json", "--max-report", "100000")
    assert sum(p["count"] for p in json.loads(out)["changes_by_label"]) == changed.size
    assert r["max_score_change"] == pytest.approx(np.abs(da - db).max())
    code, out, _ = run(capsys, "diff", clinc.f32, clinc.coarse, "--texts", clinc.texts)
    assert code == 1 and out.startswith(f"{changed.size} of {len(clinc.Xte)} predictions differ")
    assert f"line {changed[0] + 1}: {pa[changed[0]]} (" in out and "changes by label" in out
    code, out, _ = run(capsys, "diff", clinc.f32, clinc.coarse, "--texts", clinc.texts, "--quiet")
    assert code == 1 and out == ""


def test_diff_texts_same_and_errors(clinc, capsys, tmp_path):
    code, out, _ = run(capsys, "diff", clinc.f32, clinc.f32, "--texts", clinc.texts)
    assert code == 0 and out.startswith(f"same: the {len(clinc.Xte)} texts get the same labels")
    code, out, _ = run(capsys, "diff", clinc.f32, clinc.f32, "--texts", clinc.texts, "--json")
    assert code == 0 and json.loads(out)["same"] and json.loads(out)["changed"] == 0
    code, _, err = run(capsys, "diff", clinc.f32, clinc.coarse, "--texts", clinc.texts, "--atol", "0")
    assert code == 2 and "--atol" in err
    notphq = tmp_path / "x.phq"
    notphq.write_text("hello, not a model at all" * 4)
    code, _, err = run(capsys, "diff", clinc.f32, notphq, "--texts", clinc.texts)
    assert code == 2 and "invalid file" in err
    code, _, err = run(capsys, "diff", clinc.f32, clinc.coarse, "--texts", tmp_path / "missing.txt")
    assert code == 2 and "missing.txt" in err
    evil = tmp_path / "evil.txt"
    evil.write_text("".join(f"\x1b]0;{x}\x07\n" for x in clinc.Xte), encoding="utf-8")
    code, out, _ = run(capsys, "diff", clinc.f32, clinc.coarse, "--texts", evil)
    assert code in (0, 1) and "\x1b" not in out and "\x07" not in out


def test_exit_codes_are_documented():
    import phq.cli as cli
    import phq.cli_eval as ce

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for text in (readme, cli.__doc__, ce.__doc__):
        assert "--min-agreement" in text and "--texts" in text, text[:80]
    help_text = cli._parser().format_help()
    assert "exit status" in help_text and "--min-agreement" in help_text
    for cmd in ("convert", "eval"):
        assert "Exit 0" in cli._parser()._subparsers._group_actions[0].choices[cmd].format_help()
    assert "runs code" in readme and "phq eval" in readme and "phq convert" in readme
