"""Persistence of llmhpo studies in Optuna's storage layer.

A llmhpo study is an Optuna study: ``optuna-dashboard sqlite:///study.db`` shows it. Each
trial keeps its parameters (with Optuna distributions), its value, its metrics as user
attributes, and llmhpo's own fields as system attributes under the ``llmhpo:`` prefix:
the encoded point, the optimizer attributes, the llmhpo state, the error text and the
warm-start flag. The study keeps the space, the optimizer configuration and the budget as
system attributes. Every write is committed before it returns (SQLite transactions), so killing
the driver loses no finished trial.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState

from llmhpo.exceptions import IncompleteStudyError, StorageError, StudyNotFoundError
from llmhpo.study.trial import Trial, TrialState
from llmhpo.validation import check_storage_url, one_line

__all__ = ["StudyStorage", "open_storage"]

_PREFIX = "llmhpo:"
_TO_OPTUNA = {
    TrialState.RUNNING: OptunaState.RUNNING,
    TrialState.COMPLETE: OptunaState.COMPLETE,
    TrialState.FAILED: OptunaState.FAIL,
    TrialState.INFEASIBLE: OptunaState.FAIL,
    TrialState.TIMEOUT: OptunaState.FAIL,
    TrialState.PRUNED: OptunaState.PRUNED,
    TrialState.INTERRUPTED: OptunaState.FAIL,
}


def open_storage(url: str | None, *, create: bool = True) -> BaseStorage:
    """An Optuna storage for ``url`` (``sqlite:///file.db``, ``postgresql://...``) or memory.

    A bare file path is taken as a SQLite file. The URL is checked first
    (:func:`llmhpo.validation.check_storage_url`); with ``create=False`` (commands that only
    read) a SQLite file that does not exist is an error instead of a new empty database.
    """
    if url is None or url == ":memory:":
        return optuna.storages.InMemoryStorage()
    check_storage_url(url, must_exist=not create)
    if "://" not in url:
        url = f"sqlite:///{url}"
    from sqlalchemy.exc import SQLAlchemyError

    # Optuna creates its tables the first time a database is opened; processes opening a
    # fresh database at the same moment (two drivers, `llmhpo status` during a run) race on
    # that and the losers get IntegrityError / "table already exists". A retry finds the
    # tables in place.
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(url)
        except SQLAlchemyError as exc:
            if attempt == 4:
                raise StorageError(
                    f"storage {url!r} cannot be opened: {one_line(str(exc.orig or exc), 300)}"
                ) from None
            time.sleep(0.1 * (attempt + 1))
        except (ValueError, ImportError) as exc:  # a malformed URL, a missing dialect
            raise StorageError(
                f"storage {url!r} cannot be opened: {one_line(str(exc), 300)}"
            ) from None
    raise AssertionError("unreachable")


def _json_safe(v: Any) -> Any:
    """Optuna stores attributes as JSON: replace NaN/inf by strings so they survive."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return json.loads(json.dumps(v, default=str))


class StudyStorage:
    """The records of one study in an Optuna storage (the study is created if missing)."""

    def __init__(
        self,
        storage: BaseStorage,
        study_name: str,
        *,
        direction: str | None = None,
        create: bool = True,
    ) -> None:
        self.storage = storage
        self.study_name = study_name
        self.created = False
        try:
            self.study_id = storage.get_study_id_from_name(study_name)
        except KeyError:
            self.study_id = self._create(study_name, direction, create)
            return
        if self.is_complete() or storage.get_n_trials(self.study_id):
            return
        # A driver was killed between writing the study row and its attributes (one write
        # each in Optuna's storage): nothing of it is usable, no trial ran. Opening it to run
        # completes it as if new (or replaces it, for another direction); opening it to read
        # says what happened.
        if not create:
            raise IncompleteStudyError(
                f"study {study_name!r} was interrupted while being created (no trial ran); "
                "`llmhpo run` with its config creates it again"
            )
        self.created = True
        if direction is not None and self.direction != direction:
            storage.delete_study(self.study_id)
            self.study_id = self._create(study_name, direction, create)

    def _create(self, study_name: str, direction: str | None, create: bool) -> int:
        if not create:
            raise StudyNotFoundError(
                f"no study named {study_name!r} in this storage; existing studies: "
                f"{[s.study_name for s in self.storage.get_all_studies()]}"
            )
        directions = [
            optuna.study.StudyDirection.MAXIMIZE
            if direction == "maximize"
            else optuna.study.StudyDirection.MINIMIZE
        ]
        self.created = True
        return self.storage.create_new_study(directions, study_name)

    # ----- study attributes ---------------------------------------------------------------------
    def is_complete(self) -> bool:
        """True once the study's attributes are all written (:meth:`mark_complete`); studies of
        earlier versions, without the mark, count when space, optimizer and metric are set."""
        attrs = self.storage.get_study_system_attrs(self.study_id)
        if attrs.get(_PREFIX + "complete"):
            return True
        return all(_PREFIX + k in attrs for k in ("space", "optimizer", "metric"))

    def mark_complete(self) -> None:
        """Write the mark that the study's creation finished (its last write)."""
        self.set_attr("complete", True)

    def get_attr(self, key: str, default: Any = None) -> Any:
        return self.storage.get_study_system_attrs(self.study_id).get(_PREFIX + key, default)

    def set_attr(self, key: str, value: Any) -> None:
        self.storage.set_study_system_attr(self.study_id, _PREFIX + key, _json_safe(value))

    def set_user_attr(self, key: str, value: Any) -> None:
        self.storage.set_study_user_attr(self.study_id, key, _json_safe(value))

    def get_user_attrs(self) -> dict[str, Any]:
        return dict(self.storage.get_study_user_attrs(self.study_id))

    @property
    def direction(self) -> str:
        d = self.storage.get_study_directions(self.study_id)[0]
        return "maximize" if d == optuna.study.StudyDirection.MAXIMIZE else "minimize"

    # ----- trials ---------------------------------------------------------------------------
    def create_trial(
        self,
        params: dict[str, Any],
        distributions: dict[str, Any],
        x: list[float] | None,
        attrs: dict[str, Any],
        *,
        warm_start: bool = False,
        driver: dict[str, Any] | None = None,
    ) -> tuple[int, int]:
        """Create a RUNNING trial; returns ``(trial_id, number)``.

        ``driver`` identifies the driver that runs it (see :mod:`llmhpo.study.coordination`).
        """
        system = {
            _PREFIX + "x": None if x is None else [float(t) for t in x],
            _PREFIX + "attrs": _json_safe(attrs),
            _PREFIX + "state": TrialState.RUNNING.value,
        }
        if warm_start:
            system[_PREFIX + "warm_start"] = True
        if driver is not None:
            system[_PREFIX + "driver"] = _json_safe(driver)
        template = FrozenTrial(
            number=-1,
            state=OptunaState.RUNNING,
            value=None,
            datetime_start=dt.datetime.now(),
            datetime_complete=None,
            params=params,
            distributions=distributions,
            user_attrs={},
            system_attrs=system,
            intermediate_values={},
            trial_id=-1,
        )
        trial_id = self.storage.create_new_trial(self.study_id, template_trial=template)
        return trial_id, self.storage.get_trial_number_from_id(trial_id)

    def finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        value: float | None,
        metrics: dict[str, Any],
        error: str | None = None,
    ) -> None:
        """Write the metrics, then the final state (the state write is the commit point)."""
        for k, v in metrics.items():
            self.storage.set_trial_user_attr(trial_id, k, _json_safe(v))
        if error:
            self.storage.set_trial_system_attr(trial_id, "fail_reason", error[-4000:])
        self.storage.set_trial_system_attr(trial_id, _PREFIX + "state", state.value)
        optuna_state = _TO_OPTUNA[state]
        values = (None if value is None or optuna_state not in (OptunaState.COMPLETE,
                                                                 OptunaState.PRUNED)
                  else [float(value)])  # a PRUNED trial: its value at the last fidelity
        self.storage.set_trial_state_values(trial_id, optuna_state, values)

    def trials(self) -> list[Trial]:
        return [_to_trial(t) for t in self.storage.get_all_trials(self.study_id, deepcopy=False)]

    def trial(self, trial_id: int) -> Trial:
        """One trial, read back from the storage."""
        return _to_trial(self.storage.get_trial(trial_id))

    def snapshot(self) -> tuple[list[Trial], list[tuple[int, int, dict[str, Any] | None]]]:
        """Every trial, and ``(number, trial_id, driver)`` of the RUNNING ones (``driver``
        None if unknown), from one read of the storage."""
        raw = self.storage.get_all_trials(self.study_id, deepcopy=False)
        running = [
            (t.number, t._trial_id, t.system_attrs.get(_PREFIX + "driver"))
            for t in raw
            if t.state == OptunaState.RUNNING
        ]
        return [_to_trial(t) for t in raw], running

    def trial_ids(self) -> dict[int, int]:
        """number -> trial_id."""
        return {
            t.number: t._trial_id
            for t in self.storage.get_all_trials(self.study_id, deepcopy=False)
        }


def _to_trial(t: FrozenTrial) -> Trial:
    sa = t.system_attrs
    raw_state = sa.get(_PREFIX + "state")
    if raw_state is None:  # a trial written by plain Optuna
        raw_state = {
            OptunaState.COMPLETE: "complete",
            OptunaState.RUNNING: "running",
        }.get(t.state, "failed")
    state = TrialState(raw_state)
    error = sa.get("fail_reason")
    if _TO_OPTUNA[state] != t.state:
        # Optuna's state is the commit point. A trial failed behind llmhpo's back (another
        # driver reclaimed it, or it was reclaimed while its result was being written) was
        # interrupted; a RUNNING one whose llmhpo state was already written is still running.
        if t.state == OptunaState.FAIL and (
            state is TrialState.COMPLETE or _PREFIX + "reclaimed" in sa
        ):
            state = TrialState.INTERRUPTED
            error = sa.get(_PREFIX + "reclaimed") or "reclaimed from a stopped driver"
        elif t.state == OptunaState.RUNNING:
            state = TrialState.RUNNING
        elif state is TrialState.RUNNING:
            state = TrialState.FAILED
    x = sa.get(_PREFIX + "x")
    return Trial(
        number=t.number,
        state=state,
        params=dict(t.params),
        x=None if x is None else tuple(x),
        value=t.value if state in (TrialState.COMPLETE, TrialState.PRUNED) else None,
        metrics=dict(t.user_attrs),
        attrs=dict(sa.get(_PREFIX + "attrs") or {}),
        error=error,
        warm_start=bool(sa.get(_PREFIX + "warm_start", False)),
        datetime_start=t.datetime_start,
        datetime_complete=t.datetime_complete,
        intermediate=dict(t.intermediate_values),
    )
