"""llmhpo: hyperparameter optimization of LLM (LoRA) fine-tuning.

Heavy dependencies (torch, botorch, transformers, PyNomad) are imported only when the feature
that needs them is used.
"""

from __future__ import annotations

import logging

from llmhpo.optimizers import BaseOptimizer, make_optimizer
from llmhpo.space import (
    Categorical,
    Fixed,
    Float,
    Int,
    Ordinal,
    PowerOfTwo,
    SearchSpace,
)
from llmhpo.study import (
    Study,
    Trial,
    TrialContext,
    TrialState,
    create_study,
    load_study,
)

__version__ = "0.1.0"

__all__ = [
    "SearchSpace",
    "Float",
    "Int",
    "PowerOfTwo",
    "Ordinal",
    "Categorical",
    "Fixed",
    "BaseOptimizer",
    "make_optimizer",
    "Study",
    "Trial",
    "TrialState",
    "TrialContext",
    "create_study",
    "load_study",
    "__version__",
]

# The library never configures logging; applications (and our CLI) add handlers.
logging.getLogger("llmhpo").addHandler(logging.NullHandler())
