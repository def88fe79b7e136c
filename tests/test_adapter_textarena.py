"""The TextArena adapter (envs/adapters/from_textarena.py) on the real library.

Random policies play every game of OFFLINE_GAMES through `make_env`; every episode is replayed independently on
TextArena itself (textarena.make, reset with the same seed, the same moves in brackets, close) and the adapter's
rewards, done flags and verdicts must equal what the game reports."""

from __future__ import annotations

import random

import pytest

from agentrl.envs import UnknownEnvironmentError, make_env
from agentrl.envs.adapters.from_textarena import OFFLINE_GAMES
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

textarena = pytest.importorskip("textarena", reason="pip install 'agentrl[textarena]'")

DIRECTIONS = ["up", "down", "left", "right"]
POLICIES = {  # game -> the moves a random policy picks from when the game lists none (lower case, no brackets)
    "GuessTheNumber-v0": [str(n) for n in range(1, 21)] + ["no idea"],
    "TowerOfHanoi-v0": ["a b", "a c", "b a", "b c", "c a", "c b"],
    "FrozenLake-v0": DIRECTIONS,
    "Minesweeper-v0-small": [f"{row} {col}" for row in range(5) for col in range(5)],
    "Sudoku-v0-easy": [f"{row} {col} {n}" for row in range(1, 10) for col in range(1, 10) for n in range(1, 10)],
    "2048-v0-mega-easy": DIRECTIONS,
    "Mastermind-v0": ["1 2 3 4", "2 3 4 5", "5 6 1 2", "6 5 4 3", "3 1 4 2", "1 1 2 2"],
    "LightsOut-v0": [f"{row} {col}" for row in range(5) for col in range(5)],
    "Bandit-v0": ["red", "blue", "green", "yellow", "purple"],
    "Blackjack-v0": ["hit", "stand"],
    "FifteenPuzzle-v0": DIRECTIONS,
    "Sokoban-v0": DIRECTIONS,
}


def choose(moves):
    def policy(info, rng):  # the moves the game lists now, else the game's move set; now and then nonsense
        return rng.choice(info["admissible_actions"] or moves) if rng.random() > 0.1 else "dance"

    return policy


def library_episode(game: str, seed: int, actions: list[str]) -> list[dict]:
    """The same moves played on TextArena directly (the -raw variant: no wrappers, the moves bracketed here): per
    step the game's done flag, the reward (0 until the end, then close()'s), whether the game announced an invalid
    move, and whether it was a win (reward 1)."""
    env = textarena.make(f"{game}-raw")
    env.reset(num_players=1, seed=seed)
    env.get_observation()
    steps = []
    for action in actions:
        done, _ = env.step(f"[{action}]")
        _, messages = env.get_observation()  # this turn's (sender, text, type) messages
        announced = any(text.startswith("You attempted an invalid move") for _, text, _ in messages)
        reward, won = 0.0, False
        if done:
            rewards, game_info = env.close()
            reward = float(rewards[0])
            announced = announced or game_info[0]["invalid_move"]
            won = reward == 1 and not game_info[0]["invalid_move"]
        steps.append({"done": done, "reward": reward, "invalid": announced, "won": won})
    return steps


@pytest.mark.parametrize("game", OFFLINE_GAMES)
def test_random_episodes_equal_the_library_run(game):
    assert game in textarena.envs.registration.ENV_REGISTRY
    env = make_env(f"textarena:{game}", max_steps=300, train_size=40, eval_size=10)
    rng = random.Random(2)
    tasks = env.task_ids("train")[:5] + env.task_ids("eval_in")[:1]
    episodes = play(env, tasks, choose(POLICIES[game]), rng)
    accepted = 0
    for episode in episodes:
        steps = episode["steps"]
        expected = library_episode(game, seed_of(episode["task_id"]), [step["action"] for step in steps])
        assert [s["done"] for s in steps] == [e["done"] for e in expected]
        assert [s["reward"] for s in steps] == pytest.approx([e["reward"] for e in expected])
        assert [s["info"]["valid"] for s in steps] == [not e["invalid"] for e in expected]
        assert [s["info"]["won"] for s in steps] == [e["won"] for e in expected]
        accepted += sum(s["info"]["valid"] for s in steps)
    assert accepted > 0  # the game takes lower-case moves without brackets


def test_stated_moves_are_admissible_and_legal():
    """FifteenPuzzle lists its legal moves in every board: they are the admissible actions, and each is accepted."""
    env = make_env("textarena:FifteenPuzzle-v0")
    observation, info = env.reset(env.task_ids("train")[0])
    for _ in range(8):
        moves = info["admissible_actions"]
        assert moves and set(moves) <= set(DIRECTIONS) and f"[{moves[0]}]" in observation
        observation, _, done, info = env.step(moves[0])
        assert info["valid"] and not done
    illegal = sorted(set(DIRECTIONS) - set(info["admissible_actions"]))
    assert illegal and not env.step(illegal[0])[3]["valid"]


def test_task_prompt_observation_and_anchor():
    env = make_env("textarena:TowerOfHanoi-v0")
    observation, info = env.reset(env.task_ids("train")[0])
    assert info["task"].startswith("You are playing Tower of Hanoi") and observation.startswith("Current Board")
    start = info["anchor"]
    observation, _, _, info = env.step("a b")
    assert observation.startswith("You moved disk 1 from A to B") and "B: [1]" in observation and info["valid"]
    moved = info["anchor"]
    observation, _, _, info = env.step("c a")  # rejected (C is empty): the board stays in view, the state too
    assert not info["valid"] and "invalid move" in observation and "B: [1]" in observation and info["anchor"] == moved
    observation, _, _, info = env.step("b a")
    assert info["anchor"] == start != moved  # the game's own state: back where it started
    observation, reward, done, info = env.step("nonsense")
    assert not done  # one retry after an invalid move ...
    observation, reward, done, info = env.step("more nonsense")
    assert done and reward == 0.0 and not info["won"] and "Game over: Invalid Move" in observation  # ... not two


def test_task_ids_splits_and_replay():
    env = make_env("textarena:Sudoku-v0-easy", train_size=12, eval_size=4)
    again = make_env("textarena:Sudoku-v0-easy", train_size=12, eval_size=4)
    seeds = {split: {env.seed_of(t) for t in env.task_ids(split)} for split in ("train", "eval_in", "eval_out")}
    assert disjoint(seeds) and all(env.task_ids(split) == again.task_ids(split) for split in seeds)
    assert env.task_ids("eval_out")[3] == "textarena:Sudoku-v0-easy/eval_out/00003"
    assert env.seed_of(env.task_ids("eval_out")[3]) == 2_000_003
    firsts = [env.reset(task_id)[0] for task_id in env.task_ids("train")]
    env.step("1 1 1")
    assert [again.reset(task_id)[0] for task_id in again.task_ids("train")] == firsts
    assert env.reset(env.task_ids("train")[7])[0] == firsts[7]
    assert len(set(firsts)) == len(firsts)  # each seed its own puzzle


# ------------------------------------------------------------------------------------------------ clear messages
def test_unknown_game_lists_single_player_games():
    with pytest.raises(UnknownEnvironmentError) as raised:
        make_env("textarena:GuessTheNumbr-v0")
    message = str(raised.value)
    assert "TextArena has no game 'GuessTheNumbr-v0'" in message and "Did you mean GuessTheNumber-v0" in message
    assert all(game in message for game in OFFLINE_GAMES[:4]) and "\n" not in message


def test_two_player_game_is_refused():
    with pytest.raises(UnknownEnvironmentError) as raised:
        make_env("textarena:TicTacToe-v0")
    assert "is not a single-player game" in str(raised.value) and "GuessTheNumber-v0" in str(raised.value)


def test_game_with_a_networked_game_master_is_refused():
    with pytest.raises(ValueError) as raised:
        make_env("textarena:TwentyQuestions-v0")
    assert "OpenRouter" in str(raised.value) and "over the network" in str(raised.value)


@pytest.mark.skipif(nltk_words_available(), reason="NLTK's word list is installed here: the game can start")
@pytest.mark.usefixtures("no_model_built")
def test_game_that_downloads_data_fails_with_one_message(tmp_path, capsys):
    with pytest.raises(ValueError) as raised:
        make_env("textarena:Wordle-v0")
    message = str(raised.value)
    assert "NLTK data package 'words'" in message and "python -m nltk.downloader words" in message
    assert "GuessTheNumber-v0" in message and "\n" not in message
    code, err = run_cli(capsys, "train", "--config", str(write_recipe(tmp_path, env_id="textarena:Wordle-v0")))
    assert code == 2 and "NLTK data package 'words'" in err and "Traceback" not in err


def test_library_not_installed():
    error = error_without_library("textarena", "textarena:GuessTheNumber-v0")
    assert error.startswith("UnknownEnvironmentError") and "pip install 'agentrl[textarena]'" in error, error


# ------------------------------------------------------------------------------------------------ training
@pytest.mark.slow
def test_textarena_recipe_trains_with_a_learning_signal(tmp_path):
    """recipes/envs/textarena_guess_the_number_tiny.yaml, 2 updates: a random tiny model's one-token guesses are
    legal now and then, so some groups' returns differ and at least one update has a non-zero gradient."""
    updates = train_recipe(tmp_path, "textarena_guess_the_number_tiny.yaml")
    assert any(r["frac_reward_zero_std"] < 1 and r["grad_norm"] > 0 for r in updates), updates
    assert any(r["episode/valid_action_ratio"] > 0 for r in updates)
