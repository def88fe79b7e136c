"""ScienceWorldTextEnv: the TextEnv over ScienceWorld's 30 tasks, one simulator (JVM) per env instance."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from agentrl.envs.base import SPLITS, TextEnv, UnknownTaskError
from agentrl.envs.scienceworld.engine import require_scienceworld, start_jvm
from agentrl.envs.scienceworld.splits import VARIATION_COUNTS, variations
from agentrl.envs.templates import TemplateMatcher, names_unknown_entity

# The simulator's answers to input it could not turn into an action (no state change, no time passes).
NOT_UNDERSTOOD = ("No known action matches that input.", "Unknown action.", "Ambiguous request")
# Present in every room and never the object of a useful one-object action: left out of the compact list.
_EVERYWHERE = frozenset({"agent", "air"})
_ELECTRICAL = ("power-component", "conductivity")
ADMISSIBLE_MODES = ("compact", "full", "none")


class ScienceWorldTextEnv(TextEnv):
    """ScienceWorld (scienceworld==1.2.3): 30 science tasks, many variations each, dense 0-100 scores.

    Task ids read "scienceworld/<split>/<task name>/<variation:04d>" with the engine's variation index.

    Score and reward: the engine's score s_t (0-100; negative when the task failed, e.g. focusing on the
    wrong object) is normalised as p_t = max(s_t, 0) / 100 in [0, 1]. reward="delta" (default) pays
    r_t = p_t - p_{t-1} every step, so the return is the final p_T; reward="final" pays p_T on the last
    step only. won = the engine marked the task completed with s_t = 100; a negative score ends the
    episode as lost.
    """

    def __init__(
        self,
        max_steps: int = 100,
        reward: str = "delta",
        admissible: str = "compact",
        expert: bool = True,
        simplifications: str = "",
        task_names: Sequence[str] | None = None,
        variations_per_task: int | None = None,
    ) -> None:
        if max_steps < 1:
            raise ValueError(f"scienceworld: max_steps must be at least 1, got {max_steps}")
        if reward not in ("delta", "final"):
            raise ValueError(f"scienceworld: reward must be 'delta' or 'final', got {reward!r}")
        if admissible not in ADMISSIBLE_MODES:
            raise ValueError(f"scienceworld: admissible must be one of {ADMISSIBLE_MODES}, got {admissible!r}")
        names = list(task_names) if task_names is not None else sorted(VARIATION_COUNTS)
        unknown = [name for name in names if name not in VARIATION_COUNTS]
        if unknown:
            raise ValueError(f"scienceworld: unknown task names {unknown}; known: {sorted(VARIATION_COUNTS)}")
        self.name = "scienceworld"
        self.max_steps = max_steps
        self.reward_mode = reward
        self.admissible_mode = admissible
        self.with_expert = expert
        self.simplifications = simplifications
        self.task_names = names
        self.variations_per_task = variations_per_task
        self._engine_class = require_scienceworld()
        self._engine = None  # started on the first reset: a JVM takes 1-3 s, reused for every later episode
        self._gold: dict[str, list[str]] = {}  # task id -> gold path (the worlds are deterministic per variation)
        self._task_id = ""
        self._task_name = ""
        self._task_text = ""
        self._matcher: TemplateMatcher | None = None
        self._referents: set[str] = set()
        self._gold_path: list[str] = []
        self._gold_next: int | None = None  # index of the expert's next gold action; None once off the path
        self._progress = 0.0
        self._steps = 0
        self._done = False
        self._won = False

    # ----------------------------------------------------------------------------------------- tasks
    def task_ids(self, split: str) -> list[str]:
        if split not in SPLITS:
            raise ValueError(f"scienceworld: unknown split {split!r}; splits are {SPLITS}")
        ids = []
        for task in self.task_names:
            indices = variations(task, split)[: self.variations_per_task]
            ids += [f"scienceworld/{split}/{task}/{variation:04d}" for variation in indices]
        return ids

    def _parse(self, task_id: Any) -> tuple[str, int]:
        parts = task_id.split("/") if isinstance(task_id, str) else []
        if len(parts) == 4 and parts[0] == self.name and parts[1] in SPLITS and parts[3].isdigit():
            split, task, variation = parts[1], parts[2], int(parts[3])
            if task in self.task_names and parts[3] == f"{variation:04d}":
                if variation in variations(task, split)[: self.variations_per_task]:
                    return task, variation
        raise UnknownTaskError(
            f"scienceworld: unknown task id {task_id!r}; ids look like scienceworld/train/boil/0003 (task name, "
            f"then the engine's variation index within the split) and come from env.task_ids(split) for split "
            f"in {SPLITS}"
        )

    # ------------------------------------------------------------------------------------ episodes
    @property
    def engine(self) -> Any:
        if self._engine is None:
            self._engine = start_jvm(self._engine_class)
        return self._engine

    def _reset(self, task_id: str) -> tuple[str, dict[str, Any]]:
        task, variation = self._parse(task_id)
        engine = self.engine
        # load() builds the task's world afresh (deterministic per variation). The gold path is generated
        # once per task id (up to ~10 s for the genetics tasks) and reused: any gold path solves the world.
        need_gold = self.with_expert and task_id not in self._gold
        engine.load(task, variation, self.simplifications, generateGoldPath=need_gold)
        if need_gold:
            self._gold[task_id] = list(engine.get_gold_action_sequence())
        self._gold_path = self._gold.get(task_id, [])
        self._gold_next = 0 if self.with_expert else None
        self._task_id, self._task_name = task_id, task
        templates = engine.get_possible_actions()
        self._task_text = engine.get_task_description().strip()
        if self.admissible_mode == "compact":
            # The compact list leaves out two-object actions: name their forms once, with the task.
            pairs = sorted(template for template in templates if template.count("OBJ") > 1)
            self._task_text += f" (Also possible, not listed: {', '.join(pairs)}.)"
        self._matcher = TemplateMatcher(templates, "OBJ")
        self._referents = self._all_referents()
        self._progress = 0.0
        self._steps = 0
        self._done = self._won = False
        # The free `look` (no simulated time passes) is the first observation.
        return engine.look().strip(), self._info(valid=True)

    def step(self, action: str) -> tuple[str, float, bool, dict[str, Any]]:
        if not self._task_id:
            raise RuntimeError("call reset before step")
        if self._done:
            raise RuntimeError("episode is over; call reset")
        command = " ".join(str(action).lower().split())
        server = self.engine.server  # the simulator itself: the Python wrapper's step() would also list
        observation = str(server.step(command))  # every valid action (50-200 ms) whether or not we need it
        score = 100.0 * float(server.getScore())
        completed = bool(server.getCompleted())
        self._steps += 1
        valid = not observation.startswith(NOT_UNDERSTOOD)
        self._advance_expert(command, valid)

        progress = max(score, 0.0) / 100.0
        self._won = completed and score >= 100.0
        lost = score < 0
        self._done = self._won or lost or completed or self._steps >= self.max_steps
        if self.reward_mode == "delta":
            reward = progress - self._progress
        else:
            reward = progress if self._done else 0.0
        self._progress = progress
        info = self._info(valid=valid)
        info["unknown_entity"] = not valid and self._names_unknown_entity(command)
        return observation.strip(), reward, self._done, info

    def _advance_expert(self, command: str, valid: bool) -> None:
        """Follow the gold path: its next action, or a command the simulator did not understand, keep the
        expert on it; any other action may change the world in ways the fixed path does not expect."""
        if self._gold_next is None or not valid:
            return
        if self._gold_next < len(self._gold_path) and command == self._gold_path[self._gold_next].lower():
            self._gold_next += 1
        else:
            self._gold_next = None

    def _info(self, valid: bool) -> dict[str, Any]:
        expert = None
        if not self._done and self._gold_next is not None and self._gold_next < len(self._gold_path):
            expert = self._gold_path[self._gold_next]
        return {
            "task": self._task_text,
            "task_type": self._task_name,
            "task_id": self._task_id,
            "admissible_actions": self._admissible_actions(),
            "won": self._won,
            "valid": valid,
            "anchor": self._anchor(),
            "expert_action": expert,
            "unknown_entity": False,
            "score": self._progress,
        }

    # ------------------------------------------------------------------------------- action lists
    def _admissible_actions(self) -> list[str]:
        """What `admissible` names (see the package docstring): the engine's list of valid action-object
        combinations is 400-9000 strings, mostly "connect X to Y" and "move X to Y" pairs."""
        if self.admissible_mode == "none":
            return []
        if self.admissible_mode == "full":
            return sorted(set(self.engine.get_valid_action_object_combinations()))
        electrical = any(marker in self._task_name for marker in _ELECTRICAL)
        compact = set()
        for entry in self.engine.get_valid_action_object_combinations_with_templates():
            if len(entry["obj_ids"]) > 1:
                continue
            action = entry["action"]
            arguments = self._matcher.arguments(action) or []
            if any(argument in _EVERYWHERE for argument in arguments):
                continue
            if action.startswith("disconnect ") and not electrical:
                continue
            compact.add(action)
        return sorted(compact)

    def _anchor(self) -> str:
        """Digest of what the agent can observe of the world: its room and its inventory (free actions,
        no time passes). Hidden state elsewhere (a pot heating in another room) is not part of it."""
        engine = self.engine
        text = f"{engine.look()}\n{engine.inventory()}\n{self._progress}"
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    def _all_referents(self) -> set[str]:
        names = self.engine.get_all_object_ids_types_referents_LUTJSON()
        return {str(referent).lower() for entry in names.values() for referent in entry.get("referents", [])}

    def _names_unknown_entity(self, command: str) -> bool:
        """An action template fits and a slot names no object of this world (refreshed once on a miss,
        since actions create objects: mixing makes salt water, boiling makes steam)."""
        arguments = self._matcher.arguments(command)
        if not names_unknown_entity(arguments, self._is_referent):
            return False
        self._referents = self._all_referents()
        return names_unknown_entity(arguments, self._is_referent)

    def _is_referent(self, argument: str) -> bool:
        # ScienceWorld qualifies names in context ("cup containing nothing in table", "thermometer in
        # inventory"): a slot is known when some run of its words is an object's referent.
        words = argument.split()
        return any(
            " ".join(words[start:end]) in self._referents
            for start in range(len(words))
            for end in range(start + 1, len(words) + 1)
        )

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
        self._engine = None
