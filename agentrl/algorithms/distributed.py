"""Batch statistics over every rank: reductions that are plain local ones in a single process.

Any function that normalises over "the batch" must see the global batch, or two processes would train
on different advantages than one process does on the same data.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _all_reduce(value: torch.Tensor, op) -> torch.Tensor:
    if is_distributed():
        value = value.clone()
        dist.all_reduce(value, op=op)
    return value


def global_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum of every rank's entries."""
    return _all_reduce(values.sum(), dist.ReduceOp.SUM)


def sum_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """Entry-wise sum of the same-shaped `values` of every rank (not summed over the entries)."""
    return _all_reduce(values, dist.ReduceOp.SUM)


def global_count(values: torch.Tensor) -> int:
    """Number of entries over every rank."""
    return int(global_sum(torch.tensor(values.numel(), device=values.device)).item())


def global_min(values: torch.Tensor) -> torch.Tensor:
    """min over every rank's entries (+inf when there are none anywhere)."""
    local = values.min() if values.numel() else torch.tensor(float("inf"), dtype=values.dtype, device=values.device)
    return _all_reduce(local, dist.ReduceOp.MIN)


def global_max(values: torch.Tensor) -> torch.Tensor:
    local = values.max() if values.numel() else torch.tensor(float("-inf"), dtype=values.dtype, device=values.device)
    return _all_reduce(local, dist.ReduceOp.MAX)


def global_mean(values: torch.Tensor) -> torch.Tensor:
    """sum over every rank's entries / their total count (0 when there are none anywhere)."""
    stats = torch.stack([values.sum(), torch.tensor(float(values.numel()), dtype=values.dtype, device=values.device)])
    stats = _all_reduce(stats, dist.ReduceOp.SUM)
    return stats[0] / stats[1].clamp(min=1)
