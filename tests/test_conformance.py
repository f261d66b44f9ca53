"""The conformance suite: the reference reader passes it, it regenerates byte for byte,
and it catches deliberately broken readers on the right files."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np

import phq
from phq.cli import main
from phq.conformance import SUITE_DIR, runner
from phq.conformance.generate import main as generate_main
from phq.conformance.surgery import PhqBytes
from phq.table import Table
from phq.validate import _check_table

V1 = SUITE_DIR / "v1.0"
MANIFEST = json.loads((V1 / "manifest.json").read_text())["files"]


def failing(results):
    return {Path(r.file).name for r in results if r.status != "PASS"}


def names(pred):
    return {Path(f["file"]).name for f in MANIFEST if pred(f)}


def test_reference_reader_passes_everything():
    results = runner.run(runner.reference_reader)
    assert len(results) == len(MANIFEST) >= 100
    assert failing(results) == set()


def test_suite_covers_every_error_code_and_both_outcomes():
    expected = {f["expect"] for f in MANIFEST}
    assert set(phq.ERROR_CODES) <= expected and "accept" in expected
    assert all(Path(f["file"]).name.startswith("y_" if f["expect"] == "accept" else "n_") for f in MANIFEST)


def test_regeneration_is_byte_identical():
    assert generate_main(["--check"]) == 0


def test_subprocess_protocol_and_report(tmp_path, capsys):
    # a small suite with the same manifest format, run through a real adapter process
    sub = tmp_path / "v1.0"
    picked = [f for f in MANIFEST if Path(f["file"]).stem in ("y_full_model", "y_non_utf8_keys", "n_checksum_rows", "n_text_mode_crlf_to_lf")]
    for f in picked:
        for ext in (".phq", ".probes", ".expected"):
            src = (V1 / f["file"]).with_suffix(ext)
            if src.exists():
                (sub / Path(f["file"]).parent).mkdir(parents=True, exist_ok=True)
                shutil.copy(src, (sub / f["file"]).with_suffix(ext))
    (sub / "manifest.json").write_text(json.dumps({"files": picked}))
    cmd = [sys.executable, "-m", "phq.conformance.adapter"]
    results = runner.run(cmd, suite_dir=tmp_path)
    assert [r.status for r in results] == ["PASS"] * 4
    crash = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
    assert {r.outcome for r in runner.run(crash, suite_dir=tmp_path)} == {"crash"}
    slow = [sys.executable, "-c", "import time; time.sleep(5)"]
    assert {r.outcome for r in runner.run(slow, suite_dir=tmp_path, timeout=0.5)} == {"timeout"}


def test_cli_run_writes_report_and_handles_expected_failures(tmp_path, capsys, monkeypatch):
    report = tmp_path / "r.json"
    assert main(["conformance", "run", "--quiet", "--json", str(report)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == f"{len(MANIFEST)} passed, 0 failed"
    doc = json.loads(report.read_text())
    assert doc["ok"] and len(doc["results"]) == len(MANIFEST)
    # a stale expected-failure entry (the file passes) fails the run as XPASS
    stale = tmp_path / "xfail.txt"
    stale.write_text("# known failures\ny_one_key.phq\n")
    assert main(["conformance", "run", "--quiet", "--json", str(report), "--expect-fail", str(stale)]) == 1
    assert "XPASS" in capsys.readouterr().out
    unknown = tmp_path / "unknown.txt"
    unknown.write_text("y_no_such_file.phq\n")
    assert main(["conformance", "run", "--expect-fail", str(unknown), "--json", str(report)]) == 2
    assert main(["conformance", "run", "--version", "9.9"]) == 2


# -- deliberately faulty readers -------------------------------------------------------------
def fingerprint_blind(monkeypatch):
    """Ignores fingerprints: unseen keys get another key's row."""
    monkeypatch.setenv("PHQ_PURE", "1")  # a mutant of the Python path (not of phq._accel)
    original = Table.slot

    def slot(self, key):
        saved, self._fp_read = self._fp_read, None
        try:
            return original(self, key)
        finally:
            self._fp_read = saved

    monkeypatch.setattr(Table, "slot", slot)
    return runner.reference_reader


def checksum_blind(monkeypatch):
    """Runs every check but the CRCs (§10.2 step 1)."""

    def no_crc(path):
        m = phq.open(path)
        for start, end in m.padding_spans():
            m._check_zero(m._buf, start, end)
        for name, arr in m.tensors.items():
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                raise phq.FormatError("E_VALUE", name)
        for t in m.tables.values():
            _check_table(t)
        return m

    return lambda path, probes: runner.answer(path, runner.parse_probes(probes), open_model=no_crc)


def misrounding(monkeypatch):
    """Dequantizes as q*scale - zp*scale (two roundings) instead of (q - zp)*scale."""
    original = Table.row_at

    def row_at(self, slot):
        if self.quant != "linear8":
            return original(self, slot)
        raw = self.raw_at(slot).astype(np.float32)
        g = np.arange(self.dim) if self.scale_granularity == "column" else np.zeros(self.dim, int)
        if self.scale_granularity == "row-block":
            g[:] = slot // self.descriptor.scale_block_rows
        sc, zp = self._scale_f32[g], self._zero_point_f32[g]
        return raw * sc - zp * sc

    monkeypatch.setattr(Table, "row_at", row_at)
    return runner.reference_reader


def future_major_tolerant(monkeypatch, tmp_path):
    """Reads any major version as if it were 1."""

    def read(path, probes):
        data = PhqBytes(Path(path).read_bytes())
        if len(data.b) >= 64 and data.b[:8] == phq.layout.SIGNATURE and data.get_header("major") != 1:
            data.set_header("major", 1).fix_header_crc()
            path = tmp_path / "patched.phq"
            path.write_bytes(data.bytes())
        return runner.reference_reader(path, probes)

    return read


def test_fingerprint_blind_reader_fails_where_absent_keys_are_probed(monkeypatch):
    bad = failing(runner.run(fingerprint_blind(monkeypatch)))
    assert {"y_fingerprint_8.phq", "y_fingerprint_16.phq", "y_fingerprint_32.phq", "y_full_model.phq"} <= bad
    assert "y_fingerprint_0.phq" not in bad  # no fingerprints: nothing to ignore
    assert all(f.startswith("y_") for f in bad)


def test_checksum_blind_reader_fails_exactly_the_checksum_files(monkeypatch):
    bad = failing(runner.run(checksum_blind(monkeypatch)))
    assert bad == names(lambda f: f["expect"] == "E_CHECKSUM")
    assert len(bad) == 3


def test_misrounding_reader_fails_on_linear8_files_only(monkeypatch):
    bad = failing(runner.run(misrounding(monkeypatch)))
    assert {"y_linear8_column_dense.phq", "y_linear8_table_sparse.phq", "y_linear8_rowblock_dense.phq"} <= bad
    assert not any("f32" in f or "f16" in f for f in bad)


def test_future_major_tolerant_reader_fails_on_the_version_file(monkeypatch, tmp_path):
    bad = failing(runner.run(future_major_tolerant(monkeypatch, tmp_path)))
    assert bad == {"n_future_major_version.phq"}


def test_matrix_shows_each_reader(monkeypatch, tmp_path):
    text, ok = runner.matrix({"py": runner.reference_reader, "no-crc": checksum_blind(monkeypatch)})
    assert not ok
    assert "| file | expect | py | no-crc |" in text
    row = next(line for line in text.splitlines() if "n_checksum_rows.phq" in line)
    assert row.endswith("| ✓ | ✗ accept |")
