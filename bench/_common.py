"""Shared helpers of the benchmarks: synthetic keys, memory probes, worker processes.

Every benchmark runs each measured peer in a fresh subprocess (a "worker") so that peak
memory and page-cache/allocator state belong to that peer alone. Workers write one JSON
object to a result file; the orchestrator combines them into ratios. Nothing here
measures time itself.
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DEFAULT_CACHE = BENCH_DIR / "out"  # git-ignored: generated keys and model files
DEFAULT_RESULTS = BENCH_DIR / "results"
QUICK_RESULTS = BENCH_DIR / "out" / "quick"


# --- synthetic NLU-like feature keys ------------------------------------------------------
def make_key(i: int) -> str:
    """The i-th synthetic feature string: five feature templates of mixed length (about
    5 to 45 bytes), each carrying i, so every key is distinct."""
    t = i % 5
    if t == 0:
        return f"w={i}"
    if t == 1:
        return f"w={i}|w+1={(i * 7919) % 100003}"
    if t == 2:
        return f"bigram={i % 50021}_{i}|pos=NN"
    if t == 3:
        return f"prefix3={i:x}|suffix3={(i * 31) % 9973}|shape=Xxxx"
    return f"ctx[-2:+2]=the_{i}_of_{(i * 7919) % 100003}_music_{i % 97}"


def make_keys(n: int) -> list[bytes]:
    return [make_key(i).encode("ascii") for i in range(n)]


def keys_file(cache: Path, n: int) -> Path:
    """Newline-separated keys 0..n-1, generated once and reused by every worker (loading
    them is several times faster than generating them, and every peer sees the same list)."""
    path = cache / f"keys_{n}.txt"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".txt.tmp")
        with open(tmp, "wb") as f:
            step = 1 << 20
            for start in range(0, n, step):
                chunk = [make_key(i).encode("ascii") for i in range(start, min(n, start + step))]
                f.write(b"\n".join(chunk))
                if start + step < n:
                    f.write(b"\n")
        os.replace(tmp, path)
    return path


def load_keys(path: Path, n: int) -> list[bytes]:
    with open(path, "rb") as f:
        data = f.read()
    keys = data.split(b"\n") if data else []
    del data
    if len(keys) != n:
        raise SystemExit(f"{path}: {len(keys)} keys, expected {n}; delete the file to regenerate it")
    return keys


# --- real keys: the word lists of the wordfreq package ----------------------------------------
def wordfreq_status() -> tuple[bool, str | None]:
    try:
        import msgpack  # noqa: F401  (a dependency of wordfreq)
        import wordfreq  # noqa: F401
    except Exception as e:
        return False, f"wordfreq is not importable ({type(e).__name__}: {e}); install it with `pip install wordfreq`"
    return True, None


def wordfreq_keys_file(cache: Path, limit: int | None = None, pattern: str = "*.msgpack.gz") -> tuple[Path, int]:
    """The distinct strings of every word list shipped in the wordfreq package (its
    `data/*.msgpack.gz` files: msgpack of [header, bucket, bucket, ...], each bucket a list
    of words), UTF-8, sorted, newline-separated; written once to the cache. Returns the
    path and the key count (`limit` keeps the first keys of the sorted list)."""
    import gzip

    import msgpack
    import wordfreq

    data = Path(wordfreq.__file__).resolve().parent / "data"
    files = sorted(f for f in data.glob(pattern) if not f.name.startswith("_"))
    tag = (f"_{limit}" if limit else "") + ("" if pattern == "*.msgpack.gz" else "_" + pattern.split(".")[0].replace("*", "all"))
    path = cache / f"wordfreq_keys{tag}.txt"
    if not path.exists():
        words: set[bytes] = set()
        for f in files:
            with gzip.open(f) as fh:
                obj = msgpack.load(fh, raw=False, strict_map_key=False)
            for bucket in obj[1:]:  # obj[0] is the header {'format': 'cB', 'version': 1}
                words.update(w.encode("utf-8") for w in bucket if "\n" not in w)
        keys = sorted(words)
        if limit:
            keys = keys[:limit]
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(b"\n".join(keys))
        os.replace(tmp, path)
    with open(path, "rb") as f:
        n = f.read().count(b"\n") + 1
    return path, n


def wordfreq_info(path: Path, n: int, pattern: str = "*.msgpack.gz") -> dict:
    import wordfreq

    data = Path(wordfreq.__file__).resolve().parent / "data"
    return {
        "source": f"wordfreq data/{pattern} (distinct words of every list)",
        "wordfreq_version": _version("wordfreq"),
        "files": len([f for f in data.glob(pattern) if not f.name.startswith("_")]),
        "num_keys": n,
        "mean_key_bytes": (path.stat().st_size - (n - 1)) / n,
    }


def package_status(*modules: str) -> tuple[bool, str | None]:
    """(all importable, reason if not) for optional bench-only packages."""
    for m in modules:
        try:
            __import__(m)
        except Exception as e:
            return False, f"{m} is not importable ({type(e).__name__}: {e}); install the bench extra: pip install -e '.[bench]'"
    return True, None


def pss_kib(pid: int) -> dict[str, int]:
    """Pss, Rss, Pss_Anon, Pss_File, Private_* of a process from /proc/PID/smaps_rollup (KiB)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Rss", "Pss", "Pss_Anon", "Pss_File", "Shared_Clean", "Private_Clean", "Private_Dirty"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


# --- memory probes (Linux /proc) -----------------------------------------------------------
def proc_status() -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile of this process in KiB (empty off Linux)."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def rss_kib() -> int:
    s = proc_status()
    if "VmRSS" in s:
        return s["VmRSS"]
    import psutil  # fallback off Linux

    return psutil.Process().memory_info().rss // 1024


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to /proc/self/clear_refs), so
    the peak that follows belongs to the measured work only, not to loading the keys."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_kib() -> int:
    s = proc_status()
    if "VmHWM" in s:
        return s["VmHWM"]
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# --- workers ---------------------------------------------------------------------------------
def run_worker(script: Path, args: list[str], timeout: float | None = None) -> dict:
    """Run `python script --worker ... --result FILE` in a fresh process; return its JSON.
    The worker's stdout/stderr are kept in the result under "_log" only when it fails."""
    fd, result = tempfile.mkstemp(prefix="phq-bench-", suffix=".json")
    os.close(fd)
    try:
        cmd = [sys.executable, str(script), "--worker", *args, "--result", result]
        env = dict(os.environ, PYTHONHASHSEED="0")
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        if p.returncode != 0:
            raise RuntimeError(
                f"worker failed ({p.returncode}): {shlex.join(cmd)}\n--- stdout\n{p.stdout[-4000:]}\n--- stderr\n{p.stderr[-4000:]}"
            )
        with open(result) as f:
            return json.load(f)
    finally:
        try:
            os.unlink(result)
        except OSError:
            pass


def write_result(path: str, obj: dict) -> None:
    with open(path, "w") as f:
        json.dump(obj, f)


def median(values):
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def ratio(num, den):
    """num / den, or None when either is missing or den is not positive."""
    if num is None or den is None or not (isinstance(den, (int, float)) and den > 0):
        return None
    r = num / den
    return r if math.isfinite(r) else None


def bbhash_status() -> tuple[bool, str | None]:
    """(available, reason if not)."""
    try:
        import bbhash  # noqa: F401
    except Exception as e:  # ImportError, or a broken binary wheel
        return False, f"bbhash is not importable ({type(e).__name__}: {e}); install it with `pip install bbhash==0.6.0`"
    return True, None


# --- provenance -----------------------------------------------------------------------------
def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _mem_total_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    try:
        p = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        if p.returncode == 0:
            return p.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return None


def machine_info() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "mem_total_gib": _mem_total_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "numpy": _version("numpy"),
        "mmh3": _version("mmh3"),
        "bbhash": _version("bbhash"),
        "wordfreq": _version("wordfreq"),
        "safetensors": _version("safetensors"),
        "joblib": _version("joblib"),
        "matplotlib": _version("matplotlib"),
        "phq": _version("phq"),
        "git_commit": _git_commit(),
    }


def command_line() -> str:
    """The command as it would be typed from the repository root."""
    exe = sys.executable
    try:
        rel = os.path.relpath(exe, REPO)
        if not rel.startswith(".."):
            exe = rel
    except ValueError:
        pass
    argv = list(sys.argv)
    try:
        rel0 = os.path.relpath(os.path.abspath(argv[0]), REPO)
        if not rel0.startswith(".."):
            argv[0] = rel0
    except ValueError:
        pass
    return shlex.join([exe, *argv])


def finish(res: dict, out: Path | None, format_table) -> int:
    """Common end of a benchmark's command line: machine info, table, optional JSON."""
    res["machine"] = machine_info()
    res["command"] = command_line()
    print(format_table(res))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=2) + "\n")
    return 0
