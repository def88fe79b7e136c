"""`agentrl train --config RECIPE --smoke`: a dry run of a recipe on any machine, offline, in under a minute.

It checks what can go wrong before a long GPU run: the recipe parses, its environment builds, its model resolves
to a causal-LM class (without downloading weights), and one optimizer update of the recipe's algorithm runs end to
end (rollouts, advantages, EMPG / GiGPO / SEAL / entropy control, LoRA, gradient checkpointing, evaluation, saving).
The model is swapped for the tiny offline Qwen2 built for the environment (once, then reused), and the sizes are
cut down: one task's group of rollouts (one DAPO sampling round), at most 3 environment steps of at most 24 tokens, one
evaluation task, environments in process, CPU, fp32. The algorithm's own settings are left as the recipe has them.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

from agentrl.config import AgentRLConfig
from agentrl.errors import RecipeError

SMOKE_TINY = {"hidden_size": 64, "num_layers": 2, "vocab_size": 512, "corpus_tasks": 8}
# SFT of the smoke model on the same 8 tasks' expert steps: enough for part of its sampled steps to be well formed,
# so the returns of a group (format penalties) differ and the update really runs forward and backward.
SMOKE_SFT = {"sft_warmup_steps": 60, "sft_learning_rate": 3e-3, "sft_batch_size": 2, "sft_num_tasks": 8}


def _recipe_stem(argv: list[str]) -> str:
    return Path(argv[argv.index("--config") + 1]).stem if "--config" in argv else "cli"


def _asks_for_vllm(argv: list[str]) -> bool:
    """use_vllm: true in the recipe (with its `base:`) or on the command line."""
    from agentrl.recipe import load_recipe

    value = load_recipe(argv[argv.index("--config") + 1]).get("use_vllm", False) if "--config" in argv else False
    if "--use_vllm" in argv[:-1]:
        value = argv[argv.index("--use_vllm") + 1]
    return str(value).lower() in ("true", "1", "yes")


def smoke_overrides(args: AgentRLConfig, tiny_model: Path, output_dir: str) -> list[str]:
    """Command-line overrides that shrink the parsed recipe `args` to one small update on CPU."""
    overrides = {
        "model_name_or_path": str(tiny_model),
        "use_cpu": "true",
        "bf16": "false",
        "fp16": "false",
        "output_dir": output_dir,
        "max_steps": "1",
        "per_device_train_batch_size": str(args.num_generations),  # one task's group
        "max_episode_steps": str(min(args.max_episode_steps or 3, 3)),
        "max_completion_length": str(min(args.max_completion_length, 24)),
        "micro_batch_rows": str(min(args.micro_batch_rows, 8)),
        "max_generation_rounds": "1",
        "env_workers": "0",  # in-process: a worker pool would spend longer starting than the episodes take
        "eval_num_tasks": "1",
        "sft_warmup_steps": str(min(args.sft_warmup_steps, 2)),  # the recipe's own warm-up, if any, runs too
        "sft_num_tasks": str(min(args.sft_num_tasks, 4)),
        "save_strategy": "no",
        "report_to": "none",
        "logging_steps": "1",
        "resume_from_checkpoint": "none",
        "num_processes": "1",
    }
    if args.overlong_buffer_length:  # the soft overlong buffer must fit in the shorter completions
        overrides["overlong_buffer_length"] = str(min(args.overlong_buffer_length, 6))
    if args.max_episode_tokens:
        overrides["max_episode_tokens"] = str(min(args.max_episode_tokens, 1024))
    return [token for key, value in overrides.items() for token in (f"--{key}", value)]


def tiny_model_for(args: AgentRLConfig, cache: Path) -> Path:
    """The smoke model for the recipe's environment: the tiny Qwen2 warmed up by SMOKE_SFT, built once into
    `cache` and reused by later dry runs."""
    from agentrl.models import build_tiny_model, load_tokenizer
    from agentrl.preflight import build_env
    from agentrl.run import env_factory_for
    from agentrl.run_folder import partial_folder, publish
    from agentrl.sft import sft_warmup

    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", args.env_id)  # a spec may hold ':' and '/' (import paths, adapters)
    folder = cache / f"tiny-{slug}"
    if not (folder / "config.json").exists():
        env = build_env(env_factory_for(args), args.env_id)  # an engine not installed: one message
        initial = build_tiny_model(cache / f"tiny-{slug}-init", env, seed=0, **SMOKE_TINY)
        warm_up = copy.copy(args)  # the recipe's prompt settings; full fine-tuning of the tiny model, no checkpointing
        warm_up.use_peft, warm_up.gradient_checkpointing, warm_up.seed = False, False, 0
        for key, value in SMOKE_SFT.items():
            setattr(warm_up, key, value)
        sft_warmup(str(initial), load_tokenizer(str(initial)), env, warm_up, partial_folder(folder))
        publish(folder)  # renamed into place once complete: a build cut short is redone, never reused half-written
    return folder


def parse_smoke_args(argv: list[str]) -> AgentRLConfig:
    """The recipe of `argv` (without --smoke) as a dry run: parsed and validated as given (on CPU), its model
    resolved, then shrunk by smoke_overrides. Output: --output_dir if given, else runs/smoke/RECIPE_NAME."""
    from agentrl.models import ModelPathError, resolve_model_class
    from agentrl.quiet import quiet_progress_bars
    from agentrl.recipe import check_vllm_settings, parse_train_args

    # CPU: vLLM (GPU-only) gives way to Hugging Face generate; a vLLM recipe's settings are still checked
    cpu = ["--use_cpu", "true", "--bf16", "false", "--fp16", "false", "--num_processes", "1"]
    recipe_args = parse_train_args([*argv, *cpu, "--use_vllm", "false"])
    if _asks_for_vllm(argv):
        check_vllm_settings(recipe_args)
    try:
        model_type, model_class = resolve_model_class(recipe_args.model_name_or_path)
    except ModelPathError as error:
        raise RecipeError(f"{error}. Fix `model_name_or_path` in the recipe.") from error
    output_dir = recipe_args.output_dir if "--output_dir" in argv else f"runs/smoke/{_recipe_stem(argv)}"
    quiet_progress_bars()  # the smoke model is built and warmed up here, before agentrl.run quiets them
    tiny_model = tiny_model_for(recipe_args, Path(output_dir).parent)
    print(
        f"[agentrl] smoke: {recipe_args.model_name_or_path} is a {model_type} model ({model_class}); this dry run "
        f"swaps it for the tiny offline qwen2 in {tiny_model} and runs one update of "
        f"{recipe_args.num_generations} rollouts on {recipe_args.env_id} with Hugging Face generate "
        f"(outputs in {output_dir}/)"
    )
    # runs/smoke/RECIPE_NAME belongs to the dry runs: each replaces the last (a chosen --output_dir is checked as usual)
    replace = [] if "--output_dir" in argv else ["--overwrite_output_dir", "true"]
    return parse_train_args([*argv, *smoke_overrides(recipe_args, tiny_model, output_dir), *replace])
