"""The partial_fit learning-curve task: curve reported per epoch, early stop, exact resume."""

import pytest

from llmhpo.bench.curve_tasks import PartialFitTask, get_curve_task
from llmhpo.exceptions import InvalidConfigError, TrialPruned

P = {"learning_rate_init": 0.01, "alpha": 1e-4, "batch_size": 64, "width": 16}


class Ctx:
    def __init__(self, workdir=None, stop_at=None):
        self.workdir, self.stop_at, self.reports = workdir, stop_at, []

    def path(self):
        return self.workdir

    def report(self, step, metrics):
        self.reports.append((step, metrics["val_error"]))

    def should_stop(self):
        return self.stop_at is not None and self.reports[-1][0] >= self.stop_at


def test_curve_is_reported_and_a_stopped_trial_continues_exactly(tmp_path):
    task = PartialFitTask("digits", max_epochs=6)
    ctx = Ctx()
    full = task(P, ctx)
    assert full["epochs"] == 6 and [s for s, _ in ctx.reports] == list(range(1, 7))
    assert full["learning_curve"] == [list(r) for r in ctx.reports]
    assert full["val_error"] == ctx.reports[-1][1] < ctx.reports[0][1]

    with pytest.raises(TrialPruned) as info:
        task(P, Ctx(tmp_path, stop_at=2))
    assert info.value.metrics["epochs"] == 2
    rest = task(P, Ctx(tmp_path))
    assert rest["resumed_from_epoch"] == 2
    assert rest["learning_curve"] == full["learning_curve"]  # bitwise


def test_curve_task_names():
    assert get_curve_task("mlpcurve-wine").dataset == "wine"
    with pytest.raises(InvalidConfigError, match="mlpcurve"):
        get_curve_task("svm-wine")
