"""AlfworldEnv: the agentrl TextEnv over ALFWorld's own engine (one game.tw-pddl per task)."""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any

from agentrl.envs.alfworld.engine import make_engine, own_random, seeded_state
from agentrl.envs.alfworld.games import GameSet
from agentrl.envs.base import SPLITS, TextEnv, UnknownTaskError

logger = logging.getLogger(__name__)

INVALID = "Nothing happens."
BANNER = "-= Welcome to TextWorld, ALFRED! =-"
TASK_PREFIX = "Your task is to: "
# Predicates the agent's actions change (alfred.pddl effects), minus `checked`, which only records what
# was looked at: two episodes in the same anchor state have the same room, hands and object states.
DYNAMIC_PREDICATES = frozenset(
    {"atlocation", "opened", "inreceptacle", "objectatlocation", "holds", "holdsany", "isclean", "ishot", "iscool"}
    | {"ison", "istoggled", "issliced"}
)
# The command grammar of alfred.twl2 (0.4.2), plus the "put X in/on Y" of older releases; the groups are
# the entity names a command refers to, for `unknown_entity`.
COMMAND_PATTERNS = tuple(
    re.compile(pattern)
    for pattern in (
        r"^go to (.+)$",
        r"^open (.+)$",
        r"^close (.+)$",
        r"^take (.+?) from (.+)$",
        r"^move (.+?) to (.+)$",
        r"^put (.+?) (?:in/on|in|on|into) (.+)$",
        r"^(?:heat|cool|clean|slice) (.+?) with (.+)$",
        r"^use (.+)$",
        r"^examine (.+)$",
    )
)


def normalize(action: Any) -> str:
    """Lower case, single spaces: the form of ALFWorld's admissible commands."""
    return " ".join(str(action).lower().split())


def named_entities(command: str) -> list[str] | None:
    """The object/receptacle names `command` refers to, or None when it matches no command template."""
    for pattern in COMMAND_PATTERNS:
        match = pattern.match(command)
        if match:
            return list(match.groups())
    return None


class AlfworldEnv(TextEnv):
    """ALFWorld (0.4.2) text games behind the agentrl contract.

    `games` lists the game files per split (official data or generated, see games.py). Each reset loads
    the task's game.tw-pddl into the engine (skipped when the same game is reset again) and starts the
    handcoded expert. Rewards: `reward_on_win` on the step that wins, else 0 (the benchmark reports 10*won
    in some papers: set reward_on_win=10).
    """

    name = "alfworld"

    def __init__(self, games: GameSet, max_steps: int = 50, reward_on_win: float = 1.0) -> None:
        if max_steps < 1:
            raise ValueError(f"alfworld: max_steps must be at least 1, got {max_steps}")
        self.games = games
        self.max_steps = max_steps
        self.reward_on_win = float(reward_on_win)
        self._engine = make_engine()
        self._loaded: str | None = None  # gamefile now in the engine
        self._entities: frozenset[str] = frozenset()
        self._task_id: str | None = None
        self._task_type = ""
        self._task = ""
        self._random: list | None = None
        self._state: Any = None
        self._expert_action: str | None = None
        self._steps = 0
        self._done = False

    # ---- tasks -----------------------------------------------------------------------------------
    def task_ids(self, split: str) -> list[str]:
        if split not in SPLITS:
            raise ValueError(f"alfworld: unknown split {split!r}; splits are {SPLITS}")
        return [game.task_id for game in self.games.splits[split]]

    def _reset(self, task_id: str) -> tuple[str, dict[str, Any]]:
        game = self.games.find(task_id)
        if game is None:
            example = next((g.task_id for games in self.games.splits.values() for g in games), "train/<folder>/<trial>")
            raise UnknownTaskError(
                f"alfworld: unknown task id {task_id!r} in the {self.games.source} games at {self.games.root}; "
                f"ids look like {example!r} and come from env.task_ids(split) for split in {SPLITS}"
            )
        # The expert's random choices depend on the task only: replaying a task id and its actions gives
        # the same episode (EnvPool relies on this).
        self._random = seeded_state(f"agentrl-alfworld-episode:{task_id}")
        with own_random(self._random):
            if self._loaded != game.gamefile:
                self._loaded = None
                self._engine.load(game.gamefile)
                self._loaded = game.gamefile
                self._entities = frozenset(
                    info.name.strip()
                    for info in self._engine._entity_infos.values()
                    if info.type in ("object", "receptacle")
                )
            state = self._engine.reset()
        self._task_id, self._task_type = task_id, game.task_type
        self._steps, self._done = 0, False
        self._accept(state, expert_ok=True)
        observation = state.feedback.replace(BANNER, "").strip()
        self._task = observation.split(TASK_PREFIX, 1)[-1].strip().rstrip(".") if TASK_PREFIX in observation else ""
        return observation, self._info(valid=True, unknown_entity=False)

    # ---- acting ----------------------------------------------------------------------------------
    def step(self, action: str) -> tuple[str, float, bool, dict[str, Any]]:
        if self._state is None:
            raise RuntimeError("call reset before step")
        if self._done:
            raise RuntimeError("episode is over; call reset")
        command = normalize(action)
        before = self._engine.state
        expert_ok = True
        with own_random(self._random):
            try:
                self._engine.step(command)
            except Exception:
                # AlfredExpert raises after the engine moved on when the handcoded expert gives up
                # (HandCodedAgentFailed, its 200-step timeout): the step happened, only the expert is gone.
                if self._engine.state is before:
                    raise
                expert_ok = False
                logger.debug("alfworld: handcoded expert gave up on %s", self._task_id, exc_info=True)
        state = self._engine.state
        self._accept(state, expert_ok)
        self._steps += 1
        won = bool(state["won"])
        self._done = won or self._steps >= self.max_steps
        valid = state.feedback.strip() != INVALID
        entities = named_entities(command)
        unknown = entities is not None and any(name not in self._entities for name in entities)
        reward = self.reward_on_win if won else 0.0
        return state.feedback.strip(), reward, self._done, self._info(valid=valid, unknown_entity=unknown)

    def _accept(self, state: Any, expert_ok: bool) -> None:
        self._state = state
        plan = state.get("extra.expert_plan") if expert_ok else None
        action = plan[0] if plan and not state["won"] else None
        # The expert's random fallback draws from the engine's commands, "help" included; AlfredExpert
        # answers "look" for a command outside the admissible list, and "help" is outside ours.
        self._expert_action = "look" if action == "help" else action

    def _info(self, valid: bool, unknown_entity: bool) -> dict[str, Any]:
        state = self._state
        return {
            "task": self._task,
            "task_type": self._task_type,
            "task_id": self._task_id,
            "admissible_actions": [c for c in state["admissible_commands"] if c != "help"],
            "won": bool(state["won"]),
            "valid": valid,
            "unknown_entity": unknown_entity,
            "anchor": self._anchor(state),
            "expert_action": self._expert_action,
        }

    @staticmethod
    def _anchor(state: Any) -> tuple[str, ...]:
        """The dynamic PDDL facts, sorted, with the demangled names ("inreceptacle(apple 1,fridge 1)")."""
        return tuple(
            sorted(
                f"{fact.name}({','.join(arg.name.strip() for arg in fact.arguments)})"
                for fact in state["facts"]
                if fact.name in DYNAMIC_PREDICATES
            )
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):  # PddlEnv holds no process or file; nothing may fail here
            self._engine.close()
