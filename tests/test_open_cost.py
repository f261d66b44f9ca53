"""The cost of opening a file and of its first lookup is paid once per file, whatever the
number of tables, and is O(n log n) in the metadata (issue 15, item 1).

The accelerator used to run the C reader's open once per table, without a workspace, so its
duplicate-member check was quadratic (a valid 8 MB file with one flat metadata object: 94 s
for the first lookup; 65 tables paid it 65 times), with the GIL held. Structure, not time,
is asserted here: one C open per file (phq._accel.open_count()), other threads run while it
works. The C library's own comparison count is bounded by k log k in creader/tests/test_phq.c
(test_open_cost); the worst cases' times are measured by bench/bench_open_cost.py.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

import phq
import phq.table
import phq.writer

_accel = phq.table._accel
needs_accel = pytest.mark.skipif(_accel is None or not phq.table.accel_enabled(), reason="phq._accel is not built or PHQ_PURE is set")


def big_metadata(members: int) -> dict:
    return {f"member{i:07d}": i for i in range(members)}


@pytest.fixture(scope="module")
def many_tables(tmp_path_factory):
    path = tmp_path_factory.mktemp("open") / "tables65.phq"
    tables = {f"t{j}": ([f"k{i}".encode() for i in range(20)], np.full((20, 2), j, np.float32)) for j in range(65)}
    phq.writer.write(path, tables, metadata=big_metadata(20_000))
    return path


@pytest.fixture(scope="module")
def big_meta(tmp_path_factory):
    """A valid ~8 MB file whose META is one flat JSON object of 360,000 members."""
    path = tmp_path_factory.mktemp("open") / "meta8mb.phq"
    phq.writer.write(path, {"t": ([b"a", b"b"], np.ones((2, 3), np.float32))}, metadata=big_metadata(360_000))
    return path


@needs_accel
def test_one_c_open_per_file_whatever_the_number_of_tables(many_tables):
    with phq.open(many_tables) as m:
        before = _accel.open_count()
        for j in range(65):
            t = m.tables[f"t{j}"]
            assert t[b"k3"].tolist() == [j, j] and t.accelerated
            assert t.lookup([b"k1", b"nope"])[1].tolist() == [True, False]
        assert _accel.open_count() - before == 1
    with phq.open(many_tables) as m:  # another open file: its own C open
        before = _accel.open_count()
        assert m.tables["t64"].get(b"k0") is not None and m.tables["t0"].get(b"k0") is not None
        assert _accel.open_count() - before == 1


@needs_accel
def test_big_flat_metadata_first_lookup(big_meta):
    assert big_meta.stat().st_size > 8_000_000
    with phq.open(big_meta) as m:
        assert len(m.metadata) == 360_000
        before = _accel.open_count()
        t = m.tables["t"]
        assert t[b"a"].tolist() == [1, 1, 1] and t.accelerated
        assert _accel.open_count() - before == 1


@needs_accel
def test_other_threads_run_while_the_c_open_works(big_meta):
    """With a switch interval of an hour, a thread runs while the main thread is inside a C
    call only if that call released the GIL: the spinner sleeps (releasing it) between
    counts, so it counts only while the main thread does not hold the GIL."""
    count, stop = [0], threading.Event()

    def spin():
        while not stop.is_set():
            count[0] += 1
            time.sleep(0.0002)

    with phq.open(big_meta) as m:
        old = sys.getswitchinterval()
        th = threading.Thread(target=spin)
        th.start()
        try:
            time.sleep(0.05)  # the spinner is running
            sys.setswitchinterval(3600)
            before = count[0]
            acc = _accel.Model(m._buf)  # phq_open of an 8 MB JSON object
            during = count[0] - before
        finally:
            sys.setswitchinterval(old)
            stop.set()
            th.join()
        assert acc.table(b"t", lambda: np.empty(3, np.float32)).get(b"a").tolist() == [1, 1, 1]
    assert during > 0, "the C open held the GIL"
