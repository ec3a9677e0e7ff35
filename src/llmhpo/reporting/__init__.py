"""Results a person can trust at a glance: tables with bootstrap intervals, the verdict
(beats / ties / loses), the re-check, boundary warnings, importance, Pareto fronts, figures and
reports, all pure functions of what the study stored (trials, reference rows, assessments).

The evaluations that produce reference rows and assessments run in :mod:`llmhpo.evaluation`;
they are re-exported here for compatibility. Importing this package is light; matplotlib is
imported only when a figure is made.
"""

from llmhpo.evaluation import (
    AssessedRow,
    Assessment,
    assess,
    get_assessment,
    get_references,
    record_references,
    reference_label,
)
from llmhpo.pareto import dominates, pareto_front, pareto_rows
from llmhpo.reporting.boundary import BoundaryWarning, boundary_warnings
from llmhpo.reporting.importance import param_importances
from llmhpo.reporting.intervals import Interval, difference_interval, metric_interval
from llmhpo.reporting.recheck import recheck_text
from llmhpo.reporting.report import summary_text, write_report
from llmhpo.reporting.table import results_table
from llmhpo.reporting.verdict import Comparison, Verdict, make_verdict

__all__ = [
    "boundary_warnings",
    "BoundaryWarning",
    "param_importances",
    "Interval",
    "metric_interval",
    "difference_interval",
    "recheck_text",
    "record_references",
    "get_references",
    "reference_label",
    "results_table",
    "make_verdict",
    "Verdict",
    "Comparison",
    "pareto_front",
    "pareto_rows",
    "dominates",
    "assess",
    "Assessment",
    "AssessedRow",
    "get_assessment",
    "write_report",
    "summary_text",
]
