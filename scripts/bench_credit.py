"""Cost of credit assignment per update: each estimator (and + EMPG) on a benchmark-protocol-sized batch.

    python scripts/bench_credit.py [--tasks 16] [--group 8] [--steps 50]

Prints milliseconds per call (median of repeats) for a batch of tasks x group episodes of `steps` steps
with random rewards, entropies and anchors, next to the size of the batch. Compare with an update's
time/train_s in metrics.jsonl (seconds).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from agentrl.algorithms import CreditBatch, compute_advantages, empg_advantages


def make_batch(tasks: int, group: int, steps: int, seed: int = 0) -> tuple[CreditBatch, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    episodes = tasks * group
    lengths = torch.randint(max(1, steps // 4), steps + 1, (episodes,), generator=generator)
    step_episode = torch.repeat_interleave(torch.arange(episodes), lengths)
    step_index = torch.cat([torch.arange(int(n)) for n in lengths])
    rewards = (torch.rand(step_episode.numel(), generator=generator) < 0.02).float()
    batch = CreditBatch(
        returns=torch.zeros(episodes).index_add_(0, step_episode, rewards),
        group_ids=torch.arange(episodes) // group,
        step_episode=step_episode,
        step_index=step_index,
        step_rewards=rewards,
        step_anchors=torch.randint(0, 4 * steps, (step_episode.numel(),), generator=generator),
    )
    return batch, torch.rand(step_episode.numel(), generator=generator)


def timed(function, repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--steps", type=int, default=50)
    options = parser.parse_args()
    batch, entropies = make_batch(options.tasks, options.group, options.steps)
    print(f"batch: {batch.returns.numel()} episodes, {batch.step_episode.numel()} steps")
    for name in ("grpo", "mean_centred", "rloo", "gigpo"):
        base = timed(lambda name=name: compute_advantages(name, batch))
        advantages = compute_advantages(name, batch)
        with_empg = timed(
            lambda name=name: empg_advantages(
                compute_advantages(name, batch), entropies, batch.step_episode, batch.step_index
            )
        )
        assert torch.isfinite(advantages).all()
        print(f"{name:8s} {base:8.2f} ms   + empg {with_empg:8.2f} ms")


if __name__ == "__main__":
    main()
