"""The Gymnasium-style adapter (envs/adapters/from_gymnasium.py) on the real libraries: a text environment
registered with gymnasium.register here (Gymnasium ships none) and GEM's text games.

Random policies play episodes through `make_env`; every step is replayed independently on the library itself (same
seed, same actions) and the adapter's rewards, done flags and verdicts must equal the library's."""

from __future__ import annotations

import importlib.util
import random
import string

import numpy as np
import pytest

from agentrl.envs import make_env
from tests.adapter_checks import (  # noqa: F401 - no_model_built is a fixture
    disjoint,
    error_without_library,
    nltk_words_available,
    no_model_built,
    play,
    seed_of,
    train_recipe,
)
from tests.test_cli import run_cli, write_recipe

gymnasium = pytest.importorskip("gymnasium", reason="pip install 'agentrl[gymnasium]'")
requires_gem = pytest.mark.skipif(importlib.util.find_spec("gem") is None, reason="pip install 'agentrl[gem]'")
LINE_WALK = "AgentrlLineWalk-v0"
MOVES = ("left", "right", "stay")


class LineWalkEnv(gymnasium.Env):
    """A text environment: find the goal cell on a line; a gust of wind sometimes pushes the walker back (the
    env's own seeded generator, so a seed and the actions fix an episode). States success and validity in info."""

    metadata: dict = {"render_modes": []}

    def __init__(self, size: int = 7, max_turns: int = 8, wind: float = 0.25) -> None:
        self.size, self.max_turns, self.wind = size, max_turns, wind
        self.observation_space = gymnasium.spaces.Text(max_length=300, charset=string.printable)
        self.action_space = gymnasium.spaces.Text(max_length=20, charset=string.printable)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.goal = int(self.np_random.integers(self.size))
        self.position = int((self.goal + 1 + self.np_random.integers(self.size - 1)) % self.size)
        self.turns = 0
        return f"You stand on cell {self.position} of 0..{self.size - 1}. Find the goal.", self._info(True, False)

    def step(self, action):
        self.turns += 1
        truncated = self.turns >= self.max_turns
        if action not in MOVES:
            return f"Unknown move {action!r}.", -0.05, False, truncated, self._info(False, False)
        before = abs(self.position - self.goal)
        step = {"left": -1, "right": 1, "stay": 0}[action]
        if step and self.np_random.random() < self.wind:
            step = -step
        self.position = min(max(self.position + step, 0), self.size - 1)
        if self.position == self.goal:
            return "You found the goal.", 1.0, True, False, self._info(True, True)
        after = abs(self.position - self.goal)
        observation = f"You are on cell {self.position}; {'warmer' if after < before else 'colder'}."
        return observation, (0.1 if after < before else -0.1), False, truncated, self._info(True, False)

    def _info(self, valid: bool, success: bool) -> dict:
        return {"valid": valid, "is_success": success, "admissible_actions": list(MOVES)}


if LINE_WALK not in gymnasium.registry:
    gymnasium.register(id=LINE_WALK, entry_point=LineWalkEnv)


# ------------------------------------------------------------------------------------------------ Gymnasium
def test_gymnasium_episodes_equal_the_library_run():
    env = make_env(f"gymnasium:{LINE_WALK}", max_steps=100, train_size=20, eval_size=5)
    rng = random.Random(0)
    tasks = env.task_ids("train")[:12] + env.task_ids("eval_in")[:3] + env.task_ids("eval_out")[:3]
    episodes = play(env, tasks, lambda info, rng: rng.choice([*info["admissible_actions"], "jump"]), rng)
    outcomes = {"won": 0, "lost": 0, "invalid": 0}
    for episode in episodes:
        library = gymnasium.make(LINE_WALK)
        library.reset(seed=seed_of(episode["task_id"]))
        for step in episode["steps"]:
            observation, reward, terminated, truncated, info = library.step(step["action"])
            assert step["observation"] == observation
            assert step["reward"] == pytest.approx(reward) and step["done"] == (terminated or truncated)
            assert step["info"]["won"] == info["is_success"] and step["info"]["valid"] == info["valid"]
            assert step["info"]["admissible_actions"] == list(MOVES)
            outcomes["invalid"] += not info["valid"]
        outcomes["won" if episode["steps"][-1]["info"]["won"] else "lost"] += 1
    assert all(count > 0 for count in outcomes.values()), outcomes  # the check saw wins, losses and invalid moves


def test_gymnasium_task_ids_splits_and_replay():
    env = make_env(f"gymnasium:{LINE_WALK}", train_size=30, eval_size=10)
    again = make_env(f"gymnasium:{LINE_WALK}", train_size=30, eval_size=10)
    assert env.task_ids("train")[:2] == [f"gymnasium:{LINE_WALK}/train/00000", f"gymnasium:{LINE_WALK}/train/00001"]
    seeds = {}
    for split in ("train", "eval_in", "eval_out"):
        assert env.task_ids(split) == again.task_ids(split)
        seeds[split] = {env.seed_of(task_id) for task_id in env.task_ids(split)}
        assert seeds[split] == {seed_of(task_id) for task_id in env.task_ids(split)}
    assert disjoint(seeds)
    firsts = [env.reset(task_id)[0] for task_id in env.task_ids("train")]
    env.step("left")
    assert [again.reset(task_id)[0] for task_id in env.task_ids("train")] == firsts  # same id, same episode
    assert env.reset(env.task_ids("train")[5])[0] == firsts[5]
    assert len(set(firsts)) > 3  # the seed does reach the library


def test_gymnasium_module_form_and_reset_options():
    """`gymnasium:module:ID` lets Gymnasium import the module that registers the environment."""
    env = make_env(f"gymnasium:tests.test_adapter_gymnasium:{LINE_WALK}", reset_options={"unused": 1})
    observation, info = env.reset(env.task_ids("eval_in")[0])
    assert observation.startswith("You stand on cell") and info["task"] == observation


# ------------------------------------------------------------------------------------------------ GEM
def boxed_guess(info, rng):
    return rng.choice([str(rng.randint(1, 10)), f"\\boxed{{{rng.randint(1, 10)}}}", "no idea"])


GEM_GAMES = {  # game -> a random policy over its moves (lower case, as agentrl's parser hands them on)
    "game:GuessTheNumber-v0-easy": boxed_guess,
    "game:Game2048-v0-easy": lambda info, rng: rng.choice(["up", "down", "left", "right", "up", "noop"]),
    "game:Sokoban-v0-easy": lambda info, rng: rng.choice(["up", "down", "left", "right"]),
    "game:Minesweeper-v0-easy": lambda info, rng: (
        f"{rng.choice(['reveal', 'flag'])} {rng.randrange(5)} {rng.randrange(5)}"
    ),
    "game:TowerofHanoi-v0-easy": lambda info, rng: " ".join(rng.sample(["a", "b", "c"], 2)),
    "game:Mastermind-v0-easy": lambda info, rng: " ".join(str(rng.randint(1, 6)) for _ in range(2)),
}


def gem_action(action: str) -> str:
    """What GEM reads: the move in \\boxed{} (written here by hand, not by the adapter)."""
    return action if action.startswith("\\boxed{") else "\\boxed{" + action + "}"


@requires_gem
@pytest.mark.parametrize("game", sorted(GEM_GAMES))
def test_gem_episodes_equal_the_library_run(game):
    import gem
    from gem.utils.constants import LanguageGameReward

    env = make_env(f"gem:{game}", max_steps=200, train_size=50, eval_size=10)
    rng = random.Random(1)
    tasks = env.task_ids("train")[:8] + env.task_ids("eval_out")[:2]
    episodes = play(env, tasks, GEM_GAMES[game], rng)
    valid = 0
    for episode in episodes:
        library = gem.make(game)
        observation, info = library.reset(seed=seed_of(episode["task_id"]))
        for step in episode["steps"]:
            observation, reward, terminated, truncated, info = library.step(gem_action(step["action"]))
            assert step["reward"] == pytest.approx(reward) and step["done"] == (terminated or truncated)
            assert step["observation"] == f"{observation.strip()}\n{info['suffix'].strip()}"  # GEM's composition
            assert step["info"]["valid"] == (reward != LanguageGameReward.format_error_reward)
            assert step["info"]["won"] == observation.startswith("Congratulations")  # GEM's games say so on a win
            assert step["info"]["admissible_actions"] == []
            valid += step["info"]["valid"]
    assert valid > 0  # lower-case moves are accepted
    if game == "game:GuessTheNumber-v0-easy":  # random guesses in 1..10 over 4 turns win now and then
        assert 0 < sum(e["steps"][-1]["info"]["won"] for e in episodes) < len(episodes)


@requires_gem
def test_gem_first_observation_is_the_state_and_task_the_rules():
    env = make_env("gem:game:Sokoban-v0-easy", train_size=20, eval_size=5)
    observation, info = env.reset(env.task_ids("train")[0])
    assert observation.startswith("Here is the current board layout") and "Sokoban" in info["task"]
    assert "\\boxed{}" in info["task"]  # the rules say how to write a move
    firsts = [env.reset(task_id)[0] for task_id in env.task_ids("train")]
    again = make_env("gem:game:Sokoban-v0-easy", train_size=20, eval_size=5)
    assert [again.reset(task_id)[0] for task_id in again.task_ids("train")] == firsts
    assert len(set(firsts)) > 5  # different seeds, different rooms
    assert env.step("\\boxed{up}")[3]["valid"] and not env.step("dance")[3]["valid"]  # boxed or not, both reach GEM


@requires_gem
def test_library_randomness_stays_inside_each_environment():
    """2048 spawns tiles from the global generators in every step. Two environments stepped in turns (as the
    rollout pool steps its envs in lockstep) play exactly the library's sequential episodes, and the caller's
    global random state is untouched."""
    import gem

    random.seed(123)
    np.random.seed(123)
    caller = (random.getstate(), np.random.get_state()[1].copy())
    first, second = (make_env("gem:game:Game2048-v0-easy", max_steps=200) for _ in range(2))
    tasks = (first.task_ids("train")[3], second.task_ids("train")[4])
    first.reset(tasks[0]), second.reset(tasks[1])
    moves = ["up", "left", "down", "right"] * 6
    records = ([], [])
    for move in moves:
        for env, record in zip((first, second), records, strict=True):
            if not record or not record[-1][2]:
                record.append(env.step(move)[:3])
    assert random.getstate() == caller[0] and np.array_equal(np.random.get_state()[1], caller[1])
    for task_id, record in zip(tasks, records, strict=True):
        library = gem.make("game:Game2048-v0-easy")
        library.reset(seed=seed_of(task_id))
        for (observation, reward, done), move in zip(record, moves, strict=False):
            expected, expected_reward, terminated, truncated, info = library.step(gem_action(move))
            assert observation == f"{expected.strip()}\n{info['suffix'].strip()}" and reward == expected_reward
            assert done == (terminated or truncated)


# ------------------------------------------------------------------------------------------------ clear messages
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("gymnasium:NoSuchTextGame-v0", ["doesn't exist", "gymnasium.register", "gymnasium:your_module:YourEnv-v0"]),
        ("gymnasium:CartPole-v1", ["observations are ndarray, not text"]),
        pytest.param(
            "gem:game:Sokobn-v0-easy",
            ["GEM has no environment", "Did you mean game:Sokoban-v0-easy", "gem:game:"],
            marks=requires_gem,
        ),
    ],
)
def test_bad_specs_name_the_fix(spec, expected):
    with pytest.raises(ValueError) as raised:
        make_env(spec)
    message = str(raised.value)
    assert all(part in message for part in expected), message
    assert "\n" not in message


@requires_gem
@pytest.mark.skipif(nltk_words_available(), reason="NLTK's word list is installed here: the game can start")
@pytest.mark.usefixtures("no_model_built")
def test_game_that_downloads_data_fails_with_one_message(tmp_path, capsys):
    with pytest.raises(ValueError) as raised:
        make_env("gem:game:Wordle-v0-easy")
    message = str(raised.value)
    assert "NLTK data package 'words'" in message and "python -m nltk.downloader words" in message
    assert "gem:game:GuessTheNumber-v0-easy" in message and "\n" not in message
    code, err = run_cli(capsys, "train", "--config", str(write_recipe(tmp_path, env_id="gem:game:Wordle-v0-easy")))
    assert code == 2 and "NLTK data package 'words'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("library", "spec"), [("gymnasium", f"gymnasium:{LINE_WALK}"), ("gem", "gem:game:GuessTheNumber-v0-easy")]
)
def test_library_not_installed(library, spec):
    error = error_without_library(library, spec)
    assert error.startswith("UnknownEnvironmentError") and f"pip install 'agentrl[{library}]'" in error, error


# ------------------------------------------------------------------------------------------------ training
@requires_gem
@pytest.mark.slow
def test_gem_recipe_trains_with_a_learning_signal(tmp_path):
    """recipes/envs/gem_guess_the_number_tiny.yaml, 2 updates: a random tiny model's one-token guesses are legal
    now and then, so some groups' returns differ and at least one update has a non-zero gradient."""
    updates = train_recipe(tmp_path, "gem_guess_the_number_tiny.yaml")
    assert any(r["frac_reward_zero_std"] < 1 and r["grad_norm"] > 0 for r in updates), updates
    assert any(r["episode/valid_action_ratio"] > 0 for r in updates)
