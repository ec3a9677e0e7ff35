"""Studies: the optimization loop, persistence, resume and warm start."""

from llmhpo.study.outcome import Outcome, TrialContext, run_objective
from llmhpo.study.study import PendingTrial, Study, create_study, load_study
from llmhpo.study.trial import Trial, TrialState

__all__ = [
    "Study",
    "PendingTrial",
    "create_study",
    "load_study",
    "Trial",
    "TrialState",
    "TrialContext",
    "Outcome",
    "run_objective",
]
