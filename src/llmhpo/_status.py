"""One live status line on a terminal, shared by the study loop and the objective running in
the same process: ``[llmhpo] 3/12 trials | best 1.59 (trial 2) | trial 3: step 12/20 loss
1.83 ETA 25s | 4m10s``.

The study's :class:`~llmhpo.study.progress.Progress` switches it on (only on a terminal) and
sets the study part; an objective reports what its trial is doing with :func:`task`. Nothing
is written when it is off: in worker processes, under ``--quiet``, or into a pipe or CI log
(where a rewritten line would be noise).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

__all__ = ["enable", "disable", "is_enabled", "set_study", "task", "clear_task", "print_above",
           "format_eta"]

_state: dict = {"on": False, "stream": None, "study": "", "task": "", "len": 0, "last": 0.0,
                "t0": 0.0, "gen": 0}
_MIN_INTERVAL = 0.2  # seconds between two redraws caused by task updates
_LOCK = threading.RLock()  # the ticker thread and the caller both draw


def _tick(generation: int) -> None:
    """Redraw every second (the elapsed time moves during long silent phases, e.g. an
    evaluation), until the line is turned off or enabled again."""
    while True:
        time.sleep(1.0)
        with _LOCK:
            if not _state["on"] or _state["gen"] != generation:
                return
            _draw()


def enable(stream: TextIO | None = None) -> bool:
    """Turn the line on if ``stream`` (default stderr) is a terminal; returns whether it is."""
    stream = stream or sys.stderr
    on = bool(getattr(stream, "isatty", lambda: False)())
    with _LOCK:
        _state.update(on=on, stream=stream, study="", task="", len=0, t0=time.monotonic(),
                      gen=_state["gen"] + 1)
        if on:
            threading.Thread(target=_tick, args=(_state["gen"],), daemon=True,
                             name="llmhpo-status").start()
    return on


def disable(*, keep: bool = True) -> None:
    """Turn the line off: leave it on screen (a newline after it), or erase it (``keep=False``,
    e.g. to print a result line in its place)."""
    with _LOCK:
        if _state["on"] and _state["len"]:
            _state["stream"].write("\n" if keep else "\r" + " " * _state["len"] + "\r")
            _state["stream"].flush()
        _state.update(on=False, len=0, task="", study="")


def is_enabled() -> bool:
    return bool(_state["on"])


def _width(stream: TextIO) -> int:
    try:
        return max(20, os.get_terminal_size(stream.fileno()).columns - 1)
    except (OSError, ValueError, AttributeError):
        return 119


def _draw(force: bool = True) -> None:
    if not _state["on"]:
        return
    now = time.monotonic()
    if not force and now - _state["last"] < _MIN_INTERVAL:
        return
    _state["last"] = now
    el = now - _state["t0"]
    parts = [p for p in (_state["study"], _state["task"]) if p]
    line = "[llmhpo] " + " | ".join(parts + [f"{int(el // 60)}m{int(el % 60):02d}s"])
    width = _width(_state["stream"])
    if len(line) > width:  # a wrapped line cannot be rewritten in place
        line = line[: width - 1] + "…"
    s = _state["stream"]
    s.write("\r" + line.ljust(_state["len"]))
    s.flush()
    _state["len"] = len(line)


def print_above(text: str) -> None:
    """Print a permanent line above the live line (which is drawn again under it)."""
    with _LOCK:
        if not _state["on"]:
            return
        s = _state["stream"]
        s.write("\r" + text.ljust(_state["len"]) + "\n")
        _state["len"] = 0
        _state["task"] = ""  # what the finished trial was doing is over
        _draw()


def set_study(text: str) -> None:
    """The study part of the line (trials done, best so far)."""
    with _LOCK:
        _state["study"] = text
        _draw()


def task(text: str, *, force: bool = False) -> None:
    """What the running trial (or reference evaluation) is doing now."""
    if _state["on"]:
        with _LOCK:
            _state["task"] = text
            _draw(force)


def clear_task() -> None:
    if _state["on"]:
        with _LOCK:
            _state["task"] = ""
            _draw()


def format_eta(seconds: float) -> str:
    """``45s``, ``3m05s``."""
    s = max(0, int(round(seconds)))
    return f"{s}s" if s < 60 else f"{s // 60}m{s % 60:02d}s"
