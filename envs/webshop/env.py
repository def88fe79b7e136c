"""WebShopEnv: the TextEnv of the shop (WebShop's pages, action grammar and reward), on the original data or the
generated catalogue (`_open_shop` picks one from the keywords)."""

from __future__ import annotations

import os
import re
from dataclasses import asdict
from typing import Any

from agentrl.envs.base import TextEnv, numbered_task_ids, parse_numbered_task_id
from agentrl.envs.webshop.expert import expert_action, search_action
from agentrl.envs.webshop.goals import Goal
from agentrl.envs.webshop.original_data import DATA_ENV_VAR, WebShopDataError, resolve_source
from agentrl.envs.webshop.pages import BUTTONS, RESULTS, SEARCH, SEP, View, render
from agentrl.envs.webshop.reward import reward_breakdown
from agentrl.envs.webshop.shop import Shop, get_original_shop, get_shop

# WebShop's action grammar: search[keywords] or click[value]; the argument is matched lower-cased.
_ACTION = re.compile(r"^\s*(search|click)\s*\[(.*)\]\s*$", re.DOTALL)


# Keywords of the original data only, with their defaults: set on the generated catalogue they are an error.
ORIGINAL_DATA_DEFAULTS = {
    "product_set": "small",
    "human_goals": False,
    "goal_shuffle_seed": 233,
    "num_dev_goals": 1000,
    "train_excludes_dev": False,
    "noun_tagger": "auto",
}


class WebShopEnv(TextEnv):
    """Find and buy the product an instruction asks for, in WebShop's original data or a generated shop.

    Task ids read "{name}/{split}/{index:05d}"; a task's goal is fixed by the id and the shop's arguments
    (data, seed, split sizes). The reward, given once at "click[buy now]", is WebShop's.
    """

    def __init__(
        self,
        name: str = "webshop",
        max_steps: int = 15,
        num_products: int = 4000,
        seed: int = 0,
        num_test_goals: int = 500,
        shop: Shop | None = None,
        source: str = "auto",
        data_path: str | os.PathLike | None = None,
        **original: Any,
    ) -> None:
        """`shop`: a prebuilt Shop (a hand-made catalogue, say); otherwise the cached one of the arguments:
        the original data when `source` / `data_path` / $WEBSHOP_DATA say so (original_data.resolve_source),
        with the keywords of ORIGINAL_DATA_DEFAULTS, else the generated catalogue of num_products."""
        if max_steps < 1:
            raise ValueError(f"{name}: max_steps must be at least 1, got {max_steps}")
        self.name = name
        self.max_steps = max_steps
        if shop is None:
            shop = _open_shop(num_products, seed, num_test_goals, source, data_path, original)
        self.shop: Shop = shop
        self.data_source = self.shop.data_source
        self._split_sizes = {split: len(goals) for split, goals in self.shop.splits.items()}
        self._goal: Goal | None = None
        self._expert_query: str | None = None
        self._task_id = ""
        self._view = View()
        self._observation = ""
        self._clicks: dict[str, View | str] = {}
        self._steps = 0
        self._done = False
        self._reward = 0.0

    def task_ids(self, split: str) -> list[str]:
        return numbered_task_ids(self.name, split, self._split_sizes)

    def goal(self, task_id: str) -> Goal:
        """The goal behind `task_id`; raises UnknownTaskError for an id no split holds."""
        split, index = parse_numbered_task_id(self.name, task_id, self._split_sizes)
        return self.shop.splits[split][index]

    def _reset(self, task_id: str) -> tuple[str, dict[str, Any]]:
        self._goal = self.goal(task_id)
        self._expert_query = self.shop.expert_query(self._goal)
        self._task_id = task_id
        self._steps = 0
        self._done = False
        self._reward = 0.0
        self._show(View())
        return self._observation, self._info(valid=True, unknown_entity=False)

    def step(self, action: str) -> tuple[str, float, bool, dict[str, Any]]:
        if self._goal is None:
            raise RuntimeError("call reset before step")
        if self._done:
            raise RuntimeError("episode is over; call reset")
        self._steps += 1
        match = _ACTION.match(str(action).lower())
        verb, argument = (match.group(1), " ".join(match.group(2).split())) if match else ("", "")
        valid = unknown_entity = False
        purchase: dict[str, Any] | None = None
        if verb == "search" and self._view.kind == SEARCH and argument:
            results = tuple(product.asin for product in self.shop.search(argument))
            self._show(View(kind=RESULTS, query=argument, results=results))
            valid = True
        elif verb == "click" and argument in self._clicks:
            target = self._clicks[argument]
            if target == "buy":
                purchase = self._buy()
            else:
                self._show(target)
            valid = True
        elif verb == "click":
            unknown_entity = bool(argument) and argument not in BUTTONS
        if not self._done and self._steps >= self.max_steps:
            self._done = True
        info = self._info(valid=valid, unknown_entity=unknown_entity)
        if purchase is not None:
            info["purchase"] = purchase
        return self._observation, self._reward if purchase is not None else 0.0, self._done, info

    def _show(self, view: View) -> None:
        self._view = view
        self._observation, self._clicks = render(view, self._goal.instruction, self.shop)

    def _buy(self) -> dict[str, Any]:
        """End the episode with WebShop's reward for the product and options on the current item page."""
        product = self.shop.catalogue.by_asin[self._view.asin]
        price = self.shop.catalogue.prices[product.asin]
        options = self._view.chosen()
        parts = reward_breakdown(product, self._goal, price, options, self.shop.catalogue.nouns)
        self._reward = parts.total
        self._done = True
        self._clicks = {}
        self._observation = SEP.join(
            ("Thank you for shopping with us!", "Purchased", product.asin, product.title,
             "Your score (min 0.0, max 1.0)", f"{parts.total:.4g}")
        )  # fmt: skip
        return {"asin": product.asin, "price": price, "options": options, "breakdown": asdict(parts)}

    def _info(self, valid: bool, unknown_entity: bool) -> dict[str, Any]:
        goal = self._goal
        if self._done:
            admissible: list[str] = []
            anchor: tuple = ("done", *self._view.anchor())
            expert = None
        else:
            admissible = [search_action(goal)] if self._view.kind == SEARCH else [f"click[{c}]" for c in self._clicks]
            anchor = self._view.anchor()
            expert = expert_action(self._view, goal, self._expert_query)
        return {
            "task": goal.instruction,
            "task_id": self._task_id,
            "task_type": goal.task_type,
            "admissible_actions": admissible,
            "won": self._reward == 1.0,
            "valid": valid,
            "anchor": anchor,
            "expert_action": expert,
            "unknown_entity": unknown_entity,
        }


def _open_shop(
    num_products: int, seed: int, num_test_goals: int, source: str, data_path: Any, original: dict[str, Any]
) -> Shop:
    unknown = sorted(set(original) - set(ORIGINAL_DATA_DEFAULTS))
    if unknown:
        raise TypeError(f"webshop: unexpected keyword argument {unknown[0]!r}")
    folder = resolve_source(source, data_path)
    if folder is None:
        given = [key for key, value in original.items() if value != ORIGINAL_DATA_DEFAULTS[key]]
        if given:
            raise WebShopDataError(
                f"webshop: env_kwargs {given[0]!r} applies to WebShop's original data, and none is in use: set "
                f"data_path (or ${DATA_ENV_VAR}) to the data folder (docs/webshop.md), or drop {given[0]!r}"
            )
        return get_shop(num_products, seed, num_test_goals)
    if num_products != 4000:
        raise WebShopDataError(
            f"webshop: num_products applies to the generated catalogue; the original data ({folder}) is in use "
            "(choose its size with product_set: small or full)"
        )
    return get_original_shop(folder, seed=seed, num_test_goals=num_test_goals, **(ORIGINAL_DATA_DEFAULTS | original))
