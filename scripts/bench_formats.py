"""Per-step vs concat on the household environment: step time and memory of the same agent trained each way.

Each side loads a run's final policy and its recipe (trajectory_format, budgets, micro-batch size):

    agentrl train --config recipes/quickstart.yaml           # per_step  -> runs/quickstart
    agentrl train --config recipes/household_concat.yaml     # concat    -> runs/household_concat
    python scripts/bench_formats.py [--per_step runs/quickstart] [--concat runs/household_concat] [--repeats 3]

Per repeat (sides interleaved, medians reported): one rollout batch of `--episodes` episodes (8 tasks x 8),
the training rows built from it, one update on those rows as the trainer runs it, and the update's peak heap
above what was allocated before it (glibc mallinfo2, sampled every 0.2 ms). Each side plays its own episodes
(the policies differ), so times are also given per environment step and per trained token. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train_step import peak_extra_bytes, run_update, timed  # noqa: E402

RECIPE_KEYS = (
    "trajectory_format",
    "max_episode_tokens",
    "micro_batch_rows",
    "max_completion_length",
    "temperature",
    "loss_type",
    "epsilon",
    "epsilon_high",
    "history_length",
    "equal_episode_weight",
    "max_episode_steps",
)


def build_trainer(run_dir: str, episodes: int):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agentrl.config import AgentRLConfig
    from agentrl.run import env_factory_for
    from agentrl.trainer import AgentGRPOTrainer

    with open(os.path.join(run_dir, "config.yaml")) as f:
        recipe = {key: value for key, value in yaml.safe_load(f).items() if key in RECIPE_KEYS}
    args = AgentRLConfig(
        **recipe,
        output_dir=tempfile.mkdtemp(),
        env="household-easy",
        per_device_train_batch_size=episodes,
        num_generations=8,
        bf16=False,
        use_cpu=True,
        gradient_checkpointing=False,
        report_to=[],
        max_steps=1,
        seed=0,
    )
    final = os.path.join(run_dir, "final")
    trainer = AgentGRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(final),
        args=args,
        env_factory=env_factory_for(args),
        processing_class=AutoTokenizer.from_pretrained(final),
    )
    trainer.model.train()
    return trainer


def measure(trainer, inputs: list[dict]) -> dict[str, float]:
    """One rollout batch, its rows, one update on them (timed), and that update's peak heap."""
    started = time.perf_counter()
    rows = trainer._generate_and_score_completions(inputs)
    rollout_s = time.perf_counter() - started
    update_s = timed(lambda: run_update(trainer, rows, inputs, same_rows=False))
    peak_bytes = peak_extra_bytes(lambda: run_update(trainer, rows, inputs, same_rows=False))
    metrics = {name: values[-1] for name, values in trainer._metrics["train"].items() if values}
    trainer._metrics["train"].clear()
    trained = rows["completion_mask"] * rows.get("tool_mask", 1)
    return {
        "rollout_s": rollout_s,
        "update_s": update_s,
        "update_peak_mib": peak_bytes / 2**20,
        "env_steps": metrics["episode/length_mean"] * len(inputs),
        "rows": float(rows["completion_ids"].size(0)),
        "forward_tokens": float((rows["prompt_mask"].sum() + rows["completion_mask"].sum()).item()),
        "trained_tokens": float(trained.sum().item()),
        "success_rate": metrics["success_rate"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per_step", default="runs/quickstart", help="run folder of the per-step agent")
    parser.add_argument("--concat", default="runs/household_concat", help="run folder of the concat agent")
    parser.add_argument("--episodes", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    from agentrl.envs import make_env

    sides = {"per_step": options.per_step, "concat": options.concat}
    trainers = {side: build_trainer(run, options.episodes) for side, run in sides.items()}
    tasks = make_env("household-easy").task_ids("train")
    samples: dict[str, dict[str, list[float]]] = {side: {} for side in sides}
    for repeat in range(options.repeats):
        inputs = [{"prompt": tasks[(repeat * options.episodes + i) // 8]} for i in range(options.episodes)]
        for side in sides if repeat % 2 == 0 else reversed(list(sides)):
            torch.manual_seed(repeat)
            for name, value in measure(trainers[side], inputs).items():
                samples[side].setdefault(name, []).append(value)
    result: dict = {"episodes": options.episodes, "repeats": options.repeats, "runs": sides}
    for side in sides:
        median = {name: statistics.median(values) for name, values in samples[side].items()}
        median["step_s"] = median["rollout_s"] + median["update_s"]
        median["step_ms_per_env_step"] = 1000 * median["step_s"] / median["env_steps"]
        median["update_us_per_trained_token"] = 1e6 * median["update_s"] / median["trained_tokens"]
        result[side] = {name: round(value, 4) for name, value in median.items()}
    c, p = result["concat"], result["per_step"]
    result["ratio_concat_over_per_step"] = {
        name: round(c[name] / p[name], 3)
        for name in ("rollout_s", "update_s", "step_s", "update_peak_mib", "step_ms_per_env_step", "forward_tokens")
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
