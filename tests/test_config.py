"""Run-config loading: defaults, overrides, and errors that name key, value and expectation."""

from __future__ import annotations

import dataclasses

import pytest

from llmhpo.config import ExecutionConfig, RunConfig, default_config_path, load_config
from llmhpo.exceptions import InvalidConfigError, InvalidSearchSpaceError
from llmhpo.space import SearchSpace, tribes2023_space

MINIMAL = {"objective": {"type": "synthetic", "name": "branin"}}


def test_defaults_of_a_minimal_config():
    cfg = load_config(MINIMAL)
    assert cfg.study_name == "llmhpo-study"
    assert cfg.storage == "sqlite:///llmhpo.db"
    assert cfg.direction is None and cfg.metric is None
    assert cfg.optimizer == {"name": "auto"}
    assert cfg.execution == ExecutionConfig(n_workers=1, executor=None, trial_timeout=None)
    assert cfg.space is None and cfg.warm_start is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.budget = 3  # type: ignore[misc]


def test_full_yaml_config(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(
        """
study_name: lora-tpe
storage: sqlite:///runs/x.db
direction: maximize
metric: accuracy
budget: 12
seed: 3
optimizer: {name: lhs, n_points: 6}
space: tribes2023
objective: {type: python, target: "helper_objectives:quadratic"}
execution: {n_workers: 2, executor: process, trial_timeout: 1.5, workdir: work}
warm_start: {study: old, storage: sqlite:///old.db}
"""
    )
    cfg = load_config(path)
    assert (cfg.study_name, cfg.storage, cfg.direction, cfg.metric) == (
        "lora-tpe",
        "sqlite:///runs/x.db",
        "maximize",
        "accuracy",
    )
    assert (cfg.budget, cfg.seed) == (12, 3)
    assert cfg.optimizer == {"name": "lhs", "n_points": 6}
    assert cfg.execution == ExecutionConfig(2, "process", 1.5, "work")
    assert cfg.warm_start == {"study": "old", "storage": "sqlite:///old.db"}
    assert cfg.build_space() == tribes2023_space()
    assert cfg.source == str(path)


def test_optimizer_may_be_a_bare_name_and_space_a_mapping():
    cfg = load_config(
        {**MINIMAL, "optimizer": "lhs", "space": {"x": {"type": "int", "low": 0, "high": 3}}}
    )
    assert cfg.optimizer == {"name": "lhs"}
    space = cfg.build_space()
    assert isinstance(space, SearchSpace) and space.names == ["x"]


def test_overrides_replace_only_given_values_and_are_validated():
    cfg = load_config({**MINIMAL, "budget": 5, "execution": {"trial_timeout": 9}})
    new = cfg.with_overrides(budget=40, n_workers=3, storage=None, study_name="s2")
    assert (new.budget, new.study_name, new.storage) == (40, "s2", cfg.storage)
    assert new.execution == ExecutionConfig(3, None, 9, None)
    with pytest.raises(InvalidConfigError, match=r"'budget': got 0, expected a positive integer"):
        cfg.with_overrides(budget=0)


@pytest.mark.parametrize(
    "patch, fragments",
    [
        ({"budjet": 3}, ["unknown config key(s) ['budjet']", "budget"]),
        ({"budget": 0}, ["'budget'", "got 0", "positive integer"]),
        ({"budget": "30"}, ["'budget'", "'30'", "positive integer"]),
        ({"budget": True}, ["'budget'", "True", "positive integer"]),
        ({"seed": -1}, ["'seed'", "-1", "non-negative integer"]),
        ({"direction": "max"}, ["'direction'", "'max'", "'minimize', 'maximize'"]),
        ({"study_name": ""}, ["'study_name'", "''", "non-empty string"]),
        ({"metric": 3}, ["'metric'", "3", "metric name"]),
        ({"execution": {"n_workers": 0}}, ["'execution.n_workers'", "0", "positive integer"]),
        (
            {"execution": {"executor": "threads"}},
            ["'execution.executor'", "'threads'", "'inline', 'process', 'ray'"],
        ),
        (
            {"execution": {"trial_timeout": -2}},
            ["'execution.trial_timeout'", "-2", "positive number"],
        ),
        ({"execution": {"gpus": 2}}, ["unknown execution key(s) ['gpus']", "n_workers"]),
        ({"execution": [1]}, ["'execution'", "got [1], expected a mapping"]),
        ({"warm_start": 3}, ["'warm_start'", "3", "CSV path"]),
        ({"warm_start": {"storage": "sqlite:///a.db"}},
         ["'warm_start'", "CSV path or {study"]),
        ({"optimizer": {"n_points": 3}},
         ["'optimizer'", "expected a name or a mapping with 'name'"]),
        ({"optimizer": "gradient"}, ["'optimizer.name'", "'gradient'", "'lhs'", "'random'"]),
        ({"objective": {"type": "magic"}}, ["'objective.type'", "'magic'", "'synthetic'"]),
        ({"objective": "branin"}, ["'objective'", "'branin'", "a mapping with a 'type'"]),
    ],
)
def test_bad_config_errors_name_key_value_and_expectation(patch, fragments):
    with pytest.raises(InvalidConfigError) as info:
        load_config({**MINIMAL, **patch})
    msg = str(info.value)
    for f in fragments:
        assert f in msg, (f, msg)


def test_bad_space_in_config_names_the_variable_at_load_time():
    with pytest.raises(InvalidSearchSpaceError, match=r"'lr'.*got 5.*\[1e-05, 0.01\]"):
        load_config(
            {
                **MINIMAL,
                "space": {"lr": {"type": "float", "low": 1e-5, "high": 1e-2, "default": 5}},
            }
        )
    with pytest.raises(InvalidSearchSpaceError, match="unknown space preset 'tribes'"):
        load_config({**MINIMAL, "space": "tribes"})


def test_missing_objective_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(InvalidConfigError, match="needs an 'objective'"):
        load_config({"budget": 3})
    with pytest.raises(InvalidConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("budget: [1, 2\n")
    with pytest.raises(InvalidConfigError, match="not valid YAML"):
        load_config(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(InvalidConfigError, match=r"got \[1, 2\], expected a mapping of keys"):
        load_config(lst)


def test_packaged_configs_load():
    cfg = load_config(default_config_path())
    assert isinstance(cfg, RunConfig)
    # the main job: LoRA HPO of the built-in SmolLM2 with BO, validation loss as objective
    assert cfg.objective["type"] == "lora"
    assert cfg.objective["model"] == "smollm2-135m-instruct"
    assert cfg.objective["metric"] == "val_loss"
    assert cfg.optimizer["name"] == "bo"
    assert cfg.report is not None
    configs = default_config_path().parent
    for name in ("branin_lhs.yaml", "branin_random.yaml"):
        assert load_config(configs / name).objective["name"] == "branin"


def test_recheck_and_references_keys_are_validated():
    from llmhpo.config import load_config

    base = {"objective": {"type": "synthetic", "name": "branin"}}
    assert load_config(base).recheck is None
    assert load_config({**base, "recheck": True}).recheck == {"top_k": 2, "seeds": 2}
    assert load_config({**base, "recheck": {"top_k": 1, "seeds": [7, 8]}}).recheck == {
        "top_k": 1, "seeds": [7, 8]}
    cfg = load_config({**base, "references": {"mine": {"x1": 0.0, "x2": 1.0}}})
    assert cfg.references == {"mine": {"x1": 0.0, "x2": 1.0}}
    for bad, match in (
        ({"recheck": {"top_k": 0}}, "recheck.top_k"),
        ({"recheck": {"top_k": 2, "seeds": 0}}, "recheck seeds"),
        ({"recheck": {"k": 2}}, "'recheck'"),
        ({"references": {"mine": 3}}, "'references'"),
        ({"references": {"base": {"x1": 0.0}}}, "'references.base'"),
    ):
        with pytest.raises(InvalidConfigError, match=match):
            load_config({**base, **bad})


def test_execution_resources_and_heartbeat_keys_are_validated():
    base = {"objective": {"type": "synthetic", "name": "branin"}}
    cfg = load_config({**base, "execution": {
        "executor": "ray", "n_workers": 2, "ray_address": "127.0.0.1:6379",
        "resources_per_trial": {"cpu": 2, "gpu": 0.5, "a100": 1},
        "heartbeat_interval": 5, "grace_period": 30}})
    assert cfg.execution.resources_per_trial == {"cpu": 2, "gpu": 0.5, "a100": 1}
    assert (cfg.execution.heartbeat_interval, cfg.execution.grace_period) == (5, 30)
    bad = [
        ({"executor": "process", "resources_per_trial": {"a100": 1}}, "custom resources"),
        ({"executor": "process", "resources_per_trial": {"gpu": 0.5}}, "whole number"),
        ({"resources_per_trial": {"gpu": -1}}, "non-negative"),
        ({"heartbeat_interval": 0}, "heartbeat_interval"),
        ({"heartbeat_interval": 10, "grace_period": 5}, "more than heartbeat_interval"),
    ]
    for execution, words in bad:
        with pytest.raises(InvalidConfigError, match=words):
            load_config({**base, "execution": execution})
