"""Goals: one per product, drawn with WebShop's rules for synthetic goals.

    attributes    a random non-empty subset (at most 3) of the target's Attributes
    goal_options  one value of each of the target's options, as a dict {name: value}
    price_upper   PRICE_RANGE values above the target's price, the first 4 of them; sample 2, keep the
                  larger. With fewer than 2 such values the bound is 1e6 and the instruction says
                  nothing about price; otherwise it ends with ", and price lower than X dollars".

The instruction names the target's query (its kind of product), the attributes and the options, in one
of three phrasings, like WebShop's synthetic instructions ("... with color: black, and size: large").
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from agentrl.envs.webshop.catalogue import Product

PRICE_RANGE = tuple(10.0 * step for step in range(1, 100))  # 10, 20, ..., 990
NO_PRICE_BOUND = 1e6
PRICE_CLAUSE = ", and price lower than "


@dataclass(frozen=True)
class Goal:
    """What the shopper wants (WebShop's goal schema) and the instruction that says it."""

    asin: str  # the target product the goal was drawn from
    name: str
    query: str
    category: str
    attributes: tuple[str, ...]
    goal_options: dict[str, str] | tuple[str, ...]  # {name: value}; human goals: the option texts a person wrote
    price_upper: float
    instruction: str
    task_type: str  # the target's group: beauty, electronics, fashion, food or furniture
    expert_options: dict[str, str] | None = None  # human goals: the target's {name: value} their texts match

    @property
    def keywords(self) -> str:
        """The instruction without its price clause: the search the admissible list offers."""
        return self.instruction.split(PRICE_CLAUSE, 1)[0]

    @property
    def option_choices(self) -> dict[str, str]:
        """The options the expert clicks on the target's page: the goal's own dict, else `expert_options`."""
        if isinstance(self.goal_options, Mapping):
            return dict(self.goal_options)
        return dict(self.expert_options or {})


def price_bound(rng: random.Random, price: float) -> float:
    above = [bound for bound in PRICE_RANGE if bound > price][:4]
    if len(above) < 2:
        return NO_PRICE_BOUND
    return max(rng.sample(above, 2))


def make_goal(product: Product, price: float, rng: random.Random) -> Goal:
    """The goal of buying `product` (charged `price`), drawn with `rng`."""
    attributes = tuple(rng.sample(product.attributes, rng.randint(1, min(3, len(product.attributes)))))
    goal_options = {name: rng.choice(values) for name, values in product.options.items()}
    price_upper = price_bound(rng, price)
    instruction = _instruction(rng.randrange(3), product.query, attributes, goal_options)
    if price_upper != NO_PRICE_BOUND:
        instruction += f"{PRICE_CLAUSE}{price_upper:.2f} dollars"
    return Goal(
        asin=product.asin,
        name=product.name,
        query=product.query,
        category=product.category,
        attributes=attributes,
        goal_options=goal_options,
        price_upper=price_upper,
        instruction=instruction,
        task_type=product.group,
    )


def _instruction(template: int, query: str, attributes: tuple[str, ...], options: dict[str, str]) -> str:
    wanted = attributes[0] if len(attributes) == 1 else f"{', '.join(attributes[:-1])} and {attributes[-1]}"
    with_options = ", and ".join(f"{name}: {value}" for name, value in options.items())
    if template == 0:
        return f"find me {wanted} {query}" + (f" with {with_options}" if options else "")
    lead = f"i am looking for {query} which is {wanted}" if template == 1 else f"i need {query} that is {wanted}"
    return lead + (f", with {with_options}" if options else "")
