"""The objective contract: what an objective is, what it may know about its trial, and how one
call of it becomes a recorded :class:`Outcome`.

An objective is any callable ``objective(params, ctx) -> float | Mapping[str, Any]``:
``params`` are the decoded hyperparameters, ``ctx`` the :class:`TrialContext`. A float is the
metric ``"value"``; a mapping is every metric of the trial (the study picks its objective
metric from it). Raising is a failed trial, never a crashed study (:func:`run_objective`).
Objectives must pickle (process and Ray workers receive them), so they hold configuration,
not loaded models; a per-process cache is the objective's own business.

Optional hooks, all duck-typed (:class:`Objective` lists them; nothing to inherit):

``preflight() -> None``
    Called once in the driver before the first trial of a run (and before reference rows)
    when trials remain. Raises :class:`~llmhpo.exceptions.InvalidConfigError` on inputs every
    trial would fail on (a model that cannot load, an unknown search variable), so the user
    gets one error line instead of a study of failed trials.
``check_space(space) -> None``
    Called just before ``preflight``: raises ``InvalidConfigError`` when the study's search
    space has variables the objective would ignore (the LoRA objective names the known ones).
``references() -> {name: params | None}``
    Reference rows evaluated once per study and stored with it (Tribes et al. 2023 report the
    base model and their default hyperparameters next to the optimized ones; the LoRA
    objective adds a common recipe); ``None`` means the base model without fine-tuning.
``evaluate_reference(params | None, ctx) -> metrics``
    How a reference is evaluated (default: the objective itself; ``None`` needs this hook).
``assess(params | None, ctx, tasks=None) -> metrics``
    Re-evaluate a finished trial (or the base model) on further metrics after the study
    (``llmhpo assess``); default: run the trial again.
``study_callbacks(study) -> [callback]``
    Callbacks ``cb(study, trial)`` the study calls after each finished trial, in the driver
    (e.g. deleting adapters that are no longer among the best).
``with_settings(settings) -> objective``
    A copy of the objective in the mode an optimizer asks for: an optimizer that needs more
    than a metric per point declares ``objective_settings`` (``bilevel_bo`` asks
    ``{"fusion": {...}}``: keep checkpoints and run the inner fusion loop, Bao et al. 2025) and
    the run assembly hands them over before the first trial. An objective without the hook,
    or one that rejects the settings, is a config error naming both.

Grey-box objectives (learning curves, early stopping) call ``ctx.report(step, metrics)`` during
the trial and stop early when ``ctx.should_stop()`` is True, returning the metrics reached so
far. Both go to the context's :class:`Reporter`; without one they do nothing.
"""

from __future__ import annotations

import math
import os
import time
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from llmhpo.exceptions import TrialInfeasible, TrialPruned
from llmhpo.study.trial import TrialState

__all__ = [
    "Objective",
    "Reporter",
    "TrialContext",
    "Outcome",
    "run_objective",
    "outcome_of",
    "evaluate",
    "is_out_of_memory",
]


@runtime_checkable
class Objective(Protocol):
    """``objective(params, ctx) -> float | Mapping[str, Any]``; see the module docstring for
    the optional hooks (``check_space``, ``preflight``, ``references``, ``evaluate_reference``,
    ``assess``, ``study_callbacks``, ``with_settings``)."""

    def __call__(self, params: dict[str, Any], ctx: TrialContext) -> Any: ...


@runtime_checkable
class Reporter(Protocol):
    """Where a trial's intermediate values go and where its stop signal comes from.

    It travels inside the :class:`TrialContext` to the worker, so it must pickle (a storage
    URL, not an open connection). ``report`` may be called many times per trial with growing
    ``step``; ``should_stop`` is polled by the objective between steps.
    """

    def report(self, trial_number: int, step: int, metrics: Mapping[str, float]) -> None: ...

    def should_stop(self, trial_number: int) -> bool: ...


@dataclass(frozen=True)
class TrialContext:
    """What an objective may know about the trial it runs.

    Attributes:
        number: the trial number (negative for reference and assessment evaluations).
        seed: a seed for the trial's own randomness.
        workdir: a directory the trial may write to (adapters, checkpoints), or ``None``.
        time_limit: seconds the trial may take, or ``None``; objectives that can stop
            early (training loops) should check :meth:`time_left`.
        started: ``time.monotonic()`` when the worker started the trial.
        reporter: receives :meth:`report` and answers :meth:`should_stop` (``None``: no-op).
    """

    number: int
    seed: int = 0
    workdir: str | None = None
    time_limit: float | None = None
    started: float = field(default_factory=time.monotonic)
    reporter: Reporter | None = None

    def time_left(self) -> float:
        """Seconds left before the time limit (``inf`` without one)."""
        if self.time_limit is None:
            return math.inf
        return self.time_limit - (time.monotonic() - self.started)

    def path(self) -> Path:
        """The trial's work directory (created on demand).

        Raises:
            RuntimeError: the trial has no work directory (``workdir`` is ``None``).
        """
        if self.workdir is None:
            raise RuntimeError("this trial has no work directory")
        p = Path(self.workdir)
        p.mkdir(parents=True, exist_ok=True)
        return p

    def report(self, step: int, metrics: Mapping[str, float]) -> None:
        """Report intermediate metrics at ``step`` (e.g. the validation loss after an epoch)."""
        if self.reporter is not None:
            self.reporter.report(self.number, int(step), dict(metrics))

    def should_stop(self) -> bool:
        """True when the study or a scheduler wants this trial stopped early (pruned)."""
        return self.reporter is not None and bool(self.reporter.should_stop(self.number))


@dataclass(frozen=True)
class Outcome:
    """The result of one objective call, as sent back to the study.

    Attributes:
        state: COMPLETE, PRUNED (the objective stopped early), or how the call failed
            (FAILED, INFEASIBLE, TIMEOUT).
        metrics: what the objective returned (or attached to its exception as ``.metrics``).
        error: the traceback or error text of a failed call.
        wall_time: seconds the call took in the worker.
        pid: the worker's process id (``-1`` when the worker itself failed).
    """

    state: TrialState
    metrics: dict[str, Any]
    error: str | None
    wall_time: float
    pid: int

    @property
    def error_line(self) -> str | None:
        """The last line of :attr:`error` (what a table shows)."""
        if not self.error:
            return None
        lines = self.error.strip().splitlines()
        return lines[-1] if lines else self.error


# How torch's allocators word a failed allocation: CUDA raises OutOfMemoryError ("CUDA out of
# memory"); the CPU allocator a plain RuntimeError ("DefaultCPUAllocator: can't allocate
# memory"), which no exception type distinguishes.
_OOM_PHRASES = ("out of memory", "can't allocate memory", "cannot allocate memory")


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA/CPU out-of-memory errors (torch's OutOfMemoryError, the CPU allocator's
    "can't allocate memory", MemoryError) and :class:`~llmhpo.exceptions.TrialInfeasible`."""
    if isinstance(exc, (MemoryError, TrialInfeasible)):
        return True
    text = str(exc).lower()
    return type(exc).__name__ == "OutOfMemoryError" or any(p in text for p in _OOM_PHRASES)


def run_objective(
    objective: Callable[[dict[str, Any], TrialContext], Any],
    params: Mapping[str, Any],
    ctx: TrialContext,
) -> Outcome:
    """Call ``objective(params, ctx)`` and classify the result; never raises (except
    ``KeyboardInterrupt``). This is what runs in the worker."""
    t0 = time.monotonic()
    ctx = replace(ctx, started=t0)
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
        if isinstance(exc, TrialPruned):
            state, error = TrialState.PRUNED, str(exc)
    return Outcome(state, metrics, error, time.monotonic() - t0, os.getpid())


def outcome_of(future: Future[Any]) -> Outcome:
    """The :class:`Outcome` of a finished future of :func:`run_objective`.

    The objective's own failures are already in the outcome; an exception of the future itself
    (the worker process died, the executor could not run the call) is a FAILED outcome.
    """
    exc = future.exception()
    if exc is None:
        return future.result()
    return Outcome(TrialState.FAILED, {}, f"{type(exc).__name__}: {exc}", 0.0, -1)


def evaluate(
    objective: Callable[[dict[str, Any], TrialContext], Any],
    params: Mapping[str, Any],
    ctx: TrialContext,
    executor: Any = None,
) -> Outcome:
    """Run one call to completion: on ``executor`` (anything with ``submit(fn, *args)``
    returning a future) or, without one, in this process. Never raises."""
    if executor is None:
        return run_objective(objective, params, ctx)
    return outcome_of(executor.submit(run_objective, objective, dict(params), ctx))


def _as_metrics(result: Any) -> dict[str, Any]:
    if isinstance(result, Mapping):
        return {str(k): _plain(v) for k, v in result.items()}
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
