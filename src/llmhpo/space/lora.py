"""The LoRA hyperparameters llmhpo knows: one table feeds the LoRA objective's defaults and
validation, its default search space, the "paper default" reference row and the presets.

It sits in the space layer (plain data, no torch) so that the presets
(:mod:`llmhpo.space.presets`) and the LoRA objective (:mod:`llmhpo.objectives.lora`) read the
same names and values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmhpo.space.space import SearchSpace
from llmhpo.space.variables import Float, Int, Variable

__all__ = [
    "LoRAHyperparameter",
    "LORA_HYPERPARAMETERS",
    "LORA_NAMES",
    "trial_defaults",
    "paper_defaults",
    "lora_default_space",
    "unknown_lora_names",
]


@dataclass(frozen=True)
class LoRAHyperparameter:
    """One row of the table.

    Attributes:
        name: the search-space variable name.
        field: where the value goes (a PEFT ``LoraConfig`` field or the optimizer's).
        default: the value a trial uses when the search space leaves the variable out.
        paper_default: the default point of Tribes et al. 2023 (Table 3, their initial point;
            learning rate 1e-5), the "paper default" reference row.
        space: the variable of the default search space (ranges in which a small model learns
            within a few dozen steps; the variables of Davouse & Talbi 2025, Table 1).
        description: one line for the docs.
    """

    name: str
    field: str
    default: Any
    paper_default: Any
    space: Variable
    description: str


LORA_HYPERPARAMETERS: tuple[LoRAHyperparameter, ...] = (
    LoRAHyperparameter(
        "learning_rate", "AdamW lr", 1e-4, 1e-5,
        Float("learning_rate", 1e-5, 1e-2, log=True, default=1e-3),
        "peak learning rate (linear warmup, then linear decay to 0)",
    ),
    LoRAHyperparameter(
        "lora_rank", "LoraConfig.r", 8, 8,
        Int("lora_rank", 2, 32, default=8),
        "rank r of the low-rank update B A",
    ),
    LoRAHyperparameter(
        "lora_alpha", "LoraConfig.lora_alpha", 32, 32,
        Int("lora_alpha", 1, 64, default=16),
        "scaling numerator: the update is scaled by alpha / r",
    ),
    LoRAHyperparameter(
        "lora_dropout", "LoraConfig.lora_dropout", 0.1, 0.1,
        Float("lora_dropout", 0.0, 0.3, default=0.05),
        "dropout on the adapter's input",
    ),
    LoRAHyperparameter(
        "weight_decay", "AdamW weight_decay", 0.0, 0.0,
        Float("weight_decay", 1e-4, 1e-1, log=True, default=1e-2),
        "decoupled weight decay of the adapter weights",
    ),
)

#: The variable names the LoRA objective understands, in table order.
LORA_NAMES: tuple[str, ...] = tuple(h.name for h in LORA_HYPERPARAMETERS)


def trial_defaults() -> dict[str, Any]:
    """``{name: default}``: what a trial uses for variables the search space leaves out."""
    return {h.name: h.default for h in LORA_HYPERPARAMETERS}


def paper_defaults() -> dict[str, Any]:
    """``{name: paper_default}``: the "paper default (Tribes et al. 2023)" reference row."""
    return {h.name: h.paper_default for h in LORA_HYPERPARAMETERS}


def lora_default_space() -> SearchSpace:
    """The LoRA objective's default search space (every row's ``space`` variable)."""
    return SearchSpace([h.space for h in LORA_HYPERPARAMETERS])


def unknown_lora_names(names: Any) -> list[str]:
    """The names among ``names`` that are not LoRA hyperparameters (e.g. ``lr``)."""
    return [n for n in names if n not in LORA_NAMES]
