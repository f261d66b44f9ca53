"""Issue 17, "the first ten minutes": every item of "What they met" and "What to build" as a CLI
or API test, the issue's exact commands included (the demo itself: tests/test_demo.py)."""

from __future__ import annotations

import inspect
import io
import json
import lzma
import mmap
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import phq
import phq.diff
import phq.nlu
import phq.writer as W
from conftest import ROOT
from phq import layout as L
from phq.cli import EXIT_INTERNAL, EXIT_PIPE, _parser, main

DEMO = ROOT / "examples" / "demo"
PHQ = [sys.executable, "-m", "phq"]


def run(*args, cwd=None, stdin=None) -> subprocess.CompletedProcess:
    return subprocess.run([*PHQ, *map(str, args)], capture_output=True, cwd=cwd, input=stdin)


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("t") / "m.phq"
    assert main(["build", str(DEMO / "features.tsv"), "-o", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def snips():
    rows = [json.loads(x) for x in lzma.decompress((ROOT / "examples" / "snips" / "data" / "train.jsonl.xz").read_bytes()).splitlines()]
    return rows[::40]  # 345 utterances, every intent


@pytest.fixture(scope="module")
def intent_model(tmp_path_factory, snips) -> tuple[Path, list, list]:
    pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts, intents = [e["text"] for e in snips], [e["intent"] for e in snips]
    pipe = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=500)).fit(texts, intents)
    out = tmp_path_factory.mktemp("nlu") / "intent.phq"
    W.from_sklearn(pipe, out)
    return out, texts, intents, pipe


@pytest.fixture(scope="module")
def joint_model(tmp_path_factory, snips, intent_model) -> Path:
    pytest.importorskip("sklearn_crfsuite")
    import sklearn_crfsuite

    templates = ["bias", "bos", "eos", [["w", 0]], [["w", -1]], [["w", 1]], [["shape", 0]]]
    X, y = [], []
    for e in snips:
        toks = phq.nlu.tokenize(e["text"])
        labels = []
        for _, s, _ in toks:
            lab = "O"
            for sl in e["slots"]:
                if sl["start"] <= s < sl["end"]:
                    lab = ("B-" if not any(sl["start"] <= s2 < s for _, s2, _ in toks) else "I-") + sl["slot"]
                    break
            labels.append(lab)
        X.append(phq.nlu.token_features([t for t, _, _ in toks], templates))
        y.append(labels)
    crf = sklearn_crfsuite.CRF(c1=0.1, c2=0.01, max_iterations=20).fit(X, y)
    out = tmp_path_factory.mktemp("joint") / "joint.phq"
    W.from_crfsuite(crf, out, templates=templates, classifier=intent_model[3])
    return out


# -- the CLI: the exact commands of "What they met" ---------------------------------------------------
def test_options_after_positionals_in_every_subcommand(table, intent_model, capsys):
    assert main(["lookup", str(table), "--json", "w=play"]) == 0  # the command
    assert json.loads(capsys.readouterr().out)["found"] is True
    assert main(["predict", str(intent_model[0]), "--top", "3", "play the beatles"]) == 0  # the command
    line = capsys.readouterr().out.strip()
    assert line.startswith("PlayMusic\tplay the beatles\t") and line.count("=") == 3
    assert main(["lookup", "--raw", str(table), "w=play", "--json", "w=rain"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["inspect", str(table), "--json"]) == 0 and json.loads(capsys.readouterr().out)["tables"]
    assert main(["validate", str(table), "--json", str(table)]) == 0
    assert main(["diff", str(table), "--quiet", str(table)]) == 0
    assert main(["spec", "diff", "1.0", "--json", "1.1"]) == 0


def test_closed_pipe_exits_quietly(tmp_path):
    big = tmp_path / "big.phq"
    W.write(big, {"t": {"k": [1.0]}}, tensors={f"tensor{i}": np.zeros(1, np.float32) for i in range(3000)})
    p = subprocess.Popen([*PHQ, "inspect", "--json", str(big)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.readline()
    p.stdout.close()  # `| head -1`: the reader goes away with most of the output unread
    err = p.stderr.read().decode()
    assert p.wait() == EXIT_PIPE == 141
    assert err == ""  # no "[Errno 32] Broken pipe", no "Exception ignored"


def test_predict_input_not_utf8_is_a_usage_error_without_traceback(intent_model, tmp_path):
    f = tmp_path / "texts.txt"
    f.write_bytes(b"play the beatles\nwill it \xff\xfe rain\n")
    r = run("predict", intent_model[0], "--input", f)
    assert r.returncode == 2
    err = r.stderr.decode()
    assert f"{f}:2: not UTF-8" in err and "Traceback" not in err and "invalid file" not in err
    r = run("predict", intent_model[0], "--input", "-", stdin=b"\xffplay\n")
    assert r.returncode == 2 and "<stdin>:1: not UTF-8" in r.stderr.decode()
    r = subprocess.run([*PHQ, "predict", str(intent_model[0]), b"\xff play".decode("utf-8", "surrogateescape")], capture_output=True)
    assert r.returncode == 2 and "not UTF-8" in r.stderr.decode() and "Traceback" not in r.stderr.decode()


def test_nothing_to_do_is_a_usage_error(table, intent_model, tmp_path, capsys):
    assert main(["lookup", str(table)]) == 2
    assert "nothing to look up" in capsys.readouterr().err
    assert main(["predict", str(intent_model[0])]) == 2
    assert "nothing to predict" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert main(["lookup", str(table), "--keys-file", str(empty)]) == 0  # an empty list of keys is not a mistake
    assert main(["predict", str(intent_model[0]), "--input", str(empty)]) == 0


def test_validate_checks_every_file_and_exits_with_the_worst(table, tmp_path, capsys):
    bad = tmp_path / "bad.phq"
    data = bytearray(table.read_bytes())
    data[-70] ^= 0x10
    bad.write_bytes(bytes(data))
    missing = tmp_path / "missing.phq"
    assert main(["validate", str(missing), str(table)]) == 2  # the issue: it stopped at the missing file
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{missing}: error: {missing}: No such file or directory", f"{table}: valid"]
    assert main(["validate", str(table), str(bad), str(table)]) == 1
    assert [x.split(":")[1].strip() for x in capsys.readouterr().out.splitlines()] == ["valid", "invalid", "valid"]
    assert main(["validate", str(bad), str(missing), "--json"]) == 2
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[0]["valid"] is False and lines[0]["code"] in phq.ERROR_CODES and lines[1]["valid"] is None


def test_version():
    r = run("--version")
    assert r.returncode == 0
    assert r.stdout.decode().strip() == f"phq {phq.__version__} (reads format 1.0-1.2, NLU profiles 1-3)"
    import tomllib

    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"] == phq.__version__


def test_internal_errors_are_one_line(monkeypatch, table, capsys):
    import phq.cli as cli

    def boom(a):
        raise ValueError("a bug")

    monkeypatch.setattr(cli, "_cmd_inspect", boom)
    assert main(["inspect", str(table)]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: ValueError: a bug" in err and "PHQ_DEBUG=1" in err
    monkeypatch.setenv("PHQ_DEBUG", "1")
    with pytest.raises(ValueError):
        main(["inspect", str(table)])


# -- phq build --------------------------------------------------------------------------------------
def build(tmp_path, name: str, text: bytes, *extra) -> subprocess.CompletedProcess:
    src = tmp_path / name
    src.write_bytes(text)
    return run("build", src, "-o", tmp_path / "out.phq", *extra)


def test_build_space_separated_is_explained_and_sep_reads_it(tmp_path):
    r = build(tmp_path, "space.tsv", b"a 1 2\nb 3 4\n")
    assert r.returncode == 2 and not (tmp_path / "out.phq").exists()
    err = r.stderr.decode()
    assert "space.tsv:1: no tab" in err and "--sep space" in err
    assert build(tmp_path, "space.tsv", b"a 1 2\nb 3 4\n", "--sep", "space").returncode == 0
    with phq.open(tmp_path / "out.phq") as m:
        t = m.tables["space"]
        assert t.dim == 2 and np.allclose(t["b"], [3, 4], atol=0.02)
    assert build(tmp_path, "space.tsv", b"a 1 2\nb 3 4\n", "--sep", "tab").returncode == 0  # explicit: keys only
    with phq.open(tmp_path / "out.phq") as m:
        assert m.tables["space"].dim == 0 and m.tables["space"].get("a 1 2") is not None
    assert build(tmp_path, "c.tsv", b"a,1,2\nb,3,4\n", "--sep", "comma").returncode == 0
    assert build(tmp_path, "c.tsv", b"a;1;2\n", "--sep", "\n").returncode == 2


def test_build_header_comment_blank_line_are_explained(tmp_path):
    r = build(tmp_path, "h.tsv", b"key\tw1\tw2\na\t1\t2\n")
    assert r.returncode == 2 and "h.tsv:1:" in r.stderr.decode() and "header row" in r.stderr.decode() and "--header" in r.stderr.decode()
    assert build(tmp_path, "h.tsv", b"key\tw1\tw2\na\t1\t2\n", "--header").returncode == 0
    with phq.open(tmp_path / "out.phq") as m:
        assert m.tables["h"].num_keys == 1 and m.tables["h"].get("key") is None
    r = build(tmp_path, "c.tsv", b"# weights of the intent model\na\t1\t2\n")
    assert r.returncode == 2 and "c.tsv:2:" in r.stderr.decode() and "no comments" in r.stderr.decode()
    r = build(tmp_path, "b.tsv", b"\na\t1\t2\n")
    assert r.returncode == 2 and "b.tsv:2:" in r.stderr.decode() and "line 1 is empty" in r.stderr.decode()
    r = build(tmp_path, "m.tsv", b"a\t1\n\nb\t2\n")
    assert r.returncode == 2 and "m.tsv:2:" in r.stderr.decode() and "empty line is a record" in r.stderr.decode()


def test_build_reports_file_line_for_every_bad_value(tmp_path):
    for name, text, line, what in [
        ("nan.tsv", b"a\t1\t2\nb\tnan\t2\n", 2, "not a number"),
        ("inf.tsv", b"a\t1\t2\nb\t1\t2\nc\t1e400\t2\n", 3, "beyond binary64"),
        ("f32.tsv", b"a\t1\nb\t-1e39\n", 2, "beyond float32"),
        ("big.jsonl", b'{"key": "a", "weights": [1]}\n\n{"key": "b", "weights": [1e39]}\n', 3, "beyond float32"),
        ("inf.jsonl", b'{"key": "a", "weights": [1e400]}\n', 1, "beyond binary64"),
    ]:
        r = build(tmp_path, name, text)
        err = r.stderr.decode()
        assert r.returncode == 2 and f"{name}:{line}: " in err and what in err, err
        assert "Warning" not in err and "Traceback" not in err and err.count("\n") == 1  # no numpy warning line first
    np.savez(tmp_path / "w.npz", keys=np.array(["a", "b"]), weights=np.array([[1.0], [np.nan]]))
    r = run("build", tmp_path / "w.npz", "-o", tmp_path / "out.phq")
    assert r.returncode == 2 and "w.npz: row 1 of 'weights': weight 1 is NaN" in r.stderr.decode()


def test_build_refuses_to_overwrite_an_input(tmp_path):
    src = tmp_path / "in.tsv"
    src.write_bytes(b"a\t1\n")
    for extra in ([], ["--metadata", str(tmp_path / "in.tsv")]):
        r = run("build", src, "-o", src, *extra)
        assert r.returncode == 2 and "is an input of this build" in r.stderr.decode()
        assert src.read_bytes() == b"a\t1\n"
    meta = tmp_path / "meta.json"
    meta.write_text("{}")
    r = run("build", src, "-o", meta, "--metadata", meta)
    assert r.returncode == 2 and meta.read_text() == "{}"


def test_build_missing_output_folder_names_the_folder(tmp_path):
    r = build(tmp_path, "in.tsv", b"a\t1\n")
    assert r.returncode == 0
    r = run("build", tmp_path / "in.tsv", "-o", tmp_path / "nodir" / "x.phq")
    err = r.stderr.decode()
    assert r.returncode == 2 and f"the output folder '{tmp_path / 'nodir'}' does not exist" in err and "phq-tmp" not in err
    with pytest.raises(phq.UsageError, match="does not exist"):
        W.write(tmp_path / "nodir" / "x.phq", {"t": {"a": [1.0]}})


def test_build_bad_npz_and_phq_named_npz(tmp_path, table):
    r = build(tmp_path, "bad.npz", b"garbage, not a zip")
    err = r.stderr.decode()
    assert r.returncode == 2 and "bad.npz: not an NPZ archive" in err and "\\'" not in err and '"' not in err
    r = build(tmp_path, "model.npz", table.read_bytes())
    err = r.stderr.decode()
    assert r.returncode == 2 and "model.npz: this is a phq file, not a table input" in err and "pickle" not in err


def test_build_progress_only_when_asked_or_on_a_terminal(tmp_path):
    src = tmp_path / "many.tsv"
    src.write_text("".join(f"k{i}\t{i % 7}\t{i % 5}\n" for i in range(150_000)))
    quiet = run("build", src, "-o", tmp_path / "a.phq")
    assert quiet.returncode == 0 and quiet.stderr == b""  # not a terminal: no bar
    shown = run("build", src, "-o", tmp_path / "b.phq", "--progress")
    err = shown.stderr.decode()
    assert shown.returncode == 0 and "read many.tsv" in err and "B/s" in err
    assert (tmp_path / "a.phq").read_bytes() == (tmp_path / "b.phq").read_bytes()
    seen = []
    W.read_table_file(src, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (src.stat().st_size,) * 2 and len(seen) >= 3 and seen == sorted(seen)


# -- phq diff -----------------------------------------------------------------------------------------
def test_diff_matches_the_only_tables_and_default_atol_absorbs_requantization(tmp_path, capsys):
    rng = np.random.default_rng(3)
    keys = [f"w={i}" for i in range(300)]
    w1 = rng.normal(size=(300, 4))
    w2 = w1.copy()
    w2[7, 2] = 9.0  # a real change, which also moves column 2's linear8 scale: the rest re-quantize
    for name, w in (("v1", w1), ("v2", w2)):
        (tmp_path / f"{name}.tsv").write_text("".join(k + "\t" + "\t".join(repr(float(x)) for x in row) + "\n" for k, row in zip(keys, w)))
        assert main(["build", str(tmp_path / f"{name}.tsv"), "-o", str(tmp_path / f"{name}.phq"), "--quiet"]) == 0
    v1, v2 = str(tmp_path / "v1.phq"), str(tmp_path / "v2.phq")
    capsys.readouterr()
    assert main(["diff", v1, v2]) == 1  # the issue: "table v1 removed, table v2 added", nothing compared
    out = capsys.readouterr().out
    assert "removed" not in out and "added" not in out
    assert out.splitlines()[0].startswith("1 difference: table 'v1': 1 of 300 rows differ")
    assert """table 'v1': name "v1" -> "v2"  [encoding]""" in out
    assert main(["diff", v1, v2, "--atol", "0", "--json"]) == 1  # exact: every re-quantized row differs
    rows = json.loads(capsys.readouterr().out)["tables"]["v1"]["rows"]
    assert rows["rows_differ"] > 100
    assert main(["diff", v1, v1.replace("v1", "v1")]) == 0
    # the same weights in every scheme compare equal by default, not with --atol 0
    files = {}
    for quant in ("f32", "f16", "linear8", "linear4", "codebook4", "codebook8"):
        scales = ("column",) if quant in ("f32", "f16") else ("column", "table") if quant.startswith("codebook") else ("column", "table", "row-block")
        for scale in scales:
            p = tmp_path / f"{quant}-{scale}.phq"
            W.write(p, {"t": (keys, w1)}, quant=quant, scale=scale, block_rows=64)
            files[p.stem] = str(p)
    for a in files.values():
        for b in files.values():
            if a != b:
                assert main(["diff", a, b, "--quiet"]) == 0, (a, b)
                assert main(["diff", a, b, "--quiet", "--atol", "0"]) == 1, (a, b)
    # heavier tails and sparse weights too (the library call; the CLI is the same code)
    for w in (rng.standard_t(2, size=(300, 4)) * 100, rng.normal(size=(300, 4)) * (rng.random((300, 4)) < 0.1)):
        paths = []
        for quant, scale in (("f32", "column"), ("linear8", "table"), ("linear4", "column"), ("codebook4", "table"), ("codebook8", "column")):
            paths.append(tmp_path / f"w-{quant}-{scale}.phq")
            W.write(paths[-1], {"t": (keys, w)}, quant=quant, scale=scale)
        assert all(phq.diff.diff(a, b, atol="auto").same for a in paths for b in paths)
    # a change bigger than a step still shows against any scheme
    W.write(tmp_path / "changed.phq", {"t": (keys, w2)}, quant="f32")
    assert main(["diff", files["f32-column"], str(tmp_path / "changed.phq"), "--quiet"]) == 1
    assert main(["diff", files["linear4-column"], str(tmp_path / "changed.phq"), "--quiet"]) == 1
    # with --table the names are the user's: no pairing
    assert main(["diff", v1, v2, "--table", "v1", "--quiet"]) == 1


def test_conformance_run_writes_no_report_unless_asked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["conformance", "run", "--quiet"]) == 0
    assert list(tmp_path.iterdir()) == []
    assert main(["conformance", "run", "--quiet", "--json", "r.json"]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["ok"] is True


# -- inspect, spec, help --------------------------------------------------------------------------------
def test_inspect_summarises_nlu_models(intent_model, joint_model, capsys):
    assert main(["inspect", str(intent_model[0])]) == 0
    out = capsys.readouterr().out
    assert "intent classifier: LogisticRegression (TfidfVectorizer -> LogisticRegression" in out
    assert "7 classes: AddToPlaylist, BookRestaurant" in out and "probabilities: softmax" in out
    assert "featurizer 'text' (text): analyzer=word" in out and re.search(r"[0-9,]+ bytes: table features [0-9,]+", out)
    assert main(["inspect", str(joint_model), "--json"]) == 0
    n = json.loads(capsys.readouterr().out)["nlu"]
    assert n["profile"] == 3 and n["classifier"]["classes"] == 7 and n["classifier"]["estimator"] == "LogisticRegression"
    t = n["tagger"]
    assert t["estimator"] == "CRF" and "artist" in t["slots"] and t["labels"] > len(t["slots"]) and t["templates"] == 7
    with phq.open(joint_model) as m:
        sizes = {s.index: s.size for s in m.sections}
        state = m.tables["tagger.state"]
        assert t["parts"]["table tagger.state"] == sum(L.align(s.size) for s in state.sections)
        assert t["parts"]["tensor tagger.transitions"] == m.tensors["tagger.transitions"].nbytes
    assert n["classifier"]["bytes"] + t["bytes"] <= sum(sizes.values())
    assert main(["inspect", str(joint_model)]) == 0
    out = capsys.readouterr().out
    assert "slot tagger: CRF (bio, tokenizer word_punct, 7 feature templates)" in out and "slots: " in out


def test_spec_ships_with_the_package_and_spec_show_prints_it(tmp_path, capsys):
    assert main(["spec", "show", "7.2"]) == 0
    assert capsys.readouterr().out.startswith("### 7.2 Lookup\n")
    assert main(["spec", "show", "nlu-profile-v3", "4.2"]) == 0
    assert capsys.readouterr().out.startswith("### 4.2 Templates")
    assert main(["spec", "show", "format-v1.1"]) == 0
    assert capsys.readouterr().out == (ROOT / "spec" / "format-v1.1.md").read_text()
    assert main(["spec", "show"]) == 0
    listing = capsys.readouterr().out
    assert all(p.stem in listing for p in (ROOT / "spec").glob("*.md"))
    assert main(["spec", "show", "99"]) == 2 and main(["spec", "show", "nope"]) == 2
    # the wheel's pure part: the spec chapters land in phq/spec, and phq finds them there
    r = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path / "lib")], cwd=ROOT, capture_output=True)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    shipped = {p.name for p in (tmp_path / "lib" / "phq" / "spec").glob("*.md")}
    assert shipped == {p.name for p in (ROOT / "spec").glob("*.md")}
    code = "import phq.specdoc as s; print(s.spec_dir()); print(s.show('7.2').splitlines()[0])"
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, env={**os.environ, "PYTHONPATH": str(tmp_path / "lib")})
    where, first = r.stdout.decode().splitlines()
    assert Path(where) == tmp_path / "lib" / "phq" / "spec" and first == "### 7.2 Lookup"
    assert "recursive-include spec *.md" in (ROOT / "MANIFEST.in").read_text()  # the sdist too


def _all_parsers(p):
    yield p
    for a in p._actions:
        if hasattr(a, "choices") and isinstance(a.choices, dict):
            for sub in a.choices.values():
                yield from _all_parsers(sub)


def test_help_points_to_nothing_a_pip_install_lacks():
    for p in _all_parsers(_parser()):
        text = p.format_help()
        assert not re.search(r"\b(spec|conformance|examples|bench|creader|build)/", text), (p.prog, text)
        assert ".md" not in text, p.prog


# -- the Python API -------------------------------------------------------------------------------------
def test_open_accepts_bytes_and_buffers(table, tmp_path):
    data = table.read_bytes()
    with phq.open(table) as m:
        want = m.tables["features"]["w=play"].copy()
    for src in (data, bytearray(data), memoryview(data), memoryview(bytearray(data)), np.frombuffer(data, np.uint8)):
        with phq.open(src) as m:
            assert m.path is None and m.name == "<memory>"
            assert np.array_equal(m.tables["features"]["w=play"], want)
            assert m.tables["features"].get("w=an unseen feature") is None
            assert np.array_equal(m.tables["features"].lookup(["w=play"])[0][0], want)
    with open(table, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        with phq.open(mm) as m:
            assert np.array_equal(m.tables["features"]["w=play"], want)
            del m
    # zero-copy for read-only buffers: the model's arrays are views of the caller's bytes
    with phq.open(data) as m:
        rows = m.tables["features"]._rows
        assert np.shares_memory(rows, np.frombuffer(data, np.uint8))
    # a writable buffer is copied: changing it afterwards changes nothing
    buf = bytearray(data)
    with phq.open(buf) as m:
        buf[:] = b"\0" * len(buf)
        assert np.array_equal(m.tables["features"]["w=play"], want)
    phq.validate(data).close()
    broken = bytearray(data)
    broken[-70] ^= 0x10
    with pytest.raises(phq.FormatError) as e:
        phq.validate(bytes(broken))
    assert e.value.code == "E_CHECKSUM"
    with pytest.raises(phq.FormatError, match="E_SIGNATURE|not a phq file"):
        phq.open(b"not a phq file at all")
    with pytest.raises(phq.UsageError, match="path .* or the file's bytes"):
        phq.open(42)


def test_classifier_score(intent_model):
    path, texts, intents, pipe = intent_model
    with phq.nlu.load(path) as clf:
        assert clf.score(texts, intents) == pytest.approx(pipe.score(texts, intents))
        assert clf.score(["play the beatles", "play the beatles"], ["PlayMusic", "RateBook"]) == 0.5
        assert clf.score(["play the beatles", "play the beatles"], ["PlayMusic", "RateBook"], sample_weight=[3, 1]) == 0.75
        with pytest.raises(phq.UsageError):
            clf.score(texts, intents[:-1])


def test_models_pickle(intent_model, joint_model, tmp_path):
    path, texts, intents, _ = intent_model
    with phq.nlu.load(path) as clf:
        want = clf.predict(texts)
        again = pickle.loads(pickle.dumps(clf))
        assert np.array_equal(again.predict(texts), want) and again.model.path == str(path)
        assert len(pickle.dumps(clf)) < 1000  # a path, not the model
    data = Path(path).read_bytes()
    with phq.nlu.load(data) as clf:  # in memory: the pickle carries the bytes
        blob = pickle.dumps(clf)
    assert len(blob) > len(data)
    assert np.array_equal(pickle.loads(blob).predict(texts), want)
    with phq.nlu.load(joint_model) as parser:
        want_parse = parser.parse(texts[:20])
        assert pickle.loads(pickle.dumps(parser)).parse(texts[:20]) == want_parse
        c = pickle.loads(pickle.dumps(parser.classifier))  # the classifier of a joint file
        assert isinstance(c, phq.nlu.Classifier) and [x["intent"]["name"] for x in want_parse] == list(c.predict(texts[:20]))
    # a model whose file is gone cannot be reopened: a clear error, not a crash
    moved = tmp_path / "moved.phq"
    moved.write_bytes(data)
    blob = pickle.dumps(phq.nlu.load(moved))
    moved.unlink()
    with pytest.raises(FileNotFoundError):
        pickle.loads(blob)


def test_explicit_signatures_and_current_docstrings():
    for fn, required in ((W.write, {"path", "tables"}), (W.from_sklearn, {"model", "path"}), (W.from_crfsuite, {"model", "path", "templates"})):
        params = inspect.signature(fn).parameters
        assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()), fn.__name__
        assert {"quant", "scale", "fingerprint_bits", "gamma", "seed", "layout"} <= set(params), fn.__name__
        assert required <= {n for n, p in params.items() if p.default is inspect.Parameter.empty}
        out = io.StringIO()
        sys_stdout, sys.stdout = sys.stdout, out
        try:
            help(fn)
        finally:
            sys.stdout = sys_stdout
        assert "**options" not in out.getvalue() and "quant: 'str' = 'linear8'" in out.getvalue()
    for name in L.QUANT_NAMES.values():
        assert f'"{name}"' in W.write.__doc__, name
    with pytest.raises(phq.UsageError, match="unexpected keyword"):
        W.from_sklearn(None, "x.phq", colour="blue")


# -- README -------------------------------------------------------------------------------------------
def test_readme_first_screen_and_which_scheme():
    readme = (ROOT / "README.md").read_text()
    first = readme.splitlines()[:30]
    assert first[2] == "```sh" and first[3].startswith("make demo ") and first[4].startswith("make test ")
    assert any(line.startswith("| model bytes") for line in first) and any(line.startswith("phq demo: ") for line in first)
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == "make test"
    section = readme[readme.index("## Which scheme?"):readme.index("## NLU on a device")]
    report = (ROOT / "examples" / "clinc150" / "results" / "report.md").read_text()
    snips = json.loads((ROOT / "examples" / "snips" / "results" / "report.json").read_text())
    from_snips = [(f"{snips[f'joint_bytes_{v}']:,}", f"{snips[f'slot_f1_{v}']:.2f}%") for v in ("phq8", "phq4")]
    for size, f1 in from_snips:
        assert f"{size} B, {f1}" in section
    cited = [c for c in re.findall(r"([0-9]{1,3}(?:,[0-9]{3})+) B, ([0-9.]+%)", section) if c not in from_snips]
    assert len(cited) >= 10
    for size, acc in cited:  # every other figure is the CLINC150 report's
        assert re.search(rf"\| {re.escape(size)} \| {re.escape(acc)} \|", report), (size, acc)
