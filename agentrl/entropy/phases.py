"""Eruption-phase detection on the per-update entropy series of agent RL.

Multi-turn agent RL shows cycles (SEAL paper, methods.md section 2): entropy descends toward collapse,
ERUPTS (a sharp rise well above the recent baseline), then SUBSIDES. `EruptionDetector` labels each
training step with its phase and counts eruptions, fed one value per step (the mean step entropy of
that step's rollouts).

How it decides (all thresholds are constructor arguments):
- The raw series is smoothed with an exponential moving average, s_t = a x_t + (1 - a) s_{t-1},
  a = `smoothing`, so single noisy steps do not flip the phase.
- The noise scale sigma is estimated robustly from the raw first differences in the last `window` steps:
  sigma = 1.4826 MAD(diff) / sqrt(2) (MAD of a difference of two independent N(0, s^2) values is
  s sqrt(2) / 1.4826).
- The rise threshold is max(`min_rise`, `rel_rise` x baseline, `noise_z` x sigma).
- stable / descent: the baseline is the `baseline_quantile` (default 0.25) quantile of the smoothed values
  of the last `window` steps: on a falling series that is a recent value, and unlike the minimum it is
  not dragged down by one low outlier. An ERUPTION
  starts when s_t - baseline > threshold on `confirm_steps` consecutive steps (a one-step noise spike
  is not an eruption; real eruptions last several updates). Otherwise the phase is DESCENT when the smoothed series fell
  by more than `descent_rel` (relative) over the last `slope_span` steps, else STABLE.
- eruption: the peak is tracked; once s_t has fallen below peak - `fall_frac` x (peak - start), the
  phase is SUBSIDENCE.
- subsidence: the trough since the peak is tracked; a new rise of more than the threshold above it is
  a new eruption; once s_t is back within `settle_frac` x (peak - start) of the pre-eruption start
  value (or after `window` steps without a new trough: a new plateau), the cycle is over and the phase
  is descent or stable again.
An eruption is counted when it starts, so `eruptions` is the number of cycles so far.
"""

from __future__ import annotations

import math
import statistics
from collections import deque

PHASES = ("stable", "descent", "eruption", "subsidence")
PHASE_CODES = {name: code for code, name in enumerate(PHASES)}  # numeric codes for the metrics log


class EruptionDetector:
    def __init__(
        self,
        window: int = 20,
        smoothing: float = 0.5,
        min_rise: float = 0.05,
        rel_rise: float = 0.5,
        noise_z: float = 4.0,
        fall_frac: float = 0.25,
        settle_frac: float = 0.3,
        descent_rel: float = 0.05,
        slope_span: int = 5,
        confirm_steps: int = 2,
        baseline_quantile: float = 0.25,
    ):
        if window < 3:
            raise ValueError(f"window must be >= 3, got {window}")
        if not 0 < smoothing <= 1:
            raise ValueError(f"smoothing must be in (0, 1], got {smoothing}")
        self.window = window
        self.smoothing = smoothing
        self.min_rise = min_rise
        self.rel_rise = rel_rise
        self.noise_z = noise_z
        self.fall_frac = fall_frac
        self.settle_frac = settle_frac
        self.descent_rel = descent_rel
        self.slope_span = slope_span
        self.confirm_steps = max(1, confirm_steps)
        self.baseline_quantile = baseline_quantile
        self.reset()

    def reset(self) -> None:
        self.phase = "stable"
        self.eruptions = 0
        self.steps = 0
        self.smoothed: float | None = None
        self._raw: deque[float] = deque(maxlen=self.window + 1)
        self._history: deque[float] = deque(maxlen=self.window)  # smoothed values, before the current one
        self._start = self._peak = self._trough = 0.0
        self._flat_steps = 0  # subsidence steps since the trough last fell
        self._above = 0  # consecutive calm steps above the eruption threshold

    # ------------------------------------------------------------------ the detector
    def _noise(self) -> float:
        raw = list(self._raw)
        diffs = [b - a for a, b in zip(raw, raw[1:], strict=False)]
        if len(diffs) < 2:
            return 0.0
        center = statistics.median(diffs)
        mad = statistics.median(abs(d - center) for d in diffs)
        return 1.4826 * mad / math.sqrt(2)

    def _threshold(self, baseline: float) -> float:
        return max(self.min_rise, self.rel_rise * abs(baseline), self.noise_z * self._noise())

    def _calm_phase(self, value: float) -> str:
        """descent or stable, from the smoothed series' relative fall over the last slope_span steps."""
        past = list(self._history)[-self.slope_span :]
        if len(past) < self.slope_span:
            return "stable"
        reference = past[0]
        return "descent" if reference - value > self.descent_rel * max(abs(reference), 1e-8) else "stable"

    def _erupt(self, start: float, value: float) -> None:
        self._above = 0
        self.phase = "eruption"
        self.eruptions += 1
        self._start, self._peak = start, value

    def update(self, value: float) -> str:
        """Feed one training step's mean entropy; return the phase of that step."""
        value = float(value)
        if not math.isfinite(value):  # a broken step says nothing about the trend
            return self.phase
        self.steps += 1
        self._raw.append(value)
        s = value if self.smoothed is None else self.smoothing * value + (1 - self.smoothing) * self.smoothed
        self.smoothed = s
        if self.phase in ("stable", "descent"):
            if self._history:
                ordered = sorted(self._history)
                baseline = ordered[int(self.baseline_quantile * (len(ordered) - 1))]
                self._above = self._above + 1 if s - baseline > self._threshold(baseline) else 0
                if self._above >= self.confirm_steps:
                    self._erupt(baseline, s)
                else:
                    self.phase = self._calm_phase(s)
        elif self.phase == "eruption":
            self._peak = max(self._peak, s)
            if s < self._peak - self.fall_frac * (self._peak - self._start):
                self.phase, self._trough, self._flat_steps = "subsidence", s, 0
        else:  # subsidence
            self._flat_steps = 0 if s < self._trough else self._flat_steps + 1
            self._trough = min(self._trough, s)
            if s - self._trough > self._threshold(self._trough):
                self._erupt(self._trough, s)
            elif s <= self._start + self.settle_frac * (self._peak - self._start) or self._flat_steps >= self.window:
                self.phase = self._calm_phase(s)
                # the new calm baseline starts here, not at the pre-eruption low
                self._history.clear()
        self._history.append(s)
        return self.phase

    @property
    def phase_code(self) -> int:
        return PHASE_CODES[self.phase]

    # ------------------------------------------------------------------ checkpointing
    def state_dict(self) -> dict:
        return {
            "phase": self.phase,
            "eruptions": self.eruptions,
            "steps": self.steps,
            "smoothed": self.smoothed,
            "raw": list(self._raw),
            "history": list(self._history),
            "start": self._start,
            "peak": self._peak,
            "trough": self._trough,
            "flat_steps": self._flat_steps,
            "above": self._above,
        }

    def load_state_dict(self, state: dict) -> None:
        self.phase = state["phase"]
        self.eruptions = state["eruptions"]
        self.steps = state["steps"]
        self.smoothed = state["smoothed"]
        self._raw = deque(state["raw"], maxlen=self.window + 1)
        self._history = deque(state["history"], maxlen=self.window)
        self._start, self._peak, self._trough = state["start"], state["peak"], state["trough"]
        self._flat_steps, self._above = state["flat_steps"], state["above"]
