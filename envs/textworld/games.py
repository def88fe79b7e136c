"""Games made by TextWorld's own generator, seeded per split and cached on disk.

A task id "textworld-cooking/eval_in/00007" names one game: the variant's generator settings, the
split's settings overrides, and the seed SPLIT_SEED_OFFSET[split] + 7. TextWorld's generator is
deterministic given its seed, so the same id gives the same game on every machine; the compiled game
(`<seed>.z8` plus TextWorld's `<seed>.json`) is cached under

    <cache_dir>/<variant>-<settings hash>/<split>/<seed>.z8

and built on first use (1-10 s per game), so a run only pays for the games it plays. The settings hash
covers the generator, its settings and the TextWorld version: changing any of them starts a new folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentrl.envs.textworld.engine import VERSION, quiet_engine, require_textworld

#: Seeds of split s are SPLIT_SEED_OFFSET[s] + index: disjoint ranges, so no game is in two splits.
SPLIT_SEED_OFFSET = {"train": 0, "eval_in": 1_000_000, "eval_out": 2_000_000}


@dataclass(frozen=True)
class Variant:
    """One family of generated games: a TextWorld generator and its settings.

    `eval_out` overrides settings for the eval_out split where the generator has a held-out
    distribution (tw-simple's test objects, tw-cooking's test foods and preparations); otherwise
    eval_out differs from eval_in by its seeds only.
    """

    name: str  # textworld-<name>
    generator: str  # "custom" (tw-make custom) or a textworld.challenges name
    settings: Mapping[str, Any]
    eval_out: Mapping[str, Any] = field(default_factory=dict)
    max_steps: int = 50
    description: str = ""

    def split_settings(self, split: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        settings = {**self.settings, **(overrides or {})}
        if split == "eval_out":
            settings.update(self.eval_out)
        return settings


VARIANTS = {
    "custom": Variant(
        "custom",
        "custom",
        # tw-make custom --world-size 5 --nb-objects 10 --quest-length 5
        {"world_size": 5, "nb_objects": 10, "quest_length": 5, "quest_breadth": None},
        description="tw-make custom: 5 rooms, 10+ objects, a 5-action quest",
    ),
    "simple": Variant(
        "simple",
        "tw-simple",
        {"rewards": "dense", "goal": "detailed", "test": False},
        eval_out={"test": True},
        description="tw-simple: a fixed 6-room house; eval_out draws the test objects",
    ),
    "cooking": Variant(
        "cooking",
        "tw-cooking",
        # First TextWorld Problem skills: 2 ingredients to find among 6 rooms, open, cook and cut.
        {"recipe": 2, "take": 2, "go": 6, "open": True, "cook": True, "cut": True, "drop": False, "split": "train"},
        eval_out={"split": "test"},
        description="tw-cooking: read the cookbook, find, cut and cook 2 ingredients in 6 rooms",
    ),
    "coin": Variant(
        "coin",
        "tw-coin_collector",
        {"level": 5},
        description="tw-coin_collector level 5: find the coin along a 5-room chain",
    ),
}


def default_cache_dir() -> Path:
    """$AGENTRL_CACHE/textworld, else ~/.cache/agentrl/textworld."""
    root = os.environ.get("AGENTRL_CACHE")
    return Path(root) / "textworld" if root else Path.home() / ".cache" / "agentrl" / "textworld"


class GameCache:
    """Where the games of one variant live, and their on-demand generation."""

    def __init__(
        self, variant: Variant, cache_dir: str | os.PathLike | None = None, settings: Mapping[str, Any] | None = None
    ) -> None:
        unknown = sorted(set(settings or {}) - set(variant.settings))
        if unknown:
            raise ValueError(
                f"textworld-{variant.name}: unknown generator settings {unknown}; "
                f"this variant takes {sorted(variant.settings)}"
            )
        self.variant = variant
        self.overrides = dict(settings or {})
        key = json.dumps(
            {"generator": variant.generator, "settings": {**variant.settings, **self.overrides},
             "eval_out": dict(variant.eval_out), "textworld": VERSION},
            sort_keys=True,
        )  # fmt: skip
        digest = hashlib.sha1(key.encode()).hexdigest()[:10]
        self.root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.folder = self.root / f"{variant.name}-{digest}"

    def seed(self, split: str, index: int) -> int:
        return SPLIT_SEED_OFFSET[split] + index

    def path(self, split: str, index: int) -> Path:
        return self.folder / split / f"{self.seed(split, index)}.z8"

    def ensure(self, split: str, index: int) -> Path:
        """The compiled game of (split, index), generated now if it is not cached yet."""
        path = self.path(split, index)
        if not (path.is_file() and path.with_suffix(".json").is_file()):
            self._generate(split, index, path)
        return path

    def _generate(self, split: str, index: int, path: Path) -> None:
        textworld = require_textworld()
        settings = self.variant.split_settings(split, self.overrides)
        seed = self.seed(split, index)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Build in a private folder, then rename: worker processes may generate the same game at once,
        # and a reader must never see half a game. The .z8 moves last; its presence marks a finished game.
        staging = Path(tempfile.mkdtemp(prefix=f".{seed}-", dir=path.parent))
        try:
            options = textworld.GameOptions()
            options.seeds = seed
            options.path = str(staging / f"{seed}.z8")
            with quiet_engine():
                game = _make_game(textworld, self.variant, settings, seed, options)
                compiled = Path(textworld.generator.compile_game(game, options))
            os.replace(compiled.with_suffix(".json"), path.with_suffix(".json"))
            os.replace(compiled, path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _make_game(textworld: Any, variant: Variant, settings: dict[str, Any], seed: int, options: Any) -> Any:
    if variant.generator == "custom":
        # The options `tw-make custom` sets from its arguments (textworld 1.7.0's tw-make script).
        options.nb_rooms = settings["world_size"]
        options.nb_objects = settings["nb_objects"]
        options.quest_length = settings["quest_length"]
        breadth = settings.get("quest_breadth")
        options.chaining.min_breadth = 1 if breadth is None else breadth
        options.chaining.max_breadth = 5 if breadth is None else breadth
        return textworld.generator.make_game(options)
    _, make, _ = textworld.challenges.CHALLENGES[variant.generator]
    if variant.generator == "tw-cooking":
        # The recipe has its own seed; a fixed one would give every game the same recipe. tw-cooking
        # only shuffles recipes (recipe_seed > 0) when ingredients must be fetched (take >= 1).
        settings = {**settings, "recipe_seed": seed + 1 if settings.get("take") else 0}
    return make(settings=settings, options=options)
