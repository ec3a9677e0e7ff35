"""Reference rows (defined in :mod:`llmhpo.evaluation.references`; re-exported for the
reporting modules that read them)."""

from llmhpo.evaluation.references import (
    BASE,
    REFERENCE_LABELS,
    REFERENCES_KEY,
    get_references,
    record_references,
    reference_label,
    unwrap_objective,
)

__all__ = [
    "BASE",
    "REFERENCES_KEY",
    "REFERENCE_LABELS",
    "record_references",
    "get_references",
    "reference_label",
    "unwrap_objective",
]
