"""What the model is shown at each turn: the two trajectory formats.

per_step (the ALFWorld/WebShop benchmark protocol): every turn gets a fresh prompt, rendered by the chat
template from the task, the last K (observation, action) pairs and the current observation
(rollout/prompt.py). One training row per step.

concat (tool-using agents): the whole conversation is one sequence. The first prompt is rendered once;
each turn then appends the model's generated ids and the ids of the environment's answer (a user message
with the observation, or the tool messages of a tool environment), never re-rendering the history
(rollout/chat.py). One training row per episode; the mask is 1 exactly on generated ids.

A context object keeps, per live episode, the ids the next generation gets (`prompt_ids`) and the ids
added since the previous turn (`new_ids`, recorded as the step's `prompt_ids`).
"""

from __future__ import annotations

from collections.abc import Sequence

from agentrl.rollout.chat import ChatTokens
from agentrl.rollout.episode import Episode
from agentrl.rollout.prompt import PromptBuilder, Turn

TRAJECTORY_FORMATS = ("per_step", "concat")


class ToolEnvFormatError(ValueError):
    """A tool environment was asked to run per step."""


class EpisodeState:
    """Mutable state of one episode while it is played."""

    def __init__(self, episode: Episode, slot: int = 0):
        self.episode = episode
        self.slot = slot  # the env pool slot this episode runs in
        self.observation = ""
        self.info: dict = {}
        self.history: list[Turn] = []  # per_step: the turns the prompt shows
        self.last_action = ""
        self.context: list[int] = []  # concat: every id so far
        self.new_ids: list[int] = []  # concat: the ids added since the previous turn
        self.done = False


def first_message(prompt_builder: PromptBuilder, task: str, observation: str, info: dict) -> dict:
    """concat: the conversation's first message. A tool environment writes it itself (the question and what to
    do); a text environment gets the per-step protocol's first prompt (task, observation, admissible actions)."""
    if info.get("tools"):
        return {"role": "user", "content": observation}
    return {"role": "user", "content": prompt_builder.text(task, observation, [], info.get("admissible_actions", []))}


def answer_messages(prompt_builder: PromptBuilder, step_number: int, observation: str, info: dict) -> list[dict]:
    """concat: the environment's answer to a turn: its tool messages, or a user message with the observation."""
    if info.get("tool_messages") is not None:
        return list(info["tool_messages"])
    text = prompt_builder.observation_text(step_number, observation, info.get("admissible_actions", []))
    return [{"role": "user", "content": text}]


class PerStepContext:
    """Rebuilds each step's prompt from the task, the last K turns and the current observation."""

    def __init__(self, prompt_builder: PromptBuilder):
        self.prompt_builder = prompt_builder

    def start(self, state) -> None:
        if state.info.get("tools"):
            raise ToolEnvFormatError(
                f"task {state.episode.task_id}: the environment's actions are tool calls; set "
                "trajectory_format: concat (tool messages are context of one growing conversation)."
            )

    def prompt_ids(self, state) -> list[int]:
        return self.prompt_builder.token_ids(
            state.episode.task, state.observation, state.history, state.info.get("admissible_actions", [])
        )

    def new_ids(self, state, prompt_ids: list[int]) -> list[int]:
        return prompt_ids  # each step's prompt is whole

    def advance(self, state, response_ids: Sequence[int], response: str, observation: str, info: dict) -> bool:
        state.history.append(Turn(observation=state.observation, action=state.last_action))
        return False


class ConcatContext:
    """Appends ids turn by turn; ends an episode when the next turn would not fit in `max_episode_tokens`.
    `stop_ids`: the model's stop ids (rollout/generator.py `stop_token_ids`; default the tokenizer's EOS)."""

    def __init__(
        self,
        prompt_builder: PromptBuilder,
        max_episode_tokens: int,
        max_turn_tokens: int,
        stop_ids: Sequence[int] | None = None,
    ):
        self.prompt_builder = prompt_builder
        self.chat = ChatTokens(prompt_builder.tokenizer, stop_ids)
        self.max_episode_tokens = max_episode_tokens
        self.max_turn_tokens = max_turn_tokens

    def start(self, state) -> None:
        tools = state.info.get("tools") or None
        state.episode.tools = tools
        state.episode.messages = [first_message(self.prompt_builder, state.episode.task, state.observation, state.info)]
        state.context = self.chat.prompt_ids(state.episode.messages, tools)
        state.new_ids = list(state.context)
        if not self._fits(state, 0):
            state.episode.context_truncated = True
            state.done = True

    def prompt_ids(self, state) -> list[int]:
        return list(state.context)

    def new_ids(self, state, prompt_ids: list[int]) -> list[int]:
        return state.new_ids

    def advance(self, state, response_ids: Sequence[int], response: str, observation: str, info: dict) -> bool:
        """Append the turn and, unless the episode ended, the environment's answer; True if the token budget
        ends the episode here (the next turn would not fit)."""
        episode = state.episode
        state.context += list(response_ids)
        episode.messages.append({"role": "assistant", "content": response})
        if state.done:  # the environment ended the episode: its last answer is not part of the row
            return False
        answer = answer_messages(self.prompt_builder, episode.length + 1, observation, info)
        glue = self.chat.continuation_ids(response_ids, answer, episode.tools)
        if not self._fits(state, len(glue)):
            episode.context_truncated = True
            return True
        state.context += glue
        state.new_ids = glue
        episode.messages += answer
        return False

    def _fits(self, state, extra: int) -> bool:
        """Room for `extra` more ids and a whole turn of `max_turn_tokens` within `max_episode_tokens`."""
        return len(state.context) + extra + self.max_turn_tokens <= self.max_episode_tokens
