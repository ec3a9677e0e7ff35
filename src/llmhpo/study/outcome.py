"""Compatibility re-exports: the objective contract lives in :mod:`llmhpo.objectives.base`."""

from llmhpo.objectives.base import Outcome, TrialContext, is_out_of_memory, run_objective

__all__ = ["TrialContext", "Outcome", "run_objective", "is_out_of_memory"]
