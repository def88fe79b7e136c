"""Build generated ALFWorld games with ALFWorld's own generator, and keep only those the expert solves.

For game `index` of a split (train / eval_in / eval_out):
1. the task type is TASK_TYPES[index % 6], so every six consecutive games cover all six types;
2. a seeded draw picks a scene (ALFRED's TRAIN_SCENE_NUMBERS for train and eval_in, TEST_SCENE_NUMBERS
   for eval_out: held-out rooms) whose room type suits the task type (constants.GOALS_VALID), then a
   problem (problems.py), written as traj_data.json + initial_state.pddl;
3. `alfworld-generate`'s own `gen_game_files` (expert_type handcoded) turns the folder into game.tw-pddl:
   it adds the goal text to the grammar and marks `solvable` by running the handcoded expert (with the
   "move" fix of engine.move_aware_expert_class, so it judges with the expert the env offers). We call it
   in-process on that one folder (so its `--end -1` default, which drops the last game of a glob, does
   not apply) with a seeded global random, so the goal's text template is the same on every machine;
4. the game is played once through AlfworldEnv exactly as training will play it, following
   `expert_action`; it is kept only if the expert wins within `max_expert_steps` (50, the benchmark's
   episode limit). A rejected draw is deleted and the next attempt (a new seed) tried.

Everything is a function of (split, index, attempt), so two machines build the same games.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import random
import runpy
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from agentrl.envs.alfworld.engine import move_aware_expert_class, own_random, require_alfworld, seeded_state
from agentrl.envs.alfworld.games import (
    ALFWORLD_SPLITS,
    GENERATOR_VERSION,
    TASK_TYPES,
    Game,
    GameSet,
    read_manifest,
    write_manifest,
)
from agentrl.envs.alfworld.problems import sample_problem, write_problem
from agentrl.envs.alfworld.rooms import make_layout, room_type_of
from agentrl.envs.base import SPLITS

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 30
MAX_EXPERT_STEPS = 50


def split_scenes(split: str) -> list[int]:
    """ALFRED's seen scenes for train/eval_in, its unseen (test) scenes for eval_out."""
    from alfworld.gen import constants

    return list(constants.TEST_SCENE_NUMBERS if split == "eval_out" else constants.TRAIN_SCENE_NUMBERS)


def _generator_script() -> Path:
    """The installed `alfworld-generate` script (console script of the alfworld wheel)."""
    candidates = [Path(sys.executable).parent / "alfworld-generate"]
    found = shutil.which("alfworld-generate")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "alfworld: the `alfworld-generate` script of the alfworld package was not found next to "
        f'{sys.executable} or on PATH; reinstall with: pip install -e ".[alfworld]"'
    )


class GameBuilder:
    """Builds generated games under `root` (the generated-v<N> folder) one at a time."""

    def __init__(self, root: Path, max_expert_steps: int = MAX_EXPERT_STEPS) -> None:
        require_alfworld()
        from alfworld.info import ALFRED_PDDL_PATH, ALFRED_TWL2_PATH

        self.root = Path(root)
        self.max_expert_steps = max_expert_steps
        self._domain, self._grammar = ALFRED_PDDL_PATH, ALFRED_TWL2_PATH
        script = runpy.run_path(str(_generator_script()), run_name="alfworld_generate")
        self._gen_game_files = script["gen_game_files"]
        # The generator marks solvability with the same expert the env offers (engine.py explains the fix).
        self._gen_game_files.__globals__["AlfredExpert"] = move_aware_expert_class()
        self._player = None  # AlfworldEnv reused across verifications (one engine)

    def build(self, split: str, index: int) -> dict[str, Any]:
        """Build game `index` of `split`; return its manifest entry."""
        from alfworld.gen import constants

        task_type = TASK_TYPES[index % len(TASK_TYPES)]
        scenes = [s for s in split_scenes(split) if room_type_of(s) in constants.GOALS_VALID[task_type]]
        for attempt in range(MAX_ATTEMPTS):
            seed = f"agentrl-alfworld-v{GENERATOR_VERSION}:{split}:{index}:{attempt}"
            rng = random.Random(seed)
            problem = sample_problem(task_type, make_layout(rng.choice(scenes)), rng)
            if problem is None:
                continue
            relative = f"json_2.1.1/{ALFWORLD_SPLITS[split]}/{problem.folder_name}/trial_{index:05d}"
            folder = self.root / relative
            task_id = f"{split}/{problem.folder_name}/trial_{index:05d}"
            start = time.perf_counter()
            shutil.rmtree(folder, ignore_errors=True)
            write_problem(problem, folder)
            solvable = self._generate(folder, seed)
            steps = self._expert_steps(Game(task_id, str(folder / "game.tw-pddl"), task_type)) if solvable else None
            if steps is None:
                logger.info("alfworld: %s attempt %d rejected (solvable=%s)", task_id, attempt, solvable)
                shutil.rmtree(folder, ignore_errors=True)
                _remove_empty_parent(folder)
                continue
            return {
                "task_id": task_id,
                "path": relative,
                "task_type": task_type,
                "scene": problem.layout.scene,
                "expert_steps": steps,
                "build_seconds": round(time.perf_counter() - start, 2),
            }
        raise RuntimeError(f"alfworld: no solvable game for {split} #{index} in {MAX_ATTEMPTS} attempts")

    def _generate(self, folder: Path, seed: str) -> bool:
        """Run ALFWorld's gen_game_files on one problem folder; True if it marked the game solvable."""
        args = argparse.Namespace(
            data_path=str(folder),
            save_path=str(folder),
            domain=self._domain,
            grammar=self._grammar,
            expert_type="handcoded",
            verbose=False,
            start=0,
            end=None,  # all problems: the script's default --end -1 would skip the last one
            goal_desc_human_anns_prob=0.0,
            seed=0,
        )
        chatter = io.StringIO()  # its progress bar and colored summary
        with own_random(seeded_state(seed)), contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            self._gen_game_files(args)
        game = json.loads((folder / "game.tw-pddl").read_text())
        return bool(game.get("solvable"))

    def _expert_steps(self, game: Game) -> int | None:
        """Steps the env's expert needs to win `game` (as training plays it), None if it does not win."""
        from agentrl.envs.alfworld.env import AlfworldEnv

        split = game.task_id.split("/", 1)[0]
        games = GameSet("generated", self.root / "json_2.1.1", {s: [game] if s == split else [] for s in SPLITS})
        if self._player is None:
            self._player = AlfworldEnv(games, max_steps=self.max_expert_steps)
        self._player.games = games
        self._player._loaded = None  # a rejected attempt may have left a game at this very path
        _, info = self._player.reset(game.task_id)
        done, steps = False, 0
        while not done and info["expert_action"] is not None:
            _, _, done, info = self._player.step(info["expert_action"])
            steps += 1
        return steps if info["won"] else None


def _remove_empty_parent(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.parent.rmdir()  # only succeeds when no other trial shares the game folder


_WORKER_BUILDER: GameBuilder | None = None


def _build_in_worker(job: tuple[str, str, int]) -> dict[str, Any]:
    global _WORKER_BUILDER
    root, split, index = job
    if _WORKER_BUILDER is None:
        _WORKER_BUILDER = GameBuilder(Path(root))
    return _WORKER_BUILDER.build(split, index)


def extend_generated(
    root: Path, wanted: dict[str, int], workers: int = 1, log_every: int = 10
) -> dict[str, list[dict]]:
    """Build games until each split of root's manifest holds wanted[split]; return the manifest.

    The caller holds games.cache_lock(root). Games are independent of each other, so `workers` processes
    build them side by side; the manifest is saved after every game (in index order), so an interrupted
    build resumes where it stopped.
    """
    manifest = read_manifest(root)
    jobs = [(str(root), s, i) for s in SPLITS for i in range(len(manifest[s]), wanted[s])]
    if not jobs:
        return manifest
    logger.warning(
        "alfworld: generating %d ALFWorld games into %s (about 4-7 s each on one core, once)", len(jobs), root
    )
    with contextlib.ExitStack() as stack:
        if workers > 1:
            import multiprocessing

            pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(workers))
            results = pool.imap(_build_in_worker, jobs)
        else:
            builder = GameBuilder(root)
            results = (builder.build(split, index) for _, split, index in jobs)
        for done, ((_, split, _), entry) in enumerate(zip(jobs, results, strict=True), start=1):
            manifest[split].append(entry)
            write_manifest(root, manifest)
            if done % log_every == 0:
                logger.warning("alfworld: generated %d/%d games", done, len(jobs))
    return manifest
