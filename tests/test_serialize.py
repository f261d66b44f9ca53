"""Layout rules of spec §2 and atomic writes of §13.5."""

import os

import numpy as np
import pytest

import phq
import phq.writer
from phq import layout as L


def test_sections_tile_the_file(tmp_path):
    rng = np.random.default_rng(0)
    phq.writer.write(
        tmp_path / "m.phq",
        {"a": ([f"k{i}" for i in range(100)], rng.normal(size=(100, 3))), "b": {"x": [1.0]}},
        tensors={"t": np.ones(5)},
        metadata={"m": 1},
    )
    m = phq.open(tmp_path / "m.phq")
    pos = L.align(64 + 32 * len(m.sections))
    for s in m.sections:
        assert s.offset == pos and s.offset % 64 == 0
        pos = L.align(s.offset + s.size)
    assert pos == m.header.file_size == os.path.getsize(tmp_path / "m.phq")


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "model.phq"
    phq.writer.write(target, {"t": {"old": [1.0]}})
    before = target.read_bytes()

    def boom(stage, done, total):
        if stage == "write" and done > 0:
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        phq.writer.write(target, {"t": ([f"k{i}" for i in range(1000)], np.ones((1000, 4)))}, progress=boom)
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.phq"]


def test_written_file_has_normal_permissions(tmp_path):
    phq.writer.write(tmp_path / "p.phq", {})
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(tmp_path / "p.phq").st_mode & 0o777 == 0o666 & ~mask


def test_progress_reports_every_stage(tmp_path):
    seen = []
    phq.writer.write(tmp_path / "p.phq", {"t": {"a": [1.0]}}, progress=lambda s, d, t: seen.append(s))
    assert {"t: hash", "t: mph", "write"} <= set(seen)
