"""The `phq` command line: build, inspect, lookup, validate, predict, convert, eval, diff, conformance.

Exit codes: 0 success (valid), 1 the file is invalid (a FormatError, or a ProfileError for
`predict` and `eval`; its code is printed), 2 usage error (bad arguments, nothing to do,
unreadable or undecodable input, bad input data). `diff` follows h5diff instead: 0 same,
1 different, 2 error (an invalid file included); with `--texts` "different" means that a
text's predicted label changes. `convert` exits 1 when the file is refused by
`--min-agreement` (nothing written). `validate` checks every file and exits with the worst
status. A closed output pipe (`phq inspect --json f | head`) ends the command quietly with
141, the status of a tool killed by SIGPIPE; an internal error (a bug) prints one line, exits
70 (EX_SOFTWARE) and shows its traceback only with PHQ_DEBUG=1.

Conventions of every subcommand: options and positionals may be intermixed
(`phq lookup m.phq --json w=play`); `phq --version`; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from .errors import FormatError, PhqError, ProfileError, UsageError
from .output import json_text, safe_text  # every byte of a file that reaches the terminal goes through these

METADATA_NAMES_SHOWN = 50  # inspect's text summary names at most this many top-level metadata members
EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
EXIT_PIPE = 128 + 13  # SIGPIPE: what the shell reports for a tool killed by a closed pipe
EXIT_INTERNAL = 70  # EX_SOFTWARE (sysexits.h): a bug, not the user's input
MAX_VALUES = 1 << 16  # `lookup --max-values` default: values printed per row
_KEY_BATCH = 1 << 16  # `lookup` hashes keys in batches of this many
_PRINT_CHUNK = 1 << 14  # `lookup` formats a row this many values at a time


def _parser() -> argparse.ArgumentParser:
    from . import __version__, FORMAT_VERSION

    from .cli_eval import add_diff_options, add_parsers, help_epilog

    p = argparse.ArgumentParser(prog="phq", description="Build, inspect, compare and read phq model files. "
                                "The format's specification ships with phq: `phq spec show`.", epilog=help_epilog())
    p.add_argument("--version", action="version", version=f"phq {__version__} (reads format 1.0-{FORMAT_VERSION[0]}.{FORMAT_VERSION[1]}, NLU profiles 1-3)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("build", help="build a .phq file from TSV/JSONL/NPZ/Parquet tables, locally or on Dask")
    b.add_argument("inputs", nargs="+", metavar="[NAME=]INPUT", help="a table file (.tsv, .jsonl, .npz, .parquet); the table is named NAME, --table or the file's stem; several inputs with one NAME are shards of one table")
    b.add_argument("-o", "--output", required=True, help="the .phq file to write (atomically)")
    b.add_argument("--metadata", metavar="JSON_FILE", help="a JSON object stored as the file's metadata")
    b.add_argument("--tensor", action="append", default=[], metavar="NAME=FILE", help="add a dense tensor from .npy or a text file of numbers (repeatable)")
    b.add_argument("--quant", choices=["f32", "f16", "linear8", "linear4", "codebook4", "codebook8"], default="linear8",
                   help="weight encoding (default linear8; linear4 and codebook4/8 make a format 1.1 file)")
    b.add_argument("--scale", choices=["table", "column", "row-block"], default="column", help="scale (or codebook) granularity of linear8/linear4 (codebooks: table or column; default column)")
    b.add_argument("--block-rows", type=int, default=256, help="rows per scale group for --scale row-block (default 256)")
    b.add_argument("--layout", choices=["dense", "sparse", "auto"], default="auto", help="payload layout (default auto: the smaller)")
    b.add_argument("--sparse", choices=["plain", "compact"], default="plain",
                   help="index of sparse rows: plain (format 1.0, default) or compact (format 1.2: smaller; 1.0/1.1 readers refuse it)")
    b.add_argument("--fingerprint-bits", type=int, choices=[0, 8, 16, 32], default=16, help="false-positive rate 2^-bits for absent keys (default 16)")
    b.add_argument("--gamma", type=float, default=2.0, help="MPH level size factor, >= 0.5 (default 2.0; 1.0 is smallest)")
    b.add_argument("--seed", type=int, default=0, help="u32 hash seed (default 0)")
    b.add_argument("--partitions", type=int, default=None, help="MPH partitions (default: 1 unless huge)")
    b.add_argument("--max-levels", type=int, default=64, help="MPH levels before the fallback list (default 64)")
    b.add_argument("--drop-zero-rows", action="store_true", help="drop keys whose stored row is all zeros")
    b.add_argument("--header", action="store_true", help="TSV: skip line 1 (a header row)")
    b.add_argument("--sep", metavar="SEP", help="TSV field separator: tab (the default), space (runs of spaces and tabs), comma, semicolon, or one ASCII character")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.add_argument("--progress", action="store_true", help="draw the progress bar (on stderr) even when stderr is not a terminal (default: only on a terminal)")
    b.add_argument("--table", metavar="NAME", help="name of the table that every input without NAME= is a shard of")
    b.add_argument("--engine", choices=["local", "processes", "dask"], default="local", help="where a partitioned build runs (default local; the file is the same on every engine)")
    b.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786 (default with --engine dask: a local cluster)")
    b.add_argument("--workers", type=int, default=None, help="worker processes for --engine processes or a local Dask cluster")
    b.add_argument("--work-dir", metavar="DIR", help="spill/partition files of a partitioned build (default: next to -o; shared by all workers on a cluster)")

    i = sub.add_parser("inspect", help="header, sections, sizes, bits per key, scale tables")
    i.add_argument("file")
    i.add_argument("--json", action="store_true", help="machine-readable output")

    lk = sub.add_parser("lookup", help="look keys up and print their rows")
    lk.add_argument("file")
    lk.add_argument("keys", nargs="*", help="keys (UTF-8 text)")
    lk.add_argument("--table", help="table name (default: the only table)")
    lk.add_argument("--keys-file", help="read keys from a file, one per line")
    lk.add_argument("--raw", action="store_true", help="print stored codes instead of float32 weights")
    lk.add_argument("--json", action="store_true", help="one JSON object per key")
    lk.add_argument("--sparse", action="store_true", help="print only the non-zero values, as COLUMN:VALUE (with --raw: the codes that are not the zero code); a sparse table's rows are read in their stored form")
    lk.add_argument("--max-values", type=int, default=MAX_VALUES, metavar="N",
                    help=f"refuse (exit 2, before printing) a lookup whose rows could print more than N values each: dim, or with --sparse a sparse table's stored values per row (default {MAX_VALUES}; 0: no limit)")

    v = sub.add_parser("validate", help="check everything, checksums included (exit 0 valid, 1 invalid, 2 error)")
    v.add_argument("files", nargs="+")
    v.add_argument("--json", action="store_true")

    df = sub.add_parser("diff", help="compare two files, like h5diff (exit 0 same, 1 different, 2 error)")
    df.add_argument("a", metavar="A.phq")
    df.add_argument("b", metavar="B.phq")
    df.add_argument("--atol", default="auto", metavar="ATOL|auto", help="absolute tolerance for weights and tensor values; "
                    "default auto: one quantization step of each table, so a re-quantization of the same weights "
                    "compares equal (tensors exactly); 0: exact")
    df.add_argument("--rtol", type=float, default=0.0, help="relative tolerance, as numpy.isclose (default 0)")
    df.add_argument("--keys", metavar="FILE", help="keys (one per line) to compare rows by when two tables' MPHs differ")
    df.add_argument("--table", action="append", metavar="NAME", help="compare only this table (repeatable)")
    df.add_argument("--max-report", type=int, default=50, metavar="N", help="list at most N items per area (default 50); findings past N are counted, not built, so N bounds the work too")
    df.add_argument("--strict", action="store_true", help="encoding changes (quantization, layout, seed, version, ...) count as differences")
    add_diff_options(df)
    dout = df.add_mutually_exclusive_group()
    dout.add_argument("--json", action="store_true", help="machine-readable report (schema: phq.diff module)")
    dout.add_argument("--quiet", action="store_true", help="print nothing; only the exit code")

    pr = sub.add_parser("predict", help="classify texts with an NLU model, or parse them (intent + slots) with a joint model (phq.nlu; `phq spec show nlu-profile-v3`)")
    pr.add_argument("file")
    pr.add_argument("texts", nargs="*", help="documents to classify (a JSON object each for dict-input models)")
    pr.add_argument("--input", metavar="PATH", help="also read documents from a file, one per line ('-' for stdin)")
    pr.add_argument("--top", type=int, default=1, metavar="K", help="show the K best classes with their scores (default 1: the label only)")
    pr.add_argument("--proba", action="store_true", help="show probabilities instead of decision scores (models that define them)")
    pr.add_argument("--json", action="store_true", help="one JSON object per document")

    add_parsers(sub)  # convert, eval (phq.cli_eval)

    sp = sub.add_parser("spec", help="the specification (shipped with phq): show it, or diff two format versions (compatible / breaking)")
    spsub = sp.add_subparsers(dest="spec_command", required=True, metavar="ACTION")
    ss = spsub.add_parser("show", help="print the specification: the list of documents, a document, or one section (e.g. 7.2)")
    ss.add_argument("document", nargs="?", metavar="DOCUMENT", help="e.g. format-v1.0, format-v1.1, nlu-profile-v3 (a prefix will do); or a section number of format-v1.0")
    ss.add_argument("section", nargs="?", metavar="SECTION", help="a section number such as 7 or 7.2 (or §7.2)")
    sd = spsub.add_parser("diff", help="what changed between two format versions, each change classified (exit 0 compatible, 1 breaking)")
    sd.add_argument("old", help="older version, e.g. 1.0")
    sd.add_argument("new", help="newer version, e.g. 1.1")
    sd.add_argument("--json", action="store_true", help="machine-readable report")

    c = sub.add_parser("conformance", help="run readers against the golden files shipped with phq (`phq conformance run --help`)")
    csub = c.add_subparsers(dest="conformance_command", required=True, metavar="ACTION")
    r = csub.add_parser("run", help="run one reader over the suite")
    r.add_argument("--reader", help='the command of a reader adapter (the protocol: phq.conformance README), e.g. "./my-reader --conform"; default: the Python reference reader')
    r.add_argument("--version", default="1.0", help="format version of the suite (default 1.0), or 'nlu' for the NLU profile suite")
    r.add_argument("--expect-fail", metavar="FILE", help="file names known to fail (one per line); one that passes fails the run")
    r.add_argument("--json", metavar="PATH", help="also write a JSON report to PATH (default: none)")
    r.add_argument("--timeout", type=float, default=10.0, help="seconds per file (default 10)")
    r.add_argument("--quiet", action="store_true", help="print failures and the summary only")
    cp = csub.add_parser("compat", help="the compatibility matrix: reader versions x file versions -> read / refuse with code")
    cp.add_argument("--reader", action="append", metavar="NAME=CMD", help='a reader, e.g. v10=py@1.0 (the reference reader restricted to format 1.0), v11= (the reference reader), mine=./my-reader (an adapter command); default: the first two')
    cp.add_argument("--timeout", type=float, default=10.0)
    cp.add_argument("--out", metavar="PATH", help="also write the Markdown to a file")
    cp.add_argument("--json", metavar="PATH", help="also write the matrix as JSON")
    m = csub.add_parser("matrix", help="run several readers and print the reader x file matrix (Markdown)")
    m.add_argument("--reader", action="append", required=True, metavar="NAME=CMD", help="a reader; NAME= alone is the Python reference reader")
    m.add_argument("--version", default="1.0")
    m.add_argument("--timeout", type=float, default=10.0)
    m.add_argument("--out", metavar="PATH", help="also write the Markdown to a file")
    return p


def _progress_bar(quiet: bool, force: bool = False):
    """A progress callback(stage, done, total) drawing a tqdm bar on stderr: only when stderr
    is a terminal, or always with force (--progress); never with quiet."""
    if quiet:
        return None, lambda: None
    from tqdm import tqdm

    state: dict = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None or state.get("stage") != stage:
            if bar is not None:
                bar.close()
            in_bytes = stage == "write" or stage.startswith("read ")
            bar = state["bar"] = tqdm(total=total, desc=stage, unit="B" if in_bytes else "key", unit_scale=True, leave=False,
                                      disable=False if force else None, file=sys.stderr)
            state["stage"] = stage
        bar.update(done - bar.n)

    def close() -> None:
        if state.get("bar") is not None:
            state["bar"].close()

    return progress, close


def _cmd_build(a) -> int:
    import phq.writer as W

    shards: dict[str, list[str]] = {}  # table name -> its input files (shards)
    for spec in a.inputs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = a.table or os.path.splitext(os.path.basename(spec))[0], spec
            if name in shards and not a.table:
                raise UsageError(f"two inputs give the table name {name!r}; use NAME=PATH (a repeated NAME= or --table makes them shards of one table)")
        shards.setdefault(name, []).append(path)
    partitioned = a.engine != "local" or a.work_dir or a.scheduler or a.workers or any(len(v) > 1 for v in shards.values())
    if partitioned and a.partitions is None and a.engine != "local":
        raise UsageError(f"--engine {a.engine} needs --partitions P (the unit of parallel work; the file depends on P, not on the engine)")
    from pathlib import Path

    from phq.writer.inputs import check_unchanged, input_state, load_json, looks_space_separated, reading
    from phq.writer.serialize import check_output_path

    inputs = [p for paths in shards.values() for p in paths] + ([a.metadata] if a.metadata else [])
    inputs += [t.partition("=")[2] for t in a.tensor]
    if os.path.exists(a.output):
        for path in inputs:
            if path and os.path.exists(path) and os.path.samefile(path, a.output):
                raise UsageError(f"-o {a.output} is an input of this build ({path}); writing it would destroy the input: choose another output file")
    check_output_path(Path(a.output))
    tsv = dict(header=a.header, sep=a.sep or "\t")
    if (a.header or a.sep) and partitioned:
        raise UsageError("--header and --sep apply to a local build of one file per table (not to shards or --engine)")
    if not a.sep and not partitioned:
        for paths in shards.values():
            path = paths[0]
            if os.path.splitext(path)[1].lower() in (".tsv", ".txt") and looks_space_separated(path):
                raise UsageError(f"{path}:1: no tab, but the line reads as a key and weights separated by spaces, commas or "
                                 "semicolons; TSV separates fields with tabs. Use --sep space (or comma, semicolon, CHAR) to "
                                 "read it that way, or --sep tab to store each line as a key without weights")

    # spec §13.8: every input file's size, times and SHA-256 are recorded before it is read,
    # its stat checked after, and all of them again just before the output replaces -o
    states = []

    def read_once(path, read):
        state = input_state(path)
        states.append(state)
        return reading(state, lambda: read(path))

    def check_inputs() -> None:
        for state in states:
            check_unchanged(state)

    progress, close = _progress_bar(a.quiet, a.progress)

    def read_table(path):
        report = None if progress is None else (lambda done, total: progress(f"read {os.path.basename(path)}", done, total))
        return W.read_table_file(path, progress=report, float32=True, **tsv)

    try:
        tables = {} if partitioned else {name: read_once(paths[0], read_table) for name, paths in shards.items()}
    except BaseException:
        close()
        raise
    metadata = None
    if a.metadata:
        with open(a.metadata, "rb") as f:
            metadata = read_once(a.metadata, lambda p: load_json(p, f.read()))
    tensors = {}
    for spec in a.tensor:
        name, sep, path = spec.partition("=")
        if not sep:
            raise UsageError(f"--tensor expects NAME=FILE (.npy, or text of numbers), got {spec!r}")
        try:
            if path.endswith(".npy"):
                tensors[name] = read_once(path, lambda p: np.load(p, allow_pickle=False))
            else:
                tensors[name] = read_once(path, lambda p: np.loadtxt(p, dtype=np.float32, ndmin=1))
        except ValueError as e:
            close()
            raise UsageError(f"--tensor {path}: {e}") from None
    options = dict(
        tensors=tensors, metadata=metadata, gamma=a.gamma, seed=a.seed, fingerprint_bits=a.fingerprint_bits,
        quant=a.quant, scale=a.scale, block_rows=a.block_rows, layout=a.layout, drop_zero_rows=a.drop_zero_rows,
        max_levels=a.max_levels, progress=progress, before_replace=check_inputs,
    )
    report: dict = {}
    try:
        if partitioned:  # shards read by the workers themselves (writer/partitioned.py, spec §13.7)
            if a.sparse != "plain":
                raise UsageError("--sparse compact (format 1.2) is not supported by partitioned builds (--engine, --table shards)")
            size = W.build_partitioned(
                shards, a.output, partitions=1 if a.partitions is None else a.partitions, engine=a.engine, scheduler=a.scheduler,
                workers=a.workers, work_dir=a.work_dir, report=report, **options,
            )
        else:
            size = W.write(a.output, tables, partitions=a.partitions, sparse=a.sparse, **options)
    finally:
        close()
    keys = sum(report["keys"].values()) if partitioned else sum(len(k) for k, _ in tables.values())
    print(f"wrote {a.output}: {size} bytes, {len(shards)} table(s), {keys} keys")
    stale = W.stale_temp_files(a.output)
    if stale:
        print(f"note: {len(stale)} temporary file(s) of an interrupted earlier write remain "
              f"(safe to delete when no other build of {a.output} runs): {', '.join(map(str, stale))}", file=sys.stderr)
    return EXIT_OK


def _cmd_inspect(a) -> int:
    from . import open as phq_open
    from .inspect import describe

    with phq_open(a.file) as m:
        d = describe(m)
    if a.json:
        print(json_text(d, indent=2))
        return EXIT_OK
    out = _safe_print  # names, kinds and member names come from the file
    out(f"{d['path']}: phq {d['format_version']}, {d['file_size']} bytes, {len(d['sections'])} sections")
    out(f"{'#':>3} {'kind':<15} {'owner':>5} {'offset':>12} {'size':>12}  crc32c")
    for s in d["sections"]:
        owner = "" if s["owner"] is None else s["owner"]
        anc = " (ancillary, skipped)" if s["index"] in d["skipped_sections"] else ""
        out(f"{s['index']:>3} {s['kind']:<15} {owner!s:>5} {s['offset']:>12} {s['size']:>12}  {s['crc32c']}{anc}")
    for name, t in d["tables"].items():
        stored = f" ({t['nnz']} stored values, density {t['density']:.3f})" if t["layout"] in ("sparse", "compact") else ""
        groups = "codebooks" if "codebook" in t else "scales"
        out(f"table {name!r}: {t['num_keys']} keys x dim {t['dim']}, {t['quant']} ({t['scale_granularity']} {groups}), "
            f"{t['layout']} rows{stored}, fingerprints {t['fingerprint_bits']} bits")
        out(f"  MPH: gamma {t['gamma']}, seed {t['seed']}, {t['num_partitions']} partition(s), {t['num_levels']} levels, "
            f"{t['fallback_keys']} fallback keys, {t['mph_bits_per_key']:.3f} bits/key; table {t['bytes_per_key']:.2f} bytes/key")
        if "scale_table" in t:
            s = t["scale_table"]
            out(f"  scales: {s['groups']} groups, scale {s['scale_min']:.4g}..{s['scale_max']:.4g}, zero point {s['zero_point_min']}..{s['zero_point_max']}")
        if "codebook" in t:
            c = t["codebook"]
            out(f"  codebooks: {c['groups']} x {c['levels_per_group']} levels, {c['level_min']:.4g}..{c['level_max']:.4g}")
    for name, t in d["tensors"].items():
        out(f"tensor {name!r}: {t['dtype']} {t['shape']}")
    if d["metadata"]:
        names = sorted(d["metadata"])
        more = f", ... {len(names) - METADATA_NAMES_SHOWN:,} more (inspect --json lists them)" if len(names) > METADATA_NAMES_SHOWN else ""
        out(f"metadata: {', '.join(names[:METADATA_NAMES_SHOWN])}{more}")
    if "nlu" in d:
        _print_nlu(d["nlu"], out)
    return EXIT_OK


def _print_nlu(n: dict, out) -> None:
    """The NLU summary of `phq inspect` (phq.inspect.describe_nlu)."""
    def short(items, k=8):
        items = [str(x) for x in items]
        return ", ".join(items[:k]) + (f", ... ({len(items) - k} more)" if len(items) > k else "")

    out(f"NLU model (profile {n['profile']}):")
    c, t = n.get("classifier"), n.get("tagger")
    if c:
        src = c.get("source") or {}
        pipeline = f" ({src.get('pipeline')}, {src.get('library')} {src.get('version')})" if isinstance(src, dict) and src.get("pipeline") else ""
        out(f"  intent classifier: {c['estimator']}{pipeline}, {c['classes']} classes: {short(c['class_names'])}")
        out(f"    input {c['input']}, probabilities: {c['proba'] or 'none'}")
        for f in c["featurizers"]:
            extra = " ".join(f"{k}={v}" for k, v in f.items() if k not in ("name", "kind") and v not in (None, False))
            out(f"    featurizer {f.get('name')!r} ({f.get('kind')}): {extra}")
        out(f"    {c['bytes']:,} bytes: " + ", ".join(f"{k} {v:,}" for k, v in c["parts"].items()))
    if t:
        out(f"  slot tagger: {t['estimator']} ({t['scheme']}, tokenizer {t['tokenizer']}, {t['templates']} feature templates), "
            f"{t['labels']} labels, {len(t['slots'])} slots: {short(t['slots'], 12)}")
        out(f"    {t['bytes']:,} bytes: " + ", ".join(f"{k} {v:,}" for k, v in t["parts"].items()))


def _safe_print(*parts, **kw) -> None:
    print(*(safe_text(p) for p in parts), **kw)


def _cmd_lookup(a) -> int:
    """Stream the rows of the keys: slots first (8 bytes a key), then one row at a time, so
    memory is one row whatever the number of keys, and an absent key costs no row. The
    output per row is bounded by --max-values, checked before anything is printed."""
    from . import open as phq_open

    if a.max_values < 0:
        raise UsageError("--max-values must be >= 0 (0: no limit)")
    if not a.keys and not a.keys_file:
        raise UsageError("nothing to look up: give keys (phq lookup FILE KEY...) or --keys-file FILE")
    # a key is bytes: an argument that is not UTF-8 is looked up by its own bytes
    keys = [k.encode("utf-8", "surrogateescape") for k in a.keys]
    if a.keys_file:
        with open(a.keys_file, "rb") as f:
            keys += [line.rstrip(b"\r\n") for line in f]
    with phq_open(a.file) as m:
        if a.table is None:
            if len(m.tables) != 1:
                raise UsageError(f"the file has tables {list(m.tables)}; choose one with --table")
            table = next(iter(m.tables.values()))
        elif a.table in m.tables:
            table = m.tables[a.table]
        else:
            raise UsageError(f"no table {a.table!r}; the file has {list(m.tables)}")
        slots = np.concatenate([table.slots(keys[i : i + _KEY_BATCH]) for i in range(0, len(keys), _KEY_BATCH)] or [np.zeros(0, np.int64)])
        _check_output_bound(table, slots[slots >= 0], a)
        out = sys.stdout
        for key, slot in zip(keys, slots.tolist()):
            text = key.decode("utf-8", "backslashreplace") if isinstance(key, bytes) else key
            head = json.dumps(text, ensure_ascii=False)
            if slot < 0:
                if a.json:
                    out.write(f'{{"key": {head}, "found": false, ' + ('"dim": %d, "columns": null, "values": null}\n' % table.dim if a.sparse else '"row": null}\n'))
                else:
                    out.write(f"{text}\t(absent)\n")
                continue
            if a.sparse:
                cols, values = _nonzero_of(table, slot, a.raw)
                if a.json:
                    out.write(f'{{"key": {head}, "found": true, "dim": {table.dim}, "columns": ')
                    _write_list(out, cols, ", ", lambda c: json.dumps(c)[1:-1], "[", "]")
                    out.write(', "values": ')
                    _write_list(out, values, ", ", lambda c: json.dumps(c)[1:-1], "[", "]")
                    out.write("}\n")
                else:
                    out.write(f"{text}\t")
                    _write_list(out, list(zip(cols, values)), " ", lambda c: " ".join(f"{i}:{v:g}" for i, v in c), "", "")
                    out.write("\n")
                continue
            row = table.raw_at(slot) if a.raw else table.row_at(slot)
            if a.json:
                out.write(f'{{"key": {head}, "found": true, "row": ')
                _write_list(out, row, ", ", lambda c: json.dumps(c.tolist())[1:-1], "[", "]")
                out.write("}\n")
            else:
                out.write(f"{text}\t")
                _write_list(out, row, " ", lambda c: " ".join(f"{v:g}" for v in c.tolist()), "", "")
                out.write("\n")
    return EXIT_OK


def _write_list(out, items, sep: str, fmt, open_: str, close: str) -> None:
    """Write items formatted _PRINT_CHUNK at a time (no string of the whole row)."""
    out.write(open_)
    for lo in range(0, len(items), _PRINT_CHUNK):
        if lo:
            out.write(sep)
        out.write(fmt(items[lo : lo + _PRINT_CHUNK]))
    out.write(close)


def _nonzero_of(table, slot: int, raw: bool) -> tuple[list, list]:
    """Columns and values of a row that differ from an absent column's (0.0, or with raw the
    zero code); a sparse table's row is read in its stored form."""
    from . import rows as R

    if table.layout in ("sparse", "compact"):
        row, cols, values = R.stored_entries(table, [slot], raw=raw)
        keep = values != (R.zero_codes(table, [slot], row, cols) if raw else 0)
        return cols[keep].tolist(), values[keep].tolist()
    values = table.raw_at(slot) if raw else table.row_at(slot)
    zero = R.zero_codes(table, [slot], np.zeros(table.dim, np.intp), np.arange(table.dim)) if raw else 0
    cols = np.flatnonzero(values != zero)
    return cols.tolist(), values[cols].tolist()


def _check_output_bound(table, found: np.ndarray, a) -> None:
    """--max-values: the most values one row of this lookup may print (dim; with --sparse,
    a sparse table's stored values of the row) must not pass the limit."""
    if not a.max_values or not found.size:
        return
    if a.sparse and table.layout in ("sparse", "compact"):
        from .rows import row_lengths

        widest = int(row_lengths(table, found).max())
        what = f"a row stores {widest} values"
    else:
        widest = table.dim
        what = f"table {table.name!r} has dim {widest}: a row prints {widest} values"
    if widest > a.max_values:
        hint = "raise --max-values (0: no limit)" if a.sparse else "print non-zero values only with --sparse, or raise --max-values (0: no limit)"
        raise UsageError(f"{what}, more than --max-values {a.max_values}; {hint}")


def _cmd_predict(a) -> int:
    from . import nlu

    if not a.texts and not a.input:
        raise UsageError("nothing to predict: give texts (phq predict FILE TEXT...) or --input FILE ('-' for stdin)")
    docs = []
    for i, text in enumerate(a.texts, 1):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"text argument {i} is not UTF-8") from None
        docs.append(text)
    if a.input:
        docs += _read_lines(a.input)
    if a.top < 1:
        raise UsageError("--top must be at least 1")
    with nlu.load(a.file) as clf:
        if isinstance(clf, nlu.Parser):  # profile 3: intent + slots (spec/nlu-profile-v3.md §7.2)
            return _print_parses(clf, docs, a)
        if clf.input == "dict":
            try:
                docs = [json.loads(d) for d in docs]
            except json.JSONDecodeError as e:
                raise UsageError(f"this model scores feature dicts: pass each document as a JSON object ({e})") from None
        if a.proba:
            if clf.proba is None:
                raise UsageError(f"the model ({clf.profile.get('estimator')}) defines no probabilities; drop --proba")
            scores = clf.predict_proba(docs)
        else:
            scores = clf.decision_function(docs)
            if scores.ndim == 1:  # two classes: the score is for classes_[1]
                scores = np.stack([-scores, scores], axis=1)
        labels = clf.predict(docs)
        for doc, label, row in zip(docs, labels, scores):
            best = np.argsort(-row, kind="stable")[: a.top]
            text = doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False)
            if a.json:
                top = [{"label": clf.classes_[j].item(), ("probability" if a.proba else "score"): float(row[j])} for j in best]
                print(json_text({"text": text, "label": label.item(), "top": top}))
            elif a.top == 1:
                print(f"{safe_text(label)}\t{safe_text(text)}")
            else:
                shown = "  ".join(f"{safe_text(clf.classes_[j])}={row[j]:.4g}" for j in best)
                print(f"{safe_text(label)}\t{safe_text(text)}\t{shown}")
    return EXIT_OK


def _read_lines(path: str) -> list[str]:
    """The lines of a UTF-8 text file ('-': stdin) without their line endings; a line that
    is not UTF-8 is a usage error naming FILE:LINE."""
    name = "<stdin>" if path == "-" else path
    f = sys.stdin.buffer if path == "-" else open(path, "rb")
    try:
        out = []
        for number, line in enumerate(f, 1):
            try:
                out.append(line.decode("utf-8").rstrip("\r\n"))
            except UnicodeDecodeError as e:
                raise UsageError(f"{name}:{number}: not UTF-8 text (byte {e.start + 1} of the line: {e.reason}); "
                                 "phq predict reads UTF-8") from None
        return out
    finally:
        if f is not sys.stdin.buffer:
            f.close()


def _print_parses(parser, docs: list, a) -> int:
    if a.top != 1 or a.proba:
        raise UsageError("--top and --proba apply to classifiers; a joint model prints its parse (intent, score, slots)")
    for doc, res in zip(docs, parser.parse(docs)):
        if a.json:
            print(json.dumps({"text": doc, **res}, ensure_ascii=False))
        else:
            intent = res["intent"]["name"] if res["intent"] is not None else "-"
            slots = " ".join(f"{s['slot']}={s['value']}" for s in res["slots"])
            print(f"{intent}\t{doc}\t{slots}")
    return EXIT_OK


def _cmd_validate(a) -> int:
    from .validate import validate

    worst = EXIT_OK  # every file is checked; the status is the worst (2 error > 1 invalid > 0 valid)
    for path in a.files:
        try:
            validate(path).close()
            result = {"file": path, "valid": True}
            msg = f"{path}: valid"
        except FormatError as e:
            result = {"file": path, "valid": False, "code": e.code, "message": e.message, "offset": e.offset}
            msg = f"{path}: invalid: {e}"
            worst = max(worst, EXIT_INVALID)
        except (UsageError, OSError) as e:  # missing, unreadable, a directory, ...
            text = _os_message(e) if isinstance(e, OSError) else str(e)
            result = {"file": path, "valid": None, "error": text}
            msg = f"{path}: error: {text}"
            worst = EXIT_USAGE
        print(json_text(result) if a.json else safe_text(msg))
    return worst


def _cmd_diff(a) -> int:
    from .diff import diff, read_keys

    if a.texts:  # NLU models: predictions on texts, not rows (phq.cli_eval)
        from .cli_eval import cmd_diff_texts

        return cmd_diff_texts(a)

    try:
        keys = read_keys(a.keys) if a.keys else None
        atol = a.atol if a.atol == "auto" else _number("--atol", a.atol)
        report = diff(a.a, a.b, atol=atol, rtol=a.rtol, keys=keys, tables=a.table, strict=a.strict, max_report=a.max_report)
    except FormatError as e:  # like h5diff, an unreadable file is an error (2), not a difference
        print(safe_text(f"phq diff: error: invalid file: {e}"), file=sys.stderr)
        return EXIT_USAGE
    if a.json:
        print(report.to_json())
    elif not a.quiet:
        print(safe_text(report.text(), keep_newlines=True))
    return EXIT_OK if report.same else EXIT_INVALID


def _number(option: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{option} must be a number or auto, got {text!r}") from None


def _cmd_spec(a) -> int:
    from . import specdiff

    if a.spec_command == "show":
        from . import specdoc

        sys.stdout.write(specdoc.show(a.document, a.section))
        return EXIT_OK
    rep = specdiff.report(specdiff.parse_version(a.old), specdiff.parse_version(a.new))
    print(specdiff.to_json(rep) if a.json else specdiff.text(rep), end="\n" if a.json else "")
    return EXIT_OK if rep["compatible"] else EXIT_INVALID


def _readers(specs: list[str]) -> dict:
    from phq.conformance import runner

    readers = {}
    for spec in specs:
        name, sep, cmd = spec.partition("=")
        if not sep or not name:
            raise UsageError(f"--reader expects NAME=CMD, got {spec!r}")
        readers[name] = runner.parse_reader(cmd)
    return readers


def _cmd_conformance(a) -> int:
    from phq.conformance import runner

    if a.conformance_command == "compat":
        readers = _readers(a.reader or ["py@1.0=py@1.0", "py@1.1=py@1.1", "py=py"])
        text, data = runner.compat(readers, a.timeout)
        print(text, end="")
        if a.out:
            with open(a.out, "w") as f:
                f.write(text)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(data, f, indent=1)
        # a cell that is neither a clean read nor a clean refusal means some reader misreads
        mixed = any(cell.startswith("MIXED") for row in data.values() for cell in row.values())
        return EXIT_INVALID if mixed else EXIT_OK
    if a.conformance_command == "matrix":
        readers = {}
        for spec in a.reader:
            name, sep, cmd = spec.partition("=")
            if not sep or not name:
                raise UsageError(f"--reader expects NAME=CMD, got {spec!r}")
            readers[name] = runner.parse_reader(cmd)
        text, ok = runner.matrix(readers, a.version, a.timeout)
        print(text, end="")
        if a.out:
            with open(a.out, "w") as f:
                f.write(text)
        return EXIT_OK if ok else EXIT_INVALID

    if a.version == "nlu":  # the NLU profile suite (conformance/nlu/): models, texts, answers
        from phq.conformance import nlu as nlu_suite

        reader = nlu_suite.reference_reader if not a.reader or a.reader == "py" else runner.parse_reader(a.reader)
    else:
        reader = runner.parse_reader(a.reader)

    def show(r) -> None:
        if a.quiet and r.status in ("PASS", "XFAIL"):
            return
        detail = f"  expected {r.expect}, got {r.outcome}" + (f": {r.detail}" if r.detail and r.detail != r.outcome else "") if r.status != "PASS" else ""
        print(f"{r.status:5} {r.file}{detail}")

    if a.version == "nlu":
        results = nlu_suite.run(reader, max(a.timeout, 60.0), progress=show)
    else:
        results = runner.run(reader, a.version, runner.read_expect_fail(a.expect_fail), a.timeout, progress=show)
    if a.json:
        runner.write_report(results, a.json, a.reader or "python reference reader", a.version)
    print(runner.summary(results))
    return EXIT_OK if runner.succeeded(results) else EXIT_INVALID


def _subparsers(parser: argparse.ArgumentParser):
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse like argparse, with options and positionals intermixed in every subcommand
    (`phq lookup m.phq --json w=play`): argparse's intermixed parsing does not support
    subparsers, so the command words are walked here and the leaf parser parses the rest."""
    ns = argparse.Namespace()
    while True:
        sub = _subparsers(parser)
        if sub is None:
            return parser.parse_intermixed_args(argv, ns)
        # the words before the command: only this level's own options (-h, --version) are valid there
        i = next((j for j, w in enumerate(argv) if not w.startswith("-")), None)
        if i is None or i > 0 or argv[0] not in sub.choices:
            return parser.parse_args(argv, ns)  # help, version, or argparse's own error message
        setattr(ns, sub.dest, argv[0])
        parser, argv = sub.choices[argv[0]], argv[1:]


def _quiet_broken_pipe() -> int:
    """stdout's reader went away (`phq ... | head`): point stdout at /dev/null so the
    interpreter's final flush cannot complain, and exit as a tool killed by SIGPIPE."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a file descriptor (captured in tests)
        pass
    return EXIT_PIPE


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        a = _parse(parser, argv)
    except SystemExit as e:  # argparse already printed its message (or the help / version)
        return EXIT_USAGE if e.code else EXIT_OK
    from .cli_eval import cmd_convert, cmd_eval

    commands = {"build": _cmd_build, "inspect": _cmd_inspect, "lookup": _cmd_lookup, "validate": _cmd_validate, "predict": _cmd_predict,
                "convert": cmd_convert, "eval": cmd_eval, "diff": _cmd_diff, "spec": _cmd_spec, "conformance": _cmd_conformance}
    try:
        code = commands[a.command](a)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except (FormatError, ProfileError) as e:
        print(safe_text(f"phq {a.command}: invalid file: {e}"), file=sys.stderr)
        return EXIT_INVALID
    except (UsageError, OSError) as e:
        print(safe_text(f"phq {a.command}: error: {_os_message(e) if isinstance(e, OSError) else e}"), file=sys.stderr)
        return EXIT_USAGE
    except PhqError as e:  # pragma: no cover - every PhqError is one of the two above
        print(safe_text(f"phq {a.command}: {e}"), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except MemoryError:
        print(f"phq {a.command}: error: not enough memory", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # a bug: one line, not a traceback (PHQ_DEBUG=1 shows it)
        if os.environ.get("PHQ_DEBUG", "") not in ("", "0"):
            raise
        print(safe_text(f"phq {a.command}: internal error: {type(e).__name__}: {e} (a bug in phq; "
                        "PHQ_DEBUG=1 shows the traceback; please report it)"), file=sys.stderr)
        return EXIT_INTERNAL


def _os_message(e: OSError) -> str:
    """An OSError as `PATH: reason` (not Python's `[Errno 2] ... 'PATH'`)."""
    if e.filename is not None and e.strerror:
        return f"{os.fsdecode(e.filename)}: {e.strerror}"
    return str(e)
