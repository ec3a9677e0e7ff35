"""A learning-curve task: a scikit-learn MLP trained epoch by epoch with ``partial_fit``.

The multi-fidelity schedulers (:mod:`llmhpo.study.scheduling`) need an objective that improves
with a resource and can stop early; the ML suite's tasks (:mod:`llmhpo.bench.sklearn_tasks`)
train to a fixed fidelity in one call. :class:`PartialFitTask` trains
``MLPClassifier(solver="adam")`` one epoch per ``partial_fit`` call on a stratified
train/validation split of a bundled dataset, reports the validation error after every epoch
through ``ctx.report(epoch, {"val_error": ...})``, stops with
:class:`~llmhpo.exceptions.TrialPruned` when ``ctx.should_stop()`` says so, and keeps a
checkpoint (the pickled model, the epoch and the shuffling generator) in the trial's work
directory, from which a trial continues with the same curve as if it had never stopped.

The resource is the epoch (one pass over the training split); the compute of a trial is the
number of epochs it trained.
"""

from __future__ import annotations

import functools
import math
import pickle
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from llmhpo.exceptions import InvalidConfigError
from llmhpo.space import Float, Int, SearchSpace

__all__ = ["PartialFitTask", "CURVE_TASKS", "get_curve_task", "partial_fit_space"]

_CHECKPOINT = "partial_fit.pkl"


def partial_fit_space() -> SearchSpace:
    """MLP hyperparameters (HPOBench's MLP space without depth; width log-scaled)."""
    return SearchSpace([
        Float("learning_rate_init", 1e-5, 1.0, log=True, default=1e-3),
        Float("alpha", 1e-8, 1.0, log=True, default=1e-4),
        Int("batch_size", 32, 256, log=True, default=64),
        Int("width", 8, 64, log=True, default=32),
    ])


@functools.cache
def _split(dataset: str, seed: int) -> tuple[np.ndarray, ...]:
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from llmhpo.objectives.sklearn_tasks import _load

    X, y = _load(dataset)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(Xtr)
    return scaler.transform(Xtr), scaler.transform(Xva), ytr, yva


@dataclass(frozen=True)
class PartialFitTask:
    """Validation error of an MLP trained ``max_epochs`` epochs with ``partial_fit``.

    Deterministic for given parameters (the model's initialisation and the per-epoch shuffles
    are seeded by ``seed``), so a stopped and continued trial reproduces the uninterrupted
    curve exactly.

    Attributes:
        dataset: a dataset of :data:`llmhpo.bench.sklearn_tasks.DATASETS`.
        max_epochs: the full fidelity.
        seed: seed of the split, the initialisation and the shuffles.
    """

    dataset: str = "digits"
    max_epochs: int = 27
    seed: int = 0

    @property
    def name(self) -> str:
        return f"mlpcurve-{self.dataset}"

    @property
    def optimum(self) -> float:
        return 0.0

    def space(self) -> SearchSpace:
        return partial_fit_space()

    def __call__(self, params: Mapping[str, Any], ctx: Any = None) -> dict[str, Any]:
        """Train up to ``max_epochs`` epochs; returns ``val_error`` (the last epoch's),
        ``epochs`` and ``learning_curve`` (``[[epoch, val_error], ...]``)."""
        from sklearn.neural_network import MLPClassifier

        from llmhpo.exceptions import TrialPruned

        p = self.space().validate(params)
        Xtr, Xva, ytr, yva = _split(self.dataset, self.seed)
        classes = np.unique(ytr)
        ckpt = self._checkpoint_path(ctx)
        if ckpt is not None and ckpt.is_file():
            with open(ckpt, "rb") as f:
                state = pickle.load(f)
            if state["params"] != dict(p):
                state = None
        else:
            state = None
        if state is None:
            model = MLPClassifier(
                hidden_layer_sizes=(p["width"],), solver="adam", alpha=p["alpha"],
                batch_size=p["batch_size"], learning_rate_init=p["learning_rate_init"],
                random_state=self.seed,
            )
            state = {"params": dict(p), "model": model, "epoch": 0, "curve": [],
                     "rng": np.random.default_rng(self.seed)}
        resumed_from = state["epoch"]
        model, rng = state["model"], state["rng"]

        def metrics() -> dict[str, Any]:
            last = state["curve"][-1][1] if state["curve"] else math.nan
            return {"val_error": last, "epochs": state["epoch"],
                    "learning_curve": [list(c) for c in state["curve"]],
                    "resumed_from_epoch": resumed_from}

        while state["epoch"] < self.max_epochs:
            order = rng.permutation(len(ytr))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.partial_fit(Xtr[order], ytr[order], classes=classes)
            state["epoch"] += 1
            err = float(1.0 - model.score(Xva, yva))
            if not math.isfinite(err):
                raise FloatingPointError(f"validation error is {err}")
            state["curve"].append([state["epoch"], err])
            if ckpt is not None:
                tmp = ckpt.with_suffix(".tmp")
                with open(tmp, "wb") as f:
                    pickle.dump(state, f)
                tmp.replace(ckpt)  # atomic: a kill -9 leaves the previous checkpoint
            report = getattr(ctx, "report", None)
            if report is not None:
                report(state["epoch"], {"val_error": err})
            stop = getattr(ctx, "should_stop", None)
            if stop is not None and state["epoch"] < self.max_epochs and stop():
                exc = TrialPruned(f"stopped at epoch {state['epoch']} of {self.max_epochs}")
                exc.metrics = metrics()  # type: ignore[attr-defined]
                raise exc
        return metrics()

    def resumable(self, workdir: Any) -> bool:
        """True when ``workdir`` holds a checkpoint a trial continues from."""
        return (Path(workdir) / _CHECKPOINT).is_file()

    @staticmethod
    def _checkpoint_path(ctx: Any) -> Path | None:
        if getattr(ctx, "workdir", None) is None:
            return None
        return Path(ctx.path()) / _CHECKPOINT


CURVE_TASKS: tuple[str, ...] = ("mlpcurve-digits", "mlpcurve-breast_cancer")


def get_curve_task(name: str, max_epochs: int = 27) -> PartialFitTask:
    """The task ``"mlpcurve-<dataset>"``."""
    prefix, sep, dataset = name.partition("-")
    if prefix != "mlpcurve" or not sep:
        raise InvalidConfigError(f"learning-curve tasks are 'mlpcurve-<dataset>', got {name!r}")
    from llmhpo.objectives.sklearn_tasks import DATASETS

    if dataset not in DATASETS:
        raise InvalidConfigError(
            f"unknown sklearn dataset {dataset!r}, expected one of {list(DATASETS)}"
        )
    return PartialFitTask(dataset, max_epochs)
