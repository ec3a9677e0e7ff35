"""Run each call in the calling process, one at a time."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["InlineExecutor"]


class InlineExecutor:
    """Runs ``fn`` synchronously inside :meth:`submit` (one worker, no isolation).

    Cheapest for fast objectives and for debugging. A call cannot be stopped from outside:
    time limits are only checked after the call returns (objectives that can stop early get the
    limit through their trial context).
    """

    n_workers = 1

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        fut.set_running_or_notify_cancel()
        try:
            fut.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            if isinstance(exc, KeyboardInterrupt):
                raise
            fut.set_exception(exc)
        return fut

    def kill(self, future: Future[Any]) -> bool:
        return False

    def shutdown(self) -> None:
        return None
