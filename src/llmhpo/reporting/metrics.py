"""Metric names, directions and number formatting (defined in :mod:`llmhpo.metrics`, below
the study, so that evaluation and objectives can use them too)."""

from llmhpo.metrics import (
    as_number,
    better,
    format_metric,
    format_param,
    infer_direction,
    parse_metric_directions,
)

__all__ = [
    "infer_direction",
    "parse_metric_directions",
    "as_number",
    "format_metric",
    "format_param",
    "better",
]
