"""Library output that is not the user's business, silenced: agentrl prints its own progress.

- transformers 5.23 renamed gradient_checkpointing to activation_checkpointing, and TRL's configs still set the old
  name: every run warned `gradient_checkpointing is deprecated`, whatever the recipe said.
- DeepSpeed, imported by accelerate on every run, logs "Setting accelerator to CPU" on a machine without a GPU.
- transformers' per-file bars (loading weights, writing shards) and datasets' map bars: a smoke run printed a dozen.
  Download bars of the hub stay: a multi-GB download is the user's business.
"""

from __future__ import annotations

import logging
import warnings


def _not_deepspeed_cpu_notice(record: logging.LogRecord) -> bool:
    return "Setting accelerator to CPU" not in record.getMessage()


def quiet_warnings() -> None:
    """Warning filters; cheap (no library is imported), so the CLI installs them before parsing a recipe."""
    warnings.filterwarnings("ignore", message=r".*gradient_checkpointing.* is deprecated", category=FutureWarning)
    deepspeed_logger = logging.getLogger("DeepSpeed")  # the logger DeepSpeed creates later is this same object
    if _not_deepspeed_cpu_notice not in deepspeed_logger.filters:
        deepspeed_logger.addFilter(_not_deepspeed_cpu_notice)


def quiet_progress_bars() -> None:
    """No per-file bars of transformers and datasets; the hub's download bars stay on."""
    import datasets
    import huggingface_hub
    import transformers

    transformers.utils.logging.disable_progress_bar()  # this also turns the hub's bars off ...
    huggingface_hub.utils.enable_progress_bars()  # ... so turn those back on
    datasets.disable_progress_bars()
