"""Background tasks that cannot die unnoticed: an unexpected end is logged with its cause and reported."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


def supervised(
    coroutine: Coroutine[Any, Any, None], name: str, on_failure: Callable[[str, BaseException | None], None]
) -> asyncio.Task[None]:
    """Run ``coroutine`` as a task; if it raises, or returns although it should run until cancelled, call
    ``on_failure`` with a one-line reason and the exception (for the log's traceback). Cancelling it is not
    a failure."""
    task = asyncio.create_task(coroutine, name=name)

    def ended(done: asyncio.Task[None]) -> None:
        if done.cancelled():
            return
        error = done.exception()
        reason = f"{name} failed: {error!r}" if error is not None else f"{name} ended"
        on_failure(reason, error)

    task.add_done_callback(ended)
    return task
