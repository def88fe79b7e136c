"""Training rows from episode records.

per_step (the ALFWorld/WebShop benchmark protocol): one row per step, holding that step's prompt ids
and response ids exactly as recorded; the step's advantage is written on each of its response tokens
(a (rows, tokens) tensor, TRL's per-token advantage input). The loss mask is 1 on response ids only, so
environment text (which lives in the prompt) is never trained on.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from agentrl.rollout.episode import Episode


def pad_sequences(rows: Sequence[Sequence], value, side: str, dtype=torch.long) -> torch.Tensor:
    """Stack variable-length rows into one tensor, padded with `value` on the `side` ("left" | "right")."""
    width = max((len(row) for row in rows), default=0)
    out = torch.full((len(rows), width), value, dtype=dtype)
    for index, row in enumerate(rows):
        if len(row):
            if side == "left":
                out[index, width - len(row) :] = torch.tensor(row, dtype=dtype)
            else:
                out[index, : len(row)] = torch.tensor(row, dtype=dtype)
    return out


def per_step_rows(
    episodes: Sequence[Episode],
    step_advantages: Sequence[float],
    pad_token_id: int,
    mask_truncated: bool = False,
) -> dict[str, torch.Tensor]:
    """Padded tensors with one row per step of every episode (episodes in order, steps in order).

    `step_advantages` holds one value per step in that same order. Keys: prompt_ids / prompt_mask
    (left-padded), completion_ids / completion_mask (right-padded), sampling_per_token_logps and
    rollout_entropies (right-padded, 0 beyond the response), advantages (R, T: the step's advantage on
    its response tokens, 0 on padding), episode_index (R,), step_index (R,), truncated (R,).
    """
    prompts, responses, logps, entropies = [], [], [], []
    episode_index, step_index, truncated = [], [], []
    for number, episode in enumerate(episodes):
        for position, step in enumerate(episode.steps):
            prompts.append(step.prompt_ids)
            responses.append(step.response_ids)
            logps.append(step.logprobs)
            entropies.append(step.entropies)
            episode_index.append(number)
            step_index.append(position)
            truncated.append(step.truncated)
    if len(step_advantages) != len(responses):
        raise ValueError(f"{len(step_advantages)} step advantages for {len(responses)} steps")
    completion_mask = pad_sequences([[1] * len(r) for r in responses], 0, "right", torch.long)
    advantages = torch.tensor([float(a) for a in step_advantages], dtype=torch.float32)[:, None] * completion_mask
    truncated_t = torch.tensor(truncated, dtype=torch.bool)
    if mask_truncated and len(responses):  # TRL's mask_truncated_completions, per step
        completion_mask = completion_mask * (~truncated_t).long()[:, None]
    return {
        "prompt_ids": pad_sequences(prompts, pad_token_id, "left", torch.long),
        "prompt_mask": pad_sequences([[1] * len(p) for p in prompts], 0, "left", torch.long),
        "completion_ids": pad_sequences(responses, pad_token_id, "right", torch.long),
        "completion_mask": completion_mask,
        "sampling_per_token_logps": pad_sequences(logps, 0.0, "right", torch.float32),
        "rollout_entropies": pad_sequences(entropies, 0.0, "right", torch.float32),
        "advantages": advantages,
        "episode_index": torch.tensor(episode_index, dtype=torch.long),
        "step_index": torch.tensor(step_index, dtype=torch.long),
        "truncated": truncated_t,
    }
