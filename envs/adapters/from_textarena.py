"""TextArena single-player games as agentrl TextEnvs: `env_id: textarena:ID`, e.g. textarena:GuessTheNumber-v0.

TextArena's protocol (0.7.x) and how each part maps to the contract:

    env = textarena.make(ID)                 the registered variant with its wrappers (ID-raw: none, ID-train: the
                                             training wrappers); the default ones wrap a move in [...] when it has
                                             no brackets, so `<action>7</action>` plays [7]
    env.reset(num_players=1, seed=seed)      a task is a seed (seeded.py); a game whose state is not TextArena's
                                             SinglePlayerState is refused (agentrl trains one agent)
    player_id, messages = get_observation()  read from the game itself (below its observation wrappers, which
                                             re-send the whole history as one string every turn; agentrl's prompt
                                             already carries the last K steps): a list of (sender, text, type)
    done, info = env.step(action)            info is empty in the single-player games
    rewards, game_info = env.close()         per-player final rewards and the game's verdict, read when done

    task                the game's prompt message (its rules)
    observation         the messages of this turn (what happened, the board, an invalid-move notice), without the
                        echo of the player's own move; the latest board is appended when the turn sent none, so the
                        state is always in view; at the end, the game's stated reason ("You fell into a hole! ...")
    reward              0 until the game ends, then the player's final reward from close(): single-player games give
                        1 for a solved game and their completion fraction in [0, 1) otherwise (also when the game
                        ends on repeated invalid moves). An episode cut by max_steps before the game ends gets 0.
    won                 the game's final reward is 1 (its own win) and the game did not end on an invalid move
    valid               False when the game rejected the move: its state's error count rose, or it ended the game
                        for an invalid move (game_info[0]["invalid_move"]). TextArena lets a player retry once
                        (error_allowance 1) and ends the game on the second invalid move in a row.
    admissible_actions  the moves the game lists in its current board ("Available Moves: [up], [down]" in
                        FifteenPuzzle, FrozenLake, Sokoban), lower-cased, brackets removed; [] where it lists none
    anchor              (task id, a digest of the game's own state dict, game_state) when it is plain data, else
                        (task id, latest board or observation): distinct states never share an anchor because
                        their text happens to match

Actions reach the game lower-cased (agentrl's parser); the games listed in OFFLINE_GAMES accept lower-case moves.
Games that need data downloaded at run time (Wordle, Hangman, WordSearch, WordLadder: NLTK's word list) or an LLM
game master over the network (TwentyQuestions, GuessWho: OpenRouter) fail in the factory with one message.

Keyword arguments (env_kwargs): max_steps (episode step limit; the games' own turn limits usually end episodes
first), train_size, eval_size; every other keyword goes to textarena.make (the game's constructor, e.g.
max_turns). The factory resets the game once, so all of the above fails before any model loads.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from agentrl.envs.adapters.seeded import SeededEnv, import_library, missing_data_error
from agentrl.envs.registry import UnknownEnvironmentError

# Single-player games that run offline and take lower-case moves (tests/test_adapter_textarena.py plays each).
OFFLINE_GAMES = (
    "GuessTheNumber-v0",
    "TowerOfHanoi-v0",
    "FrozenLake-v0",
    "Minesweeper-v0-small",
    "Sudoku-v0-easy",
    "2048-v0-mega-easy",
    "Mastermind-v0",
    "LightsOut-v0",
    "Bandit-v0",
    "Blackjack-v0",
    "FifteenPuzzle-v0",
    "Sokoban-v0",
)
_MOVES_LINE = re.compile(r"^\s*(?:available\s+moves|available\s+actions|valid\s+moves)\s*:\s*(.+)$", re.I | re.M)


class TextArenaEnv(SeededEnv):
    """A TextArena single-player game as a TextEnv (see the module docstring)."""

    def __init__(
        self,
        make_game: Callable[[], Any],
        name: str,
        max_steps: int = 50,
        train_size: int = 1000,
        eval_size: int = 200,
    ) -> None:
        super().__init__(name, max_steps, train_size, eval_size)
        import textarena

        self._textarena = textarena
        with self.library_random:
            self.env = make_game()
        self.game = self.env
        while isinstance(self.game, textarena.Wrapper):  # the game below its wrappers: raw messages, its state
            self.game = self.game.env
        self._board: str | None = None
        self._moves: list[str] = []
        self._errors = 0

    # ------------------------------------------------------------------ library calls (run in library_random)
    def _start(self, seed: int) -> tuple[str, dict[str, Any]]:
        self.env.reset(num_players=1, seed=seed)
        if not isinstance(getattr(self.game, "state", None), self._textarena.SinglePlayerState):
            raise NotSinglePlayerError(type(getattr(self.game, "state", None)).__name__)
        self._board, self._moves, self._errors = None, [], 0
        messages = self._messages()
        task = "\n\n".join(text for text, kind in messages if kind == "PROMPT")
        observation = self._render([(text, kind) for text, kind in messages if kind != "PROMPT"]) or task
        return observation, {"task": task, "admissible_actions": self._moves, "anchor": self._anchor(observation)}

    def _act(self, action: str) -> tuple[str, float, bool, dict[str, Any]]:
        done, _ = self.env.step(action)
        state = self.game.state
        rejected = state.error_count > self._errors
        self._errors = state.error_count
        observation = self._render(self._messages())
        reward, won = 0.0, False
        if done:
            rewards, game_info = _close_result(self.env.close())
            verdict = (game_info or {}).get(0, {})
            rejected = rejected or bool(verdict.get("invalid_move"))
            reward = float((rewards or {}).get(0, 0.0))
            won = reward >= 1.0 and not rejected
            if verdict.get("reason"):
                observation = f"{observation}\nGame over: {verdict['reason']}".strip()
        extra = {"won": won, "valid": not rejected, "admissible_actions": self._moves}
        extra["anchor"] = self._anchor(observation)
        return observation, reward, bool(done), extra

    # ------------------------------------------------------------------ messages
    def _messages(self) -> list[tuple[str, str]]:
        """This turn's (text, type name) messages, without the echo of the player's own move."""
        _, messages = self.game.get_observation()
        if isinstance(messages, str):  # a game that speaks in one string
            return [(messages, "GAME_MESSAGE")]
        result = []
        for message in messages or []:
            text, kind = message[1], message[2] if len(message) > 2 else "GAME_MESSAGE"
            kind = getattr(kind, "name", str(kind))
            if kind != "PLAYER_ACTION" and isinstance(text, str) and text.strip():
                result.append((text.strip(), kind))
        return result

    def _render(self, messages: list[tuple[str, str]]) -> str:
        """The turn's messages as one observation, keeping track of the latest board and the moves it lists."""
        boards = [text for text, kind in messages if kind == "GAME_BOARD"]
        if boards:
            self._board = boards[-1]
        for text, _ in messages:
            moves = _stated_moves(text)
            if moves:
                self._moves = moves
        texts = [text for text, _ in messages]
        if not boards and self._board is not None:
            texts.append(self._board)  # the state stays in view on turns that send no board
        return "\n".join(texts)

    def _anchor(self, observation: str) -> tuple[str, str]:
        try:  # the game's own state: a true state key
            state = json.dumps(getattr(self.game.state, "game_state", None), sort_keys=True, default=_plain)
            return self._task_id, hashlib.sha1(state.encode()).hexdigest()[:16]
        except (TypeError, ValueError):
            return self._task_id, self._board or observation

    def close(self) -> None:
        """Nothing to release: TextArena's close() only reports the results (read when a game ends)."""


class NotSinglePlayerError(ValueError):
    """The game is not played by one player (its state is not TextArena's SinglePlayerState)."""


def _close_result(result: Any) -> tuple[dict[int, float] | None, dict[int, dict] | None]:
    """close() returns (rewards, game_info) in TextArena 0.7; older releases returned rewards alone."""
    if isinstance(result, tuple) and len(result) == 2:
        return result
    return result, None


def _stated_moves(text: str) -> list[str]:
    """The moves a message lists on an "Available Moves: ..." line, lower-cased, without brackets."""
    lines = _MOVES_LINE.findall(text)
    if not lines:
        return []
    line = lines[-1]
    bracketed = re.findall(r"\[([^\[\]]+)\]", line)
    items = bracketed or [item for item in line.split(",") if re.fullmatch(r"\s*[\w\- ]+\s*", item)]
    return [item.strip().lower() for item in items if item.strip()]


def _plain(value: Any) -> Any:
    """JSON for the game state's numpy arrays, sets and tuples; anything else is not plain data (TypeError)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    raise TypeError(type(value).__name__)


def make_textarena_env(env_id: str, **kwargs: Any) -> TextArenaEnv:
    """textarena.make(ID) for one player as a TextEnv, e.g. `env_id: textarena:GuessTheNumber-v0`; env_kwargs:
    max_steps, train_size, eval_size, and the game's own keywords."""
    spec = f"textarena:{env_id}"
    textarena = import_library("textarena", "textarena", spec)
    registry = textarena.envs.registration.ENV_REGISTRY
    offline = ", ".join(OFFLINE_GAMES[:6])
    if env_id not in registry:
        close = difflib.get_close_matches(env_id, list(registry), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownEnvironmentError(
            f"env_id {spec!r}: TextArena has no game {env_id!r}.{hint} Single-player games that run offline: "
            f"{', '.join(OFFLINE_GAMES)}."
        )
    own = {key: kwargs.pop(key) for key in ("max_steps", "train_size", "eval_size") if key in kwargs}
    name = f"textarena:{env_id}".replace("/", "_")
    try:
        env = TextArenaEnv(lambda: textarena.make(env_id, **kwargs), name, **own)
        env.reset(env.task_ids("train")[0])
    except NotSinglePlayerError as error:
        raise UnknownEnvironmentError(_not_single_player(spec, str(error))) from None
    except AssertionError as error:  # the multi-player states assert their number of players in reset
        raise UnknownEnvironmentError(_not_single_player(spec, str(error))) from None
    except Exception as error:  # noqa: BLE001 - the game's failure, reported as one line naming the fix
        missing = missing_data_error(spec, error, offline)
        if missing is not None:
            raise missing from None
        text = str(error).strip().splitlines()[0] if str(error).strip() else ""
        if "OpenRouter" in text:
            text += " (the game's game master is an LLM reached over the network)"
        raise ValueError(
            f"env_id {spec!r}: the game failed to start: {type(error).__name__}: {text}. Games that run offline: "
            f"{offline}."
        ) from None
    return env


def _not_single_player(spec: str, why: str) -> str:
    return (
        f"env_id {spec!r} is not a single-player game ({why}); agentrl trains one agent. Single-player games that "
        f"run offline: {', '.join(OFFLINE_GAMES)}."
    )
