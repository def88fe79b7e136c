"""HouseholdEnv: the TextEnv of the household task family (one class; the variants differ by WorldSpec)."""

from __future__ import annotations

from typing import Any

from envs.base import SPLITS, TextEnv, UnknownTaskError
from envs.household.commands import Command, admissible_commands, apply, describe_room
from envs.household.expert import expert_action
from envs.household.state import State
from envs.household.world import Task, WorldSpec, make_task

INVALID = "Nothing happens."


class HouseholdEnv(TextEnv):
    """Rooms of numbered receptacles holding numbered objects; the agent must put one object in place.

    Task ids read "{name}/{split}/{index:05d}"; a task's content is a pure function of its id.
    """

    def __init__(
        self,
        name: str,
        spec: WorldSpec,
        max_steps: int,
        reward_on_win: float = 1.0,
        num_train_tasks: int = 2000,
        num_eval_in_tasks: int = 200,
        num_eval_out_tasks: int = 200,
    ) -> None:
        if max_steps < 1:
            raise ValueError(f"{name}: max_steps must be at least 1, got {max_steps}")
        self.name = name
        self.spec = spec
        self.max_steps = max_steps
        self.reward_on_win = float(reward_on_win)
        self._split_sizes = {"train": num_train_tasks, "eval_in": num_eval_in_tasks, "eval_out": num_eval_out_tasks}
        self._task: Task | None = None
        self._state: State | None = None
        self._admissible: dict[str, Command] = {}
        self._steps = 0
        self._done = False

    def task_ids(self, split: str) -> list[str]:
        if split not in self._split_sizes:
            raise ValueError(f"{self.name}: unknown split {split!r}; splits are {SPLITS}")
        return [f"{self.name}/{split}/{index:05d}" for index in range(self._split_sizes[split])]

    def _reset(self, task_id: str) -> tuple[str, dict[str, Any]]:
        self._task = make_task(task_id, self._split_of_id(task_id), self.spec)
        self._state = State.start(self._task)
        self._steps = 0
        self._done = False
        task_line = (
            self._task.text if self._task.text.endswith(".") else self._task.text + "."
        )  # hinted texts end in "."
        observation = f"{describe_room(self._task.receptacles)}\n\nYour task is to: {task_line}"
        return observation, self._info(valid=True)

    def step(self, action: str) -> tuple[str, float, bool, dict[str, Any]]:
        if self._state is None:
            raise RuntimeError("call reset before step")
        if self._done:
            raise RuntimeError("episode is over; call reset")
        command = self._admissible.get(" ".join(str(action).lower().split()))
        observation = INVALID if command is None else apply(self._state, command)
        self._steps += 1
        won = self._state.goal_reached(self._task)
        self._done = won or self._steps >= self.max_steps
        return observation, self.reward_on_win if won else 0.0, self._done, self._info(valid=command is not None)

    def _info(self, valid: bool) -> dict[str, Any]:
        # Cached for the next step(), which accepts exactly these texts.
        self._admissible = admissible_commands(self._state, self.spec.has_treatments)
        return {
            "task": self._task.text,
            "task_type": self._task.task_type,
            "task_id": self._task.task_id,
            "admissible_actions": list(self._admissible),
            "won": self._state.goal_reached(self._task),
            "valid": valid,
            "anchor": self._state.anchor(),
            "expert_action": expert_action(self._state, self._task),
        }

    def _split_of_id(self, task_id: str) -> str:
        """The split named inside `task_id`, checked cheaply against this env's name and split sizes."""
        parts = task_id.split("/") if isinstance(task_id, str) else []
        if len(parts) == 3 and parts[0] == self.name and parts[1] in self._split_sizes and parts[2].isdigit():
            index = int(parts[2])
            if index < self._split_sizes[parts[1]] and parts[2] == f"{index:05d}":
                return parts[1]
        raise UnknownTaskError(
            f"{self.name}: unknown task id {task_id!r}; ids look like {self.name}/train/00042 "
            f"and come from env.task_ids(split) for split in {SPLITS}"
        )
