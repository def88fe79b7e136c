"""The household world: its vocabulary, and the scene and goal of every task id.

A task is a pure function of its id. The id is hashed with zlib.crc32 (stable across runs and
machines, unlike Python's salted hash()) and seeds a random.Random that draws the room, where
the objects lie and the goal. Nothing else feeds the draw, so a task id names the same task
everywhere.
"""

from __future__ import annotations

import random
import zlib
from collections import Counter
from dataclasses import dataclass, replace

# Kept small on purpose: a tiny word-level model must cover every word the env can print.
OBJECT_TYPES = ("apple", "bread", "egg", "knife", "mug", "plate", "potato", "tomato")

# receptacle type -> the most instances of it one room may hold
RECEPTACLE_SLOTS = {
    "cabinet": 4,
    "countertop": 2,
    "diningtable": 1,
    "drawer": 4,
    "fridge": 1,
    "microwave": 1,
    "shelf": 3,
    "sinkbasin": 1,
}
RECEPTACLE_TYPES = tuple(RECEPTACLE_SLOTS)

# These start closed and hide what they hold until opened.
OPENABLE_TYPES = frozenset({"cabinet", "drawer", "fridge", "microwave"})


def kind(name: str) -> str:
    """The type of an instance name: "drawer 2" -> "drawer"."""
    return name.split(" ", 1)[0]


def is_openable(receptacle: str) -> bool:
    return kind(receptacle) in OPENABLE_TYPES


def preposition(receptacle: str) -> str:
    """Things go in a box and on a surface."""
    return "in" if is_openable(receptacle) or kind(receptacle) == "sinkbasin" else "on"


# (object type, goal receptacle type) pairs that are goals only in eval_out. Object i is paired
# with receptacle type 3*i mod 8, so every object type and every receptacle type is held out
# exactly once and still appears in seven train pairs: eval_out tests new combinations of
# known words, never unknown words.
HELD_OUT_PAIRS = frozenset(
    {
        ("apple", "cabinet"),
        ("bread", "drawer"),
        ("egg", "shelf"),
        ("knife", "countertop"),
        ("mug", "fridge"),
        ("plate", "sinkbasin"),
        ("potato", "diningtable"),
        ("tomato", "microwave"),
    }
)
SEEN_PAIRS = frozenset((obj, recep) for obj in OBJECT_TYPES for recep in RECEPTACLE_TYPES) - HELD_OUT_PAIRS


@dataclass(frozen=True)
class Treatment:
    """The middle stage of a two-stage goal: `verb` the object with the `tool` to make it `adjective`."""

    verb: str  # the command word: "heat"
    adjective: str  # the word in the instruction and the state: "hot"
    tool: str  # the receptacle that does it: "microwave 1"

    @property
    def tool_type(self) -> str:
        return kind(self.tool)


SIMPLE = "pick_and_place_simple"
TREATMENTS = {
    "pick_clean_then_place_in_recep": Treatment("clean", "clean", "sinkbasin 1"),
    "pick_heat_then_place_in_recep": Treatment("heat", "hot", "microwave 1"),
    "pick_cool_then_place_in_recep": Treatment("cool", "cool", "fridge 1"),
}
# tool receptacle type -> the treatment it performs (which command `{verb} {obj} with {tool}` runs there)
TREATMENT_AT = {treatment.tool_type: treatment for treatment in TREATMENTS.values()}


@dataclass(frozen=True)
class WorldSpec:
    """How a variant draws its tasks."""

    receptacles: tuple[int, int]  # (min, max) receptacles in a room
    min_openable: int  # at least this many of them start closed
    distractors: tuple[int, int]  # (min, max) objects besides the target
    task_types: tuple[str, ...]  # drawn uniformly
    hint: bool  # the task text says where the target lies
    listing: bool = False  # the task text lists where every object lies (the target among them)

    @property
    def has_treatments(self) -> bool:
        """Whether the clean/heat/cool commands exist in this variant's grammar."""
        return any(task_type in TREATMENTS for task_type in self.task_types)


@dataclass(frozen=True)
class Task:
    """The scene at the start of an episode and the goal."""

    task_id: str
    task_type: str
    receptacles: tuple[str, ...]  # instance names, sorted: ("cabinet 1", "drawer 1", ...)
    placements: tuple[tuple[str, str], ...]  # (object, receptacle) at the start
    target: str  # the object to place: "apple 1"
    goal: str  # where it must end up: "fridge 1"
    treatment: Treatment | None  # None for pick-and-place
    text: str  # the instruction: "put some apple in fridge 1"

    @property
    def target_type(self) -> str:
        return kind(self.target)

    @property
    def goal_type(self) -> str:
        return kind(self.goal)


def make_task(task_id: str, split: str, spec: WorldSpec) -> Task:
    """The task `task_id` of `split` (whose goal pairs it draws from), deterministic from the id."""
    rng = random.Random(zlib.crc32(task_id.encode("utf-8")))
    task_type = rng.choice(spec.task_types)
    treatment = TREATMENTS.get(task_type)

    # Placing the object into its own tool ("put a hot apple in microwave 1") would be odd.
    pairs = HELD_OUT_PAIRS if split == "eval_out" else SEEN_PAIRS
    pairs = sorted(pair for pair in pairs if treatment is None or pair[1] != treatment.tool_type)
    target_type, goal_type = rng.choice(pairs)

    required = [goal_type] + ([treatment.tool_type] if treatment else [])
    receptacles = _draw_room(rng, spec, required)
    goal = rng.choice([name for name in receptacles if kind(name) == goal_type])

    # Every type appears at most once, so "some apple" names exactly one object.
    target = f"{target_type} 1"
    placements = [(target, rng.choice([name for name in receptacles if name != goal]))]
    others = [obj for obj in OBJECT_TYPES if obj != target_type]
    for obj in rng.sample(others, rng.randint(*spec.distractors)):
        placements.append((f"{obj} 1", rng.choice(receptacles)))

    text = _instruction(target_type, goal, treatment)
    if spec.hint:
        text += f". The {target} is {preposition(placements[0][1])} {placements[0][1]}."
    elif spec.listing:
        text += ". " + _listing(sorted(placements))
    return Task(task_id, task_type, receptacles, tuple(sorted(placements)), target, goal, treatment, text)


def move_target(task: Task) -> Task:
    """`task` after its target was moved, the task text unchanged: its hint (or listing) now points to the wrong place.

    The environment shift of the Entropulse revival study (docs/entropy.md): the action the trained policy keeps
    choosing ("go to" where the text says) stops paying, and another one it can already say pays instead. The new
    place is the room's first receptacle, in the order the room description lists them, that is neither the goal
    nor the old place: a fixed rule, so a policy can learn it, over names the policy has always read and copied.
    """
    old_place = dict(task.placements)[task.target]
    new_place = next(recep for recep in task.receptacles if recep not in (task.goal, old_place))
    placements = [(obj, new_place if obj == task.target else place) for obj, place in task.placements]
    return replace(task, placements=tuple(sorted(placements)))


def _listing(placements: list[tuple[str, str]]) -> str:
    """'The apple 1 is in drawer 2, the egg 1 is on shelf 1, and the mug 1 is in fridge 1.'"""
    clauses = [f"the {obj} is {preposition(place)} {place}" for obj, place in placements]
    if len(clauses) > 1:
        clauses[-1] = "and " + clauses[-1]
    sentence = ", ".join(clauses) if len(clauses) > 2 else " ".join(clauses)
    return sentence[0].upper() + sentence[1:] + "."


def _instruction(target_type: str, goal: str, treatment: Treatment | None) -> str:
    if treatment is None:
        return f"put some {target_type} {preposition(goal)} {goal}"
    return f"put a {treatment.adjective} {target_type} {preposition(goal)} {goal}"


def _draw_room(rng: random.Random, spec: WorldSpec, required: list[str]) -> tuple[str, ...]:
    """Receptacle names of a room holding the `required` types and at least `spec.min_openable` closed ones."""
    slots = [recep for recep, count in RECEPTACLE_SLOTS.items() for _ in range(count)]
    chosen = list(required)
    for recep in chosen:
        slots.remove(recep)

    missing_openable = max(0, spec.min_openable - sum(recep in OPENABLE_TYPES for recep in chosen))
    openable = rng.sample([recep for recep in slots if recep in OPENABLE_TYPES], missing_openable)
    for recep in openable:
        slots.remove(recep)
    chosen += openable

    size = max(rng.randint(*spec.receptacles), len(chosen))
    chosen += rng.sample(slots, size - len(chosen))

    # Number instances of a type 1, 2, ... so names read like ALFWorld's.
    counts = Counter(chosen)
    return tuple(f"{recep} {number}" for recep in sorted(counts) for number in range(1, counts[recep] + 1))
