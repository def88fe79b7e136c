"""AgentGRPOTrainer: TRL's GRPOTrainer trained on multi-turn episodes, one row per step.

What changes from TRL, and where:
- `_generate_and_score_completions`: instead of one completion per prompt, the dataset rows are task
  ids (each repeated `num_generations` times by TRL's RepeatSampler, so a group shares a task); the
  collector plays every episode to the end and each step becomes a training row with its recorded
  prompt and response ids. The episode's group advantage is broadcast to its steps.
- `training_step`: the number of rows varies with episode length, so the update walks the rows in
  micro-batches of `micro_batch_rows` and accumulates gradients, weighting each micro-batch so the sum
  equals TRL's loss over the whole batch at once (exact token-mean / sequence-mean denominators).
- Everything else, the policy loss included (`loss_type` grpo | dapo | dr_grpo | bnpo | ...,
  clip-higher, KL, entropy bonus), is TRL's own `_compute_loss`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from functools import cached_property, partial
from typing import Any

import torch
from accelerate.utils import gather_object
from datasets import Dataset
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints
from trl import GRPOTrainer
from trl.extras.profiling import profiling_context
from trl.trainer.utils import use_adapter

from agentrl.algorithms import (
    CreditBatch,
    anchor_groups,
    compute_advantages,
    empg_terms,
    equal_episode_weights,
    group_stats,
    informative_groups,
    overlong_penalty,
    top_variance_groups,
)
from agentrl.algorithms.distributed import (
    global_count,
    global_max,
    global_mean,
    global_min,
    global_sum,
    sum_over_ranks,
)
from agentrl.algorithms.importance import importance_sampling_ratio, sampler_mismatch
from agentrl.algorithms.seal import seal_labels
from agentrl.checkpoints import mark_checkpoint_complete, unmark_checkpoint
from agentrl.config import AgentRLConfig
from agentrl.entropy import EntropyMonitor, EruptionDetector, degeneration_counts, entropy_metrics, make_controller
from agentrl.rollout import HFGenerator, PromptBuilder, RolloutCollector, concat_rows, per_step_rows
from agentrl.rollout.chat import first_difference, template_report
from agentrl.rollout.episode import Episode, tool_call_counts
from agentrl.rollout.generator import stop_token_ids, unwrap_for_generation
from agentrl.rollout.samples import loss_mask, pad_sequences
from agentrl.rollout.vllm_backend import ServedWeightsCheck, VLLMGenerator, leave_out_of_sync
from agentrl.seal_capture import HEAD_NAME, SealCapture, attach_seal_head
from agentrl.envs.base import TextEnv

logger = logging.getLogger(__name__)

# How TRL's `_compute_loss` normalises each loss type, hence how a micro-batch's loss is re-weighted.
_PER_ROW_MEAN = {"grpo", "sapo", "dr_grpo", "luspo"}  # divides by the rows in the micro-batch
_PER_TOKEN_MEAN = {"bnpo"}  # divides by the loss tokens in the micro-batch
_GLOBAL_TOKEN_MEAN = {"dapo", "cispo", "vespo"}  # divides by num_items_in_batch (all loss tokens, all ranks)


def environment_return(episodes: list[Episode], **kwargs) -> list[float]:
    """Reward function: each episode's return (env rewards minus invalid-format penalties)."""
    return [episode.total_reward for episode in episodes]


class AgentGRPOTrainer(GRPOTrainer):
    _tag_names = ["trl", "grpo", "agentrl"]

    def __init__(
        self,
        model,
        args: AgentRLConfig,
        env_factory: Callable[[], TextEnv],
        processing_class=None,
        reward_funcs: list[Callable[..., list[float]]] | None = None,
        train_task_ids: list[str] | None = None,
        peft_config=None,
        callbacks=None,
        shifted_env_factory: Callable[[], TextEnv] | None = None,
    ):
        self.env_factory = env_factory
        self.shifted_env_factory = shifted_env_factory  # used from update `args.env_shift_step` on
        if train_task_ids is None:
            train_task_ids = env_factory().task_ids("train")
        self._train_task_ids = list(train_task_ids)  # dynamic sampling draws extra tasks from these
        train_dataset = Dataset.from_dict({"prompt": self._train_task_ids})
        if args.seal:
            peft_config = self._prepare_seal_head(model, args, peft_config)
        super().__init__(
            model=model,
            reward_funcs=reward_funcs or [environment_return],
            args=args,
            train_dataset=train_dataset,
            processing_class=processing_class,
            peft_config=peft_config,
            callbacks=callbacks,
        )
        if self.use_vllm and args.seal:  # vLLM serves the language model alone
            leave_out_of_sync(self.vllm_generation, HEAD_NAME)
        self.prompt_builder = PromptBuilder(self._tokenizer, args.history_length, args.prompt_template)
        if args.trajectory_format == "concat":
            self._check_chat_template()
        self.collector = self._make_collector(env_factory)
        self._update_inputs: dict[str, Any] | None = None
        # TRL's loss reads this (HF sets it inside its loop); agentrl never accumulates across dataloader batches.
        self.current_gradient_accumulation_steps = 1
        self.entropy_monitor = EntropyMonitor(
            make_controller(args),
            EruptionDetector(
                window=args.eruption_window,
                min_rise=args.eruption_min_rise,
                rel_rise=args.eruption_rel_rise,
                noise_z=args.eruption_noise_z,
            ),
            pulse_on_descent=args.pulse_on_descent,
            pulse_repeat_action_rate=args.pulse_repeat_action_rate,
            pulse_on_zero_signal=args.pulse_on_zero_signal,
        )
        self.set_update_entropy_coef(0.0)
        # The hook also runs with SEAL off: seal/centroid_cosine is logged as a diagnostic either way.
        self.seal_capture = SealCapture(self.model, args, self.accelerator.num_processes)

    def _check_chat_template(self) -> None:
        """concat: say (or stop, per concat_template_check) if the template re-renders history differently."""
        if self.args.concat_template_check == "off":
            return
        stop_ids = stop_token_ids(self._tokenizer, self.model.generation_config)
        report = template_report(self._tokenizer, stop_ids=stop_ids)
        if report is None:
            return
        if self.args.concat_template_check == "error":
            raise ValueError(report + " Set concat_template_check: warn to train anyway.")
        logger.warning(report)

    @staticmethod
    def _prepare_seal_head(model, args: AgentRLConfig, peft_config):
        """Attach the SEAL head to the policy before TRL wraps it; under LoRA, train and save it with the adapter."""
        if isinstance(model, str):
            raise ValueError("seal: pass the policy as a loaded model (agentrl train does), not a hub id string")
        attach_seal_head(model, args.seal_head_layers, args.seed)
        if peft_config is not None:
            saved = list(peft_config.modules_to_save or [])
            if HEAD_NAME not in saved:  # without it PEFT would freeze the head
                peft_config.modules_to_save = saved + [HEAD_NAME]
        return peft_config

    def set_update_entropy_coef(self, coef: float) -> None:
        """The entropy-bonus coefficient of the coming update (from the controller).

        The bonus runs through TRL's own term (loss -= entropy_coef * mean H over model tokens), switched
        on only while coef != 0, so a run without a bonus computes exactly what it did before; agentrl sets
        entropy_coef per micro-batch so the sum over micro-batches is exactly coef * (token-mean H of the
        whole batch). See `_micro_batch_entropy_coef`.
        """
        self._update_entropy_coef = coef
        self._entropy_bonus_enabled = coef != 0.0
        self.entropy_coef = 0.0

    # ------------------------------------------------------------------ rollouts -> training rows
    def _make_collector(self, env_factory: Callable[[], TextEnv]) -> RolloutCollector:
        return RolloutCollector(
            env_factory,
            self.prompt_builder,
            self.args.invalid_format_penalty,
            env_workers=self.args.env_workers,
            env_step_timeout_s=self.args.env_step_timeout_s,
            trajectory_format=self.args.trajectory_format,
            max_episode_tokens=self.args.max_episode_tokens,
            max_turn_tokens=self.max_completion_length,
        )

    def _shift_environment_if_due(self) -> None:
        """Non-stationary training: rebuild the environments once `env_shift_step` updates are done."""
        step = self.args.env_shift_step
        if step is None or self.env_factory is self.shifted_env_factory or self.state.global_step < step:
            return
        if self.shifted_env_factory is None:
            raise ValueError("env_shift_step is set but the trainer was given no shifted_env_factory")
        logger.info("update %d: the environment shifts (%s)", self.state.global_step, self.args.env_shift_kwargs)
        self.collector.close()
        self.env_factory = self.shifted_env_factory
        self.collector = self._make_collector(self.env_factory)

    def make_generator(self, model, temperature: float | None = None) -> HFGenerator | VLLMGenerator:
        temperature = self.temperature if temperature is None else temperature
        if self.use_vllm:  # TRL built the engine (colocate or server) from the vllm_* fields
            return VLLMGenerator(
                self.vllm_generation,
                stop_token_ids(self._tokenizer, model.generation_config),  # TRL's self.eos_token_ids, same rule
                max_new_tokens=self.max_completion_length,
                temperature=temperature,
                score=partial(self._score_responses, model),
                max_over_ranks=self._max_over_ranks,
            )
        return HFGenerator(
            model,
            self._tokenizer,
            max_new_tokens=self.max_completion_length,
            temperature=temperature,
            top_p=self.top_p,
            top_k=self.top_k or 0,
            min_p=self.min_p,
            repetition_penalty=self.repetition_penalty,
        )

    def collect_episodes(self, task_ids: list[str], group_ids: list[int]) -> list[Episode]:
        """Play one episode per task id with the current policy (sampling at `temperature`)."""
        synced = self._sync_vllm_weights()
        with (
            unwrap_for_generation(
                self.model_wrapped,
                self.accelerator,
                gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs,
            ) as unwrapped_model,
            torch.no_grad(),
        ):
            generator = self.make_generator(unwrapped_model)
            if synced and self.args.vllm_sync_check:
                metrics = self._metrics["train" if self.model.training else "eval"]
                probe = self.served_weights_check(generator.engine, self.temperature, generator.score)
                for name, value in probe.items():
                    metrics[name].append(value)
            return self.collector.collect(generator, task_ids, group_ids)

    # ------------------------------------------------------------------ vLLM rollouts
    def _sync_vllm_weights(self) -> bool:
        """Push the policy's weights (LoRA merged) to vLLM once per optimizer step, before its first rollout."""
        if not self.use_vllm or self.state.global_step == self._last_loaded_step:
            return False
        with profiling_context(self, "sync_weights"):
            self.vllm_generation.sync_weights()  # TRL's: gathers ZeRO-3 / FSDP shards, merges LoRA, renames
        self._last_loaded_step = self.state.global_step
        return True

    @cached_property
    def served_weights_check(self) -> ServedWeightsCheck:
        probe = self._tokenizer("You are in the middle of a room. Your task is to", add_special_tokens=False)
        return ServedWeightsCheck(probe["input_ids"])

    def _max_over_ranks(self, value: int) -> int:
        return int(global_max(torch.tensor([value], device=self.accelerator.device)))

    def _score_responses(
        self, model, prompts: list[list[int]], responses: list[list[int]]
    ) -> tuple[list[list[float]], list[list[float]]]:
        """The policy's log-probs and full-vocabulary entropies (at the sampling temperature) of each response."""
        if not responses:
            return [], []
        device, pad = self.accelerator.device, self._tokenizer.pad_token_id
        ones = [[1] * len(p) for p in prompts], [[1] * len(r) for r in responses]
        input_ids = torch.cat([pad_sequences(prompts, pad, "left"), pad_sequences(responses, pad, "right")], 1)
        attention_mask = torch.cat([pad_sequences(ones[0], 0, "left"), pad_sequences(ones[1], 0, "right")], 1)
        width = max(len(r) for r in responses)
        logps, entropies, _ = self._get_per_token_logps_and_entropies(
            model,
            input_ids.to(device),
            attention_mask.to(device),
            width,
            batch_size=self.args.micro_batch_rows,
            compute_entropy=True,
        )
        return (
            [row[: len(r)] for row, r in zip(logps.float().cpu().tolist(), responses, strict=True)],
            [row[: len(r)] for row, r in zip(entropies.float().cpu().tolist(), responses, strict=True)],
        )

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        if self.model.training:
            self._shift_environment_if_due()
        device = self.accelerator.device
        task_ids = [row["prompt"] for row in inputs]
        for start in range(0, len(task_ids), self.num_generations):
            if len(set(task_ids[start : start + self.num_generations])) != 1:
                raise RuntimeError(
                    "a rollout group mixes tasks: the sampler must repeat each task num_generations times"
                )

        started = time.perf_counter()
        episodes = self.collect_episodes(task_ids, self._group_ids(len(task_ids), generation_round=0))
        # The reward functions run once per episode; each episode's return travels with it from here on.
        # Rewards over the global batch (groups are whole on each rank; "batch" scaling and the logged
        # statistics need every rank's episodes). The metrics describe this first round of rollouts.
        local_returns = self._episode_returns(episodes)
        returns = self.accelerator.gather(local_returns.to(device)).cpu()
        all_group_ids = self.accelerator.gather(torch.tensor([e.group_id for e in episodes], device=device)).cpu()
        first_round, metrics = episodes, {}
        if self.model.training and self.args.dynamic_sampling:
            episodes, local_returns, metrics = self._dynamic_sampling(episodes, returns, all_group_ids)
        if self.model.training and self.args.starpo_keep_fraction < 1.0:
            episodes, local_returns, starpo = self._keep_high_variance_groups(episodes, local_returns)
            metrics.update(starpo)
        rollout_seconds = time.perf_counter() - started

        step_advantages, credit = self._step_advantages(episodes, local_returns)
        metrics.update(credit)
        concat = self.args.trajectory_format == "concat"
        rows = (concat_rows if concat else per_step_rows)(
            episodes,
            step_advantages.tolist(),
            pad_token_id=self._tokenizer.pad_token_id,
            mask_truncated=self.mask_truncated_completions,
        )
        rows.update(self._seal_rows(episodes, rows, local_returns, _row_advantages(episodes, step_advantages, concat)))
        rows = {key: value.to(device) for key, value in rows.items()}
        trained = loss_mask(rows)
        rows["num_items_in_batch"] = self.accelerator.gather(trained.sum()).sum()
        rows["num_rows_in_batch"] = self.accelerator.gather(torch.tensor(trained.size(0), device=device)).sum()
        self._add_policy_logps(rows)
        self._log_rollout_metrics(first_round, returns, all_group_ids, rollout_seconds)
        mode = "train" if self.model.training else "eval"
        # rows that can move the weights (read by agentrl.signal_watch.ZeroSignalWarning)
        trainable = (rows["advantages"].ne(0).any(dim=1) & trained.bool().any(dim=1)).sum()
        metrics["rollout/trainable_rows"] = self.accelerator.gather(trainable).sum().item()
        for name, value in metrics.items():
            self._metrics[mode][name].append(value)
        return rows

    def _seal_rows(
        self, episodes: list[Episode], rows: dict[str, Any], returns: torch.Tensor, row_advantages: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Per row: the SEAL unit (local id), its 0/1 label and task group; for the batch: N units, both classes.

        A unit is a trajectory segment of at most micro_batch_rows steps (seal_pooling: trajectory) or a step.
        Labels: success = the episode was won; reward = its return > seal_label_threshold; advantage = its mean
        step advantage > 0 (trajectory) or the step's advantage > 0 (step). Computed with SEAL off too (for the
        seal/centroid_cosine diagnostic). `row_advantages`: one per row (concat: the episode's mean step advantage).
        """
        episode_of_row, step_of_row = rows["episode_index"], rows["step_index"]
        if self.args.seal_pooling == "step":
            keys = torch.arange(episode_of_row.numel())
        else:
            keys = episode_of_row * (int(step_of_row.max()) + 1 if step_of_row.numel() else 1)
            keys = keys + step_of_row // self.args.micro_batch_rows
        _, units = torch.unique_consecutive(keys, return_inverse=True)  # rows are in episode, then step order
        rule = self.args.seal_label
        if rule == "advantage" and self.args.seal_pooling != "step":
            sums = torch.zeros(len(episodes)).index_add(0, episode_of_row, row_advantages.float())
            counts = torch.zeros(len(episodes)).index_add(0, episode_of_row, torch.ones(episode_of_row.numel()))
            advantages = (sums / counts.clamp(min=1))[episode_of_row]
        else:
            advantages = row_advantages.float()
        labels = seal_labels(
            rule,
            won=torch.tensor([float(e.won) for e in episodes])[episode_of_row] if episodes else torch.zeros(0),
            rewards=returns.float()[episode_of_row] if episodes else torch.zeros(0),
            advantages=advantages,
            threshold=self.args.seal_label_threshold,
        )
        # units with at least one trained token (the pooled mean needs one); labels and counts over all ranks
        count = int(units.max()) + 1 if units.numel() else 0
        tokens = torch.zeros(count).index_add(0, units, loss_mask(rows).sum(1).float())
        unit_labels = torch.zeros(count).scatter(0, units, labels)
        counted = tokens > 0
        device = self.accelerator.device
        totals = sum_over_ranks(
            torch.tensor([float(counted.sum()), float(unit_labels[counted].sum())], device=device, dtype=torch.float64)
        )
        units_in_batch, positives = totals.tolist()
        groups = torch.tensor([e.group_id for e in episodes], dtype=torch.long)[episode_of_row] if episodes else units
        return {
            "seal_units": units,
            "seal_labels": labels,
            "seal_groups": groups,
            "seal_units_in_batch": torch.tensor(units_in_batch),
            "seal_both_classes": torch.tensor(0 < positives < units_in_batch),
        }

    def _group_ids(self, count: int, generation_round: int) -> list[int]:
        """Global group ids of this rank's `count` episodes: unique over ranks and generation rounds."""
        local_groups = count // self.num_generations
        first = (generation_round * self.accelerator.num_processes + self.accelerator.process_index) * local_groups
        return [first + index // self.num_generations for index in range(count)]

    # ------------------------------------------------------------------ credit assignment
    def _gather_per_rank(self, values: list) -> tuple[list, slice]:
        """Every rank's `values` concatenated in rank order (counts may differ) and the slice that is this rank's."""
        if self.accelerator.num_processes == 1:
            return list(values), slice(0, len(values))
        per_rank = gather_object([list(values)])
        offset = sum(len(v) for v in per_rank[: self.accelerator.process_index])
        return [x for v in per_rank for x in v], slice(offset, offset + len(values))

    def _step_penalties(self, episodes: list[Episode]) -> list[list[float]]:
        """DAPO soft overlong punishment of every step response (0 everywhere when switched off)."""
        if self.args.overlong_buffer_length == 0:
            return [[0.0] * episode.length for episode in episodes]
        lengths = [torch.tensor([len(s.response_ids) for s in episode.steps]) for episode in episodes]
        factor = self.args.overlong_penalty_factor
        return [
            (factor * overlong_penalty(length, self.max_completion_length, self.args.overlong_buffer_length)).tolist()
            for length in lengths
        ]

    def _step_advantages(
        self, episodes: list[Episode], episode_returns: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Per-step advantages of this rank's episodes (in episode, then step order) and their metrics.

        `episode_returns` are the episodes' returns from the reward functions (`_episode_returns`).

        base estimator (episode statistics over every rank) -> EMPG (batch statistics over every rank)
        -> equal episode weight.
        """
        penalties = self._step_penalties(episodes)
        local_returns = episode_returns + torch.tensor([sum(p) for p in penalties])
        records, local = self._gather_per_rank(
            [(r, e.group_id, e.length) for r, e in zip(local_returns.tolist(), episodes, strict=True)]
        )
        returns = torch.tensor([r[0] for r in records], dtype=torch.float32)
        steps = [(local.start + n, t, step) for n, e in enumerate(episodes) for t, step in enumerate(e.steps)]
        anchors: dict[tuple, int] = {}
        batch = CreditBatch(
            returns=returns,
            group_ids=torch.tensor([r[1] for r in records], dtype=torch.long),
            step_episode=torch.tensor([n for n, _, _ in steps], dtype=torch.long),
            step_index=torch.tensor([t for _, t, _ in steps], dtype=torch.long),
            step_rewards=torch.tensor(
                [step.reward + penalties[n - local.start][t] for n, t, step in steps], dtype=torch.float32
            ),
            step_anchors=torch.tensor(
                [anchors.setdefault(_anchor_key(step), len(anchors)) for _, _, step in steps], dtype=torch.long
            ),
        )
        advantages = compute_advantages(self.args.advantage_estimator, batch, **self._estimator_options())
        metrics: dict[str, float] = {}
        if self.args.advantage_estimator == "gigpo":
            step_groups = anchor_groups(batch.group_ids[batch.step_episode], batch.step_anchors)
            _, _, sizes = group_stats(torch.ones(len(steps)), step_groups)
            metrics["gigpo/shared_anchor_fraction"] = self._global_mean((sizes > 1).float().tolist())
        if self.args.overlong_buffer_length:
            flat = [p for episode in penalties for p in episode]
            metrics["overlong/penalty_mean"] = self._global_mean(flat)
            metrics["overlong/penalised_fraction"] = self._global_mean([float(p < 0) for p in flat])
        if self.args.empg:
            device = self.accelerator.device  # the collectives of a NCCL group need device tensors
            modulated, g, f = empg_terms(
                advantages.to(device),
                torch.tensor([step.entropy for _, _, step in steps], device=device),
                batch.step_episode.to(device),
                batch.step_index.to(device),
                k=self.args.empg_k,
                k_future=self.args.empg_k_future,
                zeta=self.args.empg_zeta,
            )
            advantages = modulated.cpu()
            metrics.update(_distribution_metrics("empg/g", g) | _distribution_metrics("empg/f", f))
        if self.args.equal_episode_weight:
            lengths = torch.tensor([r[2] for r in records])
            advantages = advantages * equal_episode_weights(lengths)[batch.step_episode]
        metrics.update(_distribution_metrics("advantages/step", advantages.to(self.accelerator.device)))
        return advantages, metrics

    def _estimator_options(self) -> dict[str, Any]:
        name = self.args.advantage_estimator
        if name == "grpo":
            return {"scale_rewards": self.scale_rewards}
        if name == "gigpo":
            return {
                "scale_rewards": self.scale_rewards,
                "step_advantage_weight": self.args.step_advantage_weight,
                "gamma": self.args.gamma,
                "step_norm": self.args.gigpo_step_norm,
            }
        return {}

    # ------------------------------------------------------------------ group filters
    def _dynamic_sampling(
        self, episodes: list[Episode], returns: torch.Tensor, group_ids: torch.Tensor
    ) -> tuple[list[Episode], torch.Tensor, dict[str, float]]:
        """DAPO dynamic sampling: keep informative groups, roll out new tasks until the batch is full.

        Takes the first round's episodes with the global returns and group ids; returns the kept episodes of
        this rank, their returns and the metrics.

        Every rank runs the same number of rounds (the stop test is on global counts), so collective calls
        stay in step. Extra groups beyond the requested number are dropped, last rank first.
        """
        size = self.num_generations
        wanted = returns.numel() // size  # groups the update asked for, all ranks
        local = slice(
            self.accelerator.process_index * len(episodes), (self.accelerator.process_index + 1) * len(episodes)
        )
        informative = informative_groups(returns, group_ids)
        kept = [
            (e, r)
            for e, r, keep in zip(episodes, returns[local].tolist(), informative[local].tolist(), strict=True)
            if keep
        ]
        dropped = int((~informative).sum()) // size
        rounds = 1
        while self._global_sum(len(kept) // size) < wanted and rounds < self.args.max_generation_rounds:
            task_ids = self._extra_task_ids(len(episodes) // size, rounds)
            more = self.collect_episodes(task_ids, self._group_ids(len(task_ids), generation_round=rounds))
            device = self.accelerator.device
            more_returns = self.accelerator.gather(self._episode_returns(more).to(device)).cpu()
            more_groups = self.accelerator.gather(torch.tensor([e.group_id for e in more], device=device)).cpu()
            informative = informative_groups(more_returns, more_groups)
            kept += [
                (e, r)
                for e, r, keep in zip(more, more_returns[local].tolist(), informative[local].tolist(), strict=True)
                if keep
            ]
            dropped += int((~informative).sum()) // size
            rounds += 1
        counts, _ = self._gather_per_rank([len(kept) // size])
        before = sum(counts[: self.accelerator.process_index])
        keep_here = max(0, min(counts[self.accelerator.process_index], wanted - before))
        kept = kept[: keep_here * size]
        kept_returns = torch.tensor([r for _, r in kept], dtype=returns.dtype)
        return (
            [e for e, _ in kept],
            kept_returns,
            {
                "dapo/generation_rounds": float(rounds),
                "dapo/dropped_groups": float(dropped),
                "dapo/kept_groups": float(min(sum(counts), wanted)),
                "dapo/filled_fraction": min(sum(counts), wanted) / max(wanted, 1),
            },
        )

    def _global_sum(self, count: int) -> int:
        """`count` summed over every rank."""
        return int(global_sum(torch.tensor([count], device=self.accelerator.device)).item())

    def _extra_task_ids(self, groups: int, generation_round: int) -> list[str]:
        """Fresh training tasks for a dynamic-sampling round, each repeated num_generations times.

        Drawn uniformly from the training tasks with a generator seeded by (seed, update, round, rank): a
        resumed or repeated run draws the same tasks.
        """
        ranks = self.accelerator.num_processes
        stream = (self.state.global_step * self.args.max_generation_rounds + generation_round) * ranks
        generator = torch.Generator().manual_seed(self.args.seed * 1_000_003 + stream + self.accelerator.process_index)
        picks = torch.randint(len(self._train_task_ids), (groups,), generator=generator).tolist()
        return [self._train_task_ids[p] for p in picks for _ in range(self.num_generations)]

    def _keep_high_variance_groups(
        self, episodes: list[Episode], episode_returns: torch.Tensor
    ) -> tuple[list[Episode], torch.Tensor, dict[str, float]]:
        """StarPO-S: keep the top `starpo_keep_fraction` of groups (all ranks) by return std."""
        records, local = self._gather_per_rank(
            [(r, e.group_id) for r, e in zip(episode_returns.tolist(), episodes, strict=True)]
        )
        returns = torch.tensor([r[0] for r in records], dtype=torch.float32)
        groups = torch.tensor([r[1] for r in records], dtype=torch.long)
        keep = top_variance_groups(returns, groups, self.args.starpo_keep_fraction)
        mine = keep[local]
        kept = [e for e, k in zip(episodes, mine.tolist(), strict=True) if k]
        return kept, episode_returns[mine], {"starpo/kept_groups": float(keep.sum()) / self.num_generations}

    def _monitor_entropy(self, episodes: list[Episode], zero_signal: bool) -> dict[str, float]:
        """Entropy statistics, degeneration rates, eruption phase and the entropy coefficient of this update.

        Every input is gathered from all ranks first, so each rank computes the same phase and coefficient.
        """
        local = [(step.entropy, turn, e.won) for e in episodes for turn, step in enumerate(e.steps)]
        records = gather_object(local) if self.accelerator.num_processes > 1 else local
        steps = [step for episode in episodes for step in episode.steps]
        token_sums = torch.tensor(
            [sum(sum(s.entropies) for s in steps), sum(len(s.entropies) for s in steps)],
            dtype=torch.float64,
            device=self.accelerator.device,
        )
        token_sums = self.accelerator.reduce(token_sums, reduction="sum").tolist()
        metrics = entropy_metrics(
            [r[0] for r in records], [r[1] for r in records], [r[2] for r in records], token_sums[0], token_sums[1]
        )
        counts = degeneration_counts(episodes)
        totals = torch.tensor(list(counts.values()), dtype=torch.float64, device=self.accelerator.device)
        totals = self.accelerator.reduce(totals, reduction="sum").tolist()
        for name, (numerator, denominator) in zip(counts, totals, strict=True):
            metrics[name] = numerator / max(denominator, 1.0)
        if self.model.training:
            step_mean = metrics.get("entropy/step_mean", metrics["entropy/token_mean"])
            coef, control = self.entropy_monitor.update(step_mean, metrics["degen/repeat_action_rate"], zero_signal)
            self.set_update_entropy_coef(coef)
            metrics.update(control)
        return metrics

    def _episode_returns(self, episodes: list[Episode]) -> torch.Tensor:
        """R_i = sum_k w_k * reward_func_k(episodes)[i] (default: the environment return alone)."""
        returns = torch.zeros(len(episodes))
        for weight, func in zip(self.reward_weights.tolist(), self.reward_funcs, strict=True):
            returns += weight * torch.tensor(func(episodes=episodes), dtype=torch.float32)
        return returns

    def _add_policy_logps(self, rows: dict[str, Any]) -> None:
        """old (for num_iterations > 1) and reference (for beta > 0) log-probs, in no-grad micro-batches."""
        correct = self.use_vllm and self.vllm_importance_sampling_correction
        need_old = self.num_iterations > 1 or correct
        need_ref = self.beta != 0.0
        if not (need_old or need_ref) or rows["completion_ids"].size(0) == 0:
            return
        input_ids = torch.cat([rows["prompt_ids"], rows["completion_ids"]], dim=1)
        attention_mask = torch.cat([rows["prompt_mask"], rows["completion_mask"]], dim=1)
        width = rows["completion_ids"].size(1)
        batch = self.args.micro_batch_rows
        with torch.no_grad():
            if need_old:
                rows["old_per_token_logps"], _, _ = self._get_per_token_logps_and_entropies(
                    self.model, input_ids, attention_mask, width, batch_size=batch
                )
                if correct:
                    self._add_importance_sampling_ratio(rows)
            if need_ref:
                if self.ref_model is not None:
                    rows["ref_per_token_logps"], _, _ = self._get_per_token_logps_and_entropies(
                        self.ref_model, input_ids, attention_mask, width, batch_size=batch
                    )
                else:  # PEFT: the reference is the base model (adapter disabled) or the frozen "ref" adapter
                    unwrapped = self.accelerator.unwrap_model(self.model)
                    with use_adapter(unwrapped, adapter_name="ref" if "ref" in unwrapped.peft_config else None):
                        rows["ref_per_token_logps"], _, _ = self._get_per_token_logps_and_entropies(
                            self.model, input_ids, attention_mask, width, batch_size=batch
                        )

    def _add_importance_sampling_ratio(self, rows: dict[str, Any]) -> None:
        """w = pi_old / mu_vLLM on the trained tokens; TRL's loss multiplies each token's policy loss by it."""
        old, sampled, mask = rows["old_per_token_logps"], rows["sampling_per_token_logps"], loss_mask(rows)
        ratio = importance_sampling_ratio(
            old,
            sampled,
            mask,
            self.vllm_importance_sampling_mode,
            self.vllm_importance_sampling_clip_min,
            self.vllm_importance_sampling_clip_max,
        )
        rows["importance_sampling_ratio"] = ratio
        mode = "train" if self.model.training else "eval"
        trained = ratio[mask.bool()] if ratio.size(1) > 1 else ratio[mask.any(1)].flatten()
        mismatch = sampler_mismatch(old, sampled, mask).double()
        for name, value in (
            ("sampling/sampling_logp_difference/mean", global_mean(mismatch)),
            ("sampling/sampling_logp_difference/max", global_max(mismatch)),
            ("sampling/importance_sampling_ratio/min", global_min(trained.double())),
            ("sampling/importance_sampling_ratio/mean", global_mean(trained.double())),
            ("sampling/importance_sampling_ratio/max", global_max(trained.double())),
        ):
            self._metrics[mode][name].append(value.item())

    # ------------------------------------------------------------------ the update
    def _prepare_inputs(self, generation_batch):
        if not self.model.training:
            return self._generate_and_score_completions(generation_batch)
        # One rollout batch feeds `num_iterations` optimizer steps (TRL's mu), then a new one is collected.
        if self._step % self.num_iterations == 0 or self._update_inputs is None:
            self._update_inputs = self._generate_and_score_completions(generation_batch)
        return self._update_inputs

    def micro_batches(self, rows: dict[str, Any]) -> list[tuple[dict[str, Any], float]]:
        """Split the rows into micro-batches, each with the weight that makes the sum exact.

        Rows are sorted by length first so a micro-batch carries little padding. With several
        processes every micro-batch is padded to exactly `micro_batch_rows` rows with inert rows
        (empty loss mask, advantage 0): TRL gathers per-row tensors, which needs equal shapes.
        """
        size = self.args.micro_batch_rows
        lengths = rows["prompt_mask"].sum(1) + rows["completion_mask"].sum(1)
        if self.args.seal:  # whole SEAL units per micro-batch (a unit has at most `size` rows)
            chunks = _pack_units(rows["seal_units"], lengths.cpu(), size, keep_order=self.args.seal_variant == "supcon")
        else:
            order = torch.argsort(lengths, stable=True)
            if self._zero_advantage_rows_are_inert():
                # Exact shortcut: such a row's loss and gradient are exactly 0; it still counts in the
                # denominators (num_rows_in_batch / num_items_in_batch), so the update is unchanged.
                order = order[rows["advantages"][order].ne(0).any(dim=1)]
            chunks = list(order.split(size)) if order.numel() else []
        result = []
        for chunk in chunks:
            micro = _trim_padding(_select_rows(rows, chunk))
            if self.accelerator.num_processes > 1:
                micro = _pad_rows(micro, size)
            result.append((micro, self._micro_batch_weight(micro, rows)))
        return result

    def _micro_batch_weight(self, micro: dict[str, Any], rows: dict[str, Any]) -> float:
        """Weight of a micro-batch's TRL loss so the weighted sum is TRL's loss over the whole batch.

        Per-row means (grpo, dr_grpo, ...): TRL divides by the B rows of the micro-batch, so the weight is
        B * P / rows_global. Per-token mean (bnpo): tokens_in_micro * P / tokens_global. Global token mean
        (dapo, cispo, vespo): 1, as TRL already divides by num_items_in_batch / P. P = number of processes:
        DDP averages the gradients over ranks.
        """
        processes = self.accelerator.num_processes
        if self.loss_type in _PER_ROW_MEAN:
            return micro["completion_ids"].size(0) * processes / rows["num_rows_in_batch"].item()
        if self.loss_type in _PER_TOKEN_MEAN:
            return loss_mask(micro).sum().item() * processes / max(rows["num_items_in_batch"].item(), 1)
        if self.loss_type in _GLOBAL_TOKEN_MEAN:
            return 1.0
        raise ValueError(f"loss_type {self.loss_type!r} is not supported by agentrl's row micro-batching")

    def _micro_batch_entropy_coef(self, micro: dict[str, Any], weight: float, rows: dict[str, Any]) -> float:
        """TRL's entropy_coef for one micro-batch, so the weighted sum is coef * H over the whole batch.

        TRL adds -entropy_coef * (sum of the micro-batch's token entropies S_m / its tokens n_m); the trainer
        multiplies the micro-batch loss by `weight` w_m. Summed over micro-batches (and averaged over the P
        ranks by DDP) that must equal -c * (sum of all S_m) / N, N = loss tokens of all ranks, hence
        entropy_coef_m = c * n_m * P / (N * w_m).
        """
        tokens = loss_mask(micro).sum().item()
        if weight == 0.0 or tokens == 0:
            return 0.0
        total = max(rows["num_items_in_batch"].item(), 1)
        return self._update_entropy_coef * tokens * self.accelerator.num_processes / (total * weight)

    def _zero_advantage_rows_are_inert(self) -> bool:
        """True when a row with advantage 0 adds exactly nothing: no KL term and no entropy bonus this update.

        Every TRL policy loss is a product with the advantage (clipped ratio x A, CISPO, SAPO, VESPO),
        so only the KL and entropy terms, and SEAL, could give such a row a gradient.
        """
        return self.beta == 0.0 and self._update_entropy_coef == 0.0 and not self.args.seal

    def training_step(self, model, inputs, num_items_in_batch=None):
        started = time.perf_counter()
        cuda = self.accelerator.device.type == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats(self.accelerator.device)
        model.train()
        rows = self._prepare_inputs(inputs)
        micro_batches = self.micro_batches(rows)
        self._metrics["train"]["train/rows_forward"].append(
            float(sum(m["completion_ids"].size(0) for m, _ in micro_batches))
        )
        self._metrics["train"]["train/tokens_forward"].append(  # attended prompt + response tokens of those rows
            float(sum(int(m["prompt_mask"].sum() + m["completion_mask"].sum()) for m, _ in micro_batches))
        )
        # Every rank must make the same sequence of collective calls (TRL's loss gathers metrics; DDP
        # all-reduces on the last backward), but ranks hold different numbers of rows: pad to the global
        # count with inert passes (empty loss mask, weight 0).
        count = int(self.accelerator.gather(torch.tensor([len(micro_batches)], device=self.accelerator.device)).max())
        if count > len(micro_batches):
            # One real row's width, not the whole batch's: the pass only has to happen, not to cost.
            inert = _trim_padding(_inert_rows(rows, self.args.micro_batch_rows, self._tokenizer.pad_token_id))
            micro_batches += [(inert, 0.0)] * (count - len(micro_batches))
        total = torch.zeros((), device=self.accelerator.device)
        self.seal_capture.begin_update(rows)
        if count == 0:  # nothing to learn anywhere (every advantage is 0): a zero gradient, no TRL metrics
            with _gathered_parameters(model):
                self.accelerator.backward(_zero_loss(model))
        sync_gradients = self.accelerator.sync_gradients  # the Trainer's (True: one update per training_step)
        for number, (micro, weight) in enumerate(micro_batches):
            sync = nullcontext() if number == count - 1 else self.accelerator.no_sync(model)
            # DeepSpeed's backward clips and steps the optimizer whenever sync_gradients is set, so
            # only the last micro-batch ends the accumulation (no_sync covers DDP and ZeRO-0/1, not ZeRO-2/3).
            self.accelerator.gradient_state._set_sync_gradients(sync_gradients and number == count - 1)
            with sync, self.compute_loss_context_manager():
                self.entropy_coef = self._micro_batch_entropy_coef(micro, weight, rows)
                self.seal_capture.arm(micro)
                loss = self.compute_loss(model, micro) * weight + self.seal_capture.take_loss()
                skip = not torch.isfinite(loss)
                if self.is_deepspeed_enabled:  # ZeRO reduces in every backward: all ranks skip this micro-batch
                    skip = bool(global_max(torch.tensor(float(skip), device=loss.device)) > 0)
                if skip:  # a NaN/inf micro-batch must not poison the weights
                    logger.warning("non-finite loss in a micro-batch at step %d: skipped", self.state.global_step)
                    self._metrics["train"]["train/skipped_micro_batches"].append(1.0)
                    with _gathered_parameters(model):  # still backward, so DDP's all-reduce stays in step
                        loss = _zero_loss(model)
                        self.accelerator.backward(loss)
                else:
                    self.accelerator.backward(loss)
                total += loss.detach()
        self.accelerator.gradient_state._set_sync_gradients(sync_gradients)
        self._step += 1
        for name, value in self.seal_capture.finish_update(self.accelerator.device).items():
            self._metrics["train"][name].append(value)
        # TRL logs its per-micro-batch entropy_coef; the controller's coefficient is entropy/coef.
        self._metrics["train"].pop("entropy_coef", None)
        self._metrics["train"]["time/train_s"].append(time.perf_counter() - started)  # rollouts included
        if cuda:  # the update's peak, rollouts included (this rank's device)
            self._metrics["train"]["memory/peak_gib"].append(
                torch.cuda.max_memory_allocated(self.accelerator.device) / 2**30
            )
        return total

    # ------------------------------------------------------------------ checkpoints
    ENTROPY_STATE_FILE = "agentrl_entropy_state.json"

    def _save_checkpoint(self, model, trial):
        """TRL/HF's checkpoint, then agentrl's state, then the completion mark (written last, by the main process,
        once every rank has written its part): a run killed while saving leaves a folder without the mark, which
        `resume_from_checkpoint: auto` skips. Old checkpoints are rotated out only after the new one is complete."""
        run_dir = self._get_output_dir(trial=trial)
        folder = os.path.join(run_dir, f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
        if self.args.should_save:  # saving over an older checkpoint-N (a resume redoing it): unmarked until complete
            unmark_checkpoint(folder)
        limit, self.args.save_total_limit = self.args.save_total_limit, None
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self.args.save_total_limit = limit
        if self.args.should_save:
            with open(os.path.join(folder, self.ENTROPY_STATE_FILE), "w") as f:
                json.dump({"monitor": self.entropy_monitor.state_dict(), "coef": self._update_entropy_coef}, f)
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            mark_checkpoint_complete(folder)
            rotate_checkpoints(run_dir, limit, self.state.best_model_checkpoint, use_mtime=True)

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        path = None if checkpoint is None else os.path.join(checkpoint, self.ENTROPY_STATE_FILE)
        if path is not None and os.path.exists(path):
            with open(path) as f:
                state = json.load(f)
            self.entropy_monitor.load_state_dict(state["monitor"])
            self.set_update_entropy_coef(state["coef"])

    # ------------------------------------------------------------------ metrics
    def _conversation_metrics(self, episodes: list[Episode]) -> dict[str, float]:
        """concat: row length, share of model tokens, token-budget endings, re-rendering mismatches; tool
        environments: tool calls per episode and the failure rate (an output without a well-formed call counts as
        one failed attempt). Sums over every rank."""
        if self.args.trajectory_format != "concat":
            return {}
        steps = [step for episode in episodes for step in episode.steps]
        played = [episode for episode in episodes if episode.steps]
        chat = self.collector.context.chat
        rows = [(e.context_ids(), e) for e in played]
        rerender_mismatch = sum(
            first_difference(ids, chat.rerender_ids(e.messages, e.tools)) is not None for ids, e in rows
        )
        totals = _sum_over_ranks(
            [
                len(played),
                sum(len(ids) for ids, _ in rows),
                sum(len(s.response_ids) for s in steps),
                sum(e.context_truncated for e in played),
                rerender_mismatch,
                float(any(e.tools for e in episodes)),
                *tool_call_counts(steps),
            ],
            self.accelerator.device,
        )
        rows, tokens, generated, cut, mismatched, tool_ranks, calls, failures, attempts = totals
        metrics = {
            "concat/row_tokens_mean": tokens / max(rows, 1),
            "concat/model_token_fraction": generated / max(tokens, 1),
            "concat/context_truncated_rate": cut / max(rows, 1),
            "concat/rerender_mismatch_rate": mismatched / max(rows, 1),
        }
        if tool_ranks:
            metrics["tools/calls_per_episode"] = calls / max(rows, 1)
            metrics["tools/failure_rate"] = failures / max(attempts, 1)
        return metrics

    def _global_mean(self, values: list[float]) -> float:
        """Mean of `values` over every rank's entries (0 when there are none)."""
        return global_mean(torch.tensor(values, dtype=torch.float64, device=self.accelerator.device)).item()

    def _log_rollout_metrics(self, episodes, returns, group_ids, rollout_seconds) -> None:
        mode = "train" if self.model.training else "eval"
        metric = self._metrics[mode]
        steps = [step for episode in episodes for step in episode.steps]
        metric["rollout/episodes"].append(float(returns.numel()))  # all ranks
        metric["reward/mean"].append(returns.mean().item())
        metric["reward/std"].append(returns.std().item() if returns.numel() > 1 else 0.0)
        metric["success_rate"].append(self._global_mean([float(e.won) for e in episodes]))
        metric["score/mean"].append(self._global_mean([e.score for e in episodes]))
        metric["episode/length_mean"].append(self._global_mean([e.length for e in episodes]))
        metric["episode/valid_action_ratio"].append(self._global_mean([float(s.action_valid) for s in steps]))
        metric["episode/format_valid_ratio"].append(self._global_mean([float(s.format_valid) for s in steps]))
        metric["episode/truncated_ratio"].append(self._global_mean([float(s.truncated) for s in steps]))
        metric["episode/env_errors"].append(self._global_mean([float(e.error is not None) for e in episodes]))
        _, group_std, _ = group_stats(returns, group_ids)
        zero_std = group_std < 1e-6  # returns and group ids are global: every rank sees the same
        metric["frac_reward_zero_std"].append(zero_std.float().mean().item())  # TRL's name
        for name, value in self._monitor_entropy(episodes, zero_signal=bool(zero_std.all())).items():
            metric[name].append(value)
        rows = sum(1 for e in episodes if e.steps) if self.args.trajectory_format == "concat" else len(steps)
        metric["rollout/rows"].append(self._global_mean([float(rows)]) * self.accelerator.num_processes)
        metric["rollout/response_tokens_mean"].append(self._global_mean([float(len(s.response_ids)) for s in steps]))
        metric["time/rollout_s"].append(rollout_seconds)
        for name, value in self._conversation_metrics(episodes).items():
            metric[name].append(value)
        if self.args.env_shift_step is not None:
            metric["env/shifted"].append(float(self.env_factory is self.shifted_env_factory))


def _sum_over_ranks(values: list[float], device) -> list[float]:
    return sum_over_ranks(torch.tensor(values, dtype=torch.float64, device=device)).tolist()


def _trim_padding(micro: dict[str, Any]) -> dict[str, Any]:
    """Drop the all-padding columns a micro-batch inherited from the whole batch.

    Prompts are left-padded (drop leading columns no row uses), completions right-padded (keep up to
    the longest attended completion). Removed columns are masked everywhere, so the loss is unchanged.
    """
    used_prompt = micro["prompt_mask"].any(0)
    first = int(used_prompt.float().argmax()) if used_prompt.any() else micro["prompt_mask"].size(1)
    width = max(int(micro["completion_mask"].sum(1).max().item()) if micro["completion_mask"].numel() else 0, 1)
    out = dict(micro)
    out["prompt_ids"] = micro["prompt_ids"][:, first:]
    out["prompt_mask"] = micro["prompt_mask"][:, first:]
    for key in _COMPLETION_ALIGNED:
        if key in micro:
            out[key] = micro[key][:, :width]
    return out


_COMPLETION_ALIGNED = (
    "advantages",
    "completion_ids",
    "completion_mask",
    "tool_mask",
    "token_step_index",
    "sampling_per_token_logps",
    "rollout_entropies",
    "old_per_token_logps",
    "ref_per_token_logps",
    "importance_sampling_ratio",  # (R, T) per token; (R, 1) per sequence keeps its one column
)


def _row_advantages(episodes: list[Episode], step_advantages: torch.Tensor, concat: bool) -> torch.Tensor:
    """One advantage per training row: the step's (per_step), or the mean over the episode's steps (concat)."""
    if not concat:
        return step_advantages
    lengths = [episode.length for episode in episodes if episode.length]
    return (
        torch.stack([chunk.float().mean() for chunk in step_advantages.split(lengths)]) if lengths else step_advantages
    )


def _anchor_key(step) -> Any:
    """GiGPO's anchor state of a step: the env's raw-state key, else the observation text it showed."""
    key = step.anchor if step.anchor is not None else step.observation
    try:
        hash(key)
    except TypeError:  # an env returned an unhashable anchor (a list, a dict): its text stands in
        key = repr(key)
    return key


def _distribution_metrics(prefix: str, values: torch.Tensor) -> dict[str, float]:
    """mean / std / min / max of `values` over every rank (collective: all ranks must call it)."""
    values = values.float()
    if global_count(values) == 0:  # nothing anywhere (every group was filtered out): no statistics, not inf
        return {}
    mean = global_mean(values)
    variance = (global_mean(values**2) - mean**2).clamp(min=0)
    return {
        f"{prefix}_mean": mean.item(),
        f"{prefix}_std": variance.sqrt().item(),
        f"{prefix}_min": global_min(values).item(),
        f"{prefix}_max": global_max(values).item(),
    }


def _pack_units(units: torch.Tensor, lengths: torch.Tensor, size: int, keep_order: bool) -> list[torch.Tensor]:
    """Row indices of micro-batches of at most `size` rows that never split a unit (a unit's rows are
    consecutive and at most `size`). Units are taken longest row first, so a micro-batch pads little, or,
    with `keep_order`, in row order, so the episodes of a task group sit side by side (supcon)."""
    _, inverse, counts = torch.unique_consecutive(units, return_inverse=True, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    longest = torch.zeros(counts.numel(), dtype=lengths.dtype).scatter_reduce(0, inverse, lengths, "amax")
    order = range(counts.numel()) if keep_order else torch.argsort(longest, stable=True).tolist()
    chunks, current = [], []
    for unit in order:
        count = int(counts[unit])
        if len(current) + count > size and current:
            chunks.append(torch.tensor(current))
            current = []
        current += range(int(starts[unit]), int(starts[unit]) + count)
    if current:
        chunks.append(torch.tensor(current))
    return chunks


def _zero_loss(model) -> torch.Tensor:
    """0 x every trainable parameter: a backward that touches them all (DDP syncs) and adds no gradient."""
    return sum(p.sum() for p in model.parameters() if p.requires_grad) * 0.0


def _gathered_parameters(model):
    """ZeRO-3 keeps a shard of each parameter: gather them (every rank) for `_zero_loss` and its backward."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not any(hasattr(p, "ds_id") for p in params):
        return nullcontext()
    import deepspeed  # only under ZeRO-3, as TRL does

    return deepspeed.zero.GatheredParameters(params)


def _per_row(value: Any) -> bool:
    """Per-row tensors have the rows first; 0-dim tensors (num_items_in_batch, ...) are batch-level."""
    return isinstance(value, torch.Tensor) and value.dim() > 0


def _select_rows(rows: dict[str, Any], index: torch.Tensor) -> dict[str, Any]:
    """The rows at `index` of every per-row tensor; batch-level scalars are kept."""
    return {key: value[index] if _per_row(value) else value for key, value in rows.items()}


def _inert_rows(template: dict[str, Any], count: int, pad_token_id: int | None = None) -> dict[str, Any]:
    """`count` copies of the template's first row with an empty loss mask and advantage 0: they are run
    (so every rank makes the same calls) but add nothing to the loss or the gradient."""
    if template["completion_ids"].size(0) == 0:  # this rank collected no step at all (every reset failed)
        template = dict(template)
        for key, value in list(template.items()):
            if _per_row(value):
                shape = (1,) + ((1,) if value.dim() > 1 else ())
                template[key] = torch.full(
                    shape, pad_token_id if key.endswith("_ids") else 0, dtype=value.dtype, device=value.device
                )
        template["prompt_mask"] = torch.ones_like(template["prompt_mask"])
    inert = {
        key: value[:1].repeat((count,) + (1,) * (value.dim() - 1)) if _per_row(value) else value
        for key, value in template.items()
    }
    inert["completion_mask"] = torch.zeros_like(inert["completion_mask"])
    if "tool_mask" in inert:
        inert["tool_mask"] = torch.zeros_like(inert["tool_mask"])
    inert["advantages"] = torch.zeros_like(inert["advantages"])
    return inert


def _pad_rows(micro: dict[str, Any], count: int) -> dict[str, Any]:
    """Append inert rows until the micro-batch has `count` rows."""
    missing = count - micro["completion_ids"].size(0)
    if missing <= 0:
        return micro
    inert = _inert_rows(micro, missing)
    return {key: torch.cat([value, inert[key]]) if _per_row(value) else value for key, value in micro.items()}
