"""Studies: the optimization loop, persistence, resume and warm start."""

from llmhpo.objectives.base import Outcome, Reporter, TrialContext, run_objective
from llmhpo.study.ranking import infer_direction, ranked_trials
from llmhpo.study.study import (
    PendingTrial,
    Study,
    create_study,
    load_study,
    read_warm_start_csv,
)
from llmhpo.study.trial import Trial, TrialState

__all__ = [
    "Study",
    "PendingTrial",
    "create_study",
    "load_study",
    "read_warm_start_csv",
    "Trial",
    "TrialState",
    "TrialContext",
    "Outcome",
    "run_objective",
    "Reporter",
    "ranked_trials",
    "infer_direction",
]
