"""Entropy dynamics: measures, eruption phases, controllers, degeneration metrics."""

from agentrl.entropy.control import CONTROLLERS, AdaptiveEntropy, ConstantEntropy, EntropyPulse
from agentrl.entropy.degeneration import degeneration_counts, has_repeated_sentence
from agentrl.entropy.measures import entropy_from_log_probs, masked_step_entropy, step_entropy, token_entropy
from agentrl.entropy.monitor import EntropyMonitor, entropy_metrics, make_controller, make_monitor
from agentrl.entropy.phases import PHASE_CODES, PHASES, EruptionDetector

__all__ = [
    "CONTROLLERS",
    "PHASES",
    "PHASE_CODES",
    "AdaptiveEntropy",
    "ConstantEntropy",
    "EntropyMonitor",
    "EntropyPulse",
    "EruptionDetector",
    "degeneration_counts",
    "entropy_from_log_probs",
    "entropy_metrics",
    "has_repeated_sentence",
    "make_controller",
    "make_monitor",
    "masked_step_entropy",
    "step_entropy",
    "token_entropy",
]
