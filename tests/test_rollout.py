"""The multi-turn collector: exact token records, masks, groups, failure isolation."""

from __future__ import annotations

import torch

from agentrl.rollout import HFGenerator, PromptBuilder, RolloutCollector, format_response, parse_action, per_step_rows
from agentrl.envs import make_env
from agentrl.envs.base import TextEnv


class SpyGenerator:
    """Wraps a generator and keeps exactly what went into and came out of each batched call."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = []

    def generate(self, prompts):
        out = self.inner.generate(prompts)
        self.calls.append(([list(p) for p in prompts], [list(g.token_ids) for g in out]))
        return out


MAX_STEPS = 4  # episodes of the random tiny model run to the step limit: 4 turns show the history and keep it quick


def _collect(model, tokenizer, tasks, group_size=2, temperature=1.0, history_length=2):
    torch.manual_seed(0)
    builder = PromptBuilder(tokenizer, history_length)
    collector = RolloutCollector(lambda: make_env("household-easy", max_steps=MAX_STEPS), builder)
    spy = SpyGenerator(HFGenerator(model, tokenizer, max_new_tokens=12, temperature=temperature))
    task_ids = [t for t in tasks for _ in range(group_size)]
    episodes = collector.collect(spy, task_ids, [i // group_size for i in range(len(task_ids))])
    return episodes, spy, builder


def test_parse_action_protocol():
    assert parse_action("<think>x</think><action>Go To Drawer 1</action>") == parse_action(
        "<think>x</think><action>go to drawer 1</action>"
    )
    parsed = parse_action("<think>hmm</think><action> open fridge 1 </action> trailing")
    assert parsed.action == "open fridge 1" and parsed.format_valid
    assert not parse_action("<action>open fridge 1</action>").format_valid  # no think
    assert not parse_action("<think>a</think>open fridge 1").format_valid  # no action tags
    assert not parse_action("<think>想</think><action>look</action>").format_valid  # CJK
    assert parse_action(format_response("take apple 1 from drawer 2")).action == "take apple 1 from drawer 2"


def test_one_batched_generation_call_per_turn(tiny_model, tiny_tokenizer):
    env = make_env("household-easy")
    tasks = env.task_ids("train")[:3]
    episodes, spy, _ = _collect(tiny_model, tiny_tokenizer, tasks)
    longest = max(e.length for e in episodes)
    assert len(spy.calls) == longest  # one call per turn, not per env
    live_per_turn = [sum(e.length > turn for e in episodes) for turn in range(longest)]
    assert [len(prompts) for prompts, _ in spy.calls] == live_per_turn


def test_recorded_ids_are_exactly_what_the_model_saw_and_produced(tiny_model, tiny_tokenizer):
    env = make_env("household-easy")
    episodes, spy, builder = _collect(tiny_model, tiny_tokenizer, env.task_ids("train")[:3])
    sent = [p for prompts, _ in spy.calls for p in prompts]
    produced = [r for _, responses in spy.calls for r in responses]
    recorded = [
        (s.prompt_ids, s.response_ids)
        for turn in range(max(e.length for e in episodes))
        for e in episodes
        if e.length > turn
        for s in [e.steps[turn]]
    ]
    assert [p for p, _ in recorded] == sent
    assert [r for _, r in recorded] == produced
    for episode in episodes:
        for number, step in enumerate(episode.steps):
            # A fresh tokenization of the step's prompt text, rendered by the chat template, gives the same ids.
            history = [
                type("T", (), {"observation": s.observation, "action": s.action})() for s in episode.steps[:number]
            ]
            text = builder.text(episode.task, step.observation, history, _admissible_at(episode, number))
            rendered = tiny_tokenizer.apply_chat_template(
                [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=False
            )
            assert tiny_tokenizer(rendered, add_special_tokens=False)["input_ids"] == step.prompt_ids
            assert len(step.logprobs) == len(step.entropies) == len(step.response_ids)
            assert tiny_tokenizer.decode(step.response_ids, skip_special_tokens=True) == step.response


def _admissible_at(episode, number):
    """Replay the episode in a fresh env to get the admissible actions shown at step `number`."""
    env = make_env("household-easy")
    _, info = env.reset(episode.task_id)
    for step in episode.steps[:number]:
        _, _, _, info = env.step(step.action)
    return info["admissible_actions"]


def test_rows_train_only_on_generated_tokens(tiny_model, tiny_tokenizer):
    env = make_env("household-easy")
    episodes, _, _ = _collect(tiny_model, tiny_tokenizer, env.task_ids("train")[:2])
    steps = [s for e in episodes for s in e.steps]
    advantages = [float(i) + 0.5 for i in range(len(steps))]  # one per step
    rows = per_step_rows(episodes, advantages, pad_token_id=tiny_tokenizer.pad_token_id)
    assert rows["completion_ids"].size(0) == len(steps)
    for row, step in enumerate(steps):
        trained = rows["completion_ids"][row][rows["completion_mask"][row].bool()].tolist()
        assert trained == step.response_ids  # mask == 1 exactly on the generated ids
        prompt = rows["prompt_ids"][row][rows["prompt_mask"][row].bool()].tolist()
        assert prompt == step.prompt_ids  # environment text lives only here, where no loss is taken
        assert step.observation.strip()[:20] not in tiny_tokenizer.decode(trained)
        # the step's advantage on each of its response tokens, 0 on padding (TRL's (B, T) input)
        expected = [advantages[row]] * len(step.response_ids)
        expected += [0.0] * (rows["advantages"].size(1) - len(expected))
        assert rows["advantages"][row].tolist() == expected


def test_groups_share_a_task_and_episodes_end(tiny_model, tiny_tokenizer):
    env = make_env("household-easy")
    episodes, _, _ = _collect(tiny_model, tiny_tokenizer, env.task_ids("train")[:4], group_size=3)
    by_group = {}
    for e in episodes:
        by_group.setdefault(e.group_id, set()).add(e.task_id)
    assert all(len(tasks) == 1 for tasks in by_group.values()) and len(by_group) == 4
    assert all(1 <= e.length <= MAX_STEPS for e in episodes)


class ExplodingEnv(TextEnv):
    """Raises on its second step: must end one episode, not the batch."""

    name = "exploding"
    max_steps = 5

    def __init__(self):
        self.inner = make_env("household-easy")
        self.steps = 0

    def task_ids(self, split):
        return self.inner.task_ids(split)

    def _reset(self, task_id):
        self.steps = 0
        self.explode = task_id.endswith("1")
        return self.inner.reset(task_id)

    def step(self, action):
        self.steps += 1
        if self.explode and self.steps == 2:
            raise RuntimeError("simulator crashed")
        return self.inner.step(action)


def test_env_crash_ends_only_its_episode(tiny_model, tiny_tokenizer):
    builder = PromptBuilder(tiny_tokenizer, 2)
    collector = RolloutCollector(ExplodingEnv, builder)
    generator = HFGenerator(tiny_model, tiny_tokenizer, max_new_tokens=8, temperature=1.0)
    tasks = ["household-easy/train/00000", "household-easy/train/00001"]
    episodes = collector.collect(generator, tasks, [0, 1])
    crashed, healthy = episodes[1], episodes[0]
    assert crashed.error and "simulator crashed" in crashed.error and not crashed.won and crashed.length == 2
    assert healthy.error is None and healthy.length >= 2


def test_generator_logprobs_and_entropies_match_an_independent_forward(tiny_model, tiny_tokenizer):
    builder = PromptBuilder(tiny_tokenizer, 2)
    env = make_env("household-easy")
    observation, info = env.reset(env.task_ids("train")[0])
    prompt = builder.token_ids(info["task"], observation, [], info["admissible_actions"])
    temperature = 0.7
    torch.manual_seed(1)
    (generation,) = HFGenerator(tiny_model, tiny_tokenizer, max_new_tokens=10, temperature=temperature).generate(
        [prompt]
    )
    ids = torch.tensor([prompt + generation.token_ids])
    with torch.no_grad():
        logits = tiny_model(ids).logits[0, len(prompt) - 1 : -1] / temperature
    expected_logps = torch.log_softmax(logits, -1).gather(-1, torch.tensor(generation.token_ids)[:, None]).squeeze(-1)
    expected_entropy = torch.distributions.Categorical(logits=logits).entropy()
    # Two float32 computations of the same numbers (generate with its KV cache, one full forward): logits (64-wide
    # dot products, |logit| <~ 5) agree to ~64 x 6e-8 x 5 = 2e-5 at worst, and log p = logit / T - logsumexp moves by
    # at most twice that / T (0.7): ~6e-5; the entropy, a p-weighted mean of those, as much. 1e-4 bounds both.
    torch.testing.assert_close(torch.tensor(generation.logprobs), expected_logps, atol=1e-4, rtol=0)
    torch.testing.assert_close(torch.tensor(generation.entropies), expected_entropy, atol=1e-4, rtol=0)
