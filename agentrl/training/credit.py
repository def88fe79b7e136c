"""Credit assignment: one advantage per step of every episode this rank played.

    returns (reward functions) + DAPO overlong penalties
    -> base estimator over the global batch (grpo | gigpo | ..., agentrl.algorithms)
    -> EMPG modulation by the steps' rollout entropies (batch statistics over every rank)
    -> equal episode weight (optional)

Statistics are over every rank's episodes, so two processes assign the same advantages as one process does on
the same episodes.
"""

from __future__ import annotations

from typing import Any

import torch

from agentrl.algorithms import (
    CreditBatch,
    anchor_groups,
    compute_advantages,
    empg_terms,
    equal_episode_weights,
    group_stats,
    overlong_penalty,
)
from agentrl.config import AgentRLConfig
from agentrl.rollout.episode import Episode
from agentrl.training.ranks import Ranks


def step_penalties(episodes: list[Episode], args: AgentRLConfig, max_completion_length: int) -> list[list[float]]:
    """DAPO soft overlong punishment of every step response (0 everywhere when switched off)."""
    if args.overlong_buffer_length == 0:
        return [[0.0] * episode.length for episode in episodes]
    return [
        (
            args.overlong_penalty_factor
            * overlong_penalty(
                torch.tensor([len(s.response_ids) for s in episode.steps]),
                max_completion_length,
                args.overlong_buffer_length,
            )
        ).tolist()
        for episode in episodes
    ]


def anchor_key(step) -> Any:
    """GiGPO's anchor state of a step: the env's raw-state key, else the observation text it showed."""
    key = step.anchor if step.anchor is not None else step.observation
    try:
        hash(key)
    except TypeError:  # an env returned an unhashable anchor (a list, a dict): its text stands in
        key = repr(key)
    return key


def estimator_options(args: AgentRLConfig, scale_rewards: str) -> dict[str, Any]:
    if args.advantage_estimator == "grpo":
        return {"scale_rewards": scale_rewards}
    if args.advantage_estimator == "gigpo":
        return {
            "scale_rewards": scale_rewards,
            "step_advantage_weight": args.step_advantage_weight,
            "gamma": args.gamma,
            "step_norm": args.gigpo_step_norm,
        }
    return {}


def step_advantages(
    episodes: list[Episode],
    episode_returns: torch.Tensor,
    args: AgentRLConfig,
    *,
    max_completion_length: int,
    scale_rewards: str,
    ranks: Ranks,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Per-step advantages of this rank's episodes (in episode, then step order) and their metrics.

    `episode_returns` are the episodes' returns from the reward functions.
    """
    penalties = step_penalties(episodes, args, max_completion_length)
    local_returns = episode_returns + torch.tensor([sum(p) for p in penalties])
    records, local = ranks.gather_lists(
        [(r, e.group_id, e.length) for r, e in zip(local_returns.tolist(), episodes, strict=True)]
    )
    steps = [(local.start + n, t, step) for n, e in enumerate(episodes) for t, step in enumerate(e.steps)]
    anchors: dict[Any, int] = {}
    batch = CreditBatch(
        returns=torch.tensor([r[0] for r in records], dtype=torch.float32),
        group_ids=torch.tensor([r[1] for r in records], dtype=torch.long),
        step_episode=torch.tensor([n for n, _, _ in steps], dtype=torch.long),
        step_index=torch.tensor([t for _, t, _ in steps], dtype=torch.long),
        step_rewards=torch.tensor(
            [step.reward + penalties[n - local.start][t] for n, t, step in steps], dtype=torch.float32
        ),
        step_anchors=torch.tensor(
            [anchors.setdefault(anchor_key(step), len(anchors)) for _, _, step in steps], dtype=torch.long
        ),
    )
    advantages = compute_advantages(args.advantage_estimator, batch, **estimator_options(args, scale_rewards))
    metrics: dict[str, float] = {}
    if args.advantage_estimator == "gigpo":
        step_groups = anchor_groups(batch.group_ids[batch.step_episode], batch.step_anchors)
        _, _, sizes = group_stats(torch.ones(len(steps)), step_groups)
        metrics["gigpo/shared_anchor_fraction"] = ranks.mean((sizes > 1).double())
    if args.overlong_buffer_length:
        flat = [p for episode in penalties for p in episode]
        metrics["overlong/penalty_mean"] = ranks.mean(flat)
        metrics["overlong/penalised_fraction"] = ranks.mean([float(p < 0) for p in flat])
    if args.empg:
        device = ranks.device  # the collectives of a NCCL group need device tensors
        modulated, g, f = empg_terms(
            advantages.to(device),
            torch.tensor([step.entropy for _, _, step in steps], device=device),
            batch.step_episode.to(device),
            batch.step_index.to(device),
            k=args.empg_k,
            k_future=args.empg_k_future,
            zeta=args.empg_zeta,
        )
        advantages = modulated.cpu()
        metrics.update(ranks.distribution("empg/g", g) | ranks.distribution("empg/f", f))
    if args.equal_episode_weight:
        lengths = torch.tensor([r[2] for r in records])
        advantages = advantages * equal_episode_weights(lengths)[batch.step_episode]
    metrics.update(ranks.distribution("advantages/step", advantages))
    return advantages, metrics


def row_advantages(episodes: list[Episode], step_advantages: torch.Tensor, concat: bool) -> torch.Tensor:
    """One advantage per training row: the step's (per_step), or the mean over the episode's steps (concat)."""
    if not concat:
        return step_advantages
    lengths = [episode.length for episode in episodes if episode.length]
    return (
        torch.stack([chunk.float().mean() for chunk in step_advantages.split(lengths)]) if lengths else step_advantages
    )
