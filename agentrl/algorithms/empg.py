"""EMPG: Entropy-Modulated Policy Gradients (arXiv 2509.09265).

The gradient of log pi with respect to the logits has expected squared norm 1 - sum_a pi(a)^2: confident
steps get small updates, uncertain steps large noisy ones. EMPG rescales each step's advantage by its
(normalised) step entropy and adds a bonus for steps that lead to a confident next step:

    Hn_t   = (H_t - min H) / (max H - min H + 1e-8)          min/max over every step of the global batch
    g_t    = exp(-k Hn_t) / mean_batch exp(-k Hn)             so mean g = 1
    f_t    = exp(-k' Hn_{t+1})  (next step of the same episode; 0 for an episode's last step)
    A_mod  = A_t * g_t + zeta * f_t
    A_final = A_mod - mean_batch A_mod                        zero-mean, no division by the std

H_t is the step entropy under the rollout policy: the mean token entropy over the step's generated tokens.
Under torch.distributed every batch statistic (min, max, both means) runs over all ranks; an episode's steps
must live on one rank (they do: groups stay whole on a rank), so the next-step lookup is local.
"""

from __future__ import annotations

import torch

from agentrl.algorithms.distributed import global_max, global_mean, global_min

EPS = 1e-8


def next_step_index(episode_ids: torch.Tensor, step_ids: torch.Tensor) -> torch.Tensor:
    """For every step, the index of the step t+1 of the same episode, or -1 if it is the episode's last."""
    keys = list(zip(episode_ids.tolist(), step_ids.tolist(), strict=True))
    position = {key: index for index, key in enumerate(keys)}
    if len(position) != len(keys):
        raise ValueError("empg: two steps share the same (episode_id, step_id); episode ids must be unique")
    following = [position.get((episode, step + 1), -1) for episode, step in keys]
    return torch.tensor(following, dtype=torch.long, device=episode_ids.device)


def empg_terms(
    advantages: torch.Tensor,
    entropies: torch.Tensor,
    episode_ids: torch.Tensor,
    step_ids: torch.Tensor,
    k: float = 1.0,
    k_future: float = 1.0,
    zeta: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(modulated advantages, g, f), each one entry per step, in the order the steps were given."""
    entropies = entropies.to(advantages.dtype)
    low, high = global_min(entropies), global_max(entropies)
    normalised = (entropies - low) / (high - low + EPS)
    confidence = torch.exp(-k * normalised)
    g = confidence / global_mean(confidence)
    following = next_step_index(episode_ids, step_ids)
    has_next = following >= 0
    f = torch.where(has_next, torch.exp(-k_future * normalised[following.clamp(min=0)]), torch.zeros_like(g))
    modulated = advantages * g + zeta * f
    return modulated - global_mean(modulated), g, f


def empg_advantages(
    advantages: torch.Tensor,
    entropies: torch.Tensor,
    episode_ids: torch.Tensor,
    step_ids: torch.Tensor,
    k: float = 1.0,
    k_future: float = 1.0,
    zeta: float = 0.1,
) -> torch.Tensor:
    """EMPG-modulated per-step advantages; every input is 1-D with one entry per step, in any order."""
    return empg_terms(advantages, entropies, episode_ids, step_ids, k=k, k_future=k_future, zeta=zeta)[0]
