"""Credit assignment: advantage estimators, EMPG modulation and batch filters (pure tensor functions)."""

from agentrl.algorithms.advantages import (
    EPISODE_ESTIMATORS,
    STEP_ESTIMATORS,
    CreditBatch,
    anchor_groups,
    compute_advantages,
    discounted_returns,
    dr_grpo_advantages,
    equal_episode_weights,
    estimator_names,
    gigpo_advantages,
    gigpo_step_advantages,
    group_stats,
    grpo_advantages,
    register_episode_estimator,
    register_step_estimator,
    rloo_advantages,
)
from agentrl.algorithms.empg import empg_advantages, empg_terms
from agentrl.algorithms.filters import informative_groups, overlong_penalty, top_variance_groups

__all__ = [
    "EPISODE_ESTIMATORS",
    "STEP_ESTIMATORS",
    "CreditBatch",
    "anchor_groups",
    "compute_advantages",
    "discounted_returns",
    "dr_grpo_advantages",
    "empg_advantages",
    "empg_terms",
    "equal_episode_weights",
    "estimator_names",
    "gigpo_advantages",
    "gigpo_step_advantages",
    "group_stats",
    "grpo_advantages",
    "informative_groups",
    "overlong_penalty",
    "register_episode_estimator",
    "register_step_estimator",
    "rloo_advantages",
    "top_variance_groups",
]
