"""The LoRA lifecycle: train an adapter, reload it, merge it (`agentrl export --merge`), evaluate it, train it on."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest
import torch
from peft import PeftModel, get_peft_model, get_peft_model_state_dict
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from agentrl.cli import main
from agentrl.models import lora_config
from agentrl.seal_capture import HEAD_NAME
from tests.test_cli import write_recipe

PROMPTS = ["go to drawer 1", "take the apple from countertop 2 and put it in fridge 1"]
# entropy_coef > 0: a real gradient even when every episode of the untrained tiny policy fails (zero advantages)
LORA_RUN = {"use_peft": True, "sft_warmup_steps": 0, "max_steps": 1, "lora_r": 4, "lora_alpha": 8}
LEARNING = {"entropy_coef": 0.05, "learning_rate": 1.0e-2}


def batch(tokenizer) -> dict:
    texts = [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False) for p in PROMPTS]
    return tokenizer(texts, return_tensors="pt", padding=True)


@torch.no_grad()
def logits(model, inputs) -> torch.Tensor:
    model.eval()
    return model(**inputs).logits


def max_diff(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    return (a - b).abs()[mask.bool()].max().item()  # padded positions are not compared


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def safetensors_keys(path) -> list[str]:
    with safe_open(str(path), "pt") as f:
        return list(f.keys())


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    """A real `agentrl train` LoRA run (1 update) whose adapter moved away from zero."""
    tmp = tmp_path_factory.mktemp("lora")
    assert main(["train", "--config", str(write_recipe(tmp, **LORA_RUN, **LEARNING))]) == 0
    return tmp / "run"


# ---------------------------------------------------------------------------------------- save / reload / merge
def test_a_seal_adapter_reloads_exactly_and_merges_into_a_plain_model_without_the_head(
    tiny_model_dir, tmp_path, capsys
):
    """The trainer's own path (SEAL head attached, then LoRA with the head in modules_to_save), perturbed weights."""
    from agentrl.seal_capture import prepare_seal_head

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    inputs = batch(tokenizer)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    base_logits = logits(model, inputs)
    peft_config = prepare_seal_head(
        model,
        SimpleNamespace(seal_head_layers=3, seed=0),
        lora_config(SimpleNamespace(lora_r=4, lora_alpha=8, lora_dropout=0.0, lora_target_modules=None)),
    )
    model = get_peft_model(model, peft_config)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # a non-trivial adapter: LoRA B starts at zero, and a trained head
        for name, parameter in model.named_parameters():
            if "lora_B" in name or (HEAD_NAME in name and parameter.requires_grad):
                parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    adapter_logits = logits(model, inputs)
    adapter = tmp_path / "run" / "final"
    model.save_pretrained(adapter)
    tokenizer.save_pretrained(adapter)

    reloaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), adapter)
    mask = inputs["attention_mask"]
    assert max_diff(logits(reloaded, inputs), adapter_logits, mask) == 0.0
    saved = load_file(adapter / "adapter_model.safetensors")
    head = {k: v for k, v in get_peft_model_state_dict(model).items() if HEAD_NAME in k}
    assert len(head) == 10 and all(torch.equal(saved[k], v) for k, v in head.items())  # the trained head

    code, out, err = run_cli(capsys, "export", tmp_path / "run", "--merge")
    merged_dir = tmp_path / "run" / "merged"
    assert code == 0, err
    assert f"merged model written to {merged_dir}" in out and "SEAL head (8641 parameters" in out
    assert not any(HEAD_NAME in key for key in safetensors_keys(merged_dir / "model.safetensors"))
    merged, info = AutoModelForCausalLM.from_pretrained(merged_dir, output_loading_info=True)
    assert not info["unexpected_keys"] and not info["missing_keys"] and not hasattr(merged, HEAD_NAME)
    assert type(merged).__name__ == "Qwen2ForCausalLM"
    merged_logits = logits(merged, inputs)
    assert max_diff(merged_logits, adapter_logits, mask) < 1e-5
    assert max_diff(merged_logits, base_logits, mask) > 1e-2  # the merge changed the model
    assert AutoTokenizer.from_pretrained(merged_dir).chat_template == tokenizer.chat_template


def test_export_merges_a_trained_run(lora_run, capsys):
    final = lora_run / "final"
    trained = load_file(final / "adapter_model.safetensors")
    assert any(torch.count_nonzero(v) for k, v in trained.items() if "lora_B" in k)  # RL moved the adapter

    code, out, err = run_cli(capsys, "export", lora_run)
    assert code == 0 and "LoRA adapter (r=4, alpha=8" in out and str(lora_run / "base_model") in out

    code, out, err = run_cli(capsys, "export", lora_run, "--merge")
    assert code == 0, err
    assert f"merged model written to {lora_run / 'merged'}" in out and "SEAL head" not in out
    tokenizer = AutoTokenizer.from_pretrained(final)
    inputs, mask = batch(tokenizer), batch(tokenizer)["attention_mask"]
    base = AutoModelForCausalLM.from_pretrained(lora_run / "base_model")
    base_logits = logits(base, inputs)
    adapter_logits = logits(PeftModel.from_pretrained(base, final), inputs)
    merged_logits = logits(AutoModelForCausalLM.from_pretrained(lora_run / "merged"), inputs)
    assert max_diff(merged_logits, adapter_logits, mask) < 1e-5
    assert max_diff(merged_logits, base_logits, mask) > 1e-3

    code, _, err = run_cli(capsys, "export", lora_run, "--merge")  # never written over
    assert code == 2 and "already exists and is not empty" in err and str(lora_run / "merged") in err


def test_eval_runs_on_the_adapter_folder(lora_run, tmp_path, capsys):
    output = tmp_path / "eval.json"
    argv = ["eval", "--model", lora_run / "final", "--num_tasks", 2, "--max_new_tokens", 16, "--output", output]
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    result = json.loads(output.read_text())
    assert result == json.loads(out) and result["num_episodes"] == 2 and 0.0 <= result["success_rate"] <= 1.0
    assert result["model"] == str(lora_run / "final")


def test_training_goes_on_from_an_adapter(lora_run, tmp_path, capsys):
    start = lora_run / "final"
    recipe = write_recipe(tmp_path, **LORA_RUN, **LEARNING, model_name_or_path=str(start))
    code, out, err = run_cli(capsys, "train", "--config", recipe)
    assert code == 0, err
    assert f"{start} is a LoRA adapter: RL trains it on" in out
    final = tmp_path / "run" / "final"
    config = json.loads((final / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["base_model_name_or_path"] == str(lora_run / "base_model")
    before, after = load_file(start / "adapter_model.safetensors"), load_file(final / "adapter_model.safetensors")
    assert before.keys() == after.keys()
    assert max((after[k] - before[k]).abs().max().item() for k in before) > 0  # the same adapter, trained on

    # the SFT warm-up does not run on an adapter: stopped before anything is loaded
    code, _, err = run_cli(capsys, "train", "--config", recipe, "--sft_warmup_steps", "2")
    assert code == 2 and str(start) in err and "sft_warmup_steps: 0" in err and "agentrl export" in err


# ---------------------------------------------------------------------------------------- bad input
def test_export_of_a_missing_folder(tmp_path, capsys):
    code, _, err = run_cli(capsys, "export", tmp_path / "no_such_run", "--merge")
    assert code == 2 and str(tmp_path / "no_such_run") in err and "adapter_config.json" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(capsys, "export", tmp_path / "empty")
    assert code == 2 and "is not a model" in err and "final/" in err and "Traceback" not in err


def test_a_full_model_has_nothing_to_merge(tiny_model_dir, tmp_path, capsys):
    code, _, err = run_cli(capsys, "export", tiny_model_dir, "--merge")
    assert code == 2 and "full model" in err and "no LoRA adapter to merge" in err
    code, out, _ = run_cli(capsys, "export", tiny_model_dir, "--output", tmp_path / "copy")
    assert code == 0 and "full model (Qwen2ForCausalLM" in out and (tmp_path / "copy" / "model.safetensors").is_file()


def test_an_adapter_whose_base_moved(lora_run, tmp_path, capsys):
    """A run folder copied elsewhere: adapter_config.json still names the old base path."""
    moved = tmp_path / "moved"
    shutil.copytree(lora_run / "final", moved / "final")
    shutil.copytree(lora_run / "base_model", moved / "base_model")
    config_path = moved / "final" / "adapter_config.json"
    config = json.loads(config_path.read_text())
    old_base = str(tmp_path / "gone" / "base_model")
    config_path.write_text(json.dumps({**config, "base_model_name_or_path": old_base}))

    code, _, err = run_cli(capsys, "export", moved, "--merge")
    assert code == 2 and old_base in err and "was the run folder moved?" in err
    assert str(moved / "base_model") in err and "--base" in err
    code, _, err = run_cli(capsys, "eval", "--model", moved / "final", "--num_tasks", "1")
    assert code == 2 and old_base in err  # before any loading, not transformers' traceback
    code, _, err = run_cli(capsys, "export", moved, "--merge", "--base", tmp_path / "nope")
    assert code == 2 and "--base" in err and str(tmp_path / "nope") in err

    code, out, err = run_cli(capsys, "export", moved, "--merge", "--base", moved / "base_model")
    assert code == 0, err
    assert (moved / "merged" / "model.safetensors").is_file() and f"into its base {moved / 'base_model'}" in out
