"""The post-optimization assessment (defined in :mod:`llmhpo.evaluation.assess`;
re-exported for the reporting modules that read it)."""

from llmhpo.evaluation.assess import (
    ASSESSMENT_KEY,
    AssessedRow,
    Assessment,
    assess,
    get_assessment,
)

__all__ = ["ASSESSMENT_KEY", "AssessedRow", "Assessment", "assess", "get_assessment"]
