"""Environment registry: names in recipes map to factories here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from envs.base import TextEnv

_FACTORIES: dict[str, Callable[..., TextEnv]] = {}
_DESCRIPTIONS: dict[str, str] = {}


class UnknownEnvironmentError(ValueError):
    """A recipe named an environment that is not registered."""


def register_env(name: str, description: str = "") -> Callable[[Callable[..., TextEnv]], Callable[..., TextEnv]]:
    """Decorator: register `factory(**kwargs) -> TextEnv` under `name`."""

    def decorate(factory: Callable[..., TextEnv]) -> Callable[..., TextEnv]:
        if name in _FACTORIES and _FACTORIES[name] is not factory:
            raise ValueError(f"environment {name!r} is registered twice")
        _FACTORIES[name] = factory
        doc_lines = (factory.__doc__ or "").strip().splitlines()
        _DESCRIPTIONS[name] = description or (doc_lines[0] if doc_lines else "")
        return factory

    return decorate


def _load_builtin() -> None:
    # Importing the packages runs their @register_env decorators.
    import envs.alfworld  # noqa: F401
    import envs.factqa  # noqa: F401
    import envs.household  # noqa: F401
    import envs.scienceworld  # noqa: F401
    import envs.textworld  # noqa: F401
    import envs.webshop  # noqa: F401


def list_envs() -> dict[str, str]:
    """{name: one-line description} of every registered environment."""
    _load_builtin()
    return dict(sorted(_DESCRIPTIONS.items()))


def check_env_name(name: str) -> None:
    """Raise UnknownEnvironmentError, naming the known environments, if `name` is not registered."""
    _load_builtin()
    if name not in _FACTORIES:
        known = ", ".join(sorted(_FACTORIES))
        raise UnknownEnvironmentError(
            f"unknown environment {name!r}. Set the recipe key `env:` to one of: {known} "
            "(list them with `agentrl envs`)."
        )


def make_env(name: str, **kwargs: Any) -> TextEnv:
    """Build the environment registered as `name` with `kwargs` (the recipe's `env_kwargs`)."""
    check_env_name(name)
    return _FACTORIES[name](**kwargs)
