"""Heartbeats decide which running trials of other drivers may be reclaimed, and a driver whose
trial was reclaimed anyway keeps its result. Real SQLite files, real threads, no mocks."""

from __future__ import annotations

import threading
import time

from llmhpo import create_study, load_study
from llmhpo.study import TrialState
from llmhpo.study.coordination import Heartbeat, reclaim_trial

SPACE = {
    "x": {"type": "float", "low": 0.0, "high": 1.0},
    "y": {"type": "float", "low": 0.0, "high": 1.0},
}


def _value(params, ctx=None):
    time.sleep(0.05)
    return params["x"] + params["y"]


def test_a_remote_drivers_trial_is_reclaimed_only_once_its_heartbeat_stops(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = create_study(SPACE, storage=url, study_name="s", budget=3, seed=0)
    records = study._records
    # a driver on another machine runs one trial and keeps beating for it
    remote = {"token": "remote", "host": "another-machine", "pid": 1, "heartbeat": True}
    trial_id, number = records.create_trial(
        {"x": 0.9, "y": 0.9}, study.space.optuna_distributions(), None, {}, driver=remote
    )
    beat = Heartbeat(records.storage, 0.5).start()
    beat.add(trial_id)

    driver = load_study("s", url)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            driver.optimize(_value, heartbeat_interval=0.5, grace_period=2)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while sum(t.state is TrialState.COMPLETE for t in load_study("s", url).trials) < 2:
            assert time.monotonic() < deadline and thread.is_alive()
            time.sleep(0.1)
        # the driver ran the two free slots and now waits; the remote trial is alive: kept
        time.sleep(3.5)
        assert thread.is_alive()
        assert load_study("s", url).trials[number].state is TrialState.RUNNING
    finally:
        beat.stop()  # the remote machine dies
    thread.join(timeout=60)
    assert not thread.is_alive() and not errors
    trials = load_study("s", url).trials
    assert trials[number].state is TrialState.INTERRUPTED
    assert "driver stopped" in trials[number].error
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    assert len(complete) == 3 == load_study("s", url).n_finished


def test_a_reclaimed_trials_late_result_is_kept_and_the_budget_holds(tmp_path):
    url = f"sqlite:///{tmp_path / 'late.db'}"
    slow = create_study(SPACE, storage=url, study_name="late", budget=2, seed=0)
    (p,) = slow.ask(1)
    # another driver took this trial for a dead driver's (its heartbeat had stopped) ...
    assert reclaim_trial(slow._records.storage, p.trial_id)
    other = load_study("late", url)
    other.optimize(_value)  # ... and used the freed slot: the budget is full
    assert other.n_finished == 2

    late = slow.tell(p, 0.25)  # the result arrives after all: no crash, nothing lost
    assert late.state is TrialState.COMPLETE and late.value == 0.25
    assert late.params == p.params and late.attrs["late_result_of"] == p.number
    assert late.warm_start  # kept as data, over the budget: not counted
    trials = load_study("late", url).trials
    assert trials[p.number].state is TrialState.INTERRUPTED
    assert load_study("late", url).n_finished == 2

    # with room left in the budget, a late result counts
    roomy = create_study(SPACE, storage=url, study_name="roomy", budget=3, seed=0)
    (q,) = roomy.ask(1)
    assert reclaim_trial(roomy._records.storage, q.trial_id)
    counted = roomy.tell(q, 0.5)
    assert counted.state is TrialState.COMPLETE and not counted.warm_start
    assert load_study("roomy", url).n_finished == 1
