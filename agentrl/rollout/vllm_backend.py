"""vLLM rollouts: TRL's `VLLMGeneration` (colocate or server mode) behind agentrl's `Generator` interface.

Token ids in, token ids and vLLM's sampling log-probs out, one call per turn for every live episode of a
rank. vLLM returns the sampled token's log-prob only, not the full-vocabulary entropy that agentrl's
entropy dynamics and EMPG read. When something reads them (agentrl.training.policy_logps.reads_rollout_entropies),
the policy scores each turn's tokens once (a no-grad forward over prompt + response, at the sampling
temperature): that gives the entropies, and the policy's own log-probs, which the update then uses as the
old-policy log-probs instead of computing them again. Otherwise no scoring pass runs and the steps carry no
entropies.

vLLM is a GPU-only extra. Any object with `VLLMGeneration`'s `generate(prompts, images, num_generations)`
and `sync_weights()` (and its `temperature`, `max_completion_length`, `generation_kwargs` attributes) is an
engine here, which is how the CPU tests run this module (an engine on Hugging Face generate).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from agentrl.rollout.generator import Generation, cut_at_stop

# (prompts, responses) -> (policy log-probs, policy entropies) of each response's tokens
Scorer = Callable[[Sequence[Sequence[int]], Sequence[Sequence[int]]], tuple[list[list[float]], list[list[float]]]]


@contextmanager
def engine_settings(engine: Any, **settings: Any) -> Iterator[None]:
    """Set `VLLMGeneration` attributes (read on every generate call) for one call, then restore them."""
    saved = {name: getattr(engine, name) for name in settings}
    for name, value in settings.items():
        setattr(engine, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(engine, name, value)


def is_collective(engine: Any) -> bool:
    """Server mode gathers every rank's prompts; colocate with tensor parallelism gathers its TP group's."""
    return engine.mode == "server" or engine.tensor_parallel_size > 1


def sampled_logprobs(row: Sequence[Sequence[float | None]]) -> list[float]:
    """One response's sampling log-probs: with logprobs=0 each token's list holds the sampled token's alone
    (None, here NaN, when vLLM had none)."""
    return [math.nan if lp[0] is None else float(lp[0]) for lp in row]


class VLLMGenerator:
    """One turn of every live episode through vLLM; ranks stay in lockstep when generation is collective.

    `max_over_ranks(n)` is the largest n over all ranks (a collective). With a collective engine, a rank whose
    episodes have all ended keeps joining the calls until every rank is done, and every rank sends the same
    number of prompts: TRL hands rank r the outputs r * n .. (r + 1) * n - 1 of the gathered batch, which
    is right only if n is the same on every rank. Ranks with fewer live episodes pad with a one-token prompt
    and drop its output.

    `stop_ids` (rollout/generator.py `stop_token_ids`) go to vLLM as the sampling params' `stop_token_ids`, so a
    turn stops on each of them whatever the served model folder's generation config declares, and mark the turns
    that ended on none of them as truncated.
    """

    def __init__(
        self,
        engine: Any,
        stop_ids: Sequence[int],
        max_new_tokens: int,
        temperature: float,
        score: Scorer | None,
        max_over_ranks: Callable[[int], int] | None = None,
    ):
        self.engine = engine
        self.stop_ids = list(stop_ids)
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.score = score
        self.lockstep = is_collective(engine) and max_over_ranks is not None
        self._max_over_ranks = max_over_ranks
        self._filler = [self.stop_ids[0]]  # the padding prompt

    def keep_going(self, running: bool) -> bool:
        return self._max_over_ranks(int(running)) > 0 if self.lockstep else running

    def generate(self, prompts: Sequence[Sequence[int]]) -> list[Generation]:
        if not prompts and not self.lockstep:
            return []
        sent = [list(p) for p in prompts]
        if self.lockstep:
            sent += [self._filler] * (self._max_over_ranks(len(sent)) - len(sent))
        # vLLM adds these to the served model's own EOS ids (SamplingParams.stop_token_ids); the user's kwargs stay
        kwargs = {**self.engine.generation_kwargs, "stop_token_ids": self.stop_ids}
        settings = {"max_completion_length": self.max_new_tokens, "temperature": self.temperature}
        with engine_settings(self.engine, generation_kwargs=kwargs, **settings):
            _, completion_ids, logprobs, _ = self.engine.generate(sent, None, 1)
        completion_ids = completion_ids[: len(prompts)]
        logprobs = logprobs[: len(prompts)] if logprobs is not None else [[[None]] * len(c) for c in completion_ids]
        if not prompts:  # this rank only joined the collective call
            return []
        responses, sampling_logps, truncated = [], [], []
        for ids, row in zip(completion_ids, logprobs, strict=True):
            ids = list(ids)
            length, cut = cut_at_stop(ids, self.stop_ids)
            responses.append(ids[:length])
            sampling_logps.append(sampled_logprobs(row[:length]))
            truncated.append(cut)
        if self.score is None:  # nothing reads rollout entropies: no scoring forward
            return [
                Generation(token_ids=ids, logprobs=logps, entropies=[], truncated=cut)
                for ids, logps, cut in zip(responses, sampling_logps, truncated, strict=True)
            ]
        policy, entropies = self.score(prompts, responses)
        return [
            Generation(token_ids=ids, logprobs=logps, entropies=list(entropy), truncated=cut, policy_logprobs=mine)
            for ids, logps, entropy, cut, mine in zip(
                responses, sampling_logps, entropies, truncated, policy, strict=True
            )
        ]


class ServedWeightsCheck:
    """Fails loudly when a weight sync leaves vLLM's model unchanged although the policy moved.

    After every sync the engine samples a few tokens of a fixed probe prompt with a fixed seed. If the
    policy's log-probs of the baseline probe's tokens moved by more than `policy_tolerance` (mean, nats)
    since the baseline, yet vLLM returns the very same tokens with bitwise the same log-probs, the served
    weights did not change: a LoRA adapter not merged, a wrong parameter name, a sync to the wrong engine.
    The baseline moves on only when the served answer changes, so small updates add up against it. Also
    reports how far vLLM's log-probs of the probe are from the policy's (the sampler mismatch).
    """

    def __init__(self, probe_ids: Sequence[int], tokens: int = 8, seed: int = 1234, policy_tolerance: float = 1e-4):
        self.probe_ids = list(probe_ids)
        self.tokens = tokens
        self.seed = seed
        self.policy_tolerance = policy_tolerance
        self._previous: tuple[list[int], list[float], list[float]] | None = None  # tokens, served, policy

    def _sample_probe(self, engine: Any, temperature: float) -> tuple[list[int], list[float]]:
        kwargs = {**engine.generation_kwargs, "seed": self.seed}
        with engine_settings(
            engine, max_completion_length=self.tokens, temperature=temperature, generation_kwargs=kwargs
        ):
            _, completion_ids, logprobs, _ = engine.generate([self.probe_ids], None, 1)
        return list(completion_ids[0]), sampled_logprobs(logprobs[0])

    def __call__(self, engine: Any, temperature: float, score: Scorer) -> dict[str, float]:
        tokens, served = self._sample_probe(engine, temperature)
        policy = score([self.probe_ids], [tokens])[0][0] if tokens else []
        metrics = {"vllm/probe_logp_mismatch": _mean_abs(served, policy)}
        if self._previous is not None:
            old_tokens, old_served, old_policy = self._previous
            policy_moved = _mean_abs(score([self.probe_ids], [old_tokens])[0][0], old_policy) if old_tokens else 0.0
            metrics["vllm/probe_policy_shift"] = policy_moved
            served_unchanged = tokens == old_tokens and served == old_served
            if served_unchanged and policy_moved > self.policy_tolerance:
                raise RuntimeError(
                    "vLLM weight sync did not change the served model: after the sync vLLM gives bitwise the same "
                    f"log-probs for the probe as before, while the policy's moved by {policy_moved:.2e} nats per "
                    "token. Rollouts would come from stale weights. Check that the engine receives the trained "
                    "weights (LoRA merged, parameter names vLLM knows, the right server / group port)."
                )
            if served_unchanged:  # keep the baseline: the policy's drift accumulates against it
                return metrics
        self._previous = (tokens, served, policy)
        return metrics


def _mean_abs(a: Sequence[float], b: Sequence[float]) -> float:
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if not (math.isnan(x) or math.isnan(y))]
    return sum(abs(x - y) for x, y in pairs) / len(pairs) if pairs else 0.0
