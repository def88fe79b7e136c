"""One side of the TRL-vs-agentrl comparison (item (b) of scripts/gpu_check.py): a few optimizer steps of TRL's own
GRPOTrainer, or of agentrl's AgentGRPOTrainer, on the same single-turn shapes, timed the same way; writes JSON.

    python scripts/trl_compare.py --side agentrl|trl --model MODEL_DIR --out side.json [--episodes 64] [--tokens 128]
                                  [--micro_batch 16] [--updates 3] [--full] [--cpu] [--work_dir DIR]

How the shapes are matched (everything else is each library's own default):
- model: the same saved folder (random weights of the benchmark shape), loaded the same way (dtype "auto": the saved
  bf16), with the recipe's LoRA (agentrl.models.lora_config: r 64, alpha 128, all linear layers) or, with --full,
  none; bf16 and gradient checkpointing as the recipe (recipes/household_qwen2.5_1.5b.yaml) sets them, on both;
- prompts: the first-step prompt of the same N/G household tasks. agentrl renders it in its collector; TRL gets the
  identical chat messages (agentrl's PromptBuilder.messages) and applies the same chat template, so both see the
  same prompt ids (prompt tokens are recorded per update on both sides);
- completions: N = --episodes per update in groups of G = num_generations (8). agentrl plays one-turn episodes
  (max_episode_steps 1: one row per episode); TRL generates its N completions once per optimizer step
  (per_device_train_batch_size M x gradient_accumulation_steps N/M = N, steps_per_generation N/M);
- generated tokens: the same max_completion_length T and sampling settings (temperature, top_p, top_k, min_p,
  repetition_penalty), copied from agentrl's config into TRL's; random weights almost never sample EOS, so both
  generate about N x T tokens (recorded per update);
- micro-batch: M rows per forward/backward on both (agentrl micro_batch_rows M; TRL per_device_train_batch_size M);
- loss: the same loss_type, epsilon, epsilon_high, beta 0, learning rate and scheduler, one iteration per rollout
  (so neither side runs an old-policy forward), and the same entropy bonus 1e-4 (agentrl: entropy_control
  constant; TRL: its own entropy_coef). Returns are all equal on both sides (random weights fail every task; TRL's
  reward is a constant), so every advantage is 0 and the bonus is what gives each row a gradient: agentrl would
  otherwise skip such rows exactly, while TRL runs them regardless.

Timing, identical for both sides: a TrainerCallback plus a timing wrapper around `_generate_and_score_completions`,
the method in which both trainers generate and score. Per optimizer step, with CUDA synchronised at each boundary:
  step_s    = on_step_begin -> on_step_end: generation, scoring, every micro-batch's forward/backward, optimizer step
  rollout_s = time inside _generate_and_score_completions (generation, rewards, advantages, building the rows)
  update_s  = step_s - rollout_s
  update_peak_bytes = torch.cuda.max_memory_allocated after resetting it when the rollout ends; on CPU, the C heap's
                      peak above what it held then (glibc mallinfo2, sampled every millisecond in a thread)
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path

RECIPE = "recipes/household_qwen2.5_1.5b.yaml"
ENTROPY_COEF = "1e-4"
# GRPOConfig fields TRL's side takes from agentrl's resolved config, so both trainers run the same settings.
SHARED_FIELDS = (
    "seed",
    "learning_rate",
    "lr_scheduler_type",
    "weight_decay",
    "max_grad_norm",
    "loss_type",
    "epsilon",
    "epsilon_high",
    "beta",
    "num_iterations",
    "scale_rewards",
    "mask_truncated_completions",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repetition_penalty",
    "max_completion_length",
    "num_generations",
    "bf16",
    "use_cpu",
    "gradient_checkpointing",
    "max_steps",
    "entropy_coef",
    "logging_steps",
    "report_to",
    "save_strategy",
    "disable_tqdm",
)


def agentrl_config(options, output_dir: str):
    """agentrl's resolved config: the recipe with the comparison's shape, parsed exactly as `agentrl train` does."""
    from agentrl.recipe import parse_train_args

    argv = ["--config", options.config, "--model_name_or_path", options.model, "--output_dir", output_dir]
    argv += ["--max_steps", str(options.updates), "--per_device_train_batch_size", str(options.episodes)]
    argv += ["--max_completion_length", str(options.tokens), "--micro_batch_rows", str(options.micro_batch)]
    argv += ["--max_episode_steps", "1", "--entropy_control", "constant", "--entropy_coef", ENTROPY_COEF]
    argv += ["--use_peft", "false" if options.full else "true", "--report_to", "none", "--save_strategy", "no"]
    argv += ["--logging_steps", "1", "--disable_tqdm", "true", "--sft_warmup_steps", "0", "--seed", "0"]
    if options.cpu:
        argv += ["--use_cpu", "true", "--bf16", "false"]
    return parse_train_args(argv)


def trl_config(args, output_dir: str):
    """TRL's GRPOConfig with agentrl's settings: N completions per optimizer step in micro-batches of M."""
    from trl import GRPOConfig

    episodes, micro = args.per_device_train_batch_size, args.micro_batch_rows
    if episodes % micro:
        raise ValueError(f"--episodes {episodes} must be a multiple of --micro_batch {micro} (TRL accumulates N/M)")
    values = {name: getattr(args, name) for name in SHARED_FIELDS}
    values |= {"per_device_train_batch_size": micro, "gradient_accumulation_steps": episodes // micro}
    return GRPOConfig(**values, output_dir=output_dir)


def constant_reward(completions, **kwargs) -> list[float]:
    """Every completion gets the same reward, as every episode of the random-weight policy gets the same return."""
    return [0.0] * len(completions)


def first_step_messages(env_factory, task_ids: list[str], tokenizer, history_length: int) -> list[list[dict]]:
    """The chat messages of each task's first step, as agentrl's collector renders them."""
    from agentrl.rollout import PromptBuilder

    env, builder = env_factory(), PromptBuilder(tokenizer, history_length=history_length)
    prompts = []
    for task_id in task_ids:
        observation, info = env.reset(task_id=task_id)
        prompts.append(builder.messages(info.get("task", ""), observation, [], info.get("admissible_actions", [])))
    return prompts


class HeapPeak:
    """CPU: the most the C heap held while running, above what it held at `start` (torch's CPU tensors live there)."""

    def __init__(self):
        import ctypes

        class MallInfo2(ctypes.Structure):
            _fields_ = [(name, ctypes.c_size_t) for name in "arena ordblks smblks hblks hblkhd usmblks fsmblks "
                        "uordblks fordblks keepcost".split()]  # fmt: skip

        self._mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
        self._mallinfo2.restype = MallInfo2
        self._thread, self._done, self._base, self._peak = None, threading.Event(), 0, 0

    def _allocated(self) -> int:
        info = self._mallinfo2()
        return info.uordblks + info.hblkhd  # small blocks in use + large mmapped blocks

    def start(self) -> None:
        self._base = self._peak = self._allocated()
        self._done.clear()

        def sample() -> None:
            while not self._done.is_set():
                self._peak = max(self._peak, self._allocated())
                time.sleep(0.001)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def stop(self) -> int:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        return max(self._peak, self._allocated()) - self._base


class UpdateMeter:
    """Per optimizer step: step, rollout and update seconds, rows and tokens, and the update's peak memory.

    Attach it to a trainer (`meter.attach(trainer)`): it wraps the trainer's `_generate_and_score_completions` with a
    timer and registers itself as a callback. The same code measures TRL's trainer and agentrl's.
    """

    def __init__(self, device):
        import torch

        self.cuda = device.type == "cuda"
        self.device, self.torch = device, torch
        self.heap = None if self.cuda else HeapPeak()
        self.rows: list[dict] = []
        self._current: dict = {}

    def _sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize(self.device)

    def attach(self, trainer) -> None:
        from transformers import TrainerCallback

        generate = trainer._generate_and_score_completions
        meter = self

        def timed_generate(inputs):
            meter._sync()
            started = time.perf_counter()
            out = generate(inputs)
            meter._sync()
            meter._current["rollout_s"] = meter._current.get("rollout_s", 0.0) + time.perf_counter() - started
            prompt, completion = out["prompt_mask"].sum().item(), out["completion_mask"].sum().item()
            meter._current["rows"] = meter._current.get("rows", 0) + out["completion_ids"].size(0)
            meter._current["prompt_tokens"] = meter._current.get("prompt_tokens", 0) + int(prompt)
            meter._current["generated_tokens"] = meter._current.get("generated_tokens", 0) + int(completion)
            meter._start_update_memory()
            return out

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                meter._sync()
                meter._current = {"started": time.perf_counter()}

            def on_step_end(self, args, state, control, **kwargs):
                meter._sync()
                meter._finish(state.global_step)

        trainer._generate_and_score_completions = timed_generate
        trainer.add_callback(Callback())

    def _start_update_memory(self) -> None:
        if self.cuda:
            self.torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self.heap.start()

    def _finish(self, step: int) -> None:
        current = self._current
        step_s = time.perf_counter() - current.pop("started")
        peak = self.torch.cuda.max_memory_allocated(self.device) if self.cuda else self.heap.stop()
        rollout_s = current.get("rollout_s", 0.0)
        self.rows.append(
            {
                "step": step,
                "step_s": step_s,
                "rollout_s": rollout_s,
                "update_s": step_s - rollout_s,
                **{key: current.get(key, 0) for key in ("rows", "prompt_tokens", "generated_tokens")},
                "forward_tokens": current.get("prompt_tokens", 0) + current.get("generated_tokens", 0),
                "update_peak_bytes": int(peak),
            }
        )


def median_after_first(rows: list[dict]) -> dict:
    """Medians over the updates after the first (the first pays for warm-up); over all when there is only one."""
    steady = rows[1:] or rows
    keys = ("step_s", "rollout_s", "update_s", "rows", "prompt_tokens", "generated_tokens", "forward_tokens",
            "update_peak_bytes")  # fmt: skip
    return {key: statistics.median(row[key] for row in steady) for key in keys} if steady else {}


def run_side(options) -> dict:
    import torch
    from datasets import Dataset

    from agentrl.models import load_policy, load_tokenizer, lora_config
    from agentrl.run import env_factory_for

    work = Path(options.work_dir)
    args = agentrl_config(options, str(work / f"b_{options.side}"))
    env_factory = env_factory_for(args)
    task_ids = env_factory().task_ids("train")[: args.per_device_train_batch_size // args.num_generations]
    tokenizer = load_tokenizer(options.model)
    model = load_policy(options.model, dtype="auto")
    peft = lora_config(args) if args.use_peft else None
    if options.side == "agentrl":
        from agentrl.trainer import AgentGRPOTrainer

        trainer = AgentGRPOTrainer(
            model=model,
            args=args,
            env_factory=env_factory,
            processing_class=tokenizer,
            train_task_ids=task_ids,
            peft_config=peft,
        )
    else:
        from trl import GRPOTrainer

        prompts = first_step_messages(env_factory, task_ids, tokenizer, args.history_length)
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=[constant_reward],
            args=trl_config(args, str(work / "b_trl")),
            train_dataset=Dataset.from_list([{"prompt": messages} for messages in prompts]),
            processing_class=tokenizer,
            peft_config=peft,
        )
    meter = UpdateMeter(trainer.accelerator.device)
    meter.attach(trainer)
    trainer.train()
    device = trainer.accelerator.device
    return {
        "side": options.side,
        "trainer": type(trainer).__module__ + "." + type(trainer).__name__,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "memory": "torch.cuda.max_memory_allocated" if device.type == "cuda" else "C heap (glibc mallinfo2)",
        "settings": {
            "episodes": args.per_device_train_batch_size,
            "num_generations": args.num_generations,
            "tasks": len(task_ids),
            "max_completion_length": args.max_completion_length,
            "micro_batch_rows": args.micro_batch_rows,
            "lora": bool(args.use_peft),
            "gradient_checkpointing": bool(args.gradient_checkpointing),
            "bf16": bool(args.bf16),
            "loss_type": args.loss_type,
            "entropy_coef": args.entropy_coef,
            "updates": args.max_steps,
        },
        "updates": meter.rows,
        "median_after_first": median_after_first(meter.rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", choices=("agentrl", "trl"), required=True)
    parser.add_argument("--model", required=True, help="a saved model folder (scripts/bench_gpu.py builds one)")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--config", default=RECIPE)
    parser.add_argument("--episodes", type=int, default=64, help="completions per update (N, a multiple of 8)")
    parser.add_argument("--tokens", type=int, default=128, help="max_completion_length (T)")
    parser.add_argument("--micro_batch", type=int, default=16, help="rows per forward/backward (M)")
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="full fine-tuning instead of the recipe's LoRA")
    parser.add_argument("--cpu", action="store_true", help="use_cpu, no bf16 (the dry run)")
    parser.add_argument("--work_dir", default="trl_compare_work")
    options = parser.parse_args()
    result = run_side(options)
    Path(options.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
