"""SEAL: pooling, labels, the loss variants and the head against values computed by hand, and a tiny training run."""

from __future__ import annotations

import math

import pytest
import torch

from agentrl.algorithms import (
    SEAL_VARIANTS,
    SealHead,
    centroid_cosine,
    pool_hidden,
    seal_labels,
    seal_loss,
    seal_variant_names,
)
from tests.tensors import FLOAT32_ATOL, close  # FLOAT32_ATOL: the float32 rounding of a hand-sized computation

T = torch.tensor


def one_token_rows(points) -> tuple[torch.Tensor, torch.Tensor]:
    """hidden (B, 2, d) whose only generated token (mask [1, 0]) is points[b]; the padded token is junk."""
    points = T(points, dtype=torch.float32)
    hidden = torch.stack([points, torch.full_like(points, 100.0)], dim=1)
    return hidden, T([[1, 0]] * len(points))


def linear_head(weight, bias) -> SealHead:
    head = SealHead(len(weight), num_layers=1)
    with torch.no_grad():
        head.layers[0].weight.copy_(T([weight]))
        head.layers[0].bias.copy_(T([bias]))
    return head


# ------------------------------------------------------------------------------ pooling
HIDDEN = T(
    [
        [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]],  # mask 1 1 0 0: sum (4, 6), 2 tokens
        [[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [4.0, 4.0]],  # mask 0 1 1 1: sum (6, 6), 3 tokens
        [[9.0, 9.0], [9.0, 9.0], [9.0, 9.0], [9.0, 9.0]],  # mask all 0: nothing
    ]
)
MASK = T([[1, 1, 0, 0], [0, 1, 1, 1], [0, 0, 0, 0]])


def test_trajectory_pooling_is_a_token_weighted_mean_over_the_episode_and_drops_empty_units():
    pooled, rows = pool_hidden(HIDDEN, MASK, T([5, 5, 2]), pooling="trajectory")
    close(pooled, [[10 / 5, 12 / 5]])  # (4 + 6, 6 + 6) / 5 tokens, not the mean of the step means (2, 2.5)
    assert rows.tolist() == [0]  # episode 2 has no generated token: dropped
    # row 2 joins episode 7 with row 0: an all-zero row adds nothing; units come in episode-id order
    pooled, rows = pool_hidden(HIDDEN, MASK, T([7, 3, 7]), pooling="trajectory")
    close(pooled, [[2.0, 2.0], [2.0, 3.0]])
    assert rows.tolist() == [1, 0]


def test_step_pooling_pools_each_row_alone():
    expected = [[2.0, 3.0], [2.0, 2.0]]
    for episode_ids in (T([5, 5, 2]), None):
        pooled, rows = pool_hidden(HIDDEN, MASK, episode_ids, pooling="step")
        close(pooled, expected)
        assert rows.tolist() == [0, 1]
    pooled, _ = pool_hidden(HIDDEN, MASK, None, pooling="trajectory")  # no episode ids: one row, one unit
    close(pooled, expected)


def test_pooling_runs_in_float32_for_bf16_hidden_states_and_passes_gradients():
    hidden = HIDDEN.to(torch.bfloat16).requires_grad_()
    pooled, _ = pool_hidden(hidden, MASK, T([5, 5, 2]))
    assert pooled.dtype == torch.float32
    close(pooled, [[2.0, 2.4]])
    pooled.sum().backward()
    # d(pooled sum)/dh = 1/5 on each of the 5 generated tokens of the episode, 0 elsewhere
    # bf16 keeps 8 significant bits (unit roundoff 2^-8): the gradient 1/5 is stored within 0.2 x 2^-8 = 7.8e-4
    close(hidden.grad.float(), (MASK.float() / 5).unsqueeze(-1).expand(3, 4, 2).tolist(), atol=8e-4)


# ------------------------------------------------------------------------------ labels
def test_label_rules_by_hand():
    close(seal_labels("success", won=T([True, False, True])), [1.0, 0.0, 1.0])
    close(seal_labels("reward", rewards=T([0.2, 0.5, 0.9, 1.0])), [0.0, 0.0, 1.0, 1.0])  # strictly above 0.5
    close(seal_labels("reward", rewards=T([0.2, 0.5, 0.9]), threshold=0.1), [1.0, 1.0, 1.0])
    close(seal_labels("advantage", advantages=T([-0.3, 0.0, 1e-3])), [0.0, 0.0, 1.0])
    assert seal_labels("success", won=T([1, 0])).dtype == torch.float32


def test_bad_names_raise_with_the_recipe_key():
    hidden, mask = one_token_rows([[1.0, 0.0], [0.0, 1.0]])
    labels = T([1.0, 0.0])
    with pytest.raises(ValueError, match="seal_variant"):
        seal_loss(hidden, mask, labels, linear_head([1.0, 0.0], 0.0), variant="triplet")
    with pytest.raises(ValueError, match="seal_pooling"):
        seal_loss(hidden, mask, labels, linear_head([1.0, 0.0], 0.0), pooling="token")
    with pytest.raises(ValueError, match="seal_pooling"):
        pool_hidden(hidden, mask, None, pooling="episode")
    with pytest.raises(ValueError, match="seal_label"):
        seal_labels("win", won=T([1.0]))
    with pytest.raises(ValueError, match="seal_label"):
        seal_labels("reward", won=T([1.0]))  # the rule's tensor is missing
    with pytest.raises(ValueError, match="seal_head_layers"):
        SealHead(8, num_layers=0)
    with pytest.raises(ValueError, match="seal_variant 'bce' needs a SealHead"):
        seal_loss(hidden, mask, labels, None, variant="bce")
    with pytest.raises(ValueError, match="seal_variant 'bce' needs a SealHead"):
        seal_loss(hidden, mask, T([1.0, 1.0]), None, variant="bce")  # also on a one-class batch


def test_rows_of_one_trajectory_must_agree_on_the_label():
    hidden, mask = one_token_rows([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    head = linear_head([1.0, 0.0], 0.0)
    with pytest.raises(ValueError, match="different labels"):
        seal_loss(hidden, mask, T([1.0, 0.0, 0.0]), head, episode_ids=T([4, 4, 9]))
    # per step the same rows are fine
    seal_loss(hidden, mask, T([1.0, 0.0, 0.0]), head, episode_ids=T([4, 4, 9]), pooling="step")


# ------------------------------------------------------------------------------ head
def test_head_structure():
    linears = [m for m in SealHead(8).modules() if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(8, 8), (8, 8), (1, 8)]
    kinds = [type(m).__name__ for m in SealHead(8, num_layers=2).layers]
    assert kinds == ["Linear", "GELU", "LayerNorm", "Linear"]
    assert [type(m).__name__ for m in SealHead(8, num_layers=1).layers] == ["Linear"]
    assert SealHead(8)(torch.randn(5, 8)).shape == (5,)


# ------------------------------------------------------------------------------ bce and metrics
def test_bce_by_hand():
    head = linear_head([1.0, -1.0], 0.5)  # logit = z1 - z2 + 0.5
    hidden, mask = one_token_rows([[2.0, 1.0], [0.0, 1.0], [1.0, 3.0]])  # logits 1.5, -0.5, -1.5
    loss, metrics = seal_loss(hidden, mask, T([1.0, 0.0, 1.0]), head, pooling="step")
    softplus = lambda x: math.log1p(math.exp(x))
    expected = (softplus(-1.5) + softplus(-0.5) + softplus(1.5)) / 3  # y=1: -log sigmoid(l) = softplus(-l)
    assert loss.item() == pytest.approx(expected, abs=FLOAT32_ATOL)
    assert metrics["seal/loss"] == pytest.approx(expected, abs=FLOAT32_ATOL)
    assert metrics["seal/accuracy"] == pytest.approx(2 / 3)  # predictions 1, 0, 0
    assert metrics["seal/pos_fraction"] == pytest.approx(2 / 3)
    assert metrics["seal/one_class"] == 0.0 and metrics["seal/units"] == 3.0
    # centroids (1.5, 2) and (0, 1): cos = 2 / (2.5 * 1)
    assert metrics["seal/centroid_cosine"] == pytest.approx(0.8, abs=FLOAT32_ATOL)


def test_centroid_cosine_by_hand():
    assert centroid_cosine(T([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]]), T([1.0, 1.0, 0.0])).item() == pytest.approx(0.0)
    assert centroid_cosine(T([[1.0, 2.0], [2.0, 4.0]]), T([1.0, 0.0])).item() == pytest.approx(1.0)
    assert centroid_cosine(T([[1.0, 0.0], [1.0, 1.0]]), T([0.0, 1.0])).item() == pytest.approx(1 / math.sqrt(2))
    assert centroid_cosine(T([[1.0, 0.0], [1.0, 1.0]]), T([1.0, 1.0])) is None  # one class
    assert centroid_cosine(T([[1.0, 0.0]]), T([1.0])) is None


@pytest.mark.parametrize("variant", sorted(SEAL_VARIANTS))
@pytest.mark.parametrize(
    "points, labels, generated",
    [
        ([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [1.0, 1.0, 1.0], [1, 1, 1]),  # one class
        ([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], [1, 1]),  # one class
        ([[1.0, 0.0]], [1.0], [1]),  # one unit
        ([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]], [1.0, 0.0, 1.0], [1, 0, 0]),  # two labels, one unit with tokens
    ],
)
def test_one_class_or_one_unit_gives_an_exact_zero_that_is_still_in_the_graph(variant, points, labels, generated):
    hidden, _ = one_token_rows(points)
    mask = T([[flag, 0] for flag in generated])
    hidden.requires_grad_()
    head = SealHead(2, num_layers=3)
    loss, metrics = seal_loss(hidden, mask, T(labels), head, variant=variant, pooling="step")
    assert loss.item() == 0.0 and torch.isfinite(loss)
    assert metrics["seal/one_class"] == 1.0 and metrics["seal/loss"] == 0.0
    assert "seal/centroid_cosine" not in metrics
    assert all(math.isfinite(value) for value in metrics.values())
    loss.backward()
    assert torch.equal(hidden.grad, torch.zeros_like(hidden))
    for parameter in head.parameters():  # every head parameter took part (DDP / ZeRO), with a zero gradient
        assert parameter.grad is not None and torch.equal(parameter.grad, torch.zeros_like(parameter))


def test_no_generated_token_at_all():
    hidden = torch.randn(2, 3, 4, requires_grad=True)
    head = SealHead(4)
    loss, metrics = seal_loss(hidden, torch.zeros(2, 3), T([1.0, 0.0]), head)
    assert loss.item() == 0.0 and metrics == {"seal/loss": 0.0, "seal/units": 0.0, "seal/one_class": 1.0}
    loss.backward()
    assert torch.equal(hidden.grad, torch.zeros_like(hidden))
    assert all(p.grad is not None and not p.grad.any() for p in head.parameters())


# ------------------------------------------------------------------------------ alternative variants
def test_registry():
    assert seal_variant_names() == ["bce", "centroid_margin", "cosine", "supcon"]


def test_centroid_margin_and_cosine_by_hand():
    hidden, mask = one_token_rows([[2.0, 0.0], [1.0, 1.0]])
    labels = T([1.0, 0.0])
    # L2-normalised: (1, 0) and (1, 1)/sqrt2; ||mu_1 - mu_0||^2 = (1 - 1/sqrt2)^2 + 1/2 = 2 - sqrt2
    distance = math.sqrt(2 - math.sqrt(2))
    loss, _ = seal_loss(hidden, mask, labels, None, variant="centroid_margin", pooling="step")
    assert loss.item() == pytest.approx(1.0 - distance, abs=FLOAT32_ATOL)
    loss, _ = seal_loss(hidden, mask, labels, None, variant="centroid_margin", pooling="step", margin=0.5)
    assert loss.item() == 0.0  # distance 0.765 > 0.5
    loss, metrics = seal_loss(hidden, mask, labels, None, variant="cosine", pooling="step")
    assert loss.item() == pytest.approx(1 / math.sqrt(2), abs=FLOAT32_ATOL)  # cos((2, 0), (1, 1))
    assert metrics["seal/centroid_cosine"] == pytest.approx(1 / math.sqrt(2), abs=FLOAT32_ATOL)
    assert "seal/accuracy" not in metrics  # no head, no head accuracy
    for points in ([[2.0, -1.0], [1.0, 2.0]], [[1.0, 0.0], [-1.0, 0.5]]):  # orthogonal, then obtuse: 0
        hidden, mask = one_token_rows(points)
        loss, _ = seal_loss(hidden, mask, labels, None, variant="cosine", pooling="step")
        assert loss.item() == pytest.approx(0.0, abs=FLOAT32_ATOL)


def test_supcon_by_hand():
    # unit vectors u0 = u1 = (1, 0) with label 1, u2 = (0, 1) with label 0; temperature 1.
    # u0: A = {u1, u2}, P = {u1}: -(1 - log(e^1 + e^0)); u1 the same; u2 has no positive: not an anchor.
    hidden, mask = one_token_rows([[3.0, 0.0], [1.0, 0.0], [0.0, 5.0]])
    loss, _ = seal_loss(hidden, mask, T([1.0, 1.0, 0.0]), None, variant="supcon", pooling="step", temperature=1.0)
    assert loss.item() == pytest.approx(math.log(1 + math.e) - 1, abs=FLOAT32_ATOL)
    # the same three units split into groups {u0, u1} and {u2}: no group holds both classes -> zero, one_class
    loss, metrics = seal_loss(
        hidden, mask, T([1.0, 1.0, 0.0]), None, variant="supcon", pooling="step", group_ids=T([0, 0, 1])
    )
    assert loss.item() == 0.0 and metrics["seal/one_class"] == 1.0
    # a second group only adds its own anchors: group {u0, u1, u2} and group {u3 = u4 = (0, 1)} with labels 0
    hidden, mask = one_token_rows([[3.0, 0.0], [1.0, 0.0], [0.0, 5.0], [0.0, 1.0], [0.0, 2.0]])
    loss, _ = seal_loss(
        hidden,
        mask,
        T([1.0, 1.0, 0.0, 0.0, 0.0]),
        None,
        variant="supcon",
        pooling="step",
        group_ids=T([3, 3, 3, 8, 8]),
        temperature=1.0,
    )
    assert loss.item() == pytest.approx(math.log(1 + math.e) - 1, abs=FLOAT32_ATOL)


def clustered_batch(separated: bool, units: int = 8, tokens: int = 5, dim: int = 6, seed: int = 0):
    """Rows with tokens around e_0 (label 1) and e_1 (label 0) when separated, all around e_0 + e_1 otherwise."""
    generator = torch.Generator().manual_seed(seed)
    labels = T([1.0, 0.0] * (units // 2))
    centres = torch.zeros(units, dim)
    if separated:
        centres[labels == 1, 0] = 1.0
        centres[labels == 0, 1] = 1.0
    else:
        centres[:, :2] = 1.0
    hidden = centres[:, None, :] + 0.05 * torch.randn(units, tokens, dim, generator=generator)
    return hidden, torch.ones(units, tokens), labels, T([0, 0, 0, 0, 1, 1, 1, 1])


@pytest.mark.parametrize("variant", ["centroid_margin", "supcon", "cosine"])
def test_alternative_variants_are_finite_differentiable_and_reward_separation(variant):
    values = {}
    for separated in (True, False):
        hidden, mask, labels, groups = clustered_batch(separated)
        hidden.requires_grad_()
        head = SealHead(hidden.shape[-1])
        loss, metrics = seal_loss(hidden, mask, labels, head, variant=variant, group_ids=groups, pooling="step")
        assert torch.isfinite(loss) and all(math.isfinite(v) for v in metrics.values())
        assert "seal/accuracy" in metrics  # still reported from the head
        loss.backward()
        assert torch.isfinite(hidden.grad).all()
        if not separated:
            assert hidden.grad.abs().sum() > 0  # the mixed batch has something to push apart
        assert all(p.grad is not None and not p.grad.any() for p in head.parameters())  # head used, not trained
        values[separated] = loss.item()
    assert values[True] < values[False]


# ------------------------------------------------------------------------------ training with the SEAL loss
def synthetic_training(train_backbone: bool, steps: int = 200) -> tuple[dict, dict, torch.nn.Linear]:
    """Train a seeded-random Linear "backbone" + SealHead ONLY with the SEAL bce loss; (first, last metrics)."""
    torch.manual_seed(0)
    episodes, steps_per_episode, tokens, d_in, d = 16, 2, 6, 8, 16
    rows = episodes * steps_per_episode
    labels = T([1.0, 0.0] * (episodes // 2)).repeat_interleave(steps_per_episode)  # per row, one per episode
    episode_ids = torch.arange(episodes).repeat_interleave(steps_per_episode)
    # two overlapping clusters on top of a large shared component: the raw centroids are nearly parallel
    shared, direction = torch.randn(d_in) * 3, torch.randn(d_in)
    centres = shared + 0.4 * direction * (2 * labels[:, None] - 1)
    inputs = centres[:, None, :] + torch.randn(rows, tokens, d_in)
    mask = (torch.rand(rows, tokens) < 0.8).float()
    mask[:, 0] = 1.0

    backbone, head = torch.nn.Linear(d_in, d), SealHead(d)
    backbone.requires_grad_(train_backbone)
    parameters = [*head.parameters(), *(backbone.parameters() if train_backbone else [])]
    optimizer = torch.optim.Adam(parameters, lr=1e-2)
    _, first = seal_loss(backbone(inputs), mask, labels, head, episode_ids=episode_ids)
    for _ in range(steps):
        optimizer.zero_grad()
        loss, _ = seal_loss(backbone(inputs), mask, labels, head, episode_ids=episode_ids)
        loss.backward()
        optimizer.step()
    _, last = seal_loss(backbone(inputs), mask, labels, head, episode_ids=episode_ids)
    return first, last, backbone


def test_seal_gradient_reaches_the_backbone():
    _, _, backbone = synthetic_training(train_backbone=True, steps=1)
    assert backbone.weight.grad is not None and backbone.weight.grad.abs().sum() > 0


def test_training_only_with_seal_bce_reaches_full_accuracy_and_lowers_centroid_cosine():
    first, last, _ = synthetic_training(train_backbone=True)
    assert first["seal/units"] == 16 and first["seal/accuracy"] < 1.0 and last["seal/accuracy"] == 1.0
    assert last["seal/loss"] < 0.01 * first["seal/loss"]
    # measured 0.980 -> 0.890: bce stops moving the backbone once the head separates the units with margin
    assert first["seal/centroid_cosine"] > 0.95 and last["seal/centroid_cosine"] < first["seal/centroid_cosine"] - 0.05
    # control: with the backbone frozen only the head learns and the representation (its cosine) stays put
    frozen_first, frozen_last, _ = synthetic_training(train_backbone=False)
    # the same frozen weights on the same batch: the same hidden states, bit for bit, so the same cosine
    assert frozen_last["seal/centroid_cosine"] == frozen_first["seal/centroid_cosine"]
