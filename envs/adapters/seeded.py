"""SeededEnv: what every adapter of a seed-driven library shares (task ids, splits, the contract's info keys).

Libraries such as Gymnasium, GEM and TextArena make an episode from a seed, not from a task id. agentrl's
contract wants stable task ids in named splits, so a task here IS a seed:

    task id  "{name}/{split}/{index:05d}"       (numbered_task_ids, as agentrl's own environments)
    seed     SPLIT_SEED_BASE[split] + index      train 0.., eval_in 1_000_000.., eval_out 2_000_000..

The three seed ranges never overlap, so held-out tasks are episodes the policy never trained on (for a
library whose generator has fewer distinct episodes than that, eval tasks can still repeat train ones: say so
in that adapter). A subclass implements `_start(seed)` and `_act(action)`; this class fills the contract:

    task                the first observation (these libraries state the task there), unless _start gives one
    admissible_actions  what the subclass reports, [] when the library has none
    won                 the subclass's verdict when the library states one, else a positive terminal reward
    valid               the subclass's verdict, else True (the library accepted the action)
    anchor              (task id, the observation) unless the subclass gives a state key: equal observations
                        of one task are treated as one state (GiGPO's step groups)
    expert_action       None (no oracle): SFT warm-up needs a demonstrations file (docs/environments.md)
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from agentrl.envs.base import SPLITS, TextEnv, numbered_task_ids, parse_numbered_task_id

SPLIT_SEED_BASE = {"train": 0, "eval_in": 1_000_000, "eval_out": 2_000_000}


class SeededEnv(TextEnv):
    """A TextEnv whose tasks are seeds of a library environment (see the module docstring)."""

    def __init__(self, name: str, max_steps: int, train_size: int, eval_size: int) -> None:
        if max_steps < 1 or train_size < 1 or eval_size < 1:
            raise ValueError(
                f"{name}: max_steps, train_size and eval_size must be >= 1 (got {max_steps}, {train_size}, {eval_size})"
            )
        self.name = name
        self.max_steps = max_steps
        self._sizes = {"train": train_size, "eval_in": eval_size, "eval_out": eval_size}
        self._task_id = ""
        self._task = ""
        self._steps = 0
        self._done = True

    # ------------------------------------------------------------------------------------------ subclass API
    @abstractmethod
    def _start(self, seed: int) -> tuple[str, dict[str, Any]]:
        """Start the library's episode of `seed`: (observation, extra info), extra info may set task,
        admissible_actions, anchor."""

    @abstractmethod
    def _act(self, action: str) -> tuple[str, float, bool, dict[str, Any]]:
        """One library step: (observation, reward, done, extra info), extra info may set won, valid,
        admissible_actions, anchor."""

    # ------------------------------------------------------------------------------------------ the contract
    def task_ids(self, split: str) -> list[str]:
        return numbered_task_ids(self.name, split, self._sizes)

    def seed_of(self, task_id: str) -> int:
        split, index = parse_numbered_task_id(self.name, task_id, self._sizes)
        return SPLIT_SEED_BASE[split] + index

    def _reset(self, task_id: str) -> tuple[str, dict[str, Any]]:
        seed = self.seed_of(task_id)
        observation, extra = self._start(seed)
        self._task_id, self._steps, self._done = task_id, 0, False
        self._task = extra.pop("task", None) or observation
        return observation, self._info(observation, extra, reward=0.0, done=False)

    def step(self, action: str) -> tuple[str, float, bool, dict[str, Any]]:
        if self._done:
            raise RuntimeError(f"{self.name}: step after the episode ended; call reset first")
        observation, reward, done, extra = self._act(action)
        self._steps += 1
        done = bool(done) or self._steps >= self.max_steps
        self._done = done
        return observation, float(reward), done, self._info(observation, extra, float(reward), done)

    def _info(self, observation: str, extra: dict[str, Any], reward: float, done: bool) -> dict[str, Any]:
        won = extra.pop("won", None)
        info = {
            "task": self._task,
            "admissible_actions": list(extra.pop("admissible_actions", None) or []),
            "won": bool(won) if won is not None else (done and reward > 0),
            "valid": bool(extra.pop("valid", True)),
            "anchor": extra.pop("anchor", None) or (self._task_id, observation),
            "expert_action": None,
        }
        info.update(extra)
        return info


__all__ = ["SPLITS", "SPLIT_SEED_BASE", "SeededEnv"]
