"""Lazy access to heavy optional dependencies, with actionable errors."""

from __future__ import annotations

import importlib
import importlib.util
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
    "mlflow": "mlflow",
    "openai": "llm",
    "xgrammar": "llm",
}


def _missing(module: str, feature: str | None, why: str) -> OptionalDependencyError:
    extra = _EXTRA_OF.get(module.split(".")[0], "all")
    what = f" for {feature}" if feature else ""
    return OptionalDependencyError(
        f"{module!r} is needed{what} but {why}. Install it with: pip install 'llmhpo[{extra}]'"
    )


def require(module: str, *, feature: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`OptionalDependencyError` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise _missing(module, feature, f"could not be imported ({exc})") from exc


def require_installed(*modules: str, feature: str | None = None) -> None:
    """Raise :class:`OptionalDependencyError` unless every module is installed, without
    importing any (a cheap check when an object that needs them later is built)."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise _missing(module, feature, "is not installed")
