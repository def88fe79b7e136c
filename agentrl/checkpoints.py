"""Which checkpoints of a run are complete and intact, and which one a resume continues from.

HF's Trainer writes a checkpoint as many files into checkpoint-N/ (model, optimizer, scheduler, RNG states,
trainer state); a process killed halfway leaves a folder that looks like a checkpoint but cannot be resumed.
agentrl writes one more file after everything else, on the main process once every rank is done: the completion
mark. Only a folder with it is a checkpoint to continue from.

The mark records every file of the checkpoint (sub-folders included, e.g. DeepSpeed's global_stepN/) with its size
and its xxh3-128 hash. Before a resume uses a checkpoint, each file is checked against it: a missing file, another
size (a truncated copy, a disk that filled up) or another hash (a file changed or damaged after the save) makes
the checkpoint unusable. Why xxh3 and whole files: it hashes at memory speed (about 10 GB/s on one core here, 18x
sha256 on this machine), so even a 7B model's checkpoint (about 45 GB with Adam's states) costs seconds next to the
minutes of writing it, and a change anywhere in a file is seen, not only at its ends. It is not a cryptographic
hash: it guards against accidents, not against someone forging a checkpoint. Marks written before agentrl
recorded files (only `completed_at`) are taken as complete without a check.

The mark is written under a temporary name and renamed into place, so a kill while writing it leaves no mark.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import xxhash
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

logger = logging.getLogger(__name__)
COMPLETE_FILE = "agentrl_checkpoint_complete.json"
_CHUNK = 16 << 20  # bytes hashed at a time


def file_hash(path: str | Path) -> str:
    """xxh3-128 of the whole file, hex."""
    digest = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _checkpoint_files(folder: Path) -> list[Path]:
    """Every file of the checkpoint but the mark (and its temporary), as paths relative to `folder`, sorted."""
    return sorted(
        path.relative_to(folder)
        for path in folder.rglob("*")
        if path.is_file() and not path.name.startswith(COMPLETE_FILE)
    )


def mark_checkpoint_complete(folder: str | Path) -> None:
    """Write the completion mark: every file's size and hash (see the module docstring)."""
    folder = Path(folder)
    files = {
        str(name): {"size": (folder / name).stat().st_size, "xxh3_128": file_hash(folder / name)}
        for name in _checkpoint_files(folder)
    }
    temporary = folder / f"{COMPLETE_FILE}.tmp"
    temporary.write_text(json.dumps({"completed_at": time.time(), "files": files}, indent=1))
    os.replace(temporary, folder / COMPLETE_FILE)


def unmark_checkpoint(folder: str | Path) -> None:
    """Remove the mark of a checkpoint about to be written again."""
    (Path(folder) / COMPLETE_FILE).unlink(missing_ok=True)


def checkpoint_problem(folder: str | Path) -> str | None:
    """Why `folder` cannot be resumed from (no mark, a file missing, truncated or changed), or None if it can."""
    folder = Path(folder)
    if not folder.is_dir():
        return "it is not a folder"
    try:
        mark = json.loads((folder / COMPLETE_FILE).read_text())
    except FileNotFoundError:
        return f"it has no completion mark ({COMPLETE_FILE}): the run was stopped while saving it"
    except (OSError, ValueError) as error:
        return f"its completion mark {COMPLETE_FILE} is unreadable ({error})"
    for name, expected in (mark.get("files") or {}).items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        size = path.stat().st_size
        if size != expected["size"]:
            return f"{name} is {size} bytes, the completion mark recorded {expected['size']} (truncated or replaced)"
        if file_hash(path) != expected["xxh3_128"]:
            return f"{name} has changed since it was saved (its xxh3-128 hash differs from the completion mark's)"
    return None


def checkpoint_step(folder: str | Path) -> int:
    """The update a checkpoint was saved after: trainer_state.json's global_step, else the folder's number."""
    try:
        return int(json.loads((Path(folder) / "trainer_state.json").read_text())["global_step"])
    except (OSError, ValueError, KeyError, TypeError):
        suffix = Path(folder).name.rsplit("-", 1)[-1]
        return int(suffix) if suffix.isdigit() else 0


def numbered_checkpoints(output_dir: str | Path) -> list[Path]:
    """The checkpoint-N folders of `output_dir`, newest (largest N) first."""
    found = []
    for folder in Path(output_dir).glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        suffix = folder.name[len(PREFIX_CHECKPOINT_DIR) + 1 :]
        if folder.is_dir() and suffix.isdigit():
            found.append((int(suffix), folder))
    return [folder for _, folder in sorted(found, reverse=True)]


def latest_complete_checkpoint(output_dir: str | Path, say: Callable[[str], None] | None = None) -> Path | None:
    """The newest checkpoint-N folder that is complete and intact; each newer one skipped is reported through `say`
    (default: a logged warning) with the reason."""
    say = say or logger.warning
    for folder in numbered_checkpoints(output_dir):
        problem = checkpoint_problem(folder)
        if problem is None:
            return folder
        say(f"skipping {folder}: {problem}")
    return None


ENTROPY_STATE_FILE = "agentrl_entropy_state.json"


def save_entropy_state(folder: str | Path, monitor_state: dict, coef: float) -> None:
    """The entropy monitor's state and the coming update's coefficient, saved with a checkpoint."""
    with open(os.path.join(folder, ENTROPY_STATE_FILE), "w") as f:
        json.dump({"monitor": monitor_state, "coef": coef}, f)


def load_entropy_state(checkpoint: str | Path | None) -> dict | None:
    """What save_entropy_state wrote into `checkpoint` (None: no checkpoint, or one saved without it)."""
    path = None if checkpoint is None else os.path.join(checkpoint, ENTROPY_STATE_FILE)
    if path is None or not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)
