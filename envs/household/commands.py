"""The command grammar (ALFWorld 0.4.2 style): which commands apply now, and what each one does.

Admissibility and effect live side by side so they cannot disagree: the env accepts exactly
the texts `admissible_commands` lists, and `apply` assumes its command was listed.
"""

from __future__ import annotations

from typing import NamedTuple

from agentrl.envs.household.state import State
from agentrl.envs.household.world import TREATMENT_AT, is_openable, kind

_OPPOSITE = {"hot": "cool", "cool": "hot"}


class Command(NamedTuple):
    verb: str  # go, open, close, take, move, examine, look, inventory, clean, heat, cool
    obj: str = ""
    receptacle: str = ""

    @property
    def text(self) -> str:
        if self.verb == "go":
            return f"go to {self.receptacle}"
        if self.verb == "take":
            return f"take {self.obj} from {self.receptacle}"
        if self.verb == "move":
            return f"move {self.obj} to {self.receptacle}"
        if self.verb in ("clean", "heat", "cool"):
            return f"{self.verb} {self.obj} with {self.receptacle}"
        return " ".join(part for part in (self.verb, self.receptacle) if part)


def admissible_commands(state: State, with_treatments: bool) -> dict[str, Command]:
    """{text: command} of every command that does something now, sorted by text."""
    commands = [Command("look"), Command("inventory")]
    commands += [Command("go", receptacle=recep) for recep in state.receptacles if recep != state.location]
    here = state.location
    if here is not None:
        commands.append(Command("examine", receptacle=here))
        if is_openable(here):
            commands.append(Command("close" if here in state.opened else "open", receptacle=here))
        if state.is_accessible(here):
            if state.holding is None:
                commands += [Command("take", obj, here) for obj in state.contents(here)]
            else:
                commands.append(Command("move", state.holding, here))
        treatment = TREATMENT_AT.get(kind(here))
        if with_treatments and treatment is not None and state.holding is not None:
            commands.append(Command(treatment.verb, state.holding, here))
    return {command.text: command for command in sorted(commands, key=lambda command: command.text)}


def apply(state: State, command: Command) -> str:
    """Carry out an admissible `command` on `state`; return the observation."""
    verb, obj, recep = command
    if verb == "go":
        state.location = recep
        return f"You arrive at {recep}. {describe(state, recep)}"
    if verb == "open":
        state.opened.add(recep)
        return f"You open the {recep}. {describe(state, recep)}"
    if verb == "close":
        state.opened.discard(recep)
        return f"You close the {recep}."
    if verb == "take":
        del state.where[obj]
        state.holding = obj
        return f"You pick up the {obj} from the {recep}."
    if verb == "move":
        state.where[obj] = recep
        state.holding = None
        return f"You move the {obj} to the {recep}."
    if verb == "examine":
        return describe(state, recep)
    if verb == "look":
        if state.location is None:
            return describe_room(state.receptacles)
        return f"You are facing the {state.location}. Next to it, you see nothing."
    if verb == "inventory":
        return f"You are carrying: a {state.holding}." if state.holding else "You are not carrying anything."
    treatment = TREATMENT_AT[kind(recep)]
    properties = state.properties[obj]
    properties.discard(_OPPOSITE.get(treatment.adjective))  # heating undoes cooling and back; cleaning stays
    properties.add(treatment.adjective)
    return f"You {verb} the {obj} using the {recep}."


def describe(state: State, receptacle: str) -> str:
    """What the agent sees of `receptacle`: closed, or what lies in or on it."""
    if not is_openable(receptacle):
        return f"On the {receptacle}, you see {_enumerate(state.contents(receptacle))}."
    if receptacle not in state.opened:
        return f"The {receptacle} is closed."
    return f"The {receptacle} is open. In it, you see {_enumerate(state.contents(receptacle))}."


def describe_room(receptacles: tuple[str, ...]) -> str:
    return f"You are in the middle of a room. Looking quickly around you, you see {_enumerate(list(receptacles))}."


def _enumerate(names: list[str]) -> str:
    """ALFWorld's listing: "nothing", "a apple 1", "a apple 1, and a mug 1", "a x, a y, and a z"."""
    if not names:
        return "nothing"
    items = [f"a {name}" for name in names]
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + ", and " + items[-1]
