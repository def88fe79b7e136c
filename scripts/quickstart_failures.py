"""Where a trained household policy fails: the first action of each failed held-out episode that leaves the oracle's
plan, sorted into kinds (docs/quickstart.md, "What caps it near 80%").

    python scripts/quickstart_failures.py runs/quickstart/final [--tasks 200] [--temperature 0.4] [--seed 42]

Each failed episode is replayed in a fresh environment next to the oracle (envs/household/expert.py, optimal from any
state), and its first action that differs from the oracle's is classified:
    wrong instance number  same verb and receptacle type, another number ("go to drawer 1" for "go to drawer 3")
    back to the object's place   "go to" where the target lay, when the oracle goes to the goal
    wrong object           "take" or "move" of another object than the target (a distractor lying beside it)
    wrong receptacle type  same verb, another receptacle type ("go to shelf 1" for "go to drawer 1")
    skipped a step         another verb than the oracle's ("go to" the goal before "take")
    other                  anything else (a garbled action)
"""

from __future__ import annotations

import argparse
import collections
import functools
import re

from agentrl.envs import make_env

from agentrl.evaluation import evaluate_policy
from agentrl.models import load_policy, load_tokenizer

_NAMED = re.compile(r"([a-z]+) (\d+)$")  # the last "type number" of an action: "go to drawer 3" -> drawer, 3


def classify(action: str, expert: str, target_place: str) -> str:
    said, wanted = action.split(), expert.split()
    if not said or said[0] != wanted[0]:
        return "skipped a step" if said and said[0] in ("go", "take", "open", "move") else "other"
    if wanted[0] == "go" and action == f"go to {target_place}":
        return "back to the object's place"
    if wanted[0] in ("take", "move") and said[1:3] != wanted[1:3]:
        return "wrong object"
    mine, theirs = _NAMED.search(action), _NAMED.search(expert)
    if mine and theirs and mine[1] == theirs[1] and mine[2] != theirs[2]:
        return "wrong instance number"
    if mine and theirs and mine[1] != theirs[1]:
        return "wrong receptacle type"
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--env", default="household-easy")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=0.4)
    parser.add_argument("--max_steps", type=int, default=8)
    parser.add_argument("--seed", type=int, default=42, help="sampling seed (a run evaluates with its own seed)")
    options = parser.parse_args()

    model, tokenizer = load_policy(options.model, dtype="auto"), load_tokenizer(options.model)
    factory = functools.partial(make_env, options.env, max_steps=options.max_steps)
    task_ids = make_env(options.env).task_ids("eval_in")[: options.tasks]
    summary, episodes = evaluate_policy(
        model, tokenizer, factory, task_ids, max_new_tokens=20, temperature=options.temperature, seed=options.seed
    )  # seeded sampling: a run's own --seed reproduces its eval.json
    env = factory()
    by_numbers: dict[bool, list[bool]] = {False: [], True: []}  # does the plan name an instance numbered 2 or more?
    kinds: collections.Counter[str] = collections.Counter()
    steps: collections.Counter[int] = collections.Counter()
    for episode in episodes:
        _, info = env.reset(episode.task_id)
        task = env._task
        target_place = dict(task.placements)[task.target]
        won = any(step.env_reward > 0 for step in episode.steps)
        by_numbers[any(not place.endswith(" 1") for place in (target_place, task.goal))].append(won)
        if won:
            continue
        for number, step in enumerate(episode.steps):  # replayed beside the oracle up to its first other action
            if step.action != info["expert_action"]:
                kinds[classify(step.action, info["expert_action"], target_place)] += 1
                steps[number] += 1
                break
            _, _, _, info = env.step(step.action)
        else:
            kinds["ran out of steps on the oracle's plan"] += 1
    failed = sum(kinds.values())
    print(f"success {summary['success_rate']:.1%} on {len(episodes)} tasks; {failed} failed; first wrong action:")
    for kind, count in kinds.most_common():
        print(f"  {count:3d} ({count / max(failed, 1):.0%})  {kind}")
    print("  at step (0 = first):", dict(sorted(steps.items())))
    for numbered, wins in by_numbers.items():
        label = "the object's place or the goal numbered 2+" if numbered else "both numbered 1"
        print(f"success where {label}: {sum(wins) / max(len(wins), 1):.1%} of {len(wins)} tasks")


if __name__ == "__main__":
    main()
