"""TextWorld adapter: games from TextWorld's generator played by TextWorld's engine (no mocks).

Each generated game costs 2-7 s, so the module generates five into one temporary cache and reuses them.
"""

from __future__ import annotations

import sys

import pytest

from agentrl.envs import SPLITS, UnknownTaskError, check_info, list_envs, make_env
from agentrl.envs.templates import TemplateMatcher
from agentrl.envs.textworld.env import clean_feedback
from tests.expert import run_expert

pytest.importorskip("textworld", reason='needs pip install -e ".[textworld]"')


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("textworld-cache")


@pytest.mark.parametrize("name", ["textworld-custom", "textworld-coin"])
def test_expert_walkthrough_wins_with_reward_on_win_only(name, cache_dir):
    env = make_env(name, cache_dir=cache_dir, reward_on_win=2.5)
    task_id = env.task_ids("train")[0]
    rows = run_expert(env, task_id)
    *middle, last = rows
    assert last[3]["won"] and last[1] == 2.5 and last[2]
    assert last[3]["expert_action"] is None and last[3]["task_id"] == task_id
    assert 5 <= len(rows) - 1 <= env.max_steps  # both generators were asked for 5-action quests
    for _, reward, done, info in middle:
        check_info(info)
        assert reward == 0.0 and not done and not info["won"] and info["valid"]
        assert info["expert_action"] in info["admissible_actions"]
        assert info["task_type"] == name.removeprefix("textworld-") and not info["unknown_entity"]
    assert rows[0][3]["task"] and "$$" not in rows[0][0] and not rows[0][0].endswith(">")
    assert len({info["anchor"] for *_, info in rows}) == len(rows)  # every expert step changes the world


def test_intermediate_rewards_pay_progress_on_every_expert_step(cache_dir):
    env = make_env("textworld-cooking", cache_dir=cache_dir, intermediate_rewards=True, progress_reward=0.25)
    rows = run_expert(env, env.task_ids("eval_out")[0])
    steps = len(rows) - 1
    # Each expert step shortens TextWorld's winning plan by one (+1), the last one wins (+1, plus 1.0).
    assert [reward for _, reward, _, _ in rows[1:]] == [0.25] * (steps - 1) + [1.25]
    assert rows[-1][3]["won"] and rows[0][3]["task_type"] == "cooking"
    assert "cookbook" in rows[0][3]["task"]


def test_invalid_commands_change_nothing_and_made_up_names_are_flagged(cache_dir):
    env = make_env("textworld-custom", cache_dir=cache_dir, intermediate_rewards=True)
    _, info = env.reset(env.task_ids("train")[0])
    anchor, expert = info["anchor"], info["expert_action"]
    for command, unknown in (("take unicorn", True), ("put purple dragon on moon", True), ("xyzzy", False)):
        observation, reward, done, info = env.step(command)
        assert (reward, done, info["valid"], info["unknown_entity"]) == (0.0, False, False, unknown), command
        assert info["anchor"] == anchor and info["expert_action"] == expert and observation
    _, _, _, info = env.step("  LOOK ")  # case and spaces do not matter; looking changes nothing
    assert info["valid"] and info["anchor"] == anchor
    _, reward, _, info = env.step(expert)
    assert reward == pytest.approx(0.1) and info["valid"] and info["anchor"] != anchor


def test_a_task_id_is_the_same_game_in_any_cache(cache_dir, tmp_path):
    first = make_env("textworld-coin", cache_dir=cache_dir)
    second = make_env("textworld-coin", cache_dir=tmp_path)
    task_id = first.task_ids("train")[0]
    path_a, path_b = first.game_file(task_id), second.game_file(task_id)
    assert path_a != path_b
    with open(path_a.replace(".z8", ".json")) as a, open(path_b.replace(".z8", ".json")) as b:
        assert a.read() == b.read()
    assert first.reset(task_id)[0] == second.reset(task_id)[0]


def test_splits_ids_and_bad_input_errors(cache_dir):
    env = make_env("textworld-coin", cache_dir=cache_dir, num_train_tasks=3, num_eval_in_tasks=2)
    assert env.task_ids("train") == [
        "textworld-coin/train/00000",
        "textworld-coin/train/00001",
        "textworld-coin/train/00002",
    ]
    assert len(env.task_ids("eval_in")) == 2 and len(env.task_ids("eval_out")) == 20
    seeds = {split: {env.games.seed(split, i) for i in range(3)} for split in SPLITS}
    assert not (seeds["train"] & seeds["eval_in"]) and not (seeds["eval_in"] & seeds["eval_out"])
    for bad in ("textworld-coin/train/00003", "textworld-custom/train/00000", "textworld-coin/test/00000", "x", 7):
        with pytest.raises(UnknownTaskError, match="unknown task id"):
            env.reset(bad)
    with pytest.raises(ValueError, match="unknown generator settings"):
        make_env("textworld-coin", cache_dir=cache_dir, settings={"levle": 3})
    with pytest.raises(RuntimeError, match="call reset"):
        make_env("textworld-coin", cache_dir=cache_dir).step("look")


def test_missing_engine_names_the_extra(monkeypatch):
    assert {"textworld-custom", "textworld-simple", "textworld-cooking", "textworld-coin"} <= set(list_envs())
    monkeypatch.setitem(sys.modules, "textworld", None)  # import textworld -> ImportError
    with pytest.raises(ImportError, match=r'pip install -e "\.\[textworld\]"'):
        make_env("textworld-custom")


def test_feedback_cleaning_and_template_arguments():
    raw = "\n\n  $$$$ | $$\n  \\$$__/\n\nYou are hungry!\n\n\n\n-= Kitchen =-\nA stove.\n\n>     -= Kitchen =-0/3"
    assert clean_feedback(raw) == "You are hungry!\n\n-= Kitchen =-\nA stove."
    matcher = TemplateMatcher(["take {o}", "take {o} from {c}", "look", "go east"], r"\{[^}]+\}")
    assert matcher.arguments("Take  red apple from chest") == ["red apple", "chest"]
    assert matcher.arguments("take x") == ["x"]
    assert matcher.arguments("look") is None and matcher.arguments("go east") is None
