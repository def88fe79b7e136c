"""Demonstrations from a file: the SFT warm-up for environments without an expert (`sft_demonstrations:`).

A JSONL file, one demonstration per line, in one of two forms (one form per file):

    {"task_id": "my-env/train/00003", "actions": ["go north", "take key", "open door"]}
        The actions are replayed in the environment, which renders every prompt: the warm-up then teaches
        exactly the layout the policy sees in RL (per step or concat), as expert demonstrations do. For a tool
        environment each action is the JSON the environment takes ({"tool_calls": [...]}).
    {"messages": [{"role": "system", ...}, {"role": "user", ...}, {"role": "assistant", ...}, ...]}
        Chat conversations from elsewhere, rendered with the tokenizer's chat template; every assistant turn is
        trained (one row per assistant turn: the conversation before it as the prompt, the turn's content and
        EOS as the completion). Use it to teach a response format; the prompts are the file's, not agentrl's
        per-step layout.

Every mistake in the file is reported with its line number before any model loads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentrl.envs.base import TextEnv


class DemonstrationFileError(ValueError):
    """The demonstrations file is missing or malformed; the message names the line and the fix."""


@dataclass
class Demonstrations:
    path: str
    actions: dict[str, list[str]] = field(default_factory=dict)  # task id -> actions, in file order
    conversations: list[list[dict[str, Any]]] = field(default_factory=list)


def load_demonstrations(path: str | Path) -> Demonstrations:
    """Read and check a demonstrations file (see the module docstring)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise DemonstrationFileError(f"sft_demonstrations: file {str(path)!r} not found")
    demos = Demonstrations(str(path))
    with open(file) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"sft_demonstrations {str(path)!r}, line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DemonstrationFileError(f"{where}: not JSON ({error.msg}); write one JSON object per line") from None
            if isinstance(record, dict) and "actions" in record and "task_id" in record:
                actions = record["actions"]
                if not isinstance(actions, list) or not actions or not all(isinstance(a, str) for a in actions):
                    raise DemonstrationFileError(f"{where}: 'actions' must be a non-empty list of strings")
                demos.actions[str(record["task_id"])] = actions
            elif isinstance(record, dict) and isinstance(record.get("messages"), list):
                messages = record["messages"]
                if not all(isinstance(m, dict) and "role" in m and "content" in m for m in messages):
                    raise DemonstrationFileError(f"{where}: every message needs 'role' and 'content'")
                if not any(m["role"] == "assistant" for m in messages):
                    raise DemonstrationFileError(f"{where}: the conversation has no assistant turn to learn from")
                demos.conversations.append(messages)
            else:
                raise DemonstrationFileError(
                    f'{where}: write {{"task_id": ID, "actions": [...]}} or {{"messages": [...]}} (docs/environments.md)'
                )
    if demos.actions and demos.conversations:
        raise DemonstrationFileError(
            f"sft_demonstrations {str(path)!r} mixes action lines and message lines; use one form per file"
        )
    if not demos.actions and not demos.conversations:
        raise DemonstrationFileError(f"sft_demonstrations {str(path)!r} holds no demonstration")
    return demos


def check_task_ids(demos: Demonstrations, env: TextEnv) -> None:
    """Every task id of an action file must be one of the environment's train tasks."""
    train = set(env.task_ids("train"))
    unknown = [task_id for task_id in demos.actions if task_id not in train]
    if unknown:
        example = env.task_ids("train")[0] if train else "(none)"
        raise DemonstrationFileError(
            f"sft_demonstrations {demos.path!r}: task id {unknown[0]!r} is not a train task of {env.name!r} "
            f"({len(unknown)} such); ids look like {example!r} (env.task_ids('train'))"
        )


class ReplayedExpert(TextEnv):
    """`env` with `info["expert_action"]` read from recorded actions: the SFT warm-up code that reads an expert
    then works unchanged. Its train split is the recorded tasks; the expert stops (None) after the last action."""

    def __init__(self, env: TextEnv, actions: dict[str, list[str]]) -> None:
        self.env = env
        self.name = env.name
        self.max_steps = env.max_steps
        self._actions = actions
        self._pending: list[str] = []

    def task_ids(self, split: str) -> list[str]:
        return list(self._actions) if split == "train" else self.env.task_ids(split)

    def _reset(self, task_id: str) -> tuple[str, dict[str, Any]]:
        observation, info = self.env.reset(task_id)
        self._pending = list(self._actions.get(task_id, []))
        return observation, self._with_expert(info)

    def step(self, action: str) -> tuple[str, float, bool, dict[str, Any]]:
        if self._pending and action == self._pending[0]:
            self._pending.pop(0)
        else:
            self._pending = []  # off the recording: no demonstration from here on
        observation, reward, done, info = self.env.step(action)
        return observation, reward, done, self._with_expert(info)

    def _with_expert(self, info: dict[str, Any]) -> dict[str, Any]:
        return {**info, "expert_action": self._pending[0] if self._pending else None}

    def close(self) -> None:
        self.env.close()


def conversation_sft_rows(tokenizer, conversations: list[list[dict[str, Any]]]) -> list[dict]:
    """One pre-tokenized row per assistant turn, laid out as a per-step row: {"input_ids": the chat template's
    rendering of the messages before the turn (with the generation prompt) + the turn's content + EOS,
    "completion_mask": 1 exactly on the content and EOS}."""
    rows = []
    for messages in conversations:
        for turn, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            prompt = tokenizer.apply_chat_template(messages[:turn], add_generation_prompt=True, tokenize=False)
            prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            completion_ids = tokenizer(message["content"], add_special_tokens=False)["input_ids"]
            completion_ids = completion_ids + [tokenizer.eos_token_id]
            rows.append(
                {
                    "input_ids": prompt_ids + completion_ids,
                    "completion_mask": [0] * len(prompt_ids) + [1] * len(completion_ids),
                }
            )
    return rows


def has_expert(env: TextEnv) -> bool:
    """The environment names an oracle action (info["expert_action"]) at the start of its first train task."""
    return env.reset(env.task_ids("train")[0])[1].get("expert_action") is not None


def warmup_environment(env: TextEnv, sft_demonstrations: str | None, sft_warmup_steps: int) -> TextEnv:
    """The environment the warm-up (and the tiny tokenizer) reads demonstrations from: `env` itself when it has an
    expert, `env` replaying the file's actions with `sft_demonstrations`; an error naming both fixes when a warm-up
    is asked for and there is neither."""
    if sft_demonstrations:
        demos = load_demonstrations(sft_demonstrations)
        if demos.conversations:
            return env
        check_task_ids(demos, env)
        return ReplayedExpert(env, demos.actions)
    if sft_warmup_steps > 0 and not has_expert(env):
        raise DemonstrationFileError(
            f"environment {env.name!r} has no expert (info['expert_action'] is None), so sft_warmup_steps: "
            f"{sft_warmup_steps} has nothing to learn from. Give demonstrations (sft_demonstrations: FILE.jsonl, "
            "docs/environments.md) or set sft_warmup_steps: 0 and start from a model that already acts (an "
            "instruct model)."
        )
    return env
