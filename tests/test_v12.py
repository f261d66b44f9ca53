"""Format 1.2 (spec/format-v1.2.md): the compact sparse layout. The writer's choices, the
known-answer vector, every runtime reading compact tables exactly as the 1.0 sparse ones
(Python pure, the C accelerator, the C reader's adapter), hostile files at lookup time, opt-in
output, the feature bit and `phq spec diff 1.1 1.2`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import phq
import phq.rows
from phq import layout as L
from phq.cli import main
from phq.compact import row_columns
from phq.conformance import SUITE_DIR, runner
from phq.writer.compact import column_bytes, to_compact
from phq.writer.quant import Sparse

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path, name, keys, rows, **opts) -> Path:
    path = tmp_path / f"{name}.phq"
    phq.writer.write(path, {"t": phq.writer.Table(keys, rows, **opts)})
    return path


def test_known_answer_vector():
    """1.2 §9: two rows (columns 1, 6, 7 | 11) of dim 12 with l = 2, blocks of 2 rows."""
    sp = Sparse(np.array([0, 3, 4], np.uint32), np.array([1, 6, 7, 11], np.uint8), None)
    c = to_compact(sp, 2, 12, row_block_log2=1, delta_width=1, low_bits=2)
    assert c.low.tobytes() == bytes.fromhex("f9")
    assert c.high.tobytes() == bytes.fromhex("0d01")
    assert c.bases.tolist() == [0, 4] and c.deltas.tolist() == [0, 3, 0]
    t = SimpleNamespace(name="t", _low=c.low, _high=c.high, _low_bits=2, _high_zeros=3)
    assert row_columns(t, 0, 0, 3).tolist() == [1, 6, 7]
    assert row_columns(t, 1, 3, 4).tolist() == [11]


def test_writer_picks_the_smallest_parameters():
    rng = np.random.default_rng(5)
    n, dim = 300, 150
    counts = rng.integers(0, 30, n)
    ri = np.concatenate(([0], np.cumsum(counts))).astype(np.uint32)
    cols = np.concatenate([np.sort(rng.choice(dim, k, replace=False)) for k in counts]).astype(np.uint8)
    c = to_compact(Sparse(ri, cols, None), n, dim)
    best = min(L.align(((n >> k) + 1) * 4) + L.align((n + 1) * w)
               for k in range(16) for w in (1, 2, 4)
               if max(int(ri[s]) - int(ri[(s >> k) << k]) for s in range(n + 1)) < 1 << (8 * w))
    assert L.align(c.bases.nbytes) + L.align(c.deltas.nbytes) == best
    assert column_bytes(n, dim, int(ri[-1]), c.column_low_bits) == min(column_bytes(n, dim, int(ri[-1]), l) for l in range(25))


def test_compact_is_opt_in_and_sets_its_bit(tmp_path):
    keys = [f"k{i}" for i in range(200)]
    rows = np.zeros((200, 40), np.float32)
    rows[::3, ::7] = 1.5
    plain = write(tmp_path, "plain", keys, rows)  # the default: 1.0 bytes
    compact = write(tmp_path, "compact", keys, rows, sparse="compact")
    with phq.open(plain) as m:
        assert m.header.minor == 0 and m.header.required_features == 0 and m.tables["t"].layout == "sparse"
    with phq.open(compact) as m:
        assert m.header.minor == 2 and m.header.required_features == L.FEATURE_COMPACT_SPARSE
        assert m.tables["t"].layout == "compact"
    assert compact.stat().st_size < plain.stat().st_size
    # "auto" keeps a table dense when that is smaller (a dense table sets no bit)
    dense = write(tmp_path, "dense", keys, np.ones((200, 3), np.float32), sparse="compact")
    with phq.open(dense) as m:
        assert m.tables["t"].layout == "dense" and m.header.minor == 0
    with pytest.raises(phq.UsageError, match="sparse must be one of"):
        write(tmp_path, "bad", keys, rows, sparse="elias")
    # a reader of 1.1 refuses the compact file with E_FEATURE before anything else
    with pytest.raises(phq.FormatError) as e:
        phq.validate(compact, max_version=(1, 1))
    assert e.value.code == "E_FEATURE"


table_strategy = st.tuples(
    st.integers(0, 120),  # keys
    st.sampled_from([1, 3, 9, 40, 150, 300]),  # dim
    st.floats(0.0, 1.0),  # share of zero weights
    st.sampled_from(["f32", "f16", "linear8", "linear4", "codebook4", "codebook8"]),
    st.sampled_from(["table", "column"]),
    st.integers(0, 2**31),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=table_strategy)
def test_compact_and_plain_read_identically_in_every_runtime(tmp_path, monkeypatch, spec):
    """The same table written plain (1.0) and compact (1.2) answers bit for bit alike, in the
    Python reader (pure) and the accelerator (the C reader), single and batch lookups, raw and
    dequantized, stored entries; and the compact file validates."""
    n, dim, zeros, quant, scale, seed = spec
    rng = np.random.default_rng(seed)
    rows = np.round(rng.normal(0, 1, (n, dim)), 3).astype(np.float32)
    rows[rng.random((n, dim)) < zeros] = 0
    keys = [f"k{i}".encode() for i in range(n)]
    d = tmp_path / str(seed)
    d.mkdir(exist_ok=True)
    a = write(d, "plain", keys, rows, layout="sparse", quant=quant, scale=scale)
    b = write(d, "compact", keys, rows, layout="sparse", sparse="compact", quant=quant, scale=scale)
    probe = keys + [b"absent", b""]
    answers = []
    for pure in ("1", "0"):
        monkeypatch.setenv("PHQ_PURE", pure)
        for path in (a, b):
            with phq.validate(path) as m:
                t = m.tables["t"]
                rows_f, found = t.lookup(probe)
                raw, _ = t.lookup_raw(probe)
                single = [t.get(k) for k in keys[:10]]
                entries = phq.rows.stored_entries(t, np.arange(n)) if n else ()
                answers.append((rows_f.tobytes(), found.tobytes(), raw.tobytes(), [s.tobytes() for s in single],
                                [e.tobytes() for e in entries]))
    assert all(x == answers[0] for x in answers[1:])


@pytest.fixture(scope="module")
def c_adapter():
    path = ROOT / "build" / "phq-c-conform"
    if not path.exists():
        if shutil.which("gcc") is None:
            pytest.skip("gcc is not installed")
        subprocess.run(["make", "-s", "-C", str(ROOT / "creader"), "all"], check=True)
    return path


def test_conformance_suite_12_passes_in_python_and_c(c_adapter, monkeypatch):
    for reader in (runner.reference_reader, [str(c_adapter)]):
        results = runner.run(reader, "1.2", timeout=60)
        assert len(results) == len(runner.load_suite("1.2")[1]) >= 50
        assert [r.file for r in results if r.status != "PASS"] == []
    monkeypatch.setenv("PHQ_PURE", "1")
    assert [r.file for r in runner.run(runner.reference_reader, "1.2") if r.status != "PASS"] == []


def test_older_readers_refuse_every_12_file_with_e_feature(c_adapter):
    """A 1.1 (and 1.0) reader, Python or C built with -DPHQ_MAX_MINOR=1, refuses each valid
    1.2 file at header check 7."""
    root, files = runner.load_suite("1.2")
    valid = {f["file"] for f in files if f["expect"] == "accept"}
    for version in ("1.0", "1.1"):
        py = {r.file: r.outcome for r in runner.run(runner.versioned_reader(version), "1.2")}
        assert {py[f] for f in valid} == {"E_FEATURE"}
    v11 = ROOT / "build" / "phq-c-conform-v11"
    subprocess.run(["make", "-s", "-C", str(ROOT / "creader"), "v11"], check=True)
    c = {r.file: r.outcome for r in runner.run([str(v11)], "1.2", timeout=60)}
    assert {c[f] for f in valid} == {"E_FEATURE"}
    assert [r.file for r in runner.run([str(v11)], "1.1", timeout=60) if r.status != "PASS"] == []  # and reads 1.1


@pytest.mark.parametrize("pure", ["1", "0"])
def test_corrupt_regions_fail_lookups_with_e_sparse_without_validation(pure, monkeypatch):
    """Opened without validation (§10.1 only), a compact file whose COLUMN_HIGH region lost or
    gained a one bit, or whose block base is past nnz, answers every lookup either with the
    row or with E_SPARSE (1.2 §6), in the Python reader and in the C reader alike."""
    monkeypatch.setenv("PHQ_PURE", pure)
    from phq.conformance.generate import keys_for

    probes = keys_for(40)  # every key of the invalid files' table (compact_cases.invalid_cases_v12)
    for name in ("n_compact_high_one_removed", "n_compact_high_one_added", "n_compact_base_past_nnz", "n_compact_columns_descending"):
        data = (SUITE_DIR / "v1.2" / "invalid" / f"{name}.phq").read_bytes()
        with phq.open(data) as m:
            t = m.tables["t"]
            codes = set()
            for k in probes:
                try:
                    t.get(k)
                except phq.FormatError as e:
                    codes.add(e.code)
            with pytest.raises(phq.FormatError) as batch:
                t.lookup(probes) if name != "n_compact_columns_descending" else phq.validate(data)
            assert batch.value.code == "E_SPARSE"
            if name != "n_compact_columns_descending":  # descending columns: a valid row to a lookup, validators refuse it
                assert codes == {"E_SPARSE"}, name


def test_compact_rows_cost_their_bits_only():
    """A compact table of dim 2^24 with few stored values: sizes follow the stored values (the
    writer picks l so that H is small), and a row read touches only its region."""
    n, dim = 64, 1 << 24
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 4, n)
    ri = np.concatenate(([0], np.cumsum(counts))).astype(np.uint32)
    cols = np.concatenate([np.sort(rng.choice(dim, k, replace=False)) for k in counts]).astype(np.uint32)
    c = to_compact(Sparse(ri, cols, None), n, dim)
    assert c.index_bytes() < 1024  # bytes in proportion to the 96 stored values, not to dim
    h = L.compact_high_bits(dim, c.column_low_bits)
    assert h <= 4
    t = SimpleNamespace(name="t", _low=c.low, _high=c.high, _low_bits=c.column_low_bits, _high_zeros=h)
    for s in range(n):
        assert row_columns(t, s, int(ri[s]), int(ri[s + 1])).tolist() == cols[ri[s] : ri[s + 1]].tolist()


def test_spec_diff_11_12_is_compatible(capsys):
    assert main(["spec", "diff", "1.1", "1.2"]) == 0
    out = capsys.readouterr().out
    assert "8 change(s), all compatible" in out
    assert "RESERVED_FIELD_USED  table_descriptor.delta_width" in out and "only in files that set COMPACT_SPARSE" in out
    assert "ENUM_VALUE_ADDED     enum layout = 2 (compact)" in out
    assert main(["spec", "diff", "1.2", "1.1"]) == 1  # backwards: the bit and the kinds are removed


def test_compat_matrix_shows_older_readers_refusing_12(capsys):
    assert main(["conformance", "compat"]) == 0
    rows = {line.split("|")[1].strip(): line for line in capsys.readouterr().out.splitlines() if line.startswith("| py")}
    assert "refuse E_FEATURE (23)" in rows["py@1.0"] and "refuse E_FEATURE (23)" in rows["py@1.1"]
    assert "read (23)" in rows["py"] and "50 passed, 0 failed" in rows["py"]


def test_inspect_names_the_layout(tmp_path, capsys):
    keys = [f"k{i}" for i in range(100)]
    rows = np.zeros((100, 30), np.float32)
    rows[::2, ::5] = 2.0
    path = write(tmp_path, "c", keys, rows, sparse="compact", layout="sparse")
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "phq 1.2" in out and "compact rows" in out and "ROW_BASES" in out and "COLUMN_HIGH" in out
    assert os.path.getsize(path) > 0


def test_random_tables_read_alike_in_the_c_and_javascript_adapters(tmp_path, c_adapter):
    """Random tables written plain (1.0) and compact (1.2): the C reader's and the JavaScript
    reader's adapters answer the compact file exactly as the Python reference answers the plain
    one (slots, raw rows, dequantized rows: the same protocol text)."""
    from phq.conformance.adapter import answer, parse_probes

    node = shutil.which("node")
    readers = [[str(c_adapter)]] + ([[node, str(ROOT / "js" / "bin" / "phq-conform.js")]] if node else [])
    rng = np.random.default_rng(12)
    for i, (quant, dim, zeros) in enumerate([("linear8", 150, 0.9), ("linear4", 40, 0.7), ("f16", 300, 0.98),
                                             ("codebook4", 12, 0.5), ("f32", 5, 0.3), ("linear8", 1, 0.5)]):
        n = int(rng.integers(1, 150))
        rows = np.round(rng.normal(0, 1, (n, dim)), 3).astype(np.float32)
        rows[rng.random((n, dim)) < zeros] = 0
        keys = [f"k{j}".encode() for j in range(n)]
        plain = write(tmp_path, f"p{i}", keys, rows, layout="sparse", quant=quant)
        compact = write(tmp_path, f"c{i}", keys, rows, layout="sparse", sparse="compact", quant=quant)
        probes = "".join(f"{b't'.hex()} {k.hex()}\n" for k in keys + [b"zz"])
        want = answer(plain, parse_probes(probes))
        assert want.startswith("ok") and answer(compact, parse_probes(probes)) == want
        for cmd in readers:
            got = subprocess.run(cmd + [str(compact)], input=probes, capture_output=True, text=True, timeout=60).stdout
            assert got == want, (cmd[0], quant, dim)


def test_sparse_rows_of_a_dim_0_table_are_checked_by_every_path(tmp_path, monkeypatch):
    """A sparse table whose dim was set to 0 but which still stores values: every path answers
    E_SPARSE (its columns are >= dim). The C reader returned an empty row without reading the
    span when dim was 0 (found by fuzz/fuzz_py.py once its seeds included the 1.2 suite)."""
    from phq.conformance.surgery import TABLE_FIELDS, PhqBytes

    keys = [f"k{i}" for i in range(30)]
    rows = np.zeros((30, 3), np.float32)
    rows[:, 1] = 1.0
    path = write(tmp_path, "t", keys, rows, layout="sparse", quant="f16")  # (a compact table's COLUMN_HIGH size depends on dim)
    p = PhqBytes(path.read_bytes())
    i = p.find(L.KIND_TABLE)
    bad = p.set_in_section(i, TABLE_FIELDS, "dim", 0)
    data = bad.fix((i,)).bytes()
    for pure in ("1", "0"):
        monkeypatch.setenv("PHQ_PURE", pure)
        with phq.open(data) as m:
            t = m.tables["t"]
            for call in (lambda: t[keys[0]], lambda: t.raw(keys[0]), lambda: t.lookup(keys)):
                with pytest.raises(phq.FormatError) as e:
                    call()
                assert e.value.code == "E_SPARSE"
