"""Generation backends behind one small interface: token ids in, token ids + logprobs + entropies out.

`HFGenerator` runs one batched `model.generate` call for all live episodes of a turn; `VLLMGenerator`
(vllm_backend.py) does the same through TRL's vLLM integration.

A turn ends on any of the model's stop ids (`stop_token_ids`: every id of its generation config's
`eos_token_id`, as TRL gathers them), and a turn that ended on none of them is `truncated`. Both backends,
evaluation, the concat glue and the SFT demonstrations take their stop ids from that one helper.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import torch
from transformers import GenerationConfig, LogitsProcessor, LogitsProcessorList

from agentrl.entropy.measures import entropy_from_log_probs
from agentrl.rollout.samples import pad_sequences


@dataclass
class Generation:
    token_ids: list[int]
    logprobs: list[float]
    entropies: list[float]  # empty when the backend measured none (vLLM with nothing reading them)
    truncated: bool  # stopped by the token budget, not by a stop id
    policy_logprobs: list[float] | None = None  # the trainer policy's own log-probs, when a scoring pass ran


def stop_token_ids(tokenizer, generation_config=None) -> list[int]:
    """Every id that ends a generated turn, gathered as TRL's GRPOTrainer does (trl 1.16, `GRPOTrainer.__init__`):
    the ids of `generation_config.eos_token_id` (an int, a list or None), with the tokenizer's EOS in front when
    it is not among them. Qwen2.5/Qwen3-Instruct declare <|im_end|> and <|endoftext|>; Llama-3.1-Instruct
    <|end_of_text|>, <|eom_id|> and <|eot_id|>. Pass the policy's `model.generation_config`; without one only
    the tokenizer's EOS stops a turn."""
    declared = getattr(generation_config, "eos_token_id", None)
    ids = [] if declared is None else [declared] if isinstance(declared, int) else list(declared)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids = [tokenizer.eos_token_id, *ids]
    return ids


def cut_at_stop(ids: Sequence[int], stop_ids: Collection[int]) -> tuple[int, bool]:
    """(length to keep, truncated): up to and including the first stop id (the model produced it, it is trained
    on), or everything and truncated=True when no stop id came before the token budget ran out."""
    stop = next((i for i, token in enumerate(ids) if token in stop_ids), None)
    return (len(ids), True) if stop is None else (stop + 1, False)


class Generator(Protocol):
    """What the collector needs: one batched call per turn. A backend whose generate is a collective call
    (vLLM server mode) also defines `keep_going(running: bool) -> bool`, answering for all ranks whether
    any still has live episodes, so that a rank whose episodes have ended keeps joining the calls."""

    def generate(self, prompts: Sequence[Sequence[int]]) -> list[Generation]: ...


class _TokenStatsRecorder(LogitsProcessor):
    """Records, per generated token, log pi(token) and the full-vocabulary entropy of softmax(logits / T).

    Custom processors run before the temperature / top-k / top-p warpers, so `scores` are the model's
    logits (after any repetition penalty): dividing by T gives the policy the trainer optimises (TRL's
    fused head also scores logits / T). Only one (B, V) log-softmax is kept at a time: the sampled
    token of step t is known when step t+1 starts (it is the last input id).
    """

    def __init__(self, temperature: float, record_entropies: bool = True):
        self.temperature = temperature if temperature > 0 else 1.0
        self.record_entropies = record_entropies
        self.logprobs: list[torch.Tensor] = []
        self.entropies: list[torch.Tensor] = []
        self._pending: torch.Tensor | None = None  # log-softmax of the previous step

    def _collect_pending(self, sampled: torch.Tensor) -> None:
        if self._pending is not None:
            self.logprobs.append(self._pending.gather(-1, sampled[:, None]).squeeze(-1))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self._collect_pending(input_ids[:, -1])
        # at least float32 (half-precision logits are widened; a float64 model keeps float64)
        scores_at_least_fp32 = scores.to(torch.promote_types(scores.dtype, torch.float32))
        log_probs = torch.log_softmax(scores_at_least_fp32 / self.temperature, dim=-1)
        if self.record_entropies:  # full vocabulary, nats
            self.entropies.append(entropy_from_log_probs(log_probs))
        else:  # only for measuring the cost of the measurement (scripts/bench_train_step.py)
            self.entropies.append(torch.zeros(log_probs.size(0), device=log_probs.device))
        self._pending = log_probs
        return scores

    def finish(self, last_tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._collect_pending(last_tokens)
        self._pending = None
        return torch.stack(self.logprobs, dim=1), torch.stack(self.entropies, dim=1)


class HFGenerator:
    """Batched sampling with `transformers` generate (left-padded prompts). A turn stops on `stop_ids` (by default
    `stop_token_ids` of the tokenizer and the model's generation config)."""

    def __init__(
        self,
        model,
        tokenizer,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = 0,
        min_p: float | None = None,
        repetition_penalty: float = 1.0,
        record_entropies: bool = True,
        stop_ids: Sequence[int] | None = None,
    ):
        self.model = model
        self.record_entropies = record_entropies
        self.pad_token_id = tokenizer.pad_token_id
        if stop_ids is None:
            stop_ids = stop_token_ids(tokenizer, getattr(model, "generation_config", None))
        self.stop_ids = list(stop_ids)
        sample = temperature > 0
        self.temperature = temperature
        self.generation_config = GenerationConfig(
            max_new_tokens=max_new_tokens,
            do_sample=sample,
            temperature=temperature if sample else None,
            top_p=top_p if sample else None,
            top_k=top_k if sample else None,
            min_p=min_p if sample else None,
            repetition_penalty=repetition_penalty,
            pad_token_id=self.pad_token_id,
            eos_token_id=self.stop_ids,
            bos_token_id=None,
            disable_compile=True,
        )

    @torch.no_grad()
    def generate(self, prompts: Sequence[Sequence[int]]) -> list[Generation]:
        if not prompts:
            return []
        device = next(self.model.parameters()).device
        # Left padding: every prompt ends where generation starts.
        input_ids = pad_sequences(prompts, self.pad_token_id, "left")
        attention_mask = pad_sequences([[1] * len(p) for p in prompts], 0, "left")
        width = input_ids.size(1)
        recorder = _TokenStatsRecorder(self.temperature, self.record_entropies)
        output = self.model.generate(
            input_ids=input_ids.to(device),
            attention_mask=attention_mask.to(device),
            generation_config=self.generation_config,
            logits_processor=LogitsProcessorList([recorder]),
            synced_gpus=False,  # whole weights on every rank (unwrap_for_generation): ranks generate alone
        )
        generated = output[:, width:].cpu()
        logprobs, entropies = (t.cpu() for t in recorder.finish(output[:, -1]))
        results = []
        for row in range(len(prompts)):
            ids = generated[row].tolist()
            length, truncated = cut_at_stop(ids, self.stop_ids)  # generate pads a row that stopped early
            results.append(
                Generation(
                    token_ids=ids[:length],
                    logprobs=logprobs[row, :length].tolist(),
                    entropies=entropies[row, :length].tolist(),
                    truncated=truncated,
                )
            )
        return results


@contextmanager
def unwrap_for_generation(model, accelerator, gather_deepspeed3_params: bool = True, **kwargs) -> Iterator:
    """TRL's `unwrap_model_for_generation`, safe for ranks that generate different numbers of times.

    Under ZeRO-3 TRL gathers the full weights and removes DeepSpeed's per-module hooks, but DeepSpeed's
    top-level pre-forward hook stays, and while its module trace is being (re)recorded it broadcasts to
    the other ranks in the first forwards. With the weights gathered no forward needs another rank, so
    that hook is suspended too: multi-turn rollouts (episodes of different lengths on different ranks)
    and an evaluation on the main process alone generate independently. Elsewhere: TRL's helper as is.
    """
    from trl.models.utils import unwrap_model_for_generation

    from agentrl.trl_seam import forward_pre_hooks

    with unwrap_model_for_generation(
        model, accelerator, gather_deepspeed3_params=gather_deepspeed3_params, **kwargs
    ) as unwrapped:
        offload = getattr(getattr(model, "optimizer", None), "parameter_offload", None)  # ZeRO-3 engines only
        handle = getattr(offload, "fwd_pre_hook", None)
        hook = None
        if gather_deepspeed3_params and handle is not None:
            hook = forward_pre_hooks(unwrapped).pop(handle.id, None)
        try:
            yield unwrapped
        finally:
            if hook is not None:  # back in first place, where DeepSpeed registered it
                forward_pre_hooks(unwrapped)[handle.id] = hook
                forward_pre_hooks(unwrapped).move_to_end(handle.id, last=False)
