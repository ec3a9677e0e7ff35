"""Top-level objectives of the reliability tests (importable by spawned workers and by
``llmhpo run`` subprocesses through ``type: python``)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any


def value_and_pid(params: dict[str, Any], ctx: Any = None) -> dict[str, Any]:
    """x, and the pid of the worker that computed it."""
    return {"value": params["x"], "pid": os.getpid()}


def killed_once(params: dict[str, Any], ctx: Any, marker_dir: str) -> dict[str, Any]:
    """SIGKILLs its own worker the first time each trial runs (an infrastructure failure:
    the OS killing a worker), returns normally when run again."""
    marker = Path(marker_dir) / f"trial_{ctx.number}"
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(10)
    return {"value": params["x"], "pid": os.getpid()}


def exits_when_x_small(params: dict[str, Any], ctx: Any = None) -> float:
    """Kills its own process (os._exit) for x < 0.5 on every run: a crash the trial causes."""
    if params["x"] < 0.5:
        os._exit(3)
    return params["x"]


def slow(params: dict[str, Any], ctx: Any = None) -> float:
    """Sleeps 30 s unless the time limit stops it first."""
    time.sleep(30)
    return params["x"]


def returns_true(params: dict[str, Any], ctx: Any = None) -> Any:
    return True


def returns_string(params: dict[str, Any], ctx: Any = None) -> Any:
    return "1.5"


def returns_dict_of_bool(params: dict[str, Any], ctx: Any = None) -> Any:
    return {"value": False}


def fails(params: dict[str, Any], ctx: Any = None) -> float:
    raise RuntimeError("this objective always fails")


def takes_scale(params: dict[str, Any], ctx: Any, scale: float = 1.0) -> float:
    return scale * params["x"]


def sleep_then_x(params: dict[str, Any], ctx: Any = None) -> float:
    time.sleep(0.05)
    return params["x"]


def returns_none(params: dict[str, Any], ctx: Any = None) -> Any:
    return None


def returns_nan(params: dict[str, Any], ctx: Any = None) -> Any:
    return float("nan")


def returns_list(params: dict[str, Any], ctx: Any = None) -> Any:
    return [1.0, 2.0]


def writes_adapter(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Saves a fake adapter directory in the trial's work directory, as the LoRA objective
    does, and reports its path."""
    path = ctx.path() / "adapter"
    path.mkdir(parents=True, exist_ok=True)
    (path / "adapter_model.safetensors").write_bytes(b"\0" * 1000)
    return {"value": params["x"], "adapter_path": str(path)}
