"""Environment throughput: steps per second of each registered environment under its expert.

    python scripts/bench_env.py [--episodes 300]

Prints JSON: per environment, mean microseconds per step and per reset, and steps per second.
"""

from __future__ import annotations

import argparse
import json
import time

from envs import list_envs, make_env


def measure(name: str, episodes: int) -> dict:
    env = make_env(name)
    task_ids = env.task_ids("train")[:episodes]
    reset_s = step_s = 0.0
    steps = 0
    for task_id in task_ids:
        started = time.perf_counter()
        _, info = env.reset(task_id)
        reset_s += time.perf_counter() - started
        done = False
        while not done and info["expert_action"]:
            started = time.perf_counter()
            _, _, done, info = env.step(info["expert_action"])
            step_s += time.perf_counter() - started
            steps += 1
    return {
        "episodes": len(task_ids),
        "steps": steps,
        "us_per_step": 1e6 * step_s / steps,
        "us_per_reset": 1e6 * reset_s / len(task_ids),
        "steps_per_s": steps / step_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=300)
    options = parser.parse_args()
    print(json.dumps({name: measure(name, options.episodes) for name in list_envs()}, indent=2))


if __name__ == "__main__":
    main()
