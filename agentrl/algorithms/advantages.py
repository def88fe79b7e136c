"""Advantage estimators: pure functions on tensors, registered by name.

Two kinds:
- episode estimators, `f(returns, group_ids, **options) -> (E,)`, one advantage per episode, broadcast to
  every step of the episode (grpo, mean_centred, rloo);
- step estimators, `f(batch: CreditBatch, **options) -> (S,)`, one advantage per step (gigpo).

`compute_advantages(name, batch, **options)` gives per-step advantages for either kind. Episode tensors
hold the GLOBAL batch (every rank's episodes: group statistics and "batch" scaling need them); step
tensors may hold one rank's steps only, pointing into the global episodes by `step_episode`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

EPISODE_ESTIMATORS: dict[str, Callable[..., torch.Tensor]] = {}
STEP_ESTIMATORS: dict[str, Callable[..., torch.Tensor]] = {}


@dataclass(frozen=True)
class CreditBatch:
    """What any estimator may need. E episodes, S steps; ids are integers."""

    returns: torch.Tensor  # (E,) episode returns R_i
    group_ids: torch.Tensor  # (E,) rollouts of one task share a group id
    step_episode: torch.Tensor  # (S,) index into the episode tensors of the episode each step belongs to
    step_index: torch.Tensor  # (S,) position t of the step in its episode (0-based)
    step_rewards: torch.Tensor  # (S,) reward r_t of the step
    step_anchors: torch.Tensor  # (S,) anchor-state id: equal ids = identical environment state


def register_episode_estimator(name: str):
    def decorate(function):
        EPISODE_ESTIMATORS[name] = function
        return function

    return decorate


def register_step_estimator(name: str):
    def decorate(function):
        STEP_ESTIMATORS[name] = function
        return function

    return decorate


def estimator_names() -> list[str]:
    return sorted({*EPISODE_ESTIMATORS, *STEP_ESTIMATORS})


def compute_advantages(name: str, batch: CreditBatch, **options) -> torch.Tensor:
    """Per-step advantages (S,) of estimator `name` on `batch`."""
    if name in STEP_ESTIMATORS:
        return STEP_ESTIMATORS[name](batch, **options)
    if name in EPISODE_ESTIMATORS:
        return EPISODE_ESTIMATORS[name](batch.returns, batch.group_ids, **options)[batch.step_episode]
    raise ValueError(f"unknown advantage_estimator {name!r}; choose one of {estimator_names()}")


# ---------------------------------------------------------------------------------------- groups
def group_stats(values: torch.Tensor, group_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-entry mean, unbiased std (0 for a group of one) and size of its group. A group of equal values has
    exactly that value as its mean and std 0: sum / size rounds (8 x -0.3 in float32), and the rounding left in
    R - mean, divided by std + eps, would give every episode of a signal-free group an advantage of ~1e-3."""
    _, inverse = torch.unique(group_ids, return_inverse=True)
    groups = int(inverse.max()) + 1 if inverse.numel() else 0
    size = torch.zeros(groups, dtype=values.dtype, device=values.device).index_add_(0, inverse, torch.ones_like(values))
    mean = torch.zeros_like(size).index_add_(0, inverse, values) / size
    low = torch.full_like(size, math.inf).scatter_reduce_(0, inverse, values, "amin")
    high = torch.full_like(size, -math.inf).scatter_reduce_(0, inverse, values, "amax")
    mean = torch.where(low == high, low, mean)
    squares = torch.zeros_like(size).index_add_(0, inverse, (values - mean[inverse]) ** 2)
    std = torch.sqrt(squares / (size - 1).clamp(min=1))  # Bessel-corrected, as TRL's nanstd
    return mean[inverse], std[inverse], size[inverse]


# ---------------------------------------------------------------------------------------- episode estimators
@register_episode_estimator("grpo")
def grpo_advantages(
    returns: torch.Tensor, group_ids: torch.Tensor, scale_rewards: str = "group", eps: float = 1e-4
) -> torch.Tensor:
    """GRPO (DeepSeekMath): A_i = (R_i - mean_group R) / (std + eps), with TRL's `scale_rewards` semantics.

    scale_rewards: "group" (std of the episode's group), "batch" (std of the whole batch) or "none"
    (mean-centred only, = mean_centred).
    """
    mean, group_std, _ = group_stats(returns, group_ids)
    centred = returns - mean
    if scale_rewards == "group":
        return centred / (group_std + eps)
    if scale_rewards == "batch":
        batch_std = returns.std() if returns.numel() > 1 else torch.zeros((), device=returns.device)
        return centred / (batch_std + eps)
    if scale_rewards == "none":
        return centred
    raise ValueError(f"scale_rewards must be 'group', 'batch' or 'none', got {scale_rewards!r}")


@register_episode_estimator("mean_centred")
def mean_centred_advantages(returns: torch.Tensor, group_ids: torch.Tensor) -> torch.Tensor:
    """Dr. GRPO's advantage (arXiv 2503.20783): A_i = R_i - mean_group R. No std: groups with small spread are not
    blown up. (Named for what it computes: TRL's `loss_type: dr_grpo` is Dr. GRPO's other half, the loss normaliser.)"""
    mean, _, _ = group_stats(returns, group_ids)
    return returns - mean


@register_episode_estimator("rloo")
def rloo_advantages(returns: torch.Tensor, group_ids: torch.Tensor) -> torch.Tensor:
    """RLOO (arXiv 2402.14740): A_i = R_i - mean of the OTHER G-1 returns of the group = G/(G-1) (R_i - mean).

    A group of one has no baseline to compare against: its advantage is 0.
    """
    mean, _, size = group_stats(returns, group_ids)
    others = (mean * size - returns) / (size - 1).clamp(min=1)
    return torch.where(size > 1, returns - others, torch.zeros_like(returns))


# ---------------------------------------------------------------------------------------- GiGPO
def discounted_returns(
    step_rewards: torch.Tensor, step_episode: torch.Tensor, step_index: torch.Tensor, gamma: float
) -> torch.Tensor:
    """R_t = r_t + gamma * R_{t+1} within each episode; steps may come in any order."""
    rewards, episodes, positions = step_rewards.tolist(), step_episode.tolist(), step_index.tolist()
    out = [0.0] * len(rewards)
    # Walk the steps from the last position back: each step adds gamma x the return of the step after it.
    order = sorted(range(len(rewards)), key=lambda i: (episodes[i], -positions[i]))
    following: dict[int, tuple[int, float]] = {}  # episode -> (position, return) of the step just processed
    for i in order:
        episode, position, value = episodes[i], positions[i], rewards[i]
        if episode in following:
            next_position, next_return = following[episode]
            if next_position != position + 1:
                raise ValueError(f"episode {episode}: step {position + 1} is missing (or duplicated)")
            value += gamma * next_return
        following[episode] = (position, value)
        out[i] = value
    return torch.tensor(out, dtype=step_rewards.dtype, device=step_rewards.device)


def anchor_groups(step_task_groups: torch.Tensor, step_anchors: torch.Tensor) -> torch.Tensor:
    """Step-group id of every step: steps share one only if they share the task group AND the anchor state."""
    pairs = torch.stack([step_task_groups, step_anchors], dim=1)
    return torch.unique(pairs, dim=0, return_inverse=True)[1] if pairs.numel() else step_anchors


def gigpo_step_advantages(
    step_rewards: torch.Tensor,
    step_episode: torch.Tensor,
    step_index: torch.Tensor,
    step_groups: torch.Tensor,
    gamma: float = 0.95,
    norm: str = "std",
    eps: float = 1e-6,
) -> torch.Tensor:
    """GiGPO step advantage: (R_t - mean of the step group's R) [/ (std + eps) with norm="std"].

    `step_groups` are the anchor-state groups (`anchor_groups`). A step whose state no other rollout of
    its task group reached forms a group of one: advantage 0.
    """
    step_returns = discounted_returns(step_rewards, step_episode, step_index, gamma)
    mean, std, _ = group_stats(step_returns, step_groups)
    if norm == "std":
        return (step_returns - mean) / (std + eps)
    if norm == "mean":
        return step_returns - mean
    raise ValueError(f"gigpo_step_norm must be 'std' or 'mean', got {norm!r}")


@register_step_estimator("gigpo")
def gigpo_advantages(
    batch: CreditBatch,
    step_advantage_weight: float = 1.0,
    gamma: float = 0.95,
    step_norm: str = "std",
    scale_rewards: str = "group",
) -> torch.Tensor:
    """GiGPO (arXiv 2505.10978): A(i, t) = A_episode(i) + w * A_step(i, t).

    A_episode is GRPO's group advantage (with `scale_rewards`); A_step compares the discounted return
    from step t with the returns of the other steps of the same task group that saw the same state.
    """
    episode = grpo_advantages(batch.returns, batch.group_ids, scale_rewards=scale_rewards)[batch.step_episode]
    groups = anchor_groups(batch.group_ids[batch.step_episode], batch.step_anchors)
    step = gigpo_step_advantages(
        batch.step_rewards, batch.step_episode, batch.step_index, groups, gamma=gamma, norm=step_norm
    )
    return episode + step_advantage_weight * step


# ---------------------------------------------------------------------------------------- weighting
def equal_episode_weights(lengths: torch.Tensor) -> torch.Tensor:
    """Per-episode factor mean(L) / L_i: multiplied into the advantage of each of episode i's L_i steps, it
    makes every episode's summed step weight equal to the mean length (the batch's total weight is unchanged)."""
    lengths = lengths.to(torch.float32)
    return lengths.mean() / lengths.clamp(min=1)
