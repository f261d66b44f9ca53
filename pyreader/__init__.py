"""phq: zero-copy reader for phq model files (spec/format-v1.0.md).

    import phq
    with phq.open("model.phq") as model:
        table = model.tables["features"]
        row = table["the beatles"]            # float32 row, KeyError if absent
        rows, found = table.lookup(["play", "the beatles", "unseen"])
        model.tensors["bias"], model.metadata["labels"]

`phq.open` maps the file (or takes its bytes: bytes, bytearray, memoryview, mmap, any buffer;
read-only buffers zero-copy, writable ones copied once), checks its structure once (spec
§10.1) and serves numpy views;
`phq.validate` also verifies every checksum and every table's internal consistency (§10.2).
Bad bytes raise `phq.FormatError` (with `.code` from the spec's error table), caller
mistakes raise `phq.UsageError`.
"""

from .errors import ERROR_CODES, FormatError, PhqError, ProfileError, UsageError
from .layout import FORMAT_MAJOR, FORMAT_MINOR
from .reader import Model, Section
from .reader import open_model as open
from .table import Table
from .validate import validate

__version__ = "1.0.0"
FORMAT_VERSION = (FORMAT_MAJOR, FORMAT_MINOR)

__all__ = [
    "open",
    "validate",
    "Model",
    "Table",
    "Section",
    "FormatError",
    "UsageError",
    "ProfileError",
    "PhqError",
    "ERROR_CODES",
    "FORMAT_VERSION",
]
