"""factqa: the generated world, retrieval, answer matching, splits, the expert and the tool contract."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest

from agentrl.envs import SPLITS, UnknownTaskError, check_info, make_env
from agentrl.envs.factqa.answers import is_correct, normalize_answer
from agentrl.envs.factqa.env import INSTRUCTION, FactQAEnv
from agentrl.envs.factqa.expert import expert_query
from agentrl.envs.factqa.names import RESERVED_WORDS
from agentrl.envs.factqa.questions import build_splits
from agentrl.envs.factqa.retrieval import tokenize
from agentrl.envs.factqa.world import ORGANISATION_KINDS, WorldSize, build_world
from tests.expert import run_expert
from tests.launch import run_python

VARIANTS = ("factqa", "factqa-easy")


def search(query: str) -> str:
    return json.dumps({"tool_calls": [{"name": "search", "arguments": {"query": query}}]})


def answer(text: str) -> str:
    return json.dumps({"tool_calls": [{"name": "answer", "arguments": {"answer": text}}]})


@pytest.fixture(scope="module")
def env() -> FactQAEnv:
    return make_env("factqa")


@pytest.mark.parametrize(
    ("given", "gold", "correct"),
    [
        ("The Quorin Labs.", "quorin labs", True),
        ("  quorin   LABS ", "Quorin Labs", True),
        ("an Osk!", "Osk", True),
        ("Quorin-Labs", "Quorin Labs", False),  # punctuation is dropped, not turned into a space
        ("Quorin", "Quorin Labs", False),
        ("Labs Quorin", "Quorin Labs", False),
        ("", "Tarsk", False),
    ],
)
def test_answers_match_after_squad_normalisation(given, gold, correct):
    assert is_correct(given, gold) == correct
    assert normalize_answer("The  Theatre, a Tarsk-ian an.") == "theatre tarskian"


def test_a_known_task_reads_the_same_everywhere(env):
    """Hand-checked transcript: the world, the question, BM25's ranking and the expert are all pinned."""
    assert [len(env.world.facts), len(env.world.entities["person"])] == [2768, 800]
    assert env.world.facts[0].text == "Taskas Bail works at Russok Systems."
    rows = run_expert(env, "factqa/train/00002")
    assert [row[0] for row in rows] == [
        "Answer the question: In which city was the founder of the organisation that Nuszol Lekdeik works at born?\n"
        + INSTRUCTION,
        "1. Nuszol Lekdeik works at Quinsum Guild.\n"
        "2. Nuszol Lekdeik was born in Bekzekro.\n"
        "3. Nuszol Lekdeik lives in Stutharva.",
        "1. Quinsum Guild was founded by Romvail Dailsen.\n"
        "2. Quinsum Guild is headquartered in Pelren.\n"
        "3. Quinsum Institute was founded by Lenkur Vein.",
        "1. Romvail Dailsen was born in Seza.\n"
        "2. Romvail Dailsen lives in Rohamkam.\n"
        "3. Romvail Dailsen works at Tinkres Guild.",
        'Your answer "Seza" is correct.',
    ]
    assert [json.loads(row[3]["expert_action"] or "null") for row in rows[:-1]] == [
        {"tool_calls": [{"name": "search", "arguments": {"query": "Nuszol Lekdeik works at"}}]},
        {"tool_calls": [{"name": "search", "arguments": {"query": "Quinsum Guild founded by"}}]},
        {"tool_calls": [{"name": "search", "arguments": {"query": "Romvail Dailsen born in"}}]},
        {"tool_calls": [{"name": "answer", "arguments": {"answer": "Seza"}}]},
    ]
    assert [row[3]["anchor"] for row in rows] == [
        ("factqa/train/00002", hops) for hops in [(), (0,), (0, 1), (0, 1, 2)]
    ] + [("factqa/train/00002", (0, 1, 2))]
    assert rows[0][3]["task_type"] == "3-hop" and rows[-1][1:3] == (1.0, True)


def test_every_expert_query_ranks_its_fact_first(env):
    """The expert's query for every hop of every task (all splits, hops 1-4) finds the hop's fact at rank 1."""
    four_hops = make_env("factqa", hops=(4,), num_train_tasks=500, num_eval_in_tasks=100, num_eval_out_tasks=100)
    positions = {
        position
        for variant in (env, four_hops)
        for split in SPLITS
        for question in variant._splits[split]
        for position in question.chain
    }
    assert len(positions) > 1500
    for position in sorted(positions):
        fact = env.world.facts[position]
        hits = env._index.search(expert_query(fact), env.top_k)
        assert hits[0] == position, (fact, [env.world.facts[hit].text for hit in hits])


def test_search_finds_names_lists_neighbours_and_reports_misses(env):
    _, info = env.reset("factqa/train/00002")
    observation, _, _, info = env.step(search("nuszol lekdeik"))  # a name alone: all three facts about the person
    assert observation.splitlines() == [
        "1. Nuszol Lekdeik was born in Bekzekro.",
        "2. Nuszol Lekdeik lives in Stutharva.",
        "3. Nuszol Lekdeik works at Quinsum Guild.",
    ]
    assert info["anchor"] == ("factqa/train/00002", (0,)) and not info["unknown_entity"]
    observation, _, _, info = env.step(search("Quinsum"))  # a shared stem: two organisations compete
    assert "Quinsum Institute" in observation and "Quinsum Guild" in observation
    observation, _, _, info = env.step(search("Zorblat Quux the"))
    assert (
        observation
        == 'No results for "Zorblat Quux the". Search for the name of a person, organisation, city or country.'
    )
    assert info["unknown_entity"] and info["valid"] and info["tool_failures"] == 0
    _, _, _, info = env.step(search("Pelren"))
    assert not info["unknown_entity"]  # the flag is per turn


def test_a_wrong_answer_ends_the_episode_with_no_reward(env):
    _, info = env.reset("factqa/eval_out/00000")
    observation, reward, done, info = env.step(answer("Tarsk"))
    check_info(info)
    assert (observation, reward, done, info["won"], info["valid"]) == (
        'Your answer "Tarsk" is wrong.',
        0.0,
        True,
        False,
        True,
    )
    assert info["expert_action"] is None
    with pytest.raises(RuntimeError, match="episode is over"):
        env.step(answer("Ekonthom"))
    env.reset("factqa/eval_out/00000")
    assert env.step(answer("the EKONTHOM."))[1:3] == (1.0, True)
    # Calls after the answer in the same turn are not run.
    env.reset("factqa/eval_out/00000")
    observation, reward, _, info = env.step(
        json.dumps(
            {"tool_calls": [json.loads(answer("Ekonthom"))["tool_calls"][0], {"name": "search", "arguments": {}}]}
        )
    )
    assert observation.splitlines()[1].startswith("Not run") and reward == 1.0 and info["tool_calls"] == 1


@pytest.mark.parametrize("name", VARIANTS)
def test_step_limit_ends_the_episode_without_a_win(name):
    env = make_env(name)
    _, info = env.reset(env.task_ids("train")[5])
    for step in range(1, env.max_steps + 1):
        _, reward, done, info = env.step(search("Pelren located in"))
        check_info(info)
        assert reward == 0.0 and not info["won"] and done == (step == env.max_steps)
    assert (make_env(name).max_steps, make_env(name, max_steps=2).max_steps) == (
        {"factqa": 6, "factqa-easy": 4}[name],
        2,
    )


def test_malformed_actions_and_bad_calls_are_error_texts(env):
    _, info = env.reset("factqa/train/00000")
    anchor = info["anchor"]
    cases = [
        ("not json at all", 'Error: the action is not JSON (Expecting value); send {"tool_calls"'),
        ('{"error": "no tool call found"}', "Error: no tool call found; the tools are: search, answer"),
        (
            json.dumps({"tool_calls": [{"name": "serch", "arguments": {"query": "x"}}]}),
            'Error: unknown tool "serch"; the tools are: search, answer',
        ),
        (
            json.dumps({"tool_calls": [{"name": "search", "arguments": {"q": "x"}}]}),
            "Error: bad arguments for search (missing a required argument: 'query'); call it as search(query: str)",
        ),
        (
            json.dumps({"tool_calls": [{"name": "answer", "arguments": {"answer": 3}}]}),
            'Error: argument "answer" of answer must be str, got 3 (int); call it as answer(answer: str)',
        ),
    ]
    for action, message in cases:
        observation, reward, done, info = env.step(action)
        check_info(info)
        assert observation.startswith(message), observation
        assert (reward, done, info["valid"], info["tool_failures"], info["anchor"]) == (0.0, False, False, 1, anchor)
        env.reset("factqa/train/00000")


def test_a_raising_search_is_an_error_text(env, monkeypatch):
    env.reset("factqa/train/00000")

    def broken(query, k):
        raise ValueError("index is gone")

    monkeypatch.setattr(env._index, "search", broken)
    observation, _, done, info = env.step(search("Pelren"))
    assert observation == "Error: search raised ValueError: index is gone"
    assert (done, info["valid"], info["tool_calls"], info["tool_failures"]) == (False, False, 1, 1)


@pytest.mark.parametrize("name", VARIANTS)
def test_expert_wins_every_task_of_every_split(name):
    env = make_env(name)
    for split in SPLITS:
        for task_id in env.task_ids(split):
            rows = run_expert(env, task_id)
            question = env.question(task_id)
            observation, info = rows[0][0], rows[0][3]
            assert observation == f"Answer the question: {question.text}\n{INSTRUCTION}"
            assert info["task"] == question.text
            assert [schema["function"]["name"] for schema in info["tools"]] == ["search", "answer"]
            assert info["task_type"] == f"{question.hops}-hop" and question.hops in env.hops
            assert len(rows) - 1 == question.hops + 1 <= env.max_steps  # every search finds its hop's fact
            for _, reward, done, info in rows[1:-1]:
                check_info(info)
                assert (reward, done, info["valid"], info["won"], info["unknown_entity"]) == (
                    0.0,
                    False,
                    True,
                    False,
                    False,
                )
            check_info(rows[-1][3])
            assert rows[-1][1:3] == (1.0, True) and rows[-1][3]["won"], task_id


def test_the_expert_wins_with_one_result_per_search_and_four_hops():
    env = make_env(
        "factqa", hops=(4,), top_k=1, max_steps=5, num_train_tasks=50, num_eval_in_tasks=10, num_eval_out_tasks=10
    )
    for task_id in env.task_ids("train") + env.task_ids("eval_out"):
        rows = run_expert(env, task_id)
        assert rows[-1][3]["won"] and len(rows) == 6 and rows[0][3]["task_type"] == "4-hop"
        assert rows[1][0].count("\n") == 0  # one result


def test_the_expert_skips_hops_the_agent_already_found(env):
    _, info = env.reset("factqa/train/00002")
    _, _, _, info = env.step(search("Quinsum Guild founded by"))  # hop 1 found before hop 0
    assert info["anchor"] == ("factqa/train/00002", (1,))
    assert json.loads(info["expert_action"])["tool_calls"][0]["arguments"] == {"query": "Nuszol Lekdeik works at"}
    _, _, _, info = env.step(info["expert_action"])
    assert json.loads(info["expert_action"])["tool_calls"][0]["arguments"] == {"query": "Romvail Dailsen born in"}


def _digest(size: WorldSize, seed: int) -> str:
    world = build_world(size, seed)
    splits = build_splits(world, (1, 2, 3), {"train": 300, "eval_in": 50, "eval_out": 50}, 0.15, seed)
    text = "\n".join([fact.text for fact in world.facts] + [q.text + q.answer for s in SPLITS for q in splits[s]])
    return hashlib.sha256(text.encode()).hexdigest()


def test_world_and_questions_are_deterministic_across_builds_and_processes():
    size = WorldSize(people=200, organisations=40, cities=16, countries=4)
    digest = _digest(size, seed=3)
    assert digest == _digest(size, seed=3) != _digest(size, seed=4)
    code = (
        "from agentrl.envs.factqa.world import WorldSize; from tests.test_factqa_env import _digest; "
        "print(_digest(WorldSize(people=200, organisations=40, cities=16, countries=4), seed=3))"
    )
    assert run_python(["-c", code]).stdout.strip() == digest  # a fresh process: another str hash seed


def test_names_are_invented_words_each_naming_one_kind_of_thing(env):
    words = {kind: {word for name in names for word in name.split()} for kind, names in env.world.entities.items()}
    words["organisation"] -= set(ORGANISATION_KINDS)
    kinds = list(words)
    for index, kind in enumerate(kinds):
        assert not {word.lower() for word in words[kind]} & RESERVED_WORDS
        for other in kinds[index + 1 :]:
            assert not words[kind] & words[other], (kind, other)
    assert len(set(env.world.entities["person"])) == 800
    # Distractors: shared first names, surnames and organisation stems; several people per organisation.
    assert max(Counter(name.split()[0] for name in env.world.entities["person"]).values()) > 2
    assert max(Counter(name.split()[1] for name in env.world.entities["person"]).values()) > 2
    assert max(Counter(name.split()[0] for name in env.world.entities["organisation"]).values()) == 2
    employers = Counter(fact.object for fact in env.world.facts if fact.relation == "works_at")
    assert set(employers) == set(env.world.entities["organisation"]) and sum(employers.values()) == 800
    assert tokenize("Nuszol Lekdeik works at the Quinsum Guild.") == ["nuszol", "lekdeik", "works", "quinsum", "guild"]


@pytest.mark.parametrize("name", VARIANTS)
def test_splits_are_disjoint_balanced_and_eval_out_asks_about_held_out_subjects(name):
    env = make_env(name)
    ids = {split: env.task_ids(split) for split in SPLITS}
    assert [len(ids[split]) for split in SPLITS] == [2000, 200, 200]
    assert ids["train"][42] == f"{name}/train/00042"
    questions = {split: [env.question(task_id) for task_id in ids[split]] for split in SPLITS}
    texts = {split: {question.text for question in questions[split]} for split in SPLITS}
    assert all(len(texts[split]) == len(ids[split]) for split in SPLITS)  # no question twice within a split
    assert not (
        texts["train"] & texts["eval_in"] or texts["train"] & texts["eval_out"] or texts["eval_in"] & texts["eval_out"]
    )
    subjects = {split: {question.subject for question in questions[split]} for split in SPLITS}
    assert not subjects["eval_out"] & (subjects["train"] | subjects["eval_in"])
    assert subjects["eval_in"] & subjects["train"]  # eval_in: new questions about subjects train asks about
    for split in SPLITS:
        counts = Counter(question.hops for question in questions[split])
        assert set(counts) == set(env.hops) and max(counts.values()) - min(counts.values()) <= 1
    # eval_in does not depend on the train size.
    smaller = make_env(name, num_train_tasks=10, num_eval_in_tasks=3, num_eval_out_tasks=0)
    assert [len(smaller.task_ids(split)) for split in SPLITS] == [10, 3, 0]
    assert [smaller.question(i).text for i in smaller.task_ids("eval_in")] == [q.text for q in questions["eval_in"][:3]]


def test_unknown_task_ids_and_impossible_kwargs_are_rejected():
    env = make_env("factqa", num_train_tasks=10)
    for task_id in ("factqa-easy/train/00001", "factqa/train/00010", "factqa/test/00001", "factqa/train/1", "x"):
        with pytest.raises(UnknownTaskError):
            env.reset(task_id)
    assert env.reset(seed=3)[1]["task_id"] in env.task_ids("train")
    with pytest.raises(ValueError, match="hops must be"):
        make_env("factqa", hops=(0, 5))
    with pytest.raises(ValueError, match="too few 3-hop questions"):
        make_env("factqa", num_people=60, num_organisations=10, num_cities=6, num_countries=2)
    with pytest.raises(ValueError, match="top_k"):
        make_env("factqa", top_k=0)
    with pytest.raises(TypeError):
        make_env("factqa", max_step=5)
