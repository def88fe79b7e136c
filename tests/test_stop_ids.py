"""Stop ids: a turn ends on every EOS id the model declares (Qwen2.5-Instruct: <|im_end|> and <|endoftext|>), as
TRL's GRPOTrainer gathers them, in both backends, the truncation flags, the concat glue, the parser's text and
evaluation. The model is the Qwen2.5 stand-in of tests/families.py with a forward hook that makes it
produce a chosen id from a chosen position on (a real model and real generate; only its logits are steered)."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import GenerationConfig

from agentrl.rollout import HFGenerator, PromptBuilder, RolloutCollector, concat_rows, per_step_rows
from agentrl.rollout.generator import stop_token_ids
from agentrl.rollout.vllm_backend import VLLMGenerator
from agentrl.envs import make_env
from tests.hf_engine import HFEngine
from tests.test_vllm_backend import independent_scores

MAX_NEW = 6


class ProduceFrom:
    """Forward hook on the model: from generated token `position` on (1-based), `token` gets +1e4 on its logit."""

    def __init__(self, token: int, position: int):
        self.token, self.position, self.calls = token, position, 0

    def __call__(self, module, args, kwargs, output):
        # forward i of a generate call gives the logits of generated token i: the first reads the whole prompt,
        # each later one a single new id (KV cache)
        self.calls = 1 if kwargs["input_ids"].size(1) > 1 else self.calls + 1
        if self.calls >= self.position:
            output.logits[..., self.token] += 1e4
        return output


def steered(family, token: str, position: int):
    model = family.model().eval()
    model.register_forward_hook(ProduceFrom(family.ids(token)[0], position), with_kwargs=True)
    return model


@pytest.fixture(scope="module")
def qwen(family_models):
    return family_models("qwen2.5")


def test_stop_ids_are_gathered_as_trl_gathers_them(family_models):
    qwen, llama = family_models("qwen2.5"), family_models("llama3.1")
    im_end, endoftext = qwen.ids("<|im_end|>", "<|endoftext|>")
    assert stop_token_ids(qwen.tokenizer, qwen.model().generation_config) == [im_end, endoftext]
    # Llama-3.1-Instruct: its EOS (<|eot_id|>) is one of the three declared ids, which keep their order
    declared = llama.ids("<|end_of_text|>", "<|eom_id|>", "<|eot_id|>")
    assert stop_token_ids(llama.tokenizer, llama.model().generation_config) == declared
    # a config that declares only <|endoftext|> (Qwen2.5 base): the tokenizer's EOS goes in front
    assert stop_token_ids(qwen.tokenizer, GenerationConfig(eos_token_id=endoftext)) == [im_end, endoftext]
    assert stop_token_ids(qwen.tokenizer, None) == [im_end]


def test_trl_and_agentrl_stop_on_the_same_ids(qwen, tmp_path):
    """TRL's GRPOTrainer.__init__ gathers its eos_token_ids; the trainer's rollouts use agentrl's helper."""
    from tests.test_trainer_loss import make_trainer

    trainer = make_trainer(qwen.model(), qwen.tokenizer, tmp_path, "dapo", 2)
    assert trainer.eos_token_ids == stop_token_ids(qwen.tokenizer, trainer.model.generation_config)
    assert trainer.make_generator(trainer.model).stop_ids == trainer.eos_token_ids


@pytest.mark.parametrize("token", ["<|im_end|>", "<|endoftext|>"])
def test_hf_generation_stops_on_either_id(qwen, token):
    prompts = [qwen.tokenizer("go to desk 1", add_special_tokens=False)["input_ids"], [5, 6, 7]]
    generations = HFGenerator(steered(qwen, token, 3), qwen.tokenizer, MAX_NEW, temperature=1.0).generate(prompts)
    for generation in generations:
        assert len(generation.token_ids) == 3 and generation.token_ids[-1] == qwen.ids(token)[0]
        assert not generation.truncated and len(generation.logprobs) == len(generation.entropies) == 3
    # stopping on the tokenizer's EOS alone (the behaviour before), <|endoftext|> runs on to the token budget
    model = steered(qwen, "<|endoftext|>", 3)
    only_eos = HFGenerator(model, qwen.tokenizer, MAX_NEW, 1.0, stop_ids=qwen.ids("<|im_end|>"))
    assert all(g.truncated and len(g.token_ids) == MAX_NEW for g in only_eos.generate(prompts))


@pytest.mark.parametrize("token", ["<|im_end|>", "<|endoftext|>"])
def test_vllm_generation_stops_on_either_id(qwen, token):
    """The stop ids reach the engine as the sampling params' stop_token_ids: the served copy's generation config
    declares only <|im_end|> here (a served folder without the second id), and the turn still ends on either."""
    policy = steered(qwen, token, 3)
    served = copy.deepcopy(policy)  # the hook comes along
    served.generation_config.eos_token_id = qwen.ids("<|im_end|>")
    engine = HFEngine(policy, qwen.tokenizer, served=served)
    engine.generation_kwargs = {"repetition_penalty": 1.0}  # the user's kwargs stay
    stops = stop_token_ids(qwen.tokenizer, policy.generation_config)
    generator = VLLMGenerator(engine, stops, MAX_NEW, 1.0, independent_scores(policy, 1.0))
    prompts = [qwen.tokenizer("open drawer 2", add_special_tokens=False)["input_ids"]]
    (generation,) = generator.generate(prompts)
    assert generation.token_ids[-1] == qwen.ids(token)[0] and len(generation.token_ids) == 3
    assert not generation.truncated
    assert engine.generation_kwargs == {"repetition_penalty": 1.0}  # restored after the call
    # without <|endoftext|> among the request's stop ids the served model runs on past it
    (alone,) = VLLMGenerator(engine, qwen.ids("<|im_end|>"), MAX_NEW, 1.0, independent_scores(policy, 1.0)).generate(
        prompts
    )
    assert alone.truncated == (token == "<|endoftext|>")


def test_a_turn_ending_on_the_second_id_is_not_truncated_anywhere(qwen):
    """Per step and concat rollouts, masked truncation, the concat glue and evaluation, all on <|endoftext|>."""
    from agentrl.evaluation import evaluate_policy

    model = steered(qwen, "<|endoftext|>", 4)
    endoftext, im_end = qwen.ids("<|endoftext|>", "<|im_end|>")
    tasks = ["household-easy/train/00003"] * 2
    for trajectory_format in ("per_step", "concat"):
        collector = RolloutCollector(
            lambda: make_env("household-easy", max_steps=2),
            PromptBuilder(qwen.tokenizer),
            trajectory_format=trajectory_format,
            max_turn_tokens=MAX_NEW,
        )
        episodes = collector.collect(HFGenerator(model, qwen.tokenizer, MAX_NEW, 1.0), tasks, [0, 0])
        steps = [s for e in episodes for s in e.steps]
        assert len(steps) == 4 and all(s.response_ids[-1] == endoftext and not s.truncated for s in steps)
        if trajectory_format == "per_step":
            rows = per_step_rows(episodes, [1.0] * 4, qwen.tokenizer.pad_token_id, mask_truncated=True)
            assert rows["completion_mask"].sum(1).tolist() == [4] * 4  # nothing dropped from the loss
        else:
            rows = concat_rows(episodes, [1.0] * 4, qwen.tokenizer.pad_token_id, mask_truncated=True)
            assert (rows["completion_mask"] * rows["tool_mask"]).sum(1).tolist() == [8, 8]
            # the glue: the model's <|endoftext|> stays, then the template's whole end of turn (<|im_end|>\n)
            glue = episodes[0].steps[1].prompt_ids
            assert glue[0] == im_end and qwen.tokenizer.decode(glue[:2]) == "<|im_end|>\n"
    summary, episodes = evaluate_policy(
        model, qwen.tokenizer, lambda: make_env("household-easy", max_steps=2), tasks, max_new_tokens=MAX_NEW
    )
    assert all(s.response_ids[-1] == endoftext and not s.truncated for e in episodes for s in e.steps)


def test_the_parser_never_reads_the_stop_id(qwen):
    """A stop id that is not a special token (<|fim_pad|> is an added, non-special token in Qwen2.5) is cut off by
    id before the text reaches the parser; the stop ids come from the model's generation config."""
    model = steered(qwen, "<|fim_pad|>", 1)
    model.generation_config.eos_token_id = qwen.ids("<|im_end|>", "<|endoftext|>", "<|fim_pad|>")
    collector = RolloutCollector(lambda: make_env("household-easy", max_steps=1), PromptBuilder(qwen.tokenizer))
    generator = HFGenerator(model, qwen.tokenizer, MAX_NEW, 1.0)
    (episode,) = collector.collect(generator, ["household-easy/train/00003"], [0])
    (step,) = episode.steps
    assert step.response_ids == qwen.ids("<|fim_pad|>") and not step.truncated
    assert step.response == "" and qwen.tokenizer.decode(step.response_ids, skip_special_tokens=True) == "<|fim_pad|>"
