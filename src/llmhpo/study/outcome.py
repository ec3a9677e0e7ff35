"""Running one objective call and turning whatever happens into a recorded outcome.

This runs inside the worker (in-process, a spawned process, a Ray task): it never raises, so
an objective failure is data, not a crash of the study.
"""

from __future__ import annotations

import math
import os
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmhpo.exceptions import TrialInfeasible
from llmhpo.study.trial import TrialState

__all__ = ["TrialContext", "Outcome", "run_objective", "is_out_of_memory"]


@dataclass(frozen=True)
class TrialContext:
    """What an objective may know about the trial it runs.

    Attributes:
        number: the trial number.
        seed: a seed for the trial's own randomness.
        workdir: a directory the trial may write to (adapters, logs), or ``None``.
        time_limit: seconds the trial may take, or ``None``; objectives that can stop
            early (training loops) should check :meth:`time_left`.
        started: ``time.monotonic()`` when the worker started the trial.
    """

    number: int
    seed: int = 0
    workdir: str | None = None
    time_limit: float | None = None
    started: float = field(default_factory=time.monotonic)

    def time_left(self) -> float:
        if self.time_limit is None:
            return math.inf
        return self.time_limit - (time.monotonic() - self.started)

    def path(self) -> Path:
        """The trial's work directory (created on demand)."""
        if self.workdir is None:
            raise RuntimeError("this trial has no work directory")
        p = Path(self.workdir)
        p.mkdir(parents=True, exist_ok=True)
        return p


@dataclass(frozen=True)
class Outcome:
    """The result of one objective call, as sent back to the study."""

    state: TrialState
    metrics: dict[str, Any]
    error: str | None
    wall_time: float
    pid: int


# How torch's allocators word a failed allocation: CUDA raises OutOfMemoryError ("CUDA out of
# memory"); the CPU allocator a plain RuntimeError ("DefaultCPUAllocator: can't allocate
# memory"), which no exception type distinguishes.
_OOM_PHRASES = ("out of memory", "can't allocate memory", "cannot allocate memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA/CPU out-of-memory errors (torch's OutOfMemoryError, the CPU allocator's
    "can't allocate memory", MemoryError)."""
    if isinstance(exc, (MemoryError, TrialInfeasible)):
        return True
    text = str(exc).lower()
    return type(exc).__name__ == "OutOfMemoryError" or any(p in text for p in _OOM_PHRASES)


def run_objective(
    objective: Callable[[dict[str, Any], TrialContext], Any],
    params: dict[str, Any],
    ctx: TrialContext,
) -> Outcome:
    """Call ``objective(params, ctx)`` and classify the result; never raises."""
    t0 = time.monotonic()
    ctx = TrialContext(ctx.number, ctx.seed, ctx.workdir, ctx.time_limit, t0)
    try:
        result = objective(dict(params), ctx)
        metrics = _as_metrics(result)
        state, error = TrialState.COMPLETE, None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - any failure of user code is data
        metrics = dict(getattr(exc, "metrics", {}) or {})
        state = TrialState.INFEASIBLE if is_out_of_memory(exc) else TrialState.FAILED
        if isinstance(exc, TimeoutError):
            state = TrialState.TIMEOUT
        error = "".join(traceback.format_exception(exc)).strip()
    return Outcome(state, metrics, error, time.monotonic() - t0, os.getpid())


def _as_metrics(result: Any) -> dict[str, Any]:
    if isinstance(result, Mapping):
        out = {}
        for k, v in result.items():
            out[str(k)] = _plain(v)
        return out
    return {"value": _plain(result)}


def _plain(v: Any) -> Any:
    """Turn numpy/torch scalars into Python numbers; keep strings, lists and dicts."""
    if isinstance(v, (str, bool, int, float)) or v is None:
        return v
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if hasattr(v, "item"):
        return v.item()
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)
