"""The multi-turn rollout loop: N episodes in lockstep, one batched generation call per turn.

Each turn: build the step prompt of every live episode (task + last K turns + observation + admissible
actions), generate for all of them at once, parse the actions, step the environments, record the step.
An exception raised by an environment ends that episode as failed (logged, counted); it never stops
the batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from agentrl.rollout.episode import Episode, Step
from agentrl.rollout.generator import Generator
from agentrl.rollout.parser import parse_action
from agentrl.rollout.prompt import PromptBuilder, Turn
from envs.base import TextEnv

logger = logging.getLogger(__name__)


class _LiveEpisode:
    """Mutable state of one episode while it runs."""

    def __init__(self, episode: Episode, env: TextEnv):
        self.episode = episode
        self.env = env
        self.observation = ""
        self.info: dict = {}
        self.history: list[Turn] = []
        self.done = False


class RolloutCollector:
    def __init__(
        self,
        env_factory: Callable[[], TextEnv],
        prompt_builder: PromptBuilder,
        invalid_format_penalty: float = 0.1,
    ):
        self.env_factory = env_factory
        self.prompt_builder = prompt_builder
        self.tokenizer = prompt_builder.tokenizer
        self.invalid_format_penalty = invalid_format_penalty
        self._envs: list[TextEnv] = []  # reused across batches: envs can be costly to build

    def _env_pool(self, size: int) -> list[TextEnv]:
        while len(self._envs) < size:
            self._envs.append(self.env_factory())
        return self._envs[:size]

    def collect(self, generator: Generator, task_ids: Sequence[str], group_ids: Sequence[int]) -> list[Episode]:
        """Run one episode per task id (task ids repeat G times for a group) and return their records."""
        live = [
            _LiveEpisode(Episode(task_id=task_id, group_id=group_id), env)
            for task_id, group_id, env in zip(task_ids, group_ids, self._env_pool(len(task_ids)), strict=True)
        ]
        for state in live:
            try:
                state.observation, state.info = state.env.reset(state.episode.task_id)
                state.episode.task = state.info.get("task", "")
            except Exception as error:  # noqa: BLE001 - any env failure ends just this episode
                self._fail(state, "reset", error)

        while True:
            running = [state for state in live if not state.done]
            if not running:
                break
            prompts = [self._prompt_ids(state) for state in running]
            generations = generator.generate(prompts)  # one batched call for every live episode
            for state, prompt_ids, generation in zip(running, prompts, generations, strict=True):
                self._act(state, prompt_ids, generation)
        return [state.episode for state in live]

    def _prompt_ids(self, state: _LiveEpisode) -> list[int]:
        return self.prompt_builder.token_ids(
            state.episode.task, state.observation, state.history, state.info.get("admissible_actions", [])
        )

    def _act(self, state: _LiveEpisode, prompt_ids: list[int], generation) -> None:
        response = self.tokenizer.decode(generation.token_ids, skip_special_tokens=True)
        parsed = parse_action(response)
        try:
            observation, env_reward, done, info = state.env.step(parsed.action)
        except Exception as error:  # noqa: BLE001
            observation, env_reward, done, info = "", 0.0, True, {"won": False, "valid": False}
            self._fail(state, "step", error)
        penalty = 0.0 if parsed.format_valid else self.invalid_format_penalty
        state.episode.steps.append(
            Step(
                prompt_ids=prompt_ids,
                response_ids=generation.token_ids,
                logprobs=generation.logprobs,
                entropies=generation.entropies,
                response=response,
                action=parsed.action,
                format_valid=parsed.format_valid,
                action_valid=bool(info.get("valid", False)),
                env_reward=float(env_reward),
                reward=float(env_reward) - penalty,
                observation=state.observation,
                anchor=state.info.get("anchor"),
                truncated=generation.truncated,
            )
        )
        state.history.append(Turn(observation=state.observation, action=parsed.action))
        state.observation, state.info = observation, info
        state.episode.info = info
        state.episode.won = bool(info.get("won", False))
        # The env ends its episodes at its step limit; the cap here guards against an env that never does.
        state.done = state.done or bool(done) or len(state.episode.steps) >= state.env.max_steps

    def _fail(self, state: _LiveEpisode, where: str, error: Exception) -> None:
        logger.warning("environment %s failed on task %s: %r", where, state.episode.task_id, error)
        state.episode.error = f"{where}: {error!r}"
        state.episode.won = False
        state.done = True

    def close(self) -> None:
        for env in self._envs:
            env.close()
        self._envs.clear()
