"""Every bad input stops before any model is built or loaded, with one message that names the field (or file) and
the fix, no traceback, and nothing of a previous run changed.

Through the real CLI: `agentrl.cli.main` in this process for most cases (with a tripwire on model loading), and
`python -m agentrl` in a subprocess where the exit status, the whole stderr and the time until the message matter.
The time bound is derived from this machine's import time of TRL + transformers + torch (what every `agentrl
train` pays before it can parse a recipe), not a fixed number: loading a model comes after that.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from agentrl.cli import main
from agentrl.ranges import FIELD_RANGES
from tests.launch import ROOT

TINY = {  # a valid tiny CPU recipe; each case breaks one thing
    "model_name_or_path": "tiny",
    "env_id": "household-easy",
    "max_steps": 2,
    "per_device_train_batch_size": 4,
    "num_generations": 2,
    "max_completion_length": 16,
    "learning_rate": 1.0e-4,
    "bf16": False,
    "use_cpu": True,
    "save_strategy": "no",
    "report_to": [],
}


# ---------------------------------------------------------------------------------------------------- helpers
def folder_digest(folder: Path) -> str:
    """sha256 over every file's relative path and bytes under `folder` (names of empty folders included)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture()
def previous_run(tmp_path) -> Path:
    """A finished run's folder: config.yaml, metrics.jsonl, eval.json, final/ and a checkpoint."""
    run = tmp_path / "previous"
    (run / "final").mkdir(parents=True)
    (run / "checkpoint-2").mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({**TINY, "seed": 1}))
    (run / "metrics.jsonl").write_text('{"step": 1, "reward/mean": 0.5}\n{"step": 2, "reward/mean": 0.75}\n')
    (run / "eval.json").write_text('{"before": {"success_rate": 0.1}, "after": {"success_rate": 0.2}}\n')
    (run / "final" / "model.safetensors").write_bytes(b"weights")
    (run / "checkpoint-2" / "trainer_state.json").write_text('{"global_step": 2}')
    return run


def write_recipe(folder: Path, text: str | None = None, **changes) -> Path:
    path = folder / "recipe.yaml"
    path.write_text(text if text is not None else yaml.safe_dump({**TINY, **changes}))
    return path


@pytest.fixture(scope="session")
def import_seconds() -> float:
    """Seconds a fresh interpreter takes to import what `agentrl train` needs to parse a recipe (TRL, transformers,
    torch): the floor of any message that depends on the recipe."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import agentrl.recipe"], check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - started


def message_deadline(import_seconds: float) -> float:
    """Generous: twice the import time plus 10 s. A model load comes on top of the imports (the tiny model's build
    alone, or the 52 s hub retries and 80 s of warm-up and evaluation the bad numbers used to cost)."""
    return 2 * import_seconds + 10


def run_agentrl(argv: list[str], env: dict | None = None, prelude: str = "") -> tuple[int, str, float]:
    """`python -m agentrl ARGV` from the repository root: (exit status, stderr, seconds). `prelude`: Python run
    first in the same interpreter (to make an optional engine unimportable, as when its extra is not installed)."""
    command = [sys.executable, "-m", "agentrl", *argv]
    if prelude:
        command = [sys.executable, "-c", f"{prelude}; import runpy; runpy.run_module('agentrl', run_name='__main__')"]
        command += argv
    started = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, timeout=600, env={**os.environ, **(env or {})}
    )
    return done.returncode, done.stderr, time.perf_counter() - started


def assert_one_message(code: int, err: str, *expected: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("agentrl: error: "), err
    for text in expected:
        assert text in err, f"{text!r} not in {err!r}"


# ------------------------------------------------------------------------- in process: the recipe and the files
BAD_RECIPES = {  # case -> (recipe changes, or raw YAML text; words the one message must contain)
    "empty recipe": ("", ["recipe.yaml' is empty", "recipes/quickstart.yaml"]),
    "malformed YAML": ("env_id: household-easy\nmax_steps: [2\n", ["recipe.yaml' is not valid YAML at line 3", "Fix"]),
    "max_steps: abc": ({"max_steps": "abc"}, ["max_steps: 'abc' is not a whole number", "`max_steps:` in"]),
    "bf16 on CPU (TRL's default)": ({"use_cpu": False, "bf16": None}, ["bf16", "use_cpu: true", "bf16: false"]),
    "unknown env_kwargs key": (
        {"env_id": "webshop", "env_kwargs": {"num_product": 10}},
        ["env_kwargs key 'num_product'", "'num_products'"],
    ),
    "unknown env_shift_id": (
        {"env_shift_step": 1, "env_shift_id": "household-lookpu"},
        ["unknown environment 'household-lookpu'", "Set the recipe key `env_shift_id:`", "household-lookup"],
    ),
    "env_shift_id file not found": (  # the key renamed in the message, the file's own name left as it is
        {"env_shift_step": 1, "env_shift_id": "my_env_id.py:Env"},
        ["env_shift_id 'my_env_id.py:Env': file 'my_env_id.py' not found"],
    ),
    "env_shift_id without its step": ({"env_shift_id": "household-lookup"}, ["env_shift_step", "go together"]),
    "batch size 0": ({"per_device_train_batch_size": 0}, ["per_device_train_batch_size must be >= 1, got 0"]),
    "num_generations 0": ({"num_generations": 0}, ["num_generations must be >= 2, got 0"]),
    "negative learning rate": ({"learning_rate": -1.0}, ["learning_rate must be >= 0, got -1.0"]),
    "negative sft learning rate": ({"sft_learning_rate": -0.1}, ["sft_learning_rate must be >= 0, got -0.1"]),
    "sampling temperature 0": ({"temperature": 0.0}, ["temperature must be > 0, got 0.0"]),
    "eval temperature < 0": ({"eval_temperature": -0.5}, ["eval_temperature must be >= 0, got -0.5", "0 = greedy"]),
    "negative history": ({"history_length": -1}, ["history_length must be >= 0, got -1"]),
    "no eval tasks": ({"eval_num_tasks": 0}, ["eval_num_tasks must be >= 1, got 0"]),
    "max_steps 0": ({"max_steps": 0}, ["max_steps must be >= 1 or -1, got 0"]),
    "overlong buffer > budget": ({"overlong_buffer_length": 17}, ["in [0, max_completion_length=16], got 17"]),
}


@pytest.mark.parametrize("case", list(BAD_RECIPES))
def test_a_bad_recipe_is_one_message_before_any_model(tmp_path, capsys, no_model_loading, previous_run, case):
    changes, expected = BAD_RECIPES[case]
    overrides = ["--output_dir", str(previous_run), "--overwrite_output_dir", "true"]  # would delete it if it ran
    if isinstance(changes, str):
        recipe = write_recipe(tmp_path, changes)
    else:
        recipe = write_recipe(tmp_path, **changes)
    before = folder_digest(previous_run)
    started = time.perf_counter()
    code = main(["train", "--config", str(recipe), *overrides])
    seconds = time.perf_counter() - started
    err = capsys.readouterr().err
    assert_one_message(code, err, *expected)  # each case's words name the field (or the file) and the fix
    assert folder_digest(previous_run) == before
    assert seconds < 30, seconds  # parsing only; the imports are paid by the first case of the session


def test_a_bad_command_line_value_names_the_option(tmp_path, capsys, no_model_loading):
    code = main(["train", "--config", str(write_recipe(tmp_path)), "--max_steps", "2.5"])
    assert_one_message(code, capsys.readouterr().err, "max_steps: '2.5' is not a whole number", "--max_steps")


def _output_dir_cases(tmp_path: Path) -> dict[str, tuple[str, list[str]]]:
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    read_only.chmod(0o555)
    return {
        "a file": (str(a_file), ["output_dir", "is a file, not a folder", "`output_dir:`"]),
        "under a file": (str(a_file / "run"), ["output_dir", "cannot be created", "a_file' is a file", "output_dir:"]),
        "read-only": (str(read_only / "run"), ["output_dir", "not writable", "`output_dir:`"]),
    }


@pytest.mark.parametrize("case", ["a file", "under a file", "read-only"])
def test_an_output_dir_that_cannot_be_written(tmp_path, capsys, no_model_loading, case):
    if case == "read-only" and os.geteuid() == 0:
        pytest.skip("root may write into a read-only folder")
    output_dir, expected = _output_dir_cases(tmp_path)[case]
    code = main(["train", "--config", str(write_recipe(tmp_path)), "--output_dir", output_dir])
    assert_one_message(code, capsys.readouterr().err, *expected)


def test_a_model_folder_without_a_tokenizer(tmp_path, capsys, no_model_loading):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "qwen2"}')  # loadable config, no tokenizer files
    code = main(["train", "--config", str(write_recipe(tmp_path, model_name_or_path=str(folder)))])
    err = capsys.readouterr().err
    assert_one_message(code, err, str(folder), "no tokenizer files", "tokenizer.save_pretrained")
    assert "chat template" not in err  # the old, wrong diagnosis
    code = main(["eval", "--model", str(folder), "--num_tasks", "1"])  # eval checks the same folder the same way
    assert_one_message(code, capsys.readouterr().err, "no tokenizer files")


def test_a_hub_id_offline_is_refused_at_once(tmp_path, capsys, no_model_loading, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    recipe = write_recipe(tmp_path, model_name_or_path="agentrl-tests/no-such-model-anywhere")
    started = time.perf_counter()
    code = main(["train", "--config", str(recipe)])
    err = capsys.readouterr().err
    assert_one_message(code, err, "'agentrl-tests/no-such-model-anywhere'", "HF_HUB_OFFLINE", "local folder")
    assert time.perf_counter() - started < 30


def test_an_unknown_command_lists_the_commands(capsys):
    code = main(["trian", "--config", "recipes/quickstart.yaml"])
    assert_one_message(code, capsys.readouterr().err, "unknown command 'trian'", "train, eval, envs, play, plot")


# ------------------------------------------------------------- every numeric range, from the table, at its edges
def _edges(spec: str, defaults) -> tuple[float, float]:
    """(a value just outside the range, the allowed value at its edge), worked out from the range's text."""
    spec, _, extra = spec.partition(" or ")
    match = re.match(r"^(>=|>|<=)\s*(\S+)$", spec) or re.match(r"^([\[(])\s*([^,]+?)\s*,", spec)
    operator, bound_text = match.groups()
    bound = float(getattr(defaults, bound_text)) if bound_text.isidentifier() else float(bound_text)
    outside, edge = {
        ">=": (bound - 1, bound),
        "[": (bound - 1, bound),
        ">": (bound, bound + 0.5),
        "(": (bound, bound + 0.5),
        "<=": (bound + 1, bound),
    }[operator]
    if extra and outside == float(extra):
        outside -= 1
    return outside, edge


@pytest.fixture(scope="module")
def defaults(tmp_path_factory):
    from agentrl.config import AgentRLConfig

    return AgentRLConfig(output_dir=str(tmp_path_factory.mktemp("defaults")), use_cpu=True, bf16=False)


@pytest.mark.parametrize("name", list(FIELD_RANGES))
def test_every_numeric_field_is_range_checked(defaults, name):
    """The value just outside each field's range is refused naming the field, its range and the fix; the edge
    value inside is not refused for its range (another check may still object to it)."""
    from agentrl.config import AgentRLConfig

    spec = FIELD_RANGES[name][0]
    outside, edge = _edges(spec, defaults)
    if isinstance(getattr(defaults, name), int) and not isinstance(getattr(defaults, name), bool):
        outside, edge = int(outside), int(edge + 0.5)
    common = {"output_dir": defaults.output_dir, "use_cpu": True, "bf16": False}
    with pytest.raises(ValueError) as refused:
        AgentRLConfig(**common, **{name: outside})
    message = str(refused.value)
    assert message.startswith(f"{name} must be ") and f"got {outside}" in message and f"--{name}" in message
    try:
        AgentRLConfig(**common, **{name: edge})
    except ValueError as error:
        assert not str(error).startswith(f"{name} must be "), error


# -------------------------------------------------------- subprocess: exit status, whole stderr, time to message
@pytest.mark.slow  # a fresh `agentrl` process (imports torch and TRL): ~4-5 s
def test_max_steps_abc_is_one_line_fast(tmp_path, import_seconds, previous_run):
    recipe = write_recipe(tmp_path, max_steps="abc", output_dir=str(previous_run))
    before = folder_digest(previous_run)
    code, err, seconds = run_agentrl(["train", "--config", str(recipe), "--overwrite_output_dir", "true"])
    assert_one_message(code, err, "max_steps: 'abc' is not a whole number", str(recipe))
    assert seconds < message_deadline(import_seconds), (seconds, import_seconds)
    assert folder_digest(previous_run) == before


def test_a_bad_number_is_one_line_fast(tmp_path, import_seconds, previous_run):
    before = folder_digest(previous_run)
    argv = ["train", "--config", str(write_recipe(tmp_path)), "--num_generations", "0"]
    code, err, seconds = run_agentrl([*argv, "--output_dir", str(previous_run), "--overwrite_output_dir", "true"])
    assert_one_message(code, err, "num_generations must be >= 2, got 0", "--num_generations")
    assert seconds < message_deadline(import_seconds), (seconds, import_seconds)
    assert folder_digest(previous_run) == before


@pytest.mark.slow  # a fresh `agentrl` process (imports torch and TRL): ~4-5 s
def test_a_shifted_environment_that_cannot_be_built_is_one_message_before_any_model(
    tmp_path, capsys, monkeypatch, previous_run
):
    """The environment after env_shift_step is built up front (in train, before the run folder and the model), so a
    bad one stops the run at once, named as the shifted one."""
    import agentrl.models

    def forbidden(*args, **kwargs):
        raise AssertionError("a model was loaded before the environments were built")

    monkeypatch.setattr(agentrl.models, "load_policy", forbidden)
    monkeypatch.setattr(agentrl.models, "build_tiny_model", forbidden)
    shift = {"env_shift_step": 1, "env_shift_id": "household", "env_shift_kwargs": {"target_moved": True}}
    before = folder_digest(previous_run)
    overrides = ["--output_dir", str(previous_run), "--overwrite_output_dir", "true"]
    code = main(["train", "--config", str(write_recipe(tmp_path, **shift)), *overrides])
    assert_one_message(
        code,
        capsys.readouterr().err,
        "cannot build environment 'household' (the environment after update 1)",
        "target_moved needs a variant whose task text says where the target lies",
    )
    assert folder_digest(previous_run) == before


def test_an_env_kwargs_key_the_factory_passes_on_fails_before_the_run_folder_is_touched(
    tmp_path, import_seconds, previous_run
):
    """household-easy's factory passes **kwargs on to HouseholdEnv; its signature shows HouseholdEnv's keywords, so
    the typo is named with the fix before an overwritten run folder is cleared and before any model."""
    before = folder_digest(previous_run)
    argv = ["train", "--config", str(write_recipe(tmp_path)), "--env_kwargs", '{"max_stpes": 3}']
    code, err, seconds = run_agentrl([*argv, "--output_dir", str(previous_run), "--overwrite_output_dir", "true"])
    assert_one_message(code, err, "env_kwargs key 'max_stpes'", "Did you mean 'max_steps'")
    assert seconds < message_deadline(import_seconds), (seconds, import_seconds)
    assert folder_digest(previous_run) == before


@pytest.mark.parametrize(
    ("hub_env", "expected"),
    [
        ({"HF_HUB_OFFLINE": "1"}, ["HF_HUB_OFFLINE is set", "local folder"]),
        # nothing listens on port 9: the connection is refused, as on a machine without network
        ({"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9"}, ["cannot be reached", "HF_HUB_OFFLINE=1"]),
    ],
    ids=["offline", "no network"],
)
@pytest.mark.slow  # a fresh `agentrl` process (imports torch and TRL): ~4-5 s
def test_a_hub_id_without_network_is_one_line_fast(tmp_path, import_seconds, hub_env, expected):
    recipe = write_recipe(tmp_path, model_name_or_path="Qwen/Qwen2.5-0.5B-Instruct", output_dir=str(tmp_path / "r"))
    env = {"HF_HOME": str(tmp_path / "empty_hf_home"), **hub_env}  # an empty cache: the model must be downloaded
    code, err, seconds = run_agentrl(["train", "--config", str(recipe)], env=env)
    assert_one_message(code, err, "'Qwen/Qwen2.5-0.5B-Instruct'", *expected)
    assert seconds < message_deadline(import_seconds), (seconds, import_seconds)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("recipe", "missing", "extra"),
    [
        ("recipes/paper/empg/webshop_qwen2.5_1.5b_grpo_empg.yaml", "bm25s", "webshop"),
        ("recipes/paper/empg/alfworld_qwen2.5_1.5b_grpo_empg.yaml", "alfworld", "alfworld"),
    ],
    ids=["webshop", "alfworld"],
)
@pytest.mark.slow  # a fresh `agentrl` process (imports torch and TRL): ~4-5 s
def test_smoke_of_a_cell_whose_extra_is_missing(tmp_path, import_seconds, recipe, missing, extra):
    """As on the quickstart's install (`pip install -e .`, no extras): the engine's import fails."""
    argv = ["train", "--config", recipe, "--smoke", "--output_dir", str(tmp_path / "smoke" / "run")]
    code, err, seconds = run_agentrl(argv, prelude=f"import sys; sys.modules[{missing!r}] = None")
    assert_one_message(code, err, "not installed", f'pip install -e ".[{extra}]"')
    assert seconds < message_deadline(import_seconds), (seconds, import_seconds)


def test_unknown_command_is_one_line_without_heavy_imports(import_seconds):
    code, err, seconds = run_agentrl(["trian"])
    assert_one_message(code, err, "unknown command 'trian'", "train, eval")
    assert seconds < import_seconds, (seconds, import_seconds)  # the CLI alone, no TRL


@pytest.mark.slow  # a fresh `agentrl` process (imports torch and TRL): ~4-5 s
def test_train_help_into_a_closed_pipe(import_seconds):
    """`agentrl train --help | head -20`: agentrl's usage first, at once (before TRL is imported), and no
    BrokenPipeError when the reader stops."""
    started = time.perf_counter()
    help_run = subprocess.Popen(
        [sys.executable, "-m", "agentrl", "train", "--help"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        text=True,
    )
    head = [help_run.stdout.readline() for _ in range(20)]
    first_lines_s = time.perf_counter() - started
    help_run.stdout.close()  # as `head` does after 20 lines
    err = help_run.stderr.read()
    assert help_run.wait(timeout=600) == 0 and err == "", err
    assert head[0].startswith("usage: agentrl train --config RECIPE.yaml")
    assert any("--smoke" in line for line in head) and any("--resume_from_checkpoint" in line for line in head)
    assert first_lines_s < import_seconds / 2, (first_lines_s, import_seconds)


def test_train_help_leads_with_agentrl_fields_then_trl_fields(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    for field in ("--env_id", "--history_length", "--sft_warmup_steps", "--seal_coef", "--progress_bar"):
        assert field in out
    agentrl_part, _, trl_part = out.partition("TRL's GRPOConfig fields")
    assert "--num_generations" not in agentrl_part and "--num_generations" in trl_part
    assert "--env_id" not in trl_part
    assert agentrl_part.index("\nmodel:") < agentrl_part.index("\nenvironment:") < agentrl_part.index("\nrun:")
    assert "[household-easy]" in agentrl_part and "[tiny]" in agentrl_part  # defaults, constants resolved
