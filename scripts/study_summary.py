"""Summarise a multi-seed study (runs laid out as ROOT/CONFIG/seedN/ by scripts/study_cpu.sh or
scripts/credit_study.sh): held-out success as mean +- std over seeds at the run's last (fixed) step, the pooled
95% interval over tasks x seeds, entropy, eruptions, pulses and degeneration metrics; a markdown page and figures.

python scripts/study_summary.py ROOT CONFIG [CONFIG ...] [--output PAGE.md] [--command "how it was run"]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

from agentrl.evaluation import success_ci95

DEGENERATION = ("repeat_action_rate", "repeat_sentence_rate", "invalid_action_rate", "unknown_entity_rate")


@dataclass
class Run:
    result: dict  # eval.json
    updates: list[dict]  # metrics.jsonl records of the optimizer updates
    name: str = ""  # the run folder's name (seedN)

    def first(self, key: str, count: int = 5) -> float:
        return statistics.mean(r[key] for r in self.updates[:count])

    def last(self, key: str, count: int = 5, default: float = 0.0) -> float:
        values = [r[key] for r in self.updates[-count:] if key in r]
        return statistics.mean(values) if values else default

    def final(self, key: str) -> float:
        return float(self.updates[-1].get(key, 0.0)) if self.updates else 0.0


def load_run(folder: Path) -> Run:
    """A finished run folder: its eval.json and the metrics.jsonl records of its optimizer updates."""
    return Run(json.loads((folder / "eval.json").read_text()), read_updates(folder), folder.name)


def read_updates(folder: Path) -> list[dict]:
    """The metrics.jsonl records of the run's optimizer updates (a run still going or stopped early has them too)."""
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in records if "success_rate" in r]


def finished_runs(root: Path, config: str) -> list[Run]:
    """Every finished seed of `config` (one with an eval.json)."""
    return [load_run(folder) for folder in sorted((root / config).glob("seed*")) if (folder / "eval.json").exists()]


def short_commit() -> str:
    """The checkout's commit, as a generated page records it."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()


def replace_section(page: Path, begin: str, end: str, text: str) -> None:
    """Write `text` (which starts with `begin` and ends with `end`) over the page's section between those markers,
    or append it when the page has none; the rest of the page is left alone."""
    old = page.read_text() if page.exists() else ""
    if begin in old and end in old:
        new = old[: old.index(begin)] + text + old[old.index(end) + len(end) :]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    page.write_text(new)


def mean_std(values: list[float], scale: float = 100.0, digits: int = 1) -> str:
    if not values:
        return "-"
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{scale * statistics.mean(values):.{digits}f} ± {scale * spread:.{digits}f}"


def pooled(runs: list[Run], when: str = "after") -> tuple[float, int]:
    """Success over the episodes of every seed pooled, and the number of episodes."""
    count = sum(r.result[when]["num_episodes"] for r in runs)
    wins = sum(r.result[when]["success_rate"] * r.result[when]["num_episodes"] for r in runs)
    return wins / count, count


def two_proportion_z(a: tuple[float, int], b: tuple[float, int]) -> float:
    """z of the difference of two pooled success rates: (p_a - p_b) / sqrt(p (1 - p) (1/n_a + 1/n_b))."""
    (p_a, n_a), (p_b, n_b) = a, b
    p = (p_a * n_a + p_b * n_b) / (n_a + n_b)
    spread = math.sqrt(p * (1 - p) * (1 / n_a + 1 / n_b))
    return (p_a - p_b) / spread if spread > 0 else 0.0


def success_table(root: Path, configs: list[str]) -> list[str]:
    first = finished_runs(root, configs[0])
    baseline = pooled(first) if first else None
    lines = [
        "| configuration | seeds | before RL | after RL, mean ± std over seeds | per seed | pooled over tasks x seeds "
        f"[95% interval] | vs {configs[0]} (pooled, z) |",
        "|---|---|---|---|---|---|---|",
    ]
    for config in configs:
        runs = finished_runs(root, config)
        if not runs:
            lines.append(f"| {config} | 0 | - | - | - | - | - |")
            continue
        steps = "/".join(sorted({str(r.updates[-1]["step"]) for r in runs}))
        after = [r.result["after"]["success_rate"] for r in runs]
        success, count = pooled(runs)
        low, high = success_ci95(success, count)
        versus = "-"
        if baseline and config != configs[0]:
            versus = f"{100 * (success - baseline[0]):+.1f} pt (z {two_proportion_z((success, count), baseline):+.1f})"
        lines.append(
            f"| {config} | {len(runs)} | {mean_std([r.result['before']['success_rate'] for r in runs])} "
            f"| **{mean_std(after)}** (update {steps}) | {', '.join(f'{100 * a:.1f}' for a in after)} "
            f"| {100 * success:.1f} [{100 * low:.1f}, {100 * high:.1f}] of {count} | {versus} |"
        )
    return lines


def dynamics_table(root: Path, configs: list[str]) -> list[str]:
    lines = [
        "| configuration | train success, last 5 updates | step entropy, first 5 -> last 5 (nats) | entropy eruptions "
        "| pulses | repeat action | repeat sentence | invalid action | unknown entity | SEAL head accuracy, last 5 "
        "| rollout rounds per update | minutes per run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for config in configs:
        runs = finished_runs(root, config)
        if not runs:
            continue
        first = statistics.mean(r.first("entropy/step_mean") for r in runs)
        last = statistics.mean(r.last("entropy/step_mean") for r in runs)
        # degeneration: mean over every update of the run (rates per step), then mean +- std over seeds
        degeneration = [
            mean_std([statistics.mean(u.get(f"degen/{key}", 0.0) for u in r.updates) for r in runs], digits=1)
            for key in DEGENERATION
        ]
        eruptions = " / ".join(f"{r.final('entropy/eruptions'):.0f}" for r in runs)
        pulses = " / ".join(f"{r.final('entropy/pulses'):.0f}" for r in runs)
        seal = [r.last("seal/accuracy") for r in runs if any("seal/accuracy" in u for u in r.updates)]
        lines.append(
            f"| {config} | {mean_std([r.last('success_rate') for r in runs])} | {first:.3f} -> {last:.3f} "
            f"| {eruptions} | {pulses} | {' | '.join(degeneration)} "
            f"| {mean_std(seal, digits=2) if seal else '-'} "
            f"| {statistics.mean(r.last('dapo/generation_rounds', len(r.updates), 1.0) for r in runs):.2f} "
            f"| {statistics.mean(r.result.get('wall_time_s', 0.0) for r in runs) / 60:.1f} |"
        )
    return lines


def plot(root: Path, configs: list[str], output_dir: Path, stem: str) -> list[Path]:
    """Per update, one colour per configuration (thin: each seed; thick: the mean over seeds): rollout step
    entropy; training success (moving average of 5); repeated-action and invalid-action rates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("entropy", [("entropy/step_mean", "rollout step entropy (nats)", 1)]),
        ("success", [("success_rate", "training success (moving average of 5)", 5)]),
        (
            "degeneration",
            [
                ("degen/repeat_action_rate", "repeated-action rate", 1),
                ("degen/invalid_action_rate", "invalid-action rate", 1),
            ],
        ),
    ]
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, series in panels:
        figure, axes = plt.subplots(1, len(series), figsize=(6.5 * len(series), 4), squeeze=False)
        for axis, (key, label, window) in zip(axes[0], series, strict=True):
            for index, config in enumerate(configs):
                colour = f"C{index}"
                curves = []
                for run in finished_runs(root, config):
                    values = [u.get(key, math.nan) for u in run.updates]
                    values = [statistics.mean(values[max(0, i - window + 1) : i + 1]) for i in range(len(values))]
                    curves.append(values)
                    axis.plot(range(1, len(values) + 1), values, color=colour, alpha=0.3, linewidth=0.8)
                if curves:
                    length = min(len(c) for c in curves)
                    mean = [statistics.mean(c[i] for c in curves) for i in range(length)]
                    axis.plot(range(1, length + 1), mean, color=colour, linewidth=2, label=f"{config} ({len(curves)})")
            axis.set(xlabel="update", ylabel=label)
            axis.legend(fontsize=8)
        figure.tight_layout()
        path = output_dir / f"{stem}_{name}.png"
        figure.savefig(path, dpi=100)
        plt.close(figure)
        paths.append(path)
    return paths


def run_setup(root: Path, config: str) -> dict:
    """The config.yaml of the configuration's first finished run (what every seed shares)."""
    import yaml

    for folder in sorted((root / config).glob("seed*")):
        if (folder / "config.yaml").exists():
            return yaml.safe_load((folder / "config.yaml").read_text())
    return {}


def page(root: Path, configs: list[str], figures: list[Path], output: Path, args: argparse.Namespace) -> str:
    commit = short_commit()
    # changes other than this page and its figures (being rewritten now) make the commit an incomplete record
    here = Path.cwd()
    own = [f":(exclude){p.resolve().relative_to(here)}" for p in (output, *figures) if p.resolve().is_relative_to(here)]
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *own], capture_output=True, text=True
    )
    setup = run_setup(root, configs[0])
    cpu = platform.processor() or platform.machine()
    episodes = setup.get("per_device_train_batch_size", 0) * (setup.get("num_processes") or 1)  # the global batch
    tasks = episodes // max(setup.get("num_generations", 1), 1)
    lines = [
        f"# {args.title}",
        "",
        f"Generated by `{args.command}` on {datetime.date.today()} from commit `{commit}`"
        f"{' (with uncommitted changes)' if dirty.stdout.strip() else ''}; {os.cpu_count()} cores ({cpu}), "
        f"{args.wall_time_s / 60:.0f} minutes for this invocation. Runs in `{root}/CONFIG/seedN/`; rerun the script to "
        "regenerate this page.",
        "",
        f"Setup: env `{setup.get('env_id')}`, {setup.get('max_steps')} updates of "
        f"{tasks} tasks x {setup.get('num_generations')} rollouts, every run from `{setup.get('model_name_or_path')}`"
        f"; held-out success on {setup.get('eval_split')} ({setup.get('eval_num_tasks')} tasks, temperature "
        f"{setup.get('eval_temperature')}) before RL and after the last update (a fixed step, never the best one). "
        "The seed changes the RL run: task order, sampling, initial heads.",
        "",
        "## Held-out success (%)",
        "",
        *success_table(root, configs),
        "",
        "z: the two-proportion z statistic of the pooled difference; |z| < 2 is within noise.",
        "",
        "## Training dynamics",
        "",
        "Eruptions and pulses: counts per seed at the end of the run. Degeneration rates (%, per step, mean over "
        "the run's updates, mean ± std over seeds): the same action repeated in an episode, a sentence repeated, "
        "an action the environment rejected, an object name the environment never showed (docs/entropy.md).",
        "",
        *dynamics_table(root, configs),
        "",
        "## Figures",
        "",
        *[f"![{path.stem}]({os.path.relpath(path, output.parent)})" for path in figures],
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path)
    parser.add_argument("configs", nargs="+")
    parser.add_argument("--output", type=Path, default=None, help="markdown page (default ROOT/summary.md)")
    parser.add_argument("--command", default="scripts/study_summary.py", help="how the study was run")
    parser.add_argument("--wall_time_s", type=float, default=0.0)
    parser.add_argument("--title", default="Study results")
    args = parser.parse_args()
    output = args.output or args.root / "summary.md"
    stem = output.stem if output.stem != "summary" else "study"
    figures = plot(args.root, args.configs, output.parent / "figures", f"{stem}_{args.root.name}")
    text = page(args.root, args.configs, figures, output, args)
    output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
