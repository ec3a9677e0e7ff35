"""Convergence plots: mean normalized regret of the incumbent against evaluations."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["plot_suite"]


def _norm_curves(runs: pd.DataFrame) -> dict[str, dict[str, np.ndarray]]:
    """task -> contender -> array (n_runs, budget) of normalized incumbent curves."""
    from llmhpo.bench.metrics import task_bounds

    bounds = task_bounds(runs)
    out: dict[str, dict[str, np.ndarray]] = {}
    from llmhpo.bench.metrics import instance_key

    for (task, cont), grp in runs[runs["status"] != "error"].groupby(["task", "contender"]):
        curves, spans = [], []
        for c, seed in zip(grp["curve"], grp["seed"], strict=True):
            key = instance_key(str(task), seed)
            if key in bounds:
                curves.append([math.nan if v is None else v for v in json.loads(c)])
                spans.append(bounds[key])
        if not curves:
            continue
        n = min(len(c) for c in curves)
        if n == 0:
            continue
        arr = np.array([c[:n] for c in curves], dtype=float)
        lo = np.array([b[0] for b in spans])[:, None]
        hi = np.array([b[1] for b in spans])[:, None]
        arr = np.where(hi > lo, (arr - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)
        out.setdefault(str(task), {})[str(cont)] = np.nan_to_num(arr, nan=1.0)
    return out


def plot_suite(runs: pd.DataFrame, suite: str, path: str | Path) -> Path:
    """Write a grid of per-task convergence plots plus the suite mean to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = _norm_curves(runs)
    tasks = sorted(curves)
    contenders = sorted({c for t in curves.values() for c in t})
    n = len(tasks) + 1
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    colors = {c: plt.cm.tab10(i % 10) for i, c in enumerate(contenders)}
    mean_ax = axes[0][0]
    for i, task in enumerate(tasks, start=1):
        ax = axes[i // cols][i % cols]
        for c, arr in curves[task].items():
            x = np.arange(1, arr.shape[1] + 1)
            ax.plot(x, arr.mean(axis=0), color=colors[c], label=c, lw=1.2)
        ax.set_title(task, fontsize=9)
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.tick_params(labelsize=7)
    for c in contenders:  # suite mean over tasks (tasks that have this contender)
        per_task = [curves[t][c].mean(axis=0) for t in tasks if c in curves[t]]
        n_min = min(len(p) for p in per_task)
        mean = np.mean([p[:n_min] for p in per_task], axis=0)
        mean_ax.plot(np.arange(1, n_min + 1), mean, color=colors[c], label=c, lw=1.5)
    mean_ax.set_title(f"{suite}: mean over {len(tasks)} tasks", fontsize=9)
    mean_ax.set_yscale("symlog", linthresh=1e-3)
    mean_ax.legend(fontsize=7)
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.supxlabel("evaluations")
    fig.supylabel("mean normalized regret")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out
