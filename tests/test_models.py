"""The offline tiny model: a normal HF folder that Auto* classes load, with a faithful tokenizer."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from agentrl.models import ModelPathError, check_model_name_or_path, environment_corpus, train_tokenizer
from agentrl.rollout.prompt import PromptBuilder
from agentrl.envs import make_env


def test_tiny_model_loads_with_auto_classes(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert model.config.model_type == "qwen2"
    assert model.config.vocab_size == len(tokenizer)
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token_id != tokenizer.eos_token_id
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "go to drawer 1"}], add_generation_prompt=True)
    ids = ids["input_ids"] if not isinstance(ids, list) else ids
    assert tokenizer.decode(ids) == "<|im_start|>user\ngo to drawer 1<|im_end|>\n<|im_start|>assistant\n"
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits
    assert logits.shape == (1, len(ids), len(tokenizer))


def test_loaded_tokenizer_splits_exactly_like_the_trained_one(tiny_model_dir):
    """AutoTokenizer re-imposes Qwen2's pre-tokenizer; the trained tokenizer must agree with it."""
    env = make_env("household-easy")
    corpus = environment_corpus(env, PromptBuilder(None), num_tasks=30)
    trained = train_tokenizer(corpus, vocab_size=1024)
    loaded = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert type(loaded).__name__ == "Qwen2Tokenizer"
    for text in corpus[:200]:
        assert trained.tokenize(text) == loaded.tokenize(text)


def test_format_tags_are_single_tokens(tiny_tokenizer):
    for tag in ("<think>", "</think>", "<action>", "</action>"):
        assert len(tiny_tokenizer(tag, add_special_tokens=False)["input_ids"]) == 1


@pytest.mark.parametrize("bad", ["./no/such/model", "/definitely/missing", "a/b/c"])
def test_missing_model_path_is_a_clear_error(bad):
    with pytest.raises(ModelPathError, match="does not exist"):
        check_model_name_or_path(bad)


def test_hub_ids_and_tiny_pass_the_offline_check(tiny_model_dir):
    check_model_name_or_path("tiny")
    check_model_name_or_path("Qwen/Qwen2.5-1.5B-Instruct")
    check_model_name_or_path(str(tiny_model_dir))
