"""The generated world: invented people, organisations, cities and countries, and one sentence per fact.

Relations (each a function: one object per subject):
    person        works_at -> organisation, born_in -> city, lives_in -> city (a distractor: never asked)
    organisation  headquartered_in -> city, founded_by -> person
    city          located_in -> country

The world is a pure function of its WorldSize and seed (random.Random, no hash(), no downloads), so it is
the same on every machine. Distractors come from the structure itself: several people work at each
organisation, first names and surnames are shared ("Varnel Osk", "Varnel Traum", "Dorin Osk"), organisation
stems are shared ("Quorin Labs", "Quorin Trust"), and everyone lives in a city other than the one they were
born in, so a search on a name alone returns several facts about it and its neighbours.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from agentrl.envs.factqa.names import NameMaker

PERSON, ORGANISATION, CITY, COUNTRY = "person", "organisation", "city", "country"

# relation -> (subject type, object type, sentence)
RELATIONS = {
    "works_at": (PERSON, ORGANISATION, "{subject} works at {object}."),
    "born_in": (PERSON, CITY, "{subject} was born in {object}."),
    "lives_in": (PERSON, CITY, "{subject} lives in {object}."),
    "headquartered_in": (ORGANISATION, CITY, "{subject} is headquartered in {object}."),
    "founded_by": (ORGANISATION, PERSON, "{subject} was founded by {object}."),
    "located_in": (CITY, COUNTRY, "{subject} is located in {object}."),
}
ORGANISATION_KINDS = ("Labs", "Group", "Institute", "Foundry", "Systems", "Trust", "Guild", "Partners")
COUNTRY_SUFFIXES = ("ia", "ora", "and")


@dataclass(frozen=True)
class WorldSize:
    people: int = 800
    organisations: int = 160
    cities: int = 48
    countries: int = 12

    def __post_init__(self) -> None:
        if min(self.people, self.organisations, self.cities, self.countries) < 1:
            raise ValueError(f"factqa: every entity count must be at least 1, got {self}")
        if self.cities < self.countries or self.people < self.organisations or self.cities < 2:
            raise ValueError(
                f"factqa: need at least 2 cities, as many cities as countries and as many people as organisations "
                f"(every country has a city, every organisation an employee), got {self}"
            )


@dataclass(frozen=True)
class Fact:
    subject: str
    relation: str
    object: str

    @property
    def text(self) -> str:
        return RELATIONS[self.relation][2].format(subject=self.subject, object=self.object)


@dataclass(frozen=True)
class World:
    """Entities by type, and the facts: the corpus is one document per fact, in this order."""

    entities: dict[str, tuple[str, ...]]
    facts: tuple[Fact, ...]
    _position_of: dict[tuple[str, str], int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._position_of.update({(fact.subject, fact.relation): number for number, fact in enumerate(self.facts)})

    def fact_number(self, subject: str, relation: str) -> int:
        """The corpus position of the fact (subject, relation, ?)."""
        return self._position_of[(subject, relation)]

    @property
    def documents(self) -> list[str]:
        return [fact.text for fact in self.facts]


def build_world(size: WorldSize, seed: int) -> World:
    rng = random.Random(seed)
    names = NameMaker(rng)
    names.reserve(ORGANISATION_KINDS)
    countries = [names.word((2, 2), rng.choice(COUNTRY_SUFFIXES)) for _ in range(size.countries)]
    cities = names.words(size.cities, (2, 3))
    organisations = _organisation_names(names, rng, size.organisations)
    people = _person_names(names, rng, size.people)

    facts = []
    employers = _cover(rng, organisations, len(people))  # every organisation has at least one employee
    for person, employer in zip(people, employers, strict=True):
        born, home = rng.sample(cities, 2)
        facts += [Fact(person, "works_at", employer), Fact(person, "born_in", born), Fact(person, "lives_in", home)]
    for organisation in organisations:
        facts += [
            Fact(organisation, "headquartered_in", rng.choice(cities)),
            Fact(organisation, "founded_by", rng.choice(people)),
        ]
    for city, country in zip(cities, _cover(rng, countries, len(cities)), strict=True):
        facts.append(Fact(city, "located_in", country))
    entities = {
        PERSON: tuple(people),
        ORGANISATION: tuple(organisations),
        CITY: tuple(cities),
        COUNTRY: tuple(countries),
    }
    return World(entities, tuple(facts))


def _cover(rng: random.Random, values: list[str], count: int) -> list[str]:
    """`count` draws from `values` in which each value occurs at least once (count >= len(values))."""
    draws = list(values) + [rng.choice(values) for _ in range(count - len(values))]
    rng.shuffle(draws)
    return draws


def _organisation_names(names: NameMaker, rng: random.Random, count: int) -> list[str]:
    """ "Quorin Labs": a stem and a kind; a third of the stems name two organisations ("Quorin Trust")."""
    shared = count // 3
    organisations = []
    for number, stem in enumerate(names.words(count - shared, (2, 2))):
        organisations += [f"{stem} {kind}" for kind in rng.sample(ORGANISATION_KINDS, 2 if number < shared else 1)]
    rng.shuffle(organisations)
    return organisations


def _person_names(names: NameMaker, rng: random.Random, count: int) -> list[str]:
    """Unique "First Last" names over small pools, so first names and surnames repeat across people."""
    first_names = names.words(max(2, count // 4), (2, 2))
    surnames = names.words(max(2, count // 3), (1, 2))
    if len(first_names) * len(surnames) < count:
        raise ValueError(f"factqa: cannot make {count} distinct person names")
    chosen: set[str] = set()
    people = []
    while len(people) < count:
        name = f"{rng.choice(first_names)} {rng.choice(surnames)}"
        if name not in chosen:
            chosen.add(name)
            people.append(name)
    return people
