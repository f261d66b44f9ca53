"""Partitioned builds (writer/partitioned.py, spec §13.7): every engine writes the bytes of
`phq.writer.write(..., partitions=P)`, from shards that the workers read themselves."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import phq
import phq.writer as W
from phq.cli import main as cli
from phq.hashing import hash_keys, partition_of_np

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
distributed = pytest.importorskip("distributed")

REPO = Path(__file__).resolve().parent.parent


# --- shard writers -----------------------------------------------------------------------------
def _escape(key: bytes) -> bytes:
    """TSV key escaping (spec §13.6): tab, newline, CR, backslash and non-ASCII bytes as \\xHH."""
    out = bytearray()
    for b in key:
        c = bytes([b])
        if c == b"\\":
            out += b"\\\\"
        elif c in b"\t\n\r" or b >= 0x80:
            out += b"\\x%02x" % b
        else:
            out += c
    return bytes(out)


def write_tsv(path: Path, keys, rows) -> Path:
    with open(path, "wb") as f:
        for k, r in zip(keys, rows):
            f.write(b"\t".join([_escape(k)] + [repr(float(x)).encode() for x in r]) + b"\n")
    return path


def write_jsonl(path: Path, keys, rows) -> Path:
    with open(path, "w") as f:
        for k, r in zip(keys, rows):
            f.write(json.dumps({"key_hex": k.hex(), "weights": [float(x) for x in r]}) + "\n")
    return path


def write_parquet(path: Path, keys, rows, kind: str = "fixed") -> Path:
    rows = np.asarray(rows, dtype=np.float32)
    dim = rows.shape[1] if rows.ndim == 2 else 0
    rows = rows.reshape(len(keys), dim)
    if kind == "fixed":
        w = pa.FixedSizeListArray.from_arrays(pa.array(rows.reshape(-1), pa.float32()), dim)
        t = pa.table({"key": pa.array(keys, pa.binary()), "weights": w})
    elif kind == "list":  # string keys, list<double>
        t = pa.table({"key": pa.array([k.decode() for k in keys], pa.string()),
                      "weights": pa.array([r.astype(np.float64).tolist() for r in rows], pa.list_(pa.float64()))})
    else:  # one float column per weight
        t = pa.table({"key": pa.array(keys, pa.large_binary()), **{f"w{c}": pa.array(rows[:, c]) for c in range(dim)}})
    pq.write_table(t, path, row_group_size=max(1, len(keys) // 3 or 1))
    return path


def shard(tmp: Path, keys, rows, count: int, fmt: str = "tsv", seed: int = 0) -> list[Path]:
    """Split (keys, rows) into `count` shards of format `fmt` at random (some may be empty)."""
    rng = np.random.default_rng(seed)
    which = rng.integers(0, count, len(keys))
    rows = np.asarray(rows)
    rows = rows.reshape(len(keys), rows.shape[1] if rows.ndim == 2 else 0)
    out = []
    for s in range(count):
        idx = np.flatnonzero(which == s)
        ks, rs = [keys[i] for i in idx], rows[idx]
        f = fmt if fmt != "mixed" else ("tsv", "jsonl", "parquet")[s % 3]
        p = tmp / f"shard{s}.{f}"
        {"tsv": write_tsv, "jsonl": write_jsonl, "parquet": write_parquet}[f](p, ks, rs)
        out.append(p)
    return out


def model(n: int, dim: int, seed: int = 0, density: float = 0.3):
    rng = np.random.default_rng(seed)
    keys = [f"w={i}|f{i % 7}".encode() for i in range(n)]
    rows = (rng.normal(size=(n, dim)) * (rng.random((n, dim)) < density) * rng.choice([0.1, 1, 10], dim)).astype(np.float32)
    return keys, rows


def reference(tmp: Path, keys, rows, name="features", **opts) -> bytes:
    W.write(tmp / "ref.phq", {name: (keys, rows)}, **opts)
    return (tmp / "ref.phq").read_bytes()


def built(tmp: Path, shards, out="par.phq", **kw) -> bytes:
    W.build_partitioned([str(s) for s in shards], tmp / out, **kw)
    return (tmp / out).read_bytes()


@pytest.fixture(scope="module")
def cluster():
    """A 2-worker Dask LocalCluster (worker processes, one thread each) shared by the tests."""
    import logging

    c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                 silence_logs=logging.ERROR)
    client = distributed.Client(c)
    yield c, client
    client.close()
    c.close()


# --- the invariant: every engine, the local writer's bytes ---------------------------------------
def test_local_processes_and_dask_write_the_bytes_of_write(tmp_path, cluster):
    c, _ = cluster
    keys, rows = model(4000, 6)
    keys += [b"\xff\xfe", b"tab\there", b""]  # non-UTF-8, escaped and empty keys
    rows = np.vstack([rows, np.ones((3, 6), np.float32)])
    shards = shard(tmp_path, keys, rows, 5, "mixed") + [write_tsv(tmp_path / "empty.tsv", [], [])]
    opts = dict(partitions=4, quant="linear8", scale="row-block", block_rows=100, fingerprint_bits=16, layout="auto")
    ref = reference(tmp_path, keys, rows, **opts)
    local = built(tmp_path, shards, "local.phq", engine="local", **opts)
    procs = built(tmp_path, shards, "procs.phq", engine="processes", workers=2, **opts)
    report: dict = {}
    dask = built(tmp_path, shards, "dask.phq", engine="dask", scheduler=c.scheduler_address, report=report, **opts)
    assert local == ref and procs == ref and dask == ref
    # the work really ran on the two Dask worker processes, not in the driver
    pids = {t["pid"] for t in report["tasks"]}
    assert report["driver_pid"] not in pids and len(pids) == 2
    assert {t["stage"] for t in report["tasks"]} == {"route", "build", "quantize"}
    assert report["keys"] == {"features": len(keys)}
    phq.validate(tmp_path / "dask.phq").close()
    with phq.open(tmp_path / "dask.phq") as m:
        t = m.tables["features"]
        assert t.get(b"\xff\xfe") is not None and t.get(b"tab\there") is not None and t.get(b"") is not None
        assert t.get("absent-key") is None


def test_dask_local_cluster_started_by_the_build(tmp_path):
    keys, rows = model(1500, 3, seed=2)
    shards = shard(tmp_path, keys, rows, 3, "parquet")
    opts = dict(partitions=3, quant="linear8", scale="column", layout="sparse")
    report: dict = {}
    out = built(tmp_path, shards, engine="dask", workers=2, report=report, **opts)
    assert out == reference(tmp_path, keys, rows, **opts)
    assert report["driver_pid"] not in {t["pid"] for t in report["tasks"]}


COMBOS = [
    *[("linear8", s) for s in ("table", "column", "row-block")],
    ("f16", "column"),
    ("f32", "column"),
]


@pytest.mark.parametrize("quant,scale", COMBOS)
@pytest.mark.parametrize("fp_bits", [0, 8, 16])
@pytest.mark.parametrize("layout", ["dense", "sparse", "auto"])
def test_option_combinations_match_write(tmp_path, quant, scale, fp_bits, layout):
    keys, rows = model(700, 4, seed=fp_bits + len(layout), density=0.25)
    shards = shard(tmp_path, keys, rows, 3, "tsv", seed=fp_bits)
    opts = dict(partitions=3, quant=quant, scale=scale, fingerprint_bits=fp_bits, layout=layout, block_rows=64, gamma=1.5)
    assert built(tmp_path, shards, **opts) == reference(tmp_path, keys, rows, **opts)


@pytest.mark.parametrize("quant,scale", COMBOS)
def test_drop_zero_rows_matches_write(tmp_path, quant, scale, cluster):
    _, client = cluster
    keys, rows = model(900, 3, seed=5, density=0.2)
    rows[::7] *= 1e-4  # rows that quantize to zero codes under table/column scales
    shards = shard(tmp_path, keys, rows, 4, "jsonl")
    opts = dict(partitions=5, quant=quant, scale=scale, drop_zero_rows=True, block_rows=50)
    ref = reference(tmp_path, keys, rows, **opts)
    assert built(tmp_path, shards, "a.phq", **opts) == ref
    assert built(tmp_path, shards, "b.phq", engine="dask", scheduler=client, **opts) == ref


@pytest.mark.parametrize("fmt", ["tsv", "jsonl", "parquet"])
def test_empty_input_and_empty_partitions(tmp_path, fmt):
    # three keys in eight partitions: most partitions hold no key
    keys, rows = [b"a", b"b", b"c"], np.array([[1.0, 0], [0, -2], [3, 3]], np.float32)
    parts = partition_of_np(hash_keys(keys, 0)[:, 1], 8)
    assert len(set(parts.tolist())) < 8
    shards = shard(tmp_path, keys, rows, 4, fmt, seed=3)
    for layout in ("dense", "sparse"):
        opts = dict(partitions=8, layout=layout, scale="row-block", block_rows=2)
        assert built(tmp_path, shards, **opts) == reference(tmp_path, keys, rows, **opts)
    # no keys at all, only empty shards
    empty = [write_tsv(tmp_path / f"e{i}.tsv", [], []) for i in range(3)]
    assert built(tmp_path, empty, partitions=4) == reference(tmp_path, [], np.zeros((0, 0)), partitions=4)


def test_parquet_schemas(tmp_path):
    keys, rows = model(300, 3, seed=9)
    opts = dict(partitions=2, quant="f32")
    ref = reference(tmp_path, keys, rows, **opts)
    for kind in ("fixed", "list", "columns"):
        p = write_parquet(tmp_path / f"{kind}.parquet", keys, rows, kind)
        assert built(tmp_path, [p], **opts) == ref, kind
        got_keys, got_rows = W.read_parquet(p)
        assert got_keys == keys and np.array_equal(got_rows.astype(np.float32), rows)
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"name": ["a"], "weights": [[1.0]]}), bad)
    with pytest.raises(phq.UsageError, match="column 'key'"):
        W.build_partitioned([bad], tmp_path / "x.phq", partitions=1)
    pq.write_table(pa.table({"key": ["a", None], "weights": [[1.0], [2.0]]}), bad)
    with pytest.raises(phq.UsageError, match="null key"):
        W.build_partitioned([bad], tmp_path / "x.phq", partitions=1)
    pq.write_table(pa.table({"key": ["a", "b"], "weights": [[1.0], [2.0, 3.0]]}), bad)
    with pytest.raises(phq.UsageError, match="expected 1"):
        W.build_partitioned([bad], tmp_path / "x.phq", partitions=1)


def test_duplicate_key_across_shards_is_a_usage_error(tmp_path, cluster):
    _, client = cluster
    a = write_tsv(tmp_path / "a.tsv", [b"x", b"dup\xff", b"y"], [[1], [2], [3]])
    b = write_tsv(tmp_path / "b.tsv", [b"z", b"dup\xff"], [[4], [5]])
    for kw in (dict(engine="local"), dict(engine="processes", workers=2), dict(engine="dask", scheduler=client)):
        with pytest.raises(phq.UsageError, match=r"duplicate key b'dup\\xff'.*a\.tsv record 1 and .*b\.tsv record 1"):
            W.build_partitioned([a, b], tmp_path / "x.phq", partitions=3, **kw)
    assert not (tmp_path / "x.phq").exists()
    assert not list(tmp_path.glob(".x.phq.*"))  # no temporary or work files left


def test_input_errors(tmp_path):
    a = write_tsv(tmp_path / "a.tsv", [b"x"], [[1, 2]])
    b = write_tsv(tmp_path / "b.tsv", [b"y"], [[1, 2, 3]])
    with pytest.raises(phq.UsageError, match="rows of 3 weights|of 2"):
        W.build_partitioned([a, b], tmp_path / "x.phq", partitions=1)
    c = write_tsv(tmp_path / "c.tsv", [b"nan"], [[float("nan"), 1]])  # not a number in TSV's grammar (§13.6)
    with pytest.raises(phq.UsageError, match="c.tsv:1: a weight is not a number: weight 1 is 'nan'"):
        W.build_partitioned([a, c], tmp_path / "x.phq", partitions=1, engine="processes", workers=1)
    c = write_jsonl(tmp_path / "c.jsonl", [b"nan"], [[1e308, 1]])
    c.write_text(c.read_text().replace("1e+308", "1e400"))  # valid JSON, beyond float64: infinity
    with pytest.raises(phq.UsageError, match="NaN and infinity are refused"):
        W.build_partitioned([a, c], tmp_path / "x.phq", partitions=1, engine="processes", workers=1)
    with pytest.raises(phq.UsageError, match="no such input"):
        W.build_partitioned([tmp_path / "missing.tsv"], tmp_path / "x.phq", partitions=1)
    with pytest.raises(phq.UsageError, match="partitions"):
        W.build_partitioned([a], tmp_path / "x.phq", partitions=None)
    with pytest.raises(phq.UsageError, match="engine"):
        W.build_partitioned([a], tmp_path / "x.phq", partitions=1, engine="spark")
    with pytest.raises(phq.UsageError, match="scheduler"):
        W.build_partitioned([a], tmp_path / "x.phq", partitions=1, scheduler="tcp://127.0.0.1:1")


def test_several_tables_tensors_and_metadata(tmp_path):
    k1, r1 = model(400, 2, seed=1)
    k2, r2 = model(300, 5, seed=2)
    tensors, metadata = {"bias": np.arange(3, dtype=np.float32)}, {"labels": ["a", "b"]}
    opts = dict(partitions=2, quant="linear8", scale="table")
    W.write(tmp_path / "ref.phq", {"one": (k1, r1), "two": (k2, r2)}, tensors=tensors, metadata=metadata, **opts)
    W.build_partitioned({"one": shard(tmp_path, k1, r1, 2, "tsv"), "two": write_parquet(tmp_path / "two.parquet", k2, r2)},
                        tmp_path / "par.phq", tensors=tensors, metadata=metadata, **opts)
    assert (tmp_path / "par.phq").read_bytes() == (tmp_path / "ref.phq").read_bytes()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.dictionaries(st.binary(max_size=6), st.lists(st.sampled_from([0.0, -0.0, 1.5, -3.25, 1e-3, 7.0, 1e30]), min_size=3, max_size=3),
                         max_size=40),
    dim=st.integers(0, 3),
    partitions=st.integers(1, 5),
    shards=st.integers(1, 4),
    quant_scale=st.sampled_from(COMBOS),
    layout=st.sampled_from(["dense", "sparse", "auto"]),
    fp_bits=st.sampled_from([0, 8, 16, 32]),
    drop=st.booleans(),
    block_rows=st.integers(1, 9),
)
def test_property_byte_identical(tmp_path_factory, data, dim, partitions, shards, quant_scale, layout, fp_bits, drop, block_rows):
    tmp = tmp_path_factory.mktemp("prop")
    quant, scale = quant_scale
    keys = list(data)
    rows = np.array([v[:dim] for v in data.values()], np.float64).reshape(len(keys), dim)
    if quant == "f16":
        rows[np.abs(rows) > 65504] = 2.0
    if not keys:  # no record says what dim is (an empty TSV or JSONL file declares none)
        rows = np.zeros((0, 0))
    # TSV cannot hold a lone empty key without weights (a file "\n" has no record): JSONL then
    files = shard(tmp, keys, rows, shards, "mixed" if dim and keys else "jsonl", seed=len(keys))
    opts = dict(partitions=partitions, quant=quant, scale=scale, layout=layout, fingerprint_bits=fp_bits,
                drop_zero_rows=drop, block_rows=block_rows)
    assert built(tmp, files, **opts) == reference(tmp, keys, rows, **opts)


# --- memory: the driver never holds the table ------------------------------------------------------
def _traced_peak(fn) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_driver_memory_is_bounded_by_partitions_not_by_the_table(tmp_path):
    n, dim, P = 200_000, 4, 16
    rng = np.random.default_rng(0)
    keys = [b"feature=%d|ctx=%d" % (i, i % 977) for i in range(n)]
    rows = (rng.normal(size=(n, dim)) * (rng.random((n, dim)) < 0.5)).astype(np.float32)
    files = []
    for s in range(8):
        t = pa.table({"key": pa.array(keys[s::8], pa.binary()),
                      "weights": pa.FixedSizeListArray.from_arrays(pa.array(rows[s::8].reshape(-1)), dim)})
        pq.write_table(t, tmp_path / f"s{s}.parquet", row_group_size=5000)
        files.append(tmp_path / f"s{s}.parquet")
    # for scale: the in-memory writer given one shard, an eighth of the table
    one_shard = _traced_peak(lambda: W.write(tmp_path / "ref.phq", {"features": W.read_parquet(files[0])}, partitions=P))
    local = _traced_peak(lambda: W.build_partitioned(files, tmp_path / "local.phq", partitions=P, batch_rows=5000))
    procs = _traced_peak(lambda: W.build_partitioned(files, tmp_path / "procs.phq", partitions=P, engine="processes", workers=2))
    del keys, rows
    print(f"traced peaks: write(1/8 of the table) {one_shard >> 10} KiB, local {local >> 10} KiB, processes driver {procs >> 10} KiB")
    # in-process: one shard batch or one partition (1/16 of the table) at a time, so the
    # peak is below writing one eighth of the table in memory
    assert local < one_shard / 2, (local, one_shard)
    # the driver of a distributed build only assembles: a few chunk buffers
    assert procs < one_shard / 4 and procs < 4 << 20, (procs, one_shard)
    assert (tmp_path / "local.phq").read_bytes() == (tmp_path / "procs.phq").read_bytes()


# --- command line ------------------------------------------------------------------------------------
def test_cli_sharded_build_on_every_engine(tmp_path, capsys):
    keys, rows = model(600, 3, seed=4)
    shards = [str(p) for p in shard(tmp_path, keys, rows, 3, "tsv")]
    whole = write_tsv(tmp_path / "whole.tsv", keys, rows)
    common = ["--partitions", "3", "--quant", "linear8", "--scale", "row-block", "--block-rows", "32", "--quiet"]
    assert cli(["build", f"features={whole}", "-o", str(tmp_path / "ref.phq"), *common]) == 0
    assert cli(["build", *shards, "--table", "features", "-o", str(tmp_path / "l.phq"), *common]) == 0
    assert "600 keys" in capsys.readouterr().out
    assert cli(["build", *[f"features={s}" for s in shards], "-o", str(tmp_path / "p.phq"), "--engine", "processes",
                "--workers", "2", "--work-dir", str(tmp_path / "work"), *common]) == 0
    assert cli(["build", *shards, "--table", "features", "-o", str(tmp_path / "d.phq"), "--engine", "dask",
                "--workers", "2", *common]) == 0
    ref = (tmp_path / "ref.phq").read_bytes()
    for f in ("l.phq", "p.phq", "d.phq"):
        assert (tmp_path / f).read_bytes() == ref, f
    assert list((tmp_path / "work").iterdir()) == []  # the work files are removed
    assert cli(["build", *shards, "--table", "features", "-o", str(tmp_path / "x.phq"), "--engine", "dask"]) == 2
    assert "--partitions" in capsys.readouterr().err
    assert cli(["build", *shards, "-o", str(tmp_path / "x.phq")]) == 0  # stems differ: three tables, as before
    with phq.open(tmp_path / "x.phq") as m:
        assert sorted(m.tables) == ["shard0", "shard1", "shard2"]


# --- streamed sections -------------------------------------------------------------------------------
def test_streamed_sections_write_the_same_bytes(tmp_path):
    from phq import layout as L
    from phq.writer.serialize import SectionOut, to_bytes, write_sections

    data = np.arange(10_000, dtype=np.uint32)
    plain = [SectionOut(L.KIND_META, buffers=[b'{"a":1}']), SectionOut(L.KIND_TENSOR, buffers=[data])]
    streamed = [SectionOut(L.KIND_META, buffers=[b'{"a":1}']),
                SectionOut(L.KIND_TENSOR, stream=lambda: (data[i : i + 999] for i in range(0, data.size, 999)), length=data.nbytes)]
    write_sections(tmp_path / "s.phq", streamed)
    assert (tmp_path / "s.phq").read_bytes() == to_bytes(plain)
    bad = [SectionOut(L.KIND_TENSOR, stream=lambda: iter([data]), length=3)]
    with pytest.raises(RuntimeError, match="declared"):
        write_sections(tmp_path / "t.phq", bad)
    assert not (tmp_path / "t.phq").exists()


# --- benchmark smoke ---------------------------------------------------------------------------------
def test_bench_partitioned_quick(tmp_path):
    out = tmp_path / "partitioned.json"
    cmd = [sys.executable, str(REPO / "bench" / "bench_partitioned.py"), "--quick", "--out", str(out), "--data", str(tmp_path / "data")]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["keys"] <= 200_000 and res["identical"] is True
    runs = {(r["engine"], r["workers"]) for r in res["runs"]}
    assert {("processes", 1), ("processes", 2), ("dask", 1), ("dask", 2)} <= runs
    for r in res["runs"]:
        assert r["seconds"] > 0 and r["driver_peak_rss_mib"] > 0
        peaks = r["workers_peak_rss_mib"]  # one per worker process that ran a task
        if r["engine"] == "local":
            assert peaks == []  # the tasks ran in the driver
        else:
            assert 1 <= len(peaks) <= r["workers"] and all(v > 0 for v in peaks)
    assert "engine" in p.stdout  # the printed table


# --- inputs that change during the build (spec §13.8) ---------------------------------------------
def _previous_output(path: Path) -> bytes:
    W.write(path, {"features": {"old": [1.0]}})
    return path.read_bytes()


def _change(path: Path, how: str) -> None:
    """Change a shard the way the outside review did, keeping its modification time (so that
    only size or content can tell): cut it in half, or change one digit of its last number."""
    st = path.stat()
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:
        i = max(data.rfind(bytes([d])) for d in b"0123456789")
        path.write_bytes(data[:i] + (b"1" if data[i : i + 1] != b"1" else b"2") + data[i + 1 :])
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("how", ["truncate", "digit"])
@pytest.mark.parametrize("engine", ["local", "processes", "dask"])
def test_a_shard_changed_between_passes_fails_the_build(tmp_path, cluster, monkeypatch, engine, how):
    from phq.writer import partitioned

    keys, rows = model(900, 3)
    shards = shard(tmp_path, keys, rows, 3, "tsv")
    target = tmp_path / "out.phq"
    before = _previous_output(target)
    seen = []

    def hook(stage, name):  # the driver, after every route task read its shard
        seen.append(stage)
        if stage == "route":
            _change(shards[1], how)

    monkeypatch.setattr(partitioned, "_TEST_HOOK", hook)
    kw = {"local": {}, "processes": dict(workers=2), "dask": dict(scheduler=cluster[1])}[engine]
    what = "size" if how == "truncate" else r"content \(SHA-256\)"
    with pytest.raises(W.InputChangedError, match=rf"shard1.tsv: the input changed during the build \({what}"):
        W.build_partitioned([str(s) for s in shards], target, partitions=2, engine=engine, **kw)
    assert seen[0] == "route" and seen[-1] == "write"
    assert target.read_bytes() == before  # the previous output is untouched
    assert W.stale_temp_files(target) == [] and not list(tmp_path.glob(".out.phq.work-*"))


@pytest.mark.parametrize("fmt", ["tsv", "jsonl"])
def test_a_shard_truncated_while_it_is_read_fails_the_build(tmp_path, monkeypatch, fmt):
    """The review's case: a shard cut while the route pass read it gave exit 0 and half its keys."""
    from phq.writer import inputs

    keys, rows = model(1000, 2)
    shards = shard(tmp_path, keys, rows, 2, fmt)
    target = tmp_path / "out.phq"
    before = _previous_output(target)
    cut = []

    def hook(path, records):  # between two batches of one shard
        if not cut:
            cut.append(path)
            data = Path(path).read_bytes()
            Path(path).write_bytes(data[: len(data) // 2])

    monkeypatch.setattr(inputs, "_TEST_HOOK", hook)
    args = [str(s) for s in shards]
    with pytest.raises(W.InputChangedError, match="changed while it was being read"):
        W.build_partitioned(args, target, partitions=2, batch_rows=50)
    assert cut and target.read_bytes() == before
    # the same through the command line: exit 2, a message, no traceback, the old file kept
    monkeypatch.setitem(W.build_partitioned.__kwdefaults__, "batch_rows", 50)
    monkeypatch.setattr(inputs.iter_tsv, "__defaults__", (50,))
    monkeypatch.setattr(inputs.iter_jsonl, "__defaults__", (50,))
    for plain in (False, True):
        cut.clear()
        shards = shard(tmp_path, keys, rows, 2, fmt, seed=1)
        argv = [str(shards[0])] if plain else [*map(str, shards), "--table", "features"]
        assert cli(["build", *argv, "-o", str(target), "--quiet"]) == 2
        assert cut and target.read_bytes() == before


def test_plain_build_checks_every_input_before_replacing(tmp_path, monkeypatch, capsys):
    """`phq build` reads each input once, then writes: a change in between (table, --metadata
    or --tensor file, same size and modification time) fails the build and keeps the old file."""
    keys, rows = model(200, 2)
    tsv = write_tsv(tmp_path / "features.tsv", keys, rows)
    meta = tmp_path / "meta.json"
    meta.write_text('{"labels": ["a", "b"], "version": 7}')
    bias = tmp_path / "bias.txt"
    bias.write_text("0.5 0.25\n")
    target = tmp_path / "out.phq"
    before = _previous_output(target)
    real_write = W.write
    for changed in (tsv, meta, bias):
        original = changed.read_bytes()

        def write(*args, _changed=changed, **kw):  # between the reading pass and the write
            _change(_changed, "digit")
            return real_write(*args, **kw)

        monkeypatch.setattr(W, "write", write)
        argv = ["build", str(tsv), "-o", str(target), "--metadata", str(meta), "--tensor", f"bias={bias}", "--quiet"]
        assert cli(argv) == 2
        err = capsys.readouterr().err
        assert f"{changed}: the input changed during the build" in err and "Traceback" not in err
        assert target.read_bytes() == before and W.stale_temp_files(target) == []
        changed.write_bytes(original)
    monkeypatch.setattr(W, "write", real_write)
    assert cli(argv) == 0  # unchanged inputs build
    with phq.open(target) as m:
        assert m.metadata["version"] == 7 and m.tables["features"].num_keys == 200


def test_a_bad_record_in_a_changed_file_is_reported_as_the_change(tmp_path):
    from phq.writer import inputs

    p = tmp_path / "a.tsv"
    p.write_text("k\t1\n")
    state = inputs.input_state(p)

    def read():  # a parser meeting a cut record of a file that changed meanwhile
        p.write_text("k\t")
        raise phq.UsageError("a.tsv:1: a weight is not a number")

    with pytest.raises(W.InputChangedError, match="a.tsv: the input changed during the build"):
        inputs.reading(state, read)
    p.write_text("k\t1\n")
    state = inputs.input_state(p)
    with pytest.raises(phq.UsageError, match="not a number") as e:  # an unchanged file: the parser's own error
        inputs.reading(state, lambda: (_ for _ in ()).throw(phq.UsageError("a.tsv:1: a weight is not a number")))
    assert not isinstance(e.value, W.InputChangedError)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_input_is_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "t.tsv"
    os.mkfifo(fifo)  # open() for reading would block until a writer came
    assert cli(["build", str(fifo), "-o", str(tmp_path / "o.phq"), "--quiet"]) == 2
    assert "not a regular file" in capsys.readouterr().err
