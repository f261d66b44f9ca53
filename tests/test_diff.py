"""`phq diff` (phq.diff): real pairs of files, exit codes 0 / 1 / 2, the JSON report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import phq
import phq.writer
from phq.cli import main
from phq.diff import AREAS, DiffReport, diff, read_keys

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "conformance" / "v1.0" / "valid"

KEYS = [f"w={i}" for i in range(300)] + ["the beatles", "café", "日本語"]


def rows_for(n: int, dim: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(rng.normal(0, 1.5, size=(n, dim)), 3).astype(np.float32)


def build(path: Path, *, rows=None, keys=KEYS, metadata=None, tensors=None, extra_tables=None, **options) -> Path:
    rows = rows_for(len(keys)) if rows is None else rows
    tables = {"features": (keys, rows), **(extra_tables or {})}
    if tensors is None:
        tensors = {"bias": np.array([0.1, -0.05, -0.3, 0.0], np.float32)}
    if metadata is None:
        metadata = {"labels": ["PlayMusic", "GetWeather", "SetAlarm", "Other"], "featurizer": {"ngram_range": [1, 2]}}
    phq.writer.write(path, tables, tensors=tensors, metadata=metadata, **options)
    return path


def findings(report: DiffReport, area: str | None = None, cls: str | None = None) -> list:
    return [f for f in report.findings if (area is None or f.area == area) and (cls is None or f.cls == cls)]


@pytest.fixture
def base(tmp_path) -> Path:
    return build(tmp_path / "a.phq")


# -- same --------------------------------------------------------------------------------------------
def test_identical_file_is_same(base, capsys):
    r = diff(base, base)
    assert r.same and r.findings == [] and r.summary() == "same"
    assert r.tables["features"]["status"] == "same" and r.tables["features"]["rows"]["method"] == "identical"
    assert r.tensors["bias"]["values"]["values_differ"] == 0
    assert main(["diff", str(base), str(base)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "same"


def test_same_model_built_twice_is_same(base, tmp_path):
    again = build(tmp_path / "again.phq")
    assert again.read_bytes() == base.read_bytes()  # the writer is deterministic (spec §13.3)
    r = diff(base, again)
    assert r.same and r.findings == []
    assert main(["diff", str(base), str(again), "--quiet"]) == 0


def test_layout_change_is_an_encoding_change_only(base, tmp_path, capsys):
    """Dense and sparse payloads of the same rows: the MPH is the same, rows compare equal slot
    by slot; the differing bytes are reported but do not count (unless --strict)."""
    sparse = build(tmp_path / "s.phq", layout="sparse", quant="f32", rows=_sparsify(rows_for(len(KEYS))))
    dense = build(tmp_path / "d.phq", layout="dense", quant="f32", rows=_sparsify(rows_for(len(KEYS))))
    r = diff(dense, sparse)
    assert r.same
    rows = r.tables["features"]["rows"]
    assert rows["method"] == "slots" and rows["rows_compared"] == len(KEYS) and rows["rows_differ"] == 0
    layout = [f for f in findings(r, "table") if f.item == "layout"]
    assert layout and layout[0].cls == "encoding" and (layout[0].a, layout[0].b) == ("dense", "sparse")
    assert any(f.area == "section" and f.change == "added" and "ROW_INDEX" in f.object for f in r.findings)
    assert r.summary().startswith("same (+")
    assert main(["diff", str(dense), str(sparse)]) == 0
    assert main(["diff", str(dense), str(sparse), "--strict", "--quiet"]) == 1
    assert capsys.readouterr().out.splitlines()[0].startswith("same")


def _sparsify(rows: np.ndarray) -> np.ndarray:
    rows = rows.copy()
    rows[np.abs(rows) < 1.2] = 0
    return rows


# -- quantization and tolerances -------------------------------------------------------------------
def test_f32_vs_linear8_rows_differ_and_atol_covers_them(tmp_path, capsys):
    f32 = build(tmp_path / "f32.phq", quant="f32")
    q8 = build(tmp_path / "q8.phq", quant="linear8", scale="column")
    r = diff(f32, q8)
    assert not r.same
    rows = r.tables["features"]["rows"]
    assert rows["method"] == "slots" and rows["rows_compared"] == len(KEYS)
    assert 0 < rows["rows_differ"] <= len(KEYS) and rows["values_differ"] > 0
    # linear8 with column scales: the error is at most half a step of the column's range
    with phq.open(q8) as m:
        half_step = float(m.tables["features"].scales["scale"].max()) / 2
    assert 0 < rows["max_abs"] <= half_step * 1.0001
    assert rows["examples"] and all(0 <= e["slot"] < len(KEYS) for e in rows["examples"])
    [f] = [f for f in findings(r, "table", "data")]
    assert f.item == "rows" and f.detail["rows_differ"] == rows["rows_differ"]
    quant = [f for f in findings(r, "table") if f.item == "quant"]
    assert quant[0].cls == "encoding" and (quant[0].a, quant[0].b) == ("f32", "linear8")
    assert any(f.item == "scales" for f in findings(r, "table"))

    assert main(["diff", str(f32), str(q8), "--atol", "0"]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("1 difference: table 'features':") and "rows differ" in first
    assert main(["diff", str(f32), str(q8)]) == 0  # the CLI's default tolerance: one quantization step
    assert diff(f32, q8, atol="auto").same
    atol = str(rows["max_abs"])
    assert diff(f32, q8, atol=rows["max_abs"]).same
    assert main(["diff", str(f32), str(q8), "--atol", atol]) == 0
    assert main(["diff", str(f32), str(q8), "--atol", str(rows["max_abs"] / 4)]) == 1
    assert main(["diff", str(f32), str(q8), "--rtol", "0.5", "--atol", atol]) == 0


def test_rows_are_compared_in_chunks(tmp_path, monkeypatch):
    """A chunk of a few rows at a time: the same counts as one pass over the table."""
    import phq.diff as D

    f32 = build(tmp_path / "f32.phq", quant="f32")
    q8 = build(tmp_path / "q8.phq", quant="linear8", scale="row-block", block_rows=16)
    whole = diff(f32, q8).tables["features"]["rows"]
    calls = []
    real = phq.Table.rows_at

    def counting(self, slots):
        calls.append(len(slots))
        return real(self, slots)

    monkeypatch.setattr(D, "CHUNK_VALUES", 4 * 7)  # dim 4: 7 rows a chunk
    monkeypatch.setattr(phq.Table, "rows_at", counting)
    chunked = diff(f32, q8).tables["features"]["rows"]
    assert max(calls) == 7 and sum(calls) == 2 * len(KEYS)
    for k in ("rows_compared", "rows_differ", "values_differ", "max_abs", "max_rel"):
        assert chunked[k] == whole[k], k


# -- metadata, tensors, tables -------------------------------------------------------------------
def test_changed_metadata_value_reports_its_json_path(base, tmp_path, capsys):
    other = build(tmp_path / "b.phq", metadata={"labels": ["PlayMusic", "Weather", "SetAlarm", "Other", "Extra"],
                                                 "featurizer": {"ngram_range": [1, 3]}, "new.key": True})
    r = diff(base, other)
    assert not r.same
    by_path = {f.item: f for f in findings(r, "metadata")}
    assert set(by_path) == {"$.labels[1]", "$.labels[4]", "$.featurizer.ngram_range[1]", "$.new.key"}
    assert (by_path["$.labels[1]"].change, by_path["$.labels[1]"].a, by_path["$.labels[1]"].b) == ("changed", "GetWeather", "Weather")
    assert by_path["$.labels[4]"].change == "added" and by_path["$.new.key"].detail["path"] == ["new.key"]
    assert r.tables["features"]["status"] == "same"  # metadata only
    assert main(["diff", str(base), str(other), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert {f["item"] for f in out["findings"]["metadata"]} == set(by_path)
    assert out["counts"]["by_area"]["metadata"] == 4


def test_metadata_types_are_compared_strictly(tmp_path):
    a = build(tmp_path / "a.phq", metadata={"x": 1, "y": 1, "z": [1, 2], "odd name": {"k": None}})
    b = build(tmp_path / "b.phq", metadata={"x": 1.0, "y": True, "z": {"0": 1}, "odd name": {"k": 0}})
    r = diff(a, b)
    assert {f.item: f.change for f in findings(r, "metadata")} == {"$.y": "changed", "$.z": "changed", '$["odd name"].k': "changed"}


def test_tensor_changed_added_removed(base, tmp_path):
    other = build(tmp_path / "b.phq", tensors={"bias": np.array([0.1, -0.05, -0.25, 0.0], np.float32),
                                               "transitions": np.eye(2, dtype=np.float32)})
    r = diff(base, other)
    t = r.tensors["bias"]
    assert t["status"] == "different" and t["values"]["values_differ"] == 1
    assert t["values"]["max_abs"] == pytest.approx(0.05, abs=1e-6)
    assert t["values"]["max_rel"] == pytest.approx(0.05 / 0.3, rel=1e-5)
    assert r.tensors["transitions"]["status"] == "added"
    assert diff(base, other, atol=0.06).tensors["bias"]["status"] == "same"
    assert not diff(base, other, atol=0.06).same  # "transitions" is still new
    reshaped = build(tmp_path / "c.phq", tensors={"bias": np.array([[0.1, -0.05], [-0.3, 0.0]], np.float64)})
    r2 = diff(base, reshaped)
    assert {f.item for f in findings(r2, "tensor")} == {"dtype", "shape"}
    assert r2.tensors["bias"]["values"] is None
    removed = diff(other, base)
    assert removed.tensors["transitions"]["status"] == "removed"
    assert any(f.item == "tensor" and f.change == "removed" for f in findings(removed, "tensor"))


def test_table_added_and_removed(base, tmp_path, capsys):
    more = build(tmp_path / "more.phq", extra_tables={"tags": (["x", "y"], np.ones((2, 3), np.float32))})
    r = diff(base, more)
    assert r.tables["tags"]["status"] == "added" and r.tables["tags"]["b"]["num_keys"] == 2
    assert r.tables["features"]["status"] == "same"
    sections = {f.object: f.change for f in findings(r, "section")}
    assert sections["TABLE 'tags'"] == "added" and sections["ROWS of table 'tags'"] == "added"
    assert diff(more, base).tables["tags"]["status"] == "removed"
    assert main(["diff", str(more), str(base)]) == 1
    assert "table 'tags' removed" in capsys.readouterr().out.splitlines()[0]
    # --table restricts the comparison to the tables named
    assert diff(base, more, tables=["features"]).same
    assert main(["diff", str(base), str(more), "--table", "features"]) == 0
    assert main(["diff", str(base), str(more), "--table", "tags", "--quiet"]) == 1
    assert main(["diff", str(base), str(more), "--table", "nope"]) == 2
    assert "no table 'nope'" in capsys.readouterr().err


# -- MPHs that differ: rows per key ------------------------------------------------------------------
def test_different_seed_needs_keys(base, tmp_path, capsys):
    seeded = build(tmp_path / "seed.phq", seed=12345)
    r = diff(base, seeded)
    assert not r.same
    rows = r.tables["features"]["rows"]
    assert rows["method"] is None and "MPHs differ" in rows["reason"] and rows["rows_compared"] == 0
    [nc] = [f for f in findings(r, "table", "data")]
    assert nc.item == "rows" and nc.change == "not_compared"
    assert [f.cls for f in findings(r, "table") if f.item == "seed"] == ["encoding"]
    assert main(["diff", str(base), str(seeded)]) == 1
    out = capsys.readouterr().out
    assert "rows not compared" in out.splitlines()[0] and "--keys" in out

    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("\n".join(KEYS + ["absent key"]) + "\n", encoding="utf-8")
    r = diff(base, seeded, keys=read_keys(keys_file))
    assert r.same
    rows = r.tables["features"]["rows"]
    assert rows["method"] == "keys" and rows["rows_compared"] == len(KEYS) and rows["rows_differ"] == 0
    assert rows["keys"]["given"] == len(KEYS) + 1 and rows["keys"]["in_neither"] == 1
    assert rows["keys"]["only_a"] == rows["keys"]["only_b"] == 0
    assert main(["diff", str(base), str(seeded), "--keys", str(keys_file)]) == 0


def test_keys_present_in_one_file_only_and_changed_rows(tmp_path, capsys):
    rows = rows_for(len(KEYS))
    a = build(tmp_path / "a.phq", rows=rows, quant="f32")
    changed = rows[1:].copy()
    changed[5] += 0.5  # the row of KEYS[6]
    b = build(tmp_path / "b.phq", keys=KEYS[1:] + ["new key"], rows=np.vstack([changed, np.ones((1, 4), np.float32)]), quant="f32")
    keys = KEYS + ["new key"]
    r = diff(a, b, keys=keys)
    res = r.tables["features"]["rows"]
    assert res["keys"]["only_a"] == 1 and res["keys"]["only_a_examples"] == [KEYS[0]]
    assert res["keys"]["only_b"] == 1 and res["keys"]["only_b_examples"] == ["new key"]
    assert res["rows_differ"] == 1 and res["examples"][0]["key"] == KEYS[6]
    assert res["max_abs"] == pytest.approx(0.5, abs=1e-6)
    assert {f.item for f in findings(r, "table", "data")} == {"keys", "rows"}
    # num_keys agrees (one key swapped), so only the keys can tell
    assert [f for f in findings(r, "table") if f.item == "num_keys"] == []
    keys_file = tmp_path / "k.txt"
    keys_file.write_bytes(("\r\n".join(keys) + "\r\n").encode())
    assert main(["diff", str(a), str(b), "--keys", str(keys_file), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["tables"]["features"]["rows"]["keys"]["only_b_examples"] == ["new key"]


def test_same_mph_different_keys_caught_by_fingerprints(tmp_path):
    """Two one-key tables can share an MPH bitmap by chance; the fingerprints tell them apart."""
    from phq.hashing import hash_keys

    def bit_of(key: bytes) -> int:  # one key, one level of 64 bits, γ 2 -> the one bit it sets
        with phq.open(build(tmp_path / "probe.phq", keys=[key], rows=np.ones((1, 2), np.float32))) as m:
            t = m.tables["features"]
            return int(np.flatnonzero(np.unpackbits(t._bitmap.view(np.uint8), bitorder="little"))[0])

    first = b"k0"
    want = bit_of(first)
    twin = next(k for k in (b"k%d" % i for i in range(1, 5000)) if bit_of(k) == want and hash_keys([k], 0)[0, 1] & 0xFFFF != hash_keys([first], 0)[0, 1] & 0xFFFF)
    a = build(tmp_path / "a.phq", keys=[first], rows=np.ones((1, 2), np.float32))
    b = build(tmp_path / "b.phq", keys=[twin], rows=np.ones((1, 2), np.float32))
    r = diff(a, b)
    assert r.tables["features"]["rows"]["method"] == "slots"
    [f] = findings(r, "table", "data")
    assert f.item == "keys" and f.detail == {"method": "fingerprints", "slots_differ": 1}


# -- errors ------------------------------------------------------------------------------------------
def test_corrupt_file_is_an_error_with_its_code(base, tmp_path, capsys):
    bad = tmp_path / "bad.phq"
    data = bytearray(base.read_bytes())
    data[-70] ^= 0x10  # inside the last section: only its checksum can tell
    bad.write_bytes(bytes(data))
    with pytest.raises(phq.FormatError) as e:
        diff(base, bad)
    assert e.value.code == "E_CHECKSUM" and str(bad) in str(e.value)
    assert main(["diff", str(base), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "E_CHECKSUM" in err and "bad.phq" in err and "Traceback" not in err
    (tmp_path / "text.phq").write_text("not a model at all, just some text......" * 2)
    assert main(["diff", str(tmp_path / "text.phq"), str(base), "--quiet"]) == 2
    assert "E_SIGNATURE" in capsys.readouterr().err
    assert main(["diff", str(base), str(tmp_path / "missing.phq")]) == 2


def test_bad_arguments_exit_2(base, capsys):
    assert main(["diff", str(base)]) == 2
    assert main(["diff", str(base), str(base), "--atol", "-1"]) == 2
    assert "atol" in capsys.readouterr().err
    assert main(["diff", str(base), str(base), "--json", "--quiet"]) == 2
    assert main(["diff", str(base), str(base), "--keys", str(base.parent / "no-keys.txt")]) == 2
    with pytest.raises(phq.UsageError):
        diff(base, base, rtol=float("nan"))
    with pytest.raises(phq.UsageError):
        diff(base, base, keys="w=1")


# -- JSON report -------------------------------------------------------------------------------------
def test_json_schema_and_max_report(base, tmp_path, capsys):
    many = {"labels": [f"L{i}" for i in range(30)], "featurizer": {"ngram_range": [1, 2]}}
    other = build(tmp_path / "b.phq", metadata=many, quant="f16")
    assert main(["diff", str(base), str(other), "--json", "--max-report", "5", "--atol", "0"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"schema", "a", "b", "same", "summary", "options", "counts", "findings", "omitted", "tensors", "tables"}
    assert out["schema"] == "phq-diff/1" and out["same"] is False and out["a"] == str(base)
    assert out["options"] == {"atol": 0.0, "rtol": 0.0, "strict": False, "tables": None, "keys": None, "max_report": 5}
    assert set(out["findings"]) == set(out["omitted"]) == set(out["counts"]["by_area"]) == set(AREAS)
    assert out["counts"]["by_area"]["metadata"] == 30  # 26 added + 4 changed labels
    assert len(out["findings"]["metadata"]) == 5 and out["omitted"]["metadata"] == 25
    total = sum(out["counts"]["by_area"].values())
    assert total == out["counts"]["data"] + out["counts"]["encoding"]
    for area, fs in out["findings"].items():
        for f in fs:
            assert set(f) == {"area", "object", "item", "change", "class", "a", "b", "detail"} and f["area"] == area
            assert f["class"] in ("data", "encoding") and f["change"] in ("added", "removed", "changed", "resized", "not_compared")
        classes = [f["class"] for f in fs]
        assert classes == sorted(classes, key=lambda c: c != "data")  # data findings first
    t = out["tables"]["features"]
    assert set(t) == {"status", "a", "b", "rows"} and t["status"] == "different"
    assert set(t["a"]) == {"num_keys", "dim", "quant", "layout", "scale_granularity", "scale_block_rows", "fingerprint_bits",
                           "gamma", "seed", "num_partitions", "nnz", "hash_scheme"}
    assert set(t["rows"]) == {"method", "reason", "rows_compared", "rows_differ", "values_differ", "max_abs", "max_rel", "examples", "keys"}
    assert len(t["rows"]["examples"]) <= 5
    assert set(out["tensors"]["bias"]) == {"status", "a", "b", "values"}
    assert out["tensors"]["bias"]["values"] == {"compared": 4, "values_differ": 0, "max_abs": 0.0, "max_rel": 0.0}
    # the library and the CLI agree
    lib = diff(base, other, max_report=5).to_dict()
    assert lib["counts"] == out["counts"] and lib["summary"] == out["summary"]
    # readable output: the one-line summary first, then details capped at --max-report
    assert main(["diff", str(base), str(other), "--max-report", "2", "--atol", "0"]) == 1
    text = capsys.readouterr().out.splitlines()
    assert text[0] == out["summary"] and text[0].startswith(f"{out['counts']['data']} differences: ")
    assert "  ... 28 more (--max-report)" in text
    assert main(["diff", str(base), str(other), "--quiet"]) == 1
    assert capsys.readouterr().out == ""


# -- scikit-learn models -----------------------------------------------------------------------------
def test_sklearn_models(tmp_path):
    pytest.importorskip("sklearn")
    from nlu_corpus import corpus
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    texts, labels = corpus(200)
    pipe = make_pipeline(TfidfVectorizer(), LinearSVC()).fit(texts, labels)
    a, b = tmp_path / "a.phq", tmp_path / "b.phq"
    phq.writer.from_sklearn(pipe, a)
    phq.writer.from_sklearn(pipe, b)
    assert main(["diff", str(a), str(b), "--quiet"]) == 0
    # a renamed class: the same weights, one metadata value differs
    renamed = [x if x != "weather" else "zz_weather" for x in labels]
    pipe2 = make_pipeline(TfidfVectorizer(), LinearSVC()).fit(texts, renamed)
    c = tmp_path / "c.phq"
    phq.writer.from_sklearn(pipe2, c)
    r = diff(a, c)
    assert [f.item for f in findings(r, cls="data")] == ["$.phq.nlu.classes[3]"]
    f = findings(r, cls="data")[0]
    assert (f.a, f.b, f.detail["path"]) == ("weather", "zz_weather", ["phq.nlu", "classes", 3])
    # 8-bit vs f32 weights of the same model
    d = tmp_path / "d.phq"
    phq.writer.from_sklearn(pipe, d, quant="f32")
    r = diff(d, a)
    assert not r.same and r.tables["features"]["rows"]["rows_differ"] > 0
    assert diff(d, a, atol=0.05).same


# -- golden files ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "a, b, same, data_items",
    [
        ("y_full_model", "y_full_model", True, []),
        ("y_f32_dense", "y_f32_sparse", True, []),  # layout only
        ("y_fingerprint_16", "y_fingerprint_8", True, []),  # fingerprint width only
        ("y_fingerprint_0", "y_fingerprint_32", True, []),
        ("y_fingerprint_16", "y_future_minor_version", True, []),  # header minor 0 -> 7
        ("y_fingerprint_16", "y_unknown_optional_feature", True, []),
        ("y_fingerprint_16", "y_unknown_ancillary_section", False, ["section"]),  # only diff can see it
        ("y_fingerprint_16", "y_unknown_ancillary_in_table", False, ["section"]),
        ("y_f32_dense", "y_linear8_column_dense", False, ["rows"]),
        ("y_linear8_column_dense", "y_linear8_table_dense", False, ["rows"]),
        ("y_gamma_0_5", "y_gamma_1_0", False, ["rows"]),  # MPHs differ: not compared
        ("y_one_key", "y_empty_table", False, ["num_keys", "rows"]),
        ("y_dim1", "y_dim0_keyset", False, ["dim"]),
        ("y_tensors_every_dtype", "y_empty_model", False, ["tensor"] * 13),
    ],
)
def test_golden_pairs(a, b, same, data_items):
    r = diff(GOLDEN / f"{a}.phq", GOLDEN / f"{b}.phq")
    assert r.same is same
    assert sorted(f.item for f in findings(r, cls="data")) == sorted(data_items)
    assert main(["diff", str(GOLDEN / f"{a}.phq"), str(GOLDEN / f"{b}.phq"), "--quiet", "--atol", "0"]) == (0 if same else 1)


def test_golden_header_findings():
    r = diff(GOLDEN / "y_fingerprint_16.phq", GOLDEN / "y_future_minor_version.phq")
    [f] = r.findings
    assert (f.area, f.item, f.a, f.b, f.cls) == ("header", "format_version", "1.0", "1.7", "encoding")
    assert r.summary() == "same (1 encoding change: format version 1.0 -> 1.7)"
    assert not diff(GOLDEN / "y_fingerprint_16.phq", GOLDEN / "y_future_minor_version.phq", strict=True).same
    r = diff(GOLDEN / "y_fingerprint_16.phq", GOLDEN / "y_unknown_optional_feature.phq")
    [f] = r.findings
    assert f.item == "optional_features" and f.detail == {"only_a_bits": [], "only_b_bits": [40]}


def test_golden_keys_make_gamma_pair_comparable(tmp_path):
    from phq.conformance.generate import keys_for

    keys = keys_for(200)
    r = diff(GOLDEN / "y_gamma_0_5.phq", GOLDEN / "y_gamma_1_0.phq", keys=keys)
    assert r.same and r.tables["t"]["rows"]["rows_compared"] == 200
    r = diff(GOLDEN / "y_gamma_0_5.phq", GOLDEN / "y_partitions_3.phq", keys=keys[:150])
    assert r.same and r.tables["t"]["rows"]["method"] == "keys"
    assert [f.item for f in findings(r, "table") if f.item == "num_partitions"] == ["num_partitions"]


def test_v1_0_against_v1_1_golden():
    """A v1.0 file and a v1.1 file of the same rows (linear8 vs the 4-bit scheme): the rows are
    read through Table.rows_at whatever the scheme, the version change is an encoding change."""
    newer = ROOT / "conformance" / "v1.1" / "valid" / "y_linear4_column_dense.phq"
    if not newer.exists():
        pytest.skip("no v1.1 golden files in this checkout")
    older = GOLDEN / "y_linear8_column_dense.phq"
    r = diff(older, newer)
    assert not r.same and r.tables["t"]["rows"]["method"] == "slots"
    assert [(f.item, f.a, f.b) for f in findings(r, "header") if f.item == "format_version"] == [("format_version", "1.0", "1.1")]
    assert [f.item for f in findings(r, cls="data")] == ["rows"]
    assert diff(older, newer, atol=r.tables["t"]["rows"]["max_abs"]).same
    assert main(["diff", str(older), str(newer), "--quiet", "--atol", "0"]) == 1
    assert main(["diff", str(older), str(newer), "--quiet"]) == 0  # linear4 re-quantizes the same weights
