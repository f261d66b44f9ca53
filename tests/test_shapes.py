"""Every lookup path answers for every MPH shape the spec allows (issue: silent wrong answers
on one lookup path), not only for the shapes phq's writer makes.

Paths compared: pure scalar (`Table._pure_slot`/`_pure_get`), pure batch (`_pure_slots`,
`_pure_lookup`, `_pure_lookup_raw`), accelerated scalar and batch (phq._accel, the C reader
compiled into the extension), and the C reader's conformance adapter (build/phq-c-conform,
which also validates the file in C). The builder (phq.conformance.shapes) knows where it
placed every key: that is the truth the paths must reproduce.

Short run in CI (hypothesis, `SHAPES_EXAMPLES` examples). Long mode, at least 100,000 random
shapes (documented in fuzz/README.md):

    PHQ_SHAPES_LONG=1 .venv/bin/python -m pytest -q tests/test_shapes.py -k random  # 100,000 shapes
    PHQ_SHAPES_LONG=250000 ...                                                        # any count
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phq.conformance.shapes import TableShape, build
from shapes import build_file, check_every_path, table_shapes
from test_c_agreement import c_binary

_LONG = os.environ.get("PHQ_SHAPES_LONG", "")
SHAPES_EXAMPLES = (100_000 if _LONG in ("1", "yes", "true") else int(_LONG)) if _LONG not in ("", "0") else 60


@pytest.fixture(scope="module")
def c_reader():
    # PHQ_SHAPES_C_READER: another adapter binary (e.g. a copy, so that a long run is not
    # disturbed by a rebuild of build/)
    return os.environ.get("PHQ_SHAPES_C_READER") or c_binary("phq-c-conform")


def keyset(n: int, tag: bytes = b"k") -> list[bytes]:
    return [tag + b"%d" % i for i in range(n)]


def rows(n: int, dim: int = 3, seed: int = 0) -> np.ndarray:
    r = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    r[np.random.default_rng(seed + 1).random((n, dim)) < 0.4] = 0
    return r


ABSENT = [b"", b"absent", b"\xff", b"k-1"] + keyset(40, b"zz")

# hand-made shapes, each one the writer never makes (and one it does, as a control)
EDGE = {
    "writer_like": dict(levels=[[4, 2, 1]]),
    "zero_level_partition_beside_levels": dict(levels=[[], [4, 2, 1], [], [3, 1]]),
    "every_partition_zero_levels": dict(levels=[[], [], []]),
    "one_partition_zero_levels": dict(levels=[[]]),
    "max_levels_tiny": dict(levels=[[1] * 64], n=400),
    "max_levels_every_partition": dict(levels=[[1] * 64] * 3, n=400),
    "levels_that_place_nothing": dict(levels=[[1, 1, 1, 40]], n=300),
    "levels_after_the_keys_ran_out": dict(levels=[[64, 1, 1, 1, 1]], n=20),
    "lone_keys_left_unplaced": dict(levels=[[8, 8, 8]], place=500),
    "no_lone_key_placed": dict(levels=[[8, 8], [4]], place=0),
    "many_partitions_mostly_empty": dict(levels=[[2, 1]] * 300, n=40),
    "many_empty_partitions_without_levels": dict(levels=[[]] * 200, n=30),
    "mixed_level_counts": dict(levels=[[i + 1] * i for i in range(12)], n=200),
    "big_levels": dict(levels=[[5000], [], [1, 3000]], n=100),
    "empty_table_with_levels": dict(levels=[[3, 1], []], n=0),
}


@pytest.mark.parametrize("fp", [0, 8, 16, 32])
@pytest.mark.parametrize("name", sorted(EDGE))
def test_edge_shapes_answer_alike_on_every_path(tmp_path, c_reader, name, fp):
    spec = dict(EDGE[name])
    n = spec.pop("n", 120)
    shape = TableShape(keyset(n), rows(n), fingerprint_bits=fp, **spec)
    path, truth = build_file(tmp_path, {"t": shape})
    check_every_path(path, truth, ABSENT, c_reader)


@pytest.mark.parametrize("quant", ["f32", "f16", "linear8", "linear4", "codebook4", "codebook8"])
@pytest.mark.parametrize("layout,iw,cw", [("dense", 0, 0), ("sparse", 0, 0), ("sparse", 8, 4), ("sparse", 4, 2)])
def test_payload_variants_on_a_writer_never_mph(tmp_path, c_reader, quant, layout, iw, cw):
    shape = TableShape(keyset(150), rows(150, 5), levels=[[], [3, 1], [2]], quant=quant, layout=layout,
                       index_width=iw, column_width=cw, scale="column")
    path, truth = build_file(tmp_path, {"t": shape, "u": TableShape(keyset(30, b"u"), rows(30, 2), levels=[[], []])})
    check_every_path(path, truth, ABSENT, c_reader)


def test_the_builder_makes_what_it_claims():
    """The shapes are what their names say (so the tests above test those shapes)."""
    from phq.conformance.shapes import table_sections

    b = table_sections("t", TableShape(keyset(200), rows(200), levels=[[], [4, 2, 1], [], [1] * 64]), 0)
    rec = b.partitions
    assert rec["level_count"].tolist() == [0, 3, 0, 64]
    assert (rec["fallback_count"][[0, 2]] == rec["key_count"][[0, 2]]).all() and rec["key_count"][0] > 0
    assert sorted(b.slots.values()) == list(range(200))
    unplaced = table_sections("t", TableShape(keyset(100), rows(100), levels=[[64, 64]], place=0), 0).partitions
    assert unplaced["fallback_count"].tolist() == [100]  # huge levels, nothing placed
    half = table_sections("t", TableShape(keyset(100), rows(100), levels=[[64]], place=500), 0).partitions
    assert 20 < half["fallback_count"][0] < 80


def test_the_writer_never_makes_the_shape_that_broke_the_batch_path(tmp_path):
    """The writer gives every partition the same level budget and leaves no key in a
    partition's fallback list while it has levels left: the zero-level-beside-levels shape
    exists only through the shape builder (and the golden files made with it)."""
    import phq
    import phq.writer

    path = tmp_path / "w.phq"
    phq.writer.write(path, {"t": (keyset(300), rows(300))}, partitions=5, max_levels=2)
    with phq.open(path) as m:
        t = m.tables["t"]
        assert len(set(t._p_level_count.tolist())) == 1


@settings(max_examples=SHAPES_EXAMPLES, deadline=None, database=None if _LONG else settings.default.database,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(shape=table_shapes(), absent=st.lists(st.binary(max_size=8), max_size=20), meta=st.booleans())
def test_random_shapes_answer_alike_on_every_path(tmp_path_factory, c_reader, shape, absent, meta):
    path, truth = build_file(tmp_path_factory.mktemp("shape"), {"t": shape}, {"note": "shape"} if meta else None)
    check_every_path(path, truth, absent, c_reader)


def test_writer_never_shapes_in_the_conformance_suite():
    """The golden files of writer-never shapes (v1.1 `y_shape_*`) exist and hold the shape."""
    import phq
    from phq.conformance import runner

    root, files = runner.load_suite("1.1")
    names = [f["file"] for f in files if "/y_shape_" in f["file"]]
    assert len(names) >= 6
    with phq.open(root / "valid" / "y_shape_zero_level_partitions.phq") as m:
        t = m.tables["t"]
        counts = t._p_level_count
        assert (counts == 0).any() and (counts > 0).any() and int(t._p_fb_count[counts == 0].sum()) > 0
