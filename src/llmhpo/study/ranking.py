"""Ranking trials and telling metric directions: used by objectives (keeping the best
adapters), evaluation and reporting alike, so it sits just above the trial records."""

from __future__ import annotations

from typing import Any

from llmhpo.metrics import infer_direction
from llmhpo.study.trial import Trial, TrialState

__all__ = ["infer_direction", "ranked_trials"]


def ranked_trials(study: Any, k: int | None = None) -> list[Trial]:
    """The COMPLETE trials evaluated in this study (no warm-start imports), best first.

    ``study`` is anything with ``trials`` and ``direction`` (a :class:`~llmhpo.study.Study`);
    ties go to the earlier trial.
    """
    done = [t for t in study.trials if t.state is TrialState.COMPLETE and not t.warm_start]
    sign = 1.0 if study.direction == "minimize" else -1.0
    done.sort(key=lambda t: (sign * float(t.value), t.number))  # type: ignore[arg-type]
    return done if k is None else done[:k]
