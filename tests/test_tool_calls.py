"""Parsing Qwen2.5/Qwen3 (Hermes) tool calls out of model output, by hand-written cases."""

from __future__ import annotations

import json

import pytest

from agentrl.rollout.tool_calls import ToolCallError, format_tool_calls, parse_tool_calls, tool_action


def test_one_and_several_calls_with_reasoning_around_them():
    text = (
        "<think>I need the employer first.</think>\n"
        '<tool_call>\n{"name": "search", "arguments": {"query": "Varnel Osk"}}\n</tool_call>\n'
        '<tool_call>{"name": "answer", "arguments": {"answer": "Lyon", "confidence": 0.5}}</tool_call>'
    )
    assert parse_tool_calls(text) == [
        {"name": "search", "arguments": {"query": "Varnel Osk"}},
        {"name": "answer", "arguments": {"answer": "Lyon", "confidence": 0.5}},
    ]


def test_arguments_as_a_json_string_and_missing_arguments():
    assert parse_tool_calls('<tool_call>{"name": "f", "arguments": "{\\"x\\": 1}"}</tool_call>') == [
        {"name": "f", "arguments": {"x": 1}}
    ]
    assert parse_tool_calls('<tool_call>{"name": "look"}</tool_call>') == [{"name": "look", "arguments": {}}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("I think the answer is Lyon.", "no tool call found"),
        ('<tool_call>{"name": "search", "arguments": {"query": "x"}</tool_call>', "not valid JSON"),
        ('<tool_call>{"arguments": {"query": "x"}}</tool_call>', 'no "name"'),
        ('<tool_call>{"name": "search", "arguments": ["x"]}</tool_call>', "must be a JSON object"),
        ('<tool_call>{"name": "search", "arguments": {"query": "x"}}', "not closed"),
        ('<tool_call>{"name": "a"}</tool_call><tool_call>oops</tool_call>', "tool call 2 is not valid JSON"),
    ],
)
def test_malformed_output_names_the_problem_and_the_fix(text, message):
    with pytest.raises(ToolCallError, match=message) as raised:
        parse_tool_calls(text)
    if "closed" not in message:
        assert "<tool_call>" in str(raised.value)  # shows the model the format to use


def test_tool_action_is_what_a_tool_environment_takes():
    action, ok = tool_action('<tool_call>{"name": "search", "arguments": {"query": "q"}}</tool_call>')
    assert ok and json.loads(action) == {"tool_calls": [{"name": "search", "arguments": {"query": "q"}}]}
    action, ok = tool_action("no call here")
    assert not ok and "no tool call found" in json.loads(action)["error"]
    # an environment that takes a call-free turn as the final answer (TRL's rule): well-formed; a broken call is not
    action, ok = tool_action("the answer is 42", answers_in_text=True)
    assert ok and json.loads(action)["content"] == "the answer is 42"
    action, ok = tool_action('<tool_call>{"name": "search"', answers_in_text=True)
    assert not ok and "not closed" in json.loads(action)["error"]


def test_format_is_the_inverse_of_parse_and_matches_qwen_rendering():
    from transformers.utils.chat_template_utils import render_jinja_template
    from trl.chat_template_utils import qwen2_5_chat_template

    calls = [{"name": "search", "arguments": {"query": "Quorin Labs"}}]
    text = format_tool_calls(calls)
    assert parse_tool_calls(text) == calls
    # Qwen2.5's template writes an assistant message's structured tool_calls exactly like this
    structured = {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": calls[0]}]}
    rendered = render_jinja_template([[structured]], chat_template=qwen2_5_chat_template)[0][0]
    assert f"<|im_start|>assistant\n{text}<|im_end|>" in rendered
