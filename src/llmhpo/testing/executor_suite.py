"""The conformance suite every llmhpo executor must pass.

Subclass :class:`ExecutorSuite` and provide an ``executor`` fixture (and its teardown)::

    class TestProcess(ExecutorSuite):
        can_kill = True

        @pytest.fixture
        def executor(self):
            ex = ProcessExecutor(2)
            yield ex
            ex.shutdown()

The objectives it submits must be importable by the workers: the suite uses
``llmhpo.objectives.synthetic`` functions and :func:`llmhpo.testing.executor_suite.sleepy`.
Checked: a call's :class:`~llmhpo.objectives.base.Outcome` comes back through the future; an
exception of the submitted function is the future's exception (``outcome_of`` turns it into a
FAILED outcome); ``n_workers`` calls run at once; ``kill`` stops a running call when the
executor can (``can_kill``); a study runs unchanged on it.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import wait
from typing import Any

import pytest

from llmhpo.objectives.base import TrialContext, outcome_of, run_objective
from llmhpo.objectives.synthetic import get_function
from llmhpo.study import TrialState, create_study

__all__ = ["ExecutorSuite", "sleepy", "boom"]


def sleepy(params: dict[str, Any], ctx: Any = None) -> dict[str, Any]:
    """Sleeps ``params["s"]`` seconds; returns the pid and the wall-clock span."""
    t0 = time.time()
    time.sleep(float(params["s"]))
    return {"value": float(params["s"]), "pid": os.getpid(), "t0": t0, "t1": time.time()}


def boom(*args: Any) -> None:
    """Raises (a function that is not wrapped in run_objective)."""
    raise ValueError("boom outside run_objective")


class ExecutorSuite:
    """Contract tests; see the module docstring."""

    can_kill: bool = False

    @pytest.fixture
    def executor(self) -> Any:  # pragma: no cover - provided by subclasses
        raise NotImplementedError("provide an `executor` fixture")

    def test_an_outcome_comes_back(self, executor: Any) -> None:
        f = get_function("branin")
        params = f.space().default_params()
        out = outcome_of(executor.submit(run_objective, f, params, TrialContext(0)))
        assert out.state is TrialState.COMPLETE
        assert out.metrics["value"] == pytest.approx(f(params))

    def test_an_exception_of_the_call_is_the_futures(self, executor: Any) -> None:
        fut = executor.submit(boom, 1)
        wait([fut], timeout=60)
        assert isinstance(fut.exception(), ValueError)
        out = outcome_of(fut)
        assert out.state is TrialState.FAILED and "boom outside" in (out.error or "")

    def test_n_workers_run_at_once(self, executor: Any) -> None:
        n = executor.n_workers
        warm = [executor.submit(run_objective, sleepy, {"s": 0.2}, TrialContext(i))
                for i in range(n)]  # every worker imports this module once
        assert all(outcome_of(f).state is TrialState.COMPLETE for f in warm)
        futs = [executor.submit(run_objective, sleepy, {"s": 1.0}, TrialContext(i))
                for i in range(n)]
        outs = [outcome_of(f) for f in futs]
        assert all(o.state is TrialState.COMPLETE for o in outs)
        if n > 1:
            spans = [(o.metrics["t0"], o.metrics["t1"]) for o in outs]
            assert max(a for a, _ in spans) < min(b for _, b in spans)  # all overlapped
            assert len({o.metrics["pid"] for o in outs}) == n

    def test_kill_stops_a_running_call(self, executor: Any) -> None:
        fut = executor.submit(run_objective, sleepy, {"s": 30}, TrialContext(0))
        time.sleep(0.5)
        killed = executor.kill(fut)
        if not self.can_kill:
            assert killed is False
            return
        assert killed is True
        wait([fut], timeout=30)
        assert fut.done() and outcome_of(fut).state is TrialState.FAILED
        after = outcome_of(executor.submit(run_objective, sleepy, {"s": 0}, TrialContext(1)))
        assert after.state is TrialState.COMPLETE  # the executor recovered

    def test_a_study_runs_on_it(self, executor: Any) -> None:
        f = get_function("branin")
        study = create_study(f.space(), budget=3, seed=0)
        study.optimize(f, executor=executor)
        assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
        assert all(t.value == pytest.approx(f(t.params)) for t in study.trials)
