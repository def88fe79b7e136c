"""Say loudly when RL has nothing to learn from, instead of training quietly on exact zeros.

Two ways a run carries no learning signal:

- the policy never writes a well-formed action (`<think>..</think><action>..</action>`, or a tool call): every
  step is a no-op with the same penalty, so every group's returns are equal. Checked once, on the held-out
  evaluation before RL (`format_valid_ratio`).
- every group's returns are equal for other reasons (all fail, all succeed): every advantage is 0 and no row
  is trained. Checked on every logged update (`rollout/trainable_rows`, rows with a non-zero advantage and at
  least one loss token, over all ranks); after `patience` such updates in a row the warning names the fixes.
"""

from __future__ import annotations

import sys

from transformers import TrainerCallback

# Below this held-out format-valid rate the policy (almost) never produces an action the environment can use.
FORMAT_VALID_FLOOR = 0.05


def format_warning(summary: dict, env_id: str, sft_warmup_steps: int) -> str | None:
    """The warning for a pre-RL evaluation whose responses are (almost) never well-formed, else None."""
    rate = summary.get("format_valid_ratio")
    if rate is None or rate >= FORMAT_VALID_FLOOR:
        return None
    warm_up = (
        f"raise sft_warmup_steps (now {sft_warmup_steps})"
        if sft_warmup_steps
        else "set sft_warmup_steps > 0 (with the environment's expert, or sft_demonstrations: FILE.jsonl)"
    )
    return (
        f"[agentrl] warning: only {rate:.1%} of the policy's held-out responses on {env_id} are well-formed actions, "
        f"so RL will see (almost) no reward differences to learn from. Fix: {warm_up}, or start from a model that "
        "already follows the action format (an instruct model), or check the prompt template."
    )


class ZeroSignalWarning(TrainerCallback):
    """Warns once per streak when `patience` logged updates in a row had no trainable row."""

    def __init__(self, patience: int = 3, stream=None) -> None:
        self.patience = patience
        self.stream = stream
        self.streak = 0

    def on_log(self, args, state, control, logs=None, **kwargs):
        rows = (logs or {}).get("rollout/trainable_rows")
        if rows is None:
            return
        self.streak = self.streak + 1 if rows == 0 else 0
        if self.streak == self.patience and state.is_world_process_zero:
            print(
                f"[agentrl] warning: {self.patience} updates in a row (up to step {state.global_step}) had no "
                "trainable row: every group's returns were equal, so every advantage is 0 and the weights do not "
                "move. Fix: more rollouts per task (num_generations), an easier task mix or a warmer start "
                "(sft_warmup_steps), a shaped reward, or dynamic_sampling: true (drops all-equal groups and rolls "
                "out more).",
                file=self.stream or sys.stderr,
            )
