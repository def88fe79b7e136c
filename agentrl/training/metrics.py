"""What an update logs about its rollouts: returns, success, validity, lengths, entropies and degeneration, and for
concat / tool runs the conversation's shape. Every figure is over all ranks' episodes (each rank logs the same)."""

from __future__ import annotations

from typing import Any

import torch

from agentrl.algorithms import group_stats
from agentrl.entropy import degeneration_counts, entropy_metrics
from agentrl.rollout.chat import first_difference
from agentrl.rollout.episode import Episode, tool_call_counts
from agentrl.training.ranks import Ranks


def rollout_metrics(
    episodes: list[Episode], returns: torch.Tensor, group_ids: torch.Tensor, concat: bool, ranks: Ranks
) -> dict[str, float]:
    """`returns` and `group_ids` are the global batch's (all ranks); `episodes` this rank's."""
    steps = [step for episode in episodes for step in episode.steps]
    _, group_std, _ = group_stats(returns, group_ids)
    rows = sum(1 for e in episodes if e.steps) if concat else len(steps)
    return {
        "rollout/episodes": float(returns.numel()),
        "reward/mean": returns.mean().item(),
        "reward/std": returns.std().item() if returns.numel() > 1 else 0.0,
        "success_rate": ranks.mean([float(e.won) for e in episodes]),
        "score/mean": ranks.mean([e.score for e in episodes]),
        "episode/length_mean": ranks.mean([e.length for e in episodes]),
        "episode/valid_action_ratio": ranks.mean([float(s.action_valid) for s in steps]),
        "episode/format_valid_ratio": ranks.mean([float(s.format_valid) for s in steps]),
        "episode/truncated_ratio": ranks.mean([float(s.truncated) for s in steps]),
        "episode/env_errors": ranks.mean([float(e.error is not None) for e in episodes]),
        "frac_reward_zero_std": (group_std < 1e-6).float().mean().item(),  # TRL's name
        "rollout/rows": ranks.mean([float(rows)]) * ranks.count,
        "rollout/response_tokens_mean": ranks.mean([float(len(s.response_ids)) for s in steps]),
    }


def all_groups_tied(returns: torch.Tensor, group_ids: torch.Tensor) -> bool:
    """Every group's returns are equal: no episode has an advantage (global inputs, the same on every rank)."""
    _, group_std, _ = group_stats(returns, group_ids)
    return bool((group_std < 1e-6).all())


def entropy_and_degeneration(episodes: list[Episode], ranks: Ranks, measured: bool = True) -> dict[str, float]:
    """Rollout entropy statistics (when the rollout `measured` entropies) and degeneration rates, over every rank.

    A vLLM rollout measures no entropy unless something reads it (agentrl.training.policy_logps): then there are no
    entropy/* figures rather than zeros."""
    metrics: dict[str, float] = {}
    if measured:
        steps = [step for episode in episodes for step in episode.steps]
        records, _ = ranks.gather_lists(
            [(step.entropy, turn, e.won) for e in episodes for turn, step in enumerate(e.steps)]
        )
        token_sum, token_count = ranks.sum_each(
            [sum(sum(s.entropies) for s in steps), sum(len(s.entropies) for s in steps)]
        )
        metrics = entropy_metrics(
            [r[0] for r in records], [r[1] for r in records], [r[2] for r in records], token_sum, token_count
        )
    counts = degeneration_counts(episodes)
    totals = ranks.sum_each([float(value) for pair in counts.values() for value in pair])
    for number, name in enumerate(counts):
        metrics[name] = totals[2 * number] / max(totals[2 * number + 1], 1.0)
    return metrics


def conversation_metrics(episodes: list[Episode], chat: Any, ranks: Ranks) -> dict[str, float]:
    """concat: row length, share of model tokens, token-budget endings, re-rendering mismatches; tool environments:
    tool calls per episode and the failure rate (an output without a well-formed call counts as one failed
    attempt). Sums over every rank."""
    steps = [step for episode in episodes for step in episode.steps]
    played = [episode for episode in episodes if episode.steps]
    rows = [(e.context_ids(), e) for e in played]
    rerender_mismatch = sum(
        first_difference(ids, chat.rerender_ids(e.messages, e.tools)) is not None for ids, e in rows
    )
    totals = ranks.sum_each(
        [
            len(played),
            sum(len(ids) for ids, _ in rows),
            sum(len(s.response_ids) for s in steps),
            sum(e.context_truncated for e in played),
            rerender_mismatch,
            float(any(e.tools for e in episodes)),
            *tool_call_counts(steps),
        ]
    )
    count, tokens, generated, cut, mismatched, tool_ranks, calls, failures, attempts = totals
    metrics = {
        "concat/row_tokens_mean": tokens / max(count, 1),
        "concat/model_token_fraction": generated / max(tokens, 1),
        "concat/context_truncated_rate": cut / max(count, 1),
        "concat/rerender_mismatch_rate": mismatched / max(count, 1),
    }
    if tool_ranks:
        metrics["tools/calls_per_episode"] = calls / max(count, 1)
        metrics["tools/failure_rate"] = failures / max(attempts, 1)
    return metrics
