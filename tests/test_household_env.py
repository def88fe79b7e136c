"""The household task family: contract, grammar, oracle, splits, determinism and speed."""

from __future__ import annotations

import copy
import random
from collections import deque

import pytest

from agentrl.envs import SPLITS, UnknownEnvironmentError, UnknownTaskError, check_info, make_env
from agentrl.envs.household import HouseholdEnv
from agentrl.envs.household.commands import admissible_commands, apply
from agentrl.envs.household.expert import expert_action
from agentrl.envs.household.state import State
from agentrl.envs.household.world import HELD_OUT_PAIRS, make_task, preposition
from tests.expert import run_expert

VARIANTS = ("household-easy", "household-lookup", "household", "household-multi")
TASKS_PER_SPLIT = 200


def run_random(env: HouseholdEnv, task_id: str, rng: random.Random) -> bool:
    _, info = env.reset(task_id)
    done = False
    while not done:
        _, _, done, info = env.step(rng.choice(info["admissible_actions"]))
    return info["won"]


@pytest.mark.parametrize("name", VARIANTS)
def test_expert_solves_every_task_of_every_split(name):
    env = make_env(name, reward_on_win=2.5)
    for split in SPLITS:
        for task_id in env.task_ids(split)[:TASKS_PER_SPLIT]:
            rows = run_expert(env, task_id)
            *middle, last = rows
            assert last[3]["won"] and last[1] == 2.5 and last[2], task_id
            assert len(rows) - 1 <= env.max_steps
            for observation, reward, done, info in middle:
                check_info(info)
                assert reward == 0.0 and not done and not info["won"]
                assert info["expert_action"] in info["admissible_actions"]
                assert info["valid"] and observation != "Nothing happens."
            assert last[3]["expert_action"] is None
            assert last[3]["task_id"] == task_id


@pytest.mark.parametrize("name", VARIANTS)
def test_every_admissible_action_is_valid_and_help_is_never_listed(name):
    env = make_env(name, max_steps=12)
    rng = random.Random(7)
    for task_id in env.task_ids("train")[:30]:
        _, info = env.reset(task_id)
        done = False
        while not done:
            check_info(info)
            actions = info["admissible_actions"]
            assert "help" not in actions and actions == sorted(actions) and len(set(actions)) == len(actions)
            for action in actions:
                _, _, _, after = copy.deepcopy(env).step(action)
                assert after["valid"], (task_id, action)
            _, _, done, info = env.step(rng.choice(actions))


@pytest.mark.parametrize("name", VARIANTS)
def test_invalid_action_changes_nothing(name):
    env = make_env(name)
    _, info = env.reset(env.task_ids("train")[0])
    anchor = info["anchor"]
    for action in ("help", "take apple 1 from nowhere", "open the pod bay doors", "", "move mug 1 to fridge 1"):
        observation, reward, done, info = env.step(action)
        assert (observation, reward, done, info["valid"]) == ("Nothing happens.", 0.0, False, False)
        assert info["anchor"] == anchor
    # Matching ignores case and surrounding whitespace.
    observation, _, _, info = env.step("  " + info["expert_action"].upper() + " \n")
    assert info["valid"] and observation.startswith("You arrive at ")


def test_transcript_reads_like_alfworld():
    env = make_env("household-easy")
    observation, info = env.reset("household-easy/train/00003")
    assert observation.startswith("You are in the middle of a room. Looking quickly around you, you see a ")
    assert observation.endswith(f"\n\nYour task is to: {info['task']}")
    assert info["task"] == "put some knife on shelf 1. The knife 1 is in sinkbasin 1."
    assert info["task_type"] == "pick_and_place_simple"
    assert _expert_pairs(env, "household-easy/train/00003") == [
        ("go to sinkbasin 1", "You arrive at sinkbasin 1. On the sinkbasin 1, you see a knife 1, and a plate 1."),
        ("take knife 1 from sinkbasin 1", "You pick up the knife 1 from the sinkbasin 1."),
        ("go to shelf 1", "You arrive at shelf 1. On the shelf 1, you see nothing."),
        ("move knife 1 to shelf 1", "You move the knife 1 to the shelf 1."),
    ]
    env.reset("household-easy/train/00003")
    assert env.step("inventory")[0] == "You are not carrying anything."
    env.step("go to drawer 1")
    assert env.step("look")[0] == "You are facing the drawer 1. Next to it, you see nothing."
    assert env.step("examine drawer 1")[0] == "The drawer 1 is closed."
    assert env.step("open drawer 1")[0] == "You open the drawer 1. The drawer 1 is open. In it, you see nothing."
    assert env.step("close drawer 1")[0] == "You close the drawer 1."


def _expert_pairs(env, task_id):
    rows = run_expert(env, task_id)
    return [(before[3]["expert_action"], after[0]) for before, after in zip(rows, rows[1:], strict=False)]


def test_closed_receptacles_hide_their_content_until_opened():
    env = make_env("household", max_steps=50)
    for task_id in env.task_ids("train")[:100]:
        _, info = env.reset(task_id)
        task = make_task(task_id, "train", env.spec)
        source = dict(task.placements)[task.target]
        if not source.startswith(("drawer", "cabinet", "fridge", "microwave")):
            continue
        observation, _, _, info = env.step(f"go to {source}")
        assert observation == f"You arrive at {source}. The {source} is closed."
        assert not any(action.startswith("take ") for action in info["admissible_actions"])
        observation, _, _, info = env.step(f"open {source}")
        assert f"a {task.target}" in observation and f"take {task.target} from {source}" in info["admissible_actions"]
        return
    pytest.fail("no task with a closed source among the first 100")


def test_treatment_commands_only_in_multi_and_only_holding_at_the_tool():
    for name in VARIANTS:
        env = make_env(name)
        seen = set()
        for task_id in env.task_ids("train")[:100]:
            for _, _, _, info in run_expert(env, task_id):
                verbs = {action.split()[0] for action in info["admissible_actions"]}
                seen |= verbs & {"clean", "heat", "cool"}
                if verbs & {"clean", "heat", "cool"}:
                    holding = info["anchor"][1]
                    assert holding is not None
        assert bool(seen) == (name == "household-multi"), name
    types = {make_task(task_id, "train", env.spec).task_type for task_id in env.task_ids("train")[:200]}
    assert types == {
        "pick_and_place_simple",
        "pick_clean_then_place_in_recep",
        "pick_heat_then_place_in_recep",
        "pick_cool_then_place_in_recep",
    }


@pytest.mark.parametrize("name", VARIANTS)
def test_same_id_gives_the_same_transcript(name):
    first, second = make_env(name), make_env(name)
    for task_id in first.task_ids("eval_out")[:20]:
        a = [
            (obs, reward, done, info["admissible_actions"], info["anchor"])
            for obs, reward, done, info in run_expert(first, task_id)
        ]
        b = [
            (obs, reward, done, info["admissible_actions"], info["anchor"])
            for obs, reward, done, info in run_expert(second, task_id)
        ]
        assert a == b


@pytest.mark.parametrize("name", VARIANTS)
def test_splits_are_disjoint_and_eval_out_holds_the_held_out_pairs(name):
    env = make_env(name)
    ids = {split: env.task_ids(split) for split in SPLITS}
    assert [len(ids[split]) for split in SPLITS] == [2000, 200, 200]
    assert ids["train"][42] == f"{name}/train/00042"
    assert not (
        set(ids["train"]) & set(ids["eval_in"])
        or set(ids["train"]) & set(ids["eval_out"])
        or set(ids["eval_in"]) & set(ids["eval_out"])
    )
    for split in SPLITS:
        for task_id in ids[split][:TASKS_PER_SPLIT]:
            task = make_task(task_id, split, env.spec)
            assert ((task.target_type, task.goal_type) in HELD_OUT_PAIRS) == (split == "eval_out"), task_id
    # eval_in is a different draw from the same distribution, not a copy of train.
    texts = {
        split: {make_task(i, split, env.spec).text for i in ids[split][:TASKS_PER_SPLIT]}
        for split in ("train", "eval_in")
    }
    assert len(texts["eval_in"] - texts["train"]) > 0
    smaller = make_env(name, num_train_tasks=5, num_eval_in_tasks=3, num_eval_out_tasks=0)
    assert [len(smaller.task_ids(split)) for split in SPLITS] == [5, 3, 0]
    assert smaller.split_of(f"{name}/eval_in/00002") == "eval_in"


def test_unknown_task_ids_are_rejected():
    env = make_env("household-easy", num_train_tasks=10)
    for task_id in (
        "household/train/00001",
        "household-easy/train/00010",
        "household-easy/test/00001",
        "household-easy/train/1",
        "nonsense",
    ):
        with pytest.raises(UnknownTaskError):
            env.reset(task_id)
    assert env.reset(seed=3)[1]["task_id"] in env.task_ids("train")


@pytest.mark.parametrize("name", VARIANTS)
def test_step_after_done_raises(name):
    env = make_env(name)
    run_expert(env, env.task_ids("train")[1])
    with pytest.raises(RuntimeError, match="episode is over; call reset"):
        env.step("look")


@pytest.mark.parametrize("name", VARIANTS)
def test_step_limit_ends_the_episode_without_a_win(name):
    env = make_env(name)
    env.reset(env.task_ids("train")[2])
    for step in range(1, env.max_steps + 1):
        _, reward, done, info = env.step("look")
        assert reward == 0.0 and not info["won"] and done == (step == env.max_steps)
    with pytest.raises(RuntimeError):
        env.step("look")
    assert (make_env(name).max_steps, make_env(name, max_steps=3).max_steps) == (
        {"household-easy": 10, "household-lookup": 10, "household": 20, "household-multi": 30}[name],
        3,
    )


def test_registry_builds_variants_and_names_them_on_a_typo():
    assert isinstance(make_env("household-easy"), HouseholdEnv)
    with pytest.raises(UnknownEnvironmentError) as error:
        make_env("househld")
    for name in VARIANTS:
        assert name in str(error.value)
    with pytest.raises(UnknownEnvironmentError, match="Did you mean 'max_steps'"):
        make_env("household", max_step=5)


def test_only_the_easy_variant_says_where_the_object_is():
    for name, hinted in (
        ("household-easy", True),
        ("household-lookup", True),
        ("household", False),
        ("household-multi", False),
    ):
        env = make_env(name)
        observation, info = env.reset(env.task_ids("train")[0])
        assert (" is in " in info["task"] or " is on " in info["task"]) == hinted
        assert info["task"] in observation


def test_lookup_lists_where_every_object_lies():
    env = make_env("household-lookup")
    for task_id in env.task_ids("train")[:50]:
        _, info = env.reset(task_id)
        task = make_task(task_id, "train", env.spec)
        listing = info["task"].split(". ", 1)[1]
        assert 3 <= len(task.placements) <= 5
        for obj, place in task.placements:  # each object once, with its true place, in alphabetical order
            clause = f"the {obj} is {preposition(place)} {place}"
            assert listing.lower().count(f"the {obj} is") == 1 and clause in listing.lower()
        positions = [listing.lower().index(f"the {obj} is") for obj, _ in sorted(task.placements)]
        assert positions == sorted(positions)


@pytest.mark.parametrize("name", VARIANTS)
def test_random_policy_wins_far_less_than_the_expert(name):
    # Measured on the first 200 eval_in tasks with this seed (also in envs/household/__init__.py):
    # 0/200 on every variant but household-lookup (1/200); the expert wins 200/200 (test above).
    env = make_env(name)
    rng = random.Random(0)
    ids = env.task_ids("eval_in")[:TASKS_PER_SPLIT]
    success = sum(run_random(env, task_id, rng) for task_id in ids) / len(ids)
    assert success < 0.2


def _clone(state: State) -> State:
    """A copy of `state`, much faster than copy.deepcopy, which dominates the search below."""
    properties = {obj: set(props) for obj, props in state.properties.items()}
    return State(state.receptacles, state.location, state.holding, set(state.opened), dict(state.where), properties)


def _shortest_plan_length(state: State, task, with_treatments: bool) -> int:
    """Breadth-first search over states from `state`, independent of the expert's reasoning."""
    frontier, seen = deque([(state, 0)]), {state.anchor()}
    while frontier:
        state, depth = frontier.popleft()
        if state.goal_reached(task):
            return depth
        for command in admissible_commands(state, with_treatments).values():
            child = _clone(state)
            apply(child, command)
            if child.anchor() not in seen:
                seen.add(child.anchor())
                frontier.append((child, depth + 1))
    raise AssertionError("unsolvable")


def _expert_plan_length(state: State, task, with_treatments: bool) -> int:
    state, length = _clone(state), 0
    while (action := expert_action(state, task)) is not None:
        apply(state, admissible_commands(state, with_treatments)[action])
        length += 1
    return length


@pytest.mark.parametrize("name", VARIANTS)
def test_expert_plans_are_shortest_even_after_detours(name):
    env = make_env(name)
    rng = random.Random(5)
    for task_id in env.task_ids("train")[:8]:
        task = make_task(task_id, "train", env.spec)
        state = State.start(task)
        for detour in range(4):
            expert, shortest = (
                plan(state, task, env.spec.has_treatments) for plan in (_expert_plan_length, _shortest_plan_length)
            )
            assert expert == shortest, (task_id, detour)
            for _ in range(rng.randint(1, 4)):
                commands = admissible_commands(state, env.spec.has_treatments)
                apply(state, commands[rng.choice(sorted(commands))])
            if state.goal_reached(task):
                break


@pytest.mark.parametrize("name", VARIANTS)
def test_expert_recovers_from_detours(name):
    env = make_env(name, max_steps=100)
    rng = random.Random(3)
    for task_id in env.task_ids("train")[:100]:
        _, info = env.reset(task_id)
        for _ in range(rng.randint(1, 12)):
            _, _, done, info = env.step(rng.choice(info["admissible_actions"]))
            if done:
                break
        remaining = 0
        while not info["won"]:
            _, _, _, info = env.step(info["expert_action"])
            remaining += 1
        # From any state: at most drop, fetch (go, open, take), treat (go, use), deliver (go, open, move).
        assert remaining <= 9


def test_target_moved_leaves_the_text_and_puts_the_target_in_the_first_other_receptacle():
    """The revival shift (docs/entropy.md): same room and text, the target elsewhere; the habit fails, the oracle
    wins with the pre-shift verbs and names (scripts/revival_oracle.py checks the same on every task it is given)."""
    from scripts.revival_oracle import check

    before, after = make_env("household-easy"), make_env("household-easy", target_moved=True)
    task_id = "household-easy/train/00001"
    text_before, _ = before.reset(task_id)
    text_after, _ = after.reset(task_id)
    assert text_after == text_before  # the hint is now stale
    task = make_task(task_id, "train", before.spec)
    old_place = dict(task.placements)[task.target]
    new_place = [recep for recep in task.receptacles if recep not in (task.goal, old_place)][0]
    assert dict(after._task.placements)[task.target] == new_place
    assert {obj: place for obj, place in after._task.placements if obj != task.target} == {
        obj: place for obj, place in task.placements if obj != task.target
    }
    figures = check("household-easy", "eval_in", tasks=50, max_steps=8)
    assert figures["oracle_success"] == 1.0 and figures["oracle_episodes_outside_pre_shift_vocabulary"] == 0
    assert figures["habit_success"] == 0.0
    with pytest.raises(ValueError, match="target_moved needs a variant"):
        make_env("household", target_moved=True)
