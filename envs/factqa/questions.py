"""Questions: relation chains of 1-4 hops from a subject entity, and the train / eval_in / eval_out splits.

A question follows its template's relations from the subject ("Varnel Osk" -works_at-> "Quorin Labs"
-headquartered_in-> "Tarsk"); the gold answer is the last entity, and `chain` holds the corpus position of
each hop's fact, which the expert retrieves in order.

Splits (a pure function of the world, the hop counts, the sizes and the seed):
    eval_out  questions whose subject is a held-out entity (a fixed `held_out_fraction` of the people,
              organisations and cities) that no train or eval_in question starts from: generalisation to
              entities the policy never saw asked about (their facts are in the corpus like any other).
    eval_in   questions about the other subjects that train does not hold (drawn before train, so it does
              not change with num_train_tasks).
    train     more questions about those subjects.
Within a split, task i has hops[i % len(hops)] hops, so every split is balanced over the hop counts.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from agentrl.envs.factqa.world import CITY, ORGANISATION, PERSON, World


@dataclass(frozen=True)
class Template:
    subject_type: str
    relations: tuple[str, ...]
    text: str  # "{subject}" marks the subject's name

    @property
    def hops(self) -> int:
        return len(self.relations)


TEMPLATES = (
    Template(PERSON, ("works_at",), "Which organisation does {subject} work at?"),
    Template(PERSON, ("born_in",), "In which city was {subject} born?"),
    Template(ORGANISATION, ("headquartered_in",), "In which city is {subject} headquartered?"),
    Template(ORGANISATION, ("founded_by",), "Who founded {subject}?"),
    Template(CITY, ("located_in",), "In which country is {subject} located?"),
    Template(
        PERSON,
        ("works_at", "headquartered_in"),
        "In which city is the organisation that {subject} works at headquartered?",
    ),
    Template(PERSON, ("works_at", "founded_by"), "Who founded the organisation that {subject} works at?"),
    Template(PERSON, ("born_in", "located_in"), "In which country was {subject} born?"),
    Template(ORGANISATION, ("headquartered_in", "located_in"), "In which country is {subject} headquartered?"),
    Template(ORGANISATION, ("founded_by", "born_in"), "In which city was the founder of {subject} born?"),
    Template(
        PERSON,
        ("works_at", "headquartered_in", "located_in"),
        "In which country is the organisation that {subject} works at headquartered?",
    ),
    Template(
        PERSON,
        ("works_at", "founded_by", "born_in"),
        "In which city was the founder of the organisation that {subject} works at born?",
    ),
    Template(
        ORGANISATION, ("founded_by", "born_in", "located_in"), "In which country was the founder of {subject} born?"
    ),
    Template(
        PERSON,
        ("works_at", "founded_by", "born_in", "located_in"),
        "In which country was the founder of the organisation that {subject} works at born?",
    ),
)
MAX_HOPS = max(template.hops for template in TEMPLATES)


@dataclass(frozen=True)
class Question:
    text: str
    subject: str
    hops: int
    chain: tuple[int, ...]  # corpus position of each hop's fact, in order
    answer: str


def ask(world: World, template: Template, subject: str) -> Question:
    chain, entity = [], subject
    for relation in template.relations:
        chain.append(world.fact_number(entity, relation))
        entity = world.facts[chain[-1]].object
    return Question(template.text.format(subject=subject), subject, template.hops, tuple(chain), entity)


def build_splits(
    world: World, hops: tuple[int, ...], sizes: Mapping[str, int], held_out_fraction: float, seed: int
) -> dict[str, tuple[Question, ...]]:
    """{split: questions} with sizes[split] questions each; see the module docstring."""
    bad = [count for count in hops if count not in range(1, MAX_HOPS + 1)]
    if not hops or bad:
        raise ValueError(f"factqa: hops must be a non-empty list of counts from 1 to {MAX_HOPS}, got {list(hops)}")
    if not 0.0 <= held_out_fraction < 1.0:
        raise ValueError(f"factqa: held_out_fraction must lie in [0, 1), got {held_out_fraction}")
    rng = random.Random(f"factqa-splits-{seed}")  # a str seed is hashed with SHA-512: stable across machines
    held_out = set()
    for subject_type in (PERSON, ORGANISATION, CITY):
        entities = world.entities[subject_type]
        held_out |= set(rng.sample(entities, round(len(entities) * held_out_fraction)))
    seen_pool = {count: [] for count in hops}
    held_out_pool = {count: [] for count in hops}
    for template in TEMPLATES:
        if template.hops in seen_pool:
            for subject in world.entities[template.subject_type]:
                pool = held_out_pool if subject in held_out else seen_pool
                pool[template.hops].append(ask(world, template, subject))
    for pool in (seen_pool, held_out_pool):
        for questions in pool.values():
            rng.shuffle(questions)
    return {
        "eval_in": _draw(seen_pool, hops, sizes["eval_in"], "eval_in"),
        "train": _draw(seen_pool, hops, sizes["train"], "train"),
        "eval_out": _draw(held_out_pool, hops, sizes["eval_out"], "eval_out"),
    }


def _draw(pool: dict[int, list[Question]], hops: tuple[int, ...], size: int, split: str) -> tuple[Question, ...]:
    """Take `size` questions off `pool`, cycling through the hop counts."""
    drawn = []
    for index in range(size):
        count = hops[index % len(hops)]
        if not pool[count]:
            raise ValueError(
                f"factqa: the world has too few {count}-hop questions for {size} {split} tasks; lower "
                f"num_{split}_tasks or raise num_people / num_organisations"
            )
        drawn.append(pool[count].pop())
    return tuple(drawn)
