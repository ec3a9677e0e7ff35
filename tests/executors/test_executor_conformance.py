"""Every executor against the executor contract (llmhpo.testing.executor_suite)."""

from __future__ import annotations

import pytest

from llmhpo.executors import InlineExecutor, ProcessExecutor
from llmhpo.testing.executor_suite import ExecutorSuite


class TestInline(ExecutorSuite):
    @pytest.fixture
    def executor(self):
        ex = InlineExecutor()
        yield ex
        ex.shutdown()

    def test_kill_stops_a_running_call(self, executor):
        assert executor.kill(executor.submit(lambda: 1)) is False  # nothing runs concurrently


class TestProcess(ExecutorSuite):
    can_kill = True

    @pytest.fixture(scope="class")
    def executor(self):
        ex = ProcessExecutor(2)
        yield ex
        ex.shutdown()


class TestRay(ExecutorSuite):
    can_kill = True

    @pytest.fixture(scope="class")
    def executor(self):
        ray = pytest.importorskip("ray")
        import llmhpo.testing.executor_suite as suite
        from llmhpo.executors.ray import RayExecutor

        ray.cloudpickle.register_pickle_by_value(suite)  # its functions travel by value
        ex = RayExecutor(2, init_kwargs={"num_cpus": 2})
        yield ex
        ex.shutdown()
        ray.shutdown()
