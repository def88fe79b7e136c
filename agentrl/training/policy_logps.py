"""The policy's log-probs around an update: scoring vLLM rollouts, the old and reference log-probs of the rows,
and the importance-sampling ratio that corrects for vLLM's sampler.

Costs (one no-grad forward each, in chunks of micro_batch_rows rows):
- vLLM rollouts are scored turn by turn only when something reads rollout entropies (EMPG, adaptive or pulse
  entropy control, `vllm_rollout_entropy`); vLLM returns the sampled token's log-prob, not the distribution's
  entropy. In concat mode each turn's scoring re-reads the whole conversation so far. The scores' log-probs are
  then the old-policy log-probs (same weights, same tokens, same context), so no second pass computes them.
- old log-probs otherwise: one pass over the rows when num_iterations > 1 or the vLLM importance-sampling
  correction is on; reference log-probs: one pass when beta > 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from agentrl.algorithms.importance import importance_sampling_ratio, sampler_mismatch
from agentrl.config import AgentRLConfig
from agentrl.rollout.samples import loss_mask, pad_sequences
from agentrl.training.ranks import Ranks

# (model, input_ids, attention_mask, logits_to_keep, compute_entropy) -> (log-probs, entropies or None)
LogpsFn = Callable[[Any, torch.Tensor, torch.Tensor, int, bool], tuple[torch.Tensor, torch.Tensor | None]]


def reads_rollout_entropies(args: AgentRLConfig) -> bool:
    """Whether anything in this run reads the entropies of the rollout's tokens (vLLM must then score them)."""
    return args.empg or args.entropy_control in ("adaptive", "pulse") or args.vllm_rollout_entropy


def score_responses(
    logps: LogpsFn,
    model: Any,
    prompts: list[list[int]],
    responses: list[list[int]],
    *,
    pad_token_id: int,
    device: torch.device,
) -> tuple[list[list[float]], list[list[float]]]:
    """The policy's log-probs and full-vocabulary entropies (at the sampling temperature) of each response."""
    if not responses:
        return [], []
    ones = [[1] * len(p) for p in prompts], [[1] * len(r) for r in responses]
    input_ids = torch.cat(
        [pad_sequences(prompts, pad_token_id, "left"), pad_sequences(responses, pad_token_id, "right")], 1
    )
    attention_mask = torch.cat([pad_sequences(ones[0], 0, "left"), pad_sequences(ones[1], 0, "right")], 1)
    width = max(len(r) for r in responses)
    log_probs, entropies = logps(model, input_ids.to(device), attention_mask.to(device), width, True)
    return (
        [row[: len(r)] for row, r in zip(log_probs.float().cpu().tolist(), responses, strict=True)],
        [row[: len(r)] for row, r in zip(entropies.float().cpu().tolist(), responses, strict=True)],
    )


def add_policy_logps(
    rows: dict[str, Any],
    *,
    logps: LogpsFn,
    model: Any,
    reference: Callable[[], Any],
    need_old: bool,
    need_ref: bool,
) -> None:
    """Add old_per_token_logps (`need_old`) and ref_per_token_logps (`need_ref`) to the rows.

    Old log-probs reuse the rollout's scores when every row has them (rollout_policy_logps); `reference()` is a
    context manager giving the reference model (the frozen copy, or the PEFT base with the adapter off)."""
    if not (need_old or need_ref) or rows["completion_ids"].size(0) == 0:
        return
    input_ids = torch.cat([rows["prompt_ids"], rows["completion_ids"]], dim=1)
    attention_mask = torch.cat([rows["prompt_mask"], rows["completion_mask"]], dim=1)
    width = rows["completion_ids"].size(1)
    with torch.no_grad():
        if need_old:
            if "rollout_policy_logps" in rows:
                rows["old_per_token_logps"] = rows["rollout_policy_logps"]
            else:
                rows["old_per_token_logps"], _ = logps(model, input_ids, attention_mask, width, False)
        if need_ref:
            with reference() as reference_model:
                rows["ref_per_token_logps"], _ = logps(reference_model, input_ids, attention_mask, width, False)


def add_importance_sampling_ratio(rows: dict[str, Any], trainer_settings: Any, ranks: Ranks) -> dict[str, float]:
    """w = pi_old / mu_vLLM on the trained tokens (TRL's loss multiplies each token's policy loss by it); returns
    the sampler-mismatch metrics. `trainer_settings`: TRL's vllm_importance_sampling_{mode, clip_min, clip_max}."""
    old, sampled, mask = rows["old_per_token_logps"], rows["sampling_per_token_logps"], loss_mask(rows)
    ratio = importance_sampling_ratio(
        old,
        sampled,
        mask,
        trainer_settings.vllm_importance_sampling_mode,
        trainer_settings.vllm_importance_sampling_clip_min,
        trainer_settings.vllm_importance_sampling_clip_max,
    )
    rows["importance_sampling_ratio"] = ratio
    trained = ratio[mask.bool()] if ratio.size(1) > 1 else ratio[mask.any(1)].flatten()
    mismatch = sampler_mismatch(old, sampled, mask).double()
    return {
        "sampling/sampling_logp_difference/mean": ranks.mean(mismatch),
        "sampling/sampling_logp_difference/max": ranks.max(mismatch),
        "sampling/importance_sampling_ratio/min": ranks.min(trained.double()),
        "sampling/importance_sampling_ratio/mean": ranks.mean(trained.double()),
        "sampling/importance_sampling_ratio/max": ranks.max(trained.double()),
    }
