"""The ``llmhpo`` command, run as a real subprocess: run, status, best, export, bad configs."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from cli_helpers import run_cli

from llmhpo import load_study
from llmhpo.study import TrialState


def branin(x1: float, x2: float) -> float:
    """Branin's definition (a=1, b=5.1/(4 pi^2), c=5/pi, r=6, s=10, t=1/(8 pi))."""
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def _config(tmp_path: Path, text: str, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("optimizer", ["random", "lhs"])
def test_run_status_best_export_on_branin(tmp_path, optimizer):
    db = tmp_path / "runs" / "branin.db"  # the directory is created by `llmhpo run`
    url = f"sqlite:///{db}"
    cfg = _config(
        tmp_path,
        f"study_name: br-{optimizer}\nstorage: {url}\nbudget: 8\nseed: 0\n"
        f"optimizer: {optimizer}\nobjective: {{type: synthetic, name: branin}}\n",
    )
    res = run_cli(["run", str(cfg)], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert f"Study 'br-{optimizer}': 8/8 trials" in res.stdout
    assert "[llmhpo] 8/8 trials" in res.stderr  # the progress line (not a tty: plain lines)

    study = load_study(f"br-{optimizer}", url)
    trials = study.trials
    assert len(trials) == 8 and all(t.state is TrialState.COMPLETE for t in trials)
    for t in trials:
        assert -5 <= t.params["x1"] <= 10 and 0 <= t.params["x2"] <= 15
        assert t.value == pytest.approx(branin(t.params["x1"], t.params["x2"]), rel=1e-12)
    if optimizer == "lhs":  # one Latin hypercube design of the budget's size
        for axis in range(2):
            assert sorted(int(t.x[axis] * 8) for t in trials) == list(range(8))

    if optimizer != "random":  # the inspection commands do not depend on the optimizer
        return
    status = run_cli(["status", "--storage", url], cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert f"br-{optimizer}: 8/8 trials (complete 8); optimizer {optimizer}" in status.stdout

    best = run_cli(["best", str(cfg), "--json"], cwd=tmp_path)
    assert best.returncode == 0, best.stderr
    got = json.loads(best.stdout)
    ref = min(trials, key=lambda t: t.value)
    assert got["number"] == ref.number
    assert got["value"] == ref.value and got["params"] == ref.params

    out = tmp_path / "trials.csv"
    exp = run_cli(["export", "--storage", url, "-o", str(out)], cwd=tmp_path)
    assert exp.returncode == 0, exp.stderr
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8
    assert {"number", "state", "value", "x1", "x2"} <= set(rows[0])
    assert [float(r["value"]) for r in rows] == [t.value for t in trials]
    assert {r["state"] for r in rows} == {"complete"}


GOOD = "study_name: s\nstorage: sqlite:///{db}\nbudget: 4\noptimizer: random\n" \
       "objective: {{type: synthetic, name: branin}}\n"


@pytest.mark.parametrize(
    "text, args, fragments",
    [
        (GOOD + "budgett: 5\n", [], ["unknown config key", "'budgett'"]),
        (GOOD.replace("budget: 4", "budget: 0"), [], ["'budget'", "0", "positive integer"]),
        (GOOD.replace("budget: 4", "budget: many"), [], ["'budget'", "'many'"]),
        (GOOD.replace("optimizer: random", "optimizer: simplex"), [],
         ["'optimizer.name'", "'simplex'", "'random'"]),
        (GOOD.replace("type: synthetic", "type: magic"), [], ["'objective.type'", "'magic'"]),
        (GOOD.replace("name: branin", "name: nobranin"), [], ["'nobranin'", "branin"]),
        (GOOD + "space: {{x: {{type: float, low: 2, high: 1}}}}\n", [], ["'x'", "low < high"]),
        (GOOD, ["--budget", "-3"], ["'budget'", "-3"]),
        (None, [], ["does not exist", "missing.yaml"]),
        ("budget: [1, 2\n", [], ["not valid YAML"]),
    ],
)
def test_bad_config_gives_one_error_line_and_exit_2(tmp_path, text, args, fragments):
    if text is None:
        cfg = tmp_path / "missing.yaml"
    else:
        cfg = _config(tmp_path, text.format(db=tmp_path / "x.db"))
    res = run_cli(["run", str(cfg), *args], cwd=tmp_path)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("llmhpo: error:"), res.stderr
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])


def test_status_of_a_missing_database_is_one_error_line(tmp_path):
    res = run_cli(["status", "--storage", f"sqlite:///{tmp_path / 'none.db'}"], cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip().startswith("llmhpo: error: no database")
    assert len(res.stderr.strip().splitlines()) == 1


def test_run_with_two_process_workers(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    cfg = _config(
        tmp_path,
        f"study_name: par\nstorage: {url}\nbudget: 6\nseed: 0\noptimizer: random\n"
        "space:\n  x: {type: float, low: 0.0, high: 1.0}\n"
        "objective: {type: python, target: 'helper_objectives:pid_now'}\n",
    )
    res = run_cli(["run", str(cfg), "--workers", "2", "--executor", "process", "--quiet"],
                  cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    trials = load_study("par", url).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    assert all(t.value == t.params["x"] for t in trials)
    assert len({t.metrics["pid"] for t in trials}) == 2
