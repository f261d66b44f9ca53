"""The NLU conformance suite (conformance/nlu/): it regenerates byte for byte, the reference
runtime passes it, the judge catches wrong answers, and the corpus holds what it promises."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from phq.cli import main
from phq.conformance import nlu as suite
from phq.conformance.nlu_corpus import hard_strings


def test_golden_files_regenerate_byte_for_byte():
    assert suite.main(["generate", "--check"]) == 0


def test_reference_runtime_passes(tmp_path):
    results = suite.run(suite.reference_reader)
    assert results and all(r.status == "PASS" for r in results), [r for r in results if r.status != "PASS"][:3]
    codes = {r.expect for r in results}
    # every profile error code but the one only partial runtimes give has a golden model
    assert {"E_NLU_MISSING", "E_NLU_VERSION", "E_NLU_SCHEMA", "E_NLU_REFERENCE", "accept", "accept-or-unsupported"} <= codes
    report = tmp_path / "r.json"
    assert main(["conformance", "run", "--version", "nlu", "--quiet", "--json", str(report)]) == 0
    assert json.loads(report.read_text())["ok"] is True


def test_pure_adapter_subprocess_passes_one_model():
    """The adapter protocol end to end, through a process, as other runtimes run it."""
    entry = next(e for e in suite.load_suite() if e["file"].startswith("y_union"))
    cmd = [sys.executable, "-m", "phq.conformance.nlu", "adapter", str(suite.NLU_DIR / entry["file"])]
    out = subprocess.run(cmd, input=suite.requests_text(entry).encode(), capture_output=True, timeout=300, env={"PHQ_PURE": "1", "PATH": ""})
    assert suite.judge(entry, suite.NLU_DIR, out.stdout.decode()) == ("accept", "")


@pytest.mark.parametrize("damage", ["label", "decision", "term", "tf", "missing", "error"])
def test_judge_catches_wrong_answers(damage):
    entry = next(e for e in suite.load_suite() if e["file"].startswith("y_union"))
    lines = (suite.NLU_DIR / entry["expected"]).read_text().rstrip("\n").split("\n")
    i_score = next(i for i, x in enumerate(lines) if '"label"' in x)
    i_terms = next(i for i, x in enumerate(lines) if '"terms": [[' in x)
    obj = json.loads(lines[i_score])
    if damage == "label":
        obj["label"] = 1.0 if obj["label"] != 1.0 else 0.5
        lines[i_score] = json.dumps(obj)
    elif damage == "decision":
        obj["decision"][0] += 1e-6 * (1 + abs(obj["decision"][0]))
        lines[i_score] = json.dumps(obj)
    elif damage == "term":
        t = json.loads(lines[i_terms])
        t["terms"][0][0] += "x"
        lines[i_terms] = json.dumps(t)
    elif damage == "tf":
        t = json.loads(lines[i_terms])
        t["terms"][0][1] += 1
        lines[i_terms] = json.dumps(t)
    elif damage == "missing":
        del lines[i_score]
    else:
        lines[i_score] = json.dumps({"error": "E_INPUT"})
    outcome, detail = suite.judge(entry, suite.NLU_DIR, "ok\n" + "\n".join(lines) + "\n")
    assert outcome == "wrong-answer" and detail


def test_judge_accepts_answers_within_the_tolerance():
    entry = next(e for e in suite.load_suite() if e["file"].startswith("y_word2"))
    lines = (suite.NLU_DIR / entry["expected"]).read_text().rstrip("\n").split("\n")
    out = []
    for line in lines:
        if line == "end":
            out.append(line)
            continue
        obj = json.loads(line)
        if "decision" in obj:
            obj["decision"] = [x * (1 + 1e-12) for x in obj["decision"]]
        out.append(json.dumps(obj, ensure_ascii=False))
    assert suite.judge(entry, suite.NLU_DIR, "ok\n" + "\n".join(out) + "\n") == ("accept", "")


def test_hard_strings_cover_what_the_issue_lists():
    corpus = hard_strings()
    assert len(corpus) >= 1000
    text = b"\n".join(corpus)
    bad_utf8 = sum(1 for b in corpus if not _utf8(b))
    assert bad_utf8 >= 200
    assert b"" in corpus and b" " in corpus and max(map(len, corpus)) >= 64 * 1024
    for needle in ["İ", "ß", "ΟΔΟΣ", "ﬁ", "\u0301", "\u200d", "👨", "\u0378", "\ufeff", "\u0085", "한국어", "ﷺ", "中文", "मस्ते"]:
        assert needle.encode() in text, needle


def _utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False
