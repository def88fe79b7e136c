"""What a newcomer sees: progress a log file can show (one line per RL update, readable SFT lines), a time left
that is a time, no library noise, and a run folder that records the versions that made it."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest
import yaml
from rich.progress import Progress, TimeRemainingColumn
from transformers import TrainerControl, TrainerState, TrainingArguments

from agentrl.callbacks import RemainingTimeColumn, RichProgressCallback, SFTLogLines, update_line
from tests.launch import ROOT


class Clock:
    """A settable clock for rich's Progress (its get_time)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_time_left_with_updates_slower_than_richs_30_s_window():
    """Updates every 45 s: rich's own column never sees two updates within its 30 s window and shows -:--:--;
    ours gives elapsed / done x to go = 90 s / 2 x 8 = 360 s after 2 of 10 updates."""
    clock = Clock()
    ours, richs = RemainingTimeColumn(), TimeRemainingColumn()
    progress = Progress(ours, richs, get_time=clock, auto_refresh=False, disable=True)
    task_id = progress.add_task("train", total=10, completed=0, first_step=0)
    task = progress.tasks[0]
    assert ours.render(task).plain == "-:--:--"  # nothing done yet
    for step in (1, 2):
        clock.now += 45.0
        progress.update(task_id, completed=step)
    assert richs.render(task).plain == "-:--:--"
    assert ours.render(task).plain == "0:06:00"
    resumed = progress.add_task("resumed", total=10, completed=6, first_step=6)  # a resumed run counts its own
    clock.now += 30.0
    progress.update(resumed, completed=7)
    assert ours.render(progress.tasks[resumed]).plain == "0:01:30"  # 30 s for 1 update, 3 to go


def _state(step: int, max_steps: int) -> TrainerState:
    state = TrainerState()
    state.global_step, state.max_steps, state.is_world_process_zero = step, max_steps, True
    return state


def test_one_line_per_update_when_output_is_not_a_terminal(capsys, tmp_path):
    args, control = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[]), TrainerControl()
    callback = RichProgressCallback()  # pytest's captured stdout is not a terminal
    callback.on_train_begin(args, _state(0, 3), control)
    assert callback.progress is None and callback.lines
    logs = {"reward/mean": 0.25, "success_rate": 0.5, "entropy/token_mean": 0.4321, "episode/length_mean": 6.25}
    callback.on_step_end(args, _state(1, 3), control)
    callback.on_log(args, _state(1, 3), control, logs=logs)
    callback.on_log(args, _state(1, 3), control, logs={"loss": 0.1})  # not an update's metrics: no line
    callback.on_train_end(args, _state(1, 3), control)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "[agentrl] RL update 1/3  reward 0.250  success 50.0%  entropy 0.432  episode length 6.2  "
    )
    assert lines[0].endswith(" s/update")
    assert update_line(2, 3, logs, None).endswith("episode length 6.2")  # no timing before a first interval


def test_sft_lines_are_readable(capsys, tmp_path):
    args, control, callback = TrainingArguments(output_dir=str(tmp_path), report_to=[]), TrainerControl(), SFTLogLines()
    logs = {"loss": 1.23456, "grad_norm": 2.0, "learning_rate": 0.001, "mean_token_accuracy": 0.734, "epoch": 0.2}
    callback.on_log(args, _state(20, 100), control, logs=logs)
    callback.on_log(args, _state(100, 100), control, logs={"train_runtime": 26.4, "train_loss": 2.8333})
    assert capsys.readouterr().out.splitlines() == [
        "[agentrl] SFT step 20/100  loss 1.235  token accuracy 73.4%  lr 1.00e-03",
        "[agentrl] SFT warm-up done: 100 steps in 26 s, mean loss 2.833",
    ]


@pytest.mark.slow
def test_a_tiny_run_with_output_to_a_file(tmp_path):
    """The quickstart's shape, tiny: stdout to a file shows one line per RL update and per SFT logging step; stderr
    holds none of the warnings that are not the user's business; versions.json records the versions and commit."""
    recipe = {
        "model_name_or_path": "tiny",
        "tiny_hidden_size": 64,
        "env_id": "household-easy",
        "max_steps": 2,
        "per_device_train_batch_size": 4,
        "num_generations": 2,
        "max_completion_length": 16,
        "learning_rate": 1.0e-4,
        "sft_warmup_steps": 4,
        "sft_num_tasks": 10,
        "sft_batch_size": 8,
        "eval_num_tasks": 2,
        "bf16": False,
        "use_cpu": True,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "micro_batch_rows": 8,
        "output_dir": str(tmp_path / "run"),
    }
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    with open(tmp_path / "out.log", "w") as out, open(tmp_path / "err.log", "w") as err:
        code = subprocess.run(
            [sys.executable, "-m", "agentrl", "train", "--config", str(tmp_path / "recipe.yaml")],
            stdout=out,
            stderr=err,
            cwd=ROOT,
            timeout=900,
        ).returncode
    stdout, stderr = (tmp_path / "out.log").read_text(), (tmp_path / "err.log").read_text()
    assert code == 0, stderr[-3000:]
    lines = stdout.splitlines()
    assert [line.split("  ")[0] for line in lines if "RL update" in line] == [
        "[agentrl] RL update 1/2",
        "[agentrl] RL update 2/2",
    ]
    assert sum(line.startswith("[agentrl] SFT step ") for line in lines) == 4  # logging_steps max(1, 4 // 5) = 1
    assert not any(line.startswith("{") for line in lines)  # no raw dicts
    for noise in ("gradient_checkpointing", "Setting accelerator to CPU", "Loading weights", "Writing model shards"):
        assert noise not in stdout + stderr, noise
    run = tmp_path / "run"
    versions = json.loads((run / "versions.json").read_text())
    for library in ("agentrl", "trl", "transformers", "torch", "accelerate", "peft"):
        assert versions[library] == metadata.version(library), library
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode == 0:  # a git checkout (the CI's is one)
        assert versions["git_commit"] == head.stdout.strip() and isinstance(versions["git_dirty"], bool)
    assert not (run / "sft_logs").exists()  # the warm-up's empty Trainer folder is not left behind
