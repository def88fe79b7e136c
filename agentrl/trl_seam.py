"""Every place agentrl reaches past the public API of TRL, transformers, accelerate or torch: one file to port.

agentrl's trainer is TRL's GRPOTrainer with the rollout, the update loop and the checkpoint hooks replaced. Those
replacements need a few private members of the libraries (listed in TOUCHPOINTS, each with the signature it was
written against). A TRL upgrade is a port of this file: `tests/test_trl_seam.py` compares every touchpoint with
the installed libraries and fails, naming it, when one moved or changed its arguments.

Importing this module (the trainer does) checks the TRL version first: another minor version stops with one
message naming the supported one, before a model loads or a run folder is touched.
"""

from __future__ import annotations

from typing import Any

import torch

SUPPORTED_TRL = "1.16"  # the minor version every touchpoint below was read from


class UnsupportedTRLError(ImportError):
    pass


def check_trl_version(installed: str | None = None) -> None:
    """Raise UnsupportedTRLError unless TRL `SUPPORTED_TRL`.x is installed (`installed`: the version to check)."""
    if installed is None:
        import trl

        installed = trl.__version__
    if installed.split(".")[:2] != SUPPORTED_TRL.split("."):
        raise UnsupportedTRLError(
            f"agentrl's trainer is written for TRL {SUPPORTED_TRL}.x (it overrides parts of GRPOTrainer), but TRL "
            f"{installed} is installed. Install the supported version: pip install 'trl=={SUPPORTED_TRL}.*'"
        )


check_trl_version()

# name -> the parameters it had when this file was written (tests/test_trl_seam.py checks them). "override": agentrl
# replaces the method; "call": agentrl calls it; "attribute": agentrl reads or writes it.
TOUCHPOINTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "trl.GRPOTrainer._generate_and_score_completions": ("override", ("self", "inputs")),
    "trl.GRPOTrainer._prepare_inputs": ("override", ("self", "generation_batch")),
    "trl.GRPOTrainer.training_step": ("override", ("self", "model", "inputs", "num_items_in_batch")),
    "trl.GRPOTrainer._save_checkpoint": ("override", ("self", "model", "trial")),
    "trl.GRPOTrainer._load_optimizer_and_scheduler": ("override", ("self", "checkpoint")),
    "trl.GRPOTrainer._get_per_token_logps_and_entropies": (
        "call",
        ("self", "model", "input_ids", "attention_mask", "logits_to_keep", "batch_size", "compute_entropy"),
    ),
    "trl.GRPOTrainer._compute_loss": ("call", ("self", "model", "inputs")),  # through compute_loss; LOSS_NORMALISERS
    "trl.GRPOTrainer._get_output_dir": ("call", ("self", "trial")),
    "trl.GRPOTrainer._step": ("attribute", ()),  # optimizer steps taken (num_iterations reuse of a rollout batch)
    "trl.GRPOTrainer._last_loaded_step": ("attribute", ()),  # the step whose weights vLLM serves
    "trl.GRPOTrainer._metrics": ("attribute", ()),  # {"train"|"eval": {name: [values]}}, averaged at each log
    "trl.GRPOTrainer._entropy_bonus_enabled": ("attribute", ()),  # _compute_loss adds the entropy term when set
    "trl.GRPOTrainer._tokenizer": ("attribute", ()),
    "trl.generation.vllm_generation.VLLMGeneration._iter_named_params": ("override", ("self",)),
    "accelerate.state.GradientState._set_sync_gradients": ("call", ("self", "sync_gradients")),
    "accelerate.state.AcceleratorState._reset_state": ("call", ("reset_partial_state",)),
    "torch.nn.Module._forward_pre_hooks": ("attribute", ()),  # DeepSpeed ZeRO-3's trace hook (unwrap_for_generation)
}

# How TRL 1.16's `_compute_loss` normalises the policy loss of one micro-batch (read from its source), hence how
# agentrl re-weights a micro-batch so the sum over micro-batches is the loss of the whole batch (agentrl.training.
# micro_batches). A loss type missing here is refused by the config before training.
LOSS_NORMALISERS = {
    "grpo": "rows",  # mean over the micro-batch's rows of each row's token mean
    "sapo": "rows",
    "luspo": "rows",  # sum over a row's tokens, mean over rows
    "dr_grpo": "rows",  # sum over tokens / (rows x max_completion_length)
    "bnpo": "tokens",  # mean over the micro-batch's loss tokens
    "dapo": "batch_tokens",  # sum / (num_items_in_batch / processes): already the whole batch's normaliser
    "cispo": "batch_tokens",
    "vespo": "batch_tokens",
}


# ---------------------------------------------------------------------------------------------- calls
def per_token_logps_and_entropies(
    trainer: Any,
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    logits_to_keep: int,
    batch_size: int,
    compute_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The policy's log-prob (and, if asked, full-vocabulary entropy) of each of the last `logits_to_keep` tokens,
    at the sampling temperature, in no-grad chunks of `batch_size` rows: TRL's own computation."""
    logps, entropies, _ = trainer._get_per_token_logps_and_entropies(
        model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size, compute_entropy=compute_entropy
    )
    return logps, entropies


def run_folder(trainer: Any, trial: Any) -> str:
    """The output folder HF's Trainer saves checkpoints under."""
    return trainer._get_output_dir(trial=trial)


def set_sync_gradients(accelerator: Any, value: bool) -> None:
    """Whether the coming backward ends the gradient accumulation (DeepSpeed steps its optimizer inside the
    backward when it does; agentrl accumulates over its own micro-batches)."""
    accelerator.gradient_state._set_sync_gradients(value)


def reset_accelerator_state() -> None:
    """Forget the process's accelerate state (one DeepSpeed plugin per state: the SFT warm-up's, then RL's)."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state()


# ---------------------------------------------------------------------------------------------- attributes
def optimizer_steps(trainer: Any) -> int:
    """Optimizer steps taken by this trainer (TRL's counter of rollout-batch reuse)."""
    return trainer._step


def count_optimizer_step(trainer: Any) -> None:
    trainer._step += 1


def served_step(trainer: Any) -> int:
    """The optimizer step whose weights the vLLM engine holds."""
    return trainer._last_loaded_step


def mark_served(trainer: Any, step: int) -> None:
    trainer._last_loaded_step = step


def log_metric(trainer: Any, name: str, value: float, mode: str = "train") -> None:
    """Add `value` to the metric `name` of this log interval (TRL averages each list when it logs)."""
    trainer._metrics[mode][name].append(value)


def drop_metric(trainer: Any, name: str, mode: str = "train") -> None:
    trainer._metrics[mode].pop(name, None)


def enable_entropy_bonus(trainer: Any, enabled: bool) -> None:
    """Whether TRL's `_compute_loss` adds its entropy term (-entropy_coef x token-mean entropy)."""
    trainer._entropy_bonus_enabled = enabled


def tokenizer_of(trainer: Any) -> Any:
    """The text tokenizer of the trainer's processing class (TRL unwraps processors)."""
    return trainer._tokenizer


def filter_served_parameters(engine: Any, keep: Any) -> None:
    """Make TRL's vLLM weight sync stream only the parameters whose name passes `keep` (the full iteration, and
    with it each parameter's gathering under ZeRO-3, still runs, so the ranks stay in step)."""
    iterate = engine._iter_named_params

    def served_parameters():
        for name, parameter in iterate():
            if keep(name):
                yield name, parameter

    engine._iter_named_params = served_parameters


def forward_pre_hooks(module: torch.nn.Module) -> Any:
    """The module's ordered forward-pre-hook table (DeepSpeed registers its ZeRO-3 trace hook there)."""
    return module._forward_pre_hooks
