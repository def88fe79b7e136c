"""Running scripts, `agentrl` or `accelerate launch` in subprocesses from the repository root, shared by the
multi-process, checkpoint and parity tests."""

from __future__ import annotations

import os
import socket
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


def free_port() -> int:
    """A TCP port no process listens on now: the OS picks it for a socket bound to port 0, which is then closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def accelerate_launch(config: str, arguments: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    """`accelerate launch --config_file recipes/accelerate/CONFIG --main_process_port PORT ARGUMENTS...` (see
    `run_in_repo`). Each launch gets a free port of its own (`free_port`), so launches never collide on one, not
    with each other, not with another test run on the same machine."""
    if not isinstance(arguments, list):
        raise TypeError("accelerate_launch(config, arguments, timeout): no port argument, each launch picks a free one")
    accelerate = os.path.join(os.path.dirname(sys.executable), "accelerate")
    return run_in_repo(
        [accelerate, "launch", "--config_file", os.path.join(ROOT, "recipes/accelerate", config)]
        + ["--main_process_port", str(free_port()), *arguments],
        timeout=timeout,
    )
