"""Lazy access to heavy optional dependencies, with actionable errors."""

from __future__ import annotations

import importlib
from types import ModuleType

from llmhpo.exceptions import OptionalDependencyError

# Which extra provides which top-level module.
_EXTRA_OF = {
    "torch": "bo",
    "botorch": "bo",
    "gpytorch": "bo",
    "PyNomad": "nomad",
    "transformers": "lora",
    "peft": "lora",
    "gguf": "lora",
    "datasets": "lora",
    "lm_eval": "eval",
    "sklearn": "bench",
    "matplotlib": "report",
    "ray": "ray",
}


def require(module: str, *, feature: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`OptionalDependencyError` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = _EXTRA_OF.get(top, "all")
        what = f" for {feature}" if feature else ""
        raise OptionalDependencyError(
            f"{module!r} is needed{what} but could not be imported ({exc}). "
            f"Install it with: pip install 'llmhpo[{extra}]'"
        ) from exc
