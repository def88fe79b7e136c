"""Turn a model response into an environment action.

Format of the benchmark protocol (verl-agent / GiGPO / EMPG): the model reasons inside
<think> </think> and puts exactly one action inside <action> </action>. Parsing lower-cases the text
and takes what stands between the first <action> and the following </action>. A step is
format-valid only if both tag pairs are present and the response has no CJK characters; an invalid
step still reaches the environment (as a no-op text) and costs the invalid-format penalty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


@dataclass(frozen=True)
class ParsedAction:
    action: str  # what is sent to the environment
    format_valid: bool


def parse_action(response: str) -> ParsedAction:
    text = response.lower()
    start = text.find("<action>")
    end = text.find("</action>", start + len("<action>")) if start >= 0 else -1
    if start >= 0 and end >= 0:
        action = text[start + len("<action>") : end].strip()
    else:  # no action tags: hand the environment the raw text (it will do nothing with it)
        action = text.strip()
    think_open = text.find("<think>")
    has_think = think_open >= 0 and text.find("</think>", think_open) >= 0
    format_valid = start >= 0 and end >= 0 and has_think and not _CJK.search(response)
    return ParsedAction(action=action, format_valid=format_valid)


def format_response(action: str, thought: str = "") -> str:
    """The response an expert demonstration teaches: the inverse of `parse_action`."""
    return f"<think>{thought}</think><action>{action}</action>"
