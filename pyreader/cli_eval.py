"""`phq convert`, `phq eval` and `phq diff --texts`: the CLI commands of model fidelity
(argparse wiring in phq.cli; data files and metrics in phq.evaluate; the conversion report
in phq.writer.fidelity).

Exit codes (as every phq command: README "Command line"):
  convert  0 written; 1 refused by --min-agreement (the report is printed, nothing is
           written); 2 error (bad arguments, a model the converter refuses, unreadable input)
  eval     0 evaluated; 1 invalid model file (FormatError / ProfileError); 2 error
  diff --texts  0 every text gets the same label from both models; 1 some label changes;
           2 error (an invalid file included)
"""

from __future__ import annotations

import os
import sys

from .errors import UsageError
from .output import json_text, safe_text

EXIT_OK, EXIT_DIFFERENT, EXIT_USAGE = 0, 1, 2

TRUST = ("A joblib file is a pickle: loading it runs code from the file. Only convert (or use as "
         "--reference) files you trust.")


def add_parsers(sub) -> None:
    """The convert and eval subcommands (phq.cli adds them to its parser)."""
    cv = sub.add_parser(
        "convert", help="convert a scikit-learn pipeline saved with joblib into an NLU phq file, with a fidelity report "
                        "(exit 0 written, 1 below --min-agreement, 2 error)",
        description="Convert a fitted scikit-learn text pipeline (joblib.dump) into a phq file of the NLU profile and "
                    "report what the conversion cost: agreement with the pipeline on probe texts, the largest decision "
                    "error and, with labels, accuracy before and after. " + TRUST +
                    " Exit 0 written, 1 refused by --min-agreement (nothing written), 2 error.")
    cv.add_argument("model", metavar="MODEL.joblib", help="a fitted Pipeline (or a (featurizer, classifier) tuple) saved with joblib.dump; loading it runs its code: only files you trust")
    cv.add_argument("-o", "--output", required=True, metavar="OUT.phq", help="the .phq file to write (atomically)")
    cv.add_argument("--texts", metavar="FILE", help="probe texts, one per line (UTF-8); default: texts made from the vocabulary")
    cv.add_argument("--labels", metavar="FILE", help="their labels, one per line (with --texts): adds accuracy before / after")
    cv.add_argument("--data", metavar="FILE", help="labelled probe texts: TSV text<TAB>label or JSONL {\"text\", \"label\"} (as phq eval)")
    cv.add_argument("--format", choices=["auto", "tsv", "jsonl"], default="auto", help="format of --data (default auto: .jsonl/.ndjson/.json is JSONL, else TSV)")
    cv.add_argument("--min-agreement", type=float, metavar="X", help="refuse (exit 1, nothing written) a file whose predictions agree with the pipeline's on less than this share of the probe texts, e.g. 0.995")
    cv.add_argument("--max-bytes", type=int, metavar="N", help="the largest file wanted: searched by phq.writer (from_sklearn max_bytes=)")
    cv.add_argument("--quant", choices=["f32", "f16", "linear8", "linear4", "codebook4", "codebook8"], default="linear8", help="weight encoding (default linear8)")
    cv.add_argument("--scale", choices=["table", "column", "row-block"], default="column", help="scale (or codebook) granularity (default column)")
    cv.add_argument("--block-rows", type=int, default=256, help="rows per scale group for --scale row-block (default 256)")
    cv.add_argument("--layout", choices=["dense", "sparse", "auto"], default="auto", help="payload layout (default auto: the smaller)")
    cv.add_argument("--fingerprint-bits", type=int, choices=[0, 8, 16, 32], default=16, help="false-positive rate 2^-bits for absent keys (default 16)")
    cv.add_argument("--gamma", type=float, default=2.0, help="MPH level size factor, >= 0.5 (default 2.0)")
    cv.add_argument("--seed", type=int, default=0, help="u32 hash seed (default 0)")
    cv.add_argument("--metadata", metavar="JSON_FILE", help="a JSON object added to the file's metadata")
    cv.add_argument("--json", action="store_true", help="the report as one flat JSON object")

    ev = sub.add_parser(
        "eval", help="accuracy, macro-F1, per-class table and confusions of an NLU model on labelled data "
                     "(exit 0 done, 1 invalid model, 2 error)",
        description="Score an NLU phq model on labelled data: TSV text<TAB>label (the label after the last tab) or JSONL "
                    "{\"text\": ..., \"label\": ...}, chosen by the file name (.jsonl/.ndjson/.json: JSONL) or --format. "
                    "Labels compare as the model's label type: a TSV label 3 is the integer 3 when the model's classes "
                    "are ints. " + TRUST + " (--reference) Exit 0 done, 1 invalid model file, 2 error.")
    ev.add_argument("file", metavar="MODEL.phq")
    ev.add_argument("--data", required=True, metavar="FILE", help="labelled texts ('-': stdin)")
    ev.add_argument("--format", choices=["auto", "tsv", "jsonl"], default="auto", help="format of --data (default auto, by the file name)")
    ev.add_argument("--reference", metavar="OTHER", help="another model to compare with: a phq file, or a scikit-learn pipeline saved with joblib (runs its code: only files you trust); adds its accuracy and the agreement")
    ev.add_argument("--confusions", type=int, default=10, metavar="N", help="list the N most confused (gold, predicted) pairs (default 10)")
    ev.add_argument("--json", action="store_true", help="machine-readable report")


def add_diff_options(df) -> None:
    df.add_argument("--texts", metavar="FILE", help="NLU models: compare what the two models predict on these texts (one per line) "
                    "instead of their rows; lists the texts whose label changes (exit 0 none, 1 some, 2 error)")


# -- convert ---------------------------------------------------------------------------------

def _model_classes_type(model) -> str:
    from .evaluate import classes_type

    clf = model.steps[-1][1] if hasattr(model, "steps") else model[-1] if isinstance(model, (list, tuple)) and model else model
    classes = getattr(clf, "classes_", None)
    return classes_type(list(classes)) if classes is not None else "str"


def cmd_convert(a) -> int:
    import phq.writer as W
    from phq.writer.serialize import check_output_path
    from pathlib import Path

    from .evaluate import load_joblib, parse_label, parse_labels, read_labelled, read_lines

    if a.data and (a.texts or a.labels):
        raise UsageError("--data gives texts and labels: use it alone, or --texts (and --labels)")
    if a.labels and not a.texts:
        raise UsageError("--labels needs --texts (one label per text)")
    if os.path.exists(a.output) and os.path.exists(a.model) and os.path.samefile(a.model, a.output):
        raise UsageError(f"-o {a.output} is the model being converted; choose another output file")
    check_output_path(Path(a.output))
    metadata = None
    if a.metadata:
        from phq.writer.inputs import load_json

        with open(a.metadata, "rb") as f:
            metadata = load_json(a.metadata, f.read())
        if not isinstance(metadata, dict):
            raise UsageError(f"{a.metadata}: --metadata must hold a JSON object")
    model = load_joblib(a.model)
    ctype = _model_classes_type(model)
    texts = labels = None
    if a.data:
        data = read_labelled(a.data, a.format)
        texts, labels = data.docs, parse_labels(data, ctype, a.data)
    elif a.texts:
        texts = read_lines(a.texts)
        if a.labels:
            raw = read_lines(a.labels)
            if len(raw) != len(texts):
                raise UsageError(f"--labels {a.labels} has {len(raw)} lines for {len(texts)} texts in {a.texts}")
            labels = [parse_label(v, ctype, f"{a.labels}:{i}") for i, v in enumerate(raw, 1)]
    options = dict(quant=a.quant, scale=a.scale, block_rows=a.block_rows, layout=a.layout, fingerprint_bits=a.fingerprint_bits,
                   gamma=a.gamma, seed=a.seed, metadata=metadata, texts=texts, labels=labels, min_agreement=a.min_agreement)
    if a.max_bytes is not None:
        options["max_bytes"] = a.max_bytes  # the size search (phq.writer.budget); refused by name where it is missing
    try:
        report = W.from_sklearn(model, a.output, **options)
        code = EXIT_OK
    except W.AgreementError as e:
        report, code = e.report, EXIT_DIFFERENT
        print(safe_text(f"phq convert: {e}"), file=sys.stderr)
    if a.json:
        print(json_text(report.to_dict()))
    else:
        print(safe_text(report.summary(), keep_newlines=True))
    return code


# -- eval ------------------------------------------------------------------------------------

def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def cmd_eval(a) -> int:
    from . import nlu
    from .evaluate import classification_report, classifier_of, load_reference, parse_labels, predictions, prepared_docs, read_labelled

    if a.confusions < 0:
        raise UsageError("--confusions must be 0 or more")
    data = read_labelled(a.data, a.format)
    clf = classifier_of(nlu.load(a.file), a.file)
    try:
        ctype = clf.profile["classes_type"]
        gold = parse_labels(data, ctype, a.data)
        docs = prepared_docs(clf, data.docs, a.data, data.lines)
        pred = predictions(clf, docs)
        rep = classification_report(gold, pred, list(clf.classes_), a.confusions)
        classes = list(clf.classes_)
    finally:
        clf.close()
    out = {"model": a.file, "data": a.data, "format": data.format, "classes_type": ctype, **rep, "reference": None}
    if a.reference:
        ref, kind = load_reference(a.reference)
        try:
            ref_docs = prepared_docs(ref, data.docs, a.data, data.lines) if kind == "phq" else docs
            theirs = predictions(ref, ref_docs)
        finally:
            if kind == "phq":
                ref.close()
        agree = sum(p == q for p, q in zip(pred, theirs))
        out["reference"] = {"path": a.reference, "kind": kind, "accuracy": sum(g == q for g, q in zip(gold, theirs)) / len(gold),
                            "agreement": agree / len(gold), "n_disagree": len(gold) - agree}
    if a.json:
        print(json_text(out))
        return EXIT_OK
    lines = [f"{a.file} on {a.data} ({data.format}): {rep['n']:,} labelled texts, {len(classes)} classes",
             f"accuracy {_pct(rep['accuracy'])} ({rep['correct']:,} of {rep['n']:,})   macro-F1 {_pct(rep['macro_f1'])}"]
    r = out["reference"]
    if r is not None:
        lines.append(f"reference {a.reference} ({'phq file' if r['kind'] == 'phq' else 'joblib'}): accuracy {_pct(r['accuracy'])}, "
                     f"agreement {_pct(r['agreement'])} ({r['n_disagree']:,} predictions differ)")
    if rep["unknown_labels"]:
        shown = ", ".join(str(x) for x in rep["unknown_labels"][:10])
        lines.append(f"{len(rep['unknown_labels'])} gold label(s) the model does not know: {shown}")
    width = max(5, *(len(str(row["label"])) for row in rep["classes"]))
    lines += ["", f"{'label':<{width}}  {'precision':>9}  {'recall':>7}  {'F1':>7}  {'support':>7}"]
    for row in rep["classes"]:
        lines.append(f"{str(row['label']):<{width}}  {_pct(row['precision']):>9}  {_pct(row['recall']):>7}  "
                     f"{_pct(row['f1']):>7}  {row['support']:>7,}")
    if rep["confused"]:
        n_pairs = rep["confused_pairs"]
        lines += ["", f"most confused (gold -> predicted: count; {n_pairs:,} pair{'s' if n_pairs != 1 else ''} in all):"]
        lines += [f"  {c['gold']} -> {c['predicted']}: {c['count']:,}" for c in rep["confused"]]
    print(safe_text("\n".join(lines), keep_newlines=True))
    return EXIT_OK


# -- diff --texts ----------------------------------------------------------------------------

def check_diff_texts_options(a) -> None:
    """--texts compares predictions: the options that compare rows do not apply."""
    rows_only = [name for name, used in (("--atol", a.atol != "auto"), ("--rtol", a.rtol != 0.0), ("--keys", a.keys),
                                         ("--table", a.table), ("--strict", a.strict)) if used]
    if rows_only:
        raise UsageError(f"{', '.join(rows_only)}: for comparing rows; with --texts phq diff compares the models' predictions instead")


def cmd_diff_texts(a) -> int:
    from . import nlu
    from .errors import FormatError, ProfileError
    from .evaluate import classifier_of, prediction_changes, prepared_docs, read_lines

    check_diff_texts_options(a)
    if a.max_report < 0:
        raise UsageError("--max-report must be 0 or more")
    texts = read_lines(a.texts)
    models = []
    try:
        for path in (a.a, a.b):
            try:
                models.append(classifier_of(nlu.load(path), path))
            except (FormatError, ProfileError) as e:  # as diff: an invalid file is an error (2)
                print(safe_text(f"phq diff: error: invalid file: {path}: {e}"), file=sys.stderr)
                return EXIT_USAGE
        ma, mb = models
        if ma.input != mb.input:
            raise UsageError(f"{a.a} reads {ma.input} documents and {a.b} reads {mb.input}: their predictions cannot be compared")
        docs = prepared_docs(ma, texts, a.texts)
        rep = prediction_changes(ma, mb, docs, list(range(1, len(docs) + 1)), a.max_report)
    finally:
        for m in models:
            m.close()
    rep = {"a": a.a, "b": a.b, "texts_file": a.texts, **rep}
    if a.json:
        print(json_text(rep))
    elif not a.quiet:
        print(safe_text(diff_text(rep), keep_newlines=True))
    return EXIT_OK if rep["same"] else EXIT_DIFFERENT


def diff_text(rep: dict) -> str:
    n, m = rep["texts"], rep["changed"]
    change = f"; largest score change {rep['max_score_change']:.6g}" if rep["max_score_change"] is not None else ""
    if not m:
        return f"same: the {n:,} texts get the same labels{change}"
    lines = [f"{m:,} of {n:,} predictions differ ({100 * m / n:.2f}%){change}"]
    for c in rep["changes"]:
        text = c["text"] if len(c["text"]) <= 200 else c["text"][:200] + "..."
        lines.append(f"line {c['line']}: {c['old']} ({c['old_score']:.4g}) -> {c['new']} ({c['new_score']:.4g})  {text}")
    if len(rep["changes"]) < m:
        lines.append(f"... {m - len(rep['changes']):,} more (--max-report)")
    lines.append(f"changes by label (old -> new: count; {rep['label_pairs']:,} pairs in all):")
    lines += [f"  {p['old']} -> {p['new']}: {p['count']:,}" for p in rep["changes_by_label"]]
    if len(rep["changes_by_label"]) < rep["label_pairs"]:
        lines.append(f"  ... {rep['label_pairs'] - len(rep['changes_by_label']):,} more (--max-report)")
    return "\n".join(lines)


def help_epilog() -> str:
    return ("exit status: 0 success; 1 invalid file (FormatError/ProfileError, its code printed) -- for diff: the files "
            "(or with --texts their predictions) differ, for convert: below --min-agreement, nothing written; 2 usage "
            "error (bad arguments, unreadable or bad input, a model the converter refuses); 70 internal error (a bug); "
            "141 closed output pipe")

