"""Run-directory logging and progress: metrics.jsonl, the RL progress bar (or lines), the SFT warm-up's lines."""

from __future__ import annotations

import json
import math
import os
import time

from rich.progress import ProgressColumn
from rich.text import Text
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


def update_line(step: int, max_steps: int, logs: dict, seconds_per_update: float | None) -> str:
    """One RL update in one line: reward, success, token entropy, episode length, wall seconds per update."""
    timing = f"  {seconds_per_update:.1f} s/update" if seconds_per_update is not None else ""
    return (
        f"[agentrl] RL update {step}/{max_steps}  reward {logs['reward/mean']:.3f}  "
        f"success {logs.get('success_rate', 0):.1%}  entropy {logs.get('entropy/token_mean', 0):.3f}  "
        f"episode length {logs.get('episode/length_mean', 0):.1f}{timing}"
    )


class RemainingTimeColumn(ProgressColumn):
    """Time left = elapsed / updates done in this run x updates to go. rich's own column estimates speed from the
    updates of the last 30 s only, so with updates slower than that it never shows a time (`-:--:--`)."""

    def render(self, task) -> Text:
        done = task.completed - task.fields.get("first_step", 0)
        if not done or task.elapsed is None or task.total is None:
            return Text("-:--:--", style="progress.remaining")
        seconds = int(task.elapsed / done * max(task.total - task.completed, 0))
        return Text(f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}", style="progress.remaining")


class RichProgressCallback(TrainerCallback):
    """Progress of the RL phase (main process only): on a terminal a live rich bar with reward, success and entropy;
    otherwise (output to a file, CI, nohup, where a live bar prints nothing) one line per logged update."""

    def __init__(self, live: bool | None = None):
        self.live = live  # None: a bar when stdout is a terminal
        self.progress = None
        self.task = None
        self.lines = False
        self._last = None  # (time, global_step) of the previous line

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console()
        if not (console.is_terminal if self.live is None else self.live):
            self.lines = True
            self._last = (time.perf_counter(), state.global_step)
            return
        self.progress = Progress(
            TextColumn("[bold]RL[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            RemainingTimeColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
        )
        self.progress.start()
        self.task = self.progress.add_task(
            "train", total=state.max_steps, completed=state.global_step, status="", first_step=state.global_step
        )

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "reward/mean" not in logs:
            return
        if self.lines:
            now, step = time.perf_counter(), state.global_step
            per_update = (now - self._last[0]) / (step - self._last[1]) if step > self._last[1] else None
            self._last = (now, step)
            print(update_line(step, state.max_steps, logs, per_update), flush=True)
        elif self.progress is not None:
            status = (
                f"reward {logs['reward/mean']:.2f}  success {logs.get('success_rate', 0):.0%}  "
                f"entropy {logs.get('entropy/token_mean', 0):.3f}  len {logs.get('episode/length_mean', 0):.1f}"
            )
            self.progress.update(self.task, status=status)

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


class SFTLogLines(TrainerCallback):
    """The SFT warm-up's logged steps as readable lines (in place of the Trainer's raw dicts), main process only."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        if "train_runtime" in logs:
            print(
                f"[agentrl] SFT warm-up done: {state.global_step} steps in {logs['train_runtime']:.0f} s, "
                f"mean loss {logs.get('train_loss', float('nan')):.3f}",
                flush=True,
            )
        elif "loss" in logs:
            accuracy = logs.get("mean_token_accuracy")
            shown = f"  token accuracy {accuracy:.1%}" if accuracy is not None else ""
            print(
                f"[agentrl] SFT step {state.global_step}/{state.max_steps}  loss {logs['loss']:.3f}{shown}  "
                f"lr {logs.get('learning_rate', 0):.2e}",
                flush=True,
            )
