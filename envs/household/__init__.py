"""household: an ALFWorld-style task family (ALFWorld 0.4.2 text and command grammar), small and fast.

Rooms of numbered receptacles ("drawer 2", "fridge 1") hold numbered objects ("apple 1"); the
agent must put one object in one receptacle, and in household-multi clean, heat or cool it
first. Pure Python, deterministic from the task id, about 20 microseconds a step.

Variants (registered names):
    household-easy   the quickstart: 4-6 receptacles, 0-2 distractors, and the task says where
                     the object lies, so every action can be read off the prompt. max_steps 10.
    household-lookup household-easy's rooms, but instead of the hint the task text lists where all 3-5
                     objects lie: the target's place must be looked up in the listing. max_steps 10.
    household        search: 6-10 receptacles, at least 3 closed, 1-3 distractors, no hint.
                     max_steps 20.
    household-multi  household plus two-stage goals (clean / heat / cool, then place). max_steps 30.

Every variant's factory takes max_steps, reward_on_win (1.0), num_train_tasks (2000),
num_eval_in_tasks (200), num_eval_out_tasks (200) and put_grammar (False: ALFWorld 0.4.2's
"move {o} to {r}"; True: the older "put {o} in/on {r}", for non-stationary experiments) and target_moved (False;
True in household-easy and household-lookup: the target lies in the room's first receptacle other than the goal and
the place the task text names, which is now stale: the shift of the Entropulse revival study, docs/entropy.md).
eval_out goals use only the (object type, receptacle type) pairs in world.HELD_OUT_PAIRS, which train and eval_in
never ask for.

Success of the expert and of a uniformly random admissible-action policy (random.Random(0)),
on the first 200 eval_in tasks and, to resolve the small rates, on the first 1000 train tasks:
    household-easy   expert 100%, random 0.0% (0/200); 0.3% on train (6% with max_steps=50)
    household-lookup expert 100%, random 0.5% (1/200)
    household        expert 100%, random 0.0% (0/200); 0.5% on train
    household-multi  expert 100%, random 0.0% (0/200); 0.3% on train
A uniform policy almost never wins, so start RL from a policy warmed up on `expert_action`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from agentrl.envs.household.env import HouseholdEnv
from agentrl.envs.household.world import SIMPLE, TREATMENTS, WorldSpec
from agentrl.envs.registry import register_env

EASY = WorldSpec(receptacles=(4, 6), min_openable=1, distractors=(0, 2), task_types=(SIMPLE,), hint=True)
LOOKUP = WorldSpec(
    receptacles=(4, 6), min_openable=1, distractors=(2, 4), task_types=(SIMPLE,), hint=False, listing=True
)
SEARCH = WorldSpec(receptacles=(6, 10), min_openable=3, distractors=(1, 3), task_types=(SIMPLE,), hint=False)
MULTI = WorldSpec(receptacles=(6, 10), min_openable=3, distractors=(1, 3), task_types=(SIMPLE, *TREATMENTS), hint=False)


def with_env_keywords(factory: Callable[..., HouseholdEnv]) -> Callable[..., HouseholdEnv]:
    """Show HouseholdEnv's keywords in the signature of a factory that forwards **kwargs to it, so the registry's
    env_kwargs check names a typo and the keywords accepted (with a "did you mean") before anything is built."""
    own = [p for p in inspect.signature(factory).parameters.values() if p.kind is not p.VAR_KEYWORD]
    forwarded = [
        p.replace(kind=p.KEYWORD_ONLY)
        for name, p in inspect.signature(HouseholdEnv).parameters.items()
        if name not in ("name", "spec") and name not in {q.name for q in own}
    ]
    factory.__signature__ = inspect.Signature([*own, *forwarded])
    return factory


@register_env("household-easy", "ALFWorld-style pick-and-place where the task says where the object is (quickstart)")
@with_env_keywords
def household_easy(max_steps: int = 10, **kwargs: Any) -> HouseholdEnv:
    return HouseholdEnv("household-easy", EASY, max_steps=max_steps, **kwargs)


@register_env("household-lookup", "household-easy, but the target's place must be found in a listing of every object")
@with_env_keywords
def household_lookup(max_steps: int = 10, **kwargs: Any) -> HouseholdEnv:
    return HouseholdEnv("household-lookup", LOOKUP, max_steps=max_steps, **kwargs)


@register_env("household", "ALFWorld-style pick-and-place; the agent must search closed receptacles")
@with_env_keywords
def household(max_steps: int = 20, **kwargs: Any) -> HouseholdEnv:
    return HouseholdEnv("household", SEARCH, max_steps=max_steps, **kwargs)


@register_env("household-multi", "ALFWorld-style search plus clean/heat/cool-then-place goals")
@with_env_keywords
def household_multi(max_steps: int = 30, **kwargs: Any) -> HouseholdEnv:
    return HouseholdEnv("household-multi", MULTI, max_steps=max_steps, **kwargs)


__all__ = ["HouseholdEnv", "household", "household_easy", "household_lookup", "household_multi"]
