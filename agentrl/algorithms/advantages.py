"""Episode-level advantage estimators: pure functions on tensors, registered by name.

`estimator(returns, group_ids, **options) -> advantages`, all 1-D with one entry per episode.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

ESTIMATORS: dict[str, Callable[..., torch.Tensor]] = {}


def register_estimator(name: str):
    def decorate(function):
        ESTIMATORS[name] = function
        return function

    return decorate


def group_stats(returns: torch.Tensor, group_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-episode mean, unbiased std and size of its group."""
    _, inverse = torch.unique(group_ids, return_inverse=True)
    groups = int(inverse.max()) + 1 if inverse.numel() else 0
    size = torch.zeros(groups, dtype=returns.dtype).index_add_(0, inverse, torch.ones_like(returns))
    mean = torch.zeros(groups, dtype=returns.dtype).index_add_(0, inverse, returns) / size
    squares = torch.zeros(groups, dtype=returns.dtype).index_add_(0, inverse, (returns - mean[inverse]) ** 2)
    std = torch.sqrt(squares / (size - 1).clamp(min=1))  # Bessel-corrected, as TRL's nanstd
    return mean[inverse], std[inverse], size[inverse]


@register_estimator("grpo")
def grpo_advantages(
    returns: torch.Tensor, group_ids: torch.Tensor, scale_rewards: str = "group", eps: float = 1e-4
) -> torch.Tensor:
    """A_i = (R_i - mean_group R) / (std + eps), with TRL's `scale_rewards` semantics.

    scale_rewards: "group" (std of the episode's group), "batch" (std of the whole batch) or "none"
    (mean-centred only, as Dr. GRPO).
    """
    mean, group_std, _ = group_stats(returns, group_ids)
    centred = returns - mean
    if scale_rewards == "group":
        return centred / (group_std + eps)
    if scale_rewards == "batch":
        batch_std = returns.std() if returns.numel() > 1 else torch.zeros(())
        return centred / (batch_std + eps)
    if scale_rewards == "none":
        return centred
    raise ValueError(f"scale_rewards must be 'group', 'batch' or 'none', got {scale_rewards!r}")


def compute_advantages(name: str, returns: torch.Tensor, group_ids: torch.Tensor, **options) -> torch.Tensor:
    if name not in ESTIMATORS:
        raise ValueError(f"unknown advantage_estimator {name!r}; choose one of {sorted(ESTIMATORS)}")
    return ESTIMATORS[name](returns, group_ids, **options)


def equal_episode_weights(lengths: torch.Tensor) -> torch.Tensor:
    """Per-episode factor mean(L) / L_i: multiplied into the advantage of each of episode i's L_i steps, it
    makes every episode's summed step weight equal to the mean length (the batch's total weight is unchanged)."""
    lengths = lengths.to(torch.float32)
    return lengths.mean() / lengths.clamp(min=1)
