"""The pages of the shop as WebShop's text observation prints them: visible strings joined by " [SEP] ".

    search       WebShop [SEP] Instruction: [SEP] <instruction> [SEP] Search
    results      Instruction: [SEP] <instruction> [SEP] Back to Search [SEP] Page 2 (Total results: 50)
                 [SEP] < Prev [SEP] Next > [SEP] <ASIN> [SEP] <Title> [SEP] <price> [SEP] ...
                 (10 products a page; "< Prev" from page 2, "Next >" while a later page exists)
    item         Instruction: [SEP] <instruction> [SEP] Back to Search [SEP] < Prev [SEP] <option name>
                 [SEP] <value> [SEP] ... [SEP] <Title> [SEP] Price: <price> [SEP] Rating: N.A. [SEP]
                 Description [SEP] Features [SEP] Reviews [SEP] Buy Now
    description  Instruction: [SEP] <instruction> [SEP] Back to Search [SEP] < Prev [SEP] <description>
    features     ... [SEP] < Prev [SEP] <bullet point> [SEP] <bullet point> ...
    reviews      ... [SEP] < Prev           (generated products have no reviews, hence "Rating: N.A.")

The simple text mode of WebShop does not mark chosen options, so neither does this; the chosen options
are part of the page state (and of the anchor).

`render` also returns the page's clickables: each lower-cased button text, product ASIN or option value,
mapped to what clicking it does. Those are the only texts `click[...]` accepts on that page.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from agentrl.envs.webshop.shop import Shop

SEP = " [SEP] "
PER_PAGE = 10

SEARCH, RESULTS, ITEM = "search", "results", "item"
SUB_PAGES = ("description", "features", "reviews")
# Every button label the site prints: a click on one of these that is not on the current page is merely
# misplaced; a click on anything else names a product or option that is not there (unknown_entity).
BUTTONS = frozenset({"search", "back to search", "next >", "< prev", "buy now", *SUB_PAGES})


@dataclass(frozen=True)
class View:
    """Where the shopper is: the page, the last search and its results, the product and chosen options."""

    kind: str = SEARCH
    query: str = ""
    results: tuple[str, ...] = ()  # ASINs of the last search, best first
    page: int = 1
    asin: str = ""
    options: tuple[tuple[str, str], ...] = field(default=())  # chosen (name, value), in choice order

    def anchor(self) -> tuple:
        """Hashable page state: equal anchors mean the same page with the same choices."""
        return (self.kind, self.query, self.page, self.asin, tuple(sorted(self.options)))

    def chosen(self) -> dict[str, str]:
        return dict(self.options)

    def choose(self, name: str, value: str) -> View:
        kept = tuple((key, chosen) for key, chosen in self.options if key != name)
        return replace(self, options=(*kept, (name, value)))

    @property
    def last_page(self) -> int:
        return max(1, (len(self.results) + PER_PAGE - 1) // PER_PAGE)


def render(view: View, instruction: str, shop: Shop) -> tuple[str, dict[str, View | str]]:
    """(observation text, {clickable: next View, or "buy" for the purchase}) of `view`."""
    if view.kind == SEARCH:
        return SEP.join(("WebShop", "Instruction:", instruction, "Search")), {}
    parts = ["Instruction:", instruction, "Back to Search"]
    clicks: dict[str, View | str] = {"back to search": View()}
    if view.kind == RESULTS:
        parts.append(f"Page {view.page} (Total results: {len(view.results)})")
        if view.page > 1:
            parts.append("< Prev")
            clicks["< prev"] = replace(view, page=view.page - 1)
        if view.page < view.last_page:
            parts.append("Next >")
            clicks["next >"] = replace(view, page=view.page + 1)
        for asin in view.results[(view.page - 1) * PER_PAGE : view.page * PER_PAGE]:
            product = shop.catalogue.by_asin[asin]
            parts += [asin, product.title, product.price_tag]
            clicks[asin.lower()] = replace(view, kind=ITEM, asin=asin, options=())
        return SEP.join(parts), clicks
    product = shop.catalogue.by_asin[view.asin]
    parts.append("< Prev")
    if view.kind == ITEM:
        clicks["< prev"] = replace(view, kind=RESULTS, asin="", options=())
        for name, values in product.options.items():
            parts.append(name)
            for value in values:
                parts.append(value)
                # A value two options share selects the later option, as the original's clickable map does.
                clicks[value.lower()] = view.choose(name, value)
        parts += [product.title, f"Price: {product.price_tag}", "Rating: N.A.", "Description", "Features", "Reviews"]
        parts.append("Buy Now")
        for sub_page in SUB_PAGES:
            clicks[sub_page] = replace(view, kind=sub_page)
        clicks["buy now"] = "buy"
        return SEP.join(parts), clicks
    clicks["< prev"] = replace(view, kind=ITEM)
    if view.kind == "description":
        parts.append(product.description)
    elif view.kind == "features":
        parts += list(product.bullet_points)
    return SEP.join(parts), clicks
