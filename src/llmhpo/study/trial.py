"""Trial records: immutable snapshots of one evaluation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = ["TrialState", "Trial"]


class TrialState(str, Enum):  # noqa: UP042 - StrEnum would change str()/format() of stored states
    """The state of a trial.

    FAILED (the objective raised or returned NaN/inf), INFEASIBLE (the configuration cannot run,
    e.g. out of memory), TIMEOUT (over its time limit), PRUNED (stopped early by a scheduler at a
    low fidelity, :mod:`llmhpo.study.scheduling`) and INTERRUPTED (the driver stopped while it
    ran) are all kept as data; only INTERRUPTED trials do not count against the budget.
    """

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    INFEASIBLE = "infeasible"
    TIMEOUT = "timeout"
    PRUNED = "pruned"
    INTERRUPTED = "interrupted"

    def is_finished(self) -> bool:
        return self is not TrialState.RUNNING

    def counts_against_budget(self) -> bool:
        return self not in (TrialState.RUNNING, TrialState.INTERRUPTED)


@dataclass(frozen=True)
class Trial:
    """One evaluation of the objective, as stored.

    Attributes:
        number: 0-based index in the study.
        state: see :class:`TrialState`.
        params: the hyperparameters the objective received.
        x: the encoded point in [0, 1]^dim the optimizer suggested.
        value: the objective value (in the study's direction): of a COMPLETE trial, or of a
            PRUNED one at the last fidelity it reached; ``None`` otherwise.
        metrics: every metric the objective returned (tokens/s, accuracy, ...).
        attrs: optimizer attributes (phase, depth, acquisition value, ...).
        error: error text (traceback) of a failed trial.
        warm_start: the trial was imported from a cache or another study, not evaluated here.
        datetime_start / datetime_complete: wall-clock timestamps (UTC).
        intermediate: the learning curve, ``{step: value}`` of the study metric as reported
            during the trial (Optuna intermediate values).
    """

    number: int
    state: TrialState
    params: dict[str, Any]
    x: tuple[float, ...] | None = None
    value: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    warm_start: bool = False
    datetime_start: dt.datetime | None = None
    datetime_complete: dt.datetime | None = None
    intermediate: dict[int, float] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        """Seconds between start and completion, if both are known."""
        if self.datetime_start is None or self.datetime_complete is None:
            return None
        return (self.datetime_complete - self.datetime_start).total_seconds()
