"""The study report: figures, results table, verdict, Pareto list and the trials as CSV."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmhpo.evaluation.assess import get_assessment
from llmhpo.evaluation.repro import get_repro
from llmhpo.metrics import parse_metric_directions
from llmhpo.pareto import pareto_rows
from llmhpo.reporting.plots import history_figure, parallel_coordinates_figure, save_figure
from llmhpo.reporting.recheck import recheck_text
from llmhpo.reporting.repro import repro_text
from llmhpo.reporting.table import ranked_trials, results_table, test_metric_names
from llmhpo.reporting.verdict import Verdict, make_verdict
from llmhpo.study.trial import TrialState

__all__ = ["write_report", "summary_text", "pareto_section", "diagnostics_text"]


def _objective_and_tests(
    study: Any, test_metrics: Mapping[str, str] | Sequence[str] | str | None
) -> dict[str, str]:
    objective = study.metric or "value"
    tests = parse_metric_directions(
        test_metric_names(study, with_direction=True) if test_metrics is None else test_metrics
    )
    return {objective: study.direction, **{m: d for m, d in tests.items() if m != objective}}


def pareto_section(
    study: Any,
    *,
    test_metrics: Mapping[str, str] | Sequence[str] | str | None = None,
    pareto_metrics: Mapping[str, str] | Sequence[str] | str | None = None,
) -> str:
    """Markdown text listing the Pareto-optimal candidates.

    Uses the stored assessment (``llmhpo assess``) when there is one; otherwise every complete
    trial over ``pareto_metrics`` (default: the objective and the test metrics).
    """
    stored = get_assessment(study)
    if stored is not None and pareto_metrics is None:
        return (
            f"Assessment of the top {sum(r.trial is not None for r in stored.rows)} trials "
            f"(`llmhpo assess`; * = Pareto optimal):\n\n{stored.table()}\n\n{stored.summary()}"
        )
    dirs = (
        _objective_and_tests(study, test_metrics)
        if pareto_metrics is None
        else parse_metric_directions(pareto_metrics)
    )
    objective = study.metric or "value"
    trials = ranked_trials(study)
    rows = [{**t.metrics, objective: t.value} for t in trials]
    front = [trials[i] for i in pareto_rows(rows, dirs)] if rows else []
    over = ", ".join(f"{m} ({'min' if d == 'minimize' else 'max'})" for m, d in dirs.items())
    if len(dirs) == 1:
        return f"Only one metric ({over}): the Pareto front is the best trial."
    if not front:
        return f"No complete trial has every metric of {over}."
    listed = ", ".join(
        f"trial {t.number} (" + ", ".join(f"{m}={_num(t, m, objective)}" for m in dirs) + ")"
        for t in front
    )
    return f"Pareto-optimal trials over {over}: {listed}."


def _num(t: Any, m: str, objective: str) -> str:
    v = t.value if m == objective else t.metrics.get(m)
    return f"{v:.4g}" if isinstance(v, (int, float)) else str(v)


def summary_text(
    study: Any,
    *,
    top_k: int = 5,
    test_metrics: Mapping[str, str] | Sequence[str] | str | None = None,
    metrics: Sequence[str] = (),
    fmt: str = "markdown",
) -> tuple[str, Verdict]:
    """What ``llmhpo run`` prints at the end: the results table (with 95% intervals), the
    re-check of the top trials, the verdict, then boundary warnings and hyperparameter
    importance (:func:`diagnostics_text`)."""
    tests = None if test_metrics is None else list(parse_metric_directions(test_metrics))
    table = results_table(study, top_k=top_k, test_metrics=tests, metrics=metrics, fmt=fmt)
    v = make_verdict(study, test_metrics=test_metrics)
    shown = tests if tests is not None else test_metric_names(study, with_direction=True)
    parts = [table]
    if any(t.metrics.get("per_example") for t in study.trials[:50]):
        parts.append("Brackets: 95% bootstrap intervals over the held-out examples.")
    rc = recheck_text(study, test_metrics=shown, fmt=fmt)
    if rc:
        parts.append(rc)
    parts.append(v.text)
    diag = diagnostics_text(study)
    if diag:
        parts.append(diag)
    return "\n\n".join(parts), v


def diagnostics_text(study: Any) -> str:
    """Boundary warnings (best trials at a bound of the space) and hyperparameter importance."""
    from llmhpo.reporting.boundary import boundary_warnings
    from llmhpo.reporting.importance import importance_text

    lines = [f"WARNING: {w.text}" for w in boundary_warnings(study)]
    imp = importance_text(study)
    if imp:
        lines.append(imp)
    return "\n".join(lines)


def write_report(
    study: Any,
    out_dir: str | Path,
    *,
    top_k: int = 5,
    test_metrics: Mapping[str, str] | Sequence[str] | str | None = None,
    metrics: Sequence[str] = (),
    pareto_metrics: Mapping[str, str] | Sequence[str] | str | None = None,
) -> dict[str, Path]:
    """Write the report of ``study`` into ``out_dir``.

    Files: ``report.html`` (the whole report in one self-contained page:
    :mod:`llmhpo.reporting.html`), ``history.png`` (objective per trial, best so far,
    failures, reference levels),
    ``parallel_coordinates.png`` (hyperparameters coloured by the objective), ``results.md``
    (results table, verdict, Pareto-optimal candidates) and ``trials.csv`` (every trial).

    Args:
        study: a :class:`~llmhpo.study.Study`.
        out_dir: the directory (created if missing).
        top_k: trials listed in the results table.
        test_metrics: held-out test metrics and directions (default: every ``test_*`` metric).
        metrics: further metrics shown in the table.
        pareto_metrics: metrics of the Pareto list (default: the stored ``llmhpo assess``
            result, else the objective and the test metrics).

    Returns:
        ``{"history": path, "parallel_coordinates": path, "results": path, "trials": path,
        "html": path}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "history": save_figure(history_figure(study), out / "history.png"),
        "parallel_coordinates": save_figure(
            parallel_coordinates_figure(study), out / "parallel_coordinates.png"
        ),
    }
    body, _ = summary_text(study, top_k=top_k, test_metrics=test_metrics, metrics=metrics)
    trials = study.trials
    n_done = sum(t.state is TrialState.COMPLETE and not t.warm_start for t in trials)
    n_bad = sum(t.state not in (TrialState.COMPLETE, TrialState.RUNNING) for t in trials)
    text = "\n".join(
        [
            f"# Results of study `{study.study_name}`",
            "",
            f"Objective: {study.metric or 'value'} ({study.direction}); "
            f"{n_done} complete trials, {n_bad} failed/infeasible/timed out/interrupted.",
            "",
            "## Results",
            "",
            body,
            "",
            "## Pareto-optimal candidates",
            "",
            pareto_section(study, test_metrics=test_metrics, pareto_metrics=pareto_metrics),
            "",
            "## Reproducibility",
            "",
            "```",
            repro_text(get_repro(study), indent=""),
            "```",
            "",
            "## Figures",
            "",
            "![Optimization history](history.png)",
            "",
            "![Parallel coordinates](parallel_coordinates.png)",
            "",
        ]
    )
    results = out / "results.md"
    results.write_text(text, encoding="utf-8")
    paths["results"] = results
    paths["trials"] = study.to_csv(out / "trials.csv")
    from llmhpo.reporting.html import write_html_report

    paths["html"] = write_html_report(study, out / "report.html", top_k=max(top_k, 10))
    return paths
