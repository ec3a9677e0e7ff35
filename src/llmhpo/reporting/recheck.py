"""How the stored re-check reads: a table of the re-checked trials and the winner's-curse gap.

The re-check itself runs in :mod:`llmhpo.evaluation.recheck`; this module only shows what it
stored.
"""

from __future__ import annotations

from typing import Any

from llmhpo.evaluation.recheck import get_recheck
from llmhpo.reporting.metrics import format_metric
from llmhpo.reporting.table import render_table

__all__ = ["recheck_text"]


def _mean_sd(row: dict[str, Any], metric: str) -> str:
    m, s = row["mean"].get(metric), row["std"].get(metric)
    if m is None:
        return "-"
    return f"{format_metric(m)} ± {s:.2g}" if row["n_complete"] > 1 else format_metric(m)


def recheck_text(study: Any, *, test_metrics: list[str] | None = None,
                 fmt: str = "markdown") -> str:
    """The re-check table and the winner's-curse sentence ("" when nothing is stored)."""
    rc = get_recheck(study)
    if rc is None or not rc["trials"]:
        return ""
    metric = rc["metric"]
    tests = [m for m in (test_metrics or []) if m != metric]
    seeds = ", ".join(str(s) for s in rc["seeds"])
    headers = ["rank", "trial", f"search {metric}", f"re-check {metric} (mean ± sd)", "gap",
               "runs ok"] + [f"{m} (mean ± sd)" for m in tests]
    rows = []
    for r in rc["trials"]:
        gap = r.get("gap")
        rows.append([str(r["rank"]), str(r["trial"]), format_metric(r["search_value"]),
                     _mean_sd(r, metric), "-" if gap is None else f"{gap:+.3g}",
                     f"{r['n_complete']}/{len(r['runs'])}"] + [_mean_sd(r, m) for m in tests])
    lines = [
        f"Re-check of the top {len(rc['trials'])} trials, re-trained with fresh seeds {seeds}:",
        "",
        render_table(headers, rows, fmt),
        "",
    ]
    first = rc["trials"][0]
    if first.get("gap") is not None:
        worse = "worse" if first["gap"] > 0 else "better"
        lines.append(
            f"Winner's curse: trial {first['trial']} was selected at {metric} "
            f"{format_metric(first['search_value'])}; re-trained with "
            f"{first['n_complete']} fresh seed(s) it reaches {_mean_sd(first, metric)} "
            f"(gap {first['gap']:+.3g}, {worse} than selected)."
        )
    if rc.get("winner") is None:
        lines.append("No re-check run completed: the verdict uses the search values.")
    elif rc["winner"] != first["trial"]:
        lines.append(
            f"After the re-check, trial {rc['winner']} is best (not the search's best, trial "
            f"{first['trial']}): the verdict judges trial {rc['winner']}."
        )
    failed = [f"trial {r['trial']} seed {x['seed']}: {x['state']} ({x.get('error')})"
              for r in rc["trials"] for x in r["runs"] if x.get("state") != "complete"]
    if failed:
        lines.append("Failed re-check runs: " + "; ".join(failed) + ".")
    return "\n".join(lines).rstrip()
