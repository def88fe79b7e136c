"""The `alfworld` env on ALFWorld's real engine: generated games of all six task types, the expert, splits,
official-data discovery, bad input, determinism. Needs alfworld==0.4.2 (the test extra installs it)."""

from __future__ import annotations

import json
import random
import shutil
import sys

import pytest

pytest.importorskip("alfworld", reason='ALFWorld is not installed: pip install -e ".[alfworld]"')

from agentrl.envs import SPLITS, UnknownTaskError, check_info, make_env  # noqa: E402
from agentrl.envs.alfworld.engine import legacy_command, require_alfworld  # noqa: E402
from agentrl.envs.alfworld.env import AlfworldEnv, named_entities  # noqa: E402
from agentrl.envs.alfworld.games import TASK_TYPES, generated_root, read_manifest, shipped_counts  # noqa: E402
from tests.expert import run_expert

# A handful of games per split keeps the module fast; the games are the shipped ones (unpacked into the
# default cache once) or, without the archive, generated into it on first use.
SMALL = {"num_train_games": 6, "num_eval_in_games": 6, "num_eval_out_games": 6}


@pytest.fixture(scope="module")
def env() -> AlfworldEnv:
    return make_env("alfworld", source="generated", **SMALL)


def manifest_entry(env: AlfworldEnv, task_id: str) -> dict:
    split = task_id.split("/", 1)[0]
    return next(e for e in read_manifest(env.games.root.parent)[split] if e["task_id"] == task_id)


def test_every_split_holds_all_six_task_types_with_stable_ids(env):
    for split in SPLITS:
        ids = env.task_ids(split)
        assert len(ids) == 6 and ids == env.task_ids(split)
        assert [task_id.split("/")[1].split("-")[0] for task_id in ids] == list(TASK_TYPES)
        assert all(task_id.startswith(f"{split}/") for task_id in ids)
    # eval_out rooms are ALFRED's unseen (test) scenes, train/eval_in its seen ones: no room is shared.
    scenes = {split: {int(t.split("/")[1].rsplit("-", 1)[1]) for t in env.task_ids(split)} for split in SPLITS}
    from alfworld.gen import constants

    assert scenes["eval_out"] <= set(constants.TEST_SCENE_NUMBERS)
    assert scenes["train"] | scenes["eval_in"] <= set(constants.TRAIN_SCENE_NUMBERS)


@pytest.mark.slow  # plays every task type of a split with the real engine: ~8 s per split
@pytest.mark.parametrize("split", ["train", "eval_out"])
def test_handcoded_expert_wins_every_task_type(split):
    env = make_env("alfworld", source="generated", reward_on_win=10.0, **SMALL)
    for task_id in env.task_ids(split):
        rows = run_expert(env, task_id)
        *middle, last = rows
        assert last[3]["won"] and last[1] == 10.0 and last[2], task_id
        # The number of steps is the one the build recorded for this game (deterministic expert).
        assert len(rows) - 1 == manifest_entry(env, task_id)["expert_steps"] <= env.max_steps
        assert last[3]["task_type"] == task_id.split("/")[1].split("-")[0]
        assert last[3]["expert_action"] is None
        for observation, reward, done, info in middle:
            check_info(info)
            assert reward == 0.0 and not done and not info["won"]
            assert info["expert_action"] in info["admissible_actions"]
            assert "help" not in info["admissible_actions"]
            assert info["valid"] and not info["unknown_entity"] and observation != "Nothing happens."


def test_reset_text_task_and_contract(env):
    task_id = env.task_ids("eval_in")[3]  # pick_heat_then_place_in_recep
    observation, info = env.reset(task_id)
    check_info(info)
    assert observation.startswith("You are in the middle of a room. Looking quickly around you, you see a ")
    assert "Welcome to TextWorld" not in observation
    assert observation.endswith(f"Your task is to: {info['task']}.")
    assert info["task"].startswith(("put a hot ", "heat some "))
    assert info["task_type"] == "pick_heat_then_place_in_recep" and info["task_id"] == task_id
    assert info["expert_action"] == "look"  # ALFWorld's handcoded expert always looks first
    receptacles = sorted(a[len("go to ") :] for a in info["admissible_actions"] if a.startswith("go to "))
    assert info["admissible_actions"] == sorted([f"go to {r}" for r in receptacles] + ["inventory", "look"])
    for receptacle in receptacles:
        assert f"a {receptacle}" in observation


def test_invalid_and_unknown_entity_actions(env):
    task_id = env.task_ids("train")[0]
    _, info = env.reset(task_id)
    receptacle = info["admissible_actions"][0][len("go to ") :]
    anchor = info["anchor"]
    cases = [
        ("go to nowhere 3", False, True),  # no such receptacle
        (f"take unicorn 1 from {receptacle}", False, True),  # no such object
        ("jump around", False, False),  # no command template: invalid, names nothing
        (f"open {receptacle}x", False, True),
        ("inventory", True, False),
        (f"  GO   TO {receptacle.upper()} ", True, False),  # case and spacing are normalized
    ]
    for action, valid, unknown in cases:
        observation, reward, done, info = env.step(action)
        assert (info["valid"], info["unknown_entity"]) == (valid, unknown), action
        assert reward == 0.0 and not done
        if not valid:
            assert observation == "Nothing happens." and info["anchor"] == anchor
    assert observation.startswith(f"You arrive at {receptacle}.") and info["anchor"] != anchor
    assert named_entities("move apple 1 to countertop 2") == ["apple 1", "countertop 2"]
    assert named_entities("put apple 1 in/on countertop 2") == ["apple 1", "countertop 2"]
    assert named_entities("take potato 1 from countertop 1") == ["potato 1", "countertop 1"]
    assert named_entities("jump") is None
    assert legacy_command("move tomato 1 to toaster 1") == "put tomato 1 in/on toaster 1"
    assert legacy_command("go to toaster 1") == "go to toaster 1"


def test_step_limit_and_episode_end(env):
    short = make_env("alfworld", source="generated", max_steps=3, **SMALL)
    _, info = short.reset(short.task_ids("train")[1])
    for step in range(3):
        _, reward, done, info = short.step("look")
        assert done == (step == 2) and reward == 0.0 and not info["won"]
    with pytest.raises(RuntimeError, match="call reset"):
        short.step("look")
    with pytest.raises(ValueError, match="max_steps"):
        make_env("alfworld", source="generated", max_steps=0, **SMALL)


def test_same_actions_give_the_same_episode_and_leave_global_random_alone(env):
    task_id = env.task_ids("eval_out")[5]  # pick_two_obj_and_place
    other = make_env("alfworld", source="generated", **SMALL)
    rng = random.Random(3)
    random.seed(123)
    before = random.getstate()
    observation_a, info_a = env.reset(task_id)
    observation_b, info_b = other.reset(task_id)
    for _ in range(12):
        assert (observation_a, info_a) == (observation_b, info_b)
        action = rng.choice(info_a["admissible_actions"])
        observation_a, _, _, info_a = env.step(action)
        observation_b, _, _, info_b = other.step(action)
        assert info_a["valid"]
    assert random.getstate() == before


def test_random_agent_plays_by_the_contract(env):
    rng = random.Random(0)
    for task_id in env.task_ids("eval_in")[:2]:
        _, info = env.reset(task_id)
        seen = {info["anchor"]}
        for _ in range(15):
            _, _, done, info = env.step(rng.choice(info["admissible_actions"]))
            check_info(info)
            assert info["valid"] and not info["unknown_entity"]
            hash(info["anchor"])
            seen.add(info["anchor"])
            if done:
                break
        assert len(seen) > 3  # moving around changes the anchor


def test_unknown_task_id_names_the_problem(env):
    with pytest.raises(UnknownTaskError, match=r"unknown task id 'train/nope'.*task_ids\(split\)"):
        env.reset("train/nope")
    with pytest.raises(ValueError, match="unknown split"):
        env.task_ids("test")


def test_missing_official_data_warns_and_falls_back(tmp_path):
    empty = tmp_path / "alfworld-data"
    empty.mkdir()
    with pytest.warns(UserWarning, match="alfworld-download"):
        env = make_env("alfworld", data_path=str(empty), **SMALL)
    assert env.games.source == "generated" and len(env.task_ids("eval_out")) == 6
    with pytest.raises(FileNotFoundError, match="alfworld-download"):
        make_env("alfworld", source="official", data_path=str(empty))
    with pytest.raises(ValueError, match="source must be one of"):
        make_env("alfworld", source="bogus")


def test_official_data_layout_is_discovered_with_alfredtwenv_rules(env, tmp_path):
    """An `alfworld-download` style folder: json_2.1.1/{train,valid_seen,valid_unseen}/<game>/<trial>."""
    source = env.games.find(env.task_ids("train")[0])
    game_dir = generated_root_of(env) / "json_2.1.1" / "train"
    relative = source.task_id.split("/", 1)[1]
    data = tmp_path / "official"
    for folder in ("train", "valid_seen", "valid_unseen"):
        shutil.copytree(game_dir / relative, data / "json_2.1.1" / folder / relative)
    # AlfredTWEnv skips "movable"/"Sliced" folders and games not marked solvable.
    shutil.copytree(game_dir / relative, data / "json_2.1.1" / "train" / "pick_and_place_with_movable_recep-X" / "t")
    unsolvable = data / "json_2.1.1" / "train" / "pick_and_place_simple-Y" / "t"
    shutil.copytree(game_dir / relative, unsolvable)
    game = json.loads((unsolvable / "game.tw-pddl").read_text())
    (unsolvable / "game.tw-pddl").write_text(json.dumps({**game, "solvable": False}))

    official = make_env("alfworld", data_path=str(data), cache_dir=str(tmp_path / "cache"))
    assert official.games.source == "official"
    assert official.task_ids("train") == [f"train/{relative}"]
    assert official.task_ids("eval_in") == [f"eval_in/{relative}"]
    rows = run_expert(official, f"eval_out/{relative}")
    assert rows[-1][3]["won"] and rows[-1][1] == 1.0 and len(rows) - 1 <= official.max_steps


def generated_root_of(env: AlfworldEnv):
    return env.games.root.parent


def test_fresh_build_with_alfworld_generator_matches_the_shipped_game(env, tmp_path):
    """Runs alfworld-generate's gen_game_files on a fresh problem; same bytes as the shipped/cached game."""
    from agentrl.envs.alfworld.build import GameBuilder

    builder = GameBuilder(generated_root(tmp_path))
    entry = builder.build("eval_out", 4)  # pick_cool_then_place_in_recep in an unseen room
    fresh = generated_root(tmp_path) / entry["path"]
    game = json.loads((fresh / "game.tw-pddl").read_text())
    assert game["solvable"] is True and game["walkthrough"][-1].startswith("move ")
    traj = json.loads((fresh / "traj_data.json").read_text())
    assert traj["task_type"] == "pick_cool_then_place_in_recep" == entry["task_type"]
    task_line = next(line for line in game["grammar"].splitlines() if "Your task is to:" in line)
    assert traj["pddl_params"]["object_target"].lower() in task_line and "UNKNOWN GOAL" not in task_line
    assert "(coolable ?o)" in (fresh / "initial_state.pddl").read_text()
    cached = generated_root_of(env) / entry["path"]
    for name in ("traj_data.json", "initial_state.pddl", "game.tw-pddl"):
        assert (fresh / name).read_bytes() == (cached / name).read_bytes(), name


def test_shipped_archive_is_small_and_balanced():
    counts = shipped_counts()
    if not any(counts.values()):
        pytest.skip("no shipped archive (games are generated on first use)")
    from agentrl.envs.alfworld.games import SHIPPED_ARCHIVE

    assert SHIPPED_ARCHIVE.stat().st_size < 5_000_000
    assert all(counts[split] % len(TASK_TYPES) == 0 and counts[split] >= 6 for split in SPLITS)


def test_missing_alfworld_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "alfworld.agents.environment.alfred_tw_env", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[alfworld\]"'):
        require_alfworld()
    with pytest.raises(ImportError, match=r'pip install -e "\.\[alfworld\]"'):
        make_env("alfworld")
