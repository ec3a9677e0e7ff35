"""`llmhpo run | status | best | export` on real SQLite files, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest
from cli_helpers import llmhpo_cmd

from llmhpo.cli.main import main
from llmhpo.objectives.synthetic import get_function
from llmhpo.study import load_study

BRANIN = get_function("branin")


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def two_studies(tmp_path_factory):
    """Run two small studies (random and LHS) into one SQLite file under a new directory."""
    tmp = tmp_path_factory.mktemp("cli")
    url = f"sqlite:///{tmp / 'out' / 'sub' / 'b.db'}"  # parent directories do not exist yet
    for opt in ("random", "lhs"):
        cfg = _write(
            tmp,
            f"{opt}.yaml",
            f"study_name: b-{opt}\nstorage: {url}\nbudget: 50\noptimizer: {opt}\n"
            "objective: {type: synthetic, name: branin}\n",
        )
        assert main(["run", str(cfg), "--budget", "6", "--quiet"]) == 0
    return url


def test_run_creates_the_db_stores_trials_and_prints_the_best(two_studies):
    assert Path(two_studies[len("sqlite:///") :]).is_file()
    for opt in ("random", "lhs"):
        study = load_study(f"b-{opt}", two_studies)
        assert study.budget == 6 and len(study.trials) == 6  # --budget overrides 50
        for t in study.trials:
            assert t.value == pytest.approx(BRANIN(t.params))
    # lhs got n_points = budget: one design point per sixth of each axis
    lhs = load_study("b-lhs", two_studies)
    assert lhs.optimizer.get_config()["n_points"] == 6
    for i, var in enumerate(lhs.space.free):
        bins = sorted(int(6 * var.to_unit(t.params[var.name])) for t in lhs.trials)
        assert bins == list(range(6)), i


def test_run_prints_the_best_trial_and_progress(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cfg = _write(tmp_path, "r.yaml", "budget: 4\nobjective: {type: synthetic, name: branin}\n")
    assert main(["run", str(cfg), "--storage", "sqlite:///x.db", "--study-name", "q"]) == 0
    out, err = capsys.readouterr()
    best = load_study("q", "sqlite:///x.db").best_trial
    assert f"Best trial {best.number}: value {best.value:.6g}" in out
    assert "Study 'q': 4/4 trials" in out
    assert "[llmhpo] 4/4 trials | best" in err  # the progress line


def test_status(two_studies, capsys):
    assert main(["status", "--storage", two_studies]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    out = [ln for ln in lines if not ln.startswith(" ")]  # indented: the repro records
    assert len(out) == 2
    assert sum("reproducibility record" in ln for ln in lines) == 2
    for line, opt in zip(out, ("random", "lhs"), strict=True):
        best = load_study(f"b-{opt}", two_studies).best_trial
        assert line.startswith(f"b-{opt}: 6/6 trials (complete 6); optimizer {opt}; minimize")
        assert f"best {best.value:.6g} (trial {best.number})" in line


def test_best_json_and_text(two_studies, capsys):
    assert main(["best", "--storage", two_studies, "--study-name", "b-lhs", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    trials = load_study("b-lhs", two_studies).trials
    best = min(trials, key=lambda t: t.value)
    assert data["number"] == best.number and data["value"] == best.value
    assert data["params"] == best.params
    assert data["value"] == pytest.approx(BRANIN(data["params"]))
    assert main(["best", "--storage", two_studies, "--study-name", "b-lhs"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"trial {best.number}: value = {best.value:.6g}")
    assert f"x1 = {best.params['x1']}" in text


def test_export_to_stdout_and_file(two_studies, tmp_path, capsys):
    assert main(["export", "--storage", two_studies, "--study-name", "b-random"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    trials = load_study("b-random", two_studies).trials
    assert [int(r["number"]) for r in rows] == [t.number for t in trials]
    for r, t in zip(rows, trials, strict=True):
        assert r["state"] == "complete"
        assert float(r["value"]) == t.value
        assert float(r["x1"]) == t.params["x1"] and float(r["x2"]) == t.params["x2"]
    out = tmp_path / "t.csv"
    assert (
        main(["export", "--storage", two_studies, "--study-name", "b-random", "-o", str(out)]) == 0
    )
    assert list(csv.DictReader(out.open())) == rows


def test_exported_csv_warm_starts_a_new_run(two_studies, tmp_path, capsys):
    out = tmp_path / "cache.csv"
    assert (
        main(["export", "--storage", two_studies, "--study-name", "b-random", "-o", str(out)]) == 0
    )
    cfg = _write(
        tmp_path,
        "w.yaml",
        f"study_name: warm\nstorage: sqlite:///{tmp_path / 'w.db'}\nbudget: 2\n"
        f"warm_start: {out}\nobjective: {{type: synthetic, name: branin}}\n",
    )
    assert main(["run", str(cfg), "--quiet"]) == 0
    assert "imported 6 evaluated points" in capsys.readouterr().err
    study = load_study("warm", f"sqlite:///{tmp_path / 'w.db'}")
    assert study.n_finished == 2 and len(study.trials) == 8
    assert sum(t.warm_start for t in study.trials) == 6


def test_a_storage_with_several_studies_needs_a_study_name(two_studies, capsys):
    assert main(["best", "--storage", two_studies]) == 2
    err = capsys.readouterr().err
    assert err.startswith("llmhpo: error: ") and "holds 2 studies" in err
    assert "'b-lhs'" in err and "'b-random'" in err and "--study-name" in err
    assert main(["export", "--storage", two_studies, "--study-name", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no study named 'nope'" in err and "'b-lhs'" in err


def test_status_of_a_missing_database(tmp_path, capsys):
    assert main(["status", "--storage", f"sqlite:///{tmp_path / 'none.db'}"]) == 2
    assert "no database at" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


@pytest.mark.parametrize(
    "text, fragment",
    [
        (
            "budget: 0\nobjective: {type: synthetic, name: branin}\n",
            "config key 'budget': got 0, expected a positive integer",
        ),
        (
            "objective: {type: synthetic, name: branin}\n"
            "space: {lr: {type: float, low: 1, high: 0}}\n",
            "variable 'lr'",
        ),
        ("objective: {type: synthetic, name: nosuch}\n", "'nosuch'"),
        (
            "objective: {type: python, target: 'no_mod_xyz:f'}\nspace: tribes2023\n",
            "cannot import module 'no_mod_xyz'",
        ),
        (
            "objective: {type: python, target: 'helper_objectives:quadratic'}\n",
            "has no search space of its own",
        ),
        ("{{{", "not valid YAML"),
    ],
)
def test_bad_config_is_one_line_on_stderr_and_exit_2(tmp_path, cli_env, text, fragment):
    cfg = _write(tmp_path, "bad.yaml", text)
    out = subprocess.run(
        [*llmhpo_cmd(), "run", str(cfg)],
        cwd=tmp_path,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("llmhpo: error: ")
    assert fragment in lines[0]
    assert not (tmp_path / "llmhpo.db").exists() or fragment == "has no search space of its own"


def test_rerun_with_a_larger_budget_continues_the_same_lhs_design(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = _write(
        tmp_path,
        "l.yaml",
        "study_name: l\nstorage: sqlite:///l.db\nbudget: 4\n"
        "optimizer: lhs\nobjective: {type: synthetic, name: branin}\n",
    )
    assert main(["run", str(cfg), "--quiet"]) == 0
    assert main(["run", str(cfg), "--quiet", "--budget", "6"]) == 0
    study = load_study("l", "sqlite:///l.db")
    assert study.optimizer.get_config()["n_points"] == 4
    assert [t.attrs["design_index"] for t in study.trials] == list(range(6))
    # the first 4 points form one Latin hypercube of size 4 (one point per quarter per axis)
    for var in study.space.free:
        assert sorted(int(4 * var.to_unit(t.params[var.name])) for t in study.trials[:4]) == [
            0,
            1,
            2,
            3,
        ]


def test_a_study_metric_without_direction_takes_the_direction_its_name_implies(tmp_path, capsys):
    """`metric: val_accuracy` is maximized and `metric: val_loss` minimized, whatever the
    objective's own metric; `direction:` still wins."""
    base = ("budget: 2\noptimizer: random\nspace: {x: {type: float, low: 0, high: 1}}\n"
            "objective: {type: python, target: 'helper_objectives:loss_and_accuracy'}\n")
    for name, extra, want in [("a", "metric: val_accuracy\n", "maximize"),
                              ("b", "metric: val_loss\n", "minimize"),
                              ("c", "metric: val_accuracy\ndirection: minimize\n", "minimize")]:
        cfg = _write(tmp_path, f"{name}.yaml", base + extra)
        url = f"sqlite:///{tmp_path / name}.db"
        assert main(["run", str(cfg), "--storage", url, "--study-name", name]) == 0
        study = load_study(name, url)
        assert study.direction == want
        assert study.best_trial.value == study.best_trial.metrics[study.metric]
