"""The pinned Unicode data of NLU profile 2 (spec/nlu-profile-v2.md §3-§5) and phq.unicode."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT
from phq import unicode as uni

DATA = ROOT / "spec" / "unicode" / "14.0.0"

# code points where the rules are subtle: sigma contexts, cased + case-ignorable (U+0345, ʰ),
# İ, ligatures, Hangul, U+FDFA (the largest expansion), whitespace outside ASCII, BOM,
# surrogates, unassigned (U+0378) and private-use code points
TRICKY = list("aZ Σσς.'-_İiıßﬁǅǄΐᾼΰﬀ한글\u0345ʰ\u0301\u0307\u00ad\u200b\ufeff\u0085\u00a0\u3000\x1c\x00\ud800\udfff\u0378\ue000ﷺ²①Ⅻ٣")
TEXT = st.lists(st.one_of(st.sampled_from(TRICKY), st.characters()), max_size=30).map("".join)


def test_generated_files_are_current():
    """spec/unicode/generate.py --check: the data files, the C and Python tables and the spec's
    digest table are exactly what the generator makes from UCD 14.0.0."""
    out = subprocess.run([sys.executable, str(ROOT / "spec" / "unicode" / "generate.py"), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_checksums_in_spec_and_sums_file_match_the_data():
    spec = (ROOT / "spec" / "nlu-profile-v2.md").read_text(encoding="utf-8")
    sums = dict(line.split()[::-1] for line in (DATA / "SHA256SUMS").read_text().splitlines())
    assert set(sums) == {p.name for p in DATA.glob("*.txt")} and len(sums) == 6
    for name, digest in sums.items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest
        assert f"| `{name}` | `{digest}` |" in spec


def test_whitespace_set_is_the_spec_list():
    listed = [0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
    assert [cp for cp in range(0x110000) if re.fullmatch(uni.SPACE_CLASS, chr(cp))] == listed


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_table_lowercase_equals_the_interpreter_at_ucd_14(text):
    assert uni.lower_table(text) == text.lower()


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_table_strip_accents_equals_nfkd_rules(text):
    assert uni.strip_unicode_table(text) == uni._strip_unicode_native(text)
    assert uni.strip_ascii_table(text) == uni._strip_ascii_native(text)


def test_final_sigma_examples():
    assert uni.lower_table("ΟΔΟΣ ΣΑ Σ") == "οδος σα σ"  # a lone Σ has no cased letter before it
    assert uni.lower_table("AΣ\u0345") == "aς\u0345"  # U+0345 is cased and case-ignorable: skipped
    assert uni.lower_table("ʰΣ") == "ʰσ"  # backward scan skips ʰ and finds nothing
    assert uni.lower_table("AΣ.b") == "aσ.b"  # '.' is case-ignorable (MidNumLet); b is cased
    assert uni.lower_table("İ") == "i\u0307"


BYTES = st.lists(st.one_of(st.integers(0, 255), st.sampled_from([0x80, 0xBF, 0xC0, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF, 0xA0, 0x9F, 0x90, 0x8F])), max_size=24).map(bytes)


@settings(max_examples=1000, deadline=None)
@given(BYTES)
def test_codec_equals_the_spec_decoder(data):
    """spec §4 (maximal subparts) written out step by step equals CPython's UTF-8 codec."""
    for errors in ("replace", "ignore"):
        assert uni.decode(data, errors) == uni.decode_spec(data, errors)
    try:
        want = uni.decode(data, "strict")
    except UnicodeDecodeError:
        want = None
    try:
        got = uni.decode_spec(data, "strict")
    except UnicodeDecodeError:
        got = None
    assert got == want


def test_decoding_examples():
    assert uni.decode_spec(b"\xf0\x80\x80", "replace") == "\ufffd" * 3  # F0 needs 90..BF next
    assert uni.decode_spec(b"\xe2\x82", "replace") == "\ufffd"  # one truncated sequence
    assert uni.decode_spec(b"\xed\xa0\x80a", "replace") == "\ufffd" * 3 + "a"  # encoded surrogate
    assert uni.decode_spec(b"\xef\xbb\xbfx", "strict") == "\ufeffx"  # BOM kept
    assert uni.decode_spec(b"a\xffb", "ignore") == "ab"
