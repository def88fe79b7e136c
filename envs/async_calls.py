"""Run a library's async methods from agentrl's synchronous environment calls.

Environment libraries may define their tools, rewards or reset/step as `async def` (TRL's environment_factory
classes, OpenEnv's `reset_async` / `step_async`). agentrl calls environments synchronously, and the caller may or
may not already be inside a running event loop (a notebook, an async launcher), where `asyncio.run` and
`loop.run_until_complete` both fail. So every awaitable runs to completion on ONE event loop per process, kept in
a daemon thread: resources a library binds to its loop (HTTP sessions, locks) stay valid from one call to the
next, and the caller's loop, if any, is never touched. A forked worker process starts its own loop.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
from typing import Any

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_pid: int | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    """The process's event loop thread, started on first use (again after a fork: threads do not survive it)."""
    global _loop, _thread, _pid
    with _lock:
        if _loop is None or _pid != os.getpid() or _thread is None or not _thread.is_alive():
            _loop = asyncio.new_event_loop()
            _thread = threading.Thread(target=_loop.run_forever, name="agentrl-env-async", daemon=True)
            _thread.start()
            _pid = os.getpid()
        return _loop


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def run_to_completion(value: Any) -> Any:
    """`value` itself, or, when it is awaitable (a coroutine, a future), what it resolves to; an exception raised
    inside it is raised here."""
    if not inspect.isawaitable(value):
        return value
    if threading.current_thread() is _thread:
        raise RuntimeError("an environment's async code called back into a synchronous environment call")
    return asyncio.run_coroutine_threadsafe(_awaited(value), _background_loop()).result()
