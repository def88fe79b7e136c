"""WebShop's purchase reward, branch by branch, against values worked out by hand.

Notation in the comments: total = (n_attr + n_opt + r_price) / (A + O + 1) * r_type with A goal
attributes and O goal options; ratios are thefuzz token_set_ratio after its processing (tuple -> str,
non-word -> space, lower-case), rounded to an int, and must be > 85.
"""

from __future__ import annotations

import pytest

pytest.importorskip("rapidfuzz")

from agentrl.envs.webshop.catalogue import Product  # noqa: E402
from agentrl.envs.webshop.goals import Goal  # noqa: E402
from agentrl.envs.webshop.reward import (  # noqa: E402
    normalize_color,
    process,
    reward_breakdown,
    token_set_ratio,
    webshop_reward,
)

GOAL_NAME = "Kazo Men's Running Shoes"
# Hand-tagged nouns: the reward gets nouns from the caller, so the tests spell them out.
NOUNS = {
    GOAL_NAME: ["kazo", "men", "shoes"],
    "five nouns": ["kazo", "men", "shoes", "mesh", "sole"],
    "eleven nouns": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "shoes"],
    "no nouns": [],
    "shoes only": ["shoes"],
    "kazo shoes": ["kazo", "shoes"],
    "unrelated": ["lamp"],
    "shoe rack x5": ["shoe", "shoe", "shoe", "shoe", "shoe", "rack"],
    "rack": ["rack"],
    "shoes shoes kazo": ["shoes", "shoes", "kazo"],
}


def nouns(name: str) -> list[str]:
    return NOUNS[name]


def product(**fields) -> Product:
    base = dict(
        asin="B000000001",
        name=GOAL_NAME,
        title="Kazo Running Shoes",
        description="",
        bullet_points=(),
        query="men's running shoes",
        category="Clothing › Men › Shoes › Running",
        pricing=(40.0,),
        options={"color": ("navy blue", "black"), "size": ("9", "10")},
        attributes=("non slip", "rubber sole", "lace up"),
        group="fashion",
        type_index=0,
        family=0,
    )
    base.update(fields)
    return Product(**base)


def goal(**fields) -> Goal:
    base = dict(
        asin="B000000001",
        name=GOAL_NAME,
        query="men's running shoes",
        category="Clothing › Men › Shoes › Running",
        attributes=("non slip", "rubber sole"),
        goal_options={"color": "navy blue", "size": "9"},
        price_upper=50.0,
        instruction="find me non slip and rubber sole men's running shoes with color: navy blue, and size: 9",
        task_type="fashion",
    )
    base.update(fields)
    return Goal(**base)


RIGHT_OPTIONS = {"color": "navy blue", "size": "9"}


def test_the_target_with_the_goal_options_scores_one():
    # attrs 2/2 (exact Attributes), options 2/2, price 40 <= 50, r_type 1: (2 + 2 + 1) / 5 * 1 = 1.0
    parts = reward_breakdown(product(), goal(), 40.0, RIGHT_OPTIONS, nouns)
    assert (parts.attr_matches, parts.option_matches, parts.r_price, parts.r_type) == (2, 2, 1, 1.0)
    assert parts.total == 1.0
    assert webshop_reward(product(), goal(), 40.0, RIGHT_OPTIONS, nouns) == 1.0


def test_processing_and_ratio_follow_thefuzz():
    assert process(("color", "navy blue")) == "color    navy blue"  # str() of the tuple, punctuation -> spaces
    assert process("X-Large Café!") == "x large caf"  # non-ASCII dropped, lower-cased, stripped
    assert token_set_ratio("navy", ("color", "navy blue")) == 100  # {navy} is a subset: 100
    assert token_set_ratio("", "navy") == 0 and token_set_ratio("!!", "navy") == 0  # empty after processing
    # "machine washable" vs "machine wash": sect "machine"; t1 "machine washable" (16), t2 "machine wash" (12),
    # indel distance 4 -> (28 - 4) / 28 = 85.71 -> 86
    assert token_set_ratio("machine washable", "machine wash") == 86


# --- attributes -----------------------------------------------------------------------------------


def test_attribute_fuzzy_match_above_85_on_the_products_attributes():
    bare = dict(title="Kazo", description="", bullet_points=())
    # goal "machine wash" vs Attribute "machine washable": 86 > 85 -> match; no text mentions it.
    # (1 attr + 2 options + 1 price) / (1 + 2 + 1) = 1.0
    parts = reward_breakdown(
        product(attributes=("machine washable",), **bare),
        goal(attributes=("machine wash",)),
        40.0,
        RIGHT_OPTIONS,
        nouns,
    )
    assert parts.attr_matches == 1 and parts.total == 1.0
    # goal "machine wash" vs "hand wash": sect "wash"; t1 "wash machine" (12), t2 "wash hand" (9);
    # LCS = "wash " + LCS(machine, hand) "an" = 7 -> 2*7/21 = 67; sect vs t1 2*4/16 = 50, vs t2 8/13 = 62 -> 67
    # no match: (0 + 2 + 1) / 4 = 0.75
    parts = reward_breakdown(
        product(attributes=("hand wash",), **bare), goal(attributes=("machine wash",)), 40.0, RIGHT_OPTIONS, nouns
    )
    assert parts.attr_matches == 0 and parts.total == pytest.approx(0.75)


def test_attribute_ratio_is_rounded_before_the_threshold():
    # "scratch resistant frame" vs goal "scratch resistant fabric": sect "resistant scratch" (17 chars),
    # t1 = sect + " frame" (23), t2 = sect + " fabric" (24); LCS = 18 + LCS(frame, fabric) = 18 + 2 = 20
    # -> 2*20/47 = 85.106, which thefuzz returns as 85: NOT > 85. (sect vs t1: 34/40 = 85; vs t2: 34/41 = 83.)
    assert token_set_ratio("scratch resistant frame", "scratch resistant fabric") == 85
    parts = reward_breakdown(
        product(attributes=("scratch resistant frame",), title="Kazo"),
        goal(attributes=("scratch resistant fabric",)),
        40.0,
        RIGHT_OPTIONS,
        nouns,
    )
    assert parts.attr_matches == 0  # (0 + 2 + 1) / 4 = 0.75
    assert parts.total == pytest.approx(0.75)


@pytest.mark.parametrize(
    "where",
    [
        dict(title="Kazo Running Shoes - Lace Up"),  # "lace up" in the lower-cased Title
        dict(bullet_points=("COMFORT: soft", "LACE UP: easy on and off")),  # in the joined BulletPoints
        dict(description="Classic shoes. Lace up for a snug fit."),  # in the lower-cased Description
    ],
)
def test_attribute_substring_of_title_bullets_or_description(where):
    # The Attributes list lacks it ("zzz" shares no token), so only the substring path can match.
    # (1 + 2 + 1) / (1 + 2 + 1) = 1.0
    parts = reward_breakdown(
        product(attributes=("zzz",), **where), goal(attributes=("lace up",)), 40.0, RIGHT_OPTIONS, nouns
    )
    assert parts.attr_matches == 1 and parts.total == 1.0


def test_attribute_absent_everywhere_and_each_goal_attribute_counts_once():
    # "lace up" nowhere: 0; "non slip" matched by two Attributes and the title still counts once.
    # goal attrs (non slip, lace up): n_attr 1 -> (1 + 2 + 1) / (2 + 2 + 1) = 4/5 = 0.8
    parts = reward_breakdown(
        product(attributes=("non slip", "non slip sole"), title="Kazo Non Slip Shoes"),
        goal(attributes=("non slip", "lace up")),
        40.0,
        RIGHT_OPTIONS,
        nouns,
    )
    assert parts.attr_matches == 1 and parts.total == pytest.approx(0.8)


# --- options --------------------------------------------------------------------------------------


def test_colour_normalisation_of_strings_and_tuples():
    assert normalize_color("navy blue") == "blue"  # "blue" precedes "navy" in the list
    assert normalize_color("jet black") == "black"
    assert normalize_color("light wash") == "ash"  # substring test: w-ASH, before "light"
    assert normalize_color("9") == "9"  # no colour word: unchanged
    assert normalize_color(("color", "black")) == "black"  # a tuple element IS a colour word
    assert normalize_color(("color", "navy blue")) == ("color", "navy blue")  # element equality only


def test_tuple_quirk_navy_matches_navy_blue_goal():
    # chosen "navy" -> "navy"; goal ("color", "navy blue") stays a tuple -> "color navy blue"; {navy} subset -> 100.
    # size "9" vs ("size", "9") -> "size 9" -> 100. (2 + 2 + 1) / 5 = 1.0
    parts = reward_breakdown(product(), goal(), 40.0, {"color": "navy", "size": "9"}, nouns)
    assert parts.option_matches == 2 and parts.total == 1.0
    # chosen "x-large" is not needed for a goal of "large": goal ("size", "x-large") -> "size x large";
    # chosen "large" -> {large} subset -> 100 as well.
    parts = reward_breakdown(product(), goal(goal_options={"size": "x-large"}), 40.0, {"size": "large"}, nouns)
    assert parts.option_matches == 1


def test_colour_normalisation_can_make_the_right_choice_miss():
    # chosen "light wash" -> "ash"; goal ("color", "light wash") is not normalised (no element is a colour word)
    # -> "color light wash"; no shared token: ratio("ash", "color light wash") = 2*3/19 = 32 -> no match.
    # goal attrs 2/2, options 0/1: (2 + 0 + 1) / (2 + 1 + 1) = 0.75
    parts = reward_breakdown(
        product(options={"color": ("light wash",)}),
        goal(goal_options={"color": "light wash"}),
        40.0,
        {"color": "light wash"},
        nouns,
    )
    assert parts.option_matches == 0 and parts.total == pytest.approx(0.75)


def test_goal_colour_word_is_normalised_and_matches_any_shade_of_it():
    # goal ("color", "black") -> "black"; chosen "jet black" -> "black" -> 100. (2 + 1 + 1) / 4 = 1.0
    parts = reward_breakdown(product(), goal(goal_options={"color": "black"}), 40.0, {"color": "jet black"}, nouns)
    assert parts.option_matches == 1 and parts.total == 1.0


def test_wrong_and_missing_options():
    # size: chosen "medium" vs goal "size large": no shared token; ratio("medium", "large size") = 2*2/16 = 25.
    # color "blue" vs "color navy blue": 100. n_opt = 1 -> (2 + 1 + 1) / (2 + 2 + 1) = 4/5 = 0.8
    options = {"color": "blue", "size": "medium"}
    parts = reward_breakdown(
        product(), goal(goal_options={"color": "navy blue", "size": "large"}), 40.0, options, nouns
    )
    assert parts.option_matches == 1 and parts.total == pytest.approx(0.8)
    # nothing chosen: n_opt 0 -> (2 + 0 + 1) / 5 = 0.6
    parts = reward_breakdown(product(), goal(), 40.0, {}, nouns)
    assert parts.option_matches == 0 and parts.total == pytest.approx(0.6)


def test_goal_without_options():
    # O = 0: (n_attr + r_price) / (A + 1). One of two attributes ("lace up" yes, "memory foam" no), price ok:
    # (1 + 1) / (2 + 1) = 2/3; chosen options are ignored.
    parts = reward_breakdown(
        product(), goal(attributes=("lace up", "memory foam"), goal_options={}), 40.0, {"color": "red"}, nouns
    )
    assert (parts.attr_matches, parts.option_matches, parts.num_options) == (1, 0, 0)
    assert parts.total == pytest.approx(2 / 3)


# --- price ----------------------------------------------------------------------------------------


def test_price_bound_passes_at_equality_and_fails_above():
    assert reward_breakdown(product(), goal(), 50.0, RIGHT_OPTIONS, nouns).total == 1.0  # 50 <= 50
    parts = reward_breakdown(product(), goal(), 50.01, RIGHT_OPTIONS, nouns)  # (2 + 2 + 0) / 5 = 0.8
    assert parts.r_price == 0 and parts.total == pytest.approx(0.8)


# --- type reward ----------------------------------------------------------------------------------

OTHER_QUERY = "women's walking shoes"
ONE_SHARED_SEGMENT = "Clothing › Women › Sandals"  # shares only "Clothing" with the goal's
TWO_SHARED_SEGMENTS = "Clothing › Women › Shoes › Walking"  # shares "Clothing" and "Shoes"


@pytest.mark.parametrize(
    ("goal_name", "product_name", "query", "category", "title_score", "r_type"),
    [
        # 1 shared of 5 goal nouns = 0.2 (not > 0.2) but the query matches -> 1.0
        ("five nouns", "shoes only", "men's running shoes", ONE_SHARED_SEGMENT, 0.2, 1.0),
        # same title score, other query, 2 shared category segments -> category_match -> 1.0
        ("five nouns", "shoes only", OTHER_QUERY, TWO_SHARED_SEGMENTS, 0.2, 1.0),
        # 2/5 = 0.4 > 0.2 -> 1.0 without query or category match
        ("five nouns", "kazo shoes", OTHER_QUERY, ONE_SHARED_SEGMENT, 0.4, 1.0),
        # 0.2, no query match, 1 shared segment -> 0.5
        ("five nouns", "shoes only", OTHER_QUERY, ONE_SHARED_SEGMENT, 0.2, 0.5),
        # 1/11 = 0.0909 < 0.1 -> 0.1, even with the query and category matching
        ("eleven nouns", "shoes only", "men's running shoes", TWO_SHARED_SEGMENTS, 1 / 11, 0.1),
        # no shared noun -> 0.0, even with the query and category matching
        (GOAL_NAME, "unrelated", "men's running shoes", TWO_SHARED_SEGMENTS, 0.0, 0.0),
        # goal name without nouns: title_score = 0.2 -> 0.5 with no other match ...
        ("no nouns", "shoes only", OTHER_QUERY, ONE_SHARED_SEGMENT, 0.2, 0.5),
        # ... and 1.0 with the query matching
        ("no nouns", "unrelated", "men's running shoes", ONE_SHARED_SEGMENT, 0.2, 1.0),
        # duplicates count in the denominator: |{rack} & {shoe, rack}| / len([shoe x5, rack]) = 1/6 -> 0.5
        # (with a set denominator it would be 1/2 -> 1.0)
        ("shoe rack x5", "rack", OTHER_QUERY, ONE_SHARED_SEGMENT, 1 / 6, 0.5),
        # [shoes, shoes, kazo] vs [shoes]: 1/3 = 0.333 > 0.2 -> 1.0
        ("shoes shoes kazo", "shoes only", OTHER_QUERY, ONE_SHARED_SEGMENT, 1 / 3, 1.0),
    ],
)
def test_type_reward_branches(goal_name, product_name, query, category, title_score, r_type):
    bought = product(name=product_name, query=query, category=category)
    parts = reward_breakdown(bought, goal(name=goal_name), 40.0, RIGHT_OPTIONS, nouns)
    assert parts.title_score == pytest.approx(title_score)
    assert parts.r_type == r_type
    # everything else matched: (2 + 2 + 1) / 5 = 1.0, times r_type
    assert parts.total == pytest.approx(r_type)


def test_category_segments_are_stripped_and_need_two_in_common():
    bought = product(name="shoes only", query=OTHER_QUERY, category="Clothing›Women ›  Shoes ")
    parts = reward_breakdown(bought, goal(name="five nouns"), 40.0, RIGHT_OPTIONS, nouns)
    assert parts.category_match and parts.r_type == 1.0  # {Clothing, Shoes} shared after strip()


def test_all_terms_combine():
    # r_type 0.5 (title 0.2, other query, 1 shared segment); attrs 1/2; options 1/2 (color only); price fails.
    # (1 + 1 + 0) / (2 + 2 + 1) * 0.5 = 2/5 * 0.5 = 0.2
    bought = product(name="shoes only", query=OTHER_QUERY, category=ONE_SHARED_SEGMENT, attributes=("non slip",))
    parts = reward_breakdown(bought, goal(name="five nouns"), 99.0, {"color": "navy blue", "size": "12"}, nouns)
    assert (parts.attr_matches, parts.option_matches, parts.r_price, parts.r_type) == (1, 1, 0, 0.5)
    assert parts.total == pytest.approx(0.2)


def test_dicts_in_webshops_own_schema():
    """The reward takes WebShop's product / goal dicts as they are (Title, BulletPoints, product_category...)."""
    product_dict = {
        "name": GOAL_NAME,
        "Title": "Kazo Running Shoes",
        "Description": "breathable mesh upper",
        "BulletPoints": ["machine wash"],
        "Attributes": ["non slip", "rubber sole"],
        "query": "men's running shoes",
        "product_category": "Clothing › Men › Shoes › Running",
    }
    goal_dict = {
        "name": GOAL_NAME,
        "query": "men's running shoes",
        "product_category": "Clothing › Men › Shoes › Running",
        "attributes": ["non slip", "machine wash", "waterproof"],
        "goal_options": {"color": "navy blue"},
        "price_upper": 50.0,
    }
    # attributes: "non slip" fuzzy 100; "machine wash" substring of the bullets; "waterproof" nowhere -> 2 of 3.
    # option: chosen "navy" vs ("color", "navy blue") -> "color navy blue" token_set_ratio 100 -> 1 of 1.
    # price 45 <= 50 -> 1. Same query -> r_type 1 (title nouns identical, title_score 1).
    # total = (2 + 1 + 1) / (3 + 1 + 1) * 1 = 0.8
    assert webshop_reward(product_dict, goal_dict, 45.0, {"color": "navy"}, nouns) == pytest.approx(0.8)
    # price 55 > 50 -> r_price 0: (2 + 1 + 0) / 5 = 0.6
    assert webshop_reward(product_dict, goal_dict, 55.0, {"color": "navy"}, nouns) == pytest.approx(0.6)
