"""Per-step prompts of the benchmark protocol: task + last K (observation, action) + now + actions.

One fresh user message per step (verl-agent style). The exact token ids the model sees are produced
here, once, by the tokenizer's chat template; the rollout records them and training reuses them, so a
step's training row can never drift from what the model was shown. In concat mode (rollout/contexts.py)
the first step's message is the same and each later turn adds only `observation_text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Turn:
    """One past step as the prompt shows it."""

    observation: str
    action: str


@dataclass
class PromptBuilder:
    tokenizer: object | None  # None: build text only (used to train the tiny tokenizer)
    history_length: int = 2  # K

    def text(self, task: str, observation: str, history: Sequence[Turn], admissible_actions: Sequence[str]) -> str:
        """The user message of the current step."""
        lines = [f"You are an agent in a text world. Your task is to: {task}"]
        recent = list(history)[-self.history_length :] if self.history_length > 0 else []
        if recent:
            first = len(history) - len(recent) + 1
            lines.append(f"You have taken {len(history)} steps. Your last {len(recent)} observations and actions:")
            for number, turn in enumerate(recent, start=first):
                lines.append(f"[Observation {number}: {turn.observation.strip()}] [Action {number}: {turn.action}]")
        lines.append(f"You are now at step {len(history) + 1}. Current observation: {observation.strip()}")
        if admissible_actions:
            quoted = ", ".join(f'"{action}"' for action in admissible_actions)
            lines.append(f"Your admissible actions are: [{quoted}]")
        lines.append(
            "Think step by step inside <think> </think>, then give one admissible action inside <action> </action>."
        )
        return "\n".join(lines)

    def observation_text(self, step_number: int, observation: str, admissible_actions: Sequence[str]) -> str:
        """concat mode: the user message answering a turn (the history is already in the context)."""
        lines = [f"You are now at step {step_number}. Current observation: {observation.strip()}"]
        if admissible_actions:
            quoted = ", ".join(f'"{action}"' for action in admissible_actions)
            lines.append(f"Your admissible actions are: [{quoted}]")
        return "\n".join(lines)

    def messages(self, task, observation, history, admissible_actions) -> list[dict]:
        return [{"role": "user", "content": self.text(task, observation, history, admissible_actions)}]

    def token_ids(self, task, observation, history, admissible_actions) -> list[int]:
        """The exact prompt ids sent to the model: the chat template with the assistant header appended."""
        messages = self.messages(task, observation, history, admissible_actions)
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):  # some tokenizers return a BatchEncoding
            ids = ids["input_ids"]
        return list(ids)
