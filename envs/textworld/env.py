"""TextWorldEnv: the TextEnv over games from TextWorld's generator, played by TextWorld's own engine."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from typing import Any

from agentrl.envs.base import TextEnv, numbered_task_ids, parse_numbered_task_id
from agentrl.envs.templates import TemplateMatcher, names_unknown_entity
from agentrl.envs.textworld.engine import quiet_engine, require_textworld
from agentrl.envs.textworld.games import GameCache, Variant

# The Z-machine's prompt and status line ("\n>   -= Kitchen =-3/12") end every feedback; the agent
# sees the text before it. TextWorld's ASCII-art banner opens the first one: lines of $ | \ / _ only.
_PROMPT_AND_STATUS = re.compile(r"\n>[^\n]*\s*$")
_BANNER_LINE = re.compile(r"^[\s$|\\/_<>]*[$|\\/_][\s$|\\/_<>]*$")
_SLOT = r"\{[^}]+\}"  # TextWorld template slots: {o}, {c}, {stove} ...


def clean_feedback(text: str) -> str:
    """The game's text without the banner, the prompt and the status line."""
    text = _PROMPT_AND_STATUS.sub("", text)
    lines = [line for line in text.splitlines() if not _BANNER_LINE.match(line)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class TextWorldEnv(TextEnv):
    """Generated TextWorld games (tw-make custom, tw-simple, tw-cooking, tw-coin_collector).

    Task ids read "textworld-<variant>/<split>/<index:05d>"; see games.py for how an id becomes a game.
    Reward: `reward_on_win` when the game is won, else 0. With `intermediate_rewards=True`, every step
    also earns `progress_reward * r`, where r is TextWorld's intermediate reward: +1 if the step shortened
    the shortest winning plan, -1 if it lengthened it, 0 otherwise (and +1 on the winning step, -1 on a
    losing one). Episodes end when the game is won or lost, or after max_steps steps.
    """

    def __init__(
        self,
        variant: Variant,
        max_steps: int | None = None,
        reward_on_win: float = 1.0,
        intermediate_rewards: bool = False,
        progress_reward: float = 0.1,
        num_train_tasks: int = 100,
        num_eval_in_tasks: int = 20,
        num_eval_out_tasks: int = 20,
        cache_dir: str | os.PathLike | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = f"textworld-{variant.name}"
        self.max_steps = variant.max_steps if max_steps is None else max_steps
        if self.max_steps < 1:
            raise ValueError(f"{self.name}: max_steps must be at least 1, got {self.max_steps}")
        self.textworld = require_textworld()
        self.variant = variant
        self.games = GameCache(variant, cache_dir, settings)
        self.reward_on_win = float(reward_on_win)
        self.intermediate_rewards = intermediate_rewards
        self.progress_reward = float(progress_reward)
        self._split_sizes = {"train": num_train_tasks, "eval_in": num_eval_in_tasks, "eval_out": num_eval_out_tasks}
        self._infos = self.textworld.EnvInfos(
            admissible_commands=True,
            policy_commands=True,
            intermediate_reward=True,
            won=True,
            lost=True,
            objective=True,
            entities=True,
            command_templates=True,
        )
        self._engine = None  # the textworld Environment of the loaded game, reused across resets of it
        self._game_path: str | None = None
        self._state = None  # TextWorld GameState of the current step
        self._task_id = ""
        self._matcher: TemplateMatcher | None = None
        self._entities: frozenset[str] = frozenset()
        self._steps = 0
        self._done = False

    def task_ids(self, split: str) -> list[str]:
        return numbered_task_ids(self.name, split, self._split_sizes)

    def game_file(self, task_id: str) -> str:
        """The compiled game of `task_id` (generated and cached on first use)."""
        split, index = self._parse(task_id)
        return str(self.games.ensure(split, index))

    def _reset(self, task_id: str) -> tuple[str, dict[str, Any]]:
        path = self.game_file(task_id)
        if path != self._game_path:
            self.close()
            with quiet_engine():
                self._engine = self.textworld.start(path, self._infos)
            self._game_path = path
        with quiet_engine():  # Jericho warns when it opens the game file, at start or first reset
            self._state = self._engine.reset()
        self._task_id = task_id
        self._matcher = TemplateMatcher(self._state["command_templates"], _SLOT)
        # Directions are slot fillers too ("go {d}" is not a template, but "north" is a TextWorld entity).
        self._entities = frozenset(name.lower() for name in self._state["entities"])
        self._steps = 0
        self._done = False
        return clean_feedback(self._state["feedback"]), self._info(valid=True)

    def step(self, action: str) -> tuple[str, float, bool, dict[str, Any]]:
        if self._state is None:
            raise RuntimeError("call reset before step")
        if self._done:
            raise RuntimeError("episode is over; call reset")
        command = " ".join(str(action).lower().split())
        admissible = set(self._state["admissible_commands"])
        self._state, _, game_over = self._engine.step(command)
        self._steps += 1
        won, lost = bool(self._state["won"]), bool(self._state["lost"])
        self._done = won or lost or game_over or self._steps >= self.max_steps
        reward = self.reward_on_win if won else 0.0
        if self.intermediate_rewards:
            reward += self.progress_reward * self._state["intermediate_reward"]
        # Understood = listed as admissible, or TextWorld's state tracker recognised a game action. Its
        # private "_last_action" is set on every step; the public "last_action" keeps a stale value.
        valid = command in admissible or self._state.get("_last_action") is not None
        info = self._info(valid=valid)
        info["unknown_entity"] = not valid and names_unknown_entity(
            self._matcher.arguments(command), lambda name: name in self._entities
        )
        return clean_feedback(self._state["feedback"]), reward, self._done, info

    def _info(self, valid: bool) -> dict[str, Any]:
        state = self._state
        policy = state["policy_commands"] or []
        return {
            "task": state["objective"],
            "task_type": self.variant.name,
            "task_id": self._task_id,
            "admissible_actions": list(state["admissible_commands"]),
            "won": bool(state["won"]),
            "valid": valid,
            "anchor": self._anchor(),
            "expert_action": policy[0] if policy and not self._done else None,
            "unknown_entity": False,
        }

    def _anchor(self) -> str:
        """Digest of the set of true facts of the world (TextWorld's state tracker), not the step count."""
        facts = sorted(map(str, self._state["_facts"]))
        return hashlib.sha1("\n".join(facts).encode()).hexdigest()[:16]

    def _parse(self, task_id: Any) -> tuple[str, int]:
        return parse_numbered_task_id(self.name, task_id, self._split_sizes)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
        self._engine = None
        self._game_path = None
