"""FactQAEnv: multi-hop question answering with two tools, search (BM25 over the facts) and answer."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from agentrl.envs.base import numbered_task_ids, parse_numbered_task_id
from agentrl.envs.factqa.answers import is_correct
from agentrl.envs.factqa.expert import expert_action
from agentrl.envs.factqa.questions import Question, build_splits
from agentrl.envs.factqa.retrieval import FactIndex
from agentrl.envs.factqa.world import World, WorldSize, build_world
from agentrl.envs.tools import ToolEnv


@functools.lru_cache(maxsize=4)
def load_world(size: WorldSize, seed: int) -> tuple[World, FactIndex]:
    """The world and its search index, built once per process: every env slot of a pool shares them."""
    world = build_world(size, seed)
    return world, FactIndex(world.documents)


@functools.lru_cache(maxsize=8)
def load_splits(
    size: WorldSize, seed: int, hops: tuple[int, ...], sizes: tuple[tuple[str, int], ...], held_out_fraction: float
) -> dict[str, tuple[Question, ...]]:
    world, _ = load_world(size, seed)
    return build_splits(world, hops, dict(sizes), held_out_fraction, seed)


# The first message: what to do with the tools (their declarations are in the system prompt).
INSTRUCTION = "Look the facts up with search, one hop at a time, then give the final answer with answer."


class FactQAEnv(ToolEnv):
    """Answer a 1-4 hop question about a generated world by searching its facts; see envs/factqa/__init__.py.

    Task ids read "{name}/{split}/{index:05d}"; a task is a pure function of its id and the world kwargs.
    """

    tools = ("search", "answer")

    def __init__(
        self,
        name: str,
        max_steps: int = 6,
        hops: Sequence[int] = (1, 2, 3),
        top_k: int = 3,
        seed: int = 0,
        num_people: int = 800,
        num_organisations: int = 160,
        num_cities: int = 48,
        num_countries: int = 12,
        held_out_fraction: float = 0.15,
        num_train_tasks: int = 2000,
        num_eval_in_tasks: int = 200,
        num_eval_out_tasks: int = 200,
        reward_on_win: float = 1.0,
    ) -> None:
        self.name = name
        super().__init__(max_steps)
        if top_k < 1:
            raise ValueError(f"{name}: top_k must be at least 1, got {top_k}")
        self.top_k = top_k
        self.reward_on_win = float(reward_on_win)
        self.hops = tuple(int(count) for count in hops)
        size = WorldSize(num_people, num_organisations, num_cities, num_countries)
        self.world, self._index = load_world(size, seed)
        self._split_sizes = {"train": num_train_tasks, "eval_in": num_eval_in_tasks, "eval_out": num_eval_out_tasks}
        self._splits = load_splits(size, seed, self.hops, tuple(self._split_sizes.items()), float(held_out_fraction))
        self._task_id = ""
        self._question: Question | None = None
        self._retrieved: set[int] = set()  # corpus positions of every fact a search has shown
        self._missed = False  # a search of this turn found nothing

    def task_ids(self, split: str) -> list[str]:
        return numbered_task_ids(self.name, split, self._split_sizes)

    def question(self, task_id: str) -> Question:
        split, index = parse_numbered_task_id(self.name, task_id, self._split_sizes)
        return self._splits[split][index]

    # ------------------------------------------------------------------------------------------ tools
    def search(self, query: str) -> str:
        """Search the collection of facts (BM25 keyword search) and return the best-matching sentences.

        Args:
            query: Keywords: a name and the relation you need, e.g. "<person name> works at" or
                "<organisation name> headquartered in".
        """
        hits = self._index.search(query, self.top_k)
        if not hits:
            self._missed = True
            return f'No results for "{query}". Search for the name of a person, organisation, city or country.'
        self._retrieved.update(hits)
        return "\n".join(f"{rank}. {self.world.facts[hit].text}" for rank, hit in enumerate(hits, start=1))

    def answer(self, answer: str) -> str:
        """Give the final answer to the question. This ends the episode.

        Args:
            answer: The name of the person, organisation, city or country that answers the question.
        """
        correct = is_correct(answer, self._question.answer)
        self._finish(self.reward_on_win if correct else 0.0, won=correct)
        return f'Your answer "{answer}" is {"correct" if correct else "wrong"}.'

    # ------------------------------------------------------------------------------------------ ToolEnv hooks
    def _start_episode(self, task_id: str) -> str:
        self._question = self.question(task_id)
        self._task_id = task_id
        self._retrieved = set()
        self._missed = False
        return f"Answer the question: {self._question.text}\n{INSTRUCTION}"

    def _begin_turn(self) -> None:
        self._missed = False

    def _episode_info(self) -> dict[str, Any]:
        question = self._question
        resolved = tuple(hop for hop, position in enumerate(question.chain) if position in self._retrieved)
        return {
            "task": question.text,
            "task_type": f"{question.hops}-hop",
            "task_id": self._task_id,
            "anchor": (self._task_id, resolved),
            "expert_action": expert_action(question, self.world.facts, self._retrieved),
            "unknown_entity": self._missed,
        }
