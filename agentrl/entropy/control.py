"""Entropy-coefficient controllers: the coefficient c of the entropy bonus, loss = L_policy - c * H.

Each controller has `update(entropy) -> float`: fed the entropy measured on the rollouts of a training
step, it returns the coefficient that step's update uses. `state_dict()` / `load_state_dict()` let a
resumed run continue exactly. The trainer applies c to the mean entropy over model-generated tokens only.
"""

from __future__ import annotations

import math


class ConstantEntropy:
    """c_t = coef."""

    def __init__(self, coef: float = 0.0):
        self.coef = coef

    def update(self, entropy: float) -> float:
        return self.coef

    def state_dict(self) -> dict:
        return {"coef": self.coef}

    def load_state_dict(self, state: dict) -> None:
        self.coef = state["coef"]


class AdaptiveEntropy:
    """Skywork-OR1 adaptive entropy control (arXiv 2505.22312).

    After each measurement: coef += delta if H < target else coef -= delta, clipped to [coef_min, coef_max];
    the bonus applies only while H < target (0 is returned otherwise). Defaults are the paper's
    (target 0.2, delta 1e-4, max 0.005, init 0).
    """

    def __init__(
        self,
        target: float = 0.2,
        delta: float = 1e-4,
        coef_min: float = 0.0,
        coef_max: float = 0.005,
        init: float = 0.0,
    ):
        if coef_min > coef_max:
            raise ValueError(f"coef_min ({coef_min}) > coef_max ({coef_max})")
        self.target, self.delta, self.coef_min, self.coef_max = target, delta, coef_min, coef_max
        self.coef = min(max(init, coef_min), coef_max)

    def update(self, entropy: float) -> float:
        below = entropy < self.target
        self.coef = min(max(self.coef + (self.delta if below else -self.delta), self.coef_min), self.coef_max)
        return self.coef if below else 0.0

    def state_dict(self) -> dict:
        return {"coef": self.coef}

    def load_state_dict(self, state: dict) -> None:
        self.coef = state["coef"]


class EntropyPulse:
    """Entropulse Revival: a temporary, large entropy bonus when the policy collapses.

    When H < threshold (or `trigger()` was called, e.g. by the eruption detector or a repeat-action
    loop) and no pulse is running, a pulse starts: for `duration` updates c = base_coef x magnitude.
    Afterwards c returns to base_coef: at once with decay = 0 (the article's pseudocode), else
    geometrically, c <- base_coef + decay x (c - base_coef), until within 1e-12 of base_coef. A new
    pulse can start once the current one's `duration` is over (also during the decay tail).
    `pulses` counts the pulses started.

    agentrl's additions (defaults keep the article's behaviour): `peak_coef` sets the pulse coefficient
    directly (default base_coef x magnitude), so a run can have NO bonus outside pulses (base_coef 0);
    `stop_entropy` ends a running pulse as soon as the entropy exceeds it. Both matter when every
    advantage is 0 (the policy is stuck): the entropy bonus is then the only gradient, so a standing base
    coefficient keeps pushing the policy toward uniform, and a pulse that outlives the recovery overshoots
    (docs/entropy.md: 0.1 for 10 updates took a collapsed tiny policy from 0.06 to 6 nats).
    """

    def __init__(
        self,
        threshold: float = 0.05,
        magnitude: float = 10.0,
        duration: int = 100,
        base_coef: float = 0.01,
        decay: float = 0.0,
        peak_coef: float | None = None,
        stop_entropy: float | None = None,
    ):
        if duration < 1:
            raise ValueError(f"duration must be >= 1, got {duration}")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.threshold, self.magnitude, self.duration = threshold, magnitude, duration
        self.base_coef, self.decay = base_coef, decay
        self.peak_coef = base_coef * magnitude if peak_coef is None else peak_coef
        self.stop_entropy = stop_entropy
        self.coef = base_coef
        self.pulses = 0
        self.remaining = 0  # updates left in the running pulse
        self.active = False  # the last update returned the pulse coefficient
        self._triggered = False

    def trigger(self) -> None:
        """Ask for a pulse at the next update regardless of the threshold (ignored while one runs)."""
        self._triggered = True

    def update(self, entropy: float) -> float:
        if self.remaining > 0 and self.stop_entropy is not None and entropy > self.stop_entropy:
            self.remaining = 0  # the pulse did its job: entropy is back up
        if self.remaining == 0 and (entropy < self.threshold or self._triggered):
            self.remaining = self.duration
            self.pulses += 1
        self._triggered = False
        self.active = self.remaining > 0
        if self.active:
            self.remaining -= 1
            self.coef = self.peak_coef
        else:
            # decay back: c <- base + decay (c - base); decay = 0 returns at once
            self.coef = self.base_coef + self.decay * (self.coef - self.base_coef)
            if math.isclose(self.coef, self.base_coef, abs_tol=1e-12):
                self.coef = self.base_coef
        return self.coef

    def state_dict(self) -> dict:
        return {
            "coef": self.coef,
            "pulses": self.pulses,
            "remaining": self.remaining,
            "active": self.active,
            "triggered": self._triggered,
        }

    def load_state_dict(self, state: dict) -> None:
        self.coef, self.pulses, self.remaining = state["coef"], state["pulses"], state["remaining"]
        self.active, self._triggered = state["active"], state["triggered"]


CONTROLLERS = ("none", "constant", "adaptive", "pulse")
