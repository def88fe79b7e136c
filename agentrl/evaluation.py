"""Held-out evaluation: success rate and score of a policy on an environment split."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from agentrl.rollout import HFGenerator, PromptBuilder, RolloutCollector
from agentrl.rollout.episode import Episode
from envs.base import TextEnv


def summarize(episodes: Sequence[Episode]) -> dict[str, float]:
    """Success rate (with a 95% normal-approximation interval over tasks), score, length, validity."""
    count = len(episodes)
    if count == 0:
        return {"success_rate": 0.0, "score": 0.0, "num_episodes": 0}
    success = sum(e.won for e in episodes) / count
    steps = [s for e in episodes for s in e.steps]
    half_width = 1.96 * math.sqrt(success * (1 - success) / count)
    return {
        "success_rate": success,
        "success_ci95": [max(0.0, success - half_width), min(1.0, success + half_width)],
        "score": sum(e.score for e in episodes) / count,
        "episode_length": sum(e.length for e in episodes) / count,
        "valid_action_ratio": sum(s.action_valid for s in steps) / max(len(steps), 1),
        "format_valid_ratio": sum(s.format_valid for s in steps) / max(len(steps), 1),
        "env_errors": sum(e.error is not None for e in episodes),
        "num_episodes": count,
    }


@torch.no_grad()
def evaluate_policy(
    model,
    tokenizer,
    env_factory: Callable[[], TextEnv],
    task_ids: Sequence[str],
    max_new_tokens: int,
    temperature: float = 0.0,
    history_length: int = 2,
    batch_size: int = 128,
    seed: int = 0,
) -> tuple[dict[str, float], list[Episode]]:
    """Play one episode per task (batched) and summarise. temperature 0 = greedy.

    Sampling is seeded (without touching the caller's RNG state), so the same model, tasks, temperature
    and seed give the same numbers: `agentrl eval` reproduces a run's eval.json.
    """
    was_training = model.training
    model.eval()
    collector = RolloutCollector(env_factory, PromptBuilder(tokenizer, history_length), invalid_format_penalty=0.0)
    generator = HFGenerator(model, tokenizer, max_new_tokens=max_new_tokens, temperature=temperature)
    episodes: list[Episode] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for start in range(0, len(task_ids), batch_size):
            chunk = list(task_ids[start : start + batch_size])
            episodes += collector.collect(generator, chunk, list(range(start, start + len(chunk))))
    collector.close()
    model.train(was_training)
    return summarize(episodes), episodes
