"""Comparing tensors with hand-computed values, shared by the algorithm tests."""

from __future__ import annotations

import torch


def close(actual: torch.Tensor, expected, atol: float = 1e-5) -> None:
    """`actual` equals the hand-computed `expected` (a list or nested list) within `atol`, in its own dtype."""
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=actual.dtype), atol=atol, rtol=0)
