"""Batch filters and reward shaping: which groups train, and what an over-long response costs.

- DAPO dynamic sampling (arXiv 2503.14476): a group whose episode returns are all equal has advantage 0
  everywhere and teaches nothing; drop it and sample more tasks until the batch holds enough informative
  groups (the trainer runs the rounds; `informative_groups` is the test).
- StarPO-S (RAGEN, arXiv 2504.20073): keep only the top fraction of groups by return std.
- DAPO soft overlong punishment: a length penalty that ramps from 0 to -1 over the last `buffer` tokens
  of the response budget.
"""

from __future__ import annotations

import math

import torch

from agentrl.algorithms.advantages import group_stats


def informative_groups(returns: torch.Tensor, group_ids: torch.Tensor, tol: float = 1e-6) -> torch.Tensor:
    """(E,) bool: True for episodes whose group's returns are not all equal (max - min > tol)."""
    _, inverse = torch.unique(group_ids, return_inverse=True)
    groups = int(inverse.max()) + 1 if inverse.numel() else 0
    high = torch.full((groups,), -math.inf, dtype=returns.dtype).scatter_reduce(0, inverse, returns, "amax")
    low = torch.full((groups,), math.inf, dtype=returns.dtype).scatter_reduce(0, inverse, returns, "amin")
    return (high - low > tol)[inverse]


def top_variance_groups(returns: torch.Tensor, group_ids: torch.Tensor, keep_fraction: float) -> torch.Tensor:
    """(E,) bool: True for episodes of the ceil(keep_fraction x groups) groups with the largest return std.

    Ties keep the group that comes first in the batch (a stable sort), so the choice is deterministic.
    """
    if not 0.0 < keep_fraction <= 1.0:
        raise ValueError(f"starpo_keep_fraction must be in (0, 1], got {keep_fraction}")
    unique, first = _groups_in_order(group_ids)
    _, std, _ = group_stats(returns, group_ids)
    group_std = std[first]
    keep = max(1, math.ceil(keep_fraction * len(unique) - 1e-9))
    order = torch.sort(group_std, descending=True, stable=True).indices[:keep]
    kept = set(unique[order].tolist())
    return torch.tensor([int(g) in kept for g in group_ids.tolist()], dtype=torch.bool)


def _groups_in_order(group_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct group ids in order of first appearance, and the index of each one's first episode."""
    seen: dict[int, int] = {}
    for index, group in enumerate(group_ids.tolist()):
        seen.setdefault(int(group), index)
    return torch.tensor(list(seen), dtype=torch.long), torch.tensor(list(seen.values()), dtype=torch.long)


def overlong_penalty(lengths: torch.Tensor, max_length: int, buffer_length: int) -> torch.Tensor:
    """DAPO's soft overlong punishment of each response of `lengths` tokens (a value <= 0 to add to its reward).

    0                                   if L <= Lmax - Lcache
    ((Lmax - Lcache) - L) / Lcache      if Lmax - Lcache < L <= Lmax
    -1                                  if L > Lmax
    """
    if not 0 < buffer_length <= max_length:
        raise ValueError(
            f"overlong_buffer_length must be in (0, max_completion_length={max_length}], got {buffer_length}"
        )
    lengths = lengths.to(torch.float32)
    start = max_length - buffer_length
    ramp = (start - lengths) / buffer_length
    penalty = torch.where(lengths <= start, torch.zeros_like(lengths), ramp)
    return torch.where(lengths > max_length, torch.full_like(lengths, -1.0), penalty)
