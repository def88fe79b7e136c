"""Invented names built from syllables ("Varnel", "Quorin"), never drawn from a list of real ones.

One NameMaker makes every word of a world, so a word names one thing only: a person's surname is never
also a city, which keeps a keyword search on a name from drifting to an unrelated kind of entity. Words
that the fact sentences or the questions use ("works", "born", ...) and BM25's stopwords are never made,
for the same reason.
"""

from __future__ import annotations

import random

from bm25s.stopwords import STOPWORDS_EN

# Repeats weight the draw toward soft, readable names ("Varnel Osk", "Quorin Labs").
_ONSETS = ("", "b", "br", "d", "dr", "f", "g", "h", "k", "kr", "l", "l", "m", "m", "n", "n", "p", "qu", "r", "r")
_ONSETS += ("s", "s", "st", "t", "t", "th", "tr", "v", "v", "z")
_NUCLEI = ("a", "a", "e", "e", "i", "o", "o", "u", "ai", "ei")
_CODAS = ("", "", "", "", "l", "n", "n", "r", "r", "s", "k", "m", "th")
_MAX_LETTERS = 9
_VOWELS = frozenset("aeiou")

# Words of the fact sentences, the questions and the tool texts.
RESERVED_WORDS = frozenset(STOPWORDS_EN) | {
    "born",
    "city",
    "country",
    "founded",
    "founder",
    "headquartered",
    "lives",
    "located",
    "organisation",
    "person",
    "what",
    "where",
    "which",
    "who",
    "work",
    "works",
}


class NameMaker:
    """Unique capitalised words from a seeded random.Random, each made at most once."""

    def __init__(self, rng: random.Random, reserved: frozenset[str] = RESERVED_WORDS) -> None:
        self._rng = rng
        self._used = {word.lower() for word in reserved}

    def reserve(self, words: list[str] | tuple[str, ...]) -> None:
        """Words (fixed ones such as "Labs") the maker must never produce."""
        self._used |= {word.lower() for word in words}

    def word(self, syllables: tuple[int, int] = (2, 2), suffix: str = "") -> str:
        """A new word of min..max syllables (plus `suffix`), 4 to 9 letters before the suffix."""
        for _ in range(1000):
            count = self._rng.randint(*syllables)
            stem = "".join(self._syllable() for _ in range(count))
            vowels_meet = suffix[:1] in _VOWELS and stem[-1] in _VOWELS
            text = stem + ("n" + suffix if vowels_meet else suffix)  # "Stasno" + "ia" -> "Stasnonia"
            if 4 <= len(stem) <= _MAX_LETTERS and text not in self._used:
                self._used.add(text)
                return text.capitalize()
        raise RuntimeError("ran out of syllable names; ask for fewer entities")

    def words(self, count: int, syllables: tuple[int, int] = (2, 2), suffix: str = "") -> list[str]:
        return [self.word(syllables, suffix) for _ in range(count)]

    def _syllable(self) -> str:
        return self._rng.choice(_ONSETS) + self._rng.choice(_NUCLEI) + self._rng.choice(_CODAS)
