"""Running scripts, `agentrl` or `accelerate launch` in subprocesses from the repository root, shared by the
multi-process, checkpoint and parity tests."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_in_repo(command: list[str], expect: int = 0, timeout: int = 600) -> subprocess.CompletedProcess:
    """`command` from the repository root, one thread per process; fails the test with the end of stderr unless
    it exits with `expect`."""
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT},
    )
    assert done.returncode == expect, done.stderr[-3000:]
    return done


def run_python(arguments: list[str], expect: int = 0, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python ARGUMENTS...` with this interpreter (see `run_in_repo`)."""
    return run_in_repo([sys.executable, *arguments], expect, timeout)


def accelerate_launch(config: str, port: int, arguments: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    """`accelerate launch --config_file recipes/accelerate/CONFIG --main_process_port PORT ARGUMENTS...` (see
    `run_in_repo`). Every test launching processes uses a port of its own, so tests can never collide on one."""
    accelerate = os.path.join(os.path.dirname(sys.executable), "accelerate")
    return run_in_repo(
        [accelerate, "launch", "--config_file", os.path.join(ROOT, "recipes/accelerate", config)]
        + ["--main_process_port", str(port), *arguments],
        timeout=timeout,
    )
