"""External objectives: a command that prints JSON metrics, and a Python ``module:function``."""

from __future__ import annotations

import sys
import textwrap

import pytest

from llmhpo import create_study
from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.registry import build_objective
from llmhpo.space import Float, SearchSpace
from llmhpo.study import TrialState

SPACE = SearchSpace([Float("x1", -5.0, 10.0), Float("x2", 0.0, 15.0)])

SCRIPT = """
import json, os, sys, time
mode = sys.argv[1]
params = json.loads(os.environ["LLMHPO_PARAMS"])
if mode == "ok":
    x1 = float(sys.argv[2])  # filled from the {x1} placeholder
    print("training... loss going down")
    print(json.dumps({"value": x1 + params["x2"], "x1_arg": x1, "x1_env": params["x1"],
                      "trial_env": int(os.environ["LLMHPO_TRIAL"]), "trial_arg": sys.argv[3]}))
elif mode == "crash":
    print("some progress output")
    print("CUDA error: an illegal memory access was encountered", file=sys.stderr)
    sys.exit(4)
elif mode == "nojson":
    print("finished, loss = 0.25")
elif mode == "sleep":
    time.sleep(30)
"""


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(SCRIPT))
    return str(path)


def _study_with(cfg: dict, budget: int = 2):
    spec = build_objective(cfg)
    study = create_study(SPACE, budget=budget, seed=4)
    study.optimize(spec.objective)
    return study


def test_command_fills_placeholders_and_passes_params_in_the_environment(script):
    study = _study_with(
        {"type": "command", "command": [sys.executable, script, "ok", "{x1}", "{trial}"]}
    )
    for t in study.trials:
        assert t.state is TrialState.COMPLETE
        assert t.metrics["x1_arg"] == t.params["x1"]  # str(float) round-trips exactly
        assert t.metrics["x1_env"] == t.params["x1"]
        assert t.value == t.params["x1"] + t.params["x2"]
        assert t.metrics["trial_env"] == t.number and t.metrics["trial_arg"] == str(t.number)


def test_command_with_nonzero_exit_fails_with_the_stderr_tail(script):
    study = _study_with({"type": "command", "command": [sys.executable, script, "crash"]})
    for t in study.trials:
        assert t.state is TrialState.FAILED
        assert "exited with status 4" in t.error
        assert "CUDA error: an illegal memory access" in t.error


def test_command_without_json_output_fails_with_its_last_lines(script):
    study = _study_with({"type": "command", "command": [sys.executable, script, "nojson"]})
    for t in study.trials:
        assert t.state is TrialState.FAILED
        assert "no JSON object" in t.error and "finished, loss = 0.25" in t.error


def test_command_over_its_timeout_is_a_timeout_trial(script):
    study = _study_with(
        {"type": "command", "command": [sys.executable, script, "sleep"], "timeout": 0.5},
        budget=1,
    )
    (t,) = study.trials
    assert t.state is TrialState.TIMEOUT
    assert "time limit of 0.5 s" in t.error
    assert t.duration < 10  # killed, not waited for


def test_python_target_with_kwargs_and_a_one_argument_function():
    spec = build_objective(
        {"type": "python", "target": "helper_objectives:scaled", "kwargs": {"scale": 3.0,
                                                                          "offset": 1.0}}
    )
    study = create_study(SearchSpace([Float("x", 0.0, 1.0)]), budget=2, seed=0)
    study.optimize(spec.objective)
    for t in study.trials:
        assert t.value == 3.0 * t.params["x"] + 1.0 and t.metrics["trial"] == t.number

    one = build_objective({"type": "python", "target": "helper_objectives:x_only"})
    study = create_study(SearchSpace([Float("x", 0.0, 1.0)]), budget=2, seed=0)
    study.optimize(one.objective)
    assert [t.value for t in study.trials] == [10 * t.params["x"] for t in study.trials]


@pytest.mark.parametrize(
    "cfg, fragment",
    [
        ({"type": "python", "target": "helper_objectives.quadratic"}, "package.module:function"),
        ({"type": "python", "target": "no_such_module_xyz:f"}, "'no_such_module_xyz'"),
        ({"type": "python", "target": "helper_objectives:nope"}, "no attribute 'nope'"),
        ({"type": "python", "target": "helper_objectives:f", "args": 1}, "'args'"),
        ({"type": "command", "command": []}, "non-empty list"),
        ({"type": "command", "command": ["x"], "timeout": -1}, "-1"),
    ],
)
def test_bad_external_objective_configs_raise_invalid_config(cfg, fragment):
    with pytest.raises(InvalidConfigError) as info:
        build_objective(cfg)
    assert fragment in str(info.value)


def test_unknown_placeholder_is_an_error_before_any_trial(script):
    # Study.optimize calls the objective's check_space once, before any trial (issue 11)
    spec = build_objective({"type": "command", "command": [sys.executable, script, "ok", "{lr}"]})
    study = create_study(SPACE, budget=1, seed=4)
    with pytest.raises(InvalidConfigError) as err:
        study.optimize(spec.objective)
    assert "'lr'" in str(err.value) and "'x1'" in str(err.value) and study.trials == []
