"""One AgentGRPOTrainer update is the same update in 1 process, 2 processes (DDP, gloo) and 2 processes with
DeepSpeed ZeRO-2 / ZeRO-3 on CPU: tests/scripts/one_step_parity.py (its docstring says what makes the runs
comparable) trains one SGD step on scripted episodes; every parameter must agree within 1e-5."""

from __future__ import annotations

import json
import os

import pytest
import torch

from tests.launch import ROOT, accelerate_launch, run_python

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]  # every test launches 2-process runs (DDP, ZeRO-2/3)

HARNESS = os.path.join(ROOT, "tests/scripts/one_step_parity.py")
LAUNCH = {  # the accelerate config of every 2-process launch (each launch gets a free port: tests/launch.py)
    "ddp": "cpu_ddp_2.yaml",
    "zero2": "cpu_zero2_2.yaml",
    "zero3": "cpu_zero3_2.yaml",
    "ddp_nan": "cpu_ddp_2.yaml",
    "zero2_nan": "cpu_zero2_2.yaml",
    "ddp_seal": "cpu_ddp_2.yaml",
    "zero2_seal": "cpu_zero2_2.yaml",
    "zero3_seal": "cpu_zero3_2.yaml",
    "ddp_two": "cpu_ddp_2.yaml",
    "zero2_two": "cpu_zero2_2.yaml",
}
# grpo: per-row means, so each micro-batch's weight depends on its rows and on the number of processes
OVERRIDES = {"loss_type": "grpo"}
# One SGD step moves a weight by lr x g (up to 6e-3 here). The launches differ only in the order of float32 sums
# (rows per micro-batch, the all-reduce of two ranks): a gradient entry, a sum of <= ~1000 token terms, moves by
# <= log2(1000) x 6e-8 = 6e-7 of the terms' size (PyTorch and gloo sum pairwise), <= ~10x the net entry when terms
# cancel, and the clipping factor (a norm over ~150k entries) by ~1e-6 relative: a weight moves by
# <= 6e-3 x (10 x 6e-7 + 1e-6) = 4e-8 per update. Two updates, 1e-7; the harness measures ~1e-8. 1e-5 keeps 100x
# margin and is still 600x below the update itself (test_the_update_is_the_same_... checks it moved > 1e-3).
TOLERANCE = 1e-5


def run_harness(out, model_dir, launch=None, overrides=None, nan_micro_batch=None):
    arguments = [str(out), "--model", str(model_dir), "--overrides", json.dumps({**OVERRIDES, **(overrides or {})})]
    if nan_micro_batch is not None:
        arguments += ["--nan_micro_batch", nan_micro_batch]
    if launch is None:
        run_python([HARNESS, *arguments])
    else:
        accelerate_launch(LAUNCH[launch], [HARNESS, *arguments])
    with open(f"{out}.json") as f:
        return torch.load(out), json.load(f)


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tmp_path_factory):
    """Each launch runs once per module, when a test first asks for it."""
    folder = tmp_path_factory.mktemp("parity")
    done = {}

    def get(name, **options):
        if name not in done:
            launch = options.pop("launch", name if name in LAUNCH else None)
            done[name] = run_harness(folder / f"{name}.pt", tiny_model_dir, launch, **options)
        return done[name]

    return get


def max_abs_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def test_the_update_is_the_same_on_one_and_two_processes_ddp_zero2_zero3(runs, tiny_model_dir):
    from transformers import AutoModelForCausalLM

    initial = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    single, summary = runs("single")
    moved = max_abs_diff({k: single[k] for k in initial}, initial)
    assert moved > 1e-3  # the comparison at 1e-5 can fail
    assert summary["grad_norm"] > summary["config"]["max_grad_norm"]  # gradient clipping is part of it
    for name in ("ddp", "zero2", "zero3"):
        weights, summary = runs(name)
        assert summary["processes"] == 2 and summary["global_step"] == 1
        ranks = summary["per_rank"]
        # the data is uneven: different row and micro-batch counts per rank, several micro-batches each
        assert ranks[0]["rows"] != ranks[1]["rows"] and ranks[0]["micro_batches"] != ranks[1]["micro_batches"]
        assert all(r["micro_batches"][0] > 1 for r in ranks)
        # one clipped optimizer step and one scheduler step per update, not one per micro-batch
        assert all(r["optimizer_steps"] == 1 and r["scheduler_steps"] == 1 for r in ranks), ranks
        assert all(torch.isfinite(t).all() for t in weights.values())
        assert max_abs_diff(weights, single) < TOLERANCE, name
    assert runs("zero3")[1]["zero_stage"] == 3 and runs("zero2")[1]["zero_stage"] == 2


def test_a_different_update_differs(runs):
    single, _ = runs("single")
    other, _ = runs("single_lr", overrides={"learning_rate": 0.25})
    assert max_abs_diff(single, other) > 1e-4


def test_a_non_finite_micro_batch_is_skipped_on_every_rank_under_deepspeed(runs):
    """ZeRO reduces gradients inside each backward, so a NaN micro-batch on one rank is dropped on all ranks:
    the same update as DDP with that micro-batch NaN on both ranks (DDP itself drops it on its own rank only)."""
    reference, summary = runs("ddp_nan", nan_micro_batch="*:2")
    weights, _ = runs("zero2_nan", nan_micro_batch="1:2")
    assert all(r["optimizer_steps"] == 1 for r in summary["per_rank"])
    assert max_abs_diff(weights, reference) < TOLERANCE
    assert max_abs_diff(weights, runs("ddp")[0]) > 1e-4  # the skipped micro-batch mattered


SEAL = {"seal": True, "seal_coef": 1.0}  # a large coefficient, so the SEAL part of the update is far above 1e-5


def test_a_seal_update_is_the_same_on_one_and_two_processes_ddp_zero2_zero3(runs):
    """SEAL's loss is scaled per micro-batch by its share of the global batch's trajectories: with uneven ranks
    and several micro-batches each, 1 process, DDP, ZeRO-2 and ZeRO-3 (the head called inside the forward,
    its parameters gathered) give the same weights, head included."""
    single, summary = runs("single_seal", overrides=SEAL)
    assert summary["seal"]["seal/one_class"] == 0.0  # the batch holds won and lost episodes
    plain, _ = runs("single")
    assert any("seal_head" in key for key in single)
    backbone = [key for key in plain]
    assert max_abs_diff({k: single[k] for k in backbone}, plain) > 1e-4  # SEAL changed the backbone's update
    for name in ("ddp_seal", "zero2_seal", "zero3_seal"):
        weights, two = runs(name, overrides=SEAL)
        # the SEAL loss, summed over ranks instead of in one process: float32 rounding, ~1e-6 of it (as above)
        assert two["seal"]["seal/loss"] == pytest.approx(summary["seal"]["seal/loss"], rel=1e-5)
        assert max_abs_diff(weights, single) < TOLERANCE, name


@pytest.mark.exhaustive  # the one-update parity above, carried over an optimizer step
def test_two_updates_are_the_same_on_one_and_two_processes_ddp_zero2(runs):
    """The second update starts from the first's weights, optimizer and scheduler state (the training set is the
    global batch, so it trains on the same episodes again): still the same weights on 1 and 2 processes."""
    single, summary = runs("single_two", overrides={"max_steps": 2})
    assert summary["global_step"] == 2
    assert max_abs_diff(single, runs("single")[0]) > 1e-4  # the second update moved the weights again
    for name in ("ddp_two", "zero2_two"):
        weights, two = runs(name, overrides={"max_steps": 2})
        assert two["global_step"] == 2
        assert max_abs_diff(weights, single) < TOLERANCE, name
