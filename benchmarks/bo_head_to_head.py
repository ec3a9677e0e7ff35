"""BO-GP's defaults against its earlier defaults and Optuna's GPSampler on a committed bench
run: per suite and budget, the three contenders' mean rank among themselves, every pairwise
Wilcoxon signed-rank test (Holm-corrected over the three pairs), mean normalized regret (as
in ``summary.md``: per task min-max over all contenders' incumbents) and the mean time per
suggestion recorded by the bench. Reads ``runs.csv`` files only and writes the rows to the
JSON file named by ``--out``:

    python benchmarks/bo_head_to_head.py --runs bench/results/runs.csv \\
        --runs bench/results-debiased/runs.csv --runs bench/results-noisy/runs.csv \\
        --out benchmarks/results/bo_head_to_head.json

(``--contenders`` changes the three; the statistics are ``llmhpo.bench.stats``'s.)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def compare(runs_csv: str, contenders: list[str], budgets: list[int]) -> list[dict[str, Any]]:
    """One row per (suite, budget): blocks, mean ranks, pairwise tests, regrets, ms/ask."""
    from llmhpo.bench.metrics import long_table, normalized_regret, task_bounds
    from llmhpo.bench.report import load_runs
    from llmhpo.bench.stats import block_matrix, pairwise_wilcoxon_holm

    runs = load_runs(runs_csv)
    runs = runs[runs["status"] == "ok"]
    out = []
    for suite in dict.fromkeys(runs["suite"]):
        sub = runs[runs["suite"] == suite]
        if not set(contenders) <= set(sub["contender"]):
            continue
        long = long_table(sub, budgets)
        long = long.assign(regret=normalized_regret(long, task_bounds(sub)).values)
        long = long[long["contender"].isin(contenders)]
        for b in budgets:
            wide = block_matrix(long, b)
            if wide.empty:
                continue
            ranks = wide.rank(axis=1, method="average").mean()
            tests = pairwise_wilcoxon_holm(wide)
            ms = sub[sub["contender"].isin(contenders)].groupby("contender")["ask_ms_mean"]
            out.append({
                "suite": suite, "budget": b, "blocks": len(wide),
                "tasks": int(wide.index.get_level_values("task").nunique()),
                "mean_rank": {c: round(float(ranks[c]), 3) for c in contenders},
                "mean_norm_regret": {c: round(float(wide[c].mean()), 4) for c in contenders},
                "ms_per_ask": {c: round(float(v), 1) for c, v in ms.mean().items()},
                "tests": [{"a": r.a, "b": r.b, "p_holm": round(float(r.p_holm), 5),
                           "median_diff": float(r.median_diff)}
                          for r in tests.itertuples()],
            })
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", action="append", required=True, help="a runs.csv (repeatable)")
    ap.add_argument("--contenders", default="bo,bo-rbf,optuna-gp")
    ap.add_argument("--budgets", default="10,30,50")
    ap.add_argument("--out", default="benchmarks/results/bo_head_to_head.json")
    args = ap.parse_args()
    contenders = args.contenders.split(",")
    budgets = [int(b) for b in args.budgets.split(",")]
    rows = []
    for path in args.runs:
        for row in compare(path, contenders, budgets):
            rows.append({"runs": path, **row})
            tests = "; ".join(f"{t['a']} vs {t['b']} p={t['p_holm']:.3g}" for t in row["tests"])
            print(f"{path} {row['suite']} @{row['budget']} ({row['blocks']} blocks): "
                  f"rank {row['mean_rank']} regret {row['mean_norm_regret']} "
                  f"ms {row['ms_per_ask']} | {tests}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"contenders": contenders, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
