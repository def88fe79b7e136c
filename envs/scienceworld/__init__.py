"""scienceworld: ScienceWorld's 30 science tasks on the real simulator (scienceworld==1.2.3, needs Java).

Registered name: `scienceworld`. Task ids "scienceworld/<split>/<task name>/<variation:04d>"; the
engine's train / dev / test variations are agentrl's train / eval_in / eval_out (3592 / 1796 / 1819
over all 30 tasks; splits.py). `task_type` is the task name ("boil", "find-animal", ...).

What the agent gets:
    observation   the simulator's text; the first one is the free `look` of the start room
    task          the task description (in the compact mode followed by the two-object action forms)
    admissible_actions
        "compact" (default): the engine's valid action-object combinations with at most one object,
                  minus actions on the agent itself or the air, minus "disconnect" outside the electrical
                  tasks: about 80-330 actions instead of the engine's 400-9000. Two-object actions
                  (move X to Y, pour X in Y, use X on Y, connect X to Y, dunk X in Y) are not listed but
                  step() accepts them, as it accepts any text the simulator parses.
        "full":   the engine's whole list (for agents that rank actions; far too long for a prompt)
        "none":   [] (skips the engine's list, the slowest call of a step)
    reward        normalised score deltas, or the final normalised score (env.py)
    won           the task is completed with score 100; a negative engine score (a failed task) ends it
    expert_action the next action of the engine's gold path (get_gold_action_sequence) while the agent
                  has followed it; None once the agent's understood actions leave it. Gold actions are
                  not always in admissible_actions: the engine names objects in context ("cup containing
                  nothing in table") where its valid list uses another name for the same object.
    anchor        digest of the current room's description, the inventory and the score
    unknown_entity an invalid command fits an action template and a slot names no object in this world

Keyword arguments: max_steps (100), reward ("delta" | "final"), admissible ("compact" | "full" |
"none"), expert (True; False skips gold-path generation), simplifications ("" or e.g. "easy"),
task_names (a subset of the 30), variations_per_task (cap per task and split, for quick evaluation).

Measured on 2 shared (busy) CPU cores: the gold path wins every one of the 30 tasks (variation 0, run
through the engine), but three need more than the default 100 steps (mendelian-genetics-known-plant
161, mendelian-genetics-unknown-plant 143, inclined-plane-friction-unnamed-surfaces 178): raise
max_steps for them. A uniformly random compact-list action won 0 of 10 episodes (one eval_in
variation of every third task, max_steps 50) with mean final score 0.0: random "focus on" actions fail
tasks. Speed: about 10 steps/s with the compact list (the engine's valid-action listing is most of a
step; admissible="none" runs about 3x faster), first reset of a task id 0.5-10 s (gold-path
generation; mean 3.3 s), later resets of it about 0.1-0.4 s, JVM start 2 s.

One JVM per env instance (1-3 s to start, on the first reset), reused for every episode; close() stops it.
Needs `pip install -e ".[scienceworld]"` and Java; `import agentrl.envs` works without them.
"""

from __future__ import annotations

from typing import Any

from agentrl.envs.registry import register_env


@register_env("scienceworld", "ScienceWorld science tasks (real simulator, 30 tasks; needs Java)")
def scienceworld(**kwargs: Any):
    from agentrl.envs.scienceworld.env import ScienceWorldTextEnv

    return ScienceWorldTextEnv(**kwargs)


__all__ = ["scienceworld"]
