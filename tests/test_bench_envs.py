"""scripts/bench_envs.py: it drives admissible-action and tool environments, skips what it cannot drive with the
reason, and one environment's failure keeps the others' figures."""

from __future__ import annotations

import argparse
import functools
import importlib.util
import random
from pathlib import Path

import pytest

from agentrl.envs import make_env, register_env, registry
from agentrl.envs.household import EASY, HouseholdEnv

BROKEN, IDLE = "test-bench-broken", "test-bench-idle"


class BrokenHousehold(HouseholdEnv):
    def step(self, action):
        raise RuntimeError("simulated engine crash")


class IdleHousehold(HouseholdEnv):
    """No admissible actions and no tools: nothing a random policy can play."""

    def reset(self, task_id):
        observation, info = super().reset(task_id)
        return observation, {**info, "admissible_actions": []}


@pytest.fixture()
def bench(monkeypatch):
    register_env(BROKEN)(lambda max_steps=10: BrokenHousehold("household-easy", EASY, max_steps=max_steps))
    register_env(IDLE)(lambda max_steps=10: IdleHousehold("household-easy", EASY, max_steps=max_steps))
    path = Path(__file__).resolve().parents[1] / "scripts" / "bench_envs.py"
    spec = importlib.util.spec_from_file_location("bench_envs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    for name in (BROKEN, IDLE):
        registry._FACTORIES.pop(name, None)
        registry._DESCRIPTIONS.pop(name, None)


def random_steps_by_hand(name: str, task_ids: list[str], seed: int = 0) -> int:
    """The random admissible-action policy's steps, episode i drawing from random.Random(f"{seed}/{i}")."""
    env, steps = make_env(name), 0
    for index, task_id in enumerate(task_ids):
        rng, (_, info), done = random.Random(f"{seed}/{index}"), env.reset(task_id), False
        while not done:
            _, _, done, info = env.step(rng.choice(info["admissible_actions"]))
            steps += 1
    return steps


def test_bench_measures_what_it_can_and_keeps_the_rest(bench, capsys):
    from agentrl.evaluation import evaluate_baseline

    options = argparse.Namespace(episodes=3, split="train", workers=1, slots=2, seed=0)
    names = [BROKEN, "household-easy", IDLE, "factqa-easy"]
    results = bench.measure_all(names, options)
    assert list(results) == names
    assert results[BROKEN] == {"failed": "RuntimeError: simulated engine crash"}
    assert results[IDLE]["skipped"].startswith("the random policy has nothing to play")
    household_ids = make_env("household-easy").task_ids("train")[:3]
    expected = random_steps_by_hand("household-easy", household_ids)
    assert results["household-easy"]["single"]["steps"] == results["household-easy"]["pool"]["steps"] == expected
    # a tool environment: random tool calls, the same episodes as `agentrl eval --agent random`
    tool_ids = make_env("factqa-easy").task_ids("train")[:3]
    _, episodes = evaluate_baseline("random", functools.partial(make_env, "factqa-easy"), tool_ids)
    tool_steps = sum(len(episode.steps) for episode in episodes)
    assert results["factqa-easy"]["single"]["steps"] == results["factqa-easy"]["pool"]["steps"] == tool_steps > 0
    assert results["factqa-easy"]["pool"]["env_errors"] == 0 and results["factqa-easy"]["pool_speedup"] > 0
    progress = capsys.readouterr().err.splitlines()  # each result printed as soon as it is measured
    assert [line.split(" (")[0] for line in progress] == [f"[bench_envs] {name}" for name in names]
