"""What the adapter tests (tests/test_adapter_*.py) share: the documented task -> seed rule, random-policy episodes
through an adapter, the missing-library and missing-data checks, and a shipped recipe's 2-update training run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import agentrl.models
from agentrl.cli import main
from agentrl.envs import check_info
from tests.launch import ROOT

SPLIT_SEEDS = {"train": 0, "eval_in": 1_000_000, "eval_out": 2_000_000}  # envs/adapters/seeded.py's documented rule


def seed_of(task_id: str) -> int:
    """The library seed of a task id `name/split/index`, computed here from the documented rule."""
    _, split, index = task_id.split("/")
    return SPLIT_SEEDS[split] + int(index)


def disjoint(seeds: dict[str, set[int]]) -> bool:
    """The seed sets of the three splits share no seed."""
    return not (
        seeds["train"] & seeds["eval_in"] or seeds["train"] & seeds["eval_out"] or seeds["eval_in"] & seeds["eval_out"]
    )


def play(env, task_ids, choose, rng) -> list[dict]:
    """Random-policy episodes through the adapter, every info checked against the contract: per episode the task id
    and per step the action, reward, done flag, info and observation."""
    episodes = []
    for task_id in task_ids:
        observation, info = env.reset(task_id)
        check_info(info)
        steps, done = [], False
        while not done:
            action = choose(info, rng)
            observation, reward, done, info = env.step(action)
            check_info(info)
            assert isinstance(observation, str) and isinstance(reward, float)
            steps.append({"action": action, "reward": reward, "done": done, "info": info, "observation": observation})
        episodes.append({"task_id": task_id, "steps": steps})
    return episodes


def nltk_words_available() -> bool:
    """NLTK's word list is on this machine (then the games that download it can start)."""
    import nltk

    try:
        nltk.data.find("corpora/words")
        return True
    except LookupError:
        return False


@pytest.fixture()
def no_model_built(monkeypatch):
    """Tripwire: an environment that cannot start must stop the run before any model is built or loaded (the
    environment is built inside agentrl.run.train, first thing)."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a model was loaded before the environment was checked")

    monkeypatch.setattr(agentrl.models, "load_policy", forbidden)
    monkeypatch.setattr(agentrl.models, "build_tiny_model", forbidden)


def error_without_library(library: str, spec: str) -> str:
    """make_env(spec) in a fresh interpreter where `import library` fails as if it were not installed
    (sys.modules[name] = None): the error's type name and message."""
    code = (
        f"import sys; sys.modules[{library!r}] = None\n"
        "from agentrl.envs import make_env\n"
        f"try:\n    make_env({spec!r})\nexcept ValueError as error:\n    print(type(error).__name__, error)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def train_recipe(tmp_path, recipe: str, **changes) -> list[dict]:
    """Run a shipped recipe (recipes/envs/) through the real CLI for 2 updates; return the per-update metrics. The
    recipe is used where it is (files it names are relative to its folder), with the changes on the command line."""
    settings = {"output_dir": str(tmp_path / "run"), "max_steps": 2, "eval_num_tasks": 8, **changes}
    overrides = [token for key, value in settings.items() for token in (f"--{key}", str(value))]
    assert main(["train", "--config", str(Path(ROOT, "recipes", "envs", recipe)), *overrides]) == 0
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    updates = [r for r in records if "reward/mean" in r]
    assert [r["step"] for r in updates] == [1, 2]
    assert (tmp_path / "run" / "final" / "config.json").exists() and (tmp_path / "run" / "eval.json").exists()
    return updates
