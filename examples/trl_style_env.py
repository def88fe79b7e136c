"""Bring an environment written for TRL's GRPOTrainer(environment_factory=...) to agentrl, unchanged.

TRL's convention: a class whose reset(**row) starts an episode from a dataset row (returning text to append
to the prompt, or None), whose public methods are the tools (type hints and a Google-style docstring with an
`Args:` section each), and whose state reward functions read afterwards. agentrl.envs.tools.TRLStyleEnv runs such a
class as an agentrl tool environment. The simplest way needs no code at all: `env_id: trl:module:Class` with the
dataset in env_kwargs (docs/environments.md, examples/trl_secret_word.py). This file shows the Python way:
TRLStyleEnv with its own task list and reward, registered as `counter-puzzle`:

    python examples/trl_style_env.py                      # play one episode with scripted calls
    python examples/trl_style_env.py train --config my_recipe.yaml    # agentrl's CLI, env_id: counter-puzzle

(Through this script, keep env_workers: 0: worker processes import the module that registered the env, and a
script run as __main__ cannot be imported by name. Put the class in an importable module for env workers.)
"""

from __future__ import annotations

import json
import random
import sys

from agentrl.envs import register_env
from agentrl.envs.tools import TRLStyleEnv


class CounterPuzzle:
    """Make the counter show the target number using add and double. Written the TRL way: nothing here knows
    about agentrl."""

    def __init__(self) -> None:
        self.value = 0
        self.target = 0

    def reset(self, start: int, target: int, **row) -> str:
        self.value, self.target = start, target
        return f"\nThe counter shows {start}; make it show {target}."

    def add(self, amount: int) -> str:
        """Add a number from 1 to 9 to the counter.

        Args:
            amount: The number to add, from 1 to 9.
        """
        if not 1 <= amount <= 9:
            raise ValueError(f"amount must be from 1 to 9, got {amount}")
        self.value += amount
        return f"The counter shows {self.value}."

    def double(self) -> str:
        """Double the counter."""
        self.value *= 2
        return f"The counter shows {self.value}."

    def get_reward(self) -> float:
        """TRL calls this once per finished rollout when present; TRLStyleEnv does too (added to any reward_funcs, as
        TRL adds it)."""
        return 1.0 if self.value == self.target else 0.0


def reached_or_passed(env: CounterPuzzle) -> bool:
    """Both tools only increase the counter, so the episode is over once it reaches the target."""
    return env.value >= env.target


def on_target(env: CounterPuzzle) -> bool:
    return env.value == env.target


def puzzle_rows(count: int, seed: int, largest_target: int) -> list[dict]:
    """Dataset rows as TRL would read them: a prompt, plus the fields reset(**row) takes."""
    rng = random.Random(seed)
    prompt = "Use the tools add and double to reach the target number."
    rows = []
    for _ in range(count):
        start = rng.randint(1, 9)
        rows.append({"prompt": prompt, "start": start, "target": rng.randint(start + 1, largest_target)})
    return rows


# Splits: eval_out asks for larger targets than train and eval_in ever do.
TASKS = {
    "train": puzzle_rows(500, seed=0, largest_target=40),
    "eval_in": puzzle_rows(100, seed=1, largest_target=40),
    "eval_out": puzzle_rows(100, seed=2, largest_target=80),
}


@register_env("counter-puzzle", "TRL-style example: reach a target number with add and double")
def counter_puzzle(max_steps: int = 8) -> TRLStyleEnv:
    return TRLStyleEnv(
        "counter-puzzle", CounterPuzzle, TASKS, won=on_target, done=reached_or_passed, max_steps=max_steps
    )


def play_scripted_episode() -> None:
    """One episode through the agentrl interface, with the calls a model would make."""
    env = counter_puzzle()
    observation, info = env.reset("counter-puzzle/train/00000")
    print(observation, "\ntools:", [schema["function"]["name"] for schema in info["tools"]])
    calls = [{"name": "double", "arguments": {}}, {"name": "add", "arguments": {"amount": 12}}]
    done = False
    while not done:
        observation, reward, done, info = env.step(json.dumps({"tool_calls": calls}))
        print(observation, f"(reward {reward}, done {done}, failures {info['tool_failures']})")
        calls = [{"name": "add", "arguments": {"amount": 1}}]


if __name__ == "__main__":
    if len(sys.argv) > 1:
        from agentrl.cli import main

        sys.exit(main())
    play_scripted_episode()
