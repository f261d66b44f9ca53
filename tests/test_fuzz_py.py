"""The Python reader's mutation fuzzer (fuzz/fuzz_py.py), run in-process.

1. A fixed run (2000 mutated golden files, fixed seed): no bug, and the mutations reach
   deep enough to produce many distinct error codes, accepted files and lookups.
2. The harness catches what it is meant to catch: a planted non-FormatError exception, a
   planted hang and a planted wrong-dtype result are each reported as a BUG, saved under
   findings and reproduced by --replay.
3. Cases are reproducible from (seed, index); the CLI writes its JSON summary; --atheris
   falls back to the built-in engine when atheris is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

import phq
import phq.table

ROOT = Path(__file__).resolve().parents[1]


def _load():
    name = "phq_fuzz_py"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "fuzz" / "fuzz_py.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up while the class is built
    spec.loader.exec_module(mod)
    return mod


fz = _load()
RUN_SEED = 1
RUN_COUNT = 2000


def test_fixed_run_finds_no_bug_and_reaches_deep(tmp_path):
    start = time.monotonic()
    s = fz.fuzz(count=RUN_COUNT, seed=RUN_SEED, findings=tmp_path / "findings", log=lambda *_: None)
    took = time.monotonic() - start
    assert s.files == RUN_COUNT
    assert s.bugs == 0, s.report()
    assert not (tmp_path / "findings").exists()
    # the mutations get past the checksums into the structural, table and lookup checks
    assert len(s.codes) >= 25, s.report()
    for code in ("E_HEADER_CHECKSUM", "E_CHECKSUM", "E_SECTION_ORDER", "E_SECTION_SIZE", "E_MPH", "E_ENUM", "E_RANK"):
        assert code in s.codes, (code, s.report())
    assert s.validate["accepted"] > 0, s.report()
    assert s.open["ok"] >= RUN_COUNT // 20, s.report()
    assert s.lookups_run >= 1000 and s.lookups["E_RANK"] > 0, s.report()
    # every kind of mutation ran
    assert {"bitflip", "substitute", "truncate", "extend", "header", "entry", "table", "partition", "tensor",
            "element", "sections", "splice", "repair"} <= set(s.mutators), s.mutators
    assert took < 60, f"the CI run took {took:.0f} s"


def _findings(path: Path) -> list[Path]:
    return sorted(path.glob("*.phq"))


def test_planted_exception_is_reported(tmp_path, monkeypatch):
    real = phq.table.Table.slot

    def slot(self, key):
        if len(key) % 3 == 1:  # some keys only: a bug on particular input
            raise IndexError("planted")
        return real(self, key)

    monkeypatch.setattr(phq.table.Table, "slot", slot)
    found = tmp_path / "findings"
    s = fz.fuzz(count=200, seed=RUN_SEED, findings=found, log=lambda *_: None)
    assert s.bugs > 0
    assert s.validate["BUG"] == s.bugs
    assert any(sig.startswith("exception|lookups|IndexError") for sig in s.bug_kinds), s.bug_kinds
    files = _findings(found)
    assert files and len(files) <= 3 * len(s.bug_kinds)  # a few reproducers per signature
    first = files[0]
    assert first.with_suffix(".keys").is_file()
    text = first.with_suffix(".txt").read_text()
    assert "IndexError: planted" in text and "--replay" in text
    # the saved file reproduces the bug, and does not once the bug is gone
    assert fz.replay([str(first)], timeout=5, log=lambda *_: None) == 1
    monkeypatch.undo()
    assert fz.replay([str(first)], timeout=5, log=lambda *_: None) == 0


def test_planted_hang_is_reported(tmp_path, monkeypatch):
    def lookup(self, keys):
        time.sleep(30)

    monkeypatch.setattr(phq.table.Table, "lookup", lookup)
    s = fz.fuzz(count=40, seed=RUN_SEED, findings=tmp_path, timeout=0.2, log=lambda *_: None)
    assert s.bugs > 0
    assert all(sig.startswith("hang|lookups") for sig in s.bug_kinds), s.bug_kinds


def test_planted_wrong_dtype_is_reported(tmp_path, monkeypatch):
    real = phq.table.Table.lookup_raw

    def lookup_raw(self, keys):
        rows, found = real(self, keys)
        return rows.astype(np.float64), found

    monkeypatch.setattr(phq.table.Table, "lookup_raw", lookup_raw)
    s = fz.fuzz(count=40, seed=RUN_SEED, findings=tmp_path, log=lambda *_: None)
    assert s.bugs > 0
    assert all(sig.startswith("wrong-result|lookups") for sig in s.bug_kinds), s.bug_kinds


def test_planted_disagreement_is_reported(tmp_path, monkeypatch):
    """The batch path must find exactly what the scalar path finds."""
    real = phq.table.Table._pure_slots  # the Python batch path (lookup and slots both run it)

    def slots(self, keys):
        out = real(self, keys)
        out[out >= 0] = -1
        return out

    monkeypatch.setattr(phq.table.Table, "_pure_slots", slots)
    monkeypatch.setenv("PHQ_PURE", "1")  # a mutant of the Python batch path (phq._accel would bypass it)
    s = fz.fuzz(count=40, seed=RUN_SEED, findings=tmp_path, log=lambda *_: None)
    assert s.bugs > 0


def test_cases_are_reproducible():
    seeds = fz.load_seeds()
    for i in (0, 1, 777):
        a = fz.make_case(RUN_SEED, i, seeds)
        b = fz.make_case(RUN_SEED, i, seeds)
        assert a[0].name == b[0].name and a[1] == b[1] and a[2] == b[2] and a[3] == b[3]
    assert fz.make_case(RUN_SEED, 0, seeds)[1] != fz.make_case(RUN_SEED + 1, 0, seeds)[1]


def test_cli_json_summary(tmp_path, capsys):
    out = tmp_path / "summary.json"
    assert fz.main(["--count", "60", "--seed", "3", "--findings", str(tmp_path / "f"), "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["mutated_files"] == 60 and doc["bugs"] == 0 and doc["engine"] == "builtin"
    assert sum(doc["validate_outcomes"].values()) == 60
    assert "mutated files" in capsys.readouterr().out


def test_atheris_missing_falls_back(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "atheris", None)  # `import atheris` raises ImportError
    assert fz.main(["--atheris", "--count", "20", "--findings", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "atheris is not installed" in captured.err
    assert "builtin engine" in captured.out


def test_intact_golden_files_pass_the_checks(tmp_path):
    """The harness itself on the unmutated files: the valid ones are accepted, the invalid
    ones refused, none is a BUG (a harness false positive would show here first)."""
    with fz.Runner(tmp_path, timeout=5) as runner:
        for seed in fz.load_seeds():
            out = runner.run(seed.data, list(seed.keys), seed.name)
            assert out.bug is None, (seed.name, out.bug)
            assert (out.validate == "ok") == seed.name.startswith("y_"), (seed.name, out.validate)


def test_runner_without_alarm(tmp_path):
    """--timeout 0 turns the alarm off (for hosts that own SIGALRM)."""
    seeds = fz.load_seeds()
    with fz.Runner(tmp_path, timeout=0) as runner:
        out = runner.run(seeds[0].data, list(seeds[0].keys), "no alarm")
    assert out.bug is None
