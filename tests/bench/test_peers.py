"""Contenders behind the bench's ask/tell interface."""

from __future__ import annotations

import pytest

from llmhpo.bench.peers import all_contenders, make_contender
from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.sklearn_tasks import model_space


@pytest.mark.parametrize(
    "name", ["optuna-tpe", "optuna-random", "optuna-cmaes", "random", "lhs", "soo-rand",
             "auto", "ngopt", "smac"],
)
def test_contender_suggests_points_of_the_space(name: str) -> None:
    from llmhpo.bench.peers import available

    if not available(name):
        pytest.skip(f"{name} is not installed")
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


def test_short_runs_shrink_the_initial_design_of_model_based_contenders() -> None:
    """A third of the budget (at most 10): the llm suite's 9-evaluation runs still use the
    model after 3 points; 30+ evaluation runs keep every default of 10."""
    space = model_space("svm")
    assert make_contender("bo", space, seed=0, budget=9).opt.n_init == 3  # type: ignore[attr-defined]
    assert make_contender("bo", space, seed=0, budget=50).opt.n_init == 10  # type: ignore[attr-defined]
    assert make_contender("tpe", space, seed=0, budget=12).opt.n_startup_trials == 4  # type: ignore[attr-defined]
    sampler = make_contender("optuna-tpe", space, seed=0, budget=9).study.sampler  # type: ignore[attr-defined]
    assert sampler._n_startup_trials == 3
    sampler = make_contender("optuna-gp", space, seed=0, budget=30).study.sampler  # type: ignore[attr-defined]
    assert sampler._n_startup_trials == 10
    # and it is used: after 3 random points our BO's 4th suggestion comes from the GP
    run = make_contender("bo", space, seed=0, budget=9)
    for i in range(3):
        run.ask()
        run.tell(float(i))
    run.ask()
    assert run._pending.attrs["phase"] == "bo"  # type: ignore[attr-defined]


def test_centre_baseline_is_one_evaluation_at_the_centre_of_the_box() -> None:
    space = model_space("svm")  # two log-scaled floats: the centre is the geometric middle
    run = make_contender("centre", space, seed=0, budget=5)
    params = run.ask()
    assert params == space.decode([0.5, 0.5])
    run.tell(1.0)
    assert run.ask() is None  # then it is exhausted


def test_hebo_is_reported_unavailable_not_crashing() -> None:
    from llmhpo.bench.peers import available
    from llmhpo.exceptions import OptionalDependencyError

    if available("hebo"):
        pytest.skip("HEBO is installed here")
    with pytest.raises(OptionalDependencyError, match="HEBO"):
        make_contender("hebo", model_space("svm"), seed=0, budget=5)


@pytest.mark.parametrize("name, base", [("random-default", "random"), ("tpe-default", "tpe")])
def test_default_first_baseline_starts_at_the_defaults_then_searches(name: str, base: str) -> None:
    """The LLM contenders' fair baseline (Zhang et al. 2023's caveat): evaluation 1 is the
    space's default point, told to the optimizer, which then proposes as usual."""
    space = model_space("svm")
    run = make_contender(name, space, seed=4, budget=6)
    first = run.ask()
    assert first == space.default_params()
    run.tell(0.25)
    points = []
    for i in range(4):
        p = run.ask()
        assert p is not None and space.contains(p) and p != first
        points.append(p)
        run.tell(0.5 + i)
    obs = run.run.opt.observations  # type: ignore[attr-defined]
    assert len(obs) == 5 and obs[0].value == 0.25  # the default's result is known to it
    assert {"random-default", "tpe-default"} <= set(all_contenders())
    assert name not in all_contenders(opt_in=False)
