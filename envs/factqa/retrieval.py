"""BM25 keyword search over the fact sentences (bm25s), deterministic on every machine.

Tokens are lower-cased runs of word characters minus BM25's English stopwords (bm25s's list), as in
envs/webshop/search.py. Only documents sharing a word with the query are hits, and ties go to the lower
corpus position, so a query returns the same facts in the same order everywhere.

Length normalisation is halved (b=0.5 instead of 0.75): every fact is one short sentence, and at 0.75 the
extra word of a two-word organisation name outweighs a matched relation word, so "Varnel Osk works at"
ranked "Varnel Osk was born in Tarsk." above "Varnel Osk works at Quorin Labs.". At 0.5 each fact's own
subject-and-relation query ranks it first (tests/test_factqa_env.py checks every fact).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN

_TOKEN = re.compile(r"\w+")
_STOPWORDS = frozenset(STOPWORDS_EN)
_LENGTH_NORMALISATION = 0.5


def tokenize(text: str) -> list[str]:
    return [token for token in _TOKEN.findall(text.lower()) if token not in _STOPWORDS]


class FactIndex:
    """search(query, k) -> corpus positions of the k best-matching documents, best first."""

    def __init__(self, documents: Sequence[str]) -> None:
        self._retriever = bm25s.BM25(b=_LENGTH_NORMALISATION)
        self._retriever.index([tokenize(document) for document in documents], show_progress=False)

    def search(self, query: str, k: int) -> tuple[int, ...]:
        known = [token for token in tokenize(query) if token in self._retriever.vocab_dict]
        if not known:  # no query word occurs in any document: no hits
            return ()
        scores = self._retriever.get_scores(known)
        hits = np.flatnonzero(scores > 0)
        order = hits[np.lexsort((hits, -scores[hits]))][:k]  # score descending, then corpus position ascending
        return tuple(int(position) for position in order)
