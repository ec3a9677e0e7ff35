"""Executors run objective calls; the study loop owns everything else."""

from __future__ import annotations

from typing import Any

from llmhpo.exceptions import InvalidConfigError
from llmhpo.executors.base import Executor, WorkerDied
from llmhpo.executors.inline import InlineExecutor
from llmhpo.executors.process import ProcessExecutor

__all__ = ["Executor", "WorkerDied", "InlineExecutor", "ProcessExecutor", "make_executor"]


def make_executor(name: str, n_workers: int = 1, **kwargs: Any) -> Executor:
    """Build an executor by name: ``inline``, ``process`` or ``ray``."""
    if name == "inline":
        if n_workers != 1:
            raise InvalidConfigError(
                f"the inline executor runs one trial at a time, got n_workers={n_workers}; "
                "use executor 'process' for parallel workers"
            )
        return InlineExecutor()
    if name == "process":
        return ProcessExecutor(n_workers, **kwargs)
    if name == "ray":
        from llmhpo.executors.ray import RayExecutor

        return RayExecutor(n_workers, **kwargs)
    raise InvalidConfigError(
        f"unknown executor {name!r}, expected one of ['inline', 'process', 'ray']"
    )
