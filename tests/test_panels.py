"""Fixed test panels: the evaluation tasks, their order and each task's goal are a pure function of (environment,
split, data, seed), the same in another process (another hash seed, other caches), with 0 or 2 env workers and on
1 or 2 training processes; `agentrl eval` and eval.json carry the panel's fingerprint. ALFWorld's official layout
(eval_in = valid_seen 140, eval_out = valid_unseen 134, a fixed order) is checked on a folder laid out like it."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from agentrl.cli import main
from agentrl.envs import make_env
from agentrl.evaluation import evaluate_baseline, panel_tasks
from tests.launch import ROOT, accelerate_launch, run_in_repo
from tests.test_cli import TINY_RUN


def goals(env_name: str, split: str, count: int, **env_kwargs) -> list[list[str]]:
    """The panel by hand: the first `count` task ids of the split and the goal each reset announces."""
    env = make_env(env_name, **env_kwargs)
    panel = [[task_id, env.reset(task_id)[1]["task"]] for task_id in env.task_ids(split)[:count]]
    env.close()
    return panel


def fingerprint(panel) -> str:
    """The documented formula (docs/reproduce.md): sha256 of the compact UTF-8 JSON [[id, goal], ...], 16 hex."""
    text = json.dumps([list(pair) for pair in panel], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# The quickstart's panel (household-easy eval_in, 200 tasks) and the generated-data panels of docs/reproduce.md:
# any change to how these tasks are drawn shows up here.
PINNED = [
    ("household-easy", "eval_in", 200, "d1ecd5154eda42f7"),  # the quickstart's held-out panel
    ("webshop", "eval_in", 500, "8cf9f515d4d3f938"),  # the WebShop paper cells' panel on the generated catalogue
    pytest.param("alfworld", "eval_out", 134, "3bc43a24901d1104", marks=[pytest.mark.slow, pytest.mark.exhaustive]),
]

FAST = ["household-easy", "household-multi", "factqa-easy", "webshop"]
SLOW = ["textworld-cooking", "alfworld", "scienceworld"]
COUNTS = {"textworld-cooking": 3, "alfworld": 6, "scienceworld": 4}  # the slow engines: a few tasks each


# one environment in the fast tier: each case starts a fresh process (~4-5 s)
# one of the slow engines in the suite, the others in the exhaustive tier
@pytest.mark.parametrize(
    "name",
    FAST[:1]
    + [pytest.param(name, marks=pytest.mark.slow) for name in FAST[1:] + SLOW[1:2]]
    + [pytest.param(name, marks=[pytest.mark.slow, pytest.mark.exhaustive]) for name in SLOW[:1] + SLOW[2:]],
)
def test_the_panel_is_the_same_in_another_process_with_another_hash_seed_and_fresh_caches(name, tmp_path):
    count = COUNTS.get(name, 50)
    script = (
        "import json, sys; from tests.test_panels import goals; "
        f"print(json.dumps(goals({name!r}, 'eval_out', {count})))"
    )
    fresh = {"PYTHONHASHSEED": "12345", "AGENTRL_CACHE": str(tmp_path), "AGENTRL_ALFWORLD_CACHE": str(tmp_path / "a")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=600,
        env={**os.environ, **fresh, "PYTHONPATH": ROOT},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    there = json.loads(done.stdout.strip().splitlines()[-1])
    here = goals(name, "eval_out", count)
    assert len(here) == count and all(goal for _, goal in here)
    assert there == here


@pytest.mark.parametrize(
    "name", ["household-easy", "webshop", pytest.param("alfworld", marks=[pytest.mark.slow, pytest.mark.exhaustive])]
)
def test_the_panel_is_the_same_with_0_and_2_env_workers(name):
    count = {"alfworld": 4}.get(name, 12)
    task_ids = make_env(name).task_ids("eval_in")[:count]
    factory = functools.partial(make_env, name, max_steps=3)
    summaries = {}
    for workers in (0, 2):
        summaries[workers], episodes = evaluate_baseline("random", factory, task_ids, seed=1, env_workers=workers)
        assert [list(pair) for pair in panel_tasks(episodes)] == goals(name, "eval_in", count)
    assert summaries[0]["panel_fingerprint"] == summaries[2]["panel_fingerprint"] == fingerprint(
        goals(name, "eval_in", count)
    )
    assert summaries[0] == summaries[2]


def test_agentrl_eval_prints_the_panel_fingerprint(capsys, tmp_path, tiny_model_dir):
    expected = fingerprint(goals("household-easy", "eval_in", 20))
    output = tmp_path / "random.json"
    code = main(["eval", "--agent", "random", "--env", "household-easy", "--num_tasks", "20", "--output", str(output)])
    printed = json.loads(capsys.readouterr().out)
    assert code == 0 and printed["panel_fingerprint"] == expected and printed["panel_tasks"] == 20
    assert json.loads(output.read_text())["panel_fingerprint"] == expected
    code = main(["eval", "--agent", "expert", "--env", "household-easy", "--num_tasks", "20", "--seeds", "0", "1"])
    captured = capsys.readouterr()
    pooled = json.loads(captured.out)
    assert code == 0 and pooled["num_episodes"] == 40 and pooled["panel_tasks"] == 20
    assert pooled["panel_fingerprint"] == expected and f"{expected} (20 tasks)" in captured.err  # the table too
    code = main(["eval", "--model", str(tiny_model_dir), "--env", "household-easy", "--num_tasks", "3"])
    policy = json.loads(capsys.readouterr().out)
    assert code == 0 and policy["panel_fingerprint"] == fingerprint(goals("household-easy", "eval_in", 3))
    assert policy["prompt_template"] == "generic"


@pytest.mark.parametrize("name,split,count,value", PINNED)
def test_pinned_panels(name, split, count, value):
    assert fingerprint(goals(name, split, count)) == value


@pytest.mark.slow
@pytest.mark.multiprocess
def test_one_and_two_training_processes_evaluate_the_same_panel(tmp_path):
    """eval.json of a 1-process run (environments in 2 worker processes) and of a 2-process run (accelerate launch,
    gloo, environments in process): before and after RL, the same panel, the one the environment gives by hand."""
    expected = fingerprint(goals("household-easy", "eval_in", TINY_RUN["eval_num_tasks"]))
    runs = {"one": {"env_workers": 2}, "two": {"env_workers": 0}}
    for name, changes in runs.items():
        recipe = {**TINY_RUN, "output_dir": str(tmp_path / name), "max_steps": 1, **changes}
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(recipe))
    run_in_repo([sys.executable, "-m", "agentrl", "train", "--config", str(tmp_path / "one.yaml")])
    accelerate_launch("cpu_ddp_2.yaml", ["-m", "agentrl", "train", "--config", str(tmp_path / "two.yaml")])
    for name in runs:
        result = json.loads((tmp_path / name / "eval.json").read_text())
        for when in ("before", "after"):
            assert result[when]["panel_fingerprint"] == expected, (name, when)
            assert result[when]["panel_tasks"] == TINY_RUN["eval_num_tasks"]


# ---- ALFWorld: the official layout --------------------------------------------------------------------------------
def official_like(folder: Path, sizes: dict[str, int], reverse: bool = False) -> dict[str, list[str]]:
    """A folder laid out as `alfworld-download` leaves $ALFWORLD_DATA: json_2.1.1/{train,valid_seen,valid_unseen}/
    <task_type>-<Obj>-<MRecep>-<Recep>-<scene>/trial_T<date>_<time>/{traj_data.json, game.tw-pddl}, filled with
    (links to) agentrl's generated games under official-style trial names, plus the folders AlfredTWEnv skips.
    Returns the loadable games' relative folders per split; `reverse` creates them in the opposite order."""
    generated = make_env("alfworld", source="generated")
    source_split = {"train": "train", "valid_seen": "eval_in", "valid_unseen": "eval_out"}
    loadable: dict[str, list[str]] = {}
    for split, size in sizes.items():
        games = generated.games.splits[source_split[split]]
        wanted = []
        for copy in range(-(-size // len(games))):  # ceil: each generated game under several trial names
            for number, game in enumerate(games):
                task_folder = Path(game.gamefile).parent.parent.name
                wanted.append((f"{task_folder}/trial_T2019{copy:02d}{number:02d}_{copy * 7 + number:06d}", game))
        wanted = wanted[:size]
        for relative, game in reversed(wanted) if reverse else wanted:
            target = folder / "json_2.1.1" / split / relative
            target.mkdir(parents=True)
            for file in ("traj_data.json", "game.tw-pddl"):
                (target / file).symlink_to(Path(game.gamefile).parent / file)
        loadable[split] = [relative for relative, _ in wanted]
    # What AlfredTWEnv leaves out: movable and sliced folders, a task type outside the six, an unsolvable game, a game
    # without the solvable mark, a folder without a game file.
    some = Path(generated.games.splits["eval_in"][0].gamefile).parent
    skipped = {
        "pick_and_place_with_movable_recep-Pen-Mug-Desk-311/trial_T20190907_000001": None,
        "pick_heat_then_place_in_recep-AppleSliced-None-CounterTop-10/trial_T20190907_000002": None,
        "pick_two_obj_and_place_in_recep-Book-None-Shelf-1/trial_T20190907_000003": None,
        "pick_and_place_simple-Pen-None-Desk-2/trial_T20190907_000004": {"solvable": False},
        "pick_and_place_simple-Pen-None-Desk-3/trial_T20190907_000005": {},
        "pick_and_place_simple-Pen-None-Desk-4/trial_T20190907_000006": "no game file",
    }
    for relative, game in skipped.items():
        target = folder / "json_2.1.1" / "valid_seen" / relative
        target.mkdir(parents=True)
        (target / "traj_data.json").symlink_to(some / "traj_data.json")
        if game is None:
            (target / "game.tw-pddl").symlink_to(some / "game.tw-pddl")
        elif isinstance(game, dict):  # the real game's JSON with `solvable` changed, or without it
            content = json.loads((some / "game.tw-pddl").read_text()) | game
            if not game:
                del content["solvable"]
            (target / "game.tw-pddl").write_text(json.dumps(content))
    return loadable


@pytest.fixture(scope="module")
def official_data(tmp_path_factory):
    pytest.importorskip("alfworld", reason='ALFWorld is not installed: pip install -e ".[alfworld]"')
    folder = tmp_path_factory.mktemp("alfworld-data")
    loadable = official_like(folder, {"train": 12, "valid_seen": 140, "valid_unseen": 134})
    return folder, loadable


@pytest.mark.slow  # builds the ALFWorld official-split index: ~7 s
def test_alfworld_official_splits_are_valid_seen_and_valid_unseen_in_a_fixed_order(official_data, tmp_path):
    from agentrl.envs.alfworld.games import panel_order

    folder, loadable = official_data
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 140 / 134 games: no "is the download complete?" warning
        env = make_env("alfworld", data_path=str(folder), cache_dir=str(tmp_path / "cache"))
    assert env.games.source == "official"
    for split, folder_name in (("train", "train"), ("eval_in", "valid_seen"), ("eval_out", "valid_unseen")):
        expected = [f"{split}/{relative}" for relative in sorted(loadable[folder_name], key=panel_order)]
        assert env.task_ids(split) == expected  # the skipped folders are not there, the order is sha256 of the name
    assert (len(env.task_ids("eval_in")), len(env.task_ids("eval_out"))) == (140, 134)
    # sha256 order by hand, for one pair: the order is the hex digests' order
    first, second = env.task_ids("eval_out")[:2]
    digest = lambda task_id: hashlib.sha256(task_id.split("/", 1)[1].encode()).hexdigest()  # noqa: E731
    assert digest(first) < digest(second)
    # the first games of the fixed order mix the task types (sorted names would start with one type only)
    assert len({task_id.split("/")[1].split("-")[0] for task_id in env.task_ids("eval_out")[:12]}) >= 4

    # The same folders created in the opposite order, somewhere else: the same panel, goals included.
    other = tmp_path / "elsewhere"
    official_like(other, {"train": 12, "valid_seen": 140, "valid_unseen": 134}, reverse=True)
    moved = make_env("alfworld", data_path=str(other), cache_dir=str(tmp_path / "cache"), num_eval_out_games=5)
    assert moved.task_ids("eval_in") == env.task_ids("eval_in") and moved.task_ids("eval_out") == env.task_ids(
        "eval_out"
    )[:5]
    assert goals("alfworld", "eval_out", 5, data_path=str(other), cache_dir=str(tmp_path / "cache")) == goals(
        "alfworld", "eval_out", 5, data_path=str(folder), cache_dir=str(tmp_path / "cache")
    )


def test_alfworld_official_index_follows_the_data_and_warns_on_other_sizes(official_data, tmp_path):
    folder, loadable = official_data
    cache = tmp_path / "cache"
    before = make_env("alfworld", data_path=str(folder), cache_dir=str(cache)).task_ids("eval_in")
    added = folder / "json_2.1.1" / "valid_seen" / "pick_and_place_simple-Pen-None-Desk-9" / "trial_T20190908_000000"
    some = folder / "json_2.1.1" / "valid_seen" / loadable["valid_seen"][0]
    added.mkdir(parents=True)
    try:
        for file in ("traj_data.json", "game.tw-pddl"):
            (added / file).symlink_to((some / file).resolve())
        with pytest.warns(UserWarning, match="has 141 valid_seen / 134 valid_unseen games, the papers evaluate on "
                                             "140 / 134"):  # fmt: skip
            after = make_env("alfworld", data_path=str(folder), cache_dir=str(cache)).task_ids("eval_in")
        new_game = "eval_in/pick_and_place_simple-Pen-None-Desk-9/trial_T20190908_000000"
        assert sorted(after) == sorted([*before, new_game])
    finally:
        for file in added.iterdir():
            file.unlink()
        added.rmdir()
        added.parent.rmdir()


@pytest.mark.slow
def test_alfworld_official_games_play_and_report_success_per_task_type(official_data, tmp_path):
    folder, _ = official_data
    factory = functools.partial(make_env, "alfworld", data_path=str(folder), cache_dir=str(tmp_path / "cache"))
    task_ids = factory().task_ids("eval_out")[:8]
    summary, episodes = evaluate_baseline("expert", factory, task_ids)
    assert summary["success_rate"] == 1.0 and summary["panel_tasks"] == 8
    by_hand: dict[str, int] = {}
    for task_id in task_ids:
        task_type = task_id.split("/")[1].split("-")[0]
        by_hand[task_type] = by_hand.get(task_type, 0) + 1
    assert {name: figures["num_episodes"] for name, figures in summary["by_task_type"].items()} == by_hand
    assert all(figures["success_rate"] == 1.0 for figures in summary["by_task_type"].values())
    assert [episode.info["task_type"] for episode in episodes] == [t.split("/")[1].split("-")[0] for t in task_ids]
