"""Running a script or `agentrl` in 2 CPU processes with `accelerate launch`, shared by the multi-process tests."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def accelerate_launch(config: str, port: int, arguments: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    """`accelerate launch --config_file recipes/accelerate/CONFIG --main_process_port PORT ARGUMENTS...` from the
    repository root, one thread per process; fails the test with the end of stderr if it does not exit 0.
    Every test launching processes uses a port of its own, so tests can never collide on one."""
    accelerate = os.path.join(os.path.dirname(sys.executable), "accelerate")
    done = subprocess.run(
        [accelerate, "launch", "--config_file", os.path.join(ROOT, "recipes/accelerate", config)]
        + ["--main_process_port", str(port), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done
