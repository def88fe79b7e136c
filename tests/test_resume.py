"""A run killed with SIGKILL and resumed ends with exactly the weights of an uninterrupted run (CPU, fixed
seeds): after a complete checkpoint, and while a checkpoint was being written (the resume then continues from
the previous, complete one)."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch
from safetensors.torch import load_file

from agentrl.checkpoints import COMPLETE_FILE
from tests.launch import ROOT, run_python
from tests.test_cli import write_recipe

KILLER = os.path.join(ROOT, "tests/scripts/train_then_die.py")
STEPS = 3


def final_weights(run_dir):
    return load_file(run_dir / "final" / "model.safetensors")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("whole")
    recipe = write_recipe(folder, save_strategy="steps", save_steps=1, max_steps=STEPS, sft_warmup_steps=2)
    run_python(["-m", "agentrl", "train", "--config", str(recipe)])
    return folder / "run"


@pytest.mark.parametrize(("mode", "resumes_from"), [("after", 2), ("during", 1)])
def test_a_killed_run_resumes_to_the_same_weights(uninterrupted, tmp_path, mode, resumes_from):
    recipe = write_recipe(tmp_path, save_strategy="steps", save_steps=1, max_steps=STEPS, sft_warmup_steps=2)
    run_python([KILLER, mode, "2", "--config", str(recipe)], expect=-signal.SIGKILL)
    run_dir = tmp_path / "run"
    assert not (run_dir / "final").exists()
    assert (run_dir / "checkpoint-2").is_dir()  # written (fully or in part) before the kill
    assert (run_dir / "checkpoint-2" / COMPLETE_FILE).exists() == (mode == "after")

    resumed = run_python(["-m", "agentrl", "train", "--config", str(recipe), "--resume_from_checkpoint", "auto"])
    assert f"resuming from {run_dir / f'checkpoint-{resumes_from}'}" in resumed.stdout
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if "reward/mean" in r]
    assert steps[-(STEPS - resumes_from) :] == list(range(resumes_from + 1, STEPS + 1))
    expected, actual = final_weights(uninterrupted), final_weights(run_dir)
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name  # bitwise
