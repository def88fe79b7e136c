"""`agentrl train | eval | envs | play`.

agentrl train --config recipes/quickstart.yaml [--any_field value ...]
accelerate launch [--num_processes N ...] -m agentrl train --config ...
agentrl eval --model RUN_DIR/final --env household-easy --split eval_in --num_tasks 100
agentrl envs
agentrl play --env household-easy [--task_id ID]
"""

from __future__ import annotations

import argparse
import json
import sys

from agentrl.recipe import RecipeError


def _train(argv: list[str]) -> None:
    if "-h" in argv or "--help" in argv:
        from trl import TrlParser

        from agentrl.config import AgentRLConfig

        TrlParser(AgentRLConfig, prog="agentrl train").print_help()
        return
    from agentrl.recipe import parse_train_args

    args = parse_train_args(argv)  # every input check happens here, before any model is loaded
    from agentrl.run import train

    train(args)


def _eval(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="agentrl eval", description="Held-out success of a saved policy.")
    parser.add_argument("--model", required=True, help="model folder (e.g. RUN_DIR/final) or hub id")
    parser.add_argument("--env", default="household-easy")
    parser.add_argument("--split", default="eval_in")
    parser.add_argument("--num_tasks", type=int, default=100)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--max_new_tokens", type=int, default=32)
    parser.add_argument("--history_length", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (a run's eval.json records its own)")
    parser.add_argument("--max_episode_steps", type=int, help="episode step limit (default: the env's own)")
    parser.add_argument("--output", help="write the summary JSON here")
    options = parser.parse_args(argv)
    from agentrl.models import check_model_name_or_path
    from envs import check_env_name, make_env

    try:
        check_env_name(options.env)
        check_model_name_or_path(options.model)
    except ValueError as error:
        raise RecipeError(str(error)) from error
    from agentrl.evaluation import evaluate_policy
    from agentrl.models import load_policy, load_tokenizer

    model, tokenizer = load_policy(options.model), load_tokenizer(options.model)
    env_kwargs = {} if options.max_episode_steps is None else {"max_steps": options.max_episode_steps}
    factory = lambda: make_env(options.env, **env_kwargs)  # noqa: E731
    summary, _ = evaluate_policy(
        model,
        tokenizer,
        factory,
        factory().task_ids(options.split)[: options.num_tasks],
        max_new_tokens=options.max_new_tokens,
        temperature=options.temperature,
        history_length=options.history_length,
        seed=options.seed,
    )
    summary.update(env=options.env, split=options.split, model=options.model)
    text = json.dumps(summary, indent=2)
    print(text)
    if options.output:
        with open(options.output, "w") as f:
            f.write(text + "\n")


def _envs(argv: list[str]) -> None:
    from envs import list_envs

    for name, description in list_envs().items():
        print(f"{name:24s} {description}")


def _play(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="agentrl play", description="Play an environment with its expert.")
    parser.add_argument("--env", default="household-easy")
    parser.add_argument("--task_id")
    parser.add_argument("--split", default="train")
    options = parser.parse_args(argv)
    from envs import make_env

    env = make_env(options.env)
    task_id = options.task_id or env.task_ids(options.split)[0]
    observation, info = env.reset(task_id)
    print(f"task {task_id}\n{observation}")
    done = False
    while not done and info.get("expert_action"):
        print(f"  admissible: {info['admissible_actions']}\n> {info['expert_action']}")
        observation, reward, done, info = env.step(info["expert_action"])
        print(f"{observation}   (reward {reward}, won {info['won']})")


COMMANDS = {"train": _train, "eval": _eval, "envs": _envs, "play": _play}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(__doc__)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    try:
        COMMANDS[argv[0]](argv[1:])
    except RecipeError as error:
        print(f"agentrl: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
