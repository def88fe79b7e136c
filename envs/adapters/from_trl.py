"""TRL environment_factory classes from a recipe: `env_id: trl:package.module:EnvClass` (or `trl:path/to/file.py:Cls`).

The class is what TRL's GRPOTrainer(environment_factory=EnvClass) takes, unchanged: reset(**row), public tool
methods (sync or async), optionally get_reward(). It runs through agentrl.envs.tools.TRLStyleEnv; this module
finds the class and turns recipe keys (plain data, so they reach env_workers processes) into its arguments:

    env_kwargs:
      dataset: ROWS                   the dataset rows, by name: `ROWS` (an attribute of the class's module),
                                      `package.module:ROWS` or `path/to/file.py:ROWS`; a list of rows, a dict of
                                      columns, a datasets.Dataset, a datasets.DatasetDict or {split: rows}, or a
                                      zero-argument function returning one of these
      dataset_path: rows.jsonl        or the rows from a file: JSON Lines, or JSON holding any of the above shapes
      splits: {eval_in: validation}   which dataset split feeds which agentrl split (see below)
      reward_funcs: [my_reward]       TRL reward functions (batch style, environments=...) or f(env) -> float;
                                      summed with get_reward() as TRL sums them; names as for `dataset`
      won: is_solved                  f(env) -> bool; default: reward > 0
      done: is_finished               f(env) -> bool checked after every call; ends the episode
      max_steps: 10                   turns per episode
      end_on_answer: true             a turn without a tool call ends the episode (TRL's rollouts end there)

Splits: a dataset without splits is all `train`. Dataset splits map to agentrl's by name: train -> train,
test -> eval_in (held-out tasks from the training distribution), eval_in / eval_out as they are; validation ->
eval_in only when there is no test split (with both, validation is unused unless `splits` maps it, and a
warning says so). eval_out (out-of-distribution tasks) comes only from a split of that name or from `splits`.
Task ids are "{ClassName}/{split}/{row index:05d}", stable as long as the rows keep their order.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from agentrl.envs.base import SPLITS
from agentrl.envs.registry import UnknownEnvironmentError, import_object
from agentrl.envs.tools import TRLStyleEnv

logger = logging.getLogger(__name__)

# dataset split name -> agentrl split, in order of preference (the first present one feeds the agentrl split)
_SPLIT_NAMES = {"train": ("train",), "eval_in": ("eval_in", "test", "validation"), "eval_out": ("eval_out",)}
_warned: set[str] = set()


def make_trl_env(
    target: str,
    dataset: str | None = None,
    dataset_path: str | None = None,
    splits: Mapping[str, str] | None = None,
    reward_funcs: str | Sequence[str] = (),
    won: str | None = None,
    done: str | None = None,
    max_steps: int = 10,
    end_on_answer: bool = True,
) -> TRLStyleEnv:
    """`trl:package.module:EnvClass` (or `trl:path/to/file.py:EnvClass`) with its rows named by `dataset` or
    `dataset_path` (module docstring)."""
    spec = f"trl:{target}"
    factory = import_object(target, f"env_id {spec!r} names")
    if isinstance(factory, Mapping):
        raise UnknownEnvironmentError(
            f"env_id {spec!r} is a dict of environment factories (TRL's multi-environment mode, routed by an "
            "`environment` column): agentrl runs one class per recipe; name one of them, e.g. "
            f"trl:{target.rpartition(':')[0]}:{next(iter(factory), 'EnvClass')}"
        )
    if not callable(factory):
        raise UnknownEnvironmentError(
            f"env_id {spec!r} is a {type(factory).__name__}: point it at the class (or zero-argument factory) you "
            "would pass to GRPOTrainer(environment_factory=...)"
        )
    home = sys.modules.get(getattr(factory, "__module__", ""), None)
    if (dataset is None) == (dataset_path is None):
        raise UnknownEnvironmentError(
            f"env_id {spec!r}: give the task rows in env_kwargs, either `dataset: NAME` (a list of rows, dict of "
            "columns, datasets.Dataset or DatasetDict in the class's module, or module:NAME / file.py:NAME) or "
            "`dataset_path: rows.jsonl` - exactly one of them"
        )
    tasks = _tasks(dataset, dataset_path, tuple(sorted((splits or {}).items())), home, spec)
    name = getattr(factory, "__name__", "trl_env")
    functions = [reward_funcs] if isinstance(reward_funcs, str) else list(reward_funcs)
    try:
        return TRLStyleEnv(
            name,
            factory,
            tasks,
            reward_funcs=[_function(item, "reward_funcs", home, spec) for item in functions],
            won=None if won is None else _function(won, "won", home, spec),
            done=None if done is None else _function(done, "done", home, spec),
            max_steps=max_steps,
            end_on_answer=end_on_answer,
        )
    except ValueError as error:
        if isinstance(error, UnknownEnvironmentError):
            raise
        raise UnknownEnvironmentError(f"env_id {spec!r}: {error}") from None


def _named(reference: str, key: str, home: Any, spec: str) -> Any:
    """What `reference` names: an attribute of the class's module (`home`) or a module:attr / file.py:attr path."""
    if ":" in reference:
        return import_object(reference, f"env_kwargs {key}")
    if home is None or not hasattr(home, reference):
        defined = sorted(n for n in vars(home) if not n.startswith("_"))[:12] if home is not None else []
        raise UnknownEnvironmentError(
            f"env_kwargs {key}: {reference!r} is not defined next to the class of env_id {spec!r} (that module "
            f"defines: {', '.join(defined)}); write module:{reference} or path/to/file.py:{reference} if it lives "
            "elsewhere"
        )
    return getattr(home, reference)


def _function(reference: Any, key: str, home: Any, spec: str) -> Callable[..., Any]:
    if not isinstance(reference, str):
        raise UnknownEnvironmentError(f"env_kwargs {key}: write a function name or module:function, got {reference!r}")
    function = _named(reference, key, home, spec)
    if not callable(function):
        raise UnknownEnvironmentError(f"env_kwargs {key}: {reference!r} is a {type(function).__name__}, not a function")
    return function


@functools.lru_cache(maxsize=8)  # one slot per parallel episode builds an env: read the rows once per process
def _tasks(
    dataset: str | None, dataset_path: str | None, splits: tuple[tuple[str, str], ...], home: Any, spec: str
) -> dict[str, list[Mapping[str, Any]]]:
    """{agentrl split: rows} from the dataset the recipe names."""
    if dataset is not None:
        data = _named(dataset, "dataset", home, spec)
        if callable(data) and not _is_dataset(data):
            data = data()
        source = f"env_kwargs dataset {dataset!r}"
    else:
        data = _read_file(dataset_path)
        source = f"env_kwargs dataset_path {dataset_path!r}"
    return _assign_splits(_dataset_splits(data, source), dict(splits), source)


def _is_dataset(data: Any) -> bool:
    return type(data).__name__ in ("Dataset", "DatasetDict") and type(data).__module__.startswith("datasets")


def _read_file(path: str) -> Any:
    file = Path(path).expanduser()
    if not file.is_file():
        raise UnknownEnvironmentError(
            f"env_kwargs dataset_path {path!r}: no such file (relative paths start at the current folder)"
        )
    text = file.read_text()
    try:
        if file.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UnknownEnvironmentError(
            f"env_kwargs dataset_path {path!r}: not valid {'JSON Lines' if file.suffix == '.jsonl' else 'JSON'} "
            f"(line {error.lineno}: {error.msg})"
        ) from None


def _dataset_splits(data: Any, source: str) -> dict[str, list[Mapping[str, Any]]]:
    """{dataset split name: rows} of any accepted shape; one without splits is {"train": rows}."""
    if _is_dataset(data) and not isinstance(data, Mapping):  # datasets.Dataset (a DatasetDict is a dict)
        return {"train": _rows(data.to_list(), source)}
    if isinstance(data, Mapping) and data and all(_is_dataset(v) or _is_row_list(v) for v in data.values()):
        return {str(split): _rows(r.to_list() if _is_dataset(r) else r, source) for split, r in data.items()}
    if isinstance(data, Mapping) and data and all(_is_column(v) for v in data.values()):
        lengths = {len(column) for column in data.values()}
        if len(lengths) != 1:
            raise UnknownEnvironmentError(f"{source}: the columns have different lengths ({sorted(lengths)})")
        keys = list(data)
        return {"train": [dict(zip(keys, values, strict=True)) for values in zip(*data.values(), strict=True)]}
    if isinstance(data, Sequence) and not isinstance(data, str):
        return {"train": _rows(data, source)}
    raise UnknownEnvironmentError(
        f"{source} is a {type(data).__name__}: give a list of rows (dicts), a dict of columns, a datasets.Dataset, "
        "a datasets.DatasetDict or {split: rows}"
    )


def _is_column(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


def _is_row_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str) and all(isinstance(r, Mapping) for r in value)


def _rows(rows: Sequence[Any], source: str) -> list[Mapping[str, Any]]:
    bad = next((row for row in rows if not isinstance(row, Mapping)), None)
    if bad is not None:
        raise UnknownEnvironmentError(
            f"{source}: every row must be a dict of columns (TRL calls reset(**row)), found a {type(bad).__name__}"
        )
    return list(rows)


def _assign_splits(
    by_name: dict[str, list[Mapping[str, Any]]], chosen: dict[str, str], source: str
) -> dict[str, list[Mapping[str, Any]]]:
    """{agentrl split: rows}: `chosen` ({agentrl split: dataset split}) first, then the names in _SPLIT_NAMES."""
    unknown = sorted(set(chosen) - set(SPLITS))
    if unknown:
        raise UnknownEnvironmentError(f"env_kwargs splits: {unknown} are not agentrl splits; they are {SPLITS}")
    missing = sorted(name for name in chosen.values() if name not in by_name)
    if missing:
        raise UnknownEnvironmentError(
            f"env_kwargs splits names {missing}, which {source} does not have (it has: {', '.join(by_name)})"
        )
    tasks: dict[str, list[Mapping[str, Any]]] = {}
    for split in SPLITS:
        name = chosen.get(split) or next((n for n in _SPLIT_NAMES[split] if n in by_name), None)
        tasks[split] = by_name[name] if name is not None else []
    used = {chosen.get(split) or next((n for n in _SPLIT_NAMES[split] if n in by_name), None) for split in SPLITS}
    unused = sorted(set(by_name) - used)
    if unused and source not in _warned:  # every parallel episode builds an env: say it once
        _warned.add(source)
        logger.warning(
            "%s: dataset splits %s are not used (agentrl's splits: train <- train, eval_in <- test or validation, "
            "eval_out <- eval_out); map them with env_kwargs splits: {eval_in: NAME, eval_out: NAME}",
            source,
            unused,
        )
    if not tasks["train"]:
        raise UnknownEnvironmentError(
            f"{source} has no train rows (its splits: {', '.join(by_name)}); name one with env_kwargs splits: "
            "{train: NAME}"
        )
    return tasks


__all__ = ["make_trl_env"]
