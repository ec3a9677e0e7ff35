"""Objectives: compute metrics for given hyperparameters, nothing else.

An objective is any callable ``objective(params: dict, ctx: TrialContext) -> float | dict``.
"""

from llmhpo.objectives.synthetic import FUNCTIONS, SyntheticFunction, get_function

__all__ = ["SyntheticFunction", "FUNCTIONS", "get_function"]
