"""SEAL's view of the training rows: which unit each row belongs to, its 0/1 label and its task group.

A unit is a trajectory segment of at most micro_batch_rows steps (seal_pooling: trajectory) or one step (step);
the SEAL loss (agentrl.algorithms.seal, via agentrl.seal_capture) pools a unit's hidden states. Computed with
SEAL off too, for the seal/centroid_cosine diagnostic.
"""

from __future__ import annotations

from typing import Any

import torch

from agentrl.algorithms.seal import seal_labels
from agentrl.config import AgentRLConfig
from agentrl.rollout.episode import Episode
from agentrl.rollout.samples import loss_mask
from agentrl.training.ranks import Ranks


def seal_rows(
    episodes: list[Episode],
    rows: dict[str, Any],
    returns: torch.Tensor,
    row_advantages: torch.Tensor,
    args: AgentRLConfig,
    ranks: Ranks,
) -> dict[str, torch.Tensor]:
    """Per row: the SEAL unit (local id), its label and task group; for the batch: N units, both classes present.

    Labels: success = the episode was won; reward = its return > seal_label_threshold; advantage = its mean step
    advantage > 0 (trajectory) or the step's advantage > 0 (step). `row_advantages`: one per row (concat: the
    episode's mean step advantage).
    """
    episode_of_row, step_of_row = rows["episode_index"], rows["step_index"]
    if args.seal_pooling == "step":
        keys = torch.arange(episode_of_row.numel())
    else:
        keys = episode_of_row * (int(step_of_row.max()) + 1 if step_of_row.numel() else 1)
        keys = keys + step_of_row // args.micro_batch_rows
    _, units = torch.unique_consecutive(keys, return_inverse=True)  # rows are in episode, then step order
    if args.seal_label == "advantage" and args.seal_pooling != "step":
        sums = torch.zeros(len(episodes)).index_add(0, episode_of_row, row_advantages.float())
        counts = torch.zeros(len(episodes)).index_add(0, episode_of_row, torch.ones(episode_of_row.numel()))
        advantages = (sums / counts.clamp(min=1))[episode_of_row]
    else:
        advantages = row_advantages.float()
    labels = seal_labels(
        args.seal_label,
        won=torch.tensor([float(e.won) for e in episodes])[episode_of_row] if episodes else torch.zeros(0),
        rewards=returns.float()[episode_of_row] if episodes else torch.zeros(0),
        advantages=advantages,
        threshold=args.seal_label_threshold,
    )
    # units with at least one trained token (the pooled mean needs one); labels and counts over all ranks
    count = int(units.max()) + 1 if units.numel() else 0
    tokens = torch.zeros(count).index_add(0, units, loss_mask(rows).sum(1).float())
    unit_labels = torch.zeros(count).scatter(0, units, labels)
    counted = tokens > 0
    units_in_batch, positives = ranks.sum_each([float(counted.sum()), float(unit_labels[counted].sum())])
    groups = torch.tensor([e.group_id for e in episodes], dtype=torch.long)[episode_of_row] if episodes else units
    return {
        "seal_units": units,
        "seal_labels": labels,
        "seal_groups": groups,
        "seal_units_in_batch": torch.tensor(units_in_batch),
        "seal_both_classes": torch.tensor(0 < positives < units_in_batch),
    }
