"""Credit assignment: advantage estimators (pure tensor functions, registered by name)."""

from agentrl.algorithms.advantages import (
    ESTIMATORS,
    compute_advantages,
    equal_episode_weights,
    group_stats,
    grpo_advantages,
    register_estimator,
)

__all__ = [
    "ESTIMATORS",
    "compute_advantages",
    "equal_episode_weights",
    "grpo_advantages",
    "group_stats",
    "register_estimator",
]
