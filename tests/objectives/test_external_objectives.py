"""`python` and `command` objectives: real imports, real subprocesses."""

from __future__ import annotations

import json
import os
import pickle
import sys
import time

import pytest

from llmhpo.exceptions import InvalidConfigError
from llmhpo.objectives.external import CommandObjective, PythonObjective
from llmhpo.objectives.registry import build_objective
from llmhpo.study import TrialContext, TrialState, run_objective

PY = sys.executable


# ----- python -----------------------------------------------------------------------------------
def test_python_target_gets_params_ctx_and_kwargs():
    spec = build_objective(
        {
            "type": "python",
            "target": "helper_objectives:with_kwargs",
            "kwargs": {"scale": 2, "offset": 1},
        }
    )
    assert spec.space is None
    out = spec.objective({"x": 0.25}, TrialContext(number=7))
    assert out == {"value": 2 * 0.25 + 1, "trial": 7}


def test_python_one_argument_function_is_called_with_params_only():
    obj = build_objective({"type": "python", "target": "helper_objectives:one_arg"}).objective
    assert obj({"x": 1.0, "y": 2.0}, TrialContext(number=0)) == 21.0


def test_python_objective_pickles_as_its_target_string():
    obj = PythonObjective("helper_objectives:quadratic")
    obj({"x": 0.0, "y": 0.0})  # imports and caches the function
    blob = pickle.dumps(obj)
    assert b"helper_objectives:quadratic" in blob
    clone = pickle.loads(blob)
    assert clone._fn is None  # imported again lazily in the worker
    assert clone({"x": 0.3, "y": 0.6}) == 0.0


@pytest.mark.parametrize(
    "cfg, fragment",
    [
        ({"target": "helper_objectives.quadratic"}, "'package.module:function'"),
        ({"target": "no_such_module_xyz:f"}, "cannot import module 'no_such_module_xyz'"),
        ({"target": "helper_objectives:nope"}, "has no attribute 'nope'"),
        ({"target": "helper_objectives:TESTS_DIR"}, None),
        ({"kwargs": {}}, "'target' (required)"),
        ({"target": "helper_objectives:quadratic", "args": [1]}, "got keys ['args', 'target']"),
    ],
)
def test_python_config_errors(cfg, fragment):
    with pytest.raises(InvalidConfigError) as info:
        build_objective({"type": "python", **cfg})
    if fragment:
        assert fragment in str(info.value)


# ----- command ----------------------------------------------------------------------------------
def _cmd(code: str) -> list[str]:
    return [PY, "-c", code]


def test_command_fills_placeholders_env_and_reads_the_last_json_line(tmp_path):
    code = (
        "import json, os, sys\n"
        "print('starting, not json')\n"
        "print(json.dumps({'loss': 99.0}))\n"
        "print('{not json either')\n"
        "p = json.loads(os.environ['LLMHPO_PARAMS'])\n"
        "print(json.dumps({'loss': float(sys.argv[1]) * 2,"
        " 'trial': int(os.environ['LLMHPO_TRIAL']), 'argtrial': int(sys.argv[2]),"
        " 'env_lr': p['learning_rate'], 'extra': os.environ['EXTRA'], 'cwd': os.getcwd()}))\n"
        "print('done')\n"
    )
    spec = build_objective(
        {
            "type": "command",
            "command": _cmd(code) + ["{learning_rate}", "{trial}"],
            "env": {"EXTRA": "yes"},
            "cwd": str(tmp_path),
        }
    )
    out = spec.objective({"learning_rate": 0.125}, TrialContext(number=4))
    assert out == {
        "loss": 0.25,
        "trial": 4,
        "argtrial": 4,
        "env_lr": 0.125,
        "extra": "yes",
        "cwd": os.path.realpath(tmp_path),
    }


def test_command_string_is_split_like_a_shell(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("import sys, json; print(json.dumps({'value': float(sys.argv[2])}))\n")
    obj = CommandObjective(f"{PY} {script} --lr {{lr}}")
    assert obj({"lr": 0.5}, TrialContext(number=0)) == {"value": 0.5}


def test_command_nonzero_exit_fails_with_the_stderr_tail():
    code = "import sys\nfor i in range(40): print('line', i, file=sys.stderr)\nsys.exit(3)"
    out = run_objective(CommandObjective(_cmd(code)), {}, TrialContext(number=0))
    assert out.state is TrialState.FAILED
    assert "exited with status 3" in out.error
    assert "line 39" in out.error and "line 5\n" not in out.error  # only the tail


def test_command_without_json_fails_saying_so():
    out = run_objective(
        CommandObjective(_cmd("print('hello'); print('[1, 2]')")), {}, TrialContext(0)
    )
    assert out.state is TrialState.FAILED
    assert "printed no JSON object" in out.error and "[1, 2]" in out.error


def test_command_unknown_placeholder_is_a_config_error():
    obj = CommandObjective(_cmd("print(1)") + ["{nope}"])
    with pytest.raises(InvalidConfigError, match="placeholder 'nope'.*known: \\['lr', 'trial'\\]"):
        obj({"lr": 1.0}, TrialContext(0))


def test_command_timeout_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    # the command starts a grandchild that would outlive a plain kill of the direct child
    code = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([{PY!r}, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    obj = CommandObjective(_cmd(code), timeout=1.0)
    t0 = time.monotonic()
    out = run_objective(obj, {}, TrialContext(0))
    assert out.state is TrialState.TIMEOUT
    assert "time limit of 1.0 s" in out.error
    assert time.monotonic() - t0 < 30
    grandchild = int(pidfile.read_text())
    for _ in range(50):  # reaped by init shortly after SIGKILL
        if not _alive(grandchild):
            break
        time.sleep(0.1)
    assert not _alive(grandchild)


def test_command_uses_the_trial_time_limit_when_shorter():
    obj = CommandObjective(_cmd("import time; time.sleep(30)"), timeout=100)
    out = run_objective(obj, {}, TrialContext(0, time_limit=0.5))
    assert out.state is TrialState.TIMEOUT and "0.5 s" in out.error


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize(
    "cfg, fragment",
    [
        ({"command": []}, "non-empty list of strings"),
        ({"command": ["a", 3]}, "non-empty list of strings"),
        ({"command": ["a"], "timeout": 0}, "objective.timeout: got 0, expected a positive number"),
        ({"cmd": ["a"]}, "'command' (required)"),
    ],
)
def test_command_config_errors(cfg, fragment):
    with pytest.raises(InvalidConfigError) as info:
        build_objective({"type": "command", **cfg})
    assert fragment in str(info.value)


def test_command_objective_pickles():
    obj = CommandObjective(_cmd("import json; print(json.dumps({'value': 1}))"), timeout=5)
    clone = pickle.loads(pickle.dumps(obj))
    assert clone({}, TrialContext(0)) == {"value": 1}
    assert json.loads(json.dumps(clone.command)) == obj.command
