"""Training-step overhead of entropy dynamics (`--feature entropy`) or of SEAL (`--feature seal`), as ratios.

--feature seal: SEAL on (seal: true, defaults) vs off, one rollout batch, interleaved A/B medians:
- update (same rows): zero-advantage skipping disabled on both sides, so the difference is SEAL's own work
  (pooling, head, BCE, the extra backward into the backbone);
- update (as trained): with SEAL on, zero-advantage rows carry the SEAL gradient and are run; off, they
  are skipped exactly;
- step = rollout + update, on vs off (the rollout is the same: the head is never used at generation);
- peak memory of the update above what was allocated before it (glibc mallinfo2, sampled every 0.2 ms
  in a thread: torch's CPU tensors live there), on vs off, same rows.
The target for both step time and peak memory is <= 1.10.

--feature entropy: one trainer, one rollout batch. Timed, interleaved A/B over `--repeats` rounds, medians reported:
- rollout: the collector with full-vocabulary token-entropy recording on vs off (same seed, same tokens);
- monitor: entropy statistics, degeneration metrics, eruption detector and controller, per step;
- update (same rows): forward/backward over the SAME step rows with the entropy bonus on vs off
  (zero-advantage skipping disabled in both): the cost of the bonus term itself;
- update (as trained): with the bonus on, rows whose advantage is 0 still carry the entropy gradient and
  must be run, so the update does more work than with the bonus off (where they are skipped exactly).
  This is a consequence of the objective, reported separately;
- step = rollout + monitor + update, entropy on vs off (same rows), the figure the target (<= 1.05) is for.

    python scripts/bench_train_step.py [--feature entropy|seal] [--model runs/quickstart/final|tiny]
                                       [--episodes 64] [--repeats 5]
Prints JSON.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import statistics
import tempfile
import threading
import time

import torch


def build_trainer(model_path: str, tokenizer, episodes: int, entropy_control: str, output_dir: str, seal=False):
    from agentrl.envs import make_env
    from transformers import AutoModelForCausalLM

    from agentrl.config import AgentRLConfig
    from agentrl.trainer import AgentGRPOTrainer

    args = AgentRLConfig(
        output_dir=output_dir,
        per_device_train_batch_size=episodes,
        num_generations=8,
        max_completion_length=20,
        temperature=0.7,
        loss_type="dapo",
        epsilon_high=0.28,
        micro_batch_rows=32,
        entropy_control=entropy_control,
        pulse_base_coef=0.01,
        bf16=False,
        use_cpu=True,
        gradient_checkpointing=False,
        report_to=[],
        max_steps=1,
        seed=0,
        seal=seal,
    )
    trainer = AgentGRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_path),
        args=args,
        env_factory=lambda: make_env("household-easy", max_steps=8),
        processing_class=tokenizer,
    )
    trainer.model.train()
    return trainer


def run_update(trainer, rows, inputs, same_rows: bool) -> None:
    """One training step on the fixed `rows`; `same_rows`: zero-advantage rows are run too (not skipped), so
    both sides of a comparison do the same forward/backward work; else the trainer's own rule decides."""
    trainer._prepare_inputs = lambda _inputs: rows
    if same_rows:
        trainer._zero_advantage_rows_are_inert = lambda: False
    else:
        trainer.__dict__.pop("_zero_advantage_rows_are_inert", None)
    trainer.model.zero_grad(set_to_none=True)
    trainer.training_step(trainer.model, inputs)


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


_MALLINFO2 = None  # glibc's mallinfo2, loaded once (the sampler calls it every 0.2 ms)


def _allocated_bytes() -> int:
    """Bytes the C heap has handed out (small blocks + mmapped large ones): glibc's mallinfo2."""
    global _MALLINFO2
    if _MALLINFO2 is None:
        _MALLINFO2 = ctypes.CDLL("libc.so.6").mallinfo2
        _MALLINFO2.restype = _MallInfo2
    info = _MALLINFO2()
    return info.uordblks + info.hblkhd


def peak_extra_bytes(fn) -> int:
    """Peak of the allocated heap while `fn` runs, minus what was allocated before it (sampled every 0.2 ms)."""
    before = _allocated_bytes()
    peak, done = [before], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _allocated_bytes())
            time.sleep(0.0002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        fn()
    finally:
        done.set()
        thread.join()
    return max(peak[0], _allocated_bytes()) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feature", choices=("entropy", "seal"), default="entropy")
    parser.add_argument("--model", default="tiny", help="a trained policy folder (e.g. runs/quickstart/final) or tiny")
    parser.add_argument("--episodes", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    torch.set_num_threads(max(torch.get_num_threads(), 1))

    from agentrl.envs import make_env
    from transformers import AutoTokenizer

    from agentrl.models import build_tiny_model
    from agentrl.training.metrics import entropy_and_degeneration

    path = options.model
    if path == "tiny":
        path = str(build_tiny_model(tempfile.mkdtemp(), make_env("household-easy"), hidden_size=256))
    tokenizer = AutoTokenizer.from_pretrained(path)
    if options.feature == "seal":
        print(json.dumps(bench_seal(path, tokenizer, options), indent=2))
        return
    trainers = {
        "off": build_trainer(path, tokenizer, options.episodes, "none", tempfile.mkdtemp()),
        "on": build_trainer(path, tokenizer, options.episodes, "pulse", tempfile.mkdtemp()),
    }
    tasks = make_env("household-easy").task_ids("train")
    inputs = [{"prompt": tasks[i // 8]} for i in range(options.episodes)]
    group_ids = [i // 8 for i in range(options.episodes)]

    # One rollout batch, reused by every update measurement.
    torch.manual_seed(0)
    rows = trainers["on"]._generate_and_score_completions(inputs)
    episodes = trainers["on"].collect_episodes([row["prompt"] for row in inputs], group_ids)

    def rollout(record: bool) -> None:
        torch.manual_seed(0)
        trainer = trainers["on"]
        generator = trainer.make_generator(trainer.model)
        generator.record_entropies = record
        with torch.no_grad():
            trainer.collector.collect(generator, [row["prompt"] for row in inputs], group_ids)

    def update(name: str, same_rows: bool) -> None:
        trainers[name].set_update_entropy_coef(0.01 if name == "on" else 0.0)
        run_update(trainers[name], rows, inputs, same_rows)

    samples: dict[str, list[float]] = {key: [] for key in ("rollout_on", "rollout_off", "monitor")}
    for key in ("same_on", "same_off", "trained_on", "trained_off"):
        samples[key] = []
    for repeat in range(options.repeats):
        # A/B order alternates between repeats, so neither side always runs first after the other's work.
        order = ("on", "off") if repeat % 2 == 0 else ("off", "on")
        for side in order:
            samples[f"rollout_{side}"].append(timed(lambda side=side: rollout(side == "on")))
        samples["monitor"].append(timed(lambda: entropy_and_degeneration(episodes, trainers["on"].ranks)))
        for same, prefix in ((True, "same"), (False, "trained")):
            for side in order:
                samples[f"{prefix}_{side}"].append(timed(lambda same=same, side=side: update(side, same)))
    median = {key: statistics.median(values) for key, values in samples.items()}
    step_on = median["rollout_on"] + median["monitor"] + median["same_on"]
    step_off = median["rollout_off"] + median["same_off"]
    report = {
        "model": options.model,
        "episodes": options.episodes,
        "step_rows": int(rows["completion_ids"].size(0)),
        "repeats": options.repeats,
        "seconds_median": {key: round(value, 4) for key, value in median.items()},
        "ratio_rollout_entropy_recording": median["rollout_on"] / median["rollout_off"],
        "monitor_fraction_of_step": median["monitor"] / step_off,
        "ratio_update_same_rows": median["same_on"] / median["same_off"],
        "ratio_update_as_trained": median["trained_on"] / median["trained_off"],
        "ratio_step_same_rows": step_on / step_off,
        "target_ratio": 1.05,
    }
    print(json.dumps(report, indent=2))


def bench_seal(path: str, tokenizer, options) -> dict:
    from agentrl.envs import make_env

    trainers = {
        side: build_trainer(path, tokenizer, options.episodes, "none", tempfile.mkdtemp(), seal=side == "on")
        for side in ("off", "on")
    }
    tasks = make_env("household-easy").task_ids("train")
    inputs = [{"prompt": tasks[i // 8]} for i in range(options.episodes)]
    group_ids = [i // 8 for i in range(options.episodes)]
    torch.manual_seed(0)
    rows = trainers["on"]._generate_and_score_completions(inputs)

    def rollout(side: str) -> None:
        torch.manual_seed(0)
        trainers[side].collect_episodes([row["prompt"] for row in inputs], group_ids)

    def update(side: str, same_rows: bool) -> None:
        run_update(trainers[side], rows, inputs, same_rows)

    keys = [f"{kind}_{side}" for kind in ("rollout", "same", "trained", "peak_bytes") for side in ("on", "off")]
    samples: dict[str, list[float]] = {key: [] for key in keys}
    for repeat in range(options.repeats):
        order = ("on", "off") if repeat % 2 == 0 else ("off", "on")
        for side in order:
            samples[f"rollout_{side}"].append(timed(lambda side=side: rollout(side)))
        for side in order:
            samples[f"same_{side}"].append(timed(lambda side=side: update(side, True)))
            samples[f"trained_{side}"].append(timed(lambda side=side: update(side, False)))
            samples[f"peak_bytes_{side}"].append(peak_extra_bytes(lambda side=side: update(side, True)))
    median = {key: statistics.median(values) for key, values in samples.items()}
    step = {side: median[f"rollout_{side}"] + median[f"same_{side}"] for side in ("on", "off")}
    seal_metrics = {k: v[-1] for k, v in trainers["on"]._metrics["train"].items() if k.startswith("seal/")}
    return {
        "feature": "seal",
        "model": options.model,
        "episodes": options.episodes,
        "step_rows": int(rows["completion_ids"].size(0)),
        "repeats": options.repeats,
        "seconds_median": {key: round(value, 4) for key, value in median.items() if "peak" not in key},
        "update_peak_extra_mib_median": {
            side: round(median[f"peak_bytes_{side}"] / 2**20, 1) for side in ("on", "off")
        },
        "ratio_update_same_rows": median["same_on"] / median["same_off"],
        "ratio_update_as_trained": median["trained_on"] / median["trained_off"],
        "ratio_step_same_rows": step["on"] / step["off"],
        "ratio_update_peak_memory": median["peak_bytes_on"] / max(median["peak_bytes_off"], 1),
        "target_ratio": 1.10,
        "last_seal_metrics": seal_metrics,
    }


if __name__ == "__main__":
    main()
