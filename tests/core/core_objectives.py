"""Top-level objectives of the core-engine tests.

Plain module-level functions of ``(params, ctx)`` so that spawned worker processes and
``llmhpo run`` subprocesses (``type: python``) import them by name.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

from llmhpo.exceptions import TrialInfeasible


def quadratic(params: dict[str, Any], ctx: Any = None) -> float:
    """(x - 0.3)^2 + (y - 0.6)^2."""
    return (params["x"] - 0.3) ** 2 + (params["y"] - 0.6) ** 2


def x_only(params: dict[str, Any]) -> float:
    """A one-argument objective: 10 x."""
    return 10 * params["x"]


def scaled(params: dict[str, Any], ctx: Any, scale: float = 1.0, offset: float = 0.0) -> dict:
    """Shows the kwargs and the trial number it was given."""
    return {"value": scale * params["x"] + offset, "trial": ctx.number}


def raises(params: dict[str, Any], ctx: Any = None) -> float:
    raise RuntimeError(f"boom at x={params['x']}")


def returns_nan(params: dict[str, Any], ctx: Any = None) -> float:
    return math.nan


def returns_inf(params: dict[str, Any], ctx: Any = None) -> float:
    return math.inf


def returns_dict_without_metric(params: dict[str, Any], ctx: Any = None) -> dict:
    return {"accuracy": 0.5, "tokens_per_s": 12.0}


def infeasible(params: dict[str, Any], ctx: Any = None) -> float:
    raise TrialInfeasible(f"rank too large for memory at x={params['x']}")


def out_of_memory(params: dict[str, Any], ctx: Any = None) -> float:
    raise MemoryError("cannot allocate 80 GiB")


def pid_after_sleep(params: dict[str, Any], ctx: Any = None) -> dict:
    """Sleeps 1 s and returns x and the PID of the process that ran it."""
    time.sleep(1.0)
    return {"value": params["x"], "pid": os.getpid()}


def pid_now(params: dict[str, Any], ctx: Any = None) -> dict:
    """Sleeps 0.2 s and returns x and the PID of the process that ran it."""
    time.sleep(0.2)
    return {"value": params["x"], "pid": os.getpid()}


def hangs_on_first(params: dict[str, Any], ctx: Any) -> dict:
    """Trial 0 hangs (its worker must be stopped); later trials return x and their PID."""
    if ctx.number == 0:
        time.sleep(60)
    return {"value": params["x"], "pid": os.getpid()}


def dies_on_first(params: dict[str, Any], ctx: Any) -> dict:
    """Trial 0 kills its own worker without cleanup; later trials return x and their PID."""
    if ctx.number == 0:
        os._exit(3)
    return {"value": params["x"], "pid": os.getpid()}
