"""Which ALFWorld games an env plays: the official data when present, else agentrl's generated games.

Official data: `alfworld-download` (needs internet) writes `$ALFWORLD_DATA/json_2.1.1/{train, valid_seen,
valid_unseen}`; agentrl's splits train / eval_in / eval_out are those three folders (3553 / 140 / 134
games; the papers evaluate on all of valid_seen and valid_unseen). A game is kept by AlfredTWEnv's own rules: a
folder with traj_data.json and game.tw-pddl, not "movable" or "Sliced", one of the six task types, and marked
solvable by `alfworld-generate`. The order is fixed (`panel_order`: by the sha256 of the folder name), not the
filesystem's listing order (AlfredTWEnv's), so `eval_in` / `eval_out` and their first N games are the same panel on
every machine.

Generated games (no official data): ALFRED-style problems built with ALFWorld's own generator (build.py)
under `<cache_dir>/generated-v<N>/json_2.1.1/...` (cache_dir: the env kwarg, else $AGENTRL_ALFWORLD_CACHE,
else ~/.cache/agentrl/alfworld), the same folder layout, so ALFWorld's AlfredTWEnv could
load them too. The repository ships a prebuilt set (data/generated-v<N>.tar.xz), unpacked into the cache
on first use; asking for more games than it holds generates the rest (deterministic, 4-7 s a game
on one core).

Task ids are `<split>/<game folder>/<trial>`, e.g.
`eval_in/pick_heat_then_place_in_recep-Apple-None-CounterTop-12/trial_00003`: stable across machines.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tarfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from agentrl.envs.base import SPLITS

logger = logging.getLogger(__name__)

ALFWORLD_SPLITS = {"train": "train", "eval_in": "valid_seen", "eval_out": "valid_unseen"}
TASK_TYPES = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)
DEFAULT_ALFWORLD_DATA = Path("~/.cache/alfworld").expanduser()
DEFAULT_CACHE_DIR = Path(os.environ.get("AGENTRL_ALFWORLD_CACHE", "~/.cache/agentrl/alfworld")).expanduser()
GENERATOR_VERSION = 1
SHIPPED_ARCHIVE = Path(__file__).parent / "data" / f"generated-v{GENERATOR_VERSION}.tar.xz"
SOURCES = ("auto", "official", "generated")
# The evaluation splits the papers report (valid_seen / valid_unseen, loadable games of ALFWorld 0.4.2's data).
OFFICIAL_EVAL_SIZES = {"eval_in": 140, "eval_out": 134}


@dataclass(frozen=True)
class Game:
    task_id: str
    gamefile: str  # absolute path of game.tw-pddl (traj_data.json lies next to it)
    task_type: str


@dataclass
class GameSet:
    source: str  # "official" or "generated"
    root: Path  # the json_2.1.1 folder
    splits: dict[str, list[Game]]
    _by_id: dict[str, Game] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {game.task_id: game for games in self.splits.values() for game in games}

    def find(self, task_id: str) -> Game | None:
        return self._by_id.get(task_id) if isinstance(task_id, str) else None

    def truncated(self, counts: dict[str, int | None]) -> GameSet:
        """The first counts[split] games of each split (all where the count is None)."""
        splits = {split: games[: counts.get(split)] for split, games in self.splits.items()}
        return GameSet(self.source, self.root, splits)


def missing_data_message(data_dir: Path) -> str:
    return (
        f"alfworld: no official ALFWorld games in {data_dir} (expected json_2.1.1/train, valid_seen and "
        "valid_unseen holding game.tw-pddl files). To play the official 3553/140/134 games, run "
        "`alfworld-download` on a machine with internet (it fills $ALFWORLD_DATA, default ~/.cache/alfworld) "
        "and copy that folder here or pass data_path=. Using agentrl's generated ALFWorld games instead: same "
        "engine, grammar, expert and reward, but generated rooms, so success rates are not comparable to "
        "published ALFWorld numbers."
    )


def load_games(
    source: str = "auto",
    data_path: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    counts: dict[str, int | None] | None = None,
) -> GameSet:
    """Resolve the games: official data (source auto/official) or the generated set (auto/generated).

    counts: {split: number of games or None for all}; for the generated set None means the shipped count.
    """
    if source not in SOURCES:
        raise ValueError(f"alfworld: source must be one of {SOURCES}, got {source!r}")
    counts = dict(counts or {})
    cache = Path(cache_dir).expanduser() if cache_dir else DEFAULT_CACHE_DIR
    if source != "generated":
        data_dir = Path(data_path or os.environ.get("ALFWORLD_DATA") or DEFAULT_ALFWORLD_DATA).expanduser()
        official = official_games(data_dir, cache)
        if official is not None:
            return official.truncated(counts)
        message = missing_data_message(data_dir)
        if source == "official":
            raise FileNotFoundError(message.replace("Using agentrl's", "With source='auto' agentrl would use its"))
        # Quiet when nobody asked for official data; a warning when a path was given and holds nothing.
        if data_path is not None or data_dir.resolve() != DEFAULT_ALFWORLD_DATA.resolve():
            warnings.warn(message, UserWarning, stacklevel=3)
            logger.warning(message)
        else:
            logger.info(message)
    return generated_games(cache, counts)


# ---- official data --------------------------------------------------------------------------------
def official_games(data_dir: Path, cache: Path) -> GameSet | None:
    """The official games under data_dir/json_2.1.1, or None when a split folder is missing or empty.

    Each split's games are in a fixed order (panel_order), whatever the filesystem lists first: ALFWorld's own loader
    takes them in `os.walk` order, which differs between machines."""
    root = data_dir / "json_2.1.1"
    if not all((root / folder).is_dir() for folder in ALFWORLD_SPLITS.values()):
        return None
    candidates = {split: _candidates(root / folder) for split, folder in ALFWORLD_SPLITS.items()}
    signature = _signature(root, candidates)
    index_file = cache / f"official-index-{hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]}.json"
    index = _read_json(index_file)
    if index is None or index.get("root") != str(root.resolve()) or index.get("signature") != signature:
        # Reading every game.tw-pddl for its `solvable` flag takes a while: done once, then cached until a game
        # folder is added, removed or rewritten (the signature).
        scanned = {split: _scan_official(root / ALFWORLD_SPLITS[split], candidates[split]) for split in SPLITS}
        index = {"root": str(root.resolve()), "signature": signature, "splits": scanned}
        with contextlib.suppress(OSError):
            index_file.parent.mkdir(parents=True, exist_ok=True)
            index_file.write_text(json.dumps(index))
    if not all(index["splits"].values()):
        return None
    splits = {
        split: [
            Game(f"{split}/{relative}", str(root / ALFWORLD_SPLITS[split] / relative / "game.tw-pddl"), task_type)
            for relative, task_type in sorted(index["splits"][split], key=lambda entry: panel_order(entry[0]))
        ]
        for split in SPLITS
    }
    found = {split: len(splits[split]) for split in ("eval_in", "eval_out")}
    if found != OFFICIAL_EVAL_SIZES:
        message = (
            f"alfworld: the official data at {root} has {found['eval_in']} valid_seen / {found['eval_out']} "
            f"valid_unseen games, the papers evaluate on {OFFICIAL_EVAL_SIZES['eval_in']} / "
            f"{OFFICIAL_EVAL_SIZES['eval_out']}: is the download complete (`alfworld-download`)?"
        )
        warnings.warn(message, UserWarning, stacklevel=3)
        logger.warning(message)
    return GameSet("official", root, splits)


def panel_order(relative: str) -> str:
    """Sort key of an official game (`<task folder>/<trial>`): the sha256 of its name. A fixed order, the same on
    every machine, in which the first N games mix the six task types (sorted names would group them by type, so
    `eval_num_tasks: 20` would evaluate one type only)."""
    return hashlib.sha256(relative.encode("utf-8")).hexdigest()


def _candidates(split_dir: Path) -> list[str]:
    """The game folders of a split (relative, sorted as strings): the folders holding a traj_data.json."""
    return sorted(traj.parent.relative_to(split_dir).as_posix() for traj in split_dir.glob("**/traj_data.json"))


def _signature(root: Path, candidates: dict[str, list[str]]) -> str:
    """What the scan of the official data depends on: each game folder and the size and time of its game file."""
    digest = hashlib.sha1()
    for split, folders in candidates.items():
        for relative in folders:
            gamefile = root / ALFWORLD_SPLITS[split] / relative / "game.tw-pddl"
            try:
                stat = gamefile.stat()
                digest.update(f"{split}/{relative}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
            except OSError:
                digest.update(f"{split}/{relative}\tmissing\n".encode())
    return digest.hexdigest()


def _scan_official(split_dir: Path, candidates: list[str]) -> list[tuple[str, str]]:
    """(folder relative to the split, task type) of each loadable game, by AlfredTWEnv's rules, in sorted order:
    not a "movable" or "Sliced" folder, one of the six task types, a game.tw-pddl marked solvable."""
    found = []
    for relative in candidates:
        folder = split_dir / relative
        gamefile = folder / "game.tw-pddl"
        # AlfredTWEnv tests the whole path; the folder names below the split are tested here, so where the data
        # lies (a folder named "Sliced" above it) cannot change the panel
        if "movable" in relative or "Sliced" in relative or not gamefile.exists():
            continue
        task_type = relative.split("-", 1)[0]
        game = _read_json(gamefile)
        if task_type in TASK_TYPES and game is not None and game.get("solvable"):
            found.append((relative, task_type))
    return found


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# ---- generated games ------------------------------------------------------------------------------
def generated_root(cache: Path) -> Path:
    return cache / f"generated-v{GENERATOR_VERSION}"


def read_manifest(root: Path) -> dict[str, list[dict]]:
    manifest = _read_json(root / "manifest.json") or {}
    return {split: list(manifest.get("splits", {}).get(split, [])) for split in SPLITS}


def write_manifest(root: Path, splits: dict[str, list[dict]]) -> None:
    data = {"generator_version": GENERATOR_VERSION, "splits": splits}
    temporary = root / "manifest.json.tmp"
    temporary.write_text(json.dumps(data, indent=1))
    temporary.replace(root / "manifest.json")


def shipped_counts() -> dict[str, int]:
    """How many games of each split the shipped archive holds (0 when the archive is missing)."""
    if not SHIPPED_ARCHIVE.exists():
        return dict.fromkeys(SPLITS, 0)
    with tarfile.open(SHIPPED_ARCHIVE) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))
    return {split: len(manifest["splits"].get(split, [])) for split in SPLITS}


@contextlib.contextmanager
def cache_lock(root: Path) -> Iterator[None]:
    """One process at a time unpacks or extends the generated set (EnvPool workers build envs together)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def generated_games(cache: Path, counts: dict[str, int | None]) -> GameSet:
    root = generated_root(cache)
    shipped = shipped_counts()
    wanted = {split: shipped[split] if counts.get(split) is None else int(counts[split]) for split in SPLITS}
    if any(n < 0 for n in wanted.values()):
        raise ValueError(f"alfworld: game counts must be >= 0, got {wanted}")
    manifest = read_manifest(root)
    if any(len(manifest[split]) < wanted[split] for split in SPLITS):
        with cache_lock(root):
            manifest = read_manifest(root)
            if any(len(manifest[s]) < min(wanted[s], shipped[s]) for s in SPLITS):
                _unpack_shipped(root)
                manifest = read_manifest(root)
            missing = {s: wanted[s] - len(manifest[s]) for s in SPLITS if len(manifest[s]) < wanted[s]}
            if missing:
                from agentrl.envs.alfworld.build import extend_generated

                manifest = extend_generated(root, wanted)
    splits = {
        split: [
            Game(entry["task_id"], str(root / entry["path"] / "game.tw-pddl"), entry["task_type"])
            for entry in manifest[split][: wanted[split]]
        ]
        for split in SPLITS
    }
    return GameSet("generated", root / "json_2.1.1", splits)


def _unpack_shipped(root: Path) -> None:
    """Unpack the shipped games into root, keeping games generated beyond them."""
    if not SHIPPED_ARCHIVE.exists():
        return
    before = read_manifest(root)
    with tarfile.open(SHIPPED_ARCHIVE) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(root, filter="data")
        else:  # Python < 3.11.4: the archive is ours, members are plain files under json_2.1.1/
            archive.extractall(root)  # noqa: S202
    shipped = read_manifest(root)
    merged = {split: before[split] if len(before[split]) > len(shipped[split]) else shipped[split] for split in SPLITS}
    write_manifest(root, merged)
