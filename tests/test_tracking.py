"""MLflow logging against a real local MLflow file store: a parent run per study, a child
run per trial with parameters, metrics, the learning curve and the adapter as an artifact."""

from __future__ import annotations

import math

import pytest

import llmhpo
from llmhpo.tracking import MLflowCallback

pytest.importorskip("mlflow")


def _objective_study(tmp_path, cb, n=3):
    study = llmhpo.create_study({"learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1,
                                                   "log": True}},
                                optimizer="random", metric="val_loss", budget=n, seed=0,
                                storage=f"sqlite:///{tmp_path / 's.db'}", study_name="trk")
    storage = study._records.storage
    for i in range(n):
        (p,) = study.ask()
        if i == 1:
            trial = study.tell(p, None, error="RuntimeError: diverged")
        else:
            for step in range(3):
                storage.set_trial_intermediate_value(p.trial_id, step, 3.0 - step)
            adapter = tmp_path / f"trial_{p.number}" / "adapter"
            adapter.mkdir(parents=True)
            (adapter / "adapter_config.json").write_text("{}")
            trial = study.tell(p, {"val_loss": -math.log10(p.params["learning_rate"]),
                                   "tokens_per_s": 100.0, "adapter_path": str(adapter)})
        cb(study, trial)
    return study


def test_parent_and_child_runs_in_a_local_store(tmp_path):
    from mlflow.tracking import MlflowClient

    cb = MLflowCallback(f"file:{tmp_path / 'mlruns'}")
    study = _objective_study(tmp_path, cb)
    client = MlflowClient(tracking_uri=cb.tracking_uri)
    exp = client.get_experiment_by_name("trk")
    runs = client.search_runs([exp.experiment_id])
    parent_id = study.user_attrs["mlflow"]["parent_run_id"]
    parent = next(r for r in runs if r.info.run_id == parent_id)
    assert parent.data.tags["llmhpo.study"] == "trk"
    assert parent.data.tags["llmhpo.best_trial"] == str(study.best_trial.number)
    children = sorted((r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent_id),
                      key=lambda r: int(r.data.tags["llmhpo.trial"]))
    assert len(children) == 3
    ok, failed = children[0], children[1]
    t0 = study.trials[0]
    assert ok.data.params == {"learning_rate": str(t0.params["learning_rate"])}
    assert ok.data.metrics["val_loss"] == pytest.approx(t0.value)
    assert ok.data.metrics["objective"] == pytest.approx(t0.value)
    assert ok.data.metrics["tokens_per_s"] == 100.0
    assert ok.info.status == "FINISHED"
    hist = client.get_metric_history(ok.info.run_id, "curve/val_loss")
    assert sorted((m.step, m.value) for m in hist) == [(0, 3.0), (1, 2.0), (2, 1.0)]
    assert [f.path for f in client.list_artifacts(ok.info.run_id, "adapter")] == [
        "adapter/adapter_config.json"]
    assert failed.info.status == "FAILED"
    assert failed.data.tags["llmhpo.state"] == "failed"
    assert "diverged" in failed.data.tags["llmhpo.error"]
    # a resumed study (a new callback) logs under the same parent run
    cb2 = MLflowCallback(f"file:{tmp_path / 'mlruns'}")
    cb2._setup(study)
    assert cb2._parent == parent_id


def test_run_config_mlflow_true_logs_to_mlruns_in_the_cwd(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from llmhpo.cli.main import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.yaml").write_text(
        "study_name: b\nstorage: sqlite:///b.db\nbudget: 3\nmlflow: true\n"
        "objective: {type: synthetic, name: branin}\n")
    assert main(["run", "run.yaml", "--quiet"]) == 0
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    runs = client.search_runs([client.get_experiment_by_name("b").experiment_id])
    assert len(runs) == 4  # the parent and 3 trials
    assert main(["run", "run.yaml", "--quiet", "--budget", "4"]) == 0  # resume: same parent
    runs = client.search_runs([client.get_experiment_by_name("b").experiment_id])
    assert len(runs) == 5 and sum("mlflow.parentRunId" not in r.data.tags for r in runs) == 1


def test_bad_mlflow_config_is_one_error():
    from llmhpo.config import RunConfig
    from llmhpo.exceptions import InvalidConfigError

    with pytest.raises(InvalidConfigError, match="config key 'mlflow'"):
        RunConfig(objective={"type": "synthetic", "name": "branin"}).with_overrides(
            mlflow={"uri": "x"})
