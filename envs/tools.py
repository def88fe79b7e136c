"""Tool-calling environments: the action is a turn's tool calls as JSON, the observation their results.

The agent parses the model's tool calls and sends them to `step` as JSON text, one of

    {"tool_calls": [{"name": "search", "arguments": {"query": "..."}}, ...]}   one or more calls, run in order
    {"error": "why the model's output held no well-formed call", "content": "<the model's text>"}

Anything else is treated as an error action whose message says what was wrong. Each step is one turn
(it counts toward max_steps) whatever it holds. Besides the contract keys (envs/base.py), `reset`'s info
carries "tools", the JSON schema of every tool as transformers.utils.get_json_schema builds it (what a
chat template renders into the tool prompt), and every step's info carries

    tool_messages   [{"role": "tool", "name": <tool or "error">, "content": <text>}], one per call in call
                    order (one for an error action); calls left unrun because an earlier call of the same
                    turn ended the episode get a "Not run" message
    tool_calls      calls attempted this step (0 for an error action)
    tool_failures   calls that failed: unknown tool, arguments that do not bind, the tool raised (or 1 for an
                    error action)
    valid           at least one call ran without failing (or the turn was taken as the final answer)

A failure never escapes `step`: it becomes an "Error: ..." text naming the problem and the fix, which the
model reads like any other tool result. Tools may be `async def`: they run to completion (envs/async_calls.py).

ToolEnv is the generic part; a subclass lists its tool methods in `tools` and implements `task_ids`,
`_start_episode` and `_episode_info`. TRLStyleEnv wraps a class written for TRL's
GRPOTrainer(environment_factory=...) so it runs unchanged as an agentrl environment.

Why about 500 lines in one file: the tool-call action format, its decoding and argument checks, ToolEnv and its
TRL-style subclass (TRLStyleEnv) form one contract that environment authors read top to bottom.
"""

from __future__ import annotations

import inspect
import json
import typing
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agentrl.envs.async_calls import run_to_completion
from agentrl.envs.base import SPLITS, TextEnv, numbered_task_ids, parse_numbered_task_id

# Annotations whose values are cheap to check before the call; anything else goes to the tool unchecked.
_CHECKED_TYPES = (str, int, float, bool)
_ACTION_SHAPE = '{"tool_calls": [{"name": "<tool>", "arguments": {...}}]}'


class ToolEnv(TextEnv):
    """A TextEnv whose actions are tool calls; see the module docstring for the action and info format.

    Subclasses implement `task_ids`, `_start_episode(task_id) -> observation`, `_episode_info()` and the tool
    methods named in `tools` (type hints and a Google-style docstring with an `Args:` section each, which
    get_json_schema requires). A tool ends the episode by calling `self._finish(reward, won)`.
    """

    #: names of the public methods the model may call; an explicit list so helpers are never exposed
    tools: tuple[str, ...] = ()

    def __init__(self, max_steps: int) -> None:
        if max_steps < 1:
            raise ValueError(f"{self.name or type(self).__name__}: max_steps must be at least 1, got {max_steps}")
        self.max_steps = max_steps
        self._schemas: list[dict[str, Any]] | None = None
        self._started = False
        self._steps = 0
        self._done = False
        self._won = False
        self._reward = 0.0

    # ------------------------------------------------------------------------------------------ subclass API
    @abstractmethod
    def _start_episode(self, task_id: str) -> str:
        """Set up the episode of `task_id` (raising UnknownTaskError for a bad id); return the first observation."""

    @abstractmethod
    def _episode_info(self) -> dict[str, Any]:
        """The info of the current state: "task", "anchor", "expert_action" (a JSON action or None), and any
        optional keys (task_type, unknown_entity, ...). ToolEnv adds won, valid and admissible_actions."""

    def _tool_functions(self) -> dict[str, Callable[..., Any]]:
        """{name: callable} of the tools; TRLStyleEnv overrides it to expose the methods of the object it wraps."""
        return {name: getattr(self, name) for name in self.tools}

    def _begin_turn(self) -> None:  # noqa: B027 - optional hook
        """Called at the start of every step, before its calls run: reset per-turn flags here."""

    def _after_call(self, name: str, arguments: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Called after a tool's body ran (returned or raised): end the episode here on a state condition."""

    def _ends_without_calls(self, action: str) -> bool:
        """The turn held no well-formed call (an error action): True ends the episode on it (TRLStyleEnv: TRL takes
        such a turn as the model's final answer); by default it is an error the model reads, costing the turn."""
        return False

    def _at_step_limit(self) -> None:
        """The turn limit is reached with the episode still open: it ends unwon with no reward."""
        self._finish(0.0, won=False)

    def _finish(self, reward: float, won: bool) -> None:
        """End the episode: the current step returns `reward` and done=True; later calls of the turn do not run."""
        self._done = True
        self._reward = float(reward)
        self._won = bool(won)

    # ------------------------------------------------------------------------------------------ the contract
    def tool_schemas(self) -> list[dict[str, Any]]:
        """One JSON schema per tool, exactly as transformers.utils.get_json_schema returns it (built once)."""
        if self._schemas is None:
            from transformers.utils import get_json_schema  # transformers is slow to import; only tool envs need it

            self._schemas = [get_json_schema(function) for function in self._tool_functions().values()]
        return self._schemas

    def _reset(self, task_id: str) -> tuple[str, dict[str, Any]]:
        observation = self._start_episode(task_id)
        self._started = True
        self._steps = 0
        self._done = False
        self._won = False
        self._reward = 0.0
        info = self._info(valid=True)
        info["tools"] = self.tool_schemas()
        return observation, info

    def step(self, action: str) -> tuple[str, float, bool, dict[str, Any]]:
        if not self._started:
            raise RuntimeError("call reset before step")
        if self._done:
            raise RuntimeError("episode is over; call reset")
        self._begin_turn()
        calls, error = decode_action(action)
        answered = False
        if error is not None and self._ends_without_calls(action):
            messages, attempted, failures, answered = [], 0, 0, True
        elif error is not None:
            messages = [_tool_message("error", f"Error: {error}; the tools are: {', '.join(self._tool_functions())}")]
            attempted, failures = 0, 1
        else:
            messages, attempted, failures = self._run_calls(calls)
        self._steps += 1
        if not self._done and self._steps >= self.max_steps:
            self._at_step_limit()
        info = self._info(valid=answered or attempted > failures)
        info["tool_messages"] = messages
        info["tool_calls"] = attempted
        info["tool_failures"] = failures
        observation = "\n".join(message["content"] for message in messages)
        return observation, self._reward if self._done else 0.0, self._done, info

    def _run_calls(self, calls: list[Any]) -> tuple[list[dict[str, str]], int, int]:
        """(tool messages, calls attempted, calls failed) of running `calls` in order until the episode ends."""
        messages, attempted, failures = [], 0, 0
        for number, call in enumerate(calls, start=1):
            if self._done:
                name = call.get("name") if isinstance(call, dict) and isinstance(call.get("name"), str) else "error"
                messages.append(_tool_message(name, "Not run: an earlier call of this turn ended the episode."))
                continue
            attempted += 1
            name, content, ok = self._run_call(number, call)
            failures += not ok
            messages.append(_tool_message(name, content))
        return messages, attempted, failures

    def _run_call(self, number: int, call: Any) -> tuple[str, str, bool]:
        """(name for the message, result or error text, whether it ran without failing) of one call."""
        functions = self._tool_functions()
        name, arguments, error = _unpack_call(number, call)
        if error is not None:
            return "error", f"Error: {error}; write calls as {_ACTION_SHAPE}", False
        if name not in functions:
            return "error", f'Error: unknown tool "{name}"; the tools are: {", ".join(functions)}', False
        function = functions[name]
        error = bind_error(name, function, arguments)
        if error is not None:
            return name, f"Error: {error}; call it as {describe_signature(name, function)}", False
        try:
            result = run_to_completion(function(**arguments))  # an async tool is awaited, not returned as a coroutine
        except Exception as exception:  # noqa: BLE001 - a tool's failure is the model's observation, not a crash
            return name, f"Error: {name} raised {type(exception).__name__}: {exception}", False
        finally:
            self._after_call(name, arguments)
        return name, result if isinstance(result, str) else str(result), True

    def _info(self, valid: bool) -> dict[str, Any]:
        info = self._episode_info()
        info["admissible_actions"] = []
        info["won"] = self._won
        info["valid"] = valid
        if self._done:
            info["expert_action"] = None
        return info


# -------------------------------------------------------------------------------------------- decoding
def decode_action(action: Any) -> tuple[list[Any], str | None]:
    """(the calls of a tool action, None), or ([], why the action holds no calls to run)."""
    try:
        decoded = json.loads(action) if isinstance(action, (str, bytes)) else action
    except json.JSONDecodeError as error:
        return [], f"the action is not JSON ({error.msg}); send {_ACTION_SHAPE}"
    if isinstance(decoded, dict) and "tool_calls" in decoded:
        calls = decoded["tool_calls"]
        if isinstance(calls, list) and calls:
            return calls, None
        return [], f'"tool_calls" must be a non-empty list of calls; send {_ACTION_SHAPE}'
    if isinstance(decoded, dict) and "error" in decoded:
        return [], str(decoded["error"]) or "the output held no tool call"
    return [], f'the action must be a JSON object with "tool_calls" or "error", got {_preview(decoded)}'


def _unpack_call(number: int, call: Any) -> tuple[str, dict[str, Any], str | None]:
    """(name, arguments, None) of one call, or ("", {}, what is wrong with it). Accepts {"name", "arguments"}
    and the chat-message form {"type": "function", "function": {"name", "arguments"}}; arguments may be a JSON
    string (as in OpenAI's format)."""
    if isinstance(call, dict) and isinstance(call.get("function"), dict):
        call = call["function"]
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        return "", {}, f'tool call {number} has no "name" ({_preview(call)})'
    arguments = call.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            pass
    if not isinstance(arguments, dict):
        return "", {}, f'the "arguments" of {call["name"]} must be a JSON object, got {_preview(arguments)}'
    return call["name"], arguments, None


def bind_error(name: str, function: Callable[..., Any], arguments: dict[str, Any]) -> str | None:
    """Why `arguments` cannot be passed to `function` (missing, unexpected, or the wrong str/int/float/bool
    type for its annotation), or None when they bind."""
    try:
        bound = inspect.signature(function).bind(**arguments)
    except TypeError as error:
        return f"bad arguments for {name} ({error})"
    hints = _type_hints(function)
    for parameter, value in bound.arguments.items():
        expected = hints.get(parameter)
        if expected in _CHECKED_TYPES and not _is_instance(value, expected):
            return f'argument "{parameter}" of {name} must be {expected.__name__}, got {_preview(value)}'
    return None


def describe_signature(name: str, function: Callable[..., Any]) -> str:
    """ "search(query: str)": how the model should call the tool, for error texts."""
    hints = _type_hints(function)
    parameters = []
    for parameter in inspect.signature(function).parameters.values():
        hint = hints.get(parameter.name)
        text = parameter.name if hint is None else f"{parameter.name}: {getattr(hint, '__name__', str(hint))}"
        parameters.append(text if parameter.default is inspect.Parameter.empty else f"{text} = {parameter.default!r}")
    return f"{name}({', '.join(parameters)})"


def _type_hints(function: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function)
    except Exception:  # noqa: BLE001 - unresolvable annotations just go unchecked
        return {}


def _is_instance(value: Any, expected: type) -> bool:
    """JSON-level type check: bool is not a number, and an int is a fine float."""
    if expected is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if expected is float:
        return isinstance(value, (int, float))
    return isinstance(value, expected)


def _preview(value: Any, limit: int = 60) -> str:
    text = json.dumps(value) if isinstance(value, (dict, list, str, int, float, bool, type(None))) else repr(value)
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{text} ({type(value).__name__})"


def _tool_message(name: str, content: str) -> dict[str, str]:
    return {"role": "tool", "name": name, "content": content}


def tool_call_action(name: str, **arguments: Any) -> str:
    """The JSON action of one call: what an expert returns as expert_action."""
    return json.dumps({"tool_calls": [{"name": name, "arguments": arguments}]})


# -------------------------------------------------------------------------------------------- TRL adapter
class TRLStyleEnv(ToolEnv):
    """A class written for TRL's GRPOTrainer(environment_factory=...), run as an agentrl environment.

    TRL's convention: `reset(**row) -> str | None` starts an episode from a dataset row, the public methods are
    the tools, and reward functions score the instance afterwards. Here the rows are `tasks` (a list, all in
    "train", or {split: list}); a row's "prompt" (text, or chat messages whose last content is used) followed by
    what reset returns is the first observation, as TRL appends it to the prompt. The tools are the class's
    public functions except reset and get_reward, as TRL collects them; any of them, reset and get_reward may be
    `async def` (awaited, as TRL does).

    The episode ends, as a TRL rollout does, on a turn without a well-formed tool call (the model's final answer;
    `end_on_answer=False` makes such a turn an error message that costs the turn instead), when `done(env)` holds
    after a call, or at max_steps. Its reward is then TRL's: the sum of `reward_funcs` (weight 1 each; a None
    result is left out) plus `env.get_reward()` when the class defines it; `won` is its success (default:
    reward > 0). A reward function (and `won`) is either TRL's batch style, `f(prompts=, completions=, environments=,
    **columns) -> list` called with a batch of one (completions: the episode's messages, assistant turns with
    their tool calls, tool results, and the final answer's text), or agentrl's `f(env) -> float`.
    """

    def __init__(
        self,
        name: str,
        env_factory: Callable[[], Any],
        tasks: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Mapping[str, Any]]],
        reward_funcs: Callable[..., Any] | Sequence[Callable[..., Any]] = (),
        won: Callable[[Any], bool] | None = None,
        done: Callable[[Any], bool] | None = None,
        max_steps: int = 10,
        end_on_answer: bool = True,
    ) -> None:
        self.name = name
        super().__init__(max_steps)
        self.env = env_factory()
        if not callable(getattr(self.env, "reset", None)):
            raise ValueError(f"{name}: the environment class must define reset(**row), as TRL requires")
        self._reward_funcs = [reward_funcs] if callable(reward_funcs) else list(reward_funcs)
        self._owns_reward = callable(getattr(self.env, "get_reward", None))
        if not self._reward_funcs and not self._owns_reward:
            raise ValueError(f"{name}: pass reward_funcs, or give the environment class a get_reward() method (as TRL)")
        self._batch_style = [_is_batch_style(name, function) for function in self._reward_funcs]
        self._won_batch_style = won is not None and _is_batch_style(name, won)
        self._tasks = _splits_of(name, tasks)
        self._sizes = {split: len(rows) for split, rows in self._tasks.items()}
        self.tools = tuple(
            member
            for member, _ in inspect.getmembers(type(self.env), predicate=inspect.isfunction)
            if not member.startswith("_") and member not in ("reset", "get_reward")
        )
        self._won_fn, self._done_fn, self._end_on_answer = won, done, end_on_answer
        self._task_id = ""
        self._task_text = ""
        self._row: dict[str, Any] = {}
        self._calls: list[tuple[str, str]] = []
        self._completion: list[dict[str, Any]] = []  # the episode's messages after the prompt, as TRL records them

    def task_ids(self, split: str) -> list[str]:
        return numbered_task_ids(self.name, split, self._sizes)

    def _tool_functions(self) -> dict[str, Callable[..., Any]]:
        return {name: getattr(self.env, name) for name in self.tools}

    def _start_episode(self, task_id: str) -> str:
        split, index = parse_numbered_task_id(self.name, task_id, self._sizes)
        row = dict(self._tasks[split][index])
        appended = run_to_completion(self.env.reset(**row))
        observation = _prompt_text(row.get("prompt")) + (appended or "")
        if not observation:
            raise ValueError(
                f"{self.name}: task {task_id} has no prompt; give rows a 'prompt' or return text from reset"
            )
        self._task_id, self._task_text, self._row, self._calls, self._completion = task_id, observation, row, [], []
        return observation

    def _episode_info(self) -> dict[str, Any]:
        # The wrapped state is opaque; the calls that reached it name it (the class is deterministic in them).
        # answers_in_text: a turn without any tool call is the final answer (TRL's rule), not a malformed call.
        return {
            "task": self._task_text,
            "anchor": (self._task_id, tuple(self._calls)),
            "expert_action": None,
            "answers_in_text": self._end_on_answer,
        }

    def _after_call(self, name: str, arguments: dict[str, Any]) -> None:
        self._calls.append((name, json.dumps(arguments, sort_keys=True, default=str)))
        if self._done_fn is not None and run_to_completion(self._done_fn(self.env)):
            self._finish(0.0, won=False)  # stops the turn's other calls; step() scores the episode

    def _ends_without_calls(self, action: str) -> bool:
        if self._end_on_answer:
            self._finish(0.0, won=False)
        return self._end_on_answer

    def step(self, action: str) -> tuple[str, float, bool, dict[str, Any]]:
        observation, _, done, info = super().step(action)
        self._completion += [_assistant_message(action), *info["tool_messages"]]
        if not done:
            return observation, 0.0, False, info
        # Scored after the whole turn is recorded, so reward functions see the ending call's result or the answer.
        reward = self._episode_reward()
        won = bool(self._score(self._won_fn, self._won_batch_style)) if self._won_fn is not None else reward > 0
        self._finish(reward, won)
        info["won"] = won
        return observation, reward, True, info

    def _episode_reward(self) -> float:
        """TRL's reward of a finished rollout: every reward function's value plus get_reward(), None left out."""
        functions = zip(self._reward_funcs, self._batch_style, strict=True)
        values = [self._score(function, batch) for function, batch in functions]
        if self._owns_reward:
            values.append(run_to_completion(self.env.get_reward()))
        return float(sum(value for value in values if value is not None))

    def _score(self, function: Callable[..., Any], batch: bool) -> Any:
        """`function`'s value for this episode: f(env), or TRL's batch call with a batch of one (its columns as
        TRL passes dataset columns, one list each)."""
        if not batch:
            return run_to_completion(function(self.env))
        columns = {key: [value] for key, value in self._row.items() if key != "prompt"}
        result = run_to_completion(
            function(
                **columns,
                prompts=[[{"role": "user", "content": self._task_text}]],
                completions=[self._completion],
                environments=[self.env],
                trainer_state=None,
                log_extra=_ignore,
                log_metric=_ignore,
            )
        )
        if isinstance(result, str) or not isinstance(result, Sequence) or len(result) != 1:
            raise ValueError(
                f"{self.name}: {_name_of(function)} got a batch of one environment and returned {result!r}; a TRL "
                "reward function returns a list with one value per environment"
            )
        return result[0]


def _is_batch_style(name: str, function: Callable[..., Any]) -> bool:
    """TRL's batch style (takes `environments=` or **kwargs) or agentrl's one-environment style (one argument, no
    **kwargs)."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return True  # no signature to read: call it as TRL would
    if "environments" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return True  # TRL's reward functions take **kwargs: it passes every dataset column
    required = [
        p
        for p in parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if len(required) == 1:
        return False
    raise ValueError(
        f"{name}: reward function {_name_of(function)} takes ({', '.join(parameters)}); write it TRL's way, "
        "f(completions, environments, **kwargs) -> list[float], or as f(env) -> float"
    )


def _name_of(function: Any) -> str:
    return getattr(function, "__qualname__", None) or repr(function)


def _ignore(*args: Any, **kwargs: Any) -> None:
    """Stands in for TRL's log_extra / log_metric callbacks, which have no table or logger to write to here."""


def _assistant_message(action: str) -> dict[str, Any]:
    """The assistant message of a turn as TRL records it: its tool calls, or (no well-formed call) its text."""
    calls, error = decode_action(action)
    if error is not None:
        decoded = _json_object(action)
        return {"role": "assistant", "content": str(decoded.get("content", ""))}
    tool_calls = []
    for number, call in enumerate(calls, start=1):
        name, arguments, problem = _unpack_call(number, call)
        if problem is None:
            tool_calls.append({"type": "function", "function": {"name": name, "arguments": arguments}})
    return {"role": "assistant", "content": "", "tool_calls": tool_calls}


def _json_object(text: str) -> dict[str, Any]:
    try:
        decoded = json.loads(text)
    except (TypeError, json.JSONDecodeError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _splits_of(
    name: str, tasks: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Mapping[str, Any]]]
) -> dict[str, list[Mapping[str, Any]]]:
    """{split: rows} for every split: a plain list is all "train"."""
    by_split = dict(tasks) if isinstance(tasks, Mapping) else {"train": list(tasks)}
    unknown = set(by_split) - set(SPLITS)
    if unknown:
        raise ValueError(f"{name}: unknown splits {sorted(unknown)} in tasks; splits are {SPLITS}")
    return {split: list(by_split.get(split, ())) for split in SPLITS}


def _prompt_text(prompt: Any) -> str:
    """The text of a TRL "prompt" column: a string, or the content of the last of its chat messages."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, Sequence) and prompt and isinstance(prompt[-1], Mapping):
        content = prompt[-1].get("content", "")
        return content if isinstance(content, str) else ""
    return ""
