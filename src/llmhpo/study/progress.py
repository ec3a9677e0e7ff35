"""A live progress line for long studies (stderr; one rewritten line on a terminal)."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TextIO

from llmhpo import _status
from llmhpo.study.trial import Trial, TrialState

__all__ = ["Progress"]


class Progress:
    """Prints ``done/budget``, the best value, running, pruned and failed counts and elapsed
    time (a trial a scheduler stopped is counted as pruned, not as failed).

    On a terminal the line is rewritten in place, and the objective running in this process
    may add what its trial is doing (:mod:`llmhpo._status`: step, loss, ETA); otherwise (CI
    logs, pipes) a line is printed whenever the number of finished trials changes.
    """

    def __init__(self, total: int, *, enabled: bool = True, stream: TextIO | None = None,
                 metric: str | None = None, direction: str = "minimize") -> None:
        self.total = total
        self.metric = metric or "value"
        self.direction = direction
        self._best: float | None = None
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.monotonic()
        self._last_done = -1
        self._last_len = 0
        self._reported: set[int] | None = None
        if self.tty and enabled:
            _status.enable(self.stream)

    def start(self, done: int, best: Trial | None, trials: Sequence[Trial]) -> None:
        """Note the trials finished before this run (not news) and draw the first line."""
        self._reported = {t.number for t in trials if t.state.is_finished()}
        self._best = None if best is None else float(best.value)  # type: ignore[arg-type]
        if self.enabled and self.tty:
            _status.set_study(self._parts(done, best, 0, trials))

    def _trial_lines(self, trials: Sequence[Trial]) -> None:
        """On a terminal, one permanent line per newly finished trial (value or failure)."""
        finished = {t.number: t for t in trials if t.state.is_finished() and not t.warm_start}
        if self._reported is None:  # a resumed study: earlier trials are not news
            self._reported = set(finished)
            return
        for n in sorted(set(finished) - self._reported):
            t = finished[n]
            took = "" if t.duration is None else f", {t.duration:.0f} s"
            if t.state is TrialState.COMPLETE:
                v = float(t.value)  # type: ignore[arg-type]
                better = self._best is None or (
                    v < self._best if self.direction == "minimize" else v > self._best)
                what = f"{self.metric} {v:.6g}" + (" (best so far)" if better else "")
                if better:
                    self._best = v
            else:
                last = (t.error or "").strip().splitlines()[-1:] or [""]
                what = f"{t.state.value}: {last[0][:120]}"
            _status.print_above(f"[llmhpo] trial {n}: {what}{took}")
            self._reported.add(n)

    def _parts(self, done: int, best: Trial | None, running: int,
               trials: Sequence[Trial]) -> str:
        mine = [t for t in trials if not t.warm_start]
        pruned = sum(t.state is TrialState.PRUNED for t in mine)
        failed = sum(t.state not in (TrialState.COMPLETE, TrialState.RUNNING, TrialState.PRUNED)
                     for t in mine)
        best_txt = "-" if best is None else f"{best.value:.6g} (trial {best.number})"
        if not self.tty:  # log lines keep every field, for grep
            return (f"{done}/{self.total} trials | best {best_txt} | running {running} | "
                    + f"pruned {pruned} | " * (pruned > 0) + f"failed {failed}")
        return " | ".join([f"{done}/{self.total} trials", f"best {best_txt}"]
                          + [f"running {running}"] * (running > 1)
                          + [f"pruned {pruned}"] * (pruned > 0)
                          + [f"failed {failed}"] * (failed > 0))

    def _line(self, done: int, best: Trial | None, running: int, trials: Sequence[Trial]) -> str:
        el = time.monotonic() - self.t0
        return (f"[llmhpo] {self._parts(done, best, running, trials)} | "
                f"{int(el // 60)}m{int(el % 60):02d}s")

    def update(self, done: int, best: Trial | None, running: int, trials: Sequence[Trial]) -> None:
        if not self.enabled:
            return
        if not self.tty and done == self._last_done:
            return
        self._last_done = done
        if self.tty:
            self._trial_lines(trials)
            _status.set_study(self._parts(done, best, running, trials))
            return
        self.stream.write(self._line(done, best, running, trials) + "\n")
        self.stream.flush()

    def close(self, done: int, best: Trial | None, trials: Sequence[Trial]) -> None:
        if not self.enabled:
            return
        if self.tty:
            self._trial_lines(trials)
            _status.clear_task()
            _status.set_study(self._parts(done, best, 0, trials))
            _status.disable()
        elif done != self._last_done:
            self.stream.write(self._line(done, best, 0, trials) + "\n")
        self.stream.flush()
