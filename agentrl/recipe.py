"""Recipes: YAML files of AgentRLConfig fields, overridden by `--field value` on the command line.

Built on TRL's TrlParser, and readable by it: `TrlParser((AgentRLConfig,)).parse_args_and_config(...)` loads
an agentrl recipe (after `base:` is resolved, which is agentrl's addition). As in TRL, a top-level `env:` mapping
sets environment variables (printed when set); the environment the agent acts in is `env_id:`. Every mistake is
reported before anything is loaded: a missing recipe file, an unknown key (with the closest field names), an
unknown environment or env_kwargs key, a model path that does not exist.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml
from trl import TrlParser

from agentrl.config import RESUME_LATEST, RESUME_NONE, AgentRLConfig
from agentrl.errors import RecipeError  # noqa: F401 - re-exported: raised by parse_train_args


def _suggest(key: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def load_recipe(path: str | os.PathLike, _seen: tuple[Path, ...] = ()) -> dict:
    """The recipe's keys; with `base: OTHER.yaml` (relative to the recipe's folder), OTHER's keys overridden by
    this recipe's (a whole key at a time: an `env_kwargs` mapping replaces the base's). An `env_id` that names a
    Python file (`my_env.py:Factory`) is taken relative to the folder of the recipe that names it."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(
            f"recipe file {str(path)!r} not found. Pass an existing YAML file to --config, e.g. "
            "recipes/quickstart.yaml (list them with `ls recipes/`)."
        )
    try:
        with open(path) as f:
            recipe = yaml.safe_load(f) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise RecipeError(f"recipe {str(path)!r} is not valid YAML{where}: {problem}. Fix the file there.") from None
    if not recipe:
        raise RecipeError(
            f"recipe {str(path)!r} is empty. A recipe is a YAML mapping of AgentRLConfig fields (env_id, "
            "model_name_or_path, output_dir, ...): start from a copy of recipes/quickstart.yaml."
        )
    if not isinstance(recipe, dict):
        raise RecipeError(f"recipe {str(path)!r} must be a YAML mapping of field: value")
    _check_environment_keys(recipe, path)
    _anchor_recipe_paths(recipe, path.parent)
    base = recipe.pop("base", None)
    if base is None:
        return recipe
    base_path = (path.parent / base).resolve()
    if base_path in (*_seen, path.resolve()):
        raise RecipeError(f"recipe {str(path)!r}: `base: {base}` makes a cycle of bases")
    if not base_path.is_file():
        raise RecipeError(
            f"recipe {str(path)!r}: `base: {base}` not found (looked for {base_path}; the path is "
            "relative to the recipe's folder)"
        )
    return load_recipe(base_path, (*_seen, path.resolve())) | recipe


def _check_environment_keys(recipe: dict, path: Path) -> None:
    """`env:` is TRL's mapping of environment variables; agentrl's environment is `env_id:` (older recipes said
    `env: NAME` and `env_vars:`)."""
    env = recipe.get("env")
    if env is not None and not isinstance(env, dict):
        raise RecipeError(
            f"recipe {str(path)!r}: `env: {env}` - the environment key is now `env_id:` (write `env_id: {env}`). "
            "A top-level `env:` is TRL's mapping of environment variables, e.g. `env: {OMP_NUM_THREADS: \"1\"}`."
        )
    if "env_vars" in recipe:
        raise RecipeError(
            f"recipe {str(path)!r}: `env_vars:` is now `env:` (TRL's name for the mapping of environment variables); "
            "rename the key."
        )


def _anchor_recipe_paths(recipe: dict, folder: Path) -> None:
    """Files a recipe names are looked up next to the recipe (as `base:` is) when they are there: the Python file
    of `env_id: my_env.py:Factory`, `sft_demonstrations` and a `prompt_template` file; otherwise they stay relative
    to the current folder."""
    spec = recipe.get("env_id")
    if isinstance(spec, str) and ":" in spec:
        from agentrl.envs.registry import ADAPTERS

        adapter = spec.split(":", 1)[0]  # openenv:/trl: specs name a file the same way: trl:my_env.py:Class
        prefix, rest = (adapter + ":", spec.split(":", 1)[1]) if adapter in ADAPTERS else ("", spec)
        location, _, attribute = rest.rpartition(":")
        if location.endswith(".py") and not Path(location).expanduser().is_absolute():
            candidate = (folder / location).resolve()
            if candidate.is_file():
                recipe["env_id"] = f"{prefix}{candidate}:{attribute}"
    from agentrl.rollout.prompt_templates import BUILT_IN as BUILT_IN_TEMPLATES

    for key in ("sft_demonstrations", "prompt_template"):
        named = recipe.get(key)
        if not isinstance(named, str) or (key == "prompt_template" and named in BUILT_IN_TEMPLATES):
            continue  # not a path (a built-in template's name)
        if not Path(named).expanduser().is_absolute() and (folder / named).is_file():
            recipe[key] = str((folder / named).resolve())


def set_environment_variables(variables: dict | None) -> None:
    """The recipe's `env:` mapping into os.environ (as TrlParser does), before anything reads them; each one set is
    printed, so a run's log says what it changed. Worker processes inherit them."""
    for key, value in (variables or {}).items():
        os.environ[str(key)] = str(value)
        print(f"[agentrl] env: {key}={value}", file=sys.stderr)


def parse_train_args(argv: Sequence[str]) -> AgentRLConfig:
    """AgentRLConfig from `[--config recipe.yaml] [--field value ...]`, validated."""
    argv = list(argv)
    fields = [f.name for f in dataclasses.fields(AgentRLConfig)]
    recipe: dict = {}
    recipe_path = None
    if "--config" in argv:
        at = argv.index("--config")
        if at + 1 >= len(argv):
            raise RecipeError("--config needs a recipe path, e.g. --config recipes/quickstart.yaml")
        recipe_path = argv[at + 1]
        del argv[at : at + 2]
        recipe = load_recipe(recipe_path)
    set_environment_variables(recipe.pop("env", None))
    unknown = [key for key in recipe if key not in fields]
    if unknown:
        key = unknown[0]
        raise RecipeError(
            f"unknown recipe key {key!r} in {recipe_path}.{_suggest(key, fields)} Every field of AgentRLConfig "
            "(and TRL's GRPOConfig) is accepted; list them with `agentrl train --help`."
        )
    for token in argv:
        if token.startswith("--"):
            name = token[2:].split("=", 1)[0]
            if name == "env":
                raise RecipeError("unknown option --env: the environment option is --env_id (e.g. --env_id household)")
            if name not in fields and name not in ("help", "h"):
                raise RecipeError(f"unknown option --{name}.{_suggest(name, fields)} See `agentrl train --help`.")
    parser = TrlParser(AgentRLConfig)
    parser.error = functools.partial(_value_error, recipe_path, recipe, argv)  # one line, not argparse's usage
    parser.set_defaults_with_config(**recipe)
    try:
        (args,) = parser.parse_args_into_dataclasses(args=argv)
    except RecipeError:
        raise
    except ValueError as error:
        if "doesn't support bf16" in str(error):  # transformers' words for a CPU machine with bf16 (TRL's default) on
            raise RecipeError(
                "bf16 is on (TRL's default) but this machine has no GPU with bf16. To train on CPU set `use_cpu: true` "
                "and `bf16: false` in the recipe (as recipes/quickstart.yaml does), or launch on a GPU machine."
            ) from None
        raise RecipeError(f"invalid setting: {error}") from error
    validate(args)
    return args


def _value_error(recipe_path: str | None, recipe: dict, argv: list[str], message: str) -> None:
    """argparse's complaint about a value (`argument --max_steps: invalid int value: 'abc'`) as one RecipeError
    naming the field, where it was set and what it takes, instead of the whole usage text."""
    found = re.match(r"argument --(\w+)(?:/[^:]*)?: (.*)", message)
    if not found:
        raise RecipeError(f"{message}. See `agentrl train --help`.")
    name, problem = found.groups()
    kinds = {"int": "a whole number", "float": "a number", "string_to_bool": "true or false"}
    bad_type = re.match(r"invalid (\w+) value: (.*)", problem)
    if bad_type and bad_type.group(1) in kinds:
        problem = f"{bad_type.group(2)} is not {kinds[bad_type.group(1)]}"
    on_command_line = any(token.split("=", 1)[0] == f"--{name}" for token in argv)
    where = f"`{name}:` in {recipe_path}" if name in recipe and not on_command_line else f"--{name} on the command line"
    raise RecipeError(f"{name}: {problem.rstrip('.')}. Fix {where} (`agentrl train --help` describes every field).")


def validate(args: AgentRLConfig) -> None:
    """Checks that must fail before any model is loaded."""
    from agentrl.envs import check_env_kwargs
    from agentrl.envs.base import SPLITS
    from agentrl.models import check_model_name_or_path

    try:
        step_limit = {} if args.max_episode_steps is None else {"max_steps": args.max_episode_steps}
        check_env_kwargs(args.env_id, {**args.env_kwargs, **step_limit})
        if args.env_shift_step is not None:  # the environment after the shift, with its kwargs
            shifted_kwargs = {**args.env_kwargs, **args.env_shift_kwargs, **step_limit}
            check_env_kwargs(args.shifted_env_id, shifted_kwargs, key="env_shift_id")
    except ValueError as error:
        raise RecipeError(str(error)) from error
    from agentrl.rollout.prompt_templates import load_prompt_template

    try:
        load_prompt_template(args.prompt_template)  # a built-in name or a file whose fields all exist
    except ValueError as error:
        raise RecipeError(str(error)) from error
    if args.sft_demonstrations:
        from agentrl.rollout.demo_file import load_demonstrations

        try:
            load_demonstrations(args.sft_demonstrations)
        except ValueError as error:
            raise RecipeError(str(error)) from error
    try:
        check_model_name_or_path(args.model_name_or_path)
    except ValueError as error:
        raise RecipeError(str(error)) from error
    from agentrl.preflight import check_output_dir_writable

    check_output_dir_writable(args.output_dir)
    resume = args.resume_from_checkpoint
    if resume and str(resume).lower() not in RESUME_LATEST + RESUME_NONE:
        if not Path(resume).is_dir():
            raise RecipeError(
                f"resume_from_checkpoint {resume!r} is not a checkpoint folder. Point it at OUTPUT_DIR/checkpoint-N, "
                "or use `auto` to continue from the newest checkpoint in output_dir."
            )
        from agentrl.checkpoints import checkpoint_problem

        problem = checkpoint_problem(resume)  # every file against the sizes and hashes its completion mark recorded
        if problem is not None:
            raise RecipeError(
                f"resume_from_checkpoint {resume!r} cannot be resumed: {problem}. Point it at another checkpoint-N, "
                "or use `auto` to continue from the newest intact checkpoint in output_dir."
            )
    from agentrl.models import is_adapter_folder

    if args.seal and is_adapter_folder(args.model_name_or_path):
        raise RecipeError(
            f"seal: true with model_name_or_path {args.model_name_or_path!r}, a LoRA adapter folder: SEAL attaches its "
            "head before the adapter is created. Merge it first (`agentrl export "
            f"{args.model_name_or_path} --merge`) and start from the merged model with use_peft: true."
        )
    if args.use_vllm:
        check_vllm_usable(args)
    check_processes_fit_devices(args)
    warn_if_global_batch_differs(args)
    if args.eval_split not in SPLITS:
        raise RecipeError(f"eval_split {args.eval_split!r} is not a split; use one of {SPLITS}")


def check_vllm_usable(args: AgentRLConfig) -> None:
    """use_vllm: valid settings, vLLM installed, a CUDA device; otherwise say which and how to go on."""
    check_vllm_settings(args)
    from trl.import_utils import is_vllm_available

    if not is_vllm_available():
        raise RecipeError(
            "use_vllm: true, but vLLM is not installed. vLLM is a GPU-only extra: on a CUDA machine run "
            "`pip install 'agentrl[vllm]'`, or remove use_vllm from the recipe (rollouts then use Hugging Face "
            "generate)."
        )
    import torch

    if args.use_cpu or not torch.cuda.is_available():
        raise RecipeError(
            "use_vllm: true needs a CUDA GPU (vLLM does not run on CPU here). Remove use_vllm from the recipe, or "
            "launch on a GPU machine without use_cpu."
        )


def check_vllm_settings(args: AgentRLConfig) -> None:
    """A recipe asking for vLLM: the vllm_* values and the options that do not go with them, named when wrong
    (also checked by a --smoke dry run of such a recipe, which itself runs on Hugging Face generate)."""
    from agentrl.algorithms.importance import IMPORTANCE_SAMPLING_MODES

    if args.vllm_mode not in ("colocate", "server"):
        raise RecipeError(
            f"vllm_mode {args.vllm_mode!r}: use colocate (vLLM inside each training process) or server (a separate "
            "`vllm serve` process; README, section vLLM rollouts)."
        )
    if args.vllm_importance_sampling_mode not in IMPORTANCE_SAMPLING_MODES:
        raise RecipeError(
            f"vllm_importance_sampling_mode {args.vllm_importance_sampling_mode!r}: use one of "
            f"{IMPORTANCE_SAMPLING_MODES}."
        )
    limit = args.vllm_max_model_length
    if limit and args.trajectory_format == "concat" and args.max_episode_tokens > limit:
        raise RecipeError(
            f"max_episode_tokens {args.max_episode_tokens} > vllm_max_model_length {limit}: vLLM would refuse a "
            f"conversation's late turns. Raise vllm_max_model_length to {args.max_episode_tokens} or lower "
            "max_episode_tokens."
        )


def warn_if_global_batch_differs(args: AgentRLConfig) -> None:
    """A recipe written for N processes, launched on M: each process still collects per_device_train_batch_size
    episodes, so the global batch (and the paper's protocol) changes. Say so; the run goes on."""
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if args.num_processes is None or launched == args.num_processes:
        return
    per_device = args.per_device_train_batch_size * args.num_processes // launched
    print(
        f"[agentrl] warning: the recipe assumes {args.num_processes} process(es) (global batch "
        f"{args.per_device_train_batch_size * args.num_processes} episodes) but {launched} were launched (global batch "
        f"{args.per_device_train_batch_size * launched}). To keep the recipe's batch, pass "
        f"--per_device_train_batch_size {per_device} --num_processes {launched}.",
        file=sys.stderr,
    )


def check_processes_fit_devices(args: AgentRLConfig) -> None:
    """More processes on this machine than GPUs, or several GPU processes on a machine without one: say so now,
    not as a device-ordinal error deep inside the first forward."""
    processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if args.use_cpu or processes <= 1:
        return
    import torch

    devices = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if devices == 0:
        raise RecipeError(
            f"{processes} processes were launched on this machine but it has no GPU: set use_cpu: true in the recipe "
            "(CPU processes, e.g. with recipes/accelerate/cpu_ddp_2.yaml) or launch on a machine with GPUs."
        )
    if processes > devices:
        raise RecipeError(
            f"{processes} processes were launched on this machine but it has {devices} GPU(s): set num_processes: "
            f"{devices} in the accelerate config (or pass --num_processes {devices} to accelerate launch)."
        )
