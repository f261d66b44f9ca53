"""Run readers against the golden files (protocol and report: conformance/README.md)."""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Union

from phq.errors import UsageError

from . import SUITE_DIR
from .adapter import answer, parse_probes

# A reader is a command (argv list, the file path is appended) or, for the reference
# reader and for tests, a function (path, probe text) -> answer text.
Reader = Union[list, Callable[[Path, str], str]]


def reference_reader(path: Path, probes: str) -> str:
    return answer(path, parse_probes(probes))


@dataclass
class Result:
    file: str
    expect: str  # "accept" or an error code
    outcome: str  # "accept", an error code, "wrong-answer", "crash", "timeout", "bad-output"
    status: str  # PASS, FAIL, XFAIL, XPASS
    detail: str
    seconds: float


def load_suite(version: str = "1.0", suite_dir: Path = SUITE_DIR) -> tuple[Path, list[dict]]:
    root = Path(suite_dir) / f"v{version}"
    manifest = root / "manifest.json"
    if not manifest.is_file():
        known = sorted(p.name[1:] for p in Path(suite_dir).glob("v*") if (p / "manifest.json").is_file())
        raise UsageError(f"no conformance suite for format version {version!r} (have: {', '.join(known) or 'none'})")
    files = json.loads(manifest.read_text())["files"]
    for f in files:  # a damaged suite must not pass as a reader failure
        data = (root / f["file"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != f["sha256"]:
            raise UsageError(f"golden file {f['file']} does not match its sha256 in the manifest")
    return root, files


def versioned_reader(version: str) -> Reader:
    """The reference reader restricted to an older format version ("py@1.0")."""
    from .adapter import versioned

    major, _, minor = version.partition(".")
    try:
        opener = versioned((int(major), int(minor or 0)))
    except ValueError:
        raise UsageError(f"reader version must look like 1.0, got {version!r}") from None

    def read(path: Path, probes: str) -> str:
        return answer(path, parse_probes(probes), opener)

    return read


def parse_reader(spec: str | None) -> Reader:
    """None or "" or "py": the reference reader; "py@1.0": it, restricted to format 1.0;
    anything else: an adapter command line (the file path is appended)."""
    if not spec or spec == "py":
        return reference_reader
    if spec.startswith("py@"):
        return versioned_reader(spec[3:])
    argv = shlex.split(spec)
    if not argv:
        raise UsageError("empty --reader command")
    return argv


def _invoke(reader: Reader, path: Path, probes: str, timeout: float) -> tuple[str | None, str]:
    """(special outcome or None, stdout)."""
    if callable(reader):
        return None, reader(path, probes)
    try:
        p = subprocess.run(list(reader) + [str(path)], input=probes.encode(), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", ""
    except OSError as e:
        raise UsageError(f"cannot run reader {reader[0]!r}: {e}") from None
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode < 0:  # killed by a signal: a crash, whatever it printed
        return "crash", out
    return None, out


def first_line(lines: list[str]) -> tuple[str, str] | None:
    """(outcome, detail) when an answer's first line is a refusal or not the protocol's "ok"
    (the format and NLU protocols start alike), else None."""
    if not lines:
        return "bad-output", "no output"
    if lines[0].startswith("error "):
        parts = lines[0].split()
        return (parts[1] if len(parts) > 1 else "bad-output"), lines[0][:200]
    if lines[0] != "ok":
        return "bad-output", f"first line {lines[0][:80]!r}"
    return None


def judge(entry: dict, root: Path, output: str) -> tuple[str, str]:
    """(outcome, detail) of one answer."""
    lines = output.splitlines()
    refused = first_line(lines)
    if refused:
        return refused
    if entry["expect"] != "accept":
        return "accept", "accepted an invalid file"
    expected = (root / entry["file"]).with_suffix(".expected").read_text().splitlines()
    got = [x.rstrip() for x in lines]
    for i, (e, g) in enumerate(zip(expected, got)):
        if e != g:
            return "wrong-answer", f"line {i + 1}: expected {e[:100]!r}, got {g[:100]!r}"
    if len(expected) != len(got):
        return "wrong-answer", f"expected {len(expected)} lines, got {len(got)}"
    return "accept", ""


def run(
    reader: Reader,
    version: str = "1.0",
    expect_fail: set[str] | None = None,
    timeout: float = 10.0,
    suite_dir: Path = SUITE_DIR,
    progress: Callable[[Result], None] | None = None,
) -> list[Result]:
    root, files = load_suite(version, suite_dir)
    expect_fail = expect_fail or set()
    unknown = expect_fail - {Path(f["file"]).name for f in files}
    if unknown:
        raise UsageError(f"expected-failure list names files not in the suite: {sorted(unknown)}")
    results = []
    for entry in files:
        path = root / entry["file"]
        probes = path.with_suffix(".probes").read_text()
        start = time.perf_counter()
        special, out = _invoke(reader, path, probes, timeout)
        seconds = time.perf_counter() - start
        outcome, detail = (special, special) if special else judge(entry, root, out)
        ok = outcome == entry["expect"]
        name = path.name
        if name in expect_fail:
            status = "XPASS" if ok else "XFAIL"
        else:
            status = "PASS" if ok else "FAIL"
        r = Result(entry["file"], entry["expect"], outcome, status, "" if ok else detail, round(seconds, 4))
        results.append(r)
        if progress:
            progress(r)
    return results


def summary(results: list[Result]) -> str:
    count = {s: sum(r.status == s for r in results) for s in ("PASS", "FAIL", "XFAIL", "XPASS")}
    # XPASS counts as a failure: the expected-failure list has gone stale
    line = f"{count['PASS']} passed, {count['FAIL'] + count['XPASS']} failed"
    extra = [f"{count['XFAIL']} xfail"] if count["XFAIL"] else []
    extra += [f"{count['XPASS']} xpass"] if count["XPASS"] else []
    return line + (f" ({', '.join(extra)})" if extra else "")


def succeeded(results: list[Result]) -> bool:
    return all(r.status in ("PASS", "XFAIL") for r in results)


def write_report(results: list[Result], path: Path, reader_desc: str, version: str) -> None:
    doc = {
        "format_version": version,
        "reader": reader_desc,
        "summary": summary(results),
        "ok": succeeded(results),
        "results": [asdict(r) for r in results],
    }
    Path(path).write_text(json.dumps(doc, indent=1) + "\n")


def read_expect_fail(path: str | None) -> set[str]:
    if not path:
        return set()
    names = set()
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(Path(line).name)
    return names


def matrix(readers: dict[str, Reader], version: str = "1.0", timeout: float = 10.0) -> tuple[str, bool]:
    """Markdown reader x file matrix, and whether every reader passed every file."""
    runs = {name: {Path(r.file).name: r for r in run(rd, version, timeout=timeout)} for name, rd in readers.items()}
    names = list(runs)
    files = list(next(iter(runs.values()))) if runs else []
    head = "| file | expect | " + " | ".join(names) + " |"
    rule = "|---|---|" + "---|" * len(names)
    rows = [head, rule]
    for f in files:
        cells = []
        for n in names:
            r = runs[n][f]
            cells.append("✓" if r.status == "PASS" else f"✗ {r.outcome}")
        rows.append(f"| `{f}` | {runs[names[0]][f].expect} | " + " | ".join(cells) + " |")
    totals = " | ".join(summary(list(runs[n].values())) for n in names)
    rows.append(f"| **total** | | {totals} |")
    all_ok = all(succeeded(list(runs[n].values())) for n in names)
    return "\n".join(rows) + "\n", all_ok


# --- the compatibility matrix: reader versions x file versions (spec/format-v1.1.md §7) ---
def file_groups() -> list[tuple[str, str, list[str]]]:
    """(label, suite version, file names) of the matrix's columns: what each kind of file is."""
    groups = []
    _, v10 = load_suite("1.0")
    groups.append(("1.0 files (valid)", "1.0", [f["file"] for f in v10 if f["expect"] == "accept"]))
    root, v11 = load_suite("1.1")
    uses, plain = [], []
    for f in v11:
        if f["expect"] != "accept" or "future_minor" in f["file"]:
            continue
        minor = int.from_bytes((root / f["file"]).read_bytes()[10:12], "little")
        (uses if minor == 1 else plain).append(f["file"])
    groups.append(("1.1 files using LINEAR4/CODEBOOK", "1.1", uses))
    if plain:
        groups.append(("1.1-suite files using no 1.1 feature", "1.1", plain))
    groups.append(("minor-2 file, ignorable addition", "1.1", ["valid/y_future_minor_ignorable_addition.phq"]))
    groups.append(("1.3 file, must-understand bit", "1.1", ["invalid/n_future_minor_must_understand.phq"]))
    _, v12 = load_suite("1.2")  # spec/format-v1.2.md §7: every valid 1.2 file sets COMPACT_SPARSE
    groups.append(("1.2 files using COMPACT_SPARSE", "1.2", [f["file"] for f in v12 if f["expect"] == "accept"]))
    return groups


SUITE_VERSIONS = ("1.0", "1.1", "1.2")


def compat(readers: dict[str, Reader], timeout: float = 10.0) -> tuple[str, dict]:
    """Markdown matrix and its data: for each reader and kind of file, 'read' (every file
    accepted with the expected answers) or 'refuse CODE' (the codes seen)."""
    data: dict = {}
    for name, rd in readers.items():
        results = {}
        for version in SUITE_VERSIONS:
            for r in run(rd, version, timeout=timeout):
                results[(version, r.file)] = r
        row = {}
        for label, version, files in file_groups():
            outs = [results[(version, f)] for f in files]
            if all(r.outcome == "accept" and r.status == "PASS" for r in outs):
                row[label] = f"read ({len(outs)})"
            elif all(r.outcome.startswith("E_") for r in outs):
                row[label] = "refuse " + ", ".join(sorted({r.outcome for r in outs})) + f" ({len(outs)})"
            else:
                bad = sorted({r.outcome for r in outs if not (r.outcome == "accept" and r.status == "PASS")})
                row[label] = "MIXED: " + ", ".join(bad)
        row["1.0 suite"] = summary([results[k] for k in results if k[0] == "1.0"])
        row["1.1 suite (as a 1.1 reader)"] = summary([results[k] for k in results if k[0] == "1.1"])
        row["1.2 suite (as a 1.2 reader)"] = summary([results[k] for k in results if k[0] == "1.2"])
        data[name] = row
    labels = [g[0] for g in file_groups()] + ["1.0 suite", "1.1 suite (as a 1.1 reader)", "1.2 suite (as a 1.2 reader)"]
    lines = ["| reader | " + " | ".join(labels) + " |", "| --- |" + " --- |" * len(labels)]
    lines += [f"| {name} | " + " | ".join(row[label] for label in labels) + " |" for name, row in data.items()]
    return "\n".join(lines) + "\n", data
