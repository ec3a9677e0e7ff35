"""Process-pool workers under real kills: dead workers are replaced whether busy or idle, a
call whose worker died is run once more before it counts as failed, and the pool starts no
more workers than there are calls."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from llmhpo.executors import ProcessExecutor
from llmhpo.objectives.external import PythonObjective
from llmhpo.space import Float, SearchSpace
from llmhpo.study import TrialState, create_study

X = SearchSpace([Float("x", 0.0, 1.0)])


def test_idle_workers_killed_between_trials_are_replaced(db_url):
    """Kill -9 the worker that just finished a trial (it is idle) after each of the first 6
    trials: every trial still completes (was: 17-24 of 30 failed with BrokenPipeError)."""
    study = create_study(X, storage=db_url, study_name="idle", budget=16, seed=0)
    killed: list[int] = []

    def kill_idle(st, trial):
        pid = trial.metrics.get("pid")
        if len(killed) < 6 and trial.state is TrialState.COMPLETE and pid not in killed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # two trials of one worker finished in one loop turn
                return
            killed.append(pid)

    with ProcessExecutor(2) as ex:
        study.optimize(PythonObjective("robust_objectives:value_and_pid"), executor=ex,
                       callbacks=[kill_idle])
        started = ex.n_started
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE] * 16, [t.error for t in study.trials]
    assert len(killed) == 6 and started >= 2 + 1  # at least one replacement worker started


def test_a_worker_killed_under_a_trial_is_retried_once_on_a_new_worker(db_url, tmp_path):
    """Each trial's first run SIGKILLs its worker: the retry completes it, so no trial is
    charged with the infrastructure failure."""
    obj = PythonObjective("robust_objectives:killed_once", {"marker_dir": str(tmp_path)})
    study = create_study(X, storage=db_url, study_name="busy", budget=4, seed=0)
    with ProcessExecutor(2) as ex:
        study.optimize(obj, executor=ex)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
    for t in study.trials:  # the pid that completed it is not the one that was killed
        assert int((tmp_path / f"trial_{t.number}").read_text()) != t.metrics["pid"]


def test_a_trial_that_kills_its_worker_every_time_fails_after_one_retry(db_url):
    """os._exit in the objective (a crash the trial itself causes) fails that trial after its
    retry; the study goes on with fresh workers."""
    study = create_study(X, storage=db_url, study_name="crash", budget=8, seed=1)
    with ProcessExecutor(2) as ex:
        study.optimize(PythonObjective("robust_objectives:exits_when_x_small"), executor=ex)
    trials = study.trials
    assert len(trials) == 8
    for t in trials:
        if t.params["x"] < 0.5:
            assert t.state is TrialState.FAILED
            assert "died" in t.error and "2 runs" in t.error
        else:
            assert t.state is TrialState.COMPLETE and t.value == t.params["x"]
    assert any(t.params["x"] < 0.5 for t in trials) and any(t.params["x"] >= 0.5 for t in trials)


def test_the_pool_starts_only_the_workers_it_needs(db_url):
    study = create_study(X, storage=db_url, study_name="lazy", budget=2, seed=0)
    with ProcessExecutor(30) as ex:
        study.optimize(PythonObjective("robust_objectives:value_and_pid"), executor=ex)
        assert ex.n_started <= 2
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2


def test_a_timed_out_call_is_not_retried(db_url):
    study = create_study(X, storage=db_url, study_name="slow", budget=1, seed=0)
    t0 = time.monotonic()
    with ProcessExecutor(1) as ex:
        study.optimize(PythonObjective("robust_objectives:slow"), executor=ex,
                       trial_timeout=1.0)
    assert time.monotonic() - t0 < 15
    assert [t.state for t in study.trials] == [TrialState.TIMEOUT]


@pytest.mark.parametrize("n", [0, -1, 2.5, "2", True])
def test_bad_worker_counts_are_config_errors(n):
    from llmhpo.exceptions import InvalidConfigError

    with pytest.raises(InvalidConfigError, match="n_workers: got"):
        ProcessExecutor(n)


@pytest.mark.parametrize("retries", [0, 2])
def test_execution_retries_from_the_run_config(tmp_path, monkeypatch, retries):
    """``execution.retries`` reaches the process pool: a trial whose worker always dies runs
    ``retries + 1`` times, then is recorded FAILED with the reason."""
    from llmhpo.assembly import run
    from llmhpo.config import load_config

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    cfg = load_config({
        "study_name": "r", "storage": f"sqlite:///{tmp_path / 'r.db'}", "budget": 1,
        "space": {"x": {"type": "float", "low": 0.0, "high": 0.4}},
        "objective": {"type": "python", "target": "robust_objectives:exits_when_x_small"},
        "execution": {"n_workers": 2, "executor": "process", "retries": retries},
    })
    (t,) = run(cfg).trials
    assert t.state is TrialState.FAILED and "died" in t.error
    assert ("runs of this call" in t.error) is (retries > 0)
    if retries:
        assert f"{retries + 1} runs" in t.error


def test_execution_retries_out_of_range_is_a_config_error():
    from llmhpo.config import load_config
    from llmhpo.exceptions import InvalidConfigError

    with pytest.raises(InvalidConfigError, match=r"execution.retries.*11"):
        load_config({"objective": {"type": "synthetic", "name": "branin"},
                     "execution": {"retries": 11}})
