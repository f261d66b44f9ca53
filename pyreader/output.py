"""What the CLI prints: text that came from a file, made safe for a terminal, and JSON that
is RFC 8259 JSON for every valid file (README "Command line", "Output").

    safe_text(s)       control characters, lone surrogates, line separators and bidi
                       controls as \\xHH / \\uXXXX escapes (a member name or class label
                       holding ESC [ 2 J cannot drive the terminal)
    json_text(value)   json.dumps that never fails and never writes non-JSON:
                       - integers exactly, whatever their length (the reader holds integers of
                         more than 4000 digits as decimal.Decimal; Python's int-to-str limit
                         does not apply);
                       - floats in the shortest form that reads back as the same binary64;
                       - a float that is +-infinity (a number beyond binary64 in the file, e.g.
                         1e400, which the reader holds as infinity, spec §5.2) as 1e999 / -1e999,
                         a JSON number every binary64 parser reads back as that infinity;
                         NaN (no valid file has one) as null;
                       - strings: the characters safe_text escapes as \\uXXXX, the rest as UTF-8.
"""

from __future__ import annotations

import decimal
import json
import math
import re
import secrets

import numpy as np

# C0, DEL, C1, lone surrogates, line/paragraph separators, bidi embedding/override/isolate marks
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\ud800-\udfff\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")  # json.dumps escapes C0
_UNSAFE_KEEP_NL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def safe_text(s, keep_newlines: bool = False) -> str:
    """`s` (str() of anything) with every character that could control a terminal escaped."""
    s = s if isinstance(s, str) else str(s)
    return (_UNSAFE_KEEP_NL if keep_newlines else _UNSAFE).sub(_escape, s)


def _json_escape(m: re.Match) -> str:
    return f"\\u{ord(m.group()):04x}"


class _Raw:
    """Numbers json.dumps cannot write itself, substituted as text after it ran."""

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(8)
        self.items: list[str] = []

    def token(self, text: str) -> str:
        self.items.append(text)
        return f"\x00{self.nonce}:{len(self.items) - 1}\x00"

    def default(self, o):
        json_value = getattr(o, "json_value", None)  # phq.inspect.MetadataView
        if json_value is not None:
            v = json_value()
            return self.token(v) if type(v).__name__ == "RawJSON" else v
        if isinstance(o, decimal.Decimal):
            return self.token(_decimal_text(o))
        if isinstance(o, np.generic):
            v = o.item()
            return self.token(_float_text(v)) if isinstance(v, float) and not math.isfinite(v) else v
        if isinstance(o, np.ndarray):
            return o.tolist()
        return str(o)

    def finish(self, text: str) -> str:
        if self.items:
            pattern = re.compile('"\\\\u0000' + self.nonce + ':([0-9]+)\\\\u0000"')
            text = pattern.sub(lambda m: self.items[int(m.group(1))], text)
        return text


def _decimal_text(d: decimal.Decimal) -> str:
    if d.is_nan():
        return "null"
    if d.is_infinite():
        return "-1e999" if d < 0 else "1e999"
    return str(d)  # a JSON number: digits, optional fraction, optional E+-exponent


def _float_text(v: float) -> str:
    if math.isnan(v):
        return "null"
    return "-1e999" if v < 0 else "1e999"


def _replace_nonfinite(value, raw: _Raw):
    """A copy of `value` with every non-finite float replaced (the rare, slower path)."""
    if isinstance(value, float) and not math.isfinite(value):
        return raw.token(_float_text(value))
    if hasattr(value, "json_value"):  # phq.inspect.MetadataView
        v = value.json_value()
        return raw.token(v) if type(v).__name__ == "RawJSON" else _replace_nonfinite(v, raw)
    if isinstance(value, dict):
        return {k: _replace_nonfinite(v, raw) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_replace_nonfinite(v, raw) for v in value]
    return value


def json_text(value, indent: int | None = None) -> str:
    """RFC 8259 JSON of `value` (rules in the module docstring)."""
    raw = _Raw()
    try:
        text = json.dumps(value, indent=indent, ensure_ascii=False, allow_nan=False, default=raw.default)
    except ValueError:  # an infinite float (or NaN): replace them, then write again
        raw = _Raw()
        text = json.dumps(_replace_nonfinite(value, raw), indent=indent, ensure_ascii=False, allow_nan=False,
                          default=raw.default)
    return _UNSAFE_IN_JSON.sub(_json_escape, raw.finish(text))
