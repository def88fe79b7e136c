"""ToolEnv (JSON tool-call actions, error texts, turn counting) and the TRL-style adapter, on small envs."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from transformers.utils import get_json_schema

from agentrl.envs import SPLITS, UnknownTaskError, check_info, make_env
from agentrl.envs.tools import ToolEnv, TRLStyleEnv, tool_call_action

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "trl_style_env.py"


class NotebookEnv(ToolEnv):
    """A two-task env with tools of every argument type, one that raises and one that ends the episode."""

    name = "notebook"
    tools = ("write", "repeat", "scale", "shout", "explode", "submit")

    def __init__(self, max_steps: int = 4) -> None:
        super().__init__(max_steps)
        self.lines: list[str] = []

    def task_ids(self, split: str) -> list[str]:
        return ["notebook/train/00000", "notebook/train/00001"] if split == "train" else []

    def _start_episode(self, task_id: str) -> str:
        if task_id not in self.task_ids("train"):
            raise UnknownTaskError(task_id)
        self.lines = []
        return "Write 'hello', then submit."

    def _episode_info(self) -> dict[str, Any]:
        expert = tool_call_action("submit") if self.lines == ["hello"] else tool_call_action("write", text="hello")
        return {"task": "write hello", "anchor": tuple(self.lines), "expert_action": expert}

    def write(self, text: str) -> str:
        """Append a line to the notebook.

        Args:
            text: The line to write.
        """
        self.lines.append(text)
        return f"wrote {text!r}"

    def repeat(self, text: str, times: int = 2) -> str:
        """Repeat a text.

        Args:
            text: What to repeat.
            times: How often.
        """
        return text * times

    def scale(self, factor: float, exact: bool = False) -> str:
        """Scale by a factor.

        Args:
            factor: The factor.
            exact: Whether to print exactly.
        """
        return f"scaled by {factor}"

    def shout(self) -> int:
        """Return a number, not a string."""
        return 42

    def explode(self) -> str:
        """Always fails."""
        raise ValueError("the notebook caught fire")

    def submit(self) -> str:
        """Hand the notebook in; ends the episode."""
        won = self.lines == ["hello"]
        self._finish(1.0 if won else 0.0, won=won)
        return "submitted"

    def helper(self) -> str:  # public but not listed in `tools`: never callable by the model
        return "secret"


def calls(*pairs: tuple[str, dict]) -> str:
    return json.dumps({"tool_calls": [{"name": name, "arguments": arguments} for name, arguments in pairs]})


def started(max_steps: int = 4) -> NotebookEnv:
    env = NotebookEnv(max_steps)
    env.reset("notebook/train/00000")
    return env


def test_reset_lists_the_tool_schemas_as_get_json_schema_builds_them():
    env = NotebookEnv()
    observation, info = env.reset("notebook/train/00000")
    check_info(info)
    assert observation == "Write 'hello', then submit."
    assert info["tools"] == [get_json_schema(getattr(env, name)) for name in NotebookEnv.tools]
    assert [schema["function"]["name"] for schema in info["tools"]] == list(NotebookEnv.tools)
    assert info["tools"][1]["function"]["parameters"]["required"] == ["text"]
    assert (info["admissible_actions"], info["won"], info["valid"]) == ([], False, True)


def test_calls_run_in_order_and_their_results_are_the_observation():
    env = started()
    observation, reward, done, info = env.step(calls(("write", {"text": "a"}), ("repeat", {"text": "ab", "times": 3})))
    check_info(info)
    assert observation == "wrote 'a'\nababab"
    assert info["tool_messages"] == [
        {"role": "tool", "name": "write", "content": "wrote 'a'"},
        {"role": "tool", "name": "repeat", "content": "ababab"},
    ]
    assert (reward, done, info["valid"], info["tool_calls"], info["tool_failures"]) == (0.0, False, True, 2, 0)
    assert "tools" not in info
    # A non-string result is shown as text; an int is a fine float; the chat-message form of a call and
    # arguments written as a JSON string are accepted too.
    assert env.step(calls(("shout", {})))[0] == "42"
    assert env.step(calls(("scale", {"factor": 2})))[0] == "scaled by 2"
    nested = {"type": "function", "function": {"name": "repeat", "arguments": '{"text": "x"}'}}
    assert env.step(json.dumps({"tool_calls": [nested]}))[0] == "xx"


def test_unknown_tools_and_unlisted_methods_are_errors_naming_the_tools():
    env = started()
    for name in ("wirte", "helper", "_finish", "step"):
        observation, _, _, info = env.step(calls((name, {})))
        assert (
            observation == f'Error: unknown tool "{name}"; the tools are: write, repeat, scale, shout, explode, submit'
        )
        assert info["tool_messages"][0]["name"] == "error"
        assert (info["valid"], info["tool_calls"], info["tool_failures"]) == (False, 1, 1)
        env.reset("notebook/train/00000")


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({}, "Error: bad arguments for repeat (missing a required argument: 'text')"),
        (
            {"text": "a", "colour": "red"},
            "Error: bad arguments for repeat (got an unexpected keyword argument 'colour')",
        ),
        ({"text": 7}, 'Error: argument "text" of repeat must be str, got 7 (int)'),
        ({"text": "a", "times": "2"}, 'Error: argument "times" of repeat must be int, got "2" (str)'),
        ({"text": "a", "times": True}, 'Error: argument "times" of repeat must be int, got true (bool)'),
        ({"text": "a", "times": 2.5}, 'Error: argument "times" of repeat must be int, got 2.5 (float)'),
    ],
)
def test_arguments_that_do_not_bind_are_errors_showing_the_signature(arguments, error):
    observation, _, done, info = started().step(calls(("repeat", arguments)))
    assert observation == error + "; call it as repeat(text: str, times: int = 2)"
    assert info["tool_messages"][0]["name"] == "repeat"
    assert (done, info["valid"], info["tool_calls"], info["tool_failures"]) == (False, False, 1, 1)


def test_wrong_float_and_bool_types_are_caught_too():
    env = started()
    assert env.step(calls(("scale", {"factor": "2"})))[0].startswith('Error: argument "factor" of scale must be float')
    assert env.step(calls(("scale", {"factor": 1.5, "exact": 1})))[0].startswith(
        'Error: argument "exact" of scale must be bool, got 1 (int)'
    )


def test_a_raising_tool_becomes_an_error_text_and_the_other_calls_still_run():
    env = started()
    observation, reward, done, info = env.step(calls(("explode", {}), ("write", {"text": "hello"})))
    assert observation == "Error: explode raised ValueError: the notebook caught fire\nwrote 'hello'"
    assert (reward, done, info["valid"], info["tool_calls"], info["tool_failures"]) == (0.0, False, True, 2, 1)
    assert info["anchor"] == ("hello",)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ('{"error": "no tool call found"}', "Error: no tool call found; the tools are: "),
        ("search for the answer", "Error: the action is not JSON (Expecting value); send "),
        ("[1, 2]", 'Error: the action must be a JSON object with "tool_calls" or "error", got [1, 2] (list); the '),
        ('{"tool_calls": []}', 'Error: "tool_calls" must be a non-empty list of calls; send '),
        ('{"tool_calls": {"name": "write"}}', 'Error: "tool_calls" must be a non-empty list of calls; send '),
    ],
)
def test_error_and_malformed_actions_cost_a_turn_and_run_nothing(action, message):
    env = started(max_steps=2)
    observation, reward, done, info = env.step(action)
    check_info(info)
    assert observation.startswith(message), observation
    assert info["tool_messages"] == [{"role": "tool", "name": "error", "content": observation}]
    assert (reward, done, info["valid"], info["tool_calls"], info["tool_failures"]) == (0.0, False, False, 0, 1)
    assert info["anchor"] == ()
    assert env.step(action)[2]  # the second turn of two ends the episode


def test_malformed_calls_inside_a_well_formed_action_fail_one_by_one():
    env = started()
    action = json.dumps({"tool_calls": [{"arguments": {}}, {"name": "repeat", "arguments": [1]}, "write"]})
    observation, _, _, info = env.step(action)
    assert observation.splitlines() == [
        'Error: tool call 1 has no "name" ({"arguments": {}} (dict)); write calls as '
        '{"tool_calls": [{"name": "<tool>", "arguments": {...}}]}',
        'Error: the "arguments" of repeat must be a JSON object, got [1] (list); write calls as '
        '{"tool_calls": [{"name": "<tool>", "arguments": {...}}]}',
        'Error: tool call 3 has no "name" ("write" (str)); write calls as '
        '{"tool_calls": [{"name": "<tool>", "arguments": {...}}]}',
    ]
    assert (info["valid"], info["tool_calls"], info["tool_failures"]) == (False, 3, 3)


def test_a_call_that_ends_the_episode_stops_the_rest_of_the_turn():
    env = started()
    observation, reward, done, info = env.step(
        calls(("write", {"text": "hello"}), ("submit", {}), ("write", {"text": "late"}))
    )
    assert observation == "wrote 'hello'\nsubmitted\nNot run: an earlier call of this turn ended the episode."
    assert [message["name"] for message in info["tool_messages"]] == ["write", "submit", "write"]
    assert (reward, done, info["won"], info["tool_calls"], info["tool_failures"]) == (1.0, True, True, 2, 0)
    assert info["expert_action"] is None and info["anchor"] == ("hello",)
    with pytest.raises(RuntimeError, match="episode is over; call reset"):
        env.step(calls(("write", {"text": "again"})))


def test_the_expert_action_uses_the_action_format():
    env = NotebookEnv()
    _, info = env.reset("notebook/train/00001")
    rewards = []
    while info["expert_action"] is not None:
        _, reward, _, info = env.step(info["expert_action"])
        rewards.append(reward)
    assert rewards == [0.0, 1.0] and info["won"]


def test_the_step_limit_ends_the_episode_unwon_whatever_the_turns_held():
    env = started(max_steps=3)
    actions = [calls(("write", {"text": "hello"})), '{"error": "no call"}', calls(("explode", {}))]
    results = [env.step(action) for action in actions]
    assert [(reward, done, info["won"]) for _, reward, done, info in results] == [
        (0.0, False, False),
        (0.0, False, False),
        (0.0, True, False),
    ]
    assert results[-1][3]["expert_action"] is None
    with pytest.raises(RuntimeError):
        env.step(actions[0])
    with pytest.raises(RuntimeError, match="call reset before step"):
        NotebookEnv().step(actions[0])
    with pytest.raises(ValueError, match="max_steps must be at least 1"):
        NotebookEnv(max_steps=0)


def test_every_built_in_tool_builds_its_schema():
    for env in (make_env("factqa"), make_env("factqa-easy"), _counter_puzzle_module().counter_puzzle()):
        for schema in env.tool_schemas():  # get_json_schema raises on a missing type hint or Args entry
            assert schema["type"] == "function" and schema["function"]["description"]


# ------------------------------------------------------------------------------------------ TRL-style adapter
def _counter_puzzle_module():
    """examples/trl_style_env.py, imported once (it registers "counter-puzzle" on import)."""
    name = "examples_trl_style_env"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_trl_style_class_plays_through_the_adapter():
    _counter_puzzle_module()
    env = make_env("counter-puzzle")
    assert [len(env.task_ids(split)) for split in SPLITS] == [500, 100, 100]
    observation, info = env.reset("counter-puzzle/train/00000")
    check_info(info)
    assert (
        observation == "Use the tools add and double to reach the target number.\nThe counter shows 7; make it show 34."
    )
    assert info["task"] == observation and info["expert_action"] is None
    assert [schema["function"]["name"] for schema in info["tools"]] == ["add", "double"]  # not reset, get_reward

    observation, reward, done, info = env.step(calls(("double", {}), ("add", {"amount": 12})))
    assert observation == "The counter shows 14.\nError: add raised ValueError: amount must be from 1 to 9, got 12"
    assert (reward, done, info["valid"], info["tool_calls"], info["tool_failures"]) == (0.0, False, True, 2, 1)

    observation, _, _, info = env.step(calls(("triple", {}), ("add", {"amount": "9"}), ("add", {})))
    assert observation.splitlines() == [
        'Error: unknown tool "triple"; the tools are: add, double',
        'Error: argument "amount" of add must be int, got "9" (str); call it as add(amount: int)',
        "Error: bad arguments for add (missing a required argument: 'amount'); call it as add(amount: int)",
    ]
    assert (info["valid"], info["tool_failures"]) == (False, 3)
    assert env.env.value == 14

    anchor = info["anchor"]
    # 14 -> 28 -> 34 reaches the target: done(env) ends the episode after the call, the rest does not run.
    observation, reward, done, info = env.step(calls(("double", {}), ("add", {"amount": 6}), ("add", {"amount": 1})))
    assert observation.splitlines()[-1] == "Not run: an earlier call of this turn ended the episode."
    assert (reward, done, info["won"], info["tool_calls"]) == (1.0, True, True, 2)
    assert info["anchor"] != anchor and env.env.value == 34


def test_trl_adapter_gives_the_reward_at_the_step_limit_and_on_overshooting():
    module = _counter_puzzle_module()
    env = module.counter_puzzle(max_steps=2)
    env.reset("counter-puzzle/eval_out/00003")
    assert env.step(calls(("add", {"amount": 1})))[1:3] == (0.0, False)
    _, reward, done, info = env.step(calls(("add", {"amount": 1})))
    assert (reward, done, info["won"]) == (0.0, True, False)  # the reward of the state at the limit: 0 here

    env = module.counter_puzzle()
    env.reset("counter-puzzle/eval_in/00000")
    target = env.env.target
    while not env._done:
        _, reward, done, info = env.step(calls(("double", {})))
    assert env.env.value >= target and done
    assert (reward, info["won"]) == ((1.0, True) if env.env.value == target else (0.0, False))


def test_trl_adapter_task_lists_splits_and_defaults():
    module = _counter_puzzle_module()
    rows = [{"start": 1, "target": 3}, {"start": 2, "target": 4}]
    # A plain list is all train; no prompt column: reset's text alone is the observation; default won: reward > 0.
    env = TRLStyleEnv("counter", module.CounterPuzzle, rows, max_steps=3)
    assert [env.task_ids(split) for split in SPLITS] == [["counter/train/00000", "counter/train/00001"], [], []]
    observation, _ = env.reset("counter/train/00001")
    assert observation == "\nThe counter shows 2; make it show 4."
    _, reward, done, info = env.step(calls(("double", {})))
    assert (reward, done) == (0.0, False)  # no done(): only the step limit ends the episode
    env.step(calls(("add", {"amount": 1})))
    _, reward, done, info = env.step(calls(("add", {"amount": 1})))
    assert (reward, done, info["won"]) == (0.0, True, False)  # 6 != 4: get_reward() is 0

    env = TRLStyleEnv("counter", module.CounterPuzzle, rows, reward_funcs=lambda puzzle: 0.5, max_steps=1)
    env.reset("counter/train/00000")
    assert env.step(calls(("double", {})))[1] == 0.5
    with pytest.raises(UnknownTaskError):
        env.reset("counter/eval_in/00000")
    chat_rows = {"eval_in": [{"prompt": [{"role": "user", "content": "Reach it."}], "start": 1, "target": 2}]}
    env = TRLStyleEnv("counter", module.CounterPuzzle, chat_rows, done=module.reached_or_passed)
    assert env.reset("counter/eval_in/00000")[0] == "Reach it.\nThe counter shows 1; make it show 2."
    with pytest.raises(ValueError, match="unknown splits"):
        TRLStyleEnv("counter", module.CounterPuzzle, {"test": rows})

    class NoReward:
        def reset(self, **row):
            return None

    with pytest.raises(ValueError, match="pass reward_funcs"):
        TRLStyleEnv("plain", NoReward, rows)
    env = TRLStyleEnv("plain", NoReward, rows, reward_funcs=lambda _: 1.0)
    with pytest.raises(ValueError, match="has no prompt"):
        env.reset("plain/train/00000")
