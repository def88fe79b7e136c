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


def fake_revival_run(folder: Path, successes: list[float], held_out: float, pulses: int = 0) -> None:
    folder.mkdir(parents=True)
    updates = [
        {
            "step": step + 1,
            "success_rate": rate,
            "rollout/episodes": 50.0,
            "entropy/step_mean": 0.1,
            "entropy/pulses": float(pulses),
            "degen/invalid_action_rate": 0.25,
        }
        for step, rate in enumerate(successes)
    ]
    (folder / "metrics.jsonl").write_text("\n".join(json.dumps(u) for u in updates) + "\n")
    (folder / "eval.json").write_text(json.dumps({"after": {"success_rate": held_out, "num_episodes": 100}}))


def test_revival_page_figures_by_hand(tmp_path):
    root = tmp_path / "revival"
    warm = root / "warm_start"
    fake_revival_run(warm, [0.2] * 5 + [0.6, 0.6, 0.8, 0.8, 0.7], 0.795)
    (warm / "eval.json").write_text(
        json.dumps({"after": {"success_rate": 0.795}, "num_tasks": 200, "split": "eval_in", "temperature": 0.4})
    )
    fake_revival_run(root / "none" / "seed1", [0.0, 0.0, 0.1, 0.2], 0.02)
    fake_revival_run(root / "none" / "seed2", [0.0, 0.0, 0.0, 0.0], 0.04)
    fake_revival_run(root / "pulse" / "seed1", [0.0, 0.2, 0.4, 0.5], 0.30, pulses=2)
    fake_revival_run(root / "pulse" / "seed2", [0.0, 0.1, 0.3, 0.36], 0.50, pulses=1)
    page = tmp_path / "entropy.md"
    page.write_text("# Entropy\n\nkept\n")
    subprocess.run(
        [sys.executable, "scripts/revival_summary.py", str(root), "none", "pulse", "--page", str(page)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    text = page.read_text()
    assert text.startswith("# Entropy\n\nkept\n")
    # pre-shift level: mean of the warm start's last 5 updates (0.6, 0.6, 0.8, 0.8, 0.7) = 70%; recovery at 35%
    assert "last 5 updates is 70.0%" in text and "reaches half of it, 35.0%" in text
    none = next(line for line in text.splitlines() if line.startswith("| none "))
    pulse = next(line for line in text.splitlines() if line.startswith("| pulse "))
    assert "| never, never | 0/2 |" in none
    # first update reaching 0.35: 0.4 at update 3, 0.36 at update 4
    assert "| 3, 4 | 2/2 |" in pulse
    # held-out 0.30 and 0.50: mean 40.0, t(0.975, 1) = 12.706 x sd 0.1414 / sqrt 2 = 127.1 points
    assert "| 40.0 ± 127.1% |" in pulse
    # pooled 80 / 200 = 0.4, Wilson: (0.4 + 1.96^2 / 400 +- 1.96 sqrt(0.24 / 200 + 1.96^2 / 160000))
    # / (1 + 1.96^2 / 200) = [0.3346, 0.4692]; z vs none (6 / 200):
    # p = 86 / 400 = 0.215, z = 0.37 / sqrt(0.215 x 0.785 x 2 / 200) = 9.0
    # rollout wins: 50 episodes x (0 + 0.2 + 0.4 + 0.5) = 55 and 50 x (0 + 0.1 + 0.3 + 0.36) = 38
    assert "| 40.0% [33.5, 46.9] | +9.0 | 55, 38 | 1.5 | 0.100 | 25.0% |" in pulse
    # a second run of the script replaces its section instead of appending another
    subprocess.run(
        [sys.executable, "scripts/revival_summary.py", str(root), "none", "pulse", "--page", str(page)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    assert page.read_text().count("<!-- revival study:") == 1
    assert (tmp_path / "figures" / "revival_success.png").stat().st_size > 1000


def test_quickstart_seed_table_by_hand(tmp_path):
    out = tmp_path / "seeds"
    for seed, before, after, seconds in ((1, 0.66, 0.795, 420.0), (2, 0.70, 0.80, 450.0)):
        (out / f"seed{seed}").mkdir(parents=True)
        result = {"before": {"success_rate": before}, "after": {"success_rate": after}, "wall_time_s": seconds}
        (out / f"seed{seed}" / "eval.json").write_text(json.dumps(result))
    page = tmp_path / "quickstart.md"
    page.write_text("# Quickstart\n")
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["scripts/quickstart_seeds.sh"],
        cwd=ROOT,
        env={**environment, "SEEDS": "1 2", "OUT": str(out), "PAGE": str(page)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = page.read_text()
    assert "| 1 | 66.0% | 79.5% | +13.5 | 7.0 |" in text and "| 2 | 70.0% | 80.0% | +10.0 | 7.5 |" in text
    # before 66, 70: mean 68.0, sd 2.83; after 79.5, 80: 79.8 (79.75), sd 0.35; gain 13.5, 10: 11.8 (11.75), sd 2.47
    assert "| mean ± sd | 68.0 ± 2.8% | 79.8 ± 0.4% | 11.8 ± 2.5 | |" in text


def fake_eruption_run(
    folder: Path, phases: list[int], repeat: list[float], success: list[float], after: float, shift: int | None = None
):
    """A run whose detector saw `phases` (0 stable, 2 eruption, 3 subsidence): its eruption count grows where a 2
    follows anything but a 2; `shift`: its environment shifted after that update (env_shift_step)."""
    folder.mkdir(parents=True)
    result = {"success_rate": 0.6, "num_episodes": 100}, {"success_rate": after, "num_episodes": 100}
    evaluation = dict(zip(("before", "after"), result, strict=True), env_shifted_for_after=shift is not None)
    (folder / "eval.json").write_text(json.dumps(evaluation))
    count, updates = 0, []
    for step, phase in enumerate(phases):
        count += phase == 2 and (step == 0 or phases[step - 1] != 2)
        updates.append(
            {
                "step": step + 1,
                "success_rate": success[step],
                "entropy/step_mean": 0.3 if phase else 0.05,
                "entropy/phase": float(phase),
                "entropy/eruptions": float(count),
                "degen/repeat_action_rate": repeat[step],
                **({} if shift is None else {"env/shifted": float(step >= shift)}),
            }
        )
    (folder / "metrics.jsonl").write_text("\n".join(json.dumps(u) for u in updates) + "\n")


def test_eruption_page_figures_by_hand(tmp_path):
    root = tmp_path / "eruptions"
    # cycle 1: erupts at update 6, subsides, back to stable at update 10, then 5 quiet updates;
    # cycle 2: erupts at update 15, stable again at update 17, but only 4 updates follow: it does not enter the table
    phases = [0] * 5 + [2, 2, 3, 3] + [0] * 5 + [2, 3] + [0] * 4
    repeat = [0.1] * 5 + [0.3, 0.5, 0.4, 0.2] + [0.2] * 5 + [0.9, 0.9] + [0.0] * 4
    success = [0.6] * 5 + [0.5, 0.3, 0.4, 0.5] + [0.7] * 5 + [0.1, 0.1] + [0.0] * 4
    fake_eruption_run(root / "grpo" / "seed1", phases, repeat, success, after=0.7)
    fake_eruption_run(root / "grpo" / "seed2", [0] * 20, [0.1] * 20, [0.5] * 20, after=0.8, shift=10)
    stopped = root / "search" / "seed0"  # a search run stopped before its evaluation
    fake_eruption_run(stopped, [0, 2, 2, 0], [0.1] * 4, [0.5] * 4, after=0.0)
    (stopped / "eval.json").unlink()
    page = tmp_path / "entropy.md"
    page.write_text("# Entropy\n\nkept\n")
    command = [sys.executable, "scripts/eruption_summary.py", str(root), "grpo", "search", "--page", str(page)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    assert "| search |" not in page.read_text()  # without --unfinished the stopped run is not read
    subprocess.run([*command, "--unfinished"], cwd=ROOT, check=True, capture_output=True)  # replaces the section
    text = page.read_text()
    assert text.startswith("# Entropy\n\nkept\n") and text.count("<!-- eruptions: generated") == 1
    assert "where the environment shifted, before on the original tasks, after on the shifted ones" in text
    cycles = next(line for line in text.splitlines() if line.startswith("| grpo | 2 |"))
    # 2 eruptions (beginning at updates 6 and 15) and 0; held-out 0.7, 0.8: mean 75.0, t(0.975, 1) 12.706 x sd
    # 0.0707 / sqrt 2 = 63.5; pooled 150 / 200
    assert "| 20, 20 | 2 (6, 15); 0 | 1/2 |" in cycles and "| 60.0% | 75.0 ± 63.5% | 75.0% [" in cycles
    assert next(line for line in text.splitlines() if line.startswith("| search |")).endswith(
        "| 4 | 1 (2) | 0/1 | 0.30 | - | - | - | - |"
    )
    persistence = next(line for line in text.splitlines() if line.startswith("| grpo | 2 (1) |"))
    # repeated actions: before (updates 1-5) 10.0, highest in updates 6-9 50.0, after (updates 10-14) 20.0: higher
    assert "| 10.0 -> 50.0 -> 20.0 (1/1) |" in persistence
    # rollout success: before 60.0, lowest during 30.0, after 70.0
    assert "| 60.0 -> 30.0 -> 70.0 (1/1) |" in persistence
    assert (tmp_path / "figures" / "eruptions.png").stat().st_size > 1000
    # a configuration with no finished run: one line naming where it looked, the page untouched
    empty = subprocess.run([*command[:3], "missing", "--page", str(page)], cwd=ROOT, capture_output=True, text=True)
    assert empty.returncode == 1 and page.read_text() == text
    assert empty.stderr.strip().splitlines() == [
        f"eruption_summary: no run with an eval.json (finished) under {root}/{{missing}}/seed*: nothing to report"
    ]


def test_seal_ablation_table_by_hand(tmp_path):
    root = tmp_path / "seal"
    for seed, entropy, cosine in ((1, [0.05] * 5 + [0.4] * 5, 0.9), (2, [0.06] * 10, 0.8)):
        folder = root / "grpo_seal" / f"seed{seed}"
        folder.mkdir(parents=True)
        updates = [
            {
                "step": step + 1,
                "success_rate": 0.5,
                "entropy/step_mean": value,
                "entropy/eruptions": float(seed == 1 and step >= 5),
                "seal/centroid_cosine": 1.0 if step < 5 else cosine,
                "seal/accuracy": 0.6 if step < 5 else 0.9,
            }
            for step, value in enumerate(entropy)
        ]
        (folder / "metrics.jsonl").write_text("\n".join(json.dumps(u) for u in updates) + "\n")
        (folder / "eval.json").write_text(json.dumps({"after": {"success_rate": 0.7 + 0.1 * seed}}))
    page = tmp_path / "algorithms.md"
    page.write_text("# Algorithms\n")
    subprocess.run(
        [sys.executable, "scripts/seal_ablation_table.py", str(root), "grpo_seal", "--page", str(page)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    lines = page.read_text().splitlines()
    assert "| grpo_seal | 1 | 0.050 -> **0.400** | 0.400 | 1 | 1.000 -> 0.900 | 0.90 | 80.0% |" in lines
    assert "|  | 2 | 0.060 -> **0.060** | 0.060 | 0 | 1.000 -> 0.800 | 0.90 | 90.0% |" in lines
    # mean of the last-5 entropies (0.4 + 0.06) / 2; only seed 1 ends above twice its start; held-out (80 + 90) / 2
    assert "| | mean | last 5: 0.230; 1/2 seeds end above twice their start | | | | | 85.0% |" in lines
