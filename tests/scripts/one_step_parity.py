"""One optimizer update of AgentGRPOTrainer on scripted episodes (more with --overrides '{"max_steps": N}': each
trains on the same global batch again); the trained weights go to a file.

    python tests/scripts/one_step_parity.py OUT.pt --model MODEL_DIR [--overrides JSON]
    accelerate launch --config_file recipes/accelerate/cpu_ddp_2.yaml tests/scripts/one_step_parity.py OUT.pt ...
    accelerate launch --config_file recipes/accelerate/cpu_zero2_2.yaml tests/scripts/one_step_parity.py OUT.pt ...
    (cpu_zero3_2.yaml likewise; --nan_micro_batch RANK:INDEX makes one micro-batch loss NaN: the skip path)

The main process writes OUT.pt (torch.save of the full state dict, gathered under ZeRO-3) and OUT.pt.json
(rows and micro-batches per rank, optimizer and scheduler steps, logged loss and grad norm). MODEL_DIR is a
saved model + tokenizer; if it has no config.json the main process builds the offline tiny model there.
--overrides is a JSON object of extra AgentRLConfig fields (e.g. '{"loss_type": "grpo"}', '{"seal": true}').

What makes runs with 1 and with 2 processes comparable (the same update, up to float summation order):
- The same global batch. The training set is exactly TASKS tasks and the global batch is TASKS x
  num_generations episodes, so every launch trains on every task once, whatever the sampler's shuffle:
  per_device_train_batch_size = GLOBAL_EPISODES / processes (8 in one process, 4 per rank in two).
  TRL's RepeatSampler keeps each task group whole on one rank.
- The same episodes. No sampling: `collect_episodes` is replaced by a scripted player that plays the real
  environment with actions that depend only on (task, rollout index in its group, step): rollout 0 follows
  the expert, rollout 1 takes deterministic detours. Prompts are the real prompt builder's token ids,
  responses are the tokenizer's ids of "<think>..</think><action>ACTION</action>" + EOS, and the recorded
  rollout log-probs/entropies are fixed numbers, so the rows, rewards and advantages are the same in
  every launch. Episodes have different lengths and one task group has equal returns (advantage 0, its
  rows skipped), so the ranks hold different numbers of rows to train (20 and 19 rows, 4 and 7
  micro-batches of micro_batch_rows 3): each rank runs several micro-batches and the rank with fewer
  adds inert padding passes.
- The same starting weights (loaded from MODEL_DIR), fp32, no dropout, gradient checkpointing off.
- One update with plain SGD (optim "sgd", no momentum or weight decay on a single step), a learning rate
  large enough to move weights by up to ~6e-3 (the comparison is at 1e-5), the scheduler's first step at
  the full learning rate. Gradient clipping stays on (max_grad_norm 0.1 < gradient norm ~0.21): every
  launch must clip the same gradient once.
What differs: how rows fall into micro-batches (one process sorts all rows, two sort per rank) and so the
order of the float sums; the runs agree to ~1e-8.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a file: make the repository importable
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

ENV = "household-easy"
ENV_KWARGS = {"max_steps": 5}
TASKS = 4  # task groups in the global batch
NUM_GENERATIONS = 2
GLOBAL_EPISODES = TASKS * NUM_GENERATIONS

BASE_CONFIG = {
    "num_generations": NUM_GENERATIONS,
    "max_completion_length": 32,
    "micro_batch_rows": 3,
    "optim": "sgd",
    "learning_rate": 0.5,
    "max_grad_norm": 0.1,  # below the gradient norm (~0.2): clipping is part of the comparison
    "max_steps": 1,
    "seed": 11,
    "bf16": False,
    "use_cpu": True,
    "gradient_checkpointing": False,
    "logging_steps": 1,
    "save_strategy": "no",
    "report_to": [],
    "progress_bar": False,
    "disable_tqdm": True,
    "env_id": ENV,
    "env_kwargs": ENV_KWARGS,
}


def scripted_response_action(info: dict, task_number: int, rollout: int, step: int) -> str:
    """The action of rollout `rollout` of task `task_number` at `step`: the expert's, or a fixed detour."""
    actions = info.get("admissible_actions") or ["look"]
    expert = info.get("expert_action")
    if expert and (rollout == 0 or (task_number + step) % 3 == 0):
        return expert
    return actions[(7 * task_number + 3 * rollout + 5 * step) % len(actions)]


def scripted_episodes(trainer, task_ids: list[str], group_ids: list[int]):
    """Play every (task, group) with the scripted actions; the rollout index counts a task's episodes here."""
    from agentrl.rollout.episode import Episode, Step
    from agentrl.rollout.prompt import Turn
    from agentrl.envs import make_env

    tokenizer = trainer.processing_class
    env = make_env(ENV, **ENV_KWARGS)
    seen: dict[str, int] = {}
    episodes = []
    for task_id, group_id in zip(task_ids, group_ids, strict=True):
        rollout = seen.get(task_id, 0)
        seen[task_id] = rollout + 1
        task_number = int(task_id.rsplit("/", 1)[1])
        observation, info = env.reset(task_id)
        episode = Episode(task_id=task_id, group_id=group_id, task=info.get("task", ""))
        history: list[Turn] = []
        done = False
        while not done:
            step = len(episode.steps)
            prompt_ids = trainer.prompt_builder.token_ids(
                episode.task, observation, history, info.get("admissible_actions", [])
            )
            action = scripted_response_action(info, task_number, rollout, step)
            response = f"<think>step {step}</think><action>{action}</action>"
            response_ids = tokenizer.encode(response, add_special_tokens=False) + [tokenizer.eos_token_id]
            next_observation, reward, done, next_info = env.step(action)
            episode.steps.append(
                Step(
                    prompt_ids=list(prompt_ids),
                    response_ids=response_ids,
                    logprobs=[-1.0] * len(response_ids),
                    entropies=[0.2 + 0.1 * ((task_number + rollout + step + k) % 5) for k in range(len(response_ids))],
                    response=response,
                    action=action,
                    format_valid=True,
                    action_valid=bool(next_info.get("valid", False)),
                    env_reward=float(reward),
                    reward=float(reward),
                    observation=observation,
                    anchor=info.get("anchor"),
                    truncated=False,
                )
            )
            history.append(Turn(observation=observation, action=action))
            observation, info = next_observation, next_info
            episode.won = bool(next_info.get("won", False))
        episodes.append(episode)
    return episodes


def ensure_model(model_dir: Path, state) -> None:
    """Build the offline tiny model into `model_dir` (main process) unless one is there."""
    if state.is_main_process and not (model_dir / "config.json").exists():
        from agentrl.models import build_tiny_model
        from agentrl.envs import make_env

        build_tiny_model(model_dir, make_env(ENV), hidden_size=64, num_layers=2, seed=0)
    state.wait_for_everyone()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", help="where the main process writes the trained state dict (torch.save)")
    parser.add_argument("--model", required=True, help="model + tokenizer folder (built here if empty)")
    parser.add_argument("--overrides", default="{}", help="JSON object of extra AgentRLConfig fields")
    parser.add_argument(
        "--nan_micro_batch",
        default=None,
        help="RANK:INDEX: the INDEX-th micro-batch loss on rank RANK (every rank: *:INDEX) becomes NaN",
    )
    options = parser.parse_args(argv)

    from accelerate import PartialState
    from accelerate.utils import gather_object
    from torch.optim.optimizer import register_optimizer_step_post_hook
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

    from agentrl.config import AgentRLConfig
    from agentrl.trainer import AgentGRPOTrainer
    from agentrl.envs import make_env

    overrides = json.loads(options.overrides)
    processes = int(os.environ.get("WORLD_SIZE", "1"))  # set by accelerate launch
    if GLOBAL_EPISODES % processes or (GLOBAL_EPISODES // processes) % NUM_GENERATIONS:
        raise SystemExit(f"{processes} processes cannot split {TASKS} whole task groups evenly")
    scratch = tempfile.mkdtemp(prefix="one_step_parity_")
    args = AgentRLConfig(
        **{
            **BASE_CONFIG,
            "output_dir": scratch,
            "per_device_train_batch_size": GLOBAL_EPISODES // processes,
            **overrides,
        }
    )
    _ = args.device  # TrainingArguments sets up the process group (gloo on CPU) as the Trainer will
    state = PartialState()
    assert state.num_processes == processes, (state.num_processes, processes)
    model_dir = Path(options.model)
    ensure_model(model_dir, state)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    train_task_ids = make_env(ENV, **ENV_KWARGS).task_ids("train")[:TASKS]
    trainer = AgentGRPOTrainer(
        model=model,
        args=args,
        env_factory=lambda: make_env(ENV, **ENV_KWARGS),
        processing_class=tokenizer,
        train_task_ids=train_task_ids,
    )
    trainer.collect_episodes = lambda task_ids, group_ids: scripted_episodes(trainer, task_ids, group_ids)

    record = {"rows": [], "micro_batches": [], "losses": []}
    micro_batches = trainer.micro_batches

    def recording_micro_batches(rows):
        result = micro_batches(rows)
        record["rows"].append(int(rows["completion_ids"].size(0)))
        record["micro_batches"].append(len(result))
        return result

    trainer.micro_batches = recording_micro_batches
    compute_loss = trainer.compute_loss
    nan_rank, nan_index = (options.nan_micro_batch or "-1:-1").split(":")

    def recording_compute_loss(model, inputs, *rest, **kwargs):
        loss = compute_loss(model, inputs, *rest, **kwargs)
        if nan_rank in ("*", str(state.process_index)) and int(nan_index) == len(record["losses"]):
            loss = loss * float("nan")
        record["losses"].append(loss.item())
        return loss

    trainer.compute_loss = recording_compute_loss
    optimizer_steps = []  # torch optimizer step() calls during training (not DeepSpeed's state set-up call)

    class CountOptimizerSteps(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.hook = register_optimizer_step_post_hook(lambda opt, *_: optimizer_steps.append(type(opt).__name__))

        def on_train_end(self, args, state, control, **kwargs):
            self.hook.remove()

    trainer.add_callback(CountOptimizerSteps())
    trainer.train()

    state_dict = trainer.accelerator.get_state_dict(trainer.model_wrapped)  # collective under ZeRO-3
    scheduler = getattr(trainer.lr_scheduler, "scheduler", trainer.lr_scheduler)
    engine_steps = getattr(trainer.model_wrapped, "global_steps", None)  # DeepSpeedEngine's optimizer steps
    per_rank = gather_object(
        [
            {
                "rank": state.process_index,
                "rows": record["rows"],
                "micro_batches": record["micro_batches"],
                "micro_batch_losses": record["losses"],
                # DeepSpeed calls the torch optimizer once per parameter group: count its engine's steps
                "optimizer_steps": engine_steps if trainer.is_deepspeed_enabled else len(optimizer_steps),
                "torch_optimizer_calls": len(optimizer_steps),
                "scheduler_steps": scheduler.last_epoch,
            }
        ]
    )
    if state.is_main_process:
        logged = [entry for entry in trainer.state.log_history if "loss" in entry]
        summary = {
            "processes": processes,
            "distributed_type": str(trainer.accelerator.distributed_type),
            "zero_stage": trainer.accelerator.state.deepspeed_plugin.zero_stage
            if trainer.is_deepspeed_enabled
            else None,
            "global_step": trainer.state.global_step,
            "per_rank": per_rank,
            "loss": logged[-1]["loss"] if logged else None,
            "grad_norm": logged[-1].get("grad_norm") if logged else None,
            "seal": {key: value for key, value in (logged[-1] if logged else {}).items() if key.startswith("seal/")},
            "config": {key: getattr(args, key) for key in sorted({*BASE_CONFIG, *overrides}) if hasattr(args, key)},
        }
        torch.save({name: tensor.detach().cpu().clone() for name, tensor in state_dict.items()}, options.output)
        with open(f"{options.output}.json", "w") as f:
            json.dump(summary, f, indent=1, default=str)
    state.wait_for_everyone()
    shutil.rmtree(scratch, ignore_errors=True)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()  # a gloo group left to interpreter exit can abort a rank


if __name__ == "__main__":
    main()
