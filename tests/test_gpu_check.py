"""scripts/gpu_check.py (the GPU check of issue 23) on CPU: its dry mode end to end, the time budget's skipping, and
scripts/gpu_wheels.py's wheel set, size check and install plan. Nothing is downloaded (prepare is not run here)."""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MiB = 2**20


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


gpu_wheels = load_script("gpu_wheels")
gpu_check = load_script("gpu_check")


def run_check(tmp_path: Path, *arguments: str, timeout: int = 600) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "out"
    command = [sys.executable, "scripts/gpu_check.py", "run", "--dry", "--out", str(out)]
    command += ["--work_dir", str(tmp_path / "work"), *arguments]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    result = json.loads((out / "gpu_check.json").read_text()) if (out / "gpu_check.json").exists() else {}
    return done, result


# ---------------------------------------------------------------------------------------------- dry mode
@pytest.mark.slow
def test_dry_run_measures_every_step_and_computes_the_ratios_from_its_own_figures(tmp_path):
    done, result = run_check(tmp_path, "--budget_s", "1200")  # a busy machine must not turn steps into skips
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert result["mode"].startswith("dry")
    for key in ("budget_s", "shapes", "machine", "versions", "steps", "ratios", "vllm", "wall_s", "recipe"):
        assert key in result, key
    assert result["versions"]["trl"] and result["versions"]["transformers"] and result["versions"]["agentrl"]
    steps = result["steps"]
    assert list(steps) == [step.name for step in gpu_check.STEPS]
    assert steps["install"]["status"] == "skipped" and "dry" in steps["install"]["reason"]
    shapes = result["shapes"]
    for name in ("a_full", "a_lora", "c_features", "d_7b_lora"):
        step = steps[name]
        assert step["status"] == "ok", (name, step.get("output_tail"))
        expected_updates = {"c_features": 2, "d_7b_lora": 1}.get(name, shapes["updates"])
        assert len(step["updates"]) == step["settings"]["updates"] == expected_updates
        settings = step["settings"]
        for row in step["updates"]:  # bench_gpu's per-update row: every turn of every episode runs to the token limit
            assert row["generated_tokens"] == settings["episodes"] * settings["max_episode_steps"] * shapes["tokens"]
            assert row["rollout_tokens_per_s"] == pytest.approx(row["generated_tokens"] / row["rollout_s"], rel=1e-3)
            assert row["step_s"] == pytest.approx(row["rollout_s"] + row["update_s"], abs=2e-4)
    # full fine-tuning vs LoRA, and (c)'s features were really on (their metrics appear only when they run)
    assert steps["a_full"]["settings"]["overrides"][:2] == ["--use_peft", "false"]
    assert any(key.startswith("seal/") for key in steps["c_features"]["last_update_metrics"])
    assert any(key.startswith("empg/") for key in steps["c_features"]["last_update_metrics"])
    assert not any(key.startswith("empg/") for key in steps["a_lora"]["last_update_metrics"])

    # (b): same shapes on both sides, recorded per update
    agentrl, trl = steps["b_agentrl"], steps["b_trl"]
    assert agentrl["status"] == trl["status"] == "ok"
    assert agentrl["trainer"].endswith("AgentGRPOTrainer")
    assert trl["trainer"] == "trl.trainer.grpo_trainer.GRPOTrainer"
    for side in (agentrl, trl):
        assert len(side["updates"]) == shapes["updates"]
        for row in side["updates"]:
            assert row["rows"] == shapes["episodes"]
            assert 0 < row["generated_tokens"] <= shapes["episodes"] * shapes["tokens"]
            assert row["update_s"] == pytest.approx(row["step_s"] - row["rollout_s"])
            assert row["update_peak_bytes"] > 0
        steady = side["updates"][1:]
        assert side["median_after_first"]["update_s"] == pytest.approx(statistics.median(r["update_s"] for r in steady))
    assert [r["prompt_tokens"] for r in agentrl["updates"]] == [r["prompt_tokens"] for r in trl["updates"]]
    assert agentrl["settings"] == trl["settings"]

    # ratios: positive, and recomputed here from the raw figures in the JSON
    ratios = result["ratios"]
    for key, value in ratios["agentrl_over_trl"].items():
        assert value is not None and value > 0, key
    assert ratios["agentrl_over_trl"]["update_s"] == pytest.approx(
        agentrl["median_after_first"]["update_s"] / trl["median_after_first"]["update_s"], rel=1e-12
    )
    assert ratios["agentrl_over_trl"]["update_peak_bytes"] == pytest.approx(
        agentrl["median_after_first"]["update_peak_bytes"] / trl["median_after_first"]["update_peak_bytes"], rel=1e-12
    )
    features = ratios["features_over_plain"]
    assert features["update_s"] == pytest.approx(
        steps["c_features"]["median_after_first"]["update_s"] / steps["a_lora"]["median_after_first"]["update_s"]
    )
    assert features["update_s"] > 0 and features["step_s"] > 0
    assert features["peak_gib"] is None  # GPU memory: none on CPU
    log = (tmp_path / "out" / "gpu_check.log").read_text()
    assert "----- b_trl output" in log and "wrote" in log


def test_steps_are_skipped_with_the_reason_when_the_budget_is_spent(tmp_path):
    done, result = run_check(tmp_path, "--budget_s", "5", timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    for name, step in result["steps"].items():
        assert step["status"] == "skipped", name
        assert step["reason"].startswith("time: ") and "of the 5 s budget" in step["reason"], step["reason"]
    assert all(value is None for value in result["ratios"]["agentrl_over_trl"].values())


def test_ratio_is_none_without_both_figures():
    assert gpu_check.ratio(3.0, 2.0) == 1.5
    assert gpu_check.ratio(None, 2.0) is None and gpu_check.ratio(1.0, 0.0) is None
    assert gpu_check.ratio(1.0, None) is None
    medians = gpu_check.bench_medians([{"update_s": 9.0}, {"update_s": 2.0}, {"update_s": 4.0}])
    assert medians["update_s"] == 3.0 and medians["peak_gib"] is None  # the first update (warm-up) is left out


# ---------------------------------------------------------------------------------------------- the wheel set
LOCAL_VERSIONS = {
    "trl": "1.16.0",
    "transformers": "5.23.0",
    "peft": "0.21.2",
    "datasets": "5.2.0",
    "fsspec": "2026.9.0",
    "dill": "0.4.1",
    "accelerate": "1.15.0",
    "torch": "2.13.0",
    "deepspeed": "0.19.8",
}
LOCAL_REQUIRES = {
    "trl": ["accelerate>=1.10.1", "datasets>=4.7.0", "transformers>=4.56.2", "rich; extra == 'dev'"],
    "transformers": ["huggingface-hub<3.0,>=1.31.0", "numpy>=1.17", "tokenizers<0.24.0,>=0.23.1"],
    "peft": ["packaging>=20.0", "accelerate>=0.21.0", "torch>=1.13.0"],
    "datasets": ["fsspec<=2026.9.0,>=2023.1.0", "dill<0.4.2,>=0.3.0", "numpy>=1.17", "pyarrow>=24.0.0"],
    "fsspec": [],
    "dill": [],
    "deepspeed": ["hjson", "pydantic>=2.0.0"],
}
FAKE_MACHINE = {
    "torch": "2.11.0",
    "transformers": "5.17.0",
    "accelerate": "1.15.0",
    "tokenizers": "0.23.2",
    "huggingface-hub": "1.33.0",
    "numpy": "2.5.2",
    "peft": None,  # there, version unknown
    "pyyaml": None,
    "packaging": None,
    "fsspec": None,
    "pyarrow": None,
}
ROOTS = [
    "torch<2.14,>=2.6",
    "trl<1.17,>=1.16.0",
    "transformers<5.24,>=5.23",
    "peft<0.22,>=0.21",
    "accelerate<1.16,>=1.15",
    "datasets<5.3,>=5.2",
    "deepspeed<0.20,>=0.19.8",
    "pyyaml>=6",
    "tomli>=1; python_version < '3.11'",
]


def plan(machine=FAKE_MACHINE, roots=ROOTS, versions=LOCAL_VERSIONS, without=("deepspeed",)):
    return gpu_wheels.plan_wheels(roots, machine, versions.get, lambda name: LOCAL_REQUIRES.get(name, []), without)


def test_the_wheel_set_is_what_the_machine_lacks_or_has_at_another_version():
    result = plan()
    # missing (trl, datasets, dill), outside the pin (transformers 5.17), unknown under an upper bound (peft, fsspec)
    assert result.carry == {
        "trl": "1.16.0",
        "transformers": "5.23.0",
        "peft": "0.21.2",
        "datasets": "5.2.0",
        "fsspec": "2026.9.0",
        "dill": "0.4.1",
    }
    assert result.reasons["transformers"] == "the machine has 5.17.0; agentrl needs <5.24,>=5.23"
    assert result.reasons["dill"] == "not on the machine (required by datasets)"
    assert "unknown" in result.reasons["peft"]
    # torch 2.11, accelerate 1.15, numpy and the hub are inside their specifiers; tomli's marker is false on 3.12
    assert {"torch", "accelerate", "numpy", "huggingface-hub", "tokenizers", "tomli"}.isdisjoint(result.carry)
    # unknown versions under lower bounds only are assumed (and checked on the machine), not carried
    assumed = {(entry["name"], entry["specifier"]) for entry in result.assumed}
    assert assumed == {("pyyaml", ">=6"), ("packaging", ">=20.0"), ("pyarrow", ">=24.0.0")}
    assert result.left_out == ["deepspeed"]


def test_deepspeed_and_its_requirements_travel_unless_left_out():
    machine = {**FAKE_MACHINE, "hjson": "3.1.0", "pydantic": "2.10.0"}
    result = plan(machine=machine, without=())
    assert result.carry["deepspeed"] == "0.19.8"
    with pytest.raises(ValueError, match=r"hjson must travel \(not on the machine \(required by deepspeed\)\) but is "
                       "not installed here"):
        plan(machine={**FAKE_MACHINE, "pydantic": "2.10.0"}, without=())  # hjson: neither there nor "here"


def test_the_wheel_set_refuses_to_carry_torch_or_a_version_outside_a_pin():
    with pytest.raises(ValueError, match="torch would have to travel"):
        plan(machine={**FAKE_MACHINE, "torch": "2.5.1"})
    with pytest.raises(ValueError, match="datasets needs dill<0.4.2,>=0.3.0 but this environment has dill 0.5.0"):
        plan(versions={**LOCAL_VERSIONS, "dill": "0.5.0"})


def test_the_machine_package_list_reads_versions_and_bare_names(tmp_path):
    listing = tmp_path / "packages.txt"
    listing.write_text("# comment\nTransformers==5.17.0\npy_yaml\n\nhuggingface_hub==1.33.0  # a note\n")
    assert gpu_wheels.read_machine_packages(listing) == {
        "transformers": "5.17.0",
        "py-yaml": None,
        "huggingface-hub": "1.33.0",
    }
    shipped = gpu_wheels.read_machine_packages()  # the file the real prepare uses
    assert shipped["transformers"] == "5.17.0" and shipped["torch"] == "2.11.0" and "trl" not in shipped


def test_the_size_check_fails_over_64_mib_and_says_what_to_do():
    assert gpu_wheels.check_size(40 * MiB, 3 * MiB) == 43 * MiB
    assert gpu_wheels.check_size(64 * MiB - 10, 10) == 64 * MiB  # exactly the limit still travels
    with pytest.raises(gpu_wheels.WheelSetTooLarge) as error:
        gpu_wheels.check_size(62 * MiB, 2 * MiB + 1)
    message = str(error.value)
    assert "64.0 MiB (wheels 62.0 MiB + working tree 2.0 MiB), over the device tool's 64 MiB limit" in message
    assert "--without" in message


def test_only_wheels_the_machine_lacks_at_that_version_are_installed(tmp_path):
    wheels = [("trl", "1.16.0"), ("peft", "0.21.2"), ("agentrl", "0.1.0")]
    manifest = {"wheels": [{"name": name, "version": version} for name, version in wheels]}
    needed, present = gpu_wheels.install_list(manifest, {"peft": "0.21.2", "trl": "1.15.0", "agentrl": "0.1.0"}.get)
    assert [e["name"] for e in needed] == ["trl", "agentrl"] and [e["name"] for e in present] == ["peft"]
    command = gpu_wheels.install_command(tmp_path / "wheels", needed, tmp_path / "site")
    assert command[1:4] == ["-m", "pip", "install"] and "--no-index" in command and "--no-deps" in command
    assert command[command.index("--find-links") + 1] == str(tmp_path / "wheels")
    assert command[command.index("--target") + 1] == str(tmp_path / "site")
    assert command[-2:] == ["trl==1.16.0", "agentrl==0.1.0"]
    with pytest.raises(FileNotFoundError, match="run `python scripts/gpu_check.py prepare`"):
        gpu_wheels.read_manifest(tmp_path / "wheels")


def test_unmet_requirements_of_installed_wheels_are_listed(tmp_path):
    def dist(name: str, version: str, *requires: str) -> None:
        folder = tmp_path / f"{name}-{version}.dist-info"
        folder.mkdir()
        lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        (folder / "METADATA").write_text("\n".join(lines + [f"Requires-Dist: {r}" for r in requires]) + "\n")

    dist("carried", "1.0", "present>=2", "old>=3", "absent", "optional; extra == 'dev'")
    dist("present", "2.1")
    dist("old", "2.9")
    manifest = {"wheels": [{"name": "carried", "version": "1.0"}]}
    assert gpu_wheels.unmet_requirements(manifest, [str(tmp_path)]) == [
        "carried needs old>=3: found 2.9",
        "carried needs absent: found nothing",
    ]


def test_the_7b_shape_is_qwen2_5_7b():
    """(d)'s architecture has Qwen2.5-7B-Instruct's parameter count (built on the meta device: no memory used).

    embeddings and untied head 2 x 152064 x 3584; per layer: q 3584^2 + 3584, k and v 3584 x 512 + 512 each,
    o 3584^2, MLP 3 x 3584 x 18944, two norms 2 x 3584; 28 layers; final norm 3584."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    bench_gpu = load_script("bench_gpu")
    with torch.device("meta"):
        model = Qwen2ForCausalLM(Qwen2Config(**bench_gpu.SHAPES["qwen2.5-7b"]))
    per_layer = (3584**2 + 3584) + 2 * (3584 * 512 + 512) + 3584**2 + 3 * 3584 * 18944 + 2 * 3584
    expected = 2 * 152064 * 3584 + 28 * per_layer + 3584
    assert expected == 7_615_616_512
    assert sum(p.numel() for p in model.parameters()) == expected
