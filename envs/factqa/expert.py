"""The oracle: search for each hop's fact in order, then answer.

The query for a fact is its subject's name and the relation's words ("Varnel Osk works at"): the fact
sentence holds every word of it, and a test checks that it ranks within the top k for every hop of every
task, so the expert needs exactly hops + 1 calls. It knows the chain (it is a teacher, not a fair player)
and replans from what has been retrieved, so it skips hops the agent already found.
"""

from __future__ import annotations

from collections.abc import Collection

from agentrl.envs.factqa.questions import Question
from agentrl.envs.factqa.world import Fact
from agentrl.envs.tools import tool_call_action

QUERY_WORDS = {
    "works_at": "works at",
    "born_in": "born in",
    "lives_in": "lives in",
    "headquartered_in": "headquartered in",
    "founded_by": "founded by",
    "located_in": "located in",
}


def expert_query(fact: Fact) -> str:
    return f"{fact.subject} {QUERY_WORDS[fact.relation]}"


def expert_action(question: Question, facts: tuple[Fact, ...], retrieved: Collection[int]) -> str:
    """The next call as a JSON tool action: search the first hop not retrieved yet, or answer."""
    for position in question.chain:
        if position not in retrieved:
            return tool_call_action("search", query=expert_query(facts[position]))
    return tool_call_action("answer", answer=question.answer)
