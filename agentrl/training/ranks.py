"""Ranks: the one way an update talks across processes.

Every collective of the update goes through here, so the rule "every rank makes the same calls in the same
order" is checked in one place. With one process each call is the plain local computation. Reductions run on
the accelerator's device (NCCL needs device tensors) in float64; results come back as Python numbers or CPU
tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from accelerate.utils import gather_object

from agentrl.algorithms.distributed import global_count, global_max, global_mean, global_min, global_sum, sum_over_ranks


class Ranks:
    def __init__(self, accelerator: Any) -> None:
        self.accelerator = accelerator

    @property
    def count(self) -> int:
        return self.accelerator.num_processes

    @property
    def index(self) -> int:
        return self.accelerator.process_index

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    def _tensor(self, values: Sequence[float] | torch.Tensor) -> torch.Tensor:
        if isinstance(values, torch.Tensor):
            return values.to(self.device)
        return torch.tensor(list(values), dtype=torch.float64, device=self.device)

    # ---- concatenations
    def gather(self, values: torch.Tensor) -> torch.Tensor:
        """Every rank's `values` (the same shape on every rank) concatenated in rank order, on the CPU."""
        return self.accelerator.gather(values.to(self.device)).cpu()

    def gather_lists(self, values: Sequence[Any]) -> tuple[list[Any], slice]:
        """Every rank's list concatenated in rank order (lengths may differ) and the slice that is this rank's."""
        if self.count == 1:
            return list(values), slice(0, len(values))
        per_rank = gather_object([list(values)])
        offset = sum(len(v) for v in per_rank[: self.index])
        return [x for v in per_rank for x in v], slice(offset, offset + len(values))

    # ---- reductions over every rank's entries
    def sum(self, values: Sequence[float] | torch.Tensor) -> float:
        return global_sum(self._tensor(values)).item()

    def total(self, value: torch.Tensor) -> torch.Tensor:
        """`value` summed over every rank, kept a tensor on the device (TRL's batch normalisers read it there)."""
        return sum_over_ranks(value.to(self.device))

    def sum_each(self, values: Sequence[float] | torch.Tensor) -> list[float]:
        """Entry-wise sums of the same-length `values` of every rank."""
        return sum_over_ranks(self._tensor(values)).tolist()

    def mean(self, values: Sequence[float] | torch.Tensor) -> float:
        """Mean over every rank's entries (0 when there are none anywhere)."""
        return global_mean(self._tensor(values)).item()

    def max(self, values: Sequence[float] | torch.Tensor) -> float:
        return global_max(self._tensor(values)).item()

    def min(self, values: Sequence[float] | torch.Tensor) -> float:
        return global_min(self._tensor(values)).item()

    def any(self, flag: bool) -> bool:
        return self.max([float(flag)]) > 0

    def distribution(self, prefix: str, values: torch.Tensor) -> dict[str, float]:
        """`prefix`_mean / _std / _min / _max over every rank's entries ({} when there are none anywhere)."""
        values = self._tensor(values).float()
        if global_count(values) == 0:  # nothing anywhere (every group was filtered out): no statistics, not inf
            return {}
        mean = global_mean(values)
        variance = (global_mean(values**2) - mean**2).clamp(min=0)  # Var = E[x^2] - E[x]^2
        return {
            f"{prefix}_mean": mean.item(),
            f"{prefix}_std": variance.sqrt().item(),
            f"{prefix}_min": global_min(values).item(),
            f"{prefix}_max": global_max(values).item(),
        }
