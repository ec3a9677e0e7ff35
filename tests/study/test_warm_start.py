"""Warm start from a CSV (Tribes et al. 2023's cache file) and from another study; export round
trip."""

from __future__ import annotations

import csv

import helper_objectives as objs
import pytest

from llmhpo.exceptions import InvalidConfigError
from llmhpo.space import Categorical, Float, Int, PowerOfTwo, SearchSpace
from llmhpo.study import TrialState, create_study, load_study


@pytest.fixture
def mixed_space():
    return SearchSpace(
        [
            Float("lr", 1e-5, 1e-2, log=True),
            Int("alpha", 1, 64),
            PowerOfTwo("rank", 4, 64),
            Categorical("opt", ["adamw", "sgd"]),
        ]
    )


def _objective(params, ctx):
    return params["alpha"] / params["rank"] + (params["opt"] == "sgd")


def test_export_then_warm_start_from_csv_round_trips(mixed_space, db_url, tmp_path):
    src = create_study(mixed_space, budget=6, storage=db_url, study_name="src", seed=1)

    def objective(params, ctx):
        if ctx.number == 1:
            raise RuntimeError("one failure")
        return _objective(params, ctx)

    src.optimize(objective)
    path = src.to_csv(tmp_path / "cache.csv")
    rows = list(csv.DictReader(path.open()))
    assert [r["state"] for r in rows].count("failed") == 1

    dst = create_study(
        mixed_space,
        optimizer="lhs",
        optimizer_kwargs={"n_points": 3},
        budget=3,
        storage=db_url,
        study_name="dst",
        seed=2,
    )
    assert dst.warm_start(path) == 6
    imported = dst.trials
    assert all(t.warm_start for t in imported)
    for a, b in zip(src.trials, imported, strict=True):
        assert b.params == a.params  # exact, types included (int stays int, str stays str)
        assert [type(v) for v in b.params.values()] == [type(v) for v in a.params.values()]
        assert b.state is (
            TrialState.FAILED if a.state is TrialState.FAILED else TrialState.COMPLETE
        )
        assert b.value == a.value
    # the optimizer was told every imported point (minimizing, failures as None)
    told = [(o.params, o.value) for o in dst.optimizer.observations]
    assert told == [(t.params, t.value) for t in src.trials]
    # imported points do not count against the budget and are not the study's best
    assert dst.n_finished == 0 and dst.best_trial is None
    dst.optimize(_objective)
    assert dst.n_finished == 3 and len(dst.trials) == 9
    # importing the same file again adds nothing (duplicates are skipped)
    assert dst.warm_start(path) == 0


def test_warm_start_from_another_study_and_resume_keeps_it(mixed_space, db_url):
    src = create_study(mixed_space, budget=4, storage=db_url, study_name="a", seed=0)
    src.optimize(_objective)
    dst = create_study(mixed_space, budget=2, storage=db_url, study_name="b", seed=5)
    assert dst.warm_start(load_study("a", db_url)) == 4
    dst.optimize(_objective)
    resumed = load_study("b", db_url)
    assert resumed.n_finished == 2 and len(resumed.trials) == 6
    # on resume the warm-start points are replayed into the optimizer too
    assert len(resumed.optimizer.observations) == 6
    assert resumed.best_trial.number in (4, 5)


def test_maximize_study_tells_the_optimizer_negated_imported_values(db_url, tmp_path):
    space = SearchSpace([Float("x", 0.0, 1.0)])
    path = tmp_path / "c.csv"
    path.write_text("x,value,notes\n0.25,0.5,first\n0.75,,failed one\n")
    study = create_study(space, direction="maximize", budget=1, storage=db_url, study_name="m")
    assert study.warm_start(path) == 2
    assert [o.value for o in study.optimizer.observations] == [-0.5, None]
    assert study.trials[0].metrics["notes"] == "first"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("x,loss\n0.1,1\n", "missing ['value']"),
        ("y,value\n0.1,1\n", "missing ['x']"),
        ("x,value\n7,1\n", "c.csv:2: variable 'x': got 7"),
    ],
)
def test_bad_warm_start_csv_errors(db_url, tmp_path, text, fragment):
    space = SearchSpace([Float("x", 0.0, 1.0)])
    path = tmp_path / "c.csv"
    path.write_text(text)
    study = create_study(space, budget=1, storage=db_url, study_name="e")
    with pytest.raises(InvalidConfigError) as info:
        study.warm_start(path)
    assert fragment in str(info.value)
    with pytest.raises(InvalidConfigError, match="does not exist"):
        study.warm_start(tmp_path / "none.csv")


def test_resume_in_process_replays_history(xy_space, db_url):
    """A study re-opened after an interrupted run continues the same LHS design."""
    full = create_study(
        xy_space,
        optimizer="lhs",
        optimizer_kwargs={"n_points": 6},
        budget=6,
        storage=db_url,
        study_name="full",
        seed=4,
    )
    full.optimize(objs.quadratic)
    part = create_study(
        xy_space,
        optimizer="lhs",
        optimizer_kwargs={"n_points": 6},
        budget=3,
        storage=db_url,
        study_name="part",
        seed=4,
    )
    part.optimize(objs.quadratic)
    resumed = load_study("part", db_url)
    assert len(resumed.optimizer.observations) == 3
    resumed.optimize(objs.quadratic, budget=6)
    assert [t.params for t in resumed.trials] == [t.params for t in full.trials]
