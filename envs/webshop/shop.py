"""The shop: catalogue, search index, goals and the fixed splits, built once per process.

Two kinds: the generated shop of one (num_products, seed) (`get_shop`), and the shop of WebShop's original
data (`get_original_shop`; original_data.py reads the files, original_goals.py makes the goals and split).
Building takes about a second for the generated one (the BM25 index is most of it), so shops are cached per
process: every env made with the same arguments shares one, and each worker process builds its own
identical copy.

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
from dataclasses import dataclass, field
from pathlib import Path

from agentrl.envs.base import SPLITS
from agentrl.envs.webshop.catalogue import Catalogue, Product, generate_catalogue
from agentrl.envs.webshop.goals import Goal, make_goal
from agentrl.envs.webshop.search import ORIGINAL_BM25, EnglishAnalyzer, SearchIndex, original_document
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
    data_source: str = "generated catalogue"  # what `agentrl envs` and the env's description report
    _expert_queries: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)

    def search(self, query: str) -> tuple[Product, ...]:
        """The top TOP_K products for `query`, best first."""
        return tuple(self.catalogue.products[index] for index in self.index.search(query))

    def expert_query(self, goal: Goal) -> str:
        """The search the expert makes: the goal's keywords when their results list the target (always, in the
        generated shop), else the target's lower-cased title when that lists it, else the keywords."""
        key = (goal.asin, goal.keywords)
        if key not in self._expert_queries:
            query = goal.keywords
            if all(product.asin != goal.asin for product in self.search(query)):
                title = " ".join(self.catalogue.by_asin[goal.asin].title.lower().split())
                if any(product.asin == goal.asin for product in self.search(title)):
                    query = title
            self._expert_queries[key] = query
        return self._expert_queries[key]


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
    source = f"generated catalogue ({num_products} products, seed {seed})"
    return Shop(catalogue=catalogue, index=index, splits=splits, dropped=dropped, data_source=source)


_ORIGINAL_SHOPS: dict[tuple, Shop] = {}


def get_original_shop(
    folder: Path,
    product_set: str = "small",
    human_goals: bool = False,
    seed: int = 0,
    goal_shuffle_seed: int = 233,
    num_test_goals: int = 500,
    num_dev_goals: int = 1000,
    train_excludes_dev: bool = False,
    noun_tagger: str = "auto",
) -> Shop:
    """The shop of WebShop's original data in `folder` (original_data.py), built on first use and cached."""
    key = (str(folder.resolve()), product_set, human_goals, seed, goal_shuffle_seed, num_test_goals, num_dev_goals,
           train_excludes_dev, noun_tagger)  # fmt: skip
    if key not in _ORIGINAL_SHOPS:
        _ORIGINAL_SHOPS[key] = build_original_shop(folder, *key[1:])
    return _ORIGINAL_SHOPS[key]


def build_original_shop(
    folder: Path,
    product_set: str,
    human_goals: bool,
    seed: int,
    goal_shuffle_seed: int,
    num_test_goals: int,
    num_dev_goals: int,
    train_excludes_dev: bool,
    noun_tagger: str,
) -> Shop:
    from agentrl.envs.webshop import original_goals
    from agentrl.envs.webshop.nouns import noun_tagger as make_tagger
    from agentrl.envs.webshop.original_data import load_original_data

    data = load_original_data(folder, product_set, human_goals)
    tagger, tagger_name = make_tagger(noun_tagger)
    # The original's unseeded draws, from one generator seeded with the env's seed: all prices, then the bounds.
    rng = random.Random(seed)
    prices = original_goals.draw_prices(data.products, rng)
    make_goals = original_goals.human_goals if human_goals else original_goals.synthetic_goals
    goals = make_goals(data.products, prices, data.instructions, rng)
    splits = original_goals.split_goals(goals, goal_shuffle_seed, num_test_goals, num_dev_goals, train_excludes_dev)
    catalogue = Catalogue(seed=seed, products=data.products, prices=prices, brands=frozenset(), noun_fn=tagger)
    index = SearchIndex(data.products, original_document, EnglishAnalyzer(), **ORIGINAL_BM25)
    return Shop(catalogue, index, splits, dropped=0, data_source=f"{data.description}, nouns: {tagger_name}")
