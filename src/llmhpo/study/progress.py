"""A live progress line for long studies (stderr; one rewritten line on a terminal)."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TextIO

from llmhpo.study.trial import Trial, TrialState

__all__ = ["Progress"]


class Progress:
    """Prints ``done/budget``, the best value, running and failed counts and elapsed time.

    On a terminal the line is rewritten in place; otherwise (CI logs, pipes) a line is printed
    whenever the number of finished trials changes.
    """

    def __init__(self, total: int, *, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.total = total
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.monotonic()
        self._last_done = -1
        self._last_len = 0

    def _line(self, done: int, best: Trial | None, running: int, trials: Sequence[Trial]) -> str:
        failed = sum(
            t.state not in (TrialState.COMPLETE, TrialState.RUNNING) and not t.warm_start
            for t in trials
        )
        best_txt = "-" if best is None else f"{best.value:.6g} (trial {best.number})"
        el = time.monotonic() - self.t0
        return (
            f"[llmhpo] {done}/{self.total} trials | best {best_txt} | running {running} | "
            f"failed {failed} | {int(el // 60)}m{int(el % 60):02d}s"
        )

    def update(self, done: int, best: Trial | None, running: int, trials: Sequence[Trial]) -> None:
        if not self.enabled:
            return
        if not self.tty and done == self._last_done:
            return
        self._last_done = done
        line = self._line(done, best, running, trials)
        if self.tty:
            self.stream.write("\r" + line.ljust(self._last_len))
            self._last_len = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self, done: int, best: Trial | None, trials: Sequence[Trial]) -> None:
        if not self.enabled:
            return
        if self.tty:
            line = self._line(done, best, 0, trials).ljust(self._last_len)
            self.stream.write("\r" + line + "\n")
        elif done != self._last_done:
            self.stream.write(self._line(done, best, 0, trials) + "\n")
        self.stream.flush()
