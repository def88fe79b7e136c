"""The shop of one (num_products, seed): catalogue, search index, goals and the fixed splits, built once.

Building takes about a second (the BM25 index is most of it), so shops are cached per process: every
env made with the same arguments shares one, and each worker process builds its own identical copy.

Splits, as WebShop defines them, with one addition:
    eval_out  goals on the product types in HELD_OUT_QUERIES (one per group): kinds of product no train
              or eval_in goal asks for (their products are still in the catalogue, as distractors)
    eval_in   WebShop's test split: the first `num_test_goals` (500) of a fixed shuffle of the others
    train     the rest of that shuffle
A goal is kept only when its own admissible search (`Goal.keywords`) lists the target among the top
TOP_K results, so the expert can reach reward 1.0 on every task; `Shop.dropped` counts the others
(183 of 4000, 4.6%, with the defaults).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from agentrl.envs.base import SPLITS
from agentrl.envs.webshop.catalogue import Catalogue, Product, generate_catalogue
from agentrl.envs.webshop.goals import Goal, make_goal
from agentrl.envs.webshop.search import SearchIndex
from agentrl.envs.webshop.vocabulary import PRODUCT_TYPES

HELD_OUT_QUERIES = frozenset(
    {
        "men's hoodies",
        "women's slide sandals",
        "gel nail polish",
        "roasted almonds",
        "blackout curtains",
        "bluetooth speaker",
    }
)
assert HELD_OUT_QUERIES <= {kind.query for kind in PRODUCT_TYPES}


@dataclass
class Shop:
    catalogue: Catalogue
    index: SearchIndex
    splits: dict[str, tuple[Goal, ...]]
    dropped: int  # goals left out because their own search misses the target

    def search(self, query: str) -> tuple[Product, ...]:
        """The top TOP_K products for `query`, best first."""
        return tuple(self.catalogue.products[index] for index in self.index.search(query))


_SHOPS: dict[tuple[int, int, int], Shop] = {}


def get_shop(num_products: int = 4000, seed: int = 0, num_test_goals: int = 500) -> Shop:
    """The shop of these arguments, built on first use and cached for the process."""
    key = (num_products, seed, num_test_goals)
    if key not in _SHOPS:
        _SHOPS[key] = build_shop(*key)
    return _SHOPS[key]


def build_shop(num_products: int, seed: int, num_test_goals: int) -> Shop:
    catalogue = generate_catalogue(num_products, seed)
    index = SearchIndex(catalogue.products)
    held_out: list[Goal] = []
    others: list[Goal] = []
    dropped = 0
    for position, product in enumerate(catalogue.products):
        goal = make_goal(product, catalogue.prices[product.asin], random.Random(f"webshop-goal-{seed}-{position}"))
        if position not in index.search(goal.keywords):
            dropped += 1
            continue
        (held_out if goal.query in HELD_OUT_QUERIES else others).append(goal)
    random.Random(f"webshop-split-{seed}").shuffle(others)
    if not 0 < num_test_goals < len(others):
        raise ValueError(
            f"webshop: num_test_goals must be between 1 and {len(others) - 1} for {num_products} products, "
            f"got {num_test_goals}"
        )
    splits = {
        "train": tuple(others[num_test_goals:]),
        "eval_in": tuple(others[:num_test_goals]),
        "eval_out": tuple(held_out),
    }
    assert set(splits) == set(SPLITS)
    return Shop(catalogue=catalogue, index=index, splits=splits, dropped=dropped)
