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


# -- structural work: vectorized, the first failure still reported exactly ------------------------
import corrupt_util as C  # noqa: E402
import phq.reader as R  # noqa: E402
import sys  # noqa: E402

V = sys.modules["phq.validate"]  # the module (phq.validate is also the function)
from phq import layout as L  # noqa: E402


def test_many_sections_open_without_a_per_entry_parse(tmp_path, monkeypatch):
    path = W.many_sections(tmp_path / "s.phq", 3000)
    calls = []
    real = L.SECTION_ENTRY.parse
    monkeypatch.setattr(L.SECTION_ENTRY, "parse", lambda *a, **k: calls.append(1) or real(*a, **k))
    with phq.validate(path) as m:
        assert len(m.sections) == len(m.tensors) == 3000 and m.tensors["t2999"].shape == (0,)
    assert calls == []  # the section table is read as one numpy record array
    # a bad entry deep in the table: the same error, at its entry, as the one-by-one checks
    data = open(path, "rb").read()
    bad = C.edit_entry(data, 2500, "offset", C.entries(data)[2500].offset + 64)
    C.write_image(tmp_path / "bad.phq", bad)
    calls.clear()
    with pytest.raises(phq.FormatError) as e:
        phq.open(tmp_path / "bad.phq")
    assert e.value.code == "E_SECTION_GAP" and e.value.offset == C.entry_at(2500) + 8 and calls == [1]


def test_many_partitions_validate_vectorized_and_exact(tmp_path, monkeypatch):
    path = W.many_partitions(tmp_path / "p.phq", 4096, n=3000)
    scalar = []
    real = V._check_partition
    monkeypatch.setattr(V, "_check_partition", lambda t, p: scalar.append(p) or real(t, p))
    monkeypatch.setattr(V, "_WORDS_CHUNK", 64)  # many runs of partitions
    phq.validate(path).close()
    assert scalar == []
    data = open(path, "rb").read()
    with phq.open(path) as m:
        t = m.tables["t"]
        used = V._used_words(t)
        # a partition with levels and padding words; set a bit in its first padding word
        p = int(np.flatnonzero((used % L.RANK_BLOCK_WORDS != 0) & (np.arange(t.num_partitions) > 2000))[0])
        word = int(t._p_word_base[p] + used[p])
        # a later partition whose rank entry is wrong: the first bad partition is reported
        q = int(np.flatnonzero((used > 0) & (np.arange(t.num_partitions) > p))[-1])
        rank_at = int(t._p_word_base[q]) // L.RANK_BLOCK_WORDS
    bitmap, rank = C.find(data, L.KIND_MPH_BITMAP), C.find(data, L.KIND_MPH_RANK)
    bad = C.edit_section(data, bitmap.index, 8 * word, (1).to_bytes(8, "little"))
    bad = C.edit_section(bad, rank.index, 8 * rank_at, (1 << 40).to_bytes(8, "little"))
    C.write_image(tmp_path / "bad.phq", bad)
    with pytest.raises(phq.FormatError) as e:
        phq.validate(tmp_path / "bad.phq")
    assert e.value.code == "E_PADDING" and f"partition {p} " in e.value.message and scalar == [p]
    only_rank = C.edit_section(data, rank.index, 8 * rank_at, (1 << 40).to_bytes(8, "little"))
    C.write_image(tmp_path / "bad2.phq", only_rank)
    with pytest.raises(phq.FormatError) as e:
        phq.validate(tmp_path / "bad2.phq")
    assert e.value.code == "E_RANK" and f"partition {q} " in e.value.message


def test_metadata_of_many_empty_containers(tmp_path, monkeypatch):
    path = W.empty_containers(tmp_path / "e.phq", 600_000)
    with phq.validate(path) as m:
        assert len(m.metadata["a"]) == 199_994 and m.metadata["a"][:2] == [{}, []]
    for text, what in [('{"a":[{},{"b":1,"b":2}]}', "duplicate key 'b'"), ('{"a":[' + "[" * 70 + "]" * 70 + "]}", "deeper than 64"),
                       ('{"a":NaN}', "NaN")]:
        with pytest.raises(phq.FormatError) as e:
            R._json_object(text.encode(), 0)
        assert e.value.code == "E_METADATA" and what in e.value.message
    big = R._json_object(('{"n":' + "9" * 5000 + ',"m":[1,2]}').encode(), 0)
    assert str(big["n"]) == "9" * 5000 and big["m"] == [1, 2]
    import gc

    assert gc.isenabled()  # parsing turned the collector off and back on


def test_sparse_validate_in_bounded_chunks(tmp_path, monkeypatch):
    path = W.big_sparse(tmp_path / "b.phq", n=20_000, per_row=50)  # nnz 1M: 2 MB of columns
    monkeypatch.setattr(V, "_CHUNK", 1 << 15)
    monkeypatch.setenv("PHQ_PURE", "1")
    model, peak = peak_of(phq.validate, path)
    model.close()
    assert peak < 4 * MiB  # whole-array int64 copies of the columns alone would be 8 MiB
    # a column that steps back inside a row, far into the payload: still found
    data = open(path, "rb").read()
    cols = C.find(data, L.KIND_COLUMNS)
    at = 2 * (50 * 15_000 + 10)  # row 15000, its 11th column: set it below the 10th
    bad = C.edit_section(data, cols.index, at, (0).to_bytes(2, "little"))
    C.write_image(tmp_path / "bad.phq", bad)
    with pytest.raises(phq.FormatError) as e:
        phq.validate(tmp_path / "bad.phq")
    assert e.value.code == "E_SPARSE" and "not strictly ascending" in e.value.message


def test_bench_worst_worker_runs(tmp_path):
    """bench/bench_worst.py's measuring worker on tiny versions of its cases (no timing checked)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("bench_worst", Path(__file__).resolve().parents[1] / "bench" / "bench_worst.py")
    B = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(B)
    a = W.wide_sparse(tmp_path / "a.phq", 20)
    b = W.wide_sparse(tmp_path / "b.phq", 20, quant="f16")
    c = W.wide_sparse(tmp_path / "c.phq", 20, seed=1)
    keys = tmp_path / "keys.txt"
    keys.write_text("".join(f"k{i}\n" for i in range(20)))
    paths = [a, b, c, str(keys)]
    for op in [o for o in B.OPS["wide_sparse"] if o != "lookup_cli_all"] + ["open", "inspect", "diff_self"]:  # _all prints 33 MB
        r = B.worker(op, paths)
        assert r["seconds"] >= 0 and r["peak_rss_mib"] >= r["base_rss_mib"] > 0, op
    assert B.worker("diff_keys", paths)["rows_compared"] == 20
    assert B.worker("lookup_cli", paths)["exit"] == 2 and B.worker("lookup_cli_sparse", paths)["exit"] == 0
