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

These libraries draw their randomness from the process-wide `random` and `numpy.random` generators (GEM and
TextArena reseed them in reset). Every call into the library runs inside `self.library_random`, which swaps in
this environment's own generator states and restores the caller's afterwards: the trainer's random streams are
left untouched, and the several environments the rollout pool steps in lockstep in one process cannot draw from
each other's streams, so a seed and a sequence of actions always replay the same episode.

Also shared here: the messages for a library that is not installed (`import_library`) and for a game whose data
must be downloaded at run time (`missing_data_error`).
"""

from __future__ import annotations

import importlib
import random
import re
from abc import abstractmethod
from types import ModuleType
from typing import Any

import numpy as np

from agentrl.envs.base import SPLITS, TextEnv, numbered_task_ids, parse_numbered_task_id
from agentrl.envs.registry import UnknownEnvironmentError

SPLIT_SEED_BASE = {"train": 0, "eval_in": 1_000_000, "eval_out": 2_000_000}


class LibraryRandom:
    """Context manager: the process-wide `random` / `numpy.random` states of one environment, swapped in around
    each call into its library (see the module docstring)."""

    def __init__(self) -> None:
        self._own: tuple[Any, Any] | None = None  # None until the first call: the library starts from the caller's
        self._caller: tuple[Any, Any] | None = None

    def __enter__(self) -> LibraryRandom:
        self._caller = (random.getstate(), np.random.get_state())
        if self._own is not None:
            random.setstate(self._own[0])
            np.random.set_state(self._own[1])
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._own = (random.getstate(), np.random.get_state())
        random.setstate(self._caller[0])
        np.random.set_state(self._caller[1])


def import_library(module: str, extra: str, spec: str) -> ModuleType:
    """Import an adapter's library, or raise UnknownEnvironmentError naming the pip extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if error.name == module or error.name is None:
            raise UnknownEnvironmentError(
                f"env_id {spec!r} needs the {module!r} library, which is not installed: pip install 'agentrl[{extra}]'"
            ) from None
        raise UnknownEnvironmentError(
            f"env_id {spec!r}: importing {module!r} failed ({_first_line(error)}); reinstall it with "
            f"pip install 'agentrl[{extra}]'"
        ) from None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def missing_data_error(spec: str, error: BaseException, offline_games: str) -> ValueError | None:
    """The message for a game that needs data downloaded at run time and did not get it, or None if `error` is
    not that. NLTK (Wordle, Hangman, WordSearch, ...) downloads its corpora on first use; offline the download
    fails quietly and the lookup then raises LookupError("Resource words not found ...")."""
    text = _ANSI.sub("", str(error))
    found = re.search(r"Resource\s+(\S+)\s+not found", text)
    if not isinstance(error, LookupError) or not found:
        return None
    resource = found.group(1)
    return ValueError(
        f"env_id {spec!r}: the game needs the NLTK data package {resource!r}, which it downloads at run time, and "
        f"this machine does not have it (offline, or the download failed). Download it once where there is network: "
        f"python -m nltk.downloader {resource} (or set NLTK_DATA to a folder that has it), or pick a game that needs "
        f"no downloaded data, e.g. {offline_games}."
    )


def _first_line(error: BaseException) -> str:
    text = _ANSI.sub("", str(error)).strip()
    return text.splitlines()[0] if text else type(error).__name__


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
        self.library_random = LibraryRandom()  # wrap every call into the library in it (the module docstring)

    # ------------------------------------------------------------------------------------------ subclass API
    @abstractmethod
    def _start(self, seed: int) -> tuple[str, dict[str, Any]]:
        """Start the library's episode of `seed` (self._task_id is already its task id): (observation, extra
        info), extra info may set task, admissible_actions, anchor."""

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
        self._task_id, self._steps, self._done = task_id, 0, True  # the task id is known to _start (anchors)
        with self.library_random:
            observation, extra = self._start(seed)
        self._done = False
        self._task = extra.pop("task", None) or observation
        return observation, self._info(observation, extra, reward=0.0, done=False)

    def step(self, action: str) -> tuple[str, float, bool, dict[str, Any]]:
        if self._done:
            raise RuntimeError(f"{self.name}: step after the episode ended; call reset first")
        with self.library_random:
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


__all__ = ["SPLITS", "SPLIT_SEED_BASE", "LibraryRandom", "SeededEnv", "import_library", "missing_data_error"]
