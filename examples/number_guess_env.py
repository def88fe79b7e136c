"""A complete agentrl environment in about 40 lines: guess a number from "higher" / "lower" hints.

Train on it from any folder, no registration needed (docs/environments.md):

    env_id: number_guess_env.py:NumberGuess      # in a recipe next to this file (or package.module:NumberGuess)
"""

import random

from agentrl.envs import TextEnv


class NumberGuess(TextEnv):
    """Find a secret number from 1 to `high` in at most `max_steps` guesses."""

    name = "number-guess"

    def __init__(self, high: int = 16, max_steps: int = 6, num_tasks: int = 1000):
        self.high, self.max_steps, self.num_tasks = high, max_steps, num_tasks

    def task_ids(self, split):  # stable ids: the task's number is derived from its id alone
        return [f"{self.name}/{split}/{i}" for i in range(self.num_tasks if split == "train" else 100)]

    def _reset(self, task_id):
        self.secret = random.Random(task_id).randint(1, self.high)
        self.low_bound, self.high_bound, self.steps = 1, self.high, 0
        self.task = f"Find the secret number from 1 to {self.high}. Answer with one number, e.g. guess 7."
        return "Make your first guess.", self._info(won=False, valid=True)

    def step(self, action):
        self.steps += 1
        words = action.split()
        guess = int(words[-1]) if words and words[-1].isdigit() else None
        if guess is None or not 1 <= guess <= self.high:
            won, observation = False, f"Not a guess. Write: guess N, with N from 1 to {self.high}."
        elif guess == self.secret:
            won, observation = True, f"{guess} is right!"
        else:
            won = False
            if guess < self.secret:
                self.low_bound, observation = max(self.low_bound, guess + 1), f"{guess} is too low."
            else:
                self.high_bound, observation = min(self.high_bound, guess - 1), f"{guess} is too high."
        done = won or self.steps >= self.max_steps
        return observation, float(won), done, self._info(won=won, valid=guess is not None)

    def _info(self, won, valid):
        candidates = range(self.low_bound, self.high_bound + 1)
        return {
            "task": self.task,
            "admissible_actions": [f"guess {n}" for n in candidates],
            "won": won,
            "valid": valid,
            "anchor": (self.low_bound, self.high_bound),  # what the agent knows: the state GiGPO groups by
            "expert_action": f"guess {(self.low_bound + self.high_bound) // 2}",  # binary search
        }
