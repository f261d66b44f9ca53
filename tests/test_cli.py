"""The phq command line: exit codes 0 / 1 / 2, messages, --json."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import phq
from phq.cli import main

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo"


@pytest.fixture
def demo(tmp_path):
    out = tmp_path / "demo.phq"
    code = main(["build", str(DEMO / "features.tsv"), "-o", str(out), "--metadata", str(DEMO / "metadata.json"),
                 "--tensor", f"bias={DEMO / 'bias.txt'}", "--quiet"])
    assert code == 0
    return out


def test_build_inspect_lookup_validate(demo, capsys):
    capsys.readouterr()
    assert main(["inspect", str(demo), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    t = info["tables"]["features"]
    assert t["num_keys"] == 49 and t["dim"] == 4 and t["quant"] == "linear8"
    assert t["mph_bits_per_key"] > 0 and info["tensors"]["bias"]["shape"] == [4]
    assert info["metadata"]["labels"][0] == "PlayMusic"
    assert main(["inspect", str(demo)]) == 0
    assert "bits/key" in capsys.readouterr().out
    assert main(["lookup", str(demo), "w=play", "w=zzz", "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[0]["found"] and abs(lines[0]["row"][0] - 2.433) < 0.02
    assert lines[1] == {"key": "w=zzz", "found": False, "row": None}
    assert main(["validate", str(demo)]) == 0
    assert "valid" in capsys.readouterr().out


def test_validate_reports_code_and_exit_1(demo, tmp_path, capsys):
    bad = tmp_path / "bad.phq"
    data = bytearray(demo.read_bytes())
    data[-70] ^= 0x10  # inside the last section: only the checksum can see it
    bad.write_bytes(bytes(data))
    assert main(["validate", str(bad), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] is False and out["code"] in phq.ERROR_CODES
    assert main(["inspect", str(tmp_path / "missing.phq")]) == 2
    (tmp_path / "text.phq").write_text("hello world, not a model at all......" * 3)
    assert main(["inspect", str(tmp_path / "text.phq")]) == 1
    err = capsys.readouterr().err
    assert "E_SIGNATURE" in err and "Traceback" not in err


def test_usage_errors_exit_2(demo, tmp_path, capsys):
    assert main(["lookup", str(demo), "x", "--table", "nope"]) == 2
    assert "no table 'nope'" in capsys.readouterr().err
    assert main(["build", str(tmp_path / "missing.tsv"), "-o", str(tmp_path / "o.phq")]) == 2
    assert main(["build", str(DEMO / "features.tsv"), "-o", str(tmp_path / "o.phq"), "--gamma", "0"]) == 2
    assert "gamma" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2


def test_python_dash_m(demo):
    r = subprocess.run([sys.executable, "-m", "phq", "validate", str(demo)], capture_output=True, text=True)
    assert r.returncode == 0 and "valid" in r.stdout


def test_lookup_keys_file_and_raw(demo, tmp_path, capsys):
    keys = tmp_path / "keys.txt"
    keys.write_text("w=rain\nw=nothing\n")
    capsys.readouterr()
    assert main(["lookup", str(demo), "--keys-file", str(keys), "--raw"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("w=rain\t") and all(v.isdigit() for v in out[0].split("\t")[1].split())
    assert out[1] == "w=nothing\t(absent)"


def test_inspect_names_at_most_50_metadata_members(tmp_path, capsys):
    import phq.writer

    path = tmp_path / "m.phq"
    meta = {f"k{i:03d}": i for i in range(60)}
    phq.writer.write(path, {"t": (["a", "b"], [[1.0], [2.0]])}, metadata=meta)
    assert main(["inspect", str(path)]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("metadata:")][0]
    assert "k049" in line and "k050" not in line and "... 10 more" in line
    assert main(["inspect", "--json", str(path)]) == 0
    assert sorted(json.loads(capsys.readouterr().out)["metadata"]) == sorted(meta)
