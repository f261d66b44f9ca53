"""Error types and the stable error-code table (spec/format-v1.0.md §11).

`FormatError` means the *bytes* are wrong (untrusted input); `UsageError` means the
*caller* is wrong. Both derive from `PhqError`. Codes are stable names shared by every
reader (the C reader uses the same names with a `PHQ_` prefix).
"""

from __future__ import annotations

# code -> one-line meaning. Order and names are normative (spec §11); never renumber,
# never reuse a name for another meaning.
ERROR_CODES: dict[str, str] = {
    "E_TRUNCATED": "the file is shorter than a structure it must contain",
    "E_SIGNATURE": "the first 8 bytes are not the phq signature",
    "E_TEXT_MODE": "the signature was damaged by a text-mode transfer (CR/LF or high bit)",
    "E_VERSION": "the major format version is not supported by this reader",
    "E_HEADER_SIZE": "header_size is not the size this version defines",
    "E_HEADER_CHECKSUM": "the header CRC32C does not match",
    "E_RESERVED": "a reserved field or flag bit is not zero",
    "E_FEATURE": "a required feature flag is not understood by this reader",
    "E_FILE_SIZE": "file_size in the header differs from the real file size",
    "E_LIMIT": "a count or size exceeds a documented limit",
    "E_OVERFLOW": "a size computed from counts overflows 64 bits",
    "E_SECTION_TABLE": "the section table is not where the spec puts it",
    "E_SECTION_ALIGN": "a section offset is not a multiple of 64",
    "E_SECTION_OVERLAP": "a section overlaps the previous one",
    "E_SECTION_GAP": "a hole between sections or after the last one",
    "E_SECTION_BOUNDS": "a section extends past the end of the file",
    "E_PADDING": "a padding byte is not zero",
    "E_UNKNOWN_SECTION": "a critical section kind is not understood by this reader",
    "E_SECTION_ORDER": "table parts missing, duplicated, out of order or with a bad owner",
    "E_SECTION_SIZE": "a section's size differs from what its counts require",
    "E_ENUM": "an enumerated field has an undefined value",
    "E_NAME": "a table or tensor name is empty, too long or not UTF-8",
    "E_DUPLICATE_NAME": "two tables (or two tensors) have the same name",
    "E_DUPLICATE_SECTION": "a section kind that may appear once appears twice",
    "E_METADATA": "metadata is not UTF-8 text holding one JSON object",
    "E_MPH": "the perfect-hash structure is inconsistent (levels, rank blocks, counts)",
    "E_RANK": "a rank or slot points outside [0, num_keys)",
    "E_FALLBACK": "fallback hashes are not strictly ascending",
    "E_SCALE": "a quantization scale is not in (0, FLT_MAX/255], or a zero point is out of range",
    "E_SPARSE": "the sparse row index or column indices are inconsistent",
    "E_VALUE": "a stored float weight or tensor value is NaN or infinite",
    "E_CHECKSUM": "a section's CRC32C does not match its bytes",
}


class PhqError(Exception):
    """Base class of every error phq raises on purpose."""


class FormatError(PhqError, ValueError):
    """The file's bytes break the spec. `.code` is a name from ERROR_CODES."""

    def __init__(self, code: str, message: str, offset: int | None = None):
        if code not in ERROR_CODES:  # a bug in phq itself, not in the file
            raise AssertionError(f"unknown error code {code!r}")
        self.code = code
        self.message = message
        self.offset = offset
        where = f" (at byte {offset})" if offset is not None else ""
        super().__init__(f"{code}: {message}{where}")


class UsageError(PhqError, ValueError):
    """The caller asked for something impossible (bad option, bad input data)."""


# The NLU profile (spec/nlu-profile-v2.md §9): a well-formed phq file whose metadata does
# not describe a scorable model. Stable names, like ERROR_CODES.
PROFILE_ERROR_CODES: dict[str, str] = {
    "E_NLU_MISSING": "the metadata has no \"phq.nlu\" object: the file is not an NLU model",
    "E_NLU_VERSION": "the NLU profile version is not supported by this runtime",
    "E_NLU_SCHEMA": "a field of the \"phq.nlu\" object is missing, of the wrong type or out of range",
    "E_NLU_REFERENCE": "a table or tensor the profile names is missing or has the wrong shape",
    "E_NLU_UNSUPPORTED": "a valid profile that this runtime does not implement",
}


class ProfileError(PhqError, ValueError):
    """The file is valid phq but not a valid NLU model. `.code` is from PROFILE_ERROR_CODES."""

    def __init__(self, code: str, message: str):
        if code not in PROFILE_ERROR_CODES:
            raise AssertionError(f"unknown profile error code {code!r}")
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")
