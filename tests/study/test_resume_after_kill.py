"""Kill -9 a real `llmhpo run` mid-run, run it again: no completed trial lost or duplicated."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time

import optuna
from cli_helpers import llmhpo_cmd

from llmhpo.study import TrialState, load_study

BUDGET = 8


def _n_completed_now(db_path: str) -> int:
    """Completed trials in the database while `llmhpo run` writes it (read-only, no schema
    creation: opening it with Optuna could race the writer creating its tables)."""
    if not os.path.exists(db_path):
        return 0
    try:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            query = "SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'"
            return con.execute(query).fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # tables not created yet, or locked for a moment
        return 0


def _completed(db_url: str) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name="slow", storage=db_url)
    return study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])


def test_kill_9_then_rerun_reaches_exactly_the_budget(tmp_path, cli_env):
    db_url = f"sqlite:///{tmp_path / 'runs' / 'slow.db'}"
    cfg = tmp_path / "slow.yaml"
    cfg.write_text(
        f"""
study_name: slow
storage: {db_url}
budget: {BUDGET}
seed: 0
optimizer: lhs
space: {{x: {{type: float, low: 0.0, high: 1.0}}}}
objective: {{type: python, target: "helper_objectives:slow"}}
"""
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    proc = subprocess.Popen(
        [*llmhpo_cmd(), "run", str(cfg)],
        env=cli_env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while _n_completed_now(db_url[len("sqlite:///") :]) < 3:
            assert proc.poll() is None, "llmhpo run ended before it could be killed"
            assert time.monotonic() < deadline, "no progress within 60 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    before = {t.number: (t.params, t.value) for t in _completed(db_url)}
    assert 3 <= len(before) < BUDGET

    rerun = subprocess.run(
        [*llmhpo_cmd(), "run", str(cfg), "--quiet"],
        env=cli_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr

    study = load_study("slow", db_url)
    trials = study.trials
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    # nothing completed before the kill was lost or changed
    for number, (params, value) in before.items():
        assert trials[number].state is TrialState.COMPLETE
        assert (trials[number].params, trials[number].value) == (params, value)
    # exactly the budget of completed trials, each LHS design point evaluated once
    assert len(complete) == BUDGET == study.n_finished
    assert sorted(t.attrs["design_index"] for t in complete) == list(range(BUDGET))
    assert len({t.params["x"] for t in complete}) == BUDGET
    # the trial that was running at the kill (if any) is kept as INTERRUPTED, not counted
    others = [t for t in trials if t.state is not TrialState.COMPLETE]
    assert all(t.state is TrialState.INTERRUPTED for t in others) and len(others) <= 1
    assert f"{BUDGET}/{BUDGET} trials" in rerun.stdout


def test_opening_a_study_does_not_touch_a_live_drivers_running_trial(tmp_path):
    """`llmhpo status` from another terminal loads the study while the driver runs a trial:
    the trial must stay RUNNING and the driver must still be able to record its result. Only
    a driver that resumes the study marks orphaned RUNNING trials as interrupted."""
    from llmhpo import create_study

    url = f"sqlite:///{tmp_path / 's.db'}"
    space = {"x": {"type": "float", "low": 0.0, "high": 1.0}}
    driver = create_study(space, optimizer="random", storage=url, study_name="live", budget=3)
    (pending,) = driver.ask(1)

    observer = load_study("live", url)  # e.g. `llmhpo status`
    assert [t.state for t in observer.trials] == [TrialState.RUNNING]

    done = driver.tell(pending, 0.25)
    assert done.state is TrialState.COMPLETE and done.value == 0.25
    assert [t.state for t in load_study("live", url).trials] == [TrialState.COMPLETE]

    # a driver that died with a trial in flight: the next driver reclaims it when it runs
    (orphan,) = driver.ask(1)
    resumed = load_study("live", url)
    assert resumed.trials[orphan.number].state is TrialState.RUNNING
    resumed.optimize(lambda params, ctx: params["x"], budget=3)
    states = [t.state for t in resumed.trials]
    assert states[orphan.number] is TrialState.INTERRUPTED
    assert states.count(TrialState.COMPLETE) == 3
