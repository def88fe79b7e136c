"""Gymnasium-style text environments as agentrl TextEnvs: `env_id: gymnasium:ID` and `env_id: gem:ID`.

Both libraries speak the same API with text observations and text actions:

    observation, info = env.reset(seed=seed)                                  # (options=... for Gymnasium)
    observation, reward, terminated, truncated, info = env.step(action)       # done = terminated or truncated

A task is a seed (seeded.py: ids `{name}/{split}/{index:05d}`, train seeds 0.., eval_in 1_000_000..,
eval_out 2_000_000..); `reward` is the library's step reward, unchanged.

gymnasium:ID    gymnasium.make(ID, **kwargs). ID may be `module:Name-v0`: Gymnasium imports the module first, so
                an environment registered there with gymnasium.register needs no launcher. Observations must be
                strings. The contract keys come from the step's info dict where it has them:
                    won                 info["won"] / ["is_success"] / ["success"] / ["correct"] (first found),
                                        else a positive reward on a step that terminates the episode (not on a
                                        time-limit truncation: truncated means the clock ran out, not success)
                    valid               info["valid"], or not info["invalid_action"] / ["invalid_move"]; else True
                    admissible_actions  info["admissible_actions"] / ["admissible_commands"] / ["legal_actions"]
                                        (a list of strings), else []
                    task                the first observation; anchor: (task id, observation)
gem:ID          gem.make(ID, **kwargs), e.g. gem:game:GuessTheNumber-v0-easy. GEM's info carries no success or
                validity flag for its games (only its math/QA envs state info["correct"], used for won), so:
                    observation         GEM's own composition: info["prefix"] + observation + info["suffix"]
                                        (its games put the current board or state in the suffix)
                    task                the reset observation (the game's rules); the first observation is then
                                        the state in the suffix, so the prompt does not repeat the rules
                    won                 info["correct"] if given, else a positive reward on a terminating, not
                                        truncated step: GEM's games pay partial credit (closeness, boxes on
                                        targets) when they run out of turns, which is not a win
                    valid               False when the reward is GEM's format_error_reward (the move could not be
                                        parsed; GEM ends the episode then). Moves GEM parses but refuses (out of
                                        range, repeated) pay invalid_action_reward, which equals its ordinary step
                                        reward (0.0), so they cannot be told apart and count as valid.
                    actions             GEM reads the move from \\boxed{...}; the model writes it between
                                        <action></action>, so an action without \\boxed{ is wrapped in one
                                        (box_actions: false turns this off). Its games accept lower-case moves.
                    admissible_actions  [] (GEM's games state none)
                Text games that run offline: game:GuessTheNumber, Mastermind, Minesweeper, FifteenPuzzle, Sudoku,
                TowerofHanoi, Game2048, Sokoban, Crosswords (each -v0-easy / -v0-hard). Wordle, Hangman and
                WordSearch download NLTK's word list at run time (a clear error offline); math:/qa:/code: envs
                load data sets from the Hugging Face hub or run code in a sandbox.

Keyword arguments (the recipe's env_kwargs) for both: max_steps (episode step limit; the library's own turn limit
usually ends episodes first), train_size, eval_size (tasks per split); gymnasium: also reset_options (passed as
reset(options=...)); gem: box_actions. Every other keyword goes to gymnasium.make / gem.make (e.g. GEM's
max_turns, Gymnasium's max_episode_steps). The factory resets the environment once, so a bad ID, a missing data
set or a non-text environment fails before any model loads.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable
from typing import Any

from agentrl.envs.adapters.seeded import SeededEnv, import_library, missing_data_error
from agentrl.envs.registry import UnknownEnvironmentError

WON_KEYS = ("won", "is_success", "success", "correct")
VALID_KEYS = ("valid",)
INVALID_KEYS = ("invalid_action", "invalid_move")
ADMISSIBLE_KEYS = ("admissible_actions", "admissible_commands", "legal_actions")
GEM_OFFLINE_GAMES = "gem:game:GuessTheNumber-v0-easy, gem:game:Sokoban-v0-easy, gem:game:Minesweeper-v0-easy"


class GymnasiumTextEnv(SeededEnv):
    """A Gymnasium-style text environment as a TextEnv (see the module docstring). `make_library_env()` builds
    the library's environment (inside this env's own random state: some libraries draw from it when built)."""

    def __init__(
        self,
        make_library_env: Callable[[], Any],
        name: str,
        max_steps: int = 50,
        train_size: int = 1000,
        eval_size: int = 200,
        reset_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(name, max_steps, train_size, eval_size)
        self.reset_options = reset_options
        with self.library_random:
            self.env = make_library_env()

    # ------------------------------------------------------------------ library calls (run in library_random)
    def _library_reset(self, seed: int) -> tuple[Any, dict[str, Any]]:
        if self.reset_options is None:
            return self.env.reset(seed=seed)
        return self.env.reset(seed=seed, options=self.reset_options)

    def _library_action(self, action: str) -> str:
        return action

    def _start(self, seed: int) -> tuple[str, dict[str, Any]]:
        observation, info = self._library_reset(seed)
        observation, task = self._first_observation(self._text(observation), info or {})
        return observation, {"task": task, "admissible_actions": _admissible(info or {})}

    def _act(self, action: str) -> tuple[str, float, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(self._library_action(action))
        info = info or {}
        reward = float(reward)
        extra = {
            "won": self._won(reward, bool(terminated), bool(truncated), info),
            "valid": self._valid(reward, info),
            "admissible_actions": _admissible(info),
        }
        return self._observation(self._text(observation), info), reward, bool(terminated or truncated), extra

    # ------------------------------------------------------------------ what the library's values mean
    def _text(self, observation: Any) -> str:
        if not isinstance(observation, str):
            raise NotTextError(
                f"env_id {self.name!r}: the environment's observations are {type(observation).__name__}, not text; "
                "agentrl trains language agents on text environments (observations and actions are strings)"
            )
        return observation

    def _first_observation(self, observation: str, info: dict[str, Any]) -> tuple[str, str]:
        """(first observation, task)."""
        return observation, observation

    def _observation(self, observation: str, info: dict[str, Any]) -> str:
        return observation

    def _won(self, reward: float, terminated: bool, truncated: bool, info: dict[str, Any]) -> bool:
        for key in WON_KEYS:
            if info.get(key) is not None:
                return bool(info[key])
        return terminated and not truncated and reward > 0

    def _valid(self, reward: float, info: dict[str, Any]) -> bool:
        for key in VALID_KEYS:
            if info.get(key) is not None:
                return bool(info[key])
        for key in INVALID_KEYS:
            if info.get(key) is not None:
                return not info[key]
        return True

    def close(self) -> None:
        close = getattr(self.env, "close", None)
        if close is not None:
            with self.library_random:
                close()


class NotTextError(ValueError):
    """The environment's observations are not strings."""


def _admissible(info: dict[str, Any]) -> list[str]:
    for key in ADMISSIBLE_KEYS:
        actions = info.get(key)
        if isinstance(actions, (list, tuple)) and all(isinstance(action, str) for action in actions):
            return list(actions)
    return []


class GemTextEnv(GymnasiumTextEnv):
    """A GEM environment as a TextEnv: GEM's prefix/suffix observations, \\boxed{} moves, its reward constants."""

    def __init__(self, make_library_env: Callable[[], Any], name: str, box_actions: bool = True, **kwargs: Any):
        super().__init__(make_library_env, name, **kwargs)
        self.box_actions = box_actions
        from gem.utils.constants import LanguageGameReward

        self.format_error_reward = float(LanguageGameReward.format_error_reward)

    def _library_reset(self, seed: int) -> tuple[Any, dict[str, Any]]:
        return self.env.reset(seed=seed)  # GEM's reset takes no options

    def _library_action(self, action: str) -> str:
        if self.box_actions and "\\boxed{" not in action:
            return "\\boxed{" + action + "}"
        return action

    def _first_observation(self, observation: str, info: dict[str, Any]) -> tuple[str, str]:
        task = _joined(info.get("prefix"), observation)
        return (_joined(info.get("suffix")) or task), task

    def _observation(self, observation: str, info: dict[str, Any]) -> str:
        return _joined(info.get("prefix"), observation, info.get("suffix"))

    def _valid(self, reward: float, info: dict[str, Any]) -> bool:
        return reward != self.format_error_reward  # won: the base rule (info["correct"], else a terminal win)


def _joined(*parts: Any) -> str:
    return "\n".join(part.strip("\n") for part in parts if isinstance(part, str) and part.strip())


def _split_adapter_kwargs(kwargs: dict[str, Any], names: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the adapter's own keywords, the rest for the library's make)."""
    own = {key: kwargs.pop(key) for key in names if key in kwargs}
    return own, kwargs


def _checked(build: Callable[[], SeededEnv], spec: str, offline_games: str) -> SeededEnv:
    """Build the environment and reset it once, so a missing data set, a game that cannot start or a non-text
    environment fails here, with one line, before any model loads."""
    try:
        env = build()
    except UnknownEnvironmentError:
        raise
    except Exception as error:  # noqa: BLE001 - the library's failure, reported as one line naming the fix
        raise _build_error(spec, error, offline_games) from None
    try:
        env.reset(env.task_ids("train")[0])
    except Exception as error:  # noqa: BLE001
        env.close()
        raise _build_error(spec, error, offline_games) from None
    return env


def _build_error(spec: str, error: BaseException, offline_games: str) -> ValueError:
    missing = missing_data_error(spec, error, offline_games)
    if missing is not None:
        return missing
    if isinstance(error, NotTextError):
        return error
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return ValueError(f"env_id {spec!r}: the environment failed to start: {type(error).__name__}: {text}")


def make_gymnasium_env(env_id: str, **kwargs: Any) -> GymnasiumTextEnv:
    """gymnasium.make(ID) as a TextEnv, e.g. `env_id: gymnasium:my_pkg.envs:TextGame-v0`; env_kwargs: max_steps,
    train_size, eval_size, reset_options, and anything gymnasium.make takes."""
    spec = f"gymnasium:{env_id}"
    gymnasium = import_library("gymnasium", "gymnasium", spec)
    own, make_kwargs = _split_adapter_kwargs(dict(kwargs), ("max_steps", "train_size", "eval_size", "reset_options"))

    def make_library_env():
        try:
            return gymnasium.make(env_id, **make_kwargs)
        except gymnasium.error.Error as error:  # NameNotFound, NamespaceNotFound, VersionNotFound, ...
            raise UnknownEnvironmentError(
                f"env_id {spec!r}: {str(error).strip()} Register a text environment with gymnasium.register(id=..., "
                "entry_point=...) in a module and name it as gymnasium:your_module:YourEnv-v0 (Gymnasium imports "
                "the module first)."
            ) from None
        except ModuleNotFoundError as error:
            raise UnknownEnvironmentError(f"env_id {spec!r}: {error}") from None

    name = _name("gymnasium", env_id)
    return _checked(lambda: GymnasiumTextEnv(make_library_env, name, **own), spec, "a Gymnasium text environment")


def make_gem_env(env_id: str, **kwargs: Any) -> GemTextEnv:
    """gem.make(ID) as a TextEnv, e.g. `env_id: gem:game:GuessTheNumber-v0-easy`; env_kwargs: max_steps,
    train_size, eval_size, box_actions, and anything gem.make takes (e.g. max_turns)."""
    spec = f"gem:{env_id}"
    gem = _import_gem(spec)
    own, make_kwargs = _split_adapter_kwargs(dict(kwargs), ("max_steps", "train_size", "eval_size", "box_actions"))
    registry = gem.envs.registration.ENV_REGISTRY
    if env_id not in registry:
        close = difflib.get_close_matches(env_id, list(registry), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownEnvironmentError(
            f"env_id {spec!r}: GEM has no environment {env_id!r}.{hint} Its text games that run offline include "
            f"{GEM_OFFLINE_GAMES} (all ids: gem.envs.registration.ENV_REGISTRY)."
        )
    name = _name("gem", env_id)
    return _checked(lambda: GemTextEnv(lambda: gem.make(env_id, **make_kwargs), name, **own), spec, GEM_OFFLINE_GAMES)


def _import_gem(spec: str):
    """Import gem, undoing the root-logger setup its __init__ does (logging.basicConfig at INFO), which would
    otherwise print every library's INFO records during training."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    gem = import_library("gem", "gem", spec)
    root.handlers[:] = handlers
    root.setLevel(level)
    return gem


def _name(library: str, env_id: str) -> str:
    """The TextEnv name (the prefix of its task ids): no '/' inside, since task ids are name/split/index."""
    return f"{library}:{env_id}".replace("/", "_")
