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
Who may write into it, what is reused and how artefacts are written so a kill never leaves a half-written one that
looks finished: agentrl/run_folder.py. Ctrl-C / SIGTERM during RL: agentrl/interrupts.py.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import time
from pathlib import Path

import yaml

from agentrl.config import TINY_MODEL, AgentRLConfig

logger = logging.getLogger(__name__)


def env_factory_for(args: AgentRLConfig, shifted: bool = False):
    """make_env with the recipe's env kwargs; `shifted`: the environment after env_shift_step (env_shift_id, or
    env_id again) with env_shift_kwargs merged in."""
    from agentrl.envs import make_env

    kwargs = dict(args.env_kwargs)
    if shifted:
        kwargs.update(args.env_shift_kwargs)
    if args.max_episode_steps is not None:
        kwargs["max_steps"] = args.max_episode_steps
    return functools.partial(make_env, args.shifted_env_id if shifted else args.env_id, **kwargs)


def build_checked_env(args: AgentRLConfig, shifted: bool = False):
    """The (original or shifted) environment, built once: one message if it cannot be built or its actions do not
    fit the trajectory format."""
    from agentrl.errors import RecipeError
    from agentrl.models import has_tools

    env_id = args.shifted_env_id if shifted else args.env_id
    which = f"{env_id!r} (the environment after update {args.env_shift_step})" if shifted else repr(env_id)
    try:
        env = env_factory_for(args, shifted)()
    except Exception as error:  # noqa: BLE001 - a user's environment failing to build: one message, no traceback
        text = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise RecipeError(f"cannot build environment {which}: {type(error).__name__}: {text}") from error
    if args.trajectory_format == "per_step" and has_tools(env):
        raise RecipeError(
            f"env {env_id!r} is a tool environment (its actions are tool calls): set trajectory_format: concat in "
            "the recipe (tool messages are context of one growing conversation; docs/multiturn.md)."
        )
    return env


def write_config(args: AgentRLConfig, output_dir: Path) -> None:
    from agentrl.run_folder import write_text_atomic

    resolved = {key: value for key, value in args.to_dict().items() if not key.startswith("_")}
    write_text_atomic(output_dir / "config.yaml", yaml.safe_dump(resolved, sort_keys=True))


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
        prompt_template=args.prompt_template,
        seed=args.seed,
        env_workers=args.env_workers,
        env_step_timeout_s=args.env_step_timeout_s,
        trajectory_format=args.trajectory_format,
        max_episode_tokens=args.max_episode_tokens,
    )
    return summary


def _quiet_libraries() -> None:
    """agentrl shows its own progress; library warnings and per-file bars that are not the user's business go
    (agentrl/quiet.py)."""
    from agentrl.quiet import quiet_progress_bars, quiet_warnings

    quiet_warnings()
    quiet_progress_bars()


def train(args: AgentRLConfig) -> dict:
    """Run the recipe; return the eval.json content."""
    from accelerate import PartialState
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from agentrl.callbacks import MetricsJsonlCallback, RichProgressCallback
    from agentrl.errors import RecipeError
    from agentrl.interrupts import GracefulStop
    from agentrl.models import (
        build_tiny_model,
        is_adapter_folder,
        load_policy,
        load_tokenizer,
        lora_config,
    )
    from agentrl.provenance import write_versions
    from agentrl.rollout.demo_file import warmup_environment
    from agentrl.rollout.generator import unwrap_for_generation
    from agentrl.run_folder import (
        base_model_settings,
        check_output_dir,
        claim_output_dir,
        is_current,
        partial_folder,
        publish,
        sft_warmup_settings,
        write_text_atomic,
    )
    from agentrl.sft import sft_warmup
    from agentrl.signal_watch import ZeroSignalWarning, format_warning
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
    check_output_dir(args)  # another run's results without resume/overwrite: refused before anything is written
    # the environments before the run folder is claimed: one that cannot be built leaves an overwritten run intact
    env_factory = env_factory_for(args)
    env = build_checked_env(args)
    if args.env_shift_step is not None:  # the shifted one too, so a bad env_shift_id fails now, not at the shift
        build_checked_env(args, shifted=True).close()
    try:  # the demonstrations the warm-up (and the tiny tokenizer) learn from: the env's expert or a file
        demo_env = warmup_environment(env, args.sft_demonstrations, args.sft_warmup_steps)
    except ValueError as error:
        raise RecipeError(str(error)) from error
    # Let TrainingArguments set up the process group (gloo on CPU, nccl on GPU) exactly as the Trainer will,
    # so the barriers below are real barriers under accelerate launch / torchrun.
    _ = args.device
    state = PartialState()
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    state.wait_for_everyone()  # every rank has checked output_dir before the main one changes it
    resume = claim_output_dir(args, state)  # overwrite: deleted; resume: the checkpoint, metrics.jsonl trimmed to it
    if state.is_main_process:
        write_config(args, output_dir)
        write_versions(output_dir)  # library versions and git commit, beside config.yaml (agentrl/provenance.py)

    model_path = args.model_name_or_path
    if model_path == TINY_MODEL:
        model_path = str(output_dir / "base_model")
        settings = base_model_settings(args)  # reused only when built from these (agentrl/run_folder.py)
        if state.is_main_process and not is_current(model_path, settings, report=True):
            build_tiny_model(
                partial_folder(model_path),
                demo_env,
                args.tiny_hidden_size,
                args.tiny_num_layers,
                args.tiny_vocab_size,
                args.seed,
            )
            publish(model_path, settings)
        state.wait_for_everyone()
    tokenizer = load_tokenizer(model_path)

    if args.sft_warmup_steps > 0:
        warm_path = output_dir / "sft_warmup"
        settings = sft_warmup_settings(args, state.num_processes)
        rebuild = not is_current(warm_path, settings, report=state.is_main_process)
        state.wait_for_everyone()  # every rank has decided before the main one replaces the folder
        if rebuild:  # all ranks train (data parallel); the main one saves, then renames it into place
            if state.is_main_process:
                print(f"[agentrl] SFT warm-up: {args.sft_warmup_steps} steps on expert demonstrations")
            sft_warmup(model_path, tokenizer, env, args, partial_folder(warm_path))
            if state.is_main_process:
                publish(warm_path, settings)
        state.wait_for_everyone()
        model_path = str(warm_path)
    env.close()  # not used again: an environment holding a server session (OpenEnv) frees it for the rollouts

    model = load_policy(model_path, dtype="auto")
    if continue_adapter and state.is_main_process:
        unused = "; the recipe's lora_* settings are not used" if args.use_peft else ""
        print(f"[agentrl] {model_path} is a LoRA adapter: RL trains it on{unused}")
    before = None
    if state.is_main_process:
        before = evaluate_model(model.to(state.device), tokenizer, args, env_factory)
        print(
            f"[agentrl] held-out success before RL: {before['success_rate']:.1%} "
            f"({args.eval_split}, {args.eval_num_tasks} tasks; well-formed responses "
            f"{before.get('format_valid_ratio', 0.0):.1%})"
        )
        warning = format_warning(before, args.env_id, args.sft_warmup_steps)
        if warning:
            print(warning, file=sys.stderr)

    args.disable_tqdm = True  # agentrl prints its own progress: a live bar on a terminal, else a line per update
    stop = GracefulStop()  # Ctrl-C / SIGTERM: end the update, save a checkpoint (agentrl/interrupts.py)
    callbacks = [MetricsJsonlCallback(str(output_dir / "metrics.jsonl")), ZeroSignalWarning(), stop]
    callbacks.append(RichProgressCallback(live=None if args.progress_bar else False))
    trainer = AgentGRPOTrainer(
        model=model,
        args=args,
        env_factory=env_factory,
        shifted_env_factory=env_factory_for(args, shifted=True) if args.env_shift_step is not None else None,
        processing_class=tokenizer,
        peft_config=lora_config(args) if args.use_peft and not continue_adapter else None,
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # TRL's raw dict lines: RichProgressCallback prints them readably
    trainer.remove_callback(ProgressCallback)
    if resume is not None and state.is_main_process:
        print(f"[agentrl] resuming from {resume}")
    with stop.catching_signals():
        trainer.train(resume_from_checkpoint=resume)
    if stop.agreed:  # every rank stopped at this update and its checkpoint is complete: no final/, no evaluation
        state.wait_for_everyone()
        raise stop.interruption(args, trainer.state, state.is_main_process, state.num_processes)

    final_dir = output_dir / "final"
    trainer.save_model(str(partial_folder(final_dir)))
    if state.is_main_process:
        tokenizer.save_pretrained(partial_folder(final_dir))
    state.wait_for_everyone()
    if state.is_main_process:
        publish(final_dir)
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
        write_text_atomic(output_dir / "eval.json", json.dumps(result, indent=2))
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
