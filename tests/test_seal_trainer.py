"""SEAL inside AgentGRPOTrainer: hidden states from the hook, the head on the policy, exact loss scaling, LoRA.

The episodes are scripted (no generation) and every return is 0, so every advantage is 0 and TRL's policy loss
adds exactly nothing: any gradient comes from SEAL alone.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from agentrl.envs import make_env
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from agentrl.config import AgentRLConfig
from agentrl.models import lora_config
from agentrl.rollout.episode import Episode
from agentrl.seal_capture import HEAD_NAME, attach_seal_head, base_model
from agentrl.trainer import AgentGRPOTrainer
from tests.test_credit_trainer import step

GROUP = 4  # rollouts per task


def scripted_episodes(task_ids, group_ids, wins, vocab=200, steps_of=lambda n: 1 + n % 2, rewards_follow_wins=False):
    """Episode n: `steps_of(n)` steps of random tokens (seeded by n), won = wins[n]; return 0, or won."""
    episodes = []
    for n, (task, group) in enumerate(zip(task_ids, group_ids, strict=True)):
        generator = torch.Generator().manual_seed(1000 + n)
        steps = []
        count = steps_of(n)
        for number in range(count):
            reward = float(wins[n]) if rewards_follow_wins and number == count - 1 else 0.0
            prompt = torch.randint(3, vocab, (5,), generator=generator).tolist()
            response = torch.randint(3, vocab, (4,), generator=generator).tolist()
            steps.append(step(reward, entropy=1.0, anchor=None, prompt_ids=prompt, response_ids=response))
        episodes.append(Episode(task_id=task, group_id=group, steps=steps, won=bool(wins[n])))
    return episodes


def seal_trainer(model, tokenizer, tmp_path, wins=None, micro_batch_rows=8, use_peft=False, **overrides):
    """A trainer (SEAL on unless overridden) whose rollouts are `scripted_episodes`, and its inputs."""
    wins = WINS if wins is None else wins
    options = {
        "output_dir": str(tmp_path),
        "loss_type": "grpo",
        "per_device_train_batch_size": len(wins),
        "num_generations": GROUP,
        "max_completion_length": 8,
        "micro_batch_rows": micro_batch_rows,
        "bf16": False,
        "use_cpu": True,
        "gradient_checkpointing": False,
        "report_to": [],
        "max_steps": 1,
        "seal": True,
    }
    args = AgentRLConfig(**{**options, **overrides})
    trainer = AgentGRPOTrainer(
        model=model,
        args=args,
        env_factory=lambda: make_env("household-easy"),
        processing_class=tokenizer,
        peft_config=lora_config(args) if use_peft else None,
    )
    trainer.model.train()
    trainer.collect_episodes = lambda task_ids, group_ids: scripted_episodes(task_ids, group_ids, wins, len(tokenizer))
    tasks = trainer._train_task_ids[: len(wins) // GROUP]
    return trainer, [{"prompt": task} for task in tasks for _ in range(GROUP)]


def last(trainer, name):
    return trainer._metrics["train"][name][-1]


def backbone_grad(trainer) -> float:
    """Gradient mass on the decoder layers (the SEAL head has `layers.` in its names too: left out)."""
    model = base_model(trainer.model)
    return sum(
        p.grad.abs().sum().item()
        for n, p in model.named_parameters()
        if "layers." in n and HEAD_NAME not in n and p.grad is not None
    )


WINS = [1, 0, 1, 0, 0, 1, 1, 0]


def independent_pooled(trainer, rows):
    """Per episode: the masked mean of the final hidden states over its response tokens, from the plain
    transformers forward (output_hidden_states), not the trainer's hook; and the episode's label."""
    model = base_model(trainer.model)
    ids = torch.cat([rows["prompt_ids"], rows["completion_ids"]], 1)
    attention = torch.cat([rows["prompt_mask"], rows["completion_mask"]], 1)
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=attention, output_hidden_states=True).hidden_states[-1]
    hidden = hidden[:, -rows["completion_ids"].size(1) :]
    pooled, labels = [], []
    for episode in rows["episode_index"].unique():
        rows_of = rows["episode_index"] == episode
        mask = rows["completion_mask"][rows_of].float()
        pooled.append((mask[..., None] * hidden[rows_of]).sum((0, 1)) / mask.sum())
        labels.append(float(WINS[int(episode)]))
    return torch.stack(pooled), torch.tensor(labels)


def independent_seal_loss(trainer, rows) -> float:
    """BCE of the head on `independent_pooled`, averaged over the episodes."""
    z, labels = independent_pooled(trainer, rows)
    with torch.no_grad():
        logits = getattr(base_model(trainer.model), HEAD_NAME)(z)
    return float(F.binary_cross_entropy_with_logits(logits, labels))


def test_the_logged_loss_is_the_bce_of_the_head_on_pooled_final_hidden_states(tiny_model, tiny_tokenizer, tmp_path):
    trainer, inputs = seal_trainer(tiny_model, tiny_tokenizer, tmp_path, WINS, micro_batch_rows=3)
    rows = trainer._generate_and_score_completions(inputs)
    assert rows["advantages"].abs().sum() == 0  # only SEAL can move anything
    trainer.training_step(trainer.model, inputs)
    # float32 forwards of other batch shapes: hidden states (~1 in size after the final norm, 64 wide, 2 layers)
    # agree to ~1e-6, and the pooled means and the 3-layer head keep that scale: the BCE (~0.7) to ~1e-6 = rel 1.4e-6
    assert last(trainer, "seal/loss") == pytest.approx(independent_seal_loss(trainer, rows), rel=1e-5)
    assert last(trainer, "seal/units") == len(WINS) and last(trainer, "seal/pos_fraction") == 0.5
    assert last(trainer, "seal/one_class") == 0.0


def test_micro_batching_does_not_change_the_seal_gradient(tiny_model_dir, tiny_tokenizer, tmp_path):
    """Episodes have at most 2 steps, so micro_batch_rows 2 and 16 pool the same units: equal gradients."""
    grads = []
    for rows_per_pass in (2, 16):
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        trainer, inputs = seal_trainer(model, tiny_tokenizer, tmp_path / str(rows_per_pass), WINS, rows_per_pass)
        trainer.training_step(trainer.model, inputs)
        grads.append({n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and any(HEAD_NAME in n for n in grads[0])
    # float32 sums in another order: a coordinate adds <= ~60 terms (units x tokens) of size <= ~0.1 (the largest
    # gradient entry is ~0.01): <= 60 x 6e-8 x 0.1 = 3.6e-7 (measured ~5e-9). Relative tolerances do not fit sums of
    # cancelling terms.
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=0, atol=1e-6)
    assert sum(g.abs().sum() for g in grads[0].values()) > 0


def test_training_only_with_seal_separates_the_classes(tiny_model, tiny_tokenizer, tmp_path):
    trainer, inputs = seal_trainer(tiny_model, tiny_tokenizer, tmp_path, WINS, learning_rate=3e-3, seal_coef=1.0)
    trainer.create_optimizer()
    for _ in range(25):
        trainer.training_step(trainer.model, inputs)
        trainer.optimizer.step()
        trainer.optimizer.zero_grad()
    accuracy, cosine = trainer._metrics["train"]["seal/accuracy"], trainer._metrics["train"]["seal/centroid_cosine"]
    assert accuracy[-1] == 1.0 and accuracy[0] < 1.0
    assert cosine[-1] < cosine[0] - 0.05, cosine
    losses = trainer._metrics["train"]["seal/loss"]
    assert losses[-1] < 0.1 * losses[0]


@pytest.mark.parametrize("use_peft", [False, True])
def test_seal_gradient_reaches_the_backbone(tiny_model_dir, tiny_tokenizer, tmp_path, use_peft):
    for seal in (True, False):
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        trainer, inputs = seal_trainer(model, tiny_tokenizer, tmp_path / str(seal), seal=seal, use_peft=use_peft)
        assert hasattr(trainer.model, "peft_config") == use_peft
        trainer.training_step(trainer.model, inputs)
        if seal:
            assert backbone_grad(trainer) > 0  # only SEAL has a gradient here (LoRA: the adapter's A/B)
        else:
            assert backbone_grad(trainer) == 0.0  # the control: without SEAL this batch moves nothing


def test_seal_head_only_trains_the_head_and_leaves_the_backbone_alone(tiny_model_dir, tiny_tokenizer, tmp_path):
    """The ablation: the same SEAL loss, its gradient stopped before the head (this batch's policy loss is 0)."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    trainer, inputs = seal_trainer(model, tiny_tokenizer, tmp_path, seal=True, seal_head_only=True)
    trainer.training_step(trainer.model, inputs)
    head = getattr(base_model(trainer.model), HEAD_NAME)
    assert backbone_grad(trainer) == 0.0
    assert sum(p.grad.abs().sum().item() for p in head.parameters()) > 0
    assert last(trainer, "seal/loss") > 0


def test_centroid_cosine_is_logged_with_seal_off_and_matches_an_independent_computation(
    tiny_model, tiny_tokenizer, tmp_path
):
    trainer, inputs = seal_trainer(tiny_model, tiny_tokenizer, tmp_path, seal=False, micro_batch_rows=3)
    trainer.collect_episodes = lambda task_ids, group_ids: scripted_episodes(
        task_ids, group_ids, WINS, len(tiny_tokenizer), rewards_follow_wins=True
    )
    rows = trainer._generate_and_score_completions(inputs)
    assert rows["advantages"].ne(0).any(1).all()  # every row is forwarded (none skipped)
    trainer.training_step(trainer.model, inputs)
    z, labels = independent_pooled(trainer, rows)
    mu_pos, mu_neg = z[labels == 1].mean(0), z[labels == 0].mean(0)
    expected = float(mu_pos @ mu_neg / (mu_pos.norm() * mu_neg.norm()))
    assert last(trainer, "seal/centroid_cosine") == pytest.approx(expected, rel=1e-5)  # as the loss above: ~1e-6
    assert last(trainer, "seal/pos_fraction") == 0.5
    assert "seal/loss" not in trainer._metrics["train"]  # nothing trained


def test_a_one_class_batch_adds_exactly_nothing(tiny_model, tiny_tokenizer, tmp_path):
    trainer, inputs = seal_trainer(tiny_model, tiny_tokenizer, tmp_path, wins=[0] * 8, micro_batch_rows=3)
    loss = trainer.training_step(trainer.model, inputs)
    assert math.isfinite(float(loss)) and float(loss) == 0.0
    assert last(trainer, "seal/one_class") == 1.0 and last(trainer, "seal/loss") == 0.0
    grads = [p.grad for p in trainer.model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() and not g.any() for g in grads)  # the head was reached
    assert "seal/centroid_cosine" not in trainer._metrics["train"]  # undefined for one class, not NaN


def test_the_head_is_saved_with_the_lora_adapter_and_loads_back(tiny_model_dir, tiny_tokenizer, tmp_path):
    from peft import PeftModel

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    trainer, inputs = seal_trainer(model, tiny_tokenizer, tmp_path / "run", use_peft=True, learning_rate=1e-2)
    trainer.create_optimizer()
    trainer.training_step(trainer.model, inputs)
    trainer.optimizer.step()
    trainer.save_model(str(tmp_path / "adapter"))
    saved = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    assert any(HEAD_NAME in key for key in saved), sorted(saved)[:5]

    trained = {n: p.detach().clone() for n, p in getattr(base_model(trainer.model), HEAD_NAME).named_parameters()}
    fresh = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    attach_seal_head(fresh, num_layers=3, seed=12345)  # a different initialisation, overwritten by the load
    loaded = PeftModel.from_pretrained(fresh, tmp_path / "adapter")
    reloaded = dict(getattr(loaded.get_base_model(), HEAD_NAME).named_parameters())
    trained_keys = {n for n in trained if "modules_to_save" in n}
    assert trained_keys and {n for n in reloaded if "modules_to_save" in n} == trained_keys
    for name in trained_keys:
        torch.testing.assert_close(reloaded[name], trained[name], rtol=0, atol=0)  # saved and loaded bit for bit
    original = {n: p for n, p in trained.items() if "original_module" in n}  # the frozen initial copy
    assert any(
        not torch.equal(original[n], trained[n.replace("original_module", "modules_to_save.default")]) for n in original
    )  # the head did train


def test_a_full_fine_tuned_model_saves_its_head(tiny_model, tiny_tokenizer, tmp_path):
    trainer, inputs = seal_trainer(tiny_model, tiny_tokenizer, tmp_path / "run")
    trainer.save_model(str(tmp_path / "final"))
    saved = load_file(tmp_path / "final" / "model.safetensors")
    head = getattr(trainer.model, HEAD_NAME)
    for name, parameter in head.named_parameters():
        torch.testing.assert_close(saved[f"{HEAD_NAME}.{name}"], parameter.detach())


@pytest.mark.parametrize("layer", [-1, 0])
def test_gradient_checkpointing_and_the_layer_choice(tiny_model_dir, tiny_tokenizer, tmp_path, layer):
    """Checkpointing recomputes layers in backward (the hook must not fire twice): same loss, same gradient."""
    results = []
    for checkpointing in (False, True):
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        trainer, inputs = seal_trainer(
            model,
            tiny_tokenizer,
            tmp_path / str(checkpointing),
            seal_layer=layer,
            gradient_checkpointing=checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
        trainer.training_step(trainer.model, inputs)
        head = getattr(base_model(trainer.model), HEAD_NAME)
        results.append((last(trainer, "seal/loss"), backbone_grad(trainer), head.layers[0].weight.grad.clone()))
    # checkpointing recomputes the same operations on the same shapes in backward: equal bit for bit
    assert results[0][0] == results[1][0]
    assert results[0][1] == results[1][1] and results[0][1] > 0
    assert torch.equal(results[0][2], results[1][2])


def test_a_decoder_layer_outside_the_model_is_named(tiny_model, tiny_tokenizer, tmp_path):
    with pytest.raises(ValueError, match="seal_layer 7: the model has 2 decoder layers"):
        seal_trainer(tiny_model, tiny_tokenizer, tmp_path, seal_layer=7)


def test_label_rules_and_units(tiny_model, tiny_tokenizer, tmp_path):
    """4 episodes of 1, 2, 1, 2 steps (one group), returns 0/1 by win; micro_batch_rows 1 splits 2-step episodes."""
    wins = [1, 0, 0, 1]
    trainer, inputs = seal_trainer(tiny_model, tiny_tokenizer, tmp_path, wins=wins, micro_batch_rows=1)
    trainer.collect_episodes = lambda task_ids, group_ids: scripted_episodes(
        task_ids, group_ids, wins, len(tiny_tokenizer), rewards_follow_wins=True
    )
    rows = trainer._generate_and_score_completions(inputs)
    # rows: e0s0, e1s0, e1s1, e2s0, e3s0, e3s1; segments of 1 step -> every row is its own unit
    assert rows["seal_units"].tolist() == [0, 1, 2, 3, 4, 5]
    assert rows["seal_labels"].tolist() == [1, 0, 0, 0, 1, 1]
    assert int(rows["seal_units_in_batch"]) == 6 and bool(rows["seal_both_classes"])

    trainer.args.micro_batch_rows = 2
    rows = trainer._generate_and_score_completions(inputs)
    assert rows["seal_units"].tolist() == [0, 1, 1, 2, 3, 3]  # whole trajectories

    # advantage rule: returns (1, 0, 0, 1), group-normalised; the episode's mean step advantage > 0
    trainer.args.seal_label = "advantage"
    rows = trainer._generate_and_score_completions(inputs)
    assert rows["seal_labels"].tolist() == [1, 0, 0, 0, 1, 1]
    trainer.args.seal_label, trainer.args.seal_label_threshold = "reward", 1.5  # nobody's return exceeds 1.5
    rows = trainer._generate_and_score_completions(inputs)
    assert rows["seal_labels"].tolist() == [0] * 6 and not bool(rows["seal_both_classes"])
