"""Credit assignment inside AgentGRPOTrainer: the order the pieces compose in, dynamic sampling, StarPO-S."""

from __future__ import annotations

import math

import pytest
import torch

from agentrl.algorithms import CreditBatch, compute_advantages, empg_advantages
from agentrl.rollout.episode import Episode, Step
from agentrl.training.credit import step_advantages
from tests.test_trainer_loss import make_trainer


def step(reward, entropy=0.5, anchor="s0", response_length=3, won=False, prompt_ids=(5, 6, 7), response_ids=None):
    response_ids = [9] * response_length if response_ids is None else list(response_ids)
    return Step(
        prompt_ids=list(prompt_ids),
        response_ids=response_ids,
        logprobs=[-0.1] * len(response_ids),
        entropies=[entropy] * len(response_ids),
        response="r",
        action="a",
        format_valid=True,
        action_valid=True,
        env_reward=reward,
        reward=reward,
        observation=f"obs {anchor}",
        anchor=anchor,
        truncated=False,
    )


def episode(task, group, *steps, won=False):
    return Episode(task_id=task, group_id=group, steps=list(steps), won=won)


def step_advantages_of(trainer, episodes):
    """The trainer's credit assignment of `episodes` (its reward functions, its settings)."""
    return step_advantages(
        episodes,
        trainer._episode_returns(episodes),
        trainer.args,
        max_completion_length=trainer.max_completion_length,
        scale_rewards=trainer.scale_rewards,
        ranks=trainer.ranks,
    )


def test_grpo_equal_weight_and_overlong_by_hand(tiny_model, tiny_tokenizer, tmp_path):
    trainer = make_trainer(
        tiny_model,
        tiny_tokenizer,
        tmp_path,
        "dapo",
        8,
        scale_rewards="none",
        equal_episode_weight=True,
        overlong_buffer_length=4,  # max_completion_length 8: free up to 4 tokens, -0.25 per token beyond
    )
    episodes = [
        episode("t", 0, step(0.0), step(1.0), won=True),  # return 1
        episode("t", 0, step(0.0, response_length=6)),  # return 0 - 0.5 (6 tokens: (4 - 6) / 4)
    ]
    advantages, metrics = step_advantages_of(trainer, episodes)
    # returns (1, -0.5), group mean 0.25 -> (0.75, -0.75); lengths (2, 1), mean 1.5 -> weights (0.75, 1.5)
    torch.testing.assert_close(advantages, torch.tensor([0.5625, 0.5625, -1.125]))
    assert metrics["overlong/penalty_mean"] == pytest.approx(-0.5 / 3)
    assert metrics["overlong/penalised_fraction"] == pytest.approx(1 / 3)


def test_gigpo_then_empg_then_episode_weight(tiny_model, tiny_tokenizer, tmp_path):
    """The documented order: base estimator -> EMPG over the batch -> equal episode weight."""
    trainer = make_trainer(
        tiny_model,
        tiny_tokenizer,
        tmp_path,
        "dapo",
        8,
        advantage_estimator="gigpo",
        gamma=0.9,
        empg=True,
        empg_zeta=0.3,
        equal_episode_weight=True,
    )
    episodes = [
        episode("t", 0, step(0.0, 0.9, "A"), step(1.0, 0.1, "B"), won=True),
        episode("t", 0, step(0.0, 0.4, "A"), step(0.0, 1.2, "C"), step(0.0, 0.3, "B")),
        episode("u", 1, step(1.0, 0.2, "A"), won=True),  # the same anchor text in another task group
        episode("u", 1, step(0.0, 0.7, "A")),
    ]
    advantages, metrics = step_advantages_of(trainer, episodes)
    # anchors: A -> 0, B -> 1, C -> 2 (in order of first sight)
    batch = CreditBatch(
        returns=torch.tensor([1.0, 0.0, 1.0, 0.0]),
        group_ids=torch.tensor([0, 0, 1, 1]),
        step_episode=torch.tensor([0, 0, 1, 1, 1, 2, 3]),
        step_index=torch.tensor([0, 1, 0, 1, 2, 0, 0]),
        step_rewards=torch.tensor([0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
        step_anchors=torch.tensor([0, 1, 0, 2, 1, 0, 0]),
    )
    base = compute_advantages("gigpo", batch, gamma=0.9, scale_rewards="group")
    modulated = empg_advantages(
        base, torch.tensor([0.9, 0.1, 0.4, 1.2, 0.3, 0.2, 0.7]), batch.step_episode, batch.step_index, zeta=0.3
    )
    weights = torch.tensor([1.75 / 2, 1.75 / 2, 1.75 / 3, 1.75 / 3, 1.75 / 3, 1.75, 1.75])  # mean length 7 / 4
    torch.testing.assert_close(advantages, modulated * weights)
    # 6 of the 7 steps share their (task group, anchor) with another rollout: A and B in group 0, A in group 1
    assert metrics["gigpo/shared_anchor_fraction"] == pytest.approx(6 / 7)
    assert metrics["empg/g_mean"] == pytest.approx(1.0)
    assert metrics["empg/f_min"] == 0.0 and metrics["empg/f_max"] <= 1.0


def scripted_collect(trainer, wins_by_task):
    """Replace the rollout with scripted episodes: for task t, the i-th rollout wins iff wins_by_task[t][i]."""
    calls = []

    def collect(task_ids, group_ids):
        calls.append(list(task_ids))
        seen = {}
        out = []
        for task, group in zip(task_ids, group_ids, strict=True):
            index = seen.setdefault(task, [])
            won = wins_by_task(task, len(index))
            index.append(won)
            out.append(episode(task, group, step(float(won)), won=won))
        return out

    trainer.collect_episodes = collect
    return calls


def test_dynamic_sampling_fills_the_batch_with_informative_groups(tiny_model, tiny_tokenizer, tmp_path):
    trainer = make_trainer(
        tiny_model, tiny_tokenizer, tmp_path, "dapo", 8, dynamic_sampling=True, max_generation_rounds=4
    )
    train_ids = trainer._train_task_ids
    informative = {task for i, task in enumerate(train_ids) if i % 3 == 0}  # a third of the tasks split their group
    calls = scripted_collect(trainer, lambda task, i: task in informative and i == 0)
    first = [t for t in train_ids if t not in informative][:2]  # the sampler's batch: 2 uninformative groups
    inputs = [{"prompt": task} for task in first for _ in range(2)]
    rows = trainer._generate_and_score_completions(inputs)
    metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    rounds = int(metrics["dapo/generation_rounds"])
    assert rounds == len(calls) >= 2 and rounds <= 4
    assert metrics["dapo/kept_groups"] == 2 and metrics["dapo/filled_fraction"] == 1.0
    assert metrics["dapo/dropped_groups"] == 2 * rounds - sum(
        sum(task in informative for task in call[::2]) for call in calls
    )
    # exactly 2 groups (4 episodes of one step) train, every one with a non-zero advantage
    assert rows["completion_ids"].size(0) == 4
    assert rows["advantages"].ne(0).any(1).all()
    # the rollout metrics describe the sampler's batch (first round): nobody won there
    assert metrics["success_rate"] == 0.0


def test_dynamic_sampling_gives_up_after_max_rounds(tiny_model, tiny_tokenizer, tmp_path):
    trainer = make_trainer(
        tiny_model, tiny_tokenizer, tmp_path, "dapo", 8, dynamic_sampling=True, max_generation_rounds=3
    )
    calls = scripted_collect(trainer, lambda task, i: False)  # nothing is ever informative
    task = trainer._train_task_ids[0]
    rows = trainer._generate_and_score_completions([{"prompt": task}] * 4)
    metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    assert len(calls) == 3 and metrics["dapo/generation_rounds"] == 3
    assert metrics["dapo/kept_groups"] == 0 and metrics["dapo/dropped_groups"] == 6
    assert rows["completion_ids"].size(0) == 0  # an empty update, not a crash
    assert math.isfinite(float(trainer.training_step(trainer.model, [{"prompt": task}] * 4)))


def test_starpo_keeps_the_highest_variance_groups(tiny_model, tiny_tokenizer, tmp_path):
    trainer = make_trainer(
        tiny_model, tiny_tokenizer, tmp_path, "dapo", 8, per_device_train_batch_size=8, starpo_keep_fraction=0.25
    )
    tasks = trainer._train_task_ids[:4]
    # group 2 splits 1 / 0 (std 0.71); the other groups are all-equal (std 0): only group 2 is kept
    scripted_collect(trainer, lambda task, i: task == tasks[2] and i == 0)
    rows = trainer._generate_and_score_completions([{"prompt": t} for t in tasks for _ in range(2)])
    assert rows["completion_ids"].size(0) == 2
    assert trainer._metrics["train"]["starpo/kept_groups"][-1] == 1.0
