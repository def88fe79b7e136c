"""The multi-turn rollout loop: N episodes in lockstep, one batched generation call per turn.

Each turn: build the step prompt of every live episode (task + last K turns + observation + admissible
actions), generate for all of them at once, parse the actions, step the environments (one batched call
to the env pool), record the step. An exception raised by an environment, or an environment that hangs
or dies in a worker process, ends that episode as failed (logged, `episode.error` set); it never stops
the batch.

What the model sees each turn depends on the trajectory format (rollout/contexts.py): per_step rebuilds
the prompt from the last K turns; concat appends the generated ids and the environment's answer to one
growing sequence. A tool environment (envs/tools.py, concat only) gets the model's tool calls, parsed
from its output (rollout/tool_calls.py), and answers with tool messages.

The environments live in an env pool (agentrl/rollout/pool.py): in this process by default, or spread over
`env_workers` worker processes so a slow engine does not serialise the rollout. Both give the same
episodes for the same seed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from agentrl.envs.base import TextEnv
from agentrl.rollout.contexts import ConcatContext, EpisodeState, PerStepContext
from agentrl.rollout.episode import Episode, Step
from agentrl.rollout.generator import Generation, Generator
from agentrl.rollout.parser import parse_action
from agentrl.rollout.pool import EnvPool, SlotResult, make_env_pool
from agentrl.rollout.prompt import PromptBuilder
from agentrl.rollout.tool_calls import tool_action

logger = logging.getLogger(__name__)


class RolloutCollector:
    """Plays batches of episodes with a generator; environments come from `env_factory` through an env pool.

    env_workers: 0 builds the environments in this process with `env_factory` (any callable); > 0 runs
    them in that many worker processes, built from the registered name and kwargs of `env_factory`
    (functools.partial(make_env, name, **kwargs), as agentrl.run makes it), each reset/step limited to
    `env_step_timeout_s`. `pool` supplies a ready pool instead (the collector then closes it in close()).

    trajectory_format: "per_step" or "concat"; concat needs `max_episode_tokens` (the whole sequence's budget)
    and `max_turn_tokens` (the generator's per-turn budget: a turn starts only if it fits).
    """

    def __init__(
        self,
        env_factory: Callable[[], TextEnv] | None,
        prompt_builder: PromptBuilder,
        invalid_format_penalty: float = 0.1,
        pool: EnvPool | None = None,
        env_workers: int = 0,
        env_step_timeout_s: float = 60.0,
        trajectory_format: str = "per_step",
        max_episode_tokens: int = 4096,
        max_turn_tokens: int = 256,
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
        if trajectory_format == "concat":
            self.context = ConcatContext(prompt_builder, max_episode_tokens, max_turn_tokens)
        elif trajectory_format == "per_step":
            self.context = PerStepContext(prompt_builder)
        else:
            raise ValueError(f"trajectory_format {trajectory_format!r}: use per_step or concat")

    def _env_pool(self, size: int) -> EnvPool:
        if self._pool is None:
            self._pool = make_env_pool(self.env_factory, self.env_workers, timeout_s=self.env_step_timeout_s)
        self._pool.ensure_slots(size)
        return self._pool

    def collect(self, generator: Generator, task_ids: Sequence[str], group_ids: Sequence[int]) -> list[Episode]:
        """Run one episode per task id (task ids repeat G times for a group) and return their records."""
        pool = self._env_pool(len(task_ids))
        live = [
            EpisodeState(Episode(task_id=task_id, group_id=group_id), slot)
            for slot, (task_id, group_id) in enumerate(zip(task_ids, group_ids, strict=True))
        ]
        for state, result in zip(live, pool.reset_many([(s.slot, s.episode.task_id) for s in live]), strict=True):
            if result.ok:
                state.observation, state.info = result.observation, result.info
                state.episode.task = result.info.get("task", "")
                state.episode.info = result.info
                self.context.start(state)
            else:
                self._fail(state, "reset", result.error)

        keep_going = getattr(generator, "keep_going", None)  # a collective backend answers for every rank
        while True:
            running = [state for state in live if not state.done]
            if not (keep_going(bool(running)) if keep_going else running):
                break
            prompts = [self.context.prompt_ids(state) for state in running]
            generations = generator.generate(prompts)  # one batched call for every live episode
            if not running:  # this rank is done and only joined the other ranks' call
                continue
            responses = [self._response_text(g) for g in generations]
            parsed = [self._parse(state, response) for state, response in zip(running, responses, strict=True)]
            results = pool.step_many([(s.slot, p[0]) for s, p in zip(running, parsed, strict=True)])
            for state, *turn in zip(running, prompts, generations, responses, parsed, results, strict=True):
                self._record(state, pool.max_steps(state.slot), *turn)
        return [state.episode for state in live]

    def _response_text(self, generation: Generation) -> str:
        """What the parser reads: the response without the stop id that ended it (by id, so a stop id that is not a
        special token never reaches the action text) and without other special tokens."""
        ids = generation.token_ids
        if not generation.truncated and ids:  # a turn that stopped ends with one of the model's stop ids
            ids = ids[:-1]
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    @staticmethod
    def _parse(state: EpisodeState, response: str) -> tuple[str, bool]:
        """(action for the environment, format valid): tool calls for a tool environment, else <action> text."""
        if state.episode.tools:
            return tool_action(response, bool(state.info.get("answers_in_text")))
        parsed = parse_action(response)
        return parsed.action, parsed.format_valid

    def _record(
        self,
        state: EpisodeState,
        max_steps: int,
        prompt_ids: list[int],
        generation,
        response: str,
        parsed: tuple[str, bool],
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
        action, format_valid = parsed
        penalty = 0.0 if format_valid else self.invalid_format_penalty
        state.episode.steps.append(
            Step(
                prompt_ids=self.context.new_ids(state, prompt_ids),
                response_ids=generation.token_ids,
                logprobs=generation.logprobs,
                entropies=generation.entropies,
                policy_logprobs=generation.policy_logprobs,
                response=response,
                action=action,
                format_valid=format_valid,
                action_valid=bool(info.get("valid", False)),
                env_reward=float(env_reward),
                reward=float(env_reward) - penalty,
                observation=state.observation,
                anchor=state.info.get("anchor"),
                truncated=generation.truncated,
                unknown_entity=bool(info.get("unknown_entity", False)),
                tool_calls=int(info.get("tool_calls", 0)),
                tool_failures=int(info.get("tool_failures", 0)),
            )
        )
        state.last_action = action
        # The env ends its episodes at its step limit; the cap here guards against an env that never does.
        state.done = state.done or bool(done) or len(state.episode.steps) >= max_steps
        out_of_tokens = self.context.advance(state, generation.token_ids, response, observation, info)
        state.done = state.done or out_of_tokens
        state.observation, state.info = observation, info
        state.episode.info = info
        state.episode.won = bool(info.get("won", False))

    def _fail(self, state: EpisodeState, where: str, error: str) -> None:
        logger.warning("environment %s failed on task %s: %s", where, state.episode.task_id, error)
        state.episode.error = f"{where}: {error}"
        state.episode.won = False
        state.done = True

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
