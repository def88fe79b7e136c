"""Shared fixtures: one tiny offline model (random weights) built per test session; the model-loading tripwire."""

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


# ---------------------------------------------------------------- real chat templates (tests/families.py)
FAMILY_NAMES = ["qwen2.5", "qwen3", "llama3.1"]


class FamilyModel:
    """A model family's stand-in: `spec` (tests/families.py), the saved `path`, its `tokenizer` as agentrl loads it."""

    def __init__(self, spec, path):
        from agentrl.models import load_tokenizer

        self.spec, self.path, self.name = spec, path, spec.name
        self.tokenizer = load_tokenizer(str(path))

    def model(self):
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(self.path)

    def ids(self, *tokens: str) -> list[int]:
        return [self.tokenizer.convert_tokens_to_ids(t) for t in tokens]


@pytest.fixture(scope="session")
def family_models(tmp_path_factory):
    """name -> FamilyModel, each built once per session on first use (one small BPE vocabulary for all)."""
    from tests.families import FAMILIES, build_family_model, family_corpus

    built: dict[str, FamilyModel] = {}
    corpus: list[str] = []

    def get(name: str) -> FamilyModel:
        if name not in built:
            corpus[:] = corpus or family_corpus()
            path = tmp_path_factory.mktemp(name) / "model"
            built[name] = FamilyModel(FAMILIES[name], build_family_model(FAMILIES[name], path, corpus))
        return built[name]

    return get


@pytest.fixture(params=FAMILY_NAMES)
def family(request, family_models) -> FamilyModel:
    """Each of Qwen2.5-Instruct, Qwen3 and Llama-3.1-Instruct: their special tokens, EOS ids and chat template."""
    return family_models(request.param)


@pytest.fixture()
def no_model_loading(monkeypatch):
    """Tripwire: a model built or loaded (or the run started) before the input is validated fails the test."""
    import agentrl.models
    import agentrl.run

    def forbidden(*args, **kwargs):
        raise AssertionError("a model was loaded before the input was validated")

    monkeypatch.setattr(agentrl.models, "load_policy", forbidden)
    monkeypatch.setattr(agentrl.models, "build_tiny_model", forbidden)
    monkeypatch.setattr(agentrl.run, "train", forbidden)
