"""Prices, goals and the fixed split of the original WebShop data, by the original's rules.

Prices: one per product, in product order: the single price, or uniform in [x, y] for a range.
Goals, in product order (goals.py's `price_bound` draws each price bound):
    synthetic (default)  a product with an instruction in the attribute file gives one goal per combination
                         of its option values (itertools.product over the option names sorted; one goal when
                         it has no options): goal_options {name: value}, instruction
                         "<instruction> with name: value, and name2: value2" + price text; one price bound per
                         product, shared by its goals. A product without instruction attributes has no goals
                         (the original asserts they exist).
    human                each record of the human-goal file with instruction attributes (records without are
                         skipped): goal_options the record's option texts (a list), instruction the record's
                         text with trailing full stops stripped + price text; one price bound per record.
    price text           ", and price lower than X.XX dollars", or none when the bound is 1e6.
Split: the goal list shuffled once with random.Random(goal_shuffle_seed) (233: the original calls
random.seed(233); random.shuffle(goals), which gives the same order), then
    eval_in   the first num_test_goals (500): WebShop's test split, the goals the papers evaluate on
    eval_out  the next num_dev_goals (1000): WebShop's own dev range (500-1500) for its IL/RL baselines;
              WebShop has no out-of-distribution split
    train     every goal after the test split, as verl-agent (and so GiGPO, EMPG) trains; it includes
              eval_out. train_excludes_dev: train starts after eval_out, as WebShop's IL/RL code does.

Randomness: the original draws prices and price bounds from Python's global generator without seeding it,
so its price bounds (and the prices of range-priced products) change from run to run. Here one
random.Random(seed), the environment's seed, draws them in the original's order (all prices, then the
bounds), so a panel is the same on every machine and process. Which goals are in which split does not
depend on it: the shuffle uses its own fixed seed and the goal list's order, which prices do not change.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import replace

from agentrl.envs.webshop.catalogue import Product
from agentrl.envs.webshop.goals import NO_PRICE_BOUND, PRICE_CLAUSE, Goal, price_bound
from agentrl.envs.webshop.original_data import InstructionRecord, WebShopDataError
from agentrl.envs.webshop.reward import FUZZY_THRESHOLD, normalize_color, token_set_ratio

GOAL_SHUFFLE_SEED = 233
NUM_TEST_GOALS = 500
NUM_DEV_GOALS = 1000


def draw_prices(products: Sequence[Product], rng: random.Random) -> dict[str, float]:
    """asin -> the price a purchase is charged: pricing[0], or uniform(pricing[0], pricing[1]) (not rounded)."""
    return {
        product.asin: product.pricing[0] if len(product.pricing) == 1 else rng.uniform(*product.pricing[:2])
        for product in products
    }


def _price_text(bound: float) -> str:
    return "" if bound == NO_PRICE_BOUND else f"{PRICE_CLAUSE}{bound:.2f} dollars"


def synthetic_goals(
    products: Sequence[Product],
    prices: dict[str, float],
    instructions: dict[str, tuple[InstructionRecord, ...]],
    rng: random.Random,
) -> list[Goal]:
    goals = []
    for product in products:
        records = instructions.get(product.asin)
        if not records or not records[0].attributes:
            continue
        record = records[0]
        bound = price_bound(rng, prices[product.asin])
        names = sorted(product.options)
        for combination in itertools.product(*(product.options[name] for name in names)):
            goal_options = dict(zip(names, combination, strict=True))
            option_text = ", and ".join(f"{name}: {value}" for name, value in goal_options.items())
            option_text = f" with {option_text}" if option_text else ""
            goals.append(_goal(product, record.attributes, goal_options, bound, record.instruction + option_text))
    return goals


def human_goals(
    products: Sequence[Product],
    prices: dict[str, float],
    instructions: dict[str, tuple[InstructionRecord, ...]],
    rng: random.Random,
) -> list[Goal]:
    goals = []
    for product in products:
        for record in instructions.get(product.asin, ()):
            if not record.attributes:
                continue
            bound = price_bound(rng, prices[product.asin])
            goal = _goal(product, record.attributes, tuple(record.options), bound, record.instruction.strip("."))
            goals.append(replace(goal, expert_options=matching_options(product, record.options)))
    return goals


def _goal(product: Product, attributes, goal_options, bound: float, text: str) -> Goal:
    return Goal(
        asin=product.asin,
        name=product.name,
        query=product.query,
        category=product.category,
        attributes=tuple(attributes),
        goal_options=goal_options,
        price_upper=bound,
        instruction=text + _price_text(bound),
        task_type=product.group,
    )


def matching_options(product: Product, option_texts: Sequence[str]) -> dict[str, str]:
    """For each option text a person wrote, the product's option value that the reward would count for it
    (highest token_set_ratio above the threshold, colour-normalised as the reward does; first in page order on
    a tie), one value per option name. Texts no value matches are left out."""
    chosen: dict[str, str] = {}
    for text in option_texts:
        best: tuple[int, str, str] | None = None
        for name, values in product.options.items():
            if name in chosen:
                continue
            for value in values:
                score = token_set_ratio(normalize_color(value), normalize_color(text))
                if score > FUZZY_THRESHOLD and (best is None or score > best[0]):
                    best = (score, name, value)
        if best is not None:
            chosen[best[1]] = best[2]
    return chosen


def split_goals(
    goals: Sequence[Goal],
    goal_shuffle_seed: int = GOAL_SHUFFLE_SEED,
    num_test_goals: int = NUM_TEST_GOALS,
    num_dev_goals: int = NUM_DEV_GOALS,
    train_excludes_dev: bool = False,
) -> dict[str, tuple[Goal, ...]]:
    """The fixed shuffle and the split of the module docstring."""
    if num_test_goals < 1 or num_dev_goals < 0:
        raise WebShopDataError(
            f"webshop: num_test_goals must be at least 1 and num_dev_goals at least 0, got {num_test_goals} and "
            f"{num_dev_goals}"
        )
    train_start = num_test_goals + (num_dev_goals if train_excludes_dev else 0)
    if len(goals) <= train_start:
        raise WebShopDataError(
            f"webshop: the data gives {len(goals)} goals, too few for a test split of {num_test_goals}"
            + (f" and a dev split of {num_dev_goals}" if train_excludes_dev else "")
            + " and a non-empty train split; lower env_kwargs num_test_goals"
            + (" / num_dev_goals" if train_excludes_dev else "")
        )
    shuffled = list(goals)
    random.Random(goal_shuffle_seed).shuffle(shuffled)
    return {
        "train": tuple(shuffled[train_start:]),
        "eval_in": tuple(shuffled[:num_test_goals]),
        "eval_out": tuple(shuffled[num_test_goals : num_test_goals + num_dev_goals]),
    }
