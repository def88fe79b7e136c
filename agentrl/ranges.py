"""The allowed range of every numeric recipe field, in one table, checked before anything is built or loaded.

A value outside its range would otherwise fail late, after the model is loaded (a DataLoader error for a batch
size of 0, torch's for a negative learning rate, a ZeroDivisionError for num_generations 0), or not at all (a
negative penalty silently rewards what it should punish). Each entry is the field, its range and what the field
means; the message names all three and the fix:

    num_generations must be >= 2, got 0 (rollouts per task: GRPO compares each with the others of its group).
    Set `num_generations:` in the recipe, or --num_generations on the command line.

Range syntax: `>= a`, `> a`, `<= a`, an interval `[a, b]` / `(a, b]` / `[a, b)` / `(a, b)` whose bounds are numbers
or other fields' names (`[0, max_completion_length]`), and `... or V` for one more allowed value (`>= 1 or -1`).
None always passes: for optional fields it means "off" or "automatic". Import-light (no torch, TRL or transformers).
"""

from __future__ import annotations

import math
import re
from typing import Any

# field -> (range, what it is). TRL / transformers fields first (those agentrl uses), then agentrl's own.
FIELD_RANGES: dict[str, tuple[str, str]] = {
    # ---- TRL GRPOConfig / transformers TrainingArguments
    "per_device_train_batch_size": (">= 1", "episodes each process collects per update: tasks x num_generations"),
    "per_device_eval_batch_size": (">= 1", "TRL's evaluation batch size"),
    "num_generations": (">= 2", "rollouts per task: GRPO compares each with the others of its group"),
    "max_steps": (">= 1 or -1", "optimizer updates; -1 = num_train_epochs passes over the train tasks"),
    "num_train_epochs": ("> 0", "passes over the train tasks when max_steps is -1"),
    "learning_rate": (">= 0", "the optimizer's step size"),
    "weight_decay": (">= 0", "AdamW weight decay"),
    "adam_beta1": ("[0, 1)", "AdamW beta1"),
    "adam_beta2": ("[0, 1)", "AdamW beta2"),
    "adam_epsilon": (">= 0", "AdamW epsilon"),
    "max_grad_norm": (">= 0", "gradient clipping norm; 0 = no clipping"),
    "warmup_steps": (">= 0", "learning-rate warm-up updates (below 1: a fraction of max_steps)"),
    "logging_steps": ("> 0", "updates between two logged lines of metrics.jsonl"),
    "save_steps": ("> 0", "updates between two checkpoints (save_strategy: steps)"),
    "save_total_limit": (">= 1", "checkpoints kept; unset = all"),
    "seed": ("[0, 4294967295]", "the run's random seed"),
    "max_completion_length": (">= 1", "token budget of one response (one turn)"),
    "temperature": ("> 0", "sampling temperature of the rollouts; the rollouts of a group must differ"),
    "top_p": ("(0, 1]", "nucleus sampling of the rollouts; 1 = off"),
    "top_k": (">= 0", "top-k sampling of the rollouts; 0 = off"),
    "min_p": ("[0, 1]", "min-p sampling of the rollouts"),
    "repetition_penalty": ("> 0", "repetition penalty of the rollouts; 1 = off"),
    "beta": (">= 0", "KL coefficient; 0 = no reference model"),
    "num_iterations": (">= 1", "optimizer passes over each rollout batch"),
    "epsilon": (">= 0", "PPO clip range (low side)"),
    "epsilon_high": (">= 0", "PPO clip range (high side, DAPO's clip-higher)"),
    "delta": ("> 0", "two-sided clipping bound of the ratio"),
    "top_entropy_quantile": ("[0, 1]", "fraction of highest-entropy tokens trained on; 1 = all"),
    "entropy_coef": (">= 0", "entropy bonus coefficient (loss -= coef * H)"),
    "entropy_coef_max": (">= 0", "entropy_control adaptive: largest coefficient"),
    "entropy_coef_min": ("[0, entropy_coef_max]", "entropy_control adaptive: smallest coefficient"),
    "entropy_coef_delta": (">= 0", "entropy_control adaptive: coefficient change per update"),
    "entropy_target": (">= 0", "entropy_control adaptive: target token entropy (nats)"),
    "vllm_gpu_memory_utilization": ("(0, 1]", "use_vllm colocate: fraction of GPU memory for vLLM"),
    "vllm_importance_sampling_clip_max": ("> 0", "use_vllm: importance-weight truncation"),
    # ---- agentrl: model
    "tiny_hidden_size": (">= 8", "tiny model: hidden size"),
    "tiny_num_layers": (">= 1", "tiny model: transformer layers"),
    "tiny_vocab_size": (">= 1", "tiny model: BPE vocabulary size"),
    "lora_r": (">= 1", "LoRA rank"),
    "lora_alpha": ("> 0", "LoRA alpha"),
    "lora_dropout": ("[0, 1)", "LoRA dropout"),
    # ---- agentrl: environment and evaluation
    "env_shift_step": (">= 0", "update after which the environment changes"),
    "max_episode_steps": (">= 1", "episode step limit"),
    "env_workers": (">= 0", "environment worker processes; 0 = in the trainer process"),
    "env_step_timeout_s": ("> 0", "seconds one environment reset/step may take"),
    "eval_num_tasks": (">= 1", "held-out tasks evaluated before and after RL"),
    "eval_temperature": (">= 0", "held-out evaluation temperature; 0 = greedy"),
    # ---- agentrl: rollout
    "history_length": (">= 0", "past (observation, action) pairs in each step prompt"),
    "max_episode_tokens": (">= 1", "concat: token budget of a whole episode"),
    "invalid_format_penalty": (">= 0", "reward subtracted for a malformed response"),
    "micro_batch_rows": (">= 1", "step rows per forward/backward pass"),
    # ---- agentrl: credit assignment
    "step_advantage_weight": (">= 0", "gigpo: weight of the step advantage"),
    "gamma": ("[0, 1]", "gigpo: discount of the step returns"),
    "empg_k": (">= 0", "EMPG: k of the self-calibrating scale"),
    "empg_k_future": (">= 0", "EMPG: k' of the future-clarity bonus"),
    "empg_zeta": (">= 0", "EMPG: weight of the future-clarity bonus"),
    "max_generation_rounds": (">= 1", "dynamic_sampling: rollout rounds per update"),
    "starpo_keep_fraction": ("(0, 1]", "StarPO-S: fraction of groups kept"),
    "overlong_buffer_length": ("[0, max_completion_length]", "DAPO soft overlong punishment: buffer tokens"),
    "overlong_penalty_factor": (">= 0", "DAPO soft overlong punishment: scale"),
    # ---- agentrl: SEAL
    "seal_coef": (">= 0", "SEAL loss coefficient"),
    "seal_layer": (">= 0 or -1", "SEAL: decoder layer k, or -1 = the final hidden states"),
    "seal_head_layers": (">= 1", "SEAL: Linear layers of the head"),
    "seal_margin": (">= 0", "SEAL centroid_margin: the margin"),
    "seal_temperature": ("> 0", "SEAL supcon: the temperature"),
    # ---- agentrl: entropy control and eruption detection
    "pulse_threshold": (">= 0", "pulse: step entropy that starts a pulse"),
    "pulse_magnitude": (">= 0", "pulse: coefficient multiplier during a pulse"),
    "pulse_duration": (">= 1", "pulse: updates a pulse lasts"),
    "pulse_base_coef": (">= 0", "pulse: coefficient outside pulses"),
    "pulse_decay": ("[0, 1]", "pulse: decay of the coefficient after a pulse"),
    "pulse_peak_coef": (">= 0", "pulse: coefficient during a pulse"),
    "pulse_stop_entropy": (">= 0", "pulse: step entropy that ends a pulse"),
    "pulse_on_descent": (">= 0", "pulse: consecutive descent phases that start a pulse; 0 = off"),
    "pulse_repeat_action_rate": ("[0, 1]", "pulse: repeated-action rate that starts a pulse"),
    "pulse_on_zero_signal": (">= 0", "pulse: consecutive updates without signal that start a pulse; 0 = off"),
    "eruption_window": (">= 3", "eruption detector: baseline window (updates)"),
    "eruption_min_rise": (">= 0", "eruption detector: smallest entropy rise"),
    "eruption_rel_rise": (">= 0", "eruption detector: relative entropy rise"),
    "eruption_noise_z": (">= 0", "eruption detector: rise in noise units"),
    # ---- agentrl: SFT warm-up and run
    "sft_warmup_steps": (">= 0", "SFT warm-up steps; 0 = no warm-up"),
    "sft_num_tasks": (">= 1", "train tasks whose expert episodes form the SFT data"),
    "sft_learning_rate": (">= 0", "SFT warm-up learning rate"),
    "sft_batch_size": (">= 1", "SFT warm-up batch size (rows)"),
    "num_processes": (">= 1", "processes the recipe's batch sizes assume"),
}

_COMPARISON = re.compile(r"^(>=|>|<=)\s*(\S+)$")
_INTERVAL = re.compile(r"^([\[(])\s*([^,]+?)\s*,\s*([^\])]+?)\s*([\])])$")


def _bound(text: str, config: Any) -> tuple[float, str]:
    """A bound of a range: a number, or another field's value (shown as `name=value` in the message); another
    field that is unset or not a number bounds nothing (its own entry reports it)."""
    try:
        return float(text), text
    except ValueError:
        value = getattr(config, text, None)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return math.nan, text
        return float(value), f"{text}={value}"


def _within(value: float, spec: str, config: Any) -> tuple[bool, str]:
    """Whether `value` satisfies `spec` (the syntax in the module docstring), and the range as the message says it."""
    spec, _, extra = spec.partition(" or ")
    if extra and value == float(extra):
        return True, ""
    if match := _COMPARISON.match(spec):
        operator, (bound, shown) = match.group(1), _bound(match.group(2), config)
        ok = {">=": value >= bound, ">": value > bound, "<=": value <= bound}[operator] or math.isnan(bound)
        said = f"{operator} {shown}"
    else:
        opening, low_text, high_text, closing = _INTERVAL.match(spec).groups()
        (low, low_shown), (high, high_shown) = _bound(low_text, config), _bound(high_text, config)
        ok = (low <= value if opening == "[" else low < value) or math.isnan(low)
        ok = ok and ((value <= high if closing == "]" else value < high) or math.isnan(high))
        said = f"in {opening}{low_shown}, {high_shown}{closing}"
    return ok, said + (f" or {extra}" if extra else "")


def range_error(name: str, value: Any, config: Any) -> str | None:
    """The message for field `name` holding `value`, or None when it is allowed."""
    spec, meaning = FIELD_RANGES[name]
    fix = f"Set `{name}:` in the recipe, or --{name} on the command line."
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{name} must be a number, got {value!r} ({meaning}). {fix}"
    if math.isnan(value):
        return f"{name} must be a number, got nan ({meaning}). {fix}"
    ok, said = _within(value, spec, config)
    return None if ok else f"{name} must be {said}, got {value} ({meaning}). {fix}"


def check_field_ranges(config: Any) -> None:
    """Raise ValueError naming the first field of FIELD_RANGES that `config` holds out of range."""
    for name in FIELD_RANGES:
        if hasattr(config, name) and (message := range_error(name, getattr(config, name), config)):
            raise ValueError(message)
