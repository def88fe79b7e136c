"""Degeneration metrics of agent rollouts: the failure patterns that entropy eruptions leave behind.

Each metric is returned as (numerator, denominator) counts so that rates over a distributed batch are
exact sums across ranks, not means of per-rank rates.

- repeat_sentence_rate: responses in which some sentence occurs twice (reasoning stuck in a loop).
  Sentences are split at . ! ? ; and newlines, tags removed, lower-cased, whitespace collapsed;
  sentences shorter than `min_words` words are ignored, and so is the <action> block, which
  legitimately restates a plan.
- repeat_action_rate: steps (after the first) that send the same action as the previous step although
  that action changed nothing (same anchor state, or the same observation when the env has no anchor).
- invalid_action_rate: steps whose action the environment did not understand or could not apply.
- unknown_entity_rate: steps whose action names an object / receptacle / product that does not exist
  in the episode (envs report it as info["unknown_entity"]): a hallucination proxy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentrl.rollout.episode import Episode

_ACTION_BLOCK = re.compile(r"<action>.*?(</action>|$)", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z_]+>")
_SENTENCE_END = re.compile(r"[.!?;\n]+")


def sentences(text: str, min_words: int = 2) -> list[str]:
    """Normalised sentences of a response, without its <action> block."""
    text = _TAG.sub("\n", _ACTION_BLOCK.sub("\n", text))
    out = []
    for piece in _SENTENCE_END.split(text.lower()):
        words = piece.split()
        if len(words) >= min_words:
            out.append(" ".join(words))
    return out


def has_repeated_sentence(text: str, min_words: int = 2) -> bool:
    found = sentences(text, min_words)
    return len(found) != len(set(found))


def degeneration_counts(episodes: Sequence[Episode], min_words: int = 2) -> dict[str, tuple[float, float]]:
    """{metric name: (numerator, denominator)} over every step of `episodes`."""
    steps = [step for episode in episodes for step in episode.steps]
    repeat_actions = followups = 0
    for episode in episodes:
        for before, step in zip(episode.steps, episode.steps[1:], strict=False):
            followups += 1
            before_state = before.anchor if before.anchor is not None else before.observation
            state = step.anchor if step.anchor is not None else step.observation
            repeat_actions += step.action == before.action and state == before_state
    return {
        "degen/repeat_sentence_rate": (sum(has_repeated_sentence(s.response, min_words) for s in steps), len(steps)),
        "degen/repeat_action_rate": (repeat_actions, followups),
        "degen/invalid_action_rate": (sum(not s.action_valid for s in steps), len(steps)),
        "degen/unknown_entity_rate": (sum(s.unknown_entity for s in steps), len(steps)),
    }
