"""Atomic writes (spec §13.5) and readers during replacement (§10.4), on Linux.

- SIGKILL the writer at random moments, 100 times: the target always holds the previous
  complete file or the new complete file, both valid; leftovers are only temp files,
  which stale_temp_files() reports.
- A write that runs out of space (RLIMIT_FSIZE, and a small tmpfs where one can be
  mounted) raises a clear OSError and leaves the old file intact.
- Processes and threads look keys up while a writer replaces the file many times: every
  model they see is one whole version, never a mix.
"""

import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import phq
import phq.writer

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform != "linux", reason="needs fork (Linux)")

N_KEYS, DIM = 20_000, 48
KEYS = [b"feature|%d" % i for i in range(N_KEYS)]


def write_version(path, version: int, n: int = N_KEYS) -> None:
    """Version v: metadata {"version": v}, every weight equal to v, n keys (n varies with
    v in the concurrency test so that structures of two versions cannot be mixed)."""
    rows = np.full((n, DIM), float(version), np.float32)
    phq.writer.write(path, {"t": (KEYS[:n], rows)}, metadata={"version": version}, quant="f32", layout="dense")


def check_version(path) -> int:
    with phq.validate(path) as m:
        v = m.metadata["version"]
        t = m.tables["t"]
        rows, found = t.lookup(KEYS[: t.num_keys : 997])
        assert found.all() and (rows == v).all()
        return v


def test_kill_9_leaves_old_or_new_file(tmp_path):
    target = tmp_path / "model.phq"
    write_version(target, 0)
    durations = []
    for _ in range(3):  # how long a forked writer takes, fork to exit, on this machine now
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            try:
                write_version(tmp_path / "calibrate.phq", 0)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        durations.append(time.perf_counter() - start)
    duration = sorted(durations)[1]
    rng = random.Random(8)
    current, kept_old, got_new = 0, 0, 0
    for attempt in range(1, 101):
        pid = os.fork()
        if pid == 0:  # the writer
            try:
                write_version(target, attempt)
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0, 1.4 * duration))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        v = check_version(target)
        assert v in (current, attempt), f"attempt {attempt}: found version {v}"
        if v == attempt:
            got_new += 1
        else:
            kept_old += 1
        current = v
    print(f"kill -9: {kept_old} kept the old file, {got_new} found the new one")
    # the kills landed both before and after the rename
    assert kept_old >= 5 and got_new >= 5, (kept_old, got_new)
    leftovers = phq.writer.stale_temp_files(target)
    others = sorted(set(os.listdir(tmp_path)) - {"model.phq", "calibrate.phq"} - {p.name for p in leftovers})
    assert others == []  # nothing but reported temp files
    assert len(leftovers) <= kept_old
    for p in leftovers:
        p.unlink()


def _write_under_limit(target, limit_bytes: int) -> tuple[int, str]:
    """Fork a writer limited to limit_bytes per file; returns (exit code, message)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code, msg = 0, "ok"
        try:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of a kill
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
            write_version(target, 2)
        except OSError as e:
            code, msg = 3, str(e)
        except BaseException as e:  # noqa: BLE001 - report anything else as a failure
            code, msg = 4, repr(e)
        os.write(w, msg.encode())
        os._exit(code)
    os.close(w)
    msg = b""
    while chunk := os.read(r, 4096):
        msg += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), msg.decode()


def test_file_size_limit_gives_clear_error_and_keeps_old_file(tmp_path):
    target = tmp_path / "model.phq"
    write_version(target, 1, n=100)
    before = target.read_bytes()
    code, msg = _write_under_limit(target, 1 << 20)  # the new file needs ~4 MB
    assert code == 3, msg
    assert "cannot write" in msg and "unchanged" in msg
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.phq"]


def test_full_tmpfs_gives_clear_error_and_keeps_old_file(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        target = mnt / "model.phq"
        write_version(target, 1, n=100)
        before = target.read_bytes()
        with pytest.raises(OSError, match="No space left on device.*unchanged"):
            write_version(target, 2)
        assert target.read_bytes() == before
        assert os.listdir(mnt) == ["model.phq"]
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def _reader_loop(path, stop_at: float, out) -> None:
    seen, checks = set(), 0
    while time.time() < stop_at:
        with phq.open(path) as m:
            v = m.metadata["version"]
            t = m.tables["t"]
            assert t.num_keys == 1000 + v, (v, t.num_keys)  # structure of the same version
            rows, found = t.lookup(KEYS[: t.num_keys : 7])
            assert found.all() and (rows == v).all(), v
            if v and KEYS[999 + v] not in t:
                raise AssertionError(f"version {v} lost its last key")
            seen.add(v)
            checks += 1
    out.append((checks, len(seen)))


def _reader_process(path, stop_at, conn) -> None:
    out = []
    try:
        _reader_loop(path, stop_at, out)
        conn.send(("ok", out[0]))
    except BaseException as e:  # noqa: BLE001
        conn.send(("error", repr(e)))


def test_concurrent_readers_never_see_a_torn_or_mixed_model(tmp_path):
    import multiprocessing as mp

    path = tmp_path / "live.phq"
    write_version(path, 0, n=1000)
    stop_at = time.time() + 6
    ctx = mp.get_context("fork")
    pipes, procs = [], []
    for _ in range(3):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=_reader_process, args=(path, stop_at, child))
        p.start()
        pipes.append(parent)
        procs.append(p)
    thread_out, errors = [], []

    def thread_reader():
        try:
            _reader_loop(path, stop_at, thread_out)
        except BaseException as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=thread_reader) for _ in range(2)]
    for t in threads:
        t.start()
    version = 0
    while time.time() < stop_at - 0.5:
        version += 1
        write_version(path, version, n=1000 + version)
    for t in threads:
        t.join()
    results = [c.recv() for c in pipes]
    for p in procs:
        p.join()
    assert errors == []
    assert all(kind == "ok" for kind, _ in results), results
    assert version >= 10  # the file really was replaced many times
    checks = [r[1][0] for r in results] + [c for c, _ in thread_out]
    assert all(c > 0 for c in checks)
    assert max(r[1][1] for r in results) >= 2  # readers saw several versions
