"""Output hygiene and build-input refusals (issue 15 items 8 and 9; README "Output", spec §13.6).

--json output is RFC 8259 JSON for every valid file; text output never passes a control
character from a file to the terminal; hostile build inputs get a UsageError, never a
RecursionError, UnicodeEncodeError, MemoryError or a silently different number."""

from __future__ import annotations

import decimal
import io
import json
import re
import zipfile

import numpy as np
import pytest

import phq
import phq.writer as W
from phq import layout as L
from phq.cli import main as cli
from phq.output import json_text, safe_text
from phq.writer import inputs
from phq.writer.build import Options, build_sections
from phq.writer.serialize import SectionOut, write_sections

# what must never reach a terminal from a file: C0 (but the newline between lines), DEL, C1,
# lone surrogates, line separators, bidi controls
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
EVIL = "\x1b[2J\x1b]0;pwned\x07\x9b31m\u202eevil\ud800"


def strict_json(text: str):
    """json.loads that accepts RFC 8259 only (no NaN/Infinity) and keeps long integers."""
    def no_constant(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=no_constant, parse_int=decimal.Decimal)


def hostile_file(path, meta: bytes) -> None:
    """A valid file whose META text is `meta` (bytes the writer would not produce), with a
    table and a tensor whose names carry terminal escapes."""
    sections = build_sections({"t" + EVIL.replace("\ud800", ""): {"k": [1.0, 2.0]}},
                              {"b\x1b[31m": np.ones(2, np.float32)}, {"placeholder": 1}, Options(), None)
    assert sections[0].kind == L.KIND_META
    sections[0] = SectionOut(L.KIND_META, buffers=[meta])
    write_sections(path, sections)


META = ('{"big": ' + "7" * 5000 + ', "huge": 1e400, "tiny": -1e400, "x": 0.1, "n\\u001b[2Jame\\u009b": 1, '
        '"lone\\ud800": "\\udfff", "s": "\\u001b]0;title\\u0007\\u202e"}').encode()


def test_inspect_and_diff_json_are_json_for_every_valid_file(tmp_path, capsys):
    a, b = tmp_path / "a.phq", tmp_path / "b.phq"
    hostile_file(a, META)
    hostile_file(b, META.replace(b'"x": 0.1', b'"x": 1e-400').replace(b'"huge": 1e400', b'"huge": -1e401'))
    phq.validate(a).close()
    phq.validate(b).close()
    capsys.readouterr()
    assert cli(["inspect", str(a), "--json"]) == 0
    out = capsys.readouterr().out
    d = strict_json(out)
    meta = d["metadata"]
    assert meta["big"] == decimal.Decimal("7" * 5000)  # exact, all 5000 digits
    assert meta["huge"] == float("inf") and meta["tiny"] == -float("inf")  # held as infinity ...
    assert '"huge": 1e999' in out and '"tiny": -1e999' in out  # ... written as a JSON number
    assert meta["lone\ud800"] == "\udfff" and "n\x1b[2Jame\x9b" in meta  # escaped in JSON, the same strings
    assert not UNSAFE.search(out)  # escapes only: \u001b, \ud800, ...
    out.encode("utf-8")  # no lone surrogate in the output stream
    assert cli(["diff", str(a), str(b), "--json"]) == 1
    out = capsys.readouterr().out
    rep = strict_json(out)
    changed = {f["item"]: (f["a"], f["b"]) for f in rep["findings"]["metadata"]}
    assert changed["$.huge"] == (float("inf"), -float("inf")) and '"a": 1e999' in out
    assert not UNSAFE.search(out)


def test_text_output_escapes_control_characters(tmp_path, capsys):
    a = tmp_path / "a.phq"
    hostile_file(a, META)
    capsys.readouterr()
    assert cli(["inspect", str(a)]) == 0
    out = capsys.readouterr().out
    assert not UNSAFE.search(out)
    assert "\\x1b[2J" in out and "\\u202e" in out  # shown as escapes, not executed
    b = tmp_path / "b.phq"
    hostile_file(b, META.replace(b'"x": 0.1', b'"x": 0.2'))
    assert cli(["diff", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert not UNSAFE.search(out) and "metadata" in out


def test_predict_text_escapes_class_labels(tmp_path, capsys):
    pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    docs = ["play music now", "play a song", "weather today", "will it rain", "set an alarm", "wake me up"] * 3
    labels = ["\x1b[2Jmusic", "\x1b[2Jmusic", "weather\u202e", "weather\u202e", "al\x9barm", "al\x9barm"] * 3
    pipe = make_pipeline(CountVectorizer(), LogisticRegression(max_iter=200)).fit(docs, labels)
    path = tmp_path / "m.phq"
    W.from_sklearn(pipe, path)
    capsys.readouterr()
    assert cli(["predict", str(path), "play music", "rain\x1b[1mtoday", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert not UNSAFE.search(out.replace("\t", " ")) and "\\x1b[2Jmusic" in out  # tabs separate the fields
    assert all(line.count("\t") == 2 for line in out.splitlines())
    assert cli(["predict", str(path), "play music", "--json"]) == 0
    out = capsys.readouterr().out
    assert strict_json(out)["label"] == "\x1b[2Jmusic" and not UNSAFE.search(out)


def test_output_helpers():
    assert safe_text("a\x1b[31mb\tc\u2066\ud800") == "a\\x1b[31mb\\x09c\\u2066\\ud800"
    assert safe_text("x\ny", keep_newlines=True) == "x\ny" and safe_text("x\ny") == "x\\x0ay"
    assert safe_text("café ☕ 名前") == "café ☕ 名前"  # printable text is left alone
    v = {"i": 10**100, "d": decimal.Decimal("-" + "9" * 4500), "f": [float("inf"), -float("inf"), float("nan"), 1.5],
         "np": np.float32(2.5), "s": "\ud83d\x85"}
    text = json_text(v, indent=1)
    back = strict_json(text)
    assert back["i"] == 10**100 and back["d"] == decimal.Decimal("-" + "9" * 4500)
    assert back["f"] == [float("inf"), -float("inf"), None, 1.5] and "[\n  1e999,\n  -1e999,\n  null," in text
    assert back["np"] == 2.5 and back["s"] == "\ud83d\x85" and "\\ud83d\\u0085" in text


# --- build inputs (item 9) -----------------------------------------------------------------------
@pytest.mark.parametrize("weight", [b"1_0", b" 1", b"1 ", b"nan", b"inf", b"-Infinity", b"0x10", b"1e", b"", b"\xd9\xa1",
                                    b"1,5", b"--1", b"1e5_0"])
def test_tsv_weights_follow_the_grammar(tmp_path, weight):
    p = tmp_path / "w.tsv"
    p.write_bytes(b"a\t1\t2\nb\t3\t" + weight + b"\n")
    with pytest.raises(phq.UsageError, match=r"w.tsv:2: a weight is not a number: weight 2"):
        W.read_tsv(p)


def test_tsv_number_forms(tmp_path):
    p = tmp_path / "w.tsv"
    p.write_bytes(b"a\t+1\t-2.\t.5\t1e3\t-1.5E-2\t007\n")
    assert W.read_tsv(p)[1].tolist() == [[1.0, -2.0, 0.5, 1000.0, -0.015, 7.0]]


def test_wide_rows_have_no_per_column_python_loop(tmp_path, monkeypatch):
    """10^6 columns (the review: 11 s in a per-column loop): scales are one vectorized
    pass; counted, not timed: range_scale, the per-group function, is never called."""
    from phq.writer import quant as Q

    calls = []
    real = Q.range_scale
    monkeypatch.setattr(Q, "range_scale", lambda *a: calls.append(a) or real(*a))
    rng = np.random.default_rng(0)
    rows = (rng.standard_normal((3, 1_000_000)) * (rng.random((3, 1_000_000)) < 0.5)).astype(np.float32)
    path = tmp_path / "wide.phq"
    W.write(path, {"t": ([b"a", b"b", b"c"], rows)}, scale="column")
    assert calls == []
    with phq.open(path) as m:
        got = m.tables["t"].lookup([b"b"])[0][0]
    s = np.maximum(0, rows.max(0)) - np.minimum(0, rows.min(0))
    assert np.all(np.abs(got - rows[1]) <= s / 255 * 0.5 + 1e-6)
    # the vectorized scales are the per-group function's, group by group (edge groups included)
    lo = np.array([0.0, -0.0, -1.0, 0.0, -1e-44, -3.0, 0.0])
    hi = np.array([0.0, 0.0, 2.0, 5.0, 1e-44, -1.0, 1e-45])
    got = Q.range_scales(lo, hi)
    for g in range(lo.size):
        s, z = real(lo[g], hi[g])
        assert got["scale"][g] == s and got["zero_point"][g] == z


def test_jsonl_and_metadata_depth_and_constants(tmp_path, capsys):
    deep = "[" * 100_000 + "]" * 100_000
    p = tmp_path / "d.jsonl"
    p.write_text('{"key": "a", "weights": [1], "x": ' + deep + "}\n")
    with pytest.raises(phq.UsageError, match="d.jsonl:1: JSON nests deeper than 64 levels"):
        W.read_jsonl(p)
    p.write_text('{"key": "a", "weights": [1], "x": ' + "[" * 64 + "]" * 64 + "}\n")  # 65 levels
    with pytest.raises(phq.UsageError, match="deeper than 64"):
        W.read_jsonl(p)
    p.write_text('{"key": "a", "weights": [1], "x": ' + "[" * 63 + "]" * 63 + "}\n")  # 64 levels: fine
    assert W.read_jsonl(p)[0] == ["a"]
    for bad, msg in [('{"key": "a", "weights": [NaN]}', "NaN is not JSON"), ('{"key": "a", "weights": [true]}', "numbers"),
                     ('{"key_hex": "f f", "weights": [1]}', "hex digit pairs"), ('{"key_hex": "fff", "weights": [1]}', "hex"),
                     ('{"key": 5, "weights": [1]}', "key must be a string"), ("[1]", "expected an object"),
                     ('{"key": "a", "weights": [' + "9" * 400 + "]}", "binary64"),
                     ('{"key": "a", "weights": [' + "9" * 5000 + "]}", "not JSON")]:
        p.write_text(bad + "\n")
        with pytest.raises(phq.UsageError, match=msg):
            W.read_jsonl(p)
    # --metadata nested 100k deep, with NaN, and Python dicts nested too deep or cyclic
    meta = tmp_path / "m.json"
    tsv = tmp_path / "t.tsv"
    tsv.write_text("k\t1\n")
    for text, msg in [('{"a": ' + deep + "}", "nests deeper than 64"), ('{"a": NaN}', "NaN is not JSON"),
                      ('{"a": ' + "7" * 5000 + "}", "a number the writer cannot hold"),
                      ('{"a": 1e400}', "1e400 cannot be written")]:
        meta.write_text(text)
        assert cli(["build", str(tsv), "-o", str(tmp_path / "o.phq"), "--metadata", str(meta), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err
    nested: dict = {}
    cur = nested
    for _ in range(100_000):
        cur["a"] = {}
        cur = cur["a"]
    cyclic: dict = {}
    cyclic["self"] = cyclic
    for m in (nested, cyclic):
        with pytest.raises(phq.UsageError, match="nests deeper than 64"):
            W.write(tmp_path / "o.phq", {}, metadata=m)


def test_lone_surrogate_in_metadata_is_written_as_an_escape(tmp_path, capsys):
    """§5.2 allows lone surrogate escapes; UTF-8 cannot hold them, so the writer escapes them."""
    path = tmp_path / "s.phq"
    meta = {"na\ud800me": ["\udfff", "ok", "\udfff\ud800"], "b": "😀"}
    W.write(path, {}, metadata=meta)
    raw = path.read_bytes()
    assert b'"na\\ud800me"' in raw and "😀".encode() in raw
    with pytest.raises(phq.UsageError, match="surrogate pair"):  # would read back as one character
        W.write(path, {}, metadata={"b": "\ud83d\ude00"})
    with phq.validate(path) as m:
        assert m.metadata == meta
    j = tmp_path / "m.json"
    j.write_text('{"x\\ud800": 1}')
    t = tmp_path / "t.tsv"
    t.write_text("k\t1\n")
    assert cli(["build", str(t), "-o", str(path), "--metadata", str(j), "--quiet"]) == 0
    capsys.readouterr()
    assert cli(["inspect", str(path)]) == 0
    assert "x\\ud800" in capsys.readouterr().out


def _npz_with_header(path, shape, data: bytes) -> None:
    """An NPZ whose weights.npy declares `shape` (float64) but holds `data`."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    keys = io.BytesIO()
    np.save(keys, np.array(["a", "b"]))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("keys.npy", keys.getvalue())
        z.writestr("weights.npy", buf.getvalue() + data)


def test_npz_sizes_are_checked_before_inflating(tmp_path, monkeypatch):
    p = tmp_path / "bomb.npz"
    _npz_with_header(p, (1 << 31, 4), b"\0" * 64)  # declares 64 GiB, holds 64 bytes
    loads = []
    monkeypatch.setattr(np, "load", lambda *a, **k: loads.append(a) or pytest.fail("inflated"))
    with pytest.raises(phq.UsageError, match="bomb.npz: array 'weights' declares 68719476736 bytes"):
        W.read_npz(p)
    monkeypatch.undo()
    # an honest archive above the bound: refused before np.load (8 MiB of zeros, bound 1 MiB)
    np.savez_compressed(p, keys=np.array(["a", "b"]), weights=np.zeros((2, 1 << 19)))
    assert p.stat().st_size < 100_000
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("inflated"))
    with pytest.raises(phq.UsageError, match=r"inflate to \d+ bytes, more than the bound 1048576"):
        W.read_npz(p, max_bytes=1 << 20)
    monkeypatch.setattr(inputs, "NPZ_MAX_BYTES", 1 << 20)  # the default bound, through the CLI
    assert cli(["build", str(p), "-o", str(tmp_path / "o.phq"), "--quiet"]) == 2
    monkeypatch.undo()
    keys, rows = W.read_npz(p)
    assert keys == ["a", "b"] and rows.shape == (2, 1 << 19)
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(phq.UsageError, match="junk.npz"):
        W.read_npz(tmp_path / "junk.npz")


def test_column_codebooks_of_few_rows_need_no_per_column_loop(monkeypatch):
    """v1.1 §5.2 for columns with at most K - 1 distinct live weights, all columns at once:
    the same levels and codes as the per-column algorithm, and no per-column call."""
    from phq.writer import quant as Q

    def per_column(rows, quant):
        n, dim = rows.shape
        k = L.CODEBOOK_LEVELS[quant]
        levels, codes = np.zeros((dim, k), np.float32), np.zeros((n, dim), np.uint8)
        for c in range(dim):
            levels[c] = Q.codebook_levels(rows[:, c], k)
            codes[:, c] = Q.codebook_codes(rows[:, c], levels[c]) if n else codes[:, c]
        return levels, codes

    rng = np.random.default_rng(1)
    for trial in range(80):
        n, dim = int(rng.integers(0, 40)), int(rng.integers(0, 30))
        if trial % 2:  # few distinct values (the batched path), zeros and subnormals included
            rows = rng.choice([0.0, -0.0, 1e-3, -2.5, 3.0, 7.25, 1e-40, 100.0], size=(n, dim)).astype(np.float32)
        else:  # many distinct values: k-means columns mixed with batched ones
            rows = (rng.standard_normal((n, dim)) * rng.choice([1e-3, 1, 1e3])).astype(np.float32)
            rows[:, : dim // 3] = np.round(rows[:, : dim // 3])
        for quant in (L.QUANT_CODEBOOK4, L.QUANT_CODEBOOK8):
            q = Q.quantize_codebook(rows, quant, L.SCALE_COLUMN)
            levels, codes = per_column(rows, quant)
            assert np.array_equal(q.levels.view(np.uint32), levels.view(np.uint32)) and np.array_equal(q.codes, codes)
    calls = []
    real = Q.codebook_levels
    monkeypatch.setattr(Q, "codebook_levels", lambda *a: calls.append(1) or real(*a))
    rows = rng.standard_normal((3, 300_000)).astype(np.float32)
    q = Q.quantize_codebook(rows, L.QUANT_CODEBOOK4, L.SCALE_COLUMN)
    assert calls == [] and q.levels.shape == (300_000, 16)


def test_tsv_weights_parse_exactly_like_float(tmp_path):
    """The batch parser (numpy's text parser) rounds every decimal as float() does:
    shortest reprs, 25-digit forms, subnormals, huge exponents (binary64 bits compared)."""
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.standard_normal(3000) * 10.0 ** rng.integers(-320, 308, 3000), rng.random(300) * 1e-310])
    texts = [repr(float(v)) for v in x] + [f"{v:.25e}" for v in x] + ["0.1000000000000000055511151231257827", "-0", "1.",
                                                                      ".5", "+7", "2.2250738585072011e-308"]
    texts += [""] * (-len(texts) % 6)
    p = tmp_path / "n.tsv"
    lines = ["k%d\t%s" % (i, "\t".join(texts[j : j + 6])) for i, j in enumerate(range(0, len(texts), 6)) if texts[j + 5]]
    p.write_text("\n".join(lines) + "\n")
    keys, rows = W.read_tsv(p)
    want = np.array([[float(t) for t in line.split("\t")[1:]] for line in lines])
    assert rows.shape == want.shape and np.array_equal(rows.view(np.uint64), want.view(np.uint64))
