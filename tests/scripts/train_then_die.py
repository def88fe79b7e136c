"""`agentrl train ...`, killed with SIGKILL at a chosen point of saving checkpoint STEP:

    python tests/scripts/train_then_die.py after|during STEP [agentrl train arguments...]

after: once checkpoint STEP is complete (the process dies before the next update);
during: after the model files of checkpoint STEP are written, before its optimizer, RNG and trainer state.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> int:
    mode, step, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    from agentrl.cli import main as agentrl_main
    from agentrl.trainer import AgentGRPOTrainer

    save_checkpoint = AgentGRPOTrainer._save_checkpoint
    save_optimizer = AgentGRPOTrainer._save_optimizer_and_scheduler

    def die() -> None:
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    def checkpoint(self, model, trial):
        save_checkpoint(self, model, trial)
        if mode == "after" and self.state.global_step == step:
            die()

    def optimizer(self, output_dir):
        if mode == "during" and self.state.global_step == step:
            die()  # the model files are on disk, nothing else
        save_optimizer(self, output_dir)

    AgentGRPOTrainer._save_checkpoint = checkpoint
    AgentGRPOTrainer._save_optimizer_and_scheduler = optimizer
    return agentrl_main(["train", *argv])


if __name__ == "__main__":
    sys.exit(main())
