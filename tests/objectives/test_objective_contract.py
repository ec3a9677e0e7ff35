"""The objective contract: TrialContext's grey-box API, Outcome classification, and the one
future -> Outcome conversion."""

from __future__ import annotations

import pickle
from concurrent.futures import Future

import pytest
from helper_objectives import FileReporter, raise_error, reports_steps

from llmhpo.executors import InlineExecutor, WorkerDied, make_executor
from llmhpo.objectives.base import (
    Objective,
    Outcome,
    Reporter,
    TrialContext,
    evaluate,
    is_out_of_memory,
    outcome_of,
    run_objective,
)
from llmhpo.study import TrialState, create_study
from llmhpo.study.outcome import TrialContext as ReExported


def test_study_outcome_reexports_the_contract():
    assert ReExported is TrialContext


def test_context_without_reporter_is_a_no_op():
    ctx = TrialContext(3)
    ctx.report(0, {"loss": 1.0})
    assert ctx.should_stop() is False


def test_context_delegates_to_its_reporter(tmp_path):
    rep = FileReporter(str(tmp_path / "r.jsonl"), stop_trial=3, stop_after=2)
    assert isinstance(rep, Reporter)
    ctx = TrialContext(3, reporter=rep)
    ctx.report(0, {"loss": 2.0})
    assert not ctx.should_stop()
    ctx.report(1, {"loss": 1.5})
    assert ctx.should_stop()
    assert rep.reports() == [{"trial": 3, "step": 0, "loss": 2.0},
                             {"trial": 3, "step": 1, "loss": 1.5}]


def test_context_path_is_created_and_required(tmp_path):
    assert TrialContext(0, workdir=str(tmp_path / "t0")).path().is_dir()
    with pytest.raises(RuntimeError, match="no work directory"):
        TrialContext(0).path()


def test_context_with_reporter_pickles(tmp_path):
    rep = FileReporter(str(tmp_path / "f"))
    ctx = TrialContext(1, seed=5, workdir=str(tmp_path), reporter=rep)
    back = pickle.loads(pickle.dumps(ctx))
    assert (back.number, back.seed, back.reporter.path) == (1, 5, str(tmp_path / "f"))


def test_intermediate_reports_cross_a_process_boundary(tmp_path):
    rep = FileReporter(str(tmp_path / "r.jsonl"), stop_trial=0, stop_after=2)
    ex = make_executor("process", 1)
    try:
        out = evaluate(reports_steps, {"x": 1.0}, TrialContext(0, reporter=rep), ex)
    finally:
        ex.shutdown()
    assert out.state is TrialState.COMPLETE
    assert out.metrics == {"value": 0.5, "steps": 3}  # stopped after two reports
    assert [r["step"] for r in rep.reports()] == [0, 1]


def test_study_passes_its_reporter_to_every_trial(tmp_path, xy_space):
    rep = FileReporter(str(tmp_path / "r.jsonl"))
    study = create_study(xy_space, budget=3)
    study.optimize(reports_steps, reporter=rep)
    reports = rep.reports()
    assert sorted({r["trial"] for r in reports}) == [0, 1, 2]
    assert all(sum(r["trial"] == n for r in reports) == 5 for n in range(3))


def test_run_objective_classifies():
    assert isinstance(reports_steps, Objective)
    ok = run_objective(lambda p, c: {"a": 1}, {}, TrialContext(0))
    assert (ok.state, ok.metrics, ok.error) == (TrialState.COMPLETE, {"a": 1}, None)
    bad = run_objective(raise_error, {}, TrialContext(0))
    assert bad.state is TrialState.FAILED
    assert bad.error_line == "RuntimeError: boom from the objective"
    oom = run_objective(_oom, {}, TrialContext(0))
    assert oom.state is TrialState.INFEASIBLE and oom.metrics == {"step": 2}
    assert run_objective(_timeout, {}, TrialContext(0)).state is TrialState.TIMEOUT


def _oom(params, ctx):
    exc = RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 9 GB")
    exc.metrics = {"step": 2}
    raise exc


def _timeout(params, ctx):
    raise TimeoutError("too slow")


def test_is_out_of_memory():
    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate"))
    assert not is_out_of_memory(ValueError("bad shape"))


def test_outcome_of_a_failed_future_is_failed():
    fut: Future = Future()
    fut.set_exception(WorkerDied("worker 123 died (exit code -9)"))
    out = outcome_of(fut)
    assert out.state is TrialState.FAILED and out.pid == -1
    assert out.error == "WorkerDied: worker 123 died (exit code -9)"


def test_evaluate_inline_and_on_an_executor_agree():
    a = evaluate(reports_steps, {"x": 1.0}, TrialContext(0))
    b = evaluate(reports_steps, {"x": 1.0}, TrialContext(0), InlineExecutor())
    assert isinstance(a, Outcome) and a.metrics == b.metrics == {"value": 0.2, "steps": 5}
