"""The original WebShop data files: where they are, what is in them, and how they become Products.

A data folder (env kwarg `data_path`, else $WEBSHOP_DATA) holds the files WebShop's setup.sh downloads into
its data/ folder, under their original names:

    product set "small" (default)   items_shuffle_1000.json   items_ins_v2_1000.json   (1000 products)
    product set "full"              items_shuffle.json        items_ins_v2.json        (1.18M products)
    human goals (either set)        items_human_ins.json

Schema (JSON), as WebShop's engine reads it; keys not listed are ignored:

    product file        a list of raw products:
                          asin                  str; "nan", longer than 10 characters, or seen before: skipped
                          name                  str, the title (Title = name)
                          full_description      str (Description; null reads as "")
                          small_description     str or list of str (BulletPoints, always a list)
                          pricing               str such as "$12.99" or "$10.99 - $15.99": the numbers after
                                                each "$" (non-digits dropped, so "$1,299.00" is 1299.0), at most
                                                two; missing or empty -> [100.0]
                          customization_options {option name: [{"value": str, "image": url}, ...] or null}
                                                or null; names lower-cased, values stripped, "/" -> " | ",
                                                lower-cased
                          category              str, one of WebShop's five groups (beauty, electronics,
                                                fashion, food, furniture): the task_type
                          query                 str, the search query the product was scraped under
                                                (lower-cased and stripped)
                          product_category      str, "A › B › C"
    attribute file      {asin: {"attributes": [str], "instruction": str or null,
                                "instruction_attributes": [str]}}; Attributes = "attributes", or
                        ["DUMMY_ATTR"] for a product without them; synthetic goals come from "instruction"
    human-goal file     {asin: [{"instruction": str, "instruction_attributes": [str],
                                 "instruction_options": [str]}, ...]}

Prices are drawn and goals are made in original_goals.py. What differs from WebShop's loader: a product
missing from the attribute file has no synthetic goal (the original raises KeyError in that mode); product
images, reviews and ratings are not read (the text pages print "Rating: N.A." and no reviews).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from agentrl.envs.webshop.catalogue import Product

PRODUCT_SETS = {
    "small": ("items_shuffle_1000.json", "items_ins_v2_1000.json"),
    "full": ("items_shuffle.json", "items_ins_v2.json"),
}
HUMAN_GOALS_FILE = "items_human_ins.json"
DATA_ENV_VAR = "WEBSHOP_DATA"
SOURCES = ("auto", "original", "generated")
DEFAULT_PRICE = 100.0  # a product without pricing costs this, as in the original
DUMMY_ATTRIBUTE = "DUMMY_ATTR"
_NOT_PRICE = re.compile(r"[^\d.]")


class WebShopDataError(ValueError):
    """The original data cannot be used as asked; the message names the folder, the file and the fix."""


@dataclass(frozen=True)
class InstructionRecord:
    """One instruction of the attribute file (synthetic) or of the human-goal file (human)."""

    instruction: str
    attributes: tuple[str, ...]
    options: tuple[str, ...] = ()  # human goals only: the option texts the person wrote


@dataclass(frozen=True)
class OriginalData:
    """The products in file order (after the skip rules) and each product's instructions."""

    folder: Path
    product_set: str
    human_goals: bool
    products: tuple[Product, ...]
    instructions: dict[str, tuple[InstructionRecord, ...]]  # asin -> its instructions, in file order

    @property
    def description(self) -> str:
        goals = "human" if self.human_goals else "synthetic"
        return f"original data ({PRODUCT_SETS[self.product_set][0]}, {len(self.products)} products, {goals} goals)"


def resolve_source(source: str = "auto", data_path: str | os.PathLike | None = None) -> Path | None:
    """The data folder to load, or None for the generated catalogue.

    source "generated": None. "auto": the folder of `data_path`, else of $WEBSHOP_DATA, else None. "original":
    the same but a folder is required. A folder that is named is used, never silently replaced by the
    generated catalogue: `load_original_data` reports what is missing in it.
    """
    if source not in SOURCES:
        raise WebShopDataError(f"webshop: source must be one of {SOURCES}, got {source!r}")
    if source == "generated":
        return None
    named = data_path if data_path not in (None, "") else os.environ.get(DATA_ENV_VAR) or None
    if named is None:
        if source == "original":
            raise WebShopDataError(
                "webshop: source 'original' needs the original data: set env_kwargs data_path (or $WEBSHOP_DATA) to "
                f"the folder holding {PRODUCT_SETS['small'][0]} etc.; docs/webshop.md says how to get them"
            )
        return None
    return Path(named).expanduser()


def load_original_data(folder: Path, product_set: str = "small", human_goals: bool = False) -> OriginalData:
    """Read the product file and the goal file of `product_set` (and `human_goals`) in `folder`."""
    if product_set not in PRODUCT_SETS:
        raise WebShopDataError(f"webshop: product_set must be one of {tuple(PRODUCT_SETS)}, got {product_set!r}")
    product_file, attribute_file = PRODUCT_SETS[product_set]
    needed = [product_file, attribute_file] + ([HUMAN_GOALS_FILE] if human_goals else [])
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise WebShopDataError(
            f"webshop: the data folder {str(folder)!r} (env_kwargs data_path or ${DATA_ENV_VAR}) lacks "
            f"{', '.join(missing)}; put WebShop's original files there (docs/webshop.md), choose product_set "
            f"{'full' if product_set == 'small' else 'small'}, or set source: generated for the generated catalogue"
        )
    raw_products = _read_json(folder / product_file, list)
    attributes = _read_json(folder / attribute_file, dict)
    products = products_from_raw(raw_products, attributes, folder / product_file)
    if human_goals:
        human = _read_json(folder / HUMAN_GOALS_FILE, dict)
        instructions = {
            asin: tuple(_human_record(record, folder / HUMAN_GOALS_FILE) for record in human[asin])
            for asin in (product.asin for product in products)
            if asin in human
        }
    else:
        instructions = {}
        for product in products:
            record = attributes.get(product.asin) or {}
            if record.get("instruction") is not None:
                instructions[product.asin] = (
                    InstructionRecord(record["instruction"], tuple(record.get("instruction_attributes") or ())),
                )
    return OriginalData(folder, product_set, human_goals, products, instructions)


def products_from_raw(raw_products: list, attributes: dict, source: Path | str = "") -> tuple[Product, ...]:
    """WebShop's loader: skip bad and repeated asins, then map each raw product onto the Product schema."""
    seen: set[str] = set()
    products = []
    for position, raw in enumerate(raw_products):
        try:
            asin = str(raw["asin"])
            if asin == "nan" or len(asin) > 10 or asin in seen:
                continue
            seen.add(asin)
            products.append(product_from_raw(raw, attributes.get(asin)))
        except (KeyError, TypeError, AttributeError, ArithmeticError) as error:
            raise WebShopDataError(
                f"webshop: product {position} of {str(source)!r} does not follow the original schema "
                f"({type(error).__name__}: {error}); see the schema in agentrl/envs/webshop/original_data.py"
            ) from None
    return tuple(products)


def product_from_raw(raw: dict[str, Any], attribute_record: dict | None) -> Product:
    pricing, price_label = parse_pricing(raw.get("pricing"))
    bullets = raw.get("small_description")
    bullets = bullets if isinstance(bullets, list) else [bullets]
    options: dict[str, tuple[str, ...]] = {}
    for name, contents in (raw.get("customization_options") or {}).items():
        if contents is None:
            continue
        options[name.lower()] = tuple(content["value"].strip().replace("/", " | ").lower() for content in contents)
    found = (attribute_record or {}).get("attributes")
    return Product(
        asin=str(raw["asin"]),
        name=raw["name"],
        title=raw["name"],
        description=raw.get("full_description") or "",
        bullet_points=tuple(str(bullet) for bullet in bullets if bullet is not None),
        query=raw["query"].lower().strip(),
        category=raw["product_category"],
        pricing=pricing,
        options=options,
        attributes=tuple(found) if found is not None else (DUMMY_ATTRIBUTE,),
        group=raw["category"],
        type_index=-1,
        family=-1,
        price_label=price_label,
    )


def parse_pricing(pricing: str | None) -> tuple[tuple[float, ...], str]:
    """(pricing, price tag) of a pricing string: "$10.99 - $15.99" -> ((10.99, 15.99), "$10.99 to $15.99").

    The tag prints Python floats ("$100.0"), as the original's pages do.
    """
    if not pricing:
        return (DEFAULT_PRICE,), f"${DEFAULT_PRICE}"
    values = [float(Decimal(_NOT_PRICE.sub("", part))) for part in pricing.split("$")[1:]]
    if not values:
        raise ArithmeticError(f"no price in pricing {pricing!r}")
    if len(values) == 1:
        return (values[0],), f"${values[0]}"
    return (values[0], values[1]), f"${values[0]} to ${values[1]}"


def _human_record(record: dict, source: Path) -> InstructionRecord:
    try:
        return InstructionRecord(
            instruction=record["instruction"],
            attributes=tuple(record.get("instruction_attributes") or ()),
            options=tuple(record.get("instruction_options") or ()),
        )
    except (KeyError, TypeError) as error:
        raise WebShopDataError(
            f"webshop: a record of {str(source)!r} lacks {error}; each is "
            '{"instruction": str, "instruction_attributes": [...], "instruction_options": [...]}'
        ) from None


def _read_json(path: Path, kind: type) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as error:
        raise WebShopDataError(f"webshop: cannot read {str(path)!r}: {str(error).splitlines()[0]}") from None
    if not isinstance(data, kind):
        raise WebShopDataError(
            f"webshop: {str(path)!r} holds a JSON {type(data).__name__}; the original file is a JSON {kind.__name__}"
        )
    return data


def catalogue_in_use(env_kwargs: dict | None = None) -> str:
    """What a webshop env made with `env_kwargs` shops in, without reading any data: "original data in FOLDER"
    or "generated catalogue" (scripts/reproduce.sh refuses a WebShop paper cell on the latter)."""
    kwargs = dict(env_kwargs or {})
    folder = resolve_source(kwargs.get("source", "auto"), kwargs.get("data_path"))
    return "generated catalogue" if folder is None else f"original data in {folder}"
