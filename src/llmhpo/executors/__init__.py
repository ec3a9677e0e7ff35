"""Executors run objective calls; the study loop owns everything else."""

from __future__ import annotations

import importlib
from typing import Any

from llmhpo.exceptions import InvalidConfigError
from llmhpo.executors.base import Executor, WorkerDied
from llmhpo.executors.inline import InlineExecutor
from llmhpo.executors.process import ProcessExecutor

__all__ = [
    "Executor",
    "WorkerDied",
    "InlineExecutor",
    "ProcessExecutor",
    "EXECUTORS",
    "make_executor",
]

#: name -> "module:Class" (imported on first use: Ray is heavy). The one list of executor
#: names: the config validation and the CLI's ``--executor`` choices read it.
EXECUTORS: dict[str, str] = {
    "inline": "llmhpo.executors.inline:InlineExecutor",
    "process": "llmhpo.executors.process:ProcessExecutor",
    "ray": "llmhpo.executors.ray:RayExecutor",
}


def make_executor(name: str, n_workers: int = 1, **kwargs: Any) -> Executor:
    """Build an executor by name (one of :data:`EXECUTORS`) with ``n_workers`` workers."""
    if name not in EXECUTORS:
        raise InvalidConfigError(f"unknown executor {name!r}, expected one of {list(EXECUTORS)}")
    if name == "inline":
        if n_workers != 1:
            raise InvalidConfigError(
                f"the inline executor runs one trial at a time, got n_workers={n_workers}; "
                "use executor 'process' for parallel workers"
            )
        return InlineExecutor(**kwargs)
    module, cls = EXECUTORS[name].split(":")
    return getattr(importlib.import_module(module), cls)(n_workers, **kwargs)
