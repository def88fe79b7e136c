"""The GPU check (issue 23) as one command: install agentrl from carried wheels on a bare, offline GPU machine, then
measure (a)-(d) inside one time budget, and write ONE JSON with every figure and the versions used, plus a log.

    python scripts/gpu_check.py prepare [--without NAME ...]   # here (CPU): wheels/ + its manifest.json, size checked
    python3 scripts/gpu_check.py run [--budget_s 470]          # there (carry ["wheels"]): $OUT/gpu_check.{json,log}
    python scripts/gpu_check.py run --dry                      # CPU, tiny model, the same steps (what CI runs)

`prepare` (scripts/gpu_wheels.py) computes which wheels the machine lacks, downloads them for CPython 3.12 /
manylinux x86_64 (deepspeed is an sdist: built here into a pure-Python wheel), builds agentrl's own wheel from the
working tree, and fails if the wheels plus the working tree exceed the device tool's 64 MiB. vLLM is not carried:
its CUDA wheels alone are hundreds of MiB, so the vLLM backend stays unverified on a GPU.

`run`, step by step; each step is a subprocess with its own time budget, cut short by what is left of the global
budget, and skipped (with the reason recorded) when less than its minimum is left. A step that fails or runs out of
time is recorded as such (with what it measured before) and the next step runs.
  install     pip install --no-index --find-links wheels --no-deps --target /tmp/agentrl_site (the carried versions
              come first on PYTHONPATH; the image is left untouched), then every requirement of what was installed
              is checked against what is importable
  a_full      (a) scripts/bench_gpu.py, Qwen2.5-1.5B shape (random bf16 weights, a tokenizer trained here), full
              fine-tuning with gradient checkpointing, `updates` updates on `household`, per-step rows: per update
              rollout tokens/s, training tokens/s, peak GPU memory
  a_lora      (a) the same with the recipe's LoRA (r 64)
  b_agentrl   (b) scripts/trl_compare.py: agentrl's update on single-turn shapes ...
  b_trl       (b) ... and TRL's own GRPOTrainer on the same shapes (the file says how they are matched);
              ratios agentrl / TRL of update time and of the update's peak memory
  c_features  (c) a_lora's run with EMPG + SEAL + the Entropulse controller on (empg, seal, entropy_control pulse at
              the same 1e-4 base coefficient; the entropy statistics and eruption detector run in every agentrl
              update, there is no switch for them); ratio to a_lora (the same update without them)
  d_7b_lora   (d) the Qwen2.5-7B shape, one LoRA update, peak memory (if time is left)
Each bench_gpu step reports medians over its updates after the first (the first pays for warm-up).

--dry runs the same steps with the tiny model on CPU (a few rows and tokens), so the parsing, the JSON, the TRL
comparison and the ratios are exercised in CI; the install step is skipped there (the local environment is used).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
ROOT = SCRIPTS.parent
sys.path.insert(0, str(SCRIPTS))

import gpu_wheels  # noqa: E402  (standard library only: runs before anything is installed)

RECIPE = "recipes/household_qwen2.5_1.5b.yaml"
ENV_NAME = "household"
GLOBAL_BUDGET_S = 470  # under 8 minutes, inside the device tool's 10 minutes per command
SITE = Path("/tmp/agentrl_site")
STEP_LOG_TAIL = 200_000  # characters of each step's output kept in the log that comes back
IMPORT_DEEPSPEED = "import deepspeed; print('deepspeed', deepspeed.__version__)"
IMPORT_STACK = (
    "import torch, transformers, trl, datasets, peft, agentrl.trainer, agentrl.envs; "
    "print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available()); "
    "print('transformers', transformers.__version__, 'trl', trl.__version__, 'agentrl', agentrl.trainer.__file__)"
)
SHOWN_METRICS = ("seal/", "empg/", "entropy/coef", "entropy/pulse", "entropy/token_mean", "train/", "rollout/")
VLLM_NOTE = (
    "not carried: vLLM's CUDA wheels are hundreds of MiB, over the device tool's 64 MiB for all that travels, and "
    "the machine has no network; the vLLM backend (use_vllm) stays unverified on a GPU"
)


@dataclass(frozen=True)
class Shapes:
    """The sizes of one mode. `episodes` per update = tasks x 8; `turns` per episode in (a), (c), (d)."""

    model: str  # scripts/bench_gpu.py --shape
    big_model: str  # (d)
    episodes: int
    turns: int
    tokens: int  # max_completion_length
    micro_batch: int  # micro_batch_rows (TRL: per_device_train_batch_size)
    updates: int  # (a) and (b): the first is the warm-up
    init_device: str
    device_overrides: tuple[str, ...]


GPU = Shapes("qwen2.5-1.5b", "qwen2.5-7b", 64, 3, 128, 16, 3, "cuda", ())
DRY = Shapes("tiny", "tiny", 8, 2, 8, 4, 2, "cpu", ("--use_cpu", "true", "--bf16", "false"))


@dataclass(frozen=True)
class Step:
    name: str
    budget_s: float  # its own limit
    min_s: float  # skipped when less than this is left of the global budget


STEPS = (
    Step("install", 90, 10),
    Step("a_full", 150, 60),
    Step("a_lora", 110, 50),
    Step("b_agentrl", 80, 40),
    Step("b_trl", 80, 40),
    Step("c_features", 90, 45),
    Step("d_7b_lora", 170, 100),
)


class Check:
    """One run of the check: settings, the deadline, the JSON being filled in (rewritten after every step)."""

    def __init__(self, options):
        self.dry = options.dry
        self.install_in_dry = options.install
        self.shapes = DRY if options.dry else GPU
        self.wheels = Path(options.wheels)
        self.out = Path(options.out or os.environ.get("OUT") or "gpu_check_out")
        self.out.mkdir(parents=True, exist_ok=True)
        default_work = tempfile.mkdtemp(prefix="gpu_check_") if options.dry else "/tmp/gpu_check_work"
        self.work = Path(options.work_dir or default_work)
        self.remove_work = options.dry and not options.work_dir  # a dry run's temporary models and runs
        self.work.mkdir(parents=True, exist_ok=True)
        self.budget_s = options.budget_s if options.budget_s is not None else (240 if options.dry else GLOBAL_BUDGET_S)
        self.started = time.monotonic()
        self.deadline = self.started + self.budget_s
        self.log_path = self.out / "gpu_check.log"
        self.log_path.write_text("")
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "HF_HUB_OFFLINE": "1",  # no network there: never wait on the hub
            "HF_DATASETS_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "TRL_EXPERIMENTAL_SILENCE": "1",
        }
        if options.dry:  # one thread: tiny matrices gain nothing from more, and spin-waiting threads on a busy
            self.env["OMP_NUM_THREADS"] = "1"  # 2-core machine made a 1 s update take 20 s
        self.result = {
            "mode": "dry (tiny model, CPU)" if options.dry else "gpu",
            "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "budget_s": self.budget_s,
            "shapes": self.shapes.__dict__ | {"device_overrides": list(self.shapes.device_overrides)},
            "recipe": RECIPE,
            "env": ENV_NAME,
            "machine": machine_facts(),
            "steps": {},
            "ratios": {},
            "vllm": VLLM_NOTE,
        }

    @property
    def model_dir(self) -> Path:  # where scripts/bench_gpu.py builds (and then finds) the random-weight model
        return self.work / f"random-{self.shapes.model}-{ENV_NAME}"

    def left_s(self) -> float:
        return self.deadline - time.monotonic()

    def say(self, text: str) -> None:
        line = f"[gpu_check {time.monotonic() - self.started:6.1f} s] {text}"
        print(line, flush=True)
        with open(self.log_path, "a") as log:
            log.write(line + "\n")

    def save(self) -> Path:
        self.result["wall_s"] = round(time.monotonic() - self.started, 1)
        path = self.out / "gpu_check.json"
        path.write_text(json.dumps(self.result, indent=1) + "\n")
        return path

    # ------------------------------------------------------------------------------------------ running a step
    def run_process(self, step: Step, command: list[str], name: str | None = None, cwd: Path = ROOT) -> dict:
        """Run `command` under the step's time limit; its output goes to WORK/NAME.log and its tail to the log."""
        name = name or step.name
        timeout = min(step.budget_s, self.left_s())
        log_file = self.work / f"{name}.log"
        self.say(f"{name}: {' '.join(command)}  (limit {timeout:.0f} s)")
        started = time.monotonic()
        with open(log_file, "w") as output:
            process = subprocess.Popen(
                command, cwd=cwd, env=self.env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                code, status = process.wait(timeout=timeout), None
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # its whole process group: data loader workers too
                code, status = process.wait(), "timed_out"
        seconds = time.monotonic() - started
        text = log_file.read_text(errors="replace")
        with open(self.log_path, "a") as log:
            log.write(f"----- {name} output (last {STEP_LOG_TAIL} characters)\n{text[-STEP_LOG_TAIL:]}\n")
        status = status or ("ok" if code == 0 else "failed")
        outcome = {"status": status, "exit_code": code, "seconds": round(seconds, 1), "limit_s": round(timeout, 1)}
        outcome["command"] = command
        if status != "ok":
            outcome["output_tail"] = text[-2000:]
        self.say(f"{name}: {status} in {seconds:.1f} s")
        return outcome

    def python(self) -> list[str]:
        return [sys.executable]

    # ------------------------------------------------------------------------------------------ the steps
    def install(self, step: Step) -> dict:
        if self.dry and not self.install_in_dry:
            return {"status": "skipped", "reason": "dry run: the local environment is used, nothing is installed"}
        manifest = gpu_wheels.read_manifest(self.wheels)
        needed, present = gpu_wheels.install_list(manifest)
        outcome = {"manifest_git": manifest.get("git"), "wheel_bytes": manifest.get("wheel_bytes")}
        outcome["already_there"] = [f"{e['name']}=={e['version']}" for e in present]
        outcome["installed"] = [f"{e['name']}=={e['version']}" for e in needed]
        outcome["assumed_on_machine"] = manifest.get("assumed_on_machine", [])
        shutil.rmtree(SITE, ignore_errors=True)
        outcome["status"] = "ok"
        if needed:
            outcome |= self.run_process(step, gpu_wheels.install_command(self.wheels, needed, SITE))
            if outcome["status"] != "ok":
                return outcome
        self.env["PYTHONPATH"] = os.pathsep.join([str(SITE), self.env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        try:  # a report, not a gate: the import check below decides
            outcome["unmet_requirements"] = gpu_wheels.unmet_requirements(manifest, [str(SITE), *sys.path])
        except Exception as error:
            outcome["unmet_requirements"] = f"not checked: {type(error).__name__}: {error}"
        # TRL imports deepspeed whenever it is installed; item 1 does not use it, so a deepspeed that does not import
        # here (its pure-Python build meets this torch for the first time) is removed rather than failing every step.
        if any(entry["name"] == "deepspeed" for entry in needed):
            check = self.run_process(step, [*self.python(), "-c", IMPORT_DEEPSPEED], "import_deepspeed", Path("/tmp"))
            outcome["deepspeed_import"] = check["status"]
            if check["status"] != "ok":
                outcome["deepspeed_import_output"] = check.get("output_tail")
                for path in SITE.glob("deepspeed*"):
                    shutil.rmtree(path, ignore_errors=True)
        # Everything the steps import, from outside the repository (its agentrl/ folder must not shadow the wheel).
        check = self.run_process(step, [*self.python(), "-c", IMPORT_STACK], "import_stack", Path("/tmp"))
        outcome["import_check"] = check["status"]
        outcome["import_check_output"] = (self.work / "import_stack.log").read_text(errors="replace")[-1500:]
        if check["status"] != "ok":
            outcome["status"], outcome["reason"] = "failed", "the installed stack does not import"
            outcome["output_tail"] = check.get("output_tail")
        return outcome

    def bench(self, step: Step, shape: str, updates: int, overrides: list[str], episodes=None, turns=None) -> dict:
        """scripts/bench_gpu.py on the recipe with `overrides`; rows parsed from the run's metrics.jsonl (whatever
        updates finished, also when the step ran out of time)."""
        import bench_gpu  # standard library at import time

        s = self.shapes
        episodes, turns = episodes or s.episodes, turns or s.turns
        run_dir = self.work / step.name
        shutil.rmtree(run_dir, ignore_errors=True)
        # a_full builds the model (on the GPU: seconds); a later step finds it, or, if building there failed, builds
        # it on the CPU instead of failing the same way again. The 7B shape is built on the GPU only.
        init_device = s.init_device if step.name in ("a_full", "d_7b_lora") else "cpu"
        command = [*self.python(), str(SCRIPTS / "bench_gpu.py"), "--config", RECIPE, "--shape", shape]
        command += ["--updates", str(updates), "--max_episode_steps", str(turns), "--work_dir", str(self.work)]
        command += ["--run_dir", str(run_dir), "--init_device", init_device, "--"]
        command += ["--per_device_train_batch_size", str(episodes), "--max_completion_length", str(s.tokens)]
        command += ["--micro_batch_rows", str(s.micro_batch), "--gradient_checkpointing", "true"]
        command += [*s.device_overrides, *overrides]
        outcome = self.run_process(step, command)
        metrics_file = run_dir / "metrics.jsonl"
        metrics = [json.loads(line) for line in metrics_file.read_text().splitlines()] if metrics_file.exists() else []
        rows = bench_gpu.per_update(metrics)
        trained = [m for m in metrics if "time/train_s" in m]
        if trained:  # shows what was on: seal/*, empg/* and the entropy controller appear only when they ran
            outcome["last_update_metrics"] = {k: v for k, v in trained[-1].items() if k.startswith(SHOWN_METRICS)}
        outcome["settings"] = {
            "shape": shape,
            "episodes": episodes,
            "max_episode_steps": turns,
            "max_completion_length": s.tokens,
            "micro_batch_rows": s.micro_batch,
            "updates": updates,
            "overrides": overrides,
        }
        outcome["updates"] = rows
        outcome["median_after_first"] = bench_medians(rows)
        if outcome["status"] == "ok" and not rows:
            outcome["status"], outcome["reason"] = "failed", f"no update rows in {metrics_file}"
        return outcome

    def compare_side(self, step: Step, side: str) -> dict:
        if not (self.model_dir / "config.json").exists():
            return {"status": "skipped", "reason": f"no model at {self.model_dir} (step a_full builds it)"}
        s, out = self.shapes, self.work / f"{step.name}.json"
        out.unlink(missing_ok=True)
        command = [*self.python(), str(SCRIPTS / "trl_compare.py"), "--side", side, "--model", str(self.model_dir)]
        command += ["--out", str(out), "--episodes", str(s.episodes), "--tokens", str(s.tokens)]
        command += ["--micro_batch", str(s.micro_batch), "--updates", str(s.updates), "--work_dir", str(self.work)]
        command += ["--cpu"] if self.dry else []
        outcome = self.run_process(step, command)
        if out.exists():
            outcome |= json.loads(out.read_text())
        elif outcome["status"] == "ok":
            outcome["status"], outcome["reason"] = "failed", f"{out} was not written"
        return outcome

    def run_step(self, step: Step) -> None:
        left = self.left_s()
        if left < step.min_s:
            outcome = {
                "status": "skipped",
                "reason": f"time: {max(left, 0):.0f} s left of the {self.budget_s:.0f} s budget, the step needs at "
                f"least {step.min_s:.0f} s",
            }
            self.say(f"{step.name}: skipped ({outcome['reason']})")
        else:
            started = time.monotonic()
            try:
                outcome = self.dispatch(step)
            except Exception as error:  # the check goes on with the next step; the JSON says what broke
                outcome = {"status": "failed", "reason": f"{type(error).__name__}: {error}"}
                self.say(f"{step.name}: failed: {outcome['reason']}")
            outcome["step_seconds"] = round(time.monotonic() - started, 1)
        outcome["budget_s"] = step.budget_s
        self.result["steps"][step.name] = outcome
        self.save()

    def dispatch(self, step: Step) -> dict:
        s, lora_features = self.shapes, ["--empg", "true", "--seal", "true", "--entropy_control", "pulse"]
        if step.name == "install":
            return self.install(step)
        if step.name == "a_full":
            return self.bench(step, s.model, s.updates, ["--use_peft", "false", "--learning_rate", "1e-6"])
        if step.name == "a_lora":
            return self.bench(step, s.model, s.updates, ["--use_peft", "true"])
        if step.name in ("b_agentrl", "b_trl"):
            return self.compare_side(step, step.name[2:])
        if step.name == "c_features":  # one measured update after a warm-up, against a_lora's medians
            return self.bench(step, s.model, 2, ["--use_peft", "true", *lora_features, "--pulse_base_coef", "1e-4"])
        if step.name == "d_7b_lora":  # one update, half the episodes and at most 2 turns: it has to fit what is left
            return self.bench(step, s.big_model, 1, ["--use_peft", "true"], max(s.episodes // 2, 8), min(s.turns, 2))
        raise ValueError(f"unknown step {step.name}")

    def finish(self) -> Path:
        self.result["versions"] = package_versions([str(SITE), *sys.path] if "PYTHONPATH" in self.env else sys.path)
        self.result["ratios"] = ratios(self.result["steps"])
        return self.save()


def bench_medians(rows: list[dict]) -> dict:
    """Medians over the updates after the first (over the only one when there is one), from unrounded-enough rows."""
    steady = rows[1:] or rows
    medians = {}
    for key in ("step_s", "rollout_s", "update_s", "rollout_tokens_per_s", "training_tokens_per_s", "peak_gib"):
        values = [row[key] for row in steady if row.get(key) is not None]
        medians[key] = statistics.median(values) if values else None
    return medians


def ratio(numerator, denominator):
    """numerator / denominator, or None when either is missing or the denominator is not positive."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def ratios(steps: dict) -> dict:
    """(b) agentrl / TRL and (c) with features / without, from the medians recorded in the steps."""

    def median(step: str, key: str):
        return (steps.get(step, {}).get("median_after_first") or {}).get(key)

    agentrl_over_trl = {
        key: ratio(median("b_agentrl", key), median("b_trl", key))
        for key in ("update_s", "step_s", "rollout_s", "update_peak_bytes")
    }
    agentrl_over_trl["update_s_per_forward_token"] = ratio(
        ratio(median("b_agentrl", "update_s"), median("b_agentrl", "forward_tokens")),
        ratio(median("b_trl", "update_s"), median("b_trl", "forward_tokens")),
    )
    features_over_plain = {key: ratio(median("c_features", key), median("a_lora", key)) for key in
                           ("update_s", "step_s", "rollout_s", "peak_gib")}  # fmt: skip
    return {
        "agentrl_over_trl": agentrl_over_trl,
        "features_over_plain": features_over_plain,
        "how": {
            "agentrl_over_trl": "medians after the first update of b_agentrl / b_trl (scripts/trl_compare.py: same "
            "model, prompts, completions per update, tokens, micro-batch, loss); update_s = optimizer step minus "
            "its rollout; update_peak_bytes = the update's peak memory",
            "features_over_plain": "c_features (EMPG + SEAL + Entropulse) / a_lora, medians after the first update; "
            "peak_gib is GPU memory (none on CPU)",
        },
    }


def machine_facts() -> dict:
    facts = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        query = "name,memory.total,driver_version"
        line = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"], capture_output=True, text=True, timeout=20
        ).stdout.strip()
        facts["gpu"] = line or None
    except (OSError, subprocess.TimeoutExpired):
        facts["gpu"] = None
    return facts


def package_versions(search_path: list[str]) -> dict:
    """Versions of the packages the check uses, as the steps' PYTHONPATH resolves them."""
    import importlib.metadata

    names = ("agentrl", "torch", "transformers", "trl", "datasets", "peft", "accelerate", "tokenizers", "deepspeed",
             "numpy", "huggingface-hub", "safetensors")  # fmt: skip
    versions = {}
    for name in names:
        found = next(iter(importlib.metadata.distributions(name=name, path=search_path)), None)
        versions[name] = None if found is None else found.version
    return versions


def run(options) -> int:
    check = Check(options)
    check.say(f"mode {check.result['mode']}, budget {check.budget_s:.0f} s, out {check.out}, work {check.work}")
    for step in STEPS:
        check.run_step(step)
        if step.name == "install" and check.result["steps"]["install"]["status"] not in ("ok", "skipped"):
            check.say("install failed: the measurements need the carried packages; stopping")
            break
    path = check.finish()
    check.say(f"wrote {path}")
    if check.remove_work:
        shutil.rmtree(check.work, ignore_errors=True)
    failed = [name for name, step in check.result["steps"].items() if step["status"] in ("failed", "timed_out")]
    return 1 if failed else 0


def prepare(options) -> int:
    try:
        manifest = gpu_wheels.prepare(Path(options.wheels), without=options.without)
    except gpu_wheels.WheelSetTooLarge as error:
        print(f"[prepare] FAILED: {error}", file=sys.stderr)
        return 2
    for entry in manifest["wheels"]:
        print(f"[prepare] {entry['file']}  {entry['bytes'] / 2**20:.2f} MiB  ({entry['reason']})")
    print(
        f"[prepare] wheels {manifest['wheel_bytes'] / 2**20:.1f} MiB + working tree "
        f"{manifest['working_tree_bytes'] / 2**20:.1f} MiB = {manifest['total_bytes'] / 2**20:.1f} MiB of the "
        f"{manifest['limit_bytes'] / 2**20:.0f} MiB the device tool carries; manifest: {options.wheels}/manifest.json"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    prepare_parser = commands.add_parser("prepare", help="download and build the wheels the GPU machine lacks")
    prepare_parser.add_argument("--wheels", default=str(ROOT / "wheels"))
    prepare_parser.add_argument("--without", action="append", default=[], help="a package not to carry")
    run_parser = commands.add_parser("run", help="install (GPU) and measure (a)-(d)")
    run_parser.add_argument("--dry", action="store_true", help="tiny model on CPU, nothing installed")
    run_parser.add_argument("--install", action="store_true", help="with --dry: install the wheels all the same")
    run_parser.add_argument("--budget_s", type=float, default=None, help=f"global budget (default {GLOBAL_BUDGET_S})")
    run_parser.add_argument("--out", default=None, help="folder for the JSON and log (default $OUT, ./gpu_check_out)")
    run_parser.add_argument("--work_dir", default=None, help="models and runs (default /tmp/gpu_check_work)")
    run_parser.add_argument("--wheels", default=str(ROOT / "wheels"))
    options = parser.parse_args(argv)
    return prepare(options) if options.command == "prepare" else run(options)


if __name__ == "__main__":
    sys.exit(main())
