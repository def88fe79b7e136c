"""One training run, end to end: model -> warm-up -> held-out eval -> RL -> final model -> eval.json.

Run directory (`output_dir`):
    config.yaml        the resolved recipe (every field)
    base_model/        the tiny model + tokenizer, when model_name_or_path is "tiny"
    sft_warmup/        the warmed-up model, when sft_warmup_steps > 0
    metrics.jsonl      one JSON object per logged RL step
    checkpoint-*/      TRL/HF checkpoints (save_steps)
    final/             the trained model, or the LoRA adapter in PEFT format, with the tokenizer
    eval.json          {"split", "num_tasks", "before": {...}, "after": {...}}
    entropy_dynamics.png, entropy_turns.png   entropy over training (phases, pulses, success), per-turn heatmap
"""

from __future__ import annotations

import functools
import json
import logging
import time
from pathlib import Path

import yaml

from agentrl.config import RESUME_LATEST, RESUME_NONE, TINY_MODEL, AgentRLConfig

logger = logging.getLogger(__name__)


def env_factory_for(args: AgentRLConfig, shifted: bool = False):
    """make_env with the recipe's env kwargs; `shifted`: with env_shift_kwargs merged in (after env_shift_step)."""
    from agentrl.envs import make_env

    kwargs = dict(args.env_kwargs)
    if shifted:
        kwargs.update(args.env_shift_kwargs)
    if args.max_episode_steps is not None:
        kwargs["max_steps"] = args.max_episode_steps
    return functools.partial(make_env, args.env_id, **kwargs)


def write_config(args: AgentRLConfig, output_dir: Path) -> None:
    resolved = {key: value for key, value in args.to_dict().items() if not key.startswith("_")}
    with open(output_dir / "config.yaml", "w") as f:
        yaml.safe_dump(resolved, f, sort_keys=True)


def evaluate_model(model, tokenizer, args: AgentRLConfig, env_factory) -> dict:
    from agentrl.evaluation import evaluate_policy

    task_ids = env_factory().task_ids(args.eval_split)[: args.eval_num_tasks]
    summary, _ = evaluate_policy(
        model,
        tokenizer,
        env_factory,
        task_ids,
        max_new_tokens=args.max_completion_length,
        temperature=args.eval_temperature,
        history_length=args.history_length,
        seed=args.seed,
        env_workers=args.env_workers,
        env_step_timeout_s=args.env_step_timeout_s,
        trajectory_format=args.trajectory_format,
        max_episode_tokens=args.max_episode_tokens,
    )
    return summary


def _resume_target(value: str | None, output_dir: Path) -> str | None:
    """`auto` / `true` / `last`: the newest complete checkpoint-* in output_dir, if there is one (else a fresh
    start); a path: that checkpoint; None: a fresh start."""
    from agentrl.checkpoints import latest_complete_checkpoint

    if value is None or str(value).lower() in RESUME_NONE:
        return None
    if str(value).lower() in RESUME_LATEST:
        latest = latest_complete_checkpoint(output_dir)
        return None if latest is None else str(latest)
    return value  # a checkpoint folder (recipe validation checked it exists)


def _quiet_libraries() -> None:
    """agentrl shows its own progress; the per-file load/save bars of transformers and datasets are noise here."""
    import warnings

    import datasets
    import transformers

    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    # transformers 5.23 renamed gradient_checkpointing; TRL's configs still set the old name.
    warnings.filterwarnings("ignore", message=r".*gradient_checkpointing.* is deprecated", category=FutureWarning)


def train(args: AgentRLConfig) -> dict:
    """Run the recipe; return the eval.json content."""
    from accelerate import PartialState
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from agentrl.callbacks import MetricsJsonlCallback, RichProgressCallback
    from agentrl.errors import RecipeError
    from agentrl.models import (
        build_tiny_model,
        has_tools,
        is_adapter_folder,
        load_policy,
        load_tokenizer,
        lora_config,
    )
    from agentrl.rollout.generator import unwrap_for_generation
    from agentrl.sft import sft_warmup
    from agentrl.trainer import AgentGRPOTrainer

    _quiet_libraries()
    started = time.perf_counter()
    # A LoRA adapter folder (an earlier use_peft run's final/ or checkpoint): RL trains that adapter on, with its own
    # rank and target modules, whatever use_peft says (TRL refuses a second adapter on a PEFT model).
    continue_adapter = is_adapter_folder(args.model_name_or_path)
    if continue_adapter and args.sft_warmup_steps > 0:
        raise RecipeError(
            f"model_name_or_path {args.model_name_or_path!r} is a LoRA adapter folder: set sft_warmup_steps: 0 "
            f"(RL trains the adapter on as it is), or merge it first (`agentrl export {args.model_name_or_path} "
            "--merge`) and start from the merged model."
        )
    # Let TrainingArguments set up the process group (gloo on CPU, nccl on GPU) exactly as the Trainer will,
    # so the barriers below are real barriers under accelerate launch / torchrun.
    _ = args.device
    state = PartialState()
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    env_factory = env_factory_for(args)
    env = env_factory()
    if args.trajectory_format == "per_step" and has_tools(env):
        raise RecipeError(
            f"env {args.env_id!r} is a tool environment (its actions are tool calls): set trajectory_format: concat in "
            "the recipe (tool messages are context of one growing conversation; docs/multiturn.md)."
        )
    if state.is_main_process:
        write_config(args, output_dir)

    model_path = args.model_name_or_path
    if model_path == TINY_MODEL:
        model_path = str(output_dir / "base_model")
        if state.is_main_process and not (Path(model_path) / "config.json").exists():
            build_tiny_model(
                model_path, env, args.tiny_hidden_size, args.tiny_num_layers, args.tiny_vocab_size, args.seed
            )
        state.wait_for_everyone()
    tokenizer = load_tokenizer(model_path)

    if args.sft_warmup_steps > 0:
        warm_path = output_dir / "sft_warmup"
        if not (warm_path / "config.json").exists():  # all ranks train (data parallel); the main one saves
            if state.is_main_process:
                print(f"[agentrl] SFT warm-up: {args.sft_warmup_steps} steps on expert demonstrations")
            sft_warmup(model_path, tokenizer, env, args, warm_path)
        state.wait_for_everyone()
        model_path = str(warm_path)

    model = load_policy(model_path, dtype="auto")
    if continue_adapter and state.is_main_process:
        unused = "; the recipe's lora_* settings are not used" if args.use_peft else ""
        print(f"[agentrl] {model_path} is a LoRA adapter: RL trains it on{unused}")
    before = None
    if state.is_main_process:
        before = evaluate_model(model.to(state.device), tokenizer, args, env_factory)
        print(
            f"[agentrl] held-out success before RL: {before['success_rate']:.1%} "
            f"({args.eval_split}, {args.eval_num_tasks} tasks)"
        )

    args.disable_tqdm = args.disable_tqdm or args.progress_bar
    callbacks = [MetricsJsonlCallback(str(output_dir / "metrics.jsonl"))]
    if args.progress_bar:
        callbacks.append(RichProgressCallback())
    trainer = AgentGRPOTrainer(
        model=model,
        args=args,
        env_factory=env_factory,
        shifted_env_factory=env_factory_for(args, shifted=True) if args.env_shift_step is not None else None,
        processing_class=tokenizer,
        peft_config=lora_config(args) if args.use_peft and not continue_adapter else None,
        callbacks=callbacks,
    )
    if args.progress_bar:
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
    resume = _resume_target(args.resume_from_checkpoint, output_dir)
    if resume is not None and state.is_main_process:
        print(f"[agentrl] resuming from {resume}")
    trainer.train(resume_from_checkpoint=resume)

    final_dir = output_dir / "final"
    trainer.save_model(str(final_dir))
    if state.is_main_process:
        tokenizer.save_pretrained(final_dir)
    result = {
        "split": args.eval_split,
        "num_tasks": args.eval_num_tasks,
        "temperature": args.eval_temperature,
        "seed": args.seed,
    }
    # Under ZeRO-3 every rank gathers the full weights; the main process evaluates alone.
    with unwrap_for_generation(trainer.model_wrapped, trainer.accelerator) as trained:
        if state.is_main_process:
            # after a shift, the policy is judged on the environment it was last trained on
            shifted = args.env_shift_step is not None and trainer.state.global_step > args.env_shift_step
            final_env_factory = env_factory_for(args, shifted=True) if shifted else env_factory
            after = evaluate_model(trained, tokenizer, args, final_env_factory)
    if state.is_main_process:
        wall_time_s = round(time.perf_counter() - started, 1)
        result.update(env_shifted_for_after=shifted, before=before, after=after, wall_time_s=wall_time_s)
        with open(output_dir / "eval.json", "w") as f:
            json.dump(result, f, indent=2)
        _plot_entropy(output_dir)
        print(
            f"\n[agentrl] held-out success ({args.eval_split}, {args.eval_num_tasks} tasks): "
            f"before RL {before['success_rate']:.1%} -> after RL {after['success_rate']:.1%}  "
            f"({result['wall_time_s']:.0f} s)\n"
            f"[agentrl] outputs in {output_dir}/: final/ (model), eval.json, metrics.jsonl, config.yaml, "
            "entropy_dynamics.png"
        )
    state.wait_for_everyone()
    return result


def _plot_entropy(output_dir: Path) -> None:
    """The run's entropy figures; a plotting failure must not fail a finished run."""
    from agentrl.plots import plot_runs

    try:
        plot_runs([str(output_dir)])
    except Exception as error:  # noqa: BLE001
        logger.warning("could not plot the entropy dynamics of %s: %r", output_dir, error)
