"""Comparing tensors with hand-computed values, shared by the algorithm tests."""

from __future__ import annotations

import torch

# The functions these tests check (advantages, EMPG, SEAL pooling and losses, entropies) compute each value in float32
# with at most ~20 roundings (sums, means, standard deviations, exp, divisions) of relative size 2^-24 = 6e-8, on
# magnitudes <= ~8 (returns, advantages, pooled hidden states): <= 20 x 8 x 6e-8 = 9.6e-6. Hand constants written
# with 6 decimals (e.g. 1.462117) add <= 5e-7. A wrong formula is off by >= 1e-3 in every hand-computed case.
FLOAT32_ATOL = 1e-5


def close(actual: torch.Tensor, expected, atol: float = FLOAT32_ATOL) -> None:
    """`actual` equals the hand-computed `expected` (a list or nested list) within `atol`, compared in float64 (the
    expected values are not rounded to float32 first)."""
    torch.testing.assert_close(actual.double(), torch.tensor(expected, dtype=torch.float64), atol=atol, rtol=0)
