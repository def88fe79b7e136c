"""SFT warm-up on expert demonstrations (TRL's SFTTrainer), for models that cannot act yet.

The demonstrations come from the environment's expert (`info["expert_action"]`), or from a file
(`sft_demonstrations`, agentrl/rollout/demo_file.py) for environments without one.

The demonstrations are rendered through the same prompt builder as the rollouts and passed to
SFTTrainer pre-tokenized, with a completion mask, so the warm-up teaches exactly the token layout the
policy sees during RL (one row per step, or one per episode in concat mode). Only the expert's response
tokens are trained.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from datasets import Dataset

from agentrl.config import AgentRLConfig
from agentrl.envs.base import TextEnv
from agentrl.rollout.demo_file import conversation_sft_rows, load_demonstrations, warmup_environment
from agentrl.rollout.demos import expert_concat_rows, expert_sft_rows
from agentrl.rollout.prompt import PromptBuilder


def demonstration_rows(tokenizer, env: TextEnv, args: AgentRLConfig) -> list[dict]:
    """The warm-up's pre-tokenized rows: from `sft_demonstrations` when set, else from the environment's expert."""
    prompt_builder = PromptBuilder(tokenizer, args.history_length, args.prompt_template)
    if args.sft_demonstrations:
        demos = load_demonstrations(args.sft_demonstrations)
        if demos.conversations:
            return conversation_sft_rows(tokenizer, demos.conversations)
    env = warmup_environment(env, args.sft_demonstrations, args.sft_warmup_steps)
    task_ids = env.task_ids("train")[: args.sft_num_tasks]
    if args.trajectory_format == "concat":  # one row per expert episode, built as the rollouts build theirs
        return expert_concat_rows(env, prompt_builder, task_ids, args.max_episode_tokens, args.max_completion_length)
    return expert_sft_rows(env, prompt_builder, task_ids)


def sft_warmup(model_path: str, tokenizer, env: TextEnv, args: AgentRLConfig, save_dir: str | Path) -> Path:
    """Train `model_path` on expert steps of `args.sft_num_tasks` train tasks; save to `save_dir`."""
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTConfig, SFTTrainer
    from trl.models.utils import unwrap_model_for_generation

    from agentrl.callbacks import SFTLogLines
    from agentrl.models import load_policy, lora_config
    from agentrl.trl_seam import reset_accelerator_state

    rows = demonstration_rows(tokenizer, env, args)
    if not rows:
        raise ValueError(f"environment {env.name!r} gave no expert demonstrations; set sft_warmup_steps: 0")
    config = SFTConfig(
        output_dir=str(Path(save_dir).parent / "sft_logs"),
        max_steps=args.sft_warmup_steps,
        learning_rate=args.sft_learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=min(10, args.sft_warmup_steps // 10),
        per_device_train_batch_size=args.sft_batch_size,
        max_length=None,
        completion_only_loss=True,
        bf16=args.bf16,
        gradient_checkpointing=args.gradient_checkpointing,
        use_cpu=args.use_cpu,
        seed=args.seed,
        logging_steps=max(1, args.sft_warmup_steps // 5),
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
    )
    model = load_policy(model_path)
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora_config(args) if args.use_peft else None,
        callbacks=[SFTLogLines()],
    )
    trainer.remove_callback(PrinterCallback)  # raw dicts; SFTLogLines prints a readable line per logged step
    trainer.train()
    trainer.accelerator.wait_for_everyone()
    with contextlib.suppress(OSError):  # nothing is saved there (save_strategy "no"): leave no empty sft_logs/
        os.rmdir(config.output_dir)
    save_dir = Path(save_dir)
    # Under ZeRO-3 every rank gathers the full weights here (TRL's helper); otherwise a plain unwrap.
    with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator) as model:
        if trainer.accelerator.is_main_process:
            if args.use_peft:  # fold the warm-up adapter in: RL then trains a fresh adapter on the warmed-up base
                model = model.merge_and_unload()
            model.save_pretrained(save_dir)
            tokenizer.save_pretrained(save_dir)
    trainer.accelerator.wait_for_everyone()
    if trainer.is_deepspeed_enabled:
        # accelerate allows one DeepSpeed plugin per process state: the RL trainer's Accelerator brings its own.
        reset_accelerator_state()
    return save_dir
