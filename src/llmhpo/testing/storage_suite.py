"""The conformance suite of the storage layer (:mod:`llmhpo.study.storage`).

Subclass :class:`StorageSuite` with a ``url`` fixture (``None`` for memory, a SQLite or
PostgreSQL URL); the tests open a fresh connection to read what another wrote. Values survive
as written; NaN/inf as their text (JSON has neither).
"""

from __future__ import annotations

import math

import pytest

from llmhpo.exceptions import StudyNotFoundError
from llmhpo.space import Float, SearchSpace
from llmhpo.study.storage import StudyStorage, open_storage
from llmhpo.study.trial import TrialState

__all__ = ["StorageSuite"]

SPACE = SearchSpace([Float("x", 0.0, 1.0)])


class StorageSuite:
    """Contract tests; see the module docstring."""

    @pytest.fixture
    def url(self):  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    def _reopen(self, storage, url, name):
        return StudyStorage(storage if url is None else open_storage(url), name, create=False)

    def test_a_trial_round_trips(self, url):
        storage = open_storage(url)
        rec = StudyStorage(storage, "s", direction="maximize")
        assert rec.created and rec.direction == "maximize"
        tid, number = rec.create_trial({"x": 0.25}, SPACE.optuna_distributions(), [0.25],
                                       {"phase": "init"})
        assert number == 0 and rec.trial(tid).state is TrialState.RUNNING
        rec.finish_trial(tid, TrialState.COMPLETE, 0.5,
                         {"value": 0.5, "loss": math.inf, "curve": [1.0, math.nan]})
        t = self._reopen(storage, url, "s").trials()[0]
        assert (t.state, t.value, t.params, t.x, t.attrs) == (
            TrialState.COMPLETE, 0.5, {"x": 0.25}, (0.25,), {"phase": "init"})
        # JSON has no NaN/inf: they are kept as their text
        assert t.metrics["loss"] == "inf" and t.metrics["curve"] == [1.0, "nan"]

    def test_failed_states_and_attributes(self, url):
        storage = open_storage(url)
        rec = StudyStorage(storage, "s")
        for state in (TrialState.FAILED, TrialState.INFEASIBLE, TrialState.TIMEOUT,
                      TrialState.INTERRUPTED):
            tid, _ = rec.create_trial({"x": 0.5}, SPACE.optuna_distributions(), [0.5], {})
            rec.finish_trial(tid, state, None, {}, f"{state.value} because")
        rec.set_attr("budget", 7)
        rec.set_user_attr("references", {"base": {"state": "complete"}})
        back = self._reopen(storage, url, "s")
        assert [t.state for t in back.trials()] == [TrialState.FAILED, TrialState.INFEASIBLE,
                                                    TrialState.TIMEOUT, TrialState.INTERRUPTED]
        assert back.trials()[1].error == "infeasible because"
        assert back.get_attr("budget") == 7
        assert back.get_user_attrs()["references"] == {"base": {"state": "complete"}}

    def test_a_missing_study_is_an_error(self, url):
        with pytest.raises(StudyNotFoundError):
            StudyStorage(open_storage(url), "nope", create=False)
