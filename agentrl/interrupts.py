"""Ctrl-C (SIGINT) and SIGTERM during RL: finish the update in progress, save a checkpoint, say how to resume.

While trainer.train() runs, GracefulStop replaces Python's SIGINT handler (a KeyboardInterrupt
traceback from wherever the process was) and the default SIGTERM one (immediate death):

- the first SIGINT or SIGTERM only records the request; the update in progress runs to its end;
- after every update all ranks take the largest signal number any rank received (an all-reduce of one number),
  so they stop at the same update even when the signal reached them at different moments (a rank that stopped
  alone would leave the others waiting in a collective forever). The stop asks the Trainer to log, to save a
  checkpoint (whatever save_strategy says: `no` included) and to end training;
- run.train() then raises agentrl.errors.TrainingInterrupted instead of writing final/ and evaluating; the CLI
  prints the resume command and exits with 128 + the signal number (130 for SIGINT, 143 for SIGTERM);
- a second SIGINT at least a second after the first exits at once (status 130), without saving. Signals closer
  together are taken as one: some launchers deliver a terminal's Ctrl-C both directly and forwarded. A repeated
  SIGTERM never hurries the stop (schedulers send SIGKILL when their grace period ends).

Under `accelerate launch` / torchrun the launcher receives the terminal's Ctrl-C and forwards SIGINT to every
worker, then kills them after TORCH_ELASTIC_SHUTDOWN_TIMEOUT seconds (30 by default): finishing the update and
saving must fit in that time (raise it for large models). The launcher then ends with its own traceback
(SignalException), which agentrl cannot change.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import threading
import time

import torch
from transformers import TrainerCallback

from agentrl.algorithms.distributed import global_max
from agentrl.errors import TrainingInterrupted

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
SAME_INTERRUPT_S = 1.0  # two SIGINTs closer than this are one Ctrl-C delivered twice


def _say(text: str) -> None:
    """Write from a signal handler: os.write, since print() could re-enter a write the handler interrupted."""
    os.write(2, f"\n[agentrl] {text}\n".encode())


class GracefulStop(TrainerCallback):
    """See the module docstring. `agreed`: the signal number every rank stopped on (0: none)."""

    def __init__(self):
        self.received = 0  # the first stop signal this process received before the ranks agreed to stop
        self.received_at = 0.0  # when this process got its first signal (0: none yet)
        self.agreed = 0
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        now = time.monotonic()
        if self.received_at and signum == signal.SIGINT and now - self.received_at >= SAME_INTERRUPT_S:
            _say("second Ctrl-C: exiting now, without saving the update in progress")
            os._exit(128 + signum)
        self.received_at = self.received_at or now
        if self.received or self.agreed:  # already stopping (this rank was signalled, or another one was): quiet
            return
        self.received = signum
        rank = f" (rank {os.environ['RANK']})" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else ""
        _say(
            f"{signal.Signals(signum).name} received{rank}: finishing this update, then saving a checkpoint "
            "(Ctrl-C again to quit at once, without saving)"
        )

    @contextlib.contextmanager
    def catching_signals(self):
        """Around trainer.train(). After a stop the handlers stay until the process exits: a launcher may signal the
        ranks again while they finish (it stops the others when one exits), and that must not cut the last rank's
        message short. Otherwise (finished, or an error) the previous handlers come back."""
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        try:
            yield self
        finally:
            if not self.agreed:
                for signum, handler in self._previous.items():
                    signal.signal(signum, handler)
                self._previous.clear()

    def on_step_end(self, args, state, control, **kwargs):
        # One all-reduce per update, on every rank: a collective that only some ranks made would hang them all.
        self.agreed = int(global_max(torch.tensor([float(self.received)], device=args.device)).item())
        if self.agreed:
            control.should_log = control.should_save = control.should_training_stop = True

    def interruption(self, args, trainer_state, is_main_process: bool, processes: int) -> TrainingInterrupted:
        """The exception run.train() raises after a stop (the checkpoint of the last update is complete)."""
        from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

        step = trainer_state.global_step
        return TrainingInterrupted(
            signal_name=signal.Signals(self.agreed).name,
            exit_code=128 + self.agreed,
            checkpoint=os.path.join(args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{step}"),
            step=step,
            max_steps=trainer_state.max_steps,
            show=is_main_process,
            processes=processes,
            overwrite=bool(args.overwrite_output_dir),
        )


def _without_options(argv: list[str], flags: dict[str, bool]) -> list[str]:
    """`argv` without the options named in `flags` (name -> whether it always takes a value) and their values.
    A boolean option's value is optional (`--overwrite_output_dir` alone means true)."""
    kept, pending = [], None  # pending: the option whose value may come next
    for token in argv:
        if pending is not None:
            takes_value, pending = flags[pending], None
            if takes_value or token.lower() in ("true", "false", "yes", "no", "1", "0"):
                continue
        name = token[2:].split("=", 1)[0] if token.startswith("--") else None
        if name in flags:
            pending = None if "=" in token else name
            continue
        kept.append(token)
    return kept


def resume_command(stop: TrainingInterrupted, argv: list[str]) -> str:
    """The command that continues the run from `stop.checkpoint`: `argv` (the `agentrl train` arguments) as given,
    with --resume_from_checkpoint pointing at the checkpoint (and overwrite_output_dir off)."""
    options = _without_options(argv, {"resume_from_checkpoint": True, "overwrite_output_dir": False})
    options += ["--resume_from_checkpoint", stop.checkpoint]
    if stop.overwrite:
        options += ["--overwrite_output_dir", "false"]
    launcher = "accelerate launch <the same launch options> -m agentrl" if stop.processes > 1 else "agentrl"
    return f"{launcher} train {shlex.join(options)}"


def resume_message(stop: TrainingInterrupted, argv: list[str]) -> str:
    return (
        f"[agentrl] {stop.signal_name}: stopped after update {stop.step} of {stop.max_steps} and saved "
        f"{stop.checkpoint} (no final/ or evaluation yet). Resume with:\n  {resume_command(stop, argv)}"
    )
