"""Contenders behind the bench's ask/tell interface."""

from __future__ import annotations

import pytest

from llmhpo.bench.peers import all_contenders, make_contender
from llmhpo.bench.sklearn_tasks import model_space
from llmhpo.exceptions import InvalidConfigError


@pytest.mark.parametrize("name", ["optuna-tpe", "optuna-random", "random", "lhs"])
def test_contender_suggests_points_of_the_space(name: str) -> None:
    space = model_space("rf")  # ints (log and linear) and a float
    run = make_contender(name, space, seed=3, budget=5)
    for i in range(5):
        params = run.ask()
        assert params is not None and space.contains(params)
        run.tell(float(i) if i != 2 else None)  # a failed evaluation is told as None


def test_budget_reaches_the_optimizer_and_seed_reproduces() -> None:
    run = make_contender("lhs", model_space("svm"), seed=0, budget=7)
    assert run.opt.n_points == 7  # type: ignore[attr-defined]
    a = make_contender("optuna-tpe", model_space("svm"), seed=1, budget=5)
    b = make_contender("optuna-tpe", model_space("svm"), seed=1, budget=5)
    assert a.ask() == b.ask()


def test_contender_names() -> None:
    names = all_contenders()
    assert {"random", "lhs", "bo", "optuna-tpe", "optuna-gp", "optuna-random"} <= set(names)
    with pytest.raises(InvalidConfigError, match="unknown contender"):
        make_contender("hyperopt", model_space("svm"), seed=0, budget=5)
