"""Search spaces: variables, the shared [0, 1]^d encoding, presets and designs."""

from llmhpo.space.presets import PRESETS, get_preset, kiwy2025_space, tribes2023_space
from llmhpo.space.space import SearchSpace, variable_from_dict
from llmhpo.space.variables import (
    Categorical,
    Fixed,
    Float,
    Int,
    Ordinal,
    PowerOfTwo,
    Variable,
)

__all__ = [
    "SearchSpace",
    "Variable",
    "Float",
    "Int",
    "PowerOfTwo",
    "Ordinal",
    "Categorical",
    "Fixed",
    "variable_from_dict",
    "PRESETS",
    "get_preset",
    "tribes2023_space",
    "kiwy2025_space",
]
