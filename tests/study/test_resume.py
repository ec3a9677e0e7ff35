"""Budgets are totals; a study killed with SIGKILL resumes without losing or duplicating trials."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cli_helpers import cli_env, llmhpo_cmd, stored_trials
from helper_objectives import quadratic

from llmhpo import create_study, load_study
from llmhpo.space import Float, SearchSpace
from llmhpo.study import TrialState

XY = SearchSpace([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0)])


def test_budget_is_the_total_not_n_more(db_url):
    study = create_study(XY, storage=db_url, study_name="b", budget=5, seed=3)
    study.optimize(quadratic)
    assert study.n_finished == 5 and len(study.trials) == 5

    study.optimize(quadratic)  # finished study: nothing to do
    assert len(study.trials) == 5

    again = load_study("b", db_url)  # a fresh driver on the same file: still nothing to do
    again.optimize(quadratic)
    assert len(again.trials) == 5

    again.optimize(quadratic, budget=8)  # raising the budget runs exactly the difference
    assert [t.number for t in again.trials] == list(range(8))
    assert again.n_finished == 8 and again.budget == 8
    assert all(t.state is TrialState.COMPLETE for t in again.trials)
    for t in again.trials:
        assert t.value == quadratic(t.params)


def test_failed_trials_count_against_the_budget(db_url):
    from helper_objectives import raises

    study = create_study(XY, storage=db_url, study_name="f", budget=3)
    study.optimize(raises)
    assert [t.state for t in study.trials] == [TrialState.FAILED] * 3
    assert study.n_finished == 3 and study.best_trial is None


OBJECTIVE_MODULE = '''
import time

def slow_sum(params, ctx):
    time.sleep(0.3)
    return params["x"] + 2 * params["y"]
'''

CONFIG = """
study_name: killme
storage: sqlite:///{db}
budget: {budget}
seed: 7
optimizer: random
space:
  x: {{type: float, low: 0.0, high: 1.0}}
  y: {{type: float, low: 0.0, high: 1.0}}
objective: {{type: python, target: "slowobj:slow_sum"}}
"""


def _count_read_only(db: Path, state: str) -> int:
    """Trials in ``state`` in the SQLite file, read without writing anything.

    Opening the file through Optuna's RDBStorage while the driver creates its tables races
    with the driver's schema creation, so the poll uses a read-only sqlite3 connection.
    """
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            sql = "SELECT COUNT(*) FROM trials WHERE state = ?"
            return con.execute(sql, (state,)).fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def _wait_for(db: Path, state: str, n: int, proc: subprocess.Popen, limit: float = 40.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        assert proc.poll() is None, proc.communicate()
        if _count_read_only(db, state) >= n:
            return
        time.sleep(0.02)
    raise AssertionError(f"fewer than {n} trials {state} after {limit} s")


def test_kill_9_mid_run_then_rerun_resumes_to_the_budget(tmp_path: Path):
    budget = 12
    (tmp_path / "slowobj.py").write_text(textwrap.dedent(OBJECTIVE_MODULE))
    db = tmp_path / "kill.db"
    url = f"sqlite:///{db}"
    cfg = tmp_path / "run.yaml"
    cfg.write_text(CONFIG.format(db=db, budget=budget))
    env = cli_env(tmp_path)

    proc = subprocess.Popen(
        llmhpo_cmd("run", str(cfg), "--quiet"),
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        _wait_for(db, "COMPLETE", 4, proc)
        _wait_for(db, "RUNNING", 1, proc)  # kill inside a trial (each one sleeps 0.3 s)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    before = stored_trials(url, "killme")
    complete_before = [t for t in before if t.state is TrialState.COMPLETE]
    running_before = [t.number for t in before if t.state is TrialState.RUNNING]
    assert 4 <= len(complete_before) < budget
    assert len(running_before) == 1  # one inline worker, killed while it ran

    rerun = subprocess.run(
        llmhpo_cmd("run", str(cfg), "--quiet"), cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert rerun.returncode == 0, rerun.stderr
    after = stored_trials(url, "killme")
    by_number = {t.number: t for t in after}
    assert len(by_number) == len(after)  # no duplicated trial numbers
    assert sorted(by_number) == list(range(len(after)))

    # every trial finished before the kill is still there, unchanged
    for t in complete_before:
        a = by_number[t.number]
        assert (a.state, a.params, a.value, a.x) == (t.state, t.params, t.value, t.x)
    # the trial that was running when the driver died is marked interrupted
    for n in running_before:
        assert by_number[n].state is TrialState.INTERRUPTED
        assert "driver stopped" in by_number[n].error
    complete = [t for t in after if t.state is TrialState.COMPLETE and not t.warm_start]
    assert len(complete) == budget
    assert len(after) == budget + len(running_before)
    for t in complete:
        assert t.value == pytest.approx(t.params["x"] + 2 * t.params["y"], abs=1e-12)

    # The random sequence continues: the i-th complete trial equals the i-th suggestion of
    # an uninterrupted run with the same seed. This holds even with an interrupted trial:
    # interrupted trials are not replayed, so the resumed optimizer re-draws their stream
    # index (random's i-th point depends only on (seed, i)).
    ref = create_study(XY, optimizer="random", seed=7, budget=budget)
    ref.optimize(lambda p, ctx: p["x"] + 2 * p["y"])
    assert [t.params for t in complete] == [t.params for t in ref.trials]

    # a third run has nothing left to do
    third = subprocess.run(
        llmhpo_cmd("status", str(cfg)), cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert third.returncode == 0, third.stderr
    assert f"killme: {budget}/{budget} trials" in third.stdout
    assert load_study("killme", url).n_finished == budget


def test_replay_rebuilds_the_optimizer_state(db_url):
    study = create_study(XY, optimizer="lhs", optimizer_kwargs={"n_points": 6}, storage=db_url,
                         study_name="lhs", budget=4, seed=1)
    study.optimize(quadratic)
    resumed = load_study("lhs", db_url)
    assert len(resumed.optimizer.observations) == 4
    resumed.optimize(quadratic, budget=6)
    # one Latin hypercube design of 6 points, handed out in order across the restart:
    # every one of the 6 strata of each axis holds exactly one point
    xs = [t.x for t in resumed.trials]
    for axis in range(2):
        strata = sorted(int(x[axis] * 6) for x in xs)
        assert strata == list(range(6))
    assert [t.attrs["design_index"] for t in resumed.trials] == list(range(6))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
