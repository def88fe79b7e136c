"""The oracle: an expert that knows the goal's target product and walks straight to a reward of 1.0.

search the goal's keywords -> page to the target (next > / < prev) -> click it -> click each goal option
not chosen yet -> buy now. From anywhere else it first goes back (< prev from a sub-page or a wrong
product, back to search when the current results lack the target). Its search is the one the
admissible list offers, and the generated shop keeps only goals whose search lists the target, so it
always finds it; purchase costs at most 1 + 4 + 1 + (options) + 1 steps, under the 15-step limit.

On the original data every goal is kept (the split is the original's), so the env passes the search the
expert should make (Shop.expert_query): the keywords when they list the target, else the target's title.
Human goals name options in a person's words; the expert clicks the target's values they match
(Goal.option_choices).
"""

from __future__ import annotations

from agentrl.envs.webshop.goals import Goal
from agentrl.envs.webshop.pages import ITEM, PER_PAGE, RESULTS, SEARCH, View


def search_action(goal: Goal) -> str:
    return f"search[{goal.keywords}]"


def expert_action(view: View, goal: Goal, query: str | None = None) -> str:
    """The expert's next action on `view` (a click or search text the env accepts there); `query`: the search
    to make, when not the goal's keywords."""
    if view.kind == SEARCH:
        return f"search[{query}]" if query else search_action(goal)
    if goal.asin not in view.results:
        return "click[back to search]"
    if view.kind == RESULTS:
        target_page = view.results.index(goal.asin) // PER_PAGE + 1
        if target_page > view.page:
            return "click[next >]"
        if target_page < view.page:
            return "click[< prev]"
        return f"click[{goal.asin.lower()}]"
    if view.kind != ITEM or view.asin != goal.asin:
        return "click[< prev]"
    chosen = view.chosen()
    for name, value in goal.option_choices.items():
        # A value two options share selects one of them: the reward compares values only, so either will do.
        if chosen.get(name) != value and value not in chosen.values():
            return f"click[{value.lower()}]"
    return "click[buy now]"
