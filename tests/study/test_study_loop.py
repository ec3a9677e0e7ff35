"""The study loop on a real SQLite file: budget, failures as data, parallel workers, Optuna."""

from __future__ import annotations

import math

import helper_objectives as objs
import numpy as np
import optuna
import pytest

from llmhpo.exceptions import InvalidConfigError
from llmhpo.executors import ProcessExecutor
from llmhpo.space import Categorical, Float, Int, SearchSpace
from llmhpo.study import TrialState, create_study, load_study


def test_budget_is_a_total_not_n_more(xy_space, db_url):
    study = create_study(xy_space, budget=6, storage=db_url, study_name="s", seed=1)
    study.optimize(objs.quadratic)
    assert len(study.trials) == 6 and study.n_finished == 6
    study.optimize(objs.quadratic)  # already at its budget: nothing runs
    assert len(study.trials) == 6
    again = create_study(xy_space, budget=6, storage=db_url, study_name="s", seed=1)
    again.optimize(objs.quadratic)
    assert len(again.trials) == 6
    again.optimize(objs.quadratic, budget=9)  # a larger total runs only the missing 3
    assert len(load_study("s", db_url).trials) == 9
    assert load_study("s", db_url).budget == 9


def test_values_params_and_best_are_stored(xy_space, db_url):
    study = create_study(
        xy_space,
        optimizer="lhs",
        optimizer_kwargs={"n_points": 5},
        budget=5,
        storage=db_url,
        study_name="s",
    )
    best = study.optimize(objs.quadratic)
    trials = load_study("s", db_url).trials
    for t in trials:
        assert t.state is TrialState.COMPLETE
        assert t.value == pytest.approx(objs.quadratic(t.params))
        assert np.array_equal(np.array(t.x), xy_space.encode(t.params))
        assert t.attrs["design_index"] == t.number
        assert t.duration is not None and t.duration >= 0
    assert best.value == min(t.value for t in trials)


def test_maximize_with_a_named_metric(xy_space, db_url):
    def objective(params, ctx):
        return {"acc": params["x"], "loss": 1 - params["x"]}

    study = create_study(
        xy_space, direction="maximize", metric="acc", budget=6, storage=db_url, study_name="m"
    )
    study.optimize(objective)
    trials = study.trials
    assert study.best_trial.value == max(t.params["x"] for t in trials)
    assert all(t.metrics["loss"] == pytest.approx(1 - t.value) for t in trials)
    # the optimizer minimizes: it was told -acc
    assert sorted(o.value for o in study.optimizer.observations) == sorted(
        -t.value for t in trials
    )


def test_failures_are_recorded_and_the_study_goes_on(db_url):
    space = SearchSpace([Float("x", 0.0, 1.0)])
    study = create_study(
        space,
        optimizer="lhs",
        optimizer_kwargs={"n_points": 8},
        budget=8,
        storage=db_url,
        study_name="f",
        seed=0,
    )
    study.optimize(objs.fails_by_x)
    trials = study.trials
    assert len(trials) == 8 and study.n_finished == 8
    by_bin = {b: [t for t in trials if int(t.params["x"] * 4) == b] for b in range(4)}
    assert all(len(ts) == 2 for ts in by_bin.values())  # LHS: two points per quarter
    for t in by_bin[0]:
        assert t.state is TrialState.FAILED and "ValueError: bad x" in t.error
    for t in by_bin[1]:
        assert t.state is TrialState.FAILED and "non-finite 'value': nan" in t.error
    for t in by_bin[2]:
        assert t.state is TrialState.FAILED and "non-finite 'value': inf" in t.error
    for t in by_bin[3]:
        assert t.state is TrialState.COMPLETE and t.value == t.params["x"]
    assert study.best_trial.value == min(t.params["x"] for t in by_bin[3])
    assert sum(o.failed for o in study.optimizer.observations) == 6


def test_missing_metric_is_a_failed_trial(xy_space, db_url):
    study = create_study(xy_space, metric="acc", budget=2, storage=db_url, study_name="mm")
    study.optimize(lambda p, ctx: {"loss": 1.0})
    assert [t.state for t in study.trials] == [TrialState.FAILED] * 2
    assert "no metric 'acc'" in study.trials[0].error and "'loss'" in study.trials[0].error


@pytest.fixture
def pool2():
    ex = ProcessExecutor(2)
    yield ex
    ex.shutdown()


def test_process_executor_runs_trials_in_parallel(xy_space, db_url, pool2):
    # random search: every ask fills both workers (auto's BaMSOO starts with one point)
    study = create_study(xy_space, optimizer="random", budget=4, storage=db_url,
                         study_name="p")
    study.optimize(objs.slow, executor=pool2)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    spans = sorted((t.metrics["t_start"], t.metrics["t_end"]) for t in trials)
    # two workers: the first two trials overlap in wall-clock time, in different processes
    (s0, e0), (s1, e1) = spans[0], spans[1]
    assert s1 < e0 and s0 < e1
    assert len({t.metrics["pid"] for t in trials}) == 2
    # never more than two at once
    for t, _ in spans:
        assert sum(s <= t < e for s, e in spans) <= 2


def test_timeout_with_the_process_executor_is_recorded_and_the_pool_recovers(
    xy_space, db_url, pool2
):
    study = create_study(xy_space, budget=2, storage=db_url, study_name="t")
    study.optimize(objs.sleep_forever, executor=pool2, trial_timeout=0.5)
    assert [t.state for t in study.trials] == [TrialState.TIMEOUT] * 2
    assert "time limit 0.5 s" in study.trials[0].error
    study.optimize(objs.quadratic, executor=pool2, budget=4)  # replaced workers still work
    assert [t.state for t in study.trials[2:]] == [TrialState.COMPLETE] * 2


@pytest.mark.parametrize("objective", [objs.hard_exit, objs.segfault])
def test_a_worker_that_dies_is_a_failed_trial(xy_space, db_url, pool2, objective):
    study = create_study(xy_space, budget=2, storage=db_url, study_name="d")
    study.optimize(objective, executor=pool2)
    assert [t.state for t in study.trials] == [TrialState.FAILED] * 2
    assert all("WorkerDied" in t.error and "died" in t.error for t in study.trials)


def test_the_pool_recovers_after_a_worker_crash(xy_space, db_url, pool2):
    study = create_study(xy_space, budget=5, storage=db_url, study_name="c")
    study.optimize(objs.crash_on_first, executor=pool2)
    states = [t.state for t in study.trials]
    assert states[0] is TrialState.FAILED and states[1:] == [TrialState.COMPLETE] * 4
    assert all(t.value == t.params["x"] for t in study.trials[1:])


def test_optuna_reads_the_study(db_url):
    space = SearchSpace(
        [Float("lr", 1e-5, 1e-1, log=True), Int("n", 1, 8), Categorical("opt", ["adamw", "sgd"])]
    )

    def objective(params, ctx):
        if ctx.number == 2:
            raise RuntimeError("crash")
        return math.log10(params["lr"]) + params["n"]

    study = create_study(space, budget=5, storage=db_url, study_name="o", seed=3)
    study.optimize(objective)
    ours = study.trials
    theirs = optuna.load_study(study_name="o", storage=db_url).trials
    assert len(theirs) == 5
    for a, b in zip(ours, theirs, strict=True):
        assert b.number == a.number and b.params == a.params
        if a.state is TrialState.COMPLETE:
            assert b.state == optuna.trial.TrialState.COMPLETE and b.value == a.value
        else:
            assert b.state == optuna.trial.TrialState.FAIL
    ostudy = optuna.load_study(study_name="o", storage=db_url)
    assert ostudy.best_value == study.best_trial.value
    assert ostudy.best_params == study.best_trial.params


class _CheckedObjective:
    """An objective whose preflight fails until ``ok`` is set; counts its calls."""

    def __init__(self) -> None:
        self.ok, self.preflights = False, 0

    def preflight(self) -> None:
        self.preflights += 1
        if not self.ok:
            raise InvalidConfigError("model 'nope' cannot load")

    def __call__(self, params, ctx):
        return objs.quadratic(params, ctx)


def test_a_failing_preflight_stops_the_study_before_any_trial(xy_space, db_url):
    objective = _CheckedObjective()
    study = create_study(xy_space, budget=3, storage=db_url, study_name="pre", seed=0)
    with pytest.raises(InvalidConfigError, match="'nope'"):
        study.optimize(objective)
    assert load_study("pre", db_url).trials == []  # not 3 failed trials
    objective.ok = True
    study.optimize(objective)
    assert study.n_finished == 3 and objective.preflights == 2
    study.optimize(objective)  # at its budget: nothing to check, nothing runs
    assert objective.preflights == 2
