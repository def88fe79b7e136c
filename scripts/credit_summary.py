"""Summarise a credit-assignment study (scripts/credit_study.sh): one markdown table, printed and saved.

python scripts/credit_summary.py runs/credit grpo grpo_empg dapo ...
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path


def mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.1f} ± {100 * spread:.1f}"


def finished_runs(root: Path, config: str) -> list[tuple[dict, list[dict]]]:
    """(eval.json, the logged updates) of every finished seed of `config`."""
    runs = []
    for run in sorted((root / config).glob("seed*")):
        if (run / "eval.json").exists():
            records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
            runs.append((json.loads((run / "eval.json").read_text()), [r for r in records if "success_rate" in r]))
    return runs


def summarise(root: Path, configs: list[str]) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    lines = [
        f"Held-out success on household-lookup eval_in (100 tasks, T 0.4), mean ± std over seeds; commit {commit}.",
        "",
        "| configuration | seeds | before RL | after RL (fixed step) | per-seed after | train success, last 5 updates "
        "| step entropy, last 5 | entropy eruptions | rollout rounds / update |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for config in configs:
        before, after, train, entropy, eruptions, rounds, steps = [], [], [], [], [], [], set()
        for result, updates in finished_runs(root, config):
            before.append(result["before"]["success_rate"])
            after.append(result["after"]["success_rate"])
            steps.add(updates[-1]["step"])
            train.append(statistics.mean(r["success_rate"] for r in updates[-5:]))
            entropy.append(statistics.mean(r["entropy/step_mean"] for r in updates[-5:]))
            eruptions.append(updates[-1].get("entropy/eruptions", 0.0))
            rounds.append(statistics.mean(r.get("dapo/generation_rounds", 1.0) for r in updates))
        per_seed = ", ".join(f"{100 * a:.0f}" for a in after)
        lines.append(
            f"| {config} | {len(after)} | {mean_std(before)} | {mean_std(after)} (step {'/'.join(map(str, steps))}) "
            f"| {per_seed} | {mean_std(train)} | {statistics.mean(entropy) if entropy else 0:.3f} "
            f"| {statistics.mean(eruptions) if eruptions else 0:.1f} | {statistics.mean(rounds) if rounds else 0:.2f} |"
        )
    table = "\n".join(lines)
    (root / "summary.md").write_text(table + "\n")
    return table


def plot_curves(root: Path, configs: list[str]) -> Path:
    """Training success (moving average of 5 updates) and rollout step entropy per update, mean over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (success_axis, entropy_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for config in configs:
        curves = [updates for _, updates in finished_runs(root, config)]
        if not curves:
            continue
        length = min(len(c) for c in curves)
        success = [statistics.mean(c[i]["success_rate"] for c in curves) for i in range(length)]
        smooth = [statistics.mean(success[max(0, i - 4) : i + 1]) for i in range(length)]
        entropy = [statistics.mean(c[i]["entropy/step_mean"] for c in curves) for i in range(length)]
        steps = range(1, length + 1)
        success_axis.plot(steps, smooth, label=f"{config} ({len(curves)} seeds)")
        entropy_axis.plot(steps, entropy, label=config)
    success_axis.set(xlabel="update", ylabel="training success (moving avg of 5)", title="rollout success")
    entropy_axis.set(xlabel="update", ylabel="step entropy (nats)", title="rollout step entropy")
    success_axis.legend(fontsize=8)
    figure.tight_layout()
    path = root / "credit_study.png"
    figure.savefig(path, dpi=110)
    return path


if __name__ == "__main__":
    print(summarise(Path(sys.argv[1]), sys.argv[2:]))
    print(f"curves: {plot_curves(Path(sys.argv[1]), sys.argv[2:])}")
