"""Which checkpoints of a run are complete, and which one a resume continues from.

HF's Trainer writes a checkpoint as many files into checkpoint-N/ (model, optimizer, scheduler, RNG states,
trainer state); a process killed halfway leaves a folder that looks like a checkpoint but cannot be resumed.
agentrl writes one more file after everything else, on the main process once every rank is done: only a
folder with it is a checkpoint to continue from.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

logger = logging.getLogger(__name__)
COMPLETE_FILE = "agentrl_checkpoint_complete.json"


def mark_checkpoint_complete(folder: str | Path) -> None:
    (Path(folder) / COMPLETE_FILE).write_text(json.dumps({"completed_at": time.time()}))


def is_complete(folder: str | Path) -> bool:
    return (Path(folder) / COMPLETE_FILE).is_file()


def latest_complete_checkpoint(output_dir: str | Path) -> Path | None:
    """The checkpoint-N folder with the largest N that is complete; incomplete newer ones are named in a warning."""
    found = []
    for folder in Path(output_dir).glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        suffix = folder.name[len(PREFIX_CHECKPOINT_DIR) + 1 :]
        if folder.is_dir() and suffix.isdigit():
            found.append((int(suffix), folder))
    for _, folder in sorted(found, reverse=True):
        if is_complete(folder):
            return folder
        logger.warning("%s is incomplete (the run was stopped while saving it): resuming from an older one", folder)
    return None
