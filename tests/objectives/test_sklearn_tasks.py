"""The sklearn tasks: HPOBench spaces, a deterministic CV error in [0, 1], bad input refused."""

from __future__ import annotations

import numpy as np
import pytest

from llmhpo.exceptions import InvalidConfigError, InvalidSearchSpaceError
from llmhpo.objectives.registry import build_objective
from llmhpo.objectives.sklearn_tasks import SklearnTask, get_task, model_space

pytest.importorskip("sklearn")


def test_spaces_follow_appendix_b() -> None:
    svm = model_space("svm")
    assert svm["C"].low == 2**-10 and svm["C"].high == 2**10 and svm["C"].log
    assert svm.default_params() == {"C": 1.0, "gamma": 0.1}
    rf = model_space("rf")
    assert (rf["min_samples_split"].low, rf["min_samples_split"].high) == (2, 128)
    assert rf.default_params() == {"max_depth": 10, "max_features": 0.5,
                                   "min_samples_leaf": 1, "min_samples_split": 32}
    assert model_space("mlp").dim == 5 and model_space("lr").dim == 2


def test_error_in_unit_interval_and_deterministic() -> None:
    task = SklearnTask("svm", "wine")
    rng = np.random.default_rng(0)
    for _ in range(3):
        p = task.space().decode(rng.random(2))
        v = task(p)
        assert 0.0 <= v <= 1.0
        assert task(p) == v
    # the default SVM separates wine almost perfectly; a huge gamma cannot
    assert task({"C": 1.0, "gamma": 0.1}) < 0.1 < task({"C": 2**-10, "gamma": 2**10})


def test_rf_max_features_zero_is_one_feature() -> None:
    task = get_task("rf-iris")
    v = task({"max_depth": 3, "max_features": 0.0, "min_samples_leaf": 1,
              "min_samples_split": 2})
    assert 0.0 <= v <= 1.0


def test_invalid_params_and_names_raise() -> None:
    task = SklearnTask("svm", "iris")
    with pytest.raises(InvalidSearchSpaceError, match="gamma"):
        task({"C": 1.0, "gamma": 1e6})
    with pytest.raises(InvalidSearchSpaceError, match="missing"):
        task({"C": 1.0})
    with pytest.raises(InvalidConfigError, match="unknown sklearn model"):
        SklearnTask("xgb", "iris")
    with pytest.raises(InvalidConfigError, match="unknown sklearn dataset"):
        get_task("svm-mnist")


def test_objective_registry_builds_sklearn_objective() -> None:
    spec = build_objective({"type": "sklearn", "model": "lr", "dataset": "iris"})
    assert spec.direction == "minimize"
    assert spec.space == model_space("lr")
    assert 0.0 <= spec.objective(spec.space.default_params(), None) <= 1.0
    with pytest.raises(InvalidConfigError, match="unknown field"):
        build_objective({"type": "sklearn", "model": "lr", "dataset": "iris", "folds": 3})


def test_sklearn_objective_runs_in_a_study() -> None:
    from llmhpo.study import create_study

    spec = build_objective({"type": "sklearn", "model": "svm", "dataset": "iris"})
    study = create_study(spec.space, optimizer="random", direction=spec.direction,
                         metric=spec.metric, budget=3, seed=0)
    best = study.optimize(spec.objective, budget=3)
    assert best is not None and 0.0 <= best.value <= 1.0
    assert best.value == pytest.approx(spec.objective(best.params, None))
