"""Is the Entropulse revival shift fair? Checks household's `target_moved` shift before any training is spent on it.

    python scripts/revival_oracle.py [--env household-easy] [--split eval_in] [--tasks 200] [--max_steps 8]

It prints two figures (docs/entropy.md quotes them):
- the oracle, on the shifted tasks, restricted to the pre-shift action vocabulary (each action it takes starts with
  a verb the pre-shift oracle used on the same split, and every other word of it appears in what the pre-shift
  episode of the same task showed: the room description, the task text, the admissible actions along the pre-shift
  oracle's path): its success rate and mean steps, against the pre-shift oracle's;
- the habit: the pre-shift oracle's action sequence replayed in the shifted task (what a policy that learned the
  pre-shift tasks perfectly does): its success rate.
It exits 1 if the oracle fails a shifted task or leaves the pre-shift vocabulary.
"""

from __future__ import annotations

import argparse
import sys

from agentrl.envs import make_env


def episode(env, task_id: str, actions: list[str] | None = None) -> tuple[bool, list[str], set[str]]:
    """Play `actions` (or the oracle's) in `task_id`; return (won, actions taken, every word the episode showed)."""
    observation, info = env.reset(task_id)
    words = set(observation.replace(".", " ").replace(",", " ").split())
    taken: list[str] = []
    done, won = False, False
    while not done:
        words.update(word for action in info["admissible_actions"] for word in action.split())
        if actions is None:
            action = info["expert_action"]
        else:
            action = actions[len(taken)] if len(taken) < len(actions) else None
        if action is None:
            break
        taken.append(action)
        _, _, done, info = env.step(action)
        won = info["won"]
    return won, taken, words


def check(env_id: str = "household-easy", split: str = "eval_in", tasks: int = 200, max_steps: int = 8) -> dict:
    before = make_env(env_id, max_steps=max_steps)
    after = make_env(env_id, max_steps=max_steps, target_moved=True)
    oracle_wins = habit_wins = outside_vocabulary = steps = 0
    task_ids = before.task_ids(split)[:tasks]
    pre_shift = {task_id: episode(before, task_id) for task_id in task_ids}
    assert all(won for won, _, _ in pre_shift.values()), "the pre-shift oracle failed a task"
    verbs = {action.split()[0] for _, habit, _ in pre_shift.values() for action in habit}
    for task_id in task_ids:
        _, habit, vocabulary = pre_shift[task_id]
        won, taken, _ = episode(after, task_id)
        oracle_wins += won
        steps += len(taken)
        outside_vocabulary += any(
            action.split()[0] not in verbs or any(word not in vocabulary for word in action.split()[1:])
            for action in taken
        )
        habit_wins += episode(after, task_id, habit)[0]
    return {
        "tasks": len(task_ids),
        "oracle_success": oracle_wins / len(task_ids),
        "oracle_mean_steps": steps / len(task_ids),
        "pre_shift_oracle_mean_steps": sum(len(habit) for _, habit, _ in pre_shift.values()) / len(task_ids),
        "oracle_episodes_outside_pre_shift_vocabulary": outside_vocabulary,
        "habit_success": habit_wins / len(task_ids),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="household-easy")
    parser.add_argument("--split", default="eval_in")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--max_steps", type=int, default=8)
    options = parser.parse_args()
    figures = check(options.env, options.split, options.tasks, options.max_steps)
    for name, value in figures.items():
        print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}")
    fair = figures["oracle_success"] == 1.0 and figures["oracle_episodes_outside_pre_shift_vocabulary"] == 0
    sys.exit(0 if fair else 1)


if __name__ == "__main__":
    main()
