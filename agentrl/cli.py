"""`agentrl train | eval | envs | play | plot | export`.

agentrl train --config recipes/quickstart.yaml [--any_field value ...]
agentrl train --config recipes/paper/empg/alfworld_qwen2.5_7b_dapo_empg.yaml --smoke   # dry run, tiny model
accelerate launch [--num_processes N ...] -m agentrl train --config ...
agentrl eval --model RUN_DIR/final --env household-easy --split eval_in --num_tasks 100
agentrl eval --model RUN_DIR                     # final/ with the run's own evaluation settings (= eval.json "after")
agentrl eval --agent random|expert --env household --split eval_out      # baselines, no model
agentrl envs                                                              # environments, splits, sizes
agentrl plot RUN_DIR [RUN_DIR ...] [--output DIR]
agentrl export RUN_DIR [--merge] [--output DIR]    # what final/ is; --merge: LoRA adapter -> plain HF model
agentrl play ENV [--agent human|random|expert] [--task ID] [--split SPLIT]

Why about 500 lines in one file: one short function per sub-command and its argument parser, so `agentrl --help`
and the code that serves it sit side by side; each sub-command's work lives in its own module (run, evaluation,
export, plots).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from agentrl.errors import RecipeError, TrainingInterrupted


def _train(argv: list[str]) -> None:
    if "-h" in argv or "--help" in argv:
        from agentrl.train_help import print_train_help  # agentrl's usage first, before TRL is imported

        print_train_help()
        return
    from agentrl.quiet import quiet_warnings

    quiet_warnings()  # before the recipe is parsed: building the config is what warns
    from agentrl.recipe import parse_train_args

    if "--smoke" in argv:  # a dry run of the recipe with the tiny offline model (agentrl/smoke.py)
        from agentrl.smoke import parse_smoke_args

        args = parse_smoke_args([token for token in argv if token != "--smoke"])
    else:
        args = parse_train_args(argv)  # every input check happens here, before any model is loaded
        from agentrl.preflight import check_hub_model

        check_hub_model(args.model_name_or_path)  # not for --smoke: a dry run never downloads the recipe's model
    from agentrl.run import train

    try:
        train(args)
    finally:
        _close_process_group()


def _close_process_group() -> None:
    """Leave the process group cleanly: a gloo group left to interpreter exit can abort one rank (SIGABRT)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _open_env(name: str, env_kwargs: dict | None = None):
    """make_env, with every way it can fail (unknown name, engine not installed, bad kwargs) as a RecipeError."""
    from agentrl.envs import check_env_name, make_env

    try:
        check_env_name(name)
    except ValueError as error:
        raise RecipeError(str(error)) from error
    try:
        return make_env(name, **(env_kwargs or {}))
    except Exception as error:  # noqa: BLE001 - reported as a message, not a traceback
        raise RecipeError(f"cannot build environment {name!r}: {_first_line(error)}") from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or repr(error)
    return text.splitlines()[0]


def _split_task_ids(env, split: str) -> list[str]:
    from agentrl.envs.base import SPLITS

    if split not in SPLITS:
        raise RecipeError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    task_ids = env.task_ids(split)
    if not task_ids:
        raise RecipeError(f"{env.name}: split {split!r} has no tasks (has its data been generated?)")
    return task_ids


def _eval(argv: list[str]) -> None:
    from agentrl.evaluation import BASELINES

    parser = argparse.ArgumentParser(
        prog="agentrl eval", description="Held-out success of a saved policy, or of the random / expert baseline."
    )
    parser.add_argument(
        "--model",
        help="model folder (e.g. RUN_DIR/final), hub id, or a run directory RUN_DIR: its final/ model, evaluated "
        "with the run's own settings (env, split, tasks, temperature, seed, ...) unless given here",
    )
    parser.add_argument(
        "--agent",
        choices=("policy", *BASELINES),
        default="policy",
        help="policy: the --model; random: uniformly random admissible actions; expert: the env's oracle",
    )
    parser.add_argument("--env", help=f"environment (default {EVAL_DEFAULTS['env']})")
    parser.add_argument("--split", help=f"default {EVAL_DEFAULTS['split']}")
    parser.add_argument("--num_tasks", type=int, help=f"default {EVAL_DEFAULTS['num_tasks']}")
    parser.add_argument("--temperature", type=float, help=f"default {EVAL_DEFAULTS['temperature']} (greedy)")
    parser.add_argument("--max_new_tokens", type=int, help=f"default {EVAL_DEFAULTS['max_new_tokens']}")
    parser.add_argument("--history_length", type=int, help=f"default {EVAL_DEFAULTS['history_length']}")
    parser.add_argument(
        "--prompt_template",
        help="generic | alfworld | webshop | a template file (default: the run's config.yaml next to --model, else "
        "generic)",
    )
    parser.add_argument(
        "--trajectory_format",
        choices=("per_step", "concat"),
        help="as the policy was trained (default: the run's config.yaml next to --model, else per_step)",
    )
    parser.add_argument("--max_episode_tokens", type=int, help="concat: token budget of an episode (default as above)")
    parser.add_argument("--seed", type=int, help="sampling seed (default 0; a run's eval.json records its own)")
    parser.add_argument(
        "--seeds", type=int, nargs="+", help="several seeds: every task once per seed, pooled (overrides --seed)"
    )
    parser.add_argument("--max_episode_steps", type=int, help="episode step limit (default: the env's own)")
    parser.add_argument("--env_workers", type=int, default=0, help="worker processes for the environments")
    parser.add_argument("--env_step_timeout_s", type=float, default=60.0, help="per reset/step, with env_workers")
    parser.add_argument("--output", help="write the summary JSON here")
    options = parser.parse_args(argv)
    _fill_eval_defaults(options)
    if options.agent == "policy" and not options.model:
        raise RecipeError(
            "--model is required to evaluate a policy; for a baseline without a model use --agent random|expert"
        )
    if options.agent != "policy" and options.model:
        raise RecipeError(f"--model is not used by --agent {options.agent}; drop it, or use --agent policy")
    if options.num_tasks < 1 or options.env_workers < 0:
        raise RecipeError(
            f"--num_tasks must be >= 1 and --env_workers >= 0 (got {options.num_tasks}, {options.env_workers})"
        )
    env_kwargs = dict(options.env_kwargs)
    if options.max_episode_steps is not None:
        env_kwargs["max_steps"] = options.max_episode_steps
    task_ids = _split_task_ids(_open_env(options.env, env_kwargs), options.split)[: options.num_tasks]
    import functools

    from agentrl.envs import make_env

    factory = functools.partial(make_env, options.env, **env_kwargs)  # plain data: it can reach env workers
    if options.agent == "policy":
        from agentrl.models import check_model_name_or_path

        try:
            check_model_name_or_path(options.model)
        except ValueError as error:
            raise RecipeError(str(error)) from error
        from agentrl.preflight import check_hub_model

        check_hub_model(options.model, key="--model")
        from agentrl.evaluation import evaluate_policy
        from agentrl.models import load_policy, load_tokenizer
        from agentrl.rollout.prompt_templates import load_prompt_template

        trained_as = _run_config(options.model)
        if options.prompt_template is None:  # the words the policy was trained with
            options.prompt_template = trained_as.get("prompt_template", "generic")
        try:
            load_prompt_template(options.prompt_template)
        except ValueError as error:
            raise RecipeError(str(error)) from error
        model, tokenizer = load_policy(options.model), load_tokenizer(options.model)
        if options.trajectory_format is None:
            options.trajectory_format = trained_as.get("trajectory_format", "per_step")
        if options.max_episode_tokens is None:
            options.max_episode_tokens = trained_as.get("max_episode_tokens", 4096)
        play = functools.partial(
            evaluate_policy,
            model,
            tokenizer,
            factory,
            task_ids,
            max_new_tokens=options.max_new_tokens,
            temperature=options.temperature,
            history_length=options.history_length,
            prompt_template=options.prompt_template,
            trajectory_format=options.trajectory_format,
            max_episode_tokens=options.max_episode_tokens,
            env_workers=options.env_workers,
            env_step_timeout_s=options.env_step_timeout_s,
        )
    else:
        from agentrl.evaluation import evaluate_baseline

        play = functools.partial(
            evaluate_baseline,
            options.agent,
            factory,
            task_ids,
            env_workers=options.env_workers,
            env_step_timeout_s=options.env_step_timeout_s,
        )
    from agentrl.evaluation import summarize_seeds, summary_table

    if options.seeds:
        summary = summarize_seeds({seed: play(seed=seed)[1] for seed in options.seeds})
    else:
        summary, _ = play(seed=options.seed)
    summary.update(env=options.env, split=options.split, model=options.model, agent=options.agent)
    if options.agent == "policy":
        summary["prompt_template"] = options.prompt_template
    text = json.dumps(summary, indent=2)
    print(summary_table(summary, f"{options.agent} on {options.env} ({options.split})"), file=sys.stderr)
    print(text)
    if options.output:
        with open(options.output, "w") as f:
            f.write(text + "\n")


EVAL_DEFAULTS = {
    "env": "household-easy",
    "split": "eval_in",
    "num_tasks": 100,
    "temperature": 0.0,
    "max_new_tokens": 32,
    "history_length": 2,
    "seed": 0,
}
# eval option <- the run's config.yaml key that training's own evaluation used
RUN_EVAL_SETTINGS = {
    "env": "env_id",
    "split": "eval_split",
    "num_tasks": "eval_num_tasks",
    "temperature": "eval_temperature",
    "max_new_tokens": "max_completion_length",
    "history_length": "history_length",
    "seed": "seed",
    "max_episode_steps": "max_episode_steps",
}


def _fill_eval_defaults(options: argparse.Namespace) -> None:
    """`--model RUN_DIR` (a run directory: config.yaml and final/): evaluate RUN_DIR/final with the settings the
    run's own evaluation used, so the figures are eval.json's "after" ones; options given on the command line
    win. Anything still unset takes EVAL_DEFAULTS."""
    from pathlib import Path

    run = Path(options.model).expanduser() if options.model else None
    options.env_kwargs = {}
    if run is not None and (run / "config.yaml").is_file() and (run / "final").is_dir():
        config = _run_config(str(run / "final"))
        for option, key in RUN_EVAL_SETTINGS.items():
            if getattr(options, option) is None:
                setattr(options, option, config.get(key))
        options.env_kwargs = dict(config.get("env_kwargs") or {})
        options.model = str(run / "final")
        used = ", ".join(f"{option} {getattr(options, option)}" for option in RUN_EVAL_SETTINGS)
        print(f"[agentrl] evaluating {options.model} with the run's settings: {used}", file=sys.stderr)
    for option, value in EVAL_DEFAULTS.items():
        if getattr(options, option) is None:
            setattr(options, option, value)


def _run_config(model: str) -> dict:
    """The recipe of the run a model folder belongs to (RUN_DIR/config.yaml next to RUN_DIR/final), or {}."""
    from pathlib import Path

    import yaml

    path = Path(model).expanduser().parent / "config.yaml"
    try:
        return yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}


def _install_hint(name: str, error: BaseException) -> str:
    """The `pip install` command for an environment whose engine is missing: from the error, else the extra."""
    import re
    from importlib import metadata

    found = re.search(r"""pip install[^\n]*?\.\[[\w,-]+\]["']?""", str(error))
    if found:
        return found.group(0)
    try:
        extras = metadata.metadata("agentrl").get_all("Provides-Extra") or []
    except metadata.PackageNotFoundError:
        extras = []
    extra = name.split("-")[0]
    return f'pip install -e ".[{extra}]"' if extra in extras else _first_line(error)


def _env_status(name: str) -> str:
    """'train N  eval_in N  eval_out N', or why the environment cannot be built here."""
    from agentrl.envs import make_env
    from agentrl.envs.base import SPLITS
    from agentrl.rollout.demo_file import has_expert

    try:
        env = make_env(name)
    except ImportError as error:
        return f"not installed: {_install_hint(name, error)}"
    except Exception as error:  # noqa: BLE001 - one broken environment must not hide the others
        if "pip install" in str(error):
            return f"not installed: {_install_hint(name, error)}"
        return f"unavailable: {_first_line(error)}"
    try:
        sizes = "  ".join(f"{split} {len(env.task_ids(split))}" for split in SPLITS)
        warm_up = "expert" if has_expert(env) else "no expert: sft_demonstrations"
        source = getattr(env, "data_source", None)  # which data an env that has several uses (webshop)
        return f"{sizes}  ({warm_up})" + (f"  [{source}]" if source else "")
    except Exception as error:  # noqa: BLE001
        return f"unavailable: {_first_line(error)}"
    finally:
        env.close()


def _envs(argv: list[str]) -> None:
    argparse.ArgumentParser(
        prog="agentrl envs", description="Registered environments with their splits and sizes (tasks per split)."
    ).parse_args(argv)
    from agentrl.envs import list_envs

    for name, description in list_envs().items():
        print(f"{name:20s} {_env_status(name):60s} {description}")
    from importlib.util import find_spec

    from agentrl.envs.registry import ADAPTERS

    # the library each adapter spec needs (the import name of the `pip install 'agentrl[EXTRA]'` extra)
    libraries = {"gymnasium": "gymnasium", "gem": "gem", "textarena": "textarena", "openenv": "openenv", "trl": "trl"}
    print("\nother libraries, as env_id: PREFIX:ID (docs/environments.md):")
    for prefix in ADAPTERS:
        installed = find_spec(libraries[prefix]) is not None
        status = "installed" if installed else f"not installed: pip install 'agentrl[{prefix}]'"
        print(f"{prefix + ':':20s} {status}")


def _human_action(info: dict) -> str | None:
    actions = info.get("admissible_actions") or []
    for number, action in enumerate(actions, 1):
        print(f"  [{number}] {action}")
    try:
        answer = input("your action (number or text, empty to quit) > ").strip()
    except EOFError:
        return None
    if answer.isdigit() and 1 <= int(answer) <= len(actions):
        return actions[int(answer) - 1]
    return answer or None


def _play(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="agentrl play", description="Play one episode of an environment in the terminal and print the transcript."
    )
    parser.add_argument("env_name", nargs="?", metavar="ENV", help="environment (see `agentrl envs`)")
    parser.add_argument("--env", dest="env_option", help="same as ENV")
    parser.add_argument("--agent", choices=("human", "random", "expert"), default="expert")
    parser.add_argument("--task", "--task_id", dest="task", help="task id (default: the first task of --split)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random agent")
    options = parser.parse_args(argv)
    if options.env_name and options.env_option and options.env_name != options.env_option:
        raise RecipeError(f"two environments given: {options.env_name!r} and --env {options.env_option!r}")
    name = options.env_name or options.env_option or "household-easy"
    env = _open_env(name)
    try:
        _play_episode(env, options)
    finally:
        env.close()


def _play_episode(env, options: argparse.Namespace) -> None:
    import random

    from agentrl.envs import UnknownTaskError

    if options.task is None:
        task_id = _split_task_ids(env, options.split)[0]
    else:
        try:
            env.split_of(options.task)
        except UnknownTaskError as error:
            raise RecipeError(f"{error}; e.g. --task {env.task_ids('train')[0]}") from error
        task_id = options.task
    rng = random.Random(options.seed)
    observation, info = env.reset(task_id)
    print(f"task {task_id}: {info.get('task', '')}\n{observation}")
    done, total, steps = False, 0.0, 0
    while not done:
        if options.agent == "human":
            action = _human_action(info)
        elif options.agent == "expert":
            action = info.get("expert_action")
        else:
            action = rng.choice(info["admissible_actions"]) if info.get("admissible_actions") else None
        if action is None:
            print(f"(no action from the {options.agent} agent: episode stopped)")
            break
        if options.agent != "human" and info.get("admissible_actions"):
            print(f"  admissible: {' | '.join(info['admissible_actions'])}")
        print(f"> {action}")
        observation, reward, done, info = env.step(action)
        total, steps = total + reward, steps + 1
        print(f"{observation}   (reward {reward}, won {info['won']})")
    print(f"episode over: won {bool(info.get('won'))}, return {total}, {steps} steps")


def _plot(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="agentrl plot", description="Entropy-dynamics figures (entropy_dynamics.png, entropy_turns.png)."
    )
    parser.add_argument("run_dirs", nargs="+", help="run directories (each holds metrics.jsonl); overlaid")
    parser.add_argument("--output", help="folder for the figures (default: the first run directory)")
    options = parser.parse_args(argv)
    from agentrl.plots import plot_runs

    try:
        paths = plot_runs(options.run_dirs, options.output)
    except FileNotFoundError as error:
        raise RecipeError(str(error)) from error
    print("\n".join(paths))


def _export(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="agentrl export",
        description="What a run's model is; with --merge, its LoRA adapter folded into a plain transformers model "
        "(base + adapter, merge_and_unload) saved with the tokenizer; with --output alone, a copy of the folder. "
        "The SEAL head of a `seal: true` LoRA run (seal_head, saved in the adapter) is used only by the training "
        "loss: the merged causal LM leaves it out (it stays in the adapter folder).",
    )
    parser.add_argument(
        "model",
        metavar="RUN_DIR_OR_MODEL",
        help="a run directory (its final/ is used), or a model or LoRA adapter folder (RUN_DIR/final, checkpoint-N)",
    )
    parser.add_argument("--merge", action="store_true", help="merge the LoRA adapter into its base model")
    parser.add_argument(
        "--output", help="folder to write (must be new or empty); with --merge the default is RUN_DIR/merged"
    )
    parser.add_argument(
        "--base", help="the adapter's base model, when adapter_config.json's base_model_name_or_path has moved"
    )
    options = parser.parse_args(argv)
    from agentrl import export

    folder = export.model_folder(options.model)
    if options.base and not options.merge:
        raise RecipeError("--base is used only with --merge; add --merge, or drop --base")
    if not options.merge:
        print(export.describe(folder))
        if options.output:
            print(f"[agentrl] copied to {export.copy_model(folder, Path(options.output))}")
        return
    output = Path(options.output) if options.output else export.default_merge_output(folder)
    result = export.merge_adapter(folder, output, options.base)
    print(f"[agentrl] merged {folder} into its base {result['base']}")
    if result["seal_head_params"]:
        print(
            f"[agentrl] the SEAL head ({result['seal_head_params']} parameters, training only) is not part of the "
            f"merged model; it stays in {folder}"
        )
    if result["trivial"]:
        print("[agentrl] note: every LoRA B matrix is zero, so the merged model equals its base (an untrained adapter)")
    print(
        f"[agentrl] merged model written to {output}/ (loads with AutoModelForCausalLM.from_pretrained; "
        f"evaluate it with `agentrl eval --model {output}`)"
    )


COMMANDS = {"train": _train, "eval": _eval, "envs": _envs, "play": _play, "plot": _plot, "export": _export}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[0] not in COMMANDS:
        print(
            f"agentrl: error: unknown command {argv[0]!r}. Commands: {', '.join(COMMANDS)} "
            "(`agentrl --help` shows what each does, `agentrl COMMAND --help` its options).",
            file=sys.stderr,
        )
        return 2
    try:
        COMMANDS[argv[0]](argv[1:])
    except BrokenPipeError:  # output piped into a reader that stopped (`agentrl train --help | head`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush of stdout does not raise again
        return 0
    except RecipeError as error:
        print(f"agentrl: error: {error}", file=sys.stderr)
        return 2
    except TrainingInterrupted as stop:  # Ctrl-C / SIGTERM during RL: a checkpoint is saved (agentrl/interrupts.py)
        if stop.show:
            from agentrl.interrupts import resume_message

            print(resume_message(stop, argv[1:]), file=sys.stderr)
        return stop.exit_code
    except KeyboardInterrupt:  # Ctrl-C outside RL: nothing half-written is kept (agentrl/run_folder.py)
        print("\nagentrl: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
