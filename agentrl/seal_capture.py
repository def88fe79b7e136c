"""SEAL inside the trainer: the head on the policy, the hidden states from a forward hook, the loss per micro-batch.

TRL's training forward runs a fused LM head that returns log-probs and entropies but no hidden states
(`output_hidden_states` is dropped), so the hidden states are read by a forward hook on the backbone
(`seal_layer: -1`, the final normed hidden states the LM head sees) or on one decoder layer. The hook acts only
while the trainer has armed it for one training micro-batch, once, with grad enabled: never during generation,
the no-grad old/reference log-prob passes, or the recomputation of a checkpointed layer in backward. It computes
the SEAL loss inside the forward, where ZeRO-3 has the head's partitioned parameters gathered.

Units and scaling. A unit is what one pooled vector stands for: a trajectory (in segments of at most
`micro_batch_rows` steps, so that a micro-batch always holds whole units) or a step. With N units of tokens in
the global batch (all ranks), micro-batch m holding n_m of them and P processes (DDP / DeepSpeed average
gradients over ranks), the trainer adds

    seal_coef * L_m * n_m * P / N          L_m = the SEAL loss of the micro-batch's units

to that micro-batch's (already re-weighted) TRL loss. For the default bce variant L_m is a mean over units, so
the sum over micro-batches and ranks is exactly seal_coef * mean_u BCE_u over the global batch, however the
rows are split. A global batch with one class adds exactly 0 (still through the graph).

The diagnostic `seal/centroid_cosine` is exact whatever the split: each unit's token sums are accumulated over
micro-batches, z_u = sum / count, and the class centroids are summed over ranks. It is computed with SEAL on or
off, over the rows the update forwards (with SEAL off and zero-advantage rows skipped, the groups whose
returns all tie are not forwarded).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from agentrl.algorithms.seal import SealHead, cosine, seal_loss
from agentrl.rollout.samples import loss_mask

HEAD_NAME = "seal_head"


def attach_seal_head(model: nn.Module, num_layers: int, seed: int) -> SealHead:
    """Give `model` its SEAL head as the submodule `seal_head` (saved with it, trained by the same optimizer).

    The head is initialised from `seed` without touching the global RNG, so a run with SEAL samples the same
    first rollouts as one without. It takes the dtype and device of the model's parameters.
    """
    if hasattr(model, "peft_config"):
        raise ValueError(
            "seal: the policy is already a PEFT model (an adapter folder was loaded); SEAL attaches its head before "
            "the adapter is created. Start from the base model with use_peft: true, or set seal: false."
        )
    existing = getattr(model, HEAD_NAME, None)
    if isinstance(existing, SealHead):
        return existing
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = SealHead(model.config.hidden_size, num_layers)
    parameter = next(model.parameters())
    head.to(device=parameter.device, dtype=parameter.dtype)
    model.add_module(HEAD_NAME, head)
    return head


def prepare_seal_head(model: nn.Module, args: Any, peft_config: Any) -> Any:
    """Attach the SEAL head to the policy before TRL wraps it; under LoRA, train and save it with the adapter.
    Returns the PEFT config to use."""
    if isinstance(model, str):
        raise ValueError("seal: pass the policy as a loaded model (agentrl train does), not a hub id string")
    attach_seal_head(model, args.seal_head_layers, args.seed)
    if peft_config is not None:
        saved = list(peft_config.modules_to_save or [])
        if HEAD_NAME not in saved:  # without it PEFT would freeze the head
            peft_config.modules_to_save = saved + [HEAD_NAME]
    return peft_config


def base_model(model: nn.Module) -> nn.Module:
    """The transformers model under DDP / DeepSpeed wrappers and a PEFT model."""
    while hasattr(model, "module") and isinstance(model.module, nn.Module):
        model = model.module
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    return model


def hooked_module(model: nn.Module, layer: int) -> nn.Module:
    """The module whose output SEAL reads: the decoder (layer -1) or its decoder layer `layer`."""
    base = base_model(model)
    decoder = base.get_decoder() if hasattr(base, "get_decoder") else getattr(base, "model", None)
    if not isinstance(decoder, nn.Module):
        raise ValueError(f"seal: cannot find the decoder of {type(base).__name__} to read hidden states from")
    if layer == -1:
        return decoder
    layers = getattr(decoder, "layers", None)
    if layers is None or not 0 <= layer < len(layers):
        count = 0 if layers is None else len(layers)
        raise ValueError(f"seal_layer {layer}: the model has {count} decoder layers (use 0..{count - 1}, or -1)")
    return layers[layer]


class SealCapture:
    """The forward hook, one update's per-unit buffers and its metrics (see the module docstring)."""

    def __init__(self, model: nn.Module, args: Any, ranks: Any):
        self.args = args
        self.ranks = ranks  # agentrl.training.ranks.Ranks
        self.num_processes = ranks.count
        self.base = base_model(model)
        self.handle = hooked_module(model, args.seal_layer).register_forward_hook(self._hook)
        self._micro: dict[str, Any] | None = None  # the armed micro-batch
        self._captured = False  # its forward has been seen
        self._loss: torch.Tensor | None = None
        self._sums: torch.Tensor | None = None  # (units, d) token sums of the hidden states
        self._counts = self._labels = None
        self._totals = torch.zeros(3, dtype=torch.float64)  # sum of L_m n_m, of accuracy_m n_m, of n_m

    # ---------------------------------------------------------------------------- one update
    def begin_update(self, rows: dict[str, Any]) -> None:
        units, labels = rows["seal_units"], rows["seal_labels"]
        count = int(units.max()) + 1 if units.numel() else 0
        self._labels = torch.zeros(count, device=labels.device).scatter(0, units, labels.float())
        self._sums, self._counts = None, torch.zeros(count, device=labels.device)
        self._totals = torch.zeros(3, dtype=torch.float64)

    def arm(self, micro: dict[str, Any]) -> None:
        """The next grad-enabled forward of the hooked module belongs to `micro`."""
        self._micro, self._loss, self._captured = micro, None, False

    def take_loss(self) -> torch.Tensor | float:
        """The scaled SEAL loss of the armed micro-batch (0.0 with SEAL off); disarms the hook."""
        captured, loss = self._captured, self._loss
        self._micro, self._loss, self._captured = None, None, False
        if not self.args.seal:
            return 0.0
        if loss is None and not captured:
            raise RuntimeError(
                f"seal: the training forward did not pass through the hooked module with grad enabled (seal_layer "
                f"{self.args.seal_layer}). With gradient checkpointing use_reentrant: true a decoder layer runs "
                "without grad: use seal_layer: -1 or gradient_checkpointing_kwargs: {use_reentrant: false}."
            )
        return loss

    def _hook(self, module, inputs, output) -> None:
        micro = self._micro
        if micro is None or self._captured or not torch.is_grad_enabled():
            return
        self._captured = True  # once per micro-batch: a checkpointed layer's recomputation in backward is not seen
        hidden = output if isinstance(output, torch.Tensor) else output[0]
        mask = loss_mask(micro)  # generated tokens only (concat rows: not the environment's)
        hidden = hidden[:, -mask.size(1) :]  # the completion columns: the hidden states of the generated tokens
        self._accumulate(hidden.detach(), mask, micro["seal_units"])
        if not self.args.seal:
            return
        both_classes = bool(micro["seal_both_classes"])
        loss, metrics = seal_loss(
            hidden.detach() if self.args.seal_head_only else hidden,  # head only: the backbone gets no SEAL gradient
            mask,
            micro["seal_labels"],
            getattr(self.base, HEAD_NAME, None),
            self.args.seal_variant,
            episode_ids=micro["seal_units"],
            pooling="trajectory",  # the units are precomputed: a trajectory segment or a step per id
            group_ids=micro["seal_groups"],
            margin=self.args.seal_margin,
            temperature=self.args.seal_temperature,
            one_class_is_zero=not both_classes,
        )
        units = metrics["seal/units"]
        total = max(float(micro["seal_units_in_batch"]), 1.0)
        # seal_coef * L_m * n_m * P / N: the micro-batches of all ranks sum to seal_coef * L over the global batch
        self._loss = loss * (self.args.seal_coef * units * self.num_processes / total)
        self._totals += torch.tensor(
            [metrics["seal/loss"] * units, metrics.get("seal/accuracy", 0.0) * units, units], dtype=torch.float64
        )
        # The SEAL loss leaves the forward beside its output, so DDP's search for unused parameters (which walks
        # back from the output) would miss the head and then see its gradient twice. Adding 0 x loss to the
        # output links them; the values are unchanged and so is the gradient (0 x anything adds nothing).
        tie = 0.0 * self._loss
        if isinstance(output, torch.Tensor):
            return output + tie
        if isinstance(output, tuple) and not hasattr(output, "keys"):
            return (output[0] + tie, *output[1:])
        output[next(iter(output.keys()))] = output[0] + tie  # a ModelOutput: its first field is the hidden states
        return output

    def _accumulate(self, hidden: torch.Tensor, mask: torch.Tensor, units: torch.Tensor) -> None:
        """Add each row's token sum of hidden states to its unit's sum (rows without tokens add nothing)."""
        if self._sums is None:
            self._sums = torch.zeros(self._counts.numel(), hidden.size(-1), device=hidden.device)
        has_tokens = mask.sum(1) > 0
        if not bool(has_tokens.any()):
            return
        weights = mask[has_tokens].to(hidden.dtype).unsqueeze(1)  # (b, 1, T)
        row_sums = torch.bmm(weights, hidden[has_tokens]).squeeze(1).float()  # (b, d)
        index = units[has_tokens].to(hidden.device)
        self._sums.index_add_(0, index, row_sums)
        self._counts.index_add_(0, index.to(self._counts.device), mask[has_tokens].sum(1).float())

    def finish_update(self) -> dict[str, float]:
        """The update's metrics over every rank (a collective: every rank calls it once per update)."""
        hidden_size = self.base.config.hidden_size
        sums = self._sums if self._sums is not None else torch.zeros(self._counts.numel(), hidden_size)
        seen = self._counts > 0
        z = sums[seen.to(sums.device)] / self._counts[seen].unsqueeze(1).to(sums.device)
        positive = (self._labels[seen] > 0.5).to(z.device)
        classes = torch.cat(
            [z[positive].sum(0), z[~positive].sum(0), torch.stack([positive.sum(), (~positive).sum()]).float()]
        ).to(dtype=torch.float64)
        classes = torch.tensor(self.ranks.sum_each(classes), dtype=torch.float64)
        totals = torch.tensor(self.ranks.sum_each(self._totals), dtype=torch.float64)
        mu_pos, mu_neg, (n_pos, n_neg) = classes[:hidden_size], classes[hidden_size:-2], classes[-2:].tolist()
        metrics: dict[str, float] = {}
        if n_pos + n_neg:
            metrics["seal/pos_fraction"] = n_pos / (n_pos + n_neg)
        if n_pos and n_neg:
            metrics["seal/centroid_cosine"] = float(cosine(mu_pos / n_pos, mu_neg / n_neg))
        if self.args.seal:
            loss_sum, accuracy_sum, units = totals.tolist()
            metrics["seal/one_class"] = float(not (n_pos and n_neg))
            metrics["seal/units"] = units
            if units:
                metrics["seal/loss"] = loss_sum / units
                if self.args.seal_variant == "bce":
                    metrics["seal/accuracy"] = accuracy_sum / units
        return metrics

    def remove(self) -> None:
        self.handle.remove()
