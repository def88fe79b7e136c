"""Playing an environment's own expert, shared by the environment tests."""

from __future__ import annotations

from agentrl.envs.base import TextEnv


def run_expert(env: TextEnv, task_id: str) -> list[tuple[str, float, bool, dict]]:
    """The expert's episode as (observation, reward, done, info) rows, the reset as the first row."""
    observation, info = env.reset(task_id)
    rows = [(observation, 0.0, False, info)]
    done = False
    while not done:
        observation, reward, done, info = env.step(info["expert_action"])
        rows.append((observation, reward, done, info))
    return rows
