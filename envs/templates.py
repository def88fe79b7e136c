"""Command templates -> the entity names a command mentions (for the `unknown_entity` flag).

Engines describe their grammar as templates with placeholders: TextWorld "take {o} from {c}",
ScienceWorld "move OBJ to OBJ". A command that fits a template names the entities in its
placeholder slots; if one of those names is not an entity of the game, the agent made it up.
A command that fits no template (an unknown verb, free text) names no entity: it is invalid but
not a hallucinated entity. Pure Python, shared by the TextWorld and ScienceWorld adapters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


class TemplateMatcher:
    """Matches commands against templates whose slots look like `placeholder` (a regex, case-insensitive)."""

    def __init__(self, templates: Iterable[str], placeholder: str) -> None:
        patterns = []  # (literal length, compiled pattern)
        for template in set(templates):
            parts = [
                re.sub(r"\s+", " ", part)
                for part in re.split(placeholder, template.strip().lower(), flags=re.IGNORECASE)
            ]
            if len(parts) == 1:
                continue  # no slot: "look", "go east" name no entity
            body = "(.+?)".join(re.escape(part) for part in parts)
            patterns.append((sum(map(len, parts)), body))
        # Longest literal first, so "take {o} from {c}" wins over "take {o}" for "take x from y".
        self._patterns = [re.compile(f"^{body}$") for _, body in sorted(patterns, key=lambda item: (-item[0], item[1]))]

    def arguments(self, command: str) -> list[str] | None:
        """The slot fillers of the first template `command` fits, or None if it fits none."""
        text = " ".join(command.lower().split())
        for pattern in self._patterns:
            match = pattern.match(text)
            if match:
                return [argument.strip() for argument in match.groups()]
        return None


def names_unknown_entity(arguments: list[str] | None, is_known) -> bool:
    """True when some slot filler is not an entity name (`is_known(name) -> bool`)."""
    return arguments is not None and any(not is_known(argument) for argument in arguments)
