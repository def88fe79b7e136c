"""Credit assignment: advantage estimators (pure tensor functions, registered by name)."""

from agentrl.algorithms.advantages import ESTIMATORS, compute_advantages, grpo_advantages, register_estimator

__all__ = ["ESTIMATORS", "compute_advantages", "grpo_advantages", "register_estimator"]
