"""The multi-turn rollout loop: N episodes in lockstep, one batched generation call per turn.

Each turn: build the step prompt of every live episode (task + last K turns + observation + admissible
actions), generate for all of them at once, parse the actions, step the environments (one batched call
to the env pool), record the step. An exception raised by an environment, or an environment that hangs
or dies in a worker process, ends that episode as failed (logged, `episode.error` set); it never stops
the batch.

The environments live in an env pool (envs/pool.py): in this process by default, or spread over
`env_workers` worker processes so a slow engine does not serialise the rollout. Both give the same
episodes for the same seed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from agentrl.rollout.episode import Episode, Step
from agentrl.rollout.generator import Generator
from agentrl.rollout.parser import parse_action
from agentrl.rollout.prompt import PromptBuilder, Turn
from envs.base import TextEnv
from envs.pool import EnvPool, SlotResult, make_env_pool

logger = logging.getLogger(__name__)


class _LiveEpisode:
    """Mutable state of one episode while it runs."""

    def __init__(self, episode: Episode, slot: int):
        self.episode = episode
        self.slot = slot  # the env pool slot this episode runs in
        self.observation = ""
        self.info: dict = {}
        self.history: list[Turn] = []
        self.done = False


class RolloutCollector:
    """Plays batches of episodes with a generator; environments come from `env_factory` through an env pool.

    env_workers: 0 builds the environments in this process with `env_factory` (any callable); > 0 runs
    them in that many worker processes, built from the registered name and kwargs of `env_factory`
    (functools.partial(make_env, name, **kwargs), as agentrl.run makes it), each reset/step limited to
    `env_step_timeout_s`. `pool` supplies a ready pool instead (the collector then closes it in close()).
    """

    def __init__(
        self,
        env_factory: Callable[[], TextEnv] | None,
        prompt_builder: PromptBuilder,
        invalid_format_penalty: float = 0.1,
        pool: EnvPool | None = None,
        env_workers: int = 0,
        env_step_timeout_s: float = 60.0,
    ):
        if pool is None and env_factory is None:
            raise ValueError("RolloutCollector needs an env_factory or a pool")
        self.env_factory = env_factory
        self.prompt_builder = prompt_builder
        self.tokenizer = prompt_builder.tokenizer
        self.invalid_format_penalty = invalid_format_penalty
        self.env_workers = env_workers
        self.env_step_timeout_s = env_step_timeout_s
        self._pool = pool  # built on first use and reused across batches: envs can be costly to build

    def _env_pool(self, size: int) -> EnvPool:
        if self._pool is None:
            self._pool = make_env_pool(self.env_factory, self.env_workers, timeout_s=self.env_step_timeout_s)
        self._pool.ensure_slots(size)
        return self._pool

    def collect(self, generator: Generator, task_ids: Sequence[str], group_ids: Sequence[int]) -> list[Episode]:
        """Run one episode per task id (task ids repeat G times for a group) and return their records."""
        pool = self._env_pool(len(task_ids))
        live = [
            _LiveEpisode(Episode(task_id=task_id, group_id=group_id), slot)
            for slot, (task_id, group_id) in enumerate(zip(task_ids, group_ids, strict=True))
        ]
        for state, result in zip(live, pool.reset_many([(s.slot, s.episode.task_id) for s in live]), strict=True):
            if result.ok:
                state.observation, state.info = result.observation, result.info
                state.episode.task = result.info.get("task", "")
                state.episode.info = result.info
            else:
                self._fail(state, "reset", result.error)

        while True:
            running = [state for state in live if not state.done]
            if not running:
                break
            prompts = [self._prompt_ids(state) for state in running]
            generations = generator.generate(prompts)  # one batched call for every live episode
            responses = [self.tokenizer.decode(g.token_ids, skip_special_tokens=True) for g in generations]
            parsed = [parse_action(response) for response in responses]
            results = pool.step_many([(s.slot, p.action) for s, p in zip(running, parsed, strict=True)])
            for state, *turn in zip(running, prompts, generations, responses, parsed, results, strict=True):
                self._record(state, pool.max_steps(state.slot), *turn)
        return [state.episode for state in live]

    def _prompt_ids(self, state: _LiveEpisode) -> list[int]:
        return self.prompt_builder.token_ids(
            state.episode.task, state.observation, state.history, state.info.get("admissible_actions", [])
        )

    def _record(
        self,
        state: _LiveEpisode,
        max_steps: int,
        prompt_ids: list[int],
        generation,
        response: str,
        parsed,
        result: SlotResult,
    ) -> None:
        if result.ok:
            observation, env_reward, done, info = result.observation, result.reward, result.done, result.info
        else:
            info = {"won": False, "valid": False}
            if "task_type" in state.info:  # kept for the per-task-type breakdown of evaluation
                info["task_type"] = state.info["task_type"]
            observation, env_reward, done = "", 0.0, True
            self._fail(state, "step", result.error)
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
                unknown_entity=bool(info.get("unknown_entity", False)),
            )
        )
        state.history.append(Turn(observation=state.observation, action=parsed.action))
        state.observation, state.info = observation, info
        state.episode.info = info
        state.episode.won = bool(info.get("won", False))
        # The env ends its episodes at its step limit; the cap here guards against an env that never does.
        state.done = state.done or bool(done) or len(state.episode.steps) >= max_steps

    def _fail(self, state: _LiveEpisode, where: str, error: str) -> None:
        logger.warning("environment %s failed on task %s: %s", where, state.episode.task_id, error)
        state.episode.error = f"{where}: {error}"
        state.episode.won = False
        state.done = True

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
