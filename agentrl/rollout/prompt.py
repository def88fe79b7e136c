"""Per-step prompts of the benchmark protocol: task + last K (observation, action) + now + actions.

One fresh user message per step (verl-agent style). The exact token ids the model sees are produced
here, once, by the tokenizer's chat template; the rollout records them and training reuses them, so a
step's training row can never drift from what the model was shown. In concat mode (rollout/contexts.py)
the first step's message is the same and each later turn adds only `observation_text`. The words come from a
prompt template (rollout/prompt_templates.py, recipe key `prompt_template`); the default is the generic text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentrl.rollout.prompt_templates import (
    DEFAULT_TEMPLATE,
    PromptTemplate,
    fill,
    load_prompt_template,
    quoted_list,
)


@dataclass(frozen=True)
class Turn:
    """One past step as the prompt shows it."""

    observation: str
    action: str


@dataclass
class PromptBuilder:
    tokenizer: object | None  # None: build text only (used to train the tiny tokenizer)
    history_length: int = 2  # K
    # the words of the message (rollout/prompt_templates.py): a built-in name, a YAML file, or a PromptTemplate
    template: PromptTemplate | str | None = DEFAULT_TEMPLATE

    def __post_init__(self) -> None:
        self.template = load_prompt_template(self.template)

    def _step_fields(self, observation: str, steps_taken: int, admissible_actions: Sequence[str]) -> dict:
        return {
            "observation": observation.strip(),
            "step_number": steps_taken + 1,
            "steps_taken": steps_taken,
            "admissible_actions": quoted_list(admissible_actions),
        }

    def text(self, task: str, observation: str, history: Sequence[Turn], admissible_actions: Sequence[str]) -> str:
        """The user message of the current step."""
        template = self.template
        recent = list(history)[-self.history_length :] if self.history_length > 0 else []
        first = len(history) - len(recent) + 1  # the number of the oldest turn shown
        fields = {"task": task, "history_count": len(recent)} | self._step_fields(
            observation, len(history), admissible_actions
        )
        turns = "\n".join(
            fill(template.turn, {"number": number, "observation": turn.observation.strip(), "action": turn.action})
            for number, turn in enumerate(recent, start=first)
        )
        fields["history"] = fill(template.history, fields | {"turns": turns}) if recent else ""
        fields["actions"] = fill(template.actions, fields) if admissible_actions else ""
        return fill(template.prompt, fields)

    def observation_text(self, step_number: int, observation: str, admissible_actions: Sequence[str]) -> str:
        """concat mode: the user message answering a turn (the history is already in the context)."""
        fields = self._step_fields(observation, step_number - 1, admissible_actions)
        fields["actions"] = fill(self.template.actions, fields) if admissible_actions else ""
        return fill(self.template.answer, fields)

    def messages(self, task, observation, history, admissible_actions) -> list[dict]:
        return [{"role": "user", "content": self.text(task, observation, history, admissible_actions)}]

    def token_ids(self, task, observation, history, admissible_actions) -> list[int]:
        """The exact prompt ids sent to the model: the chat template with the assistant header appended."""
        messages = self.messages(task, observation, history, admissible_actions)
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):  # some tokenizers return a BatchEncoding
            ids = ids["input_ids"]
        return list(ids)
