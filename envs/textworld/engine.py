"""The optional TextWorld engine: imported only when a textworld-* environment is built."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from types import ModuleType

INSTALL_HINT = 'pip install -e ".[textworld]"'
VERSION = "1.7.0"


def require_textworld() -> ModuleType:
    """Import and return `textworld`, or raise ImportError naming the extra that installs it."""
    try:
        import textworld
        import textworld.challenges  # noqa: F401 - registers tw-simple, tw-cooking, tw-coin_collector
        import textworld.generator  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"the textworld-* environments need the TextWorld engine (textworld=={VERSION}), which is not "
            f"installed ({error}). Install it with: {INSTALL_HINT}"
        ) from error
    return textworld


@contextlib.contextmanager
def quiet_engine() -> Iterator[None]:
    """Silence Jericho's UnsupportedGameWarning: TextWorld games run on Jericho's Z-machine, which cannot
    detect score or state changes in them; TextWorld tracks both itself."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*is not fully supported", category=UserWarning)
        yield
