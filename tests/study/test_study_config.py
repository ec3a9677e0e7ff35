"""The study's optimizer configuration: the budget capability (one path for the Python API and
the CLI), the recorded configuration checked on resume, read-only opening."""

from __future__ import annotations

import importlib.util

import pytest

from llmhpo.exceptions import InvalidConfigError
from llmhpo.optimizers import get_optimizer, make_optimizer
from llmhpo.study import create_study, load_study
from llmhpo.study.storage import StudyStorage, open_storage


@pytest.mark.parametrize(
    "name, param",
    [("soo", "budget"), ("bamsoo", "budget"), ("lhs", "n_points"),
     pytest.param("mads", "budget", marks=pytest.mark.skipif(
         importlib.util.find_spec("PyNomad") is None, reason="PyNomad not installed"))],
)
def test_the_python_api_gives_the_budget_to_optimizers_that_take_it(xy_space, name, param):
    # Failed on the old code: create_study(optimizer="soo", budget=50) built SOO without a
    # budget (only the CLI looked at constructor signatures).
    assert get_optimizer(name).capabilities.budget_param == param
    study = create_study(xy_space, optimizer=name, budget=7)
    assert study.optimizer.get_config()[param] == 7
    mine = create_study(xy_space, optimizer=name, budget=7, optimizer_kwargs={param: 3})
    assert mine.optimizer.get_config()[param] == 3  # the user's own value wins


def test_optimizers_without_the_capability_ignore_the_budget(xy_space):
    assert get_optimizer("random").capabilities.budget_param is None
    assert make_optimizer("random", xy_space, seed=1, study_budget=9).get_config() == {
        "name": "random", "seed": 1}


def test_resuming_with_another_optimizer_is_an_error(xy_space, db_url):
    create_study(xy_space, optimizer="random", storage=db_url, study_name="s", budget=3)
    with pytest.raises(InvalidConfigError) as err:
        create_study(xy_space, optimizer="lhs", storage=db_url, study_name="s", budget=3)
    msg = str(err.value)
    assert "'random'" in msg and "'lhs'" in msg and "switch" in msg
    with pytest.raises(InvalidConfigError, match="seed: stored 0, given 5"):
        create_study(xy_space, optimizer="random", storage=db_url, study_name="s", budget=3,
                     seed=5)
    assert load_study("s", db_url).optimizer_config == {"name": "random", "seed": 0}


def test_an_explicit_switch_is_recorded(xy_space, db_url):
    s = create_study(xy_space, optimizer="random", storage=db_url, study_name="s", budget=2)
    s.optimize(lambda p, c: p["x"])
    s2 = create_study(xy_space, optimizer="lhs", storage=db_url, study_name="s", budget=4,
                      switch_optimizer=True)
    s2.optimize(lambda p, c: p["x"])
    back = load_study("s", db_url)
    assert back.optimizer_config == {"name": "lhs", "seed": 0, "n_points": 4}
    assert back.optimizer_switches == [{
        "at_trial": 2, "from": {"name": "random", "seed": 0},
        "to": {"name": "lhs", "seed": 0, "n_points": 4},
    }]
    assert back.optimizer.name == "lhs" and len(back.trials) == 4


def test_a_growing_budget_is_not_a_switch(xy_space, db_url):
    create_study(xy_space, optimizer="soo", storage=db_url, study_name="s", budget=3)
    again = create_study(xy_space, optimizer="soo", storage=db_url, study_name="s", budget=8)
    assert again.optimizer.get_config()["budget"] == 8
    # LHS keeps its design size: the same design continues under a larger budget
    create_study(xy_space, optimizer="lhs", storage=db_url, study_name="l", budget=3)
    lhs = create_study(xy_space, optimizer="lhs", storage=db_url, study_name="l", budget=8)
    assert lhs.optimizer.get_config()["n_points"] == 3


def test_read_only_opening_builds_no_optimizer(xy_space, db_url):
    s = create_study(xy_space, storage=db_url, study_name="s", budget=2)
    s.optimize(lambda p, c: p["x"])
    # an optimizer configuration that cannot be built here (as MADS without PyNomad)
    records = StudyStorage(open_storage(db_url), "s", create=False)
    records.set_attr("optimizer", {"name": "random", "seed": 0, "not_a_parameter": 1})
    with pytest.raises(InvalidConfigError, match="not_a_parameter"):
        load_study("s", db_url)
    ro = load_study("s", db_url, read_only=True)
    assert ro.read_only and len(ro.trials) == 2 and ro.best_trial is not None
    assert ro.optimizer_config["not_a_parameter"] == 1
    with pytest.raises(InvalidConfigError, match="read-only"):
        ro.optimize(lambda p, c: p["x"], budget=3)
    assert len(load_study("s", db_url, read_only=True).trials) == 2


def test_a_parameter_added_to_an_optimizer_later_is_not_a_switch(xy_space, db_url):
    create_study(xy_space, optimizer="soo", storage=db_url, study_name="s", budget=3)
    records = StudyStorage(open_storage(db_url), "s", create=False)
    old = {k: v for k, v in records.get_attr("optimizer").items() if k != "randomize"}
    records.set_attr("optimizer", old)  # as stored before SOO had `randomize`
    again = create_study(xy_space, optimizer="soo", storage=db_url, study_name="s", budget=3)
    assert again.optimizer.get_config()["randomize"] is False
    with pytest.raises(InvalidConfigError, match="k: stored 3, given 2"):
        create_study(xy_space, optimizer="soo", storage=db_url, study_name="s", budget=3,
                     optimizer_kwargs={"k": 2})


def test_auto_is_the_default_optimizer_of_the_api_and_of_a_config(xy_space):
    """``auto`` won or tied every suite of the bench (docs/bench.md), so it is the default."""
    from llmhpo.config import load_config

    study = create_study(xy_space, budget=12)
    cfg = study.optimizer_config
    assert cfg["name"] == "auto" and cfg["budget"] == 12  # the budget reaches it
    assert type(study.optimizer).__name__ == "AutoOptimizer"
    run = load_config({"objective": {"type": "synthetic", "name": "branin"}})
    assert run.optimizer == {"name": "auto"}


def test_a_study_stored_under_older_defaults_resumes_with_its_own_settings(xy_space, db_url):
    pytest.importorskip("botorch")
    # Failed on the old code: BO-GP's defaults changed (2026-12-06), so resuming a study
    # created before with `optimizer: bo` raised "would change num_restarts, fit, ...".
    create_study(xy_space, optimizer="bo", storage=db_url, study_name="old", budget=3)
    old = {"name": "bo", "seed": 0, "n_init": 10, "num_restarts": 10, "raw_samples": 512,
           "acquisition": "logei", "ucb_beta": "gp-ucb", "noisy": False, "fit": "full",
           "fast_posterior": False, "fast_fit": False}  # as the earlier version stored it
    StudyStorage(open_storage(db_url), "old", create=False).set_attr("optimizer", old)
    again = create_study(xy_space, optimizer="bo", storage=db_url, study_name="old", budget=3)
    # the stored settings, and the model it ran with for the two keys it predates
    assert again.optimizer.get_config() == {**old, "kernel": "rbf", "incumbent_start": False}
    assert load_study("old", db_url).optimizer_switches == []
    # a value the caller gives still counts as a change
    with pytest.raises(InvalidConfigError, match="num_restarts: stored 10, given 3"):
        create_study(xy_space, optimizer="bo", storage=db_url, study_name="old", budget=3,
                     optimizer_kwargs={"num_restarts": 3})
    # a new study gets today's defaults
    new = create_study(xy_space, optimizer="bo", storage=db_url, study_name="new", budget=3)
    assert new.optimizer.get_config()["kernel"] == "matern52"


def test_an_auto_study_from_before_resumes_with_cobyla_then_bamsoo(xy_space, db_url):
    create_study(xy_space, optimizer="auto", storage=db_url, study_name="a", budget=20)
    old = {"name": "auto", "seed": 0, "budget": 20, "n_workers": 1, "noisy": False,
           "stall_fraction": None, "stall_min": 10, "local_start": None,
           "local_max_fraction": 1.0, "local_tol": None, "plateau_share": 0.6}
    StudyStorage(open_storage(db_url), "a", create=False).set_attr("optimizer", old)
    again = create_study(xy_space, optimizer="auto", storage=db_url, study_name="a", budget=20)
    assert again.optimizer.get_config() == {**old, "after_local": "bamsoo"}
    fresh = create_study(xy_space, optimizer="auto", storage=db_url, study_name="b", budget=20)
    cfg = fresh.optimizer.get_config()
    assert (cfg["after_local"], cfg["local_max_fraction"]) == ("bo", 0.2)


def test_a_bilevel_study_stored_under_older_defaults_resumes_too(xy_space, db_url):
    pytest.importorskip("botorch")
    # bilevel_bo forwards **kwargs to BO-GP: its stored BO-GP settings must be used as well
    create_study(xy_space, optimizer="bilevel_bo", storage=db_url, study_name="bl", budget=3)
    old = {"name": "bilevel_bo", "seed": 0, "n_init": 10, "num_restarts": 10,
           "raw_samples": 512, "ucb_beta": "gp-ucb", "noisy": False, "fit": "full",
           "fast_posterior": False, "fast_fit": False, "outer_acq": "ei", "inner_acq": "ucb",
           "inner_budget": 8, "inner_n_init": 3, "checkpoint_every": 2, "train_subset": 64}
    StudyStorage(open_storage(db_url), "bl", create=False).set_attr("optimizer", old)
    again = create_study(xy_space, optimizer="bilevel_bo", storage=db_url, study_name="bl",
                         budget=3)
    assert again.optimizer.get_config() == {**old, "kernel": "rbf", "incumbent_start": False}
