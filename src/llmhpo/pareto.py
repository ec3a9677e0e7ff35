"""Pareto optimality over several metrics (Tribes et al. 2023, Appendix C).

A row is Pareto optimal when no other row dominates it: at least as good on every metric and
strictly better on one. Identical rows do not dominate each other, so duplicates of a
non-dominated row are all on the front. Rows with a missing or non-finite metric take no part.

Written with numpy by hand: Optuna's front computation is private API
(``optuna.study._multi_objective``) and works on trials, not on arbitrary rows; the number of
assessed rows is small (tens), so the O(n^2 m) pairwise test is instant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from llmhpo.exceptions import InvalidConfigError
from llmhpo.metrics import as_number, parse_metric_directions

__all__ = ["pareto_front", "pareto_rows", "dominates"]


def _signs(directions: Sequence[str]) -> np.ndarray:
    out = []
    for d in directions:
        if d not in ("minimize", "maximize"):
            raise InvalidConfigError(f"direction must be 'minimize' or 'maximize', got {d!r}")
        out.append(1.0 if d == "minimize" else -1.0)
    return np.asarray(out)


def dominates(a: Sequence[float], b: Sequence[float], directions: Sequence[str]) -> bool:
    """True if ``a`` is at least as good as ``b`` everywhere and strictly better somewhere."""
    s = _signs(directions)
    x, y = s * np.asarray(a, float), s * np.asarray(b, float)
    return bool(np.all(x <= y) and np.any(x < y))


def pareto_front(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[int]:
    """Indices (ascending) of the non-dominated points.

    Args:
        points: ``n`` rows of ``m`` finite numbers.
        directions: ``m`` directions, ``"minimize"`` or ``"maximize"``.
    """
    if len(points) == 0:
        return []
    y = np.asarray(points, dtype=float)
    if y.ndim != 2 or y.shape[1] != len(directions):
        raise InvalidConfigError(
            f"points must be an (n, {len(directions)}) array, got shape {y.shape}"
        )
    if not np.all(np.isfinite(y)):
        raise InvalidConfigError("points must be finite; drop rows with missing metrics first")
    z = y * _signs(directions)  # now everything is minimized
    # dom[i, j]: row j dominates row i
    le = np.all(z[None, :, :] <= z[:, None, :], axis=2)
    lt = np.any(z[None, :, :] < z[:, None, :], axis=2)
    dominated = np.any(le & lt, axis=1)
    return [int(i) for i in np.flatnonzero(~dominated)]


def pareto_rows(
    rows: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, str] | Sequence[str] | str,
) -> list[int]:
    """Indices of the Pareto-optimal rows among dicts of metrics.

    Args:
        rows: one mapping of metric name to value per candidate.
        metrics: the metrics and their directions (see
            :func:`~llmhpo.metrics.parse_metric_directions`).

    Returns:
        Indices into ``rows``; rows missing one of the metrics are never included.
    """
    dirs = parse_metric_directions(metrics)
    if not dirs:
        raise InvalidConfigError("Pareto optimality needs at least one metric")
    names = list(dirs)
    keep, pts = [], []
    for i, row in enumerate(rows):
        vals = [as_number(row.get(m)) for m in names]
        if all(v is not None for v in vals):
            keep.append(i)
            pts.append(vals)
    front = pareto_front(pts, [dirs[m] for m in names])
    return [keep[i] for i in front]
