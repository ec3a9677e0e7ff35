"""Top-level objectives for the core tests (importable by spawned workers and `llmhpo run`).

They are plain functions of ``(params, ctx)`` so that process workers can unpickle them by
name; the directory of this file is on ``sys.path`` through ``tests/conftest.py`` (and through
``PYTHONPATH`` for CLI subprocesses).
"""

from __future__ import annotations

import ctypes
import math
import os
import time
from typing import Any

from llmhpo.exceptions import TrialInfeasible


def quadratic(params: dict[str, Any], ctx: Any = None) -> float:
    """(x - 0.3)^2 + (y - 0.6)^2 on a 2-d float space ``x``, ``y``."""
    return (params["x"] - 0.3) ** 2 + (params["y"] - 0.6) ** 2


def one_arg(params: dict[str, Any]) -> float:
    """A one-argument objective: x + 10 y."""
    return params["x"] + 10 * params["y"]


def with_kwargs(params: dict[str, Any], ctx: Any, scale: float = 1.0, offset: float = 0.0) -> dict:
    """Metrics dict that shows the kwargs and the trial number it was given."""
    return {"value": scale * params["x"] + offset, "trial": ctx.number}


def slow(params: dict[str, Any], ctx: Any = None) -> dict[str, float]:
    """Sleeps 0.3 s, then returns x and the wall-clock start/end (to check overlap)."""
    t0 = time.time()
    time.sleep(0.3)
    return {"value": params["x"], "t_start": t0, "t_end": time.time(), "pid": os.getpid()}


def fails_by_x(params: dict[str, Any], ctx: Any = None) -> float:
    """Behaviour picked by the bin of x: raise, NaN, inf, or a normal value."""
    x = params["x"]
    if x < 0.25:
        raise ValueError(f"bad x {x}")
    if x < 0.5:
        return math.nan
    if x < 0.75:
        return math.inf
    return x


def raise_error(params: dict[str, Any], ctx: Any = None) -> float:
    raise RuntimeError("boom from the objective")


def return_nan(params: dict[str, Any], ctx: Any = None) -> float:
    return math.nan


def return_inf(params: dict[str, Any], ctx: Any = None) -> float:
    return -math.inf


def sleep_forever(params: dict[str, Any], ctx: Any = None) -> float:
    time.sleep(60)
    return 0.0


def hard_exit(params: dict[str, Any], ctx: Any = None) -> float:
    """Kills its own worker process without Python cleanup."""
    os._exit(3)


def segfault(params: dict[str, Any], ctx: Any = None) -> float:
    """Dereferences a null pointer: a real SIGSEGV of the worker."""
    ctypes.string_at(0)
    return 0.0


def crash_on_first(params: dict[str, Any], ctx: Any = None) -> float:
    """Trial 0 kills its worker, later trials return x (the pool must recover)."""
    if ctx.number == 0:
        os._exit(7)
    return params["x"]


def loss_and_accuracy(params: dict[str, Any], ctx: Any = None) -> dict[str, float]:
    """A loss and an accuracy that agree: both best at x = 0."""
    return {"val_loss": params["x"], "val_accuracy": 1.0 - params["x"]}


def reports_steps(params: dict[str, Any], ctx: Any) -> dict[str, float]:
    """Reports ``loss`` = x / (step + 1) for steps 0..4; stops early when told to."""
    loss = math.inf
    for step in range(5):
        if ctx.should_stop():
            break
        loss = params["x"] / (step + 1)
        ctx.report(step, {"loss": loss})
    return {"value": loss, "steps": step + 1}


class FileReporter:
    """A picklable reporter: appends reports as JSON lines to ``path``; says stop once trial
    ``stop_trial`` has reported ``stop_after`` steps."""

    def __init__(self, path: str, stop_trial: int = -1, stop_after: int = 0) -> None:
        self.path, self.stop_trial, self.stop_after = path, stop_trial, stop_after

    def report(self, trial_number: int, step: int, metrics: Any) -> None:
        import json

        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"trial": trial_number, "step": step, **metrics}) + "\n")

    def reports(self) -> list[dict[str, Any]]:
        import json

        if not os.path.exists(self.path):
            return []
        with open(self.path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh]

    def should_stop(self, trial_number: int) -> bool:
        n = sum(r["trial"] == trial_number for r in self.reports())
        return trial_number == self.stop_trial and n >= self.stop_after


def curve(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """A 9-step learning curve ``(x - 0.3)^2 + 1/step`` reported each step. It keeps its step in
    ``ctx.workdir/step.txt`` (a checkpoint it continues from), returns early when
    ``ctx.should_stop()`` (the contract's style; no exception) and raises KeyboardInterrupt at
    step ``s`` of trial ``n`` when ``LLMHPO_TEST_INTERRUPT="n:s"`` (a driver killed mid-trial);
    each step sleeps ``LLMHPO_TEST_STEP_SLEEP`` seconds."""
    from pathlib import Path

    ck = None if ctx.workdir is None else ctx.path() / "step.txt"
    start = int(ck.read_text()) if ck is not None and ck.exists() else 0
    v = math.nan
    for step in range(start + 1, 10):
        time.sleep(float(os.environ.get("LLMHPO_TEST_STEP_SLEEP", "0")))
        v = (params["x"] - 0.3) ** 2 + 1.0 / step
        if ck is not None:
            ck.write_text(str(step))
        ctx.report(step, {"value": v})
        if os.environ.get("LLMHPO_TEST_INTERRUPT") == f"{ctx.number}:{step}":
            raise KeyboardInterrupt
        if step < 9 and ctx.should_stop():
            return {"value": v, "steps": step, "started_at": start}
    del Path
    return {"value": v, "steps": 9, "started_at": start}


curve.resumable = lambda workdir: (workdir / "step.txt").exists()  # type: ignore[attr-defined]


def x_only(params: dict[str, Any]) -> float:
    """A one-argument objective: 10 x."""
    return 10 * params["x"]


def scaled(params: dict[str, Any], ctx: Any, scale: float = 1.0, offset: float = 0.0) -> dict:
    """Shows the kwargs and the trial number it was given."""
    return {"value": scale * params["x"] + offset, "trial": ctx.number}


def raises(params: dict[str, Any], ctx: Any = None) -> float:
    raise RuntimeError(f"boom at x={params['x']}")


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
