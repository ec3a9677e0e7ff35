"""Objective types a run configuration can name (``objective: {type: ...}``).

Each type maps to a ``from_config(cfg) -> ObjectiveSpec`` function, imported on first use so
that heavy objectives (LoRA fine-tuning) cost nothing until they are used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from llmhpo.exceptions import InvalidConfigError
from llmhpo.space import SearchSpace

__all__ = ["ObjectiveSpec", "OBJECTIVE_TYPES", "build_objective"]


@dataclass(frozen=True)
class ObjectiveSpec:
    """An objective built from a configuration, with what it implies about the study.

    Attributes:
        objective: ``objective(params, ctx) -> float | dict`` (picklable for process pools).
        space: the objective's natural search space, if it has one (synthetic functions,
            the LoRA preset); a ``space`` in the config overrides it.
        direction: the direction the objective implies, if any.
        metric: the metric the objective implies, if any.
    """

    objective: Callable[..., Any]
    space: SearchSpace | None = None
    direction: str | None = None
    metric: str | None = None


OBJECTIVE_TYPES: dict[str, str] = {
    "synthetic": "llmhpo.objectives.synthetic:from_config",
    "python": "llmhpo.objectives.external:python_from_config",
    "command": "llmhpo.objectives.external:command_from_config",
    "lora": "llmhpo.objectives.lora.objective:from_config",
    "sklearn": "llmhpo.objectives.sklearn_tasks:from_config",
    "codegen": "llmhpo.objectives.codegen.objective:from_config",
}


def build_objective(cfg: Mapping[str, Any]) -> ObjectiveSpec:
    """Build the objective described by ``cfg`` (a mapping with a ``type`` key)."""
    if not isinstance(cfg, Mapping) or "type" not in cfg:
        raise InvalidConfigError(
            f"objective must be a mapping with a 'type' key (one of {sorted(OBJECTIVE_TYPES)}), "
            f"got {cfg!r}"
        )
    kind = cfg["type"]
    if kind not in OBJECTIVE_TYPES:
        raise InvalidConfigError(
            f"unknown objective type {kind!r}, expected one of {sorted(OBJECTIVE_TYPES)}"
        )
    module, fn = OBJECTIVE_TYPES[kind].split(":")
    factory = getattr(importlib.import_module(module), fn)
    return factory({k: v for k, v in cfg.items() if k != "type"})
