"""Multi-fidelity scheduling: learning curves in the storage, early stopping by Optuna pruners.

A grey-box objective reports intermediate metrics (``ctx.report(step, metrics)``: validation
loss every k training steps, validation error every epoch) and polls ``ctx.should_stop()``.
Both go to the trial context's reporter; :class:`StorageReporter` is the one the study uses:

* ``report`` writes the study metric as an Optuna intermediate value of the trial, in the
  study's storage (so ``optuna-dashboard`` draws the learning curves and every worker process
  or Ray node sees every trial's curve);
* ``should_stop`` asks an Optuna pruner (:func:`make_pruner`) about the trial, against every
  trial of the study as stored, and marks a trial it stops (``llmhpo:pruned_at``), so the
  study records it as PRUNED even when the objective returns instead of raising
  :class:`~llmhpo.exceptions.TrialPruned`.

Schedulers (``scheduler: {name: ...}`` in a run config, :class:`SchedulerConfig`):

``none``
    curves recorded, nothing stopped (full fidelity).
``median``
    Optuna's ``MedianPruner``: stop a trial whose value at a step is worse than the median of
    the other trials' values at that step (median stopping, Golovin et al. 2017).
``asha``
    Optuna's ``SuccessiveHalvingPruner``: asynchronous successive halving (Li et al. 2020). Rungs
    at ``min_resource * reduction_factor**k``; a trial reaching a rung continues only if its
    value is in the best ``1/reduction_factor`` of the values recorded at that rung so far.
    Asynchronous, so it keeps N workers busy.
``hyperband``
    Optuna's ``HyperbandPruner``: several ASHA brackets with different minimum resources, a
    trial assigned to one by a hash of its number (Li et al. 2018, asynchronous variant).

Any optimizer proposes the configurations (BO-GP, TPE, ...): the pruner only allocates the
resource. With TPE or BO-GP proposing and Hyperband allocating this is the BOHB-style
combination (Falkner et al. 2018); the difference with BOHB proper is what the model learns
from: our optimizers are told a pruned trial's value at the last fidelity it reached (a
pessimistic stand-in for its full-fidelity value, since curves improve with steps), where BOHB
fits one model per budget.

These are stopping-based schedulers (a stopped trial never continues): that is what Optuna's
pruners are, it needs no pause queue in the loop, and every COMPLETE trial ran to the full
fidelity, so the best trial, the verdict and ``llmhpo assess`` are always at full fidelity.
A trial interrupted by a dead driver continues from its checkpoint when the study resumes
(:meth:`llmhpo.study.Study.optimize`).

The compute of a trial is the last step it reported (steps, epochs: the unit of
``ctx.report``), or ``max_resource`` for a trial that reported nothing; :func:`compute_spent`
adds them up for ``compute_budget`` and ``llmhpo status``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from llmhpo.exceptions import InvalidConfigError

__all__ = [
    "SCHEDULERS",
    "PRUNED_AT",
    "SchedulerConfig",
    "make_pruner",
    "StorageReporter",
    "scheduled_outcome",
    "copy_progress",
    "trial_fidelity",
    "compute_spent",
]

SCHEDULERS: tuple[str, ...] = ("none", "median", "asha", "hyperband")

#: Trial system attribute: the step at which the scheduler stopped the trial.
PRUNED_AT = "llmhpo:pruned_at"


@dataclass(frozen=True)
class SchedulerConfig:
    """How trials are stopped early.

    Attributes:
        name: one of :data:`SCHEDULERS`.
        min_resource: the first rung (steps/epochs) of ASHA and Hyperband's most aggressive
            bracket; for ``median``, steps before any stop (``n_warmup_steps``).
        max_resource: the full fidelity (the objective's own number of steps/epochs);
            needed by ``hyperband``, used as the compute of trials that report nothing.
        reduction_factor: ASHA/Hyperband's eta (keep the best 1/eta at each rung).
        n_startup_trials: ``median`` stops nothing before this many trials completed.
    """

    name: str = "none"
    min_resource: int = 1
    max_resource: int | None = None
    reduction_factor: int = 3
    n_startup_trials: int = 3

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any] | str | None) -> SchedulerConfig:
        """Build and validate from a run config's ``scheduler`` (a name or a mapping)."""
        if cfg is None:
            return cls()
        if isinstance(cfg, str):
            cfg = {"name": cfg}
        if not isinstance(cfg, Mapping):
            raise InvalidConfigError(
                f"scheduler must be a name or a mapping, got {cfg!r}; names: {list(SCHEDULERS)}"
            )
        names = [f.name for f in fields(cls)]
        unknown = set(cfg) - set(names)
        if unknown:
            raise InvalidConfigError(
                f"unknown scheduler keys {sorted(unknown)}, expected some of {names}"
            )
        out = cls(**dict(cfg))
        if out.name not in SCHEDULERS:
            raise InvalidConfigError(
                f"scheduler.name must be one of {list(SCHEDULERS)}, got {out.name!r}"
            )
        for key in ("min_resource", "n_startup_trials"):
            v = getattr(out, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < (1 if key == "min_resource"
                                                                      else 0):
                raise InvalidConfigError(f"scheduler.{key} must be a positive integer, got {v!r}")
        if not isinstance(out.reduction_factor, int) or out.reduction_factor < 2:
            raise InvalidConfigError(
                f"scheduler.reduction_factor must be an integer >= 2, got "
                f"{out.reduction_factor!r}"
            )
        mx = out.max_resource
        if mx is not None and (not isinstance(mx, int) or isinstance(mx, bool)
                               or mx < out.min_resource):
            raise InvalidConfigError(
                f"scheduler.max_resource must be an integer >= min_resource "
                f"({out.min_resource}), got {mx!r}"
            )
        if out.name == "hyperband" and mx is None:
            raise InvalidConfigError(
                "scheduler hyperband needs max_resource (the full number of steps/epochs)"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_pruner(cfg: SchedulerConfig) -> Any:
    """The Optuna pruner of ``cfg`` (``NopPruner`` for ``none``)."""
    import optuna

    if cfg.name == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=cfg.n_startup_trials, n_warmup_steps=cfg.min_resource - 1
        )
    if cfg.name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=cfg.min_resource, reduction_factor=cfg.reduction_factor
        )
    if cfg.name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=cfg.min_resource, max_resource=cfg.max_resource,
            reduction_factor=cfg.reduction_factor,
        )
    return optuna.pruners.NopPruner()


class StorageReporter:
    """Intermediate values into the study's storage; stop decisions from an Optuna pruner.

    Picklable: it carries the storage URL and opens its own connection in each process (a
    spawned worker, a Ray actor on another node), or, for an in-memory study run inline, the
    storage object itself.

    Args:
        storage: the study's storage URL, or an Optuna storage object (inline runs only).
        study_name: the study.
        metric: which reported metric is the intermediate value (``None``: ``"value"``, or
            the only metric reported).
        scheduler: what decides ``should_stop``.
    """

    def __init__(
        self,
        storage: Any,
        study_name: str,
        metric: str | None = None,
        scheduler: SchedulerConfig | None = None,
    ) -> None:
        self.storage = storage
        self.study_name = study_name
        self.metric = metric
        self.scheduler = scheduler or SchedulerConfig()
        self._conn: Any = None
        self._ids: dict[int, int] = {}
        self._pruner: Any = None

    def __getstate__(self) -> dict[str, Any]:
        if not isinstance(self.storage, str):
            raise TypeError(
                "a StorageReporter over an in-memory storage cannot travel to another "
                "process; use a database storage (sqlite:///file.db) for several workers"
            )
        return {**self.__dict__, "_conn": None, "_ids": {}, "_pruner": None}

    # -- connections -----------------------------------------------------------------------------
    def _storage(self) -> Any:
        if self._conn is None:
            if isinstance(self.storage, str):
                from llmhpo.study.storage import open_storage

                self._conn = open_storage(self.storage)
            else:
                self._conn = self.storage
        return self._conn

    def _trial_id(self, number: int) -> int:
        if number not in self._ids:
            st = self._storage()
            study_id = st.get_study_id_from_name(self.study_name)
            self._ids[number] = st.get_trial_id_from_study_id_trial_number(study_id, number)
        return self._ids[number]

    def _value(self, metrics: Mapping[str, float]) -> float | None:
        key = self.metric or "value"
        if key not in metrics and len(metrics) == 1:
            key = next(iter(metrics))
        try:
            v = float(metrics[key])
        except (KeyError, TypeError, ValueError):
            return None
        return v

    # -- the Reporter protocol -------------------------------------------------------------------
    def report(self, trial_number: int, step: int, metrics: Mapping[str, float]) -> None:
        """Store the metric at ``step`` as the trial's intermediate value (NaN is stored as
        NaN: a pruner stops such a trial)."""
        if trial_number < 0:  # reference rows and assessments are not trials of the study
            return
        v = self._value(metrics)
        if v is None:
            return
        self._storage().set_trial_intermediate_value(self._trial_id(trial_number), int(step), v)

    def should_stop(self, trial_number: int) -> bool:
        """Ask the pruner about the trial as stored; a stopped trial is marked
        :data:`PRUNED_AT` with its last step."""
        if trial_number < 0 or self.scheduler.name == "none":
            return False
        import optuna

        st = self._storage()
        tid = self._trial_id(trial_number)
        trial = st.get_trial(tid)
        if trial.last_step is None:
            return False
        if self._pruner is None:
            self._pruner = make_pruner(self.scheduler)
        study = optuna.load_study(study_name=self.study_name, storage=st)
        stop = bool(self._pruner.prune(study, trial))
        if stop:
            st.set_trial_system_attr(tid, PRUNED_AT, int(trial.last_step))
        return stop


def scheduled_outcome(
    storage: Any, trial_id: int, state: Any, metrics: Mapping[str, Any], metric: str | None
) -> tuple[Any, float | None]:
    """The state and value to record for a trial the objective finished as ``state``.

    A trial the scheduler stopped (:data:`PRUNED_AT` at its last reported step) is PRUNED even
    when the objective returned normally; a PRUNED trial's value is the objective metric it
    returned, else its last intermediate value (``None`` if neither is finite). Any other
    trial keeps ``state`` (value ``None``: the study computes it).
    """
    from llmhpo.study.trial import TrialState

    if state not in (TrialState.COMPLETE, TrialState.PRUNED):
        return state, None
    frozen = storage.get_trial(trial_id)
    stopped_at = frozen.system_attrs.get(PRUNED_AT)
    if state is TrialState.COMPLETE and (stopped_at is None or frozen.last_step != stopped_at):
        return state, None
    candidates = [metrics.get(metric or "value")]
    if frozen.last_step is not None:
        candidates.append(frozen.intermediate_values[frozen.last_step])
    for v in candidates:
        try:
            f = float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            return TrialState.PRUNED, f
    return TrialState.PRUNED, None


def copy_progress(storage: Any, src_id: int, dst_id: int) -> None:
    """Copy the learning curve and the ASHA rung records of trial ``src_id`` to ``dst_id`` (a
    trial that continues an interrupted one from its checkpoint)."""
    src = storage.get_trial(src_id)
    for step, v in src.intermediate_values.items():
        storage.set_trial_intermediate_value(dst_id, step, v)
    for key, v in src.system_attrs.items():
        if key.startswith("completed_rung_"):
            storage.set_trial_system_attr(dst_id, key, v)


def trial_fidelity(intermediate: Mapping[int, float], default: float | None = None
                   ) -> float | None:
    """The compute a trial spent: its last reported step, else ``default``."""
    if intermediate:
        return float(max(intermediate))
    return default


def compute_spent(trials: Sequence[Any], max_resource: float | None = None) -> float:
    """Total compute (steps/epochs) of the trials that count against the budget: each one's
    last reported step; a trial that reported nothing counts ``max_resource`` if it finished
    (0 if unknown)."""
    total = 0.0
    for t in trials:
        if getattr(t, "warm_start", False):
            continue
        curve = getattr(t, "intermediate", None) or {}
        done = t.state.is_finished()
        f = trial_fidelity(curve, max_resource if done else None)
        if f is not None and math.isfinite(f):  # a continued trial: only its own steps
            total += max(0.0, f - float(t.attrs.get("resumed_from_step", 0) or 0))
    return total
