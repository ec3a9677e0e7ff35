"""The executor protocol: run objective calls, nothing else.

Executors follow ``concurrent.futures``: :meth:`Executor.submit` returns a
:class:`~concurrent.futures.Future`. The study loop owns everything else (asking, telling,
storage); an executor only runs calls and can stop one that runs too long.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, runtime_checkable

__all__ = ["Executor", "WorkerDied", "mark_queued", "mark_started", "started_at"]


def mark_started(future: Future[Any]) -> None:
    """Record on ``future`` the moment a worker began running its call (again, on a retry)."""
    future.llmhpo_started_at = time.monotonic()  # type: ignore[attr-defined]


#: Seconds a call may wait for its worker to start (spawn, imports) before its time limit
#: counts from its submission anyway (a worker that never starts must not hang the study).
STARTUP_GRACE_S = 60.0


def mark_queued(future: Future[Any]) -> None:
    """Record that ``future`` waits for a worker (the executor marks when one starts it)."""
    future.llmhpo_started_at = None  # type: ignore[attr-defined]


def started_at(future: Future[Any], submitted: float) -> float:
    """The moment a trial's time limit counts from: when a worker began the call, for
    executors that say so (:func:`mark_started`), so that the start-up of a worker or a retry
    after a worker died is not charged to the trial; while the call still waits for its
    worker, its submission plus :data:`STARTUP_GRACE_S`; for other executors its submission."""
    if not hasattr(future, "llmhpo_started_at"):
        return submitted
    t = future.llmhpo_started_at
    return submitted + STARTUP_GRACE_S if t is None else float(t)


class WorkerDied(RuntimeError):
    """The worker process running a call died (segfault, killed by the OS, ...)."""


@runtime_checkable
class Executor(Protocol):
    """What the study loop needs from an executor.

    Attributes:
        n_workers: how many calls may run at once.
    """

    n_workers: int

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        """Start ``fn(*args)`` as soon as a worker is free."""
        ...

    def kill(self, future: Future[Any]) -> bool:
        """Stop the call behind ``future`` (best effort); return True if it was stopped."""
        ...

    def shutdown(self) -> None:
        """Stop every worker; pending calls are cancelled."""
        ...


class TaskQueue:
    """Calls submitted to a pool executor and not yet given to a worker (FIFO).

    Shared by the process and Ray executors; the caller holds its own lock.
    """

    def __init__(self) -> None:
        from collections import deque

        self._items: deque[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def push(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Future[Any]:
        fut: Future[Any] = Future()
        self._items.append((fut, fn, args))
        return fut

    def pop(self) -> tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None:
        """The oldest call whose future was not cancelled (marked running), or None."""
        while self._items:
            fut, fn, args = self._items.popleft()
            if fut.set_running_or_notify_cancel():
                return fut, fn, args
        return None

    def cancel(self, future: Future[Any]) -> bool:
        """Remove and cancel ``future`` if it is still queued."""
        for item in self._items:
            if item[0] is future:
                self._items.remove(item)
                future.cancel()
                return True
        return False

    def cancel_all(self) -> None:
        for fut, _, _ in self._items:
            fut.cancel()
        self._items.clear()
