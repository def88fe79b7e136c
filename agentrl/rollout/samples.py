"""Training rows from episode records.

per_step (the ALFWorld/WebShop benchmark protocol): one row per step, holding that step's prompt ids
and response ids exactly as recorded; the step's advantage is written on each of its response tokens
(a (rows, tokens) tensor, TRL's per-token advantage input). The loss mask is 1 on response ids only, so
environment text (which lives in the prompt) is never trained on.

concat (tool-using agents, docs/multiturn.md): one row per episode. The prompt is the first prompt; the
completion is every turn's response ids, each followed by the ids the environment's answer added to the
context, exactly as recorded (the ids the model was given). `completion_mask` is 1 on every completion id
(attention: the environment's text is context); `tool_mask` (TRL's name) is 1 exactly on the model's
generated ids, so the loss mask completion_mask * tool_mask never covers environment or tool text.
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


def loss_mask(rows: dict[str, torch.Tensor]) -> torch.Tensor:
    """The tokens the loss covers: completion_mask, times tool_mask where rows have one (concat)."""
    mask = rows["completion_mask"]
    return mask * rows["tool_mask"] if "tool_mask" in rows else mask


def scored_policy_logps(rows: Sequence[Sequence[float] | None], step_scored: Sequence[bool]) -> dict[str, torch.Tensor]:
    """{"rollout_policy_logps": (R, T)} when every step (`step_scored`) carries the policy's scored log-probs (a vLLM
    rollout whose turns were scored), else {}: the update then uses them as the old-policy log-probs."""
    if not step_scored or not all(step_scored):
        return {}
    return {"rollout_policy_logps": pad_sequences(rows, 0.0, "right", torch.float32)}


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
    prompts, responses, logps, entropies, policy = [], [], [], [], []
    episode_index, step_index, truncated = [], [], []
    for number, episode in enumerate(episodes):
        for position, step in enumerate(episode.steps):
            prompts.append(step.prompt_ids)
            responses.append(step.response_ids)
            logps.append(step.logprobs)
            entropies.append(step.entropies)
            policy.append(step.policy_logprobs)
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
    } | scored_policy_logps(policy, [p is not None for p in policy])


def concat_rows(
    episodes: Sequence[Episode],
    step_advantages: Sequence[float],
    pad_token_id: int,
    mask_truncated: bool = False,
) -> dict[str, torch.Tensor]:
    """Padded tensors with one row per episode that has steps (episodes in order).

    `step_advantages` holds one value per step (episodes, then steps in order); step t's advantage is written on
    its response ids, 0 elsewhere. Keys as `per_step_rows` plus tool_mask (R, T: 1 on generated ids) and
    token_step_index (R, T: the step of each generated id, -1 on environment ids and padding); step_index is 0
    (a row starts at step 0) and truncated (R,) marks episodes ended by the token budget. mask_truncated (TRL's
    mask_truncated_completions): a turn cut by the per-turn budget leaves the loss, and so does the whole row of an
    episode cut by `max_episode_tokens`.
    """
    if len(step_advantages) != sum(episode.length for episode in episodes):
        raise ValueError(f"{len(step_advantages)} step advantages for {sum(e.length for e in episodes)} steps")
    prompts, completions, model_masks, advantages, step_of_token, logps, entropies = ([] for _ in range(7))
    policy, step_scored = [], []  # policy: each row's scored policy log-probs (0 on environment ids)
    episode_index, truncated = [], []
    position = 0
    for number, episode in enumerate(episodes):
        if not episode.steps:
            continue
        ids, mask, advantage, steps, logp, entropy, mine = [], [], [], [], [], [], []
        for turn, step in enumerate(episode.steps):
            if turn > 0:  # the environment's answer to the previous turn: context, not trained on
                width = len(step.prompt_ids)
                ids += step.prompt_ids
                mask += [0] * width
                advantage += [0.0] * width
                steps += [-1] * width
                logp += [0.0] * width
                entropy += [0.0] * width
                mine += [0.0] * width
            width = len(step.response_ids)
            trained = not (mask_truncated and step.truncated)
            ids += step.response_ids
            mask += [int(trained)] * width
            advantage += [float(step_advantages[position + turn])] * width
            steps += [turn] * width
            logp += step.logprobs
            entropy += step.entropies
            mine += step.policy_logprobs or []
            step_scored.append(step.policy_logprobs is not None)
        position += episode.length
        if mask_truncated and episode.context_truncated:
            mask = [0] * len(mask)
        prompts.append(episode.steps[0].prompt_ids)
        completions.append(ids)
        model_masks.append(mask)
        advantages.append(advantage)
        step_of_token.append(steps)
        logps.append(logp)
        entropies.append(entropy)
        policy.append(mine)
        episode_index.append(number)
        truncated.append(episode.context_truncated)
    tool_mask = pad_sequences(model_masks, 0, "right", torch.long)
    return {
        "prompt_ids": pad_sequences(prompts, pad_token_id, "left", torch.long),
        "prompt_mask": pad_sequences([[1] * len(p) for p in prompts], 0, "left", torch.long),
        "completion_ids": pad_sequences(completions, pad_token_id, "right", torch.long),
        "completion_mask": pad_sequences([[1] * len(c) for c in completions], 0, "right", torch.long),
        "tool_mask": tool_mask,
        "sampling_per_token_logps": pad_sequences(logps, 0.0, "right", torch.float32),
        "rollout_entropies": pad_sequences(entropies, 0.0, "right", torch.float32),
        "advantages": pad_sequences(advantages, 0.0, "right", torch.float32) * tool_mask.ne(0),
        "token_step_index": pad_sequences(step_of_token, -1, "right", torch.long),
        "episode_index": torch.tensor(episode_index, dtype=torch.long),
        "step_index": torch.zeros(len(completions), dtype=torch.long),
        "truncated": torch.tensor(truncated, dtype=torch.bool),
    } | scored_policy_logps(policy, step_scored)
