"""Figures of the HTML report, drawn with matplotlib and inlined as SVG.

Why matplotlib SVG and not Optuna's plotly figures: matplotlib is already the report's one
plotting dependency; an SVG inlined in the page needs no JavaScript (plotly would inline about
3.5 MB of plotly.js into every report), so the report is one small file that opens offline,
prints, and loads without script errors. Interactive exploration is what ``optuna-dashboard``
on the same storage is for.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmhpo.evaluation.references import get_references, reference_label
from llmhpo.reporting.metrics import as_number
from llmhpo.reporting.plots import _new_figure
from llmhpo.study.trial import TrialState

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "figure_svg",
    "phase_group",
    "history_by_phase_figure",
    "importance_figure",
    "learning_curves_figure",
    "pareto_figure",
]

#: Optimizer phases (trial attribute ``phase``) that are the initial design.
INITIAL_PHASES = frozenset({"init", "startup", "x0", "design", "lhs", "initial", "sobol"})
_GROUP_STYLE = {
    "initial design": ("o", "tab:orange"),
    "model-based": ("D", "tab:blue"),
    "fallback": ("P", "tab:red"),
    "sampling": ("o", "tab:blue"),
    "warm start": ("o", "0.6"),
}


def figure_svg(fig: Figure) -> str:
    """The figure as an ``<svg>`` element (no XML header), ready to inline in HTML."""
    from matplotlib import rc_context

    buf = io.StringIO()
    with rc_context({"svg.fonttype": "none"}):  # text stays text: smaller, selectable
        fig.savefig(buf, format="svg")
    text = buf.getvalue()
    start = text.find("<svg")
    return re.sub(r"<!--.*?-->", "", text[start:], flags=re.S).strip()


def phase_group(attrs: Mapping[str, Any]) -> str:
    """Which part of the search produced a trial, from its optimizer attributes:
    ``"initial design"``, ``"model-based"``, ``"fallback"`` or ``"sampling"`` (no phase
    recorded: random search, LHS)."""
    phase = str(attrs.get("phase", "")).lower()
    if attrs.get("fallback") or "fallback" in phase:
        return "fallback"
    if not phase:
        return "sampling"
    return "initial design" if phase in INITIAL_PHASES else "model-based"


def history_by_phase_figure(study: Any) -> Figure:
    """Objective per trial coloured by optimizer phase, best so far, failures, references."""
    metric = study.metric or "value"
    minimize = study.direction == "minimize"
    fig = _new_figure((8.0, 4.2))
    ax = fig.add_subplot()
    trials = sorted(study.trials, key=lambda t: t.number)
    groups: dict[str, list[Any]] = {}
    for t in trials:
        if t.state is TrialState.COMPLETE:
            g = "warm start" if t.warm_start else phase_group(t.attrs)
            groups.setdefault(g, []).append(t)
    for g, ts in groups.items():
        marker, color = _GROUP_STYLE[g]
        ax.scatter([t.number for t in ts], [t.value for t in ts], marker=marker, s=26,
                   color=color, label=f"{g} ({len(ts)})", zorder=3)
    done = [t for t in trials if t.state is TrialState.COMPLETE and not t.warm_start]
    if done:
        best, xs, ys = math.inf, [], []
        for t in done:
            v = float(t.value) if minimize else -float(t.value)  # type: ignore[arg-type]
            best = min(best, v)
            xs.append(t.number)
            ys.append(best if minimize else -best)
        ax.step(xs, ys, where="post", color="tab:green", lw=2, label="best so far", zorder=4)
    bad = [t.number for t in trials
           if t.state not in (TrialState.COMPLETE, TrialState.RUNNING)]
    if bad:
        ax.scatter(bad, [0.02] * len(bad), marker="x", color="tab:red",
                   transform=ax.get_xaxis_transform(), clip_on=False, zorder=5,
                   label=f"failed / infeasible / timed out ({len(bad)})")
    for i, (name, rec) in enumerate(get_references(study).items()):
        v = as_number((rec.get("metrics") or {}).get(metric))
        if v is not None:
            ax.axhline(v, ls="--", lw=1.2, color=["tab:red", "tab:gray", "tab:brown"][i % 3],
                       label=f"{rec.get('label') or reference_label(name)}: {v:.4g}")
    ax.set_xlabel("trial number")
    ax.set_ylabel(f"{metric} ({'lower' if minimize else 'higher'} is better)")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    return fig


def importance_figure(importances: Mapping[str, float], evaluator: str) -> Figure:
    """Horizontal bars: each hyperparameter's share of the objective's variance."""
    names = list(importances)[::-1]
    fig = _new_figure((6.5, 0.45 * len(names) + 1.2))
    ax = fig.add_subplot()
    vals = [importances[n] for n in names]
    ax.barh(names, vals, color="tab:blue")
    for y, v in enumerate(vals):
        ax.text(v, y, f" {v:.2f}", va="center", fontsize=8)
    ax.set_xlim(0, max(vals + [0.01]) * 1.18)
    ax.set_xlabel(f"importance ({evaluator})")
    ax.grid(axis="x", alpha=0.3)
    return fig


def learning_curves_figure(
    curves: Mapping[int, Mapping[int, float]], values: Mapping[int, float | None],
    *, minimize: bool, ylabel: str = "intermediate value",
) -> Figure:
    """One line per trial (step -> reported value), coloured by the trial's final objective
    (darker is better); trials without a final value dashed grey."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    fig = _new_figure((8.0, 4.2))
    ax = fig.add_subplot()
    finals = [v for v in values.values() if v is not None]
    lo, hi = (min(finals), max(finals)) if finals else (0.0, 1.0)
    norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1.0)
    cmap = colormaps["viridis" if minimize else "viridis_r"]
    for number, curve in sorted(curves.items()):
        steps = sorted(curve)
        v = values.get(number)
        style = {"color": cmap(norm(v)), "lw": 1.4} if v is not None else \
            {"color": "0.6", "lw": 1.0, "ls": "--"}
        (line,) = ax.plot(steps, [curve[s] for s in steps], alpha=0.9, **style)
        line.set_gid(f"curve-{number}")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if finals:
        fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="final objective")
    return fig


def pareto_figure(
    points: Sequence[tuple[str, float, float, bool]], x_label: str, y_label: str
) -> Figure:
    """A scatter of candidates over two metrics; Pareto-optimal ones filled and labelled."""
    fig = _new_figure((6.5, 4.2))
    ax = fig.add_subplot()
    for name, x, y, front in points:
        ax.scatter([x], [y], s=40, color="tab:red" if front else "0.6", zorder=3)
        if front:
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.grid(alpha=0.3)
    return fig
