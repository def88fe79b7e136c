"""AgentRLConfig: every knob of an agentrl run, on top of TRL's GRPOConfig.

A recipe (YAML) sets any field of this class; the command line overrides the recipe. Fields of
GRPOConfig keep TRL's meaning, with one reinterpretation that multi-turn training needs:

- `per_device_train_batch_size` is the number of EPISODES each process collects per update
  (tasks per update x `num_generations`), exactly TRL's "completions per device" with one episode in
  place of one completion. Each episode yields a variable number of step rows; they are all trained
  in the same optimizer step, `micro_batch_rows` rows per forward/backward pass.
- `gradient_accumulation_steps` and `steps_per_generation` must stay 1: accumulation over the rows of
  one rollout batch happens inside `AgentGRPOTrainer.training_step`, with an exact loss denominator.
- `max_steps` counts optimizer updates (as in TRL); the episode step limit is `max_episode_steps`.

Why about 500 lines in one file: one dataclass field per recipe key, each with the help text `agentrl train --help`
prints, and the validation that must run before a model loads; splitting it would split the recipe reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trl import GRPOConfig

TINY_MODEL = "tiny"
# resume_from_checkpoint values that mean "the newest checkpoint in output_dir" / "start fresh"
RESUME_LATEST = ("auto", "true", "last")
RESUME_NONE = ("false", "no", "none", "")


@dataclass
class AgentRLConfig(GRPOConfig):
    # ---- model -------------------------------------------------------------------------------
    model_name_or_path: str = field(
        default=TINY_MODEL,
        metadata={
            "help": "Hub id or local folder of the policy, or 'tiny' to build the offline tiny Qwen2 model with a "
            "tokenizer trained on the environment's own text (no download)."
        },
    )
    tiny_hidden_size: int = field(default=128, metadata={"help": "tiny model: hidden size."})
    tiny_num_layers: int = field(default=2, metadata={"help": "tiny model: number of transformer layers."})
    tiny_vocab_size: int = field(default=1024, metadata={"help": "tiny model: BPE vocabulary size to train."})
    use_peft: bool = field(default=False, metadata={"help": "Train a LoRA adapter (PEFT) instead of all weights."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha."})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout."})
    lora_target_modules: list[str] | None = field(
        default=None, metadata={"help": "LoRA target modules (default: all linear layers except lm_head)."}
    )

    # ---- environment -------------------------------------------------------------------------
    env_id: str = field(
        default="household-easy",
        metadata={
            "help": "The environment: a registered name (`agentrl envs`), an import path package.module:Factory or "
            "path/to/file.py:Factory (a TextEnv subclass or a function returning one), or an adapter spec "
            "gymnasium:ID | gem:ID | textarena:ID | openenv:... | trl:module:Class (docs/environments.md). "
            "(A recipe's top-level `env:` is TRL's mapping of environment variables.)"
        },
    )
    env_kwargs: dict[str, Any] | str | None = field(
        default=None, metadata={"help": "Keyword arguments for the environment factory (a mapping)."}
    )
    env_shift_step: int | None = field(
        default=None,
        metadata={
            "help": "Non-stationary training: after this many updates the training environment is rebuilt with "
            "env_shift_kwargs merged into env_kwargs (e.g. a renamed command); the final evaluation uses it too."
        },
    )
    env_shift_kwargs: dict[str, Any] | str | None = field(
        default=None, metadata={"help": "Environment keyword arguments that change at env_shift_step (a mapping)."}
    )
    env_shift_id: str | None = field(
        default=None,
        metadata={
            "help": "The environment from env_shift_step on (default: env_id): a curriculum's next stage, e.g. "
            "household-easy -> household-lookup. It is built with env_kwargs and env_shift_kwargs merged."
        },
    )
    max_episode_steps: int | None = field(
        default=None, metadata={"help": "Episode step limit (default: the environment's own max_steps)."}
    )
    env_workers: int = field(
        default=0,
        metadata={
            "help": "Worker processes that run the environments (0 = in the trainer process). Use 2+ for slow engines "
            "(ALFWorld, TextWorld, ScienceWorld): steps of different episodes then run in parallel, and an env that "
            "hangs or crashes is killed and restarted without stopping the run."
        },
    )
    env_step_timeout_s: float = field(
        default=60.0,
        metadata={
            "help": "With env_workers > 0: seconds one reset/step may take before its episode ends as failed and its "
            "worker is restarted. With env_workers: 0 (in process) a call cannot be stopped: one that runs longer is "
            "reported on stderr ('still waiting on environment X (... task T ...) for N s') every this many seconds; "
            "use env_workers: 1+ for environments that may hang."
        },
    )
    eval_split: str = field(default="eval_in", metadata={"help": "Held-out split for eval.json: eval_in | eval_out."})
    eval_num_tasks: int = field(
        default=100, metadata={"help": "Number of held-out tasks evaluated before and after RL."}
    )
    eval_temperature: float = field(
        default=0.0, metadata={"help": "Sampling temperature of the held-out evaluation (0 = greedy)."}
    )

    # ---- rollout -----------------------------------------------------------------------------
    history_length: int = field(
        default=2, metadata={"help": "K: how many past (observation, action) pairs each step prompt shows."}
    )
    prompt_template: str = field(
        default="generic",
        metadata={
            "help": "The words of each step's prompt: a built-in template (generic | alfworld | webshop: the benchmark "
            "protocol's layout) or a YAML file of template parts (in a recipe, relative to the recipe's folder). "
            "Fields and format: docs/multiturn.md, section Prompt templates."
        },
    )
    trajectory_format: str = field(
        default="per_step",
        metadata={
            "help": "per_step: one training row per step, each prompt rebuilt from the last history_length turns (the "
            "ALFWorld/WebShop benchmark protocol) | concat: one row per episode, the whole conversation as one "
            "sequence built by appending token ids, environment and tool text masked out of the loss (tool-using "
            "agents; needed for tool environments). See docs/multiturn.md."
        },
    )
    max_episode_tokens: int = field(
        default=4096,
        metadata={
            "help": "concat: token budget of a whole episode (prompt, every turn, every environment answer). A turn "
            "starts only if max_completion_length more tokens fit; otherwise the episode ends there, marked truncated "
            "(mask_truncated_completions then leaves its row out of the loss)."
        },
    )
    concat_template_check: str = field(
        default="warn",
        metadata={
            "help": "concat: at start, check that re-rendering a conversation with the chat template gives the "
            "appended ids (templates that drop earlier reasoning, like Qwen3's, do not): warn | error | off."
        },
    )
    invalid_format_penalty: float = field(
        default=0.1, metadata={"help": "Reward subtracted for a response without <think>..</think><action>..</action>."}
    )
    equal_episode_weight: bool = field(
        default=False,
        metadata={
            "help": "Scale each step's advantage by (mean episode length / its episode's length) so every episode "
            "carries the same total weight. Without it, long (usually failed) episodes have more step rows and "
            "dominate the update."
        },
    )
    micro_batch_rows: int = field(
        default=32, metadata={"help": "Step rows per forward/backward pass of the update (bounds training memory)."}
    )
    vllm_rollout_entropy: bool = field(
        default=False,
        metadata={
            "help": "use_vllm: score every turn with the policy (one no-grad forward) to log rollout entropies "
            "(entropy/*, the eruption detector) even when nothing else reads them; EMPG and adaptive / pulse "
            "entropy control always do. Without it a vLLM run logs no entropy/* figures."
        },
    )
    vllm_sync_check: bool = field(
        default=True,
        metadata={
            "help": "use_vllm: after each weight sync, probe vLLM with a fixed prompt and stop the run if the served "
            "log-probs did not change while the policy's did (rollouts from stale weights)."
        },
    )

    # ---- credit assignment (docs/algorithms.md) --------------------------------------------------
    advantage_estimator: str = field(
        default="grpo",
        metadata={
            "help": "grpo (group-normalised episode return, TRL's scale_rewards) | mean_centred (Dr. GRPO's) | "
            "rloo (leave-one-out baseline) | gigpo (episode advantage + step_advantage_weight x anchor-state "
            "step advantage)."
        },
    )
    step_advantage_weight: float = field(default=1.0, metadata={"help": "gigpo: weight w of the step advantage."})
    gamma: float = field(
        default=0.95, metadata={"help": "gigpo: discount of the step returns R_t = r_t + gamma R_t+1."}
    )
    gigpo_step_norm: str = field(
        default="std",
        metadata={"help": "gigpo: step advantage normalisation, std ((R - mean) / std) | mean (R - mean)."},
    )
    empg: bool = field(
        default=False,
        metadata={
            "help": "EMPG: modulate every step's advantage by its rollout step entropy "
            "(empg_k, empg_k_future, empg_zeta)."
        },
    )
    empg_k: float = field(
        default=1.0, metadata={"help": "EMPG: k of the self-calibrating scale g = exp(-k Hn) / mean."}
    )
    empg_k_future: float = field(
        default=1.0, metadata={"help": "EMPG: k' of the future-clarity bonus exp(-k' Hn_t+1)."}
    )
    empg_zeta: float = field(default=0.1, metadata={"help": "EMPG: weight zeta of the future-clarity bonus."})
    dynamic_sampling: bool = field(
        default=False,
        metadata={
            "help": "DAPO dynamic sampling: drop groups whose returns are all equal and sample more tasks until "
            "the batch holds as many informative groups as it asked for (at most max_generation_rounds rounds)."
        },
    )
    max_generation_rounds: int = field(
        default=3, metadata={"help": "dynamic_sampling: most rollout rounds per update (the first included)."}
    )
    starpo_keep_fraction: float = field(
        default=1.0,
        metadata={
            "help": "StarPO-S: train only on this top fraction of groups by return std (1.0 = all; RAGEN uses 0.25)."
        },
    )
    overlong_buffer_length: int = field(
        default=0,
        metadata={
            "help": "DAPO soft overlong punishment: responses longer than max_completion_length - this many "
            "tokens get a penalty ramping to -overlong_penalty_factor at the budget (0 = off)."
        },
    )
    overlong_penalty_factor: float = field(default=1.0, metadata={"help": "Scale of the soft overlong punishment."})

    # ---- SEAL: hidden-state separation of successful and failed trajectories (docs/algorithms.md) -------
    seal: bool = field(
        default=False,
        metadata={
            "help": "SEAL: add seal_coef x a loss on the pooled hidden states that separates successful from failed "
            "trajectories (a head on the policy, trained with it; gradient into the backbone)."
        },
    )
    seal_coef: float = field(default=0.02, metadata={"help": "SEAL: loss coefficient (the release's 0.02)."})
    seal_head_only: bool = field(
        default=False,
        metadata={
            "help": "SEAL ablation: the loss trains the head alone (hidden states detached before it), so the "
            "backbone and the representation the LM head reads get no gradient from SEAL. The release: false."
        },
    )
    seal_layer: int = field(
        default=-1,
        metadata={
            "help": "SEAL: -1 = the final hidden states (after the last norm); k >= 0 = decoder layer k's output."
        },
    )
    seal_pooling: str = field(
        default="trajectory",
        metadata={
            "help": "SEAL: masked mean over the model-generated tokens of a whole trajectory, or of each step (step). "
            "A trajectory longer than micro_batch_rows steps is pooled in segments of micro_batch_rows steps."
        },
    )
    seal_head_layers: int = field(
        default=3, metadata={"help": "SEAL: Linear layers of the projection head (the release's 3; 1 = a probe)."}
    )
    seal_label: str = field(
        default="success",
        metadata={
            "help": "SEAL: label of a unit: success (the episode was won) | reward (episode return > "
            "seal_label_threshold) | advantage (advantage > 0: the episode's mean step advantage, or the step's)."
        },
    )
    seal_label_threshold: float = field(default=0.5, metadata={"help": "SEAL: the threshold of seal_label: reward."})
    seal_variant: str = field(
        default="bce",
        metadata={
            "help": "SEAL: bce (head + binary cross-entropy, the release) | centroid_margin | supcon | cosine "
            "(computed per micro-batch)."
        },
    )
    seal_margin: float = field(default=1.0, metadata={"help": "SEAL centroid_margin: the margin m."})
    seal_temperature: float = field(default=0.1, metadata={"help": "SEAL supcon: the temperature."})

    # ---- entropy dynamics ----------------------------------------------------------------------
    entropy_control: str = field(
        default="constant",
        metadata={
            "help": "Entropy-bonus controller (loss -= coef * H over model tokens): none | constant (TRL's "
            "entropy_coef, 0 by default) | adaptive (Skywork-OR1 rule with TRL's entropy_target, entropy_coef_delta, "
            "entropy_coef_min, entropy_coef_max; entropy_coef is the initial value) | pulse (Entropulse: pulse_*)."
        },
    )
    pulse_threshold: float = field(
        default=0.05, metadata={"help": "pulse: start a pulse when the rollout step entropy falls below this."}
    )
    pulse_magnitude: float = field(default=10.0, metadata={"help": "pulse: coefficient multiplier during a pulse."})
    pulse_duration: int = field(default=100, metadata={"help": "pulse: updates a pulse lasts."})
    pulse_base_coef: float = field(default=0.01, metadata={"help": "pulse: coefficient outside pulses."})
    pulse_decay: float = field(
        default=0.0,
        metadata={"help": "pulse: after a pulse, coef <- base + decay * (coef - base) per update (0 = at once)."},
    )
    pulse_peak_coef: float | None = field(
        default=None,
        metadata={"help": "pulse: coefficient during a pulse (default pulse_base_coef * pulse_magnitude)."},
    )
    pulse_stop_entropy: float | None = field(
        default=None,
        metadata={"help": "pulse: end a running pulse once the rollout step entropy exceeds this (None = never)."},
    )
    pulse_on_descent: int = field(
        default=0,
        metadata={"help": "pulse: also start a pulse after this many consecutive 'descent' phases (0 = off)."},
    )
    pulse_repeat_action_rate: float | None = field(
        default=None,
        metadata={"help": "pulse: also start a pulse when degen/repeat_action_rate exceeds this (None = off)."},
    )
    pulse_on_zero_signal: int = field(
        default=0,
        metadata={
            "help": "pulse: also start a pulse after this many consecutive updates in which every group's returns "
            "were equal (all advantages 0: nothing left to learn from). 0 = off."
        },
    )
    eruption_window: int = field(default=20, metadata={"help": "Eruption detector: baseline window (updates)."})
    eruption_min_rise: float = field(
        default=0.05, metadata={"help": "Eruption detector: smallest entropy rise (nats) that counts as an eruption."}
    )
    eruption_rel_rise: float = field(
        default=0.5, metadata={"help": "Eruption detector: rise relative to the baseline that counts as an eruption."}
    )
    eruption_noise_z: float = field(
        default=4.0, metadata={"help": "Eruption detector: rise in units of the robust noise scale that counts."}
    )

    # ---- SFT warm-up -------------------------------------------------------------------------
    sft_warmup_steps: int = field(
        default=0, metadata={"help": "Optimizer steps of SFT on expert demonstrations before RL (0 = no warm-up)."}
    )
    sft_num_tasks: int = field(default=400, metadata={"help": "Train tasks whose expert episodes form the SFT data."})
    sft_demonstrations: str | None = field(
        default=None,
        metadata={
            "help": "SFT warm-up from a JSONL file instead of the environment's expert (for environments without "
            'one): lines {"task_id": ID, "actions": [...]} replayed in the environment, or {"messages": [chat '
            "messages]} trained on the assistant turns (docs/environments.md). Relative to the current folder."
        },
    )
    sft_learning_rate: float = field(default=1e-3, metadata={"help": "SFT warm-up learning rate."})
    sft_batch_size: int = field(default=32, metadata={"help": "SFT warm-up batch size (step rows)."})

    # ---- run ---------------------------------------------------------------------------------
    # TRL/HF's field (transformers 5 dropped it from TrainingArguments); agentrl/run_folder.py says what it deletes.
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Start over in an output_dir that holds another run's results (config.yaml, metrics.jsonl, "
            "eval.json, final/, checkpoint-*/): delete them first. Without it such a run is refused, unless "
            "resume_from_checkpoint continues it. base_model/ and sft_warmup/ are reused only when built from the "
            "same settings."
        },
    )
    progress_bar: bool = field(
        default=True,
        metadata={
            "help": "RL progress on a terminal as a live rich bar (reward, success, entropy, time left). With false, "
            "or when output goes to a file, one line per logged update instead."
        },
    )
    accelerate_config: str | None = field(
        default=None,
        metadata={
            "help": "The accelerate config file this recipe is meant to be launched with (scripts/reproduce.sh "
            "launches with it; `agentrl train` itself runs on however it was launched)."
        },
    )
    num_processes: int | None = field(
        default=None,
        metadata={
            "help": "Processes this recipe's batch sizes assume (global batch = per_device_train_batch_size x "
            "processes): a launch with another count is warned about, since it changes the global batch."
        },
    )
    hardware: str | None = field(default=None, metadata={"help": "What the recipe expects to run on (informational)."})

    def __post_init__(self):
        from agentrl.ranges import check_field_ranges

        check_field_ranges(self)  # every numeric field in range (agentrl/ranges.py) before anything divides
        if self.gradient_accumulation_steps != 1:
            raise ValueError(
                f"gradient_accumulation_steps={self.gradient_accumulation_steps}: agentrl accumulates over the step "
                "rows of a rollout batch itself. Set gradient_accumulation_steps: 1, and use micro_batch_rows to bound "
                "memory and per_device_train_batch_size (episodes per process per update) to grow the batch."
            )
        if self.steps_per_generation not in (None, 1) or self.generation_batch_size is not None:
            raise ValueError(
                "steps_per_generation / generation_batch_size cannot be set: one rollout batch "
                "(per_device_train_batch_size episodes per process) feeds exactly one optimizer step."
            )
        self.steps_per_generation = 1
        if self.per_device_train_batch_size % self.num_generations != 0:
            raise ValueError(
                f"per_device_train_batch_size ({self.per_device_train_batch_size}) is the number of episodes per "
                f"process and must be a multiple of num_generations ({self.num_generations}), so that every group "
                "of rollouts of a task stays on one process (e.g. 8 tasks x 8 rollouts = 64)."
            )
        if not self.ds3_gather_for_generation:
            raise ValueError(
                "ds3_gather_for_generation: false is not supported: ranks play episodes of different lengths, so "
                "under ZeRO-3 each rank generates with the whole weights gathered (keep the default, true)."
            )
        from agentrl.entropy.control import CONTROLLERS

        if self.entropy_control not in CONTROLLERS:
            raise ValueError(f"entropy_control {self.entropy_control!r}: use one of {', '.join(CONTROLLERS)}")
        if self.use_adaptive_entropy:
            raise ValueError(
                "use_adaptive_entropy: agentrl runs entropy control itself (exact over micro-batches and ranks). "
                "Set entropy_control: adaptive instead; it reads entropy_target, entropy_coef_delta, entropy_coef_min, "
                "entropy_coef_max and starts from entropy_coef."
            )
        from agentrl.algorithms import estimator_names

        if self.advantage_estimator == "dr_grpo":
            raise ValueError(
                "advantage_estimator 'dr_grpo' is now called mean_centred (A = R - group mean, Dr. GRPO's advantage); "
                "the new name keeps it apart from TRL's loss_type: dr_grpo, Dr. GRPO's loss normaliser, a separate "
                "setting. Set advantage_estimator: mean_centred."
            )
        if self.advantage_estimator not in estimator_names():
            raise ValueError(
                f"advantage_estimator {self.advantage_estimator!r}: use one of {', '.join(estimator_names())}"
            )
        if self.gigpo_step_norm not in ("std", "mean"):
            raise ValueError(f"gigpo_step_norm {self.gigpo_step_norm!r}: use std or mean")
        self._check_seal()
        self._check_trajectory_format()
        self._check_dropped_trainer_features()
        import yaml

        if isinstance(self.env_kwargs, str):  # from the command line: a JSON/YAML mapping
            self.env_kwargs = yaml.safe_load(self.env_kwargs) or {}
        self.env_kwargs = dict(self.env_kwargs or {})
        if isinstance(self.env_shift_kwargs, str):
            self.env_shift_kwargs = yaml.safe_load(self.env_shift_kwargs) or {}
        self.env_shift_kwargs = dict(self.env_shift_kwargs or {})
        if (self.env_shift_step is None) != (not self.env_shift_kwargs and self.env_shift_id is None):
            raise ValueError(
                "env_shift_step and env_shift_kwargs / env_shift_id go together: set env_shift_step and what changes "
                "at it (or neither)"
            )
        super().__post_init__()

    @property
    def shifted_env_id(self) -> str:
        """The environment after env_shift_step: env_shift_id where the recipe names one, else env_id."""
        return self.env_shift_id or self.env_id

    def _check_dropped_trainer_features(self) -> None:
        """TRL / HF settings agentrl's own update loop cannot honour: refused here, before a model loads."""
        strategy = getattr(self.eval_strategy, "value", self.eval_strategy)
        if strategy != "no":
            raise ValueError(
                f"eval_strategy {strategy}: agentrl evaluates on its own "
                "held-out task panels (eval_split, eval_num_tasks, eval_temperature; before and after RL, in "
                "eval.json; `agentrl eval` for checkpoints), not through HF's eval loop. Remove eval_strategy."
            )
        if self.top_entropy_quantile < 1.0:
            raise ValueError(
                f"top_entropy_quantile {self.top_entropy_quantile}: not supported. TRL takes the entropy quantile per "
                "micro-batch, and agentrl's update walks the batch in micro-batches of micro_batch_rows rows (and "
                "skips rows that cannot move the weights), so the tokens kept would depend on micro_batch_rows "
                "instead of being the batch's top tokens. Keep top_entropy_quantile: 1.0."
            )
        if str(self.optim).startswith("schedule_free"):
            raise ValueError(
                f"optim {self.optim}: schedule-free optimizers train and evaluate with different weights "
                "(optimizer.train() / .eval()), which agentrl's rollouts, evaluations and saves do not switch. Use "
                "adamw_torch (the default) or another optimizer."
            )
        parallelism = getattr(self, "parallelism_config", None)
        if parallelism is not None and getattr(parallelism, "cp_enabled", False):
            raise ValueError(
                "parallelism_config with context parallelism (cp_size > 1): not supported; agentrl's update runs "
                "whole rows on each process. Remove cp_size (data parallelism and ZeRO shard the model instead)."
            )

    def _check_trajectory_format(self) -> None:
        from agentrl.rollout.contexts import TRAJECTORY_FORMATS

        if self.trajectory_format not in TRAJECTORY_FORMATS:
            raise ValueError(
                f"trajectory_format {self.trajectory_format!r}: use one of {', '.join(TRAJECTORY_FORMATS)}"
            )
        if self.concat_template_check not in ("warn", "error", "off"):
            raise ValueError(f"concat_template_check {self.concat_template_check!r}: use warn, error or off")
        if self.trajectory_format == "concat":
            if self.max_episode_tokens <= self.max_completion_length:
                raise ValueError(
                    f"max_episode_tokens ({self.max_episode_tokens}) must exceed max_completion_length "
                    f"({self.max_completion_length}, the per-turn budget): it bounds the whole conversation"
                )
            if self.seal and self.seal_pooling == "step":
                raise ValueError(
                    "seal_pooling: step needs trajectory_format: per_step (a concat row is a whole episode); "
                    "use seal_pooling: trajectory"
                )

    def _check_seal(self) -> None:
        from agentrl.algorithms.seal import SEAL_LABEL_RULES, SEAL_POOLINGS, seal_variant_names

        choices = {
            "seal_pooling": (self.seal_pooling, SEAL_POOLINGS),
            "seal_label": (self.seal_label, SEAL_LABEL_RULES),
            "seal_variant": (self.seal_variant, seal_variant_names()),
        }
        for key, (value, allowed) in choices.items():
            if value not in allowed:
                raise ValueError(f"{key} {value!r}: use one of {', '.join(allowed)}")
