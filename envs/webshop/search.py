"""BM25 product search (bm25s), standing in for WebShop's pyserini/Lucene index.

A product's document is its lower-cased Title + Description + first bullet point + option text, as
WebShop indexes it. A search returns at most TOP_K products, best first; only documents sharing a word
with the query are hits (Lucene returns no others), and ties go to the lower catalogue index (Lucene's
doc-id order) so results are the same on every machine.

Two analyzers:
    generated catalogue  `tokenize`: runs of word characters, lower-cased, Lucene's English stopwords
                         removed (the list bm25s ships is Lucene's); bm25s' default k1 1.5, b 0.75
    original data        `EnglishAnalyzer`: what pyserini's default English analyzer does, as close as a
                         regex gets - StandardTokenizer-like tokens, possessive 's dropped, lower-case,
                         the same stopwords, Porter stemming (nltk, Martin Porter's reference variant,
                         which Lucene's PorterStemmer follows); pyserini's BM25 k1 0.9, b 0.4
                         (ORIGINAL_BM25). docs/webshop.md lists where this can still rank differently.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN

from agentrl.envs.webshop.catalogue import Product

TOP_K = 50  # WebShop's SEARCH_RETURN_N
ORIGINAL_BM25 = {"k1": 0.9, "b": 0.4}  # pyserini's LuceneSearcher defaults, which WebShop's index runs with
_TOKEN = re.compile(r"\w+")
_STOPWORDS = frozenset(STOPWORDS_EN)
_CACHE_SIZE = 4096
# Lucene's StandardTokenizer (Unicode word boundaries), roughly: word characters, joined across an apostrophe
# or a full stop between them ("men's", "u.s", "3.5") and across a comma between digits ("1,000").
_LUCENE_TOKEN = re.compile(r"\w+(?:(?:['\u2019.]|(?<=\d),(?=\d))\w+)*")
_POSSESSIVE = ("'s", "\u2019s", "'S", "\u2019S")


def tokenize(text: str) -> list[str]:
    return [token for token in _TOKEN.findall(text.lower()) if token not in _STOPWORDS]


def document(product: Product) -> str:
    option_text = " ".join(value for values in product.options.values() for value in values)
    first_bullet = product.bullet_points[0] if product.bullet_points else ""
    return f"{product.title} {product.description} {first_bullet} {option_text}".lower()


def original_document(product: Product) -> str:
    """The text WebShop indexes for a product: Title, Description, the first bullet point and the option text
    "name: v1, v2, and name2: w1", joined by spaces and lower-cased."""
    option_text = ", and ".join(f"{name}: {', '.join(values)}" for name, values in product.options.items())
    first_bullet = product.bullet_points[0] if product.bullet_points else ""
    return " ".join((product.title, product.description, first_bullet, option_text)).lower()


class EnglishAnalyzer:
    """Tokens as pyserini's default English analyzer makes them (see the module docstring); stems are cached,
    so the full 1.18M-product set stems each distinct word once."""

    def __init__(self) -> None:
        try:
            from nltk.stem.porter import PorterStemmer
        except ImportError as error:
            raise ImportError(
                f"the webshop environment on the original data stems words with nltk ({error}); install it with "
                'pip install -e ".[webshop]"'
            ) from error
        self._stem = PorterStemmer(mode=PorterStemmer.MARTIN_EXTENSIONS).stem
        self._stems: dict[str, str] = {}

    def __call__(self, text: str) -> list[str]:
        tokens = []
        for token in _LUCENE_TOKEN.findall(text):
            if token.endswith(_POSSESSIVE):
                token = token[:-2]
            token = token.lower()
            if not token or token in _STOPWORDS:
                continue
            stem = self._stems.get(token)
            if stem is None:
                stem = self._stems[token] = self._stem(token)
            tokens.append(stem)
        return tokens


class SearchIndex:
    """search(query) -> indices into `products` of the top TOP_K hits.

    `document_fn` gives a product's text, `tokenize_fn` turns it (and a query) into terms, k1 and b are BM25's;
    the defaults are the generated catalogue's.
    """

    def __init__(
        self,
        products: Sequence[Product],
        document_fn: Callable[[Product], str] = document,
        tokenize_fn: Callable[[str], list[str]] = tokenize,
        k1: float = 1.5,
        b: float = 0.75,
    ) -> None:
        self._tokenize = tokenize_fn
        self._retriever = bm25s.BM25(k1=k1, b=b)
        self._retriever.index([tokenize_fn(document_fn(product)) for product in products], show_progress=False)
        self._cache: OrderedDict[tuple[str, ...], tuple[int, ...]] = OrderedDict()

    def search(self, query: str) -> tuple[int, ...]:
        tokens = tuple(self._tokenize(query))
        hit = self._cache.get(tokens)
        if hit is None:
            hit = self._rank(tokens)
            self._cache[tokens] = hit
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return hit

    def _rank(self, tokens: tuple[str, ...]) -> tuple[int, ...]:
        known = [token for token in tokens if token in self._retriever.vocab_dict]
        if not known:  # no query word occurs in any product: no hits, as in Lucene
            return ()
        scores = self._retriever.get_scores(known)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > TOP_K:  # keep the hits scoring at least the TOP_K-th best (ties included)
            cutoff = np.partition(scores[hits], len(hits) - TOP_K)[len(hits) - TOP_K]
            hits = hits[scores[hits] >= cutoff]
        # Stable order: score descending, then catalogue index ascending.
        order = hits[np.lexsort((hits, -scores[hits]))][:TOP_K]
        return tuple(int(index) for index in order)
