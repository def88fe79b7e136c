"""WebShopEnv: the TextEnv of the generated shop (WebShop's pages, action grammar and reward)."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from agentrl.envs.base import TextEnv, numbered_task_ids, parse_numbered_task_id
from agentrl.envs.webshop.expert import expert_action, search_action
from agentrl.envs.webshop.goals import Goal
from agentrl.envs.webshop.pages import BUTTONS, RESULTS, SEARCH, SEP, View, render
from agentrl.envs.webshop.reward import reward_breakdown
from agentrl.envs.webshop.shop import Shop, get_shop

# WebShop's action grammar: search[keywords] or click[value]; the argument is matched lower-cased.
_ACTION = re.compile(r"^\s*(search|click)\s*\[(.*)\]\s*$", re.DOTALL)


class WebShopEnv(TextEnv):
    """Find and buy the product an instruction asks for, in a generated WebShop-style shop.

    Task ids read "{name}/{split}/{index:05d}"; a task's goal is fixed by the id and the shop's
    (num_products, seed, num_test_goals). The reward, given once at "click[buy now]", is WebShop's.
    """

    def __init__(
        self,
        name: str = "webshop",
        max_steps: int = 15,
        num_products: int = 4000,
        seed: int = 0,
        num_test_goals: int = 500,
        shop: Shop | None = None,
    ) -> None:
        """`shop`: a prebuilt Shop (a hand-made catalogue, say); otherwise the cached one of the arguments."""
        if max_steps < 1:
            raise ValueError(f"{name}: max_steps must be at least 1, got {max_steps}")
        self.name = name
        self.max_steps = max_steps
        self.shop: Shop = shop if shop is not None else get_shop(num_products, seed, num_test_goals)
        self._split_sizes = {split: len(goals) for split, goals in self.shop.splits.items()}
        self._goal: Goal | None = None
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
            expert = expert_action(self._view, goal)
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
