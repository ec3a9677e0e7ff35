"""Suites: the tasks the issue names, each with a space and a reference optimum."""

from __future__ import annotations

import logging

import pytest

from llmhpo.bench.suites import SUITES, get_task, suite_of, suite_tasks
from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.registry import build_objective


def test_synthetic_suite_covers_the_issue() -> None:
    names = set(SUITES["synthetic"])
    for base in ("rosenbrock", "branin", "himmelblau", "ackley", "quadratic",
                 "quadratic_illcond"):
        assert base in names and f"shifted_{base}" in names
    assert {"hartmann6", "rosenbrock5", "ackley10"} <= names
    for name in names:
        task = get_task(name)
        # the known optimum is reached at a known minimizer
        f = task.objective
        x = f.minimizers[0]
        params = {f"x{i + 1}": v for i, v in enumerate(x)}
        assert f(params) == pytest.approx(task.optimum, abs=1e-4)


def test_ml_suite_tasks_resolve() -> None:
    for name in SUITES["ml"]:
        task = get_task(name)
        assert suite_of(name) == "ml" and task.optimum == 0.0
        assert task.space.dim in (2, 4)
    assert suite_tasks("ml", ["mlp-iris"]) == ["mlp-iris"]  # MLP only when named


def test_unknown_suite_and_task() -> None:
    with pytest.raises(InvalidConfigError, match="unknown suite"):
        suite_tasks("vision")
    with pytest.raises(InvalidConfigError):
        get_task("no_such_function")
    with pytest.raises(InvalidConfigError, match="foo"):  # refused before any run
        suite_tasks("synthetic", ["branin", "foo"])


def test_llm_suite_is_skipped_when_lora_is_unavailable(caplog: pytest.LogCaptureFixture) -> None:
    try:
        build_objective({"type": "lora"})
        available = True
    except Exception:  # noqa: BLE001
        available = False
    with caplog.at_level(logging.WARNING, logger="llmhpo.bench"):
        names = suite_tasks("llm")
    if available:
        assert names == ["lora"]
    else:
        assert names == [] and "skipping the llm suite" in caplog.text
