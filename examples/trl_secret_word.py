"""A class written for TRL's GRPOTrainer(environment_factory=SecretWord), trained by agentrl unchanged through its
trl: adapter (recipes/envs/trl_secret_word_tiny.yaml):

    env_id: trl:../../examples/trl_secret_word.py:SecretWord
    env_kwargs: {dataset: DATASET, reward_funcs: [spelled], won: solved}

Nothing here knows about agentrl; with TRL itself it would run as

    GRPOTrainer(model, args=GRPOConfig(...), train_dataset=DATASET["train"], environment_factory=SecretWord,
                reward_funcs=[spelled])

The game: find a secret word with the (async) tool `reveal`, then answer with the word in plain text, which ends
the rollout as TRL ends one (a turn without a tool call). `spelled` scores the answer: 1 when it holds the word,
else 0.2 x the share of the word's letters it uses, so even a random policy's answers score differently.
"""

from __future__ import annotations

import random

from datasets import Dataset, DatasetDict

WORDS = (
    "apple bread cloud dance eagle flame grape house image juice knife lemon music night ocean piano queen river "
    "stone table uncle voice water yacht zebra brick chair dream field globe heart"
).split()
PROMPT = [{"role": "user", "content": "Find the secret word with the reveal tool, then answer with the word."}]


class SecretWord:
    """One secret word per episode; `reveal` shows one of its letters."""

    def __init__(self) -> None:
        self.word = ""
        self.revealed: set[int] = set()

    def reset(self, word: str, **row) -> str:
        self.word, self.revealed = word, set()
        return f" It has {len(word)} letters."

    async def reveal(self, position: int) -> str:
        """Show the letter at a position of the secret word.

        Args:
            position: The letter's position, from 1 to the length of the word.
        """
        if not 1 <= position <= len(self.word):
            raise ValueError(f"position must be from 1 to {len(self.word)}, got {position}")
        self.revealed.add(position)
        return f"Letter {position} is {self.word[position - 1]}."


def _answer(completion: list[dict]) -> str:
    """The final answer: the text of the last assistant message, when it called no tool."""
    last = completion[-1] if completion else {}
    return last.get("content", "") if last.get("role") == "assistant" and not last.get("tool_calls") else ""


def spelled(completions, environments, **kwargs) -> list[float]:
    """TRL reward function: 1 for an answer holding the word, else 0.2 x the share of the word's letters used."""
    rewards = []
    for completion, env in zip(completions, environments, strict=True):
        answer = _answer(completion).lower()
        letters = set(env.word)
        rewards.append(1.0 if env.word in answer else 0.2 * len(letters & set(answer)) / len(letters))
    return rewards


def solved(completions, environments, **kwargs) -> list[bool]:
    """Success: the answer holds the word (a partial score is not a win)."""
    return [env.word in _answer(completion).lower() for completion, env in zip(completions, environments, strict=True)]


def _rows(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [{"prompt": PROMPT, "word": rng.choice(WORDS)} for _ in range(count)]


DATASET = DatasetDict({"train": Dataset.from_list(_rows(500, 0)), "test": Dataset.from_list(_rows(100, 1))})
