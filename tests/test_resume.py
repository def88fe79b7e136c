"""A run killed with SIGKILL and resumed ends with exactly the weights of an uninterrupted run (CPU, fixed
seeds): after a complete checkpoint, and while a checkpoint was being written (the resume then continues from
the previous, complete one). The same after Ctrl-C (SIGINT), with 1 process and with 2 under accelerate launch:
the run finishes its update, saves a checkpoint, prints the resume command and exits 130 without a traceback.
A damaged newest checkpoint is skipped by `auto` (said so), and refused as an explicit path before any model loads.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import agentrl.run
from agentrl.checkpoints import COMPLETE_FILE, checkpoint_problem
from agentrl.cli import main
from tests.launch import ROOT, accelerate_launch, free_port, run_python
from tests.test_cli import write_recipe

KILLER = os.path.join(ROOT, "tests/scripts/train_then_die.py")
STEPS = 3


def final_weights(run_dir):
    return load_file(run_dir / "final" / "model.safetensors")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("whole")
    recipe = write_recipe(folder, save_strategy="steps", save_steps=1, max_steps=STEPS, sft_warmup_steps=2)
    run_python(["-m", "agentrl", "train", "--config", str(recipe)])
    return folder / "run"


@pytest.mark.slow  # training runs in subprocesses, killed and resumed
@pytest.mark.parametrize(
    ("mode", "resumes_from"), [pytest.param("after", 2, marks=pytest.mark.exhaustive), ("during", 1)]
)
def test_a_killed_run_resumes_to_the_same_weights(uninterrupted, tmp_path, mode, resumes_from):
    recipe = write_recipe(tmp_path, save_strategy="steps", save_steps=1, max_steps=STEPS, sft_warmup_steps=2)
    run_python([KILLER, mode, "2", "--config", str(recipe)], expect=-signal.SIGKILL)
    run_dir = tmp_path / "run"
    assert not (run_dir / "final").exists()
    assert (run_dir / "checkpoint-2").is_dir()  # written (fully or in part) before the kill
    assert (run_dir / "checkpoint-2" / COMPLETE_FILE).exists() == (mode == "after")

    resumed = run_python(["-m", "agentrl", "train", "--config", str(recipe), "--resume_from_checkpoint", "auto"])
    assert f"resuming from {run_dir / f'checkpoint-{resumes_from}'}" in resumed.stdout
    steps = [r["step"] for r in metrics(run_dir) if "reward/mean" in r]
    assert steps == list(range(1, STEPS + 1))  # the redone updates are logged once
    assert_same_weights(final_weights(uninterrupted), final_weights(run_dir))


# ------------------------------------------------------------------------------------------------ Ctrl-C / SIGTERM
def start_in_repo(command: list[str], logs: Path, **environment) -> subprocess.Popen:
    """`command` in the background from the repository root, as `tests.launch.run_in_repo` runs it, in a session of
    its own (a terminal's Ctrl-C reaches the whole process group); stdout/stderr to files in `logs`."""
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT, **environment},
        stdout=open(logs / "stdout.txt", "w"),
        stderr=open(logs / "stderr.txt", "w"),
        start_new_session=True,
    )


def wait_for_first_update(process: subprocess.Popen, run_dir: Path, timeout: float = 600) -> None:
    """Until metrics.jsonl has update 1's line: RL is running (update 2 is in progress or about to start)."""
    metrics, deadline = run_dir / "metrics.jsonl", time.monotonic() + timeout
    while not (metrics.is_file() and metrics.read_text().strip()):
        assert process.poll() is None, f"the run ended before its first update (status {process.returncode})"
        assert time.monotonic() < deadline, "no update within the timeout"
        time.sleep(0.05)


def resume_arguments(stderr: str) -> list[str]:
    """The `agentrl train` arguments of the resume command the interrupted run printed (after `agentrl train`)."""
    command = stderr.split("Resume with:\n", 1)[1].splitlines()[0].strip()
    tokens = shlex.split(command.replace("<the same launch options> ", ""))
    return tokens[tokens.index("train") + 1 :]


def assert_interrupted_cleanly(stderr: str, run_dir: Path, signal_name: str = "SIGINT") -> Path:
    """No traceback of agentrl's, a resume command naming a complete, intact checkpoint of an update before the
    last; returns that checkpoint."""
    assert "KeyboardInterrupt" not in stderr and f"{os.sep}agentrl{os.sep}" not in "".join(
        line for line in stderr.splitlines() if line.strip().startswith("File ")
    ), stderr[-3000:]
    assert f"[agentrl] {signal_name}: stopped after update" in stderr and "Resume with:" in stderr, stderr[-3000:]
    checkpoint = Path(resume_arguments(stderr)[-1])
    assert checkpoint.parent == run_dir and checkpoint_problem(checkpoint) is None
    assert 1 <= int(checkpoint.name.split("-")[1]) <= STEPS
    assert not (run_dir / "final").exists()  # no final model, no evaluation: the run is not finished
    return checkpoint


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_the_printed_command_resumes_to_the_same_weights(uninterrupted, tmp_path):
    # save_strategy "no", as the quickstart has: the interrupt writes the only checkpoint
    recipe = write_recipe(tmp_path, save_strategy="no", max_steps=STEPS, sft_warmup_steps=2)
    run_dir = tmp_path / "run"
    process = start_in_repo([sys.executable, "-m", "agentrl", "train", "--config", str(recipe)], tmp_path)
    wait_for_first_update(process, run_dir)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    assert process.wait(timeout=600) == 130
    stderr = (tmp_path / "stderr.txt").read_text()
    assert "Traceback" not in stderr, stderr[-3000:]
    checkpoint = assert_interrupted_cleanly(stderr, run_dir)
    assert [p.name for p in run_dir.glob("checkpoint-*")] == [checkpoint.name]

    resumed = run_python(["-m", "agentrl", "train", *resume_arguments(stderr)])
    assert f"resuming from {checkpoint}" in resumed.stdout
    assert [r["step"] for r in metrics(run_dir) if "reward/mean" in r] == list(range(1, STEPS + 1))
    assert_same_weights(final_weights(uninterrupted), final_weights(run_dir))


@pytest.fixture(scope="module")
def uninterrupted_two(tmp_path_factory):
    folder = tmp_path_factory.mktemp("whole_two")
    recipe = write_recipe(folder, save_strategy="no", max_steps=STEPS, sft_warmup_steps=2)
    accelerate_launch("cpu_ddp_2.yaml", ["-m", "agentrl", "train", "--config", str(recipe)])
    return folder / "run"


def launch_two(recipe: Path, port: int, logs: Path) -> subprocess.Popen:
    accelerate = os.path.join(os.path.dirname(sys.executable), "accelerate")
    config = os.path.join(ROOT, "recipes/accelerate/cpu_ddp_2.yaml")
    command = [accelerate, "launch", "--config_file", config, "--main_process_port", str(port)]
    command += ["-m", "agentrl", "train", "--config", str(recipe)]
    return start_in_repo(command, logs, AGENTRL_TEST_RUN=str(logs))  # the tag finds the ranks' processes


def worker_pid(tag: str, rank: int) -> int:
    """The pid of the training process of `rank` among those started with AGENTRL_TEST_RUN=`tag`."""
    wanted = {f"AGENTRL_TEST_RUN={tag}".encode(), f"RANK={rank}".encode()}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and wanted <= set((entry / "environ").read_bytes().split(b"\0")):
                return int(entry.name)
        except OSError:
            continue
    raise AssertionError(f"no rank {rank} process")


@pytest.mark.slow
@pytest.mark.multiprocess
def test_ctrl_c_under_accelerate_launch_stops_both_ranks_and_resumes_to_the_same_weights(uninterrupted_two, tmp_path):
    recipe = write_recipe(tmp_path, save_strategy="no", max_steps=STEPS, sft_warmup_steps=2)
    run_dir = tmp_path / "run"
    process = launch_two(recipe, free_port(), tmp_path)
    wait_for_first_update(process, run_dir)
    os.killpg(process.pid, signal.SIGINT)  # the launcher gets the terminal's Ctrl-C and forwards it to both ranks
    assert process.wait(timeout=600) != 0  # accelerate's launcher ends with its own status (and traceback)
    stderr = (tmp_path / "stderr.txt").read_text()
    checkpoint = assert_interrupted_cleanly(stderr, run_dir)
    assert stderr.count("Resume with:") == 1  # one message for the run, from the main process
    assert (checkpoint / "rng_state_0.pth").is_file() and (checkpoint / "rng_state_1.pth").is_file()  # both ranks

    arguments = resume_arguments(stderr)
    assert "accelerate launch <the same launch options> -m agentrl train" in stderr
    accelerate_launch("cpu_ddp_2.yaml", ["-m", "agentrl", "train", *arguments])
    assert [r["step"] for r in metrics(run_dir) if "reward/mean" in r] == list(range(1, STEPS + 1))
    assert_same_weights(final_weights(uninterrupted_two), final_weights(run_dir))


@pytest.mark.slow
@pytest.mark.multiprocess
def test_sigterm_to_one_rank_stops_both_at_the_same_update(tmp_path):
    """Only rank 1 is signalled: rank 0 learns it through the per-update all-reduce, both save one checkpoint and
    exit (no rank left waiting in a collective), and rank 0 prints the resume command for a signal it never got."""
    recipe = write_recipe(tmp_path, save_strategy="no", max_steps=STEPS, sft_warmup_steps=2)
    run_dir = tmp_path / "run"
    process = launch_two(recipe, free_port(), tmp_path)
    wait_for_first_update(process, run_dir)
    os.kill(worker_pid(str(tmp_path), rank=1), signal.SIGTERM)
    assert process.wait(timeout=600) != 0
    stderr = (tmp_path / "stderr.txt").read_text()
    assert "SIGTERM received (rank 1)" in stderr and "SIGTERM received (rank 0)" not in stderr
    checkpoint = assert_interrupted_cleanly(stderr, run_dir, "SIGTERM")
    assert (checkpoint / "rng_state_0.pth").is_file() and (checkpoint / "rng_state_1.pth").is_file()


# ------------------------------------------------------------------------------------------------ damaged checkpoints
def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def assert_same_weights(expected: dict, actual: dict) -> None:
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.equal(expected[name], actual[name]), name  # bitwise


def damage(path: Path, how: str) -> None:
    if how == "truncate":
        os.truncate(path, path.stat().st_size // 2)
    else:  # one digit changed: still valid JSON of the same size, which trainer_state.json's loader would accept
        text = path.read_text()
        at = next(i for i, c in enumerate(text) if c.isdigit() and c != "9")
        path.write_text(text[:at] + str(int(text[at]) + 1) + text[at + 1 :])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "how"),
    [
        ("model.safetensors", "truncate"),
        pytest.param("optimizer.pt", "truncate", marks=pytest.mark.exhaustive),
        pytest.param("trainer_state.json", "change", marks=pytest.mark.exhaustive),
    ],
)
def test_auto_skips_a_damaged_newest_checkpoint_and_resumes_the_previous_one(uninterrupted, tmp_path, name, how):
    shutil.copytree(uninterrupted, tmp_path / "run")
    recipe = write_recipe(tmp_path, save_strategy="steps", save_steps=1, max_steps=STEPS, sft_warmup_steps=2)
    run_dir = tmp_path / "run"
    damage(run_dir / f"checkpoint-{STEPS}" / name, how)
    resumed = run_python(["-m", "agentrl", "train", "--config", str(recipe), "--resume_from_checkpoint", "auto"])
    assert f"resume: skipping {run_dir / f'checkpoint-{STEPS}'}: {name} " in resumed.stdout
    assert f"resuming from {run_dir / f'checkpoint-{STEPS - 1}'}" in resumed.stdout
    assert [r["step"] for r in metrics(run_dir) if "reward/mean" in r] == list(range(1, STEPS + 1))
    assert_same_weights(final_weights(uninterrupted), final_weights(run_dir))
    assert checkpoint_problem(run_dir / f"checkpoint-{STEPS}") is None  # saved again, whole


@pytest.mark.slow
def test_an_explicit_damaged_checkpoint_is_refused_before_any_model_loads(uninterrupted, tmp_path, capsys, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a model was loaded before the checkpoint was checked")

    monkeypatch.setattr(agentrl.run, "train", forbidden)
    shutil.copytree(uninterrupted, tmp_path / "run")
    checkpoint = tmp_path / "run" / f"checkpoint-{STEPS}"
    damage(checkpoint / "optimizer.pt", "truncate")
    recipe = write_recipe(tmp_path, save_strategy="steps", save_steps=1, max_steps=STEPS, sft_warmup_steps=2)
    started = time.perf_counter()
    code = main(["train", "--config", str(recipe), "--resume_from_checkpoint", str(checkpoint)])
    seconds = time.perf_counter() - started
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"resume_from_checkpoint {str(checkpoint)!r} cannot be resumed: optimizer.pt is " in err
    assert "truncated" in err and "auto" in err
    print(f"refused after {seconds:.2f} s")


SECOND_CTRL_C = """
import os, signal, sys, time
from agentrl.interrupts import GracefulStop
stop = GracefulStop()
with stop.catching_signals():
    os.kill(os.getpid(), signal.SIGINT)
    os.kill(os.getpid(), signal.SIGINT)  # the same Ctrl-C delivered twice (terminal and launcher): still one stop
    time.sleep(0.2)
    print("stopping on", stop.received, flush=True)
    time.sleep(1.2)
    if sys.argv[1] == "again":
        os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C, a moment later: out at once
    time.sleep(0.5)
    print("still running", flush=True)
"""


@pytest.mark.parametrize("again", ["again", pytest.param("once", marks=pytest.mark.slow)])  # a subprocess each: ~5 s
def test_a_second_ctrl_c_exits_at_once(again):
    done = run_python(["-c", SECOND_CTRL_C, again], expect=130 if again == "again" else 0, timeout=120)
    assert f"stopping on {int(signal.SIGINT)}" in done.stdout and done.stderr.count("SIGINT received") == 1
    assert ("still running" in done.stdout) == (again == "once")
    assert ("second Ctrl-C: exiting now" in done.stderr) == (again == "again") and "Traceback" not in done.stderr
