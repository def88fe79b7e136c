"""Environments from anywhere: a user's file or package named in a recipe trains under every launcher, with env
workers, from a folder outside the repository and without a launcher script; installed packages register
environments through entry points; bad specs stop before any model loads; agentrl recipes load in TRL's parser."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from trl import TrlParser

from agentrl.cli import main
from agentrl.config import AgentRLConfig
from agentrl.envs import UnknownEnvironmentError, check_info, make_env
from agentrl.recipe import load_recipe
from tests.launch import ROOT, free_port
from tests.test_cli import TINY_RUN, run_cli, write_recipe

EXAMPLE = Path(ROOT) / "examples" / "number_guess_env.py"
BIN = Path(sys.executable).parent


def user_recipe(folder: Path, env_id: str, **changes) -> Path:
    recipe = {
        **TINY_RUN,
        "env_id": env_id,
        "env_kwargs": {"high": 8, "max_steps": 4},
        "output_dir": str(folder / "run"),
        "sft_warmup_steps": 8,
        "sft_num_tasks": 40,
        **changes,
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def run_outside(command: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    """A command from a folder outside the repository, with no PYTHONPATH: only what `pip install` put in place."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env={**env, "OMP_NUM_THREADS": "1"}
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def assert_trained(run: Path, updates: int = 2) -> None:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "reward/mean" in r] == list(range(1, updates + 1))
    assert (run / "final" / "config.json").exists() and (run / "eval.json").exists()


# ------------------------------------------------------------------------------------------ specs
def test_a_file_spec_builds_the_users_environment():
    env = make_env(f"{EXAMPLE}:NumberGuess", high=8)
    observation, info = env.reset(env.task_ids("train")[0])
    check_info(info)
    assert env.name == "number-guess" and "1 to 8" in info["task"]
    # the expert (binary search over 1..8) wins within ceil(log2(8)) + 1 = 4 guesses
    done, steps = False, 0
    while not done:
        observation, reward, done, info = env.step(info["expert_action"])
        steps += 1
    assert info["won"] and reward == 1.0 and steps <= 4


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_package.envs:Grid", "module 'no_such_package.envs' not found"),
        (f"{EXAMPLE}:Nope", "has no attribute 'Nope'"),
        ("agentrl.envs.base:SPLITS", "not an environment"),
        ("collections:OrderedDict", "not a TextEnv subclass"),
        ("missing_file.py:Grid", "file 'missing_file.py' not found"),
        ("householdd", "unknown environment 'householdd'"),
    ],
)
def test_bad_specs_stop_before_any_model_loads(tmp_path, capsys, no_model_loading, spec, message):
    code, err = run_cli(capsys, "train", "--config", str(write_recipe(tmp_path, env_id=spec)))
    assert code == 2 and message in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if "error" in line.lower()]) == 1  # one message


def test_unknown_env_kwargs_name_the_accepted_ones(tmp_path, capsys, no_model_loading):
    recipe = write_recipe(tmp_path, env_id=f"{EXAMPLE}:NumberGuess", env_kwargs={"hihg": 8})
    code, err = run_cli(capsys, "train", "--config", str(recipe))
    assert code == 2 and "'hihg'" in err and "Did you mean 'high'" in err


def test_household_env_kwargs_typo_names_the_keyword(tmp_path, capsys, no_model_loading):
    # the household factories forward **kwargs to HouseholdEnv; the typo must still get the registry's message
    recipe = write_recipe(tmp_path, env_id="household-easy", env_kwargs={"target_moevd": True})
    code, err = run_cli(capsys, "train", "--config", str(recipe))
    assert code == 2 and "Did you mean 'target_moved'" in err and "put_grammar" in err and "Traceback" not in err


def test_old_recipe_keys_name_the_new_ones(tmp_path, capsys, no_model_loading):
    (tmp_path / "old.yaml").write_text("env: household\nmax_steps: 2\n")
    code, err = run_cli(capsys, "train", "--config", str(tmp_path / "old.yaml"))
    assert code == 2 and "env_id: household" in err
    (tmp_path / "old.yaml").write_text("env_vars: {A: 1}\n")
    code, err = run_cli(capsys, "train", "--config", str(tmp_path / "old.yaml"))
    assert code == 2 and "`env:`" in err


def test_a_library_that_is_not_installed_names_the_extra():
    code = (
        "import sys; sys.modules['textarena'] = None\n"
        "from agentrl.envs import make_env, UnknownEnvironmentError\n"
        "try:\n"
        "    make_env('textarena:GuessTheNumber-v0')\n"
        "except (ImportError, ValueError) as error:\n"
        "    assert 'agentrl[textarena]' in str(error), error\n"
        "else:\n"
        "    raise AssertionError('built without textarena')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ------------------------------------------------------------------------------------------ entry points
@pytest.mark.slow  # installs a package into a fresh folder and runs a subprocess
def test_an_installed_package_registers_environments_through_entry_points(tmp_path):
    """A distribution on the path with an `agentrl.envs` entry point: `agentrl envs` lists it, make_env builds it."""
    package = tmp_path / "my_envs_pkg"
    package.mkdir()
    shutil.copy(EXAMPLE, package / "guess.py")
    (package / "__init__.py").write_text("")
    info = tmp_path / "my_envs_pkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-envs-pkg\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[agentrl.envs]\nguess-8 = my_envs_pkg.guess:NumberGuess\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    listed = subprocess.run(
        [str(BIN / "agentrl"), "envs"], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path
    )
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith("guess-8"))
    assert "train 1000" in line and "Find a secret number" in line
    code = "from agentrl.envs import make_env; print(make_env('guess-8').name)"
    built = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert built.stdout.strip() == "number-guess", built.stderr


# ------------------------------------------------------------------------------------------ TRL's parser
def test_trl_parser_loads_every_shipped_recipe(tmp_path):
    """TrlParser((AgentRLConfig,)) reads agentrl recipes (with `base:` resolved first, agentrl's addition). GPU
    recipes ask for bf16, which TrainingArguments refuses on a machine without a GPU unless use_cpu is set."""
    recipes = sorted(Path(ROOT, "recipes").rglob("*.yaml"))
    recipes = [r for r in recipes if "accelerate" not in r.parts and "deepspeed" not in r.name]
    assert len(recipes) > 20
    for recipe in recipes:
        flat = tmp_path / "flat.yaml"
        flat.write_text(yaml.safe_dump(load_recipe(recipe)))
        (args,) = TrlParser((AgentRLConfig,)).parse_args_and_config(["--config", str(flat), "--use_cpu", "true"])
        assert args.env_id, recipe


def test_trl_env_block_sets_environment_variables(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("AGENTRL_TEST_VAR", raising=False)
    recipe = write_recipe(tmp_path, env={"AGENTRL_TEST_VAR": "1"})
    # TRL's own parser and agentrl's both honour it
    TrlParser((AgentRLConfig,)).parse_args_and_config(["--config", str(recipe)])
    assert os.environ.pop("AGENTRL_TEST_VAR") == "1"
    from agentrl.recipe import parse_train_args

    parse_train_args(["--config", str(recipe)])
    assert os.environ["AGENTRL_TEST_VAR"] == "1"
    assert "[agentrl] env: AGENTRL_TEST_VAR=1" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ the distribution
def test_the_installed_distribution_has_one_top_level_package(tmp_path):
    from importlib import metadata

    import agentrl.envs

    top_level = metadata.distribution("agentrl").read_text("top_level.txt")
    if top_level is not None:  # editable installs may not write it; the wheel test below checks the real file
        assert top_level.split() == ["agentrl"]
    assert Path(agentrl.envs.__file__).parent == Path(ROOT) / "envs"
    # a top-level `envs` (the PyPI package of that name, or a user's own envs/ folder) does not shadow ours
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "__init__.py").write_text("raise ImportError('the user project envs/ was imported')\n")
    code = "import agentrl.envs, agentrl.cli; print(sorted(agentrl.envs.list_envs())[0])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "alfworld", done.stderr


@pytest.mark.slow
def test_the_wheel_installs_only_agentrl_at_top_level(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", ROOT, "-w", str(tmp_path)],
        check=True,
        timeout=600,
        capture_output=True,
    )
    import zipfile

    (wheel,) = tmp_path.glob("agentrl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("top_level.txt"))).decode()
    assert top_level.split() == ["agentrl"]
    assert "agentrl/envs/household/env.py" in names and "agentrl/envs/alfworld/data/generated-v1.tar.xz" in names
    assert not any(name.startswith("envs/") for name in names)


# ------------------------------------------------------------------------------------------ every launcher
@pytest.mark.slow
def test_a_user_package_trains_with_the_agentrl_command(tmp_path):
    """`agentrl train` (the console script) from the user's project folder: `my_envs.guess:NumberGuess`."""
    (tmp_path / "my_envs").mkdir()
    (tmp_path / "my_envs" / "__init__.py").write_text("")
    shutil.copy(EXAMPLE, tmp_path / "my_envs" / "guess.py")
    recipe = user_recipe(tmp_path, "my_envs.guess:NumberGuess")
    run_outside([str(BIN / "agentrl"), "train", "--config", str(recipe)], cwd=tmp_path)
    assert_trained(tmp_path / "run")


@pytest.mark.slow
def test_a_user_file_trains_with_python_m_and_env_workers(tmp_path):
    """`python -m agentrl train` from another folder; the recipe names the file next to it; worker processes."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(EXAMPLE, project / "number_guess_env.py")
    recipe = user_recipe(project, "number_guess_env.py:NumberGuess", env_workers=2)
    run_outside([sys.executable, "-m", "agentrl", "train", "--config", str(recipe)], cwd=tmp_path)
    assert_trained(project / "run")


@pytest.mark.slow
@pytest.mark.multiprocess
def test_a_user_file_trains_under_accelerate_launch(tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "number_guess_env.py")
    recipe = user_recipe(tmp_path, "number_guess_env.py:NumberGuess")
    config = Path(ROOT) / "recipes" / "accelerate" / "cpu_ddp_2.yaml"
    command = [str(BIN / "accelerate"), "launch", "--config_file", str(config), "--main_process_port", str(free_port())]
    run_outside([*command, "-m", "agentrl", "train", "--config", str(recipe)], cwd=tmp_path)
    assert_trained(tmp_path / "run")


# ------------------------------------------------------------------------------------------ no silent zeros
@pytest.mark.slow
def test_a_run_without_learning_signal_says_so(tmp_path, capsys):
    """No warm-up (the tiny model writes no well-formed action) and a task nobody can win in one guess among 64:
    every return is equal, so the format warning and the zero-signal warning fire."""
    recipe = user_recipe(
        tmp_path, f"{EXAMPLE}:NumberGuess", sft_warmup_steps=0, max_steps=3, env_kwargs={"high": 64, "max_steps": 1}
    )
    started = time.perf_counter()
    assert main(["train", "--config", str(recipe)]) == 0
    err = capsys.readouterr().err
    assert "well-formed actions" in err and "sft_warmup_steps" in err
    assert "3 updates in a row" in err and "no trainable row" in err
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["rollout/trainable_rows"] for r in records if "reward/mean" in r] == [0, 0, 0]
    assert time.perf_counter() - started < 900


def test_zero_signal_warning_counts_consecutive_updates():
    import io

    from transformers import TrainerState

    from agentrl.signal_watch import ZeroSignalWarning

    stream = io.StringIO()
    watch, state = ZeroSignalWarning(patience=2, stream=stream), TrainerState()
    for step, rows in enumerate([0, 3, 0, 0, 0, 5, 0], 1):
        state.global_step = step
        watch.on_log(None, state, None, logs={"rollout/trainable_rows": rows})
    assert stream.getvalue().count("warning") == 1 and "up to step 4" in stream.getvalue()


# ------------------------------------------------------------------------------------------ demonstrations
def test_demonstration_files_are_checked_line_by_line(tmp_path):
    from agentrl.rollout.demo_file import DemonstrationFileError, load_demonstrations

    path = tmp_path / "demos.jsonl"
    for text, message in [
        ('{"task_id": "a", "actions": ["x"]}\nnot json\n', "line 2: not JSON"),
        ('{"task_id": "a", "actions": []}\n', "non-empty list"),
        ('{"messages": [{"role": "user", "content": "hi"}]}\n', "no assistant turn"),
        ('{"task_id": "a", "actions": ["x"]}\n{"messages": [{"role": "assistant", "content": "y"}]}\n', "mixes"),
        ('{"prompt": "x"}\n', "line 1"),
    ]:
        path.write_text(text)
        with pytest.raises(DemonstrationFileError, match=message):
            load_demonstrations(path)


def test_replayed_demonstrations_teach_the_same_rows_as_the_expert():
    """Recording the expert's actions in a file and warming up from it gives exactly the expert's SFT rows."""
    from agentrl.rollout.demo_file import ReplayedExpert
    from agentrl.rollout.prompt import PromptBuilder

    env = make_env(f"{EXAMPLE}:NumberGuess", high=8)
    recorded = {}
    for task_id in env.task_ids("train")[:5]:
        _, info = env.reset(task_id)
        actions, done = [], False
        while not done:
            actions.append(info["expert_action"])
            _, _, done, info = env.step(actions[-1])
        recorded[task_id] = actions
    builder = PromptBuilder(tokenizer=None)
    expert = [builder.text(*t[:2], t[2], t[3]) for t in _transitions(env, list(recorded))]
    replayed = [builder.text(*t[:2], t[2], t[3]) for t in _transitions(ReplayedExpert(env, recorded), list(recorded))]
    assert expert == replayed and len(expert) == sum(map(len, recorded.values()))


def _transitions(env, task_ids):
    """What the SFT warm-up reads: (task, observation, history, admissible actions, action) per expert step."""
    from agentrl.rollout.demos import expert_transitions

    return list(expert_transitions(env, task_ids))


@pytest.mark.slow
def test_an_environment_without_expert_warms_up_from_a_file(tmp_path, capsys):
    """No expert: a warm-up is refused with the fix named; with a demonstrations file it trains."""
    source = EXAMPLE.read_text().replace(
        '"expert_action": f"guess {(self.low_bound + self.high_bound) // 2}",  # binary search',
        '"expert_action": None,',
    )
    assert source != EXAMPLE.read_text()
    (tmp_path / "no_expert.py").write_text(source)
    recipe = user_recipe(tmp_path, "no_expert.py:NumberGuess", max_steps=1)
    code, err = run_cli(capsys, "train", "--config", str(recipe))
    assert code == 2 and "has no expert" in err and "sft_demonstrations" in err and "sft_warmup_steps: 0" in err
    expert = make_env(f"{EXAMPLE}:NumberGuess", high=8, max_steps=4)
    lines = []
    for task_id in expert.task_ids("train")[:40]:
        _, info = expert.reset(task_id)
        actions, done = [], False
        while not done:
            actions.append(info["expert_action"])
            _, _, done, info = expert.step(actions[-1])
        lines.append(json.dumps({"task_id": task_id, "actions": actions}))
    (tmp_path / "demos.jsonl").write_text("\n".join(lines) + "\n")
    shutil.rmtree(tmp_path / "run", ignore_errors=True)
    recipe = user_recipe(tmp_path, "no_expert.py:NumberGuess", max_steps=1, sft_demonstrations="demos.jsonl")
    assert main(["train", "--config", str(recipe)]) == 0
    assert_trained(tmp_path / "run", updates=1)
    assert "held-out success before RL" in capsys.readouterr().out


def test_conversation_demonstrations_train_only_the_assistant_turns(tiny_tokenizer):
    from agentrl.rollout.demo_file import conversation_sft_rows

    messages = [
        {"role": "user", "content": "find the key"},
        {"role": "assistant", "content": "<think>look</think><action>look</action>"},
        {"role": "user", "content": "a key"},
        {"role": "assistant", "content": "<think>take</think><action>take key</action>"},
    ]
    rows = conversation_sft_rows(tiny_tokenizer, [messages])
    assert len(rows) == 2
    for row, turn in zip(rows, (1, 3), strict=True):
        trained = [i for i, m in zip(row["input_ids"], row["completion_mask"], strict=True) if m]
        assert tiny_tokenizer.decode(trained[:-1]) == messages[turn]["content"]
        assert trained[-1] == tiny_tokenizer.eos_token_id
        prompt = tiny_tokenizer.apply_chat_template(messages[:turn], add_generation_prompt=True, tokenize=False)
        assert tiny_tokenizer.decode(row["input_ids"][: row["completion_mask"].index(1)]) == prompt
