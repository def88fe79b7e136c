"""An OpenEnv environment written the OpenEnv way (nothing here knows about agentrl), trained by agentrl through
its openenv: adapter, in this process or behind an OpenEnv server:

    agentrl train --config recipes/envs/openenv_letter_hunt_tiny.yaml      # env_id: openenv:<this file>:LetterHunt
    python examples/openenv_letter_hunt.py --port 8000                    # serve it (8 sessions), then
    env_id: openenv:http://127.0.0.1:8000                                 # in a recipe, trains against the server

The game: find every letter of a secret word by writing text that contains them. Each step pays 1 when it
completes the word (the episode ends), 0 when it finds a new letter, -0.1 when it finds none. Any text is a
legal move, so even a random policy finds letters, and how fast it finds them differs from rollout to rollout.
"""

from __future__ import annotations

import argparse
import random

from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import Action, Observation, State

WORDS = (
    "apple bread cloud dance eagle flame grape house image juice knife lemon music night ocean piano queen river "
    "stone table uncle voice water yacht zebra brick chair dream field globe heart"
).split()


class LetterAction(Action):
    message: str


class LetterObservation(Observation):
    prompt: str


class LetterHunt(Environment[LetterAction, LetterObservation, State]):
    """Find the letters of a secret word (see the module docstring)."""

    SUPPORTS_CONCURRENT_SESSIONS = True  # each instance keeps its own word: one per server session is safe

    def __init__(self, word_length: int = 5) -> None:
        super().__init__()
        self.words = [word for word in WORDS if len(word) == word_length]
        if not self.words:
            raise ValueError(f"no words of length {word_length}; lengths are {sorted({len(w) for w in WORDS})}")
        self.word = ""
        self.found: set[str] = set()
        self._state = State()

    def reset(self, seed: int | None = None, episode_id: str | None = None, **kwargs) -> LetterObservation:
        self.word = random.Random(seed).choice(self.words)
        self.found = set()
        self._state = State(episode_id=episode_id, step_count=0)
        return LetterObservation(prompt=self._prompt(), reward=0.0, done=False)

    def step(self, action: LetterAction, timeout_s: float | None = None, **kwargs) -> LetterObservation:
        new = (set(self.word) & set(action.message.lower())) - self.found
        self.found |= new
        self._state.step_count += 1
        done = self.found == set(self.word)
        reward = 1.0 if done else (0.0 if new else -0.1)
        return LetterObservation(prompt=self._prompt(), reward=reward, done=done)

    @property
    def state(self) -> State:
        return self._state

    def _prompt(self) -> str:
        shown = "".join(c if c in self.found else "_" for c in self.word)
        return f"Find the letters of the secret word by writing words that contain them. Word: {shown}"


def serve(port: int, max_concurrent_envs: int) -> None:
    """Serve LetterHunt as an OpenEnv server (openenv's create_app), one session per episode played at once."""
    import uvicorn
    from openenv.core.env_server import create_app

    app = create_app(LetterHunt, LetterAction, LetterObservation, max_concurrent_envs=max_concurrent_envs)
    uvicorn.run(app, host="127.0.0.1", port=port)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max_concurrent_envs", type=int, default=8)
    options = parser.parse_args()
    serve(options.port, options.max_concurrent_envs)
