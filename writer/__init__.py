"""phq.writer: build spec-conformant phq files (spec/format-v1.0.md §13).

    import phq.writer
    phq.writer.write("model.phq", {"features": {"play": [0.5, -1.0], "the beatles": [2.0, 0.0]}},
                     metadata={"labels": ["PlayMusic", "GetWeather"]})

`tables` maps a table name to a mapping key -> row, a `(keys, rows)` pair, or a
`phq.writer.Table(keys, rows, **options)` carrying per-table options. The same input and
options always give byte-identical files (§13.3); the file is independent of key order.
"""

from __future__ import annotations

import os
from typing import Callable

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
      quant            "f32", "f16" or "linear8" (the article's 8-bit scheme)
      scale            linear8 scale granularity: "table", "column" or "row-block"
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


def from_sklearn(model, path: str | os.PathLike, **options) -> int:
    """Write a fitted scikit-learn text classifier as an NLU-profile phq file (see
    phq.writer.sklearn_convert and spec/nlu-profile-v2.md); returns the file size."""
    from .sklearn_convert import from_sklearn as convert

    return convert(model, path, **options)


def from_crfsuite(model, path: str | os.PathLike, **options) -> int:
    """Write a CRFsuite sequence tagger (sklearn_crfsuite.CRF, pycrfsuite.Tagger or a model file),
    optionally with an intent classifier (`classifier=` a scikit-learn pipeline), as a phq file of
    NLU profile 3 (see phq.writer.crfsuite_convert and spec/nlu-profile-v3.md); returns its size."""
    from .crfsuite_convert import from_crfsuite as convert

    return convert(model, path, **options)
