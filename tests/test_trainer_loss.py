"""AgentGRPOTrainer's micro-batched loss equals TRL's formula computed by hand over the whole batch."""

from __future__ import annotations

import pytest
import torch
from agentrl.envs import make_env

from agentrl.config import AgentRLConfig
from agentrl.trainer import AgentGRPOTrainer
from agentrl.training.micro_batches import micro_batch_entropy_coef

TEMPERATURE = 0.9
EPS_LOW, EPS_HIGH = 0.2, 0.28
MAX_COMPLETION = 8
# Tolerance of a loss computed two ways (micro-batches vs the whole batch, the trainer vs the formula by hand). Both
# run in float32 (TRL's fused LM head scores in float32 whatever the model's dtype, so float64 cannot help): with
# other batch shapes the matmuls round differently, and a log-prob (|log p| <= 8, a log-sum-exp over ~1000 logits of
# a 64-wide dot product each) moves by a few ulp(8) = 9.5e-7, ~2e-6. The loss is a mean of -A x ratio x (1 +- 2e-6)
# with |A| <= 2.8 (hand_built_batch) and ratio <= exp(0.3) = 1.35: it moves by <= 2.8 x 1.35 x 2e-6 = 7.6e-6. A wrong
# weight or mask moves it by >= 1e-3 (test_concat's test_loss_covers_model_tokens_only checks one such difference).
LOSS_ATOL = 1e-5
# Tolerance of a float32 gradient computed with other micro-batch splits: a coordinate sums <= ~60 terms (5 rows x
# ~12 positions) in another order and through other matmul shapes, each rounded to 2^-24 = 6e-8 of its size, and
# the terms are <= ~1 (the largest gradient entry here is 0.7): <= 60 x 6e-8 x 1 = 3.6e-6. Measured: ~1e-7. Relative
# tolerances do not fit: a coordinate that is a sum of cancelling terms can be 1e-9 with a 1e-7 rounding error.
GRAD_TOLERANCE = {"atol": 1e-5, "rtol": 0.0}


def make_trainer(model, tokenizer, tmp_path, loss_type, micro_batch_rows, **overrides):
    options = {
        "output_dir": str(tmp_path),
        "loss_type": loss_type,
        "per_device_train_batch_size": 4,
        "num_generations": 2,
        "max_completion_length": MAX_COMPLETION,
        "micro_batch_rows": micro_batch_rows,
        "temperature": TEMPERATURE,
        "epsilon": EPS_LOW,
        "epsilon_high": EPS_HIGH,
        "bf16": False,
        "use_cpu": True,
        "gradient_checkpointing": False,
        "report_to": [],
        "max_steps": 1,
    }
    args = AgentRLConfig(**{**options, **overrides})
    trainer = AgentGRPOTrainer(
        model=model, args=args, env_factory=lambda: make_env("household-easy"), processing_class=tokenizer
    )
    trainer.model.train()
    return trainer


def hand_built_batch(vocab: int, pad: int, seed: int = 0):
    """5 step rows of different prompt and response lengths, left/right padded like the collector's."""
    generator = torch.Generator().manual_seed(seed)
    prompt_lengths, completion_lengths = [4, 6, 3, 5, 7], [3, 5, 2, 4, 1]
    P, C = max(prompt_lengths), max(completion_lengths)
    rows = {
        "prompt_ids": torch.full((5, P), pad),
        "prompt_mask": torch.zeros((5, P), dtype=torch.long),
        "completion_ids": torch.full((5, C), pad),
        "completion_mask": torch.zeros((5, C), dtype=torch.long),
    }
    for r, (p, c) in enumerate(zip(prompt_lengths, completion_lengths, strict=True)):
        rows["prompt_ids"][r, P - p :] = torch.randint(0, vocab, (p,), generator=generator)
        rows["prompt_mask"][r, P - p :] = 1
        rows["completion_ids"][r, :c] = torch.randint(0, vocab, (c,), generator=generator)
        rows["completion_mask"][r, :c] = 1
    # per-token advantages (rows, tokens), as the trainer passes them; they vary along a row on purpose
    rows["advantages"] = per_token([1.0, -0.5, 0.3, 2.0, -1.2], rows["completion_mask"]) * (
        1.0 + 0.1 * torch.arange(C, dtype=torch.float32)
    )
    rows["num_items_in_batch"] = rows["completion_mask"].sum()
    rows["num_rows_in_batch"] = torch.tensor(5)
    return rows, generator


def per_token(values, completion_mask):
    """One value per row written on each of the row's completion tokens (0 on padding)."""
    return torch.tensor(values, dtype=torch.float32)[:, None] * completion_mask


def independent_logits(model, rows):
    ids = torch.cat([rows["prompt_ids"], rows["completion_ids"]], 1)
    mask = torch.cat([rows["prompt_mask"], rows["completion_mask"]], 1)
    C = rows["completion_ids"].size(1)
    return model(input_ids=ids, attention_mask=mask).logits[:, -C - 1 : -1] / TEMPERATURE


def independent_logps(model, rows):
    """log softmax(logits / T) of each completion token, from a plain forward of the model."""
    ids = torch.cat([rows["prompt_ids"], rows["completion_ids"]], 1)
    mask = torch.cat([rows["prompt_mask"], rows["completion_mask"]], 1)
    C = rows["completion_ids"].size(1)
    logits = model(input_ids=ids, attention_mask=mask).logits[:, -C - 1 : -1] / TEMPERATURE
    return torch.log_softmax(logits.float(), -1).gather(-1, rows["completion_ids"][..., None]).squeeze(-1)


def hand_loss(loss_type, logps, old_logps, advantages, mask):
    """TRL's clipped surrogate, aggregated as each loss type defines it."""
    ratio = torch.exp(logps - old_logps)
    clipped = torch.clamp(ratio, 1 - EPS_LOW, 1 + EPS_HIGH)
    A = advantages if advantages.dim() == 2 else advantages[:, None]
    token_loss = -torch.min(ratio * A, clipped * A)
    if loss_type == "grpo":  # mean over sequences of each sequence's token mean
        return ((token_loss * mask).sum(1) / mask.sum(1)).mean()
    if loss_type in ("dapo", "bnpo"):  # token mean over the whole batch
        return (token_loss * mask).sum() / mask.sum()
    if loss_type == "dr_grpo":  # sum over tokens / (rows x max_completion_length)
        return (token_loss * mask).sum() / (mask.size(0) * MAX_COMPLETION)
    raise AssertionError(loss_type)


@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "dr_grpo", "bnpo"])
def test_micro_batched_loss_equals_the_hand_computed_trl_formula(tiny_model, tiny_tokenizer, tmp_path, loss_type):
    trainer = make_trainer(tiny_model, tiny_tokenizer, tmp_path, loss_type, micro_batch_rows=2)
    rows, generator = hand_built_batch(len(tiny_tokenizer), tiny_tokenizer.pad_token_id)
    with torch.no_grad():
        current = independent_logps(trainer.model, rows)
    # An older policy 0.3 nats away on each token, so some ratios leave [1 - eps_low, 1 + eps_high].
    rows["old_per_token_logps"] = current + (torch.rand(current.shape, generator=generator) - 0.5) * 0.6
    mask = rows["completion_mask"].float()
    ratio = torch.exp(current - rows["old_per_token_logps"])[mask.bool()]
    assert ((ratio < 1 - EPS_LOW) | (ratio > 1 + EPS_HIGH)).any()  # the clip is exercised

    micro = trainer.micro_batches(rows)
    assert len(micro) == 3  # 5 rows, 2 per micro-batch
    total = sum(trainer.compute_loss(trainer.model, batch) * weight for batch, weight in micro)
    expected = hand_loss(loss_type, current, rows["old_per_token_logps"], rows["advantages"], mask)
    torch.testing.assert_close(total, expected, atol=LOSS_ATOL, rtol=0)


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo", "luspo", "vespo"])
def test_per_token_advantages_work_with_every_trl_loss_type(tiny_model, tiny_tokenizer, tmp_path, loss_type):
    """(rows, tokens) advantages holding a row's value on its tokens give TRL's loss with (rows,) advantages,
    and the micro-batched sum equals the whole-batch loss."""
    trainer = make_trainer(tiny_model, tiny_tokenizer, tmp_path, loss_type, micro_batch_rows=2)
    rows, generator = hand_built_batch(len(tiny_tokenizer), tiny_tokenizer.pad_token_id)
    with torch.no_grad():
        current = independent_logps(trainer.model, rows)
    rows["old_per_token_logps"] = current + (torch.rand(current.shape, generator=generator) - 0.5) * 0.6
    per_row = torch.tensor([1.0, -0.5, 0.3, 2.0, -1.2])
    rows["advantages"] = per_row[:, None] * rows["completion_mask"]
    whole_2d = trainer.compute_loss(trainer.model, rows)
    whole_1d = trainer.compute_loss(trainer.model, {**rows, "advantages": per_row})
    # the same forward on the same batch, the same value on every token of a row: equal by construction
    assert torch.equal(whole_2d, whole_1d)
    assert whole_2d.abs() > 0
    micro = sum(trainer.compute_loss(trainer.model, batch) * weight for batch, weight in trainer.micro_batches(rows))
    if loss_type in ("grpo", "bnpo", "dr_grpo", "dapo"):  # the rest aggregate per sequence in their own ways
        expected = hand_loss(
            loss_type, current, rows["old_per_token_logps"], rows["advantages"], rows["completion_mask"]
        )
        torch.testing.assert_close(micro, expected, atol=LOSS_ATOL, rtol=0)
    torch.testing.assert_close(micro, whole_2d, atol=LOSS_ATOL, rtol=0)


@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "bnpo"])
def test_entropy_bonus_is_exact_over_micro_batches(tiny_model, tiny_tokenizer, tmp_path, loss_type):
    """loss = TRL policy loss - c * (token-mean entropy of the WHOLE batch), whatever the micro-batching."""
    coef = 0.37
    trainer = make_trainer(tiny_model, tiny_tokenizer, tmp_path, loss_type, 2, entropy_control="constant")
    trainer.set_update_entropy_coef(coef)  # what the controller returned for this update
    rows, _ = hand_built_batch(len(tiny_tokenizer), tiny_tokenizer.pad_token_id)
    rows["advantages"][2] = 0.0  # zero-advantage rows still carry entropy: they must not be skipped
    with torch.no_grad():
        logits = independent_logits(trainer.model, rows)
    current = torch.log_softmax(logits.float(), -1).gather(-1, rows["completion_ids"][..., None]).squeeze(-1)
    entropy = torch.distributions.Categorical(logits=logits.float()).entropy()
    mask = rows["completion_mask"].float()
    micro = trainer.micro_batches(rows)
    assert sum(batch["completion_ids"].size(0) for batch, _ in micro) == 5
    total = 0.0
    for batch, weight in micro:
        trainer.entropy_coef = micro_batch_entropy_coef(coef, batch, weight, rows, processes=1)
        total = total + trainer.compute_loss(trainer.model, batch) * weight
    expected = (
        hand_loss(loss_type, current, current, rows["advantages"], mask) - coef * (entropy * mask).sum() / mask.sum()
    )
    # LOSS_ATOL plus the bonus: 0.37 x a token-mean entropy (~7 nats, a sum over ~1000 probabilities) that moves by
    # a few ulp(8) ~ 2e-6 between the two batch shapes: 1e-6 more, within LOSS_ATOL's margin
    torch.testing.assert_close(total, expected, atol=LOSS_ATOL, rtol=0)


@pytest.mark.parametrize("loss_type", ["grpo", "dapo"])
def test_micro_batching_does_not_change_the_gradient(tiny_model_dir, tiny_tokenizer, tmp_path, loss_type):
    from transformers import AutoModelForCausalLM

    grads = []
    for size in (1, 2, 100):
        trainer = make_trainer(
            AutoModelForCausalLM.from_pretrained(tiny_model_dir), tiny_tokenizer, tmp_path, loss_type, size
        )
        rows, _ = hand_built_batch(len(tiny_tokenizer), tiny_tokenizer.pad_token_id)
        trainer.model.zero_grad()
        for batch, weight in trainer.micro_batches(rows):
            (trainer.compute_loss(trainer.model, batch) * weight).backward()
        grads.append(torch.cat([p.grad.flatten() for p in trainer.model.parameters() if p.grad is not None]))
    assert grads[0].abs().sum() > 0
    # 5 rows split 1, 2 or 5 per pass (GRAD_TOLERANCE: float32 sums in another order)
    torch.testing.assert_close(grads[0], grads[2], **GRAD_TOLERANCE)
    torch.testing.assert_close(grads[1], grads[2], **GRAD_TOLERANCE)


def test_batch_must_hold_whole_groups(tmp_path):
    with pytest.raises(ValueError, match="multiple of num_generations"):
        AgentRLConfig(output_dir=str(tmp_path), per_device_train_batch_size=6, num_generations=4, use_cpu=True)
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        AgentRLConfig(output_dir=str(tmp_path), gradient_accumulation_steps=2, use_cpu=True)


@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "bnpo"])
def test_skipping_zero_advantage_rows_is_exact(tiny_model_dir, tiny_tokenizer, tmp_path, loss_type, monkeypatch):
    """Rows whose advantage is 0 are not run (beta = 0, no entropy bonus), and the gradient is unchanged."""
    from transformers import AutoModelForCausalLM

    grads, forwarded = [], []
    for skip in (True, False):
        trainer = make_trainer(
            AutoModelForCausalLM.from_pretrained(tiny_model_dir), tiny_tokenizer, tmp_path, loss_type, 2
        )
        monkeypatch.setattr(trainer, "_zero_advantage_rows_are_inert", lambda skip=skip: skip)
        rows, _ = hand_built_batch(len(tiny_tokenizer), tiny_tokenizer.pad_token_id)
        rows["advantages"] = per_token([0.0, -0.5, 0.0, 2.0, 0.0], rows["completion_mask"])
        trainer.model.zero_grad()
        micro = trainer.micro_batches(rows)
        forwarded.append(sum(batch["completion_ids"].size(0) for batch, _ in micro))
        for batch, weight in micro:
            (trainer.compute_loss(trainer.model, batch) * weight).backward()
        grads.append(torch.cat([p.grad.flatten() for p in trainer.model.parameters() if p.grad is not None]))
    assert forwarded == [2, 5]
    torch.testing.assert_close(grads[0], grads[1], **GRAD_TOLERANCE)  # the rows run in other micro-batches


def test_equal_episode_weight_by_hand():
    from agentrl.algorithms import equal_episode_weights

    lengths = torch.tensor([2, 4, 6])  # mean 4
    weights = equal_episode_weights(lengths)
    # float32, one division each (mean / length): within half an ulp (<= 1.2e-7 relative) of the exact values;
    # assert_close's float32 default (rtol 1.3e-6, atol 1e-5) covers that
    torch.testing.assert_close(weights, torch.tensor([2.0, 1.0, 2.0 / 3.0]))
    torch.testing.assert_close(weights * lengths, torch.tensor([4.0, 4.0, 4.0]))  # same total per episode


def test_context_parallelism_is_refused_before_training(tmp_path):
    from accelerate.parallelism_config import ParallelismConfig

    with pytest.raises(ValueError, match=r"context parallelism \(cp_size > 1\): not supported"):
        AgentRLConfig(output_dir=str(tmp_path), parallelism_config=ParallelismConfig(cp_size=2), use_cpu=True)


def test_torch_empty_cache_steps_is_kept(tiny_model, tiny_tokenizer, tmp_path, monkeypatch):
    """HF's training_step empties the device cache every torch_empty_cache_steps updates; agentrl's does too."""
    import agentrl.trainer

    emptied = []
    monkeypatch.setattr(agentrl.trainer, "clear_device_cache", lambda: emptied.append(1))
    trainer = make_trainer(tiny_model, tiny_tokenizer, tmp_path, "grpo", 4, max_steps=4, torch_empty_cache_steps=2)
    trainer.train()
    assert trainer.state.global_step == 4 and len(emptied) == 2  # HF's rule: at global_step 0 and 2 (of 0..3)
