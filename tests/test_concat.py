"""Concatenated trajectories: the row is exactly the sequence the model saw; the mask is 1 exactly on its tokens."""

from __future__ import annotations

import copy

import pytest
import torch

from agentrl.rollout import PromptBuilder, RolloutCollector, concat_rows, loss_mask
from agentrl.rollout.chat import ChatTemplateError, ChatTokens, template_report
from agentrl.rollout.demos import expert_concat_rows, expert_conversations
from agentrl.rollout.generator import Generation
from agentrl.envs import make_env

TASK = "household-easy/train/00003"
IM_END, IM_START = "<|im_end|>", "<|im_start|>"


class ScriptedGenerator:
    """Every episode's turn t produces texts[t] (+ EOS, unless t is in `cut`: then it stopped at the budget)."""

    def __init__(self, tokenizer, texts, cut=()):
        self.tokenizer, self.texts, self.cut = tokenizer, texts, set(cut)
        self.prompts: list[list[list[int]]] = []  # what each batched call was given

    def generate(self, prompts):
        turn = len(self.prompts)
        self.prompts.append([list(p) for p in prompts])
        ids = self.tokenizer(self.texts[turn], add_special_tokens=False)["input_ids"]
        if turn not in self.cut:
            ids = ids + [self.tokenizer.eos_token_id]
        return [Generation(list(ids), [-0.5] * len(ids), [1.0] * len(ids), turn in self.cut) for _ in prompts]


def _row(rows, index=0):
    """(all ids, model mask) of one row without padding."""
    prompt = rows["prompt_ids"][index][rows["prompt_mask"][index].bool()].tolist()
    attended = rows["completion_mask"][index].bool()
    completion = rows["completion_ids"][index][attended].tolist()
    mask = rows["tool_mask"][index][attended].tolist()
    return prompt + completion, [0] * len(prompt) + mask


def _play(tokenizer, texts, cut=(), max_steps=3, max_episode_tokens=4096, max_turn_tokens=16, groups=2):
    builder = PromptBuilder(tokenizer)
    collector = RolloutCollector(
        lambda: make_env("household-easy", max_steps=max_steps),
        builder,
        trajectory_format="concat",
        max_episode_tokens=max_episode_tokens,
        max_turn_tokens=max_turn_tokens,
    )
    generator = ScriptedGenerator(tokenizer, texts, cut)
    episodes = collector.collect(generator, [TASK] * groups, [0] * groups)
    return episodes, generator, builder


def test_scripted_conversation_masks_exactly_the_generated_text(tiny_tokenizer):
    texts = ["<think>I look.</think><action>look</action>", "<think>going on and on", "<action>inventory</action>"]
    episodes, generator, builder = _play(tiny_tokenizer, texts, cut={1})
    episode = episodes[0]
    assert episode.length == 3 and not episode.context_truncated
    ids, mask = _row(concat_rows(episodes, [1.0] * 6, tiny_tokenizer.pad_token_id))

    # The model's part: its three turns, with the EOS it produced (turn 2 was cut off: no EOS).
    decode = lambda kept: tiny_tokenizer.decode(kept, skip_special_tokens=False)  # noqa: E731
    generated = texts[0] + IM_END + texts[1] + texts[2] + IM_END
    assert decode([t for t, m in zip(ids, mask, strict=True) if m]) == generated

    # Everything else: the first prompt and the environment's answers in ChatML, written out by hand here.
    env = make_env("household-easy", max_steps=3)
    observation, info = env.reset(TASK)
    first = builder.text(info["task"], observation, [], info["admissible_actions"])
    context = f"{IM_START}user\n{first}{IM_END}\n{IM_START}assistant\n"
    answers = []
    for number, step in enumerate(episode.steps[:2], start=2):
        observation, _, _, info = env.step(step.action)
        answers.append(builder.observation_text(number, observation, info["admissible_actions"]))
    context += f"\n{IM_START}user\n{answers[0]}{IM_END}\n{IM_START}assistant\n"  # after EOS: the newline
    context += f"{IM_END}\n{IM_START}user\n{answers[1]}{IM_END}\n{IM_START}assistant\n"  # cut off: the whole end
    assert decode([t for t, m in zip(ids, mask, strict=True) if not m]) == context

    # Interleaved, the row is the whole conversation, and at every turn the model was given exactly its prefix.
    assert len(generator.prompts) == 3
    for turn, prompts in enumerate(generator.prompts):
        seen = prompts[0]
        assert ids[: len(seen)] == seen
        assert ids[len(seen) : len(seen) + len(episode.steps[turn].response_ids)] == episode.steps[turn].response_ids
        assert episode.context_ids(turn) == seen


def test_advantages_and_step_index_sit_on_each_turns_tokens(tiny_tokenizer):
    texts = ["<action>look</action>", "<action>inventory</action>"]
    episodes, _, _ = _play(tiny_tokenizer, texts, max_steps=2)
    rows = concat_rows(episodes, [0.5, -2.0, 1.0, 3.0], tiny_tokenizer.pad_token_id)
    assert rows["prompt_ids"].size(0) == 2  # one row per episode
    for row, (first, second) in enumerate([(0.5, -2.0), (1.0, 3.0)]):
        mask = rows["tool_mask"][row].bool()
        steps = rows["token_step_index"][row]
        advantages = rows["advantages"][row]
        assert set(steps[~mask].tolist()) == {-1} and set(advantages[~mask].tolist()) == {0.0}
        assert set(advantages[steps == 0].tolist()) == {first} and set(advantages[steps == 1].tolist()) == {second}
        assert int((steps == 0).sum()) == len(episodes[row].steps[0].response_ids)
    assert torch.equal(loss_mask(rows), rows["completion_mask"] * rows["tool_mask"])
    assert int(loss_mask(rows).sum()) == sum(len(s.response_ids) for e in episodes for s in e.steps)


def test_token_budget_ends_the_episode_and_truncation_reaches_the_mask(tiny_tokenizer):
    texts = ["<action>look</action>", "<action>inventory</action>", "<action>look</action>"]
    first_prompt = len(_play(tiny_tokenizer, texts, max_steps=1, groups=1)[0][0].steps[0].prompt_ids)
    budget = first_prompt + 16 + 5  # room for the first turn, not for the environment's answer and a second turn
    episodes, generator, _ = _play(tiny_tokenizer, texts, max_episode_tokens=budget)
    assert all(e.context_truncated and e.length == 1 for e in episodes)
    assert len(generator.prompts) == 1
    kept = concat_rows(episodes, [1.0, 1.0], tiny_tokenizer.pad_token_id)
    masked = concat_rows(episodes, [1.0, 1.0], tiny_tokenizer.pad_token_id, mask_truncated=True)
    assert kept["truncated"].all() and int(kept["tool_mask"].sum()) > 0
    assert int(masked["tool_mask"].sum()) == 0  # mask_truncated_completions: the cut episode leaves the loss
    assert len(_row(kept)[0]) <= budget

    # A turn cut by the per-turn budget leaves the loss alone; the other turns stay.
    episodes, _, _ = _play(tiny_tokenizer, ["<action>look</action>", "<think>and on", "<action>look</action>"], cut={1})
    rows = concat_rows(episodes, [1.0] * 6, tiny_tokenizer.pad_token_id, mask_truncated=True)
    steps = rows["token_step_index"][0]
    assert int(rows["tool_mask"][0][steps == 1].sum()) == 0
    assert bool(rows["tool_mask"][0][steps == 0].all()) and bool(rows["tool_mask"][0][steps == 2].all())


def _with_template(tokenizer, template: str):
    copied = copy.deepcopy(tokenizer)
    copied.chat_template = template
    return copied


def test_a_template_that_drops_earlier_reasoning_is_detected(tiny_tokenizer):
    from trl.chat_template_utils import qwen2_5_chat_template, qwen3_chat_template

    assert template_report(tiny_tokenizer) is None  # ChatML keeps history as it was
    assert template_report(_with_template(tiny_tokenizer, qwen2_5_chat_template)) is None
    report = template_report(_with_template(tiny_tokenizer, qwen3_chat_template))
    assert report is not None and "first difference" in report and "Qwen3" in report


def test_a_template_that_rewrites_the_last_assistant_turn_cannot_be_appended_to(tiny_tokenizer):
    rewriting = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' }}"
        "{% if m['role'] == 'assistant' and loop.last %}{{ m['content'] + ' (latest)' }}{% else %}{{ m['content'] }}"
        "{% endif %}{{ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
        "{% endif %}"
    )
    chat = ChatTokens(_with_template(tiny_tokenizer, rewriting))
    with pytest.raises(ChatTemplateError, match="per_step"):
        chat.continuation_ids([tiny_tokenizer.eos_token_id], [{"role": "user", "content": "next"}])


def test_trainer_refuses_a_rewriting_template_when_asked(tiny_model, tiny_tokenizer, tmp_path):
    from trl.chat_template_utils import qwen3_chat_template

    from tests.test_trainer_loss import make_trainer

    qwen3 = _with_template(tiny_tokenizer, qwen3_chat_template)
    with pytest.raises(ValueError, match="re-renders"):
        make_trainer(tiny_model, qwen3, tmp_path, "dapo", 2, trajectory_format="concat", concat_template_check="error")


def test_expert_rows_equal_the_templates_own_rendering(tiny_tokenizer):
    """With a template that keeps history (ChatML), appending ids gives what rendering the whole conversation gives:
    an independent check of the glue, and of the SFT rows' masks."""
    env = make_env("household-easy")
    builder = PromptBuilder(tiny_tokenizer)
    tasks = env.task_ids("train")[:3]
    rows = expert_concat_rows(env, builder, tasks, max_episode_tokens=4096, max_turn_tokens=32)
    conversations = list(expert_conversations(env, PromptBuilder(None), tasks))
    assert len(rows) == 3
    for row, (messages, _) in zip(rows, conversations, strict=True):
        rendered = tiny_tokenizer.apply_chat_template(messages, tokenize=True)
        rendered = list(rendered["input_ids"] if hasattr(rendered, "keys") else rendered)
        assert row["input_ids"] == rendered[: len(row["input_ids"])]
        assert tiny_tokenizer.decode(rendered[len(row["input_ids"]) :]) == "\n"  # the end of the last turn
        trained = [t for t, m in zip(row["input_ids"], row["completion_mask"], strict=True) if m]
        replies = [m["content"] + IM_END for m in messages if m["role"] == "assistant"]
        assert tiny_tokenizer.decode(trained, skip_special_tokens=False) == "".join(replies)


@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "bnpo"])
def test_loss_covers_model_tokens_only(tiny_model, tiny_tokenizer, tmp_path, loss_type):
    """Concat rows (a tool_mask with holes) give TRL's formula over completion_mask * tool_mask, micro-batched."""
    from tests.test_trainer_loss import LOSS_ATOL, hand_built_batch, hand_loss, independent_logps, make_trainer

    trainer = make_trainer(tiny_model, tiny_tokenizer, tmp_path, loss_type, micro_batch_rows=2)
    rows, generator = hand_built_batch(len(tiny_tokenizer), tiny_tokenizer.pad_token_id)
    rows["tool_mask"] = rows["completion_mask"].clone()
    rows["tool_mask"][:, 1] = 0  # an environment token inside every row
    rows["tool_mask"][3, 2:] = 0
    rows["num_items_in_batch"] = loss_mask(rows).sum()
    with torch.no_grad():
        current = independent_logps(trainer.model, rows)
    rows["old_per_token_logps"] = current + (torch.rand(current.shape, generator=generator) - 0.5) * 0.6
    total = sum(trainer.compute_loss(trainer.model, batch) * weight for batch, weight in trainer.micro_batches(rows))
    expected = hand_loss(loss_type, current, rows["old_per_token_logps"], rows["advantages"], loss_mask(rows).float())
    torch.testing.assert_close(total, expected, atol=LOSS_ATOL, rtol=0)  # float32 rounding (see LOSS_ATOL)
    everything = hand_loss(loss_type, current, rows["old_per_token_logps"], rows["advantages"], rows["completion_mask"])
    assert abs(total - everything) > 10 * LOSS_ATOL  # the environment tokens would change it, far beyond rounding


@pytest.fixture(scope="module")
def tool_tokenizer(tmp_path_factory):
    """The tiny model's tokenizer for a tool environment: Qwen2.5's chat template and tool tags."""
    from transformers import AutoTokenizer

    from agentrl.models import build_tiny_model

    path = tmp_path_factory.mktemp("tiny_tools") / "model"
    build_tiny_model(path, make_env("factqa-easy"), hidden_size=32, num_layers=1, seed=0)
    return AutoTokenizer.from_pretrained(path)


def test_scripted_tool_conversation(tool_tokenizer):
    """A search, a malformed call, an unknown tool, the answer: tool messages are context, errors reach the model."""
    import json

    from agentrl.evaluation import tool_use_summary

    env = make_env("factqa-easy", max_steps=5)
    task = env.task_ids("train")[0]
    _, info = env.reset(task)
    search = json.loads(info["expert_action"])["tool_calls"][0]
    texts = [
        "<tool_call>\n" + json.dumps(search) + "\n</tool_call>",
        '<tool_call>\n{"name": "search", "arguments": {"query": ',  # cut off mid-call: not closed
        '<tool_call>\n{"name": "lookup", "arguments": {}}\n</tool_call>',
        '<tool_call>\n{"name": "answer", "arguments": {"answer": "nobody"}}\n</tool_call>',
    ]
    collector = RolloutCollector(
        lambda: make_env("factqa-easy", max_steps=5), PromptBuilder(tool_tokenizer), trajectory_format="concat"
    )
    generator = ScriptedGenerator(tool_tokenizer, texts)
    (episode,) = collector.collect(generator, [task], [0])
    assert [(s.tool_calls, s.tool_failures, s.format_valid) for s in episode.steps] == [
        (1, 0, True),
        (0, 1, False),
        (1, 1, True),
        (1, 0, True),
    ]
    assert tool_use_summary([episode]) == {
        "tool_calls_per_episode": 3.0,
        "tool_failure_rate": 0.5,
        "malformed_call_rate": 0.25,
    }
    ids, mask = _row(concat_rows([episode], [1.0] * 4, tool_tokenizer.pad_token_id))
    decode = lambda kept: tool_tokenizer.decode(kept, skip_special_tokens=False)  # noqa: E731
    assert decode([t for t, m in zip(ids, mask, strict=True) if m]) == "".join(t + IM_END for t in texts)

    # The context: Qwen2.5's system prompt with the tools, the question, then each tool answer in <tool_response>.
    replay = make_env("factqa-easy", max_steps=5)
    observation, info = replay.reset(task)
    context = tool_tokenizer.apply_chat_template(
        [{"role": "user", "content": observation}], tools=info["tools"], tokenize=False, add_generation_prompt=True
    )
    for step in episode.steps[:3]:
        _, _, _, info = replay.step(step.action)
        (message,) = info["tool_messages"]
        context += f"\n{IM_START}user\n<tool_response>\n{message['content']}\n</tool_response>{IM_END}\n"
        context += f"{IM_START}assistant\n"
    assert decode([t for t, m in zip(ids, mask, strict=True) if not m]) == context
    assert "not closed" in context and 'unknown tool "lookup"' in context  # the errors the model is shown
    for turn, prompts in enumerate(generator.prompts):
        assert ids[: len(prompts[0])] == prompts[0] == episode.context_ids(turn)


def test_baselines_play_tool_environments():
    """random: a random tool with words of the observation as arguments; expert: the oracle's calls."""
    import functools

    from agentrl.evaluation import evaluate_baseline

    factory = functools.partial(make_env, "factqa-easy")
    tasks = factory().task_ids("eval_in")[:20]
    random_summary, episodes = evaluate_baseline("random", factory, tasks, seed=3)
    expert_summary, _ = evaluate_baseline("expert", factory, tasks)
    assert random_summary["env_errors"] == 0 and random_summary["tool_calls_per_episode"] >= 1.0
    assert random_summary["success_rate"] < 0.2 and expert_summary["success_rate"] == 1.0
    assert all(step.tool_calls == 1 for episode in episodes for step in episode.steps)
