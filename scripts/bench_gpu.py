"""Throughput and memory of a recipe's shape with a randomly initialised model of a real size (no hub needed).

Builds Qwen2.5-1.5B's architecture (`agentrl.models.QWEN2_5_1_5B`: 28 layers, hidden 1536, 12 heads / 2 KV
heads, MLP 8960, vocabulary 151936, tied embeddings; 1.54 B parameters) with random bf16 weights and a
tokenizer trained locally on the environment's text, then runs RECIPE for a few updates with `agentrl train`
(the recipe's batch, LoRA, gradient checkpointing, loss; bf16) and prints JSON: per update, and as medians
over the updates after the first (warm-up),
  rollout tokens/s   = generated tokens (rollout/rows x rollout/response_tokens_mean) / time/rollout_s
  training tokens/s  = tokens forwarded by the update (train/tokens_forward: prompt + response of every row,
                       the old-policy forward included in the time) / (time/train_s - time/rollout_s)
  peak GPU memory    = memory/peak_gib (torch.cuda.max_memory_allocated over the update, rollouts included)
Random weights sample ids the small tokenizer decodes to nothing, so every action is invalid and every turn
runs to max_completion_length: a fixed worst-case workload of episodes x max_episode_steps turns. Every
return is then equal, so every advantage is 0 and agentrl would skip all rows; a tiny entropy bonus
(entropy_coef 1e-4) gives each row a gradient, so the update forwards and backwards every row as a real one.

    python scripts/bench_gpu.py [--config recipes/household_qwen2.5_1.5b.yaml] [--updates 3]
                                [--max_episode_steps 5] [--shape qwen2.5-1.5b|qwen2.5-7b|tiny] [--use_vllm]
                                [--work_dir DIR] [--run_dir DIR] [--init_device cpu|cuda] [-- FIELD VALUE ...]
    accelerate launch --config_file recipes/accelerate/single_gpu.yaml scripts/bench_gpu.py ...
--shape tiny on CPU (--use_cpu true --bf16 false after --) checks the script itself in seconds. `--init_device cuda`
initialises the random weights on the GPU (seconds for 7 B parameters, where the CPU takes minutes).
scripts/gpu_check.py runs this script for its items (a), (c) and (d).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

# Qwen2.5-7B-Instruct's architecture (its config.json): 7.6 B parameters, untied embeddings.
QWEN2_5_7B = {
    "vocab_size": 152064,
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
}
SHAPES = {"tiny": None, "qwen2.5-1.5b": "QWEN2_5_1_5B", "qwen2.5-7b": QWEN2_5_7B}  # name in agentrl.models, or fields


def build_model(folder: Path, env_name: str, shape: str, init_device: str = "cpu") -> Path:
    import torch

    from agentrl import models
    from agentrl.envs import make_env

    if (folder / "config.json").exists():
        return folder
    architecture = getattr(models, SHAPES[shape]) if isinstance(SHAPES[shape], str) else SHAPES[shape]
    dtype = torch.bfloat16 if architecture else None
    with torch.device(init_device):  # where the random weights are created (and initialised)
        return models.build_tiny_model(
            folder, make_env(env_name), corpus_tasks=50, architecture=architecture, dtype=dtype
        )


def per_update(metrics: list[dict]) -> list[dict]:
    rows = []
    for m in metrics:
        if "time/train_s" not in m:
            continue
        generated = m["rollout/rows"] * m["rollout/response_tokens_mean"]
        update_s = m["time/train_s"] - m["time/rollout_s"]
        rows.append(
            {
                "step": m.get("step"),
                "step_s": round(m["time/train_s"], 4),
                "rollout_s": round(m["time/rollout_s"], 4),
                "update_s": round(update_s, 4),
                "generated_tokens": int(generated),
                "trained_tokens": int(m["train/tokens_forward"]),
                "rollout_tokens_per_s": round(generated / m["time/rollout_s"], 1),
                "training_tokens_per_s": round(m["train/tokens_forward"] / update_s, 1),
                "peak_gib": round(m["memory/peak_gib"], 3) if "memory/peak_gib" in m else None,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="recipes/household_qwen2.5_1.5b.yaml")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="qwen2.5-1.5b")
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--max_episode_steps", type=int, default=5)
    parser.add_argument("--use_vllm", action="store_true")
    parser.add_argument("--work_dir", default=None, help="model and run folders (default: a temporary one)")
    parser.add_argument("--run_dir", default=None, help="the run's output_dir (default: WORK_DIR/run)")
    parser.add_argument("--init_device", default="cpu", help="device the random weights are initialised on")
    options, extra = parser.parse_known_args()
    extra = [token for token in extra if token != "--"]

    from accelerate import PartialState

    from agentrl.cli import main as agentrl_main
    from agentrl.recipe import load_recipe

    env_name = load_recipe(options.config)["env_id"]
    work = Path(options.work_dir or tempfile.mkdtemp(prefix="bench_gpu_"))
    state = PartialState()
    model = work / f"random-{options.shape}-{env_name}"
    run = Path(options.run_dir) if options.run_dir else work / "run"
    if state.is_main_process:
        build_model(model, env_name, options.shape, options.init_device)
        shutil.rmtree(run, ignore_errors=True)  # metrics.jsonl appends: start each benchmark from an empty run
    state.wait_for_everyone()
    argv = ["train", "--config", options.config, "--model_name_or_path", str(model), "--output_dir", str(run)]
    argv += ["--max_steps", str(options.updates), "--max_episode_steps", str(options.max_episode_steps)]
    argv += ["--eval_num_tasks", "1", "--save_strategy", "no", "--sft_warmup_steps", "0", "--report_to", "none"]
    argv += ["--logging_steps", "1", "--progress_bar", "false", "--resume_from_checkpoint", "none"]
    argv += ["--entropy_control", "constant", "--entropy_coef", "1e-4"]  # every row trained (see above)
    if options.use_vllm:
        argv += ["--use_vllm", "true"]
    code = agentrl_main(argv + extra)
    if code:
        sys.exit(code)
    if not state.is_main_process:
        return
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    updates = per_update(metrics)
    steady = updates[1:] or updates

    def median(key):
        values = [u[key] for u in steady if u[key] is not None]
        return statistics.median(values) if values else None

    import torch

    print(
        json.dumps(
            {
                "config": options.config,
                "shape": options.shape,
                "backend": "vllm" if options.use_vllm else "hf",
                "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                "overrides": extra,
                "updates": updates,
                "median_after_first": {
                    key: median(key) for key in ("rollout_tokens_per_s", "training_tokens_per_s", "peak_gib")
                },
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
