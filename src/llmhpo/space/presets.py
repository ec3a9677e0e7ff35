"""The LoRA search spaces of the papers llmhpo follows, as ready-made presets.

* ``tribes2023`` (Tribes et al. 2023, Table 3): NOMAD's mapping of LoRA hyperparameters, with
  PEFT's defaults as the initial point. Rank is ``2**(r+1), r in [1, 8]`` (4..512), alpha an
  integer in [1, 64], learning rate ``10**lr, lr in [-6, -3]``, dropout a code ``d`` mapped to
  ``0`` (d = 1) or ``10**(d-6)``. The paper prints ``10**(6-d)``, a misprint: its own default
  d = 5 -> 0.1 only works with ``10**(d-6)``. Code d = 6 would give dropout 1.0, which zeroes the
  adapter's input so that every such trial equals the base model; we leave it out, so the
  dropout values are ``[0, 1e-4, 1e-3, 1e-2, 0.1]``.
* ``kiwy2025`` (Davouse & Talbi 2025, Table 1): learning rate ``10**x, x in [-10, -1]``, rank
  in [2, 32], alpha in [16, 64] (integers, relax-and-round), dropout in [0, 0.5], weight
  decay ``10**x, x in [-3, -1]``.
"""

from __future__ import annotations

from llmhpo.space.lora import paper_defaults
from llmhpo.space.space import SearchSpace
from llmhpo.space.variables import Float, Int, Ordinal, PowerOfTwo

__all__ = ["PRESETS", "get_preset", "tribes2023_space", "kiwy2025_space"]


def tribes2023_space() -> SearchSpace:
    """Tribes et al. 2023, Table 3 (NOMAD vs TPE); defaults = PEFT's defaults (the table of
    :mod:`llmhpo.space.lora`)."""
    peft = paper_defaults()
    return SearchSpace(
        [
            PowerOfTwo("lora_rank", 4, 512, default=peft["lora_rank"]),
            Ordinal("lora_dropout", [0.0, 1e-4, 1e-3, 1e-2, 0.1], default=peft["lora_dropout"]),
            Int("lora_alpha", 1, 64, default=peft["lora_alpha"]),
            Float("learning_rate", 1e-6, 1e-3, log=True, default=peft["learning_rate"]),
        ]
    )


def kiwy2025_space() -> SearchSpace:
    """Davouse & Talbi 2025, Table 1 (BO-GP vs SOO vs BaMSOO); the names of the table of
    :mod:`llmhpo.space.lora`."""
    return SearchSpace(
        [
            Float("learning_rate", 1e-10, 1e-1, log=True),
            Int("lora_rank", 2, 32),
            Int("lora_alpha", 16, 64),
            Float("lora_dropout", 0.0, 0.5),
            Float("weight_decay", 1e-3, 1e-1, log=True),
        ]
    )


PRESETS = {"tribes2023": tribes2023_space, "kiwy2025": kiwy2025_space}


def get_preset(name: str) -> SearchSpace:
    """Return the preset space called ``name``."""
    try:
        return PRESETS[name]()
    except KeyError:
        from llmhpo.exceptions import InvalidSearchSpaceError

        raise InvalidSearchSpaceError(
            f"unknown space preset {name!r}, expected one of {sorted(PRESETS)}"
        ) from None
