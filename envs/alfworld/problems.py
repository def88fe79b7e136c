"""ALFRED-style problem folders for generated games: `traj_data.json` + `initial_state.pddl`.

This is the input format of ALFWorld's game generator (`alfworld-generate`), the same two files every
official game folder starts from. A problem is a room layout (rooms.py) plus one goal of ALFWorld's six
task types and the objects lying around. Everything that decides solvability comes from ALFWorld:

- which object types a receptacle type may hold: `constants.VAL_RECEPTACLE_OBJECTS` (-> `canContain`),
- which objects can be cleaned / heated / cooled / sliced: `constants.VAL_ACTION_OBJECTS`,
- which receptacles open and close: `constants.OPENABLE_CLASS_SET`,
- the goal formula of each task type: `goal_library.gdict[task_type]["pddl"]`,
- the stations of the domain's actions: CleanObject needs a SinkBasin, HeatObject a Microwave,
  CoolObject a Fridge (alfred.pddl).

A sampled problem is never solved at the start: no instance of the target type starts in a receptacle of
the goal type, and cool-task targets never start in the fridge (ALFRED marks what lies in a fridge as
already cool).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from agentrl.envs.alfworld.rooms import LAMP_RECEPTACLES, LAMP_ROOMS, ROOM_OBJECTS, Layout, Receptacle, thor_id

# task type -> (VAL_ACTION_OBJECTS key the target must be in, receptacle type of the station)
TREATMENTS = {
    "pick_clean_then_place_in_recep": ("Cleanable", "SinkBasin"),
    "pick_heat_then_place_in_recep": ("Heatable", "Microwave"),
    "pick_cool_then_place_in_recep": ("Coolable", "Fridge"),
}
LAMP = "DeskLamp"
# Types the domain's action preconditions name (CleanObject, HeatObject, CoolObject, SliceObject): a PDDL
# problem must declare them even when the room has none.
DOMAIN_RTYPES = ("SinkBasin", "Microwave", "Fridge")
DOMAIN_OTYPES = ("Knife", "ButterKnife")
# PDDL-safe ids, the substitution ALFRED's planner applies to AI2-THOR ids.
_MANGLE = {"-": "_minus_", "|": "_bar_", "+": "_plus_", ".": "_dot_", ",": "_comma_"}


@dataclass(frozen=True)
class Placement:
    object_id: str
    object_type: str
    receptacle: Receptacle


@dataclass(frozen=True)
class Problem:
    task_type: str
    layout: Layout
    object_target: str
    parent_target: str  # "" for look_at_obj_in_light
    toggle_target: str  # "DeskLamp" for look_at_obj_in_light, else ""
    placements: tuple[Placement, ...]

    @property
    def folder_name(self) -> str:
        """ALFRED's folder naming: <task_type>-<Object>-<MRecep|None>-<Recep or toggle>-<scene>."""
        second = self.toggle_target or self.parent_target
        return f"{self.task_type}-{self.object_target}-None-{second}-{self.layout.scene}"


def can_hold(receptacle_type: str, object_type: str) -> bool:
    from alfworld.gen import constants

    return object_type in constants.VAL_RECEPTACLE_OBJECTS.get(receptacle_type, ())


def sample_problem(task_type: str, layout: Layout, rng: random.Random) -> Problem | None:
    """A random problem of `task_type` in `layout`, or None when the room cannot host that task type."""
    from alfworld.gen import constants

    if layout.room_type not in constants.GOALS_VALID[task_type]:
        return None
    present = sorted(layout.types())
    pool = list(ROOM_OBJECTS[layout.room_type])
    excluded_sources: set[str] = set()
    if task_type in TREATMENTS:
        ability, station = TREATMENTS[task_type]
        if station not in present:
            return None
        pool = [o for o in pool if o in constants.VAL_ACTION_OBJECTS[ability]]
        excluded_sources.add(station)  # nobody asks to put a cleaned apple in the sink it was cleaned in

    # (object type, goal receptacle type or lamp, source receptacle types) triples that make a real task.
    choices = []
    for object_type in pool:
        holders = [r for r in present if can_hold(r, object_type)]
        if task_type == "look_at_obj_in_light":
            if layout.room_type in LAMP_ROOMS and holders:
                choices.append((object_type, "", holders))
            continue
        for goal in holders:
            if goal in excluded_sources:
                continue
            sources = [r for r in holders if r != goal and r not in excluded_sources]
            if task_type == "pick_cool_then_place_in_recep":
                sources = [r for r in sources if r != "Fridge"]
            if sources:
                choices.append((object_type, goal, sources))
    if not choices:
        return None
    object_target, parent_target, sources = rng.choice(choices)

    placements: list[Placement] = []
    used_ids: set[str] = set()

    def place(object_type: str, receptacle: Receptacle) -> None:
        object_id = thor_id(object_type, rng)
        while object_id in used_ids:
            object_id = thor_id(object_type, rng)
        used_ids.add(object_id)
        placements.append(Placement(object_id, object_type, receptacle))

    copies = rng.randint(2, 3) if task_type == "pick_two_obj_and_place" else rng.randint(1, 3)
    source_receptacles = [r for r in layout.receptacles if r.type in sources]
    for _ in range(copies):
        place(object_target, rng.choice(source_receptacles))
    toggle_target = ""
    if layout.room_type in LAMP_ROOMS:  # furniture of every living room and bedroom, used by look_at tasks
        place(LAMP, rng.choice([r for r in layout.receptacles if r.type in LAMP_RECEPTACLES]))
        toggle_target = LAMP if task_type == "look_at_obj_in_light" else ""
    distractor_types = [o for o in ROOM_OBJECTS[layout.room_type] if o != object_target]
    for _ in range(rng.randint(4, 10)):
        object_type = rng.choice(distractor_types)
        holders = [r for r in layout.receptacles if can_hold(r.type, object_type)]
        if holders:
            place(object_type, rng.choice(holders))
    return Problem(task_type, layout, object_target, parent_target, toggle_target, tuple(placements))


def mangle(thor_name: str) -> str:
    return "".join(_MANGLE.get(ch, ch) for ch in thor_name)


def problem_pddl(problem: Problem) -> str:
    """The PDDL problem (domain `alfred`) ALFWorld's engine plays: objects, init facts, goal."""
    from alfworld.gen import constants, goal_library

    layout = problem.layout
    receptacle_types = sorted(layout.types() | set(DOMAIN_RTYPES))
    object_types = sorted({p.object_type for p in problem.placements} | set(DOMAIN_OTYPES))
    locations = sorted({r.location for r in layout.receptacles} | {layout.agent_location})

    objects = ["agent1 - agent"]
    objects += [f"{t}Type - otype" for t in object_types]
    objects += [f"{t}Type - rtype" for t in receptacle_types]
    objects += [f"{mangle(p.object_id)} - object" for p in problem.placements]
    objects += [f"{mangle(r.id)} - receptacle" for r in layout.receptacles]
    objects += [f"{mangle(loc)} - location" for loc in locations]

    init = [f"(atLocation agent1 {mangle(layout.agent_location)})"]
    for r in layout.receptacles:
        init.append(f"(receptacleType {mangle(r.id)} {r.type}Type)")
        init.append(f"(receptacleAtLocation {mangle(r.id)} {mangle(r.location)})")
        if r.type in constants.OPENABLE_CLASS_SET:
            init.append(f"(openable {mangle(r.id)})")
    abilities = (("cleanable", "Cleanable"), ("heatable", "Heatable"), ("coolable", "Coolable"))
    abilities += (("sliceable", "Sliceable"),)
    for p in problem.placements:
        name = mangle(p.object_id)
        init.append(f"(objectType {name} {p.object_type}Type)")
        init.append(f"(inReceptacle {name} {mangle(p.receptacle.id)})")
        init.append(f"(objectAtLocation {name} {mangle(p.receptacle.location)})")
        if p.object_type in constants.VAL_ACTION_OBJECTS["Toggleable"]:
            init.append(f"(toggleable {name})")
        else:
            init.append(f"(pickupable {name})")
        if p.object_type in constants.MOVABLE_RECEPTACLES_SET:
            init.append(f"(isReceptacleObject {name})")
        init += [f"({fact} {name})" for fact, key in abilities if p.object_type in constants.VAL_ACTION_OBJECTS[key]]
        if p.receptacle.type == "Fridge":
            init.append(f"(isCool {name})")  # ALFRED: whatever was in a fridge is cool
    for receptacle_type in receptacle_types:
        for object_type in object_types:
            if can_hold(receptacle_type, object_type):
                init.append(f"(canContain {receptacle_type}Type {object_type}Type)")

    goal = goal_library.gdict[problem.task_type]["pddl"].format(
        obj=problem.object_target, recep=problem.parent_target, toggle=problem.toggle_target, mrecep=""
    )
    goal = goal.replace(" # ", " - ")  # the goal library writes typed variables as "?r # receptacle"
    lines = [f"(define (problem {problem.folder_name.replace('-', '_')})", "    (:domain alfred)", "    (:objects"]
    lines += [f"        {item}" for item in objects] + ["    )", "    (:init"]
    lines += [f"        {fact}" for fact in init] + ["    )"]
    return "\n".join(lines) + goal + "\n"


def traj_data(problem: Problem) -> dict:
    """The fields of ALFRED's traj_data.json that ALFWorld reads (task type and pddl_params)."""
    return {
        "task_type": problem.task_type,
        "pddl_params": {
            "object_target": problem.object_target,
            "parent_target": problem.parent_target,
            "toggle_target": problem.toggle_target,
            "mrecep_target": "",
            "object_sliced": False,
        },
        "scene": {"scene_num": problem.layout.scene, "room_type": problem.layout.room_type},
        "turk_annotations": {"anns": []},
        "generator": "agentrl envs.alfworld (offline ALFRED-style problem)",
    }


def write_problem(problem: Problem, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "traj_data.json").write_text(json.dumps(traj_data(problem), indent=1))
    (folder / "initial_state.pddl").write_text(problem_pddl(problem))
