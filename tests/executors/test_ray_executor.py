"""The Ray executor runs the unchanged study loop on real Ray actors (local instance)."""

import os
import time

import pytest

import llmhpo
from llmhpo.study import TrialContext, TrialState, run_objective

ray = pytest.importorskip("ray")


def _sleepy(params, ctx):
    time.sleep(params["x1"])
    return {"value": params["x1"], "pid": os.getpid()}


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
