"""Bootstrap confidence intervals on held-out metrics, from per-example values.

A held-out accuracy on 32 prompts moves by 1/32 = 0.031 per prompt, so a point estimate alone
cannot say whether 0.344 beats 0.281. Objectives that can (the LoRA objective does) return,
next to their metrics, the per-example values behind each mean under the metric
``per_example`` (:data:`PER_EXAMPLE_KEY`)::

    {"val_loss": 1.59, "test_accuracy": 0.34,
     "per_example": {"val_loss": {"values": [...], "weights": [...]},   # token-weighted mean
                     "test_accuracy": {"values": [1, 0, 1, ...]}}}

The metric is ``sum(w * v) / sum(w)`` (``w`` = 1 when there are no weights). The functions
here resample examples (the percentile bootstrap, numpy; scipy's ``bootstrap`` has no
weighted-ratio statistic nor the paired two-level resampling below, hence hand-written):

* :func:`metric_interval` — the interval of one candidate's metric;
* :func:`difference_interval` — the interval of ``candidate - reference`` on the same
  examples (paired: the same resampled examples on both sides), which is what decides
  "beats / ties / loses". When a side has several runs (training seeds), each bootstrap
  replicate also resamples its runs, so the interval carries the seed-to-seed spread too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "PER_EXAMPLE_KEY",
    "Interval",
    "per_example",
    "metric_interval",
    "difference_interval",
    "DEFAULT_N_BOOT",
    "DEFAULT_LEVEL",
]

PER_EXAMPLE_KEY = "per_example"
DEFAULT_N_BOOT = 2000
DEFAULT_LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap confidence interval."""

    estimate: float
    low: float
    high: float
    level: float = DEFAULT_LEVEL
    n_examples: int = 0
    n_runs: int = 1

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    def to_dict(self) -> dict[str, Any]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high,
                "level": self.level, "n_examples": self.n_examples, "n_runs": self.n_runs}


def per_example(
    metrics: Mapping[str, Any] | None, metric: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(values, weights)`` of ``metric`` from a metrics dict, or ``None`` if not recorded."""
    if not metrics:
        return None
    pe = metrics.get(PER_EXAMPLE_KEY)
    if not isinstance(pe, Mapping):
        return None
    rec = pe.get(metric)
    if isinstance(rec, Mapping):
        values, weights = rec.get("values"), rec.get("weights")
    elif isinstance(rec, Sequence) and not isinstance(rec, str):
        values, weights = rec, None
    else:
        return None
    try:
        v = np.asarray(values, dtype=float)
        w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        return None
    if v.ndim != 1 or v.size == 0 or w.shape != v.shape or not np.all(np.isfinite(v)):
        return None
    return v, w


def _runs(runs: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Stack runs of the same examples into ``(n_runs, n_examples)`` arrays."""
    n = {r[0].size for r in runs}
    if len(n) != 1:
        raise ValueError(f"runs have different numbers of examples: {sorted(n)}")
    return np.stack([r[0] for r in runs]), np.stack([r[1] for r in runs])


def _replicates(v: np.ndarray, w: np.ndarray, idx: np.ndarray, run_idx: np.ndarray) -> np.ndarray:
    """Weighted means per bootstrap replicate: ``idx`` (B, n) examples, ``run_idx`` (B, r) runs."""
    # (B, r, n): the resampled runs' resampled examples
    vv = v[run_idx[:, :, None], idx[:, None, :]]
    ww = w[run_idx[:, :, None], idx[:, None, :]]
    per_run = (vv * ww).sum(-1) / np.maximum(ww.sum(-1), 1e-300)
    return per_run.mean(-1)


def _point(v: np.ndarray, w: np.ndarray) -> float:
    return float(((v * w).sum(-1) / np.maximum(w.sum(-1), 1e-300)).mean())


def _bounds(reps: np.ndarray, level: float) -> tuple[float, float]:
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(reps, [a, 1.0 - a])
    return float(lo), float(hi)


def metric_interval(
    runs: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    n_boot: int = DEFAULT_N_BOOT,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> Interval:
    """The percentile-bootstrap interval of a metric from one or more runs' per-example values.

    The estimate is the mean over runs of each run's weighted mean; each replicate resamples
    the examples (the same ones in every run) and, with several runs, the runs.
    """
    v, w = _runs(runs)
    rng = np.random.default_rng(seed)
    r, n = v.shape
    idx = rng.integers(0, n, size=(n_boot, n))
    run_idx = rng.integers(0, r, size=(n_boot, r)) if r > 1 else np.zeros((n_boot, 1), int)
    lo, hi = _bounds(_replicates(v, w, idx, run_idx), level)
    return Interval(_point(v, w), lo, hi, level, n, r)


def difference_interval(
    candidate: Sequence[tuple[np.ndarray, np.ndarray]],
    reference: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    n_boot: int = DEFAULT_N_BOOT,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> Interval:
    """The interval of ``candidate - reference`` (paired over the same examples).

    Raises:
        ValueError: the two sides were not evaluated on the same number of examples.
    """
    cv, cw = _runs(candidate)
    rv, rw = _runs(reference)
    if cv.shape[1] != rv.shape[1]:
        raise ValueError(
            f"candidate has {cv.shape[1]} examples, reference {rv.shape[1]}: not paired"
        )
    rng = np.random.default_rng(seed)
    n = cv.shape[1]
    idx = rng.integers(0, n, size=(n_boot, n))

    def runs_of(r: int) -> np.ndarray:
        return rng.integers(0, r, size=(n_boot, r)) if r > 1 else np.zeros((n_boot, 1), int)

    reps = _replicates(cv, cw, idx, runs_of(cv.shape[0])) - _replicates(
        rv, rw, idx, runs_of(rv.shape[0])
    )
    lo, hi = _bounds(reps, level)
    return Interval(_point(cv, cw) - _point(rv, rw), lo, hi, level, n, cv.shape[0])
