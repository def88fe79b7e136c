"""The environment contract every agentrl environment follows.

Text in, text out, gym-like but with string actions:

    observation, info = env.reset(task_id)              # or env.reset(seed=...)
    observation, reward, done, info = env.step(action)

`info` always carries:
    task                the instruction (str)
    admissible_actions  list[str] of the actions that do something now (no "help"); [] if the env has none
    won                 bool, the episode's goal is reached
    valid               bool, the last action was understood and changed or inspected the state
    anchor              a hashable key of the raw state (for step-level grouping, e.g. GiGPO)
    expert_action       the oracle's next action (str) or None where the env has no oracle

and may carry (optional keys, used by evaluation and the degeneration metrics when present):
    task_type           the task family, for the per-type success breakdown papers report
    unknown_entity      bool, the last action named an object/receptacle/product that does not exist in
                        this episode (a hallucination proxy)

Tasks come in named splits with stable string ids, so a run is reproducible from its recipe.
Environments never know about the trainer; the rollout collector turns an exception raised
here into one failed episode.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

SPLITS = ("train", "eval_in", "eval_out")
INFO_KEYS = ("task", "admissible_actions", "won", "valid", "anchor", "expert_action")
OPTIONAL_INFO_KEYS = ("task_type", "unknown_entity")


class UnknownTaskError(ValueError):
    """A task id that no split of the environment contains."""


def numbered_task_ids(name: str, split: str, sizes: Mapping[str, int]) -> list[str]:
    """The ids "{name}/{split}/{index:05d}" of the sizes[split] tasks of `split`: the id scheme of the
    environments whose tasks are numbered within each split."""
    if split not in sizes:
        raise ValueError(f"{name}: unknown split {split!r}; splits are {SPLITS}")
    return [f"{name}/{split}/{index:05d}" for index in range(sizes[split])]


def parse_numbered_task_id(name: str, task_id: Any, sizes: Mapping[str, int]) -> tuple[str, int]:
    """(split, index) of an id made by `numbered_task_ids`; UnknownTaskError for anything else."""
    parts = task_id.split("/") if isinstance(task_id, str) else []
    if len(parts) == 3 and parts[0] == name and parts[1] in sizes and parts[2].isdigit():
        index = int(parts[2])
        if index < sizes[parts[1]] and parts[2] == f"{index:05d}":
            return parts[1], index
    raise UnknownTaskError(
        f"{name}: unknown task id {task_id!r}; ids look like {name}/train/00042 and come from "
        f"env.task_ids(split) for split in {SPLITS} (sizes: "
        + ", ".join(f"{split} {size}" for split, size in sizes.items())
        + ")"
    )


class TextEnv(ABC):
    """Base class of a text environment. Subclasses implement `task_ids`, `_reset` and `step`."""

    #: registry name, e.g. "household"
    name: str = ""
    #: episode step limit; the episode ends (done=True, won=False) when it is reached
    max_steps: int = 50

    @abstractmethod
    def task_ids(self, split: str) -> list[str]:
        """Stable ids of the tasks in `split` (one of SPLITS). Same list on every call and machine."""

    @abstractmethod
    def _reset(self, task_id: str) -> tuple[str, dict[str, Any]]:
        """Start the episode of `task_id`; return the first observation and the info dict."""

    @abstractmethod
    def step(self, action: str) -> tuple[str, float, bool, dict[str, Any]]:
        """Apply one action. Unknown or impossible actions are no-ops with valid=False."""

    def reset(self, task_id: str | None = None, seed: int | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode of `task_id`, or of a train task drawn with `seed` when no id is given."""
        if task_id is None:
            train = self.task_ids("train")
            task_id = random.Random(seed).choice(train)
        return self._reset(task_id)

    def split_of(self, task_id: str) -> str:
        """The split a task id belongs to; raises UnknownTaskError naming the splits otherwise."""
        for split in SPLITS:
            if task_id in set(self.task_ids(split)):
                return split
        raise UnknownTaskError(
            f"{self.name}: unknown task id {task_id!r}; ids come from env.task_ids(split) for split in {SPLITS}"
        )

    def close(self) -> None:  # noqa: B027 - optional hook, most environments hold nothing to release
        """Release resources (worker processes, files). Safe to call twice."""


def check_info(info: dict[str, Any]) -> None:
    """Raise if `info` misses a contract key: environments call nothing here, tests and wrappers do."""
    missing = [key for key in INFO_KEYS if key not in info]
    if missing:
        raise KeyError(f"env info is missing contract keys {missing}; see envs/base.py")
