"""Room layouts for generated ALFWorld games: which receptacles a room has, where, and what objects it holds.

ALFWorld's games come from AI2-THOR scenes (ALFRED). Offline we cannot read those scenes, so a layout is
drawn from a seeded generator instead, using ALFWorld's own scene numbering and room-type ranges
(`alfworld.gen.constants.SCENE_TYPE`): scene 7 is a kitchen, 215 a living room, 322 a bedroom, 410 a
bathroom. The same scene number always gives the same room (receptacle types, counts, ids, locations),
and the scene split follows ALFRED: `TRAIN_SCENE_NUMBERS` for train/eval_in ("seen" rooms),
`TEST_SCENE_NUMBERS` for eval_out ("unseen" rooms).

What a room may contain is thematic (a kitchen has a fridge and eggs, a bathroom a toilet and soap); which
object may lie in which receptacle always comes from `constants.VAL_RECEPTACLE_OBJECTS`, which is what
ALFWorld's PDDL `canContain` facts encode.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Receptacle types per room type with (min, max) counts; every layout draws its counts in these ranges.
# Sizes stay a little below AI2-THOR's rooms (10-20 receptacles instead of 15-40): each receptacle adds a
# "go to" command, and TextWorld derives every admissible command's text on every step.
ROOM_RECEPTACLES: dict[str, dict[str, tuple[int, int]]] = {
    "Kitchen": {
        "Cabinet": (3, 6),
        "CounterTop": (1, 2),
        "Drawer": (2, 4),
        "Fridge": (1, 1),
        "Microwave": (1, 1),
        "SinkBasin": (1, 1),
        "StoveBurner": (2, 4),
        "CoffeeMachine": (0, 1),
        "Toaster": (0, 1),
        "GarbageCan": (1, 1),
        "DiningTable": (0, 1),
        "Shelf": (0, 2),
    },
    "LivingRoom": {
        "Sofa": (1, 1),
        "ArmChair": (0, 2),
        "CoffeeTable": (1, 1),
        "SideTable": (1, 2),
        "TVStand": (0, 1),
        "Drawer": (0, 3),
        "Cabinet": (0, 3),
        "Shelf": (0, 3),
        "DiningTable": (0, 1),
        "GarbageCan": (1, 1),
        "Ottoman": (0, 1),
        "Dresser": (0, 1),
        "Safe": (0, 1),
    },
    "Bedroom": {
        "Bed": (1, 1),
        "Desk": (0, 1),
        "SideTable": (1, 2),
        "Dresser": (0, 1),
        "Drawer": (2, 5),
        "Shelf": (0, 3),
        "GarbageCan": (1, 1),
        "LaundryHamper": (0, 1),
        "ArmChair": (0, 1),
        "Safe": (0, 1),
    },
    "Bathroom": {
        "Toilet": (1, 1),
        "SinkBasin": (1, 2),
        "BathtubBasin": (0, 1),
        "Cabinet": (2, 4),
        "CounterTop": (1, 1),
        "TowelHolder": (1, 1),
        "HandTowelHolder": (0, 1),
        "ToiletPaperHanger": (1, 1),
        "GarbageCan": (1, 1),
        "Drawer": (0, 3),
        "Shelf": (0, 2),
        "Cart": (0, 1),
    },
}

# Portable objects that appear in each room type (ALFRED object class names).
ROOM_OBJECTS: dict[str, tuple[str, ...]] = {
    "Kitchen": (
        "Apple",
        "Bread",
        "Egg",
        "Lettuce",
        "Potato",
        "Tomato",
        "Mug",
        "Cup",
        "Bowl",
        "Plate",
        "Pan",
        "Pot",
        "Kettle",
        "Knife",
        "ButterKnife",
        "Fork",
        "Spoon",
        "Spatula",
        "Ladle",
        "DishSponge",
        "SaltShaker",
        "PepperShaker",
        "SoapBottle",
        "WineBottle",
        "Glassbottle",
    ),
    "LivingRoom": (
        "Book",
        "Box",
        "CD",
        "CellPhone",
        "CreditCard",
        "KeyChain",
        "Laptop",
        "Newspaper",
        "Pillow",
        "RemoteControl",
        "Statue",
        "Vase",
        "Watch",
        "WateringCan",
        "TissueBox",
        "Candle",
        "Plate",
        "Bowl",
    ),
    "Bedroom": (
        "AlarmClock",
        "BaseballBat",
        "BasketBall",
        "Book",
        "CD",
        "CellPhone",
        "CreditCard",
        "KeyChain",
        "Laptop",
        "Pen",
        "Pencil",
        "Pillow",
        "TennisRacket",
        "Mug",
        "Bowl",
        "Cloth",
        "Vase",
        "Watch",
        "TissueBox",
        "Box",
    ),
    "Bathroom": (
        "Candle",
        "Cloth",
        "DishSponge",
        "HandTowel",
        "SoapBar",
        "SoapBottle",
        "SprayBottle",
        "TissueBox",
        "ToiletPaper",
        "Towel",
        "Plunger",
        "PaperTowel",
    ),
}

# Rooms with a desk lamp (look_at_obj_in_light); it stands on one of these receptacle types (every living
# room and bedroom above has a side table). ALFRED lists DeskLamp in no VAL_RECEPTACLE_OBJECTS entry
# (lamps are not moved), so this placement is ours.
LAMP_ROOMS = ("LivingRoom", "Bedroom")
LAMP_RECEPTACLES = ("SideTable", "Desk", "Dresser")


@dataclass(frozen=True)
class Receptacle:
    """One receptacle instance: ALFRED-style id ("Cabinet|+01.25|+00.40|-02.10"), type and location id."""

    id: str
    type: str
    location: str


@dataclass(frozen=True)
class Layout:
    scene: int
    room_type: str
    receptacles: tuple[Receptacle, ...]
    agent_location: str  # a location no receptacle stands at: "You are in the middle of a room."

    def types(self) -> set[str]:
        return {r.type for r in self.receptacles}


def room_type_of(scene: int) -> str:
    from alfworld.gen import constants

    for room_type, scenes in constants.SCENE_TYPE.items():
        if scene in scenes:
            return room_type
    raise ValueError(f"scene {scene} is in none of ALFRED's scene ranges {dict(constants.SCENE_TYPE)}")


def coordinate(rng: random.Random) -> str:
    """An AI2-THOR style coordinate as it appears in object ids: sign, two digits, two decimals."""
    return f"{rng.uniform(-4.0, 4.0):+06.2f}"


def thor_id(object_type: str, rng: random.Random) -> str:
    """AI2-THOR object id "Type|x|y|z"; sink and bathtub basins are children of their sink/bathtub."""
    xyz = f"{coordinate(rng)}|{coordinate(rng)}|{coordinate(rng)}"
    if object_type in ("SinkBasin", "BathtubBasin"):
        parent = object_type[: -len("Basin")]
        return f"{parent}|{xyz}|{object_type}"
    return f"{object_type}|{xyz}"


def make_layout(scene: int) -> Layout:
    """The room of ALFRED scene number `scene` (a pure function of the number)."""
    room_type = room_type_of(scene)
    rng = random.Random(f"agentrl-alfworld-layout-{scene}")
    used_locations: set[str] = set()

    def new_location() -> str:
        # ALFRED locations are grid poses "loc|x|z|rotation|horizon"; distinct per receptacle here.
        while True:
            x, z = rng.randint(-15, 15), rng.randint(-15, 15)
            loc = f"loc|{x}|{z}|{rng.choice((0, 1, 2, 3))}|{rng.choice((0, 30, 45, 60))}"
            if loc not in used_locations:
                used_locations.add(loc)
                return loc

    receptacles = []
    for receptacle_type, (low, high) in ROOM_RECEPTACLES[room_type].items():
        for _ in range(rng.randint(low, high)):
            receptacles.append(Receptacle(thor_id(receptacle_type, rng), receptacle_type, new_location()))
    return Layout(scene, room_type, tuple(receptacles), new_location())
