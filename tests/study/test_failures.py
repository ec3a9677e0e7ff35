"""Failures are data: every kind of failure becomes a recorded trial and the study goes on."""

from __future__ import annotations

import os

import helper_objectives as obj
import pytest

from llmhpo import create_study
from llmhpo.executors import ProcessExecutor
from llmhpo.space import Float, SearchSpace
from llmhpo.study import TrialState

XY = SearchSpace([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)])


@pytest.mark.parametrize(
    "objective, state, fragments",
    [
        (obj.raises, TrialState.FAILED, ["RuntimeError: boom at x=", "Traceback"]),
        (obj.return_nan, TrialState.FAILED, ["non-finite 'value'", "nan"]),
        (obj.returns_inf, TrialState.FAILED, ["non-finite 'value'", "inf"]),
        (obj.returns_dict_without_metric, TrialState.FAILED,
         ["no metric 'value'", "['accuracy', 'tokens_per_s']"]),
        (obj.infeasible, TrialState.INFEASIBLE, ["TrialInfeasible: rank too large"]),
        (obj.out_of_memory, TrialState.INFEASIBLE, ["MemoryError: cannot allocate 80 GiB"]),
    ],
)
def test_each_failure_is_recorded_and_the_study_reaches_its_budget(
    db_url, objective, state, fragments
):
    study = create_study(XY, storage=db_url, study_name="s", budget=3, seed=0)
    study.optimize(objective)
    trials = study.trials
    assert [t.state for t in trials] == [state] * 3
    assert study.n_finished == 3
    for t in trials:
        assert t.value is None
        for frag in fragments:
            assert frag in t.error, (frag, t.error)
    # the optimizer was told a failure (value None) for every trial
    assert [o.value for o in study.optimizer.observations] == [None] * 3
    assert study.best_trial is None


def test_failures_mixed_with_successes_keep_the_metrics_of_the_good_ones(db_url):
    study = create_study(XY, storage=db_url, study_name="mix", budget=4, seed=0)

    def sometimes(params, ctx):
        if ctx.number % 2:
            raise ValueError(f"odd trial {ctx.number}")
        return {"value": params["x"], "accuracy": 0.25 * ctx.number}

    study.optimize(sometimes)
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.FAILED] * 2
    assert study.trials[2].metrics["accuracy"] == 0.5
    assert "ValueError: odd trial 3" in study.trials[3].error
    assert study.best_trial.number in (0, 2)


def test_timeout_stops_the_worker_and_a_new_worker_runs_the_next_trials(db_url):
    study = create_study(XY, storage=db_url, study_name="t", budget=3, seed=0)
    with ProcessExecutor(1) as ex:
        study.optimize(obj.hangs_on_first, executor=ex, trial_timeout=1.0)
    t0, t1, t2 = study.trials
    assert t0.state is TrialState.TIMEOUT
    assert "time limit 1.0 s" in t0.error
    assert 1.0 <= t0.duration < 30  # stopped long before its 60 s sleep ended
    assert (t1.state, t2.state) == (TrialState.COMPLETE, TrialState.COMPLETE)
    assert t1.value == t1.params["x"]
    assert t1.metrics["pid"] == t2.metrics["pid"] != os.getpid()  # the replacement worker


def test_a_worker_that_dies_fails_its_trial_and_is_replaced(db_url):
    study = create_study(XY, storage=db_url, study_name="d", budget=3, seed=0)
    with ProcessExecutor(1) as ex:
        study.optimize(obj.dies_on_first, executor=ex)
    t0, t1, t2 = study.trials
    assert t0.state is TrialState.FAILED
    assert "died" in t0.error and "exit code 3" in t0.error
    assert (t1.state, t2.state) == (TrialState.COMPLETE, TrialState.COMPLETE)
    assert t1.metrics["pid"] == t2.metrics["pid"] != os.getpid()
