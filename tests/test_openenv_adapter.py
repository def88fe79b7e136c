"""The openenv: adapter on the real openenv-core: an Environment in this process and one behind a real OpenEnv server
(create_app + uvicorn on 127.0.0.1), played with random actions and checked against the environment played directly
with the same seeds and actions; the server's session limit; a 2-update training run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("openenv.core")

from openenv.core.env_server import create_app  # noqa: E402
from openenv.core.env_server.interfaces import Environment  # noqa: E402
from openenv.core.env_server.types import Action, Observation, State  # noqa: E402

from agentrl.envs import check_info, make_env  # noqa: E402
from agentrl.envs.adapters.from_openenv import _ServerBackend  # noqa: E402
from agentrl.envs.registry import UnknownEnvironmentError, import_object  # noqa: E402
from agentrl.rollout.pool import InProcessEnvPool  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LETTER_HUNT = ROOT / "examples" / "openenv_letter_hunt.py"
HERE = Path(__file__).resolve()


# ---------------------------------------------------------------------------------------------- a test game
class Move(Action):
    dx: int
    dy: int


class WalkObservation(Observation):
    position: str
    goal: str
    legal_moves: list[str]


class Walk(Environment[Move, WalkObservation, State]):
    """Walk on a size x size grid from (0, 0) to a goal drawn from the seed: -0.1 a step, 1 on reaching it."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, size: int = 3) -> None:
        super().__init__()
        self.size = size
        self.x = self.y = 0
        self.goal = (0, 0)

    def reset(self, seed: int | None = None, episode_id: str | None = None, **kwargs) -> WalkObservation:
        rng = random.Random(seed)
        self.x = self.y = 0
        self.goal = (rng.randrange(1, self.size), rng.randrange(self.size))
        return self._observation(reward=0.0, done=False)

    def step(self, action: Move, timeout_s: float | None = None, **kwargs) -> WalkObservation:
        if abs(action.dx) > 1 or abs(action.dy) > 1:
            return self._observation(reward=-1.0, done=False)  # too far: a penalty, nothing moves
        self.x = min(max(self.x + action.dx, 0), self.size - 1)
        self.y = min(max(self.y + action.dy, 0), self.size - 1)
        done = (self.x, self.y) == self.goal
        return self._observation(reward=1.0 if done else -0.1, done=done)

    @property
    def state(self) -> State:
        return State()

    def _observation(self, reward: float, done: bool) -> WalkObservation:
        legal = [
            json.dumps({"dx": dx, "dy": dy})
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
            if (dx or dy) and 0 <= self.x + dx < self.size and 0 <= self.y + dy < self.size
        ]
        return WalkObservation(
            position=f"{self.x},{self.y}", goal=f"{self.goal[0]},{self.goal[1]}", legal_moves=legal, reward=reward,
            done=done,
        )


class AsyncWalk(Walk):
    """Only the async methods work, as in an environment written for openenv's async server path."""

    def reset(self, seed=None, episode_id=None, **kwargs):
        raise NotImplementedError("use reset_async")

    def step(self, action, timeout_s=None, **kwargs):
        raise NotImplementedError("use step_async")

    async def reset_async(self, seed=None, episode_id=None, **kwargs) -> WalkObservation:
        await asyncio.sleep(0)
        return Walk.reset(self, seed=seed)

    async def step_async(self, action: Move, timeout_s=None, **kwargs) -> WalkObservation:
        await asyncio.sleep(0)
        return Walk.step(self, action)


def random_action(rng: random.Random, legal: list[str]) -> str:
    """Mostly legal moves, sometimes a move too far, malformed text, a bad value or an unknown field."""
    roll = rng.random()
    if roll < 0.6:
        return rng.choice(legal)
    return rng.choice(
        ['{"dx": 2, "dy": 0}', "go north", '{"dx": "1", "dy": 0}', '{"dx": "one", "dy": 0}', '{"dx": 1}', '{"dz": 1}']
    )


def direct_step(env: Walk, text: str):
    """What the environment itself answers for an action text, or None when the text makes no valid Move."""
    try:
        fields = json.loads(text)
        move = Move.model_validate(fields) if isinstance(fields, dict) and set(fields) <= {"dx", "dy"} else None
    except (json.JSONDecodeError, ValueError):
        move = None
    return None if move is None else env.step(move)


def play_and_compare(adapter_env, episodes: int, max_steps: int, seed: int) -> dict[str, int]:
    """Random episodes through the adapter, each compared step by step with a Walk played directly."""
    rng = random.Random(seed)
    counts = {"steps": 0, "invalid": 0, "won": 0}
    for task_id in adapter_env.task_ids("train")[:episodes]:
        observation, info = adapter_env.reset(task_id)
        check_info(info)
        direct = Walk()
        first = direct.reset(seed=adapter_env.seed_of(task_id))
        assert observation == (
            f"position: {first.position}\ngoal: {first.goal}\nlegal_moves: {json.dumps(first.legal_moves)}"
        )
        assert info["admissible_actions"] == first.legal_moves and info["task"] == observation
        done, steps, last = False, 0, first
        while not done:
            text = random_action(rng, info["admissible_actions"] or last.legal_moves)
            observation, reward, done, info = adapter_env.step(text)
            check_info(info)
            steps += 1
            expected = direct_step(direct, text)
            if expected is None:  # a no-op: the environment is not stepped, the state (anchor) is unchanged
                assert (reward, info["valid"], info["admissible_actions"]) == (0.0, False, [])
                assert observation.startswith("Invalid action: ") and done == (steps >= max_steps)
                counts["invalid"] += 1
            else:
                assert reward == pytest.approx(expected.reward) and info["valid"]
                assert done == (expected.done or steps >= max_steps)
                assert info["won"] == (done and expected.reward > 0)
                assert info["anchor"] == (task_id, observation)
                last = expected
            counts["won"] += info["won"]
        counts["steps"] += steps
    return counts


# ------------------------------------------------------------------------------------------------ in-process
def test_an_environment_class_in_this_process_plays_as_the_environment_itself():
    env = make_env(f"openenv:{HERE}:Walk", max_steps=6, train_size=30, eval_size=5, admissible_field="legal_moves")
    assert env.name == "Walk" and [len(env.task_ids(s)) for s in ("train", "eval_in", "eval_out")] == [30, 5, 5]
    assert env.seed_of("Walk/eval_in/00002") == 1_000_002
    counts = play_and_compare(env, episodes=30, max_steps=6, seed=0)
    # the random policy exercised every path: valid moves, rejected texts, won and lost episodes
    assert counts["invalid"] > 10 and 0 < counts["won"] < 30 and counts["steps"] > 60


def test_async_environments_run_through_reset_async_and_step_async_with_or_without_a_running_loop():
    env = make_env(f"openenv:{HERE}:AsyncWalk", max_steps=4, train_size=5, eval_size=1)
    observation, _ = env.reset("AsyncWalk/train/00000")
    assert observation.startswith("position: 0,0")

    async def inside_a_loop():  # a caller that is itself async (a notebook, an async launcher)
        return env.step('{"dx": 1, "dy": 0}')

    observation, reward, _, info = asyncio.run(inside_a_loop())
    assert observation.startswith("position: 1,0") and info["valid"] and reward in (1.0, -0.1)


def test_the_only_action_field_takes_the_text_and_pydantic_converts_it():
    env = make_env(f"openenv:{LETTER_HUNT}:LetterHunt", word_length=5, max_steps=3)
    observation, _ = env.reset("LetterHunt/train/00003")
    word = env.backend.env.word
    assert observation.endswith("Word: _____")
    observation, reward, done, info = env.step(word[:2])
    assert observation.endswith(word[:2] + "___") and (reward, done, info["valid"]) == (0.0, False, True)
    assert env.step("???")[1] == -0.1  # nothing new
    observation, reward, done, info = env.step(word)
    assert (reward, done, info["won"]) == (1.0, True, True)


@pytest.mark.parametrize(
    ("spec", "kwargs", "message"),
    [
        (f"openenv:{HERE}:Walk", {"sise": 4}, "'sise'"),  # a typo of a constructor parameter
        (f"openenv:{HERE}:Walk", {"action_field": "dz"}, "action_field 'dz' is not a field"),
        (f"openenv:{HERE}:Walk", {"action_field": "dx"}, "also requires ['dy']"),
        (f"openenv:{HERE}:Walk", {"observation_field": "where"}, "observation_field 'where'"),
        (f"openenv:{HERE}:Move", {}, "not an openenv Environment subclass"),
        (f"openenv:{HERE}:Nope", {}, "has no attribute 'Nope'"),
        ("openenv:no_such_module_xyz:Env", {}, "module 'no_such_module_xyz' not found"),
        ("openenv:http://127.0.0.1:9", {}, "no OpenEnv server answers at http://127.0.0.1:9"),
        ("openenv:http://127.0.0.1:9", {"size": 3}, "runs on the server"),
    ],
)
def test_bad_specs_and_kwargs_name_the_fix(spec, kwargs, message):
    with pytest.raises(UnknownEnvironmentError, match=message.replace("[", r"\[").replace("]", r"\]")):
        make_env(spec, **kwargs)


# -------------------------------------------------------------------------------------------------- server
@contextlib.contextmanager
def openenv_server(env_class, action_class, observation_class, max_concurrent_envs: int):
    """A real OpenEnv server (openenv's create_app, uvicorn) on a free port of 127.0.0.1, stopped afterwards."""
    import uvicorn

    app = create_app(env_class, action_class, observation_class, max_concurrent_envs=max_concurrent_envs)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while True:  # until it answers
        try:
            with opener.open(url + "/health", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_a_server_plays_as_the_environment_itself_with_one_session_per_episode():
    with openenv_server(Walk, Move, WalkObservation, max_concurrent_envs=2) as url:
        env = make_env(f"openenv:{url}", max_steps=6, train_size=12, eval_size=2, admissible_field="legal_moves")
        assert env.name == "Walk"  # the server's /metadata
        counts = play_and_compare(env, episodes=12, max_steps=6, seed=1)
        assert counts["invalid"] > 3 and 0 < counts["won"] < 12
        assert _ServerBackend.open_sessions[url] == 0  # every episode ended, so its session was closed
        env.close()


def test_more_episodes_at_once_than_the_server_allows_fail_with_a_message_naming_the_limit():
    module = sys.modules[import_object(f"{LETTER_HUNT}:LetterHunt", "example").__module__]  # the example, as loaded
    with openenv_server(module.LetterHunt, module.LetterAction, module.LetterObservation, max_concurrent_envs=2) as url:
        pool = InProcessEnvPool(lambda: make_env(f"openenv:{url}", max_steps=2), num_envs=3)  # agentrl's own pool
        task_ids = pool._envs[0].task_ids("train")[:3]
        results = pool.reset_many(list(enumerate(task_ids)))
        assert [r.ok for r in results] == [True, True, False]
        assert "ServerCapacityError" in results[2].error and "max_concurrent_envs" in results[2].error
        assert "already holds 2" in results[2].error
        # The two episodes end (max_steps 2), their sessions close, and the third slot's episode now gets one.
        for _ in range(2):
            assert all(r.ok for r in pool.step_many([(0, "zzz"), (1, "zzz")]))
        assert _ServerBackend.open_sessions[url] == 0
        assert pool.reset_many([(2, task_ids[2])])[0].ok
        # Rewards and done through the server equal the environment's own for the same seed and actions.
        direct = module.LetterHunt()
        direct.reset(seed=pool._envs[2].seed_of(task_ids[2]))
        for step, text in enumerate(("abc", direct.word), start=1):
            result = pool.step_many([(2, text)])[0]
            expected = direct.step(module.LetterAction(message=text))
            assert (result.reward, result.done) == (expected.reward, expected.done or step == 2)
        assert result.info["won"] and result.reward == 1.0
        pool.close()


# ------------------------------------------------------------------------------------------------ training
@pytest.mark.slow
def test_two_updates_on_an_openenv_environment_carry_a_gradient(tmp_path):
    from tests.adapter_checks import train_recipe

    small = {"per_device_train_batch_size": 8, "num_generations": 4, "eval_num_tasks": 4}
    steps = train_recipe(tmp_path, "openenv_letter_hunt_tiny.yaml", **small)  # 2 updates, steps [1, 2] checked
    assert any(r["reward/std"] > 0 and r["grad_norm"] > 0 for r in steps)
