"""The optimization loop: keep the executor's workers busy until the study reaches its budget.

Each turn claims from the study (and so the optimizer) as many trials as there are free
workers and budget slots left (other drivers of the same study included), submits
:func:`~llmhpo.objectives.base.run_objective` for each to the executor, records every result
the moment it comes back (before the optimizer is told), and stops overdue trials through the
executor (TIMEOUT). On any exception (Ctrl-C included) the trials still running are recorded as
INTERRUPTED. When this driver has nothing left to run but other drivers still run the study's
last trials, it waits: if one of them dies, its slots are taken over here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmhpo.executors import Executor, make_executor
from llmhpo.executors.base import started_at
from llmhpo.objectives.base import Outcome, Reporter, TrialContext, outcome_of, run_objective
from llmhpo.study.progress import Progress
from llmhpo.study.scheduling import compute_spent
from llmhpo.study.trial import Trial, TrialState

if TYPE_CHECKING:
    from llmhpo.study.study import PendingTrial, Study

__all__ = ["TrialLoop", "Callback"]

Callback = Callable[["Study", Trial], None]


def default_executor(
    executor: Executor | str | None, n_workers: int, trial_timeout: float | None = None
) -> Executor:
    """``executor`` as an instance: by name, or when ``None`` inline for one worker without a
    time limit, else a process pool (it can stop a trial at its limit and survives a crash of
    the objective)."""
    if executor is None:
        inline = n_workers == 1 and trial_timeout is None
        return make_executor("inline" if inline else "process", n_workers)
    if isinstance(executor, str):
        return make_executor(executor, n_workers)
    return executor


class TrialLoop:
    """One run of :meth:`Study.optimize <llmhpo.study.Study.optimize>` (see its arguments)."""

    def __init__(
        self,
        study: Study,
        objective: Callable[[dict[str, Any], TrialContext], Any],
        executor: Executor,
        total: int,
        *,
        trial_timeout: float | None = None,
        workdir: str | Path | None = None,
        callbacks: Sequence[Callback] = (),
        reporter: Reporter | None = None,
        progress: Progress | None = None,
        poll_interval: float = 1.0,
        compute_budget: float | None = None,
        max_resource: int | None = None,
    ) -> None:
        self.study = study
        self.objective = objective
        self.executor = executor
        self.total = total
        self.trial_timeout = trial_timeout
        self.workdir = workdir
        self.callbacks = list(callbacks)
        self.reporter = reporter
        self.progress = progress
        self.poll_interval = poll_interval
        self.compute_budget = compute_budget  # steps/epochs; see llmhpo.study.scheduling
        self.max_resource = max_resource
        self.running: dict[Future[Any], tuple[PendingTrial, float]] = {}

    def run(self) -> None:
        """Run trials until the budget is reached or the optimizer has nothing to propose."""
        if self.progress is not None and self.progress.enabled:
            trials = self.study.trials  # the trials finished before this run are not news
            self.progress.start(
                self.study._n_finished_of(trials), self.study._best_of(trials), trials
            )
        try:
            while True:
                self.fill()
                if not self.running:
                    if not self.study._others_running(self.total):
                        break
                    # other drivers run the last trials; one of them may die and free slots
                    time.sleep(self.poll_interval)
                    continue
                done, _ = wait(list(self.running), timeout=1.0, return_when=FIRST_COMPLETED)
                for fut in done:
                    p, _t0 = self.running.pop(fut)
                    self.finish(p, outcome_of(fut))
                self.stop_overdue()
                if self.progress is not None and self.progress.enabled:
                    self.progress_update()
        except BaseException:
            for p, _ in self.running.values():
                self.study._interrupt(p)
            raise
        finally:
            if self.progress is not None and self.progress.enabled:
                trials = self.study.trials
                self.progress.close(
                    self.study._n_finished_of(trials), self.study._best_of(trials), trials
                )

    def progress_update(self) -> None:
        trials = self.study.trials  # one read of the storage per loop turn
        assert self.progress is not None
        self.progress.update(
            self.study._n_finished_of(trials), self.study._best_of(trials), len(self.running),
            trials,
        )

    def context(self, p: PendingTrial) -> TrialContext:
        """The context of trial ``p``: its number as seed, ``<workdir>/trial_<n>``."""
        workdir = None if self.workdir is None else Path(self.workdir) / f"trial_{p.number}"
        return TrialContext(
            number=p.number,
            seed=p.number,
            workdir=None if workdir is None else str(workdir),
            time_limit=self.trial_timeout,
            reporter=self.reporter,
        )

    def fill(self) -> None:
        """Claim as many trials as there are free workers and budget slots (interrupted
        trials with a checkpoint are continued first), unless the compute budget is spent;
        submit them."""
        free = self.executor.n_workers - len(self.running)
        if free <= 0:
            return
        if self.compute_budget is not None and compute_spent(
                self.study.trials, self.max_resource) >= self.compute_budget:
            return  # the trials already spent (or are spending) the compute budget
        for p in self.study._claim(free, self.total):
            fut = self.executor.submit(run_objective, self.objective, p.params, self.context(p))
            self.running[fut] = (p, time.monotonic())

    def finish(self, p: PendingTrial, outcome: Outcome) -> None:
        """Record the outcome (the study tells the optimizer), then call the callbacks."""
        trial = self.study.tell(p, outcome)
        for cb in self.callbacks:
            cb(self.study, trial)

    def stop_overdue(self) -> None:
        """Stop the trials over their time limit and record them as TIMEOUT."""
        if self.trial_timeout is None:
            return
        now = time.monotonic()
        for fut, (p, submitted) in list(self.running.items()):
            t0 = started_at(fut, submitted)  # a worker's start-up is not the trial's time
            if now - t0 > self.trial_timeout and self.executor.kill(fut):
                self.running.pop(fut)
                outcome = Outcome(
                    TrialState.TIMEOUT,
                    {},
                    f"stopped after {now - t0:.1f} s (time limit {self.trial_timeout} s)",
                    now - t0,
                    -1,
                )
                self.finish(p, outcome)
