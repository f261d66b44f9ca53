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
from .partitioned import build_partitioned
from .serialize import stale_temp_files, write_sections

__all__ = [
    "write", "from_sklearn", "from_crfsuite", "build_partitioned", "Table", "Options", "read_tsv", "read_jsonl", "read_npz", "read_parquet",
    "read_table_file", "stale_temp_files", "InputChangedError",
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
      drop_zero_rows   drop keys whose stored row is all zeros
      partitions       number of MPH partitions (None: 1 unless the table is huge)
      max_levels       levels per partition before the fallback list (0..64)
      progress         callable(stage, done, total), e.g. for a progress bar
      before_replace   callable() run when the new file is complete, just before it
                       replaces `path`; if it raises, `path` is left as it was (phq build
                       checks there that no input file changed, spec §13.8)
    """
    defaults = Options(
        gamma=gamma,
        seed=seed,
        fingerprint_bits=fingerprint_bits,
        quant=quant,
        scale=scale,
        block_rows=block_rows,
        layout=layout,
        drop_zero_rows=drop_zero_rows,
        partitions=partitions,
        max_levels=max_levels,
    )
    sections = build_sections(tables, tensors, metadata, defaults, progress)
    return write_sections(path, sections, progress, before_replace)


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
    progress: Callable[[str, int, int], None] | None = None,
    max_bytes: int | None = None,
    texts: list | None = None,
    labels=None,
):
    """Write a fitted scikit-learn text classifier as an NLU-profile phq file (spec
    nlu-profile-v2: `phq spec show nlu-profile-v2`); return the file size.

    model        a fitted Pipeline, or a sequence (featurizer steps..., classifier):
                 CountVectorizer / TfidfVectorizer / DictVectorizer / FeatureUnion of those,
                 then LogisticRegression, LinearSVC, SGDClassifier or RidgeClassifier
                 (README lists what is supported; anything else is refused by name)
    path         the .phq file to write (atomically)
    quant, scale, block_rows, fingerprint_bits, gamma, seed, layout, partitions, max_levels,
    progress     as phq.writer.write, for every table of the model (quant: "f32", "f16",
                 "linear8", "linear4", "codebook4", "codebook8")
    metadata     keys added to the file's metadata (not "phq.nlu")
    check_texts  documents added to the converter's self-check, which featurizes and scores
                 probe documents both ways and refuses a model it would not reproduce
    max_bytes    size-budgeted conversion (phq.writer.budget): search pruning (vocabulary
                 terms and small weights), quant, scale and fingerprint widths for the file
                 within max_bytes with the best accuracy on `texts`/`labels` (validation data;
                 without labels: agreement with the model's own predictions), write it, and
                 return a BudgetResult (chosen settings, bytes, frontier; int() is the size)
                 instead of the size; quant, scale and fingerprint_bits are then searched, not
                 passed. Deterministic; UsageError names the smallest size reached when
                 nothing fits.
    """
    from .sklearn_convert import from_sklearn as convert

    if max_bytes is not None:
        from .budget import from_sklearn_budget

        if (quant, scale, fingerprint_bits) != ("linear8", "column", 16):
            raise UsageError("from_sklearn: with max_bytes, quant, scale and fingerprint_bits are chosen by the search")
        return from_sklearn_budget(model, path, max_bytes, texts, labels, metadata=metadata, check_texts=check_texts,
                                   block_rows=block_rows, gamma=gamma, seed=seed, layout=layout, partitions=partitions,
                                   max_levels=max_levels, progress=progress)
    if texts is not None or labels is not None:
        raise UsageError("from_sklearn: texts= and labels= are the validation data of max_bytes=")

    return convert(model, path, metadata=metadata, check_texts=check_texts, quant=quant, scale=scale, block_rows=block_rows,
                   fingerprint_bits=fingerprint_bits, gamma=gamma, seed=seed, layout=layout, partitions=partitions,
                   max_levels=max_levels, progress=progress)


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
