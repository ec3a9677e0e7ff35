"""Several drivers on one study, as on several machines: 4 driver processes x 2 process
workers share one study through a real SQLite file and through a real PostgreSQL server; one
driver is killed with SIGKILL mid-run.

What must hold: the budget exactly (no overshoot, no shortfall), no point evaluated twice, no
driver crashing, and no evaluation that returned to a live driver missing from the study.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from driver_main import SPACE

from llmhpo import create_study, load_study
from llmhpo.study import TrialState

HERE = Path(__file__).resolve().parent
BUDGET = 40
N_DRIVERS = 4


def _driver_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), *filter(None, [env.get("PYTHONPATH")])])
    env["LLMHPO_TEST_LOG"] = str(tmp_path / "evaluations.jsonl")
    env["LLMHPO_TEST_SLEEP"] = "0.4"
    return env


def _raw_trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    storage = optuna.storages.RDBStorage(url)
    try:
        study_id = storage.get_study_id_from_name(name)
        return storage.get_all_trials(study_id, deepcopy=False)
    finally:
        storage.remove_session()
        storage.engine.dispose()


def _run_drivers_and_kill_one(url: str, tmp_path: Path) -> None:
    name = "shared"
    # the study exists before the drivers start (as when a first `llmhpo run` created it)
    create_study(SPACE, optimizer="random", storage=url, study_name=name, budget=BUDGET, seed=0)
    env = _driver_env(tmp_path)
    cmd = [sys.executable, str(HERE / "driver_main.py"), url, name, str(BUDGET), "2"]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(N_DRIVERS)
    ]
    victim = procs[0]
    try:
        # kill the victim while it runs trials, after it has finished at least one
        deadline = time.monotonic() + 120
        while True:
            assert time.monotonic() < deadline, "the victim never ran a trial in 120 s"
            assert victim.poll() is None, victim.communicate()
            mine = [
                t for t in _raw_trials(url, name)
                if (t.system_attrs.get("llmhpo:driver") or {}).get("pid") == victim.pid
            ]
            states = [t.state for t in mine]
            if optuna.trial.TrialState.COMPLETE in states and (
                optuna.trial.TrialState.RUNNING in states
            ):
                break
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        outputs = [p.communicate(timeout=180) for p in procs[1:]]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert victim.returncode == -signal.SIGKILL
    for p, (out, err) in zip(procs[1:], outputs, strict=True):
        assert p.returncode == 0 and "Traceback" not in err, err  # 0 crashes
        assert out.strip() == f"driver done {BUDGET}"

    study = load_study(name, url)
    trials = study.trials
    raw = {t.number: t for t in _raw_trials(url, name)}
    driver_pid = {
        n: (t.system_attrs.get("llmhpo:driver") or {}).get("pid") for n, t in raw.items()
    }
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    # the budget exactly: BUDGET finished trials, nothing left running
    assert len(complete) == study.n_finished == BUDGET
    assert not [t for t in trials if t.state is TrialState.RUNNING]
    # the trials the victim was running are interrupted (reclaimed), nothing else is
    interrupted = [t for t in trials if t.state is TrialState.INTERRUPTED]
    assert interrupted and {driver_pid[t.number] for t in interrupted} == {victim.pid}
    assert all("driver stopped" in (t.error or "") for t in interrupted)
    # 0 repeated points among the evaluated trials
    assert len({(t.params["x"], t.params["y"]) for t in complete}) == BUDGET
    # every driver took part, the victim included
    assert {driver_pid[t.number] for t in complete} == {p.pid for p in procs}
    # 0 completed trials lost: every evaluation that returned to a live driver is stored
    log = [json.loads(line) for line in (tmp_path / "evaluations.jsonl").read_text().split("\n")
           if line]
    by_number = {t.number: t for t in trials}
    for rec in log:
        t = by_number[rec["number"]]
        if driver_pid[t.number] != victim.pid or t.state is not TrialState.INTERRUPTED:
            assert t.state is TrialState.COMPLETE and t.value == pytest.approx(rec["value"])
    assert len(log) >= BUDGET


def test_four_drivers_on_sqlite_one_killed(tmp_path):
    _run_drivers_and_kill_one(f"sqlite:///{tmp_path / 'shared.db'}", tmp_path)


def test_four_drivers_on_postgresql_one_killed(postgres_url, tmp_path):
    _run_drivers_and_kill_one(postgres_url, tmp_path)
