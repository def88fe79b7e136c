"""AgentGRPOTrainer: TRL's GRPOTrainer trained on multi-turn episodes, one row per step (or per episode, concat).

One update, as this file tells it (docs/architecture.md draws it with the module that does each part):

1. `_generate_and_score_completions`: the dataset rows are task ids, each repeated num_generations times by TRL's
   RepeatSampler, so a group shares a task. The collector (agentrl.rollout) plays every episode to the end with
   the current policy (Hugging Face generate, or vLLM after a weight sync); the reward functions score each
   episode; DAPO dynamic sampling and StarPO-S choose the groups (training/group_rounds.py); credit assignment
   gives every step an advantage (training/credit.py); the steps become training rows with their recorded
   prompt and response ids (rollout/samples.py), SEAL units (training/seal_units.py), and the old / reference
   log-probs the loss needs (training/policy_logps.py); the rollout is logged (training/metrics.py) and the
   entropy monitor sets the coming update's entropy-bonus coefficient (agentrl.entropy).
2. `training_step`: the rows go through TRL's own `_compute_loss` in micro-batches weighted so the sum is TRL's
   loss over the whole batch (training/micro_batches.py); a non-finite micro-batch is skipped; every rank makes
   the same collective calls (training/ranks.py).
3. `_save_checkpoint` / `_load_optimizer_and_scheduler`: HF's checkpoint plus the entropy monitor's state and a
   completion mark (agentrl/checkpoints.py).

Every private TRL / transformers / accelerate member used lives in agentrl/trl_seam.py (version-checked at import).
Environments and algorithms know nothing of this class.

Why about 500 lines in one file: every method is one of TRL's hooks or one step of the update's story above, and
reads best next to the others; the parts with logic of their own live in agentrl/training/.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from functools import cached_property, partial
from typing import Any

import torch
from accelerate.utils.memory import clear_device_cache
from datasets import Dataset
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints
from trl import GRPOTrainer
from trl.extras.profiling import profiling_context
from trl.trainer.utils import use_adapter

from agentrl import trl_seam as seam
from agentrl.checkpoints import load_entropy_state, mark_checkpoint_complete, save_entropy_state, unmark_checkpoint
from agentrl.config import AgentRLConfig
from agentrl.entropy import make_monitor
from agentrl.envs.base import TextEnv
from agentrl.rollout import HFGenerator, PromptBuilder, RolloutCollector, concat_rows, per_step_rows
from agentrl.rollout.chat import template_report
from agentrl.rollout.episode import Episode
from agentrl.rollout.generator import stop_token_ids, unwrap_for_generation
from agentrl.rollout.samples import loss_mask
from agentrl.rollout.vllm_backend import ServedWeightsCheck, VLLMGenerator
from agentrl.seal_capture import HEAD_NAME, SealCapture, prepare_seal_head
from agentrl.training import credit, group_rounds, metrics, micro_batches, policy_logps
from agentrl.training.ranks import Ranks
from agentrl.training.seal_units import seal_rows

logger = logging.getLogger(__name__)


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
        self._task_id_after_shift: dict[str, str] = {}  # after a shift to another environment: drawn id -> its id
        if args.seal:
            peft_config = prepare_seal_head(model, args, peft_config)
        super().__init__(
            model=model,
            reward_funcs=reward_funcs or [environment_return],
            args=args,
            train_dataset=Dataset.from_dict({"prompt": self._train_task_ids}),
            processing_class=processing_class,
            peft_config=peft_config,
            callbacks=callbacks,
        )
        self.ranks = Ranks(self.accelerator)
        parallelism = getattr(self.accelerator, "parallelism_config", None)
        if parallelism is not None and parallelism.cp_enabled:  # from an accelerate config rather than the recipe
            raise ValueError(
                "context parallelism (parallelism_config cp_size > 1 in the accelerate config): not supported; "
                "agentrl's update runs whole rows on each process. Remove cp_size from the launch config."
            )
        self.text_tokenizer = seam.tokenizer_of(self)
        if self.use_vllm and args.seal:  # vLLM serves the language model alone
            seam.filter_served_parameters(self.vllm_generation, lambda name: HEAD_NAME not in name)
        self.prompt_builder = PromptBuilder(self.text_tokenizer, args.history_length, args.prompt_template)
        if args.trajectory_format == "concat":
            self._check_chat_template()
        self.collector = self._make_collector(env_factory)
        self._update_inputs: dict[str, Any] | None = None
        # TRL's loss reads this (HF sets it inside its loop); agentrl never accumulates across dataloader batches.
        self.current_gradient_accumulation_steps = 1
        self.entropy_monitor = make_monitor(args)
        self.set_update_entropy_coef(0.0)
        # The hook also runs with SEAL off: seal/centroid_cosine is logged as a diagnostic either way.
        self.seal_capture = SealCapture(self.model, args, self.ranks)

    def _check_chat_template(self) -> None:
        """concat: say (or stop, per concat_template_check) if the template re-renders history differently."""
        if self.args.concat_template_check == "off":
            return
        report = template_report(
            self.text_tokenizer, stop_ids=stop_token_ids(self.text_tokenizer, self.model.generation_config)
        )
        if report is None:
            return
        if self.args.concat_template_check == "error":
            raise ValueError(report + " Set concat_template_check: warn to train anyway.")
        logger.warning(report)

    def set_update_entropy_coef(self, coef: float) -> None:
        """The entropy-bonus coefficient of the coming update (from the controller).

        The bonus runs through TRL's own term (loss -= entropy_coef * mean H over model tokens), switched on only
        while coef != 0, so a run without a bonus computes exactly what it did before; entropy_coef is set per
        micro-batch so the sum over micro-batches is exactly coef * (token-mean H of the whole batch).
        """
        self._update_entropy_coef = coef
        seam.enable_entropy_bonus(self, coef != 0.0)
        self.entropy_coef = 0.0

    def record(self, name: str, value: float) -> None:
        """Add `value` to metric `name` of this log interval (agentrl evaluates on its own: every metric is "train")."""
        seam.log_metric(self, name, value)

    # ------------------------------------------------------------------ rollouts
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
        logger.info(
            "update %d: the environment shifts to %s %s",
            self.state.global_step,
            self.args.shifted_env_id,
            self.args.env_shift_kwargs,
        )
        self.collector.close()
        self.env_factory = self.shifted_env_factory
        self.collector = self._make_collector(self.env_factory)
        env = self.env_factory()
        self._task_id_after_shift = group_rounds.task_ids_after_shift(self._train_task_ids, env.task_ids("train"))
        env.close()

    def _policy_logps(self, model, input_ids, attention_mask, logits_to_keep: int, compute_entropy: bool):
        return seam.per_token_logps_and_entropies(
            self,
            model,
            input_ids,
            attention_mask,
            logits_to_keep,
            batch_size=self.args.micro_batch_rows,
            compute_entropy=compute_entropy,
        )

    def _scorer(self, model):
        """(prompts, responses) -> the policy's log-probs and entropies of the responses (one no-grad forward)."""
        return partial(
            policy_logps.score_responses,
            self._policy_logps,
            model,
            pad_token_id=self.text_tokenizer.pad_token_id,
            device=self.accelerator.device,
        )

    def make_generator(self, model) -> HFGenerator | VLLMGenerator:
        """The rollout backend at the sampling temperature: vLLM (TRL built the engine from the vllm_* fields) or
        Hugging Face generate on `model`."""
        if self.use_vllm:
            return VLLMGenerator(
                self.vllm_generation,
                stop_token_ids(self.text_tokenizer, model.generation_config),  # TRL's self.eos_token_ids, same rule
                max_new_tokens=self.max_completion_length,
                temperature=self.temperature,
                score=self._scorer(model) if policy_logps.reads_rollout_entropies(self.args) else None,
                max_over_ranks=lambda value: int(self.ranks.max([value])),
            )
        return HFGenerator(
            model,
            self.text_tokenizer,
            max_new_tokens=self.max_completion_length,
            temperature=self.temperature,
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
                probe = self.served_weights_check(generator.engine, self.temperature, self._scorer(unwrapped_model))
                for name, value in probe.items():
                    self.record(name, value)
            task_ids = [self._task_id_after_shift.get(task_id, task_id) for task_id in task_ids]
            return self.collector.collect(generator, task_ids, group_ids)

    def _sync_vllm_weights(self) -> bool:
        """Push the policy's weights (LoRA merged) to vLLM once per optimizer step, before its first rollout."""
        if not self.use_vllm or self.state.global_step == seam.served_step(self):
            return False
        with profiling_context(self, "sync_weights"):
            self.vllm_generation.sync_weights()  # TRL's: gathers ZeRO-3 / FSDP shards, merges LoRA, renames
        seam.mark_served(self, self.state.global_step)
        return True

    @cached_property
    def served_weights_check(self) -> ServedWeightsCheck:
        probe = self.text_tokenizer("You are in the middle of a room. Your task is to", add_special_tokens=False)
        return ServedWeightsCheck(probe["input_ids"])

    def _episode_returns(self, episodes: list[Episode]) -> torch.Tensor:
        """R_i = sum_k w_k * reward_func_k(episodes)[i] (default: the environment return alone)."""
        returns = torch.zeros(len(episodes))
        for weight, func in zip(self.reward_weights.tolist(), self.reward_funcs, strict=True):
            returns += weight * torch.tensor(func(episodes=episodes), dtype=torch.float32)
        return returns

    # ------------------------------------------------------------------ rollouts -> training rows
    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        self._shift_environment_if_due()
        size = self.num_generations
        task_ids = [row["prompt"] for row in inputs]
        group_rounds.check_whole_groups(task_ids, size)

        started = time.perf_counter()
        episodes = self.collect_episodes(task_ids, group_rounds.group_ids(len(task_ids), size, 0, self.ranks))
        # The reward functions run once per episode; each episode's return travels with it from here on. Returns
        # and group ids over the global batch: "batch" scaling and the logged statistics need every rank's.
        local_returns = self._episode_returns(episodes)
        returns = self.ranks.gather(local_returns)
        all_group_ids = self.ranks.gather(torch.tensor([e.group_id for e in episodes]))
        first_round, logged = episodes, {}
        if self.args.dynamic_sampling:
            episodes, local_returns, logged = group_rounds.dynamic_sampling(
                episodes,
                returns,
                all_group_ids,
                group_size=size,
                max_rounds=self.args.max_generation_rounds,
                play_round=partial(self._play_extra_round, groups=len(episodes) // size),
                returns_of=self._episode_returns,
                ranks=self.ranks,
            )
        if self.args.starpo_keep_fraction < 1.0:
            episodes, local_returns, starpo = group_rounds.keep_high_variance_groups(
                episodes, local_returns, self.args.starpo_keep_fraction, size, self.ranks
            )
            logged.update(starpo)
        rollout_seconds = time.perf_counter() - started

        step_advantages, credit_metrics = credit.step_advantages(
            episodes,
            local_returns,
            self.args,
            max_completion_length=self.max_completion_length,
            scale_rewards=self.scale_rewards,
            ranks=self.ranks,
        )
        logged.update(credit_metrics)
        concat = self.args.trajectory_format == "concat"
        rows = (concat_rows if concat else per_step_rows)(
            episodes,
            step_advantages.tolist(),
            pad_token_id=self.text_tokenizer.pad_token_id,
            mask_truncated=self.mask_truncated_completions,
        )
        row_advantages = credit.row_advantages(episodes, step_advantages, concat)
        rows.update(seal_rows(episodes, rows, local_returns, row_advantages, self.args, self.ranks))
        rows = {key: value.to(self.accelerator.device) for key, value in rows.items()}
        trained = loss_mask(rows)
        rows["num_items_in_batch"] = self.ranks.total(trained.sum())
        rows["num_rows_in_batch"] = self.ranks.total(torch.tensor(trained.size(0)))
        self._add_policy_logps(rows)
        self._log_rollout(first_round, returns, all_group_ids, rollout_seconds)
        # rows that can move the weights (read by agentrl.signal_watch.ZeroSignalWarning)
        logged["rollout/trainable_rows"] = self.ranks.sum(
            [float((rows["advantages"].ne(0).any(dim=1) & trained.bool().any(dim=1)).sum())]
        )
        for name, value in logged.items():
            self.record(name, value)
        return rows

    def _play_extra_round(self, generation_round: int, groups: int) -> list[Episode]:
        """A dynamic-sampling round: `groups` fresh training tasks of this rank, seeded by (seed, update, round)."""
        stream = self.state.global_step * self.args.max_generation_rounds + generation_round
        task_ids = group_rounds.extra_task_ids(
            self._train_task_ids, groups, self.num_generations, stream, self.args.seed, self.ranks
        )
        return self.collect_episodes(
            task_ids, group_rounds.group_ids(len(task_ids), self.num_generations, generation_round, self.ranks)
        )

    def _add_policy_logps(self, rows: dict[str, Any]) -> None:
        """old (num_iterations > 1, or vLLM's importance-sampling correction) and reference (beta > 0) log-probs."""
        correct = self.use_vllm and self.vllm_importance_sampling_correction
        policy_logps.add_policy_logps(
            rows,
            logps=self._policy_logps,
            model=self.model,
            reference=self._reference_model,
            need_old=self.num_iterations > 1 or correct,
            need_ref=self.beta != 0.0,
        )
        if correct and "old_per_token_logps" in rows:
            for name, value in policy_logps.add_importance_sampling_ratio(rows, self, self.ranks).items():
                self.record(name, value)

    @contextmanager
    def _reference_model(self):
        if self.ref_model is not None:
            yield self.ref_model
            return
        # PEFT: the reference is the base model (adapter disabled) or the frozen "ref" adapter
        unwrapped = self.accelerator.unwrap_model(self.model)
        with use_adapter(unwrapped, adapter_name="ref" if "ref" in unwrapped.peft_config else None):
            yield self.model

    def _log_rollout(self, episodes, returns, group_ids, rollout_seconds) -> None:
        """The first round's rollout metrics; the entropy monitor's update (the next update's coefficient)."""
        concat = self.args.trajectory_format == "concat"
        logged = metrics.rollout_metrics(episodes, returns, group_ids, concat, self.ranks)
        measured = not self.use_vllm or policy_logps.reads_rollout_entropies(self.args)
        logged.update(metrics.entropy_and_degeneration(episodes, self.ranks, measured))
        if measured:
            step_mean = logged.get("entropy/step_mean", logged["entropy/token_mean"])
            zero_signal = metrics.all_groups_tied(returns, group_ids)
            coef, control = self.entropy_monitor.update(step_mean, logged["degen/repeat_action_rate"], zero_signal)
            self.set_update_entropy_coef(coef)
            logged.update(control)
        logged["time/rollout_s"] = rollout_seconds
        if concat:
            logged.update(metrics.conversation_metrics(episodes, self.collector.context.chat, self.ranks))
        if self.args.env_shift_step is not None:
            logged["env/shifted"] = float(self.env_factory is self.shifted_env_factory)
        for name, value in logged.items():
            self.record(name, value)

    # ------------------------------------------------------------------ the update
    def _prepare_inputs(self, generation_batch):
        # One rollout batch feeds `num_iterations` optimizer steps (TRL's mu), then a new one is collected.
        if seam.optimizer_steps(self) % self.num_iterations == 0 or self._update_inputs is None:
            self._update_inputs = self._generate_and_score_completions(generation_batch)
        return self._update_inputs

    def micro_batches(self, rows: dict[str, Any]) -> list[tuple[dict[str, Any], float]]:
        """The rows in weighted micro-batches whose sum is TRL's loss over the whole batch (training/micro_batches)."""
        return micro_batches.micro_batches(
            rows,
            size=self.args.micro_batch_rows,
            processes=self.ranks.count,
            loss_type=self.loss_type,
            seal=self.args.seal,
            keep_unit_order=self.args.seal_variant == "supcon",
            skip_zero_advantage=self._zero_advantage_rows_are_inert(),
        )

    def _zero_advantage_rows_are_inert(self) -> bool:
        """True when a row with advantage 0 adds exactly nothing: no KL term and no entropy bonus this update, no SEAL
        (every TRL policy loss is a product with the advantage), so micro-batching may leave such rows out."""
        return self.beta == 0.0 and self._update_entropy_coef == 0.0 and not self.args.seal

    def training_step(self, model, inputs, num_items_in_batch=None):
        started = time.perf_counter()
        cuda = self.accelerator.device.type == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats(self.accelerator.device)
        model.train()
        rows = self._prepare_inputs(inputs)
        batches = self.micro_batches(rows)
        self.record("train/rows_forward", float(sum(m["completion_ids"].size(0) for m, _ in batches)))
        self.record(  # attended prompt + response tokens of those rows
            "train/tokens_forward",
            float(sum(int(m["prompt_mask"].sum() + m["completion_mask"].sum()) for m, _ in batches)),
        )
        # Every rank must make the same sequence of collective calls (TRL's loss gathers metrics; DDP all-reduces
        # on the last backward), but ranks hold different numbers of rows: pad to the global count with inert
        # passes (empty loss mask, weight 0) one real row wide (the pass only has to happen, not to cost).
        count = int(self.ranks.max([len(batches)]))
        if count > len(batches):
            inert = micro_batches.inert_rows(rows, self.args.micro_batch_rows, self.text_tokenizer.pad_token_id)
            batches += [(micro_batches.trim_padding(inert), 0.0)] * (count - len(batches))
        total = torch.zeros((), device=self.accelerator.device)
        self.seal_capture.begin_update(rows)
        if count == 0:  # nothing to learn anywhere (every advantage is 0): a zero gradient, no TRL metrics
            with micro_batches.gathered_parameters(model):
                self.accelerator.backward(micro_batches.zero_loss(model))
        sync_gradients = self.accelerator.sync_gradients  # the Trainer's (True: one update per training_step)
        for number, (micro, weight) in enumerate(batches):
            last = number == count - 1
            sync = nullcontext() if last else self.accelerator.no_sync(model)
            # DeepSpeed's backward clips and steps the optimizer whenever sync_gradients is set, so only the last
            # micro-batch ends the accumulation (no_sync covers DDP and ZeRO-0/1, not ZeRO-2/3).
            seam.set_sync_gradients(self.accelerator, sync_gradients and last)
            with sync, self.compute_loss_context_manager():
                total += self._micro_batch_backward(model, micro, weight, rows)
        seam.set_sync_gradients(self.accelerator, sync_gradients)
        seam.count_optimizer_step(self)
        for name, value in self.seal_capture.finish_update().items():
            self.record(name, value)
        # TRL logs its per-micro-batch entropy_coef; the controller's coefficient is entropy/coef.
        seam.drop_metric(self, "entropy_coef")
        self.record("time/train_s", time.perf_counter() - started)  # rollouts included
        if cuda:  # the update's peak, rollouts included (this rank's device)
            self.record("memory/peak_gib", torch.cuda.max_memory_allocated(self.accelerator.device) / 2**30)
        steps = self.args.torch_empty_cache_steps  # HF's training_step does this; kept
        if steps is not None and self.state.global_step % steps == 0:
            clear_device_cache()
        return total

    def _micro_batch_backward(self, model, micro: dict[str, Any], weight: float, rows: dict[str, Any]) -> torch.Tensor:
        """weight x TRL's loss of the micro-batch (+ SEAL's), backward; a non-finite loss is skipped (0 gradient)."""
        self.entropy_coef = micro_batches.micro_batch_entropy_coef(
            self._update_entropy_coef, micro, weight, rows, self.ranks.count
        )
        self.seal_capture.arm(micro)
        loss = self.compute_loss(model, micro) * weight + self.seal_capture.take_loss()
        skip = not torch.isfinite(loss)
        if self.is_deepspeed_enabled:  # ZeRO reduces in every backward: all ranks skip this micro-batch
            skip = self.ranks.any(skip)
        if skip:  # a NaN/inf micro-batch must not poison the weights
            logger.warning("non-finite loss in a micro-batch at step %d: skipped", self.state.global_step)
            self.record("train/skipped_micro_batches", 1.0)
            with micro_batches.gathered_parameters(model):  # still backward, so DDP's all-reduce stays in step
                loss = micro_batches.zero_loss(model)
                self.accelerator.backward(loss)
        else:
            self.accelerator.backward(loss)
        return loss.detach()

    # ------------------------------------------------------------------ checkpoints
    def _save_checkpoint(self, model, trial):
        """HF's checkpoint, then agentrl's state, then the completion mark (written last, by the main process,
        once every rank has written its part): a run killed while saving leaves a folder without the mark, which
        `resume_from_checkpoint: auto` skips. Old checkpoints are rotated out only after the new one is complete."""
        run_dir = seam.run_folder(self, trial)
        folder = os.path.join(run_dir, f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
        if self.args.should_save:  # saving over an older checkpoint-N (a resume redoing it): unmarked until complete
            unmark_checkpoint(folder)
        limit, self.args.save_total_limit = self.args.save_total_limit, None
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self.args.save_total_limit = limit
        if self.args.should_save:
            save_entropy_state(folder, self.entropy_monitor.state_dict(), self._update_entropy_coef)
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            mark_checkpoint_complete(folder)
            rotate_checkpoints(run_dir, limit, self.state.best_model_checkpoint, use_mtime=True)

    def _load_optimizer_and_scheduler(self, checkpoint):
        super()._load_optimizer_and_scheduler(checkpoint)
        state = load_entropy_state(checkpoint)
        if state is not None:
            self.entropy_monitor.load_state_dict(state["monitor"])
            self.set_update_entropy_coef(state["coef"])
