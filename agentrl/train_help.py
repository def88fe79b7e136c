"""`agentrl train --help`: agentrl's own usage and fields first, at once; TRL's and transformers' fields after.

agentrl's part is read from the source of agentrl/config.py (field names, defaults, help texts and the
`# ---- group ----` comments that group them) without importing it: importing AgentRLConfig imports TRL,
transformers and torch, seconds to tens of seconds on a busy machine. The TRL part needs that import; it is
printed after agentrl's, by TRL's own argument parser.
"""

from __future__ import annotations

import ast
import re
import sys
import textwrap
from pathlib import Path

WIDTH = 120
USAGE = """\
usage: agentrl train --config RECIPE.yaml [--smoke] [--resume_from_checkpoint auto|PATH] [--overwrite_output_dir]
                     [--FIELD VALUE ...]

Train an agent with a recipe: a YAML file of the fields below (agentrl's) and of TRL's GRPOConfig (listed after
them). Any field can also be given on the command line as --FIELD VALUE, which overrides the recipe.

  --config RECIPE.yaml            the recipe, e.g. recipes/quickstart.yaml (`base: OTHER.yaml` inside a recipe
                                  starts from OTHER's fields)
  --smoke                         dry run: the recipe's algorithm and environment, one update with the tiny offline
                                  model on CPU, in about a minute (docs/reproduce.md)
  --resume_from_checkpoint auto|PATH
                                  continue a stopped run: auto = the newest complete checkpoint-N in output_dir
  --overwrite_output_dir          start over in an output_dir that holds an earlier run's results (they are
                                  replaced); without it such a run stops and says what is there
  -h, --help                      this text

Examples:
  agentrl train --config recipes/quickstart.yaml
  agentrl train --config recipes/quickstart.yaml --max_steps 10 --seed 1 --output_dir runs/try
  accelerate launch --config_file recipes/accelerate/multi_gpu.yaml -m agentrl train --config RECIPE.yaml
"""


def _group_name(comment: str) -> str:
    """'# ---- SEAL: hidden-state ... (docs/algorithms.md) -----' -> 'SEAL: hidden-state ... (docs/algorithms.md)'."""
    return comment.strip().lstrip("#").strip().strip("-").strip()


def agentrl_fields(source: str) -> list[tuple[str, list[tuple[str, str, str, str]]]]:
    """[(group, [(name, type, default, help), ...]), ...] of the AgentRLConfig class in `source`, in order."""
    tree = ast.parse(source)
    constants = {  # module-level NAME = "literal", so a default written as TINY_MODEL shows as tiny
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
    }
    lines = source.splitlines()
    groups: list[tuple[str, list]] = []
    cls = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "AgentRLConfig")
    last_line = cls.lineno
    for node in cls.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        for line in lines[last_line : node.lineno - 1]:  # group comments between the previous field and this one
            if re.match(r"\s*# ----", line):
                groups.append((_group_name(line), []))
        last_line = node.end_lineno
        default, help_text = "", ""
        value = node.value
        if isinstance(value, ast.Call) and getattr(value.func, "id", "") == "field":
            for keyword in value.keywords:
                if keyword.arg == "default":
                    default = constants.get(getattr(keyword.value, "id", None), None) or ast.unparse(keyword.value)
                    default = default.strip("'\"")
                elif keyword.arg == "metadata" and isinstance(keyword.value, ast.Dict):
                    for key, item in zip(keyword.value.keys, keyword.value.values):
                        if isinstance(key, ast.Constant) and key.value == "help" and isinstance(item, ast.Constant):
                            help_text = item.value
        elif value is not None:
            default = ast.unparse(value)
        if not groups:
            groups.append(("agentrl", []))
        groups[-1][1].append((node.target.id, ast.unparse(node.annotation), default, help_text))
    return groups


def agentrl_help() -> str:
    """The usage and agentrl's own fields, grouped as in agentrl/config.py."""
    source = (Path(__file__).parent / "config.py").read_text()
    parts = [USAGE, "agentrl's fields (default in brackets):"]
    for group, fields in agentrl_fields(source):
        parts.append(f"\n{group}:")
        for name, kind, default, help_text in fields:
            kind = kind.replace(" | None", "").replace("dict[str, Any] | str", "mapping")
            head = f"  --{name} {kind.upper()}"
            text = f"[{default}] {help_text}".strip()
            body = [" " * 34 + line for line in textwrap.wrap(text, WIDTH - 34)]
            if len(head) < 32:  # the first line of the text goes beside the option, as argparse does
                body[0] = f"{head:34s}{body[0][34:]}"
            else:
                body.insert(0, head)
            parts.extend(body)
    return "\n".join(parts) + "\n"


def trl_help() -> str:
    """TRL's GRPOConfig fields (transformers' TrainingArguments included), as TRL's own parser prints them."""
    import argparse

    from trl import GRPOConfig, TrlParser

    parser = TrlParser(GRPOConfig, prog="agentrl train")
    parser.usage = argparse.SUPPRESS  # the usage line of ~200 options is what made the old --help unreadable
    text = parser.format_help()
    intro = (
        "TRL's GRPOConfig fields (transformers' TrainingArguments included). agentrl reads per_device_train_batch_size "
        "as episodes per process per update and max_steps as optimizer updates (README, section Recipes):"
    )
    return "\n" + textwrap.fill(intro, WIDTH) + "\n\n" + text


def print_train_help() -> None:
    """agentrl's part at once (flushed before TRL is imported), then TRL's."""
    sys.stdout.write(agentrl_help())
    sys.stdout.flush()
    sys.stdout.write(trl_help())
    sys.stdout.flush()
