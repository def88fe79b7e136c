"""The words of the generated shop: product types, their attributes and options, and which words are nouns.

The five groups are WebShop's five product categories (beauty, electronics, fashion, food, furniture);
an agent's per-group success is reported as the task type. Each product type carries the search query
it is "listed under", an Amazon-style category path, the title head phrases, a pool of attributes (the
short phrases WebShop calls Attributes) and option pools. Types in one group share category segments,
so a wrong type from the right shelf still earns r_type 1.0 through category_match, as on the real site.

Nouns: WebShop's type reward keeps the NOUN/PROPN tokens of a name (spaCy). The generator writes every
title from the words below, so it knows their nouns: NOUNS lists the common nouns, and every brand is a
proper noun. A word outside both is not a noun.

Why about 450 lines in one file: it is data (word lists), kept in one place so the generator and the noun rule
read the same words.
"""

from __future__ import annotations

from dataclasses import dataclass

GROUPS = ("beauty", "electronics", "fashion", "food", "furniture")


@dataclass(frozen=True)
class ProductType:
    """One kind of product; the catalogue draws many products (and their near-misses) from it."""

    group: str  # one of GROUPS, the task type
    query: str  # the search query the products are listed under (WebShop's `query`)
    category: str  # "A › B › C" (WebShop's `product_category`)
    heads: tuple[str, ...]  # title head phrases, e.g. "Running Shoes"
    attributes: tuple[str, ...]  # attribute pool, lower-case short phrases
    options: tuple[tuple[str, tuple[str, ...]], ...]  # (option name, value pool), values lower-case
    price: tuple[float, float]  # list price band in dollars
    audience: str = ""  # "Men's" / "Women's" prefix of titles, or ""


# Option value pools (lower-case, as the site prints them).
APPAREL_SIZES = ("x-small", "small", "medium", "large", "x-large", "xx-large")
MEN_SHOE_SIZES = ("7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "12", "13")
WOMEN_SHOE_SIZES = ("5", "5.5", "6", "6.5", "7", "7.5", "8", "8.5", "9", "10")
JEAN_SIZES = ("28w x 30l", "30w x 30l", "32w x 32l", "34w x 32l", "36w x 32l", "38w x 34l")
SHOE_COLORS = ("black", "white", "grey", "navy", "black white", "blue", "red", "triple black", "beige")
CLOTHING_COLORS = (
    "black", "white", "navy blue", "heather grey", "red", "olive green", "burgundy", "charcoal",
    "royal blue", "khaki", "light pink", "dark green",
)  # fmt: skip
# Not "light wash": WebShop's colour normalisation maps it to "ash" (a substring), which then matches no
# goal, so not even the right choice would score. Every value here normalises to one of its own words.
DENIM_COLORS = ("light blue", "medium blue", "dark blue", "black", "indigo", "grey")
WATCH_COLORS = ("silver black", "gold", "rose gold", "black", "blue", "brown leather")
LIP_COLORS = ("classic red", "nude pink", "berry", "coral", "plum", "mauve", "rose", "wine")
NAIL_COLORS = ("ruby red", "baby pink", "midnight blue", "nude", "lilac", "mint green", "glitter silver", "coral")
HAIR_COLORS = ("natural black", "dark brown", "medium brown", "blonde", "ash blonde", "auburn", "platinum blonde")
SCENTS = ("lavender", "coconut", "tea tree", "unscented", "vanilla", "eucalyptus mint", "citrus")
BOTTLE_SIZES = ("8 fl oz", "12 fl oz", "16.9 fl oz", "33.8 fl oz")
JAR_SIZES = ("1.7 ounce", "2.5 ounce", "3.4 ounce")
HOME_COLORS = ("black", "white", "espresso", "walnut", "grey", "natural", "rustic brown", "oak", "cherry")
FABRIC_COLORS = ("beige", "grey", "navy blue", "emerald green", "mustard yellow", "cream", "charcoal", "blush pink")
BED_SIZES = ("twin", "full", "queen", "king", "california king")
TECH_COLORS = ("black", "white", "silver", "space gray", "blue", "rose gold", "midnight green", "red")

# Option pools are tuples of (name, values); the catalogue keeps a random non-empty subset of each.
COLOR = "color"
SIZE = "size"

_FASHION = "Clothing, Shoes & Jewelry"
_BEAUTY = "Beauty & Personal Care"
_FOOD = "Grocery & Gourmet Food"
_HOME = "Home & Kitchen"
_TECH = "Electronics"


def _fashion_for(audience: str, gender: str) -> tuple[ProductType, ...]:
    """Fashion types sold to one audience; men's and women's versions share most category segments."""
    shoe_sizes = MEN_SHOE_SIZES if gender == "Men" else WOMEN_SHOE_SIZES
    lower = audience.lower()
    return (
        ProductType(
            "fashion", f"{lower} running shoes", f"{_FASHION} › {gender} › Shoes › Athletic › Running",
            ("Running Shoes", "Road Running Sneakers", "Trail Running Shoes"),
            ("non slip", "rubber sole", "lace up", "memory foam", "breathable mesh", "arch support",
             "lightweight design", "cushioned insole"),
            ((COLOR, SHOE_COLORS), (SIZE, shoe_sizes)), (25, 120), audience,
        ),
        ProductType(
            "fashion", f"{lower} t-shirts", f"{_FASHION} › {gender} › Clothing › Shirts › T-Shirts",
            ("Crew Neck T-Shirt", "Cotton Tee Shirt", "Graphic T-Shirt"),
            ("machine wash", "machine washable", "short sleeve", "long sleeve", "classic fit", "cotton blend",
             "moisture wicking", "tumble dry"),
            ((COLOR, CLOTHING_COLORS), (SIZE, APPAREL_SIZES)), (9, 35), audience,
        ),
        ProductType(
            "fashion", f"{lower} jeans", f"{_FASHION} › {gender} › Clothing › Jeans",
            ("Stretch Jeans", "Denim Jeans", "Straight Leg Jeans"),
            ("slim fit", "straight leg", "button closure", "machine wash", "high waist", "stretch fabric",
             "regular fit", "zipper fly"),
            ((COLOR, DENIM_COLORS), (SIZE, JEAN_SIZES)), (20, 70), audience,
        ),
        ProductType(
            "fashion", f"{lower} hoodies", f"{_FASHION} › {gender} › Clothing › Fashion Hoodies & Sweatshirts",
            ("Pullover Hoodie", "Fleece Hooded Sweatshirt", "Zip Up Hoodie"),
            ("fleece lined", "machine wash", "drawstring closure", "kangaroo pocket", "long sleeve", "relaxed fit",
             "ribbed cuffs"),
            ((COLOR, CLOTHING_COLORS), (SIZE, APPAREL_SIZES)), (18, 60), audience,
        ),
        ProductType(
            "fashion", f"{lower} athletic socks",
            f"{_FASHION} › {gender} › Clothing › Socks & Hosiery › Athletic Socks",
            ("Athletic Socks", "Crew Socks", "Ankle Socks"),
            ("moisture wicking", "arch compression", "cushioned sole", "breathable knit", "machine wash",
             "reinforced heel"),
            ((COLOR, ("black", "white", "grey", "assorted", "navy")), (SIZE, ("small", "medium", "large", "x-large"))),
            (8, 30), audience,
        ),
        ProductType(
            "fashion", f"{lower} watches", f"{_FASHION} › {gender} › Watches › Wrist Watches",
            ("Analog Wrist Watch", "Quartz Watch", "Minimalist Watch"),
            ("water resistant", "stainless steel", "quartz movement", "leather strap", "scratch resistant",
             "date display"),
            ((COLOR, WATCH_COLORS),), (20, 300), audience,
        ),
    )  # fmt: skip


PRODUCT_TYPES: tuple[ProductType, ...] = (
    *_fashion_for("Men's", "Men"),
    *_fashion_for("Women's", "Women"),
    ProductType(
        "fashion", "women's summer dresses", f"{_FASHION} › Women › Clothing › Dresses › Casual",
        ("Maxi Dress", "Midi Dress", "Sundress"),
        ("machine wash", "v neck", "short sleeve", "elastic waist", "flowy fabric", "side pockets"),
        ((COLOR, CLOTHING_COLORS), (SIZE, APPAREL_SIZES)), (22, 65), "Women's",
    ),
    ProductType(
        "fashion", "women's slide sandals", f"{_FASHION} › Women › Shoes › Sandals › Slides",
        ("Slide Sandals", "Platform Sandals", "Flip Flop Sandals"),
        ("non slip", "arch support", "open toe", "rubber sole", "quick drying", "soft footbed"),
        ((COLOR, SHOE_COLORS), (SIZE, WOMEN_SHOE_SIZES)), (12, 55), "Women's",
    ),
    # beauty
    ProductType(
        "beauty", "sulfate free shampoo", f"{_BEAUTY} › Hair Care › Shampoo & Conditioner › Shampoos",
        ("Shampoo", "Moisturizing Shampoo", "Shampoo and Conditioner Set"),
        ("sulfate free", "paraben free", "natural ingredients", "dry hair", "color treated", "cruelty free",
         "tea tree", "hair growth"),
        (("scent", SCENTS), (SIZE, BOTTLE_SIZES)), (6, 40),
    ),
    ProductType(
        "beauty", "clip in hair extensions",
        f"{_BEAUTY} › Hair Care › Hair Extensions, Wigs & Accessories › Hair Extensions",
        ("Clip In Hair Extensions", "Human Hair Extensions", "Ponytail Extension"),
        ("natural looking", "high quality", "easy apply", "heat resistant", "long lasting", "human hair"),
        ((COLOR, HAIR_COLORS), (SIZE, ("14 inch", "18 inch", "22 inch", "26 inch"))), (15, 90),
    ),
    ProductType(
        "beauty", "face moisturizer", f"{_BEAUTY} › Skin Care › Face › Creams & Moisturizers",
        ("Face Moisturizer", "Night Cream", "Hydrating Face Cream"),
        ("fragrance free", "dermatologist tested", "hyaluronic acid", "sensitive skin", "oil free", "anti aging",
         "fine lines"),
        ((SIZE, JAR_SIZES),), (8, 60),
    ),
    ProductType(
        "beauty", "matte lipstick", f"{_BEAUTY} › Makeup › Lips › Lipstick",
        ("Matte Lipstick", "Liquid Lipstick", "Lip Color"),
        ("long lasting", "cruelty free", "highly pigmented", "vegan formula", "shea butter", "paraben free"),
        ((COLOR, LIP_COLORS),), (5, 30),
    ),
    ProductType(
        "beauty", "gel nail polish", f"{_BEAUTY} › Foot, Hand & Nail Care › Nail Art & Polish › Nail Polish",
        ("Gel Nail Polish", "Nail Polish", "Nail Lacquer"),
        ("quick dry", "long lasting", "non toxic", "gel finish", "chip resistant", "high gloss"),
        ((COLOR, NAIL_COLORS),), (5, 25),
    ),
    ProductType(
        "beauty", "makeup brush set", f"{_BEAUTY} › Tools & Accessories › Makeup Brushes & Tools › Brush Sets",
        ("Makeup Brush Set", "Makeup Brushes", "Foundation Brush Kit"),
        ("synthetic bristles", "cruelty free", "travel size", "easy clean", "soft bristles", "storage case"),
        ((COLOR, ("rose gold", "black", "pink", "marble white", "champagne gold")),), (8, 45),
    ),
    ProductType(
        "beauty", "moisturizing body wash", f"{_BEAUTY} › Personal Care › Bath & Bathing Accessories › Body Washes",
        ("Body Wash", "Shower Gel", "Moisturizing Body Wash"),
        ("natural ingredients", "sensitive skin", "paraben free", "dry skin", "long lasting", "plant based"),
        (("scent", SCENTS), (SIZE, BOTTLE_SIZES)), (5, 30),
    ),
    ProductType(
        "beauty", "electric toothbrush", f"{_BEAUTY} › Oral Care › Toothbrushes › Power Toothbrushes",
        ("Electric Toothbrush", "Sonic Toothbrush", "Rechargeable Toothbrush"),
        ("rechargeable battery", "travel case", "smart timer", "whitening mode", "waterproof design",
         "replacement heads"),
        ((COLOR, ("black", "white", "pink", "blue", "rose gold")),), (20, 120),
    ),
    # food
    ProductType(
        "food", "ground coffee", f"{_FOOD} › Beverages › Coffee, Tea & Cocoa › Coffee › Ground Coffee",
        ("Ground Coffee", "Medium Roast Coffee", "Coffee Blend"),
        ("fair trade", "usda organic", "gluten free", "non gmo", "single origin", "rich flavor", "whole bean"),
        (("flavor", ("original", "french vanilla", "hazelnut", "caramel", "mocha", "decaf original")),
         (SIZE, ("12 ounce (pack of 1)", "12 ounce (pack of 2)", "2 pound", "5 pound"))), (7, 35),
    ),
    ProductType(
        "food", "protein bars", f"{_FOOD} › Snack Foods › Bars › Protein Bars",
        ("Protein Bars", "Protein Snack Bars", "Nutrition Bars"),
        ("gluten free", "low sugar", "high protein", "non gmo", "keto friendly", "plant based", "individually wrapped"),
        (("flavor", ("chocolate chip", "peanut butter", "cookie dough", "birthday cake", "salted caramel")),
         (SIZE, ("12 count", "24 count", "36 count"))), (12, 45),
    ),
    ProductType(
        "food", "green tea bags", f"{_FOOD} › Beverages › Coffee, Tea & Cocoa › Tea › Green Tea",
        ("Green Tea Bags", "Green Tea", "Herbal Tea Bags"),
        ("usda organic", "individually wrapped", "non gmo", "kosher certified", "natural flavors", "low caffeine"),
        (("flavor", ("jasmine", "mint", "lemon ginger", "peach", "original")),
         (SIZE, ("20 count", "40 count", "100 count"))), (4, 25),
    ),
    ProductType(
        "food", "roasted almonds", f"{_FOOD} › Snack Foods › Nuts & Seeds › Almonds",
        ("Roasted Almonds", "Whole Almonds", "Almond Snack Packs"),
        ("low sodium", "gluten free", "non gmo", "resealable bag", "high protein", "kosher certified"),
        (("flavor", ("sea salt", "honey roasted", "smoked", "unsalted", "cocoa dusted")),
         (SIZE, ("16 ounce", "32 ounce", "3 pound"))), (6, 30),
    ),
    ProductType(
        "food", "extra virgin olive oil", f"{_FOOD} › Pantry Staples › Cooking Oils & Sprays › Olive Oils",
        ("Extra Virgin Olive Oil", "Olive Oil", "Cold Pressed Olive Oil"),
        ("cold pressed", "usda organic", "non gmo", "glass bottle", "single origin", "rich flavor"),
        ((SIZE, ("16.9 fl oz", "33.8 fl oz", "1 gallon")),), (8, 45),
    ),
    ProductType(
        "food", "gummy candy", f"{_FOOD} › Snack Foods › Candy & Chocolate › Gummy Candies",
        ("Gummy Bears", "Gummy Worms", "Fruit Gummies"),
        ("gluten free", "fat free", "individually wrapped", "natural flavors", "vegan friendly", "resealable bag"),
        (("flavor", ("original", "sour", "cherry", "tropical", "sugar free")),
         (SIZE, ("1 pound", "2 pound", "5 pound"))),
        (4, 25),
    ),
    ProductType(
        "food", "whole wheat pasta", f"{_FOOD} › Pantry Staples › Pasta & Noodles › Dry Pasta",
        ("Whole Wheat Pasta", "Pasta", "Durum Wheat Pasta"),
        ("whole grain", "non gmo", "usda organic", "low fat", "high fiber", "kosher certified"),
        (("style", ("spaghetti", "penne", "fusilli", "rotini", "linguine")),
         (SIZE, ("16 ounce (pack of 4)", "16 ounce (pack of 12)"))),
        (5, 30),
    ),
    ProductType(
        "food", "hot sauce", f"{_FOOD} › Pantry Staples › Condiments & Salad Dressings › Hot Sauce",
        ("Hot Sauce", "Chili Sauce", "Pepper Sauce"),
        ("gluten free", "no artificial colors", "small batch", "vegan friendly", "non gmo", "low sodium"),
        (("flavor", ("original", "habanero", "chipotle", "garlic", "mango")), (SIZE, ("5 fl oz", "12 fl oz"))),
        (4, 20),
    ),
    # furniture (home)
    ProductType(
        "furniture", "ergonomic office chair",
        f"{_HOME} › Furniture › Home Office Furniture › Home Office Chairs › Desk Chairs",
        ("Office Chair", "Ergonomic Desk Chair", "Executive Chair"),
        ("lumbar support", "height adjustable", "mesh back", "easy assembly", "padded armrests", "swivel wheels",
         "heavy duty"),
        ((COLOR, ("black", "grey", "white", "blue", "brown")),), (60, 400),
    ),
    ProductType(
        "furniture", "bookshelf", f"{_HOME} › Furniture › Home Office Furniture › Bookcases",
        ("Bookshelf", "Bookcase", "Ladder Shelf"),
        ("easy assembly", "engineered wood", "space saving", "storage shelves", "wall anchor", "metal frame"),
        ((COLOR, HOME_COLORS), (SIZE, ("3 tier", "4 tier", "5 tier"))), (40, 300),
    ),
    ProductType(
        "furniture", "coffee table for living room",
        f"{_HOME} › Furniture › Living Room Furniture › Tables › Coffee Tables",
        ("Coffee Table", "Lift Top Coffee Table", "Round Coffee Table"),
        ("engineered wood", "storage space", "easy assembly", "tempered glass", "solid wood", "metal frame",
         "living room"),
        ((COLOR, HOME_COLORS),), (60, 500),
    ),
    ProductType(
        "furniture", "bed sheet set", f"{_HOME} › Bedding › Sheets & Pillowcases › Sheet & Pillowcase Sets",
        ("Bed Sheet Set", "Microfiber Sheets", "Cotton Sheet Set"),
        ("machine wash", "deep pocket", "wrinkle free", "brushed microfiber", "egyptian cotton", "breathable fabric"),
        ((COLOR, FABRIC_COLORS), (SIZE, BED_SIZES)), (20, 120),
    ),
    ProductType(
        "furniture", "throw pillow covers", f"{_HOME} › Home Décor Products › Decorative Pillows › Throw Pillow Covers",
        ("Throw Pillow Covers", "Cushion Covers", "Pillow Case Set"),
        ("hidden zipper", "machine wash", "double sided", "soft velvet", "living room", "set of 2"),
        ((COLOR, FABRIC_COLORS), (SIZE, ("16 x 16 inch", "18 x 18 inch", "20 x 20 inch", "24 x 24 inch"))), (8, 35),
    ),
    ProductType(
        "furniture", "sectional sofa", f"{_HOME} › Furniture › Living Room Furniture › Sofas & Couches",
        ("Sectional Sofa", "Loveseat Sofa", "Sleeper Sofa Couch"),
        ("easy assembly", "high density foam", "removable cushions", "solid wood frame", "living room",
         "stain resistant"),
        ((COLOR, FABRIC_COLORS),), (300, 1400),
    ),
    ProductType(
        "furniture", "dining chairs set of 2", f"{_HOME} › Furniture › Kitchen & Dining Room Furniture › Chairs",
        ("Dining Chairs", "Kitchen Chairs", "Upholstered Dining Chair Set"),
        ("solid wood", "easy assembly", "upholstered seat", "non slip pads", "dining room", "metal legs"),
        ((COLOR, HOME_COLORS),), (70, 350),
    ),
    ProductType(
        "furniture", "blackout curtains", f"{_HOME} › Home Décor Products › Window Treatments › Curtains & Drapes",
        ("Blackout Curtains", "Window Curtain Panels", "Thermal Drapes"),
        ("thermal insulated", "grommet top", "machine wash", "noise reducing", "light blocking", "living room"),
        ((COLOR, FABRIC_COLORS), (SIZE, ("42 x 63 inch", "52 x 84 inch", "52 x 95 inch"))), (15, 60),
    ),
    ProductType(
        "furniture", "platform bed frame", f"{_HOME} › Furniture › Bedroom Furniture › Beds, Frames & Bases",
        ("Platform Bed Frame", "Metal Bed Frame", "Upholstered Bed"),
        ("metal frame", "easy assembly", "under bed storage", "noise free", "no box spring needed", "heavy duty"),
        ((SIZE, BED_SIZES), (COLOR, ("black", "white", "grey", "walnut"))), (90, 600),
    ),
    # electronics
    ProductType(
        "electronics", "wireless earbuds",
        f"{_TECH} › Headphones, Earbuds & Accessories › Headphones & Earbuds › Earbud Headphones",
        ("Wireless Earbuds", "Bluetooth Earbuds", "True Wireless Headphones"),
        ("noise cancelling", "long battery life", "water resistant", "fast charging", "hands free",
         "charging case"),
        ((COLOR, TECH_COLORS),), (15, 200),
    ),
    ProductType(
        "electronics", "phone case", f"{_TECH} › Cell Phones & Accessories › Cases, Holsters & Sleeves › Basic Cases",
        ("Phone Case", "Protective Phone Case", "Clear Phone Case"),
        ("shockproof protection", "wireless charging", "slim fit", "raised edges", "scratch resistant",
         "drop protection"),
        ((COLOR, TECH_COLORS),
         ("style", ("iphone 13", "iphone 14", "iphone 14 pro", "iphone 15", "iphone 15 pro max"))),
        (7, 40),
    ),
    ProductType(
        "electronics", "hdmi cable", f"{_TECH} › Television & Video › Accessories › Cables › HDMI Cables",
        ("HDMI Cable", "High Speed HDMI Cord", "HDMI Cable Braided"),
        ("high speed", "gold plated", "ultra hd", "braided nylon", "plug and play", "ethernet channel"),
        ((SIZE, ("3 feet", "6 feet", "10 feet", "15 feet", "25 feet")),), (6, 30),
    ),
    ProductType(
        "electronics", "portable charger",
        f"{_TECH} › Cell Phones & Accessories › Chargers & Power Adapters › Portable Power Banks",
        ("Portable Charger", "Power Bank", "Battery Pack Charger"),
        ("fast charging", "usb c", "high capacity", "led display", "compact size", "dual output"),
        ((COLOR, TECH_COLORS),), (15, 80),
    ),
    ProductType(
        "electronics", "bluetooth speaker",
        f"{_TECH} › Portable Audio & Video › Portable Speakers & Docks › Portable Bluetooth Speakers",
        ("Bluetooth Speaker", "Portable Speaker", "Wireless Speaker"),
        ("waterproof design", "long battery life", "hands free", "stereo sound", "built in microphone", "deep bass"),
        ((COLOR, TECH_COLORS),), (20, 250),
    ),
    ProductType(
        "electronics", "laptop stand", f"{_TECH} › Computers & Accessories › Laptop Accessories › Stands",
        ("Laptop Stand", "Adjustable Laptop Riser", "Notebook Stand"),
        ("height adjustable", "aluminum alloy", "non slip", "foldable design", "heat dissipation", "easy install"),
        ((COLOR, ("silver", "space gray", "black", "rose gold")),), (15, 70),
    ),
    ProductType(
        "electronics", "security camera", f"{_TECH} › Camera & Photo › Video Surveillance › Surveillance Cameras",
        ("Security Camera", "Outdoor Security Camera", "WiFi Camera"),
        ("night vision", "motion detection", "two way audio", "easy install", "cloud storage", "weather resistant"),
        ((COLOR, ("white", "black")), (SIZE, ("1 pack", "2 pack", "4 pack"))), (25, 200),
    ),
    ProductType(
        "electronics", "smart tv", f"{_TECH} › Television & Video › Televisions › LED & LCD TVs",
        ("Smart TV", "LED Smart TV", "Ultra HD Television"),
        ("ultra hd", "high dynamic range", "voice control", "wall mountable", "built in wifi", "dolby audio"),
        ((SIZE, ("32 inch", "43 inch", "50 inch", "55 inch", "65 inch")),), (150, 1500),
    ),
    ProductType(
        "electronics", "wireless keyboard",
        f"{_TECH} › Computers & Accessories › Computer Accessories & Peripherals › Keyboards",
        ("Wireless Keyboard", "Bluetooth Keyboard", "Mechanical Keyboard"),
        ("quiet keys", "long battery life", "plug and play", "ergonomic design", "backlit keys", "full size"),
        ((COLOR, ("black", "white", "space gray", "pink")),), (15, 120),
    ),
)  # fmt: skip

# Title adjectives per group (never nouns).
ADJECTIVES = {
    "beauty": ("Professional", "Natural", "Gentle", "Luxury", "Daily", "Advanced"),
    "electronics": ("Upgraded", "Portable", "Smart", "Compact", "Premium", "Latest"),
    "fashion": ("Classic", "Lightweight", "Casual", "Everyday", "Premium", "Comfortable"),
    "food": ("Gourmet", "Classic", "Premium", "Original", "Artisan", "Authentic"),
    "furniture": ("Modern", "Rustic", "Contemporary", "Minimalist", "Industrial", "Farmhouse"),
}

# Sentences that fill descriptions and bullet points (attribute-free, so they never fake a match).
BLURBS = {
    "beauty": (
        "Suitable for daily use at home or on the go.",
        "Gentle on skin and easy to use.",
        "A salon favorite that fits any routine.",
        "Packed with care and ready to gift.",
    ),
    "electronics": (
        "Compatible with most phones, tablets and laptops.",
        "Backed by a one year warranty and friendly support.",
        "Simple setup in minutes with no extra tools.",
        "Designed for work, travel and play.",
    ),
    "fashion": (
        "Perfect for workouts, travel and everyday wear.",
        "True to size; see the size chart for the best fit.",
        "A wardrobe staple that pairs with everything.",
        "Comfortable from morning to night.",
    ),
    "food": (
        "Great for sharing with family and friends.",
        "Packed fresh and sealed for quality.",
        "Enjoy it at home, at work or on the go.",
        "Made with carefully selected ingredients.",
    ),
    "furniture": (
        "Fits bedrooms, living rooms, offices and apartments.",
        "All hardware and instructions are included.",
        "Wipe clean with a damp cloth.",
        "A timeless look that suits any decor.",
    ),
}

# Brands are made-up proper nouns built from syllables (so every title word is known to the generator).
BRAND_SYLLABLES = ("ka", "zo", "ri", "mel", "ton", "vex", "lu", "dor", "ni", "sa", "bre", "qui", "fen", "ar", "tal")

# Common nouns of every word a title can contain (lower-case); anything else is not a noun.
NOUNS = frozenset(
    """
    men women shoes sneakers shoe shirt tee jeans denim leg hoodie sweatshirt socks sock watch dress maxi midi
    sundress sandals platform flip flop sole foam mesh support insole sleeve fit blend neck cotton closure waist
    fabric fly pocket cuffs knit heel steel movement strap display toe footbed
    shampoo conditioner set hair extensions extension ponytail moisturizer cream face lipstick lip color nail
    polish lacquer gel makeup brush brushes kit foundation bristles case body wash shower toothbrush battery
    timer heads ingredients skin acid lines butter formula finish gloss
    coffee roast blend bean protein bars snack nutrition tea bags almonds almond packs oil olive gummy bears
    worms gummies pasta wheat sauce chili pepper flavor trade origin sugar bag gmo fiber grain batch colors
    office chair desk chair bookshelf bookcase ladder shelf table coffee top sheet sheets microfiber pillow covers
    cushion sofa loveseat sleeper couch chairs dining kitchen curtains window curtain panels drapes bed frame
    assembly wood shelves anchor space glass storage room armrests wheels back pocket zipper velvet density
    cushions pads legs spring box
    earbuds headphones phone speaker charger bank pack cable cord stand riser notebook camera tv television
    keyboard protection edges charging life capacity output sound microphone bass alloy dissipation install
    vision detection audio wifi control range keys size hd usb
    """.split()
)
