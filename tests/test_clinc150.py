"""Issue 5's acceptance on real data (CLINC150 from ../shared), and a smoke run of the report.

Skipped with a reason when the data set is not beside the checkout.
"""

from __future__ import annotations

import importlib.util
import json
import warnings

import numpy as np
import pytest

from conftest import ROOT

DATA = ROOT.parent / "shared" / "data" / "clinc150" / "data_full.json"
pytestmark = [
    pytest.mark.skipif(not DATA.exists(), reason=f"CLINC150 not found at {DATA}"),
    pytest.mark.filterwarnings("ignore:.*failed to converge"),
]
pytest.importorskip("sklearn")


def report_module():
    spec = importlib.util.spec_from_file_location("clinc150_report", ROOT / "examples" / "clinc150" / "report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def data():
    return report_module().load(DATA, quick=False)


@pytest.mark.parametrize("name", ["svc-l2", "svc-l1"])
def test_acceptance_8bit_on_clinc150(tmp_path, data, name):
    """phq 8-bit (the writer's defaults) vs scikit-learn on the 4,500 test utterances:
    agreement >= 99.5%, accuracy loss <= 0.3 pt, file >= 94% smaller than joblib."""
    rep = report_module()
    Xtr, ytr, Xte, yte = data
    make = dict((n, f) for n, _, f in rep.models(quick=True))[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = make().fit(Xtr, ytr)
    import phq.writer

    path = tmp_path / "m.phq"
    phq.writer.from_sklearn(pipe, path)
    r = rep.evaluate(pipe, Xte, yte, path)
    sk_acc = float((pipe.predict(Xte) == yte).mean())
    joblib_bytes = rep.baselines(pipe, tmp_path)["joblib"]
    assert r["agreement"] >= 0.995, r
    assert r["accuracy"] >= sk_acc - 0.003, (r, sk_acc)
    assert r["bytes"] <= 0.06 * joblib_bytes, (r["bytes"], joblib_bytes)


def test_report_quick_run(tmp_path):
    rep = report_module()
    before = (ROOT / "README.md").read_bytes()
    assert rep.main(["--quick", "--out", str(tmp_path)]) == 0
    assert (ROOT / "README.md").read_bytes() == before  # a quick run never edits the README
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["data"]["quick"] and report["data"]["classes"] == 30
    for m in report["models"]:
        head = m["variants"][rep.HEADLINE]
        assert head["agreement"] >= 0.99 and head["bytes"] < m["baselines"]["joblib"]
        assert set(m["variants"]) == {v for v, _ in rep.VARIANTS}
    assert report["hashing_trick"] and report["phq_curve"] and report["equal_bytes"]
    front = rep.pareto(report["phq_curve"])
    assert all(a["bytes"] < b["bytes"] and a["accuracy"] < b["accuracy"] for a, b in zip(front, front[1:]))
    assert (tmp_path / "accuracy_vs_bytes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "report.md").read_text()
    assert "| svc-l2 |" in md and "Equal-bytes comparison" in md


def test_readme_shows_a_report_table():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    mark = "<!-- clinc150-report -->"
    assert text.count(mark) == 2
    table = text.split(mark)[1]
    assert "| svc-l2 |" in table and "| svc-l1 |" in table and "make clinc150" in table
    report = json.loads((ROOT / "examples" / "clinc150" / "results" / "report.json").read_text())
    for m in report["models"]:
        head = m["variants"][report["headline_variant"]]
        assert f"{100 * head['agreement']:.2f}%" in table  # the README shows the committed report
    assert not report["data"]["quick"]
    np.testing.assert_array_less(0, [m["baselines"]["joblib"] for m in report["models"]])


def test_committed_report_has_budget_mode():
    """The committed report carries budget mode's flat keys (issue 16), its choices fit their
    budgets, and README.md shows its table."""
    report = json.loads((ROOT / "examples" / "clinc150" / "results" / "report.json").read_text())
    for prefix in ("", "ftz_"):
        for key, n in (("100k", 100_000), ("300k", 300_000), ("1m", 1_000_000)):
            if report[f"{prefix}budget_{key}_test_acc"] is not None:
                assert 0 < report[f"{prefix}budget_{key}_bytes"] <= n
                assert 0 < report[f"{prefix}budget_{key}_test_acc"] <= 1
    assert report["best_float_test_acc"] >= max(m["sklearn_accuracy"] for m in report["models"])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- budget-table -->")[1]
    c = report["budget"]["chosen"]["100k"]
    assert f"| {c['bytes']:,} | {100 * c['val_accuracy']:.2f}% | **{100 * c['test_accuracy']:.2f}%** |" in table
