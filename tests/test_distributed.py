"""Two CPU processes (accelerate launch, gloo): ranks with different numbers of step rows stay in lockstep,
also through dynamic-sampling rounds, GiGPO and EMPG's global batch statistics."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.launch import accelerate_launch
from tests.test_cli import TINY_RUN


@pytest.mark.slow
@pytest.mark.multiprocess
def test_two_process_run_trains_and_finishes(tmp_path):
    recipe = {
        **TINY_RUN,
        "output_dir": str(tmp_path / "run"),
        "sft_warmup_steps": 60,
        "sft_learning_rate": 3.0e-3,
        "micro_batch_rows": 4,
        "advantage_estimator": "gigpo",
        "empg": True,
        "dynamic_sampling": True,
        "max_generation_rounds": 2,
    }
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    accelerate_launch("cpu_ddp_2.yaml", ["-m", "agentrl", "train", "--config", str(tmp_path / "recipe.yaml")])
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "reward/mean" in r]
    assert len(steps) == 2
    assert all(r["rollout/episodes"] == 2 * TINY_RUN["per_device_train_batch_size"] for r in steps)  # both ranks
    # Dynamic sampling's bookkeeping, global over both ranks: each round rolls out `wanted` groups (2 ranks x 4 / 2);
    # a second round runs exactly when the first dropped a group, and every rolled-out group is kept or dropped
    # (kept is capped at `wanted`: a second round can overfill).
    wanted = 2 * TINY_RUN["per_device_train_batch_size"] // TINY_RUN["num_generations"]
    for r in steps:
        rounds, kept, dropped = r["dapo/generation_rounds"], r["dapo/kept_groups"], r["dapo/dropped_groups"]
        assert rounds == (1 if dropped == 0 else 2)
        assert kept + dropped == rounds * wanted or (rounds == 2 and kept == wanted and dropped < wanted)
        assert r["dapo/filled_fraction"] == kept / wanted
    assert any(r["train/rows_forward"] > 0 and r["grad_norm"] > 0 for r in steps)  # real updates happened
    assert (tmp_path / "run" / "final" / "config.json").exists() and (tmp_path / "run" / "eval.json").exists()
