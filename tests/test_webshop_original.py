"""WebShop on its original data: a fixture in the original files' schema (tests/webshop_fixture.py), loaded through
the same data path a real data folder takes; the loader's rules, the goals, the fixed shuffle and split, the seeded
prices, the expert, a random baseline checked against its exact value, rewards worked out by hand, the search, the
errors, `agentrl envs`, and scripts/reproduce.sh refusing a WebShop paper cell on the generated catalogue."""

from __future__ import annotations

import functools
import itertools
import math
import os
import random
import subprocess
import warnings
from pathlib import Path

import pytest

pytest.importorskip("bm25s")
pytest.importorskip("rapidfuzz")
pytest.importorskip("nltk")

from agentrl.envs import SPLITS, check_info, make_env  # noqa: E402
from agentrl.envs.webshop.goals import NO_PRICE_BOUND, PRICE_CLAUSE, PRICE_RANGE  # noqa: E402
from agentrl.envs.webshop.original_data import WebShopDataError, parse_pricing  # noqa: E402
from agentrl.envs.webshop.pages import RESULTS, SEARCH, View, render  # noqa: E402
from agentrl.envs.webshop.reward import reward_breakdown  # noqa: E402
from agentrl.envs.webshop.search import EnglishAnalyzer, original_document  # noqa: E402

from tests.webshop_fixture import write_original_fixture  # noqa: E402

ROOT = Path(__file__).parent.parent
SYNTHETIC_GOALS = 539  # worked out in test_synthetic_goals_follow_the_original_construction
HUMAN_GOALS = 41


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("webshop_data")
    return folder, write_original_fixture(folder)


def shop_env(folder, **kwargs):
    # The heuristic tagger: no spaCy model here, and the hand-worked rewards below use its nouns.
    return make_env("webshop", data_path=str(folder), noun_tagger="heuristic", **kwargs)


@pytest.fixture(scope="module")
def env(data):
    return shop_env(data[0])


@pytest.fixture(scope="module")
def human_env(data):
    return shop_env(data[0], human_goals=True, num_test_goals=10, num_dev_goals=10)


def task_of(env, asin, goal_options):
    """The task id of the goal on `asin` with these goal options."""
    for split in SPLITS:
        for task_id, goal in zip(env.task_ids(split), env.shop.splits[split], strict=True):
            if goal.asin == asin and goal.goal_options == goal_options:
                return task_id
    raise AssertionError(f"no goal {asin} {goal_options}")


# ---------------------------------------------------------------------------------------------- loading
def test_the_fixture_loads_through_the_data_path_and_the_env_var(data, env, monkeypatch):
    folder, _ = data
    assert env.data_source == "original data (items_shuffle_1000.json, 43 products, synthetic goals), nouns: heuristic"
    monkeypatch.setenv("WEBSHOP_DATA", str(folder))
    from_var = make_env("webshop", noun_tagger="heuristic")
    assert from_var.shop is env.shop  # the same folder and arguments: the process's cached shop
    assert make_env("webshop", source="generated").data_source == "generated catalogue (4000 products, seed 0)"


def test_the_loader_follows_the_original_rules(env):
    by_asin = env.shop.catalogue.by_asin
    # 47 raw products: "nan", a too-long asin and a repeated asin are skipped; the first B0FIX05000 is kept.
    assert len(env.shop.catalogue.products) == 43
    assert not {"nan", "B0FIXTOOLONG"} & set(by_asin)
    assert by_asin["B0FIX05000"].name == "Kazoo Wireless Earbuds - Noise Cancelling"
    shoes = by_asin["B0FIX00000"]
    assert shoes.title == shoes.name == "Kazoo Men's Running Shoes - Non Slip"
    assert shoes.options == {
        "color": ("black", "navy blue", "grey", "white | gold", "red", "green"),  # lower-cased, "/" -> " | "
        "size": ("7", "8", "9", "10", "11", "12", "13", "14"),
    }
    assert shoes.attributes == ("non slip", "rubber sole") and shoes.group == "fashion"
    assert shoes.bullet_points[0] == "NON SLIP: a Kazoo quality." and shoes.query == "men's running shoes"
    assert shoes.category == "Clothing, Shoes & Jewelry › Men › Shoes › Athletic › Running"
    assert (shoes.pricing, shoes.price_tag) == ((49.99,), "$49.99")
    assert (by_asin["B0FIX00001"].pricing, by_asin["B0FIX00001"].price_tag) == ((39.99, 59.99), "$39.99 to $59.99")
    assert (by_asin["B0FIX08003"].pricing, by_asin["B0FIX08003"].price_tag) == ((1249.0,), "$1249.0")
    assert (by_asin["B0FIX09003"].pricing, by_asin["B0FIX09003"].price_tag) == ((100.0,), "$100.0")  # no pricing
    assert "style" not in by_asin["B0FIX01002"].options  # a null option list
    assert by_asin["B0FIX02000"].options["size"][0] == "small"  # " small " stripped
    assert by_asin["B0FIX05003"].bullet_points == ("A single string of features.",)
    assert by_asin["B0FIXNOATT"].attributes == ("DUMMY_ATTR",)
    assert by_asin["B0FIXTEA01"].query == "green tea" and by_asin["B0FIXTEA01"].options == {}
    assert parse_pricing("$1,299.00 - $1,499.50") == ((1299.0, 1499.5), "$1299.0 to $1499.5")


def test_the_pages_print_the_original_data(env):
    observation, _ = env.reset(task_of(env, "B0FIX00000", {"color": "black", "size": "9"}))
    _, _, _, info = env.step("search[running shoes]")
    observation, _, _, info = env.step("click[b0fix00001]")
    assert "[SEP] color [SEP] black [SEP] navy blue [SEP] grey [SEP] white | gold [SEP] red [SEP] green [SEP] size" in (
        observation
    )
    assert "Velmo Men's Running Shoes - Non Slip [SEP] Price: $39.99 to $59.99 [SEP] Rating: N.A." in observation
    assert "click[white | gold]" in info["admissible_actions"]


# ------------------------------------------------------------------------------------------------ goals
def expected_synthetic_goals(raw: dict) -> list[tuple[str, dict, str]]:
    """(asin, goal_options, instruction without its price text) of every synthetic goal, in the original's order,
    from the raw files: products in file order (skip rules applied), one goal per option combination."""
    seen, goals = set(), []
    for product in raw["products"]:
        asin = product["asin"]
        if asin == "nan" or len(asin) > 10 or asin in seen:
            continue
        seen.add(asin)
        record = raw["attributes"].get(asin)
        if not record or record["instruction"] is None or not record["instruction_attributes"]:
            continue
        options = {
            name.lower(): [content["value"].strip().replace("/", " | ").lower() for content in contents]
            for name, contents in (product["customization_options"] or {}).items()
            if contents is not None
        }
        names = sorted(options)
        for combination in itertools.product(*(options[name] for name in names)):
            goal_options = dict(zip(names, combination, strict=True))
            text = ", and ".join(f"{name}: {value}" for name, value in goal_options.items())
            goals.append((asin, goal_options, record["instruction"] + (f" with {text}" if text else "")))
    return goals


def test_synthetic_goals_follow_the_original_construction(data, env):
    expected = expected_synthetic_goals(data[1])
    # By hand: per kind, (first option's values) x (second's) for brands 0 and 2, one value fewer in the second
    # option for brands 1 and 3: shoes 48+42+48+42, sandals 30+25+30+25, t-shirts 25+20+25+20, hair dryers 4 x 2,
    # moisturizers 4 x 2, earbuds 4 x 4, cables 12+9+12+9, trail mix 9+6+9+6, chairs 8+4+8+4, bookshelves 9+6+9+6,
    # and the tea's one goal (no options); no goals for the product missing from the attribute file or the one
    # with a null instruction.
    assert len(expected) == SYNTHETIC_GOALS == 180 + 110 + 90 + 8 + 8 + 16 + 42 + 30 + 24 + 30 + 1
    goals = [goal for split in ("eval_in", "train") for goal in env.shop.splits[split]]  # train holds eval_out
    assert len(goals) == SYNTHETIC_GOALS
    assert sorted((g.asin, sorted(g.goal_options.items()), g.keywords) for g in goals) == sorted(
        (asin, sorted(options.items()), text) for asin, options, text in expected
    )
    bound_of = {}
    for goal in goals:
        target = env.shop.catalogue.by_asin[goal.asin]
        assert goal.name == target.name and goal.query == target.query and goal.category == target.category
        assert goal.task_type == target.group and goal.attributes == tuple(data[1]["attributes"][goal.asin][
            "instruction_attributes"])  # fmt: skip
        assert bound_of.setdefault(goal.asin, goal.price_upper) == goal.price_upper  # one bound per product
        above = [bound for bound in PRICE_RANGE if bound > env.shop.catalogue.prices[goal.asin]][:4]
        if len(above) >= 2:
            assert goal.price_upper in above[1:]  # the larger of two of the first four above the price
            assert goal.instruction == f"{goal.keywords}{PRICE_CLAUSE}{goal.price_upper:.2f} dollars"
        else:
            assert goal.price_upper == NO_PRICE_BOUND and goal.instruction == goal.keywords
    assert bound_of["B0FIX08003"] == NO_PRICE_BOUND  # $1249.0
    assert env.goal(task_of(env, "B0FIX00000", {"color": "black", "size": "9"})).instruction.startswith(
        "i need men's running shoes that is non slip with color: black, and size: 9, and price lower than "
    )


def test_human_goals_follow_the_original_construction(data, human_env):
    goals = [goal for split in ("eval_in", "train") for goal in human_env.shop.splits[split]]
    # One record with attributes per product, and the tea's; the ten records without attributes are skipped.
    assert len(goals) == HUMAN_GOALS
    shoe = next(goal for goal in goals if goal.asin == "B0FIX00000")
    assert shoe.goal_options == ("BLACK", "size 7") and shoe.attributes == ("rubber sole",)
    assert shoe.keywords == "I'm looking for a running shoes with rubber sole, BLACK and size 7"  # "." stripped
    assert shoe.option_choices == {"color": "black", "size": "7"}  # the values the expert clicks
    tea = next(goal for goal in goals if goal.asin == "B0FIXTEA01")
    assert tea.keywords == "Organic green tea bags please" and tea.goal_options == ()


# ---------------------------------------------------------------------------------- shuffle, split, prices
def test_the_shuffle_rule_on_a_small_case():
    # Python's shuffle, as documented: for i = n-1 .. 1 swap x[i] with x[j], j uniform in [0, i] drawn by
    # rejection from getrandbits(i+1 .bit_length()). Written out here, it gives the order the original's
    # random.seed(233); random.shuffle(goals) gives a 10-goal list:
    bits = random.Random(233)
    order = list(range(10))
    for i in reversed(range(1, len(order))):
        j = bits.getrandbits((i + 1).bit_length())
        while j >= i + 1:
            j = bits.getrandbits((i + 1).bit_length())
        order[i], order[j] = order[j], order[i]
    assert order == [5, 9, 0, 1, 4, 7, 6, 3, 8, 2]
    from agentrl.envs.webshop.original_goals import split_goals

    splits = split_goals(list(range(10)), num_test_goals=3, num_dev_goals=4)
    assert splits == {"eval_in": (5, 9, 0), "eval_out": (1, 4, 7, 6), "train": (1, 4, 7, 6, 3, 8, 2)}
    splits = split_goals(list(range(10)), num_test_goals=3, num_dev_goals=4, train_excludes_dev=True)
    assert splits["train"] == (3, 8, 2)


def test_the_split_is_the_original_shuffle_of_the_goal_list(data, env):
    expected = [(asin, options) for asin, options, _ in expected_synthetic_goals(data[1])]
    state = random.getstate()
    try:  # the original's own procedure, on the global generator
        random.seed(233)
        random.shuffle(expected)
    finally:
        random.setstate(state)

    def keys(goals):
        return [(goal.asin, goal.goal_options) for goal in goals]

    splits = env.shop.splits
    assert [len(env.task_ids(split)) for split in SPLITS] == [SYNTHETIC_GOALS - 500, 500, SYNTHETIC_GOALS - 500]
    assert keys(splits["eval_in"]) == expected[:500]  # WebShop's test split: the first 500
    assert keys(splits["eval_out"]) == expected[500:1500]  # its dev range (500-1500; 39 goals here)
    assert keys(splits["train"]) == expected[500:]  # verl-agent trains on everything after the test split
    scaled = shop_env(data[0], num_test_goals=20, num_dev_goals=30, train_excludes_dev=True).shop.splits
    assert keys(scaled["eval_in"]) == expected[:20] and keys(scaled["eval_out"]) == expected[20:50]
    assert keys(scaled["train"]) == expected[50:]


def test_prices_and_bounds_come_from_the_env_seed(env, data):
    for seed in (0, 1):
        shop = env.shop if seed == 0 else shop_env(data[0], seed=1).shop
        # The only price range in the product file is B0FIX00001's: the generator's first draw. Then the bounds,
        # product by product: B0FIX00000 (49.99) is the first product with goals.
        rng = random.Random(seed)
        assert shop.catalogue.prices["B0FIX00001"] == rng.uniform(39.99, 59.99)
        first_bound = max(rng.sample([50.0, 60.0, 70.0, 80.0], 2))
        assert {goal.price_upper for split in SPLITS for goal in shop.splits[split] if goal.asin == "B0FIX00000"} == {
            first_bound
        }
    other = shop_env(data[0], seed=1).shop
    # Another seed: other prices and bounds, the same goals in the same order (the shuffle has its own seed).
    assert other.catalogue.prices["B0FIX00001"] != env.shop.catalogue.prices["B0FIX00001"]
    assert [(g.asin, g.goal_options) for g in other.splits["eval_in"]] == [
        (g.asin, g.goal_options) for g in env.shop.splits["eval_in"]
    ]
    assert [g.price_upper for g in other.splits["eval_in"]] != [g.price_upper for g in env.shop.splits["eval_in"]]
    again = shop_env(data[0], seed=1, num_dev_goals=999).shop  # built anew: the same seed, the same panel
    assert again is not other and again.splits["eval_in"] == other.splits["eval_in"]


# -------------------------------------------------------------------------------------- expert, random
@pytest.mark.parametrize("goals", ["synthetic", "human"])
def test_expert_scores_one_on_every_goal(goals, env, human_env):
    env = env if goals == "synthetic" else human_env
    episodes = 0
    for split in SPLITS:
        for task_id in env.task_ids(split):
            _, info = env.reset(task_id)
            done, steps = False, 0
            while not done:
                check_info(info)
                assert info["valid"], task_id
                _, reward, done, info = env.step(info["expert_action"])
                steps += 1
            assert reward == 1.0 and info["won"], (task_id, info.get("purchase"))
            assert steps <= 8
            episodes += 1
    # Every goal once, and eval_out's again (train holds it): 539 + 39, and 41 + 10 with the scaled split.
    assert episodes == {"synthetic": SYNTHETIC_GOALS + 39, "human": HUMAN_GOALS + 10}[goals]


def test_the_expert_searches_the_title_when_the_instruction_finds_nothing(env):
    task_id = task_of(env, "B0FIXTEA01", {})
    observation, info = env.reset(task_id)
    assert info["admissible_actions"] == ["search[i want something nice for my dad]"]  # the keywords, as always
    assert info["expert_action"] == "search[velmo organic green tea bags]"
    env.reset(task_id)
    observation, _, _, info = env.step("search[i want something nice for my dad]")
    assert "Total results: 0" in observation and info["expert_action"] == "click[back to search]"


def exact_random_score(shop, goal, max_steps: int = 15) -> float:
    """The expected reward of the uniform random policy over the admissible actions, by dynamic programming over
    the pages (pages.render gives each page's clicks) - no sampling. The search page's one admissible action is the
    goal's own search, so "back to search" costs two steps back to its first results page."""
    query = " ".join(goal.keywords.lower().split())
    first = View(kind=RESULTS, query=query, results=tuple(product.asin for product in shop.search(query)))

    @functools.cache
    def value(view: View, left: int) -> float:
        if left <= 0:
            return 0.0
        _, clicks = render(view, goal.instruction, shop)
        total = 0.0
        for target in clicks.values():
            if target == "buy":
                product = shop.catalogue.by_asin[view.asin]
                price = shop.catalogue.prices[product.asin]
                total += reward_breakdown(product, goal, price, view.chosen(), shop.catalogue.nouns).total
            elif target.kind == SEARCH:
                total += value(first, left - 2)
            else:
                total += value(target, left - 1)
        return total / len(clicks)

    return value(first, max_steps - 1)  # the first step is the search


@pytest.mark.slow  # about 10 s of dynamic programming (25 s on a loaded machine)
def test_random_baseline_matches_its_exact_value(env):
    """Uniform random play over the admissible actions, sampled, against its exact expectation on 4 test goals."""
    task_ids = env.task_ids("eval_in")[:4]
    exact = sum(exact_random_score(env.shop, env.goal(task_id)) for task_id in task_ids) / len(task_ids)
    rng = random.Random(0)
    rewards = []
    for task_id in task_ids * 150:
        _, info = env.reset(task_id)
        done = False
        while not done:
            _, reward, done, info = env.step(rng.choice(info["admissible_actions"]))
        rewards.append(reward)
    mean = sum(rewards) / len(rewards)
    stderr = math.sqrt(sum((r - mean) ** 2 for r in rewards) / (len(rewards) - 1) / len(rewards))
    print(f"\nrandom agent on 4 fixture test goals: exact {exact:.4f}, sampled {mean:.4f} +- {stderr:.4f}")
    assert abs(mean - exact) < 4 * stderr and 0.0 < exact < 0.5


def test_random_baseline_on_the_test_split(env):
    rng = random.Random(0)
    rewards = []
    for task_id in env.task_ids("eval_in"):
        _, info = env.reset(task_id)
        done = False
        while not done:
            _, reward, done, info = env.step(rng.choice(info["admissible_actions"]))
        rewards.append(reward)
    score, success = sum(rewards) / len(rewards), sum(r == 1.0 for r in rewards) / len(rewards)
    print(f"\nrandom agent on the fixture's 500 test goals: score {score:.3f}, success {success:.3f}")
    # A uniform policy buys something in about half its episodes (it must reach an item page and pick "buy now"
    # among ~20 clicks) and the right product with the right options almost never: score well under the
    # expert's 1, success near 0.
    assert 0.02 < score < 0.3 and success < 0.05


# ------------------------------------------------------------------------------------- rewards by hand
def buy(env, task_id, asin, options=()):
    """Search the goal's keywords, page to `asin`, click it and `options`, buy: the reward."""
    _, info = env.reset(task_id)
    _, _, _, info = env.step(info["admissible_actions"][0])
    while f"click[{asin.lower()}]" not in info["admissible_actions"]:
        _, _, _, info = env.step("click[next >]")
    env.step(f"click[{asin.lower()}]")
    for value in options:
        env.step(f"click[{value}]")
    _, reward, done, info = env.step("click[buy now]")
    assert done and info["purchase"]["asin"] == asin
    return reward


def test_rewards_equal_the_original_formula_by_hand(env, human_env):
    """Goal: B0FIX00000 "Kazoo Men's Running Shoes - Non Slip" ($49.99), attributes (non slip), options
    {color: black, size: 9}, price bound 60-80. total = (attrs + options + price) / (1 + 2 + 1) * r_type.
    Nouns (heuristic): the goal's name has 6 - kazoo men running shoes non slip."""
    task_id = task_of(env, "B0FIX00000", {"color": "black", "size": "9"})
    # The target, right options: (1 + 2 + 1) / 4 * 1.
    assert buy(env, task_id, "B0FIX00000", ["black", "9"]) == 1.0
    # Wrong colour: ("color", "black") is normalised to "black" (the tuple holds the colour word), which "grey"
    # does not match; ("size", "9") reads "size 9" and "9" matches it: (1 + 1 + 1) / 4.
    assert buy(env, task_id, "B0FIX00000", ["grey", "9"]) == 0.75
    # The Tarsi shoes: non slip, no option chosen, $199.96 over the bound; same query, nouns 5 of 6: (1 + 0 + 0) / 4.
    assert buy(env, task_id, "B0FIX00003") == 0.25
    # The Kazoo hair dryer: no attribute; only "kazoo" in common (1/6 <= 0.2, no query or category match): r_type
    # 0.5; $39.99 within the bound: (0 + 0 + 1) / 4 * 0.5, and with "black" chosen (0 + 1 + 1) / 4 * 0.5.
    assert buy(env, task_id, "B0FIX03000") == 0.125
    assert buy(env, task_id, "B0FIX03000", ["black"]) == 0.25
    # The Velmo hair dryer shares no noun with the goal: title_score 0, r_type 0.
    assert buy(env, task_id, "B0FIX03001", ["black"]) == 0.0
    # A t-shirt: two category segments shared ("Clothing, Shoes & Jewelry", "Men"): r_type 1; (0 + 0 + 1) / 4.
    assert buy(env, task_id, "B0FIX02000") == 0.25
    # Human goal on B0FIX00000: attributes (rubber sole), options ("BLACK", "size 7"). With black and 9: "black"
    # matches "BLACK", nothing matches "size 7": (1 + 1 + 1) / 4; with 7: 1.
    human = task_of(human_env, "B0FIX00000", ("BLACK", "size 7"))
    assert buy(human_env, human, "B0FIX00000", ["black", "9"]) == 0.75
    assert buy(human_env, human, "B0FIX00000", ["black", "7"]) == 1.0


# ------------------------------------------------------------------------------------------------ search
def test_the_search_indexes_the_original_text_with_an_english_analyzer(env):
    dryer = env.shop.catalogue.by_asin["B0FIX03000"]
    assert original_document(dryer) == (
        "kazoo ionic hair dryer - fast drying kazoo ionic hair dryer. made with fast drying, low noise. "
        "fast drying: a kazoo quality. color: black, rose gold"
    )
    analyzer = EnglishAnalyzer()
    assert analyzer("Men's Running Shoes, 1,000 pcs") == ["men", "run", "shoe", "1,000", "pc"]
    assert analyzer("the shoes are for the men") == ["shoe", "men"]  # Lucene's stopwords
    hits = [product.asin for product in env.shop.search("hair dryers")]  # "dryers" finds "dryer" (stemming)
    assert set(hits[:5]) == {"B0FIX03000", "B0FIX03001", "B0FIX03002", "B0FIX03003", "B0FIXNOATT"}
    # Every product offering black: 4 shoes, 4 sandals, 5 hair dryers, 4 earbuds, 4 cables, 4 chairs.
    assert len(env.shop.search("black")) == 25


# ------------------------------------------------------------------------------------------------ errors
def test_bad_settings_and_data_name_the_fix(data, tmp_path, monkeypatch):
    monkeypatch.delenv("WEBSHOP_DATA", raising=False)
    cases = [
        (dict(data_path=str(tmp_path)), "lacks items_shuffle_1000.json, items_ins_v2_1000.json"),
        (dict(data_path=str(data[0]), product_set="full"), "lacks items_shuffle.json, items_ins_v2.json"),
        (dict(data_path=str(data[0]), product_set="medium"), "product_set must be one of"),
        (dict(human_goals=True), "'human_goals' applies to WebShop's original data"),
        (dict(source="original"), "needs the original data: set env_kwargs data_path"),
        (dict(data_path=str(data[0]), num_products=100), "num_products applies to the generated catalogue"),
        (dict(data_path=str(data[0]), human_goals=True), "41 goals, too few for a test split of 500"),
        (dict(source="somewhere"), "source must be one of"),
    ]
    for kwargs, message in cases:
        with pytest.raises(WebShopDataError, match=message):
            make_env("webshop", noun_tagger="heuristic", **kwargs)
    (tmp_path / "items_shuffle_1000.json").write_text('[{"asin": "B0BROKEN01", "name": "no query"}]')
    (tmp_path / "items_ins_v2_1000.json").write_text("{}")
    with pytest.raises(WebShopDataError, match="product 0 of .*items_shuffle_1000.json' does not follow"):
        make_env("webshop", data_path=str(tmp_path), noun_tagger="heuristic")
    with pytest.raises(ValueError, match="is not a parameter of environment 'webshop'. Did you mean 'data_path'"):
        make_env("webshop", datapath=str(tmp_path))  # the factory's signature names its keywords


def test_agentrl_envs_reports_the_catalogue_in_use(data, monkeypatch):
    from agentrl.cli import _env_status

    monkeypatch.setenv("WEBSHOP_DATA", str(data[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "auto" tagger: no spaCy model here
        status = _env_status("webshop")
    assert "eval_in 500" in status
    assert "[original data (items_shuffle_1000.json, 43 products, synthetic goals), nouns: " in status
    monkeypatch.delenv("WEBSHOP_DATA")
    assert "[generated catalogue (4000 products, seed 0)]" in _env_status("webshop")


# ---------------------------------------------------------------------------------------- reproduce.sh
def reproduce(*args, tmp_path, **environment):
    env = {key: value for key, value in os.environ.items() if key != "WEBSHOP_DATA"}
    env.update(SEEDS=" ", OUT=str(tmp_path / "runs" / "cell"), **environment)  # no seed runs: only the checks
    return subprocess.run(
        ["bash", "scripts/reproduce.sh", "empg/webshop_qwen2.5_1.5b_grpo", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.slow  # runs scripts/reproduce.sh in a subprocess (imports TRL): ~5 s
def test_reproduce_refuses_a_webshop_cell_on_the_generated_catalogue(tmp_path):
    result = reproduce(tmp_path=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "refusing to run empg/webshop_qwen2.5_1.5b_grpo on agentrl's generated WebShop catalogue" in result.stderr
    assert "$WEBSHOP_DATA" in result.stderr and "--allow-generated" in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow  # two runs of reproduce.sh, each importing TRL and summarising: 25-60 s
def test_reproduce_runs_a_webshop_cell_when_allowed_or_on_the_data(data, tmp_path):
    allowed = reproduce("--allow-generated", tmp_path=tmp_path)
    assert allowed.returncode == 0 and "refusing" not in allowed.stderr, allowed.stderr
    summary = (tmp_path / "runs" / "cell" / "summary.md").read_text()
    assert "--allow-generated" in summary  # the summary records that it was allowed
    on_data = reproduce("--env_kwargs", f"{{data_path: {data[0]}}}", tmp_path=tmp_path)
    assert on_data.returncode == 0 and f"WebShop catalogue: original data in {data[0]}" in on_data.stdout, (
        on_data.stderr
    )
