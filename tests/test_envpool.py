"""Env pools: worker processes give exactly the in-process episodes; a raising, hanging or dying env ends only
its own episode, the hung worker is restarted and the next batch works; nothing is left running."""

from __future__ import annotations

import functools
import os
import random
import time
from pathlib import Path

import pytest

from agentrl.envs import make_env, register_env, registry
from agentrl.envs.household import EASY, HouseholdEnv
from agentrl.rollout.pool import EnvSpec, InProcessEnvPool, ProcessEnvPool, make_env_pool

FAULTY = "test-faulty-household"
RAISES, HANGS, DIES = (f"household-easy/train/{index:05d}" for index in (1, 2, 3))


class FaultyHousehold(HouseholdEnv):
    """household-easy (same ids, same text) whose first step raises on RAISES, hangs on HANGS and kills its own
    process on DIES. Registered at import, so a spawned worker that imports this module knows it too."""

    def step(self, action):
        if self._steps == 0 and self._task is not None:
            if self._task.task_id == RAISES:
                raise RuntimeError("simulated engine crash")
            if self._task.task_id == HANGS:
                time.sleep(3600)
            if self._task.task_id == DIES:
                os._exit(3)
        return super().step(action)


@register_env(FAULTY, "test only: household-easy with a raising, a hanging and a dying task")
def faulty_household(max_steps: int = 10, **kwargs) -> FaultyHousehold:
    return FaultyHousehold("household-easy", EASY, max_steps=max_steps, **kwargs)


@pytest.fixture(scope="module", autouse=True)
def _unregister_after_module():
    yield
    registry._FACTORIES.pop(FAULTY, None)
    registry._DESCRIPTIONS.pop(FAULTY, None)


def _children() -> set[tuple[int, str]]:
    """(pid, state) of this process's child processes, from /proc; the resource tracker is not counted."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and b"resource_tracker" not in cmdline:
            found.add((int(stat.parent.name), fields[0]))
    return found


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc to find zombie processes")


def play_expert(pool, requests):
    """Play the expert on every (slot, task_id) in lockstep; return per slot its transcript, and the errors."""
    transcripts, errors, live = {}, {}, {}
    for result in pool.reset_many(requests):
        transcripts[result.slot] = [result.observation]
        if result.ok:
            live[result.slot] = result.info
        else:
            errors[result.slot] = f"at reset: {result.error}"
    while live:
        results = pool.step_many([(slot, info["expert_action"]) for slot, info in live.items()])
        live = {}
        for result in results:
            if not result.ok:
                errors[result.slot] = result.error
                continue
            transcripts[result.slot].append((result.observation, result.reward, result.done, result.info["won"]))
            if not result.done:
                live[result.slot] = result.info
    return transcripts, errors


@pytest.mark.slow  # waits out a step timeout
@needs_proc
def test_a_raise_a_hang_and_a_dead_worker_end_only_their_own_episodes():
    before = _children()
    requests = [(slot, f"household-easy/train/{slot:05d}") for slot in range(6)]
    with InProcessEnvPool(functools.partial(make_env, "household-easy"), num_envs=6) as reference_pool:
        reference, _ = play_expert(reference_pool, requests)
    started = time.monotonic()
    # Slots live on worker slot % 2: worker 0 holds slots 0, 2 (hangs), 4; worker 1 holds 1 (raises), 3 (dies), 5.
    with ProcessEnvPool(FAULTY, num_envs=6, num_workers=2, timeout_s=3) as pool:
        transcripts, errors = play_expert(pool, requests)
        assert set(errors) == {1, 2, 3}, errors  # the messages say which limit a wrongly failed slot hit
        assert "simulated engine crash" in errors[1]
        assert "timed out after 3 s during step" in errors[2]
        assert "worker process died during step" in errors[3]
        assert pool.restarts == 2  # the hung worker and the dead one, each once
        for slot in (0, 4, 5):  # the others finished, on the same trajectory as in-process, by replay where needed
            assert transcripts[slot] == reference[slot]
            assert transcripts[slot][-1][3] is True  # won
        assert time.monotonic() - started < 30

        # The next batch works on the restarted workers, in every slot.
        fresh = [(slot, f"household-easy/train/{10 + slot:05d}") for slot in range(6)]
        transcripts, errors = play_expert(pool, fresh)
        assert errors == {} and all(t[-1][3] for t in transcripts.values()) and pool.restarts == 2
        assert len(_children() - before) == 2  # exactly the two live workers
    assert _children() - before == set()  # closed: no worker, no zombie


class _SlowAfterSend:
    """A worker pipe whose sender is descheduled right after each send (as on a loaded machine): the worker then
    finishes requests before the parent looks at its progress counter again."""

    def __init__(self, conn):
        self._conn = conn

    def send(self, message) -> None:
        self._conn.send(message)
        time.sleep(0.5)

    def __getattr__(self, name):
        return getattr(self._conn, name)


@pytest.mark.slow  # waits out step timeouts
@needs_proc
def test_a_slow_parent_still_blames_the_request_that_hung_or_died():
    """Regression: the pool read the progress counter after sending a batch; when the parent was slow to get back,
    requests already finished were counted from there and a healthy slot was blamed for its neighbour's hang."""
    requests = [(slot, f"household-easy/train/{slot:05d}") for slot in range(6)]
    with ProcessEnvPool(FAULTY, num_envs=6, num_workers=2, timeout_s=3) as pool:
        for worker in pool._workers:
            worker.conn = _SlowAfterSend(worker.conn)
        _, errors = play_expert(pool, requests)
    assert set(errors) == {1, 2, 3}, errors
    assert "simulated engine crash" in errors[1] and "worker process died" in errors[3]


@pytest.mark.slow  # waits out step timeouts
def test_a_hang_right_after_a_restart_is_caught_within_the_step_limit():
    """Worker 0 holds DIES (slot 0) then HANGS (slot 2): after the death, slot 2 is rebuilt by replay on the new
    worker and then hangs; the step limit, not the 60 s build limit, must catch it."""
    requests = [(0, DIES), (1, "household-easy/train/00004"), (2, HANGS), (3, "household-easy/train/00005")]
    with InProcessEnvPool(functools.partial(make_env, "household-easy"), num_envs=4) as reference_pool:
        reference, _ = play_expert(reference_pool, [requests[1], requests[3]])
    started = time.monotonic()
    with ProcessEnvPool(FAULTY, num_envs=4, num_workers=2, timeout_s=3, build_timeout_s=60) as pool:
        transcripts, errors = play_expert(pool, requests)
        assert "died during step" in errors[0] and "timed out after 3 s during step" in errors[2]
        assert set(errors) == {0, 2} and pool.restarts == 2
        assert transcripts[1] == reference[1] and transcripts[3] == reference[3]
    assert time.monotonic() - started < 30


def test_worker_pool_results_equal_in_process_results_step_by_step():
    requests = [(slot, f"household-easy/eval_out/{slot:05d}") for slot in range(5)]
    with InProcessEnvPool(functools.partial(make_env, "household-easy", max_steps=7), num_envs=5) as local:
        expected = play_expert(local, requests)
    with ProcessEnvPool("household-easy", {"max_steps": 7}, num_envs=5, num_workers=2) as pool:
        assert [pool.max_steps(slot) for slot in range(5)] == [7] * 5
        assert play_expert(pool, requests) == expected
        lost = pool.step_many([(0, "look")])  # slot 0's episode is over: the env itself refuses
        assert not lost[0].ok and "episode is over" in lost[0].error


@needs_proc
def test_an_env_that_cannot_be_built_fails_at_pool_creation_with_its_reason():
    before = _children()
    with pytest.raises(RuntimeError, match="max_steps must be at least 1"):
        ProcessEnvPool("household-easy", {"max_steps": 0}, num_envs=3, num_workers=2)
    assert _children() - before == set()


def test_bad_requests_and_factories_name_the_fix():
    with InProcessEnvPool(functools.partial(make_env, "household-easy"), num_envs=2) as pool:
        with pytest.raises(ValueError, match="names a slot twice"):
            pool.step_many([(0, "look"), (0, "look")])
        with pytest.raises(ValueError, match="ensure_slots"):
            pool.reset_many([(2, "household-easy/train/00000")])
        (bad,) = pool.reset_many([(1, "household-easy/train/99999")])
        assert not bad.ok and "UnknownTaskError" in bad.error
    with pytest.raises(ValueError, match="env_workers: 0"):
        EnvSpec.from_factory(lambda: make_env("household-easy"))
    assert EnvSpec.from_factory(functools.partial(make_env, "household", max_steps=3)) == EnvSpec(
        "household", {"max_steps": 3}, "agentrl.envs.household"
    )
    with pytest.raises(ValueError, match="unknown environment 'householdd'"):
        ProcessEnvPool("householdd", num_envs=1, num_workers=1)
    with pytest.raises(ValueError, match="env_workers must be >= 0"):
        make_env_pool(functools.partial(make_env, "household"), num_workers=-1)


class SlowHousehold(HouseholdEnv):
    """household-easy whose steps take 1.3 s."""

    def step(self, action):
        time.sleep(1.3)
        return super().step(action)


def test_a_slow_in_process_step_is_reported_while_it_lasts(capfd):
    """env_workers: 0 cannot stop a step; it says which environment and task it waits on, once per period (0.5 s
    here: at 0.5 s and 1.0 s), the first time with what to do about it, and the episode goes on."""
    task = "household-easy/train/00001"
    pool = make_env_pool(lambda: SlowHousehold("household-easy", EASY, max_steps=10), 0, num_envs=1, timeout_s=0.5)
    (reset,) = pool.reset_many([(0, task)])
    (step,) = pool.step_many([(0, reset.info["expert_action"])])
    pool.close()
    assert step.ok
    reports = [line for line in capfd.readouterr().err.splitlines() if "still waiting" in line]
    waiting = f"[agentrl] still waiting on environment household-easy (step of task {task}, slot 0) for "
    assert len(reports) == 2 and all(line.startswith(waiting) for line in reports)
    assert "env_workers: 1 or more" in reports[0] and "env_step_timeout_s (0.5 s)" in reports[0]
    assert "env_workers" not in reports[1]
    with InProcessEnvPool(functools.partial(make_env, "household-easy"), 1, warn_after_s=0.5) as fast:
        fast.reset_many([(0, task)])
        time.sleep(0.8)  # time between calls is not a call: nothing to report
    assert "still waiting" not in capfd.readouterr().err


def _episodes_through(tiny_model, tiny_tokenizer, task_ids, max_steps=3, **collector_kwargs):
    import torch

    from agentrl.rollout import HFGenerator, PromptBuilder, RolloutCollector

    collector = RolloutCollector(
        functools.partial(make_env, FAULTY, max_steps=max_steps),
        PromptBuilder(tiny_tokenizer, 2),
        0.1,
        **collector_kwargs,
    )
    generator = HFGenerator(tiny_model, tiny_tokenizer, max_new_tokens=8, temperature=1.0)
    try:
        torch.manual_seed(0)
        return [collector.collect(generator, ids, list(range(len(ids)))) for ids in task_ids]
    finally:
        collector.close()


def test_collector_episodes_are_identical_in_process_and_through_workers(tiny_model, tiny_tokenizer):
    tasks = [f"household-easy/train/{index:05d}" for index in (0, 1, 4) for _ in range(2)]  # 1 raises
    batches = [tasks, tasks[:3]]  # a second, smaller batch reuses the pool
    in_process = _episodes_through(tiny_model, tiny_tokenizer, batches)
    workers = _episodes_through(tiny_model, tiny_tokenizer, batches, env_workers=2, env_step_timeout_s=30)
    assert workers == in_process  # every token id, logprob, action, reward, info and error
    first = in_process[0]
    assert [e.error is not None for e in first] == [False, False, True, True, False, False]
    assert "simulated engine crash" in first[2].error and first[2].length == 1 and not first[2].won
    assert all(e.length >= 1 for e in first)


@pytest.mark.slow  # waits out step timeouts
def test_collector_hang_ends_its_episode_and_the_next_batch_runs(tiny_model, tiny_tokenizer):
    tasks = ["household-easy/train/00000", HANGS, "household-easy/train/00004", DIES]
    first, second = _episodes_through(
        tiny_model, tiny_tokenizer, [tasks, tasks[:1] * 4], env_workers=2, env_step_timeout_s=3
    )
    assert "timed out" in first[1].error and "died" in first[3].error
    assert first[0].error is None and first[2].error is None
    assert all(e.length == 1 for e in (first[1], first[3]))
    assert first[0].length > 1 and first[2].length > 1  # ran on past the turn the others failed in
    assert all(e.error is None and e.length >= 1 for e in second)


def test_baselines_give_the_same_numbers_with_and_without_workers():
    from agentrl.evaluation import evaluate_baseline

    factory = functools.partial(make_env, "household-easy")
    task_ids = factory().task_ids("eval_in")[:40]
    summaries = {}
    for workers, batch_size in ((0, 128), (2, 16)):
        summaries[workers] = evaluate_baseline(
            "random", factory, task_ids, seed=3, batch_size=batch_size, env_workers=workers
        )
    (local, local_episodes), (pooled, pooled_episodes) = summaries[0], summaries[2]
    assert local == pooled and local_episodes == pooled_episodes
    # The same policy written out by hand: episode i draws from random.Random("3/i").
    env, wins = factory(), 0
    for index, task_id in enumerate(task_ids):
        rng, (_, info), done = random.Random(f"3/{index}"), env.reset(task_id), False
        while not done:
            _, _, done, info = env.step(rng.choice(info["admissible_actions"]))
        wins += info["won"]
    assert local["success_rate"] == wins / 40
    expert, _ = evaluate_baseline("expert", factory, task_ids)
    assert expert["success_rate"] == 1.0 and expert["by_task_type"] == {
        "pick_and_place_simple": {"success_rate": 1.0, "score": 1.0, "num_episodes": 40}
    }
