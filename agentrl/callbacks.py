"""Run-directory logging: metrics.jsonl, and the live progress bar."""

from __future__ import annotations

import json
import math
import os

from transformers import TrainerCallback

from agentrl.entropy.phases import PHASES


class MetricsJsonlCallback(TrainerCallback):
    """Appends one JSON object per logged step to `output_dir/metrics.jsonl` (main process only)."""

    def __init__(self, path: str):
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        record = {"step": state.global_step}
        for key, value in logs.items():
            if isinstance(value, float) and not math.isfinite(value):
                value = None  # JSON has no NaN
            record[key] = value
        if "entropy/phase" in record and record["entropy/phase"] is not None:
            record["entropy/phase_name"] = PHASES[round(record["entropy/phase"])]
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


class RichProgressCallback(TrainerCallback):
    """A rich progress bar with live reward, success and entropy."""

    def __init__(self):
        self.progress = None
        self.task = None

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]RL[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=state.max_steps, completed=state.global_step, status="")

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.progress is None or not logs or "reward/mean" not in logs:
            return
        status = (
            f"reward {logs['reward/mean']:.2f}  success {logs.get('success_rate', 0):.0%}  "
            f"entropy {logs.get('entropy/token_mean', 0):.3f}  len {logs.get('episode/length_mean', 0):.1f}"
        )
        self.progress.update(self.task, status=status)

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
