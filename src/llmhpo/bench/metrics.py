"""Benchmark metrics on a long table of incumbents.

The long table has one row per (task, contender, seed, budget) with ``best``, the incumbent
(best value so far, to minimize) after ``budget`` evaluations. Definitions:

* **normalized regret**: per task, ``(best - lo) / (hi - lo)`` with ``lo``/``hi`` the min/max of
  the incumbents of all runs of the task (CARP-S ``normalize``); 0 if ``hi == lo``; a run
  without any successful evaluation counts as 1. In the suites whose instance is drawn per
  seed (``debiased``, ``noisy``) the bounds are per instance, i.e. per (task, seed).
* **mean rank**: per (task, seed, budget) block, contenders ranked by ``best`` (1 = best, ties
  share the average rank); averaged over blocks. Only blocks in which every contender has a
  run are used, so that a contender run on fewer seeds is not ranked against fewer rivals.
* **beats random**: the share of a contender's runs whose ``best`` is strictly below the
  median ``best`` of the baseline (random search) on the same task and budget; **beats TPE**
  the same against Optuna's TPE.
* **median / mean change vs random** (Zhang et al. 2023, Table 1): per task, with ``r`` the median
over
  seeds of the regret ``best - optimum``, change = ``(r_random - r) / r_random`` (positive =
  better than random; 1 = reached the optimum); the median and mean over tasks. Tasks where
  random's median already reached the optimum (``r_random == 0``) count 0 for a contender that
  reached it too and are left out otherwise (no finite relative change).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "long_table",
    "task_bounds",
    "normalized_regret",
    "mean_ranks",
    "beats_baseline",
    "change_vs_baseline",
    "summary_table",
]

KEYS = ["task", "contender", "seed", "budget"]


def instance_key(task: str, seed: Any, suite: str | None = None) -> str:
    """The unit of normalization: the task, or ``task#seed`` in a per-seed suite."""
    from llmhpo.bench.suites import PER_SEED_SUITES, suite_of

    if (suite or suite_of(task)) in PER_SEED_SUITES:
        return f"{task}#{int(seed)}"
    return task


def long_table(runs: pd.DataFrame, budgets: Sequence[int]) -> pd.DataFrame:
    """One row per (run, budget) with the incumbent ``best`` read off the run's curve.

    Runs with ``status == "error"`` are dropped; a budget beyond a run's curve is skipped.
    """
    rows: list[dict[str, Any]] = []
    for r in runs.to_dict("records"):
        if r.get("status") == "error":
            continue
        curve = _curve(r["curve"])
        for b in budgets:
            if 1 <= b <= len(curve):
                rows.append({"suite": r.get("suite", ""), "task": r["task"],
                             "contender": r["contender"], "seed": int(r["seed"]),
                             "budget": int(b), "best": curve[b - 1],
                             "instance": instance_key(r["task"], r["seed"])})
    return pd.DataFrame(rows, columns=["suite", *KEYS, "best", "instance"])


def _curve(c: Any) -> list[float]:
    if isinstance(c, str):
        c = json.loads(c) if c else []
    return [math.nan if v is None else float(v) for v in c]


def task_bounds(runs: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Per task (per instance in a per-seed suite), (min, max) over every incumbent of every
    run (the whole curves)."""
    out: dict[str, tuple[float, float]] = {}
    ok = runs[runs.get("status", "ok") != "error"]
    keys = [instance_key(t, s) for t, s in zip(ok["task"], ok["seed"], strict=True)]
    for task, grp in ok.groupby(pd.Series(keys, index=ok.index, dtype=object)):
        vals = np.array([v for c in grp["curve"] for v in _curve(c)], dtype=float)
        vals = vals[np.isfinite(vals)]
        if vals.size:
            out[str(task)] = (float(vals.min()), float(vals.max()))
    return out


def normalized_regret(
    long: pd.DataFrame, bounds: Mapping[str, tuple[float, float]] | None = None
) -> pd.Series:
    """Normalized regret of every row of ``long`` (bounds from ``long`` itself if not given;
    keyed by the ``instance`` column where ``long`` has one, else by task)."""
    key = long["instance"] if "instance" in long else long["task"]
    if bounds is None:
        g = long.groupby(key)["best"]
        lows, highs = g.min(), g.max()
        bounds = {t: (float(lows[t]), float(highs[t])) for t in lows.index}
    lo = key.map(lambda t: bounds[t][0]).astype(float)
    hi = key.map(lambda t: bounds[t][1]).astype(float)
    span = (hi - lo).where(hi > lo, np.nan)
    reg = ((long["best"] - lo) / span).where(hi > lo, 0.0)
    return reg.where(long["best"].notna(), 1.0).clip(lower=0.0).rename("regret")


def mean_ranks(long: pd.DataFrame) -> pd.DataFrame:
    """Mean rank per (budget, contender) over complete (task, seed, budget) blocks.

    Returns a frame with columns ``budget, contender, mean_rank, n_blocks``.
    """
    contenders = long["contender"].unique()
    frames = []
    for (_, _, budget), blk in long.groupby(["task", "seed", "budget"]):
        if blk["contender"].nunique() != len(contenders):
            continue
        best = blk["best"].fillna(np.inf)  # no success ranks last
        frames.append(pd.DataFrame({"budget": budget, "contender": blk["contender"].values,
                                    "rank": best.rank(method="average").values}))
    if not frames:
        return pd.DataFrame(columns=["budget", "contender", "mean_rank", "n_blocks"])
    ranks = pd.concat(frames)
    out = ranks.groupby(["budget", "contender"])["rank"].agg(["mean", "count"]).reset_index()
    return out.rename(columns={"mean": "mean_rank", "count": "n_blocks"})


def beats_baseline(
    long: pd.DataFrame, baseline: str = "random", column: str = "beats_random"
) -> pd.DataFrame:
    """Share of runs better than the baseline's median, per (budget, contender)."""
    base = long[long["contender"] == baseline].groupby(["task", "budget"])["best"].median()
    df = long.join(base.rename("base_median"), on=["task", "budget"])
    df = df[df["base_median"].notna()]
    df = df.assign(beats=(df["best"] < df["base_median"]).astype(float))
    out = df.groupby(["budget", "contender"])["beats"].mean().reset_index()
    return out.rename(columns={"beats": column})


def change_vs_baseline(
    long: pd.DataFrame, optimum: Mapping[str, float], baseline: str = "random"
) -> pd.DataFrame:
    """Median and mean over tasks of the relative change of the median regret vs the baseline."""
    reg = long.assign(regret=long["best"] - long["task"].map(optimum).astype(float))
    med = reg.groupby(["budget", "task", "contender"])["regret"].median().reset_index()
    base = med[med["contender"] == baseline].set_index(["budget", "task"])["regret"]
    med = med.join(base.rename("base"), on=["budget", "task"])
    med = med[med["base"].notna()]

    def change(row: pd.Series) -> float:
        rb, r = float(row["base"]), float(row["regret"])
        if not math.isfinite(r):
            return math.nan
        if rb <= 0.0:
            return 0.0 if r <= 0.0 else math.nan
        return (rb - r) / rb

    med = med.assign(change=med.apply(change, axis=1) if len(med) else [])
    out = med.groupby(["budget", "contender"])["change"].agg(["median", "mean"]).reset_index()
    return out.rename(columns={"median": "median_change", "mean": "mean_change"})


def summary_table(
    runs: pd.DataFrame,
    budgets: Sequence[int],
    optimum: Mapping[str, float],
    baseline: str = "random",
) -> pd.DataFrame:
    """Every metric per (budget, contender) for the runs of one suite."""
    long = long_table(runs, budgets)
    if long.empty:
        return pd.DataFrame()
    long = long.assign(regret=normalized_regret(long, task_bounds(runs)).values)
    out = long.groupby(["budget", "contender"]).agg(
        norm_regret=("regret", "mean"), n_runs=("regret", "size"), n_tasks=("task", "nunique")
    ).reset_index()
    out = out.merge(mean_ranks(long), on=["budget", "contender"], how="left")
    if (long["contender"] == baseline).any():
        out = out.merge(beats_baseline(long, baseline), on=["budget", "contender"], how="left")
        out = out.merge(change_vs_baseline(long, optimum, baseline),
                        on=["budget", "contender"], how="left")
    if (long["contender"] == "optuna-tpe").any():
        out = out.merge(beats_baseline(long, "optuna-tpe", "beats_tpe"),
                        on=["budget", "contender"], how="left")
    ok = runs[runs["status"] != "error"]
    ask = ok.groupby("contender")["ask_ms_mean"].mean().rename("ask_ms")
    return out.join(ask, on="contender").sort_values(["budget", "norm_regret"])
