"""Ranking trials and telling metric directions: used by objectives (keeping the best
adapters), evaluation and reporting alike, so it sits just above the trial records."""

from __future__ import annotations

from typing import Any

from llmhpo.study.trial import Trial, TrialState

__all__ = ["infer_direction", "ranked_trials"]

# Substrings of metric names whose direction is unambiguous. Checked in order: "loss" before
# "acc" so that "acc_loss" would minimize; names are lower-cased first.
_MINIMIZE = ("loss", "perplexity", "ppl", "error", "err_rate", "regret", "wall_time", "time_s",
             "memory", "mem_", "latency", "seconds", "stderr")
_MAXIMIZE = ("acc", "exact_match", "f1", "bleu", "rouge", "score", "tokens_per_s", "throughput",
             "mcc", "auc", "pass@", "precision", "recall", "reward", "win_rate")


def infer_direction(metric: str) -> str | None:
    """``"minimize"``/``"maximize"`` when the name makes it plain (``val_loss``, ``mmlu/acc``)."""
    low = metric.lower()
    for key in _MINIMIZE:
        if key in low:
            return "minimize"
    for key in _MAXIMIZE:
        if key in low:
            return "maximize"
    return None


def ranked_trials(study: Any, k: int | None = None) -> list[Trial]:
    """The COMPLETE trials evaluated in this study (no warm-start imports), best first.

    ``study`` is anything with ``trials`` and ``direction`` (a :class:`~llmhpo.study.Study`);
    ties go to the earlier trial.
    """
    done = [t for t in study.trials if t.state is TrialState.COMPLETE and not t.warm_start]
    sign = 1.0 if study.direction == "minimize" else -1.0
    done.sort(key=lambda t: (sign * float(t.value), t.number))  # type: ignore[arg-type]
    return done if k is None else done[:k]
