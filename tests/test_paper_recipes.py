"""The paper recipes (recipes/paper/): the benchmark protocol in every one, a launch config and hardware named, and
a dry run (`agentrl train --config RECIPE --smoke`) of each: one update with the tiny offline model. Also the
recipe machinery they use: `base:` inheritance, the process-count warning, model resolution without weights."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from agentrl.cli import main
from agentrl.errors import RecipeError
from agentrl.recipe import load_recipe, parse_train_args

ROOT = Path(__file__).parent.parent
PAPER = ROOT / "recipes" / "paper"
CELLS = sorted(path for path in PAPER.rglob("*.yaml") if path.parent.name != "base")
# What the recipe's method is made of, read back from the run's config.yaml: the dry run must keep all of it.
METHOD_KEYS = ("loss_type", "epsilon_high", "advantage_estimator", "empg", "empg_zeta", "seal", "seal_coef")


def test_the_paper_tables_are_covered():
    names = {str(path.relative_to(PAPER).with_suffix("")) for path in CELLS}
    for env in ("alfworld", "webshop"):
        for size in ("1.5b", "7b"):
            for method in ("grpo", "grpo_empg", "dapo", "dapo_empg"):  # EMPG Table 1
                assert f"empg/{env}_qwen2.5_{size}_{method}" in names
            assert f"gigpo/{env}_qwen2.5_{size}_gigpo" in names
        assert {f"seal/{env}_qwen2.5_7b_grpo_seal", f"seal/{env}_qwen2.5_7b_gigpo_seal"} <= names
        for combination in ("gigpo_empg", "dapo_empg_seal", "dapo_empg_seal_pulse"):
            assert f"agentrl/{env}_qwen2.5_1.5b_{combination}" in names


@pytest.mark.parametrize("recipe", CELLS, ids=lambda path: str(path.relative_to(PAPER)))
def test_paper_recipe_follows_the_protocol_and_names_its_launch(recipe):
    keys = load_recipe(recipe)
    # methods.md section 5: group 8 x 16 tasks, 150 updates, history 2, format penalty 0.1, gamma 0.95, T_val 0.4
    assert keys["num_generations"] == 8
    assert keys["per_device_train_batch_size"] * keys["num_processes"] == 16 * 8
    assert keys["max_steps"] == 150 and keys["history_length"] == 2 and keys["invalid_format_penalty"] == 0.1
    assert keys["gamma"] == 0.95 and keys["eval_temperature"] == 0.4
    assert keys["max_episode_steps"] == {"alfworld": 50, "webshop": 15}[keys["env_id"]]
    if keys["env_id"] == "alfworld":
        assert keys["env_kwargs"] == {"reward_on_win": 10.0}
    assert keys["prompt_template"] == keys["env_id"]  # the protocol's per-environment prompt (docs/multiturn.md)
    assert keys["model_name_or_path"] in ("Qwen/Qwen2.5-1.5B-Instruct", "Qwen/Qwen2.5-7B-Instruct")
    assert (ROOT / keys["accelerate_config"]).is_file() and keys["hardware"]
    launch = yaml.safe_load((ROOT / keys["accelerate_config"]).read_text())
    assert launch["distributed_type"] == "DEEPSPEED"
    assert keys["output_dir"] == f"runs/paper/{recipe.relative_to(PAPER).with_suffix('')}"
    args = parse_train_args(["--config", str(recipe), "--use_cpu", "true"])
    assert args.seed == 0 and args.beta == 0.0


# What a 7B cell may change from its 1.5B twin: model, launch and batch layout only. A dry run replaces the model
# by the tiny one and shrinks the batch, so such a cell's dry run would repeat its twin's: it is checked below
# without the update (its recipe and model class), and the twin's dry run covers the method.
SCALE_KEYS = {
    "model_name_or_path",
    "accelerate_config",
    "hardware",
    "num_processes",
    "per_device_train_batch_size",
    "micro_batch_rows",
    "output_dir",
}


def twin_of(recipe: Path) -> Path | None:
    twin = recipe.with_name(recipe.name.replace("_qwen2.5_7b_", "_qwen2.5_1.5b_"))
    return twin if twin != recipe and twin.is_file() else None


DRY_RUN_CELLS = [cell for cell in CELLS if twin_of(cell) is None]


@pytest.mark.parametrize("recipe", [c for c in CELLS if twin_of(c)], ids=lambda path: str(path.relative_to(PAPER)))
def test_a_7b_cell_with_a_1_5b_twin_differs_only_in_scale(recipe):
    from agentrl.models import resolve_model_class

    cell, twin = load_recipe(recipe), load_recipe(twin_of(recipe))
    assert {key for key in cell.keys() | twin.keys() if cell.get(key) != twin.get(key)} <= SCALE_KEYS
    assert resolve_model_class(cell["model_name_or_path"]) == resolve_model_class(twin["model_name_or_path"])


@pytest.fixture(scope="module")
def smoke_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("smoke")  # one tiny model per environment, shared by every dry run


@pytest.mark.slow  # a dry run trains the tiny model through the recipe: 2-7 s each, 15-25 s with the model's build
@pytest.mark.parametrize("recipe", DRY_RUN_CELLS, ids=lambda path: str(path.relative_to(PAPER)))
def test_paper_recipe_dry_run(recipe, smoke_dir, capsys):
    output = smoke_dir / recipe.stem
    code = main(["train", "--config", str(recipe), "--smoke", "--output_dir", str(output)])
    out = capsys.readouterr().out
    assert code == 0
    assert "is a qwen2 model (Qwen2ForCausalLM)" in out
    keys = load_recipe(recipe)
    ran = yaml.safe_load((output / "config.yaml").read_text())
    assert ran["model_name_or_path"] == str(smoke_dir / f"tiny-{keys['env_id']}") and ran["use_cpu"]
    assert ran["env_id"] == keys["env_id"] and ran["env_kwargs"] == keys.get("env_kwargs", {})
    assert ran["prompt_template"] == keys["prompt_template"]
    for key in METHOD_KEYS:
        if key in keys:
            assert ran[key] == keys[key], key
    updates = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
    updates = [u for u in updates if "loss" in u]
    assert len(updates) == 1 and math.isfinite(updates[0]["loss"])
    assert updates[0]["rollout/episodes"] == keys["num_generations"]
    assert updates[0]["train/rows_forward"] > 0  # the returns differed: a real forward and backward
    if keys.get("seal"):
        assert "seal/pos_fraction" in updates[0]
    if keys.get("entropy_control") == "pulse":
        assert "entropy/coef" in updates[0]
    assert json.loads((output / "eval.json").read_text())["after"]["num_episodes"] == 1


# ------------------------------------------------------------------------------------------ recipe machinery
def test_base_recipe_keys_are_overridden_whole(tmp_path):
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "protocol.yaml").write_text(
        "env_id: household\nmax_steps: 7\nenv_kwargs: {a: 1, b: 2}\nlearning_rate: 0.5\n"
    )
    (tmp_path / "cell.yaml").write_text("base: common/protocol.yaml\nmax_steps: 3\nenv_kwargs: {a: 9}\n")
    assert load_recipe(tmp_path / "cell.yaml") == {
        "env_id": "household",
        "max_steps": 3,
        "env_kwargs": {"a": 9},
        "learning_rate": 0.5,
    }
    (tmp_path / "two.yaml").write_text("base: cell.yaml\nlearning_rate: 0.25\n")  # a chain of bases
    assert load_recipe(tmp_path / "two.yaml")["learning_rate"] == 0.25
    assert load_recipe(tmp_path / "two.yaml")["max_steps"] == 3


def test_base_recipe_errors_name_the_file(tmp_path):
    (tmp_path / "missing.yaml").write_text("base: nowhere.yaml\n")
    with pytest.raises(RecipeError, match="nowhere.yaml.*not found"):
        load_recipe(tmp_path / "missing.yaml")
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(RecipeError, match="cycle"):
        load_recipe(tmp_path / "a.yaml")


def test_a_launch_with_another_process_count_is_warned_about(monkeypatch, capsys):
    from agentrl.recipe import warn_if_global_batch_differs

    args = parse_train_args(["--config", str(PAPER / "empg" / "webshop_qwen2.5_1.5b_grpo.yaml"), "--use_cpu", "true"])
    capsys.readouterr()
    monkeypatch.setenv("WORLD_SIZE", "4")  # as accelerate launch sets it (validate() runs this check)
    warn_if_global_batch_differs(args)
    err = capsys.readouterr().err
    # 2 processes x 64 = 128 episodes intended; 4 x 64 = 256 launched; 32 per process keeps 128
    assert "assumes 2 process(es) (global batch 128" in err and "launched (global batch 256)" in err
    assert "--per_device_train_batch_size 32" in err
    monkeypatch.setenv("WORLD_SIZE", "2")
    warn_if_global_batch_differs(args)
    assert "warning" not in capsys.readouterr().err


def test_model_class_resolves_without_weights(tmp_path):
    from transformers import Qwen2Config

    from agentrl.models import ModelPathError, resolve_model_class

    assert resolve_model_class("Qwen/Qwen2.5-7B-Instruct") == ("qwen2", "Qwen2ForCausalLM")
    Qwen2Config(hidden_size=8, num_attention_heads=2, num_key_value_heads=1).save_pretrained(tmp_path / "qwen")
    assert resolve_model_class(str(tmp_path / "qwen")) == ("qwen2", "Qwen2ForCausalLM")
    from transformers import ViTConfig

    ViTConfig(hidden_size=8, num_attention_heads=2).save_pretrained(tmp_path / "vit")  # an image encoder
    with pytest.raises(ModelPathError, match="no causal-LM class"):
        resolve_model_class(str(tmp_path / "vit"))
