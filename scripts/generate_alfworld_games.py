"""Generate ALFWorld games offline with ALFWorld's own generator, and pack the set agentrl ships.

    python scripts/generate_alfworld_games.py --train 200 --eval-in 60 --eval-out 60 --workers 2
    python scripts/generate_alfworld_games.py --train 200 --eval-in 60 --eval-out 60 --pack

Games go to <cache_dir>/generated-v<N> (default ~/.cache/agentrl/alfworld), the folder the `alfworld`
env reads when no official data is found; existing games are kept, so the command extends a set. With
--pack it also writes envs/alfworld/data/generated-v<N>.tar.xz from the first --train/--eval-in/
--eval-out games (the archive the repository ships; xz shares the domain and grammar every game file
repeats, so a game costs about 2-3 KB). See envs/alfworld/build.py for how a game is made.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agentrl.envs.alfworld.build import extend_generated  # noqa: E402
from agentrl.envs.alfworld.games import (  # noqa: E402
    DEFAULT_CACHE_DIR,
    GENERATOR_VERSION,
    SHIPPED_ARCHIVE,
    cache_lock,
    generated_root,
)
from agentrl.envs.base import SPLITS  # noqa: E402


def pack(root: Path, counts: dict[str, int], archive: Path) -> None:
    manifest = json.loads((root / "manifest.json").read_text())["splits"]
    chosen = {split: manifest[split][: counts[split]] for split in SPLITS}
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:xz", preset=9) as tar:
        data = json.dumps({"generator_version": GENERATOR_VERSION, "splits": chosen}, indent=1).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size, info.mtime = len(data), 0
        tar.addfile(info, io.BytesIO(data))
        for entries in chosen.values():
            for entry in entries:
                for name in ("traj_data.json", "initial_state.pddl", "game.tw-pddl"):
                    path = root / entry["path"] / name
                    info = tar.gettarinfo(str(path), arcname=f"{entry['path']}/{name}")
                    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                    with open(path, "rb") as handle:
                        tar.addfile(info, handle)
    print(f"packed {sum(len(v) for v in chosen.values())} games into {archive} ({archive.stat().st_size} bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=200)
    parser.add_argument("--eval-in", type=int, default=60)
    parser.add_argument("--eval-out", type=int, default=60)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pack", action="store_true", help=f"also write {SHIPPED_ARCHIVE}")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    counts = {"train": args.train, "eval_in": args.eval_in, "eval_out": args.eval_out}
    root = generated_root(args.cache_dir)
    start = time.perf_counter()
    with cache_lock(root):
        manifest = extend_generated(root, counts, workers=args.workers)
    entries = [e for split in SPLITS for e in manifest[split][: counts[split]]]
    print(f"{len(entries)} games in {root} ({time.perf_counter() - start:.0f} s this run)")
    if entries:
        mean = sum(e["build_seconds"] for e in entries) / len(entries)
        steps = sum(e["expert_steps"] for e in entries) / len(entries)
        print(f"build time {mean:.2f} s/game (one process), expert {steps:.1f} steps on average")
    if args.pack:
        pack(root, counts, SHIPPED_ARCHIVE)


if __name__ == "__main__":
    main()
