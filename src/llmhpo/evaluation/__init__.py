"""What runs objectives after or around a study: the re-check of the top trials with fresh
seeds and the reproducibility record (reference rows and ``assess`` move here too, issue 11).
"""

from llmhpo.evaluation.recheck import get_recheck, recheck_seeds, run_recheck
from llmhpo.evaluation.repro import collect_repro, get_repro, record_repro

__all__ = [
    "run_recheck",
    "get_recheck",
    "recheck_seeds",
    "collect_repro",
    "record_repro",
    "get_repro",
]
