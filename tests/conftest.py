"""Shared fixtures: one tiny offline model (random weights) built per test session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from agentrl.models import build_tiny_model
    from agentrl.envs import make_env

    path = tmp_path_factory.mktemp("tiny") / "model"
    build_tiny_model(path, make_env("household-easy"), hidden_size=64, num_layers=2, seed=0)
    return path


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture()
def tiny_model(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir)
