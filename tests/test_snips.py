"""Smoke run of the SNIPS intent + slots report (examples/snips/report.py --quick).

Skipped with a reason when the data set is not beside the checkout. The full report is
`make snips` (its acceptance figures are in examples/snips/results/report.json).
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from conftest import ROOT

DATA = ROOT.parent / "shared" / "data" / "snips"
pytestmark = pytest.mark.skipif(not (DATA / "train.jsonl").exists(), reason=f"SNIPS not found at {DATA}")
pytest.importorskip("sklearn")
pytest.importorskip("sklearn_crfsuite")


def test_quick_report(tmp_path):
    spec = importlib.util.spec_from_file_location("snips_report", ROOT / "examples" / "snips" / "report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--quick", "--data", str(DATA), "--out", str(tmp_path)]) == 0
    r = json.loads((tmp_path / "report.json").read_text())
    for key in ("slot_f1_float", "slot_f1_phq8", "intent_acc_float", "intent_acc_phq8", "tagger_bytes_phq8", "crfsuite_bytes"):
        assert isinstance(r[key], (int, float)), key
    # Python (pure) and C give the same intents and spans on every test utterance
    assert r["c_python_agreement"] == 100.0 and r["c_python_agreement_phq4"] == 100.0, r.get("c_runtime_phq8")
    # the 8-bit file keeps the float models' answers on nearly every utterance even when trained briefly
    assert r["intent_agreement_phq8"] >= 99.0
    assert r["span_agreement_phq8"] >= 90.0
    assert r["tagger_bytes_phq8"] < r["crfsuite_bytes"]
    assert 0 < r["slot_f1_phq8"] <= 100 and r["n_test"] == 140
