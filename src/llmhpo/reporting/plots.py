"""Figures of a study: optimization history and parallel coordinates (Tribes et al. 2023, Figures
1-2).

Figures are built on a bare :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot,
no global backend state, safe in threads and headless machines); matplotlib is imported only
when a figure is made.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmhpo._imports import require
from llmhpo.evaluation.references import get_references, reference_label
from llmhpo.metrics import as_number
from llmhpo.space.variables import Categorical, Float, Int, Ordinal, PowerOfTwo, Variable
from llmhpo.study.trial import TrialState

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["history_figure", "parallel_coordinates_figure", "save_figure", "axis_coordinate"]

_FAILED_MARKERS = {
    TrialState.FAILED: ("x", "tab:red", "failed"),
    TrialState.INFEASIBLE: ("s", "tab:purple", "infeasible"),
    TrialState.TIMEOUT: ("v", "tab:orange", "timed out"),
}


_LABEL_BOX = {"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 0.8}


def _new_figure(size: tuple[float, float]) -> Figure:
    require("matplotlib", feature="report plots")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 120) -> Path:
    """Write ``fig`` as a PNG file and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, format="png")
    return path


def history_figure(
    study: Any, *, references: Mapping[str, Mapping[str, Any]] | None = None
) -> Figure:
    """The objective of each trial, the best so far, failures and reference levels.

    Complete trials are dots, warm-start imports grey circles, failed / infeasible / timed-out
    trials markers along the bottom edge; each reference with a value of the objective metric
    is a dashed horizontal line.
    """
    metric = study.metric or "value"
    minimize = study.direction == "minimize"
    fig = _new_figure((8.0, 4.5))
    ax = fig.add_subplot()
    trials = sorted(study.trials, key=lambda t: t.number)
    done = [t for t in trials if t.state is TrialState.COMPLETE and not t.warm_start]
    warm = [t for t in trials if t.state is TrialState.COMPLETE and t.warm_start]
    if warm:
        ax.scatter([t.number for t in warm], [t.value for t in warm], facecolors="none",
                   edgecolors="0.6", label=f"warm start ({len(warm)})", zorder=2)
    if done:
        ax.scatter([t.number for t in done], [t.value for t in done], s=22, color="tab:blue",
                   label=f"trial ({len(done)})", zorder=3)
        best, xs, ys = math.inf, [], []
        for t in done:
            v = float(t.value) if minimize else -float(t.value)  # type: ignore[arg-type]
            best = min(best, v)
            xs.append(t.number)
            ys.append(best if minimize else -best)
        ax.step(xs, ys, where="post", color="tab:green", lw=2, label="best so far", zorder=4)
    for state, (marker, color, word) in _FAILED_MARKERS.items():
        bad = [t.number for t in trials if t.state is state]
        if bad:
            ax.scatter(bad, [0.02] * len(bad), marker=marker, color=color,
                       transform=ax.get_xaxis_transform(), clip_on=False, zorder=5,
                       label=f"{word} ({len(bad)})")
    refs = get_references(study) if references is None else references
    styles = ["tab:red", "tab:gray", "tab:brown", "tab:pink"]
    for i, (name, rec) in enumerate(refs.items()):
        v = as_number((rec.get("metrics") or {}).get(metric))
        if v is not None:
            label = rec.get("label") or reference_label(name)
            ax.axhline(v, ls="--", lw=1.2, color=styles[i % len(styles)],
                       label=f"{label}: {v:.4g}")
    ax.set_xlabel("trial number")
    ax.set_ylabel(f"{metric} ({'lower' if minimize else 'higher'} is better)")
    ax.set_title(f"Optimization history of {study.study_name}")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    return fig


def axis_coordinate(var: Variable, value: Any) -> float:
    """Where ``value`` sits on the variable's axis: log10 for log-scaled numbers, the exponent
    of a power of two, the index of a choice, the value itself otherwise."""
    if isinstance(var, (Float, Int)) and var.log:
        return math.log10(float(value))
    return float(var.to_internal(value))


def _axis_range(var: Variable) -> tuple[float, float]:
    if isinstance(var, (Float, Int)) and var.log:
        return math.log10(var.low), math.log10(var.high)
    return var.internal_bounds


def _ticks(var: Variable) -> list[tuple[float, str]]:
    """(axis coordinate, label) pairs for the variable's axis."""
    lo, hi = _axis_range(var)
    if isinstance(var, (Ordinal, Categorical)):
        step = max(1, math.ceil(len(var.values) / 8))
        return [(float(i), f"{v:g}" if isinstance(v, float) else str(v))
                for i, v in enumerate(var.values) if i % step == 0]
    if isinstance(var, PowerOfTwo):
        es = range(int(lo), int(hi) + 1)
        step = max(1, math.ceil(len(es) / 8))
        return [(float(e), str(2**e)) for e in es if (e - int(lo)) % step == 0]
    if isinstance(var, (Float, Int)) and var.log:
        a, b = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
        if b - a >= 2:
            step = max(1, math.ceil((b - a + 1) / 8))
            return [(float(e), f"1e{e}") for e in range(a, b + 1, step)]
        return [(z, f"{10**z:.2g}") for z in (lo, (lo + hi) / 2, hi)]
    zs = [lo + (hi - lo) * i / 4 for i in range(5)]
    if isinstance(var, Int):
        return sorted({(float(round(z)), str(round(z))) for z in zs})
    return [(z, f"{z:.3g}") for z in zs]


def parallel_coordinates_figure(study: Any) -> Figure:
    """One line per complete trial across the hyperparameter axes and the objective axis,
    coloured by the objective (darker is better, as in Tribes et al. 2023 Figure 2).

    Log-scaled variables are drawn on log10 axes, powers of two on their exponent, choices on
    their index; each axis is scaled to its variable's bounds. Every trial line is a
    :class:`~matplotlib.lines.Line2D` with ``gid`` ``"trial-<number>"``.
    """
    require("matplotlib", feature="report plots")
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    metric = study.metric or "value"
    minimize = study.direction == "minimize"
    variables = list(study.space.free)
    done = [t for t in study.trials if t.state is TrialState.COMPLETE and not t.warm_start]
    fig = _new_figure((max(6.0, 1.6 * (len(variables) + 1) + 2.0), 4.8))
    ax = fig.add_subplot()
    n_axes = len(variables) + 1
    values = [float(t.value) for t in done]  # type: ignore[arg-type]
    vmin, vmax = (min(values), max(values)) if values else (0.0, 1.0)
    # darker = better: viridis is dark at its low end
    cmap = colormaps["viridis" if minimize else "viridis_r"]
    norm = Normalize(vmin=vmin, vmax=vmax if vmax > vmin else vmin + 1.0)

    def scaled(z: float, lo: float, hi: float) -> float:
        return 0.5 if hi <= lo else (z - lo) / (hi - lo)

    # worst first so the best lines are drawn on top
    order = sorted(done, key=lambda t: float(t.value), reverse=minimize)  # type: ignore[arg-type]
    for t in order:
        ys = [scaled(axis_coordinate(v, t.params[v.name]), *_axis_range(v)) for v in variables]
        ys.append(scaled(float(t.value), vmin, vmax))  # type: ignore[arg-type]
        (line,) = ax.plot(range(n_axes), ys, color=cmap(norm(float(t.value))), lw=1.2,  # type: ignore[arg-type]
                          alpha=0.85)
        line.set_gid(f"trial-{t.number}")
    ax.vlines(range(n_axes), 0, 1, colors="0.3", lw=1)
    for i, v in enumerate(variables):
        lo, hi = _axis_range(v)
        for z, label in _ticks(v):
            ax.text(i - 0.04, scaled(z, lo, hi), label, ha="right", va="center", fontsize=7,
                    bbox=_LABEL_BOX, zorder=10)
    for k in range(5):
        z = vmin + (vmax - vmin) * k / 4
        ax.text(n_axes - 1 - 0.04, scaled(z, vmin, vmax), f"{z:.3g}", ha="right", va="center",
                fontsize=7, bbox=_LABEL_BOX, zorder=10)
    names = [v.name + (" (log)" if getattr(v, "log", False) else "") for v in variables]
    ax.set_xticks(range(n_axes), names + [metric], fontsize=8)
    ax.set_xlim(-0.5, n_axes - 0.7)
    ax.set_ylim(-0.04, 1.04)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"Hyperparameters of {len(done)} complete trials of {study.study_name} "
                 f"(darker = better {metric})")
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=metric)
    return fig
