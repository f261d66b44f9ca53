"""Partitioned builds from sharded input, locally or on Dask (spec §13.7).

    phq.writer.build_partitioned({"features": ["part-000.parquet", "part-001.parquet"]},
                                 "model.phq", partitions=16, engine="dask",
                                 scheduler="tcp://scheduler:8786")

The file is byte-identical to `phq.writer.write(path, {name: (all keys, all rows)},
partitions=P, ...)` for every engine: the format's partitions (§7.1) are independent by
construction, and everything that is not (quantization scales, the dense/sparse choice,
row-index offsets, slot numbers) is computed from small per-task summaries.

Stages of one table (every task is a plain function of files; the driver holds only
summaries):

1. route (one task per shard): read the shard batch by batch, check and convert the
   weights to float32, hash the keys (§6), drop zero rows when that does not depend on
   scales, append each record (h1, h2, record number, float32 row) to the spill file of
   its partition `partition(P)`: WORK/t<table>/spill/s<shard>-p<partition>.bin. Returns
   the record count per partition and per-column minima and maxima.
2. build (one task per partition): read the partition's spill files only, build its MPH
   with `mph.build_mph` (one partition), put the rows in slot order, compute
   fingerprints and, when the scales are already known, the stored codes. Writes the
   partition's parts as raw little-endian arrays under WORK/t<table>/p<partition>/.
3. quantize (one task per partition; only for row-block scales and for linear8
   `drop_zero_rows`, whose scales need the MPH or the kept rows of every partition).
4. assemble (driver): header, section table and every part streamed from the partition
   files into one temporary file with `serialize.write_sections` (CRC32C on the fly,
   fsync, rename).

Engines: "local" runs the tasks one after another in this process; "processes" on a
local process pool; "dask" on a dask.distributed cluster (`scheduler` address or Client;
a LocalCluster of `workers` processes when None). Workers read the shards and the work
directory by path: on a real cluster both must be on a filesystem every worker and the
driver see at the same path.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Callable

import numpy as np

from phq import layout as L
from phq.errors import UsageError
from phq.hashing import fingerprint_of_np, hash_keys, partition_of_np

from . import quant as Q
from .build import QUANTS, SCALES, Options, check_name, encode_keys, finite_float32, metadata_section, raw_keys_repr, tensor_section
from .inputs import InputChangedError, InputState, check_unchanged, input_state, iter_table_file, parquet_dim, reading
from .mph import HashCollision, build_mph
from .serialize import SectionOut, write_sections

ENGINES = ("local", "processes", "dask")
INPUT_EXTENSIONS = (".tsv", ".txt", ".jsonl", ".npz", ".parquet")
_CHUNK_BYTES = 4 << 20  # assembly reads partition files in chunks of about this size

Progress = Callable[[str, int, int], None]

# Test-only: the driver calls _TEST_HOOK(stage, table name) after each stage ("route",
# "build", "quantize") and before the final input check ("write"), whatever the engine;
# tests change a shard there to check §13.8 without timing races.
_TEST_HOOK = None


def _hook(stage: str, name: str) -> None:
    if _TEST_HOOK is not None:
        _TEST_HOOK(stage, name)


def build_partitioned(
    inputs,
    path: str | os.PathLike,
    *,
    partitions: int,
    engine: str = "local",
    scheduler=None,
    workers: int | None = None,
    work_dir: str | os.PathLike | None = None,
    table: str = "features",
    tensors=None,
    metadata=None,
    gamma: float = 2.0,
    seed: int = 0,
    fingerprint_bits: int = 16,
    quant: str = "linear8",
    scale: str = "column",
    block_rows: int = 256,
    layout: str = "auto",
    drop_zero_rows: bool = False,
    max_levels: int = 64,
    batch_rows: int = 1 << 16,
    progress: Progress | None = None,
    report: dict | None = None,
    before_replace: Callable[[], None] | None = None,
) -> int:
    """Build a phq file at `path` from sharded input files; return its size in bytes.

    inputs      {table name: shard path or list of shard paths}, or a list of shard
                paths of one table named `table`. Shards are .tsv/.txt, .jsonl, .npz
                or .parquet files (spec §13.6); a table's shards together hold its keys,
                each key once.
    partitions  P, the number of MPH partitions (§7.1): the unit of parallel work. The
                file depends on P, never on the engine or the worker count.
    engine      "local" (this process), "processes" (a local process pool of `workers`)
                or "dask" (`scheduler`: an address "tcp://host:8786" or a
                distributed.Client; None starts a LocalCluster of `workers` processes).
    work_dir    where spill and partition files go (a fresh subdirectory is made and
                removed afterwards; default: next to `path`). With a remote cluster it
                must be on a filesystem shared by the driver and every worker.
    batch_rows  records read at a time from a shard (a route task's memory bound).
    report      if a dict, receives the key count of each table ("keys") and per-task
                figures ("tasks": stage, pid, seconds, peak RSS).
    before_replace  as in `phq.writer.write`: run just before the file replaces `path`.

    Inputs that change during the build (spec §13.8): each route task records its shard's
    size, times and SHA-256 before parsing it and checks the stat again after; just before
    the file replaces `path`, every shard is read again and must have the recorded size,
    modification time and SHA-256. Otherwise `phq.writer.InputChangedError` (a UsageError)
    is raised and `path` is left as it was.
    Every other option is `phq.writer.write`'s and has the same meaning and default.
    """
    opts = Options(
        gamma=gamma, seed=seed, fingerprint_bits=fingerprint_bits, quant=quant, scale=scale, block_rows=block_rows,
        layout=layout, drop_zero_rows=drop_zero_rows, partitions=partitions, max_levels=max_levels,
    )
    if partitions is None or isinstance(partitions, bool):
        raise UsageError("a partitioned build needs partitions=P (an integer >= 1); the file depends on P")
    opts.check()
    if engine not in ENGINES:
        raise UsageError(f"engine must be one of {ENGINES}, got {engine!r}")
    if workers is not None and not (isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1):
        raise UsageError(f"workers must be a positive integer, got {workers!r}")
    if scheduler is not None and engine != "dask":
        raise UsageError("a scheduler address needs engine='dask'")
    if not (isinstance(batch_rows, int) and batch_rows >= 1):
        raise UsageError(f"batch_rows must be a positive integer, got {batch_rows!r}")
    tables = _table_inputs(inputs, table)

    pre: list[SectionOut] = []  # §13.1: META, TENSORs, then the tables
    if metadata is not None:
        pre.append(metadata_section(metadata))
    for name, value in (tensors or {}).items():
        pre.append(tensor_section(name, value))

    target = Path(path)
    base = Path(work_dir) if work_dir is not None else (target.parent if str(target.parent) else Path("."))
    try:
        base.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.work-", dir=base)).resolve()
    except OSError as e:
        raise UsageError(f"cannot create a work directory in {base}: {e}") from None
    tasks: list[dict] = []
    keys: dict[str, int] = {}
    states: list[InputState] = []
    runner = _Runner(engine, scheduler, workers)

    def last_check() -> None:  # §13.8: every shard as it was at its first reading
        _hook("write", "")
        _check(runner.map(_verify, [(st,) for st in states]))
        if before_replace is not None:
            before_replace()

    try:
        sections = list(pre)
        for t, (name, shards) in enumerate(tables.items()):
            sections += _table(runner, t, name, shards, opts, work / f"t{t}", len(sections), batch_rows, progress, tasks,
                               keys, states)
        if len(sections) > L.MAX_SECTIONS:
            raise UsageError(f"{len(sections)} sections exceed the limit {L.MAX_SECTIONS}")
        size = write_sections(path, sections, progress, last_check)
    finally:
        runner.close()
        shutil.rmtree(work, ignore_errors=True)
    if report is not None:
        report["tasks"] = tasks
        report["keys"] = keys
        report["driver_pid"] = os.getpid()
    return size


# --- inputs ---------------------------------------------------------------------------------
def _table_inputs(inputs, default_name: str) -> dict[str, list[str]]:
    if isinstance(inputs, Mapping):
        items = list(inputs.items())
    elif isinstance(inputs, (list, tuple)):
        items = [(default_name, list(inputs))]
    else:
        raise UsageError("inputs must be a mapping table name -> shard path(s), or a list of shard paths")
    tables: dict[str, list[str]] = {}
    for name, shards in items:
        check_name("table", name)
        if isinstance(shards, (str, os.PathLike)):
            shards = [shards]
        paths = []
        for s in shards:
            if not isinstance(s, (str, os.PathLike)):
                raise UsageError(f"table {name!r}: shard {s!r} is not a path")
            p = os.path.abspath(os.fspath(s))  # workers may run elsewhere: absolute paths
            if os.path.splitext(p)[1].lower() not in INPUT_EXTENSIONS:
                raise UsageError(f"{s}: unknown input type (expected one of {', '.join(INPUT_EXTENSIONS)})")
            if not os.path.isfile(p):
                raise UsageError(f"{s}: no such input file")
            paths.append(p)
        tables[name] = paths
    return tables


def _rows32(where: str, rows) -> np.ndarray:
    """as_rows' checks (build.finite_float32) on one batch: numeric, finite, fits float32."""
    return finite_float32(f"{where} (a batch)", np.asarray(rows))


def _spill_dtype(dim: int) -> np.dtype:
    return np.dtype([("h1", "<u8"), ("h2", "<u8"), ("rec", "<u8"), ("w", "<f4", (dim,))])


# --- tasks (module-level functions: picklable for process pools and Dask) ------------------
def _run_task(fn, *args):
    """Run a task; caller mistakes come back as values so that every engine reports the
    same (first, in task order) error."""
    t0 = time.perf_counter()
    try:
        out = fn(*args)
    except InputChangedError as e:
        out = {"error": ("changed", str(e))}
    except UsageError as e:
        out = {"error": ("usage", str(e))}
    except OSError as e:
        out = {"error": ("os", e.errno, str(e))}
    out["pid"] = os.getpid()
    out["seconds"] = time.perf_counter() - t0
    out["peak_rss_kib"] = _peak_rss_kib()
    return out


def _peak_rss_kib() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _route(shard: str, shard_id: int, spill_dir: str, P: int, seed: int, quant: int, granularity: int,
           drop_now: bool, batch_rows: int) -> dict:
    """Stage 1: one shard -> per-partition spill files, counts and column ranges."""
    state = input_state(shard)  # §13.8: size, times and SHA-256 at the first reading pass
    # the stat is checked after the pass; a bad record in a changed shard is the change
    out = reading(state, lambda: _route_pass(shard, shard_id, spill_dir, P, seed, quant, granularity, drop_now, batch_rows))
    out["state"] = state
    return out


def _route_pass(shard: str, shard_id: int, spill_dir: str, P: int, seed: int, quant: int, granularity: int,
                drop_now: bool, batch_rows: int) -> dict:
    dim = parquet_dim(shard) if shard.lower().endswith(".parquet") else None
    counts = np.zeros(P, dtype=np.int64)
    cmin = cmax = None
    records = 0
    spill = Path(spill_dir)
    for raw_keys, rows in iter_table_file(shard, batch_rows):
        k = len(raw_keys)
        where = f"{shard} (records {records}..{records + k - 1})"
        if np.ndim(rows) != 2 or np.shape(rows)[0] != k:
            raise UsageError(f"{shard}: rows must have shape (num_keys, dim), got {np.shape(rows)}")
        rows32 = _rows32(where, rows)
        if dim is None:
            dim = rows32.shape[1]
        elif rows32.shape[1] != dim:
            raise UsageError(f"{where}: rows of {rows32.shape[1]} weights, expected {dim}")
        if dim > L.MAX_DIM:
            raise UsageError(f"{shard}: dim {dim} exceeds the limit {L.MAX_DIM}")
        try:
            keys = encode_keys(list(raw_keys))
        except UsageError as e:
            raise UsageError(f"{shard}: {e}") from None
        rec = np.arange(records, records + k, dtype=np.uint64)
        records += k
        if drop_now:
            keep = ~Q.zero_rows(rows32, quant, granularity)
            if not keep.all():
                keys = [kk for kk, kp in zip(keys, keep) if kp]
                rows32, rec = rows32[keep], rec[keep]
        if not keys:
            continue
        h = hash_keys(keys, seed)
        del keys
        if rows32.shape[1]:
            bmin, bmax = rows32.min(axis=0).astype(np.float64), rows32.max(axis=0).astype(np.float64)
            cmin = bmin if cmin is None else np.minimum(cmin, bmin)
            cmax = bmax if cmax is None else np.maximum(cmax, bmax)
        part = partition_of_np(h[:, 1], P).astype(np.intp) if P > 1 else np.zeros(len(h), dtype=np.intp)
        by = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[by], np.arange(P + 1))
        recs = np.empty(len(h), dtype=_spill_dtype(dim))
        recs["h1"], recs["h2"], recs["rec"], recs["w"] = h[by, 0], h[by, 1], rec[by], rows32[by]
        for p in np.flatnonzero(np.diff(bounds)):
            with open(spill / f"s{shard_id:06d}-p{p:06d}.bin", "ab") as f:
                recs[bounds[p] : bounds[p + 1]].tofile(f)
            counts[p] += bounds[p + 1] - bounds[p]
    return {"dim": dim, "records": records, "counts": counts, "cmin": cmin, "cmax": cmax}


def _verify(state: InputState) -> dict:
    """The last check of one shard (§13.8): size, modification time and SHA-256 as recorded."""
    check_unchanged(state)
    return {}


def _load_spills(spill_dir: str, p: int, shard_ids: list[int], dim: int):
    dt = _spill_dtype(dim)
    parts, owners = [], []
    for s in shard_ids:
        a = np.fromfile(Path(spill_dir) / f"s{s:06d}-p{p:06d}.bin", dtype=dt)
        parts.append(a)
        owners.append(np.full(a.size, s, dtype=np.int64))
    if not parts:
        return np.zeros(0, dtype=dt), np.zeros(0, dtype=np.int64)
    return np.concatenate(parts), np.concatenate(owners)


def _key_at(shard: str, rec: int, batch_rows: int) -> bytes:
    seen = 0
    for raw_keys, _ in iter_table_file(shard, batch_rows):
        if rec < seen + len(raw_keys):
            return encode_keys([raw_keys[rec - seen]])[0]
        seen += len(raw_keys)
    raise InputChangedError(f"{shard}: record {rec} is gone: the input changed during the build; nothing was written")


def _build(p: int, spill_dir: str, out_dir: str, shard_ids: list[int], shards: list[str], dim: int, o: dict,
           drop_scales, scales, first_slot: int | None, stats: str | None) -> dict:
    """Stage 2: one partition's MPH, fingerprints, slot-ordered rows or codes."""
    recs, owner = _load_spills(spill_dir, p, shard_ids, dim)
    quant, granularity = o["quant"], o["granularity"]
    if drop_scales is not None:  # linear8 drop_zero_rows: quantized with the scales of all rows
        q = Q.quantize_scaled(recs["w"], quant, granularity, o["block_rows"], drop_scales)
        keep = (q.codes != q.zero_code).any(axis=1)
        recs, owner = recs[keep], owner[keep]
    n = recs.size
    hashes = np.empty((n, 2), dtype="<u8")
    hashes[:, 0], hashes[:, 1] = recs["h1"], recs["h2"]
    try:
        mph = build_mph(hashes, gamma_milli=o["gamma_milli"], num_partitions=1, max_levels=o["max_levels"])
    except HashCollision as e:
        i, j = e.pairs[0]
        a = (shards[owner[i]], int(recs["rec"][i]))
        b = (shards[owner[j]], int(recs["rec"][j]))
        ka, kb = _key_at(*a, o["batch_rows"]), _key_at(*b, o["batch_rows"])
        if ka == kb:
            raise UsageError(f"table {o['name']!r}: duplicate key {raw_keys_repr(ka)} "
                             f"({a[0]} record {a[1]} and {b[0]} record {b[1]})") from None
        raise UsageError(f"table {o['name']!r}: keys {raw_keys_repr(ka)} and {raw_keys_repr(kb)} have the same 128-bit "
                         f"hash under seed {o['seed']}; choose another seed") from None
    except UsageError as e:
        raise UsageError(f"table {o['name']!r}, partition {p}: {e}") from None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    order = mph.order
    mph.bitmap.tofile(out / "bitmap.bin")
    mph.rank.tofile(out / "rank.bin")
    mph.fallback.tofile(out / "fallback.bin")
    if o["fingerprint_bits"]:
        fingerprint_of_np(recs["h2"][order], o["fingerprint_bits"]).astype(
            L.FINGERPRINT_DTYPES[o["fingerprint_bits"]]).tofile(out / "fingerprints.bin")
    del hashes
    rows = recs["w"][order] if n else recs["w"]
    del recs, owner
    rec = mph.partitions[0]
    res = {"key_count": int(rec["key_count"]), "fallback_count": int(rec["fallback_count"]),
           "levels": mph.level_words.tolist(), "words": int(mph.bitmap.size), "nnz": None, "stats": None}
    if scales is not None:
        res["nnz"] = _quantize_to(out, rows, o, scales, first_slot or 0)
    else:
        np.save(out / "rows32.npy", rows)
        if stats == "column":
            if n and dim:
                res["stats"] = (rows.min(axis=0).astype(np.float64), rows.max(axis=0).astype(np.float64))
        elif stats == "block":
            res["stats"] = _block_ranges(rows, first_slot, o["block_rows"])
    return res


def _block_ranges(rows: np.ndarray, first_slot: int, block_rows: int):
    """(first block, minima, maxima) of the row blocks the slots [first_slot, +n) touch."""
    n, dim = rows.shape
    if n == 0 or dim == 0:
        return None
    g0 = first_slot // block_rows
    starts = np.arange(g0, (first_slot + n - 1) // block_rows + 1, dtype=np.int64) * block_rows - first_slot
    starts[0] = 0
    lo = np.minimum.reduceat(rows.min(axis=1), starts).astype(np.float64)
    hi = np.maximum.reduceat(rows.max(axis=1), starts).astype(np.float64)
    return g0, lo, hi


def _quantize_to(out: Path, rows: np.ndarray, o: dict, scales, first_slot: int) -> int:
    q = Q.quantize_scaled(rows, o["quant"], o["granularity"], o["block_rows"], scales, first_slot)
    q.codes.tofile(out / "codes.bin")
    return int(np.count_nonzero(q.codes != q.zero_code))


def _quantize(out_dir: str, o: dict, scales, first_slot: int) -> dict:
    """Stage 3: quantize one partition's slot-ordered rows with the table's scales."""
    out = Path(out_dir)
    rows = np.load(out / "rows32.npy")
    nnz = _quantize_to(out, rows, o, scales, first_slot)
    del rows
    os.unlink(out / "rows32.npy")
    return {"nnz": nnz}


# --- engines -----------------------------------------------------------------------------------
class _Runner:
    """Runs a list of tasks and returns their results in task order."""

    def __init__(self, engine: str, scheduler, workers: int | None):
        self.engine, self.scheduler, self.workers = engine, scheduler, workers
        self._pool = self._client = self._cluster = None

    def map(self, fn, arg_lists: list[tuple]) -> list[dict]:
        if not arg_lists:
            return []
        if self.engine == "local":
            return [_run_task(fn, *a) for a in arg_lists]
        if self.engine == "processes":
            if self._pool is None:
                import concurrent.futures as cf
                import multiprocessing as mp

                n = self.workers or os.cpu_count() or 1
                # spawn: fresh interpreters (no inherited driver memory or threads)
                self._pool = cf.ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn"))
            futures = [self._pool.submit(_run_task, fn, *a) for a in arg_lists]
            return [f.result() for f in futures]
        client = self._dask()
        futures = [client.submit(_run_task, fn, *a, pure=False) for a in arg_lists]
        return client.gather(futures)

    def _dask(self):
        if self._client is None:
            try:
                from distributed import Client, LocalCluster
            except ImportError:
                raise UsageError("engine 'dask' needs dask.distributed: pip install 'phq[dask]'") from None
            if self.scheduler is None:
                import logging

                self._cluster = LocalCluster(n_workers=self.workers or 2, threads_per_worker=1, processes=True,
                                             dashboard_address=None, silence_logs=logging.ERROR)
                self._client = Client(self._cluster)
            elif isinstance(self.scheduler, str):
                try:
                    self._client = Client(self.scheduler, timeout="30s")
                except OSError as e:
                    raise UsageError(f"cannot reach the Dask scheduler at {self.scheduler}: {e}") from None
            else:  # a distributed.Client the caller owns
                self._client = self.scheduler
                return self._client
        return self._client

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        if self._client is not None and self._client is not self.scheduler:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._pool = self._client = self._cluster = None


def _check(results: list[dict]) -> list[dict]:
    """Raise the first error in task order (every engine reports the same one)."""
    for r in results:
        err = r.get("error")
        if err is None:
            continue
        if err[0] == "os":
            raise OSError(err[1], err[2])
        if err[0] == "changed":
            raise InputChangedError(err[1])
        raise UsageError(err[1])
    return results


# --- one table -----------------------------------------------------------------------------------
def _table(runner: _Runner, t: int, name: str, shards: list[str], opts: Options, work: Path, owner: int,
           batch_rows: int, progress: Progress | None, tasks: list[dict], keys: dict,
           states: list[InputState]) -> list[SectionOut]:
    name_bytes = check_name("table", name)
    P = opts.partitions
    quant = QUANTS[opts.quant]
    if quant not in (L.QUANT_F32, L.QUANT_F16, L.QUANT_LINEAR8):
        raise UsageError(f"table {name!r}: the partitioned build writes format 1.0 schemes (f32, f16, linear8); "
                         f"{opts.quant} (format 1.1) needs the single-process writer")
    granularity = L.SCALE_NONE if quant != L.QUANT_LINEAR8 else SCALES[opts.scale]
    # drop_zero_rows: row-local (float rows) except for linear8 table/column scales (§13.4)
    drop_scaled = opts.drop_zero_rows and quant == L.QUANT_LINEAR8 and granularity in (L.SCALE_TABLE, L.SCALE_COLUMN)
    drop_now = opts.drop_zero_rows and not drop_scaled
    spill = work / "spill"
    spill.mkdir(parents=True)

    def log(stage, results, ids):
        for i, r in zip(ids, results):
            tasks.append({"table": name, "stage": stage, "task": i, "pid": r["pid"], "seconds": r["seconds"],
                          "peak_rss_kib": r["peak_rss_kib"]})

    # 1. route
    if progress:
        progress(f"{name}: route", 0, len(shards))
    routed = _check(runner.map(_route, [(s, i, str(spill), P, opts.seed, quant, granularity, drop_now, batch_rows)
                                        for i, s in enumerate(shards)]))
    log("route", routed, range(len(shards)))
    states += [r["state"] for r in routed]
    _hook("route", name)
    dims = [(s, r["dim"]) for s, r in zip(shards, routed) if r["records"]] or \
           [(s, r["dim"]) for s, r in zip(shards, routed) if r["dim"] is not None]
    dim = dims[0][1] if dims else 0
    for s, d in dims:
        if d != dim:
            raise UsageError(f"table {name!r}: {s} has rows of {d} weights, {dims[0][0]} of {dim}")
    counts = np.sum([r["counts"] for r in routed], axis=0, dtype=np.int64) if routed else np.zeros(P, np.int64)
    n_routed = int(counts.sum())
    if n_routed > L.MAX_KEYS:
        raise UsageError(f"table {name!r}: {n_routed} keys exceed the limit {L.MAX_KEYS}")
    if counts.max(initial=0) > L.MAX_PARTITION_KEYS:
        p = int(counts.argmax())
        raise UsageError(f"table {name!r}: partition {p} holds {int(counts[p])} keys (limit {L.MAX_PARTITION_KEYS}); use more partitions")
    has_spill = [[i for i, r in enumerate(routed) if r["counts"][p]] for p in range(P)]

    def column_ranges(parts):
        parts = [x for x in parts if x is not None]
        if not parts:
            return None
        return np.min([x[0] for x in parts], axis=0), np.max([x[1] for x in parts], axis=0)

    def scales_from(ranges, n: int) -> np.ndarray:
        G = Q.group_count(granularity, n, dim, opts.block_rows)
        out = np.zeros(G, dtype=L.SCALE_DTYPE)
        if n == 0 or dim == 0:
            out[:] = (1.0, 0)
        elif granularity == L.SCALE_TABLE:
            out[0] = Q.range_scale(float(ranges[0].min()), float(ranges[1].max()))
        else:
            out[:] = Q.range_scales(ranges[0], ranges[1])
        return out

    # scales known after routing: linear8 table/column (without drop), or none at all
    if quant != L.QUANT_LINEAR8:
        scales = np.zeros(0, dtype=L.SCALE_DTYPE)
    elif granularity in (L.SCALE_TABLE, L.SCALE_COLUMN):
        s1 = scales_from(column_ranges([(r["cmin"], r["cmax"]) if r["cmin"] is not None else None for r in routed]), n_routed)
        scales = None if drop_scaled else s1
    else:
        scales = None  # row-block: blocks follow slots, known once every partition's MPH is built
    first_slots = np.concatenate(([0], np.cumsum(counts)[:-1])).tolist()
    o = dict(name=name, quant=quant, granularity=granularity, block_rows=opts.block_rows, gamma_milli=opts.gamma_milli,
             max_levels=opts.max_levels, fingerprint_bits=opts.fingerprint_bits, seed=opts.seed, batch_rows=batch_rows)
    stats = "column" if drop_scaled else "block" if granularity == L.SCALE_ROW_BLOCK else None

    # 2. build
    if progress:
        progress(f"{name}: partitions", 0, P)
    pdirs = [str(work / f"p{p:06d}") for p in range(P)]
    built = _check(runner.map(_build, [
        (p, str(spill), pdirs[p], has_spill[p], shards, dim, o, s1 if drop_scaled else None, scales,
         first_slots[p] if stats == "block" else None, stats) for p in range(P)]))
    log("build", built, range(P))
    _hook("build", name)
    shutil.rmtree(spill, ignore_errors=True)
    key_counts = [r["key_count"] for r in built]
    n = keys[name] = sum(key_counts)
    first_slots = np.concatenate(([0], np.cumsum(key_counts)[:-1])).astype(np.int64).tolist()

    # 3. scales that needed every partition, then quantize
    if scales is None:
        if drop_scaled:
            scales = scales_from(column_ranges([r["stats"] for r in built]), n)
            args = [(pdirs[p], o, scales, 0) for p in range(P)]
        else:  # row-block
            G = Q.group_count(granularity, n, dim, opts.block_rows)
            lo, hi = np.full(G, np.inf), np.full(G, -np.inf)
            for r in built:
                if r["stats"] is not None:
                    g0, blo, bhi = r["stats"]
                    np.minimum(lo[g0 : g0 + blo.size], blo, out=lo[g0 : g0 + blo.size])
                    np.maximum(hi[g0 : g0 + bhi.size], bhi, out=hi[g0 : g0 + bhi.size])
            seen = lo <= hi  # a block no partition reported is empty: scale 1.0, zero point 0
            scales = Q.range_scales(np.where(seen, lo, 0.0), np.where(seen, hi, 0.0))
            args = []
            for p in range(P):  # each partition gets the scales of its own blocks only
                g0 = first_slots[p] // opts.block_rows
                g1 = -(-(first_slots[p] + key_counts[p]) // opts.block_rows)
                args.append((pdirs[p], o, scales[g0:max(g0, g1)], first_slots[p] - g0 * opts.block_rows))
        quantized = _check(runner.map(_quantize, args))
        log("quantize", quantized, range(P))
        _hook("quantize", name)
        nnzs = [r["nnz"] for r in quantized]
    else:
        nnzs = [r["nnz"] for r in built]

    # 4. sections, streamed from the partition files
    nnz_dense = n * dim
    nnz = sum(nnzs)
    item = L.QUANT_DTYPES[quant]
    sparse = opts.layout == "sparse" or (
        opts.layout == "auto" and Q.sparse_bytes(n, dim, nnz, item.itemsize) < L.align(n * dim * item.itemsize))
    index_dt = L.INDEX_DTYPES[4 if nnz < (1 << 32) else 8]
    column_dt = L.COLUMN_DTYPES[1 if dim <= 256 else 2 if dim <= 65536 else 4]
    fp_bits = opts.fingerprint_bits
    descriptor = dict(
        num_keys=n, dim=dim, seed=opts.seed, num_partitions=P, gamma_milli=opts.gamma_milli,
        nnz=nnz if sparse else nnz_dense, hash_scheme=L.HASH_MURMUR3_128, quant=quant,
        layout=L.LAYOUT_SPARSE if sparse else L.LAYOUT_DENSE, fingerprint_bits=fp_bits, scale_granularity=granularity,
        index_width=index_dt.itemsize if sparse else 0, column_width=column_dt.itemsize if sparse else 0, reserved0=0,
        scale_block_rows=opts.block_rows if granularity == L.SCALE_ROW_BLOCK else 0, name_len=len(name_bytes),
        reserved1=0, reserved2=0, reserved3=0,
    )
    records = np.zeros(P, dtype=L.PARTITION_DTYPE)
    for p, r in enumerate(built):
        records[p] = (r["key_count"], r["fallback_count"], len(r["levels"]), 0)
    levels = np.asarray([w for r in built for w in r["levels"]], dtype=L.LEVEL_DTYPE)
    words = sum(r["words"] for r in built)
    fallbacks = sum(r["fallback_count"] for r in built)

    def files(fname: str, dtype):
        def gen():
            for d in pdirs:
                yield from _read_chunks(Path(d) / fname, np.dtype(dtype))
        return gen

    zero = _zero_codes(quant, granularity, scales, opts.block_rows)

    def code_chunks(p: int):
        """(first slot, codes (rows, dim), nonzero mask) of partition p, chunk by chunk."""
        rows_per = max(1, _CHUNK_BYTES // max(1, dim * item.itemsize))
        slot = first_slots[p]
        for c in _read_chunks(Path(pdirs[p]) / "codes.bin", item, rows_per * dim):
            codes = c.reshape(-1, dim) if dim else np.zeros((0, 0), item)
            z = zero(slot, codes.shape[0])
            yield codes, codes != z
            slot += codes.shape[0]

    def dense_rows():
        for p in range(P):
            if dim:
                yield from _read_chunks(Path(pdirs[p]) / "codes.bin", item)

    def sparse_values():
        for p in range(P):
            if dim:
                for codes, nz in code_chunks(p):
                    yield codes[nz]

    def row_index():
        yield np.zeros(1, dtype=index_dt)
        base = 0
        for p in range(P):
            if not dim:
                yield np.zeros(key_counts[p], dtype=index_dt)
                continue
            for codes, nz in code_chunks(p):
                idx = np.cumsum(nz.sum(axis=1, dtype=np.uint64), dtype=np.uint64) + np.uint64(base)
                if idx.size:
                    base = int(idx[-1])
                yield idx.astype(index_dt)

    def columns():
        for p in range(P):
            if dim:
                for codes, nz in code_chunks(p):
                    yield np.nonzero(nz)[1].astype(column_dt)

    part = lambda kind, *bufs: SectionOut(kind, owner=owner, buffers=list(bufs))  # noqa: E731
    stream = lambda kind, gen, length: SectionOut(kind, owner=owner, stream=gen, length=length)  # noqa: E731
    out = [
        SectionOut(L.KIND_TABLE, buffers=[L.TABLE_DESCRIPTOR.build(descriptor), name_bytes]),
        part(L.KIND_MPH_PARTITIONS, records),
        part(L.KIND_MPH_LEVELS, levels),
        stream(L.KIND_MPH_BITMAP, files("bitmap.bin", L.WORD_DTYPE), 8 * words),
        stream(L.KIND_MPH_RANK, files("rank.bin", L.WORD_DTYPE), 8 * words // L.RANK_BLOCK_WORDS),
        stream(L.KIND_MPH_FALLBACK, files("fallback.bin", L.FALLBACK_DTYPE), L.FALLBACK_DTYPE.itemsize * fallbacks),
        stream(L.KIND_FINGERPRINTS, files("fingerprints.bin", L.FINGERPRINT_DTYPES[fp_bits]) if fp_bits else (lambda: iter(())),
               n * fp_bits // 8),
        part(L.KIND_SCALES, scales),
    ]
    if not sparse:
        out.append(stream(L.KIND_ROWS, dense_rows, nnz_dense * item.itemsize))
    else:
        out += [
            stream(L.KIND_ROWS, sparse_values, nnz * item.itemsize),
            stream(L.KIND_ROW_INDEX, row_index, (n + 1) * index_dt.itemsize),
            stream(L.KIND_COLUMNS, columns, nnz * column_dt.itemsize),
        ]
    return out


def _zero_codes(quant: int, granularity: int, scales: np.ndarray, block_rows: int):
    """zero(first_slot, rows) -> the zero code(s) of those slots, broadcastable to (rows, dim)."""
    if quant == L.QUANT_F32:
        return lambda s, k: np.float32(0)
    if quant == L.QUANT_F16:
        return lambda s, k: np.float16(0)
    zp = scales["zero_point"].astype(np.uint8)
    if granularity == L.SCALE_TABLE:
        return lambda s, k: zp[0]
    if granularity == L.SCALE_COLUMN:
        return lambda s, k: zp[None, :]
    return lambda s, k: zp[np.arange(s, s + k) // block_rows][:, None]


def _read_chunks(path: Path, dtype: np.dtype, count: int | None = None):
    """A raw array file in chunks of `count` items (default: about _CHUNK_BYTES)."""
    if not path.exists():
        return
    count = count or max(1, _CHUNK_BYTES // max(1, dtype.itemsize))
    left = path.stat().st_size // dtype.itemsize
    with open(path, "rb") as f:
        while left > 0:
            a = np.fromfile(f, dtype=dtype, count=min(count, left))
            if a.size == 0:
                return
            left -= a.size
            yield a
