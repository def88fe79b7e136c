"""Environment throughput: steps per second of each registered environment, in-process and through the EnvPool.

    python scripts/bench_envs.py [--envs household alfworld ...] [--episodes 200] [--workers 2] [--slots 16]

Every environment plays the same episodes both ways: the first `--episodes` tasks of `--split`, episode i
playing the random baseline of `agentrl eval --agent random` with random.Random(f"{seed}/{i}") until the env
ends it: a uniformly random admissible action, or in a tool environment (no admissible actions, tools declared
at reset) a random tool call with arguments drawn from the observation.

- single: one environment in this process, episodes one after another; `us_per_step` and `us_per_reset`
  time the env calls alone.
- pool: a ProcessEnvPool with `--workers` worker processes and `--slots` environments, the episodes played
  in lockstep batches of `--slots` (one step_many per turn, as the rollout collector does); the time
  includes inter-process transfer. `start_s` is the time to spawn the workers and build the environments.

`steps_per_s` = steps / seconds spent in reset and step calls, in both modes, so `pool_speedup` compares
like with like. An environment that cannot be measured is listed with the reason instead of figures:
"skipped" (engine not installed, data not generated, nothing for the random policy to do) or "failed" (an
error while measuring). One environment's failure never loses the others' figures: each result is printed to
stderr as soon as it is measured, and the JSON of all of them on stdout at the end (also after Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

from agentrl.envs import list_envs, make_env
from agentrl.evaluation import _baseline_action  # the random baseline of `agentrl eval --agent random`
from agentrl.rollout.pool import ProcessEnvPool


def _action(info: dict, observation: str, tools: list | None, rng: random.Random) -> str | None:
    """The random policy's next action, or None when it has none (no admissible actions and no tools)."""
    return _baseline_action("random", info, tools, observation, rng)


def single(name: str, task_ids: list[str], seed: int) -> dict:
    env = make_env(name)
    reset_s = step_s = 0.0
    steps = 0
    try:
        for index, task_id in enumerate(task_ids):
            rng = random.Random(f"{seed}/{index}")
            started = time.perf_counter()
            observation, info = env.reset(task_id)
            reset_s += time.perf_counter() - started
            tools, done = info.get("tools"), False
            while not done and (action := _action(info, observation, tools, rng)) is not None:
                started = time.perf_counter()
                observation, _, done, info = env.step(action)
                step_s += time.perf_counter() - started
                steps += 1
    finally:
        env.close()
    return {
        "steps": steps,
        "us_per_step": round(1e6 * step_s / max(steps, 1), 1),
        "us_per_reset": round(1e6 * reset_s / len(task_ids), 1),
        "steps_per_s": round(steps / (reset_s + step_s)) if reset_s + step_s > 0 else None,
    }


def pooled(name: str, task_ids: list[str], seed: int, workers: int, slots: int) -> dict:
    started = time.perf_counter()
    with ProcessEnvPool(name, num_envs=slots, num_workers=workers) as pool:
        start_s = time.perf_counter() - started
        busy_s, steps, errors = 0.0, 0, 0
        for first in range(0, len(task_ids), slots):
            batch = task_ids[first : first + slots]
            rngs = [random.Random(f"{seed}/{first + slot}") for slot in range(len(batch))]
            started = time.perf_counter()
            results = pool.reset_many(list(enumerate(batch)))
            busy_s += time.perf_counter() - started
            live = {r.slot: (r.observation, r.info) for r in results if r.ok}
            tools = {r.slot: r.info.get("tools") for r in results if r.ok}
            errors += sum(not r.ok for r in results)
            while live:
                actions = {slot: _action(info, obs, tools[slot], rngs[slot]) for slot, (obs, info) in live.items()}
                requests = [(slot, action) for slot, action in actions.items() if action is not None]
                started = time.perf_counter()
                results = pool.step_many(requests)
                busy_s += time.perf_counter() - started
                steps += len(results)
                errors += sum(not r.ok for r in results)
                live = {r.slot: (r.observation, r.info) for r in results if r.ok and not r.done}
    return {
        "workers": workers,
        "slots": slots,
        "steps": steps,
        "start_s": round(start_s, 2),
        "steps_per_s": round(steps / busy_s) if busy_s > 0 else None,
        "env_errors": errors,
    }


def measure(name: str, options: argparse.Namespace) -> dict:
    """The figures of one environment, or {"skipped": reason} when it cannot run here."""
    try:
        env = make_env(name)
        task_ids = env.task_ids(options.split)[: options.episodes]
        env.close()
    except ImportError as error:
        return {"skipped": f"engine not installed: {error}"}
    except Exception as error:  # noqa: BLE001 - e.g. game files not generated yet; reported, not fatal
        return {"skipped": f"cannot build: {error!r}"}
    if not task_ids:
        return {"skipped": f"no tasks in split {options.split!r} (data not generated yet?)"}
    result = {"episodes": len(task_ids), "single": single(name, task_ids, options.seed)}
    if not result["single"]["steps"]:
        return {"skipped": "the random policy has nothing to play: no admissible actions and no tools at reset"}
    result["pool"] = pooled(name, task_ids, options.seed, options.workers, options.slots)
    if result["single"]["steps_per_s"] and result["pool"]["steps_per_s"]:
        result["pool_speedup"] = round(result["pool"]["steps_per_s"] / result["single"]["steps_per_s"], 2)
    return result


def measure_all(names: list[str], options: argparse.Namespace) -> dict:
    """{name: figures | {"skipped": reason} | {"failed": error}} for every name, each printed to stderr when done;
    a Ctrl-C stops the loop and keeps what was measured."""
    results: dict[str, dict] = {}
    try:
        for name in names:
            started = time.perf_counter()
            try:
                results[name] = measure(name, options)
            except Exception as error:  # noqa: BLE001 - one environment's error must not lose the others' figures
                results[name] = {"failed": f"{type(error).__name__}: {error}"}
            seconds = time.perf_counter() - started
            print(f"[bench_envs] {name} ({seconds:.0f} s): {json.dumps(results[name])}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print(f"[bench_envs] interrupted: {len(results)} of {len(names)} measured", file=sys.stderr, flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", help="environments to measure (default: every registered one)")
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--split", default="train")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--slots", type=int, default=16, help="environments in the pool (episodes per batch)")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    if options.episodes < 1 or options.workers < 1 or options.slots < 1:
        parser.error("--episodes, --workers and --slots must be >= 1")
    known = list_envs()
    names = options.envs or list(known)
    unknown = [name for name in names if name not in known]
    if unknown:
        parser.error(f"unknown environments {unknown}; registered: {', '.join(known)}")
    print(json.dumps(measure_all(names, options), indent=2))


if __name__ == "__main__":  # required: the pool's spawned workers import this module
    main()
