"""A path that names no regular file (a FIFO, a device, a directory) is refused before any
read, without blocking, with UsageError (spec §10; issue 15, item 7: `phq validate` and the
C tools used to wait forever on a FIFO without a writer).

Every call runs in a subprocess with a timeout, so that a regression fails instead of
hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_c_agreement import c_binary

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
PHQ = [sys.executable, "-m", "phq"]


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "model.phq"
    os.mkfifo(path)
    return path


def run(args, timeout=30, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


@pytest.mark.parametrize("call", ["phq.open(P)", "phq.validate(P)", "phq.nlu.load(P)"])
def test_library_refuses_a_fifo_with_usage_error(fifo, call):
    code = f"import sys, phq, phq.nlu\nP = sys.argv[1]\ntry:\n    {call}\nexcept phq.UsageError as e:\n    print('UsageError', e)\n"
    r = run([sys.executable, "-c", code, str(fifo)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("UsageError") and "FIFO" in r.stdout and "not a regular file" in r.stdout


@pytest.mark.parametrize("what", ["/dev/null", "dir"])
def test_library_refuses_devices_and_directories(tmp_path, what):
    import phq

    path = tmp_path if what == "dir" else Path(what)
    if not path.exists():
        pytest.skip(f"{what} does not exist here")
    with pytest.raises(phq.UsageError, match="not a regular file"):
        phq.open(path)
    with pytest.raises(phq.UsageError, match="not a regular file"):
        phq.validate(path)


@pytest.mark.parametrize("argv", [["validate"], ["validate", "--json"], ["inspect"], ["lookup", None, "k"],
                                  ["predict", None, "text"], ["diff", None, None]])
def test_cli_exits_2_on_a_fifo(fifo, argv):
    args = [str(fifo) if a is None else a for a in argv]
    if argv == ["validate"] or argv == ["validate", "--json"] or argv == ["inspect"]:
        args.append(str(fifo))
    r = run(PHQ + args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "not a regular file" in r.stderr + r.stdout and "Traceback" not in r.stderr


def test_c_adapter_refuses_a_fifo(fifo):
    r = subprocess.run([str(c_binary("phq-c-conform")), str(fifo)], input=b"", capture_output=True, timeout=30)
    assert r.returncode == 2
    assert r.stdout.decode().startswith("error UsageError") and b"not a regular file" in r.stdout


def test_a_regular_file_still_opens(tmp_path):
    import numpy as np

    import phq
    import phq.writer

    path = tmp_path / "m.phq"
    phq.writer.write(path, {"t": ([b"a"], np.ones((1, 2), np.float32))})
    with phq.open(path) as m:
        assert m.tables["t"][b"a"].tolist() == [1, 1]
    link = tmp_path / "link.phq"
    link.symlink_to(path)  # a symbolic link to a regular file is a regular file
    with phq.validate(link) as m:
        assert len(m.tables["t"]) == 1
