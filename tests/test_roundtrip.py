"""write -> read: every weight within half a quantization step, f32 exact, zeros exact,
same input -> same bytes, edge cases of spec §14."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import phq
import phq.writer
from phq import layout as L

finite = st.floats(-1e4, 1e4, allow_nan=False, width=32)


@st.composite
def tables(draw):
    keys = draw(st.lists(st.one_of(st.binary(max_size=10), st.text(max_size=8)), max_size=60, unique_by=lambda k: k.encode() if isinstance(k, str) else k))
    # str and bytes keys must stay distinct after UTF-8 encoding
    seen, uniq = set(), []
    for k in keys:
        b = k.encode() if isinstance(k, str) else k
        if b not in seen:
            seen.add(b)
            uniq.append(k)
    dim = draw(st.integers(0, 6))
    rows = draw(hnp.arrays(np.float32, (len(uniq), dim), elements=st.one_of(finite, st.just(0.0))))
    return uniq, rows


def step_bound(t, slot_rows):
    """Per-value half quantization step (plus binary32 rounding of the product)."""
    if t.quant == "f32":
        return np.zeros_like(slot_rows)
    if t.quant == "f16":
        return np.abs(slot_rows) * 2.0**-11 + 2.0**-25
    return None


@settings(max_examples=80, deadline=None)
@given(
    data=tables(),
    quant=st.sampled_from(["f32", "f16", "linear8"]),
    scale=st.sampled_from(["table", "column", "row-block"]),
    layout=st.sampled_from(["dense", "sparse", "auto"]),
    block_rows=st.integers(1, 7),
)
def test_roundtrip_within_half_step(tmp_path_factory, data, quant, scale, layout, block_rows):
    keys, rows = data
    path = tmp_path_factory.mktemp("rt") / "m.phq"
    phq.writer.write(path, {"t": (keys, rows)}, quant=quant, scale=scale, layout=layout, block_rows=block_rows, fingerprint_bits=32)
    model = phq.validate(path)
    t = model.tables["t"]
    got, found = t.lookup(keys)
    assert found.all() and got.dtype == np.float32 and got.shape == rows.shape
    single = np.array([t[k] for k in keys], dtype=np.float32).reshape(rows.shape)
    assert np.array_equal(single.view(np.uint32), got.view(np.uint32)) or np.array_equal(single, got)
    if quant == "f32":
        assert np.array_equal(got, rows)
    elif quant == "f16":
        assert np.array_equal(got, rows.astype(np.float16).astype(np.float32))
    else:
        slots = t.slots(keys)
        sc = t.scales["scale"].astype(np.float64)
        if t.scale_granularity == "table":
            half = np.full(rows.shape, sc[0] / 2) if sc.size else np.zeros(rows.shape)
        elif t.scale_granularity == "column":
            half = np.broadcast_to(sc / 2, rows.shape)
        else:
            half = np.repeat((sc[slots // block_rows] / 2)[:, None], rows.shape[1], axis=1) if len(keys) else np.zeros(rows.shape)
        err = np.abs(got.astype(np.float64) - rows.astype(np.float64))
        assert (err <= half * (1 + 1e-6) + np.abs(rows) * 2.0**-23).all()
    assert (got[rows == 0] == 0).all()  # zeros read back exactly


@settings(max_examples=30, deadline=None)
@given(data=tables(), quant=st.sampled_from(["f32", "f16", "linear8"]), seed=st.integers(0, 2**32 - 1))
def test_deterministic_and_independent_of_key_order(tmp_path_factory, data, quant, seed):
    keys, rows = data
    d = tmp_path_factory.mktemp("det")
    phq.writer.write(d / "a.phq", {"t": (keys, rows)}, quant=quant, seed=seed)
    phq.writer.write(d / "b.phq", {"t": (keys, rows)}, quant=quant, seed=seed)
    perm = np.random.default_rng(seed).permutation(len(keys))
    phq.writer.write(d / "c.phq", {"t": ([keys[i] for i in perm], rows[perm])}, quant=quant, seed=seed)
    a = (d / "a.phq").read_bytes()
    assert a == (d / "b.phq").read_bytes() == (d / "c.phq").read_bytes()


def test_sparse_and_dense_agree_and_sparse_is_smaller(tmp_path):
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(3000, 40)).astype(np.float32)
    rows[rng.random(rows.shape) < 0.9] = 0
    keys = [f"f{i}" for i in range(3000)]
    sizes = {}
    for layout in ("dense", "sparse", "auto"):
        sizes[layout] = phq.writer.write(tmp_path / f"{layout}.phq", {"t": (keys, rows)}, layout=layout)
    d = phq.open(tmp_path / "dense.phq").tables["t"]
    s = phq.open(tmp_path / "sparse.phq").tables["t"]
    assert s.layout == "sparse" and d.layout == "dense"
    assert np.array_equal(d.lookup(keys)[0], s.lookup(keys)[0])
    assert np.array_equal(d.lookup_raw(keys)[0], s.lookup_raw(keys)[0])
    assert sizes["sparse"] < sizes["dense"] and sizes["auto"] == sizes["sparse"]
    assert phq.open(tmp_path / "auto.phq").tables["t"].layout == "sparse"


def test_model_with_tensors_metadata_and_several_tables(tmp_path):
    meta = {"labels": ["PlayMusic", "GetWeather"], "featurizer": {"ngram": [1, 2]}, "note": "café ☕"}
    tensors = {"bias": np.array([0.5, -0.25], np.float32), "transitions": np.arange(9, dtype=np.int64).reshape(3, 3), "scalar": np.float64(3.5)}
    phq.writer.write(
        tmp_path / "m.phq",
        {"words": {"play": [1.0, -2.0], "weather": [-1.0, 3.0]}, "chars": phq.writer.Table({"pl": [0.5], "ay": [0.25]}, quant="f32")},
        tensors=tensors,
        metadata=meta,
    )
    with phq.validate(tmp_path / "m.phq") as m:
        assert m.metadata == meta
        assert set(m.tensors) == set(tensors)
        for k, v in tensors.items():
            assert m.tensors[k].dtype == np.asarray(v).dtype.newbyteorder("<") and np.array_equal(m.tensors[k], v)
        assert list(m.tables) == ["words", "chars"]
        assert m.tables["chars"].quant == "f32" and m.tables["words"].quant == "linear8"
        assert m.tables["chars"]["ay"].tolist() == [0.25]
        assert "weather" in m.tables["words"] and "snow" not in m.tables["words"]
        assert m.tables["words"].get("snow", "none") == "none"
        with pytest.raises(KeyError):
            m.tables["words"]["snow"]


def test_metadata_bytes_are_canonical(tmp_path):
    phq.writer.write(tmp_path / "a.phq", {}, metadata={"b": 1, "a": "é"})
    m = phq.open(tmp_path / "a.phq")
    raw = bytes(m._buf[m.sections[0].offset : m.sections[0].offset + m.sections[0].size])
    assert raw == '{"a":"é","b":1}'.encode()


@pytest.mark.parametrize(
    "keys, dim",
    [([], 0), ([], 3), (["only"], 1), (["a", "b"], 0), ([b"", b"\xff\xfe", "caf\u00e9"], 2)],
)
def test_edge_cases(tmp_path, keys, dim):
    rows = np.arange(len(keys) * dim, dtype=np.float32).reshape(len(keys), dim)
    phq.writer.write(tmp_path / "e.phq", {"t": (keys, rows)}, fingerprint_bits=32)
    t = phq.validate(tmp_path / "e.phq").tables["t"]
    assert (t.num_keys, t.dim) == (len(keys), dim)
    got, found = t.lookup(keys + [b"missing"])
    assert found.tolist() == [True] * len(keys) + [False]
    assert np.allclose(got[: len(keys)], rows, atol=rows.max(initial=0) / 255)
    assert got.shape == (len(keys) + 1, dim)


def test_large_dim_uses_wider_columns(tmp_path):
    dim = 70000
    rows = np.zeros((3, dim), np.float32)
    rows[0, 69999] = 1.5
    rows[2, 5] = -2.0
    phq.writer.write(tmp_path / "w.phq", {"t": (["a", "b", "c"], rows)}, layout="sparse", quant="f32")
    t = phq.validate(tmp_path / "w.phq").tables["t"]
    assert t.descriptor.column_width == 4 and t.nnz == 2
    assert np.array_equal(t.lookup(["a", "b", "c"])[0], rows)


def test_non_utf8_and_text_keys_are_distinct_bytes(tmp_path):
    phq.writer.write(tmp_path / "k.phq", {"t": {b"\xe9": [1.0], "\u00e9": [2.0]}}, quant="f32")
    t = phq.open(tmp_path / "k.phq").tables["t"]
    assert t[b"\xe9"].tolist() == [1.0] and t["\u00e9"].tolist() == [2.0] and t[b"\xc3\xa9"].tolist() == [2.0]


@pytest.mark.parametrize(
    "tables, message",
    [
        ({"t": (["a", "a"], [[1.0], [2.0]])}, "duplicate key 'a'"),
        ({"t": (["a"], [[float("nan")]])}, "NaN"),
        ({"t": (["a"], [[float("inf")]])}, "NaN and infinity"),
        ({"t": (["a"], [[1.0, 2.0], [3.0]])}, "rows"),
        ({"t": (["\ud800"], [[1.0]])}, "UTF-8"),
        ({"": {"a": [1.0]}}, "name"),
        ({"t": ([1], [[1.0]])}, "str or bytes"),
    ],
)
def test_writer_refuses_bad_input(tmp_path, tables, message):
    with pytest.raises(phq.UsageError, match=message):
        phq.writer.write(tmp_path / "x.phq", tables)
    assert not (tmp_path / "x.phq").exists()


def test_f16_range_is_refused(tmp_path):
    with pytest.raises(phq.UsageError, match="float16"):
        phq.writer.write(tmp_path / "x.phq", {"t": {"a": [70000.0]}}, quant="f16")


@pytest.mark.parametrize("option, value", [("gamma", 0.1), ("fingerprint_bits", 12), ("quant", "int4"), ("scale", "row"), ("layout", "csr"), ("seed", -1), ("partitions", 0), ("max_levels", 65)])
def test_writer_refuses_bad_options(tmp_path, option, value):
    with pytest.raises(phq.UsageError, match=option.split("_")[0]):
        phq.writer.write(tmp_path / "x.phq", {"t": {"a": [1.0]}}, **{option: value})


def test_drop_zero_rows(tmp_path):
    rows = np.array([[0.0, 0.0], [0.001, 0.0], [1.0, -1.0]], np.float32)
    phq.writer.write(tmp_path / "z.phq", {"t": (["zero", "tiny", "big"], rows)}, drop_zero_rows=True, scale="table", fingerprint_bits=32)
    t = phq.open(tmp_path / "z.phq").tables["t"]
    assert len(t) == 1 and "big" in t and "tiny" not in t and "zero" not in t  # 0.001 rounds to 0 at 8 bits
    phq.writer.write(tmp_path / "z2.phq", {"t": (["zero", "tiny", "big"], rows)}, drop_zero_rows=True, quant="f32", fingerprint_bits=32)
    assert len(phq.open(tmp_path / "z2.phq").tables["t"]) == 2


def test_empty_model(tmp_path):
    size = phq.writer.write(tmp_path / "empty.phq", {})
    assert size == 64
    m = phq.validate(tmp_path / "empty.phq")
    assert (m.tables, m.tensors, m.metadata) == ({}, {}, {})


def test_f32_rows_are_zero_copy_views(tmp_path):
    phq.writer.write(tmp_path / "v.phq", {"t": {"a": [1.0, 2.0]}}, quant="f32", layout="dense")
    row = phq.open(tmp_path / "v.phq").tables["t"]["a"]
    assert not row.flags.writeable and not row.flags.owndata


def test_raw_rows_are_codes(tmp_path):
    phq.writer.write(tmp_path / "r.phq", {"t": {"a": [-1.0, 0.0, 2.0]}}, scale="table")
    t = phq.open(tmp_path / "r.phq").tables["t"]
    assert t.raw("a").tolist() == [0, 85, 255]
    assert t.scales["zero_point"].tolist() == [85]
    assert json.loads(json.dumps(t.lookup_raw(["a", "b"])[1].tolist())) == [True, False]


def test_metadata_depth_limit(tmp_path):
    deep = {"a": 1}
    for _ in range(63):
        deep = {"x": deep}
    phq.writer.write(tmp_path / "ok.phq", {}, metadata=deep)  # depth 64 is the limit
    assert phq.open(tmp_path / "ok.phq").metadata == deep
    with pytest.raises(phq.UsageError, match="deeper"):
        phq.writer.write(tmp_path / "no.phq", {}, metadata={"x": deep})


def test_linear8_refuses_ranges_that_would_dequantize_to_inf(tmp_path):
    big = float(np.finfo(np.float32).max)
    with pytest.raises(phq.UsageError, match="too wide for linear8"):
        phq.writer.write(tmp_path / "x.phq", {"t": {"a": [big], "b": [-big]}}, scale="table")
    phq.writer.write(tmp_path / "ok.phq", {"t": {"a": [big], "b": [-big]}}, quant="f32")
    assert phq.validate(tmp_path / "ok.phq").tables["t"]["b"].tolist() == [-big]


def test_metadata_keeps_huge_integers(tmp_path):
    import decimal

    from phq.writer.serialize import SectionOut, write_sections

    digits = "9" * 5000  # more digits than Python's int() accepts by default
    write_sections(tmp_path / "big.phq", [SectionOut(L.KIND_META, buffers=[b'{"n":' + digits.encode() + b"}"])])
    assert phq.validate(tmp_path / "big.phq").metadata["n"] == decimal.Decimal(digits)


@pytest.mark.parametrize("quant, scale", [("f32", "column"), ("f16", "column"), ("linear8", "table"), ("linear8", "column"), ("linear8", "row-block")])
@pytest.mark.parametrize("layout", ["dense", "sparse"])
def test_empty_table_batch_lookup_of_absent_keys(tmp_path, quant, scale, layout):
    """An empty table has no scale groups (row-block: ceil(0 / b) = 0): a batch lookup
    must still answer 'absent' with zero rows (found by hypothesis in the 1.1 tests)."""
    p = tmp_path / "e.phq"
    phq.writer.write(p, {"t": ([], np.zeros((0, 3), np.float32))}, quant=quant, scale=scale, layout=layout)
    with phq.open(p) as m:
        rows, found = m.tables["t"].lookup(["a", "b"])
        assert rows.shape == (2, 3) and not rows.any() and not found.any()
        raw, found = m.tables["t"].lookup_raw(["a"])
        assert raw.shape == (1, 3) and not found.any()
