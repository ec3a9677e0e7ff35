"""The conformance suite every llmhpo objective must pass (the contract of
:mod:`llmhpo.objectives.base`).

Subclass :class:`ObjectiveSuite` in a test module and provide the ``spec`` fixture (what the
registry builds from a config) and the ``params`` fixture (hyperparameters that run)::

    class TestSynthetic(ObjectiveSuite):
        @pytest.fixture
        def spec(self):
            return build_objective({"type": "synthetic", "name": "branin"})

        @pytest.fixture
        def params(self, spec):
            return spec.space.default_params()

Optional fixtures: ``failing_params`` (hyperparameters on which a trial fails; the failure must
come back as a non-COMPLETE :class:`~llmhpo.objectives.base.Outcome`, never as an exception),
``bad_preflight_spec`` (a spec whose ``preflight`` must raise
:class:`~llmhpo.exceptions.InvalidConfigError`), and the class attribute
``run_in_process = True`` to also run a trial in a spawned worker (a few seconds).

The suite checks: a trial returns the objective's metric as a finite number; failures are
outcomes; the objective pickles and the copy computes the same metric; ``preflight`` accepts the
spec and rejects the bad one; intermediate reports (``ctx.report``) are well formed and
``ctx.should_stop()`` is honoured when the objective reports.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping
from typing import Any

import pytest

from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.base import TrialContext, evaluate, run_objective
from llmhpo.study.trial import TrialState

__all__ = ["ObjectiveSuite", "RecordingReporter"]


class RecordingReporter:
    """A reporter that keeps every report in a list (in this process) and says stop once
    ``stop_after`` reports of a trial have come in (``None``: never)."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.stop_after = stop_after
        self.reports: list[tuple[int, int, dict[str, float]]] = []

    def report(self, trial_number: int, step: int, metrics: Mapping[str, float]) -> None:
        self.reports.append((trial_number, step, dict(metrics)))

    def should_stop(self, trial_number: int) -> bool:
        n = sum(r[0] == trial_number for r in self.reports)
        return self.stop_after is not None and n >= self.stop_after


def _metric(spec: Any) -> str:
    return spec.metric or "value"


class ObjectiveSuite:
    """Contract tests; see the module docstring for the fixtures a subclass provides."""

    run_in_process: bool = False

    @pytest.fixture
    def spec(self) -> Any:  # pragma: no cover - provided by subclasses
        raise NotImplementedError("provide a `spec` fixture (an ObjectiveSpec)")

    @pytest.fixture
    def params(self, spec: Any) -> dict[str, Any]:  # pragma: no cover - default
        if spec.space is None:
            raise NotImplementedError("provide a `params` fixture")
        return spec.space.default_params()

    @pytest.fixture
    def failing_params(self) -> dict[str, Any] | None:
        return None

    @pytest.fixture
    def bad_preflight_spec(self) -> Any | None:
        return None

    @pytest.fixture
    def ctx(self, tmp_path: Any) -> TrialContext:
        return TrialContext(0, seed=0, workdir=str(tmp_path / "trial_0"))

    # ----- tests -------------------------------------------------------------------------------
    def test_a_trial_returns_the_metric(self, spec: Any, params: dict, ctx: TrialContext) -> None:
        out = run_objective(spec.objective, params, ctx)
        assert out.state is TrialState.COMPLETE, out.error
        value = out.metrics.get(_metric(spec))
        assert isinstance(value, (int, float)) and math.isfinite(value), out.metrics

    def test_a_failure_is_an_outcome(
        self, spec: Any, failing_params: dict | None, ctx: TrialContext
    ) -> None:
        if failing_params is None:
            pytest.skip("no failing_params for this objective")
        out = run_objective(spec.objective, failing_params, ctx)
        assert out.state is not TrialState.COMPLETE or not math.isfinite(
            float(out.metrics.get(_metric(spec), math.nan))
        ), out.metrics
        if out.state is not TrialState.COMPLETE:
            assert out.error

    def test_the_objective_pickles(
        self, spec: Any, params: dict, ctx: TrialContext, tmp_path: Any
    ) -> None:
        copy = pickle.loads(pickle.dumps(spec.objective))
        a = run_objective(spec.objective, params, ctx)
        b = run_objective(copy, params, TrialContext(0, seed=0, workdir=str(tmp_path / "copy")))
        assert b.state is TrialState.COMPLETE, b.error
        assert b.metrics[_metric(spec)] == pytest.approx(a.metrics[_metric(spec)], rel=1e-6)

    def test_a_trial_runs_in_a_process_worker(self, spec: Any, params: dict) -> None:
        if not self.run_in_process:
            pytest.skip("run_in_process is off for this objective (pickling is checked)")
        from llmhpo.executors import make_executor

        ex = make_executor("process", 1)
        try:
            out = evaluate(spec.objective, params, TrialContext(0), ex)
        finally:
            ex.shutdown()
        assert out.state is TrialState.COMPLETE, out.error
        assert math.isfinite(out.metrics[_metric(spec)])

    def test_preflight(self, spec: Any, bad_preflight_spec: Any | None) -> None:
        preflight = getattr(spec.objective, "preflight", None)
        if preflight is None and bad_preflight_spec is None:
            pytest.skip("the objective has no preflight")
        if preflight is not None:
            preflight()  # a good config passes
        if bad_preflight_spec is not None:
            with pytest.raises(InvalidConfigError):
                bad_preflight_spec.objective.preflight()

    def test_intermediate_reports(self, spec: Any, params: dict, tmp_path: Any) -> None:
        rec = RecordingReporter()
        ctx = TrialContext(3, workdir=str(tmp_path / "r"), reporter=rec)
        out = run_objective(spec.objective, params, ctx)
        assert out.state is TrialState.COMPLETE, out.error
        steps = [s for n, s, _ in rec.reports]
        assert all(n == 3 for n, _, _ in rec.reports)
        assert steps == sorted(steps) and len(set(steps)) == len(steps)
        for _, _, m in rec.reports:
            assert m and all(isinstance(v, (int, float)) for v in m.values())
        if len(rec.reports) >= 2:  # an objective that reports must stop when told
            stop = RecordingReporter(stop_after=1)
            early = run_objective(spec.objective, params,
                                  TrialContext(3, workdir=str(tmp_path / "s"), reporter=stop))
            assert len(stop.reports) < len(rec.reports)
            assert early.state is not TrialState.FAILED, early.error
