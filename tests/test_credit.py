"""Advantage estimators, EMPG and the group filters against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from agentrl.algorithms import (
    CreditBatch,
    anchor_groups,
    compute_advantages,
    discounted_returns,
    empg_advantages,
    empg_terms,
    grpo_advantages,
    informative_groups,
    mean_centred_advantages,
    overlong_penalty,
    rloo_advantages,
    top_variance_groups,
)
from tests.tensors import close

T = torch.tensor


# ------------------------------------------------------------------------------ episode estimators
RETURNS = T([1.0, 0.0, 0.0, 0.0, 2.0, 2.0])
GROUPS = T([7, 7, 7, 7, 3, 3])


def test_grpo_by_hand():
    std = math.sqrt((0.75**2 + 3 * 0.25**2) / 3)  # Bessel-corrected std of [1, 0, 0, 0] = 0.5
    expected = [0.75 / (std + 1e-4)] + [-0.25 / (std + 1e-4)] * 3 + [0.0, 0.0]
    close(grpo_advantages(RETURNS, GROUPS, scale_rewards="group"), expected)
    close(grpo_advantages(RETURNS, GROUPS, scale_rewards="none"), [0.75, -0.25, -0.25, -0.25, 0.0, 0.0])
    batch_std = float(RETURNS.std())  # all six returns: mean 5/6
    close(
        grpo_advantages(RETURNS, GROUPS, scale_rewards="batch"),
        [x / (batch_std + 1e-4) for x in [0.75, -0.25, -0.25, -0.25, 0.0, 0.0]],
    )


def test_a_group_of_equal_returns_has_exactly_zero_advantage():
    # 8 x -0.3 (three format penalties) in float32: sum / 8 rounds 3e-8 away from -0.3, and that rounding divided
    # by (std + 1e-4) used to give every episode ~3e-4; a group with no signal must give exactly nothing.
    returns = torch.full((8,), -0.3)
    assert float(returns.sum() / 8) != float(returns[0])  # the rounding this test is about
    groups = torch.zeros(8, dtype=torch.long)
    for scale in ("group", "none"):
        assert torch.equal(grpo_advantages(returns, groups, scale_rewards=scale), torch.zeros(8))
    mixed = torch.cat([returns, T([1.0, 0.0])])  # the other group keeps its +-0.7071 / (0.7071 + 1e-4)
    advantages = grpo_advantages(mixed, torch.cat([groups, T([1, 1])]))
    assert torch.equal(advantages[:8], torch.zeros(8))
    close(advantages[8:], [0.5 / (math.sqrt(0.5) + 1e-4), -0.5 / (math.sqrt(0.5) + 1e-4)])


def test_mean_centred_is_dr_grpos_advantage_without_std():
    close(mean_centred_advantages(RETURNS, GROUPS), [0.75, -0.25, -0.25, -0.25, 0.0, 0.0])


def test_rloo_leave_one_out_baseline_and_a_group_of_one():
    returns, groups = T([1.0, 0.0, 0.0, 0.0, 2.0, 2.0, 5.0]), T([7, 7, 7, 7, 3, 3, 9])
    # episode 0: 1 - mean(0, 0, 0) = 1; the others: 0 - mean(1, 0, 0) = -1/3; a lone episode has no baseline
    close(rloo_advantages(returns, groups), [1.0, -1 / 3, -1 / 3, -1 / 3, 0.0, 0.0, 0.0])


def test_episode_estimators_broadcast_to_steps_and_unknown_names_fail():
    batch = CreditBatch(
        returns=T([1.0, 0.0]),
        group_ids=T([0, 0]),
        step_episode=T([1, 0, 0]),
        step_index=T([0, 1, 0]),
        step_rewards=T([0.0, 1.0, 0.0]),
        step_anchors=T([0, 1, 0]),
    )
    close(compute_advantages("mean_centred", batch), [-0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="unknown advantage_estimator 'nope'.*gigpo"):
        compute_advantages("nope", batch)


# ------------------------------------------------------------------------------ GiGPO
def test_discounted_returns_with_steps_out_of_order():
    # episode 4: rewards 0, 0, 1 at t = 0, 1, 2 (given as t = 2, 0, 1); episode 9: a single step, reward 2
    returns = discounted_returns(T([1.0, 0.0, 2.0, 0.0]), T([4, 4, 9, 4]), T([2, 0, 0, 1]), gamma=0.5)
    close(returns, [1.0, 0.25, 2.0, 0.5])
    with pytest.raises(ValueError, match="step 1 is missing"):
        discounted_returns(T([1.0, 0.0]), T([0, 0]), T([0, 2]), gamma=0.5)


def gigpo_batch():
    """Task group 0: episodes a (2 steps) and b (3 steps), both win (return 1).
    Task group 1: episodes c (wins) and d (loses), one step each, from the same state X as group 0's start.

    anchors: X = 0, Y = 1, Z = 2. Steps are listed out of order on purpose.
    """
    # step:           b2   a0   c0   b0   a1   d0   b1
    return CreditBatch(
        returns=T([1.0, 1.0, 1.0, 0.0]),  # a, b, c, d
        group_ids=T([0, 0, 1, 1]),
        step_episode=T([1, 0, 2, 1, 0, 3, 1]),
        step_index=T([2, 0, 0, 0, 1, 0, 1]),
        step_rewards=T([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0]),
        step_anchors=T([1, 0, 0, 0, 1, 0, 2]),
    )


def test_anchor_groups_never_mix_task_groups():
    batch = gigpo_batch()
    groups = anchor_groups(batch.group_ids[batch.step_episode], batch.step_anchors).tolist()
    b2, a0, c0, b0, a1, d0, b1 = groups
    assert a0 == b0 and a1 == b2 and c0 == d0  # same task group, same state
    assert a0 != c0  # state X in two different task groups: two step groups
    assert len({a0, a1, c0, b1}) == 4


def test_gigpo_by_hand():
    # gamma 0.5 step returns: a = (0.5, 1), b = (0.25, 0.5, 1), c = (1), d = (0)
    # step groups: {a0 0.5, b0 0.25} -> +-0.125 around 0.375, std 0.125 * sqrt(2); {a1 1, b2 1} -> 0; {b1} -> 0;
    # {c0 1, d0 0} -> +-0.5, std sqrt(0.5). Episode advantages (std-normalised): group 0 equal returns -> 0;
    # group 1: +-0.5 / sqrt(0.5) = +-sqrt(0.5).
    batch = gigpo_batch()
    s = math.sqrt(0.5)
    # b2 a0 c0 b0 a1 d0 b1: 0.125 / (0.125 sqrt 2 + eps) and 0.5 / (sqrt 0.5 + eps), eps = 1e-6 (the step
    # normalisation's), both sqrt(0.5) up to eps
    near, far = 0.125 / (0.125 * math.sqrt(2) + 1e-6), 0.5 / (s + 1e-6)
    std_step = [0.0, near, far, -near, 0.0, -far, 0.0]
    episode = [0.0, 0.0, s / (s + 1e-4) * s, 0.0, 0.0, -s / (s + 1e-4) * s, 0.0]
    advantages = compute_advantages("gigpo", batch, gamma=0.5, step_advantage_weight=2.0)
    close(advantages, [e + 2.0 * st for e, st in zip(episode, std_step, strict=True)])
    mean_step = [0.0, 0.125, 0.5, -0.125, 0.0, -0.5, 0.0]
    advantages = compute_advantages("gigpo", batch, gamma=0.5, step_norm="mean", scale_rewards="none")
    close(advantages, [e + st for e, st in zip([0, 0, 0.5, 0, 0, -0.5, 0], mean_step, strict=True)])


# ------------------------------------------------------------------------------ EMPG
def test_empg_two_steps_by_hand():
    # H = (0, 1): Hn = (0, 1); exp(-Hn) = (1, e^-1), mean 0.683940; g = (1.462117, 0.537883)
    # f = (exp(-Hn_1), 0) = (0.367879, 0); A_mod = 1 * g + 0.1 f = (1.498905, 0.537883); minus mean 1.018394
    advantages, g, f = empg_terms(T([1.0, 1.0]), T([0.0, 1.0]), T([5, 5]), T([0, 1]))
    close(g, [1.462117, 0.537883])
    close(f, [0.367879, 0.0])
    close(advantages, [0.480511, -0.480511])


def test_empg_steps_out_of_order_give_the_same_values_per_step():
    ordered = empg_advantages(T([1.0, 1.0]), T([0.0, 1.0]), T([5, 5]), T([0, 1]))
    shuffled = empg_advantages(T([1.0, 1.0]), T([1.0, 0.0]), T([5, 5]), T([1, 0]))
    close(shuffled, ordered.flip(0).tolist())


def test_empg_all_equal_entropies_and_an_episode_of_one_step():
    # all-equal H: Hn = 0, g = 1, f = 1 except at an episode's last step. Episode 0 has steps 0, 1; episode 1 one step.
    # A_mod = (1 + 0.1, 1 + 0, -1 + 0) = (1.1, 1, -1), mean 1.1 / 3
    advantages, g, f = empg_terms(T([1.0, 1.0, -1.0]), T([0.7, 0.7, 0.7]), T([0, 0, 1]), T([0, 1, 0]), zeta=0.1)
    close(g, [1.0, 1.0, 1.0])
    close(f, [1.0, 0.0, 0.0])
    close(advantages, [1.1 - 1.1 / 3, 1.0 - 1.1 / 3, -1.0 - 1.1 / 3])


def test_empg_general_case_against_an_independent_scalar_computation():
    advantages = [0.5, -1.0, 2.0, 0.3, -0.2, 1.5]
    entropies = [0.2, 1.4, 0.9, 0.05, 0.6, 1.1]
    episodes = [3, 8, 3, 8, 8, 12]
    steps = [1, 2, 0, 0, 1, 0]
    k, k_future, zeta = 1.7, 0.6, 0.25
    low, high = min(entropies), max(entropies)
    hn = [(h - low) / (high - low + 1e-8) for h in entropies]
    scale = [math.exp(-k * x) for x in hn]
    g = [x / (sum(scale) / len(scale)) for x in scale]
    f = []
    for e, t in zip(episodes, steps, strict=True):
        nxt = [i for i, (e2, t2) in enumerate(zip(episodes, steps, strict=True)) if e2 == e and t2 == t + 1]
        f.append(math.exp(-k_future * hn[nxt[0]]) if nxt else 0.0)
    modulated = [a * gi + zeta * fi for a, gi, fi in zip(advantages, g, f, strict=True)]
    expected = [m - sum(modulated) / len(modulated) for m in modulated]
    actual = empg_advantages(T(advantages), T(entropies), T(episodes), T(steps), k=k, k_future=k_future, zeta=zeta)
    close(actual, expected)
    assert abs(float(actual.sum())) < 1e-5  # zero mean


def test_empg_rejects_episode_ids_that_collide():
    # Two ranks' local episode 0 concatenated without global ids: the clash is an error, not a silent merge.
    with pytest.raises(ValueError, match="episode ids must be unique"):
        empg_advantages(T([1.0, 1.0, 1.0]), T([0.1, 0.2, 0.3]), T([0, 0, 0]), T([0, 1, 0]))


# ------------------------------------------------------------------------------ filters
def test_informative_groups():
    returns = T([1.0, 1.0, 0.0, 0.5, 0.5, 2.0, 3.0])
    groups = T([0, 0, 1, 1, 2, 2, 5])  # group 5 has one episode: nothing to compare
    assert informative_groups(returns, groups).tolist() == [False, False, True, True, True, True, False]


def test_top_variance_groups_keeps_the_top_fraction_by_std():
    # stds: group 0: 0; group 1: |0 - 0.5| / sqrt 2; group 2: 1.5 / sqrt 2; group 3: 1.5 / sqrt 2 (tie with 2)
    returns = T([1.0, 1.0, 0.0, 0.5, 0.5, 2.0, 0.0, 1.5])
    groups = T([0, 0, 1, 1, 2, 2, 3, 3])
    assert top_variance_groups(returns, groups, 0.25).tolist() == [False] * 4 + [True, True] + [False] * 2
    assert top_variance_groups(returns, groups, 0.5).tolist() == [False] * 4 + [True] * 4
    assert top_variance_groups(returns, groups, 0.75).tolist() == [False] * 2 + [True] * 6
    assert top_variance_groups(returns, groups, 1.0).all()
    with pytest.raises(ValueError, match="starpo_keep_fraction"):
        top_variance_groups(returns, groups, 0.0)


def test_overlong_penalty_by_hand():
    # Lmax 20, Lcache 4: free up to 16 tokens, then (16 - L) / 4, -1 beyond 20
    close(overlong_penalty(T([3, 16, 17, 18, 20, 21]), max_length=20, buffer_length=4), [0, 0, -0.25, -0.5, -1, -1])
    with pytest.raises(ValueError, match="overlong_buffer_length"):
        overlong_penalty(T([3]), max_length=20, buffer_length=21)


# ------------------------------------------------------------------------------ two processes
@pytest.mark.slow
@pytest.mark.multiprocess
def test_empg_on_two_processes_equals_one_process(tmp_path):
    """accelerate launch, 2 CPU processes (gloo): min/max/means are global, so the result is the single-process one."""
    import json

    from tests.launch import ROOT, accelerate_launch
    from tests.scripts.empg_two_ranks import BATCH

    out = tmp_path / "empg.json"
    accelerate_launch("cpu_ddp_2.yaml", [f"{ROOT}/tests/scripts/empg_two_ranks.py", str(out)], timeout=300)
    single = empg_advantages(
        T(BATCH["advantages"]), T(BATCH["entropies"]), T(BATCH["episode_ids"]), T(BATCH["step_ids"]), k=1.3, zeta=0.2
    )
    # Two ranks add up the global min / max / means in another order than one process: a float32 sum of the batch's
    # 6 values (<= 2) shifts by <= 6 x 2 x 6e-8 = 7e-7, and each output (<= ~3) is a few products and quotients of
    # those statistics: <= 3 x 3 x 7e-7 / 2 ~ 3e-6 (measured: equal to the last bit). 5e-6 is the bound with margin.
    close(T(json.loads(out.read_text())), single.tolist(), atol=5e-6)
    # and a rank-local computation would differ, by far more than rounding: the batch statistics really are global
    local = empg_advantages(T([0.5, -1.0, 2.0]), T([0.2, 1.4, 0.9]), T([0, 1, 0]), T([1, 0, 0]), k=1.3, zeta=0.2)
    assert (local - single[:3]).abs().max() > 1e-2
