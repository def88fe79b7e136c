"""Answer matching, SQuAD-style: case, punctuation, articles and spacing do not count."""

from __future__ import annotations

import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """ "The Quorin Labs." -> "quorin labs": lower-case, drop punctuation and the articles a/an/the, collapse spaces."""
    text = str(text).lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def is_correct(answer: str, gold: str) -> bool:
    return normalize_answer(answer) == normalize_answer(gold)
