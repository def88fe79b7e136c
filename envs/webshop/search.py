"""BM25 product search (bm25s), standing in for WebShop's pyserini/Lucene index.

A product's document is its lower-cased Title + Description + first bullet point + option values, as
WebShop indexes it. Tokens are runs of word characters with Lucene's English stopwords removed (the
stopword list bm25s ships is Lucene's). A search returns at most TOP_K products, best first; only
documents sharing a word with the query are hits (Lucene returns no others), and ties go to the lower
catalogue index so results are the same on every machine.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN

from agentrl.envs.webshop.catalogue import Product

TOP_K = 50
_TOKEN = re.compile(r"\w+")
_STOPWORDS = frozenset(STOPWORDS_EN)
_CACHE_SIZE = 4096


def tokenize(text: str) -> list[str]:
    return [token for token in _TOKEN.findall(text.lower()) if token not in _STOPWORDS]


def document(product: Product) -> str:
    option_text = " ".join(value for values in product.options.values() for value in values)
    first_bullet = product.bullet_points[0] if product.bullet_points else ""
    return f"{product.title} {product.description} {first_bullet} {option_text}".lower()


class SearchIndex:
    """search(query) -> indices into `products` of the top TOP_K hits."""

    def __init__(self, products: Sequence[Product]) -> None:
        self._retriever = bm25s.BM25()
        self._retriever.index([tokenize(document(product)) for product in products], show_progress=False)
        self._cache: OrderedDict[tuple[str, ...], tuple[int, ...]] = OrderedDict()

    def search(self, query: str) -> tuple[int, ...]:
        tokens = tuple(tokenize(query))
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
