"""The optional ScienceWorld engine (a Scala simulator in a JVM, driven through py4j)."""

from __future__ import annotations

from typing import Any

INSTALL_HINT = 'pip install -e ".[scienceworld]"'
VERSION = "1.2.3"


def require_scienceworld() -> Any:
    """Return the `scienceworld.ScienceWorldEnv` class, or raise ImportError naming the extra."""
    try:
        from scienceworld import ScienceWorldEnv
    except ImportError as error:
        raise ImportError(
            f"the scienceworld environment needs the ScienceWorld engine (scienceworld=={VERSION}), which is "
            f"not installed ({error}). Install it with: {INSTALL_HINT} (it also needs Java 8+ on PATH)"
        ) from error
    return ScienceWorldEnv


def start_jvm(engine_class: Any) -> Any:
    """Start one ScienceWorld simulator (a JVM, 1-3 s); explain a missing Java instead of a py4j trace."""
    try:
        # envStepLimit: agentrl counts steps itself (max_steps); the engine's own limit must never end first.
        return engine_class("", envStepLimit=10**9)
    except (FileNotFoundError, OSError) as error:
        raise RuntimeError(
            f"could not start the ScienceWorld simulator ({error}); it runs on Java 8 or newer: install a JRE "
            "(e.g. apt-get install default-jre-headless) and make sure `java` is on PATH"
        ) from error
