"""webshop: a WebShop-style shop on a generated catalogue (same pages, action grammar and reward).

Real WebShop cannot run offline (its product data, spaCy model and Lucene index are downloads), so this
package generates the catalogue instead: 4000 products by default, in families of a base product and its
attribute / option / price near-misses, over 48 product types in WebShop's five groups. Everything the
agent sees and is scored by follows the original:
    pages       search, results (top 50, 10 a page), item (options), description / features / reviews,
                strings joined by " [SEP] " (pages.py)
    actions     search[keywords] on the search page, click[value] of a lower-cased button, ASIN or
                option value elsewhere; anything else is a no-op with reward 0 and valid=False
    reward      WebShop's get_reward at click[buy now], quirks included (reward.py); 0 on other steps.
                score = mean reward, success = reward == 1.0. max_steps 15 (the benchmark's).
    search      BM25 (bm25s) over Title + Description + first bullet + option values (search.py)

Admissible actions: on the search page the single action search[<the instruction without its price
clause>] (any other search[...] text is accepted too); elsewhere every click of the page. The expert
(expert_action) searches that text, pages to the target, clicks it, its goal options, and buys.

Splits (shop.py): eval_in is WebShop's test split, the first 500 goals of a fixed shuffle; train the
rest; eval_out the goals on 6 held-out product types (one or two per group) that train never targets.
Sizes with the defaults: train 2827, eval_in 500, eval_out 490 (183 of the 4000 goals are left out
because their own search misses the target). Task ids read "webshop/eval_in/00042".

Measured with the defaults (seed 0) on the 500 eval_in goals (tests/test_webshop_env.py prints them):
    expert                                   score 1.000, success 100% (at most 10 steps)
    random, uniform over admissible actions  score 0.292, success 4.2% (random.Random(0); it buys in
                                             47% of episodes; seeds 1, 2: 0.298 / 3.2%, 0.304 / 4.8%)
    a random top-50 result of the goal's     score 0.580, success 8.0%; 85% of the rewards lie strictly
      own search, random options             between 0 and 1 (random.Random(1))
Building the shop takes 1.5-2 s once per process (cached); then about 5 microseconds a reset and
100 a step (10k steps/s) on one core.

Factory kwargs: max_steps (15), num_products (4000), seed (0), num_test_goals (500).
"""

from __future__ import annotations

from typing import Any

from agentrl.envs.base import TextEnv
from agentrl.envs.registry import register_env


@register_env("webshop", "WebShop-style shopping on a generated catalogue (WebShop's pages and reward)")
def webshop(max_steps: int = 15, **kwargs: Any) -> TextEnv:
    try:
        from agentrl.envs.webshop.env import WebShopEnv
    except ImportError as error:  # bm25s / rapidfuzz are the optional `webshop` extra
        raise ImportError(
            f"the webshop environment needs bm25s and rapidfuzz ({error}); install them with "
            'pip install -e ".[webshop]"'
        ) from error
    return WebShopEnv("webshop", max_steps=max_steps, **kwargs)


__all__ = ["webshop"]
