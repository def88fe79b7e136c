"""ScienceWorld adapter on the real simulator (one JVM for the module; tasks with short gold paths)."""

from __future__ import annotations

import sys

import pytest

from agentrl.envs import SPLITS, UnknownTaskError, check_info, make_env
from agentrl.envs.scienceworld.splits import VARIATION_COUNTS, variations

pytest.importorskip("scienceworld", reason='needs pip install -e ".[scienceworld]" and Java')

SHORT_GOLD = ["find-non-living-thing", "lifespan-longest-lived", "power-component"]


@pytest.fixture(scope="module")
def env():
    environment = make_env("scienceworld", task_names=SHORT_GOLD + ["boil"], variations_per_task=3)
    yield environment
    environment.close()


def first_id(env, task, split="train"):
    return next(task_id for task_id in env.task_ids(split) if f"/{task}/" in task_id)


@pytest.mark.parametrize("task", SHORT_GOLD)
def test_gold_path_wins_with_full_score(env, task):
    task_id = first_id(env, task, "eval_in")
    observation, info = env.reset(task_id)
    assert observation.startswith("This room is called") and info["task"].startswith("Your task is to")
    rewards, done = [], False
    while not done:
        check_info(info)
        assert info["expert_action"] is not None and info["task_type"] == task
        observation, reward, done, info = env.step(info["expert_action"])
        assert info["valid"] and not info["unknown_entity"], observation
        rewards.append(reward)
    assert info["won"] and info["score"] == 1.0 and info["expert_action"] is None
    # Dense normalised score deltas, never negative on the gold path, summing to the final score 1.0.
    assert sum(rewards) == pytest.approx(1.0) and min(rewards) >= 0 and len(rewards) <= env.max_steps


def test_final_reward_mode_pays_once(env):
    final = make_env("scienceworld", task_names=["lifespan-longest-lived"], reward="final", admissible="none")
    try:
        _, info = final.reset(final.task_ids("train")[1])
        assert info["admissible_actions"] == []
        rewards, done = [], False
        while not done:
            _, reward, done, info = final.step(info["expert_action"])
            rewards.append(reward)
        assert rewards == [0.0] * (len(rewards) - 1) + [1.0] and info["won"]
    finally:
        final.close()


def test_invalid_input_changes_nothing_and_made_up_objects_are_flagged(env):
    _, info = env.reset(first_id(env, "find-non-living-thing"))
    anchor, expert = info["anchor"], info["expert_action"]
    for command, unknown in (("pick up unicorn", True), ("blah blah", False), ("go to the moon", True)):
        _, reward, done, info = env.step(command)
        assert (reward, done, info["valid"], info["unknown_entity"]) == (0.0, False, False, unknown), command
        assert info["anchor"] == anchor and info["expert_action"] == expert  # still on the gold path
    _, _, _, info = env.step("look at picture")  # understood, but not the gold action: off the path
    assert info["valid"] and info["expert_action"] is None


def test_focusing_on_the_wrong_thing_fails_the_task(env):
    _, info = env.reset(first_id(env, "boil"))
    _, reward, done, info = env.step("focus on picture")
    assert done and not info["won"] and info["score"] == 0.0 and reward == 0.0


def test_compact_admissible_actions(env):
    _, info = env.reset(first_id(env, "power-component"))
    compact = info["admissible_actions"]
    full = env.engine.get_valid_action_object_combinations()
    assert set(compact) < set(full) and len(compact) < len(full) / 2 and compact == sorted(compact)
    assert "look around" in compact and "open door to workshop" in compact
    two_object = ("move ", "pour ", "use ", "connect ", "dunk ")
    assert not [action for action in compact if action.split()[-1] in ("agent", "air") or action.startswith(two_object)]
    assert "connect OBJ to OBJ" in info["task"]  # two-object forms are named with the task instead


def test_splits_match_the_engine_and_bad_ids_are_rejected(env):
    totals = [sum(counts[index] for counts in VARIATION_COUNTS.values()) for index in range(3)]
    assert totals == [3592, 1796, 1819] and len(VARIATION_COUNTS) == 30
    engine = env.engine
    for task in ("boil", "power-component", "find-animal"):
        engine.load(task, 0, "")
        assert list(variations(task, "train")) == engine.get_variations_train()
        assert list(variations(task, "eval_in")) == engine.get_variations_dev()
        assert list(variations(task, "eval_out")) == engine.get_variations_test()
    assert env.task_ids("eval_in")[:3] == [
        f"scienceworld/eval_in/find-non-living-thing/{v:04d}" for v in (150, 151, 152)
    ]
    ids = {split: set(env.task_ids(split)) for split in SPLITS}
    assert not (ids["train"] & ids["eval_in"]) and not (ids["eval_in"] & ids["eval_out"])
    bad_ids = (
        "scienceworld/train/boil/0014",  # boil's variation 14 is a dev (eval_in) variation
        "scienceworld/train/melt/0000",  # a real task, but not one this env was built with
        "scienceworld/train/boil/3",
        "boil",
    )
    for bad in bad_ids:
        with pytest.raises(UnknownTaskError, match="unknown task id"):
            env.reset(bad)
    with pytest.raises(ValueError, match="unknown task names"):
        make_env("scienceworld", task_names=["boiling"])


def test_missing_engine_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "scienceworld", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[scienceworld\]"'):
        make_env("scienceworld")
