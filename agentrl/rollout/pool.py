"""Environment pools: many environment instances ("slots"), reset and stepped in batches.

The rollout collector talks to environments only through a pool, so it has one code path whether
the environments run in-process or in worker processes:

    pool.ensure_slots(n)                                   # build environments 0..n-1 (kept across batches)
    results = pool.reset_many([(slot, task_id), ...])      # one SlotResult per request, same order
    results = pool.step_many([(slot, action), ...])
    pool.max_steps(slot); pool.close()                     # also a context manager

A SlotResult carries either the environment's answer or `error` (a string): an environment that raises
ends its own episode and nothing else.

InProcessEnvPool calls the environments one after another in this process (env_workers: 0, the
default). A call there cannot be stopped safely (a Python thread cannot be killed, and an engine interrupted
mid-step is in an unknown state), so it has no time limit; instead a watchdog thread says on stderr which
environment and task it is still waiting on, every `warn_after_s` seconds (env_step_timeout_s), and that worker
processes would end such a step.

ProcessEnvPool spreads the slots over worker processes (slot s lives on worker s % W), so a slow engine
(ALFWorld steps take tens of ms) runs on several cores while the policy waits. It also survives
environments that hang or kill their process:

- every request in a batch has a time limit (`timeout_s`, plus `build_timeout_s` where the environment
  still has to be built); a worker that makes no progress for that long is killed (with its process
  group, so engine subprocesses such as a JVM go too) and started again;
- the request it was stuck on ends as failed ("timed out"); so does a request whose worker died;
- the other episodes that lived in that worker are rebuilt by replaying their task id and actions
  (environments are deterministic in the task id and the actions, see envs/base.py) and verified
  against the last observation; the rest of the batch is then re-run on the new worker. An episode
  whose replay fails or diverges ends as failed, never as silently wrong.

Why about 700 lines in one file: the in-process pool, the worker pool, the worker's loop and their message
protocol change together (a new request kind touches all four), and the failure handling (timeouts, dead workers,
restarts) is only correct when read as one.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

from agentrl.envs.base import TextEnv

logger = logging.getLogger(__name__)

_POLL_S = 0.2  # how often a waiting pool reads its workers' progress counters


@dataclass
class SlotResult:
    """The answer of one slot to reset (reward 0, done False) or step, or the error that ended its episode."""

    slot: int
    observation: str = ""
    reward: float = 0.0
    done: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # repr of the exception, or why the environment was lost (timeout, crash)

    @property
    def ok(self) -> bool:
        return self.error is None


class EnvPool(ABC):
    """Slots of environments that are reset and stepped in batches (see the module docstring)."""

    @abstractmethod
    def ensure_slots(self, num_envs: int) -> None:
        """Make slots 0..num_envs-1 exist; raises if an environment cannot be built at all."""

    @abstractmethod
    def reset_many(self, requests: Sequence[tuple[int, str]]) -> list[SlotResult]:
        """Reset each `(slot, task_id)`; one result per request, in request order."""

    @abstractmethod
    def step_many(self, requests: Sequence[tuple[int, str]]) -> list[SlotResult]:
        """Step each `(slot, action)`; one result per request, in request order."""

    @abstractmethod
    def max_steps(self, slot: int) -> int:
        """The episode step limit of the environment in `slot`."""

    @property
    @abstractmethod
    def num_envs(self) -> int:
        """Number of slots built so far."""

    def close(self) -> None:  # noqa: B027 - nothing to release by default
        """Release the environments (and worker processes). Safe to call twice."""

    def __enter__(self) -> EnvPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _check_requests(requests: Sequence[tuple[int, str]], num_envs: int) -> None:
    slots = [slot for slot, _ in requests]
    if len(set(slots)) != len(slots):
        raise ValueError(f"a batch names a slot twice: {sorted(slots)}; send one request per slot per batch")
    outside = [slot for slot in slots if not 0 <= slot < num_envs]
    if outside:
        raise ValueError(f"slots {outside} do not exist (the pool has {num_envs}); call ensure_slots(n) first")


class HangWatch:
    """A daemon thread that reports an in-process environment call still running after `after_s` seconds, and
    again every `after_s` seconds while it lasts. A message, not a limit (see the module docstring)."""

    def __init__(self, after_s: float):
        self.after_s = after_s
        self._call: tuple[str, float] | None = None  # (what is running, when it started)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watching(self, what: str):
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="agentrl-env-watch", daemon=True)
            self._thread.start()
        self._call = (what, time.monotonic())
        try:
            yield
        finally:
            self._call = None

    def _run(self) -> None:
        reported: tuple[tuple[str, float] | None, int] = (None, 0)  # the call last reported, and how often
        while not self._stop.wait(min(1.0, self.after_s / 4)):
            call = self._call
            if call is None:
                continue
            waited = time.monotonic() - call[1]
            periods = int(waited // self.after_s)
            if periods >= 1 and reported != (call, periods):
                hint = (  # the first report of a call says what to do about it
                    ". In-process environments (env_workers: 0) have no time limit; with env_workers: 1 or more, a "
                    f"reset/step slower than env_step_timeout_s ({self.after_s:g} s) ends its episode as failed and "
                    "the run goes on"
                    if reported[0] != call
                    else ""
                )
                reported = (call, periods)
                seconds = f"{waited:.0f}" if waited >= 10 else f"{waited:.1f}"
                print(f"[agentrl] still waiting on {call[0]} for {seconds} s{hint}", file=sys.stderr, flush=True)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)


class InProcessEnvPool(EnvPool):
    """The environments live in this process and are called one after another. No time limit: a call that takes
    longer than `warn_after_s` is reported on stderr (HangWatch) while it lasts."""

    def __init__(self, env_factory: Callable[[], TextEnv], num_envs: int = 0, warn_after_s: float | None = 60.0):
        self.env_factory = env_factory
        self._envs: list[TextEnv] = []
        self._task: dict[int, str] = {}  # slot -> task id of its episode, for the hang report
        self._watch = HangWatch(warn_after_s) if warn_after_s else None
        self.ensure_slots(num_envs)

    def _watching(self, slot: int, call: str):
        if self._watch is None:
            return contextlib.nullcontext()
        name = getattr(self._envs[slot], "name", type(self._envs[slot]).__name__)
        return self._watch.watching(f"environment {name} ({call} of task {self._task.get(slot, '?')}, slot {slot})")

    @property
    def num_envs(self) -> int:
        return len(self._envs)

    def ensure_slots(self, num_envs: int) -> None:
        while len(self._envs) < num_envs:
            self._envs.append(self.env_factory())

    def reset_many(self, requests: Sequence[tuple[int, str]]) -> list[SlotResult]:
        _check_requests(requests, self.num_envs)
        results = []
        for slot, task_id in requests:
            self._task[slot] = task_id
            try:
                with self._watching(slot, "reset"):
                    observation, info = self._envs[slot].reset(task_id)
                results.append(SlotResult(slot, observation, 0.0, False, info))
            except Exception as error:  # noqa: BLE001 - any env failure ends just this episode
                results.append(SlotResult(slot, error=repr(error)))
        return results

    def step_many(self, requests: Sequence[tuple[int, str]]) -> list[SlotResult]:
        _check_requests(requests, self.num_envs)
        results = []
        for slot, action in requests:
            try:
                with self._watching(slot, "step"):
                    observation, reward, done, info = self._envs[slot].step(action)
                results.append(SlotResult(slot, observation, float(reward), bool(done), info))
            except Exception as error:  # noqa: BLE001
                results.append(SlotResult(slot, error=repr(error)))
        return results

    def max_steps(self, slot: int) -> int:
        return self._envs[slot].max_steps

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
        for env in self._envs:
            env.close()
        self._envs.clear()


# ---------------------------------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class EnvSpec:
    """An environment spec (a registered name, an import path or an adapter spec; agentrl/envs/registry.py) and
    its factory kwargs: plain data a worker process builds the env from.

    `module` is the module whose @register_env registered a name; the worker imports it first, so environments
    registered by a decorator outside agentrl (a user package, a test) exist in the worker too. Import paths and
    adapter specs need nothing of the kind: the worker resolves the spec string itself.
    """

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    module: str = ""

    @classmethod
    def of(cls, name: str, kwargs: dict[str, Any] | None = None) -> EnvSpec:
        from agentrl.envs import registry

        factory = registry.resolve_env(name)
        kwargs = dict(kwargs or {})
        try:
            pickle.dumps(kwargs)
        except Exception as error:  # noqa: BLE001
            raise ValueError(
                f"env_kwargs of {name!r} must be plain data to reach worker processes: {error!r}"
            ) from None
        module = "" if ":" in name else getattr(factory, "__module__", "") or ""
        return cls(name, kwargs, module)

    @classmethod
    def from_factory(cls, env_factory: Any) -> EnvSpec:
        """The spec of `functools.partial(make_env, name, **kwargs)` (what agentrl.run builds) or of a spec."""
        from agentrl.envs.registry import make_env

        if isinstance(env_factory, EnvSpec):
            return env_factory
        if isinstance(env_factory, functools.partial) and env_factory.func is make_env and len(env_factory.args) == 1:
            return cls.of(env_factory.args[0], env_factory.keywords)
        raise ValueError(
            f"env_workers > 0 builds environments in worker processes from an environment spec and kwargs, but the "
            f"env factory is {env_factory!r}. Pass functools.partial(make_env, spec, **kwargs) or an EnvSpec, or set "
            "env_workers: 0 to run the environments in-process."
        )

    def __call__(self) -> TextEnv:
        from agentrl.envs.registry import make_env

        if self.module and self.module != "__main__":
            importlib.import_module(self.module)
        return make_env(self.name, **self.kwargs)


# ---------------------------------------------------------------------------------------------------- worker
def _run_item(envs: dict[int, TextEnv], spec: EnvSpec, kind: str, slot: int, payload: Any) -> Any:
    if kind == "build" or slot not in envs:  # built on first use, so a restarted worker needs no warm-up
        envs[slot] = spec()
        if kind == "build":
            return envs[slot].max_steps
    env = envs[slot]
    if kind == "reset":
        return env.reset(payload)
    if kind == "step":
        observation, reward, done, info = env.step(payload)
        return observation, float(reward), bool(done), info
    if kind == "replay":  # rebuild an episode after a worker restart: its task id, then its actions
        task_id, actions = payload
        observation, _ = env.reset(task_id)
        for action in actions:
            observation, *_ = env.step(action)
        return observation
    raise ValueError(f"unknown request kind {kind!r}")


def _worker_main(conn, spec: EnvSpec, progress) -> None:
    """Serve batches of (kind, slot, payload) until told to stop or the parent goes away.

    `progress` counts finished requests; the parent reads it to tell a slow batch from a stuck request.
    """
    if hasattr(os, "setpgrp"):
        os.setpgrp()  # own process group: Ctrl-C in the terminal reaches only the parent, and a kill takes
        # the engine's own subprocesses with it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    envs: dict[int, TextEnv] = {}
    try:
        while True:
            try:
                batch = conn.recv()
            except (EOFError, OSError):
                return  # the parent is gone
            if batch is None:
                return
            replies = []
            for kind, slot, payload in batch:
                try:
                    replies.append(("ok", _run_item(envs, spec, kind, slot, payload)))
                except Exception as error:  # noqa: BLE001 - reported to the parent, the worker lives on
                    replies.append(("error", repr(error)))
                progress.value += 1
            try:
                conn.send(replies)
            except (pickle.PicklingError, TypeError, AttributeError):
                conn.send([_picklable(reply) for reply in replies])
    finally:
        for env in envs.values():
            with contextlib.suppress(Exception):
                env.close()


def _picklable(reply: tuple[str, Any]) -> tuple[str, Any]:
    try:
        pickle.dumps(reply)
        return reply
    except Exception as error:  # noqa: BLE001
        return "error", f"the environment's result cannot be sent between processes: {error!r}"


class _Worker:
    """One worker process, its pipe and its progress counter (parent side)."""

    def __init__(self, context, spec: EnvSpec, index: int):
        self.index = index
        self.conn, child_conn = context.Pipe(duplex=True)
        self.progress = context.Value("q", 0, lock=False)
        self.process = context.Process(
            target=_worker_main,
            args=(child_conn, spec, self.progress),
            name=f"agentrl-env-worker-{index}",
            daemon=True,
        )
        self.process.start()
        child_conn.close()  # the parent keeps one end only, so the worker's death reads as EOF
        self.built: set[int] = set()  # slots whose environment exists in this process

    def kill(self) -> None:
        """Kill the process and its process group (engine subprocesses), reap it, close the pipe."""
        pid = self.process.pid
        if self.process.is_alive() and pid is not None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (AttributeError, ProcessLookupError, PermissionError):
                self.process.kill()  # not yet in its own group
        self.process.join(5)
        self.conn.close()

    def stop(self, grace_s: float = 5.0) -> None:
        """Ask the worker to close its environments and exit; kill it if it does not within `grace_s`."""
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.process.join(grace_s)
        self.kill()


def _stop_workers(workers: list[_Worker]) -> None:
    for worker in workers:
        worker.stop()
    workers.clear()


@dataclass
class _Item:
    kind: str  # build | reset | step | replay
    slot: int
    payload: Any
    timeout_s: float
    internal: bool = False  # a replay the pool issued itself; its result is not returned


class ProcessEnvPool(EnvPool):
    """Slots spread over `num_workers` processes (slot s on worker s % num_workers); see the module docstring.

    `timeout_s` bounds each reset or step; `build_timeout_s` is added when the request first has to build
    the environment (engines can take long to load). The start method is spawn by default: workers begin
    from a fresh interpreter, which is safe with threads and CUDA in the parent.
    """

    def __init__(
        self,
        env_name: str,
        env_kwargs: dict[str, Any] | None = None,
        num_envs: int = 0,
        num_workers: int = 2,
        timeout_s: float = 60.0,
        build_timeout_s: float = 300.0,
        start_method: str = "spawn",
    ):
        if num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers} (use InProcessEnvPool for none)")
        if timeout_s <= 0 or build_timeout_s <= 0:
            raise ValueError(f"timeouts must be > 0, got timeout_s={timeout_s}, build_timeout_s={build_timeout_s}")
        self.spec = env_name if isinstance(env_name, EnvSpec) else EnvSpec.of(env_name, env_kwargs)
        self.timeout_s = float(timeout_s)
        self.build_timeout_s = float(build_timeout_s)
        self.restarts = 0  # workers killed and restarted after a hang or crash
        self._context = multiprocessing.get_context(start_method)
        self._workers: list[_Worker] = []
        # Stop the workers when the pool is garbage-collected or the interpreter exits without close().
        self._finalizer = weakref.finalize(self, _stop_workers, self._workers)
        self._workers.extend(_Worker(self._context, self.spec, index) for index in range(num_workers))
        self._max_steps: list[int] = []
        # What the pool knows of each slot's episode, to replay it on a restarted worker.
        self._task: dict[int, str] = {}
        self._actions: dict[int, list[str]] = {}
        self._last_observation: dict[int, str] = {}
        self._ended: set[int] = set()  # done, failed or lost: nothing to replay
        self._lost: dict[int, str] = {}  # slot -> why its episode cannot continue
        try:
            self.ensure_slots(num_envs)
        except BaseException:
            self.close()
            raise

    @property
    def num_envs(self) -> int:
        return len(self._max_steps)

    @property
    def num_workers(self) -> int:
        return len(self._workers)

    def max_steps(self, slot: int) -> int:
        return self._max_steps[slot]

    def ensure_slots(self, num_envs: int) -> None:
        new = list(range(self.num_envs, num_envs))
        if not new:
            return
        # One environment first: a spec that cannot build (engine not installed, bad kwargs) fails fast, once.
        first, *rest = new
        replies = self._execute([_Item("build", first, None, self.build_timeout_s)])
        if replies[first][0] == "ok" and rest:
            replies.update(self._execute([_Item("build", slot, None, self.build_timeout_s) for slot in rest]))
        failed = {slot: reply[1] for slot, reply in replies.items() if reply[0] != "ok"}
        if failed:
            slot, message = next(iter(failed.items()))
            hint = (
                " Its error is printed above. A script that creates the pool must guard its entry point with "
                "`if __name__ == '__main__':` (spawned workers import it)."
                if "died" in message
                else ""
            )
            raise RuntimeError(
                f"could not build environment {self.spec.name!r} in a worker process (slot {slot}): {message}.{hint}"
            )
        self._max_steps.extend(replies[slot][1] for slot in new)

    def reset_many(self, requests: Sequence[tuple[int, str]]) -> list[SlotResult]:
        _check_requests(requests, self.num_envs)
        items = [_Item("reset", slot, task_id, self.timeout_s) for slot, task_id in requests]
        for slot, task_id in requests:
            self._task[slot], self._actions[slot] = task_id, []
            self._ended.discard(slot)
            self._lost.pop(slot, None)
        replies = self._execute(items)
        results = []
        for slot, _ in requests:
            status, value = replies[slot]
            if status == "ok":
                observation, info = value
                self._last_observation[slot] = observation
                results.append(SlotResult(slot, observation, 0.0, False, info))
            else:
                self._end(slot, value)
                results.append(SlotResult(slot, error=value))
        return results

    def step_many(self, requests: Sequence[tuple[int, str]]) -> list[SlotResult]:
        _check_requests(requests, self.num_envs)
        lost = {slot: f"episode lost: {self._lost[slot]}" for slot, _ in requests if slot in self._lost}
        for slot, _ in requests:
            if slot not in self._task and slot not in lost:
                lost[slot] = "step before reset: reset the slot first"
        replies = self._execute(
            [_Item("step", slot, action, self.timeout_s) for slot, action in requests if slot not in lost]
        )
        results = []
        for slot, action in requests:
            if slot in lost:
                results.append(SlotResult(slot, error=lost[slot]))
                continue
            status, value = replies[slot]
            if status == "ok":
                observation, reward, done, info = value
                self._actions[slot].append(action)
                self._last_observation[slot] = observation
                if done:
                    self._ended.add(slot)
                results.append(SlotResult(slot, observation, reward, done, info))
            else:
                self._end(slot, value)
                results.append(SlotResult(slot, error=value))
        return results

    def _end(self, slot: int, why: str) -> None:
        self._ended.add(slot)
        self._lost[slot] = why

    # ------------------------------------------------------------------------------ the batch executor
    def _limits(self, worker: _Worker, batch: list[_Item]) -> list[float]:
        """Time limit of each item of a batch: its own, plus build_timeout_s where it first builds its env."""
        built, limits = set(worker.built), []
        for item in batch:
            builds = item.slot not in built and item.kind != "build"  # a build item's limit is the build's
            limits.append(item.timeout_s + (self.build_timeout_s if builds else 0.0))
            built.add(item.slot)
        return limits

    def _execute(self, items: list[_Item]) -> dict[int, tuple[str, Any]]:
        """Run `items` on their workers concurrently; recover from hung or dead workers; replies by slot.

        Each worker gets its items as one batch. A worker whose progress counter has not moved for the
        current item's time limit is stuck on that item: the item fails, the worker is restarted, its
        other episodes are replayed, and the rest of its batch is sent again.
        """
        if not self._workers:
            raise RuntimeError("the env pool is closed")
        replies: dict[int, tuple[str, Any]] = {}
        queued: dict[int, list[_Item]] = {}
        for item in items:
            queued.setdefault(item.slot % self.num_workers, []).append(item)
        # worker -> (batch, time limit of each item, progress count at send, items done, time of last progress)
        running: dict[int, tuple[list[_Item], list[float], int, int, float]] = {}

        def send(index: int) -> None:
            batch = queued.pop(index)
            worker = self._workers[index]
            # Read the progress counter BEFORE sending: once the batch is sent the worker may finish items before
            # this process runs again, and a count read after that would blame the wrong request for a hang/death.
            start = worker.progress.value
            try:
                worker.conn.send([(item.kind, item.slot, item.payload) for item in batch])
            except (OSError, ValueError):  # died between batches: nobody's request is to blame
                running[index] = (batch, [], start, 0, time.monotonic())
                recover(index, blame=None, why="its worker process died")
                return
            running[index] = (batch, self._limits(worker, batch), start, 0, time.monotonic())

        def recover(index: int, blame: int | None, why: str) -> None:
            """Restart worker `index`; fail batch[blame]; replay its other episodes; queue the rest again."""
            batch = running.pop(index)[0]
            worker = self._workers[index]
            worker.kill()
            self.restarts += 1
            self._workers[index] = _Worker(self._context, self.spec, index)
            rest = [item for position, item in enumerate(batch) if position != blame]
            if blame is not None:
                item = batch[blame]
                message = f"{why} during {item.kind} (worker {index} was restarted)"
                logger.warning("env pool: slot %d %s", item.slot, message)
                if item.kind == "replay":
                    self._end(item.slot, f"could not be rebuilt after a worker restart: {message}")
                else:
                    replies[item.slot] = ("error", message)
            resetting = {item.slot for item in rest if item.kind in ("reset", "build")}
            blamed = {batch[blame].slot} if blame is not None else set()
            replays = [
                _Item("replay", slot, (self._task[slot], list(self._actions[slot])), self.timeout_s, internal=True)
                for slot in sorted(self._task)
                if slot % self.num_workers == index
                and slot not in self._ended
                and slot not in resetting
                and slot not in blamed
            ]
            for replay in replays:  # the limit grows with the episode: one step's worth per action
                replay.timeout_s = self.timeout_s * (1 + len(replay.payload[1]))
            rest = [item for item in rest if not item.internal]  # replays are recomputed from the log above
            if replays or rest:
                queued[index] = replays + rest

        def finish(index: int, batch_replies: list[tuple[str, Any]]) -> None:
            batch = running.pop(index)[0]
            worker = self._workers[index]
            for item, reply in zip(batch, batch_replies, strict=True):
                if reply[0] == "ok":
                    worker.built.add(item.slot)
                if item.kind == "replay":
                    if reply[0] != "ok":
                        self._end(item.slot, f"could not be rebuilt after a worker restart: {reply[1]}")
                    elif reply[1] != self._last_observation.get(item.slot):
                        self._end(item.slot, "replay after a worker restart diverged (the env is not deterministic)")
                else:
                    replies[item.slot] = reply

        try:
            while queued or running:
                for index in list(queued):
                    if index not in running:
                        send(index)
                if not running:
                    continue
                now = time.monotonic()
                deadlines = {
                    index: since + limits[min(done, len(limits) - 1)]
                    for index, (_, limits, _, done, since) in running.items()
                }
                conns = {self._workers[index].conn: index for index in running}
                # Wake at least every _POLL_S to read the progress counters: after a request that may take
                # long (a build) finishes, the next one's shorter limit must start counting then, not later.
                ready = wait(list(conns), timeout=min(_POLL_S, max(0.0, min(deadlines.values()) - now)))
                for conn in ready:
                    index = conns[conn]
                    try:
                        finish(index, conn.recv())
                    except (EOFError, OSError):  # the process died (segfault, os._exit, OOM kill)
                        batch, _, start, _, _ = running[index]
                        died_at = self._workers[index].progress.value - start
                        recover(index, blame=min(died_at, len(batch) - 1), why="its worker process died")
                now = time.monotonic()
                for index in [index for index in running if index not in {conns[c] for c in ready}]:
                    batch, limits, start, done, since = running[index]
                    finished = self._workers[index].progress.value - start
                    if finished > done:  # progress: the next request gets its own full time limit
                        running[index] = (batch, limits, start, finished, now)
                    elif now >= deadlines[index]:
                        limit = limits[min(done, len(limits) - 1)]
                        recover(
                            index, blame=min(done, len(batch) - 1), why=f"the environment timed out after {limit:g} s"
                        )
        except BaseException:  # e.g. Ctrl-C: replies still in flight would be read by the next call as its own
            for index in running:
                self._abandon(index)
            raise
        return replies

    def _abandon(self, index: int) -> None:
        """Replace worker `index` by a fresh one without replaying: its episodes end as lost."""
        self._workers[index].kill()
        self._workers[index] = _Worker(self._context, self.spec, index)
        for slot in self._task:
            if slot % self.num_workers == index and slot not in self._ended:
                self._end(slot, "its worker was replaced after an interrupted batch")

    def close(self) -> None:
        self._finalizer()


def make_env_pool(
    env_factory: Callable[[], TextEnv],
    num_workers: int = 0,
    num_envs: int = 0,
    timeout_s: float = 60.0,
) -> EnvPool:
    """InProcessEnvPool when num_workers == 0 (a call slower than `timeout_s` is reported, not stopped), else a
    ProcessEnvPool built from the factory's EnvSpec (a call slower than `timeout_s` ends its episode)."""
    if num_workers < 0:
        raise ValueError(f"env_workers must be >= 0, got {num_workers}")
    if num_workers == 0:
        return InProcessEnvPool(env_factory, num_envs, warn_after_s=timeout_s)
    return ProcessEnvPool(EnvSpec.from_factory(env_factory), None, num_envs, num_workers, timeout_s)
