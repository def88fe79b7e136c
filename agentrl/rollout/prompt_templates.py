"""Prompt templates: the words of each step's user message, per environment (recipe key `prompt_template`).

A template is five small format strings (Python `str.format` fields, `{{` and `}}` for literal braces):

    prompt    the per-step user message (and, in concat mode, the conversation's first message)
    history   the block of the last K turns, shown only when there are any; holds {turns}
    turn      one past turn inside {turns}; the turns are joined by newlines
    actions   the admissible-actions line, shown only when the environment lists actions
    answer    concat mode: the user message that answers a turn (the history is already in the context)

A line of `prompt` or `answer` made of nothing but `{history}` or `{actions}` is left out when that block is
empty (the first step has no history; some environments list no actions). The fields each part may use are in
PART_FIELDS (docs/multiturn.md has the table); any other field is an error when the template is loaded, before
any model is.

Built in: `generic` (agentrl's text, the default: byte for byte the prompt agentrl has always written),
`alfworld` and `webshop` (the benchmark protocol's layout of verl-agent / GiGPO / EMPG, in agentrl's own words:
environment role sentence, task, step count, last K observations and actions, current observation, admissible
actions, reasoning and action-tag instruction). A YAML file with some of the five keys is a template too; the
parts it leaves out are the generic template's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import string
from dataclasses import dataclass
from pathlib import Path

PARTS = ("prompt", "history", "turn", "actions", "answer")
# What every step knows: the instruction, the current observation (stripped), its number (1 = the first step),
# how many steps were taken, how many past turns the prompt shows, and the admissible actions as a quoted list.
STEP_FIELDS = frozenset({"task", "observation", "step_number", "steps_taken", "history_count", "admissible_actions"})
PART_FIELDS: dict[str, frozenset[str]] = {
    "prompt": STEP_FIELDS | {"history", "actions"},
    "history": STEP_FIELDS | {"turns"},
    "turn": frozenset({"number", "observation", "action"}),
    "actions": frozenset({"admissible_actions"}),
    # concat: the answer to step_number - 1; the task is in the first message already
    "answer": frozenset({"observation", "step_number", "steps_taken", "admissible_actions", "actions"}),
}
OPTIONAL_BLOCKS = ("history", "actions")  # a line holding only one of these is dropped when it is empty


class PromptTemplateError(ValueError):
    """A prompt template that cannot be used (unknown name, missing file, unknown field, bad braces)."""


@dataclass(frozen=True)
class PromptTemplate:
    name: str  # a built-in name or the file it was read from
    prompt: str
    history: str
    turn: str
    actions: str
    answer: str

    def parts(self) -> dict[str, str]:
        return {part: getattr(self, part) for part in PARTS}

    @property
    def fingerprint(self) -> str:
        """sha256 of the five parts (first 12 hex digits): a changed text, not a renamed file, is a new template."""
        return hashlib.sha256(json.dumps(self.parts(), sort_keys=True).encode()).hexdigest()[:12]


def fill(text: str, fields: dict[str, object]) -> str:
    """`text` with its fields filled; a line that is only `{history}` or `{actions}` goes when that block is ''."""
    lines = []
    for line in text.split("\n"):
        alone = line.strip()
        if alone[1:-1] in OPTIONAL_BLOCKS and alone == "{" + alone[1:-1] + "}" and fields.get(alone[1:-1]) == "":
            continue
        lines.append(line.format_map(fields))
    return "\n".join(lines)


def quoted_list(actions) -> str:
    """The admissible actions as the protocol quotes them: "go to cabinet 1", "look"."""
    return ", ".join(f'"{action}"' for action in actions)


# ---- the shipped templates ---------------------------------------------------------------------------------------
GENERIC = PromptTemplate(
    name="generic",
    prompt=(
        "You are an agent in a text world. Your task is to: {task}\n"
        "{history}\n"
        "You are now at step {step_number}. Current observation: {observation}\n"
        "{actions}\n"
        "Think step by step inside <think> </think>, then give one admissible action inside <action> </action>."
    ),
    history="You have taken {steps_taken} steps. Your last {history_count} observations and actions:\n{turns}",
    turn="[Observation {number}: {observation}] [Action {number}: {action}]",
    actions="Your admissible actions are: [{admissible_actions}]",
    answer="You are now at step {step_number}. Current observation: {observation}\n{actions}",
)

ALFWORLD = PromptTemplate(
    name="alfworld",
    prompt=(
        "You are a household robot in ALFWorld, a text simulation of rooms with numbered furniture, appliances "
        "and objects. Your task is to: {task}\n"
        "{history}\n"
        "This is step {step_number}. What you observe now: {observation}\n"
        "{actions}\n"
        "Before acting, reason step by step about where things are and what the task still needs, inside "
        "<think> </think> tags. Then write exactly one of the admissible actions inside <action> </action> tags."
    ),
    history=(
        "You have already taken {steps_taken} step(s). Your most recent {history_count} observation(s), each with "
        "the action you took after it:\n{turns}"
    ),
    turn="Observation {number}: {observation}\nAction {number}: {action}",
    actions="Admissible actions now: [{admissible_actions}]",
    answer="This is step {step_number}. What you observe now: {observation}\n{actions}",
)

WEBSHOP = PromptTemplate(
    name="webshop",
    prompt=(
        "You are a shopping assistant in WebShop, a simulated online store whose pages are shown as text, "
        "their elements separated by [SEP]. Your task is to find and buy the product that fits this "
        "instruction: {task}\n"
        "{history}\n"
        "This is step {step_number}. The page you see now: {observation}\n"
        "{actions}\n"
        "Before acting, reason step by step about which product, options and price fit the instruction, inside "
        "<think> </think> tags. Then write exactly one of the admissible actions inside <action> </action> tags "
        "(a search may use your own keywords inside search[...])."
    ),
    history=(
        "You have already taken {steps_taken} step(s). Your most recent {history_count} page(s), each with the "
        "action you took on it:\n{turns}"
    ),
    turn="Page {number}: {observation}\nAction {number}: {action}",
    actions="Admissible actions now: [{admissible_actions}]",
    answer="This is step {step_number}. The page you see now: {observation}\n{actions}",
)

BUILT_IN: dict[str, PromptTemplate] = {template.name: template for template in (GENERIC, ALFWORLD, WEBSHOP)}
DEFAULT_TEMPLATE = "generic"

# One value of every field, to render a template once when it is loaded (a bad format spec fails then, not mid-run).
_SAMPLE = {
    "task": "t",
    "observation": "o",
    "step_number": 2,
    "steps_taken": 1,
    "history_count": 1,
    "admissible_actions": '"a"',
    "history": "h",
    "actions": "a",
    "turns": "t",
    "number": 1,
    "action": "a",
}


def check_template(template: PromptTemplate) -> PromptTemplate:
    """Every field of every part is one the part knows, and every part renders; else PromptTemplateError."""
    for part, text in template.parts().items():
        if not isinstance(text, str):
            raise PromptTemplateError(
                f"prompt_template {template.name!r}: `{part}` must be text (a YAML string), got {type(text).__name__}"
            )
        allowed = PART_FIELDS[part]
        try:
            names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
        except ValueError as error:  # "Single '}' encountered in format string", ...
            raise PromptTemplateError(
                f"prompt_template {template.name!r}, part `{part}`: {error}; write {{{{ and }}}} for literal braces"
            ) from None
        for name in names:
            if name not in allowed:
                raise PromptTemplateError(
                    f"prompt_template {template.name!r}: unknown field {{{name}}} in `{part}`; the fields of `{part}` "
                    f"are {', '.join('{' + field + '}' for field in sorted(allowed))} (docs/multiturn.md, section "
                    "Prompt templates; write {{ and }} for literal braces)"
                )
        try:
            fill(text, _SAMPLE)
        except (ValueError, TypeError) as error:
            raise PromptTemplateError(f"prompt_template {template.name!r}, part `{part}`: {error}") from None
    return template


def load_prompt_template(spec: str | PromptTemplate | None) -> PromptTemplate:
    """A built-in template by name (generic, alfworld, webshop), or a YAML file of template parts."""
    if isinstance(spec, PromptTemplate):
        return check_template(spec)
    if spec is None or spec == "":
        return GENERIC
    if spec in BUILT_IN:
        return BUILT_IN[spec]
    path = Path(spec).expanduser()
    if not path.is_file():
        raise PromptTemplateError(
            f"prompt_template {spec!r} is neither a built-in template ({', '.join(BUILT_IN)}) nor a file (a relative "
            "path starts at the current folder; in a recipe, at the recipe's folder). Name a built-in one, or a YAML "
            f"file with some of the keys {', '.join(PARTS)} (docs/multiturn.md)."
        )
    import yaml

    try:
        parts = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise PromptTemplateError(f"prompt_template {spec!r}: cannot read it as YAML: {error}") from None
    if not isinstance(parts, dict) or not parts:
        raise PromptTemplateError(
            f"prompt_template {spec!r} must be a YAML mapping with some of the keys {', '.join(PARTS)} "
            "(e.g. `prompt: |-` followed by the text)"
        )
    unknown = sorted(str(key) for key in parts if key not in PARTS)
    if unknown:
        raise PromptTemplateError(
            f"prompt_template {spec!r}: unknown key(s) {', '.join(unknown)}; a template has the keys {', '.join(PARTS)}"
        )
    return check_template(dataclasses.replace(GENERIC, name=str(spec), **parts))
