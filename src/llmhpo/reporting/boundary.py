"""Boundary warnings: the best trials sit at the edge of the search space.

When the best trials of a study share a bound of a variable (``lora_alpha`` = 64, the upper
bound, in the top four), the optimum is probably outside the box, and a wider range would
likely do better. :func:`boundary_warnings` looks at the best ``top`` complete trials and, for
every ordered variable, counts those at its lower or upper bound: exactly at it for integers,
powers of two and ordinals; within ``tol`` of the range (in the variable's own scale, log for
log-scaled floats) for floats. It warns when the best trial is at a bound and at least half of
the top trials are too, and suggests a wider bound: x2 (linear; /2 below a positive lower
bound), x10 (log scale), one more power of two; a lower bound of 0 is left alone (often a
natural limit, e.g. no dropout), and so is the end of an ordinal's list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from llmhpo.space.variables import Float, Int, Ordinal, PowerOfTwo

__all__ = ["BoundaryWarning", "boundary_warnings"]


@dataclass(frozen=True)
class BoundaryWarning:
    """Some of the best trials sit at a bound of ``variable``.

    Attributes:
        variable: the variable's name.
        side: ``"lower"`` or ``"upper"``.
        bound: the bound's value.
        count: how many of the ``top`` best trials are at it (the best one always is).
        top: how many trials were looked at.
        suggestion: a wider bound to try, or ``None``.
        text: the warning as one sentence.
    """

    variable: str
    side: str
    bound: Any
    count: int
    top: int
    suggestion: Any
    text: str


def _scaled(var: Any, v: float) -> float:
    return math.log10(v) if getattr(var, "log", False) else v


def _at(var: Any, value: Any, side: str, tol: float) -> bool:
    if isinstance(var, Ordinal):
        return value == (var.values[0] if side == "lower" else var.values[-1])
    if isinstance(var, (Int, PowerOfTwo)):
        return value == (var.low if side == "lower" else var.high)
    lo, hi = _scaled(var, var.low), _scaled(var, var.high)
    x = _scaled(var, float(value))
    return (x - lo <= tol * (hi - lo)) if side == "lower" else (hi - x <= tol * (hi - lo))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.0e}"
    return str(v)


def _suggest(var: Any, side: str) -> Any:
    bound = var.low if side == "lower" else var.high
    if isinstance(var, Ordinal):
        return None
    if isinstance(var, PowerOfTwo):
        return bound // 2 if side == "lower" else bound * 2
    if getattr(var, "log", False):
        out = bound / 10 if side == "lower" else bound * 10
    elif side == "upper":
        out = bound * 2 if bound > 0 else bound + (var.high - var.low)
    else:
        if bound == 0:
            return None
        out = bound / 2 if bound > 0 else bound - (var.high - var.low)
    if isinstance(var, Int):
        out = int(round(out))
        return None if out == bound else out
    return out


def boundary_warnings(study: Any, *, top: int = 5, tol: float = 0.02) -> list[BoundaryWarning]:
    """Variables whose best trials sit at a bound (see the module docstring).

    Args:
        study: a :class:`~llmhpo.study.Study`.
        top: how many of the best complete trials to look at (fewer if fewer completed).
        tol: for floats, the fraction of the range (in its own scale) that counts as "at".
    """
    from llmhpo.reporting.table import ranked_trials

    trials = ranked_trials(study, top)
    if len(trials) < 2:
        return []
    n = len(trials)
    out: list[BoundaryWarning] = []
    for var in study.space.free:
        if not isinstance(var, (Float, Int, PowerOfTwo, Ordinal)):
            continue
        for side in ("lower", "upper"):
            flags = [_at(var, t.params.get(var.name), side, tol) for t in trials]
            count = sum(flags)
            if not flags[0] or 2 * count < n:
                continue
            bound = (var.values[0] if side == "lower" else var.values[-1]) if isinstance(
                var, Ordinal) else (var.low if side == "lower" else var.high)
            sug = _suggest(var, side)
            who = "the best trial" if count == 1 else f"best {count} of the top {n} trials" \
                if count < n else f"best {n} trials"
            advice = (f" — consider widening to {_fmt(sug)}" if sug is not None
                      else " — a natural limit, or widen the range if it is not")
            text = f"{var.name}: {who} at the {side} bound {_fmt(bound)}{advice}"
            out.append(BoundaryWarning(var.name, side, bound, count, n, sug, text))
    return out
