"""Hypothesis strategies for every MPH shape the spec allows (builder: phq.conformance.shapes),
and the check that every lookup path answers for them as the builder placed the keys.

Shapes drawn: 1..8 partitions, or up to 300 (most of them empty); 0..64 levels per
partition (zero-level partitions, maximum level counts, levels that place nothing, levels
after a partition ran out of keys); level sizes of 1..8 words or up to 200; lone keys all
placed (the writer's rule) or only some; every fingerprint width; every quantization of
formats 1.0 and 1.1; dense or sparse rows with the smallest or wider index/column widths.
"""

from __future__ import annotations

import subprocess

import numpy as np
from hypothesis import strategies as st

import phq
from phq.conformance.adapter import answer, parse_probes
from phq.conformance.shapes import TableShape, build

QUANTS = ["f32", "f16", "linear8", "linear4", "codebook4", "codebook8"]
finite = st.floats(-100, 100, allow_nan=False, width=32)


@st.composite
def level_lists(draw, partitions: int):
    """Per partition, a list of level sizes in words."""
    big = draw(st.booleans())
    words = st.integers(1, 200) if big else st.integers(1, 8)
    count = st.one_of(st.integers(0, 4), st.just(0), st.integers(0, 64), st.just(64))
    same = draw(st.booleans())  # the writer's habit: one level budget for every partition
    if same:
        one = draw(st.lists(words, min_size=0, max_size=draw(count)))
        return [list(one) for _ in range(partitions)]
    return [draw(st.lists(words, min_size=0, max_size=draw(count))) for _ in range(partitions)]


@st.composite
def table_shapes(draw, max_keys: int = 120):
    keys = draw(st.lists(st.binary(max_size=8), max_size=max_keys, unique=True))
    quant = draw(st.sampled_from(QUANTS))
    dim = draw(st.integers(0, 4))
    rows = np.array(draw(st.lists(st.lists(st.one_of(finite, st.just(0.0)), min_size=dim, max_size=dim),
                                  min_size=len(keys), max_size=len(keys))), np.float32).reshape(len(keys), dim)
    partitions = draw(st.one_of(st.integers(1, 8), st.just(1), st.integers(9, 300)))
    layout = draw(st.sampled_from(["dense", "sparse"]))
    return TableShape(
        keys=keys,
        rows=rows,
        levels=draw(level_lists(partitions)),
        seed=draw(st.integers(0, 2**32 - 1)),
        place=draw(st.sampled_from([1000, 1000, 0, 300, 900])),
        fingerprint_bits=draw(st.sampled_from([0, 8, 16, 32])),
        quant=quant,
        scale=draw(st.sampled_from(["table", "column"] + ([] if quant.startswith("codebook") else ["row-block"]))),
        block_rows=draw(st.integers(1, 5)),
        layout=layout,
        index_width=draw(st.sampled_from([0, 8])) if layout == "sparse" else 0,
        column_width=draw(st.sampled_from([0, 2, 4])) if layout == "sparse" else 0,
        gamma_milli=draw(st.integers(1, 10**6)),
    )


def _bits(a) -> bytes:
    return np.ascontiguousarray(a).tobytes()


def check_every_path(path, truth: dict, absent: list, c_reader=None) -> None:
    """Every lookup path gives the builder's slot for every key of every table, and the same
    answer (slot, raw row, dequantized row, bit for bit) as the others for absent keys:
    pure scalar, pure batch, accelerated scalar, accelerated batch (when phq._accel is
    built), and the C reader's conformance adapter (when given)."""
    model = phq.validate(path)
    try:
        for name, slots in truth.items():
            t = model.tables[name]
            keys = list(slots) + [k for k in absent if k not in slots]
            want = np.array([slots.get(k, -2) for k in keys], np.int64)  # -2: absent, any answer agreed on
            known = want >= 0
            pure_scalar = np.array([t._pure_slot(k) for k in keys], np.int64)
            pure_batch = t._pure_slots(keys)
            assert (pure_scalar[known] == want[known]).all(), "pure scalar lookup disagrees with the builder"
            assert (pure_batch == pure_scalar).all(), "pure batch and pure scalar lookups disagree"
            rows, found = t._pure_lookup(keys)
            raw, found_raw = t._pure_lookup_raw(keys)
            assert (found == (pure_scalar >= 0)).all() and (found_raw == found).all()
            for i, k in enumerate(keys):
                one = t._pure_get(k)
                assert (one is None) == (not found[i])
                if one is not None:
                    assert _bits(one) == _bits(rows[i]) and _bits(t.raw_at(int(pure_scalar[i]))) == _bits(raw[i])
            acc = t._acc
            if acc is not None:
                assert np.array([acc.slot(k) for k in keys], np.int64).tolist() == pure_scalar.tolist(), "accelerated scalar"
                out = np.empty(len(keys), np.int64)
                acc.slots(keys, out)
                assert out.tolist() == pure_scalar.tolist(), "accelerated batch"
                arows, afound = np.empty((len(keys), t.dim), np.float32), np.empty(len(keys), bool)
                acc.lookup(keys, arows, afound)
                assert (afound == found).all() and _bits(arows) == _bits(rows), "accelerated batch rows"
                araw, afound = np.empty((len(keys), t.dim), t.storage_dtype), np.empty(len(keys), bool)
                acc.lookup_raw(keys, araw, afound)
                assert (afound == found).all() and _bits(araw) == _bits(raw), "accelerated batch raw rows"
    finally:
        model.close()
    if c_reader is not None:
        probes = "".join(f"{name.encode().hex()} {k.hex() or '-'}\n" for name, slots in truth.items() for k in list(slots) + absent)
        py = answer(path, parse_probes(probes))
        c = subprocess.run([str(c_reader), str(path)], input=probes.encode(), capture_output=True, timeout=60)
        assert c.returncode >= 0, "the C reader crashed"
        assert c.stdout.decode() == py, "the C reader disagrees with the Python reader"


def build_file(tmp_dir, tables: dict, metadata=None):
    data, truth = build(tables, metadata)
    path = tmp_dir / "shape.phq"
    path.write_bytes(data)
    return path, truth
