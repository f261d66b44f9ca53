"""Convert Vowpal Wabbit linear models to phq files of the NLU profile (spec/vw.md).

    phq.writer.from_vw("model.inv", "intent.phq")                    # --invert_hash output
    phq.writer.from_vw("model.inv", "intent.phq", workspace=vw)      # exact float32 weights

VW writes `--invert_hash FILE` as a header (version, `Min label`/`Max label`, `bits`,
`lda`, ngram and skip settings, `options:` the saved command-line options) followed by one
line per weight: `[namespace^]feature[[class]]:index:weight[ adaptive-state...]`, the
constant feature being `Constant` (class suffix `[c]` for c > 0 with `--oaa`). The weights
are printed with 6 significant digits; given the pyvw `workspace` that holds the model
(the one that trained it, or `pyvw.Workspace("-i model.vw")`), the converter reads each
weight exactly by its index instead.

The phq model scores plain text as VW scores the features of one namespace: tokens split
on whitespace (profile tokenizer "nonspace_runs", no lowercasing), each occurrence adding
its weight; the score table's keys are the feature names without the namespace, the
constant goes to the intercept. Anything else (several namespaces, interactions, n-grams,
skips, LDA, reductions other than --oaa) is refused by name.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

from phq.errors import UsageError
from phq.nlu import PROFILE_KEY, PROFILE_VERSION, UNICODE_VERSION

from .build import Table

SCORE_TABLE = "features"
INTERCEPT = "intercept"
CONSTANT = "Constant"
CONSTANT_HASH = 11650396  # VW's constant feature hash (constant.h `constant`)
MAX_CLASSES = 65536

# the options VW saves in the model that keep it one linear map of the namespace's tokens
_FLAG_OPTIONS = {"--binary", "--noconstant"}
_VALUE_OPTIONS = {"--oaa", "--link", "--hash"}
_LINE = re.compile(r"^(?P<name>.*):(?P<index>\d+):(?P<weight>[^ :]+)(?: .*)?$")

FEATURIZER = {
    "kind": "text",
    "analyzer": "word",
    "ngram_range": [1, 1],
    "lowercase": False,
    "strip_accents": None,
    "binary": False,
    "sublinear_tf": False,
    "decode_error": "strict",
    "tokenizer": "nonspace_runs",
    "stop_words": None,
}


def _options(line: str) -> dict:
    tokens = line.split()
    out: dict = {}
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t in _FLAG_OPTIONS:
            out[t] = True
            i += 1
        elif t in _VALUE_OPTIONS and i + 1 < len(tokens):
            out[t] = tokens[i + 1]
            i += 2
        else:
            rest = " ".join(tokens[i:i + 2])
            raise UsageError(
                f"VW option {rest!r} is not supported (phq converts linear VW models: --oaa K or binary, "
                "--link identity/logistic, --binary, --noconstant, --hash; interactions, n-grams and other "
                "reductions make features phq's text featurizer does not produce)"
            )
    return out


def parse_invert_hash(text: str) -> dict:
    """The header settings and the weight lines (name, index, weight) of an --invert_hash file."""
    lines = text.splitlines()
    head: dict = {}
    rows = []
    body = False
    for line in lines:
        if not body:
            if line.startswith("Version "):
                head["version"] = line.split(" ", 1)[1].strip()
            elif line.startswith("Min label:"):
                head["min_label"] = float(line.split(":", 1)[1])
            elif line.startswith("Max label:"):
                head["max_label"] = float(line.split(":", 1)[1])
            elif line.startswith("bits:"):
                head["bits"] = int(line.split(":", 1)[1])
            elif line.startswith("lda:"):
                head["lda"] = int(line.split(":", 1)[1])
            elif re.match(r"^\d+ (ngram|skip):", line):
                n, rest = line.split(" ", 1)
                kind, value = rest.split(":", 1)
                head[kind] = value.strip()
            elif line.startswith("options:"):
                head["options"] = line.split(":", 1)[1].strip()
            elif line.startswith("Checksum:"):
                body = True
            continue
        m = _LINE.match(line)
        if m:
            try:
                w = float(m["weight"])
            except ValueError:
                raise UsageError(f"VW weight line {line!r}: {m['weight']!r} is not a number") from None
            rows.append((m["name"], int(m["index"]), w))
    for key in ("version", "bits", "options"):
        if key not in head:
            raise UsageError(f"not a VW --invert_hash file: no {key!r} in its header (a --readable_model file has no feature names: use --invert_hash)")
    return {"head": head, "rows": rows}


def convert_vw(invert_hash, *, workspace=None, texts: list | None = None, classes: list | None = None, proba: str | None = "auto") -> tuple[dict, dict, dict]:
    """(tables, tensors, metadata) for phq.writer.write from an --invert_hash file (path or text).

    `texts` (needs `workspace`): documents whose whitespace tokens are looked up in the
    workspace by VW's own hash, so tokens whose names --invert_hash lost (it keeps one name
    per weight slot: tokens that collided, all-digit spellings of one number) get their
    weights too; pass the training texts."""
    text = invert_hash
    if isinstance(invert_hash, (str, os.PathLike)) and (not isinstance(invert_hash, str) or "\n" not in invert_hash):
        try:
            with open(invert_hash, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"cannot read the VW --invert_hash file {os.fspath(invert_hash)!r}: {e}") from None
    parsed = parse_invert_hash(text)
    head, rows = parsed["head"], parsed["rows"]
    if head.get("lda", 0) != 0:
        raise UsageError(f"VW --lda {head['lda']} is not a linear model of its features")
    for kind in ("ngram", "skip"):
        if head.get(kind):
            raise UsageError(f"VW --{kind} {head[kind]} is not supported (VW makes those features at parse time; phq's VW featurizer takes single tokens)")
    opts = _options(head["options"])
    bits = head["bits"]
    if not 1 <= bits <= 32:
        raise UsageError(f"VW bits:{bits} is out of range")
    link = opts.get("--link", "identity")
    if link not in ("identity", "logistic"):
        raise UsageError(f"VW --link {link} is not supported (only identity and logistic)")
    K = 2
    if "--oaa" in opts:
        try:
            K = int(opts["--oaa"])
        except ValueError:
            raise UsageError(f"VW --oaa {opts['--oaa']!r} is not a class count") from None
        if not 2 <= K <= MAX_CLASSES:
            raise UsageError(f"VW --oaa {K}: the profile holds 2..{MAX_CLASSES} classes")
    oaa = "--oaa" in opts
    cols = K if oaa else 1
    wpp = 1 << (cols - 1).bit_length() if oaa else 1  # VW's weights per problem: the next power of two

    # exact weights from the live model when given
    def weight(index: int, printed: float) -> float:
        if workspace is None:
            return printed
        exact = float(workspace.get_weight(index))
        if not math.isclose(exact, printed, rel_tol=1e-5, abs_tol=1e-6):
            raise UsageError(f"the VW workspace holds {exact!r} at index {index} where the --invert_hash file says {printed!r}: not the same model")
        return exact

    mask = (1 << bits) - 1
    table: dict[str, np.ndarray] = {}
    intercept = np.zeros(cols, np.float64)
    namespaces: set = set()
    for name, index, printed in rows:
        c = 0
        if oaa:
            m = re.match(r"^(.*)\[(\d+)\]$", name)
            if m and 0 < int(m[2]) < K:
                name, c = m[1], int(m[2])
        w = weight(index, printed)
        if not math.isfinite(w):
            raise UsageError(f"VW weight of {name!r} is {w!r}")
        if name == CONSTANT and index == ((CONSTANT_HASH * wpp + c) & mask):
            intercept[c] += w
            continue
        ns, sep, feature = name.rpartition("^") if "^" in name else ("", "", name)
        namespaces.add(ns if sep else None)
        if "*" in name or ":" in feature or feature == "" or any(ch.isspace() for ch in feature):
            raise UsageError(f"VW feature {name!r} is not a single whitespace-free token of one namespace")
        row = table.setdefault(feature, np.zeros(cols, np.float64))
        if row[c] != 0.0 and row[c] != w:
            raise UsageError(f"VW feature {name!r} (class {c}) is listed twice with different weights")
        row[c] = w
    if len(namespaces) > 1:
        shown = ", ".join(sorted("(default)" if n is None else repr(n) for n in namespaces))
        raise UsageError(f"the VW model has features in several namespaces ({shown}); phq scores the tokens of one namespace")
    namespace = next(iter(namespaces), None)
    if texts is not None:
        if workspace is None:
            raise UsageError("texts= needs the workspace: phq reads the weights of their tokens from it by VW's hash")
        from phq.featurize import make_featurizer

        tokens_of = make_featurizer({"name": "text", "key_prefix": "", **FEATURIZER, "norm": None, "norm_table": None, "weight": 1.0}).features
        ns_hash = workspace.hash_space(namespace if namespace is not None else " ")
        for doc in texts:
            if not isinstance(doc, str):
                raise UsageError(f"texts must be strings, got {type(doc).__name__}")
            for token in tokens_of(doc):  # the runtime's own tokens (spec/vw.md §3)
                if token in table or ":" in token or "|" in token:
                    continue
                base = int(workspace.hash_feature(token, ns_hash)) * wpp
                row = np.array([float(workspace.get_weight((base + c) & mask)) for c in range(cols)], np.float64)
                if row.any():
                    table[token] = row

    if oaa and K == 2:  # the profile has one output column for two classes: score1 - score0
        keys = list(table)
        matrix = np.array([table[t][1] - table[t][0] for t in keys], np.float64).reshape(-1, 1)
        intercept = np.array([intercept[1] - intercept[0]])
    else:
        keys = list(table)
        matrix = np.array([table[t] for t in keys], np.float64).reshape(-1, cols)

    if classes is None:
        labels = list(range(1, K + 1)) if oaa else [-1, 1]
        ctype = "int"
    else:
        labels = list(classes)
        if len(labels) != K:
            raise UsageError(f"classes has {len(labels)} labels; the VW model has {K} classes ({'--oaa ' + str(K) if oaa else 'binary: negative, positive'})")
        from .sklearn_convert import _classes_meta

        labels, ctype = _classes_meta(labels)

    if proba == "auto":
        proba = "logistic" if link == "logistic" and not oaa else None
    if proba not in (None, "logistic"):
        raise UsageError(f"proba={proba!r}: VW's probabilities follow the logistic link (proba='logistic') or none (None)")
    if proba is not None and oaa and K == 2:
        raise UsageError("proba='logistic' with --oaa 2 is not supported: VW normalizes the two classes' logistic values, which is no function of their difference, the profile's single output")
    if proba is not None and oaa and link == "logistic":
        raise UsageError("--oaa with --link logistic: VW applies the link to each class score before normalizing; pass proba=None")

    profile = {
        "profile": PROFILE_VERSION,
        "unicode": UNICODE_VERSION,
        "input": "text",
        "classes": labels,
        "classes_type": ctype,
        "estimator": f"VowpalWabbit({head['options']})".replace("()", ""),
        "table": SCORE_TABLE,
        "intercept": INTERCEPT,
        "proba": proba,
        "featurizers": [{"name": "text", "key_prefix": "", **FEATURIZER, "norm": None, "norm_table": None, "weight": 1.0}],
        "source": {
            "library": "vowpalwabbit",
            "version": head["version"],
            "pipeline": head["options"],
            "namespace": namespace,
            "bits": bits,
            "label_range": [head.get("min_label"), head.get("max_label")],
            "weights": "exact (workspace)" if workspace is not None else "--invert_hash text (6 significant digits)",
        },
    }
    tables = {SCORE_TABLE: Table(keys, matrix, drop_zero_rows=True)}
    return tables, {INTERCEPT: intercept}, {PROFILE_KEY: profile}


def from_vw(invert_hash, path: str | os.PathLike, *, workspace=None, texts: list | None = None, classes: list | None = None, proba: str | None = "auto", metadata: dict | None = None, **options) -> int:
    """Write a Vowpal Wabbit linear model (its --invert_hash file) as a phq NLU file; returns its size.

    `workspace`: the pyvw Workspace holding the model, to read exact weights (else the
    file's 6-digit weights). `texts` (with `workspace`): documents whose tokens are added
    by VW's hash, recovering names --invert_hash lost to collisions. `classes`: labels for VW's classes 1..K (--oaa) or for
    (negative, positive); default 1..K or (-1, 1). `proba`: "auto" (logistic when the model
    was trained with --link logistic), "logistic" (e.g. --oaa trained with
    --loss_function logistic --probabilities, which VW does not save in the file) or None.
    `options` are phq.writer.write options (quant, scale, fingerprint_bits, ...).
    """
    from . import write

    if metadata is not None and (not isinstance(metadata, dict) or PROFILE_KEY in metadata):
        raise UsageError(f"metadata must be a dict without the key {PROFILE_KEY!r}")
    if "drop_zero_rows" in options:
        raise UsageError("drop_zero_rows is decided by the converter (score rows: dropped)")
    tables, tensors, meta = convert_vw(invert_hash, workspace=workspace, texts=texts, classes=classes, proba=proba)
    try:
        return write(path, tables, tensors=tensors, metadata={**(metadata or {}), **meta}, **options)
    except TypeError as e:
        raise UsageError(f"from_vw: {e}") from None
