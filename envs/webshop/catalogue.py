"""The generated product catalogue: thousands of WebShop-schema products from a seed, in pure Python.

Products come in families of four drawn from one product type and brand: the base product and three
near-misses of it, each wrong in one way a shopper can check on the item page:
    attribute variant   one Attribute swapped for another of the type's pool (also gone from its text)
    option variant      option values redrawn, at least one of the base's values left out per option
    price variant       the same product at 1.8-3x the price (over most goals' price bound)
Every product is also a goal's target, so every goal has its family as near-miss distractors, and the
rest of its type and category as further ones. This is what keeps the reward over purchases spread
out between 0 and 1 instead of collapsing to {0, 1}.

`pricing` is [x] or [x, y] as on the real site; the price a purchase is charged (and the goal's price
bound is drawn from) is one draw uniform in [x, y] per catalogue, made from the seed, so every env
instance and worker process built with the same seed agrees on it.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from agentrl.envs.webshop.vocabulary import ADJECTIVES, BLURBS, BRAND_SYLLABLES, NOUNS, PRODUCT_TYPES, ProductType

FAMILY_SIZE = 4
NO_OPTIONS_RATE = 0.08  # share of families sold without options (their goals test the no-options reward)
RANGE_PRICING_RATE = 0.3  # share of families priced as a range [x, y]
_ASIN_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Product:
    """One product in WebShop's schema (Title -> title, BulletPoints -> bullet_points, ...)."""

    asin: str  # upper-case, as printed; clicks use it lower-cased
    name: str  # the product's name (WebShop's `name`, the title)
    title: str
    description: str
    bullet_points: tuple[str, ...]
    query: str
    category: str  # "A › B › C"
    pricing: tuple[float, ...]  # (x,) or (x, y)
    options: dict[str, tuple[str, ...]]  # option name -> values, in page order; empty for no options
    attributes: tuple[str, ...]
    group: str  # one of vocabulary.GROUPS
    type_index: int  # index into vocabulary.PRODUCT_TYPES
    family: int
    price_label: str = ""  # the printed price when it is not "$x.xx" (the original data prints Python floats)

    @property
    def price_tag(self) -> str:
        """The price as the results and item pages print it: "$19.99" or "$19.99 to $24.99"."""
        return self.price_label or " to ".join(f"${value:.2f}" for value in self.pricing)


@dataclass
class Catalogue:
    """All products of one (num_products, seed), the per-catalogue price of each, and their nouns."""

    seed: int
    products: tuple[Product, ...]
    prices: dict[str, float]  # asin -> the price a purchase is charged
    brands: frozenset[str]  # lower-case brand names (proper nouns)
    noun_fn: Callable[[str], list[str]] | None = None  # a tagger for names the generator did not write
    by_asin: dict[str, Product] = field(init=False)

    def __post_init__(self) -> None:
        self.by_asin = {product.asin: product for product in self.products}

    def nouns(self, name: str) -> list[str]:
        """The nouns of a name, in order, duplicates kept: common nouns of the vocabulary and brands (or what
        `noun_fn` tags, for a catalogue of real products)."""
        if self.noun_fn is not None:
            return self.noun_fn(name)
        return [word for word in _WORD.findall(name.lower()) if word in NOUNS or word in self.brands]


def brand_names() -> tuple[str, ...]:
    """Every two-syllable brand ("Kazo", "Rimel", ...), in a fixed order."""
    return tuple(
        (first + second).capitalize() for first in BRAND_SYLLABLES for second in BRAND_SYLLABLES if first != second
    )


def generate_catalogue(num_products: int, seed: int) -> Catalogue:
    """`num_products` products in families of FAMILY_SIZE, product types taken round robin."""
    if num_products < FAMILY_SIZE * len(PRODUCT_TYPES):
        raise ValueError(
            f"webshop: num_products must be at least {FAMILY_SIZE * len(PRODUCT_TYPES)} (one family per product "
            f"type), got {num_products}"
        )
    rng = random.Random(f"webshop-catalogue-{seed}")
    brands = brand_names()
    asins: set[str] = set()
    products: list[Product] = []
    family = 0
    while len(products) < num_products:
        type_index = family % len(PRODUCT_TYPES)
        members = _family(rng, family, type_index, PRODUCT_TYPES[type_index], rng.choice(brands), asins)
        products.extend(members[: num_products - len(products)])
        family += 1
    price_rng = random.Random(f"webshop-prices-{seed}")
    prices = {product.asin: _draw_price(price_rng, product.pricing) for product in products}
    return Catalogue(seed=seed, products=tuple(products), prices=prices, brands=frozenset(b.lower() for b in brands))


def _draw_price(rng: random.Random, pricing: tuple[float, ...]) -> float:
    return pricing[0] if len(pricing) == 1 else round(rng.uniform(pricing[0], pricing[1]), 2)


def _family(
    rng: random.Random, family: int, type_index: int, kind: ProductType, brand: str, asins: set[str]
) -> list[Product]:
    """The base product of one family and its attribute, option and price near-misses."""
    adjective = rng.choice(ADJECTIVES[kind.group])
    head = rng.choice(kind.heads)
    attributes = rng.sample(kind.attributes, rng.randint(3, min(5, len(kind.attributes))))
    options = {} if rng.random() < NO_OPTIONS_RATE else _draw_options(rng, kind.options, exclude={})
    low = _cents(rng.uniform(*kind.price))
    pricing = (low, _cents(low * rng.uniform(1.1, 1.5))) if rng.random() < RANGE_PRICING_RATE else (low,)

    swapped = list(attributes)
    spare = [attribute for attribute in kind.attributes if attribute not in attributes]
    if spare:
        swapped[rng.randrange(len(swapped))] = rng.choice(spare)
    else:  # every pool attribute is used: the variant lacks one instead
        swapped.pop(rng.randrange(len(swapped)))
    redrawn = _draw_options(rng, kind.options, exclude=options) if options else {}
    factor = rng.uniform(1.8, 3.0)
    pricier = tuple(_cents(value * factor) for value in pricing)

    variants = [
        (attributes, options, pricing),
        (swapped, options, pricing),
        (attributes, redrawn, pricing),
        (attributes, options, pricier),
    ]
    return [
        _product(rng, kind, type_index, family, brand, adjective, head, tuple(attrs), opts, price, asins)
        for attrs, opts, price in variants
    ]


def _draw_options(
    rng: random.Random, pools: tuple[tuple[str, tuple[str, ...]], ...], exclude: dict[str, tuple[str, ...]]
) -> dict[str, tuple[str, ...]]:
    """A non-empty subset of each option pool (in pool order), no value repeated across options.

    With `exclude` (the base product's options) one of its values per option is left out, so some
    goals of the base product ask for a value the option variant does not offer.
    """
    used: set[str] = set()
    options: dict[str, tuple[str, ...]] = {}
    for name, pool in pools:
        candidates = [value for value in pool if value not in used]
        if exclude.get(name) and len(candidates) > 1:
            dropped = rng.choice(exclude[name])
            candidates = [value for value in candidates if value != dropped]
        count = rng.randint(min(2, len(candidates)), min(6, len(candidates)))
        chosen = set(rng.sample(candidates, count))
        values = tuple(value for value in pool if value in chosen)
        if values:
            options[name] = values
            used.update(values)
    return options


def _product(
    rng: random.Random,
    kind: ProductType,
    type_index: int,
    family: int,
    brand: str,
    adjective: str,
    head: str,
    attributes: tuple[str, ...],
    options: dict[str, tuple[str, ...]],
    pricing: tuple[float, ...],
    asins: set[str],
) -> Product:
    audience = f"{kind.audience} " if kind.audience else ""
    features = ", ".join(_title_case(attribute) for attribute in attributes[:2])
    title = f"{brand} {audience}{adjective} {head} - {features}"
    blurbs = BLURBS[kind.group]
    first, second = rng.sample(blurbs, 2)
    description = f"{brand} {head.lower()}. Key features: {', '.join(attributes)}. {first} {second}"
    bullets = tuple(f"{attribute.upper()}: {rng.choice(blurbs)}" for attribute in attributes)
    return Product(
        asin=_new_asin(rng, asins),
        name=title,
        title=title,
        description=description,
        bullet_points=(*bullets, f"WHAT YOU GET: {brand} {head.lower()}. {rng.choice(blurbs)}"),
        query=kind.query,
        category=kind.category,
        pricing=pricing,
        options=dict(options),
        attributes=attributes,
        group=kind.group,
        type_index=type_index,
        family=family,
    )


def _title_case(phrase: str) -> str:
    return " ".join(word.capitalize() for word in phrase.split())


def _cents(value: float) -> float:
    """A shop price: whole dollars and 99 cents."""
    return math.floor(value) + 0.99


def _new_asin(rng: random.Random, taken: set[str]) -> str:
    while True:
        asin = "B0" + "".join(rng.choice(_ASIN_CHARS) for _ in range(8))
        if asin not in taken:
            taken.add(asin)
            return asin
