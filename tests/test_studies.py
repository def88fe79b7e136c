"""scripts/study_summary.py (the page of scripts/study_cpu.sh and scripts/reproduce.sh) against figures computed by
hand from made-up runs, and scripts/reproduce.sh end to end as dry runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent


def fake_run(folder: Path, before: float, after: float, eruptions: int, repeat_rates: list[float]) -> None:
    folder.mkdir(parents=True)
    result = {
        "before": {"success_rate": before, "num_episodes": 100},
        "after": {"success_rate": after, "num_episodes": 100},
    }
    (folder / "eval.json").write_text(json.dumps(result | {"wall_time_s": 120.0}))
    updates = [
        {
            "step": step + 1,
            "success_rate": 0.5,
            "entropy/step_mean": 0.2 if step < 5 else 0.1,
            "entropy/eruptions": float(eruptions if step == len(repeat_rates) - 1 else 0),
            "degen/repeat_action_rate": rate,
        }
        for step, rate in enumerate(repeat_rates)
    ]
    (folder / "metrics.jsonl").write_text("\n".join(json.dumps(u) for u in [*updates, {"step": len(updates)}]) + "\n")
    (folder / "config.yaml").write_text(
        yaml.safe_dump(
            {"env_id": "household-easy", "max_steps": 10, "per_device_train_batch_size": 64, "num_generations": 8}
        )
    )


def test_study_page_figures_by_hand(tmp_path):
    root = tmp_path / "study"
    for seed, after, eruptions in ((1, 0.5, 1), (2, 0.7, 0), (3, 0.6, 2)):
        fake_run(root / "base" / f"seed{seed}", 0.4, after, eruptions, [0.1] * 5 + [0.3] * 5)
    for seed in (1, 2, 3):
        fake_run(root / "better" / f"seed{seed}", 0.4, 0.8, 0, [0.0] * 10)
    fake_run(root / "better" / "unfinished", 0.4, 0.0, 0, [0.0])  # not a seed folder: ignored
    page = tmp_path / "page.md"
    subprocess.run(
        [sys.executable, "scripts/study_summary.py", str(root), "base", "better", "--output", str(page)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    text = page.read_text()
    success, dynamics = [line for line in text.splitlines() if line.startswith("| base ")]
    better = [line for line in text.splitlines() if line.startswith("| better ")][0]
    # after: 0.5, 0.7, 0.6 -> mean 60.0, sample std 10.0; pooled 180 / 300 = 0.6 +- 1.96 sqrt(0.24 / 300) = 0.0554
    assert "**60.0 ± 10.0** (update 10)" in success and "50.0, 70.0, 60.0" in success
    assert "60.0 [54.5, 65.5] of 300" in success
    # better: pooled 0.8 vs 0.6; z = 0.2 / sqrt(0.7 * 0.3 * (2 / 300)) = 5.35
    assert "+20.0 pt (z +5.3)" in better
    # entropy first 5 updates 0.2, last 5 0.1; eruptions per seed; repeated actions mean 0.2 per run -> 20.0 +- 0.0
    assert "0.200 -> 0.100" in dynamics and "| 1 / 0 / 2 |" in dynamics and "| 20.0 ± 0.0 |" in dynamics
    assert "Setup: env `household-easy`, 10 updates of 8 tasks x 8 rollouts" in text
    for name in ("entropy", "success", "degeneration"):
        assert (tmp_path / "figures" / f"page_study_{name}.png").stat().st_size > 1000


@pytest.mark.slow  # three seeds of a training run: ~50 s
@pytest.mark.exhaustive  # the aggregation is checked by hand above; reproduce.sh's refusal in test_webshop_original
def test_reproduce_runs_the_seeds_and_aggregates(tmp_path):
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}
    out = tmp_path / "cell"
    command = ["scripts/reproduce.sh", "empg/webshop_qwen2.5_1.5b_grpo", "--smoke"]
    done = subprocess.run(
        command, cwd=ROOT, env={**environment, "SEEDS": "0 1", "OUT": str(out)}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seeds = [json.loads((out / f"seed{seed}" / "eval.json").read_text())["after"] for seed in (0, 1)]
    mean = 50 * (seeds[0]["success_rate"] + seeds[1]["success_rate"])
    summary = (out / "summary.md").read_text()
    assert "| cell | 2 |" in summary and f"**{mean:.1f} ± " in summary
    assert yaml.safe_load((out / "seed1" / "config.yaml").read_text())["seed"] == 1
    again = subprocess.run(
        command, cwd=ROOT, env={**environment, "SEEDS": "0 1", "OUT": str(out)}, capture_output=True, text=True
    )
    assert again.stdout.count("finished earlier") == 2  # finished seeds are kept, not rerun
    wrong = subprocess.run(
        ["scripts/reproduce.sh", "empg/nope"], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert wrong.returncode == 2 and "empg/alfworld_qwen2.5_7b_dapo_empg" in wrong.stderr
