"""Smoke test of the benchmarks: `bench/run.py --quick` runs and writes well-formed results.

No timing is asserted (performance is measured by bench/run.py, never gated in tests):
only that every headline figure exists and is a finite positive number, or, for the
BBHash peer when `bbhash` is not installed, null with a reason.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUN = REPO / "bench" / "run.py"

try:  # the same test the benchmark makes: importable, not merely installed
    import bbhash  # noqa: F401

    HAVE_BBHASH = True
except Exception:
    HAVE_BBHASH = False

PHQ_KEYS = (
    "phq_bits_per_key_gamma1",
    "phq_bits_per_key_gamma2",
    "phq_write_file_bits_per_key_gamma1",
    "phq_peak_rss_over_keys_mib_gamma1",
    "open_time_ratio_large_vs_small",
    "open_rss_ratio_large_vs_small",
    "first_lookup_time_ratio_large_vs_small",
    "open_size_ratio_large_vs_small",
    "open_small_mib",
    "open_large_mib",
)
BBHASH_KEYS = (
    "bbhash_bits_per_key_gamma1",
    "bbhash_file_bits_per_key_gamma1",
    "build_throughput_vs_bbhash",
    "build_throughput_vs_bbhash_no_hashing",
    "build_throughput_vs_bbhash_2threads_gamma1",
    "bits_per_key_ratio_phq_vs_bbhash_gamma1",
    "peak_rss_ratio_phq_vs_bbhash_gamma1",
)
MACHINE_KEYS = ("cpu_count", "python_version", "numpy_version", "command")


def _run(out: Path, *extra: str) -> dict:
    cmd = [sys.executable, str(RUN), "--quick", "--out", str(out), *extra]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f"{cmd} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return json.loads((out / "summary.json").read_text())


def _positive(s: dict, key: str) -> None:
    v = s.get(key)
    assert isinstance(v, (int, float)) and not isinstance(v, bool), f"{key} = {v!r}"
    assert math.isfinite(v) and v > 0, f"{key} = {v!r}"


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("bench-quick")
    return out, _run(out)


def test_quick_run_writes_all_files(quick):
    out, _ = quick
    for name in ("build.json", "open.json", "summary.json", "summary.md"):
        assert (out / name).stat().st_size > 0, name
    build = json.loads((out / "build.json").read_text())
    opened = json.loads((out / "open.json").read_text())
    assert set(build["gammas"]) == {"1", "2"}
    assert set(opened["medians"]["warm"]["phq"]) == {"small", "large"}
    assert "bench/run.py --quick" in (out / "summary.md").read_text()


def test_quick_summary_phq_figures(quick):
    _, s = quick
    assert s["quick"] is True
    for key in PHQ_KEYS:
        _positive(s, key)
    for key in MACHINE_KEYS:
        assert s.get(key), key
    assert s["sanity_ok_gamma1"] and s["sanity_ok_gamma2"] and s["open_sanity_ok"]


def test_quick_summary_bbhash_figures(quick):
    _, s = quick
    if HAVE_BBHASH:
        assert s["bbhash_available"] is True and s["bbhash_reason"] is None
        for key in BBHASH_KEYS:
            _positive(s, key)
    else:
        assert s["bbhash_available"] is False and s["bbhash_reason"]
        for key in BBHASH_KEYS:
            assert s[key] is None, key


def test_without_bbhash_degrades_gracefully(tmp_path):
    """--no-bbhash takes the path a machine without bbhash takes: phq side intact,
    BBHash figures null with a reason."""
    s = _run(tmp_path, "--no-bbhash", "--only", "build")
    assert s["bbhash_available"] is False and s["bbhash_reason"]
    for key in BBHASH_KEYS:
        assert s[key] is None, key
    for key in ("phq_bits_per_key_gamma1", "phq_write_file_bits_per_key_gamma1"):
        _positive(s, key)
    assert "n/a" in (tmp_path / "summary.md").read_text()
