"""Importance-sampling correction for rollouts sampled by another engine (vLLM) than the one trained.

The sampler's distribution mu (vLLM's kernels, bf16) is not exactly the trainer's pi_old, so the policy
gradient is reweighted by w = pi_old(y) / mu(y) (truncated importance sampling, Yao et al. 2025), per
token or per sequence, and either truncated (w clamped to [clip_min, clip_max]) or masked (w set to 0
outside that range). Same modes and names as TRL's `vllm_importance_sampling_mode`.
"""

from __future__ import annotations

import math

import torch

IMPORTANCE_SAMPLING_MODES = ("token_truncate", "token_mask", "sequence_truncate", "sequence_mask")


def importance_sampling_ratio(
    policy_logps: torch.Tensor,
    sampling_logps: torch.Tensor,
    mask: torch.Tensor,
    mode: str = "sequence_mask",
    clip_min: float | None = None,
    clip_max: float | None = 3.0,
) -> torch.Tensor:
    """(B, T) for token modes, (B, 1) for sequence modes.

    token:    w_t = exp(log pi_old(y_t) - log mu(y_t))
    sequence: w   = exp(sum_t mask_t * (log pi_old(y_t) - log mu(y_t)))
    A token whose sampling log-prob is unknown (NaN) counts as agreeing (difference 0).
    """
    if mode not in IMPORTANCE_SAMPLING_MODES:
        raise ValueError(f"importance sampling mode {mode!r}: use one of {IMPORTANCE_SAMPLING_MODES}")
    difference = torch.nan_to_num((policy_logps - sampling_logps) * mask, nan=0.0)
    if mode.startswith("sequence"):
        difference = difference.sum(-1, keepdim=True)
    ratio = torch.exp(difference)
    if mode.endswith("truncate"):
        return torch.clamp(ratio, min=clip_min, max=clip_max)
    low = -math.inf if clip_min is None else clip_min
    high = math.inf if clip_max is None else clip_max
    return ratio.masked_fill((ratio < low) | (ratio > high), 0.0)


def sampler_mismatch(policy_logps: torch.Tensor, sampling_logps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """|log pi_old - log mu| on the trained tokens whose sampling log-prob is known (1-D)."""
    known = mask.bool() & ~torch.isnan(sampling_logps)
    return (policy_logps - sampling_logps).abs()[known]
