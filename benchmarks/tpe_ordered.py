"""TPE with ordered powers of two / ordinals against Optuna's unordered categoricals.

llmhpo's ``tpe`` models a power of two as its integer exponent and an ordinal as its integer
index (``ordered=True``, the default); ``ordered=False`` is what handing the same variables to
Optuna as ``CategoricalDistribution`` gives. Both run side by side on Tribes et al. 2023's LoRA
space
(``tribes2023``: rank 2^k, dropout code, integer alpha, log learning rate) with smooth
surrogate losses whose optimum lies at a few different places (no real training: the point
is the sampler's model of the variables). Prints the mean and median best loss regret per
budget over ``--seeds`` seeds, and the ratio ordered / categorical (< 1: ordered better).
Usage::

    python benchmarks/tpe_ordered.py              # 30 seeds, budgets 20, 30, 50
"""

from __future__ import annotations

import argparse

import numpy as np

from llmhpo.optimizers.tpe import TPEOptimizer
from llmhpo.space.presets import tribes2023_space

# Optima in the space's own terms: (log2 rank, dropout index, alpha, log10 lr).
OPTIMA = {"a": (5.0, 3.0, 24.0, -4.2), "b": (7.3, 1.4, 50.0, -3.4), "c": (3.2, 4.0, 8.0, -5.1)}
DROPOUTS = [0.0, 1e-4, 1e-3, 1e-2, 0.1]


def loss(params: dict, optimum: tuple[float, float, float, float]) -> float:
    """A smooth bowl with a ripple along the rank axis; its minimum is about 0."""
    r, d = np.log2(params["lora_rank"]), DROPOUTS.index(params["lora_dropout"])
    a, lr = params["lora_alpha"], np.log10(params["learning_rate"])
    r0, d0, a0, lr0 = optimum
    return float((r - r0) ** 2 / 4 + (d - d0) ** 2 / 3 + ((a - a0) / 16) ** 2
                 + (lr - lr0) ** 2 + 0.2 * (1 - np.cos(2 * (r - r0))))


def best_curve(ordered: bool, optimum: tuple, seed: int, budget: int) -> np.ndarray:
    opt = TPEOptimizer(tribes2023_space(), seed=seed, ordered=ordered)
    best, out = np.inf, []
    for _ in range(budget):
        s = opt.ask(1)[0]
        v = loss(s.params, optimum)
        opt.tell(s.id, v)
        best = min(best, v)
        out.append(best)
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--budgets", default="20,30,50")
    args = ap.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]
    print(f"{'task':4} {'budget':>6} {'ordered mean/median':>22} {'categorical mean/median':>26}"
          f" {'ratio (mean)':>12}")
    totals = {True: {b: [] for b in budgets}, False: {b: [] for b in budgets}}
    for task, optimum in OPTIMA.items():
        curves = {o: [best_curve(o, optimum, s, max(budgets)) for s in range(args.seeds)]
                  for o in (True, False)}
        for b in budgets:
            stats = {}
            for o in (True, False):
                vals = np.array([c[b - 1] for c in curves[o]])
                totals[o][b].extend(vals)
                stats[o] = (vals.mean(), np.median(vals))
            print(f"{task:4} {b:>6} {stats[True][0]:>12.3f} / {stats[True][1]:<7.3f}"
                  f" {stats[False][0]:>15.3f} / {stats[False][1]:<8.3f}"
                  f" {stats[True][0] / stats[False][0]:>10.2f}")
    for b in budgets:
        o, c = np.mean(totals[True][b]), np.mean(totals[False][b])
        print(f"all  {b:>6} ordered {o:.3f}, categorical {c:.3f}, ratio {o / c:.2f}")


if __name__ == "__main__":
    main()
