"""Entropy of the policy's sampling distribution, per token and per step.

Token entropy H = -sum_v p_v log p_v with p = softmax(logits / temperature) over the FULL vocabulary, in
nats. Step entropy = mean token entropy over the tokens the model generated in that step (EMPG's H_t).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def token_entropy(logits: torch.Tensor, temperature: float = 1.0, chunk_size: int = 256) -> torch.Tensor:
    """Shannon entropy (nats) of softmax(logits / temperature) along the last dimension.

    `logits` has shape (..., V); the result has shape (...). Rows are processed `chunk_size` at a time in
    float32, so the temporary memory is chunk_size x V, never (all positions) x V. Entries of -inf (masked
    tokens) have p = 0 and contribute 0, as in the limit p log p -> 0.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    flat = logits.reshape(-1, logits.size(-1))
    out = torch.empty(flat.size(0), dtype=torch.float32, device=logits.device)
    for start in range(0, flat.size(0), chunk_size):
        scaled = flat[start : start + chunk_size].float() / temperature
        out[start : start + chunk_size] = entropy_from_log_probs(torch.log_softmax(scaled, dim=-1))
    return out.reshape(logits.shape[:-1])


def entropy_from_log_probs(log_p: torch.Tensor) -> torch.Tensor:
    """H = -sum_v p_v log p_v from normalised log-probabilities (..., V), with 0 log 0 = 0 for p = 0.

    For callers that already hold the log-softmax (the rollout recorder keeps it for the sampled
    token's log-prob), so the softmax is not computed twice.
    """
    p = log_p.exp()
    return -torch.where(p > 0, p * log_p, torch.zeros_like(p)).sum(-1)


def step_entropy(token_entropies: Sequence[float]) -> float:
    """H_step = (1 / n) sum_i H(token_i) over the step's n generated tokens (0 for an empty step)."""
    return float(sum(token_entropies) / len(token_entropies)) if len(token_entropies) else 0.0


def masked_step_entropy(entropies: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-row step entropy of a padded (B, T) batch: sum_t H_t m_t / sum_t m_t (0 for an empty row)."""
    mask = mask.to(entropies.dtype)
    return (entropies * mask).sum(-1) / mask.sum(-1).clamp(min=1)
