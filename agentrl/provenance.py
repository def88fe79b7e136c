"""versions.json in the run folder, beside config.yaml: the library versions and the agentrl commit that produced
the run, so a result can be traced to the code that made it (same recipe + same versions + same machine = same
numbers; across versions they may differ)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

LIBRARIES = ("agentrl", "trl", "transformers", "torch", "accelerate", "peft", "datasets", "deepspeed")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git(*argv: str, folder: Path) -> str | None:
    try:
        done = subprocess.run(["git", *argv], cwd=folder, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):  # no git, or it hangs
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state(folder: Path | None = None) -> dict:
    """The commit of the agentrl checkout this code runs from, and whether tracked files differ from it; both None
    when agentrl is installed from a wheel rather than run from a git checkout."""
    folder = folder or Path(__file__).resolve().parent.parent
    top = _git("rev-parse", "--show-toplevel", folder=folder)
    if top is None or Path(top).resolve() != folder.resolve():  # a checkout of agentrl itself, not an enclosing repo
        return {"git_commit": None, "git_dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no", folder=folder)
    dirty = None if status is None else bool(status)
    return {"git_commit": _git("rev-parse", "HEAD", folder=folder), "git_dirty": dirty}


def versions() -> dict:
    return {
        **{name: _version(name) for name in LIBRARIES},
        "python": platform.python_version(),
        "platform": platform.platform(),
        **git_state(),
    }


def write_versions(output_dir: str | Path) -> Path:
    path = Path(output_dir) / "versions.json"
    partial = path.with_name(path.name + ".tmp")  # renamed into place: never a half-written versions.json
    partial.write_text(json.dumps(versions(), indent=2) + "\n")
    os.replace(partial, path)
    return path
