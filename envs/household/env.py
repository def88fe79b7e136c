"""HouseholdEnv: the TextEnv of the household task family (one class; the variants differ by WorldSpec)."""

from __future__ import annotations

import re
from typing import Any

from agentrl.envs.base import TextEnv, numbered_task_ids, parse_numbered_task_id
from agentrl.envs.household.commands import Command, admissible_commands, apply, describe_room
from agentrl.envs.household.expert import expert_action
from agentrl.envs.household.state import State
from agentrl.envs.household.world import Task, WorldSpec, make_task, move_target, preposition

INVALID = "Nothing happens."
_MOVE = re.compile(r"^move (.+) to (.+)$")


def _put_text(text: str) -> str:
    """ "move apple 1 to fridge 1" -> "put apple 1 in fridge 1" (ALFWorld <= 0.3 grammar); others unchanged."""
    match = _MOVE.match(text)
    return text if match is None else f"put {match[1]} {preposition(match[2])} {match[2]}"


_NUMBERED_NAME = re.compile(r"\b[a-z]+ \d+\b")  # "drawer 2", "apple 1": how every entity is named


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
        put_grammar: bool = False,
        target_moved: bool = False,
    ) -> None:
        if max_steps < 1:
            raise ValueError(f"{name}: max_steps must be at least 1, got {max_steps}")
        if target_moved and not (spec.hint or spec.listing):
            raise ValueError(
                f"{name}: target_moved needs a variant whose task text says where the target lies "
                "(household-easy or household-lookup); here the agent searches anyway, so moving it changes nothing"
            )
        self.name = name
        self.spec = spec
        self.max_steps = max_steps
        self.reward_on_win = float(reward_on_win)
        # ALFWorld <= 0.3 said "put {o} in/on {r}" where 0.4.2 says "move {o} to {r}": a real grammar change
        # between releases, and the environment shift of the Entropulse demonstration (docs/entropy.md).
        self.put_grammar = put_grammar
        # The target lies elsewhere than the task text says (world.move_target): the Entropulse revival shift, where
        # the habitual action stops paying and another one the policy can already say pays instead.
        self.target_moved = target_moved
        self._split_sizes = {"train": num_train_tasks, "eval_in": num_eval_in_tasks, "eval_out": num_eval_out_tasks}
        self._task: Task | None = None
        self._state: State | None = None
        self._admissible: dict[str, Command] = {}
        self._steps = 0
        self._done = False

    def task_ids(self, split: str) -> list[str]:
        return numbered_task_ids(self.name, split, self._split_sizes)

    def _reset(self, task_id: str) -> tuple[str, dict[str, Any]]:
        self._task = make_task(task_id, self._split_of_id(task_id), self.spec)
        if self.target_moved:
            self._task = move_target(self._task)
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
        info = self._info(valid=command is not None)
        info["unknown_entity"] = command is None and self._names_unknown_entity(str(action))
        return observation, self.reward_on_win if won else 0.0, self._done, info

    def _names_unknown_entity(self, action: str) -> bool:
        """Whether the action names a numbered thing ("drawer 9", "apple 3") that is not in this room."""
        known = set(self._task.receptacles) | {obj for obj, _ in self._task.placements}
        mentioned = _NUMBERED_NAME.findall(action.lower())
        return any(not any(name == k or k.endswith(" " + name) for k in known) for name in mentioned)

    def _info(self, valid: bool) -> dict[str, Any]:
        # Cached for the next step(), which accepts exactly these texts.
        self._admissible = admissible_commands(self._state, self.spec.has_treatments)
        expert = expert_action(self._state, self._task)
        if self.put_grammar:
            self._admissible = dict(sorted((_put_text(text), command) for text, command in self._admissible.items()))
            expert = expert and _put_text(expert)
        return {
            "task": self._task.text,
            "task_type": self._task.task_type,
            "task_id": self._task.task_id,
            "admissible_actions": list(self._admissible),
            "won": self._state.goal_reached(self._task),
            "valid": valid,
            "anchor": self._state.anchor(),
            "expert_action": expert,
        }

    def _split_of_id(self, task_id: str) -> str:
        """The split named inside `task_id`, checked cheaply against this env's name and split sizes."""
        return parse_numbered_task_id(self.name, task_id, self._split_sizes)[0]
