"""Native function calling, Hermes / Qwen2.5 / Qwen3 style: calls in the model's output, results as tool messages.

The model writes each call as

    <tool_call>
    {"name": "search", "arguments": {"query": "Varnel Osk"}}
    </tool_call>

(the format the Qwen2.5 and Qwen3 chat templates declare in their tool system prompt and use to render an
assistant message's `tool_calls`). `tool_action` turns a response into the action a tool environment
(envs/tools.py) takes: JSON text {"tool_calls": [...]} with every call of the turn, or {"error": ..., "content": ...}
naming what was wrong with the output, so a malformed call reaches the model as an error message, never a crash.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

OPEN, CLOSE = "<tool_call>", "</tool_call>"
_BLOCK = re.compile(re.escape(OPEN) + r"(.*?)(" + re.escape(CLOSE) + r"|$)", re.DOTALL)
_EXAMPLE = OPEN + '\n{"name": "<tool name>", "arguments": {"<parameter>": <value>}}\n' + CLOSE


class ToolCallError(ValueError):
    """The model's output holds no well-formed tool call; the message is shown to the model."""


def parse_tool_calls(text: str) -> list[dict]:
    """Every <tool_call> block of `text` as {"name": str, "arguments": dict}; ToolCallError if there is none or
    one is malformed (not JSON, no name, arguments not an object, unclosed)."""
    blocks = _BLOCK.findall(text)
    if not blocks:
        raise ToolCallError(f"no tool call found. Call a tool as {_EXAMPLE}")
    calls = []
    for number, (body, closing) in enumerate(blocks, start=1):
        where = f"tool call {number}" if len(blocks) > 1 else "the tool call"
        if not closing:
            raise ToolCallError(f"{where} is not closed with {CLOSE}")
        try:
            call = json.loads(body)
        except json.JSONDecodeError as error:
            raise ToolCallError(f"{where} is not valid JSON ({error.msg}). Write {_EXAMPLE}") from None
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise ToolCallError(f'{where} has no "name". Write {_EXAMPLE}')
        arguments = call.get("arguments", {})
        if isinstance(arguments, str):  # some models write the arguments as a JSON string
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                pass
        if not isinstance(arguments, dict):
            raise ToolCallError(f'{where}: "arguments" must be a JSON object. Write {_EXAMPLE}')
        calls.append({"name": call["name"], "arguments": arguments})
    return calls


def tool_action(response: str, answers_in_text: bool = False) -> tuple[str, bool]:
    """(the action for a tool environment, whether the turn is well-formed). Without a well-formed call the action
    carries the response as "content": an environment that takes such a turn as the final answer (TRL's rollouts end
    there) scores its text. With `answers_in_text` (the environment says so in its info), a turn with no tool call at
    all is such an answer and well-formed; a broken call is still malformed."""
    try:
        return json.dumps({"tool_calls": parse_tool_calls(response)}), True
    except ToolCallError as error:
        answer = answers_in_text and OPEN not in response
        return json.dumps({"error": str(error), "content": response}), answer


def format_tool_calls(calls: Sequence[dict], content: str = "") -> str:
    """The text a model writes for `calls` (the inverse of `parse_tool_calls`): expert demonstrations use it."""
    blocks = [OPEN + "\n" + json.dumps({"name": c["name"], "arguments": c["arguments"]}) + "\n" + CLOSE for c in calls]
    return content + "\n".join(blocks)
