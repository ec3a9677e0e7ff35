"""The study facade: creating, resuming and opening studies; ask/tell and the records.

A :class:`Study` binds a search space, an optimizer and a storage. :meth:`Study.optimize`
runs the loop (:mod:`llmhpo.study.loop`); warm start and CSV export are in
:mod:`llmhpo.study.warm_start`. Re-running a study resumes it to its total budget: the
optimizer is rebuilt from its stored configuration and the finished trials are replayed into
it in order.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optuna.exceptions import UpdateFinishedTrialError

from llmhpo.exceptions import DuplicatedStudyError, InvalidConfigError
from llmhpo.executors import Executor, InlineExecutor
from llmhpo.objectives.base import Outcome, Reporter, TrialContext
from llmhpo.optimizers import (
    DEFAULT_OPTIMIZER,
    BaseOptimizer,
    Suggestion,
    get_optimizer,
    make_optimizer,
)
from llmhpo.space import SearchSpace
from llmhpo.study import coordination
from llmhpo.study import warm_start as _warm
from llmhpo.study.coordination import DriverInfo, Heartbeat, claim_lock
from llmhpo.study.loop import Callback, TrialLoop, default_executor
from llmhpo.study.progress import Progress
from llmhpo.study.scheduling import (
    SchedulerConfig,
    StorageReporter,
    copy_progress,
    scheduled_outcome,
)
from llmhpo.study.storage import StudyStorage, open_storage
from llmhpo.study.trial import Trial, TrialState
from llmhpo.validation import short_repr

__all__ = ["Study", "PendingTrial", "create_study", "load_study", "read_warm_start_csv"]

read_warm_start_csv = _warm.read_warm_start_csv

_logger = logging.getLogger("llmhpo")

Objective = Callable[[dict[str, Any], TrialContext], Any]


@dataclass(frozen=True)
class PendingTrial:
    """A trial handed out by :meth:`Study.ask` and not yet told."""

    number: int
    params: dict[str, Any]
    suggestion: Suggestion | None  # None: a trial continued from an interrupted one
    trial_id: int


def create_study(
    space: SearchSpace | Mapping[str, Any] | str,
    *,
    optimizer: str | BaseOptimizer = DEFAULT_OPTIMIZER,
    optimizer_kwargs: Mapping[str, Any] | None = None,
    direction: str = "minimize",
    metric: str | None = None,
    budget: int | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    seed: int | None = 0,
    load_if_exists: bool = True,
    switch_optimizer: bool = False,
) -> Study:
    """Create a study, or resume the one of that name in ``storage``.

    Args:
        space: a :class:`SearchSpace`, its dict form, or the name of a preset.
        optimizer: an optimizer name (see :data:`llmhpo.optimizers.OPTIMIZERS`) or instance;
            default ``"auto"`` (docs/optimizers/auto.md, chosen from ``llmhpo bench``).
        optimizer_kwargs: the optimizer's own parameters when ``optimizer`` is a name. An
            optimizer that takes the study budget (``capabilities.budget_param``: SOO,
            BaMSOO, MADS, LHS) gets ``budget`` unless set here.
        direction: ``"minimize"`` or ``"maximize"`` the objective metric.
        metric: which returned metric is the objective (objectives may return a dict);
            ``None`` means the single value returned.
        budget: total number of evaluations (finished trials) the study aims for.
        storage: ``sqlite:///file.db``, a database URL, a file path, or ``None`` (memory).
        study_name: required to find the study again in a persistent storage.
        seed: seed of the optimizer.
        load_if_exists: resume an existing study of that name (else raise).
        switch_optimizer: resuming with another optimizer (or other optimizer parameters)
            than the stored one is an error unless this is set; then the new configuration
            is stored and the switch recorded (``Study.optimizer_switches``).

    Raises:
        InvalidConfigError: a resumed study was created with another space, direction or
            (without ``switch_optimizer``) optimizer configuration.
    """
    space = _as_space(space)
    if direction not in ("minimize", "maximize"):
        raise InvalidConfigError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
    if budget is not None and (not isinstance(budget, int) or budget < 1):
        raise InvalidConfigError(f"budget must be a positive integer, got {budget!r}")
    name = study_name or f"study-{int(time.time() * 1000)}"
    records = StudyStorage(open_storage(storage), name, direction=direction)
    stored_opt: dict[str, Any] | None = None
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
        raw = records.get_attr("optimizer")  # None: its creator has not written it yet
        stored_opt = None if raw is None else dict(raw)
    total = budget if budget is not None else records.get_attr("budget")
    opt = _build_optimizer(space, optimizer, optimizer_kwargs, seed, total, stored_opt)
    if records.created:
        records.set_attr("space", space.to_dict())
        records.set_attr("optimizer", opt.get_config())
        records.set_attr("metric", metric)
    elif stored_opt is not None:
        _check_or_switch(records, stored_opt, opt, switch_optimizer)
    if budget is not None:
        records.set_attr("budget", budget)
    if records.created:
        records.mark_complete()  # the last write: a study without it was interrupted
    return Study(records, space, opt, metric=metric)


def _build_optimizer(
    space: SearchSpace,
    optimizer: str | BaseOptimizer,
    optimizer_kwargs: Mapping[str, Any] | None,
    seed: int | None,
    budget: int | None,
    stored: Mapping[str, Any] | None,
) -> BaseOptimizer:
    """The optimizer asked for. When the same optimizer is resumed, the stored value of each
    constructor parameter the caller does not give is used, so that a study created under
    other defaults (an older llmhpo) resumes with the settings it ran with (a parameter it
    predates takes the optimizer's ``legacy_defaults`` value); a budget fixed at creation
    (LHS's design size) is the stored one, a budget that may grow is not."""
    if isinstance(optimizer, BaseOptimizer):
        if optimizer_kwargs:
            raise InvalidConfigError("optimizer_kwargs only apply when optimizer is a name")
        return optimizer
    kwargs = dict(optimizer_kwargs or {})
    cls = get_optimizer(optimizer)
    caps = cls.capabilities
    param = caps.budget_param
    if stored is not None and stored.get("name") == optimizer:
        params = inspect.signature(cls.__init__).parameters
        # a constructor that forwards **kwargs (bilevel_bo to BO-GP) takes every stored key
        forwards = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        accepted = (set(stored) - {"name"} if forwards else set(params)) - {
            "self", "space", "seed"}
        for key, value in stored.items():
            if key in accepted and key not in kwargs and (key != param or caps.budget_fixed):
                kwargs[key] = value
        for key, value in cls.legacy_defaults.items():  # stored before the key existed
            if key not in stored and key not in kwargs:
                kwargs[key] = value
    return make_optimizer(optimizer, space, seed=seed, study_budget=budget, **kwargs)


def _optimizer_diff(stored: Mapping[str, Any], opt: BaseOptimizer) -> dict[str, tuple[Any, Any]]:
    """``{key: (stored, given)}`` of the configuration keys that differ; the study budget an
    optimizer follows (SOO's, MADS's ``budget``) may grow between runs and is left out."""
    given = json.loads(json.dumps(opt.get_config(), default=str))
    if stored.get("name") != given["name"]:
        return {"name": (stored.get("name"), given["name"])}
    caps = type(opt).capabilities
    free = {caps.budget_param} if caps.budget_param and not caps.budget_fixed else set()
    # a parameter the stored configuration lacks was added to the optimizer after the study
    # was created (its default then was the only behaviour): not a change
    keys = [k for k in stored if k not in free]
    return {k: (stored.get(k), given.get(k)) for k in keys if stored.get(k) != given.get(k)}


def _describe(config: Mapping[str, Any]) -> str:
    rest = ", ".join(f"{k}={v!r}" for k, v in config.items() if k != "name")
    return f"{config.get('name')!r}" + (f" ({rest})" if rest else "")


def _check_or_switch(
    records: StudyStorage, stored: dict[str, Any], opt: BaseOptimizer, switch: bool
) -> None:
    diff = _optimizer_diff(stored, opt)
    if not diff:
        return
    new = opt.get_config()
    if not switch:
        what = ", ".join(f"{k}: stored {a!r}, given {b!r}" for k, (a, b) in diff.items())
        raise InvalidConfigError(
            f"study {records.study_name!r} was created with optimizer {_describe(stored)}; "
            f"resuming it with {_describe(new)} would change {what}. Use another study name, "
            "or switch explicitly (llmhpo run --switch-optimizer, "
            "create_study(..., switch_optimizer=True)); the switch is recorded with the study"
        )
    switches = list(records.get_attr("optimizer_switches") or [])
    n_trials = len(records.trials())
    switches.append({"at_trial": n_trials, "from": stored, "to": new})
    records.set_attr("optimizer_switches", switches)
    records.set_attr("optimizer", new)
    _logger.warning(
        "Study %r: optimizer switched from %s to %s at trial %d",
        records.study_name, _describe(stored), _describe(new), n_trials,
    )


def load_study(study_name: str, storage: str, *, read_only: bool = False) -> Study:
    """Open an existing study.

    The optimizer is rebuilt from the stored configuration and told the history, unless
    ``read_only``: then no optimizer is built (reading a MADS study needs no PyNomad), and
    :meth:`Study.ask`, :meth:`Study.tell`, :meth:`Study.optimize` and :meth:`Study.warm_start`
    raise. Opening a study never writes to it.
    """
    records = StudyStorage(open_storage(storage, create=False), study_name, create=False)
    space = SearchSpace.from_dict(records.get_attr("space"))
    if read_only:
        return Study(records, space, None, metric=records.get_attr("metric"))
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
    """A persistent optimization run. Build it with :func:`create_study` or :func:`load_study`.

    ``optimizer`` is ``None`` for a study opened read-only: its trials, attributes and stored
    optimizer configuration can be read (and annotations such as reference rows stored with
    :meth:`set_user_attr`), but no trial can be asked, told or run.
    """

    def __init__(
        self,
        records: StudyStorage,
        space: SearchSpace,
        optimizer: BaseOptimizer | None,
        *,
        metric: str | None = None,
    ) -> None:
        self._records = records
        self.space = space
        self._optimizer = optimizer
        self.metric = metric
        self._distributions = space.optuna_distributions()
        self._pending: dict[int, PendingTrial] = {}
        self._driver = DriverInfo.new()
        self._told: set[int] = set()  # trial numbers the optimizer knows the result of
        self._heartbeat: Heartbeat | None = None
        self._grace_period = 60.0
        self._resumable: tuple[Any, str | Path] | None = None  # (hook, workdir) of optimize
        if optimizer is not None:
            self._replay()

    @property
    def optimizer(self) -> BaseOptimizer:
        """The optimizer (told the whole history).

        Raises:
            InvalidConfigError: the study was opened read-only.
        """
        if self._optimizer is None:
            raise InvalidConfigError(
                f"study {self.study_name!r} was opened read-only (load_study(..., "
                "read_only=True)); open it with read_only=False to run trials"
            )
        return self._optimizer

    @property
    def read_only(self) -> bool:
        """True when the study was opened without an optimizer (it cannot run trials)."""
        return self._optimizer is None

    @property
    def optimizer_config(self) -> dict[str, Any]:
        """The stored optimizer configuration (``name``, ``seed`` and its own parameters)."""
        return dict(self._records.get_attr("optimizer") or {"name": "random"})

    @property
    def optimizer_switches(self) -> list[dict[str, Any]]:
        """Recorded optimizer switches: ``{"at_trial", "from", "to"}`` each."""
        return list(self._records.get_attr("optimizer_switches") or [])

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
    def scheduler(self) -> SchedulerConfig:
        """The early-stopping scheduler of the last :meth:`optimize` (``none`` before)."""
        return SchedulerConfig.from_mapping(self._records.get_attr("scheduler"))

    @property
    def compute_budget(self) -> float | None:
        """The compute budget (steps/epochs) of the last :meth:`optimize`, if one was set."""
        return self._records.get_attr("compute_budget")

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
        driver = {**self._driver.to_dict(), "heartbeat": self._heartbeat is not None}
        for s in self.optimizer.ask(n):
            trial_id, number = self._records.create_trial(
                s.params, self._distributions, list(s.x), s.attrs, driver=driver
            )
            p = PendingTrial(number, s.params, s, trial_id)
            self._pending[number] = p
            if self._heartbeat is not None:
                self._heartbeat.add(trial_id)
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
        st, value = scheduled_outcome(self._records.storage, p.trial_id, st, metrics,
                                      self.metric)
        if st is TrialState.COMPLETE:
            value, problem = self._objective_value(metrics)
            if problem:
                st, err = TrialState.FAILED, problem
        if isinstance(result, Outcome):  # after the check: an error lists only what was returned
            metrics.setdefault("wall_time", result.wall_time)
        if self._heartbeat is not None:
            self._heartbeat.discard(p.trial_id)
        trial_id = p.trial_id
        try:
            self._records.finish_trial(trial_id, st, value, metrics, err)
        except UpdateFinishedTrialError:
            # Another driver took this trial for a dead driver's (our heartbeat stopped for
            # longer than the grace period): the result is still real, keep it.
            trial_id = self._record_late(p, st, value, metrics, err)
        if p.suggestion is None:  # a trial continued from an interrupted one: not asked
            self.optimizer.tell_not_asked(p.params, self._loss(value), None)
        else:
            self.optimizer.tell(  # PRUNED: last-fidelity value
                p.suggestion, self._loss(value), error=err)
        self._told.add(p.number)
        finished = self._records.trial(trial_id)
        self._log(finished)
        return finished

    def _record_late(
        self,
        p: PendingTrial,
        state: TrialState,
        value: float | None,
        metrics: dict[str, Any],
        error: str | None,
    ) -> int:
        """Store the result of a trial another driver reclaimed meanwhile as a new trial.

        It counts against the budget if the budget still has room (checked under the claim
        lock); otherwise it is kept as a warm-start trial: data, but not one of the budget.
        """
        with claim_lock(self._records.storage, self._records.study_id):
            trials = self.trials
            budget = self.budget
            extra = budget is not None and _n_used(trials) >= budget
            x = list(p.suggestion.x) if p.suggestion else list(self.space.encode(p.params))
            trial_id, number = self._records.create_trial(
                p.params, self._distributions, x,
                {**(p.suggestion.attrs if p.suggestion else {}), "late_result_of": p.number},
                warm_start=extra, driver={**self._driver.to_dict(), "heartbeat": False},
            )
            self._records.finish_trial(trial_id, state, value, metrics, error)
        self._told.add(number)
        _logger.warning(
            "Trial %d was reclaimed by another driver while it ran; its result is stored as "
            "trial %d%s", p.number, number, " (over the budget: not counted)" if extra else "",
        )
        return trial_id

    def _objective_value(self, metrics: Mapping[str, Any]) -> tuple[float | None, str | None]:
        key = self.metric or "value"
        if key not in metrics:
            return None, (
                f"the objective returned no metric {key!r}; it returned {sorted(metrics)}"
            )
        raw = metrics[key]
        # a bool (True) or a string ("1.5") is not a measurement: float() would accept both
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            return None, (
                f"metric {key!r}: got {short_repr(raw)} ({type(raw).__name__}), expected a "
                "number (int or float)"
            )
        v = float(raw)
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
        a report) must not touch the trials a live driver is running. A driver reclaims the
        trials of drivers that are gone when it runs (:meth:`_reclaim`).
        """
        self._sync(self._records.trials(), replay=True)

    # ----- several drivers (see llmhpo.study.coordination) ------------------------------------
    def _sync(self, trials: Sequence[Trial], *, replay: bool = False) -> None:
        """Tell the optimizer every finished trial it does not know yet (other drivers' too,
        in their order) and declare other drivers' RUNNING trials as pending points.

        An optimizer that cannot learn from points it did not suggest is told only on
        ``replay`` (where it raises, as resuming such a study always did).
        """
        can_learn = replay or self.optimizer.capabilities.warm_start
        recall = getattr(self.optimizer, "recall", None)
        foreign = []
        for t in trials:
            if t.number in self._told or t.number in self._pending:
                continue
            if t.state in (TrialState.RUNNING, TrialState.INTERRUPTED) and callable(recall):
                recall(t.attrs)  # what was asked for them (the LLM optimizer's stored answers)
            if t.state is TrialState.RUNNING:
                foreign.append((t.params, {} if t.warm_start else t.attrs))
            elif t.state is not TrialState.INTERRUPTED and can_learn:
                self.optimizer.tell_not_asked(
                    t.params, self._loss(t.value), None if t.warm_start else t.attrs,
                    error=t.error,
                )
                self._told.add(t.number)
        if not replay and can_learn:
            self.optimizer.set_foreign_pending(foreign)

    def _reclaim(
        self,
        running: list[tuple[int, int, dict[str, Any] | None]],
        *,
        at_start: bool = False,
    ) -> int:
        """Mark the RUNNING trials of drivers that are gone as INTERRUPTED; returns how many.

        A trial run under a heartbeat is reclaimed only when its driver's process is gone from
        this machine or its heartbeat is older than the grace period. A trial written without
        one (the ask/tell API, older versions) is reclaimed when a driver starts ``optimize``,
        as before several drivers were supported. ``running``: ``(number, trial_id, driver)``
        of the RUNNING trials (:meth:`StudyStorage.snapshot`). Call with the claim lock held.
        """
        running = [r for r in running if r[0] not in self._pending]
        if not running:
            return 0
        beating = any((d or {}).get("heartbeat") for _, _, d in running)
        stale = coordination.stale_trial_ids(
            self._records.storage, self._records.study_id, self._grace_period
        ) if beating else set()
        n = 0
        for _number, trial_id, driver in running:
            if driver is None or not driver.get("heartbeat"):
                gone = at_start
            else:
                gone = trial_id in stale or coordination.driver_is_gone(driver)
            if gone and coordination.reclaim_trial(self._records.storage, trial_id):
                n += 1
        return n

    def _claim(self, n: int, total: int) -> list[PendingTrial]:
        """Ask for up to ``n`` trials within the budget, as one step under the claim lock.

        Under the lock: reclaim dead drivers' trials, count finished + running trials of every
        driver against ``total``, bring the optimizer up to date with the other drivers'
        results and running points, ask it and write the new trials as RUNNING.
        """
        with claim_lock(self._records.storage, self._records.study_id):
            trials, running = self._records.snapshot()
            if self._reclaim(running):
                trials = self.trials
            k = min(n, total - _n_used(trials))
            if k <= 0:
                return []
            self._sync(trials)
            out = [self._continue(t) for t in self._continuable(trials)[:k]]
            return out + (self.ask(k - len(out)) if k > len(out) else [])

    def _others_running(self, total: int) -> bool:
        """True while the budget is not reached and other drivers still run trials here (one
        of them may die and free its slots: this driver then takes them over)."""
        trials = self.trials
        return self._n_finished_of(trials) < total and any(
            t.state is TrialState.RUNNING and t.number not in self._pending for t in trials
        )

    def warm_start(self, source: Study | str | Path | Sequence[tuple[Any, ...]]) -> int:
        """Import evaluated points from another study or a CSV file (Tribes et al. 2023's cache).

        The CSV needs one column per variable and a ``value`` column (empty for a failed
        point); other columns are kept as metrics. Imported points are stored as warm-start
        trials (they do not count against the budget) and told to the optimizer. Points already
        present in this study are skipped. Returns the number of points imported.
        """
        self.optimizer  # noqa: B018 - raises for a read-only study, before anything is written
        return _warm.import_points(self, source)

    def _record_warm_start(
        self, params: dict[str, Any], value: float | None, metrics: dict[str, Any]
    ) -> None:
        """Store one imported point as a finished warm-start trial and tell the optimizer."""
        trial_id, number = self._records.create_trial(
            params, self._distributions, list(self.space.encode(params)), {}, warm_start=True
        )
        state = TrialState.FAILED if value is None else TrialState.COMPLETE
        if value is not None:
            metrics = {**metrics, (self.metric or "value"): value}
        self._records.finish_trial(trial_id, state, value, metrics)
        self.optimizer.tell_not_asked(params, self._loss(value))
        self._told.add(number)

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
        heartbeat_interval: float = 10.0,
        grace_period: float | None = None,
        scheduler: SchedulerConfig | Mapping[str, Any] | str | None = None,
        compute_budget: float | None = None,
        before_trials: Sequence[Callable[[Study, Executor], None]] = (),
        preflight_objective: bool = True,
    ) -> Trial | None:
        """Run the objective until the study has ``budget`` finished trials in total.

        Args:
            objective: ``objective(params, ctx) -> float | dict`` (a picklable top-level
                callable for process or Ray executors).
            budget: total finished trials to reach (defaults to the study's budget); a resumed
                study runs only the trials still missing.
            n_workers: trials run at once (ignored when ``executor`` is an instance).
            executor: an :class:`Executor`, ``"inline"``, ``"process"`` or ``"ray"``; default
                inline for one worker without a time limit, else the process pool (which
                can stop a trial at its limit and survives a crash of the objective).
            trial_timeout: seconds a trial may run before it is stopped and marked TIMEOUT.
            workdir: parent directory of per-trial work directories (``trial_<n>``).
            callbacks: called as ``cb(study, trial)`` after each finished trial.
            show_progress: print a live progress line on stderr.
            reporter: receives the trials' intermediate reports (``ctx.report``) and answers
                ``ctx.should_stop()``; it travels to the workers, so it must pickle.
            before_trials: called as ``fn(study, executor)`` after the preflight and before
                the first trial, when trials remain (e.g. evaluating the reference rows on the
                study's executor).
            heartbeat_interval: seconds between two heartbeats of this driver's running
                trials (database storages only; see :mod:`llmhpo.study.coordination`).
            grace_period: seconds without a heartbeat after which another driver takes a
                running trial for a dead driver's and reclaims it (default: 6 heartbeats).
            scheduler: early stopping (:mod:`llmhpo.study.scheduling`: ``"median"``,
                ``"asha"``, ``"hyperband"``, a mapping or a
                :class:`~llmhpo.study.scheduling.SchedulerConfig`); default none. Without
                ``reporter``, each trial gets a
                :class:`~llmhpo.study.scheduling.StorageReporter` over this study's storage
                (learning curves as Optuna intermediate values) with this scheduler.
            compute_budget: no new trial starts once the trials' compute (their last
                reported steps, :func:`~llmhpo.study.scheduling.compute_spent`) reaches this;
                ``budget`` may then be ``None``.
            preflight_objective: ``False`` when the caller has already run the objective's
                ``check_space`` and ``preflight`` (:func:`llmhpo.assembly.run` does, before
                the study is created); the optimizer's ``preflight`` runs either way.

        Several drivers (processes, machines) may run ``optimize`` on the same study at once:
        the budget is shared and held exactly, each driver's optimizer sees the others' results
        and running points, and a driver takes over the slots of a driver that died.

        If the objective has ``check_space(space)`` and ``preflight()`` methods, they are called
        first (when trials remain, unless ``preflight_objective`` is ``False``): they raise on a
        config that every trial would fail on (e.g. a model that cannot load), instead of the
        study recording ``budget`` failed trials.

        Returns:
            The best trial so far.
        """
        self.optimizer  # noqa: B018 - raises for a read-only study
        total = budget if budget is not None else self.budget
        if total is None and compute_budget is None:
            raise InvalidConfigError("no budget: pass budget= or set it in create_study")
        if budget is not None:
            self._records.set_attr("budget", budget)
        sched = SchedulerConfig.from_mapping(
            scheduler.to_dict() if isinstance(scheduler, SchedulerConfig) else scheduler)
        self._records.set_attr("scheduler", sched.to_dict())
        if compute_budget is not None:
            self._records.set_attr("compute_budget", compute_budget)
        total = total if total is not None else 2**62
        remaining = self.n_finished < total
        if remaining:
            self._preflight(objective if preflight_objective else None)
        interval = float(heartbeat_interval)
        self._grace_period = float(grace_period if grace_period is not None else 6 * interval)
        if interval <= 0 or self._grace_period <= interval:
            raise InvalidConfigError(
                f"heartbeat_interval must be > 0 and grace_period > heartbeat_interval, got "
                f"{heartbeat_interval!r} and {grace_period!r}"
            )
        with claim_lock(self._records.storage, self._records.study_id):
            self._reclaim(self._records.snapshot()[1], at_start=True)
        hook = getattr(objective, "resumable", None)
        self._resumable = (hook, workdir) if callable(hook) and workdir is not None else None
        owns_executor = executor is None or isinstance(executor, str)
        ex = default_executor(executor, n_workers, trial_timeout)
        if (
            trial_timeout is not None
            and isinstance(ex, InlineExecutor)
            and not getattr(objective, "honours_time_limit", False)
        ):
            raise InvalidConfigError(
                f"trial_timeout: got {trial_timeout}, expected none with the inline executor "
                "(it cannot stop a running trial, and a crash of the objective kills the "
                "driver); use the process executor (the default when a time limit is set)"
            )
        if reporter is None:
            reporter = self._reporter(sched, ex)
        loop = TrialLoop(
            self, objective, ex, total,
            trial_timeout=trial_timeout, workdir=workdir, callbacks=callbacks,
            reporter=reporter,
            progress=Progress(total, enabled=show_progress, metric=self.metric,
                              direction=self.direction),
            poll_interval=min(1.0, interval),
            compute_budget=compute_budget, max_resource=sched.max_resource,
        )
        if coordination.supports_heartbeat(self._records.storage):
            self._heartbeat = Heartbeat(self._records.storage, interval).start()
        try:
            if remaining:
                for fn in before_trials:
                    fn(self, ex)
            loop.run()
        finally:
            if self._heartbeat is not None:
                self._heartbeat.stop()
                self._heartbeat = None
            if owns_executor:
                ex.shutdown()
        return self.best_trial

    def _preflight(self, objective: Objective | None) -> None:
        """A config every trial would fail on is an error, not ``budget`` failures: the
        objective's ``check_space`` and ``preflight`` (``None``: the caller ran them), then the
        optimizer's ``preflight`` (e.g. an LLM server that does not answer)."""
        check_space = getattr(objective, "check_space", None)
        if callable(check_space):
            check_space(self.space)
        for part in (objective, self.optimizer):
            preflight = getattr(part, "preflight", None)
            if callable(preflight):
                preflight()

    def _interrupt(self, p: PendingTrial) -> None:
        if p.number in self._pending:
            self._pending.pop(p.number)
            if self._heartbeat is not None:
                self._heartbeat.discard(p.trial_id)
            try:
                self._records.finish_trial(
                    p.trial_id, TrialState.INTERRUPTED, None, {},
                    "the driver stopped while it ran",
                )
            except UpdateFinishedTrialError:  # already reclaimed by another driver
                pass
            if p.suggestion is not None:
                self.optimizer.cancel(p.suggestion)

    # ----- scheduling (see llmhpo.study.scheduling) ----------------------------------------
    def _reporter(self, sched: SchedulerConfig, ex: Executor) -> Reporter | None:
        """The default reporter: this study's storage, by URL when it has one (any worker
        process can open it), else the in-memory storage itself (inline runs only)."""
        st = self._records.storage
        url = getattr(st, "url", None)
        if url is None and not isinstance(ex, InlineExecutor):
            if sched.name != "none":
                raise InvalidConfigError(
                    f"scheduler {sched.name!r} with several workers needs a database storage "
                    f"(sqlite:///file.db or a server URL), not an in-memory study"
                )
            return None
        return StorageReporter(url or st, self.study_name, self.metric, sched)

    def _continuable(self, trials: Sequence[Trial]) -> list[Trial]:
        """INTERRUPTED trials whose work directory holds a checkpoint the objective can
        continue from (its ``resumable(workdir) -> bool`` hook), not continued yet."""
        if self._resumable is None:
            return []
        check, workdir = self._resumable
        taken = {t.attrs.get("resumed_from_trial") for t in trials}
        return [t for t in trials if t.state is TrialState.INTERRUPTED and not t.warm_start
                and t.number not in taken and check(Path(workdir) / f"trial_{t.number}")]

    def _continue(self, old: Trial) -> PendingTrial:
        """A new RUNNING trial with the parameters, work directory (copied: checkpoints) and
        learning curve of the interrupted trial ``old``; the objective continues from its
        checkpoint. Called under the claim lock, so two drivers never continue the same one."""
        assert self._resumable is not None
        workdir = Path(self._resumable[1])
        attrs = {**old.attrs, "resumed_from_trial": old.number,
                 "resumed_from_step": max(old.intermediate, default=0)}
        x = None if old.x is None else list(old.x)
        driver = {**self._driver.to_dict(), "heartbeat": self._heartbeat is not None}
        trial_id, number = self._records.create_trial(
            old.params, self._distributions, x, attrs, driver=driver)
        copy_progress(self._records.storage, self._records.trial_ids()[old.number], trial_id)
        shutil.copytree(workdir / f"trial_{old.number}", workdir / f"trial_{number}",
                        dirs_exist_ok=True)
        p = PendingTrial(number, dict(old.params), None, trial_id)
        self._pending[number] = p
        if self._heartbeat is not None:
            self._heartbeat.add(trial_id)
        _logger.info("trial %d continues interrupted trial %d from its checkpoint",
                     number, old.number)
        return p

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
            # a trial a scheduler stopped is the scheduler working, not a problem (INFO, as
            # Optuna logs it); every other unfinished state is a warning
            last = (t.error or "").strip().splitlines()[-1:] or [""]
            level = logging.INFO if t.state is TrialState.PRUNED else logging.WARNING
            _logger.log(
                level, "Trial %d %s with parameters %s: %s", t.number, t.state.value, t.params,
                last[0],
            )

    # ----- export ------------------------------------------------------------------------------
    def to_rows(self) -> list[dict[str, Any]]:
        """One flat dict per trial: number, state, value, params, metrics, attrs."""
        return _warm.trial_rows(self)

    def to_csv(self, path: str | Path) -> Path:
        """Write every trial to a CSV file (the format :meth:`warm_start` reads back)."""
        return _warm.write_csv(self, path)


def _n_used(trials: Sequence[Trial]) -> int:
    """Budget slots taken: finished trials plus the RUNNING ones of every driver."""
    return Study._n_finished_of(trials) + sum(
        t.state is TrialState.RUNNING and not t.warm_start for t in trials
    )
