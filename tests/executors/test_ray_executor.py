"""The Ray executor runs the unchanged study loop on real Ray actors (local instance)."""

import functools
import os
import re
import signal
import time
from pathlib import Path

import pytest

import llmhpo
from llmhpo.objectives.base import outcome_of
from llmhpo.study import TrialContext, TrialState, run_objective

ray = pytest.importorskip("ray")


def _sleepy(params, ctx):
    time.sleep(params["x1"])
    return {"value": params["x1"], "pid": os.getpid()}


def _killed_once(params, ctx, marker_dir):
    """SIGKILLs its own actor process the first time each trial runs; returns when run again."""
    marker = Path(marker_dir) / f"trial_{ctx.number}"
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(10)
    return {"value": params["x1"], "pid": os.getpid()}


def _dies_at(params, ctx, number):
    """Trial ``number`` SIGKILLs its actor on every run (a crash the trial itself causes)."""
    if ctx.number == number:
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(10)
    return params["x1"]


SPACE = {"x1": {"type": "float", "low": 0.0, "high": 1.0}}


@pytest.fixture(scope="module")
def executor():
    import sys

    from llmhpo.executors.ray import RayExecutor

    # test modules are not importable inside Ray workers: ship this one by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ex = RayExecutor(2, init_kwargs={"num_cpus": 2})
    yield ex
    ex.shutdown()
    ray.shutdown()


def test_study_on_ray_actors_reuses_workers(executor):
    study = llmhpo.create_study(
        {"x1": {"type": "float", "low": 0.05, "high": 0.2}}, optimizer="random", budget=6
    )
    study.optimize(_sleepy, executor=executor)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    assert all(t.value == pytest.approx(t.params["x1"]) for t in trials)
    # two long-lived actors ran all six trials (a model cache would survive between trials)
    assert len({t.metrics["pid"] for t in trials}) == 2
    assert os.getpid() not in {t.metrics["pid"] for t in trials}


def test_kill_stops_a_running_call(executor):
    fut = executor.submit(run_objective, _sleepy, {"x1": 60.0}, TrialContext(0))
    time.sleep(1.0)
    t0 = time.monotonic()
    assert executor.kill(fut) is True
    assert type(fut.exception(timeout=30)).__name__ == "WorkerDied"
    assert time.monotonic() - t0 < 30
    # the executor still works after a kill
    ok = executor.submit(run_objective, _sleepy, {"x1": 0.01}, TrialContext(1))
    assert ok.result(timeout=120).state is TrialState.COMPLETE


def test_a_trial_whose_actor_was_killed_is_run_again_on_a_new_actor(executor, tmp_path):
    study = llmhpo.create_study(SPACE, optimizer="random", budget=3, seed=0)
    started = executor.n_started
    study.optimize(functools.partial(_killed_once, marker_dir=str(tmp_path)), executor=executor)
    trials = study.trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3, [t.error for t in trials]
    assert all(t.value == pytest.approx(t.params["x1"]) for t in trials)
    for t in trials:  # the retry ran in a fresh actor process, not the killed one
        assert int((tmp_path / f"trial_{t.number}").read_text()) != t.metrics["pid"]
    assert executor.n_started >= started + 3  # one replacement actor per death


def test_a_trial_that_kills_its_actor_every_time_fails_after_one_retry(executor):
    study = llmhpo.create_study(SPACE, optimizer="random", budget=4, seed=0)
    study.optimize(functools.partial(_dies_at, number=1), executor=executor)
    trials = study.trials
    assert len(trials) == 4 and study.n_finished == 4  # the budget, exactly
    assert [t.state for t in trials] == [
        TrialState.COMPLETE, TrialState.FAILED, TrialState.COMPLETE, TrialState.COMPLETE
    ]
    assert "Ray actor running the trial died" in trials[1].error
    assert "it died on each of 2 runs of this call" in trials[1].error
    assert all(t.value == pytest.approx(t.params["x1"]) for t in trials if t.number != 1)


def test_with_no_retries_a_death_fails_the_call_at_once(executor):
    from llmhpo.executors.ray import RayExecutor

    ex = RayExecutor(1, num_cpus_per_trial=0, retries=0)  # no CPU: beside the shared actors
    try:
        objective = functools.partial(_dies_at, number=0)
        out = outcome_of(ex.submit(run_objective, objective, {"x1": 0.5}, TrialContext(0)))
        ok = outcome_of(ex.submit(run_objective, objective, {"x1": 0.5}, TrialContext(1)))
        assert ex.n_started == 2  # the first actor and its replacement
    finally:
        ex.shutdown()
    assert out.state is TrialState.FAILED
    assert "Ray actor running the trial died" in out.error and "runs" not in out.error
    assert ok.state is TrialState.COMPLETE and ok.metrics["value"] == 0.5


@pytest.mark.parametrize("bad", [-1, 11, 1.0, "1", True])
def test_bad_retries_are_config_errors_naming_the_value(bad):
    from llmhpo.exceptions import InvalidConfigError
    from llmhpo.executors.ray import RayExecutor

    with pytest.raises(InvalidConfigError, match=re.escape(f"retries: got {bad!r}")):
        RayExecutor(1, retries=bad)
