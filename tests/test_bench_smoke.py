"""Smoke test of the benchmarks: `bench/run.py --quick` runs and writes well-formed results.

No timing is asserted (performance is measured by bench/run.py, never gated in tests):
only that every headline figure exists and is a finite positive number, or, for a peer
whose bench-only package is not installed (bbhash, wordfreq, safetensors, joblib,
matplotlib: the `bench` extra; CI installs only `.[test]`), null with a reason.
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

def _importable(*modules: str) -> bool:
    """The same test the benchmark makes: importable, not merely installed."""
    try:
        for m in modules:
            __import__(m)
    except Exception:
        return False
    return True


HAVE_BBHASH = _importable("bbhash")
HAVE_WORDFREQ = _importable("wordfreq", "msgpack")
HAVE_FORMATS = _importable("safetensors", "joblib")
HAVE_MPL = _importable("matplotlib")

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
LOOKUP_KEYS = (
    "phq_single_lookup_us",
    "phq_single_absent_lookup_us",
    "phq_batch_lookup_ns_per_key",
    "phq_batch_absent_lookup_ns_per_key",
    "phq_single_slot_us",
    "phq_pure_single_lookup_us",  # the pure Python reader (PHQ_PURE=1) beside the default one
    "phq_pure_batch_lookup_ns_per_key",
    "accel_speedup_batch_lookup",
    "dict_single_lookup_us",
    "dict_batch_lookup_ns_per_key",
    "batch_lookup_vs_dict",
    "single_lookup_vs_dict",
    "scaling_n2000_phq_bits_per_key_gamma1",
    "scaling_n20000_phq_bits_per_key_gamma2",
    "readers_1_phq_total_pss_mib",
    "readers_3_phq_total_pss_mib",
    "readers_model_pss_ratio_3_vs_1_phq",
)
BBHASH_KEYS = (
    "bbhash_bits_per_key_gamma1",
    "bbhash_file_bits_per_key_gamma1",
    "build_throughput_vs_bbhash",
    "build_throughput_vs_bbhash_no_hashing",
    "build_throughput_vs_bbhash_2threads_gamma1",
    "bits_per_key_ratio_phq_vs_bbhash_gamma1",
    "peak_rss_ratio_phq_vs_bbhash_gamma1",
    "batch_lookup_vs_bbhash",
    "single_lookup_vs_bbhash",
    "batch_absent_lookup_vs_bbhash",
    "scaling_n2000_build_throughput_vs_bbhash_gamma1",
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
    for name in ("build.json", "open.json", "scaling.json", "lookup.json", "c_lookup.json", "c_bbhash.json", "readers.json",
                 "summary.json", "summary.md"):
        assert (out / name).stat().st_size > 0, name
    for png in ("scaling.png", "lookup.png"):
        assert (out / png).exists() == HAVE_MPL, png
        if HAVE_MPL:
            assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
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


def test_quick_summary_lookup_scaling_readers(quick):
    _, s = quick
    for key in LOOKUP_KEYS:
        _positive(s, key)
    assert s["lookup_sanity_ok"] and s["scaling_sanity_ok"] and s["readers_sanity_ok"]
    assert s["phq_absent_reported_present"] < 0.01  # 16-bit fingerprints
    assert s["dict_absent_reported_present"] == 0


def test_quick_summary_real_keys(quick):
    _, s = quick
    if HAVE_WORDFREQ:
        assert s["wordfreq_available"] is True and s["wordfreq_num_keys"] > 1000
        for key in ("wordfreq_phq_bits_per_key_gamma1", "wordfreq_phq_bits_per_key_gamma2", "wordfreq_mean_key_bytes"):
            _positive(s, key)
    else:
        assert s["wordfreq_available"] is False and s["wordfreq_reason"]


def test_quick_summary_other_formats(quick):
    out, s = quick
    opened = json.loads((out / "open.json").read_text())
    readers = json.loads((out / "readers.json").read_text())
    if HAVE_FORMATS:
        assert opened["formats_available"] and opened["formats_rows_agree"]
        for fmt in ("safetensors", "npz", "pickle", "joblib"):
            for size in ("small", "large"):
                _positive(s, f"open_lookup_time_vs_{fmt}_{size}")
        for kind in ("npz", "pickle"):
            _positive(s, f"readers_3_{kind}_total_pss_mib")
            _positive(s, f"readers_3_total_pss_vs_{kind}")
    else:
        assert not opened["formats_available"] and opened["formats_reason"]
        assert readers["kinds"] == ["phq"]


def test_quick_summary_c_lookup(quick):
    _, s = quick
    if s["c_available"]:
        _positive(s, "c_batch_key_to_row_ns")
        if HAVE_BBHASH:
            _positive(s, "c_lookup_vs_bbhash")
    else:
        assert s["c_reason"] and s["c_lookup_vs_bbhash"] is None


def test_quick_summary_c_bbhash(quick):
    """The like-for-like C/C++ comparison (bench_c_bbhash): BooPHF.h comes from PyPI at run
    time, so without a network or a C++ compiler its figures are null with a reason."""
    out, s = quick
    res = json.loads((out / "c_bbhash.json").read_text())
    assert res["ns"] == [20_000] and s["c_bbhash_headline_n"] == 20_000
    if s["c_bbhash_available"]:
        for key in ("c_slot_ns", "c_row_ns", "bbhash_slot_ns", "bbhash_row_ns", "c_slot_vs_bbhash", "c_row_vs_bbhash",
                    "c_bbhash_n20000_phq_row_nonmember_p99_ns", "c_bbhash_n20000_bbhash_slot_member_p50_ns"):
            _positive(s, key)
        assert s["c_bbhash_n20000_sanity_ok"] is True  # same rows from both peers, every member found
        c = res["points"]["20000"]["c"]["sanity"]
        assert c["phq_nonmembers_found"] < 20  # 16-bit fingerprints: about 0.3 expected of 20,000
        assert "C batched pre-hashed key → slot" in (out / "summary.md").read_text()
    else:
        assert s["c_bbhash_reason"] and s["c_slot_vs_bbhash"] is None and s["c_row_vs_bbhash"] is None
    if res["accel_available"]:
        _positive(s, "accel_row_ns")
        assert res["points"]["20000"]["accel"]["member"]["found"] == 20_000
    else:
        assert s["accel_row_ns"] is None


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
    s = _run(tmp_path, "--no-bbhash", "--only", "build", "scaling", "lookup", "--no-real-keys")
    assert s["bbhash_available"] is False and s["bbhash_reason"]
    for key in BBHASH_KEYS:
        assert s[key] is None, key
    _positive(s, "phq_batch_lookup_ns_per_key")
    for key in ("phq_bits_per_key_gamma1", "phq_write_file_bits_per_key_gamma1"):
        _positive(s, key)
    assert "n/a" in (tmp_path / "summary.md").read_text()
