"""A stand-in for TRL's `VLLMGeneration` on Hugging Face generate, for the CPU tests of the vLLM backend.

vLLM runs on CUDA only, so its engine cannot run here. This engine keeps the contract agentrl relies on:
`generate(prompts, images, num_generations)` -> (prompt_ids, completion_ids, logprobs, logprob_token_ids)
with one [sampled log-prob] per token (vLLM's logprobs=0), the attributes read per call (temperature,
max_completion_length, generation_kwargs with an optional per-request seed and `stop_token_ids`, which stop a
completion besides the served model's own EOS ids, as vLLM's SamplingParams do), and `sync_weights()`, which
copies what `_iter_named_params()` streams into the engine's own model by name (vLLM holds its own copy and
refuses a weight it has no parameter for). `broken_sync` makes
the sync a no-op (what the served-weights check must catch). `collective` works as TRL's server mode does:
every rank's prompts are gathered, the main process generates them all, the outputs are broadcast, and
rank r keeps outputs r * n .. (r + 1) * n - 1, n being its own number of prompts.
"""

from __future__ import annotations

import copy

import torch
import torch.distributed as dist

from agentrl.rollout.generator import HFGenerator, stop_token_ids


class HFEngine:
    def __init__(self, policy, tokenizer, served=None, temperature=1.0, broken_sync=False, collective=False):
        self.policy = policy
        self.tokenizer = tokenizer
        # The engine's own copy of the weights. Pass one taken before GRPOTrainer wraps the policy: TRL patches
        # the policy's forward, and a copy taken afterwards keeps computing with the policy's own weights.
        self.served = (copy.deepcopy(policy) if served is None else served).eval()
        self.temperature = temperature
        self.max_completion_length = 16
        self.generation_kwargs: dict = {}
        self.broken_sync = broken_sync
        self.mode = "server" if collective else "colocate"
        self.tensor_parallel_size = 1
        self.syncs = 0
        self.calls: list[int] = []  # prompts per generate call

    def _iter_named_params(self):
        """What TRL's sync streams, for an unsharded model without LoRA: the policy's parameters by name."""
        yield from self.policy.named_parameters()

    @torch.no_grad()
    def sync_weights(self):
        self.syncs += 1
        if self.broken_sync:
            return
        served = dict(self.served.named_parameters())
        for name, tensor in self._iter_named_params():
            if name not in served:  # as vLLM's weight loader refuses a weight its model does not have
                raise KeyError(f"the served model has no parameter {name!r}")
            served[name].copy_(tensor)

    @torch.no_grad()
    def generate(self, prompts, images, num_generations):
        assert images is None and num_generations == 1
        self.calls.append(len(prompts))
        if self.mode == "server" and dist.is_initialized():
            gathered = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, [list(p) for p in prompts])  # every rank must make this call
            payload = [self._generate([p for part in gathered for p in part]) if dist.get_rank() == 0 else None]
            dist.broadcast_object_list(payload, src=0)
            mine = slice(dist.get_rank() * len(prompts), (dist.get_rank() + 1) * len(prompts))
            return tuple(part[mine] for part in payload[0])
        return self._generate(prompts)

    def _generate(self, prompts):
        if not prompts:
            return [], [], [], []
        # vLLM stops on the served model's EOS ids (tokenizer and generation config) and on the request's stop ids
        stops = stop_token_ids(self.tokenizer, self.served.generation_config)
        stops += [i for i in self.generation_kwargs.get("stop_token_ids") or [] if i not in stops]
        generator = HFGenerator(
            self.served, self.tokenizer, self.max_completion_length, self.temperature, stop_ids=stops
        )
        seed = self.generation_kwargs.get("seed")
        with torch.random.fork_rng(enabled=seed is not None):  # a seeded request leaves the global stream alone
            if seed is not None:
                torch.manual_seed(seed)
            out = generator.generate(prompts)
        completions = [g.token_ids for g in out]
        logprobs = [[[lp] for lp in g.logprobs] for g in out]
        return [list(p) for p in prompts], completions, logprobs, [None] * len(prompts)
