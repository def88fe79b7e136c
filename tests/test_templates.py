"""Rollouts, tool calling and the SFT warm-up through the chat templates of real model families: Qwen2.5-Instruct,
Qwen3 and Llama-3.1-Instruct (tests/families.py: their special tokens, EOS ids and TRL's copy of their template).

Per step, every recorded prompt is the template's fresh rendering of that step's message. In concat mode, the
context the model is given at each turn is, for Qwen2.5 and Llama-3.1, exactly the template's rendering of the
conversation so far, and the row's mask is 1 on exactly the generated ids; Qwen3 drops earlier turns'
reasoning when it renders a conversation, so with <think> in the replies its rendering and the appended ids
part ways, and the template check says so. The SFT rows are what TRL's SFTTrainer trains on, unchanged.
"""

from __future__ import annotations

import json

import pytest
import torch
from transformers import GenerationConfig

from agentrl.envs import make_env
from agentrl.rollout import HFGenerator, PromptBuilder, RolloutCollector, concat_rows, per_step_rows
from agentrl.rollout.chat import ChatTokens, first_difference, template_report
from agentrl.rollout.demos import expert_concat_rows, expert_conversations, expert_sft_rows
from agentrl.rollout.generator import Generation, stop_token_ids
from agentrl.rollout.prompt import Turn

TASK = "household-easy/train/00003"
# what each family's template writes after an assistant message's content
END_OF_TURN = {"qwen2.5": "<|im_end|>\n", "qwen3": "<|im_end|>\n", "llama3.1": "<|eot_id|>"}


def fresh(family, messages, tools=None, add_generation_prompt=True) -> list[int]:
    """The template's rendering of `messages`, tokenized as text (the template writes the special tokens itself)."""
    text = family.tokenizer.apply_chat_template(
        messages, tools=tools, tokenize=False, add_generation_prompt=add_generation_prompt
    )
    return family.tokenizer(text, add_special_tokens=False)["input_ids"]


def stops(family) -> list[int]:
    """The family's stop ids: its tokenizer's EOS and its generation config's EOS ids (rollout/generator.py)."""
    return stop_token_ids(family.tokenizer, GenerationConfig.from_pretrained(family.path))


class Scripted:
    """Turn t of every episode produces texts[t] and the turn's closing id (the template's end-of-turn token)."""

    def __init__(self, family, texts, tools=None):
        self.tokenizer, self.texts = family.tokenizer, texts
        self.closing = ChatTokens(family.tokenizer, stops(family)).closing_id(tools)
        self.prompts: list[list[int]] = []

    def generate(self, prompts):
        turn = len(self.prompts)
        self.prompts.append(list(prompts[0]))
        ids = self.tokenizer(self.texts[turn], add_special_tokens=False)["input_ids"] + [self.closing]
        return [Generation(ids, [0.0] * len(ids), [0.0] * len(ids), False) for _ in prompts]


def row_and_mask(episode, pad):
    rows = concat_rows([episode], [1.0] * episode.length, pad)
    prompt = rows["prompt_ids"][0][rows["prompt_mask"][0].bool()].tolist()
    attended = rows["completion_mask"][0].bool()
    ids = prompt + rows["completion_ids"][0][attended].tolist()
    return ids, [0] * len(prompt) + rows["tool_mask"][0][attended].tolist()


def check_concat_episode(family, episode, generator, tools=None, exact_rendering=True):
    """At each turn the model was given the recorded context (and, where the template keeps history, exactly the
    template's rendering of the conversation so far); the row is the last context plus the last reply, and its
    mask is 1 on exactly the reply ids."""
    assistant_at = [i for i, m in enumerate(episode.messages) if m["role"] == "assistant"]
    assert len(assistant_at) == episode.length == len(generator.prompts)
    expected_mask: list[int] = []
    for turn, step in enumerate(episode.steps):
        context = episode.context_ids(turn)
        assert generator.prompts[turn] == context
        if exact_rendering:
            assert context == fresh(family, episode.messages[: assistant_at[turn]], tools), f"turn {turn}"
        expected_mask += [0] * (len(context) - len(expected_mask)) + [1] * len(step.response_ids)
    ids, mask = row_and_mask(episode, family.tokenizer.pad_token_id)
    assert ids == episode.context_ids() and mask == expected_mask
    replies = [family.tokenizer.decode(step.response_ids) for step in episode.steps]
    assert family.tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if m]) == "".join(replies)


def test_family_tokenizers_keep_the_families_special_tokens(family):
    tokenizer = family.tokenizer
    closing = ChatTokens(tokenizer, stops(family)).closing_id()
    assert tokenizer.convert_ids_to_tokens(closing) == END_OF_TURN[family.name].strip()
    assert closing in stops(family) and len(stops(family)) == len(family.spec.generation_eos) >= 2
    for token, special in family.spec.tokens[:30]:  # one id each, kept or dropped by skip_special_tokens as declared
        (token_id,) = tokenizer(token, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode([token_id], skip_special_tokens=True) == ("" if special else token)
    bos = tokenizer("hi")["input_ids"][0] == tokenizer.bos_token_id  # Llama's tokenizer prepends <|begin_of_text|>
    assert bos == family.spec.prepends_bos


def test_per_step_prompts_are_the_templates_fresh_rendering(family):
    """A real (tiny, random) model of the family plays per-step episodes; every prompt it was sent, as recorded, is
    the template's rendering of that step's message, with one BOS where the template writes it."""
    tokenizer = family.tokenizer
    builder = PromptBuilder(tokenizer, history_length=2)
    collector = RolloutCollector(lambda: make_env("household-easy", max_steps=3), builder)
    sent: list[list[int]] = []
    generator = HFGenerator(family.model(), tokenizer, max_new_tokens=8, temperature=1.0)

    class Recording:
        def generate(self, prompts):
            sent.extend(list(p) for p in prompts)
            return generator.generate(prompts)

    torch.manual_seed(0)
    episodes = collector.collect(Recording(), [TASK, TASK], [0, 0])
    env = make_env("household-easy", max_steps=3)
    for episode in episodes:
        observation, info = env.reset(TASK)
        history: list[Turn] = []
        for step in episode.steps:
            messages = builder.messages(info["task"], observation, history, info["admissible_actions"])
            assert step.prompt_ids == fresh(family, messages)
            assert tokenizer.decode(step.prompt_ids) == tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
            if family.spec.bos:
                bos = tokenizer.bos_token_id
                assert step.prompt_ids.count(bos) == 1 and step.prompt_ids[0] == bos
            history.append(Turn(observation=observation, action=step.action))
            observation, _, _, info = env.step(step.action)
    turns = range(max(episode.length for episode in episodes))  # the collector's order: a turn of every episode
    assert sent == [e.steps[t].prompt_ids for t in turns for e in episodes if e.length > t]
    steps = [step for episode in episodes for step in episode.steps]
    rows = per_step_rows(episodes, [1.0] * len(steps), tokenizer.pad_token_id)
    for row, step in enumerate(steps):
        mask = rows["completion_mask"][row].bool()
        assert rows["completion_ids"][row][mask].tolist() == step.response_ids
        assert rows["prompt_ids"][row][rows["prompt_mask"][row].bool()].tolist() == step.prompt_ids


@pytest.mark.parametrize("reasoning", [False, True])
def test_concat_rows_are_exact(family, reasoning):
    think = "<think>The drawer is closed.</think>" if reasoning else ""
    texts = [think + "<action>look</action>", think + "<action>inventory</action>", "<action>look</action>"]
    collector = RolloutCollector(
        lambda: make_env("household-easy", max_steps=3), PromptBuilder(family.tokenizer), trajectory_format="concat"
    )
    generator = Scripted(family, texts)
    (episode,) = collector.collect(generator, [TASK], [0])
    drops_reasoning = reasoning and family.name == "qwen3"
    check_concat_episode(family, episode, generator, exact_rendering=not drops_reasoning)
    report = template_report(family.tokenizer, stop_ids=stops(family))
    assert (report is None) == (family.name != "qwen3")  # the template check: Qwen3 alone re-renders history
    if drops_reasoning:  # Qwen3 renders the first reply without its reasoning once a user message follows it
        context = episode.context_ids(1)
        rendered = fresh(family, episode.messages[:3])
        where = first_difference(context, rendered)
        assert where == len(episode.steps[0].prompt_ids)  # right where the first reply starts
        assert family.tokenizer.decode(rendered[where:]).startswith("<action>look</action>")
        assert "Qwen3" in report


def test_tool_calling_rows_are_exact(family):
    """A search, a malformed call and the answer in the tool environment, through each family's tool template
    (Qwen: tools in the system prompt, results as <tool_response> in a user turn; Llama 3.1: tools in the first
    user message, results in an ipython turn)."""
    env = make_env("factqa-easy", max_steps=4)
    task = env.task_ids("train")[0]
    observation, info = env.reset(task)
    search = json.loads(info["expert_action"])["tool_calls"][0]
    texts = [
        "<tool_call>\n" + json.dumps(search) + "\n</tool_call>",
        '<tool_call>\n{"name": "search"\n</tool_call>',  # not JSON: the error is the tool's answer
        '<tool_call>\n{"name": "answer", "arguments": {"answer": "nobody"}}\n</tool_call>',
    ]
    collector = RolloutCollector(
        lambda: make_env("factqa-easy", max_steps=4), PromptBuilder(family.tokenizer), trajectory_format="concat"
    )
    generator = Scripted(family, texts, tools=info["tools"])
    (episode,) = collector.collect(generator, [task], [0])
    assert [(s.tool_calls, s.tool_failures, s.format_valid) for s in episode.steps] == [
        (1, 0, True),
        (0, 1, False),
        (1, 0, True),
    ]
    assert episode.tools == info["tools"] and episode.messages[2]["role"] == "tool"
    check_concat_episode(family, episode, generator, tools=info["tools"])
    first_turn = family.tokenizer.decode(episode.steps[0].prompt_ids)
    assert '"name": "search"' in first_turn  # the tool declarations are in the prompt


def check_sft_rows_reach_trl_unchanged(family, rows, tmp_path):
    """TRL's SFTTrainer (completion_only_loss, pre-tokenized rows, as agentrl.sft runs it) trains on exactly the rows'
    ids, with labels on exactly the masked ids."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    config = SFTConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=len(rows),
        max_length=None,
        completion_only_loss=True,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        disable_tqdm=True,
    )
    trainer = SFTTrainer(
        model=family.model(), args=config, train_dataset=Dataset.from_list(rows), processing_class=family.tokenizer
    )
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(rows))])
    for index, row in enumerate(rows):
        length = len(row["input_ids"])
        assert batch["input_ids"][index][:length].tolist() == row["input_ids"]  # no BOS or EOS added by TRL
        assert int(batch["attention_mask"][index].sum()) == length
        labels = batch["labels"][index][:length]
        trained = torch.tensor(row["completion_mask"]).bool()
        assert labels[trained].tolist() == torch.tensor(row["input_ids"])[trained].tolist()
        assert bool((labels[~trained] == -100).all())


def test_sft_warmup_rows_through_each_template(family, tmp_path):
    """Per step: prompt = the template's rendering, completion = the expert's reply and the template's end-of-turn
    token. Concat: the whole expert conversation as the rollouts build it (for Qwen2.5 and Llama-3.1 the template's
    own rendering of it). TRL's SFTTrainer trains on exactly these ids and masks."""
    from agentrl.rollout.demos import expert_transitions
    from agentrl.rollout.parser import format_response

    env = make_env("household-easy")
    builder = PromptBuilder(family.tokenizer)
    tasks = env.task_ids("train")[:2]
    closing = END_OF_TURN[family.name].strip()
    per_step = expert_sft_rows(env, builder, tasks, stop_ids=stops(family))
    transitions = list(expert_transitions(env, tasks))
    assert len(per_step) == len(transitions)
    for row, (task, observation, history, admissible, action) in zip(per_step, transitions, strict=True):
        prompt = fresh(family, builder.messages(task, observation, history, admissible))
        assert row["input_ids"][: len(prompt)] == prompt and row["completion_mask"] == [0] * len(prompt) + [1] * (
            len(row["input_ids"]) - len(prompt)
        )
        assert family.tokenizer.decode(row["input_ids"][len(prompt) :]) == format_response(action) + closing
    concat = expert_concat_rows(env, builder, tasks, 4096, 32, stop_ids=stops(family))
    conversations = list(expert_conversations(env, PromptBuilder(None), tasks))
    for row, (messages, _) in zip(concat, conversations, strict=True):
        trained = [t for t, m in zip(row["input_ids"], row["completion_mask"], strict=True) if m]
        replies = [m["content"] + closing for m in messages if m["role"] == "assistant"]
        assert family.tokenizer.decode(trained) == "".join(replies)
        if family.name != "qwen3":  # the expert's replies carry <think></think>, which Qwen3 drops when re-rendering
            rendered = fresh(family, messages, add_generation_prompt=False)
            assert row["input_ids"] == rendered[: len(row["input_ids"])]
            after_row = family.tokenizer.decode(rendered[len(row["input_ids"]) :])
            assert after_row == END_OF_TURN[family.name][len(closing) :]
    check_sft_rows_reach_trl_unchanged(family, per_step[:3], tmp_path / "per_step")
    check_sft_rows_reach_trl_unchanged(family, concat, tmp_path / "concat")


@pytest.mark.parametrize("trajectory_format", ["per_step", "concat"])
def test_the_sft_warmup_trains_through_each_template(family, trajectory_format, tmp_path):
    """agentrl's warm-up itself (agentrl.sft.sft_warmup: expert rows, TRL's SFTTrainer, the saved model) runs on
    each family's template; the saved model loads and its loss was finite."""
    from transformers import AutoModelForCausalLM

    from agentrl.config import AgentRLConfig
    from agentrl.sft import sft_warmup

    args = AgentRLConfig(
        output_dir=str(tmp_path / "run"),
        trajectory_format=trajectory_format,
        sft_warmup_steps=2,
        sft_num_tasks=2,
        sft_batch_size=4,
        max_completion_length=32,
        max_episode_tokens=4096,
        use_cpu=True,
        bf16=False,
        report_to=[],
    )
    saved = sft_warmup(str(family.path), family.tokenizer, make_env("household-easy"), args, tmp_path / "warm")
    warmed = AutoModelForCausalLM.from_pretrained(saved)
    initial = family.model().state_dict()
    assert any(not torch.equal(p, initial[n]) for n, p in warmed.state_dict().items())  # it trained
    assert family.tokenizer.chat_template == type(family.tokenizer).from_pretrained(saved).chat_template
