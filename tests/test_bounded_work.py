"""Work bounded by what a file stores and what the caller asks (issue 15, items 5 and 6).

Files shaped so that a dense or per-element-object approach would be obviously too costly:
sparse tables of dim 2^24 (one dense float32 row is 64 MiB), metadata arrays of many
elements, many sections and partitions. The assertions are on allocation peaks
(tracemalloc, which sees numpy's buffers), counts and answers, never on time.
"""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

import phq
import phq.diff as D
import phq.writer
from phq.cli import main

import worst_cases as W

MiB = 1 << 20
WIDE_ROW = W.WIDE_DIM * 4  # bytes of one dense float32 row of dim 2^24


def peak_of(fn, *args, **kw):
    """(result, peak bytes allocated while fn ran) as tracemalloc sees them."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = fn(*args, **kw)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def stored(n: int, w: int = 3, seed: int = 0, density: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = np.round(rng.normal(0, 1, (n, w)), 2).astype(np.float32)
    rows[rng.random((n, w)) > density] = 0
    return rows


# -- diff of sparse rows in their sparse form ---------------------------------------------------
def test_wide_sparse_rows_are_compared_without_a_dense_row(tmp_path, monkeypatch):
    """dim 2^24: a dense comparison allocates 64 MiB per row (and float64 temporaries); the
    sparse one allocates in proportion to the stored values."""
    # the accelerator mallocs one row of scratch per table at its first lookup (virtual
    # memory, touched only by row lookups, none here); tracemalloc would count it
    monkeypatch.setenv("PHQ_PURE", "1")
    n = 40
    rows_a = stored(n)
    rows_b = rows_a.copy()
    rows_b[3, 1] += 0.5  # one stored value changed
    rows_b[7, 2] = 1.25 if rows_b[7, 2] == 0 else 0  # a value stored in one file only
    a = W.wide_sparse(tmp_path / "a.phq", n, stored=rows_a)
    b = W.wide_sparse(tmp_path / "b.phq", n, stored=rows_b)
    report, peak = peak_of(D.diff, a, b)
    assert peak < 8 * MiB < WIDE_ROW
    rows = report.tables["t"]["rows"]
    assert rows["method"] == "slots" and rows["rows_compared"] == n
    assert rows["rows_differ"] == 2 and rows["values_differ"] == 2
    with phq.open(a) as m:
        assert m.tables["t"].dim == W.WIDE_DIM and m.tables["t"].nnz == np.count_nonzero(rows_a)
    # per key (another seed: the MPHs differ), all keys given
    c = W.wide_sparse(tmp_path / "c.phq", n, stored=rows_b, seed=7)
    keys = [f"k{i}" for i in range(n)] + ["absent"]
    report, peak = peak_of(D.diff, a, c, keys=keys)
    assert peak < 8 * MiB
    rows = report.tables["t"]["rows"]
    assert rows["method"] == "keys" and rows["rows_compared"] == n and rows["rows_differ"] == 2
    assert rows["keys"]["in_neither"] == 1
    assert {e["key"] for e in rows["examples"]} == {"k3", "k7"}


def test_wide_sparse_tables_with_nothing_stored(tmp_path):
    """The review's shape: dim 2^24, no stored value; an encoding change (f32 -> f16) keeps the
    MPH, so every row is compared slot by slot."""
    n = 500
    a = W.wide_sparse(tmp_path / "a.phq", n)
    b = W.wide_sparse(tmp_path / "b.phq", n, quant="f16")
    report, peak = peak_of(D.diff, a, b)
    assert peak < 8 * MiB
    assert report.same and report.tables["t"]["rows"]["rows_compared"] == n
    assert [f.item for f in report.findings if f.area == "table"] == ["quant"]


@pytest.mark.parametrize(
    "options",
    [
        dict(quant="f32"),
        dict(quant="f16"),
        dict(quant="linear8", scale="table"),
        dict(quant="linear8", scale="column"),
        dict(quant="linear8", scale="row-block", block_rows=16),
        dict(quant="linear4", scale="column"),
        dict(quant="codebook4", scale="table"),
        dict(quant="codebook8", scale="column"),
    ],
)
def test_sparse_comparison_equals_the_dense_one(tmp_path, options, monkeypatch):
    """The same rows stored sparse and dense: both comparisons report the same figures (the
    sparse one decodes stored values bit for bit as Table.rows_at)."""
    keys = [f"w={i}" for i in range(300)]
    ra, rb = stored(300, 12, seed=1, density=0.3), stored(300, 12, seed=1, density=0.3)
    rb[::7] = stored(len(rb[::7]), 12, seed=2, density=0.3)
    got = {}
    for layout in ("sparse", "dense"):
        pa = phq.writer.write(tmp_path / f"a-{layout}.phq", {"t": (keys, ra)}, layout=layout, **options)
        pb = phq.writer.write(tmp_path / f"b-{layout}.phq", {"t": (keys, rb)}, layout=layout, **options)
        del pa, pb
        for how, kw in (("slots", {}), ("keys", {"keys": keys})):
            other = tmp_path / f"b-{layout}-{how}.phq"
            phq.writer.write(other, {"t": (keys, rb)}, layout=layout, seed=0 if how == "slots" else 5, **options)
            got[layout, how] = D.diff(tmp_path / f"a-{layout}.phq", other, atol=0.01, **kw).tables["t"]["rows"]
    for how in ("slots", "keys"):
        sparse, dense = got["sparse", how], got["dense", how]
        assert sparse["method"] == dense["method"] == how
        for k in ("rows_compared", "rows_differ", "values_differ", "max_abs", "max_rel", "examples"):
            assert sparse[k] == dense[k], (how, k)
        assert dense["rows_differ"] > 0


def test_sparse_comparison_in_entry_chunks(tmp_path, monkeypatch):
    """Chunks of a few stored values: the same figures as one pass."""
    keys = [f"w={i}" for i in range(200)]
    ra, rb = stored(200, 9, seed=3), stored(200, 9, seed=4)
    a = phq.writer.write(tmp_path / "a.phq", {"t": (keys, ra)}, layout="sparse", quant="f32")
    del a
    phq.writer.write(tmp_path / "b.phq", {"t": (keys, rb)}, layout="sparse", quant="f32")
    whole = D.diff(tmp_path / "a.phq", tmp_path / "b.phq").tables["t"]["rows"]
    monkeypatch.setattr(D, "CHUNK_VALUES", 5)
    chunked = D.diff(tmp_path / "a.phq", tmp_path / "b.phq").tables["t"]["rows"]
    for k in ("rows_compared", "rows_differ", "values_differ", "max_abs", "max_rel", "examples"):
        assert chunked[k] == whole[k], k


# -- --max-report bounds the work ----------------------------------------------------------------
def test_metadata_findings_past_max_report_are_counted_not_built(tmp_path, monkeypatch):
    n = 200_000
    a = tmp_path / "a.phq"
    b = tmp_path / "b.phq"
    phq.writer.write(a, {}, metadata={"x": [0] * n, "y": [[]] * 10, "z": list(range(10))})
    phq.writer.write(b, {}, metadata={"x": [1] * n, "y": [[]] * 10, "z": list(range(10 + n))})
    built = []
    real = D.Finding.__init__

    def counting(self, *args, **kw):
        built.append(args[0])
        real(self, *args, **kw)

    monkeypatch.setattr(D.Finding, "__init__", counting)
    report = D.diff(a, b, max_report=5)
    assert built.count("metadata") == 5 and len(report.findings) == 5 + 2  # + file size, META section
    out = report.to_dict()
    assert out["counts"]["by_area"]["metadata"] == out["counts"]["data"] == 2 * n
    assert len(out["findings"]["metadata"]) == 5 and out["omitted"]["metadata"] == 2 * n - 5
    assert out["findings"]["metadata"][0]["item"] == "$.x[0]"
    assert report.summary().startswith(f"{2 * n} differences: metadata $.x[0]: 0 -> 1; ")
    text = report.text()
    assert f"... {2 * n - 5} more (--max-report)" in text
    # max_report=0: nothing listed, the summary still names the first three
    built.clear()
    r0 = D.diff(a, b, max_report=0)
    assert built.count("metadata") == 3 and r0.to_dict()["findings"]["metadata"] == [] and "$.x[2]" in r0.summary()


# -- phq lookup: one row at a time, output bounded by --max-values ----------------------------------
def test_lookup_cli_streams_and_bounds_wide_rows(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PHQ_PURE", "1")  # no accelerator scratch row in the allocation peak
    rows = stored(6, 3, seed=5)
    rows[0] = [1.5, 0, -2.25]
    path = W.wide_sparse(tmp_path / "w.phq", 6, stored=rows)
    keys = ["k0", "absent"]
    capsys.readouterr()
    # absent keys cost no row; the found key's row would print 2^24 values: refused up front
    code, peak = peak_of(main, ["lookup", path, *keys])
    out = capsys.readouterr()
    assert code == 2 and out.out == "" and "--max-values 65536" in out.err and "--sparse" in out.err
    assert peak < 8 * MiB
    code, peak = peak_of(main, ["lookup", path, "absent", "other", "--json"])
    assert code == 0 and peak < 8 * MiB
    assert [json.loads(x) for x in capsys.readouterr().out.splitlines()] == [
        {"key": "absent", "found": False, "row": None}, {"key": "other", "found": False, "row": None}]
    # --sparse: the stored non-zero values, read in sparse form
    code, peak = peak_of(main, ["lookup", path, *keys, "--sparse"])
    assert code == 0 and peak < 8 * MiB
    assert capsys.readouterr().out.splitlines() == ["k0\t0:1.5 2:-2.25", "absent\t(absent)"]
    assert main(["lookup", path, *keys, "--sparse", "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines == [{"key": "k0", "found": True, "dim": W.WIDE_DIM, "columns": [0, 2], "values": [1.5, -2.25]},
                     {"key": "absent", "found": False, "dim": W.WIDE_DIM, "columns": None, "values": None}]
    # --sparse is bounded by the stored values of a row
    assert main(["lookup", path, "k0", "--sparse", "--max-values", "1"]) == 2
    assert "a row stores 2 values" in capsys.readouterr().err
    assert main(["lookup", path, "k0", "--max-values", "-1"]) == 2


@pytest.mark.parametrize("options", [dict(quant="linear8", scale="column"), dict(quant="linear8", scale="row-block", block_rows=4),
                                     dict(quant="f16"), dict(quant="codebook4", scale="table")])
@pytest.mark.parametrize("layout", ["dense", "sparse"])
def test_lookup_cli_sparse_output_is_the_dense_output_without_zeros(tmp_path, capsys, options, layout):
    keys = [f"w={i}" for i in range(40)]
    path = tmp_path / "m.phq"
    phq.writer.write(path, {"t": (keys, stored(40, 10, seed=6, density=0.4))}, layout=layout, **options)
    for raw in ([], ["--raw"]):
        capsys.readouterr()
        assert main(["lookup", str(path), *keys, "nope", "--json", *raw]) == 0
        dense = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
        assert main(["lookup", str(path), *keys, "nope", "--json", "--sparse", *raw]) == 0
        sparse = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
        with phq.open(path) as m:
            t = m.tables["t"]
            for d, s, key in zip(dense, sparse, keys + ["nope"]):
                assert d["found"] == s["found"] == (key != "nope")
                if not d["found"]:
                    continue
                zero = np.zeros(t.dim) if not raw else (t.raw_at(t.slot(key)) * 0 + (
                    np.broadcast_to(t._zero_codes(np.array([t.slot(key)])), (1, t.dim))[0] if t.quant.startswith("linear") else 0))
                nz = [i for i, v in enumerate(d["row"]) if v != zero[i]]
                assert s["columns"] == nz and s["values"] == [d["row"][i] for i in nz]
                assert d["row"] == (t.raw(key) if raw else t[key]).tolist()
