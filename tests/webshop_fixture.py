"""A small WebShop data folder in the exact schema of the original files, written at test time.

`write_original_fixture(folder)` writes items_shuffle_1000.json (raw products), items_ins_v2_1000.json
(attributes and synthetic instructions) and items_human_ins.json (human instructions) - the names and layouts
of WebShop's small set (envs/webshop/original_data.py documents them) - and returns the raw data it wrote.

40 products over 10 kinds in WebShop's five groups, four brands a kind; with their option combinations they
give 539 synthetic goals (more than the 500 of the test split) and 41 human goals. On purpose the files also
hold everything the loader must handle: skipped asins ("nan", too long, repeated), a price range, a price with
a thousands comma (over every price bound), a product without pricing, null options and option lists,
"/" in option values, upper-case option names, a string small_description, a product missing from the
attribute file, one with a null instruction, one whose instruction shares no word with any product (its
search finds nothing, so the expert searches the title), human records without attributes (skipped) and
human instructions ending in a full stop.
"""

from __future__ import annotations

import json
from pathlib import Path

BRANDS = ("Kazoo", "Velmo", "Orlen", "Tarsi")


def _kind(query, category, group, audience, head, attributes, options, price):
    return dict(query=query, product_category=category, category=group, audience=audience, head=head,
                attributes=attributes, options=options, price=price)  # fmt: skip


KINDS = (
    _kind("men's running shoes", "Clothing, Shoes & Jewelry › Men › Shoes › Athletic › Running", "fashion", "Men's",
          "Running Shoes", ("non slip", "rubber sole", "lace up", "memory foam"),
          {"Color": ["Black", "Navy Blue", "Grey", "White/Gold", "Red", "Green"],
           "Size": ["7", "8", "9", "10", "11", "12", "13", "14"]}, 49.99),
    _kind("women's sandals", "Clothing, Shoes & Jewelry › Women › Shoes › Sandals", "fashion", "Women's",
          "Flat Sandals", ("open toe", "ankle strap", "arch support", "quick drying"),
          {"color": ["Pink", "Beige", "White", "Black", "Silver"], "size": ["5", "6", "7", "8", "9", "10"]}, 24.99),
    _kind("men's t-shirts", "Clothing, Shoes & Jewelry › Men › Clothing › Shirts › T-Shirts", "fashion", "Men's",
          "Cotton T-Shirt", ("short sleeve", "machine wash", "crew neck", "classic fit"),
          {"Color": ["Olive", "Maroon", "Charcoal", "Purple", "Yellow"],
           "Size": ["small", "medium", "large", "x-large", "xx-large"]}, 15.99),
    _kind("hair dryer", "Beauty & Personal Care › Hair Care › Styling Tools › Hair Dryers", "beauty", "",
          "Ionic Hair Dryer", ("fast drying", "low noise", "cool shot"), {"Color": ["Black", "Rose Gold"]}, 39.99),
    _kind("face moisturizer", "Beauty & Personal Care › Skin Care › Face › Moisturizers", "beauty", "",
          "Face Moisturizer", ("fragrance free", "sensitive skin", "hyaluronic acid"),
          {"Size": ["1.7 Fl Oz", "3.4 Fl Oz"]}, 18.5),
    _kind("wireless earbuds", "Electronics › Headphones › Earbud Headphones", "electronics", "",
          "Wireless Earbuds", ("noise cancelling", "long battery life", "water resistant"),
          {"Color": ["Black", "White", "Blue", "Coral"]}, 59.99),
    _kind("usb c cable", "Electronics › Computers & Accessories › Cables › USB Cables", "electronics", "",
          "USB C Charging Cable", ("fast charging", "braided nylon", "high speed"),
          {"Size": ["3 ft", "6 ft", "10 ft"], "Color": ["Black", "White", "Teal", "Orange"]}, 9.99),
    _kind("trail mix", "Grocery & Gourmet Food › Snack Foods › Trail Mix", "food", "", "Trail Mix Snack Pack",
          ("gluten free", "non gmo", "high protein"),
          {"Flavor Name": ["Sweet & Salty", "Dark Chocolate", "Cranberry Almond"],
           "Size": ["12 Ounce (Pack of 2)", "24 Ounce", "6 Ounce (Pack of 6)"]}, 13.49),
    _kind("office chair", "Home & Kitchen › Furniture › Home Office Furniture › Home Office Chairs", "furniture", "",
          "Ergonomic Office Chair", ("lumbar support", "adjustable height", "mesh back"),
          {"Color": ["Black", "Grey", "White", "Blue"], "Style": ["With Headrest", "Without Headrest"]}, 129.0),
    _kind("bookshelf", "Home & Kitchen › Furniture › Living Room Furniture › Bookcases", "furniture", "",
          "Wooden Bookshelf", ("easy assembly", "engineered wood", "storage space"),
          {"Color": ["Walnut", "White", "Espresso"], "Size": ["3-Tier", "4-Tier", "5-Tier"]}, 69.0),
)  # fmt: skip


def _title_case(phrase: str) -> str:
    return " ".join(word.capitalize() for word in phrase.split())


def _asin(kind: int, brand: int) -> str:
    return f"B0FIX{kind:02d}{brand:03d}"


def raw_product(kind_index: int, brand_index: int) -> dict:
    """The raw product `brand_index` of kind `kind_index`, as the product file stores it."""
    kind = KINDS[kind_index]
    brand = BRANDS[brand_index]
    attributes = _attributes(kind_index, brand_index)
    audience = f"{kind['audience']} " if kind["audience"] else ""
    name = f"{brand} {audience}{kind['head']} - {_title_case(attributes[0])}"
    # Each brand offers every value of the first option and all but the last of the others (so sibling
    # products differ in what they offer), as {"value", "image"} lists like the scraped data.
    options = {}
    for position, (option, values) in enumerate(kind["options"].items()):
        kept = values if position == 0 or brand_index % 2 == 0 else values[:-1]
        options[option] = [{"value": value, "image": f"https://example.com/{value}.jpg"} for value in kept]
    price = kind["price"] * (1 + brand_index)  # brand 3 of a kind costs 4x brand 0
    return {
        "asin": _asin(kind_index, brand_index),
        "name": name,
        "full_description": f"{brand} {kind['head'].lower()}. Made with {', '.join(attributes)}.",
        "small_description": [f"{attribute.upper()}: a {brand} quality." for attribute in attributes],
        "pricing": f"${price:.2f}",
        "customization_options": options,
        "images": [f"https://example.com/{_asin(kind_index, brand_index)}.jpg"],
        "category": kind["category"],
        "query": kind["query"],
        "product_category": kind["product_category"],
        "brand": brand,  # a key the loader ignores (the original drops it)
    }


def _attributes(kind_index: int, brand_index: int) -> list[str]:
    pool = KINDS[kind_index]["attributes"]
    return [pool[0], pool[1 + brand_index % (len(pool) - 1)]]


def instruction_record(kind_index: int, brand_index: int) -> dict:
    """The product's entry in the attribute file: its attributes and one synthetic instruction."""
    kind = KINDS[kind_index]
    attributes = _attributes(kind_index, brand_index)
    wanted = attributes[brand_index % 2]
    return {
        "attributes": attributes,
        "instruction": f"i need {kind['query']} that is {wanted}",
        "instruction_attributes": [wanted],
    }


def human_records(kind_index: int, brand_index: int) -> list[dict]:
    """One or two human instructions for the product (the first of each kind's brand 0 has no attributes)."""
    kind = KINDS[kind_index]
    attributes = _attributes(kind_index, brand_index)
    options = list(kind["options"].items())
    # Option texts in a person's words: a colour capitalised differently, "size N", a value as written.
    first = options[0][1][brand_index % len(options[0][1])].upper()
    texts = [first] + ([f"size {options[1][1][0]}"] if len(options) > 1 and options[1][0].lower() == "size" else [])
    records = [
        {
            "instruction": f"I'm looking for a {kind['head'].lower()} with {attributes[1]}, {' and '.join(texts)}.",
            "instruction_attributes": [attributes[1]],
            "instruction_options": texts,
            "assignment_id": f"A{kind_index}{brand_index}",  # a key the loader ignores
        }
    ]
    if brand_index == 0:
        records.insert(0, {"instruction": "any", "instruction_attributes": [], "instruction_options": []})
    return records


def write_original_fixture(folder: Path) -> dict:
    """Write the three files into `folder`; return {"products", "attributes", "human"} as written."""
    products = [raw_product(kind, brand) for kind in range(len(KINDS)) for brand in range(len(BRANDS))]
    attributes = {product["asin"]: instruction_record(*_indices(product["asin"])) for product in products}
    human = {product["asin"]: human_records(*_indices(product["asin"])) for product in products}

    # The edge cases of the module docstring, on particular products.
    by_asin = {product["asin"]: product for product in products}
    by_asin[_asin(0, 1)]["pricing"] = "$39.99 - $59.99"  # a range: the charged price is drawn in it
    by_asin[_asin(8, 3)]["pricing"] = "$1,249.00"  # above 990: no price bound, no price text
    by_asin[_asin(9, 3)].pop("pricing")  # no pricing: $100.0
    by_asin[_asin(1, 2)]["customization_options"]["Style"] = None  # a null option list is skipped
    by_asin[_asin(5, 3)]["small_description"] = "A single string of features."  # -> a one-item list
    for option in by_asin[_asin(2, 0)]["customization_options"]["Size"]:
        option["value"] = f" {option['value']} "  # values are stripped
    green_tea = {
        "asin": "B0FIXTEA01",
        "name": "Velmo Organic Green Tea Bags",
        "full_description": "Organic green tea, 100 bags.",
        "small_description": "ORGANIC: grown without pesticides.",
        "pricing": "$7.49",
        "customization_options": None,
        "images": ["https://example.com/tea.jpg"],
        "category": "food",
        "query": "  Green Tea ",
        "product_category": "Grocery & Gourmet Food › Beverages › Tea › Green Tea",
    }
    products.append(green_tea)
    # Words no product has: its own search finds nothing, so the expert searches the title instead.
    attributes["B0FIXTEA01"] = {"attributes": ["organic"], "instruction": "i want something nice for my dad",
                                "instruction_attributes": ["organic"]}  # fmt: skip
    human["B0FIXTEA01"] = [{"instruction": "Organic green tea bags please.", "instruction_attributes": ["organic"],
                            "instruction_options": []}]  # fmt: skip
    unlisted = dict(raw_product(3, 0), asin="B0FIXNOATT", name="Orlen Travel Hair Dryer")  # not in the attribute file
    products.append(unlisted)
    no_instruction = dict(raw_product(4, 0), asin="B0FIXNOINS", name="Tarsi Night Cream")
    products.append(no_instruction)
    attributes["B0FIXNOINS"] = {"attributes": ["night cream"], "instruction": None, "instruction_attributes": []}
    products.append(dict(raw_product(0, 0), asin="nan"))  # skipped
    products.append(dict(raw_product(0, 0), asin="B0FIXTOOLONG"))  # longer than 10 characters: skipped
    products.append(dict(raw_product(5, 0), name="A repeated asin: skipped"))  # the second B0FIX05000

    for name, data in (("items_shuffle_1000.json", products), ("items_ins_v2_1000.json", attributes),
                       ("items_human_ins.json", human)):  # fmt: skip
        (folder / name).write_text(json.dumps(data), encoding="utf-8")
    return {"products": products, "attributes": attributes, "human": human}


def _indices(asin: str) -> tuple[int, int]:
    return int(asin[5:7]), int(asin[7:10])
