"""Objectives: compute metrics for given hyperparameters, nothing else.

An objective is any callable ``objective(params: dict, ctx: TrialContext) -> float | dict``;
:mod:`llmhpo.objectives.base` writes down the contract (optional hooks, the grey-box
``ctx.report``/``ctx.should_stop``, how a call becomes an :class:`Outcome`).
"""

from llmhpo.objectives.base import (
    Objective,
    Outcome,
    Reporter,
    TrialContext,
    evaluate,
    is_out_of_memory,
    outcome_of,
    run_objective,
)
from llmhpo.objectives.synthetic import FUNCTIONS, SyntheticFunction, get_function

__all__ = [
    "Objective",
    "Reporter",
    "TrialContext",
    "Outcome",
    "run_objective",
    "outcome_of",
    "evaluate",
    "is_out_of_memory",
    "SyntheticFunction",
    "FUNCTIONS",
    "get_function",
]
