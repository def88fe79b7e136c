"""Entropy-dynamics figures from run directories (metrics.jsonl), with matplotlib and no display.

- `entropy_dynamics.png`: step entropy over training for one or more runs; eruption phases shaded (the
  first run's), pulses marked, success rate on a second axis.
- `entropy_turns.png`: a heatmap of the mean step entropy by turn index (rows) and training step
  (columns), one panel per run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # files only: works on machines with no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from agentrl.entropy.phases import PHASES  # noqa: E402

PHASE_COLOURS = {"descent": "#9ecae1", "eruption": "#fc9272", "subsidence": "#fdd0a2"}


def read_metrics(run_dir: str) -> list[dict]:
    """The training records (those with rollout metrics) of `run_dir/metrics.jsonl`."""
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: `agentrl plot` takes run directories written by `agentrl train`")
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    return [r for r in records if "entropy/step_mean" in r or "entropy/token_mean" in r]


def _series(records: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    points = [(r["step"], r[key]) for r in records if r.get(key) is not None]
    if not points:
        return np.zeros(0), np.zeros(0)
    steps, values = zip(*points, strict=True)
    return np.asarray(steps, dtype=float), np.asarray(values, dtype=float)


def _env_shift_step(run_dir: str) -> int | None:
    """`env_shift_step` from the run's config.yaml, if it had one."""
    import yaml

    path = os.path.join(run_dir, "config.yaml")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return (yaml.safe_load(f) or {}).get("env_shift_step")


def shade_phases(axis, records: list[dict]) -> None:
    """Shade each update by its entropy phase. A phase holds until the next one is logged: the next update, or with
    num_iterations > 1 the next rollout batch's (the detector is fed once a batch)."""
    steps, codes = _series(records, "entropy/phase")
    labelled = set()
    for index, (step, code) in enumerate(zip(steps, codes, strict=True)):
        phase = PHASES[int(code)]
        if phase in PHASE_COLOURS:
            following = steps[index + 1] if index + 1 < len(steps) else step + (step - steps[index - 1] if index else 1)
            axis.axvspan(
                step - 0.5,
                following - 0.5,
                color=PHASE_COLOURS[phase],
                alpha=0.5,
                lw=0,
                label=phase if phase not in labelled else None,
            )
            labelled.add(phase)


def plot_entropy_dynamics(run_dirs: Sequence[str], output: str) -> str:
    """Step entropy (left axis) and success rate (right axis) over training steps; returns `output`."""
    figure, axis = plt.subplots(figsize=(10, 6))
    success_axis = axis.twinx()
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    shifts_drawn = set()
    for index, run_dir in enumerate(run_dirs):
        records = read_metrics(run_dir)
        colour = colours[index % len(colours)]
        name = os.path.basename(os.path.normpath(run_dir))
        if index == 0:
            shade_phases(axis, records)
        steps, entropy = _series(records, "entropy/step_mean")
        axis.plot(steps, entropy, color=colour, lw=1.8, label=f"{name}: step entropy")
        pulse_steps, pulses = _series(records, "entropy/pulses")  # cumulative count: a start where it grows
        starts = pulse_steps[np.diff(pulses, prepend=0.0) > 0]
        for number, step in enumerate(starts):
            axis.axvline(step, color=colour, ls=":", lw=1.2, label=f"{name}: pulse start" if number == 0 else None)
        shift = _env_shift_step(run_dir)
        if shift is not None and shift not in shifts_drawn:  # updates after `shift` ran in the changed env
            shifts_drawn.add(shift)
            axis.axvline(shift + 0.5, color="black", ls="-.", lw=1.2, label=f"environment shift after update {shift}")
        steps, success = _series(records, "success_rate")
        success_axis.plot(steps, success, color=colour, lw=1.0, ls="--", alpha=0.8, label=f"{name}: success rate")
    axis.set_xlabel("training step (update)")
    axis.set_ylabel("rollout step entropy (nats)")
    success_axis.set_ylabel("rollout success rate")
    success_axis.set_ylim(0, 1.02)
    handles, labels = axis.get_legend_handles_labels()
    more_handles, more_labels = success_axis.get_legend_handles_labels()
    axis.legend(
        handles + more_handles,
        labels + more_labels,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=3,
        fontsize=7,
        frameon=False,
    )
    axis.set_title("Entropy dynamics (shaded: eruption phases of the first run)")
    figure.tight_layout()
    figure.savefig(output, dpi=120)
    plt.close(figure)
    return output


def plot_turn_heatmap(run_dirs: Sequence[str], output: str) -> str:
    """Mean step entropy by turn index x training step, one panel per run; returns `output`."""
    figure, axes = plt.subplots(len(run_dirs), 1, figsize=(10, 2.6 * len(run_dirs)), squeeze=False)
    for axis, run_dir in zip(axes[:, 0], run_dirs, strict=True):
        records = read_metrics(run_dir)
        turns = sorted({int(k.split("_")[-1]) for r in records for k in r if k.startswith("entropy/turn_")})
        grid = np.full((max(turns, default=0) + 1, len(records)), np.nan)
        for column, record in enumerate(records):
            for turn in turns:
                value = record.get(f"entropy/turn_{turn}")
                if value is not None:
                    grid[turn, column] = value
        steps = [r["step"] for r in records]
        image = axis.imshow(
            grid,
            aspect="auto",
            origin="lower",
            cmap="magma",
            extent=(min(steps, default=0) - 0.5, max(steps, default=0) + 0.5, -0.5, grid.shape[0] - 0.5),
        )
        figure.colorbar(image, ax=axis, label="nats")
        axis.set_ylabel("turn")
        axis.set_title(os.path.basename(os.path.normpath(run_dir)), fontsize=9)
    axes[-1, 0].set_xlabel("training step (update)")
    figure.tight_layout()
    figure.savefig(output, dpi=120)
    plt.close(figure)
    return output


def plot_runs(run_dirs: Sequence[str], output_dir: str | None = None) -> list[str]:
    """Both figures for `run_dirs`, written to `output_dir` (default: the first run directory)."""
    output_dir = output_dir or run_dirs[0]
    os.makedirs(output_dir, exist_ok=True)
    return [
        plot_entropy_dynamics(run_dirs, os.path.join(output_dir, "entropy_dynamics.png")),
        plot_turn_heatmap(run_dirs, os.path.join(output_dir, "entropy_turns.png")),
    ]
