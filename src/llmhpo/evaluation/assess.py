"""Post-optimization assessment: re-evaluate the best trials on further metrics and list the
Pareto-optimal ones (Tribes et al. 2023, Section 5.3, Table 4 and Appendix C).

Validation loss is a convenient objective, but a lower loss does not always mean higher
benchmark scores. :func:`assess` takes the ``top_k`` trials by objective (and, by default, the
stored references), evaluates them on further metrics or lm-eval tasks, and marks the rows no
other row dominates. The objective provides the evaluation, duck-typed:

* ``objective.assess(params_or_None, ctx, tasks=...) -> {metric: value}`` if it has one
  (``None`` = the base model, as for ``evaluate_reference``);
* otherwise the trial is simply run again (``objective(params, ctx)``) and references through
  ``evaluate_reference``.

The result is stored in the study's user attributes under ``"assessment"``; rows already
assessed with the same tasks are reused, so an interrupted assessment resumes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from llmhpo.evaluation.references import get_references, reference_label, unwrap_objective
from llmhpo.exceptions import InvalidConfigError
from llmhpo.executors import Executor
from llmhpo.metrics import format_metric, parse_metric_directions, render_table
from llmhpo.objectives.base import TrialContext, evaluate
from llmhpo.pareto import pareto_rows
from llmhpo.study.ranking import ranked_trials

__all__ = ["ASSESSMENT_KEY", "AssessedRow", "Assessment", "assess", "get_assessment"]

_logger = logging.getLogger("llmhpo.evaluation")

ASSESSMENT_KEY = "assessment"


@dataclass(frozen=True)
class AssessedRow:
    """One assessed candidate.

    Attributes:
        name: ``"trial <n>"`` or the reference's name.
        trial: the trial number (``None`` for a reference).
        rank: rank by the study's objective (1 = best; ``None`` for a reference).
        value: the study's objective value of the candidate.
        params: its hyperparameters (``None`` for the base model).
        state: ``"complete"`` or the failure state of the assessment.
        metrics: the assessment's metrics, on top of those stored with the trial.
        error: last line of the error of a failed assessment.
        pareto: no other assessed row dominates it on the chosen metrics.
    """

    name: str
    trial: int | None
    rank: int | None
    value: float | None
    params: dict[str, Any] | None
    state: str
    metrics: dict[str, Any]
    error: str | None = None
    pareto: bool = False


@dataclass(frozen=True)
class Assessment:
    """The assessed rows, the metrics and directions used, and which rows are Pareto optimal."""

    objective_metric: str
    metrics: dict[str, str]
    tasks: list[str] | None
    rows: tuple[AssessedRow, ...] = field(default_factory=tuple)

    @property
    def pareto(self) -> list[AssessedRow]:
        """The Pareto-optimal rows, in table order."""
        return [r for r in self.rows if r.pareto]

    def table(self, fmt: str = "markdown") -> str:
        """Tribes et al. 2023 Table 4: rank, trial, objective, assessed metrics; ``*`` = Pareto
        optimal."""
        cols = [m for m in self.metrics if m != self.objective_metric]
        headers = ["pareto", "rank", "trial", self.objective_metric] + cols
        rows = []
        for r in self.rows:
            rank = str(r.rank) if r.rank is not None else reference_label(r.name)
            if r.state != "complete":
                rank += f" [{r.state}]"
            rows.append(
                ["*" if r.pareto else "", rank, "-" if r.trial is None else str(r.trial),
                 format_metric(r.value)] + [format_metric(r.metrics.get(m)) for m in cols]
            )
        return render_table(headers, rows, fmt)

    def summary(self) -> str:
        """One sentence naming the Pareto-optimal rows."""
        names = [r.name if r.trial is None else f"trial {r.trial}" for r in self.pareto]
        dirs = ", ".join(f"{m} ({'min' if d == 'minimize' else 'max'})"
                         for m, d in self.metrics.items())
        if not names:
            return f"No row has every metric of {dirs}; no Pareto-optimal row."
        return f"Pareto optimal over {dirs}: {', '.join(names)}."

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Assessment:
        return cls(
            d["objective_metric"], dict(d["metrics"]), d.get("tasks"),
            tuple(AssessedRow(**r) for r in d.get("rows", [])),
        )


def get_assessment(study: Any) -> Assessment | None:
    """The assessment stored with the study, if any."""
    d = study.user_attrs.get(ASSESSMENT_KEY)
    return None if not d else Assessment.from_dict(d)


@dataclass(frozen=True)
class _AssessCall:
    """A picklable ``(params, ctx) -> metrics`` evaluating one candidate (for executors)."""

    objective: Any
    params: dict[str, Any] | None
    reference: bool
    tasks: tuple[str, ...] | None

    def __call__(self, _params: dict[str, Any], ctx: TrialContext) -> Any:
        p = None if self.params is None else dict(self.params)
        fn = getattr(self.objective, "assess", None)
        if fn is not None:
            return fn(p, ctx) if self.tasks is None else fn(p, ctx, tasks=list(self.tasks))
        if self.tasks:
            raise NotImplementedError(
                f"{type(self.objective).__name__} has no assess() method, so it cannot "
                f"evaluate the tasks {list(self.tasks)}"
            )
        if self.reference and hasattr(self.objective, "evaluate_reference"):
            return self.objective.evaluate_reference(p, ctx)
        if p is None:
            raise NotImplementedError("the objective cannot evaluate the base model")
        return self.objective(p, ctx)


def _with_pareto(a: Assessment) -> Assessment:
    eligible = [i for i, r in enumerate(a.rows) if r.state == "complete"]
    values = [
        {**a.rows[i].metrics, a.objective_metric: a.rows[i].value} for i in eligible
    ]
    front = {eligible[j] for j in pareto_rows(values, a.metrics)} if values else set()
    rows = tuple(replace(r, pareto=i in front) for i, r in enumerate(a.rows))
    return replace(a, rows=rows)


def _candidates(
    study: Any, top_k: int, include_references: bool
) -> list[tuple[str, int | None, int | None, float | None, dict | None, dict]]:
    """(name, trial, rank, value, params, stored metrics) of the rows to assess."""
    metric = study.metric or "value"
    out = []
    for rank, t in enumerate(ranked_trials(study, top_k), start=1):
        out.append((f"trial {t.number}", t.number, rank, t.value, dict(t.params), dict(t.metrics)))
    if include_references:
        for name, rec in get_references(study).items():
            m = dict(rec.get("metrics") or {})
            v = m.get(metric)
            out.append((name, None, None, v if isinstance(v, (int, float)) else None,
                        rec.get("params"), m))
    return out


def assess(
    study: Any,
    objective: Any | None,
    *,
    metrics: Mapping[str, str] | Sequence[str] | str,
    top_k: int = 10,
    tasks: Sequence[str] | None = None,
    include_references: bool = True,
    executor: Executor | None = None,
    workdir: str | Path | None = None,
    time_limit: float | None = None,
    reuse: bool = True,
) -> Assessment:
    """Assess the ``top_k`` best trials (and the references) and mark the Pareto-optimal ones.

    Args:
        study: a :class:`~llmhpo.study.Study`.
        objective: the study's objective (see the module docstring), or ``None`` to use only
            the metrics already stored with the trials and references.
        metrics: the metrics of the Pareto comparison with their directions (``"mmlu/acc"``,
            ``"test_loss:min"``, ``{"val_loss": "minimize"}``); the study's objective metric
            may be one of them.
        top_k: how many of the best trials (by the study's objective) to assess.
        tasks: lm-eval task names passed to ``objective.assess(..., tasks=...)``.
        include_references: assess the stored references too (the base model, defaults).
        executor: where to run evaluations (default: this process).
        workdir: the study's work directory; trial ``n`` gets ``<workdir>/trial_<n>`` (where
            its adapter was saved), reference ``r`` gets ``<workdir>/reference_<r>``.
        time_limit: seconds each evaluation may take (passed in the context).
        reuse: keep rows of a stored assessment with the same tasks instead of recomputing.

    Returns:
        The :class:`Assessment`, also stored in the study's user attributes.
    """
    if not isinstance(top_k, int) or top_k < 1:
        raise InvalidConfigError(f"top_k must be a positive integer, got {top_k!r}")
    dirs = parse_metric_directions(metrics)
    if not dirs:
        raise InvalidConfigError("assess needs at least one metric to compare")
    objective_metric = study.metric or "value"
    if objective_metric in dirs and dirs[objective_metric] != study.direction:
        raise InvalidConfigError(
            f"metric {objective_metric!r} is the study's objective, to {study.direction}; "
            f"got direction {dirs[objective_metric]!r}"
        )
    task_list = None if not tasks else [str(t) for t in tasks]
    previous = get_assessment(study) if reuse else None
    done: dict[str, AssessedRow] = {}
    if previous is not None and previous.tasks == task_list:
        done = {r.name: r for r in previous.rows if r.state == "complete"}
    objective = None if objective is None else unwrap_objective(objective)
    result = Assessment(objective_metric, dirs, task_list)
    rows: list[AssessedRow] = []
    for name, number, rank, value, params, stored in _candidates(study, top_k, include_references):
        if objective is None:
            row = AssessedRow(name, number, rank, value, params, "complete", stored)
        elif name in done and done[name].params == params:
            row = replace(done[name], rank=rank, value=value, pareto=False)
        else:
            ref = number is None
            sub = f"reference_{name}" if ref else f"trial_{number}"
            ctx = TrialContext(
                number=-1 if ref else int(number),  # type: ignore[arg-type]
                seed=0 if ref else int(number),  # type: ignore[arg-type]
                workdir=None if workdir is None else str(Path(workdir) / sub),
                time_limit=time_limit,
            )
            _logger.info("Assessing %s", name)
            tt = None if task_list is None else tuple(task_list)
            call = _AssessCall(objective, params, ref, tt)
            out = evaluate(call, {}, ctx, executor)
            row = AssessedRow(name, number, rank, value, params, out.state.value,
                              {**stored, **out.metrics}, out.error_line)
        rows.append(row)
        if objective is not None:  # store as we go: an interrupted assessment resumes
            study.set_user_attr(ASSESSMENT_KEY, replace(result, rows=tuple(rows)).to_dict())
    result = _with_pareto(replace(result, rows=tuple(rows)))
    study.set_user_attr(ASSESSMENT_KEY, result.to_dict())
    return result
