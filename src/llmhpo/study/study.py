"""The study facade: creating, resuming and opening studies; ask/tell and the records.

A :class:`Study` binds a search space, an optimizer and a storage. :meth:`Study.optimize`
runs the loop (:mod:`llmhpo.study.loop`); warm start and CSV export are in
:mod:`llmhpo.study.warm_start`. Re-running a study resumes it to its total budget: the
optimizer is rebuilt from its stored configuration and the finished trials are replayed into
it in order.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmhpo.exceptions import DuplicatedStudyError, InvalidConfigError
from llmhpo.executors import Executor
from llmhpo.objectives.base import Outcome, Reporter, TrialContext
from llmhpo.optimizers import BaseOptimizer, Suggestion, make_optimizer
from llmhpo.space import SearchSpace
from llmhpo.study import warm_start as _warm
from llmhpo.study.loop import Callback, TrialLoop, default_executor
from llmhpo.study.progress import Progress
from llmhpo.study.storage import StudyStorage, open_storage
from llmhpo.study.trial import Trial, TrialState

__all__ = ["Study", "PendingTrial", "create_study", "load_study"]

_logger = logging.getLogger("llmhpo")

Objective = Callable[[dict[str, Any], TrialContext], Any]


@dataclass(frozen=True)
class PendingTrial:
    """A trial handed out by :meth:`Study.ask` and not yet told."""

    number: int
    params: dict[str, Any]
    suggestion: Suggestion
    trial_id: int


def create_study(
    space: SearchSpace | Mapping[str, Any] | str,
    *,
    optimizer: str | BaseOptimizer = "random",
    optimizer_kwargs: Mapping[str, Any] | None = None,
    direction: str = "minimize",
    metric: str | None = None,
    budget: int | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    seed: int | None = 0,
    load_if_exists: bool = True,
) -> Study:
    """Create a study, or resume the one of that name in ``storage``.

    Args:
        space: a :class:`SearchSpace`, its dict form, or the name of a preset.
        optimizer: an optimizer name (see :data:`llmhpo.optimizers.OPTIMIZERS`) or instance.
        optimizer_kwargs: the optimizer's own parameters when ``optimizer`` is a name.
        direction: ``"minimize"`` or ``"maximize"`` the objective metric.
        metric: which returned metric is the objective (objectives may return a dict);
            ``None`` means the single value returned.
        budget: total number of evaluations (finished trials) the study aims for.
        storage: ``sqlite:///file.db``, a database URL, a file path, or ``None`` (memory).
        study_name: required to find the study again in a persistent storage.
        seed: seed of the optimizer.
        load_if_exists: resume an existing study of that name (else raise).
    """
    space = _as_space(space)
    if direction not in ("minimize", "maximize"):
        raise InvalidConfigError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    if budget is not None and (not isinstance(budget, int) or budget < 1):
        raise InvalidConfigError(f"budget must be a positive integer, got {budget!r}")
    name = study_name or f"study-{int(time.time() * 1000)}"
    records = StudyStorage(open_storage(storage), name, direction=direction)
    if not records.created:
        if not load_if_exists:
            raise DuplicatedStudyError(f"a study named {name!r} already exists in {storage!r}")
        stored = SearchSpace.from_dict(records.get_attr("space"))
        if stored != space:
            raise InvalidConfigError(
                f"study {name!r} exists with a different search space: stored "
                f"{stored.to_dict()}, given {space.to_dict()}"
            )
        if records.direction != direction:
            raise InvalidConfigError(
                f"study {name!r} exists with direction {records.direction!r}, given {direction!r}"
            )
    if isinstance(optimizer, BaseOptimizer):
        if optimizer_kwargs:
            raise InvalidConfigError("optimizer_kwargs only apply when optimizer is a name")
        opt = optimizer
    else:
        opt = make_optimizer(optimizer, space, seed=seed, **dict(optimizer_kwargs or {}))
    if records.created:
        records.set_attr("space", space.to_dict())
        records.set_attr("optimizer", opt.get_config())
        records.set_attr("metric", metric)
    if budget is not None:
        records.set_attr("budget", budget)
    return Study(records, space, opt, metric=metric)


def load_study(study_name: str, storage: str) -> Study:
    """Open an existing study; its optimizer is rebuilt from the stored configuration."""
    records = StudyStorage(open_storage(storage), study_name, create=False)
    space = SearchSpace.from_dict(records.get_attr("space"))
    config = dict(records.get_attr("optimizer") or {"name": "random"})
    name, seed = config.pop("name"), config.pop("seed", None)
    opt = make_optimizer(name, space, seed=seed, **config)
    return Study(records, space, opt, metric=records.get_attr("metric"))


def _as_space(space: SearchSpace | Mapping[str, Any] | str) -> SearchSpace:
    if isinstance(space, SearchSpace):
        return space
    if isinstance(space, str):
        from llmhpo.space import get_preset

        return get_preset(space)
    return SearchSpace.from_dict(space)


class Study:
    """A persistent optimization run. Build it with :func:`create_study` or :func:`load_study`."""

    def __init__(
        self,
        records: StudyStorage,
        space: SearchSpace,
        optimizer: BaseOptimizer,
        *,
        metric: str | None = None,
    ) -> None:
        self._records = records
        self.space = space
        self.optimizer = optimizer
        self.metric = metric
        self._distributions = space.optuna_distributions()
        self._pending: dict[int, PendingTrial] = {}
        self._replay()

    # ----- properties ------------------------------------------------------------------------
    @property
    def study_name(self) -> str:
        return self._records.study_name

    @property
    def direction(self) -> str:
        return self._records.direction

    @property
    def budget(self) -> int | None:
        return self._records.get_attr("budget")

    @property
    def trials(self) -> list[Trial]:
        """Every trial, in order of creation."""
        return self._records.trials()

    @property
    def n_finished(self) -> int:
        """Finished trials that count against the budget (warm-start points do not)."""
        return self._n_finished_of(self.trials)

    @staticmethod
    def _n_finished_of(trials: Sequence[Trial]) -> int:
        return sum(t.state.counts_against_budget() and not t.warm_start for t in trials)

    @property
    def best_trial(self) -> Trial | None:
        """The COMPLETE trial with the best value (``None`` if there is none)."""
        return self._best_of(self.trials)

    def _best_of(self, trials: Sequence[Trial]) -> Trial | None:
        done = [t for t in trials if t.state is TrialState.COMPLETE and not t.warm_start]
        if not done:
            return None
        sign = 1.0 if self.direction == "minimize" else -1.0
        return min(done, key=lambda t: sign * float(t.value))  # type: ignore[arg-type]

    def set_user_attr(self, key: str, value: Any) -> None:
        """Store a JSON-able value with the study (visible in optuna-dashboard)."""
        self._records.set_user_attr(key, value)

    @property
    def user_attrs(self) -> dict[str, Any]:
        return self._records.get_user_attrs()

    def to_optuna(self) -> Any:
        """The same study as an ``optuna.Study`` on the same storage (read it with Optuna's
        own tools: importance evaluators, visualization, intermediate values)."""
        import optuna

        return optuna.load_study(study_name=self.study_name, storage=self._records.storage)

    # ----- ask / tell --------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[PendingTrial]:
        """Ask the optimizer for up to ``n`` points and record them as RUNNING trials."""
        out = []
        for s in self.optimizer.ask(n):
            trial_id, number = self._records.create_trial(
                s.params, self._distributions, list(s.x), s.attrs
            )
            p = PendingTrial(number, s.params, s, trial_id)
            self._pending[number] = p
            out.append(p)
        return out

    def tell(
        self,
        trial: PendingTrial | int,
        result: float | Mapping[str, Any] | Outcome | None,
        *,
        state: TrialState | None = None,
        error: str | None = None,
    ) -> Trial:
        """Record the result of a pending trial and tell the optimizer.

        ``result`` is the objective value, a dict of metrics, an :class:`Outcome`, or ``None``
        for a failure. A missing or non-finite objective metric makes the trial FAILED.
        """
        number = trial.number if isinstance(trial, PendingTrial) else int(trial)
        if number not in self._pending:
            raise InvalidConfigError(
                f"trial {number} is not pending in this study; pending: {sorted(self._pending)}"
            )
        p = self._pending.pop(number)
        if isinstance(result, Outcome):
            metrics, st, err = dict(result.metrics), result.state, result.error
        else:
            metrics = dict(result) if isinstance(result, Mapping) else (
                {} if result is None else {"value": result}
            )
            st = state or (TrialState.FAILED if result is None else TrialState.COMPLETE)
            err = error
        value = None
        if st is TrialState.COMPLETE:
            value, problem = self._objective_value(metrics)
            if problem:
                st, err = TrialState.FAILED, problem
        if isinstance(result, Outcome):  # after the check: an error lists only what was returned
            metrics.setdefault("wall_time", result.wall_time)
        self._records.finish_trial(p.trial_id, st, value, metrics, err)
        self.optimizer.tell(p.suggestion, self._loss(value))
        finished = self._records.trial(p.trial_id)
        self._log(finished)
        return finished

    def _objective_value(self, metrics: Mapping[str, Any]) -> tuple[float | None, str | None]:
        key = self.metric or "value"
        if key not in metrics:
            return None, (
                f"the objective returned no metric {key!r}; it returned {sorted(metrics)}"
            )
        try:
            v = float(metrics[key])
        except (TypeError, ValueError):
            return None, f"metric {key!r} is not a number: {metrics[key]!r}"
        if not math.isfinite(v):
            return None, f"the objective returned a non-finite {key!r}: {v}"
        return v, None

    def _loss(self, value: float | None) -> float | None:
        if value is None:
            return None
        return value if self.direction == "minimize" else -value

    # ----- resume / warm start -----------------------------------------------------------------
    def _replay(self) -> None:
        """Tell the optimizer every finished trial of the stored history.

        RUNNING trials are left alone: opening a study (``llmhpo status`` in another terminal,
        a report) must not touch the trials a live driver is running. The driver that resumes
        the study marks the ones it finds orphaned (:meth:`_reclaim_orphans`).
        """
        for t in self._records.trials():
            if t.state in (TrialState.RUNNING, TrialState.INTERRUPTED):
                continue
            self.optimizer.tell_not_asked(
                t.params, self._loss(t.value), None if t.warm_start else t.attrs
            )

    def _reclaim_orphans(self) -> None:
        """Mark RUNNING trials this driver did not start as INTERRUPTED (a dead driver's).

        Called when :meth:`optimize` starts: one driver runs a study at a time.
        """
        ids = None
        for t in self._records.trials():
            if t.state is TrialState.RUNNING and t.number not in self._pending:
                ids = ids or self._records.trial_ids()
                self._records.finish_trial(
                    ids[t.number], TrialState.INTERRUPTED, None, {},
                    "the driver stopped while it ran",
                )

    def warm_start(self, source: Study | str | Path) -> int:
        """Import evaluated points from another study or a CSV file (seed 000's cache).

        The CSV needs one column per variable and a ``value`` column (empty for a failed
        point); other columns are kept as metrics. Imported points are stored as warm-start
        trials (they do not count against the budget) and told to the optimizer. Points already
        present in this study are skipped. Returns the number of points imported.
        """
        return _warm.import_points(self, source)

    def _record_warm_start(
        self, params: dict[str, Any], value: float | None, metrics: dict[str, Any]
    ) -> None:
        """Store one imported point as a finished warm-start trial and tell the optimizer."""
        trial_id, _ = self._records.create_trial(
            params, self._distributions, list(self.space.encode(params)), {}, warm_start=True
        )
        state = TrialState.FAILED if value is None else TrialState.COMPLETE
        if value is not None:
            metrics = {**metrics, (self.metric or "value"): value}
        self._records.finish_trial(trial_id, state, value, metrics)
        self.optimizer.tell_not_asked(params, self._loss(value))

    # ----- the loop ----------------------------------------------------------------------------
    def optimize(
        self,
        objective: Objective,
        *,
        budget: int | None = None,
        n_workers: int = 1,
        executor: Executor | str | None = None,
        trial_timeout: float | None = None,
        workdir: str | Path | None = None,
        callbacks: Sequence[Callback] = (),
        show_progress: bool = False,
        reporter: Reporter | None = None,
    ) -> Trial | None:
        """Run the objective until the study has ``budget`` finished trials in total.

        Args:
            objective: ``objective(params, ctx) -> float | dict`` (a picklable top-level
                callable for process or Ray executors).
            budget: total finished trials to reach (defaults to the study's budget); a resumed
                study runs only the trials still missing.
            n_workers: trials run at once (ignored when ``executor`` is an instance).
            executor: an :class:`Executor`, ``"inline"``, ``"process"`` or ``"ray"``; default
                inline for one worker, process pool for several.
            trial_timeout: seconds a trial may run before it is stopped and marked TIMEOUT.
            workdir: parent directory of per-trial work directories (``trial_<n>``).
            callbacks: called as ``cb(study, trial)`` after each finished trial.
            show_progress: print a live progress line on stderr.
            reporter: receives the trials' intermediate reports (``ctx.report``) and answers
                ``ctx.should_stop()``; it travels to the workers, so it must pickle.

        If the objective has a ``preflight()`` method, it is called first (when trials remain):
        it raises on a config that every trial would fail on (e.g. a model that cannot load),
        instead of the study recording ``budget`` failed trials.

        Returns:
            The best trial so far.
        """
        total = budget if budget is not None else self.budget
        if total is None:
            raise InvalidConfigError("no budget: pass budget= or set it in create_study")
        if budget is not None:
            self._records.set_attr("budget", budget)
        preflight = getattr(objective, "preflight", None)
        if callable(preflight) and self.n_finished < total:
            preflight()  # a config every trial would fail on is an error, not `total` failures
        self._reclaim_orphans()
        owns_executor = executor is None or isinstance(executor, str)
        ex = default_executor(executor, n_workers)
        loop = TrialLoop(
            self, objective, ex, total,
            trial_timeout=trial_timeout, workdir=workdir, callbacks=callbacks,
            reporter=reporter, progress=Progress(total, enabled=show_progress),
        )
        try:
            loop.run()
        finally:
            if owns_executor:
                ex.shutdown()
        return self.best_trial

    def _interrupt(self, p: PendingTrial) -> None:
        if p.number in self._pending:
            self._pending.pop(p.number)
            self._records.finish_trial(
                p.trial_id, TrialState.INTERRUPTED, None, {}, "the driver stopped while it ran"
            )
            self.optimizer.cancel(p.suggestion)

    def _log(self, t: Trial) -> None:
        if t.state is TrialState.COMPLETE:
            if not _logger.isEnabledFor(logging.INFO):
                return
            best = self.best_trial
            best_txt = (
                "none" if best is None else f"trial {best.number} with value {best.value:.6g}"
            )
            _logger.info(
                "Trial %d finished with value %.6g and parameters %s. Best is %s.",
                t.number, t.value, t.params, best_txt,
            )
        else:
            last = (t.error or "").strip().splitlines()[-1:] or [""]
            _logger.warning(
                "Trial %d %s with parameters %s: %s", t.number, t.state.value, t.params, last[0]
            )

    # ----- export ------------------------------------------------------------------------------
    def to_rows(self) -> list[dict[str, Any]]:
        """One flat dict per trial: number, state, value, params, metrics, attrs."""
        return _warm.trial_rows(self)

    def to_csv(self, path: str | Path) -> Path:
        """Write every trial to a CSV file (the format :meth:`warm_start` reads back)."""
        return _warm.write_csv(self, path)
