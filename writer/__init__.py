"""phq.writer: build spec-conformant phq files (spec/format-v1.0.md §13).

    import phq.writer
    phq.writer.write("model.phq", {"features": {"play": [0.5, -1.0], "the beatles": [2.0, 0.0]}},
                     metadata={"labels": ["PlayMusic", "GetWeather"]})

`tables` maps a table name to a mapping key -> row, a `(keys, rows)` pair, or a
`phq.writer.Table(keys, rows, **options)` carrying per-table options. The same input and
options always give byte-identical files (§13.3); the file is independent of key order.
"""

from __future__ import annotations

import functools
import inspect
import os
from typing import Callable

from phq.errors import UsageError

from .build import Options, Table, build_sections
from .inputs import InputChangedError, read_jsonl, read_npz, read_parquet, read_table_file, read_tsv
from .fidelity import AgreementError, ConversionReport
from .partitioned import build_partitioned
from .serialize import stale_temp_files, write_sections

__all__ = [
    "write", "from_sklearn", "from_crfsuite", "from_vw", "build_partitioned", "Table", "Options", "read_tsv", "read_jsonl", "read_npz", "read_parquet",
    "read_table_file", "stale_temp_files", "InputChangedError", "ConversionReport", "AgreementError",
]


def write(
    path: str | os.PathLike,
    tables,
    *,
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
    partitions: int | None = None,
    max_levels: int = 64,
    progress: Callable[[str, int, int], None] | None = None,
    before_replace: Callable[[], None] | None = None,
    check_file: Callable[[str], None] | None = None,
    sparse: str = "plain",
) -> int:
    """Build a phq file at `path` atomically and return its size in bytes.

    Options (defaults for every table; a `Table` may override them):
      gamma            bits per key of each MPH level relative to its keys (>= 0.5);
                       1.0 is smallest (~2.8 bits/key), 2.0 probes fewer levels
      seed             u32 seed of MurmurHash3 for this table's keys
      fingerprint_bits 0, 8, 16 or 32: an absent key is reported absent except with
                       probability 2^-bits
      quant            the weight encoding (spec §8; README "Which scheme?" for measured
                       trade-offs):
                         "f32"        float32, exact (format 1.0)
                         "f16"        binary16, round to nearest even (format 1.0)
                         "linear8"    8-bit codes with a scale and zero point per group,
                                      0.0 exact (the article's scheme; the default; 1.0)
                         "linear4"    4-bit codes, two per byte, as linear8 (format 1.1)
                         "codebook4"  4-bit indices into 16 float32 levels per group,
                                      fitted to the weights (format 1.1)
                         "codebook8"  8-bit indices into 256 levels per group (format 1.1)
                       the 1.1 schemes make a format 1.1 file (readers of 1.0 refuse it)
      scale            group of a scale (linear8/linear4) or codebook: "table", "column"
                       (the default) or "row-block" (linear only)
      block_rows       rows per scale group for "row-block"
      layout           "dense", "sparse" or "auto" (the smaller of the two)
      sparse           how sparse rows are indexed: "plain" (format 1.0, the default) or
                       "compact" (format 1.2: a two-level row index and Elias-Fano columns,
                       17-21% smaller CLINC150 models; readers of 1.0/1.1 refuse such files)
      drop_zero_rows   drop keys whose stored row is all zeros
      partitions       number of MPH partitions (None: 1 unless the table is huge)
      max_levels       levels per partition before the fallback list (0..64)
      progress         callable(stage, done, total), e.g. for a progress bar
      before_replace   callable() run when the new file is complete, just before it
                       replaces `path`; if it raises, `path` is left as it was (phq build
                       checks there that no input file changed, spec §13.8)
      check_file       callable(temp_path) run first on the complete temporary file; if it
                       raises, `path` is left as it was (from_sklearn's min_agreement)
    """
    defaults = Options(
        gamma=gamma,
        seed=seed,
        fingerprint_bits=fingerprint_bits,
        quant=quant,
        scale=scale,
        block_rows=block_rows,
        layout=layout,
        sparse=sparse,
        drop_zero_rows=drop_zero_rows,
        partitions=partitions,
        max_levels=max_levels,
    )
    sections = build_sections(tables, tensors, metadata, defaults, progress)
    return write_sections(path, sections, progress, before_replace, check_file)


def _keywords_checked(converter: str):
    """Bad keyword arguments of a converter raise phq.UsageError (the project's error for caller
    mistakes) instead of Python's TypeError; help() still shows the real signature."""
    def wrap(fn):
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            if "drop_zero_rows" in kwargs:
                raise UsageError(f"{converter}: drop_zero_rows is decided by the converter (score rows: dropped; norm tables: kept)")
            try:
                sig.bind(*args, **kwargs)
            except TypeError as e:
                raise UsageError(f"{converter}: {e}") from None
            return fn(*args, **kwargs)
        return checked
    return wrap


@_keywords_checked("from_sklearn")
def from_sklearn(
    model,
    path: str | os.PathLike,
    *,
    quant: str = "linear8",
    scale: str = "column",
    block_rows: int = 256,
    fingerprint_bits: int = 16,
    gamma: float = 2.0,
    seed: int = 0,
    layout: str = "auto",
    partitions: int | None = None,
    max_levels: int = 64,
    metadata: dict | None = None,
    check_texts: list | None = None,
    texts: list | None = None,
    labels: list | None = None,
    min_agreement: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    sparse: str = "plain",
    max_bytes: int | None = None,
) -> "ConversionReport | BudgetResult":
    """Write a fitted scikit-learn text classifier as an NLU-profile phq file (spec
    nlu-profile-v2: `phq spec show nlu-profile-v2`); return its ConversionReport (the
    file's size is `.bytes`; phq.writer.fidelity says what each figure means).

    model        a fitted Pipeline, or a sequence (featurizer steps..., classifier):
                 CountVectorizer / TfidfVectorizer / DictVectorizer / FeatureUnion of those,
                 optionally feature selection / MaxAbsScaler / StandardScaler(with_mean=False),
                 then a linear classifier, a naive Bayes model or a OneVsRestClassifier
                 (README lists what is supported; anything else is refused by name)
    path         the .phq file to write (atomically)
    quant, scale, block_rows, fingerprint_bits, gamma, seed, layout, partitions, max_levels,
    progress     as phq.writer.write, for every table of the model (quant: "f32", "f16",
                 "linear8", "linear4", "codebook4", "codebook8")
    sparse       "compact" writes sparse tables in format 1.2's compact encoding (as
                 phq.writer.write; "plain", the default, keeps format 1.0/1.1)
    metadata     keys added to the file's metadata (not "phq.nlu")
    check_texts  documents added to the converter's self-check, which featurizes and scores
                 probe documents both ways and refuses a model it would not reproduce
    texts        probe documents for the fidelity report (held-out texts are best); without
                 them the converter makes GENERATED_PROBES documents from the vocabulary
    labels       their labels: the report adds accuracy before (scikit-learn) and after (phq)
    min_agreement  refuse (AgreementError, nothing written) a file whose predictions agree
                 with the model's on a smaller share of the probe texts, e.g. 0.995
    max_bytes    size-budgeted conversion (phq.writer.budget): search pruning (vocabulary
                 terms and small weights), quant, scale and fingerprint widths for the file
                 within max_bytes with the best accuracy on `texts`/`labels` (validation data;
                 without labels: agreement with the model's own predictions), write it, and
                 return a BudgetResult (chosen settings, bytes, frontier; int() is the size)
                 instead of a ConversionReport; quant, scale and fingerprint_bits are then
                 searched, not passed; texts/labels are the validation data; min_agreement
                 does not apply (the result reports the agreement of the file it chose).
                 Deterministic; UsageError names the smallest size reached when nothing fits.
    """
    from .sklearn_convert import from_sklearn as convert

    if max_bytes is not None:
        from .budget import from_sklearn_budget

        if (quant, scale, fingerprint_bits) != ("linear8", "column", 16):
            raise UsageError("from_sklearn: with max_bytes, quant, scale and fingerprint_bits are chosen by the search")
        if min_agreement is not None:
            raise UsageError("from_sklearn: min_agreement does not apply with max_bytes (the search reports the agreement "
                             "of the file it chose; compare result.val_agreement)")
        return from_sklearn_budget(model, path, max_bytes, texts, labels, metadata=metadata, check_texts=check_texts,
                                   block_rows=block_rows, gamma=gamma, seed=seed, layout=layout, partitions=partitions,
                                   max_levels=max_levels, progress=progress, sparse=sparse)

    return convert(model, path, metadata=metadata, check_texts=check_texts, texts=texts, labels=labels,
                   min_agreement=min_agreement, quant=quant, scale=scale, block_rows=block_rows,
                   fingerprint_bits=fingerprint_bits, gamma=gamma, seed=seed, layout=layout, partitions=partitions,
                   max_levels=max_levels, progress=progress, sparse=sparse)


@_keywords_checked("from_crfsuite")
def from_crfsuite(
    model,
    path: str | os.PathLike,
    *,
    templates: list,
    classifier=None,
    tokenizer: str = "word_punct",
    decode_error: str = "replace",
    quant: str = "linear8",
    scale: str = "column",
    block_rows: int = 256,
    fingerprint_bits: int = 16,
    gamma: float = 2.0,
    seed: int = 0,
    layout: str = "auto",
    partitions: int | None = None,
    max_levels: int = 64,
    metadata: dict | None = None,
    check_texts: list | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> int:
    """Write a CRFsuite sequence tagger, optionally with an intent classifier, as one phq file of
    NLU profile 3 (`phq spec show nlu-profile-v3`); return its size.

    model        a fitted sklearn_crfsuite.CRF, an opened pycrfsuite.Tagger, or the path of a
                 CRFsuite model file, trained on phq.nlu.token_features(tokens, templates)
    path         the .phq file to write (atomically)
    templates    the token-feature templates the CRF was trained on (spec nlu-profile-v3 §4.2)
    classifier   a fitted scikit-learn text pipeline (as from_sklearn takes) for the intent
    tokenizer    the tokenizer of phq.nlu.tokenize the CRF's tokens came from ("word_punct")
    decode_error how the runtime decodes bytes that are not UTF-8 ("replace" or "strict")
    quant, scale, block_rows, fingerprint_bits, gamma, seed, layout, partitions, max_levels,
    progress     as phq.writer.write, for every table
    metadata     keys added to the file's metadata (not "phq.nlu")
    check_texts  texts added to the converter's self-check
    """
    from .crfsuite_convert import from_crfsuite as convert

    return convert(model, path, templates=templates, classifier=classifier, tokenizer=tokenizer, decode_error=decode_error,
                   metadata=metadata, check_texts=check_texts, quant=quant, scale=scale, block_rows=block_rows,
                   fingerprint_bits=fingerprint_bits, gamma=gamma, seed=seed, layout=layout, partitions=partitions,
                   max_levels=max_levels, progress=progress)


@_keywords_checked("from_vw")
def from_vw(
    invert_hash,
    path: str | os.PathLike,
    *,
    workspace=None,
    texts: list | None = None,
    classes: list | None = None,
    proba: str | None = "auto",
    quant: str = "linear8",
    scale: str = "column",
    block_rows: int = 256,
    fingerprint_bits: int = 16,
    gamma: float = 2.0,
    seed: int = 0,
    layout: str = "auto",
    partitions: int | None = None,
    max_levels: int = 64,
    metadata: dict | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> int:
    """Write a Vowpal Wabbit linear model as an NLU-profile phq file (spec/vw.md); return its size.

    invert_hash  the model's `--invert_hash` file (a path), binary or `--oaa K`, one namespace
    path         the .phq file to write (atomically)
    workspace    the pyvw Workspace holding the model: weights are read exactly by index
                 (the file prints 6 significant digits)
    texts        with workspace: documents (e.g. the training texts) whose whitespace tokens are
                 added by VW's hash, recovering names --invert_hash lost to hash collisions
    classes      labels of VW's classes 1..K (--oaa) or (negative, positive); default 1..K or (-1, 1)
    proba        "auto" (logistic for a binary model with --link logistic), "logistic", or None
    quant, scale, block_rows, fingerprint_bits, gamma, seed, layout, partitions, max_levels,
    progress     as phq.writer.write
    metadata     keys added to the file's metadata (not "phq.nlu")
    """
    from .vw_convert import from_vw as convert

    return convert(invert_hash, path, workspace=workspace, texts=texts, classes=classes, proba=proba, metadata=metadata, quant=quant,
                   scale=scale, block_rows=block_rows, fingerprint_bits=fingerprint_bits, gamma=gamma, seed=seed,
                   layout=layout, partitions=partitions, max_levels=max_levels, progress=progress)
