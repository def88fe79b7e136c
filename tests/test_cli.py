"""The CLI: bad input fails fast with a message naming the fix; a 2-step run honours the run-dir contract."""

from __future__ import annotations

import importlib.util
import json

import pytest
import yaml
from transformers import AutoModelForCausalLM

from agentrl.cli import main

TINY_RUN = {
    "model_name_or_path": "tiny",
    "tiny_hidden_size": 64,
    "env_id": "household-easy",
    "max_steps": 2,
    "per_device_train_batch_size": 4,
    "num_generations": 2,
    "max_completion_length": 16,
    "learning_rate": 1.0e-4,
    "sft_warmup_steps": 3,
    "sft_num_tasks": 10,
    "sft_batch_size": 8,
    "eval_num_tasks": 4,
    "eval_temperature": 0.4,
    "seed": 7,
    "bf16": False,
    "use_cpu": True,
    "gradient_checkpointing": False,
    "logging_steps": 1,
    "save_strategy": "no",
    "report_to": [],
    "micro_batch_rows": 8,
    "progress_bar": False,
}


def write_recipe(tmp_path, **changes):
    recipe = {**TINY_RUN, "output_dir": str(tmp_path / "run"), **changes}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def run_cli(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_unknown_recipe_key(tmp_path, capsys, no_model_loading):
    code, err = run_cli(capsys, "train", "--config", str(write_recipe(tmp_path, lerning_rate=0.1)))
    assert code == 2 and "unknown recipe key 'lerning_rate'" in err and "'learning_rate'" in err


def test_unknown_command_line_option(tmp_path, capsys, no_model_loading):
    code, err = run_cli(capsys, "train", "--config", str(write_recipe(tmp_path)), "--max_stepz", "3")
    assert code == 2 and "--max_stepz" in err and "'max_steps'" in err


def test_missing_recipe_file(tmp_path, capsys, no_model_loading):
    code, err = run_cli(capsys, "train", "--config", str(tmp_path / "nope.yaml"))
    assert code == 2 and "nope.yaml" in err and "not found" in err and "recipes/quickstart.yaml" in err


def test_unknown_environment(tmp_path, capsys, no_model_loading):
    code, err = run_cli(capsys, "train", "--config", str(write_recipe(tmp_path, env_id="alfwrld")))
    assert code == 2 and "unknown environment 'alfwrld'" in err and "household-easy" in err and "env_id:" in err


def test_model_path_that_does_not_exist(tmp_path, capsys, no_model_loading):
    missing = str(tmp_path / "no_such_model")
    code, err = run_cli(capsys, "train", "--config", str(write_recipe(tmp_path, model_name_or_path=missing)))
    assert code == 2 and missing in err and "does not exist" in err and "model_name_or_path" in err


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("advantage_estimator", "gipo", "advantage_estimator 'gipo': use one of gigpo, grpo, mean_centred, rloo"),
        ("starpo_keep_fraction", 0.0, "starpo_keep_fraction must be in (0, 1]"),
        ("overlong_buffer_length", 99, "overlong_buffer_length must be in [0, max_completion_length=16]"),
        ("gigpo_step_norm", "z", "gigpo_step_norm 'z': use std or mean"),
        ("seal_variant", "triplet", "seal_variant 'triplet': use one of bce, centroid_margin, cosine, supcon"),
        ("seal_pooling", "token", "seal_pooling 'token': use one of trajectory, step"),
        ("seal_label", "won", "seal_label 'won': use one of success, reward, advantage"),
        ("seal_layer", -2, "seal_layer must be >= 0 or -1, got -2 (SEAL: decoder layer k, or -1 = the final hidden"),
        ("seal_head_layers", 0, "seal_head_layers must be >= 1"),
        ("advantage_estimator", "dr_grpo", "advantage_estimator 'dr_grpo' is now called mean_centred"),
        # settings TRL / HF honour in their own loop, which agentrl's update replaces: refused, not dropped
        ("top_entropy_quantile", 0.2, "top_entropy_quantile 0.2: not supported. TRL takes the entropy quantile per"),
        ("optim", "schedule_free_adamw", "optim schedule_free_adamw: schedule-free optimizers train and evaluate"),
        ("eval_strategy", "steps", "eval_strategy steps: agentrl evaluates on its own held-out task panels"),
    ],
)
def test_bad_credit_assignment_keys(tmp_path, capsys, no_model_loading, key, value, message):
    code, err = run_cli(capsys, "train", "--config", str(write_recipe(tmp_path, **{key: value})))
    assert code == 2 and message in err


@pytest.mark.parametrize(
    ("changes", "keys"),
    [
        ({"advantage_estimator": "gigpo"}, ["gigpo/shared_anchor_fraction", "advantages/step_std"]),
        ({"empg": True, "advantage_estimator": "rloo"}, ["empg/g_mean", "empg/g_max", "empg/f_mean", "empg/f_max"]),
        ({"dynamic_sampling": True, "loss_type": "grpo"}, ["dapo/generation_rounds", "dapo/dropped_groups"]),
        ({"seal": True, "micro_batch_rows": 3}, ["seal/loss", "seal/units", "seal/one_class", "seal/pos_fraction"]),
    ],
)
@pytest.mark.slow  # a 2-update training run through the CLI (~4 s each on 2 idle cores)
def test_credit_assignment_runs_log_their_metrics(tmp_path, changes, keys):
    assert main(["train", "--config", str(write_recipe(tmp_path, sft_warmup_steps=2, **changes))]) == 0
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "reward/mean" in r]
    assert len(steps) == 2 and all(key in r for r in steps for key in keys)


@pytest.mark.parametrize(
    ("changes", "keys"),
    [
        (  # step-level credit and SEAL read the same step records in concat mode
            {"env_id": "household-easy", "advantage_estimator": "gigpo", "empg": True, "seal": True},
            ["concat/row_tokens_mean", "concat/rerender_mismatch_rate", "empg/g_mean", "seal/units"],
        ),
        ({"env_id": "factqa-easy", "max_completion_length": 32}, ["tools/calls_per_episode", "tools/failure_rate"]),
    ],
)
@pytest.mark.slow  # a 2-update training run through the CLI (~4 s each on 2 idle cores)
def test_concat_runs_train_end_to_end_and_log_their_metrics(tmp_path, changes, keys):
    """Concat mode through `agentrl train`: SFT on whole expert conversations, RL, evaluation, agentrl eval."""
    recipe = write_recipe(tmp_path, trajectory_format="concat", max_episode_tokens=1024, sft_warmup_steps=2, **changes)
    assert main(["train", "--config", str(recipe)]) == 0
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "reward/mean" in r]
    assert len(steps) == 2 and all(key in r for r in steps for key in keys + ["concat/context_truncated_rate"])
    assert all(r["rollout/rows"] == 4 for r in steps)  # one row per episode
    # `agentrl eval` on the run reads its trajectory format from config.yaml and gives eval.json's numbers
    after = json.loads((tmp_path / "run" / "eval.json").read_text())["after"]
    output = tmp_path / "eval.json"
    argv = ["eval", "--model", str(tmp_path / "run" / "final"), "--env", changes["env_id"], "--num_tasks", "4"]
    argv += ["--temperature", "0.4", "--seed", "7", "--max_new_tokens", str(changes.get("max_completion_length", 16))]
    assert main(argv + ["--output", str(output)]) == 0
    again = json.loads(output.read_text())
    assert (again["success_rate"], again["episode_length"]) == (after["success_rate"], after["episode_length"])
    if changes["env_id"].startswith("factqa"):
        assert {"tool_calls_per_episode", "tool_failure_rate"} <= set(again)


def test_resume_from_a_missing_checkpoint(tmp_path, capsys, no_model_loading):
    code, err = run_cli(capsys, "train", "--config", str(write_recipe(tmp_path)), "--resume_from_checkpoint", "nope/x")
    assert code == 2 and "nope/x" in err and "checkpoint" in err and "auto" in err


@pytest.mark.slow  # two training runs through the CLI
def test_a_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    recipe = write_recipe(tmp_path, save_strategy="steps", save_steps=1, sft_warmup_steps=2)
    assert main(["train", "--config", str(recipe), "--max_steps", "1"]) == 0
    assert main(["train", "--config", str(recipe), "--max_steps", "2", "--resume_from_checkpoint", "auto"]) == 0
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "reward/mean" in r] == [1, 2]  # step 1 is not redone
    assert (tmp_path / "run" / "checkpoint-2").is_dir()


def test_command_line_overrides_the_recipe(tmp_path):
    from agentrl.recipe import parse_train_args

    args = parse_train_args(["--config", str(write_recipe(tmp_path)), "--max_steps", "7", "--history_length", "1"])
    assert args.max_steps == 7 and args.history_length == 1 and args.env_id == "household-easy"


def test_two_step_train_run_writes_the_run_directory(tmp_path, capsys):
    code = main(["train", "--config", str(write_recipe(tmp_path))])
    assert code == 0
    run = tmp_path / "run"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["env_id"] == "household-easy" and config["max_steps"] == 2
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "reward/mean" in r]
    assert [r["step"] for r in steps] == [1, 2]
    for key in (
        "reward/mean",
        "success_rate",
        "episode/length_mean",
        "episode/valid_action_ratio",
        "entropy/token_mean",
        "time/rollout_s",
        "time/train_s",
    ):
        assert all(isinstance(r[key], float) for r in steps), key
    assert all(r["entropy/token_mean"] > 0 for r in steps)
    result = json.loads((run / "eval.json").read_text())
    assert result["split"] == "eval_in" and result["num_tasks"] == 4
    for phase in ("before", "after"):
        assert 0.0 <= result[phase]["success_rate"] <= 1.0 and "score" in result[phase]
    AutoModelForCausalLM.from_pretrained(run / "final")  # the trained model loads as a normal HF folder
    out = capsys.readouterr().out
    assert "before RL" in out and "after RL" in out and str(run) in out

    # `agentrl eval` on the trained model reproduces the run's own "after" numbers (same tasks, same seed).
    assert result["seed"] == 7 and result["temperature"] == 0.4
    assert (
        main(
            [
                "eval",
                "--model",
                str(run / "final"),
                "--env",
                "household-easy",
                "--split",
                "eval_in",
                "--num_tasks",
                "4",
                "--max_new_tokens",
                "16",
                "--temperature",
                "0.4",
                "--seed",
                "7",
                "--output",
                str(tmp_path / "e.json"),
            ]
        )
        == 0
    )
    again = json.loads((tmp_path / "e.json").read_text())
    assert again["success_rate"] == result["after"]["success_rate"]
    assert again["episode_length"] == result["after"]["episode_length"]
    # `--model RUN_DIR` alone: final/ with the run's own evaluation settings (env, split, 4 tasks, T 0.4, seed 7)
    assert main(["eval", "--model", str(run), "--output", str(tmp_path / "run_eval.json")]) == 0
    by_run = json.loads((tmp_path / "run_eval.json").read_text())
    assert by_run["model"] == str(run / "final") and by_run["num_episodes"] == 4
    assert by_run["success_rate"] == result["after"]["success_rate"]
    assert by_run["episode_length"] == result["after"]["episode_length"]
    assert by_run["valid_action_ratio"] == result["after"]["valid_action_ratio"]


# One-step episodes paid by the action's length modulo 5: the random tiny policy gets different returns within a
# group, so the first update moves it (with every return equal, nothing would move and nothing could be checked).
LENGTH_PARITY_ENV = """
from agentrl.envs import TextEnv


class LengthParity(TextEnv):
    name = "length-parity"
    max_steps = 1

    def task_ids(self, split):
        return [f"length-parity/{split}/{i}" for i in range(20)]

    def _reset(self, task_id):
        return "Say something.", self._info()

    def step(self, action):
        return "", float(len(action) % 5), True, self._info()

    def _info(self):
        return {"task": "Say something.", "admissible_actions": [], "won": False, "valid": True, "anchor": 0,
                "expert_action": None}
"""


def test_kl_and_multiple_iterations_reuse_the_rollout_batch(tmp_path):
    """beta > 0 builds a reference model; num_iterations = 2 trains twice on one rollout batch, the second time
    against the old log-probs recorded before the first update."""
    (tmp_path / "parity_env.py").write_text(LENGTH_PARITY_ENV)
    recipe = write_recipe(
        tmp_path,
        env_id="parity_env.py:LengthParity",
        beta=0.05,
        num_iterations=2,
        sft_warmup_steps=0,
        learning_rate=1e-3,
        eval_num_tasks=2,
        per_device_train_batch_size=8,
        num_generations=4,
    )
    assert main(["train", "--config", str(recipe)]) == 0
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    first, second = [r for r in records if "kl" in r]
    # one rollout for the two updates: the second logs no rollout of its own and trains on the same rows
    assert first["rollout/episodes"] == 8 and "rollout/episodes" not in second and "reward/mean" not in second
    assert second["train/rows_forward"] == first["train/rows_forward"] > 0
    # the reference is the starting policy: KL ~0 at the first update (two float32 forwards of the same weights
    # differ by ~1e-6 per log-prob, so KL ~ 1e-12), clearly positive once the first update moved the policy
    assert first["grad_norm"] > 0 and first["kl"] < 1e-8 < second["kl"]


@pytest.mark.slow  # a training run through the CLI
def test_lora_run_saves_an_adapter(tmp_path):
    from peft import PeftModel

    code = main(
        [
            "train",
            "--config",
            str(write_recipe(tmp_path, use_peft=True, sft_warmup_steps=0, max_steps=1, lora_r=4, lora_alpha=8)),
        ]
    )
    assert code == 0
    final = tmp_path / "run" / "final"
    assert (final / "adapter_config.json").exists()
    base = AutoModelForCausalLM.from_pretrained(tmp_path / "run" / "base_model")
    PeftModel.from_pretrained(base, final)


def test_every_shipped_recipe_parses_and_validates():
    from pathlib import Path

    from agentrl.recipe import check_vllm_settings, load_recipe, parse_train_args

    recipes = [
        r for r in sorted((Path(__file__).parent.parent / "recipes").rglob("*.yaml")) if r.parent.name != "accelerate"
    ]
    assert any(r.name == "quickstart.yaml" for r in recipes)
    assert {r.parent.name for r in recipes} >= {"recipes", "envs", "entropy", "base", "empg"}
    for recipe in recipes:
        # GPU recipes ask for bf16, which transformers refuses on a machine without a GPU unless use_cpu is set.
        overrides = ["--use_cpu", "true"]
        loaded = load_recipe(recipe)  # with its `base:`, if any
        if loaded["model_name_or_path"].startswith("runs/"):
            overrides += ["--model_name_or_path", "tiny"]  # starts from another recipe's output
        if loaded.get("use_vllm"):
            overrides += ["--use_vllm", "false"]  # vLLM is GPU-only; its settings are checked below
        args = parse_train_args(["--config", str(recipe), *overrides])
        assert args.max_steps > 0 and args.env_id and args.output_dir
        if loaded.get("use_vllm"):
            check_vllm_settings(args)


# ---------------------------------------------------------------------------------------- envs / play / eval
def run_cli_out(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_envs_lists_splits_and_sizes_and_survives_a_missing_engine(capsys, monkeypatch):
    from agentrl.envs import registry

    def needs_engine(**kwargs):
        raise ImportError('the fake engine is not installed; pip install -e ".[fake]"')

    registry._load_registered()
    monkeypatch.setitem(registry._FACTORIES, "fake-engine", needs_engine)
    monkeypatch.setitem(registry._DESCRIPTIONS, "fake-engine", "an env whose engine is missing")
    code, out, _ = run_cli_out(capsys, "envs")
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert code == 0
    for name in ("household-easy", "household", "household-multi"):
        assert "train 2000  eval_in 200  eval_out 200  (expert)" in lines[name]
    assert 'not installed: pip install -e ".[fake]"' in lines["fake-engine"]
    assert "an env whose engine is missing" in lines["fake-engine"]
    # the adapter prefixes, each with whether its library is installed (the test extra installs them all)
    for prefix in ("gymnasium:", "gem:", "textarena:", "openenv:", "trl:"):
        assert lines[prefix].split()[1] == "installed"


def test_play_prints_the_expert_transcript_with_old_and_new_spellings(capsys):
    code, out, _ = run_cli_out(capsys, "play", "household-easy", "--task", "household-easy/eval_in/00007")
    assert code == 0 and out.startswith("task household-easy/eval_in/00007")
    assert out.rstrip().splitlines()[-1].startswith("episode over: won True, return 1.0")
    code, again, _ = run_cli_out(capsys, "play", "--env", "household-easy", "--task_id", "household-easy/eval_in/00007")
    assert code == 0 and again == out


def test_play_as_a_human_from_the_terminal(capsys, monkeypatch):
    from agentrl.envs import make_env

    env = make_env("household")
    _, info = env.reset("household/train/00003")
    answers, done = [], False
    while not done:  # type the expert's actions, the first one by its number in the printed list
        action = info["expert_action"]
        answers.append(str(info["admissible_actions"].index(action) + 1) if not answers else action)
        _, _, done, info = env.step(action)
    monkeypatch.setattr("builtins.input", lambda prompt="": answers.pop(0))
    code, out, _ = run_cli_out(capsys, "play", "household", "--agent", "human", "--task", "household/train/00003")
    assert code == 0 and answers == [] and "episode over: won True" in out and "[1] " in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["play", "householdd"], "unknown environment 'householdd'"),
        (["play", "household", "--split", "test"], "unknown split 'test'; use one of train, eval_in, eval_out"),
        (["play", "household", "--task", "household/train/99999"], "unknown task id 'household/train/99999'"),
        (["play", "household", "--env", "household-easy"], "two environments given"),
        (["eval", "--agent", "expert", "--env", "nope"], "unknown environment 'nope'"),
        (["eval", "--agent", "random", "--split", "eval"], "unknown split 'eval'"),
        (["eval", "--env", "household"], "--model is required"),
        (["eval", "--agent", "expert", "--model", "x"], "--model is not used by --agent expert"),
    ],
)
def test_env_commands_reject_bad_input_with_a_message(capsys, argv, message):
    code, _, err = run_cli_out(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err


def test_eval_baselines_without_a_model(capsys, tmp_path):
    import random

    from agentrl.envs import make_env

    code, out, _ = run_cli_out(capsys, "eval", "--agent", "expert", "--env", "household-multi", "--num_tasks", "30")
    expert = json.loads(out)
    assert code == 0 and expert["success_rate"] == 1.0 and expert["num_episodes"] == 30
    assert sum(t["num_episodes"] for t in expert["by_task_type"].values()) == 30
    assert set(expert["by_task_type"]) <= {
        "pick_and_place_simple",
        "pick_clean_then_place_in_recep",
        "pick_heat_then_place_in_recep",
        "pick_cool_then_place_in_recep",
    }
    output = tmp_path / "random.json"
    argv = ["eval", "--agent", "random", "--env", "household-easy", "--split", "train", "--num_tasks", "60"]
    code, _, _ = run_cli_out(capsys, *argv, "--max_episode_steps", "50", "--env_workers", "2", "--output", str(output))
    result = json.loads(output.read_text())
    # The same random policy by hand: episode i draws from random.Random(f"0/{i}") (the CLI's default seed 0).
    env, wins, steps = make_env("household-easy", max_steps=50), 0, 0
    for index, task_id in enumerate(env.task_ids("train")[:60]):
        rng, (_, info), done = random.Random(f"0/{index}"), env.reset(task_id), False
        while not done:
            _, reward, done, info = env.step(rng.choice(info["admissible_actions"]))
            steps += 1
        wins += info["won"]
    assert code == 0 and result["agent"] == "random" and result["env_errors"] == 0
    assert result["success_rate"] == wins / 60 and result["episode_length"] == steps / 60
    assert result["by_task_type"]["pick_and_place_simple"]["num_episodes"] == 60


def test_vllm_without_vllm_installed_is_refused_before_training(tmp_path, capsys, no_model_loading):
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    code, err = run_cli(capsys, "train", "--config", str(write_recipe(tmp_path, use_vllm=True)))
    assert code == 2 and "vLLM is not installed" in err and "pip install 'agentrl[vllm]'" in err


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("vllm_mode", "remote", "vllm_mode 'remote'"),
        ("vllm_importance_sampling_mode", "token", "'token'"),
        ("vllm_max_model_length", 2048, "max_episode_tokens 4096 > vllm_max_model_length 2048"),
    ],
)
def test_bad_vllm_settings_are_named(tmp_path, capsys, no_model_loading, key, value, message):
    recipe = write_recipe(tmp_path, use_vllm=True, trajectory_format="concat", **{key: value})
    code, err = run_cli(capsys, "train", "--config", str(recipe))
    assert code == 2 and message in err


def test_a_dry_run_of_a_vllm_recipe_still_checks_its_vllm_settings(capsys, no_model_loading):
    """--smoke runs on Hugging Face generate, but a vLLM recipe's settings are still checked, before any model."""
    from tests.launch import ROOT

    recipe = f"{ROOT}/recipes/household_qwen2.5_1.5b_vllm.yaml"
    code, err = run_cli(capsys, "train", "--config", recipe, "--smoke", "--vllm_mode", "remote")
    assert code == 2 and "vllm_mode 'remote'" in err


def test_zero3_without_gathered_generation_is_refused_before_training(tmp_path, capsys, no_model_loading):
    """ZeRO-3 with ds3_gather_for_generation: false would hang: ranks play different numbers of turns, and each
    forward of partitioned weights is a collective."""
    code, err = run_cli(capsys, "train", "--config", str(write_recipe(tmp_path, ds3_gather_for_generation=False)))
    assert code == 2 and "ds3_gather_for_generation: false is not supported" in err and "keep the default" in err


def test_more_processes_than_devices(tmp_path, capsys, no_model_loading, monkeypatch):
    import torch

    from agentrl.config import AgentRLConfig
    from agentrl.errors import RecipeError
    from agentrl.recipe import check_processes_fit_devices

    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # as accelerate launch sets it for 4 processes on this machine
    code, err = run_cli(capsys, "train", "--config", str(write_recipe(tmp_path, use_cpu=False)))
    assert code == 2 and "4 processes" in err and "no GPU" in err and "use_cpu: true" in err
    args = AgentRLConfig(output_dir=str(tmp_path), use_cpu=False, bf16=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a machine with 2 GPUs
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(RecipeError, match=r"has 2 GPU\(s\).*--num_processes 2"):
        check_processes_fit_devices(args)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    check_processes_fit_devices(args)  # as many processes as GPUs: accepted


def test_every_accelerate_config_is_valid():
    """Each config under recipes/accelerate loads as accelerate's own config; DeepSpeed ones keep accumulation at 1
    (agentrl accumulates over step rows itself); the CPU ones run 2 processes without mixed precision."""
    from pathlib import Path

    from accelerate.commands.config.config_args import load_config_from_file

    folder = Path(__file__).resolve().parents[1] / "recipes" / "accelerate"
    names = sorted(path.name for path in folder.glob("*.yaml"))
    assert {"single_gpu.yaml", "multi_gpu.yaml", "zero2.yaml", "zero3.yaml", "zero3_offload.yaml", "fsdp2.yaml"} <= set(
        names
    )
    for name in names:
        config = load_config_from_file(str(folder / name))
        if str(config.distributed_type) == "DistributedType.DEEPSPEED":
            assert config.deepspeed_config["gradient_accumulation_steps"] == 1, name
            assert not config.deepspeed_config.get("zero3_init_flag", False), name  # the policy loads whole
        if name.startswith("cpu_"):
            assert config.num_processes == 2 and config.mixed_precision == "no", name
        else:
            assert config.mixed_precision == "bf16" and not config.use_cpu, name


def test_a_tool_environment_needs_concat(tmp_path, capsys):
    code, err = run_cli(capsys, "train", "--config", str(write_recipe(tmp_path, env_id="factqa-easy")))
    assert code == 2 and "tool environment" in err and "trajectory_format: concat" in err


def test_eval_over_several_seeds_pools_tasks_and_reports_the_spread(capsys):
    code, out, err = run_cli_out(
        capsys, "eval", "--agent", "random", "--env", "household-easy", "--num_tasks", "15", "--seeds", "0", "1"
    )
    summary = json.loads(out)
    assert code == 0 and summary["seeds"] == [0, 1] and summary["num_episodes"] == 30
    assert len(summary["success_by_seed"]) == 2 and "success per seed" in err and "invalid action rate" in err


def test_seed_summary_by_hand():
    from agentrl.evaluation import summarize_seeds
    from agentrl.rollout.episode import Episode

    def played(won: bool) -> Episode:
        return Episode(task_id="t", group_id=0, won=won)

    summary = summarize_seeds({0: [played(True), played(False)], 1: [played(True), played(True)]})
    assert summary["success_rate"] == 0.75 and summary["success_by_seed"] == [0.5, 1.0]
    assert summary["success_std_over_seeds"] == pytest.approx(0.5 / 2**0.5)  # sample std of 0.5 and 1.0
    half = 1.96 * (0.75 * 0.25 / 4) ** 0.5  # normal interval over the 4 pooled episodes
    assert summary["success_ci95"] == pytest.approx([0.75 - half, 1.0])
