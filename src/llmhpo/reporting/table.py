"""Results tables: the reference rows and the best trials, in markdown or plain text.

Example (markdown)::

    | rank | trial | val_loss | test_accuracy | learning_rate | lora_rank |
    |------|-------|----------|---------------|---------------|-----------|
    | base model (no fine-tuning) | - | 2.451 | 0.12 | - | - |
    | paper default (Tribes et al. 2023) | - | 1.702 | 0.58 | 1.00e-05 | 8 |
    | 1 | 7 | 1.234 | 0.61 | 3.16e-04 | 64 |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llmhpo.evaluation.references import get_references, reference_label
from llmhpo.metrics import format_metric, format_param, infer_direction, render_table
from llmhpo.study.ranking import ranked_trials
from llmhpo.study.trial import TrialState

__all__ = ["render_table", "ranked_trials", "results_table", "test_metric_names", "param_names"]


def test_metric_names(study: Any, *, with_direction: bool = False) -> list[str]:
    """Metric names of the held-out test split (``test_*`` or ``*/test*``) found in the study.

    With ``with_direction``, only those whose direction the name tells (``test_loss``,
    ``test_accuracy``; see :func:`~llmhpo.metrics.infer_direction`).
    """
    names: list[str] = []
    sources = [t.metrics for t in study.trials if t.state is TrialState.COMPLETE]
    sources += [r.get("metrics") or {} for r in get_references(study).values()]
    for m in sources:
        for k in m:
            low = k.lower()
            if (low.startswith("test_") or "/test" in low) and k not in names:
                names.append(k)
    if with_direction:
        names = [n for n in names if infer_direction(n) is not None]
    return names


def param_names(study: Any) -> list[str]:
    """The names of the search space's variables that vary (fixed values left out)."""
    return [v.name for v in study.space.free]


def _is_log(study: Any, name: str) -> bool:
    var = next((v for v in study.space.variables if v.name == name), None)
    return bool(getattr(var, "log", False))


def _cell(m: Mapping[str, Any], name: str, value: Any, intervals: bool) -> str:
    """``value`` formatted, with its 95% bootstrap interval when per-example values exist."""
    text = format_metric(value)
    if not intervals:
        return text
    from llmhpo.reporting.intervals import metric_interval, per_example

    pe = per_example(m, name)
    if pe is None:
        return text
    iv = metric_interval([pe])
    return f"{text} [{iv.low:.3g}, {iv.high:.3g}]"


def results_table(
    study: Any,
    *,
    top_k: int = 5,
    test_metrics: Sequence[str] | None = None,
    metrics: Sequence[str] = (),
    references: Mapping[str, Mapping[str, Any]] | None = None,
    fmt: str = "markdown",
    intervals: bool = True,
) -> str:
    """The results table of a study: reference rows, then the best ``top_k`` trials.

    Args:
        study: a :class:`~llmhpo.study.Study`.
        top_k: how many of the best trials to list.
        test_metrics: the held-out test metrics to show (default: every ``test_*`` metric).
        metrics: further metrics to show (tokens/s, wall time, ...).
        references: reference records (default: those stored with the study).
        fmt: ``"markdown"`` or ``"plain"``.
        intervals: show each metric's 95% bootstrap interval (``1.59 [1.42, 1.75]``) where
            the objective recorded per-example values (:mod:`llmhpo.reporting.intervals`).
    """
    objective = study.metric or "value"
    tests = list(test_metric_names(study) if test_metrics is None else test_metrics)
    extra = [m for m in metrics if m != objective and m not in tests]
    cols = [objective] + [m for m in tests if m != objective] + extra
    params = param_names(study)
    headers = ["rank", "trial"] + cols + params
    refs = get_references(study) if references is None else dict(references)
    rows: list[list[str]] = []
    for name, rec in refs.items():
        m = rec.get("metrics") or {}
        p = rec.get("params") or {}
        label = rec.get("label") or reference_label(name)
        if rec.get("state", "complete") != "complete":
            label += f" [{rec.get('state')}]"
        rows.append(
            [label, "-"]
            + [_cell(m, c, m.get(c), intervals) for c in cols]
            + [format_param(n, p.get(n), log=_is_log(study, n)) if p else "-" for n in params]
        )
    for rank, t in enumerate(ranked_trials(study, top_k), start=1):
        vals = [_cell(t.metrics, objective, t.value, intervals)] + [
            _cell(t.metrics, c, t.metrics.get(c), intervals) for c in cols[1:]]
        rows.append(
            [str(rank), str(t.number)]
            + vals
            + [format_param(n, t.params.get(n), log=_is_log(study, n)) for n in params]
        )
    return render_table(headers, rows, fmt)
