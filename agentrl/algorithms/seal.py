"""SEAL: Separation-Enhanced Agent Learning (arXiv 2605.27954), the auxiliary loss and its head.

The paper traces the recurring entropy eruptions of multi-turn agent RL to one cause: the hidden states of
successful and failed trajectories are too similar, so the policy gradients of the two interfere. SEAL adds a
small loss that pulls the two apart in representation space, with the gradient flowing into the backbone:

    z_u    = sum_t m_t h_t / sum_t m_t          masked mean of the last-layer hidden states over the
                                                model-generated tokens of unit u (a trajectory, or one step)
    p_u    = sigmoid(head(z_u))                 head = (Linear, GELU, LayerNorm) x (L - 1), then Linear(d, 1)
    L_SEAL = mean_u BCE(p_u, y_u)               y_u = 1 for a successful unit, 0 for a failed one
    L      = L_policy + 0.02 * L_SEAL           (the coefficient is the trainer's business)

Confirmed from the released code: coefficient 0.02 and a 3-layer head. Not confirmed (the method section
could not be read), so agentrl's choice: pooling per trajectory, the exact head, the label rule. The other
variants (centroid margin, supervised contrastive within a group, cosine separation) sit behind the same
interface in `SEAL_VARIANTS`.

Inputs are per ROW (one row = one step's completion, as the trainer holds them): `hidden` (B, T, d), `mask`
(B, T), `labels` (B,), `episode_ids` (B,), `group_ids` (B,). Rows are pooled into units; every row of a unit
must carry the same label and group. Everything here is local to one process: no collective is called.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

SEAL_POOLINGS = ("trajectory", "step")
SEAL_LABEL_RULES = ("success", "reward", "advantage")
SEAL_VARIANTS: dict[str, Callable[..., torch.Tensor]] = {}
EPS = 1e-12


# ---------------------------------------------------------------------------------------- head
class SealHead(nn.Module):
    """Projection head z (N, d) -> one logit per unit (N,).

    num_layers = L Linear layers: L - 1 blocks of (Linear(d, d), GELU, LayerNorm(d)), then Linear(d, 1);
    L = 1 is a linear probe. The head sees z in its own dtype and returns float32 logits.
    """

    def __init__(self, hidden_size: int, num_layers: int = 3):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"seal_head_layers must be >= 1, got {num_layers}")
        blocks: list[nn.Module] = []
        for _ in range(num_layers - 1):
            blocks += [nn.Linear(hidden_size, hidden_size), nn.GELU(), nn.LayerNorm(hidden_size)]
        self.layers = nn.Sequential(*blocks, nn.Linear(hidden_size, 1))
        self.hidden_size = hidden_size
        self.num_layers = num_layers

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        dtype = self.layers[0].weight.dtype  # a bf16 head (DeepSpeed casts the model) takes a bf16 input
        return self.layers(z.to(dtype)).squeeze(-1).float()


# ---------------------------------------------------------------------------------------- pooling
def _pool(
    hidden: torch.Tensor, mask: torch.Tensor, episode_ids: torch.Tensor | None, pooling: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(pooled (N, d) float32, first row of each unit (N,), unit of each row (B,), -1 for a dropped unit)."""
    if pooling not in SEAL_POOLINGS:
        raise ValueError(f"unknown seal_pooling {pooling!r}; choose one of {list(SEAL_POOLINGS)}")
    rows, device = hidden.shape[0], hidden.device
    weights = mask.to(device=device, dtype=torch.float32)
    # One row at a time so that only a (T, d) float32 copy exists at once, never a (B, T, d) one; unbind's
    # backward stacks the row gradients in one op.
    if rows:
        row_sums = torch.stack([w @ h.float() for w, h in zip(weights.unbind(0), hidden.unbind(0), strict=True)])
    else:
        row_sums = hidden.float().sum(1)
    row_counts = weights.sum(1)

    if pooling == "step" or episode_ids is None:
        keys = torch.arange(rows, device=device)  # every row is its own unit
    else:
        keys = episode_ids.to(device)
    _, inverse = torch.unique(keys, return_inverse=True)
    units = int(inverse.max()) + 1 if rows else 0
    sums = row_sums.new_zeros(units, row_sums.shape[1]).index_add(0, inverse, row_sums)
    counts = row_counts.new_zeros(units).index_add(0, inverse, row_counts)
    first = torch.full((units,), rows, dtype=torch.long, device=device)
    first = first.scatter_reduce(0, inverse, torch.arange(rows, device=device), "amin")

    keep = counts > 0  # a unit without one generated token has nothing to pool: it is dropped
    renumber = torch.cumsum(keep.long(), 0) - 1
    unit_of_row = torch.where(keep[inverse], renumber[inverse], torch.full_like(inverse, -1))
    return sums[keep] / counts[keep].unsqueeze(1), first[keep], unit_of_row


def pool_hidden(
    hidden: torch.Tensor,
    mask: torch.Tensor,
    episode_ids: torch.Tensor | None = None,
    pooling: str = "trajectory",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked mean of `hidden` (B, T, d) over the tokens with mask == 1, one vector per unit.

    pooling="trajectory": the rows with the same `episode_ids` entry (the steps of one episode) form one unit
    and are pooled TOGETHER (a token-weighted mean, not a mean of step means); "step": each row is a unit
    (also when `episode_ids` is None). Rows with an all-zero mask add nothing; a unit with no token at all is
    dropped. Returns (pooled (N, d) float32, unit_rows (N,)): unit_rows[u] is the first row of unit u, so a
    per-row quantity x (B,) becomes per-unit as x[unit_rows]. Units are ordered by episode id (trajectory)
    or row (step).
    """
    pooled, first, _ = _pool(hidden, mask, episode_ids, pooling)
    return pooled, first


def _per_unit(values: torch.Tensor, unit_of_row: torch.Tensor, units: int, name: str) -> torch.Tensor:
    """Per-row values -> per-unit values; every row of a unit must hold the same value."""
    values = values.to(unit_of_row.device)
    kept = unit_of_row >= 0
    index, picked = unit_of_row[kept], values[kept].to(torch.float64)
    low = picked.new_full((units,), float("inf")).scatter_reduce(0, index, picked, "amin")
    high = picked.new_full((units,), float("-inf")).scatter_reduce(0, index, picked, "amax")
    if bool((low != high).any()):
        raise ValueError(
            f"seal: rows of one pooled unit carry different {name}; with per-step values use seal_pooling: step"
        )
    return low.to(values.dtype)


# ---------------------------------------------------------------------------------------- labels
def seal_labels(
    rule: str,
    won: torch.Tensor | None = None,
    rewards: torch.Tensor | None = None,
    advantages: torch.Tensor | None = None,
    threshold: float = 0.5,
) -> torch.Tensor:
    """0/1 float labels, one per entry of the input the rule reads.

    "success": y = won; "reward": y = [reward > threshold] (0.5 halves a [0, 1] reward; for 0/1 rewards it
    equals the success flag); "advantage": y = [advantage > 0] (a zero advantage counts as failed).
    """
    if rule not in SEAL_LABEL_RULES:
        raise ValueError(f"unknown seal_label {rule!r}; choose one of {list(SEAL_LABEL_RULES)}")
    source = {"success": won, "reward": rewards, "advantage": advantages}[rule]
    if source is None:
        raise ValueError(f"seal_label {rule!r} needs the {'won' if rule == 'success' else rule} tensor")
    if rule == "success":
        return (source.to(torch.float32) > 0.5).to(torch.float32)
    limit = threshold if rule == "reward" else 0.0
    return (source.to(torch.float32) > limit).to(torch.float32)


# ---------------------------------------------------------------------------------------- metric
def centroid_cosine(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor | None:
    """cos(mu_1, mu_0) of the mean z of the label-1 units and of the label-0 units; None for one class.

    On the raw pooled z (no normalisation): the diagnostic SEAL is meant to push down, logged with SEAL on or
    off. Differentiable (the "cosine" variant minimises it).
    """
    positive = labels > 0.5
    if z.shape[0] < 2 or bool(positive.all()) or not bool(positive.any()):
        return None
    z = z.float()
    return cosine(z[positive].mean(0), z[~positive].mean(0))


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """<a, b> / (||a|| ||b||), 0 (not NaN) when either is the zero vector."""
    return (a @ b) / (a.norm() * b.norm()).clamp(min=EPS)


# ---------------------------------------------------------------------------------------- variants
def register_seal_variant(name: str):
    def decorate(function):
        SEAL_VARIANTS[name] = function
        return function

    return decorate


def _unit_vectors(z: torch.Tensor) -> torch.Tensor:
    """z / ||z||_2 per unit: scale-free, so LLM hidden states with a few huge dimensions cannot set the scale."""
    return z / z.norm(dim=1, keepdim=True).clamp(min=EPS)


@register_seal_variant("bce")
def bce_variant(z, labels, *, logits, group_ids, margin, temperature) -> torch.Tensor:
    """mean_u BCE-with-logits(head(z_u), y_u): the official configuration."""
    if logits is None:
        raise ValueError("seal_variant 'bce' needs a SealHead")
    return F.binary_cross_entropy_with_logits(logits, labels)


@register_seal_variant("centroid_margin")
def centroid_margin_variant(z, labels, *, logits, group_ids, margin, temperature) -> torch.Tensor:
    """max(0, margin - ||mu_1 - mu_0||_2), mu = mean of the L2-normalised z of each class (head-free).

    On the unit sphere ||mu_1 - mu_0|| <= 2; for two tight clusters at angle theta it is 2 sin(theta / 2), so
    the default margin 1.0 asks for about 60 degrees between the classes.
    """
    unit = _unit_vectors(z)
    positive = labels > 0.5
    gap = unit[positive].mean(0) - unit[~positive].mean(0)
    distance = torch.sqrt((gap * gap).sum() + EPS)  # + EPS: a finite gradient even at gap = 0
    return torch.relu(margin - distance)


@register_seal_variant("supcon")
def supcon_variant(z, labels, *, logits, group_ids, margin, temperature) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020) inside each group, on L2-normalised z:

        s_ij = <z_i, z_j> / temperature
        A(i) = the other units of i's group; P(i) = those of A(i) with i's label
        L    = mean_{anchors i} -1/|P(i)| sum_{p in P(i)} [s_ip - log sum_{a in A(i)} exp(s_ia)]

    Anchors are the units whose group holds both a positive and a negative for them: a group of one class
    has nothing to separate (the term would only spread its units uniformly). No group ids: one group.
    Returns None when no unit is an anchor.
    """
    unit = _unit_vectors(z)
    count = unit.shape[0]
    groups = torch.zeros(count, device=z.device) if group_ids is None else group_ids.to(z.device)
    others = (groups[:, None] == groups[None, :]) & ~torch.eye(count, dtype=torch.bool, device=z.device)
    same_label = labels[:, None] == labels[None, :]
    positives, negatives = others & same_label, others & ~same_label
    anchors = positives.any(1) & negatives.any(1)
    if not bool(anchors.any()):
        return None
    similarity = (unit[anchors] @ unit.T) / temperature
    log_norm = torch.logsumexp(similarity.masked_fill(~others[anchors], float("-inf")), dim=1, keepdim=True)
    log_prob = torch.where(positives[anchors], similarity - log_norm, torch.zeros_like(similarity))
    return (-log_prob.sum(1) / positives[anchors].sum(1)).mean()


@register_seal_variant("cosine")
def cosine_variant(z, labels, *, logits, group_ids, margin, temperature) -> torch.Tensor:
    """max(0, cos(mu_1, mu_0)) on the raw pooled z: exactly the logged seal/centroid_cosine, clipped at 0
    (orthogonal class centroids are separated enough; pushing them to opposite directions is not asked)."""
    return torch.relu(centroid_cosine(z, labels))


def seal_variant_names() -> list[str]:
    return sorted(SEAL_VARIANTS)


# ---------------------------------------------------------------------------------------- loss
def seal_loss(
    hidden: torch.Tensor,
    mask: torch.Tensor,
    labels: torch.Tensor,
    head: nn.Module | None = None,
    variant: str = "bce",
    *,
    episode_ids: torch.Tensor | None = None,
    pooling: str = "trajectory",
    group_ids: torch.Tensor | None = None,
    margin: float = 1.0,
    temperature: float = 0.1,
    one_class_is_zero: bool = True,
) -> tuple[torch.Tensor, dict[str, float]]:
    """(SEAL loss, metrics) for one batch of rows; see the module docstring for the shapes.

    hidden (B, T, d) with grad, mask (B, T) 1 on model-generated tokens, labels (B,) 0/1 per row (e.g. from
    `seal_labels`), episode_ids (B,) for trajectory pooling, group_ids (B,) task group per row (supcon).
    A batch with one class or fewer than 2 units (for supcon: no group holding both classes) gives exactly
    0.0, still connected to `hidden` and to every head parameter (zero gradients), so that DDP / DeepSpeed
    see the same parameters used on every step; seal/one_class = 1.0 says when that happened.
    `one_class_is_zero=False` (bce only): compute the BCE of every unit even when these rows hold one class:
    BCE is a mean over units, so a caller that splits a two-class batch into parts sums exact pieces of it.

    Metrics (floats): seal/loss, seal/units, seal/one_class, and when there are units seal/pos_fraction and
    seal/accuracy (head logit > 0 vs label; only with a head); seal/centroid_cosine when both classes exist.
    """
    if variant not in SEAL_VARIANTS:
        raise ValueError(f"unknown seal_variant {variant!r}; choose one of {seal_variant_names()}")
    if variant == "bce" and head is None:  # said on the first step, not on the first two-class batch
        raise ValueError("seal_variant 'bce' needs a SealHead")
    z, _, unit_of_row = _pool(hidden, mask, episode_ids, pooling)
    units = z.shape[0]
    unit_labels = _per_unit(labels, unit_of_row, units, "labels").to(torch.float32)
    unit_groups = None if group_ids is None else _per_unit(group_ids, unit_of_row, units, "group ids")
    logits = head(z) if head is not None else None

    # 0 x (everything the loss could touch): the graph reaches hidden and all head parameters in every case.
    zero = 0.0 * z.sum() + (0.0 * logits.sum() if logits is not None else 0.0)
    positive = unit_labels > 0.5
    one_class = units < 2 or bool(positive.all()) or not bool(positive.any())
    loss = None
    if units and not one_class_is_zero and variant == "bce":
        loss = F.binary_cross_entropy_with_logits(logits, unit_labels)
    elif not one_class:
        loss = SEAL_VARIANTS[variant](
            z, unit_labels, logits=logits, group_ids=unit_groups, margin=margin, temperature=temperature
        )
    one_class = one_class or loss is None  # supcon: no group held both classes
    loss = zero if loss is None else loss + zero

    metrics = {"seal/loss": float(loss.detach()), "seal/units": float(units), "seal/one_class": float(one_class)}
    if units:
        metrics["seal/pos_fraction"] = float(unit_labels.mean())
        if logits is not None:
            metrics["seal/accuracy"] = float(((logits.detach() > 0).float() == unit_labels).float().mean())
    cosine = centroid_cosine(z.detach(), unit_labels)
    if cosine is not None:
        metrics["seal/centroid_cosine"] = float(cosine)
    return loss, metrics
