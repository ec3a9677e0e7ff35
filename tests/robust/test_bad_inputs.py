"""A corpus of bad inputs, each run through the real CLI entry point.

Every case must end in exactly one ``llmhpo: error: ...`` line on stderr naming what was
wrong, exit status 2, no traceback, and nothing created or changed in the working directory
(the default storage, a report directory, a half-created study). Most cases call
``llmhpo.cli.main.main(argv)`` in-process (the same code as the command, without a Python
start-up per case); a few go through real ``llmhpo`` subprocesses.

``docs/reliability.md`` gives the share of these cases that passed before the reliability
work (measured by running this file against the earlier code).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmhpo.cli.main import main

BASE: dict[str, Any] = {
    "study_name": "s",
    "storage": "sqlite:///s.db",
    "budget": 3,
    "objective": {"type": "synthetic", "name": "branin"},
}
X_SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
PY = {"type": "python", "target": "robust_objectives:value_and_pid"}
CMD = {"type": "command", "command": ["echo", '{"value": 1}']}


def cfg(**over: Any) -> str:
    return yaml.safe_dump({**BASE, **over}, sort_keys=False)


def bomb(levels: int = 9) -> str:
    """A YAML alias bomb as one flow sequence: 10**levels strings once expanded (shared
    references; echoing it whole once took 87 s and 2 GB of stderr)."""
    parts = ['&a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        parts.append(f"&a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    return "[" + ", ".join(parts) + "]"


@dataclass
class Case:
    id: str
    argv: list[str]
    fragments: list[str]
    files: dict[str, str | bytes] = field(default_factory=dict)
    setup: str | None = None  # "db": a valid study in s.db before the command


def C(id: str, text: str | bytes, *fragments: str, **kw: Any) -> Case:  # noqa: N802
    files = {"c.yaml": text, **kw.pop("files", {})}
    return Case(id, ["run", "c.yaml", "--quiet", *kw.pop("flags", [])], list(fragments), files,
                **kw)


WS_HEADER = "x1,x2,value\n"
CASES: list[Case] = [
    # ----- the config file itself
    C("non-utf8", b"study_name: \xff\xfe\nbudget: 3\n", "not UTF-8", "byte 12"),
    C("bad-yaml", "budget: [1, 2\n", "not valid YAML"),
    C("top-list", "- 1\n- 2\n", "got [1, 2]", "mapping of keys"),
    C("top-scalar", "hello\n", "got 'hello'", "mapping of keys"),
    C("empty-file", "", "got None", "mapping of keys"),
    C("dup-top-key", cfg() + "budget: 4\n", "duplicate key 'budget'"),
    C("dup-variable", cfg() + "space:\n  x1: {type: float, low: -5, high: 10}\n"
      "  x1: {type: float, low: 0, high: 15}\n", "duplicate key 'x1'"),
    C("unknown-top-key", cfg(budgett=3), "unknown config key", "budgett"),
    C("no-objective", yaml.safe_dump({"budget": 3}), "needs an 'objective'"),
    C("tabs", "budget:\t3\n\tobjective: 1\n", "not valid YAML"),
    # ----- top-level values
    C("budget-0", cfg(budget=0), "'budget'", "got 0", "positive integer"),
    C("budget-neg", cfg(budget=-5), "'budget'", "-5"),
    C("budget-str", cfg(budget="10"), "'budget'", "'10'"),
    C("budget-float", cfg(budget=2.5), "'budget'", "2.5"),
    C("budget-bool", cfg(budget=True), "'budget'", "True"),
    C("budget-huge", cfg(budget=10**10), "'budget'", "10000000000", "<= 1000000"),
    C("seed-neg", cfg(seed=-1), "'seed'", "-1", "non-negative"),
    C("seed-str", cfg(seed="x"), "'seed'", "'x'"),
    C("direction", cfg(direction="max"), "'direction'", "'max'", "'minimize'"),
    C("study-empty", cfg(study_name=""), "'study_name'", "''"),
    C("study-int", cfg(study_name=5), "'study_name'", "got 5"),
    C("metric-int", cfg(metric=3), "'metric'", "got 3"),
    # ----- storage URLs
    C("storage-int", cfg(storage=5), "'storage'", "got 5"),
    C("storage-scheme", cfg(storage="mongodb://h/db"), "'storage'", "mongodb", "scheme"),
    C("storage-postgres-alias", cfg(storage="postgres://u@h/db"), "'storage'", "postgresql://"),
    C("storage-sqlite-2-slashes", cfg(storage="sqlite://x.db"), "'storage'", "three slashes"),
    C("storage-parent-file", cfg(storage="sqlite:///afile/x.db"), "'storage'", "is a file",
      files={"afile": "text"}),
    C("storage-is-dir", cfg(storage="sqlite:///adir"), "'storage'", "not a directory",
      files={"adir/keep": ""}),
    C("storage-text-file", cfg(storage="sqlite:///notes.txt"), "'storage'",
      "SQLite database file", files={"notes.txt": "hello\n"}),
    C("storage-bare-path-dir", cfg(storage="adir"), "'storage'", "not a directory",
      files={"adir/keep": ""}),
    C("storage-no-driver", cfg(storage="postgresql+pg8000://u@localhost/db"),
      "pip install pg8000"),
    C("storage-mysql-no-driver", cfg(storage="mysql://u@localhost/db"),
      "pip install mysqlclient"),
    C("storage-unknown-driver", cfg(storage="postgresql+nodriver://u@h/db"), "driver"),
    # ----- execution
    C("exec-list", cfg(execution=[1]), "'execution'", "got [1]", "mapping"),
    C("workers-0", cfg(execution={"n_workers": 0}), "'execution.n_workers'", "got 0"),
    C("workers-str", cfg(execution={"n_workers": "2"}), "'execution.n_workers'", "'2'"),
    C("workers-huge", cfg(execution={"n_workers": 5000}), "'execution.n_workers'", "5000"),
    C("executor-threads", cfg(execution={"executor": "threads"}), "'execution.executor'",
      "'threads'", "'process'"),
    C("timeout-neg", cfg(execution={"trial_timeout": -2}), "'execution.trial_timeout'", "-2"),
    C("timeout-zero", cfg(execution={"trial_timeout": 0}), "'execution.trial_timeout'", "got 0"),
    C("timeout-str", cfg(execution={"trial_timeout": "10"}), "'execution.trial_timeout'", "'10'"),
    C("workdir-int", cfg(execution={"workdir": 5}), "'execution.workdir'", "got 5"),
    C("exec-unknown", cfg(execution={"gpus": 2}), "unknown execution key", "gpus"),
    C("inline-with-timeout", cfg(objective=PY, space=X_SPACE,
                                 execution={"executor": "inline", "trial_timeout": 5}),
      "'execution.trial_timeout'", "inline", "process"),
    C("inline-2-workers", cfg(execution={"executor": "inline", "n_workers": 2}),
      "'execution.n_workers'", "inline"),
    C("report-int", cfg(report=5), "'report'", "got 5"),
    # ----- optimizer
    C("opt-unknown", cfg(optimizer="gradient"), "'optimizer.name'", "'gradient'", "'random'"),
    C("opt-no-name", cfg(optimizer={"n_points": 3}), "'optimizer'", "'name'"),
    C("opt-list", cfg(optimizer=[1]), "'optimizer'", "got [1]"),
    C("bo-n-init-str", cfg(optimizer={"name": "bo", "n_init": "x"}), "optimizer.n_init",
      "got 'x'", "positive integer"),
    C("lhs-n-points-neg", cfg(optimizer={"name": "lhs", "n_points": -4}), "optimizer.n_points",
      "-4"),
    C("lhs-n-points-huge", cfg(optimizer={"name": "lhs", "n_points": 10**9}),
      "optimizer.n_points", "1000000000"),
    C("soo-k-1", cfg(optimizer={"name": "soo", "k": 1}), "optimizer.k", "got 1", ">= 2"),
    C("soo-hmax-neg", cfg(optimizer={"name": "soo", "h_max": -1}), "optimizer.h_max", "-1"),
    C("bamsoo-eta", cfg(optimizer={"name": "bamsoo", "eta": 2}), "optimizer.eta", "got 2"),
    C("tpe-bool-str", cfg(optimizer={"name": "tpe", "multivariate": "false"}),
      "optimizer.multivariate", "'false'", "true or false"),
    C("tpe-candidates-0", cfg(optimizer={"name": "tpe", "n_ei_candidates": 0}),
      "optimizer.n_ei_candidates", "got 0"),
    C("bo-raw-samples-float", cfg(optimizer={"name": "bo", "raw_samples": 1.5}),
      "optimizer.raw_samples", "1.5"),
    C("random-unexpected", cfg(optimizer={"name": "random", "foo": 1}), "optimizer 'random'",
      "foo"),
    # ----- objective
    C("obj-string", cfg(objective="branin"), "'objective'", "'branin'"),
    C("obj-type", cfg(objective={"type": "magic"}), "'objective.type'", "'magic'"),
    C("synthetic-no-name", cfg(objective={"type": "synthetic"}), "needs a 'name'"),
    C("synthetic-unknown", cfg(objective={"type": "synthetic", "name": "nope"}), "'nope'"),
    C("synthetic-dim-0", cfg(objective={"type": "synthetic", "name": "rosenbrock", "dim": 0}),
      "objective.dim", "got 0"),
    C("synthetic-extra", cfg(objective={"type": "synthetic", "name": "branin", "foo": 1}),
      "unknown field", "foo"),
    C("python-no-colon", cfg(objective={"type": "python", "target": "nocolon"}, space=X_SPACE),
      "objective.target", "'nocolon'"),
    C("python-no-module", cfg(objective={"type": "python", "target": "no_such_mod_xyz:f"},
                              space=X_SPACE), "no_such_mod_xyz"),
    C("python-syntax-error", cfg(objective={"type": "python", "target": "badsyntax:f"},
                                 space=X_SPACE), "SyntaxError", "badsyntax",
      files={"badsyntax.py": "def f(:\n"}),
    C("python-raises-on-import", cfg(objective={"type": "python", "target": "raising:f"},
                                     space=X_SPACE), "ZeroDivisionError", "raising",
      files={"raising.py": "x = 1 / 0\n"}),
    C("python-no-attr", cfg(objective={"type": "python", "target": "robust_objectives:nope"},
                            space=X_SPACE), "no attribute", "nope"),
    C("python-not-callable", cfg(objective={"type": "python", "target": "os:sep"},
                                 space=X_SPACE), "not callable"),
    C("python-kwargs-list", cfg(objective={**PY, "kwargs": [1]}, space=X_SPACE),
      "objective.kwargs", "got [1]"),
    C("python-unexpected-kwarg", cfg(objective={"type": "python",
                                                "target": "robust_objectives:takes_scale",
                                                "kwargs": {"scael": 2}}, space=X_SPACE),
      "objective.kwargs", "scael"),
    C("python-extra-key", cfg(objective={**PY, "foo": 1}, space=X_SPACE), "'target'", "foo"),
    C("python-no-space", cfg(objective=PY), "no search space of its own"),
    C("command-empty", cfg(objective={"type": "command", "command": []}, space=X_SPACE),
      "objective.command", "got []"),
    C("command-ints", cfg(objective={"type": "command", "command": [1, 2]}, space=X_SPACE),
      "objective.command", "[1, 2]"),
    C("command-unknown-placeholder", cfg(objective={"type": "command",
                                                    "command": ["echo", "{lr}"]},
                                         space=X_SPACE), "placeholder", "lr"),
    C("command-env-list", cfg(objective={**CMD, "env": [1, 2]}, space=X_SPACE),
      "objective.env", "[1, 2]"),
    C("command-timeout-neg", cfg(objective={**CMD, "timeout": -1}, space=X_SPACE),
      "objective.timeout", "-1"),
    C("command-missing-program", cfg(objective={"type": "command",
                                                "command": ["no-such-program-xyz", "{x}"]},
                                     space=X_SPACE), "no-such-program-xyz", "on PATH"),
    C("command-missing-cwd", cfg(objective={**CMD, "cwd": "nodir"}, space=X_SPACE),
      "objective.cwd", "nodir"),
    C("command-unclosed-quote", cfg(objective={"type": "command", "command": "echo 'a"},
                                    space=X_SPACE), "objective.command", "quotation"),
    # ----- search space
    C("space-int", cfg(space=5), "'space'", "got 5"),
    C("space-empty", cfg(space={}), "space", "non-empty mapping"),
    C("space-preset-unknown", cfg(space="nope"), "preset", "'nope'"),
    C("var-type", cfg(space={"x1": {"type": "gaussian"}}), "'x1'", "'gaussian'"),
    C("var-low-gt-high", cfg(space={"x1": {"type": "float", "low": 2, "high": 1}}), "'x1'",
      "low < high"),
    C("var-log-quoted-false", cfg(space={"x1": {"type": "float", "low": 1, "high": 2,
                                                "log": "false"}}), "'x1'", "log",
      "'false'", "true or false"),
    C("var-log-yes-string", cfg(space={"x1": {"type": "int", "low": 1, "high": 9,
                                              "log": "yes"}}), "'x1'", "log", "'yes'"),
    C("var-int-1e300", cfg(space={"x1": {"type": "int", "low": 0, "high": 1.0e300}}), "'x1'",
      "high", "integer"),
    C("var-float-inf", "space:\n  x1: {type: float, low: 0, high: .inf}\n" + cfg(), "'x1'",
      "high", "finite"),
    C("var-low-str", cfg(space={"x1": {"type": "float", "low": "abc", "high": 1}}), "'x1'",
      "'abc'"),
    C("var-choices-empty", cfg(space={"x1": {"type": "categorical", "choices": []}}), "'x1'",
      "non-empty list"),
    C("var-choices-dup", cfg(space={"x1": {"type": "categorical", "choices": ["a", "a"]}}),
      "'x1'", "distinct"),
    C("var-ordinal-scalar", cfg(space={"x1": {"type": "ordinal", "values": 5}}), "'x1'",
      "got 5"),
    C("var-pow2-3", cfg(space={"x1": {"type": "pow2", "low": 3, "high": 8}}), "'x1'",
      "power of two"),
    C("var-unknown-field", cfg(space={"x1": {"type": "float", "low": 0, "high": 1,
                                             "step": 0.1}}), "'x1'", "step"),
    C("var-missing-field", cfg(space={"x1": {"type": "float", "low": 0}}), "'x1'",
      "missing field 'high'"),
    C("var-default-outside", cfg(space={"x1": {"type": "float", "low": 0, "high": 1,
                                               "default": 5}}), "'x1'", "got 5"),
    C("space-vs-function-missing", cfg(space={"x1": {"type": "float", "low": -5, "high": 10}}),
      "branin", "missing ['x2']"),
    C("space-vs-function-categorical", cfg(space={
        "x1": {"type": "categorical", "choices": ["a", "b"]},
        "x2": {"type": "float", "low": 0, "high": 15}}), "'x1'", "numeric"),
    C("alias-bomb-fixed", cfg().replace("objective:", f"space: {{x1: {bomb()}}}\nobjective:"),
      "'x1'", "..."),
    # ----- warm start
    C("ws-missing", cfg(warm_start="nope.csv"), "nope.csv", "does not exist"),
    C("ws-dir", cfg(warm_start="adir"), "directory", files={"adir/keep": ""}),
    C("ws-binary", cfg(warm_start="w.csv"), "binary", files={"w.csv": b"\x00\x01\x02PK\x03"}),
    C("ws-short-row", cfg(warm_start="w.csv"), "w.csv:2", "3 fields",
      files={"w.csv": WS_HEADER + "1.0\n"}),
    C("ws-long-row", cfg(warm_start="w.csv"), "w.csv:2", "3 fields",
      files={"w.csv": WS_HEADER + "1.0,2.0,3.0,4.0\n"}),
    C("ws-non-utf8-cell", cfg(warm_start="w.csv"), "w.csv:2", "not UTF-8",
      files={"w.csv": WS_HEADER.encode() + b"1.0,\xff,3\n"}),
    C("ws-missing-column", cfg(warm_start="w.csv"), "missing ['x2']",
      files={"w.csv": "x1,value\n1.0,2.0\n"}),
    C("ws-bad-value", cfg(warm_start="w.csv"), "column 'value'", "'abc'",
      files={"w.csv": WS_HEADER + "1.0,2.0,abc\n"}),
    C("ws-out-of-space", cfg(warm_start="w.csv"), "'x1'", "got 99",
      files={"w.csv": WS_HEADER + "99,2.0,1.0\n"}),
    C("ws-study-missing-db", cfg(warm_start={"study": "o", "storage": "sqlite:///other.db"}),
      "other.db", "no database"),
    C("ws-int", cfg(warm_start=3), "'warm_start'", "got 3"),
    # ----- command-line flags of `run`
    C("flag-budget-str", cfg(), "--budget", "'x'", flags=["--budget", "x"]),
    C("flag-budget-0", cfg(), "'budget'", "got 0", flags=["--budget", "0"]),
    C("flag-workers-0", cfg(), "'execution.n_workers'", "got 0", flags=["--workers", "0"]),
    C("flag-workers-neg", cfg(), "'execution.n_workers'", "-3", flags=["--workers", "-3"]),
    C("flag-executor", cfg(), "--executor", "'threads'", flags=["--executor", "threads"]),
    C("flag-optimizer", cfg(), "'optimizer.name'", "'nope'", flags=["--optimizer", "nope"]),
    C("flag-seed-neg", cfg(), "'seed'", "-1", flags=["--seed", "-1"]),
    C("flag-storage-bad", cfg(), "'storage'", "three slashes", flags=["--storage", "sqlite://x"]),
    C("flag-unknown", cfg(), "unrecognized arguments", "--fast", flags=["--fast"]),
    Case("run-missing-file", ["run", "missing.yaml"], ["missing.yaml", "does not exist"]),
    Case("run-dir-as-config", ["run", "adir"], ["adir", "not a directory"], {"adir/keep": ""}),
    # ----- commands that only read must not create a database
    Case("status-no-db", ["status", "sqlite:///nope.db"], ["nope.db"]),
    Case("best-no-db", ["best", "sqlite:///nope.db"], ["nope.db"]),
    Case("export-no-db", ["export", "sqlite:///nope.db"], ["nope.db"]),
    Case("report-no-db", ["report", "sqlite:///nope.db"], ["nope.db"]),
    Case("report-no-db-path", ["report", "nope.db"], ["nope.db"]),
    Case("status-text-file", ["status", "sqlite:///notes.txt"], ["SQLite database file"],
         {"notes.txt": "hello"}),
    Case("status-unknown-study", ["status", "sqlite:///s.db", "--study-name", "zzz"],
         ["'zzz'"], setup="db"),
    Case("export-missing-dir", ["export", "sqlite:///s.db", "-o", "missing_dir/x.csv"],
         ["--output", "missing_dir"], setup="db"),
    Case("export-to-dir", ["export", "sqlite:///s.db", "-o", "adir"], ["--output", "directory"],
         {"adir/keep": ""}, setup="db"),
    Case("report-out-file", ["report", "sqlite:///s.db", "--out", "afile"], ["--out", "afile"],
         {"afile": "x"}, setup="db"),
    Case("report-top-k-0", ["report", "sqlite:///s.db", "--top-k", "0"], ["--top-k", "got 0"],
         setup="db"),
    Case("assess-missing-config", ["assess", "nope.yaml"], ["nope.yaml"]),
    Case("unknown-command", ["frobnicate"], ["'frobnicate'"]),
    # ----- bench flags
    Case("bench-workers-0", ["bench", "--workers", "0", "--out", "b"], ["--workers", "got 0"]),
    Case("bench-budgets-str", ["bench", "--budgets", "x", "--out", "b"], ["--budgets", "'x'"]),
    Case("bench-seeds-0", ["bench", "--seeds", "0", "--out", "b"], ["--seeds", "got 0"]),
    Case("bench-optimizer", ["bench", "--optimizers", "nope", "--out", "b"], ["'nope'"]),
    Case("bench-out-file", ["bench", "--quick", "--out", "afile"], ["--out", "afile"],
         {"afile": "x"}),
]


def _make_db(root: Path) -> None:
    from llmhpo.study import create_study

    study = create_study({"x": {"type": "float", "low": 0.0, "high": 1.0}},
                         storage=f"sqlite:///{root / 's.db'}", study_name="s", budget=1)
    study.optimize(lambda p, ctx: p["x"])


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


def _prepare(case: Case, root: Path) -> None:
    for name, content in case.files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    if case.setup == "db":
        _make_db(root)


def _check(case: Case, code: int, err: str, before: dict, after: dict) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (case.id, code, err[-2000:])
    assert "Traceback" not in err, (case.id, err[-2000:])
    assert len(lines) == 1 and lines[0].startswith("llmhpo: error: "), (case.id, err[-2000:])
    assert len(lines[0]) < 2100, (case.id, len(lines[0]))
    for frag in case.fragments:
        assert frag in lines[0], (case.id, frag, lines[0])
    assert after == before, (case.id, "created or changed", set(after) ^ set(before))


def test_the_corpus_has_at_least_80_distinct_cases():
    assert len(CASES) >= 80
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_error_line_exit_2_and_creates_nothing(case, tmp_path, monkeypatch,
                                                                capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    _prepare(case, tmp_path)
    before = _snapshot(tmp_path)
    capsys.readouterr()
    try:
        code = main(case.argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    err = capsys.readouterr().err
    for mod in ("badsyntax", "raising"):
        sys.modules.pop(mod, None)
    _check(case, code, err, before, _snapshot(tmp_path))


SUBPROCESS_CASES = ["non-utf8", "alias-bomb-fixed", "python-syntax-error", "report-no-db",
                    "flag-budget-str", "storage-no-driver"]


@pytest.mark.parametrize("case_id", SUBPROCESS_CASES)
def test_bad_input_through_the_real_command(case_id, tmp_path, cli_env):
    from cli_helpers import llmhpo_cmd

    case = next(c for c in CASES if c.id == case_id)
    _prepare(case, tmp_path)
    before = _snapshot(tmp_path)
    env = {**cli_env, "PYTHONDONTWRITEBYTECODE": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), str(tmp_path),
                                         env["PYTHONPATH"]])
    proc = subprocess.run([*llmhpo_cmd(), *case.argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    _check(case, proc.returncode, proc.stderr, before, _snapshot(tmp_path))


# ----- objective outputs: recorded as failed trials; a study where none completed exits 1
OUTPUTS = [
    ("returns_true", "got True (bool), expected a number"),
    ("returns_string", "got '1.5' (str), expected a number"),
    ("returns_dict_of_bool", "got False (bool), expected a number"),
    ("returns_none", "got None (NoneType), expected a number"),
    ("returns_nan", "non-finite"),
    ("returns_list", "(list), expected a number"),
    ("fails", "RuntimeError: this objective always fails"),
]


@pytest.mark.parametrize("target, reason", OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_a_study_where_no_trial_completed_exits_1_with_the_reason(target, reason, tmp_path,
                                                                  monkeypatch, capsys):
    from llmhpo.study import TrialState, load_study

    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(cfg(objective={"type": "python",
                                                    "target": f"robust_objectives:{target}"},
                                         space=X_SPACE, budget=2))
    code = main(["run", "c.yaml", "--quiet"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("llmhpo:")]
    assert code == 1
    assert len(err) == 1 and "no trial of study 's' completed (failed 2)" in err[0], err
    assert reason in err[0], err
    trials = load_study("s", "sqlite:///s.db").trials
    assert [t.state for t in trials] == [TrialState.FAILED] * 2
