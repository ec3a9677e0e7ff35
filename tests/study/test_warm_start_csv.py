"""Warm start from a CSV (Tribes et al. 2023's cache file) and from another study."""

from __future__ import annotations

import csv

import pytest
from helper_objectives import quadratic

from llmhpo import create_study, load_study
from llmhpo.exceptions import InvalidConfigError
from llmhpo.space import Float, SearchSpace
from llmhpo.study import TrialState

XY = SearchSpace([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)])


@pytest.fixture
def source(db_url):
    """A finished study of 5 trials (4 complete, the 3rd one failed) in a real SQLite file."""
    study = create_study(XY, storage=db_url, study_name="source", budget=5, seed=11)
    study.optimize(quadratic, budget=2)
    (p,) = study.ask(1)
    study.tell(p, None, error="crashed on purpose")
    study.optimize(quadratic, budget=5)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2 + [TrialState.FAILED] + [
        TrialState.COMPLETE
    ] * 2
    return study


def _check_imported(target, source, n_new: int) -> None:
    imported = [t for t in target.trials if t.warm_start]
    assert len(imported) == n_new == len(source.trials)
    assert [t.params for t in imported] == [t.params for t in source.trials]
    assert [t.value for t in imported] == [t.value for t in source.trials]
    assert [t.state for t in imported] == [t.state for t in source.trials]
    assert target.n_finished == 0  # warm-start points do not count against the budget
    assert target.best_trial is None  # nor are they the study's own best
    assert len(target.optimizer.observations) == 5
    told = [o.value for o in target.optimizer.observations]
    assert told == [t.value for t in source.trials]  # the failure is told as None


def test_warm_start_from_a_csv_export(tmp_path, db_url, source):
    path = source.to_csv(tmp_path / "cache.csv")
    target = create_study(XY, storage=db_url, study_name="target", budget=3, seed=2)
    n = target.warm_start(path)
    _check_imported(target, source, n)

    assert target.warm_start(path) == 0  # duplicates are skipped
    assert len(target.trials) == 5

    target.optimize(quadratic)  # the budget counts only the new trials
    assert target.n_finished == 3 and len(target.trials) == 8
    assert [t.warm_start for t in target.trials] == [True] * 5 + [False] * 3

    resumed = load_study("target", db_url)  # replay on resume includes the imported points
    assert len(resumed.optimizer.observations) == 8


def test_warm_start_from_another_study(db_url, source):
    target = create_study(XY, study_name="mem", budget=2, seed=2)  # in memory
    n = target.warm_start(source)
    _check_imported(target, source, n)
    assert target.warm_start(source) == 0
    # a maximizing study is told the negated values (optimizers always minimize)
    maxi = create_study(XY, direction="maximize", budget=1)
    maxi.warm_start(source)
    assert [o.value for o in maxi.optimizer.observations] == [
        None if t.value is None else -t.value for t in source.trials
    ]


def _write_csv(path, header, rows):
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_csv_missing_column_names_the_file_and_the_column(tmp_path):
    path = _write_csv(tmp_path / "nox.csv", ["y", "value"], [[0.1, 1.0]])
    study = create_study(XY, budget=1)
    with pytest.raises(InvalidConfigError) as info:
        study.warm_start(path)
    msg = str(info.value)
    assert "nox.csv" in msg and "missing ['x']" in msg


def test_csv_illegal_value_names_the_file_line_and_column(tmp_path):
    path = _write_csv(
        tmp_path / "bad.csv", ["x", "y", "value"], [[0.1, 0.2, 1.0], [0.5, 7.5, 2.0]]
    )
    study = create_study(XY, budget=1)
    with pytest.raises(InvalidConfigError) as info:
        study.warm_start(path)
    msg = str(info.value)
    assert f"{path}:3" in msg  # header is line 1, the bad row is line 3
    assert "'y'" in msg and "7.5" in msg and "[0.0, 1.0]" in msg
    assert study.trials == []  # nothing half-imported


def test_csv_non_numeric_value_names_the_file_line_and_column(tmp_path):
    path = _write_csv(tmp_path / "val.csv", ["x", "y", "value"], [[0.1, 0.2, "oops"]])
    study = create_study(XY, budget=1)
    with pytest.raises(InvalidConfigError) as info:
        study.warm_start(path)
    msg = str(info.value)
    assert f"{path}:2" in msg and "'value'" in msg and "'oops'" in msg


def test_csv_that_does_not_exist(tmp_path):
    study = create_study(XY, budget=1)
    with pytest.raises(InvalidConfigError, match="does not exist"):
        study.warm_start(tmp_path / "nope.csv")
