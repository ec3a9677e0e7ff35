"""Pareto optimality over several metrics (defined in :mod:`llmhpo.pareto`)."""

from llmhpo.pareto import dominates, pareto_front, pareto_rows

__all__ = ["pareto_front", "pareto_rows", "dominates"]
