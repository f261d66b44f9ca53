"""Format 1.1 (spec/format-v1.1.md): linear4 and codebook schemes, version selection,
what a 1.0 reader does with 1.1 files, `phq spec diff` and the compatibility matrix."""

from __future__ import annotations

import copy
import json
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import phq
import phq.writer
from phq import layout as L
from phq import specdiff
from phq.cli import main
from phq.conformance import SUITE_DIR, runner
from phq.nibbles import NibbleArray, NibbleRows
from phq.writer import quant as Q

KEYS = [f"k{i}" for i in range(101)]


def rows(n=101, dim=5, seed=0, zeros=0.5):
    rng = np.random.default_rng(seed)
    r = rng.standard_normal((n, dim)).astype(np.float32) * rng.uniform(0.1, 3, dim).astype(np.float32)
    r[rng.random((n, dim)) < zeros] = 0
    return r


def header(path):
    b = open(path, "rb").read(32)
    major, minor, _, required, optional = struct.unpack_from("<HHIQQ", b, 8)
    return minor, required, optional


# --- version selection (§3.2, v1.1 §1) ----------------------------------------------------
@pytest.mark.parametrize(
    "quant, minor, bits",
    [("f32", 0, 0), ("f16", 0, 0), ("linear8", 0, 0), ("linear4", 1, L.FEATURE_LINEAR4), ("codebook4", 1, L.FEATURE_CODEBOOK), ("codebook8", 1, L.FEATURE_CODEBOOK)],
)
def test_writer_writes_the_lowest_version_that_holds_the_file(tmp_path, quant, minor, bits):
    p = tmp_path / "m.phq"
    phq.writer.write(p, {"t": (KEYS, rows())}, quant=quant, scale="column")
    assert header(p) == (minor, bits, 0)
    with phq.open(p) as m:
        assert m.version == (1, minor) and m.tables["t"].quant == quant


def test_a_mixed_file_sets_both_bits_and_old_schemes_stay_byte_identical(tmp_path):
    r = rows()
    mixed = tmp_path / "mixed.phq"
    phq.writer.write(mixed, {"a": phq.writer.Table(KEYS, r, quant="linear4"), "b": phq.writer.Table(KEYS, r, quant="codebook8")})
    assert header(mixed) == (1, L.FEATURE_LINEAR4 | L.FEATURE_CODEBOOK, 0)
    # a 1.0-only file is the same bytes whatever the writer knows: compare with a golden
    with phq.open(SUITE_DIR / "v1.0" / "valid" / "y_linear8_column_dense.phq") as g:
        assert g.version == (1, 0) and g.header.required_features == 0


# --- known answers (v1.1 §8) ----------------------------------------------------------------
def test_known_answers():
    packed = Q.pack_nibbles(np.array([1, 2, 3], np.uint8))
    assert bytes(packed) == bytes.fromhex("2103")
    assert NibbleArray(packed, 3)[:].tolist() == [1, 2, 3]
    assert NibbleRows(packed, 1, 3)[0].tolist() == [1, 2, 3]
    scale, zp = np.float32(0.5), 3
    codes = np.array([0, 3, 4, 15], np.uint8)
    assert ((codes.astype(np.float32) - np.float32(zp)) * scale).tolist() == [-1.5, 0.0, 0.5, 6.0]
    levels = np.zeros(16, np.float32)
    levels[1:4] = [-1.0, 0.25, 2.0]
    assert Q.codebook_codes(np.array([-0.9, 0.1, 0.13, 5.0, 0.0], np.float32), levels).tolist() == [1, 0, 2, 3, 0]
    from conftest import SPEC

    kat = (SPEC.parent / "format-v1.1.md").read_text(encoding="utf-8").split("## 1.1 §8")[1]
    assert "bytes `21 03`" in kat and "−1.5, +0.0, 0.5, 6.0" in kat and "get codes 1, 0, 2, 3" in kat


def test_codebook_levels_follow_the_rule():
    few = np.array([0, 0, 2.5, -1, 2.5, 0], np.float32)
    lv = Q.codebook_levels(few, 16)
    assert lv[0] == 0 and np.signbit(lv[0]) == False  # noqa: E712  (+0.0, bit pattern 0)
    assert lv[1:3].tolist() == [-1.0, 2.5] and not lv[3:].any()
    many = np.random.default_rng(1).standard_normal(5000).astype(np.float32)
    lv = Q.codebook_levels(many, 16)
    assert lv[0] == 0 and (np.diff(lv[1:]) > 0).all()
    assert np.array_equal(lv, Q.codebook_levels(np.random.default_rng(2).permutation(many), 16))  # order-free
    # k-means beats even intervals on heavy-tailed weights (the reason the scheme exists)
    heavy = (np.random.default_rng(3).standard_t(2, 20000) * 0.1).astype(np.float32)
    cb = lv_err(heavy, Q.codebook_levels(heavy, 16))
    s, z = Q.group_scale(heavy, 15)
    lin = np.sqrt(np.mean(((np.clip(np.rint(heavy / s) + z, 0, 15) - z) * s - heavy) ** 2))
    assert cb < lin


def lv_err(values, levels):
    return np.sqrt(np.mean((levels[Q.codebook_codes(values, levels)] - values) ** 2))


# --- round trips (hypothesis) ---------------------------------------------------------------
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(0, 60),
    dim=st.integers(1, 7),
    quant=st.sampled_from(["linear4", "codebook4", "codebook8"]),
    scale=st.sampled_from(["table", "column", "row-block"]),
    layout=st.sampled_from(["dense", "sparse"]),
    seed=st.integers(0, 2**16),
)
def test_round_trip(tmp_path, n, dim, quant, scale, layout, seed):
    if quant.startswith("codebook") and scale == "row-block":
        with pytest.raises(phq.UsageError, match="table' or 'column"):
            phq.writer.write(tmp_path / "x.phq", {"t": (KEYS[:n], rows(n, dim, seed))}, quant=quant, scale=scale)
        return
    r = rows(n, dim, seed)
    p = tmp_path / f"{seed}.phq"
    phq.writer.write(p, {"t": (KEYS[:n], r)}, quant=quant, scale=scale, layout=layout, block_rows=7)
    with phq.validate(p) as m:
        t = m.tables["t"]
        got, found = t.lookup(KEYS[:n] + ["absent"])
        assert found[:n].all() and not found[n]
        got = got[:n]
        assert (got[r == 0] == 0).all()  # exact zeros stay exact
        for i in range(min(n, 5)):
            np.testing.assert_array_equal(t[KEYS[i]], got[i])  # single and batch paths agree
        if quant == "linear4":
            worst = float(t.scales["scale"].max(initial=0)) / 2
            assert np.abs(got - r).max(initial=0) <= worst * (1 + 1e-6) + 1e-30
        else:  # every value is 0.0 in linear8's dead zone, else its group's nearest level
            lv = t.levels
            for c in range(dim):
                g = c if t.scale_granularity == "column" else 0
                dead = Q.dead_zone(r)[:, c] if t.scale_granularity == "table" else Q.dead_zone(r[:, c])
                for i in range(n):
                    assert got[i, c] in lv[g]
                    if dead[i]:
                        assert got[i, c] == 0
                    else:
                        assert abs(got[i, c] - r[i, c]) <= np.abs(lv[g] - r[i, c]).min() + 1e-6


# --- a 1.0 reader and 1.1 files -------------------------------------------------------------
def v11_manifest():
    return json.loads((SUITE_DIR / "v1.1" / "manifest.json").read_text())["files"]


def test_a_10_reader_refuses_every_11_feature_file_with_e_feature():
    seen = 0
    for f in v11_manifest():
        path = SUITE_DIR / "v1.1" / f["file"]
        _, required, _ = header(path)
        if not required & (L.FEATURE_LINEAR4 | L.FEATURE_CODEBOOK):
            continue
        seen += 1
        with pytest.raises(phq.FormatError) as e:
            phq.open(path, max_version=(1, 0))
        assert e.value.code == "E_FEATURE", f["file"]
    assert seen >= 25


def test_forward_compatibility_files():
    ok = SUITE_DIR / "v1.1" / "valid" / "y_future_minor_ignorable_addition.phq"
    bad = SUITE_DIR / "v1.1" / "invalid" / "n_future_minor_must_understand.phq"
    for version in ((1, 0), (1, 1)):
        with phq.validate(ok, max_version=version) as m:
            assert m.version == (1, 2) and len(m.skipped_sections) == 1
        with pytest.raises(phq.FormatError) as e:
            phq.open(bad, max_version=version)
        assert e.value.code == "E_FEATURE"
    with pytest.raises(phq.UsageError):
        phq.open(ok, max_version=(1, 9))


def test_compat_matrix():
    text, data = runner.compat({"v10": runner.parse_reader("py@1.0"), "v11": runner.parse_reader("")})
    assert data["v10"]["1.1 files using LINEAR4/CODEBOOK"].startswith("refuse E_FEATURE")
    assert data["v11"]["1.1 files using LINEAR4/CODEBOOK"].startswith("read")
    for r in ("v10", "v11"):
        assert data[r]["1.0 files (valid)"] == "read (40)"
        assert data[r]["minor-2 file, ignorable addition"] == "read (1)"
        assert data[r]["1.3 file, must-understand bit"] == "refuse E_FEATURE (1)"
    assert data["v11"]["1.1 suite (as a 1.1 reader)"].endswith(" 0 failed") and "| v10 |" in text


def test_cli_compat_and_conformance_runs(capsys):
    assert main(["conformance", "compat"]) == 0
    assert "refuse E_FEATURE" in capsys.readouterr().out
    assert main(["conformance", "run", "--version", "1.1", "--quiet", "--json", "/dev/null"]) == 0


# --- phq spec diff --------------------------------------------------------------------------
def test_spec_diff_10_to_11_is_compatible_and_complete():
    rep = specdiff.report((1, 0), (1, 1))
    assert rep["compatible"]
    rules = sorted((c["rule"], c["gate"]) for c in rep["changes"])
    assert rules == sorted(
        [("ENUM_VALUE_ADDED", "LINEAR4"), ("ENUM_VALUE_ADDED", "CODEBOOK"), ("ENUM_VALUE_ADDED", "CODEBOOK"),
         ("SECTION_KIND_ADDED", "CODEBOOK"), ("FEATURE_BIT_ADDED", None), ("FEATURE_BIT_ADDED", None)]
    )
    back = specdiff.report((1, 1), (1, 0))
    assert not back["compatible"] and {c["rule"] for c in back["changes"]} == {"ENUM_VALUE_REMOVED", "SECTION_KIND_REMOVED", "FEATURE_BIT_REMOVED"}
    assert specdiff.report((1, 1), (1, 1))["changes"] == []


@pytest.fixture
def fake_version(monkeypatch):
    """Declare a hypothetical 1.2 as a copy of 1.1 that a test then edits."""
    from construct import Int8ul, Int16ul, Struct

    versions = dict(L.VERSIONS)
    v = copy.deepcopy({k: val for k, val in L.VERSIONS[(1, 1)].items() if k != "structs"})
    v["structs"] = dict(L.VERSIONS[(1, 1)]["structs"])
    v["version"] = (1, 2)
    versions[(1, 2)] = v
    monkeypatch.setattr(L, "VERSIONS", versions)
    return v, Struct, Int8ul, Int16ul


@pytest.mark.parametrize(
    "edit, rule, compatible",
    [
        ("enum_ungated", "ENUM_VALUE_ADDED", False),
        ("enum_gated", "ENUM_VALUE_ADDED", True),
        ("ancillary_kind", "SECTION_KIND_ADDED", True),
        ("critical_kind_ungated", "SECTION_KIND_ADDED", False),
        ("limit_lowered", "LIMIT_LOWERED", False),
        ("limit_raised", "LIMIT_RAISED", False),
        ("optional_bit", "FEATURE_BIT_ADDED", True),
        ("error_code", "ERROR_CODE_ADDED", True),
        ("error_code_removed", "ERROR_CODE_REMOVED", False),
        ("field_renamed", "FIELD_RENAMED", True),
        ("reserved_used", "RESERVED_FIELD_USED", False),
        ("field_moved", "FIELD_MOVED", False),
    ],
)
def test_spec_diff_rules(fake_version, edit, rule, compatible):
    v, Struct, Int8ul, Int16ul = fake_version
    if edit == "enum_ungated":
        v["enums"]["layout"][2] = "blocked"
    elif edit == "enum_gated":
        v["enums"]["layout"][2] = "blocked"
        v["required_features"][2] = "BLOCKED"
        v["gates"][("enum", "layout", 2)] = "BLOCKED"
    elif edit == "ancillary_kind":
        v["section_kinds"][0x001C] = {"name": "STATS", "critical": False}
    elif edit == "critical_kind_ungated":
        v["section_kinds"][0x001C] = {"name": "STATS", "critical": True}
    elif edit == "limit_lowered":
        v["limits"]["dim"] //= 2
    elif edit == "limit_raised":
        v["limits"]["dim"] *= 2
    elif edit == "optional_bit":
        v["optional_features"][0] = "HINTS"
    elif edit == "error_code":
        v["error_codes"] = v["error_codes"] + ["E_NEW"]
    elif edit == "error_code_removed":
        v["error_codes"] = v["error_codes"][:-1]
    else:
        fields = [sub for sub in L.TENSOR_HEADER.subcons]
        if edit == "field_renamed":
            fields[0] = "dtype_code" / Int8ul
        elif edit == "reserved_used":
            fields[-1] = "flags" / fields[-1].subcon
        else:  # swap ndim and dtype: same sizes, different offsets
            fields[0], fields[1] = fields[1], fields[0]
        v["structs"]["tensor_header"] = Struct(*fields)
    changes = specdiff.diff_versions((1, 1), (1, 2))
    assert [c.rule for c in changes if c.rule == rule], [c.rule for c in changes]
    assert all(c.compatible == compatible for c in changes if c.rule == rule)
    assert specdiff.report((1, 1), (1, 2))["compatible"] == all(c.compatible for c in changes)


def test_cli_spec_diff(capsys):
    assert main(["spec", "diff", "1.0", "1.1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1.0 -> 1.1: 6 change(s), all compatible")
    assert main(["spec", "diff", "1.1", "1.0", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["compatible"] is False
    assert main(["spec", "diff", "1.0", "2.0"]) == 2
    assert main(["spec", "diff", "one", "1.1"]) == 2


def test_partitioned_build_refuses_11_schemes_clearly(tmp_path):
    shard = tmp_path / "t.tsv"
    shard.write_text("".join(f"k{i}\t{i % 3 - 1}\t0.5\n" for i in range(20)))
    with pytest.raises(phq.UsageError, match="single-process writer"):
        phq.writer.build_partitioned({"t": [str(shard)]}, tmp_path / "p.phq", partitions=2, quant="linear4")
    assert not (tmp_path / "p.phq").exists()


def test_nlu_models_in_11_schemes(tmp_path):
    pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    import phq.nlu
    from nlu_corpus import corpus

    texts, labels = corpus(300, seed=5)
    test, _ = corpus(100, seed=6)
    pipe = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LinearSVC(random_state=0)).fit(texts, labels)
    for quant in ("linear4", "codebook4", "codebook8"):
        p = tmp_path / f"{quant}.phq"
        phq.writer.from_sklearn(pipe, p, quant=quant)
        assert header(p)[0] == 1
        with phq.nlu.load(p) as clf:
            assert (clf.predict(test) == pipe.predict(test)).mean() >= 0.9, quant
