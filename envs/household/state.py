"""The mutable state of one episode: where the agent is, what it holds, what is open, where things lie."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentrl.envs.household.world import Task, is_openable


@dataclass
class State:
    receptacles: tuple[str, ...]
    location: str | None = None  # None: the middle of the room, before the first "go to"
    holding: str | None = None  # the agent carries at most one object
    opened: set[str] = field(default_factory=set)
    where: dict[str, str] = field(default_factory=dict)  # object -> receptacle, for objects not held
    properties: dict[str, set[str]] = field(default_factory=dict)  # object -> {"clean", "hot", "cool"}

    @classmethod
    def start(cls, task: Task) -> State:
        where = dict(task.placements)
        return cls(task.receptacles, where=where, properties={obj: set() for obj in where})

    def is_accessible(self, receptacle: str) -> bool:
        """Whether the agent can see into, take from and put into `receptacle`."""
        return not is_openable(receptacle) or receptacle in self.opened

    def contents(self, receptacle: str) -> list[str]:
        return sorted(obj for obj, place in self.where.items() if place == receptacle)

    def goal_reached(self, task: Task) -> bool:
        if self.where.get(task.target) != task.goal:
            return False
        return task.treatment is None or task.treatment.adjective in self.properties[task.target]

    def anchor(self) -> tuple:
        """A hashable key of everything that can change (not the step count)."""
        return (
            self.location,
            self.holding,
            tuple(sorted(self.opened)),
            tuple(sorted(self.where.items())),
            tuple(sorted((obj, tuple(sorted(props))) for obj, props in self.properties.items() if props)),
        )
