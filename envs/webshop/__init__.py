"""webshop: WebShop's shop on its original product data, or on a generated catalogue when that is absent.

Original data (original_data.py, original_goals.py; docs/webshop.md says how to get the files): with
`data_path` (or $WEBSHOP_DATA) naming a folder with WebShop's files, the env loads the 1000-product small set
(product_set: small, default) or the 1.18M-product full set (product_set: full), makes the original's
synthetic goals (human_goals: true for the human instructions), shuffles them with the original's fixed
seed (233) and splits them: eval_in = the first 500 (WebShop's test split, what the papers evaluate),
eval_out = the next 1000 (WebShop's dev range), train = everything after the first 500, as verl-agent
trains (train_excludes_dev: true starts it after eval_out). Prices and price bounds, which the original
draws unseeded, come from random.Random(seed). Search is BM25 over the original's document text with
pyserini's parameters and an English analyzer like Lucene's; the type reward's nouns come from spaCy's
en_core_web_sm when installed (noun_tagger), else a heuristic. The description `agentrl envs` prints names
the data in use (`env.data_source`). On the test fixture in the original schema (tests/webshop_fixture.py:
43 products, 539 synthetic and 41 human goals) the expert scores 1.0 on every goal and uniform random play
0.072 (success 0%) on the 500 test goals.

Generated catalogue (the default when no data folder is named): real WebShop cannot run offline (its
product data, spaCy model and Lucene index are downloads), so this package generates a catalogue instead:
4000 products by default, in families of a base product and its attribute / option / price near-misses,
over 48 product types in WebShop's five groups. Everything the agent sees and is scored by follows the
original:
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

Factory kwargs: max_steps (15), seed (0), num_test_goals (500); generated catalogue: num_products (4000);
data: source ("auto": the original data when data_path / $WEBSHOP_DATA names a folder, else generated;
"original"; "generated"), data_path; original data only: product_set ("small" / "full"), human_goals
(false), goal_shuffle_seed (233), num_dev_goals (1000), train_excludes_dev (false), noun_tagger ("auto",
"heuristic" or a spaCy model name).
"""

from __future__ import annotations

import os

from agentrl.envs.base import TextEnv
from agentrl.envs.registry import register_env


@register_env(
    "webshop",
    "WebShop: original data via data_path / $WEBSHOP_DATA, else a generated catalogue (its pages and reward)",
)
def webshop(
    max_steps: int = 15,
    seed: int = 0,
    num_test_goals: int = 500,
    num_products: int = 4000,
    source: str = "auto",
    data_path: str | os.PathLike | None = None,
    product_set: str = "small",
    human_goals: bool = False,
    goal_shuffle_seed: int = 233,
    num_dev_goals: int = 1000,
    train_excludes_dev: bool = False,
    noun_tagger: str = "auto",
) -> TextEnv:
    try:
        from agentrl.envs.webshop.env import WebShopEnv
    except ImportError as error:  # bm25s / rapidfuzz are the optional `webshop` extra
        raise ImportError(
            f"the webshop environment needs bm25s and rapidfuzz ({error}); install them with "
            'pip install -e ".[webshop]"'
        ) from error
    return WebShopEnv(
        "webshop",
        max_steps=max_steps,
        seed=seed,
        num_test_goals=num_test_goals,
        num_products=num_products,
        source=source,
        data_path=data_path,
        product_set=product_set,
        human_goals=human_goals,
        goal_shuffle_seed=goal_shuffle_seed,
        num_dev_goals=num_dev_goals,
        train_excludes_dev=train_excludes_dev,
        noun_tagger=noun_tagger,
    )


__all__ = ["webshop"]
