"""Rows -> micro-batches whose weighted TRL losses sum to TRL's loss over the whole batch at once.

The number of rows varies with episode length, so the update walks them in micro-batches of `micro_batch_rows`
and accumulates gradients. Each micro-batch's loss is TRL's own `_compute_loss` on it, times a weight that
undoes TRL's per-micro-batch normaliser (agentrl.trl_seam.LOSS_NORMALISERS). Rows are sorted by length so a
micro-batch carries little padding; with several processes every micro-batch has exactly `micro_batch_rows`
rows (TRL gathers per-row tensors, which needs equal shapes), the missing ones inert.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch

from agentrl.rollout.samples import loss_mask
from agentrl.trl_seam import LOSS_NORMALISERS

# Per-row tensors aligned with the completion columns (trimmed with them).
COMPLETION_ALIGNED = (
    "advantages",
    "completion_ids",
    "completion_mask",
    "tool_mask",
    "token_step_index",
    "sampling_per_token_logps",
    "rollout_entropies",
    "rollout_policy_logps",
    "old_per_token_logps",
    "ref_per_token_logps",
    "importance_sampling_ratio",  # (R, T) per token; (R, 1) per sequence keeps its one column
)


def micro_batches(
    rows: dict[str, Any],
    *,
    size: int,
    processes: int,
    loss_type: str,
    seal: bool,
    keep_unit_order: bool,
    skip_zero_advantage: bool,
) -> list[tuple[dict[str, Any], float]]:
    """The rows in micro-batches of at most `size` rows, each with the weight that makes the sum exact.

    seal: whole SEAL units per micro-batch (`keep_unit_order`: in row order, so a task group's episodes sit side
    by side). skip_zero_advantage: leave out rows whose advantages are all 0 (exact when such a row adds nothing:
    no KL term, no entropy bonus, no SEAL; it still counts in the batch's denominators).
    """
    lengths = rows["prompt_mask"].sum(1) + rows["completion_mask"].sum(1)
    if seal:
        chunks = pack_units(rows["seal_units"], lengths.cpu(), size, keep_order=keep_unit_order)
    else:
        order = torch.argsort(lengths, stable=True)
        if skip_zero_advantage:
            order = order[rows["advantages"][order].ne(0).any(dim=1)]
        chunks = list(order.split(size)) if order.numel() else []
    result = []
    for chunk in chunks:
        micro = trim_padding(select_rows(rows, chunk))
        if processes > 1:
            micro = pad_rows(micro, size)
        result.append((micro, micro_batch_weight(micro, rows, loss_type, processes)))
    return result


def micro_batch_weight(micro: dict[str, Any], rows: dict[str, Any], loss_type: str, processes: int) -> float:
    """Weight of a micro-batch's TRL loss so the weighted sum is TRL's loss over the whole batch.

    Per-row normalisers (grpo, dr_grpo, ...): TRL divides by the B rows of the micro-batch, so w = B * P / rows_global.
    Per-token (bnpo): w = tokens_in_micro * P / tokens_global. Whole-batch tokens (dapo, cispo, vespo): w = 1, as TRL
    already divides by num_items_in_batch / P. P = number of processes: DDP averages the gradients over ranks.
    """
    normaliser = LOSS_NORMALISERS.get(loss_type)
    if normaliser == "rows":
        return micro["completion_ids"].size(0) * processes / rows["num_rows_in_batch"].item()
    if normaliser == "tokens":
        return loss_mask(micro).sum().item() * processes / max(rows["num_items_in_batch"].item(), 1)
    if normaliser == "batch_tokens":
        return 1.0
    raise ValueError(f"loss_type {loss_type!r} is not supported by agentrl's row micro-batching")


def micro_batch_entropy_coef(
    coef: float, micro: dict[str, Any], weight: float, rows: dict[str, Any], processes: int
) -> float:
    """TRL's entropy_coef for one micro-batch, so the weighted sum is coef * H over the whole batch.

    TRL 1.16 subtracts entropy_coef * (S_m / n_m): S_m the sum of the micro-batch's token entropies over its
    effective mask, n_m that mask's token count. The effective mask is the loss mask (completion x tool mask) as
    long as top_entropy_quantile is 1, which the config requires. The trainer multiplies the micro-batch loss by
    w_m. Summed over micro-batches (and averaged over the P ranks by DDP) that must equal c * (sum of all S_m) / N,
    N = loss tokens of all ranks, hence entropy_coef_m = c * n_m * P / (N * w_m).
    """
    tokens = loss_mask(micro).sum().item()
    if weight == 0.0 or tokens == 0:
        return 0.0
    total = max(rows["num_items_in_batch"].item(), 1)
    return coef * tokens * processes / (total * weight)


def per_row(value: Any) -> bool:
    """Per-row tensors have the rows first; 0-dim tensors (num_items_in_batch, ...) are batch-level."""
    return isinstance(value, torch.Tensor) and value.dim() > 0


def select_rows(rows: dict[str, Any], index: torch.Tensor) -> dict[str, Any]:
    """The rows at `index` of every per-row tensor; batch-level scalars are kept."""
    return {key: value[index] if per_row(value) else value for key, value in rows.items()}


def trim_padding(micro: dict[str, Any]) -> dict[str, Any]:
    """Drop the all-padding columns a micro-batch inherited from the whole batch.

    Prompts are left-padded (drop leading columns no row uses), completions right-padded (keep up to the
    longest attended completion). Removed columns are masked everywhere, so the loss is unchanged.
    """
    used_prompt = micro["prompt_mask"].any(0)
    first = int(used_prompt.float().argmax()) if used_prompt.any() else micro["prompt_mask"].size(1)
    width = max(int(micro["completion_mask"].sum(1).max().item()) if micro["completion_mask"].numel() else 0, 1)
    out = dict(micro)
    out["prompt_ids"] = micro["prompt_ids"][:, first:]
    out["prompt_mask"] = micro["prompt_mask"][:, first:]
    for key in COMPLETION_ALIGNED:
        if key in micro:
            out[key] = micro[key][:, :width]
    return out


def inert_rows(template: dict[str, Any], count: int, pad_token_id: int | None = None) -> dict[str, Any]:
    """`count` copies of the template's first row with an empty loss mask and advantage 0: they are run (so every
    rank makes the same calls) but add nothing to the loss or the gradient."""
    if template["completion_ids"].size(0) == 0:  # this rank collected no step at all (every reset failed)
        template = dict(template)
        for key, value in list(template.items()):
            if per_row(value):
                shape = (1,) + ((1,) if value.dim() > 1 else ())
                template[key] = torch.full(
                    shape, pad_token_id if key.endswith("_ids") else 0, dtype=value.dtype, device=value.device
                )
        template["prompt_mask"] = torch.ones_like(template["prompt_mask"])
    inert = {
        key: value[:1].repeat((count,) + (1,) * (value.dim() - 1)) if per_row(value) else value
        for key, value in template.items()
    }
    inert["completion_mask"] = torch.zeros_like(inert["completion_mask"])
    if "tool_mask" in inert:
        inert["tool_mask"] = torch.zeros_like(inert["tool_mask"])
    inert["advantages"] = torch.zeros_like(inert["advantages"])
    return inert


def pad_rows(micro: dict[str, Any], count: int) -> dict[str, Any]:
    """Append inert rows until the micro-batch has `count` rows."""
    missing = count - micro["completion_ids"].size(0)
    if missing <= 0:
        return micro
    inert = inert_rows(micro, missing)
    return {key: torch.cat([value, inert[key]]) if per_row(value) else value for key, value in micro.items()}


def pack_units(units: torch.Tensor, lengths: torch.Tensor, size: int, keep_order: bool) -> list[torch.Tensor]:
    """Row indices of micro-batches of at most `size` rows that never split a unit (a unit's rows are consecutive
    and at most `size`). Units are taken longest row first, so a micro-batch pads little, or, with `keep_order`, in
    row order, so the episodes of a task group sit side by side (supcon)."""
    _, inverse, counts = torch.unique_consecutive(units, return_inverse=True, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    longest = torch.zeros(counts.numel(), dtype=lengths.dtype).scatter_reduce(0, inverse, lengths, "amax")
    order = range(counts.numel()) if keep_order else torch.argsort(longest, stable=True).tolist()
    chunks, current = [], []
    for unit in order:
        count = int(counts[unit])
        if len(current) + count > size and current:
            chunks.append(torch.tensor(current))
            current = []
        current += range(int(starts[unit]), int(starts[unit]) + count)
    if current:
        chunks.append(torch.tensor(current))
    return chunks


def zero_loss(model) -> torch.Tensor:
    """0 x every trainable parameter: a backward that touches them all (DDP syncs) and adds no gradient."""
    return sum(p.sum() for p in model.parameters() if p.requires_grad) * 0.0


def gathered_parameters(model):
    """ZeRO-3 keeps a shard of each parameter: gather them (every rank) for `zero_loss` and its backward."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not any(hasattr(p, "ds_id") for p in params):
        return nullcontext()
    import deepspeed  # only under ZeRO-3, as TRL does

    return deepspeed.zero.GatheredParameters(params)
