"""Learning curves and early stopping behind the study loop (real SQLite storage, real worker
processes): curves as Optuna intermediate values, ASHA / Hyperband / median through Optuna's
pruners, PRUNED trials recorded and never best, compute budget, continuing an interrupted
trial from its checkpoint."""

from __future__ import annotations

import time

import helper_objectives as obj
import optuna
import pytest

from llmhpo.exceptions import InvalidConfigError
from llmhpo.space import Float, SearchSpace
from llmhpo.study import TrialState, create_study, load_study
from llmhpo.study.scheduling import SchedulerConfig, compute_spent

X = SearchSpace([Float("x", 0.0, 1.0)])


def _check_records(study):
    trials = study.trials
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    done = [t for t in trials if t.state is TrialState.COMPLETE]
    for t in trials:  # the curve is stored, whatever the state
        assert sorted(t.intermediate) == list(range(1, len(t.intermediate) + 1))
        assert t.value == t.intermediate[max(t.intermediate)]
    assert all(max(t.intermediate) < 9 for t in pruned)
    assert all(max(t.intermediate) == 9 for t in done)
    assert study.best_trial in done
    return pruned, done


def test_asha_prunes_records_and_tells_the_optimizer(db_url, tmp_path):
    study = create_study(X, optimizer="random", storage=db_url, study_name="asha", budget=12)
    best = study.optimize(obj.curve, scheduler={"name": "asha", "min_resource": 1})
    pruned, done = _check_records(study)
    assert len(pruned) >= 4 and len(done) >= 1
    assert best.number == min(done, key=lambda t: t.value).number
    # the optimizer learned every trial, a pruned one with its last-fidelity value
    assert sorted(o.value for o in study.optimizer.observations) == sorted(
        t.value for t in study.trials)
    spent = compute_spent(study.trials)
    assert spent == sum(max(t.intermediate) for t in study.trials) < 12 * 9
    # Optuna sees the same thing (optuna-dashboard draws these curves)
    ot = optuna.load_study(study_name="asha", storage=db_url).trials
    assert [t.state.name for t in ot].count("PRUNED") == len(pruned)
    assert ot[0].intermediate_values == study.trials[0].intermediate
    assert load_study("asha", db_url).trials[-1].state in (TrialState.PRUNED,
                                                          TrialState.COMPLETE)
    # a low-fidelity value is never imported as a complete result
    other = create_study(X, budget=1)
    assert other.warm_start(study) == len(done)
    assert create_study(X, budget=1).warm_start(study.to_csv(tmp_path / "a.csv")) == len(done)


def test_hyperband_with_two_worker_processes_and_a_compute_budget(db_url):
    study = create_study(X, optimizer="lhs", storage=db_url, study_name="hb")
    study.optimize(obj.curve, n_workers=2, compute_budget=60,
                   scheduler={"name": "hyperband", "min_resource": 1, "max_resource": 9})
    pruned, done = _check_records(study)
    assert pruned and done
    spent = compute_spent(study.trials)
    assert 60 <= spent <= 60 + 2 * 9  # no trial started once 60 steps were spent
    assert {t.metrics["pid"] if "pid" in t.metrics else 0 for t in study.trials}


def test_median_stops_nothing_before_its_startup_trials(db_url):
    study = create_study(X, storage=db_url, study_name="med", budget=6)
    study.optimize(obj.curve, scheduler={"name": "median", "n_startup_trials": 3})
    states = [t.state for t in study.trials]
    assert states[:3] == [TrialState.COMPLETE] * 3
    assert TrialState.PRUNED in states[3:]


def test_no_scheduler_records_curves_and_stops_nothing():
    study = create_study(X, budget=3)  # in-memory storage, inline
    study.optimize(obj.curve)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    assert all(len(t.intermediate) == 9 for t in study.trials)


def test_interrupted_trial_continues_from_its_checkpoint(db_url, tmp_path, monkeypatch):
    study = create_study(X, storage=db_url, study_name="cont", budget=3)
    monkeypatch.setenv("LLMHPO_TEST_INTERRUPT", "1:4")
    with pytest.raises(KeyboardInterrupt):
        study.optimize(obj.curve, workdir=tmp_path)
    monkeypatch.delenv("LLMHPO_TEST_INTERRUPT")
    resumed = load_study("cont", db_url)  # trial 1 left RUNNING, as by a kill -9
    assert [t.state for t in resumed.trials] == [TrialState.COMPLETE, TrialState.RUNNING]
    # its driver (this process) is alive: it is reclaimed once its heartbeat is stale (the
    # database clock has whole seconds and the grace period is at least 1 s)
    time.sleep(2.5)
    resumed.optimize(obj.curve, workdir=tmp_path, heartbeat_interval=0.1, grace_period=0.5)
    t0, t1, t2, t3 = resumed.trials
    assert t1.state is TrialState.INTERRUPTED
    assert t2.params == t1.params and t2.attrs["resumed_from_trial"] == 1
    assert t2.metrics["started_at"] == 4  # continued, not restarted
    assert t2.intermediate == {s: (t1.params["x"] - 0.3) ** 2 + 1 / s for s in range(1, 10)}
    assert t3.state is TrialState.COMPLETE and "resumed_from_trial" not in t3.attrs
    # 4 steps before the interruption + the 5 after it: nothing trained twice
    assert compute_spent(resumed.trials) == 9 + (4 + 5) + 9


def test_packaged_asha_config_is_valid():
    from llmhpo.config import default_config_path, load_config
    from llmhpo.objectives.lora.objective import LoRAObjective

    cfg = load_config(default_config_path().with_name("lora_asha.yaml"))
    assert cfg.scheduler["name"] == "asha" and cfg.compute_budget == 240
    obj = LoRAObjective({k: v for k, v in cfg.objective.items() if k != "type"})
    assert obj.train_config.eval_every == 4 and obj.train_config.steps * 12 == 240


def test_scheduler_config_errors():
    with pytest.raises(InvalidConfigError, match="max_resource"):
        SchedulerConfig.from_mapping({"name": "hyperband"})
    with pytest.raises(InvalidConfigError, match="one of"):
        SchedulerConfig.from_mapping("pbt")
    with pytest.raises(InvalidConfigError, match="reduction_factor"):
        SchedulerConfig.from_mapping({"name": "asha", "reduction_factor": 1})
    with pytest.raises(InvalidConfigError, match="database storage"):
        create_study(X, budget=2).optimize(obj.curve, n_workers=2, scheduler="asha")


def test_progress_counts_pruned_trials_apart_from_failures(caplog, capsys):
    import logging

    study = create_study(X, optimizer="random", budget=10)
    with caplog.at_level(logging.INFO, logger="llmhpo"):
        study.optimize(obj.curve, scheduler={"name": "asha", "min_resource": 1},
                       show_progress=True)
    n_pruned = sum(t.state is TrialState.PRUNED for t in study.trials)
    assert n_pruned >= 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"pruned {n_pruned}" in last and "failed 0" in last
    # a pruned trial is the scheduler working: logged at INFO, never as a warning
    pruned_logs = [r for r in caplog.records if " pruned with parameters" in r.getMessage()]
    assert len(pruned_logs) == n_pruned
    assert all(r.levelno == logging.INFO for r in pruned_logs)
