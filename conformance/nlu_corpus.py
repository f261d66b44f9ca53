"""The hard strings of the NLU conformance suite (conformance/nlu/hard_strings.txt).

Deterministic: the same list on every machine. Every script, the case-mapping traps
(İ, ß, final sigma, Ǆ), ligatures, combining marks, emoji and ZWJ sequences, code points
unassigned in Unicode 14.0.0, noncharacters, private use, controls, every whitespace code
point alone, ill-formed UTF-8 of every class, the empty string and one 64 KiB text.
"""

from __future__ import annotations

import random

SCRIPTS = [
    "Play THE Beatles, please! Wake me up at 7:30 tomorrow.",
    "Ĉu vi ŝatas ĉokoladon? Ça va très bien, merci — déjà vu, naïve façade.",
    "Größe STRASSE straße ẞ Fußball Äpfel Öl Übermut",
    "Ærøskøbing, Þórður, ÐÐ ðð, Œuvre, İstanbul ışık İĞNE",
    "ΟΔΟΣ ΣΑΣ Σ ΣΣ ὈΔΥΣΣΕΎΣ Ἀθῆναι ΐ ΰ ᾼ ᾳ",
    "Привет, как дела? ЁЖИК в ТУМАНЕ, Ѣ ѣ Ґ ґ",
    "Բարեւ Ձեզ, ԵՐԵՎԱՆ · Ⴀ Ⴁ ა ბ გ ᲐᲑᲒ",
    "שלום עולם! מה שלומך? בְּרֵאשִׁית",
    "مرحبا بالعالم! كيف حالك؟ ﷺ ﷽ ١٢٣ ٤٥٦ ۱۲۳",
    "नमस्ते दुनिया, आप कैसे हैं? १२३ क़ ख़",
    "বাংলা ভাষা, ১২৩ · ਪੰਜਾਬੀ · ગુજરાતી · ଓଡ଼ିଆ",
    "தமிழ் மொழி · తెలుగు భాష · ಕನ್ನಡ · മലയാളം · සිංහල",
    "ภาษาไทย สวัสดีครับ · ພາສາລາວ · ភាសាខ្មែរ · မြန်မာစာ",
    "中文测试：明天天气怎么样？ 繁體中文 一二三 〇 〡〢",
    "日本語のテキスト、カタカナとひらがな。ｶﾀｶﾅ ｱｲｳ",
    "한국어 텍스트 안녕하세요 ᄀᄁ ᅡᅢ ᆨᆩ 가각 힣",
    "ትግርኛ ኣማርኛ · ᏣᎳᎩ · ᐃᓄᒃᑎᑐᑦ · ᚠᚢᚦᚨᚱᚲ · ᠮᠣᠩᠭᠣᠯ",
    "𝐀𝐁𝐂 𝒜ℬ𝒞 𝔄𝔅ℭ 𝟎𝟏𝟐 ＡＢＣ ａｂｃ ０１２ ①②③ ⅠⅡⅫ ½ ¾ ² ³ ㊿",
    "ﬁne ﬂour ﬀ ﬃ ﬄ ﬅ ﬆ Ǆ ǅ ǆ Ǳ ǲ ǳ Ĳ ĳ ŉ ſ ẛ",
    "e\u0301 a\u0300 o\u0302\u0323 n\u0303 Z\u0335\u0336 q\u0307\u0323 \u0345 Α\u0345",
    "👍🏽 👨\u200d👩\u200d👧\u200d👦 🏳️\u200d🌈 🇫🇷🇯🇵 1️⃣ #️⃣ 🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    "zero\u200bwidth\u200cnon\u200djoiner\u2060wj \u00adsoft\u00adhyphen",
    "bidi \u202eevil\u202c \u2066iso\u2069 \u200fRLM\u200e",
    "tabs\tand\nnewlines\r\nand\x0bvertical\x0cfeed\x1cfs\x1dgs\x1ers\x1fus",
    "nel\u0085line\u2028sep\u2029para\u00a0nbsp\u3000ideo\u2003em\u202fnnbsp\u205fmmsp\u1680ogham",
    "\ufeffbom at start \ufeff in the middle \ufeff",
    "nul\x00inside\x00text \x01\x02\x7f\x80\x9f",
    "unassigned \u0378\u0379 \u0380 \U0001fae8 \U0001f6dc new-in-15 \U00031350",
    "noncharacters \ufdd0 \ufffe \uffff \U0001fffe \U0010ffff private \ue000 \U000f0000",
    "snake_case_words and_under__scores __init__ _ __ a_b",
    "numbers 3.14 1,000 -7 +1 1e10 0x1F 007 ٣ ३ ௩ ๓ ៣",
    "mixed العربية and English و Ελληνικά in one line",
    "punctuation!!! ??? ... ,,, ;;; ::: --- ''' \"\"\" ``` ~~~ ^^^ *** &&&",
    "URLs http://example.com/path?q=1&x=y mail@example.org #hashtag @mention",
    "ALL CAPS SENTENCE WITH SOME WORDS",
    "lower case sentence with some words",
    "Title Case Sentence With Some Words",
    "ǅungla ǲ Ǆ ǈ ǋ ᾈ ᾉ ᾘ ᾨ ῼ",
    "Hangul syllables 가 각 갂 갃 간 한국어 and jamo ᄒ ᅡ ᆫ",
    "Arabic presentation forms ﷲ ﷳ ﻻ ﻼ ﺍ ﺏ and ligature ﷺ",
    "Vietnamese Tiếng Việt có dấu: ề ở ữ ặ ị Ỵ",
    "Dotless ı and dotted İ, Turkish: İSTANBUL istanbul ISTANBUL",
]

SPECIAL = [
    "", " ", "  ", "\t", "\n", "\r\n", " \t \n ", "a", "ab", "A", "Σ", "ΑΣ", "ΑΣ ", "ΑΣΑ", "Σ.Α", "ΑΣ.", "Α'Σ", "ΑΣ\u0345",
    "ʰΣ", "\u0345Σ", "İ", "İİ", "ß", "ẞ", "ﬁ", "ﬃ", "Ǆ", "ǅ", "ŉ", "ΐ", "ﷺ", "\ufdfa" * 3, "\ufdfd", "¼½¾", "\u2044",
    "👍", "\u200d", "\ufeff", "\x00", "\u0378", "\ufffd", "\U0010ffff", "e\u0301", "\u0301", "_", "__", "a_", "_a", "9", "99",
    "a b", "a  b", "a\u00a0\u00a0b", "a\u3000b", "a \u3000 b", "x" * 100, "ab " * 50, "İİİ ΣΣΣ ßßß",
]

# ill-formed UTF-8 pieces of every class of spec §4
BAD_BYTES = [
    b"\x80", b"\xbf", b"\xc0", b"\xc1", b"\xc0\xaf", b"\xc2", b"\xdf", b"\xe0\x80\x80", b"\xe0\xa0", b"\xe0\x9f\xbf",
    b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xed\x9f", b"\xef\xbf", b"\xf0\x80\x80\x80", b"\xf0\x8f\xbf\xbf", b"\xf0\x90\x80",
    b"\xf4\x90\x80\x80", b"\xf4\x8f\xbf", b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xfc", b"\xfe", b"\xff",
    b"\xe2\x82", b"\xf0\x9f\x8e", b"\xc3\x28", b"\xa0\xa1", b"\xe2\x28\xa1", b"\xf0\x28\x8c\xbc",
]

POOL = sorted(set("".join(SCRIPTS) + "".join(SPECIAL)))
WORDS = ["play", "music", "the", "beatles", "weather", "rain", "alarm", "set", "tomorrow", "song", "café", "naïve", "straße", "οδος", "москва", "東京", "한국"]

LONG_LENGTH = 64 * 1024


def hard_strings() -> list[bytes]:
    """The corpus, as UTF-8 (or deliberately ill-formed) bytes."""
    rng = random.Random(20261129)
    out: list[bytes] = [s.encode("utf-8") for s in SCRIPTS + SPECIAL]
    for _ in range(700):
        parts = []
        for _ in range(rng.randint(0, 12)):
            r = rng.random()
            if r < 0.4:
                w = rng.choice(WORDS)
                parts.append(rng.choice([w, w.upper(), w.title()]))
            elif r < 0.8:
                parts.append("".join(rng.choice(POOL) for _ in range(rng.randint(1, 6))))
            else:
                parts.append(chr(rng.choice([rng.randint(0x20, 0x7E), rng.randint(0xA0, 0x2FFF), rng.randint(0x3000, 0xFFFD), rng.randint(0x10000, 0x10FFFF)])).replace("\ud800", ""))
        sep = rng.choice([" ", "  ", "\t", "\u3000", "\u00a0", ", ", "-", ""])
        text = sep.join(parts)
        out.append(text.encode("utf-8", "replace"))
    for _ in range(250):
        base = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 5))).encode()
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(base))
            base = base[:at] + rng.choice(BAD_BYTES) + base[at:]
        out.append(base)
    out.extend(BAD_BYTES)
    long_text = []
    size = 0
    while size < LONG_LENGTH:
        s = rng.choice(SCRIPTS)
        long_text.append(s)
        size += len(s.encode()) + 1
    out.append(" ".join(long_text).encode()[:LONG_LENGTH].decode("utf-8", "ignore").encode())
    return out
