"""The webshop environment: page text, action grammar, paging, the expert, baselines, splits and speed."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

pytest.importorskip("bm25s")
pytest.importorskip("rapidfuzz")

from agentrl.envs import SPLITS, UnknownTaskError, check_info, list_envs, make_env  # noqa: E402
from agentrl.envs.webshop.catalogue import Catalogue, Product, generate_catalogue  # noqa: E402
from agentrl.envs.webshop.env import WebShopEnv  # noqa: E402
from agentrl.envs.webshop.goals import NO_PRICE_BOUND, PRICE_CLAUSE, PRICE_RANGE, Goal  # noqa: E402
from agentrl.envs.webshop.reward import normalize_color, process, webshop_reward  # noqa: E402
from agentrl.envs.webshop.search import SearchIndex  # noqa: E402
from agentrl.envs.webshop.shop import HELD_OUT_QUERIES, Shop  # noqa: E402
from agentrl.envs.webshop.vocabulary import PRODUCT_TYPES  # noqa: E402

# --- a hand-built shop: 12 identical-looking widgets (equal BM25 scores, so catalogue order) and a lamp ---

INSTRUCTION = "find me a sturdy widget with color: red, and size: large, and price lower than 30.00 dollars"
SEARCH = "search[find me a sturdy widget with color: red, and size: large]"


def _widget(index: int) -> Product:
    return Product(
        asin=f"B0WIDGET{index:02d}",
        name=f"Acme Widget {chr(65 + index)}",
        title=f"Acme Widget {chr(65 + index)}",
        description="A sturdy widget.",
        bullet_points=("STURDY: built to last.", "LIGHT WEIGHT: easy to carry."),
        query="widgets",
        category="Tools › Gadgets › Widgets",
        pricing=(12.99, 15.99) if index == 1 else (10.99,),
        options={"color": ("blue", "red"), "size": ("small", "large")},
        attributes=("sturdy", "light weight"),
        group="electronics",
        type_index=0,
        family=index,
    )


LAMP = Product(
    asin="B0LAMP0000",
    name="Bright Desk Lamp",
    title="Bright Desk Lamp",
    description="Lights up a desk.",
    bullet_points=("BRIGHT: many lumens.",),
    query="desk lamps",
    category="Home › Lighting › Lamps",
    pricing=(25.99,),
    options={},
    attributes=("bright",),
    group="furniture",
    type_index=1,
    family=99,
)


@pytest.fixture()
def small_env() -> WebShopEnv:
    products = (*(_widget(index) for index in range(12)), LAMP)
    prices = {product.asin: product.pricing[0] for product in products}
    prices["B0WIDGET01"] = 14.5  # drawn in [12.99, 15.99]
    catalogue = Catalogue(seed=0, products=products, prices=prices, brands=frozenset({"acme"}))
    goal = Goal(
        asin="B0WIDGET11",
        name="Acme Widget L",
        query="widgets",
        category="Tools › Gadgets › Widgets",
        attributes=("sturdy",),
        goal_options={"color": "red", "size": "large"},
        price_upper=30.0,
        instruction=INSTRUCTION,
        task_type="electronics",
    )
    shop = Shop(catalogue, SearchIndex(products), {split: (goal,) for split in SPLITS}, dropped=0)
    return WebShopEnv(shop=shop)


def _head(page: str) -> str:
    return f"Instruction: [SEP] {INSTRUCTION} [SEP] Back to Search [SEP] {page}"


PAGE_1 = _head(
    "Page 1 (Total results: 12) [SEP] Next > [SEP] "
    "B0WIDGET00 [SEP] Acme Widget A [SEP] $10.99 [SEP] B0WIDGET01 [SEP] Acme Widget B [SEP] $12.99 to $15.99 [SEP] "
    "B0WIDGET02 [SEP] Acme Widget C [SEP] $10.99 [SEP] B0WIDGET03 [SEP] Acme Widget D [SEP] $10.99 [SEP] "
    "B0WIDGET04 [SEP] Acme Widget E [SEP] $10.99 [SEP] B0WIDGET05 [SEP] Acme Widget F [SEP] $10.99 [SEP] "
    "B0WIDGET06 [SEP] Acme Widget G [SEP] $10.99 [SEP] B0WIDGET07 [SEP] Acme Widget H [SEP] $10.99 [SEP] "
    "B0WIDGET08 [SEP] Acme Widget I [SEP] $10.99 [SEP] B0WIDGET09 [SEP] Acme Widget J [SEP] $10.99"
)
PAGE_2 = _head(
    "Page 2 (Total results: 12) [SEP] < Prev [SEP] "
    "B0WIDGET10 [SEP] Acme Widget K [SEP] $10.99 [SEP] B0WIDGET11 [SEP] Acme Widget L [SEP] $10.99"
)
ITEM_B = _head(
    "< Prev [SEP] color [SEP] blue [SEP] red [SEP] size [SEP] small [SEP] large [SEP] Acme Widget B [SEP] "
    "Price: $12.99 to $15.99 [SEP] Rating: N.A. [SEP] Description [SEP] Features [SEP] Reviews [SEP] Buy Now"
)


def test_search_results_item_and_sub_pages_read_like_webshop(small_env):
    observation, info = small_env.reset("webshop/train/00000")
    assert observation == f"WebShop [SEP] Instruction: [SEP] {INSTRUCTION} [SEP] Search"
    assert info["admissible_actions"] == [SEARCH] and info["expert_action"] == SEARCH
    check_info(info)

    observation, reward, done, info = small_env.step(SEARCH)
    assert (observation, reward, done, info["valid"]) == (PAGE_1, 0.0, False, True)
    assert info["admissible_actions"] == [
        "click[back to search]",
        "click[next >]",
        *(f"click[b0widget{index:02d}]" for index in range(10)),
    ]
    assert info["expert_action"] == "click[next >]"  # the target B0WIDGET11 is on page 2

    observation, _, _, info = small_env.step("click[next >]")
    assert observation == PAGE_2
    assert info["admissible_actions"] == [
        "click[back to search]",
        "click[< prev]",
        "click[b0widget10]",
        "click[b0widget11]",
    ]
    assert info["expert_action"] == "click[b0widget11]"
    assert small_env.step("click[< prev]")[0] == PAGE_1

    observation, _, _, info = small_env.step("Click[B0WIDGET01]")  # the argument is matched lower-cased
    assert observation == ITEM_B
    assert info["admissible_actions"] == [
        "click[back to search]",
        "click[< prev]",
        "click[blue]",
        "click[red]",
        "click[small]",
        "click[large]",
        "click[description]",
        "click[features]",
        "click[reviews]",
        "click[buy now]",
    ]
    assert info["expert_action"] == "click[< prev]"  # wrong product

    assert small_env.step("click[description]")[0] == _head("< Prev [SEP] A sturdy widget.")
    assert small_env.step("click[< prev]")[0] == ITEM_B
    assert small_env.step("click[features]")[0] == _head(
        "< Prev [SEP] STURDY: built to last. [SEP] LIGHT WEIGHT: easy to carry."
    )
    small_env.step("click[< prev]")
    observation, _, _, info = small_env.step("click[reviews]")
    assert observation == _head("< Prev")
    assert info["admissible_actions"] == ["click[back to search]", "click[< prev]"]
    observation, _, _, info = small_env.step("click[back to search]")
    assert observation.startswith("WebShop [SEP] Instruction:") and info["anchor"][0] == "search"


def test_options_stay_on_the_item_page_and_the_purchase_is_scored(small_env):
    small_env.reset("webshop/train/00000")
    small_env.step(SEARCH)
    small_env.step("click[b0widget00]")
    observation, reward, done, info = small_env.step("click[red]")
    assert observation.startswith(_head("< Prev [SEP] color")) and (reward, done, info["valid"]) == (0.0, False, True)
    assert info["anchor"] == ("item", SEARCH[7:-1], 1, "B0WIDGET00", (("color", "red"),))
    small_env.step("click[blue]")  # a second value of the same option replaces the first
    small_env.step("click[red]")
    # The options survive a visit to a sub-page.
    small_env.step("click[features]")
    _, _, _, info = small_env.step("click[< prev]")
    assert info["anchor"][-1] == (("color", "red"),)
    observation, reward, done, info = small_env.step("click[buy now]")
    # attrs: "sturdy" is an Attribute (1/1); options: red yes, size unchosen (1/2); price 10.99 <= 30;
    # r_type: same query, nouns [acme] vs [acme] -> 1.0.  (1 + 1 + 1) / (1 + 2 + 1) = 0.75
    assert done and reward == pytest.approx(0.75) and not info["won"]
    assert info["purchase"]["asin"] == "B0WIDGET00" and info["purchase"]["options"] == {"color": "red"}
    assert info["admissible_actions"] == [] and info["expert_action"] is None
    assert observation.startswith("Thank you for shopping with us! [SEP] Purchased [SEP] B0WIDGET00")
    with pytest.raises(RuntimeError, match="episode is over"):
        small_env.step("click[buy now]")


def test_expert_buys_the_target_with_the_goal_options(small_env):
    _, info = small_env.reset("webshop/eval_in/00000")
    actions = []
    done = False
    while not done:
        actions.append(info["expert_action"])
        assert info["expert_action"] in info["admissible_actions"]
        _, reward, done, info = small_env.step(actions[-1])
    assert actions == [SEARCH, "click[next >]", "click[b0widget11]", "click[red]", "click[large]", "click[buy now]"]
    assert reward == 1.0 and info["won"]


def test_invalid_actions_are_no_ops(small_env):
    small_env.reset("webshop/train/00000")
    page, _, _, before = small_env.step(SEARCH)
    cases = {
        "click[buy now]": False,  # a real button, just not on this page
        "click[< prev]": False,  # page 1 has no previous page
        "click[b0widget11]": True,  # a product that is not on this page
        "click[b0nothere00]": True,  # a product that does not exist
        "click[red]": True,  # an option value, but no item page is open
        "search[lamp]": False,  # search only works on the search page
        "buy the widget": False,  # not the grammar
        "click[]": False,  # names nothing
        "": False,
    }
    for action, unknown in cases.items():
        observation, reward, done, info = small_env.step(action)
        assert (observation, reward, done, info["valid"]) == (page, 0.0, False, False), action
        assert info["unknown_entity"] is unknown, action
        assert info["anchor"] == before["anchor"] and info["admissible_actions"] == before["admissible_actions"]
    small_env.reset("webshop/train/00000")
    _, _, _, info = small_env.step("search[  ]")
    assert not info["valid"]
    observation, _, _, info = small_env.step("search[Desk LAMP]")  # any search text works on the search page
    assert (
        info["valid"]
        and "Page 1 (Total results: 1) [SEP] B0LAMP0000 [SEP] Bright Desk Lamp [SEP] $25.99" in observation
    )
    assert info["anchor"] == ("results", "desk lamp", 1, "", ())
    assert info["expert_action"] == "click[back to search]"  # the lamp results lack the target
    _, info = small_env.reset("webshop/train/00000")
    _, _, _, info = small_env.step("search[qwertyuiop]")
    assert info["valid"] and info["admissible_actions"] == ["click[back to search]"]


def test_step_limit_ends_the_episode_without_reward(small_env):
    env = WebShopEnv(shop=small_env.shop, max_steps=3)
    env.reset("webshop/train/00000")
    for expected_done in (False, False, True):
        _, reward, done, info = env.step("click[nothing]")
        assert (reward, done, info["won"]) == (0.0, expected_done, False)
    with pytest.raises(ValueError, match="max_steps must be at least 1"):
        WebShopEnv(shop=small_env.shop, max_steps=0)


def test_unknown_task_ids_are_rejected_clearly(small_env):
    for task_id in ("webshop/test/00000", "webshop/train/00001", "webshop/train/0", "household/train/00000", 7):
        with pytest.raises(UnknownTaskError, match="unknown task id .*ids look like webshop/train/00042"):
            small_env.reset(task_id)
    with pytest.raises(ValueError, match="unknown split"):
        small_env.task_ids("test")


# --- the generated shop ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def env() -> WebShopEnv:
    return make_env("webshop")


def _episode(env: WebShopEnv, task_id: str, choose) -> tuple[float, dict, int]:
    _, info = env.reset(task_id)
    done, steps, reward = False, 0, 0.0
    while not done:
        _, reward, done, info = env.step(choose(info))
        steps += 1
    return reward, info, steps


def test_registered_with_its_factory_kwargs(env):
    assert "webshop" in list_envs()
    assert env.max_steps == 15 and make_env("webshop", max_steps=7).max_steps == 7
    sizes = {split: len(env.task_ids(split)) for split in SPLITS}
    assert sizes["eval_in"] == 500 and sizes["train"] > 2000 and sizes["eval_out"] > 300, sizes
    assert env.task_ids("eval_in")[42] == "webshop/eval_in/00042"


def test_expert_scores_one_on_every_test_goal_and_a_train_sample(env):
    task_ids = env.task_ids("eval_in") + env.task_ids("train")[:300] + env.task_ids("eval_out")[:100]
    for task_id in task_ids:
        _, info = env.reset(task_id)
        done, steps = False, 0
        while not done:
            check_info(info)
            assert info["valid"] and info["expert_action"] in info["admissible_actions"], task_id
            _, reward, done, info = env.step(info["expert_action"])
            steps += 1
        assert reward == 1.0 and info["won"], (task_id, info.get("purchase"))
        assert steps <= 10


def test_random_agent_baseline_on_the_test_split(env):
    rng = random.Random(0)
    rewards = [
        _episode(env, task_id, lambda info: rng.choice(info["admissible_actions"]))[0]
        for task_id in env.task_ids("eval_in")
    ]
    score = sum(rewards) / len(rewards)
    success = sum(reward == 1.0 for reward in rewards) / len(rewards)
    print(f"\nwebshop random agent on eval_in: score {score:.3f}, success {success:.3f}")
    # Documented in envs/webshop/__init__.py; a uniform policy buys something but rarely the right thing.
    assert 0.05 < score < 0.5 and success < 0.1


def test_random_purchases_spread_between_zero_and_one(env):
    """Buying a random product of the goal's own search (random options): partial credit dominates."""
    rng = random.Random(1)
    catalogue = env.shop.catalogue
    rewards = []
    for goal in env.shop.splits["eval_in"]:
        bought = rng.choice(env.shop.search(goal.keywords))
        options = {name: rng.choice(values) for name, values in bought.options.items()}
        rewards.append(webshop_reward(bought, goal, catalogue.prices[bought.asin], options, catalogue.nouns))
    inside = [reward for reward in rewards if 0.0 < reward < 1.0]
    print(f"\nrandom purchases: mean {sum(rewards) / len(rewards):.3f}, {len(inside)} of {len(rewards)} inside (0, 1)")
    assert len(inside) > len(rewards) / 2 and len({round(reward, 4) for reward in inside}) >= 6
    assert 0.0 in rewards and 1.0 in rewards


def test_goals_follow_webshops_rules(env):
    catalogue = env.shop.catalogue
    for split, goals in env.shop.splits.items():
        for goal in goals:
            target = catalogue.by_asin[goal.asin]
            assert 1 <= len(goal.attributes) <= 3 and set(goal.attributes) <= set(target.attributes)
            assert set(goal.goal_options) == set(target.options)
            assert all(value in target.options[name] for name, value in goal.goal_options.items())
            price = catalogue.prices[goal.asin]
            assert target.pricing[0] <= price <= target.pricing[-1]
            above = [bound for bound in PRICE_RANGE if bound > price][:4]
            if len(above) >= 2:
                assert goal.price_upper in above[1:]  # the larger of two of the first four
                assert goal.instruction.endswith(f"{PRICE_CLAUSE}{goal.price_upper:.2f} dollars")
            else:
                assert goal.price_upper == NO_PRICE_BOUND and PRICE_CLAUSE not in goal.instruction
            assert (goal.query in HELD_OUT_QUERIES) == (split == "eval_out")
            assert goal.task_type == target.group
    ids = {split: {goal.asin for goal in goals} for split, goals in env.shop.splits.items()}
    assert not (ids["train"] & ids["eval_in"]) and not (ids["train"] & ids["eval_out"])
    assert any(not goal.goal_options for goal in env.shop.splits["train"])  # the no-options reward is exercised
    assert any(goal.price_upper == NO_PRICE_BOUND for goal in env.shop.splits["train"])
    assert env.shop.dropped < len(catalogue.products) / 10


def test_every_goal_has_near_miss_distractors(env):
    catalogue = env.shop.catalogue
    family = {}
    for product in catalogue.products:
        family.setdefault(product.family, []).append(product)
    for goal in env.shop.splits["eval_in"][:100]:
        target = catalogue.by_asin[goal.asin]
        siblings = [product for product in family[target.family] if product.asin != goal.asin]
        assert siblings and all(product.query == goal.query for product in siblings)
        assert any(
            set(product.attributes) != set(target.attributes)
            or product.options != target.options
            or product.pricing != target.pricing
            for product in siblings
        )


def test_every_option_value_can_be_matched_by_choosing_it():
    """WebShop's colour normalisation must not turn a value into a non-word of it ("light wash" -> "ash")."""
    for kind in PRODUCT_TYPES:
        for _, values in kind.options:
            for value in values:
                normalised = normalize_color(value)
                assert normalised == value or normalised in process(value).split(), (kind.query, value)


def test_catalogue_is_deterministic_and_knows_its_nouns():
    first, second = generate_catalogue(400, seed=3), generate_catalogue(400, seed=3)
    assert first.products == second.products and first.prices == second.prices
    assert generate_catalogue(400, seed=4).products != first.products
    assert len({product.asin for product in first.products}) == 400
    product = first.products[0]
    assert product.name == product.title
    brand = product.title.split()[0].lower()
    assert first.nouns(product.title)[0] == brand and brand in first.brands
    assert first.nouns("Kazo Men's Running Shoes - Non Slip, Rubber Sole") == ["kazo", "men", "shoes", "sole"]
    with pytest.raises(ValueError, match="num_products must be at least"):
        generate_catalogue(10, seed=0)


def test_import_without_the_engine_packages():
    """`import agentrl.envs` and listing work without bm25s; making the env names the extra to install."""
    code = (
        "import sys; sys.modules['bm25s'] = None\n"
        "import agentrl.envs\n"
        "assert 'webshop' in agentrl.envs.list_envs()\n"
        "try:\n"
        "    agentrl.envs.make_env('webshop')\n"
        "except ImportError as error:\n"
        "    assert 'pip install -e \".[webshop]\"' in str(error), error\n"
        "else:\n"
        "    raise AssertionError('no ImportError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
