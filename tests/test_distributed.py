"""Two CPU processes (torchrun, gloo): ranks with different numbers of step rows stay in lockstep."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from tests.test_cli import TINY_RUN


def test_two_process_run_trains_and_finishes(tmp_path):
    recipe = {
        **TINY_RUN,
        "output_dir": str(tmp_path / "run"),
        "sft_warmup_steps": 60,
        "sft_learning_rate": 3.0e-3,
        "micro_batch_rows": 4,
    }
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    done = subprocess.run(
        [torchrun, "--nproc_per_node", "2", "-m", "agentrl", "train", "--config", str(tmp_path / "recipe.yaml")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "reward/mean" in r]
    assert len(steps) == 2
    assert all(r["rollout/episodes"] == 2 * TINY_RUN["per_device_train_batch_size"] for r in steps)  # both ranks
    assert any(r["train/rows_forward"] > 0 and r["grad_norm"] > 0 for r in steps)  # real updates happened
    assert (tmp_path / "run" / "final" / "config.json").exists() and (tmp_path / "run" / "eval.json").exists()
