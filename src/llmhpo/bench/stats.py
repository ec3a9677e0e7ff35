"""Statistics behind the bench's claims: which contender is best, and which are tied with it.

Per budget, over the (task, seed) blocks in which every contender ran:

* **mean rank** with a 95 % bootstrap confidence interval (blocks resampled with replacement,
  2000 resamples, percentile interval);
* **pairwise Wilcoxon signed-rank tests** (``scipy.stats.wilcoxon``, two-sided, zero
  differences split between the signs: ``zero_method="zsplit"``) on the per-block normalized
  regrets of every pair of contenders, **Holm-corrected** over all pairs of the budget;
* the **verdict**: the contender of lowest mean rank is "best" only if every other contender
  is significantly different from it (Holm-adjusted p < 0.05); otherwise it is "tied with"
  those that are not;
* a **critical-difference diagram** (Demšar 2006, with the Wilcoxon-Holm cliques of Benavoli
  et al. 2016 instead of the Nemenyi test): contenders on a mean-rank axis, a bar joining
  every group that no test separates.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "ALPHA",
    "Verdict",
    "block_matrix",
    "mean_rank_ci",
    "pairwise_wilcoxon_holm",
    "verdict",
    "plot_cd",
]

ALPHA = 0.05


def block_matrix(long: pd.DataFrame, budget: int, column: str = "regret") -> pd.DataFrame:
    """Blocks (task, seed) × contenders of ``column`` at ``budget``, complete blocks only."""
    sub = long[long["budget"] == budget]
    wide = sub.pivot_table(index=["task", "seed"], columns="contender", values=column,
                           aggfunc="first")
    return wide.dropna(axis=0, how="any")


def _ranks(wide: pd.DataFrame) -> np.ndarray:
    return wide.rank(axis=1, method="average").to_numpy(dtype=float)


def mean_rank_ci(
    wide: pd.DataFrame, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> pd.DataFrame:
    """Mean rank per contender with a bootstrap percentile interval over blocks.

    Returns columns ``contender, mean_rank, ci_low, ci_high, n_blocks``, sorted by mean rank.
    """
    if wide.empty:
        return pd.DataFrame(columns=["contender", "mean_rank", "ci_low", "ci_high", "n_blocks"])
    ranks = _ranks(wide)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(ranks), size=(n_boot, len(ranks)))
    boot = ranks[idx].mean(axis=1)  # (n_boot, n_contenders)
    q = (1 - level) / 2
    out = pd.DataFrame({
        "contender": list(wide.columns),
        "mean_rank": ranks.mean(axis=0),
        "ci_low": np.quantile(boot, q, axis=0),
        "ci_high": np.quantile(boot, 1 - q, axis=0),
        "n_blocks": len(ranks),
    })
    return out.sort_values("mean_rank").reset_index(drop=True)


def _holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1)."""
    m = len(pvalues)
    order = np.argsort(pvalues)
    adjusted = np.empty(m)
    running = 0.0
    for k, i in enumerate(order):
        running = max(running, (m - k) * pvalues[i])
        adjusted[i] = min(1.0, running)
    return adjusted.tolist()


def pairwise_wilcoxon_holm(wide: pd.DataFrame) -> pd.DataFrame:
    """Every pair of contenders: Wilcoxon signed-rank p-value on the per-block values and the
    Holm-adjusted p-value. Columns ``a, b, p, p_holm, median_diff`` (``a - b``)."""
    from scipy.stats import wilcoxon

    rows = []
    for a, b in itertools.combinations(wide.columns, 2):
        d = wide[a].to_numpy(float) - wide[b].to_numpy(float)
        if len(d) == 0 or np.all(d == 0):
            p = 1.0
        else:
            p = float(wilcoxon(d, zero_method="zsplit", alternative="two-sided").pvalue)
        rows.append({"a": a, "b": b, "p": p if math.isfinite(p) else 1.0,
                     "median_diff": float(np.median(d)) if len(d) else math.nan})
    out = pd.DataFrame(rows, columns=["a", "b", "p", "median_diff"])
    out["p_holm"] = _holm(out["p"].tolist()) if len(out) else []
    return out


def _p_between(tests: pd.DataFrame, a: str, b: str) -> float:
    hit = tests[((tests["a"] == a) & (tests["b"] == b)) | ((tests["a"] == b) & (tests["b"] == a))]
    return float(hit["p_holm"].iloc[0]) if len(hit) else 1.0


@dataclass(frozen=True)
class Verdict:
    """The statistically supported answer at one budget."""

    budget: int
    best: str
    ranks: pd.DataFrame  # mean_rank_ci output
    tied: list[str]  # contenders not significantly different from ``best``
    tests: pd.DataFrame  # pairwise_wilcoxon_holm output
    n_blocks: int

    def sentence(self) -> str:
        r = self.ranks.set_index("contender")

        def fmt(c: str) -> str:
            row = r.loc[c]
            return (f"{c} (mean rank {row['mean_rank']:.2f}, 95% CI "
                    f"{row['ci_low']:.2f}–{row['ci_high']:.2f})")

        if not self.tied:
            return (f"**best: {fmt(self.best)}**, significantly better than every other "
                    f"contender (Wilcoxon-Holm p < {ALPHA}; {self.n_blocks} blocks)")
        return (f"lowest mean rank **{fmt(self.best)}**, statistically tied with "
                + ", ".join(fmt(c) for c in self.tied)
                + f" (Wilcoxon-Holm p ≥ {ALPHA}; {self.n_blocks} blocks)")


def verdict(long: pd.DataFrame, budget: int, column: str = "regret") -> Verdict | None:
    """Best contender at ``budget`` and those tied with it (``None`` without complete blocks)."""
    wide = block_matrix(long, budget, column)
    if wide.empty or wide.shape[1] < 2:
        return None
    ranks = mean_rank_ci(wide)
    tests = pairwise_wilcoxon_holm(wide)
    best = str(ranks["contender"].iloc[0])
    tied = [str(c) for c in ranks["contender"].iloc[1:]
            if _p_between(tests, best, c) >= ALPHA]
    return Verdict(budget, best, ranks, tied, tests, len(wide))


def cliques(ranks: pd.DataFrame, tests: pd.DataFrame) -> list[tuple[int, int]]:
    """Maximal runs ``[i, j]`` of contenders (sorted by mean rank) that no test separates."""
    names = list(ranks["contender"])
    out: list[tuple[int, int]] = []
    for i in range(len(names)):
        j = i
        while j + 1 < len(names) and all(
            _p_between(tests, names[k], names[j + 1]) >= ALPHA for k in range(i, j + 1)
        ):
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in out):
            out.append((i, j))
    return out


def plot_cd(v: Verdict, path: str | Path, title: str = "") -> Path:
    """Critical-difference diagram of a verdict (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ranks = v.ranks
    names = list(ranks["contender"])
    mr = ranks["mean_rank"].to_numpy(float)
    k = len(names)
    lo, hi = 1, max(k, 2)
    half = math.ceil(k / 2)
    height = 1.2 + 0.28 * half
    fig, ax = plt.subplots(figsize=(8, height))
    ax.set_xlim(lo - 0.3, hi + 0.3)
    ax.set_ylim(0, 1)
    ax.axis("off")
    y_axis = 0.85
    ax.plot([lo, hi], [y_axis, y_axis], color="k", lw=1)
    for t in range(lo, hi + 1):
        ax.plot([t, t], [y_axis, y_axis + 0.03], color="k", lw=1)
        ax.text(t, y_axis + 0.05, str(t), ha="center", va="bottom", fontsize=8)
    step = 0.7 / (half + 1)
    for i, (name, r) in enumerate(zip(names, mr, strict=True)):
        left = i < half
        row = i if left else k - 1 - i
        y = y_axis - step * (row + 1)
        x_text = lo - 0.25 if left else hi + 0.25
        ax.plot([r, r, x_text], [y_axis, y, y], color="k", lw=0.8)
        ax.text(x_text, y, f"{name} ({r:.2f})", ha="right" if left else "left", va="center",
                fontsize=8)
    for n, (i, j) in enumerate(cliques(ranks, v.tests)):
        y = y_axis - 0.04 - 0.035 * n
        ax.plot([mr[i] - 0.05, mr[j] + 0.05], [y, y], color="tab:red", lw=3, alpha=0.8)
    ax.set_title(title or f"budget {v.budget}: mean rank over {v.n_blocks} blocks "
                 "(bars: no significant difference, Wilcoxon-Holm)", fontsize=9)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return out
