"""Environments by name: what a recipe's `env_id:` may say, and how it becomes a TextEnv.

An environment spec is one of

    household-easy                      a registered name: agentrl's own, `@register_env` in an imported
                                        module, or an installed package's entry point (group `agentrl.envs`)
    my_pkg.envs:GridEnv                 an import path `module:attribute`: a TextEnv subclass or a callable
                                        returning a TextEnv (the current folder is importable, as with -m)
    ./my_env.py:GridEnv                 the same from a Python file (a path ending in .py)
    gymnasium:ID  gem:ID  textarena:ID  an environment of another library, through its adapter
    openenv:MODULE:CLASS  openenv:http://HOST:PORT  trl:MODULE:CLASS           (envs/adapters/)

`env_kwargs` are passed to the factory. Everything that can be wrong with a spec (unknown name, module not
found, attribute missing, not an environment, adapter library not installed, unknown keyword) raises
`UnknownEnvironmentError` with one line that names the fix, so the CLI reports it before any model loads.
Worker processes resolve the same spec string themselves (agentrl/rollout/pool.py), so every launcher and
`env_workers` see the same environments.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from agentrl.envs.base import TextEnv

ENTRY_POINT_GROUP = "agentrl.envs"
# spec prefix -> "module:function" of the adapter that builds `prefix:rest` (function(rest, **kwargs) -> TextEnv)
ADAPTERS: dict[str, str] = {
    "gymnasium": "agentrl.envs.adapters.from_gymnasium:make_gymnasium_env",
    "gem": "agentrl.envs.adapters.from_gymnasium:make_gem_env",
    "textarena": "agentrl.envs.adapters.from_textarena:make_textarena_env",
    "openenv": "agentrl.envs.adapters.from_openenv:make_openenv_env",
    "trl": "agentrl.envs.adapters.from_trl:make_trl_env",
}

_FACTORIES: dict[str, Callable[..., TextEnv]] = {}
_DESCRIPTIONS: dict[str, str] = {}
_BROKEN_ENTRY_POINTS: dict[str, str] = {}  # name -> why its entry point could not be loaded


class UnknownEnvironmentError(ValueError):
    """A recipe named an environment that cannot be found or built; the message names the fix."""


def register_env(name: str, description: str = "") -> Callable[[Callable[..., TextEnv]], Callable[..., TextEnv]]:
    """Decorator: register `factory(**kwargs) -> TextEnv` under `name`."""
    if ":" in name:
        raise ValueError(f"environment name {name!r}: ':' is reserved for import paths and adapter specs")

    def decorate(factory: Callable[..., TextEnv]) -> Callable[..., TextEnv]:
        if name in _FACTORIES and _FACTORIES[name] is not factory:
            raise ValueError(f"environment {name!r} is registered twice")
        _FACTORIES[name] = factory
        _DESCRIPTIONS[name] = description or _first_doc_line(factory)
        return factory

    return decorate


def _first_doc_line(factory: Any) -> str:
    lines = (getattr(factory, "__doc__", None) or "").strip().splitlines()
    return lines[0] if lines else ""


_loaded = False


def _load_registered() -> None:
    """Import agentrl's environments (their @register_env decorators run) and read installed entry points."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import agentrl.envs.alfworld  # noqa: F401
    import agentrl.envs.factqa  # noqa: F401
    import agentrl.envs.household  # noqa: F401
    import agentrl.envs.scienceworld  # noqa: F401
    import agentrl.envs.textworld  # noqa: F401
    import agentrl.envs.webshop  # noqa: F401

    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in _FACTORIES:
            continue  # a decorator in an already imported module registered it under the same name
        try:
            factory = entry.load()
        except Exception as error:  # noqa: BLE001 - one broken package must not hide the other environments
            _BROKEN_ENTRY_POINTS[entry.name] = f"entry point {entry.value!r} does not load: {_first_line(error)}"
            continue
        if not callable(factory):
            _BROKEN_ENTRY_POINTS[entry.name] = f"entry point {entry.value!r} is not callable"
            continue
        register_env(entry.name)(factory)


def list_envs() -> dict[str, str]:
    """{name: one-line description} of every registered environment (entry points included)."""
    _load_registered()
    listed = dict(_DESCRIPTIONS)
    listed.update({name: f"(broken) {why}" for name, why in _BROKEN_ENTRY_POINTS.items()})
    return dict(sorted(listed.items()))


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or repr(error)
    return text.splitlines()[0]


def _import_module(module_name: str, spec: str):
    """Import `module_name` as `python -m` would see it: the current folder is on the path."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)  # appended, so an installed package of the same name still wins
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and (module_name == error.name or module_name.startswith(error.name + ".")):
            raise UnknownEnvironmentError(
                f"env_id {spec!r}: module {module_name!r} not found. Install the package that provides it, run from "
                "the folder that holds it, or give a file path instead (env_id: path/to/file.py:Name)."
            ) from None
        raise UnknownEnvironmentError(
            f"env_id {spec!r}: importing {module_name!r} failed: {_first_line(error)} (pip install {error.name})"
        ) from None
    except Exception as error:  # noqa: BLE001 - the user's module raised while importing
        raise UnknownEnvironmentError(
            f"env_id {spec!r}: importing {module_name!r} raised {type(error).__name__}: {_first_line(error)}"
        ) from None


def _import_file(path: str, spec: str):
    """Load a Python file as a module named after its absolute path, once per process."""
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise UnknownEnvironmentError(
            f"env_id {spec!r}: file {path!r} not found (relative paths start at the current folder; in a recipe, at "
            "the recipe's folder)."
        )
    module_name = "agentrl_user_env_" + "".join(c if c.isalnum() else "_" for c in str(file.with_suffix("")))
    if module_name in sys.modules:
        return sys.modules[module_name]
    loader_spec = importlib.util.spec_from_file_location(module_name, file)
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module  # before exec, so classes defined there pickle by this name
    try:
        loader_spec.loader.exec_module(module)
    except Exception as error:  # noqa: BLE001
        del sys.modules[module_name]
        raise UnknownEnvironmentError(
            f"env_id {spec!r}: running {str(file)!r} raised {type(error).__name__}: {_first_line(error)}"
        ) from None
    return module


def _attribute(module, attribute: str, spec: str, location: str) -> Any:
    try:
        value = module
        for part in attribute.split("."):
            value = getattr(value, part)
        return value
    except AttributeError:
        public = sorted(name for name in vars(module) if not name.startswith("_"))[:12]
        raise UnknownEnvironmentError(
            f"env_id {spec!r}: {location!r} has no attribute {attribute!r} (it defines: {', '.join(public)})"
        ) from None


def import_object(target: str, label: str) -> Any:
    """The object `module:attribute` or `path/to/file.py:attribute` names, imported as an env_id import path is
    (adapters use it for the classes, data and functions their specs and env_kwargs name); UnknownEnvironmentError
    starting with `label` (e.g. "env_kwargs dataset") when it is not there."""
    location, _, attribute = target.rpartition(":")
    try:
        if not location or not attribute:
            raise UnknownEnvironmentError(f"env_id {target!r}: write module:attribute or path/to/file.py:attribute")
        module = _import_file(location, target) if location.endswith(".py") else _import_module(location, target)
        return _attribute(module, attribute, target, location)
    except UnknownEnvironmentError as error:  # the helpers say "env_id ...": name what the caller was reading
        raise UnknownEnvironmentError(str(error).replace(f"env_id {target!r}", f"{label} {target!r}", 1)) from None


def resolve_env(spec: str, key: str = "env_id") -> Callable[..., TextEnv]:
    """The factory an environment spec names (see the module docstring); UnknownEnvironmentError if none, its message
    naming the recipe key `key` the spec came from (env_shift_id names a second environment)."""
    try:
        return _resolve_env(spec)
    except UnknownEnvironmentError as error:
        if key == "env_id":
            raise
        # the messages name the key as the word env_id; a file or module name that contains it is left alone
        raise UnknownEnvironmentError(re.sub(r"(?<![\w.])env_id(?![\w.])", key, str(error))) from None


def _resolve_env(spec: str) -> Callable[..., TextEnv]:
    if not isinstance(spec, str) or not spec.strip():
        raise UnknownEnvironmentError(
            f"env_id must be an environment name or spec, got {spec!r}; list the registered ones with `agentrl envs`"
        )
    spec = spec.strip()
    if ":" not in spec:
        _load_registered()
        if spec in _FACTORIES:
            return _FACTORIES[spec]
        if spec in _BROKEN_ENTRY_POINTS:
            raise UnknownEnvironmentError(f"environment {spec!r}: {_BROKEN_ENTRY_POINTS[spec]}")
        known = ", ".join(sorted(_FACTORIES))
        raise UnknownEnvironmentError(
            f"unknown environment {spec!r}. Set the recipe key `env_id:` to one of: {known} (list them with "
            "`agentrl envs`), to an import path `package.module:Factory` or `path/to/file.py:Factory`, or to an "
            f"adapter spec ({', '.join(f'{prefix}:...' for prefix in ADAPTERS)}); docs/environments.md."
        )
    prefix, rest = spec.split(":", 1)
    if prefix in ADAPTERS:
        module_name, function = ADAPTERS[prefix].split(":")
        make = getattr(importlib.import_module(module_name), function)
        if not rest:
            raise UnknownEnvironmentError(f"env_id {spec!r}: name the environment after '{prefix}:' ({make.__doc__})")

        def adapter_factory(**kwargs: Any) -> TextEnv:
            return make(rest, **kwargs)

        adapter_factory.__doc__ = f"{prefix} environment {rest!r}"
        adapter_factory.__signature__ = _signature_without_first(make)
        return adapter_factory
    location, attribute = spec.rsplit(":", 1)
    if not location or not attribute:
        raise UnknownEnvironmentError(f"env_id {spec!r}: write an import path as package.module:Factory")
    module = _import_file(location, spec) if location.endswith(".py") else _import_module(location, spec)
    factory = _attribute(module, attribute, spec, location)
    if not callable(factory):
        raise UnknownEnvironmentError(
            f"env_id {spec!r} is a {type(factory).__name__}, not an environment: point it at a TextEnv subclass or a "
            "function returning one (docs/environments.md)"
        )
    if inspect.isclass(factory) and not issubclass(factory, TextEnv):
        raise UnknownEnvironmentError(
            f"env_id {spec!r}: {factory.__name__} is not a TextEnv subclass. Subclass agentrl.envs.TextEnv, or use "
            f"an adapter: trl:{location}:{attribute} for a TRL environment_factory class, gymnasium:/textarena:/"
            "openenv: for those libraries (docs/environments.md)."
        )
    return factory


def _signature_without_first(function: Callable[..., Any]) -> inspect.Signature:
    signature = inspect.signature(function)
    return signature.replace(parameters=list(signature.parameters.values())[1:])


def check_env_name(spec: str) -> None:
    """Raise UnknownEnvironmentError, naming the fix, if `spec` names no environment."""
    resolve_env(spec)


def check_env_kwargs(spec: str, kwargs: dict[str, Any], key: str = "env_id") -> None:
    """Raise UnknownEnvironmentError if `spec` (from the recipe key `key`) names no environment, or its factory takes
    no keyword in `kwargs` (e.g. a typo)."""
    factory = resolve_env(spec, key)
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return  # a builtin or C callable: nothing to check before calling it
    parameters = signature.parameters.values()
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters):
        return
    accepted = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = [key for key in kwargs if key not in accepted]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], accepted, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownEnvironmentError(
            f"env_kwargs key {unknown[0]!r} is not a parameter of environment {spec!r}.{hint} It takes: "
            f"{', '.join(accepted) or 'no keywords'}."
        )


def make_env(spec: str, **kwargs: Any) -> TextEnv:
    """Build the environment `spec` names (see the module docstring) with `kwargs` (the recipe's `env_kwargs`)."""
    factory = resolve_env(spec)
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        signature = None  # a builtin without a signature: calling it is the check
    if signature is not None:
        try:
            signature.bind(**kwargs)
        except TypeError as error:
            check_env_kwargs(spec, kwargs)  # an unknown keyword: that message names the accepted ones
            raise UnknownEnvironmentError(
                f"env_id {spec!r} cannot be called with env_kwargs {kwargs}: {error}. Set the missing values in "
                "env_kwargs, or point env_id at a factory that builds the environment."
            ) from None
    env = factory(**kwargs)
    if not isinstance(env, TextEnv):
        raise UnknownEnvironmentError(
            f"env_id {spec!r} returned a {type(env).__name__}, not an agentrl TextEnv: return an instance of a "
            "TextEnv subclass, or wrap the object with an adapter (docs/environments.md)"
        )
    return env
