"""The executor protocol: run objective calls, nothing else.

Executors follow ``concurrent.futures``: :meth:`Executor.submit` returns a
:class:`~concurrent.futures.Future`. The study loop owns everything else (asking, telling,
storage); an executor only runs calls and can stop one that runs too long.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, runtime_checkable

__all__ = ["Executor", "WorkerDied"]


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
