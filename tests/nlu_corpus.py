"""A small synthetic intent corpus for the converter and runtime tests (deterministic)."""

from __future__ import annotations

import random

INTENTS = {
    "play_music": ["play {artist}", "put on some {artist}", "i want to hear {artist} please", "play songs by {artist}"],
    "weather": ["will it rain in {city}", "what's the weather in {city} today", "is it cold in {city}", "forecast for {city}"],
    "alarm": ["wake me up at {time}", "set an alarm for {time}", "alarm at {time} tomorrow", "please wake me at {time}"],
    "translate": ["how do you say {word} in {lang}", "translate {word} to {lang}", "what is {word} in {lang}"],
}
FILL = {
    "artist": ["the beatles", "Björk", "Sigur Rós", "beyoncé", "AC/DC", "daft punk", "Mötley Crüe", "坂本龍一"],
    "city": ["São Paulo", "zürich", "New York", "KRAKÓW", "reykjavík", "東京", "paris", "Montréal"],
    "time": ["7:30", "6 am", "noon", "quarter past five", "07h00", "midnight"],
    "word": ["hello", "thank you", "good night", "café", "naïve", "über"],
    "lang": ["french", "spanish", "german", "japanese", "Íslenska"],
}


def corpus(n: int = 400, seed: int = 0, intents: list[str] | None = None) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    names = intents or sorted(INTENTS)
    texts, labels = [], []
    for i in range(n):
        label = names[i % len(names)]
        t = rng.choice(INTENTS[label])
        text = t.format(**{k: rng.choice(v) for k, v in FILL.items()})
        if rng.random() < 0.2:
            text = text.upper()
        if rng.random() < 0.2:
            text = text + rng.choice(["!", "?", " please", "  ...", "\tnow"])
        texts.append(text)
        labels.append(label)
    return texts, labels


def dict_corpus(n: int = 300, seed: int = 0) -> tuple[list[dict], list[str]]:
    texts, labels = corpus(n, seed)
    docs = []
    rng = random.Random(seed + 1)
    for t in texts:
        words = t.lower().split()
        doc = {"first": words[0], "last": words[-1], "len": float(len(words)), "words": words}
        if rng.random() < 0.3:
            doc["has_digit"] = any(c.isdigit() for c in t)
        docs.append(doc)
    return docs, labels


TRICKY = [
    "",
    " ",
    "\t\n",
    "a",
    "Play THE Beatles!!!",
    "naïve café — déjà vu; Ærøskøbing",
    "e\u0301 combining accent and ﬁ ligature and Ⅻ numeral",
    "İstanbul ΣΊΣΥΦΟΣ straße",
    "emoji 🎵🎶 music 🎵",
    "tabs\tand  double  spaces\u00a0nbsp\u2003em",
    "punctuation: a,b;c.d!e?f(g)h[i]{j}<k>l\"m'n",
    "x" * 5000,
    " ".join(["play the beatles"] * 300),
    "中文 日本語 한국어 العربية עברית",
]
