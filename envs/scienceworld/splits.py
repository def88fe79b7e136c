"""ScienceWorld's variation splits (scienceworld==1.2.3), as a table, so listing task ids needs no JVM.

The engine numbers each task's variations 0..n-1 and splits them into contiguous ranges: train
first, then dev, then test (verified for all 30 tasks against get_variations_train/dev/test;
tests/test_scienceworld_env.py re-checks a few against the live engine). agentrl's splits:
train = train, eval_in = dev, eval_out = test. Totals 3592 / 1796 / 1819.
"""

from __future__ import annotations

#: task name -> (number of train, dev, test variations)
VARIATION_COUNTS: dict[str, tuple[int, int, int]] = {
    "boil": (14, 7, 9),
    "change-the-state-of-matter-of": (14, 7, 9),
    "chemistry-mix": (16, 8, 8),
    "chemistry-mix-paint-secondary-color": (18, 9, 9),
    "chemistry-mix-paint-tertiary-color": (18, 9, 9),
    "find-animal": (150, 75, 75),
    "find-living-thing": (150, 75, 75),
    "find-non-living-thing": (150, 75, 75),
    "find-plant": (150, 75, 75),
    "freeze": (14, 7, 9),
    "grow-fruit": (62, 31, 33),
    "grow-plant": (62, 31, 33),
    "identify-life-stages-1": (6, 3, 5),
    "identify-life-stages-2": (4, 2, 4),
    "inclined-plane-determine-angle": (84, 42, 42),
    "inclined-plane-friction-named-surfaces": (692, 346, 348),
    "inclined-plane-friction-unnamed-surfaces": (80, 40, 42),
    "lifespan-longest-lived": (62, 31, 32),
    "lifespan-longest-lived-then-shortest-lived": (62, 31, 32),
    "lifespan-shortest-lived": (62, 31, 32),
    "measure-melting-point-known-substance": (218, 109, 109),
    "measure-melting-point-unknown-substance": (150, 75, 75),
    "melt": (14, 7, 9),
    "mendelian-genetics-known-plant": (60, 30, 30),
    "mendelian-genetics-unknown-plant": (240, 120, 120),
    "power-component": (10, 5, 5),
    "power-component-renewable-vs-nonrenewable-energy": (10, 5, 5),
    "test-conductivity": (450, 225, 225),
    "test-conductivity-of-unknown-substances": (300, 150, 150),
    "use-thermometer": (270, 135, 135),
}

SPLIT_INDEX = {"train": 0, "eval_in": 1, "eval_out": 2}


def variations(task: str, split: str) -> range:
    """The engine's variation indices of `task` in agentrl split `split`."""
    counts = VARIATION_COUNTS[task]
    index = SPLIT_INDEX[split]
    start = sum(counts[:index])
    return range(start, start + counts[index])
