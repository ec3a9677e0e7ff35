"""The markdown summary and plots of a benchmark's runs CSV."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

__all__ = ["load_runs", "write_report", "best_line", "per_task_table"]

_OURS_EXCLUDE = ("optuna-",)


def load_runs(csv_path: str | Path) -> pd.DataFrame:
    """The runs of a runs CSV as a frame (the last row of a run recorded twice wins)."""
    from llmhpo.bench.runner import RUN_FIELDS, read_runs

    df = pd.DataFrame(read_runs(csv_path), columns=RUN_FIELDS)
    for col in ("seed", "budget", "n_evals"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    for col in ("final_best", "ask_ms_mean", "eval_s", "wall_s"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def _fmt(v: object, pct: bool = False, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if pct:
        return f"{100 * float(v):.1f}%"
    return f"{float(v):.{digits}f}"


def _is_ours(name: str) -> bool:
    """An llmhpo optimizer or one of its bench variants (not a peer, not a baseline)."""
    from llmhpo.bench.peers import PEERS

    return name not in PEERS and name != "centre" and not name.startswith(_OURS_EXCLUDE)


def best_line(table: pd.DataFrame, budget: int) -> str:
    """One sentence naming the best contender (and the best of ours) at ``budget``."""
    t = table[table["budget"] == budget].sort_values("norm_regret")
    if t.empty:
        return f"- budget {budget}: no runs"
    best = t.iloc[0]
    ours = t[t["contender"].map(_is_ours) & (t["contender"] != "random")]
    line = (f"- budget {budget}: lowest mean normalized regret **{best['contender']}** "
            f"({_fmt(best['norm_regret'])}")
    if "mean_rank" in t and not math.isnan(float(best.get("mean_rank", math.nan))):
        line += f", mean rank {_fmt(best['mean_rank'], digits=2)}"
    line += ")"
    if not ours.empty:
        o = ours.iloc[0]
        line += f"; best of llmhpo's: **{o['contender']}** ({_fmt(o['norm_regret'])})"
        for peer in ("optuna-tpe", "random"):
            p = t[t["contender"] == peer]
            if not p.empty and o["contender"] != peer:
                diff = float(o["norm_regret"]) - float(p.iloc[0]["norm_regret"])
                word = "better than" if diff < 0 else "worse than" if diff > 0 else "tied with"
                line += f", {word} {peer} ({_fmt(p.iloc[0]['norm_regret'])})"
    return line


def stats_lines(
    sub: pd.DataFrame, budgets: Sequence[int], suite: str, out_dir: Path | None = None
) -> list[str]:
    """Per budget, the tested verdict over the blocks where every contender ran, and, when
    some contenders ran on fewer seeds, over the contenders that ran on every seed; plus a
    critical-difference diagram per budget (when ``out_dir`` is given)."""
    from llmhpo.bench.metrics import long_table, normalized_regret, task_bounds
    from llmhpo.bench.stats import plot_cd, verdict

    long = long_table(sub, budgets)
    if long.empty:
        return []
    long = long.assign(regret=normalized_regret(long, task_bounds(sub)).values)
    seeds = long.groupby("contender")["seed"].nunique()
    full = [str(c) for c in seeds.index if seeds[c] == seeds.max()]
    lines: list[str] = []
    for b in budgets:
        v = verdict(long, b)
        if v is None:
            continue
        lines.append(f"- **budget {b}**, all {len(v.ranks)} contenders: {v.sentence()}")
        if out_dir is not None:
            png = plot_cd(v, Path(out_dir) / f"cd_{suite}_{b}.png",
                          f"{suite}, budget {b}: mean rank over {v.n_blocks} (task, seed) "
                          "blocks; bars = not significantly different (Wilcoxon-Holm)")
            lines.append(f"  ![cd {suite} {b}]({png.name})")
        if 1 < len(full) < len(seeds):
            vf = verdict(long[long["contender"].isin(full)], b)
            if vf is not None:
                lines.append(f"- **budget {b}**, the {len(full)} contenders run on every seed: "
                             f"{vf.sentence()}")
    if lines:
        lines.append("")
    return lines


def suite_section(
    runs: pd.DataFrame, suite: str, budgets: Sequence[int], out_dir: Path | None = None
) -> str:
    """The markdown of one suite: a table per budget and the "which is best" lines."""
    from llmhpo.bench.metrics import summary_table
    from llmhpo.bench.suites import get_task

    sub = runs[runs["suite"] == suite]
    optimum: dict[str, float] = {}
    for t in sub["task"].unique():
        try:
            optimum[t] = get_task(t).optimum
        except Exception:  # noqa: BLE001 - a task that cannot be rebuilt has no optimum
            optimum[t] = 0.0
    table = summary_table(sub, budgets, optimum)
    n_tasks = sub["task"].nunique()
    seeds = sub.groupby("contender")["seed"].nunique()
    lines = [f"## Suite `{suite}`", "",
             f"{n_tasks} tasks: {', '.join(sorted(sub['task'].unique()))}.", "",
             "Seeds per task: " + ", ".join(f"{c} {n}" for c, n in seeds.items()) + ".", ""]
    errors = sub[sub["status"] == "error"]
    if not errors.empty:
        for c, grp in errors.groupby("contender"):
            lines.append(f"- **{c}**: {len(grp)} run(s) failed: `{grp['error'].iloc[0]}`")
        lines.append("")
    if table.empty:
        return "\n".join(lines + ["No finished runs.", ""])
    lines += ["Which is best (statistics: docs/bench.md, \"Statistics\"):", ""]
    lines += stats_lines(sub, budgets, suite, out_dir)
    lines += ["Lowest mean normalized regret (descriptive, no test):", ""]
    lines += [best_line(table, b) for b in budgets] + [""]
    head = ("| contender | mean norm. regret | mean rank | beats random | beats optuna-tpe | "
            "median change vs random | mean change vs random | ms / suggestion | runs |")
    for b in budgets:
        t = table[table["budget"] == b]
        if t.empty:
            continue
        lines += [f"### Budget {b}", "", head, "|---|---|---|---|---|---|---|---|---|"]
        for r in t.to_dict("records"):
            lines.append(
                f"| {r['contender']} | {_fmt(r['norm_regret'])} | "
                f"{_fmt(r.get('mean_rank'), digits=2)} | "
                f"{_fmt(r.get('beats_random'), pct=True)} | "
                f"{_fmt(r.get('beats_tpe'), pct=True)} | "
                f"{_fmt(r.get('median_change'), pct=True)} | "
                f"{_fmt(r.get('mean_change'), pct=True)} | {_fmt(r.get('ask_ms'), digits=1)} | "
                f"{r['n_runs']} |"
            )
        lines.append("")
    lines += per_task_table(sub, budgets[-1])
    return "\n".join(lines)


def per_task_table(runs: pd.DataFrame, budget: int) -> list[str]:
    """Markdown lines: mean normalized regret per task (rows) and contender (columns)."""
    from llmhpo.bench.metrics import long_table, normalized_regret, task_bounds

    long = long_table(runs, [budget])
    if long.empty:
        return []
    long = long.assign(regret=normalized_regret(long, task_bounds(runs)).values)
    pivot = long.pivot_table(index="task", columns="contender", values="regret", aggfunc="mean")
    cols = list(pivot.columns)
    lines = [f"### Per task, budget {budget}: mean normalized regret (best per row in bold)", "",
             "| task | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for task, row in pivot.iterrows():
        best = row.min()
        cells = [f"**{v:.2g}**" if v == best else f"{v:.2g}" for v in row]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def write_report(
    csv_path: str | Path, out_dir: str | Path, budgets: Sequence[int]
) -> dict[str, Path]:
    """Write ``summary.md`` and one ``convergence_<suite>.png`` per suite next to the CSV.

    The commands that filled the CSV (``commands.txt`` of ``out_dir``, written by
    ``llmhpo bench``) are quoted at the top.
    """
    from llmhpo.bench.plots import plot_suite

    out = Path(out_dir)
    runs = load_runs(csv_path)
    paths: dict[str, Path] = {}
    parts = ["# llmhpo bench: summary", ""]
    commands_file = out / "commands.txt"
    if commands_file.exists():
        cmds = [c for c in commands_file.read_text(encoding="utf-8").splitlines() if c.strip()]
        parts += ["Produced by:", "", "```bash", *cmds, "```", ""]
    parts += [
        "Every (task, contender, seed) is run once to the largest budget; smaller budgets are "
        "read off the incumbent curve. Metrics: mean normalized regret (per task min-max over "
        "all incumbents of all runs; 0 = best seen, 1 = worst), mean rank (1 = best, over "
        "(task, seed) blocks where all contenders ran), beats random (share of runs below "
        "random search's median; beats optuna-tpe likewise), median/mean change of the "
        "median regret vs random over tasks (Zhang et al. 2023 Table 1; positive = better), and "
        "the optimizer's own time per suggestion (ask only). Definitions: docs/bench.md.", "",
    ]
    for suite in ("synthetic", "debiased", "noisy", "ml", "llm"):
        sub = runs[runs["suite"] == suite]
        if sub.empty:
            continue
        parts.append(suite_section(runs, suite, budgets, out))
        if (sub["status"] != "error").any():
            png = plot_suite(sub, suite, out / f"convergence_{suite}.png")
            parts += [f"![{suite} convergence]({png.name})", ""]
            paths[f"plot_{suite}"] = png
    summary = out / "summary.md"
    summary.write_text("\n".join(parts), encoding="utf-8")
    paths["summary"] = summary
    return paths
