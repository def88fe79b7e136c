"""WebShop's purchase reward (`get_reward` of the original web_agent_site), reproduced case for case.

    total = (n_attr + n_opt + r_price) / (len(attributes) + len(goal_options) + 1) * r_type

n_attr      goal attributes matched: fuzzy token_set_ratio(p_attr, g) > 85 for one of the purchased
            product's Attributes, or g is a substring of its lower-cased Title, joined BulletPoints or
            Description. Each goal attribute counts at most once.
n_opt       goal options matched: token_set_ratio(chosen, goal_option) > 85 for one chosen option VALUE,
            both colour-normalised first. With no goal options the term and its count are 0.
r_price     1 if price <= price_upper else 0 (the original adds the bool).
r_type      1.0 if query_match or category_match or title_score > 0.2, else 0.5; then 0.1 if
            title_score < 0.1; then 0.0 if title_score == 0 (the later rules override the earlier).

The quirks are kept on purpose, since a policy trained here should meet the same reward it would meet
on the real site:
- goal_options is a dict {name: value}; the original iterates its items(), so every goal option is a
  (name, value) tuple. Colour normalisation on a tuple tests element equality (only a value that IS a
  colour word is normalised), and the fuzzy ratio sees str(tuple) processed, "color navy blue": a chosen
  "navy" then scores 100 against ("color", "navy blue").
- Fuzzy ratios are thefuzz 0.19's token_set_ratio: str() of a non-string, non-ASCII dropped, every
  non-word character replaced by a space, lower-cased, stripped; the result rounded to an int before
  the "> 85" test (so 85.4 fails and 85.7 passes). rapidfuzz computes the same ratio on the processed
  strings.
- title_score divides by the goal noun LIST (duplicates count) but intersects noun SETS.
- The original tags nouns with spaCy (NOUN, PROPN); here the catalogue generator knows the nouns of the
  names it writes and passes them in as `noun_fn`.

Field names map to WebShop's product schema: title=Title, description=Description,
bullet_points=BulletPoints, attributes=Attributes, category=product_category; query and name as is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rapidfuzz import fuzz

# WebShop's normalisation list, in its order: the first entry contained in a string wins.
COLOR_SET = (
    "alabaster", "apricot", "aqua", "ash", "asphalt", "azure", "banana", "beige", "black", "blue", "blush",
    "bordeaux", "bronze", "brown", "burgundy", "camel", "camo", "caramel", "champagne", "charcoal", "cheetah",
    "chestnut", "chocolate", "christmas", "coffee", "cognac", "copper", "coral", "cranberry", "cream", "crystal",
    "dark", "denim", "eggplant", "elephant", "espresso", "fuchsia", "gold", "granite", "grape", "graphite",
    "grass", "gray", "green", "grey", "heather", "indigo", "ivory", "ivy", "khaki", "lavender", "lemon",
    "leopard", "light", "lilac", "lime", "magenta", "maroon", "mauve", "merlot", "midnight", "mint", "mocha",
    "multicolor", "mushroom", "mustard", "natural", "navy", "nude", "olive", "orange", "peach", "pewter", "pink",
    "plum", "purple", "rainbow", "red", "rose", "royal", "rust", "sand", "sapphire", "seashell", "silver",
    "skull", "slate", "steel", "stone", "stonewash", "sunflower", "tan", "taupe", "teal", "tiger", "turquoise",
    "violet", "walnut", "wheat", "white", "wine", "yellow",
)  # fmt: skip

FUZZY_THRESHOLD = 85  # a match needs a ratio strictly above this
_NON_WORD = re.compile(r"(?ui)\W")


class PurchasedProduct(Protocol):
    """What the reward reads of a product (agentrl.envs.webshop.catalogue.Product has these fields)."""

    name: str
    title: str
    description: str
    bullet_points: Sequence[str]
    attributes: Sequence[str]
    category: str
    query: str


class RewardGoal(Protocol):
    """What the reward reads of a goal (agentrl.envs.webshop.goals.Goal has these fields)."""

    name: str
    query: str
    category: str
    attributes: Sequence[str]
    goal_options: Mapping[str, str] | Sequence[str]
    price_upper: float


@dataclass(frozen=True)
class RewardBreakdown:
    """Every term of one purchase's reward, for debugging and tests."""

    query_match: bool
    category_match: bool
    title_score: float
    r_type: float
    attr_matches: int
    num_attributes: int
    option_matches: int
    num_options: int
    r_price: int
    total: float


def process(value: Any) -> str:
    """thefuzz 0.19's full_process with force_ascii: str() of a non-string, ASCII only, non-word -> space, lower."""
    text = value if isinstance(value, str) else str(value)
    text = text.encode("ascii", "ignore").decode("ascii")
    return _NON_WORD.sub(" ", text).lower().strip()


def token_set_ratio(a: Any, b: Any) -> int:
    """thefuzz 0.19's token_set_ratio(a, b) with its default processing, as the int it returns."""
    if a is None or b is None or len(a) == 0 or len(b) == 0:
        return 0
    processed_a, processed_b = process(a), process(b)
    if not processed_a or not processed_b:
        return 0
    return int(round(fuzz.token_set_ratio(processed_a, processed_b, processor=None)))


def normalize_color(value: Any) -> Any:
    """The first COLOR_SET entry `in` value (substring on a str, element equality on a tuple), else value."""
    for color in COLOR_SET:
        if color in value:
            return color
    return value


def type_reward(product: PurchasedProduct, goal: RewardGoal, noun_fn: Callable[[str], list[str]]) -> tuple:
    """(r_type, query_match, category_match, title_score) of buying `product` for `goal`."""
    query_match = product.query == goal.query
    product_segments = {segment.strip() for segment in product.category.split("›")}
    goal_segments = {segment.strip() for segment in goal.category.split("›")}
    category_match = len(product_segments & goal_segments) >= 2
    product_nouns = [noun.lower() for noun in noun_fn(product.name)]
    goal_nouns = [noun.lower() for noun in noun_fn(goal.name)]
    if goal_nouns:
        title_score = len(set(product_nouns) & set(goal_nouns)) / len(goal_nouns)
    else:
        title_score = 0.2
    r_type = 1.0 if (query_match or category_match or title_score > 0.2) else 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return r_type, query_match, category_match, title_score


def attribute_matches(product: PurchasedProduct, goal_attributes: Iterable[str]) -> int:
    """How many goal attributes the product has (fuzzy on its Attributes, else substring of its text)."""
    title = product.title.lower()
    bullets = " ".join(product.bullet_points).lower()
    description = product.description.lower()
    matched = 0
    for goal_attr in goal_attributes:
        if any(token_set_ratio(p_attr, goal_attr) > FUZZY_THRESHOLD for p_attr in product.attributes):
            matched += 1
        elif goal_attr in title or goal_attr in bullets or goal_attr in description:
            matched += 1
    return matched


def option_matches(chosen_values: Iterable[str], goal_options: Mapping[str, str] | Sequence[str]) -> int:
    """How many goal options one chosen value matches (dict goals compare (name, value) tuples)."""
    goal_entries = list(goal_options.items()) if isinstance(goal_options, Mapping) else list(goal_options)
    chosen = [normalize_color(value) for value in chosen_values]
    goal_entries = [normalize_color(entry) for entry in goal_entries]
    return sum(1 for entry in goal_entries if any(token_set_ratio(value, entry) > FUZZY_THRESHOLD for value in chosen))


@dataclass(frozen=True)
class _SchemaView:
    """Attribute access to a product or goal given as a dict in WebShop's own schema."""

    name: str = ""
    title: str = ""
    description: str = ""
    bullet_points: Sequence[str] = ()
    attributes: Sequence[str] = ()
    category: str = ""
    query: str = ""
    goal_options: Mapping[str, str] | Sequence[str] = ()
    price_upper: float = 1e6


def _from_schema(item: Any) -> Any:
    """A WebShop-schema dict (name, Title, Description, BulletPoints, Attributes, query, product_category;
    goals: attributes, goal_options, price_upper) as an object with this module's field names; objects pass."""
    if not isinstance(item, Mapping):
        return item
    return _SchemaView(
        name=item.get("name", ""),
        title=item.get("Title", item.get("title", "")),
        description=item.get("Description", item.get("description", "")) or "",
        bullet_points=tuple(item.get("BulletPoints", item.get("bullet_points", ())) or ()),
        attributes=tuple(item.get("Attributes", item.get("attributes", ())) or ()),
        category=item.get("product_category", item.get("category", "")),
        query=item.get("query", ""),
        goal_options=item.get("goal_options", ()) or (),
        price_upper=item.get("price_upper", 1e6),
    )


def reward_breakdown(
    product: PurchasedProduct | Mapping[str, Any],
    goal: RewardGoal | Mapping[str, Any],
    price: float,
    options: Mapping[str, str],
    noun_fn: Callable[[str], list[str]],
) -> RewardBreakdown:
    """All terms of WebShop's reward for buying `product` at `price` with `options` ({name: value} chosen).

    `product` and `goal` are dicts in WebShop's schema or this package's Product / Goal objects.
    """
    product, goal = _from_schema(product), _from_schema(goal)
    r_type, query_match, category_match, title_score = type_reward(product, goal, noun_fn)
    n_attr = attribute_matches(product, goal.attributes)
    n_opt = option_matches(list(options.values()), goal.goal_options) if goal.goal_options else 0
    r_price = int(price <= goal.price_upper)
    denominator = len(goal.attributes) + len(goal.goal_options) + 1
    total = (n_attr + n_opt + r_price) / denominator * r_type
    return RewardBreakdown(
        query_match=query_match,
        category_match=category_match,
        title_score=title_score,
        r_type=r_type,
        attr_matches=n_attr,
        num_attributes=len(goal.attributes),
        option_matches=n_opt,
        num_options=len(goal.goal_options),
        r_price=r_price,
        total=total,
    )


def webshop_reward(
    product: PurchasedProduct | Mapping[str, Any],
    goal: RewardGoal | Mapping[str, Any],
    price: float,
    options: Mapping[str, str],
    noun_fn: Callable[[str], list[str]],
) -> float:
    """WebShop's reward in [0, 1] for buying `product` at `price` with the chosen `options`."""
    return reward_breakdown(product, goal, price, options, noun_fn).total
