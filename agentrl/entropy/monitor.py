"""Per-training-step entropy monitoring: statistics of the rollout entropies, the eruption phase and the
entropy-coefficient controller, in one object the trainer calls once per update.

The inputs are GLOBAL (all ranks' steps), so every rank computes the same phase and coefficient.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from agentrl.entropy.control import AdaptiveEntropy, ConstantEntropy, EntropyPulse
from agentrl.entropy.phases import EruptionDetector

MAX_TURN_METRICS = 16  # entropy/turn_0 .. entropy/turn_15; later turns are rare and would flood the log


def entropy_metrics(
    step_entropies: Sequence[float],
    turn_indices: Sequence[int],
    episode_won: Sequence[bool],
    token_entropy_sum: float,
    token_count: float,
) -> dict[str, float]:
    """Statistics of one training step's rollout entropies (one entry per step in the sequences).

    token_mean = sum of token entropies / number of generated tokens; step_mean, step_p10, step_p90 over
    step entropies (linear-interpolation quantiles); turn_k = mean step entropy at turn k; success /
    failure = mean step entropy over the steps of won / lost episodes (omitted when there are none).
    """
    metrics = {"entropy/token_mean": token_entropy_sum / max(token_count, 1.0)}
    if not step_entropies:
        return metrics
    values = torch.tensor(step_entropies, dtype=torch.float64)
    turns = torch.tensor(turn_indices)
    won = torch.tensor(episode_won, dtype=torch.bool)
    metrics["entropy/step_mean"] = values.mean().item()
    metrics["entropy/step_p10"] = torch.quantile(values, 0.1).item()
    metrics["entropy/step_p90"] = torch.quantile(values, 0.9).item()
    for turn in range(min(int(turns.max()) + 1, MAX_TURN_METRICS)):
        at_turn = values[turns == turn]
        if at_turn.numel():
            metrics[f"entropy/turn_{turn}"] = at_turn.mean().item()
    if won.any():
        metrics["entropy/step_mean_success"] = values[won].mean().item()
    if (~won).any():
        metrics["entropy/step_mean_failure"] = values[~won].mean().item()
    return metrics


def make_controller(args):
    """The entropy controller an AgentRLConfig asks for (None: no entropy bonus)."""
    kind = args.entropy_control
    if kind == "none":
        return None
    if kind == "constant":
        return ConstantEntropy(args.entropy_coef)
    if kind == "adaptive":  # TRL's fields, Skywork-OR1's rule
        return AdaptiveEntropy(
            target=args.entropy_target,
            delta=args.entropy_coef_delta,
            coef_min=args.entropy_coef_min,
            coef_max=args.entropy_coef_max,
            init=args.entropy_coef,
        )
    if kind == "pulse":
        return EntropyPulse(
            threshold=args.pulse_threshold,
            magnitude=args.pulse_magnitude,
            duration=args.pulse_duration,
            base_coef=args.pulse_base_coef,
            decay=args.pulse_decay,
            peak_coef=args.pulse_peak_coef,
            stop_entropy=args.pulse_stop_entropy,
        )
    raise ValueError(f"entropy_control {kind!r}: use none | constant | adaptive | pulse")


class EntropyMonitor:
    """Eruption detector + entropy controller, updated once per training step.

    Pulse triggers besides the controller's own threshold: `pulse_on_descent` starts a pulse after the
    detector has reported descent for that many consecutive steps (collapse measured on the run's own
    scale, not an absolute threshold); `pulse_repeat_action_rate` starts one when the rate of repeated
    no-op actions (an Echo-Trap loop) exceeds it; `pulse_on_zero_signal` starts one after that many
    consecutive updates in which every group's episodes got the same return, so every advantage was 0
    and the policy gradient had nothing to learn from (e.g. an environment change broke every episode).
    """

    def __init__(
        self,
        controller=None,
        detector: EruptionDetector | None = None,
        pulse_on_descent: int = 0,
        pulse_repeat_action_rate: float | None = None,
        pulse_on_zero_signal: int = 0,
    ):
        self.controller = controller
        self.detector = detector or EruptionDetector()
        self.pulse_on_descent = pulse_on_descent
        self.pulse_repeat_action_rate = pulse_repeat_action_rate
        self.pulse_on_zero_signal = pulse_on_zero_signal
        self._descent_steps = 0
        self._zero_signal_steps = 0

    def update(
        self, entropy: float, repeat_action_rate: float | None = None, zero_signal: bool = False
    ) -> tuple[float, dict[str, float]]:
        """Feed the step's mean step entropy (and, for the triggers, the repeat-action rate and whether every
        advantage was 0); return (entropy coefficient for this update, metrics)."""
        phase = self.detector.update(entropy)
        self._descent_steps = self._descent_steps + 1 if phase == "descent" else 0
        self._zero_signal_steps = self._zero_signal_steps + 1 if zero_signal else 0
        metrics = {"entropy/phase": float(self.detector.phase_code)}
        metrics["entropy/eruptions"] = float(self.detector.eruptions)
        if self.controller is None:
            return 0.0, metrics
        if isinstance(self.controller, EntropyPulse):
            # a trigger restarts its count, so a persisting condition asks again only after as many updates
            if self.pulse_on_descent and self._descent_steps >= self.pulse_on_descent:
                self.controller.trigger()
                self._descent_steps = 0
            if self.pulse_on_zero_signal and self._zero_signal_steps >= self.pulse_on_zero_signal:
                self.controller.trigger()
                self._zero_signal_steps = 0
            limit = self.pulse_repeat_action_rate
            if limit is not None and (repeat_action_rate or 0.0) > limit:
                self.controller.trigger()
        coef = self.controller.update(entropy)
        metrics["entropy/coef"] = coef
        if isinstance(self.controller, EntropyPulse):
            metrics["entropy/pulse_active"] = float(self.controller.active)
            metrics["entropy/pulses"] = float(self.controller.pulses)
        return coef, metrics

    def state_dict(self) -> dict:
        return {
            "detector": self.detector.state_dict(),
            "controller": None if self.controller is None else self.controller.state_dict(),
            "descent_steps": self._descent_steps,
            "zero_signal_steps": self._zero_signal_steps,
        }

    def load_state_dict(self, state: dict) -> None:
        self.detector.load_state_dict(state["detector"])
        if self.controller is not None and state["controller"] is not None:
            self.controller.load_state_dict(state["controller"])
        self._descent_steps = state["descent_steps"]
        self._zero_signal_steps = state["zero_signal_steps"]


def make_monitor(args) -> EntropyMonitor:
    """The monitor an AgentRLConfig asks for: its controller, detector settings and pulse triggers."""
    detector = EruptionDetector(
        window=args.eruption_window,
        min_rise=args.eruption_min_rise,
        rel_rise=args.eruption_rel_rise,
        noise_z=args.eruption_noise_z,
    )
    return EntropyMonitor(
        make_controller(args),
        detector,
        pulse_on_descent=args.pulse_on_descent,
        pulse_repeat_action_rate=args.pulse_repeat_action_rate,
        pulse_on_zero_signal=args.pulse_on_zero_signal,
    )
