"""Optional experiment tracking in MLflow: one parent run per study, one child run per trial
(parameters, metrics, the learning curve, the kept adapter as an artifact).

Used as a study callback (``study.optimize(..., callbacks=[MLflowCallback()])``) or from a run
config (``mlflow: true``, a tracking URI, or ``{tracking_uri: ..., experiment: ...}``).
It talks to MLflow through ``MlflowClient`` only, so it neither starts nor changes the user's
active MLflow run. The parent run's id is stored with the study (user attribute ``mlflow``),
so a resumed study keeps logging under the same parent run.

The default store is a local file store, ``./mlruns`` (``mlflow ui`` in the same directory
shows it). MLflow 3 keeps its file store in maintenance mode and refuses it unless
``MLFLOW_ALLOW_FILE_STORE=true``; llmhpo sets that variable (when it is unset) only when it
is asked to use a file store. Any other MLflow URI (``sqlite:///mlflow.db``, an
``http://`` tracking server) is used as given.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from llmhpo._imports import require
from llmhpo.study.trial import Trial, TrialState

__all__ = ["MLflowCallback", "DEFAULT_TRACKING_URI", "mlflow_callback_from_config"]

DEFAULT_TRACKING_URI = "file:./mlruns"
_ATTR = "mlflow"


def _is_file_store(uri: str) -> bool:
    return uri.startswith("file:") or "://" not in uri


class MLflowCallback:
    """Log each finished trial of a study to MLflow (see the module docstring).

    Args:
        tracking_uri: MLflow tracking URI (default ``file:./mlruns``, resolved to an absolute
            path when the callback is made).
        experiment: experiment name (default: the study name).
    """

    def __init__(self, tracking_uri: str | None = None, experiment: str | None = None) -> None:
        uri = tracking_uri or DEFAULT_TRACKING_URI
        if _is_file_store(uri):
            path = uri[len("file:"):] if uri.startswith("file:") else uri
            uri = Path(path.removeprefix("//")).expanduser().resolve().as_uri()
        self.tracking_uri = uri
        self.experiment = experiment
        self._client: Any = None
        self._parent: str | None = None
        self._experiment_id: str | None = None

    def __repr__(self) -> str:
        return f"MLflowCallback(tracking_uri={self.tracking_uri!r})"

    def _setup(self, study: Any) -> None:
        if self._client is not None:
            return
        require("mlflow", feature="MLflow tracking")
        if _is_file_store(self.tracking_uri):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri)
        name = self.experiment or study.study_name
        exp = client.get_experiment_by_name(name)
        self._experiment_id = exp.experiment_id if exp else client.create_experiment(name)
        stored = study.user_attrs.get(_ATTR) or {}
        parent = stored.get("parent_run_id") if stored.get("tracking_uri") == self.tracking_uri \
            else None
        if parent is None:
            run = client.create_run(
                self._experiment_id, run_name=study.study_name,
                tags={"llmhpo.study": study.study_name, "llmhpo.direction": study.direction,
                      "llmhpo.metric": study.metric or "value"},
            )
            parent = run.info.run_id
            study.set_user_attr(_ATTR, {"tracking_uri": self.tracking_uri,
                                        "experiment_id": self._experiment_id,
                                        "parent_run_id": parent})
        self._client, self._parent = client, parent

    def __call__(self, study: Any, trial: Trial) -> None:
        """Log ``trial`` as a child run of the study's parent run."""
        from mlflow.entities import Metric, Param

        self._setup(study)
        client = self._client
        now = int(time.time() * 1000)
        child = client.create_run(
            self._experiment_id, run_name=f"trial {trial.number}",
            tags={"mlflow.parentRunId": self._parent, "llmhpo.trial": str(trial.number),
                  "llmhpo.state": trial.state.value,
                  **({"llmhpo.error": (trial.error or "")[-4000:]} if trial.error else {})},
        ).info.run_id
        metrics = [Metric(k, float(v), now, 0) for k, v in trial.metrics.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)
                   and math.isfinite(v)]
        if trial.value is not None:
            metrics.append(Metric("objective", float(trial.value), now, 0))
        curve = _curve(study, trial.number)
        metrics += [Metric(f"curve/{study.metric or 'value'}", v, now, step)
                    for step, v in sorted(curve.items())]
        params = [Param(k, str(v)) for k, v in trial.params.items()]
        client.log_batch(child, metrics=metrics, params=params)
        adapter = trial.metrics.get("adapter_path")
        if isinstance(adapter, str) and Path(adapter).is_dir():
            client.log_artifacts(child, adapter, "adapter")
        client.set_terminated(child, "FINISHED" if trial.state is TrialState.COMPLETE
                              else "FAILED")
        best = study.best_trial
        if best is not None:
            client.log_batch(self._parent, metrics=[
                Metric("best_objective", float(best.value), now, trial.number)])
            client.set_tag(self._parent, "llmhpo.best_trial", str(best.number))
        client.set_terminated(self._parent, "FINISHED")  # re-opened by the next trial's logs


def _curve(study: Any, number: int) -> dict[int, float]:
    """The trial's intermediate values (learning curve), if it reported any."""
    to_optuna = getattr(study, "to_optuna", None)
    if to_optuna is None:
        return {}
    for t in to_optuna().get_trials(deepcopy=False):
        if t.number == number:
            return {int(s): float(v) for s, v in t.intermediate_values.items()
                    if math.isfinite(v)}
    return {}


def mlflow_callback_from_config(value: Any) -> MLflowCallback | None:
    """The callback a run config's ``mlflow`` key asks for (``None``/``false``: none)."""
    if value in (None, False):
        return None
    if value is True:
        return MLflowCallback()
    if isinstance(value, str):
        return MLflowCallback(value)
    return MLflowCallback(value.get("tracking_uri"), value.get("experiment"))
