"""factqa: multi-hop question answering over a generated world of facts, with search and answer tools.

A seeded world of invented people, organisations, cities and countries (syllable names such as "Varnel
Osk" or "Quorin Labs") is written out as one sentence per fact ("Varnel Osk works at Quorin Labs.");
see world.py for the relations and the distractors. A question follows a chain of 1-4 relations ("In which
country is the organisation that Varnel Osk works at headquartered?"); its answer is one entity name.

The agent acts through tools (a ToolEnv, envs/tools.py; actions are JSON tool calls):
    search(query)   BM25 (bm25s) over the fact sentences: the top_k (3) sentences as numbered lines, or a
                    "No results" text (info unknown_entity=True)
    answer(answer)  ends the episode: reward reward_on_win (1.0) and won iff the SQuAD-normalised answer
                    equals the gold one (case, punctuation, articles, spacing ignored), else reward 0
The first observation and info["task"] are the question; info["task_type"] is "1-hop" ... "4-hop", and the
anchor is (task id, hops whose fact a search has shown). expert_action searches each hop's fact by its
subject and relation words ("Quorin Labs headquartered in"), then answers: hops + 1 calls, and it wins
every task of every split (tests/test_factqa_env.py).

Splits (questions.py): train 2000, eval_in 200 (held-out questions about the train subjects), eval_out
200 (questions about held-out subjects: 15% of the people, organisations and cities no train question
starts from), each balanced over the hop counts. Default world: 800 people, 160 organisations, 48 cities,
12 countries: 2768 fact sentences.

Variants (registered names):
    factqa       1-3 hops, max_steps 6
    factqa-easy  1-2 hops, max_steps 4 (the tiny CPU recipe)

Factory kwargs: max_steps, hops, top_k (3), seed (0), num_people (800), num_organisations (160), num_cities
(48), num_countries (12), held_out_fraction (0.15), num_train_tasks (2000), num_eval_in_tasks (200),
num_eval_out_tasks (200), reward_on_win (1.0). hops may include 4 ("...the founder of the organisation
that X works at born?"). A task id names the same question only under the same world kwargs and seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentrl.envs.registry import register_env
from agentrl.envs.tools import ToolEnv


@register_env("factqa", "Multi-hop question answering over generated facts with search/answer tools (1-3 hops)")
def factqa(max_steps: int = 6, hops: Sequence[int] = (1, 2, 3), **kwargs: Any) -> ToolEnv:
    from agentrl.envs.factqa.env import FactQAEnv  # bm25s and the world build only when the env is made

    return FactQAEnv("factqa", max_steps=max_steps, hops=hops, **kwargs)


@register_env("factqa-easy", "factqa with 1-2 hop questions only (tiny CPU recipe)")
def factqa_easy(max_steps: int = 4, hops: Sequence[int] = (1, 2), **kwargs: Any) -> ToolEnv:
    from agentrl.envs.factqa.env import FactQAEnv

    return FactQAEnv("factqa-easy", max_steps=max_steps, hops=hops, **kwargs)


__all__ = ["factqa", "factqa_easy"]
