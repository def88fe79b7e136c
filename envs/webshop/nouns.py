"""Noun taggers for the type reward on the original data: which words of a product name are nouns.

WebShop's type reward compares the nouns of the purchased and the goal product's names (reward.py,
title_score); the original tags them with spaCy's en_core_web_sm (tokens whose pos_ is NOUN, PROPN or
PNOUN, lower-cased, duplicates kept). The generated catalogue knows its own nouns; real product names need
a tagger:

    "auto"            en_core_web_sm when spaCy and the model are installed, else "heuristic" (with a
                      warning, since partial rewards can then differ from the original's)
    "en_core_web_sm"  (or any installed spaCy model name) exactly the original's rule; an error naming the
                      install command when the model is missing
    "heuristic"       every alphabetic word of two or more letters that is not a function word. Product
                      names are noun phrases, so most of their words are nouns; it over-counts adjectives
                      and verbs ("running", "waterproof"), which shifts title_score on purchases of a
                      different product (never on the target: its name is the goal's, title_score 1)

spaCy models are not on PyPI: `python -m spacy download en_core_web_sm` installs it (needs GitHub).
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable

DEFAULT_SPACY_MODEL = "en_core_web_sm"
NOUN_TAGS = ("PNOUN", "NOUN", "PROPN")  # the original's test, PNOUN included though spaCy never emits it
TAGGERS = ("auto", "heuristic")  # or the name of an installed spaCy model

_WORD = re.compile(r"[a-z]+")
# Determiners, pronouns, prepositions, conjunctions, auxiliaries and other words that are never nouns.
FUNCTION_WORDS = frozenset(
    """a about above after against all also an and any are as at be been before being below between both but by
    can could did do does each either else every few for from had has have he her here hers him his how if in
    into is it its just may me might more most much must my neither no nor not of off on once only or other our
    ours out over own per same shall she should so some such than that the their theirs them then there these
    they this those through to too under until up upon us very via was we were what when where which while who
    whom whose why will with within without would you your yours""".split()
)


def heuristic_nouns(name: str) -> list[str]:
    """The alphabetic words (two letters or more) of `name` that are not function words, lower-cased, in order."""
    return [word for word in _WORD.findall(name.lower()) if len(word) > 1 and word not in FUNCTION_WORDS]


def spacy_nouns(model: str = DEFAULT_SPACY_MODEL) -> Callable[[str], list[str]]:
    """The original's tagger: spaCy `model`'s NOUN / PROPN tokens of a name, lower-cased (names cached)."""
    try:
        import spacy

        nlp = spacy.load(model)
    except (ImportError, OSError) as error:
        raise ImportError(
            f"noun_tagger {model!r} needs spaCy and its model {model} ({str(error).splitlines()[0]}); install "
            f"them with `pip install spacy && python -m spacy download {model}` (the model comes from GitHub), "
            "or set env_kwargs noun_tagger: heuristic"
        ) from error

    @functools.lru_cache(maxsize=65536)
    def nouns(name: str) -> tuple[str, ...]:
        return tuple(token.text.lower() for token in nlp(name) if token.pos_ in NOUN_TAGS)

    return lambda name: list(nouns(name))


def spacy_model_installed(model: str = DEFAULT_SPACY_MODEL) -> bool:
    try:
        import spacy.util
    except ImportError:
        return False
    return bool(spacy.util.is_package(model))


def noun_tagger(kind: str = "auto") -> tuple[Callable[[str], list[str]], str]:
    """(tagger, the name it goes by) for `kind`: "auto", "heuristic" or a spaCy model name."""
    if kind == "heuristic":
        return heuristic_nouns, "heuristic"
    if kind == "auto":
        if spacy_model_installed(DEFAULT_SPACY_MODEL):
            return spacy_nouns(DEFAULT_SPACY_MODEL), DEFAULT_SPACY_MODEL
        warnings.warn(
            f"webshop: spaCy's {DEFAULT_SPACY_MODEL} is not installed, so the type reward tags nouns with a "
            "heuristic and partial rewards can differ from the original's; install it with `python -m spacy "
            f"download {DEFAULT_SPACY_MODEL}`, or set env_kwargs noun_tagger: heuristic to silence this",
            UserWarning,
            stacklevel=3,
        )
        return heuristic_nouns, "heuristic"
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"webshop: noun_tagger must be 'auto', 'heuristic' or a spaCy model name, got {kind!r}")
    return spacy_nouns(kind), kind
