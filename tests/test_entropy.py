"""Entropy dynamics: measures, controllers, eruption detection, degeneration metrics, plots, the bonus."""

from __future__ import annotations

import json
import math
import random

import pytest
import torch

from agentrl.entropy import (
    AdaptiveEntropy,
    ConstantEntropy,
    EntropyMonitor,
    EntropyPulse,
    EruptionDetector,
    degeneration_counts,
    entropy_metrics,
    has_repeated_sentence,
    masked_step_entropy,
    step_entropy,
    token_entropy,
)
from agentrl.rollout.episode import Episode, Step

# ---------------------------------------------------------------------------------------- measures


@pytest.mark.parametrize("temperature", [1.0, 0.7, 1.6])
@pytest.mark.parametrize("chunk_size", [1, 5, 1000])
def test_token_entropy_equals_categorical(temperature, chunk_size):
    logits = torch.randn(3, 7, 301, generator=torch.Generator().manual_seed(0)) * 4
    expected = torch.distributions.Categorical(logits=logits.double() / temperature).entropy()  # float64 reference
    got = token_entropy(logits, temperature=temperature, chunk_size=chunk_size)
    assert got.shape == (3, 7) and got.dtype == torch.float32
    # token_entropy runs in float32: log p = x - logsumexp(x) with |x| <= ~25 (4 x randn / 0.7) is off by
    # <= 2 x 25 x 6e-8 = 3e-6 (PyTorch sums pairwise: log2(301) = 9 roundings add 9 x 6e-8 relative), and
    # H = -sum p log p weighs that by sum p (1 + |log p|) = 1 + H <= 1 + log 301 = 6.7: <= 2e-5
    torch.testing.assert_close(got.double(), expected, atol=2e-5, rtol=0)


def test_token_entropy_by_hand():
    from tests.tensors import FLOAT32_ATOL  # the float32 rounding of a hand-sized computation
    # uniform over V: H = log V
    assert token_entropy(torch.zeros(50)).item() == pytest.approx(math.log(50), abs=FLOAT32_ATOL)
    # logits (log 3, 0): p = (3/4, 1/4), H = -(0.75 ln 0.75 + 0.25 ln 0.25) = 0.5623351446
    assert token_entropy(torch.tensor([math.log(3.0), 0.0])).item() == pytest.approx(0.5623351446, abs=FLOAT32_ATOL)
    # a masked (-inf) token has p = 0 and adds nothing: same 0.5623 with a third, impossible token
    masked = torch.tensor([math.log(3.0), 0.0, -math.inf])
    assert token_entropy(masked).item() == pytest.approx(0.5623351446, abs=FLOAT32_ATOL)
    # temperature 2 on logits (2 ln 3, 0) gives the same distribution (3/4, 1/4)
    assert token_entropy(torch.tensor([2 * math.log(3.0), 0.0]), temperature=2.0).item() == pytest.approx(
        0.5623351446, abs=FLOAT32_ATOL
    )


def test_step_entropy_by_hand():
    assert step_entropy([0.5, 1.0, 0.0]) == pytest.approx(0.5)
    assert step_entropy([]) == 0.0
    entropies = torch.tensor([[0.5, 1.0, 9.9], [2.0, 9.9, 9.9], [9.9, 9.9, 9.9]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 0, 0]])
    torch.testing.assert_close(masked_step_entropy(entropies, mask), torch.tensor([0.75, 2.0, 0.0]))


def test_entropy_metrics_by_hand():
    # 5 steps: entropies 0.1 0.2 0.3 0.4 1.0; turns 0 1 0 1 2; the first two steps belong to a won episode.
    metrics = entropy_metrics(
        [0.1, 0.2, 0.3, 0.4, 1.0],
        [0, 1, 0, 1, 2],
        [True, True, False, False, False],
        token_entropy_sum=3.0,
        token_count=12,
    )
    assert metrics["entropy/token_mean"] == pytest.approx(0.25)
    assert metrics["entropy/step_mean"] == pytest.approx(0.4)
    # linear-interpolation quantiles of 5 sorted values: p10 at position 0.4 -> 0.1 + 0.4 * 0.1 = 0.14;
    # p90 at position 3.6 -> 0.4 + 0.6 * 0.6 = 0.76
    assert metrics["entropy/step_p10"] == pytest.approx(0.14)
    assert metrics["entropy/step_p90"] == pytest.approx(0.76)
    assert metrics["entropy/turn_0"] == pytest.approx(0.2)
    assert metrics["entropy/turn_1"] == pytest.approx(0.3)
    assert metrics["entropy/turn_2"] == pytest.approx(1.0)
    assert metrics["entropy/step_mean_success"] == pytest.approx(0.15)
    assert metrics["entropy/step_mean_failure"] == pytest.approx(1.7 / 3)


# ---------------------------------------------------------------------------------------- controllers


def test_constant_controller():
    controller = ConstantEntropy(0.003)
    assert [controller.update(h) for h in (0.0, 1.0, 5.0)] == [0.003, 0.003, 0.003]


def test_adaptive_controller_sequence():
    controller = AdaptiveEntropy(target=0.2, delta=0.1, coef_min=0.0, coef_max=0.25, init=0.0)
    got = [controller.update(h) for h in (0.1, 0.1, 0.1, 0.3, 0.1, 0.3, 0.3, 0.3)]
    # internal coef: .1 .2 .25(clip) .15 .25 .15 .05 0(clip); applied only while H < target
    expected = [0.1, 0.2, 0.25, 0.0, 0.25, 0.0, 0.0, 0.0]
    assert got == pytest.approx(expected)
    assert controller.coef == 0.0


def test_pulse_controller_sequence_without_decay():
    pulse = EntropyPulse(threshold=0.05, magnitude=10.0, duration=3, base_coef=0.01, decay=0.0)
    entropies = [0.1, 0.04, 0.01, 0.01, 0.01, 0.2, 0.03, 0.2, 0.2, 0.2, 0.2]
    got = [pulse.update(h) for h in entropies]
    # collapse at step 2 -> 3 pulse updates; step 5 is still collapsed (0.01) -> a second pulse right after
    expected = [0.01, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01]
    assert got == pytest.approx(expected)
    assert pulse.pulses == 2


def test_pulse_controller_decays_and_can_be_triggered():
    pulse = EntropyPulse(threshold=0.05, magnitude=10.0, duration=2, base_coef=0.01, decay=0.5)
    got = [pulse.update(0.5) for _ in range(2)]
    pulse.trigger()  # e.g. the eruption detector or a repeat-action loop asks for one
    got += [pulse.update(0.5) for _ in range(5)]
    # after the pulse: c = 0.01 + 0.5 (c - 0.01): 0.055, 0.0325, 0.02125
    assert got == pytest.approx([0.01, 0.01, 0.1, 0.1, 0.055, 0.0325, 0.02125])
    assert pulse.pulses == 1
    state = pulse.state_dict()
    clone = EntropyPulse(threshold=0.05, magnitude=10.0, duration=2, base_coef=0.01, decay=0.5)
    clone.load_state_dict(state)
    assert [clone.update(0.01) for _ in range(3)] == [pulse.update(0.01) for _ in range(3)]


def test_monitor_triggers_a_pulse_on_a_repeat_action_loop():
    monitor = EntropyMonitor(EntropyPulse(threshold=0.0, duration=2, base_coef=0.01), pulse_repeat_action_rate=0.3)
    coef, metrics = monitor.update(0.5, repeat_action_rate=0.1)
    assert coef == 0.01 and metrics["entropy/pulse_active"] == 0.0
    coef, metrics = monitor.update(0.5, repeat_action_rate=0.6)
    assert coef == pytest.approx(0.1) and metrics["entropy/pulse_active"] == 1.0 and metrics["entropy/pulses"] == 1


# ---------------------------------------------------------------------------------------- eruption detector


def synthetic_entropy(eruption_starts, noise, seed, steps=200):
    """Collapse 1.0 -> 0.1 (time constant 12), plus eruptions of +0.5 over 3 steps decaying over ~6."""
    rng = random.Random(seed)
    series = []
    for t in range(steps):
        value = 0.1 + 0.9 * math.exp(-t / 12)
        bump = 0.0
        for start in eruption_starts:
            if start <= t < start + 3:
                bump = max(bump, 0.5 * (t - start + 1) / 3)
            elif t >= start + 3:
                bump = max(bump, 0.5 * math.exp(-(t - start - 3) / 6))
        series.append(max(0.0, value + bump + rng.gauss(0.0, noise)))
    return series


@pytest.mark.parametrize("seed", range(8))
def test_detector_counts_planted_eruptions_and_none_on_a_smooth_decay(seed):
    detector = EruptionDetector()
    phases = [detector.update(v) for v in synthetic_entropy([60, 110, 160], noise=0.02, seed=seed)]
    assert detector.eruptions == 3
    assert "eruption" in phases[60:70] and "subsidence" in phases[62:85]
    assert phases[:40].count("descent") > 20  # the collapse is a descent
    calm = EruptionDetector()
    calm_phases = [calm.update(v) for v in synthetic_entropy([], noise=0.02, seed=seed)]
    assert calm.eruptions == 0 and "eruption" not in calm_phases


def test_detector_state_round_trip():
    series = synthetic_entropy([60, 110], noise=0.02, seed=3)
    whole = EruptionDetector()
    expected = [whole.update(v) for v in series]
    first = EruptionDetector()
    got = [first.update(v) for v in series[:100]]
    second = EruptionDetector()
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))  # survives a JSON checkpoint
    got += [second.update(v) for v in series[100:]]
    assert got == expected and second.eruptions == whole.eruptions == 2


# ---------------------------------------------------------------------------------------- degeneration


def make_step(response="<think>go.</think><action>look</action>", action="look", valid=True, anchor=0, unknown=False):
    return Step(
        prompt_ids=[1],
        response_ids=[2],
        logprobs=[0.0],
        entropies=[0.1],
        response=response,
        action=action,
        format_valid=True,
        action_valid=valid,
        env_reward=0.0,
        reward=0.0,
        observation=f"obs {anchor}",
        anchor=anchor,
        truncated=False,
        unknown_entity=unknown,
    )


def test_repeated_sentence_detection():
    assert has_repeated_sentence(
        "<think>I go to the drawer. I go to the drawer.</think><action>go to drawer 1</action>"
    )
    assert has_repeated_sentence("<think>open it\nsee apple\nopen it</think><action>x</action>")
    # the action block restating the plan is not a repetition; one-word fragments are ignored
    assert not has_repeated_sentence("<think>go to drawer 1</think><action>go to drawer 1</action>")
    assert not has_repeated_sentence("<think>Ok. Ok. The apple is here.</think><action>take apple 1</action>")


def test_degeneration_counts_by_hand():
    looping = Episode(task_id="t", group_id=0)
    looping.steps = [
        make_step(action="open drawer 1", anchor="A"),
        make_step(action="open drawer 1", anchor="A", valid=False),  # repeat, no state change: counts
        make_step(action="open drawer 1", anchor="A", valid=False),  # counts again
        make_step(action="go to shelf 9", anchor="A", valid=False, unknown=True),
    ]
    moving = Episode(task_id="t", group_id=0)
    moving.steps = [
        make_step(action="go to drawer 1", anchor="B", response="<think>Go there. Go there.</think><action>x</action>"),
        make_step(action="go to drawer 1", anchor="C"),  # same action but the state changed: not a loop
    ]
    counts = degeneration_counts([looping, moving])
    assert counts["degen/repeat_action_rate"] == (2, 4)  # follow-up steps: 3 + 1
    assert counts["degen/invalid_action_rate"] == (3, 6)
    assert counts["degen/unknown_entity_rate"] == (1, 6)
    assert counts["degen/repeat_sentence_rate"] == (1, 6)


# ---------------------------------------------------------------------------------------- a real run


REQUIRED_KEYS = (
    "entropy/token_mean",
    "entropy/step_mean",
    "entropy/step_p10",
    "entropy/step_p90",
    "entropy/turn_0",
    "entropy/phase",
    "entropy/eruptions",
    "entropy/coef",
    "entropy/pulse_active",
    "degen/repeat_sentence_rate",
    "degen/repeat_action_rate",
    "degen/invalid_action_rate",
    "degen/unknown_entity_rate",
)


@pytest.mark.slow  # a training run with plots
def test_pulse_run_logs_entropy_dynamics_and_plots(tmp_path, capsys):
    from agentrl.cli import main
    from tests.test_cli import write_recipe

    # threshold 10 nats: the collapse test fires at the first update; the pulse lasts 2 updates.
    # The environment shifts to the "put" grammar after 2 updates (the docs/entropy.md demonstration), and to another
    # environment, household-lookup, whose task ids are its own (a curriculum's next stage).
    recipe = write_recipe(
        tmp_path,
        max_steps=3,
        entropy_control="pulse",
        pulse_threshold=10.0,
        pulse_duration=2,
        pulse_base_coef=0.001,
        env_shift_step=2,
        env_shift_kwargs={"put_grammar": True},
        env_shift_id="household-lookup",
    )
    assert main(["train", "--config", str(recipe)]) == 0
    run = tmp_path / "run"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "reward/mean" in r]
    assert len(steps) == 3
    for key in REQUIRED_KEYS:
        assert all(isinstance(r[key], float) for r in steps), key
    assert [r["entropy/coef"] for r in steps] == pytest.approx([0.01, 0.01, 0.01])  # 0.001 x 10, then a new pulse
    assert [r["entropy/pulse_active"] for r in steps] == [1.0, 1.0, 1.0]
    assert [r["entropy/pulses"] for r in steps] == [1.0, 1.0, 2.0]
    assert all(r["entropy/phase_name"] in ("stable", "descent", "eruption", "subsidence") for r in steps)
    assert "entropy_coef" not in steps[0]  # TRL's per-micro-batch value is not logged
    assert [r["env/shifted"] for r in steps] == [0.0, 0.0, 1.0]
    assert [r["episode/env_errors"] for r in steps] == [0.0, 0.0, 0.0]  # every task id found in household-lookup
    assert json.loads((run / "eval.json").read_text())["env_shifted_for_after"] is True
    assert (run / "entropy_dynamics.png").stat().st_size > 10_000
    assert (run / "entropy_turns.png").exists()
    out = tmp_path / "figures"
    assert main(["plot", str(run), str(run), "--output", str(out)]) == 0
    assert (out / "entropy_dynamics.png").exists() and (out / "entropy_turns.png").exists()
    assert main(["plot", str(tmp_path / "missing")]) == 2
    assert "metrics.jsonl" in capsys.readouterr().err


def test_entropy_recipes_parse(tmp_path):
    from pathlib import Path

    from agentrl.recipe import parse_train_args

    recipes = sorted((Path(__file__).parent.parent / "recipes" / "entropy").glob("*.yaml"))
    assert len(recipes) == 2
    for recipe in recipes:  # they start from the quickstart's warm-up; "tiny" stands in for it here
        args = parse_train_args(["--config", str(recipe), "--model_name_or_path", "tiny"])
        assert args.env_shift_step == 8 and args.env_shift_kwargs == {"put_grammar": True}


def test_put_grammar_renames_the_placing_command():
    from agentrl.envs import make_env

    env = make_env("household-easy", put_grammar=True)
    _, info = env.reset("household-easy/train/00001")
    actions = []
    while info["expert_action"]:
        actions.append(info["expert_action"])
        _, reward, done, info = env.step(actions[-1])
    assert actions[-1] == "put apple 1 on countertop 1" and reward == 1.0 and info["won"]
    env.reset("household-easy/train/00001")
    for action in actions[:-1]:
        env.step(action)
    _, reward, _, info = env.step("move apple 1 to countertop 1")  # the old grammar is gone
    assert reward == 0.0 and not info["valid"]


def test_env_shift_id_moves_training_to_another_environment(tmp_path):
    """A curriculum's next stage: from env_shift_step on, env_shift_id with env_kwargs and env_shift_kwargs merged."""
    from agentrl.config import AgentRLConfig
    from agentrl.run import env_factory_for

    args = AgentRLConfig(
        output_dir=str(tmp_path),
        use_cpu=True,
        bf16=False,
        env_id="household-easy",
        env_kwargs={"num_train_tasks": 50},
        max_episode_steps=6,
        env_shift_step=10,
        env_shift_id="household-lookup",
        env_shift_kwargs={"put_grammar": True},
    )
    before, after = env_factory_for(args)(), env_factory_for(args, shifted=True)()
    assert (before.name, before.put_grammar, before.max_steps) == ("household-easy", False, 6)
    assert (after.name, after.put_grammar, after.max_steps) == ("household-lookup", True, 6)
    assert len(after.task_ids("train")) == 50  # env_kwargs carry over to the new environment
    assert after.task_ids("train")[0].startswith("household-lookup/")


def test_task_ids_after_a_shift_map_only_what_the_new_environment_lacks():
    from agentrl.training.group_rounds import task_ids_after_shift

    # another environment: every drawn id is unknown there; by position, cycling over its 2 tasks
    assert task_ids_after_shift(["a/1", "a/2", "a/3"], ["b/1", "b/2"]) == {"a/1": "b/1", "a/2": "b/2", "a/3": "b/1"}
    # a shift of keywords only, training on a subset (tasks 3 and 4): the same tasks go on being played
    assert task_ids_after_shift(["a/3", "a/4"], ["a/1", "a/2", "a/3", "a/4"]) == {}


def test_monitor_triggers_a_pulse_when_no_group_has_a_learning_signal():
    monitor = EntropyMonitor(EntropyPulse(threshold=0.0, duration=1, base_coef=0.01), pulse_on_zero_signal=2)
    coefs = [monitor.update(0.5, zero_signal=flag)[0] for flag in (True, False, True, True, True, True)]
    # the signal must be missing 2 updates in a row; the pulse (1 update) then restarts 2 updates later
    assert coefs == pytest.approx([0.01, 0.01, 0.01, 0.1, 0.01, 0.1])


def test_pulse_with_explicit_peak_and_early_stop():
    pulse = EntropyPulse(threshold=0.05, duration=5, base_coef=0.0, peak_coef=0.02, stop_entropy=0.5)
    entropies = [0.1, 0.04, 0.2, 0.6, 0.3, 0.03]
    got = [pulse.update(h) for h in entropies]
    # no bonus outside pulses; the pulse starts at 0.04, runs at 0.2, ends as soon as entropy exceeds 0.5;
    # a new collapse (0.03) starts the next one
    assert got == pytest.approx([0.0, 0.02, 0.02, 0.0, 0.0, 0.02])
    assert pulse.pulses == 2


def test_phase_shading_holds_each_phase_until_the_next_one_is_logged():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from agentrl.plots import shade_phases

    def spans(steps, phases):
        figure, axis = plt.subplots()
        shade_phases(axis, [{"step": s, "entropy/phase": p} for s, p in zip(steps, phases, strict=True)])
        found = [(patch.get_x(), patch.get_x() + patch.get_width()) for patch in axis.patches]
        plt.close(figure)
        return found

    # one rollout batch per update: each update shaded alone (stable, code 0, is not shaded)
    assert spans([1, 2, 3, 4], [1, 2, 0, 3]) == [(0.5, 1.5), (1.5, 2.5), (3.5, 4.5)]
    # num_iterations 4: the detector is fed at updates 1, 5, 9; each phase covers its batch's four updates
    assert spans([1, 5, 9], [2, 3, 1]) == [(0.5, 4.5), (4.5, 8.5), (8.5, 12.5)]
