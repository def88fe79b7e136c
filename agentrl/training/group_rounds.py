"""Which groups of rollouts an update trains on: group ids, DAPO dynamic sampling, StarPO-S.

A group is the `group_size` episodes of one task on one rank. Group ids are unique over ranks and sampling
rounds, so the estimators (agentrl.algorithms) can normalise within a group from any rank's view.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import torch

from agentrl.algorithms import informative_groups, top_variance_groups
from agentrl.rollout.episode import Episode
from agentrl.training.ranks import Ranks


def group_ids(count: int, group_size: int, generation_round: int, ranks: Ranks) -> list[int]:
    """Global group ids of this rank's `count` episodes: unique over ranks and generation rounds."""
    local_groups = count // group_size
    first = (generation_round * ranks.count + ranks.index) * local_groups
    return [first + index // group_size for index in range(count)]


def check_whole_groups(task_ids: Sequence[str], group_size: int) -> None:
    for start in range(0, len(task_ids), group_size):
        if len(set(task_ids[start : start + group_size])) != 1:
            raise RuntimeError("a rollout group mixes tasks: the sampler must repeat each task num_generations times")


def extra_task_ids(
    train_task_ids: Sequence[str], groups: int, group_size: int, stream: int, seed: int, ranks: Ranks
) -> list[str]:
    """Fresh training tasks for a dynamic-sampling round, each repeated `group_size` times.

    Drawn uniformly with a generator seeded by (seed, stream, rank), `stream` numbering (update, round): a resumed
    or repeated run draws the same tasks.
    """
    generator = torch.Generator().manual_seed(seed * 1_000_003 + stream * ranks.count + ranks.index)
    picks = torch.randint(len(train_task_ids), (groups,), generator=generator).tolist()
    return [train_task_ids[p] for p in picks for _ in range(group_size)]


def task_ids_after_shift(drawn: Sequence[str], shifted: Sequence[str]) -> dict[str, str]:
    """After a shift to another environment (env_shift_id) the sampler still draws the first one's task ids: each id the
    new environment does not know maps to its train task at the same position in `drawn` (cycling if it has fewer).
    Ids it knows (a shift of keywords only) stay as they are."""
    known = set(shifted)
    return {old: new for old, new in zip(drawn, itertools.cycle(shifted)) if old not in known}


def dynamic_sampling(
    episodes: list[Episode],
    returns: torch.Tensor,
    all_group_ids: torch.Tensor,
    *,
    group_size: int,
    max_rounds: int,
    play_round: Callable[[int], list[Episode]],
    returns_of: Callable[[list[Episode]], torch.Tensor],
    ranks: Ranks,
) -> tuple[list[Episode], torch.Tensor, dict[str, float]]:
    """DAPO dynamic sampling: keep informative groups (returns not all equal), play new rounds until the batch is
    full or `max_rounds` rounds were played.

    Takes the first round's episodes of this rank with the global returns and group ids; `play_round(r)` plays
    round r's episodes of this rank, `returns_of` gives their returns. Returns the kept episodes of this rank,
    their returns and the metrics. Every rank plays the same number of rounds (the stop test is on global
    counts), so collective calls stay in step. Extra groups beyond the requested number are dropped, last rank
    first.
    """
    wanted = returns.numel() // group_size  # groups the update asked for, all ranks
    local = slice(ranks.index * len(episodes), (ranks.index + 1) * len(episodes))

    def informative_here(played: list[Episode], global_returns: torch.Tensor, global_groups: torch.Tensor):
        informative = informative_groups(global_returns, global_groups)
        kept = [
            (e, r)
            for e, r, keep in zip(played, global_returns[local].tolist(), informative[local].tolist(), strict=True)
            if keep
        ]
        return kept, int((~informative).sum()) // group_size

    kept, dropped = informative_here(episodes, returns, all_group_ids)
    rounds = 1
    while ranks.sum([len(kept) // group_size]) < wanted and rounds < max_rounds:
        more = play_round(rounds)
        more_returns = ranks.gather(returns_of(more))
        more_groups = ranks.gather(torch.tensor([e.group_id for e in more]))
        more_kept, more_dropped = informative_here(more, more_returns, more_groups)
        kept += more_kept
        dropped += more_dropped
        rounds += 1
    counts, _ = ranks.gather_lists([len(kept) // group_size])
    before = sum(counts[: ranks.index])
    keep_here = max(0, min(counts[ranks.index], wanted - before))
    kept = kept[: keep_here * group_size]
    filled = min(sum(counts), wanted)
    return (
        [e for e, _ in kept],
        torch.tensor([r for _, r in kept], dtype=returns.dtype),
        {
            "dapo/generation_rounds": float(rounds),
            "dapo/dropped_groups": float(dropped),
            "dapo/kept_groups": float(filled),
            "dapo/filled_fraction": filled / max(wanted, 1),
        },
    )


def keep_high_variance_groups(
    episodes: list[Episode], returns: torch.Tensor, fraction: float, group_size: int, ranks: Ranks
) -> tuple[list[Episode], torch.Tensor, dict[str, float]]:
    """StarPO-S: keep the top `fraction` of groups (all ranks) by return standard deviation."""
    records, local = ranks.gather_lists([(r, e.group_id) for r, e in zip(returns.tolist(), episodes, strict=True)])
    keep = top_variance_groups(
        torch.tensor([r[0] for r in records], dtype=torch.float32),
        torch.tensor([r[1] for r in records], dtype=torch.long),
        fraction,
    )
    mine = keep[local]
    kept = [e for e, k in zip(episodes, mine.tolist(), strict=True) if k]
    return kept, returns[mine], {"starpo/kept_groups": float(keep.sum()) / group_size}
