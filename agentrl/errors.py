"""Errors the CLI reports as one line (exit code 2), kept import-light so `agentrl envs` starts fast."""


class RecipeError(ValueError):
    """A recipe or command line that cannot run; the message says what to fix."""


class TrainingInterrupted(Exception):
    """SIGINT / SIGTERM during RL: the run stopped after an update and saved `checkpoint` (agentrl/interrupts.py).
    The CLI prints how to resume (on the main process: `show`) and exits with `exit_code` (128 + the signal)."""

    def __init__(
        self,
        signal_name: str,
        exit_code: int,
        checkpoint: str,
        step: int,
        max_steps: int,
        show: bool = True,
        processes: int = 1,
        overwrite: bool = False,
    ):
        super().__init__(f"{signal_name}: stopped after update {step}, checkpoint {checkpoint}")
        self.signal_name, self.exit_code, self.checkpoint = signal_name, exit_code, checkpoint
        self.step, self.max_steps = step, max_steps
        self.show = show  # False on the other ranks: one message per run
        self.processes = processes
        self.overwrite = overwrite  # overwrite_output_dir was on: the resume command turns it off
