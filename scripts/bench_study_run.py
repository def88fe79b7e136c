"""Where a CPU study run spends its time, and whether two runs side by side beat two runs one after the other.

    python scripts/bench_study_run.py --warmup runs/study_cpu/warmup/sft_warmup [--updates 4]

A study run (scripts/study_cpu.sh) is the quickstart recipe from a shared SFT warm-up: held-out evaluation before
and after, `--updates` RL updates. This script runs two such runs (seeds 1 and 2, GRPO) twice: one after the other
with 2 threads each, then side by side with 1 thread each (the study's layout), and prints the wall times, their
ratio, and each run's phases from its own logs (rollout and update seconds per update from metrics.jsonl; the rest
of eval.json's wall time is start-up and the two evaluations).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def command(warmup: str, output: Path, seed: int, updates: int) -> list[str]:
    return [
        sys.executable, "-m", "agentrl", "train", "--config", "recipes/quickstart.yaml",
        "--model_name_or_path", warmup, "--sft_warmup_steps", "0", "--output_dir", str(output),
        "--seed", str(seed), "--max_steps", str(updates), "--progress_bar", "false",
        "--loss_type", "grpo", "--epsilon_high", "0.2",
    ]  # fmt: skip


def launch(warmup: str, output: Path, seed: int, updates: int, threads: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    return subprocess.Popen(command(warmup, output, seed, updates), env=env, stdout=subprocess.DEVNULL)


def phases(run: Path) -> dict[str, float]:
    updates = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    updates = [u for u in updates if "time/rollout_s" in u]
    rollout = statistics.mean(u["time/rollout_s"] for u in updates)
    step = statistics.mean(u["time/train_s"] for u in updates)  # rollout included
    wall = json.loads((run / "eval.json").read_text())["wall_time_s"]
    return {
        "rollout_s_per_update": round(rollout, 2),
        "loss_and_backward_s_per_update": round(step - rollout, 2),
        "rows_forward_per_update": round(statistics.mean(u["train/rows_forward"] for u in updates), 1),
        "startup_and_evaluations_s": round(wall - step * len(updates), 1),
        "run_wall_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warmup", required=True, help="the study's shared SFT warm-up (a model folder)")
    parser.add_argument("--updates", type=int, default=4)
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_study_"))
    report: dict[str, object] = {"updates": options.updates, "machine_cores": os.cpu_count()}

    started = time.perf_counter()
    for seed in (1, 2):  # one after the other, 2 threads each
        if launch(options.warmup, root / f"sequential{seed}", seed, options.updates, threads=2).wait() != 0:
            raise SystemExit(f"run failed: {root / f'sequential{seed}'}")
    report["sequential_2_threads_s"] = round(time.perf_counter() - started, 1)

    started = time.perf_counter()
    runs = [launch(options.warmup, root / f"parallel{seed}", seed, options.updates, threads=1) for seed in (1, 2)]
    if any(run.wait() != 0 for run in runs):
        raise SystemExit(f"a side-by-side run failed under {root}")
    report["side_by_side_1_thread_s"] = round(time.perf_counter() - started, 1)
    report["ratio_sequential_over_side_by_side"] = round(
        report["sequential_2_threads_s"] / report["side_by_side_1_thread_s"], 2
    )
    report["phases"] = {name: phases(root / name) for name in ("sequential1", "parallel1")}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
