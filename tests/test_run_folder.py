"""Run folders that never lie: a used output_dir is refused unless the run resumes or overwrites it (and is then
left exactly as it was), overwrite starts clean, base_model/ and sft_warmup/ are reused only when built from the
same settings, and a half-written artefact is rebuilt. Checkpoint integrity marks and the resume command, unit by
unit. Every run goes through the real CLI (agentrl.cli.main)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

import agentrl.models
import agentrl.sft
from agentrl.checkpoints import COMPLETE_FILE, checkpoint_problem, latest_complete_checkpoint, mark_checkpoint_complete
from agentrl.cli import main
from agentrl.errors import TrainingInterrupted
from agentrl.interrupts import resume_command
from agentrl.run_folder import RECORD_FILE, partial_folder, publish, trim_metrics
from tests.test_cli import write_recipe

FIRST = {"save_strategy": "steps", "save_steps": 1, "sft_warmup_steps": 3}  # the first run: checkpoints 1 and 2


def folder_hashes(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under `folder`: its sha256 and modification time (ns)."""
    return {
        str(path.relative_to(folder)): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def reward_steps(run: Path) -> list[int]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [record["step"] for record in records if "reward/mean" in record]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """A finished 2-update run (tiny model, SFT warm-up, a checkpoint per update)."""
    folder = tmp_path_factory.mktemp("first")
    assert main(["train", "--config", str(write_recipe(folder, **FIRST))]) == 0
    return folder / "run"


@pytest.fixture()
def used(first_run, tmp_path):
    """A copy of the first run's folder (tests change it), and its recipe."""
    shutil.copytree(first_run, tmp_path / "run")
    return tmp_path / "run", write_recipe(tmp_path, **FIRST)


@pytest.fixture()
def nothing_loads(monkeypatch):
    """Tripwire: a refused run must stop before any model is built, trained or loaded."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a model was built or loaded before the run folder was checked")

    for name in ("load_policy", "build_tiny_model", "load_tokenizer"):
        monkeypatch.setattr(agentrl.models, name, forbidden)
    monkeypatch.setattr(agentrl.sft, "sft_warmup", forbidden)


# ------------------------------------------------------------------------------------------------ refusal
@pytest.mark.slow
@pytest.mark.parametrize(
    "extra",
    [[], ["--seed", "8", "--tiny_hidden_size", "48"], ["--overwrite_output_dir", "--resume_from_checkpoint", "auto"]],
    ids=["same-recipe", "other-settings", "both-flags"],
)
def test_a_used_output_dir_is_refused_and_left_unchanged(used, capsys, nothing_loads, extra):
    run, recipe = used
    before = folder_hashes(run)
    started = time.perf_counter()
    code = main(["train", "--config", str(recipe), *extra])
    seconds = time.perf_counter() - started
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("agentrl: error:")]) == 1
    if "--overwrite_output_dir" in extra:  # both: contradictory
        assert "both overwrite_output_dir and resume_from_checkpoint" in err and "Keep one of them" in err
    else:  # the folder, what is in it, and both ways on
        assert str(run) in err and "--resume_from_checkpoint auto" in err and "--overwrite_output_dir" in err
        assert "config.yaml" in err and "final/" in err
    assert folder_hashes(run) == before  # not one byte, not one timestamp changed
    print(f"refused after {seconds:.2f} s")


def test_resuming_a_finished_run_without_checkpoints_is_refused(tmp_path, capsys, nothing_loads):
    """`auto` over a run that finished with save_strategy "no" (the quickstart's): nothing to continue, and starting
    again would silently replace its final model."""
    run = tmp_path / "run"
    (run / "final").mkdir(parents=True)
    (run / "final" / "config.json").write_text("{}")
    (run / "config.yaml").write_text("seed: 7\n")
    (run / "metrics.jsonl").write_text('{"step": 1, "reward/mean": 0.5}\n')
    before = folder_hashes(run)
    code = main(["train", "--config", str(write_recipe(tmp_path)), "--resume_from_checkpoint", "auto"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"{run} holds a finished run (final/) and no intact checkpoint" in err and "--overwrite_output_dir" in err
    assert folder_hashes(run) == before


# ------------------------------------------------------------------------------------------------ overwrite
@pytest.mark.slow
def test_overwrite_starts_clean_and_rebuilds_what_changed(used, capsys):
    run, recipe = used
    (run / "notes.txt").write_text("mine")  # not agentrl's: never deleted
    old_base = (run / "base_model" / "model.safetensors").read_bytes()
    changes = ["--tiny_hidden_size", "48", "--sft_warmup_steps", "4", "--seed", "8", "--save_strategy", "no"]
    assert main(["train", "--config", str(recipe), "--overwrite_output_dir", *changes]) == 0
    out = capsys.readouterr().out
    assert "overwrite_output_dir: deleted" in out and "checkpoint-1/" in out
    assert f"rebuilding {run / 'base_model'}: changed:" in out and "tiny_hidden_size 64 -> 48" in out
    assert f"rebuilding {run / 'sft_warmup'}: changed:" in out and "sft_warmup_steps 3 -> 4" in out

    assert reward_steps(run) == [1, 2]  # only the new run's updates
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert (config["tiny_hidden_size"], config["sft_warmup_steps"], config["seed"]) == (48, 4, 8)
    assert config["overwrite_output_dir"] is True
    for model in ("base_model", "sft_warmup", "final"):
        assert json.loads((run / model / "config.json").read_text())["hidden_size"] == 48, model
    assert (run / "base_model" / "model.safetensors").read_bytes() != old_base
    record = json.loads((run / "sft_warmup" / RECORD_FILE).read_text())
    assert record["sft_warmup_steps"] == 4 and record["base"]["tiny_hidden_size"] == 48 and record["seed"] == 8
    assert json.loads((run / "eval.json").read_text())["seed"] == 8
    assert not list(run.glob("checkpoint-*"))  # the first run's checkpoints are gone; this run saved none
    assert (run / "notes.txt").read_text() == "mine"
    assert not list(run.glob("*.partial")) and not list(run.glob("*.old")) and not list(run.glob("*.tmp"))


@pytest.mark.slow
def test_matching_artefacts_are_reused_and_a_half_written_warmup_is_rebuilt(used, first_run, capsys):
    run, recipe = used
    base_before = folder_hashes(run / "base_model")
    weights = run / "sft_warmup" / "model.safetensors"
    os.truncate(weights, weights.stat().st_size // 2)  # a kill while saving it, before the record was written
    (run / "sft_warmup" / RECORD_FILE).unlink()
    shutil.copytree(run / "final", run / "final.partial")  # and a half-written final/ of the same kill
    assert main(["train", "--config", str(recipe), "--overwrite_output_dir"]) == 0
    out = capsys.readouterr().out
    assert f"reusing {run / 'base_model'}" in out
    assert f"rebuilding {run / 'sft_warmup'}: it has no record" in out
    assert folder_hashes(run / "base_model") == base_before  # reused: untouched
    # rebuilt from the same settings on the same machine: the first run's warm-up, bit for bit
    rebuilt, original = load_file(weights), load_file(first_run / "sft_warmup" / "model.safetensors")
    assert rebuilt.keys() == original.keys() and all((rebuilt[k] == original[k]).all() for k in original)
    assert (run / "sft_warmup" / RECORD_FILE).is_file() and not (run / "final.partial").exists()
    assert reward_steps(run) == [1, 2]


# ------------------------------------------------------------------------------------------------ units
def test_publish_replaces_an_artefact_only_when_complete(tmp_path):
    target = tmp_path / "sft_warmup"
    target.mkdir()
    (target / "config.json").write_text("old")
    partial = partial_folder(target)
    partial.mkdir()
    (partial / "config.json").write_text("new")
    assert (target / "config.json").read_text() == "old"  # until published, the old artefact stands
    publish(target, {"sft_warmup_steps": 4})
    assert (target / "config.json").read_text() == "new" and not partial.exists()
    assert json.loads((target / RECORD_FILE).read_text()) == {"sft_warmup_steps": 4}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sft_warmup"]


def test_trim_metrics_keeps_the_updates_up_to_the_checkpoint(tmp_path):
    path = tmp_path / "metrics.jsonl"
    lines = [{"step": 1, "reward/mean": 0.1}, {"step": 2, "reward/mean": 0.2}, {"step": 2, "train_runtime": 3.0}]
    lines += [{"step": 3, "reward/mean": 0.3}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"step": 4, "rew')  # cut by a kill
    assert trim_metrics(path, 2) == 3
    assert [json.loads(line) for line in path.read_text().splitlines()] == lines[:2]
    assert trim_metrics(path, 2) == 0 and trim_metrics(tmp_path / "none.jsonl", 0) == 0


def fake_checkpoint(folder: Path) -> Path:
    (folder / "sub").mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(os.urandom(4096))
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": 7}))
    (folder / "sub" / "shard.pt").write_bytes(b"x" * 100)
    mark_checkpoint_complete(folder)
    return folder


def test_the_completion_mark_catches_missing_truncated_and_changed_files(tmp_path):
    folder = fake_checkpoint(tmp_path / "checkpoint-7")
    mark = json.loads((folder / COMPLETE_FILE).read_text())
    assert set(mark["files"]) == {"model.safetensors", "trainer_state.json", "sub/shard.pt"}
    assert mark["files"]["sub/shard.pt"]["size"] == 100
    assert checkpoint_problem(folder) is None

    (folder / "trainer_state.json").write_text(json.dumps({"global_step": 8}))  # same size, other content
    assert "trainer_state.json has changed" in checkpoint_problem(folder)
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": 7}))
    os.truncate(folder / "model.safetensors", 100)
    assert checkpoint_problem(folder) == (
        "model.safetensors is 100 bytes, the completion mark recorded 4096 (truncated or replaced)"
    )
    (folder / "model.safetensors").unlink()
    assert checkpoint_problem(folder) == "model.safetensors is missing"
    (folder / COMPLETE_FILE).unlink()
    assert "no completion mark" in checkpoint_problem(folder)
    (folder / COMPLETE_FILE).write_text(json.dumps({"completed_at": 1.0}))  # a mark from before files were recorded
    assert checkpoint_problem(folder) is None


def test_auto_takes_the_newest_intact_checkpoint_and_says_why(tmp_path):
    older, newer = fake_checkpoint(tmp_path / "checkpoint-7"), fake_checkpoint(tmp_path / "checkpoint-12")
    (tmp_path / "checkpoint-20").mkdir()  # killed while saving: no mark
    assert latest_complete_checkpoint(tmp_path, say=print) == newer
    os.truncate(newer / "sub" / "shard.pt", 10)
    said = []
    assert latest_complete_checkpoint(tmp_path, say=said.append) == older
    assert said == [
        f"skipping {tmp_path / 'checkpoint-20'}: it has no completion mark ({COMPLETE_FILE}): the run was stopped "
        "while saving it",
        f"skipping {newer}: sub/shard.pt is 10 bytes, the completion mark recorded 100 (truncated or replaced)",
    ]


@pytest.mark.parametrize(
    ("argv", "processes", "overwrite", "expected"),
    [
        (["--config", "r.yaml", "--max_steps", "3"], 1, False, "agentrl train --config r.yaml --max_steps 3"),
        (
            ["--config", "my recipe.yaml", "--overwrite_output_dir", "--resume_from_checkpoint=auto", "--seed", "1"],
            2,
            True,
            "accelerate launch <the same launch options> -m agentrl train --config 'my recipe.yaml' --seed 1",
        ),
    ],
    ids=["one-process", "two-processes-after-overwrite"],
)
def test_the_resume_command_repeats_the_run_with_the_checkpoint(argv, processes, overwrite, expected):
    stop = TrainingInterrupted("SIGINT", 130, "runs/x/checkpoint-2", 2, 3, processes=processes, overwrite=overwrite)
    tail = " --resume_from_checkpoint runs/x/checkpoint-2" + (" --overwrite_output_dir false" if overwrite else "")
    assert resume_command(stop, argv) == expected + tail
