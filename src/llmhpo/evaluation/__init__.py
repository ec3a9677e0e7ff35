"""Evaluation: what runs objectives around a study, after the optimizer has chosen: the
reference rows (base model, default hyperparameters), the post-optimization assessment, the
re-check of the top trials with fresh seeds and the reproducibility record.

Every evaluation goes through the objective contract (:func:`llmhpo.objectives.base.evaluate`
on the study's executor) and is stored with the study; :mod:`llmhpo.reporting` only reads it.
"""

from llmhpo.evaluation.assess import AssessedRow, Assessment, assess, get_assessment
from llmhpo.evaluation.recheck import get_recheck, recheck_seeds, run_recheck
from llmhpo.evaluation.references import get_references, record_references, reference_label
from llmhpo.evaluation.repro import collect_repro, get_repro, record_repro

__all__ = [
    "record_references",
    "get_references",
    "reference_label",
    "assess",
    "Assessment",
    "AssessedRow",
    "get_assessment",
    "run_recheck",
    "get_recheck",
    "recheck_seeds",
    "collect_repro",
    "record_repro",
    "get_repro",
]
