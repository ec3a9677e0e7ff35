"""Optimizers: pure ask/tell state machines over a shared search-space encoding.

Heavy optimizers (BO-GP, BaMSOO, MADS, TPE) are imported lazily through :func:`get_optimizer`
so that ``import llmhpo`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from llmhpo.exceptions import InvalidConfigError
from llmhpo.optimizers.base import BaseOptimizer, Capabilities, Observation, Suggestion
from llmhpo.optimizers.random import LHSOptimizer, RandomOptimizer
from llmhpo.space import SearchSpace
from llmhpo.validation import one_line

__all__ = [
    "BaseOptimizer",
    "Capabilities",
    "Observation",
    "Suggestion",
    "RandomOptimizer",
    "LHSOptimizer",
    "OPTIMIZERS",
    "DEFAULT_OPTIMIZER",
    "get_optimizer",
    "make_optimizer",
    "optimizer_parameters",
]

# name -> "module:Class" (imported on first use)
OPTIMIZERS: dict[str, str] = {
    "random": "llmhpo.optimizers.random:RandomOptimizer",
    "lhs": "llmhpo.optimizers.random:LHSOptimizer",
    "bo": "llmhpo.optimizers.gp:GPOptimizer",
    "soo": "llmhpo.optimizers.soo:SOOOptimizer",
    "bamsoo": "llmhpo.optimizers.bamsoo:BaMSOOOptimizer",
    "mads": "llmhpo.optimizers.mads:MADSOptimizer",
    "tpe": "llmhpo.optimizers.tpe:TPEOptimizer",
    "bilevel_bo": "llmhpo.optimizers.bilevel:BilevelBOOptimizer",
    "auto": "llmhpo.optimizers.auto:AutoOptimizer",
    "llm": "llmhpo.optimizers.llm:LLMOptimizer",
}
#: the optimizer of a study or config that names none (docs/optimizers/auto.md)
DEFAULT_OPTIMIZER = "auto"


def get_optimizer(name: str) -> type[BaseOptimizer]:
    """Return the optimizer class registered as ``name``."""
    if name not in OPTIMIZERS:
        raise InvalidConfigError(
            f"unknown optimizer {name!r}, expected one of {sorted(OPTIMIZERS)}"
        )
    module, cls = OPTIMIZERS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make_optimizer(
    name: str,
    space: SearchSpace,
    *,
    seed: int | None = None,
    study_budget: int | None = None,
    **kwargs: Any,
) -> BaseOptimizer:
    """Build the optimizer ``name`` on ``space``; ``kwargs`` are its own parameters.

    ``study_budget`` is the study's total budget: an optimizer that declares it takes it
    (``capabilities.budget_param``) gets it unless ``kwargs`` set that parameter; others
    ignore it.
    """
    cls = get_optimizer(name)
    param = cls.capabilities.budget_param
    if study_budget is not None and param is not None and param not in kwargs:
        kwargs[param] = study_budget
    try:
        return cls(space, seed=seed, **kwargs)
    except TypeError as exc:
        raise InvalidConfigError(
            f"optimizer {name!r}: {exc}; its parameters are "
            f"{sorted(p for p in optimizer_parameters(name) if p not in ('space', 'seed'))}"
        ) from None
    except ValueError as exc:  # a third-party check (scipy, optuna) on a parameter
        if isinstance(exc, InvalidConfigError):
            raise
        raise InvalidConfigError(f"optimizer {name!r}: {one_line(str(exc), 300)}") from None


def optimizer_parameters(name: str) -> list[str]:
    """The constructor parameters of the optimizer ``name`` (``space``, ``seed``, then its
    own); the one place that reads an optimizer's signature."""
    import inspect

    return list(inspect.signature(get_optimizer(name).__init__).parameters)[1:]

