"""Machine-learning HPO tasks: Zhang et al. 2023's HPOBench search spaces on scikit-learn's
bundled data.

Zhang et al. 2023 (Appendix B) tunes four scikit-learn models with the HPOBench search spaces.
HPOBench
itself needs containers and OpenML downloads, so the problem definitions are re-implemented
here on the datasets that ship with scikit-learn (offline), the way the performance anchors
recommend for Bayesmark. Each task is an objective ``task(params, ctx=None) -> float``: the
stratified k-fold cross-validated error (1 - accuracy), to minimize.

Model definitions follow HPOBench's ``ml`` benchmarks with cheap fixed fidelities so that one
evaluation takes well under a second:

* ``svm``: ``SVC(C, gamma)`` (RBF kernel) on standardized inputs.
* ``lr``: ``SGDClassifier(loss="log_loss", learning_rate="adaptive", alpha, eta0)``, as in
  HPOBench's ``LRBenchmark`` (``eta0`` is the initial rate of the adaptive schedule), fixed
  ``max_iter``.
* ``rf``: ``RandomForestClassifier`` with a small fixed ``n_estimators``; ``max_features`` in
  [0, 1] is an exponent, ``round(n_features ** max_features)`` features, as in HPOBench's
  ``RandomForestBenchmark`` (so 0 means one feature instead of an invalid 0).
* ``mlp``: ``MLPClassifier(hidden_layer_sizes=[width] * depth, solver="adam")``, capped
  ``max_iter``. Even capped, the corner ``batch_size=4, width=1024, depth=3`` costs minutes
  per evaluation on 2 CPU cores (sklearn's MLP is slow with tiny batches), so the ML suite of
  ``llmhpo bench`` leaves the MLP tasks out by default; they run when named explicitly.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmhpo.exceptions import InvalidConfigError
from llmhpo.space import Float, Int, SearchSpace

__all__ = ["MODELS", "DATASETS", "SklearnTask", "get_task", "model_space", "from_config"]

MODELS: tuple[str, ...] = ("svm", "lr", "rf", "mlp")
DATASETS: tuple[str, ...] = ("breast_cancer", "digits", "wine", "iris")

# Cheap fixed fidelities (HPOBench varies these; we fix them so a run is fast).
_LR_MAX_ITER = 100
_RF_N_ESTIMATORS = 16
_MLP_MAX_ITER = 10


def model_space(model: str) -> SearchSpace:
    """The HPOBench search space of ``model`` (Zhang et al. 2023, Appendix B), defaults
    included."""
    if model == "svm":
        return SearchSpace([
            Float("C", 2**-10, 2**10, log=True, default=1.0),
            Float("gamma", 2**-10, 2**10, log=True, default=0.1),
        ])
    if model == "lr":
        return SearchSpace([
            Float("alpha", 1e-5, 1.0, log=True, default=1e-3),
            Float("eta0", 1e-5, 1.0, log=True, default=1e-2),
        ])
    if model == "rf":
        return SearchSpace([
            Int("max_depth", 1, 50, log=True, default=10),
            Float("max_features", 0.0, 1.0, default=0.5),
            Int("min_samples_leaf", 1, 20, default=1),
            Int("min_samples_split", 2, 128, log=True, default=32),
        ])
    if model == "mlp":
        return SearchSpace([
            Float("alpha", 1e-8, 1.0, log=True, default=1e-3),
            Int("batch_size", 4, 256, log=True, default=32),
            Int("depth", 1, 3, default=3),
            Float("learning_rate_init", 1e-5, 1.0, log=True, default=1e-3),
            Int("width", 16, 1024, log=True, default=64),
        ])
    raise InvalidConfigError(f"unknown sklearn model {model!r}, expected one of {list(MODELS)}")


@functools.cache
def _load(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    from llmhpo._imports import require

    datasets = require("sklearn.datasets", feature="the sklearn benchmark tasks")
    loaders = {
        "breast_cancer": datasets.load_breast_cancer,
        "digits": datasets.load_digits,
        "wine": datasets.load_wine,
        "iris": datasets.load_iris,
    }
    if dataset not in loaders:
        raise InvalidConfigError(
            f"unknown sklearn dataset {dataset!r}, expected one of {list(DATASETS)}"
        )
    X, y = loaders[dataset](return_X_y=True)
    return np.asarray(X, dtype=float), np.asarray(y)


def _estimator(model: str, p: Mapping[str, Any], n_features: int, seed: int) -> Any:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if model == "svm":
        from sklearn.svm import SVC

        return make_pipeline(StandardScaler(), SVC(C=p["C"], gamma=p["gamma"]))
    if model == "lr":
        from sklearn.linear_model import SGDClassifier

        return make_pipeline(
            StandardScaler(),
            SGDClassifier(
                loss="log_loss", learning_rate="adaptive", alpha=p["alpha"], eta0=p["eta0"],
                max_iter=_LR_MAX_ITER, tol=None, random_state=seed,
            ),
        )
    if model == "rf":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=_RF_N_ESTIMATORS,
            max_depth=p["max_depth"],
            max_features=max(1, int(np.rint(n_features ** p["max_features"]))),
            min_samples_leaf=p["min_samples_leaf"],
            min_samples_split=p["min_samples_split"],
            bootstrap=True,
            random_state=seed,
        )
    from sklearn.neural_network import MLPClassifier

    return make_pipeline(
        StandardScaler(),
        MLPClassifier(
            hidden_layer_sizes=[p["width"]] * p["depth"], activation="relu", solver="adam",
            alpha=p["alpha"], batch_size=p["batch_size"],
            learning_rate_init=p["learning_rate_init"], max_iter=_MLP_MAX_ITER,
            random_state=seed,
        ),
    )


@dataclass(frozen=True)
class SklearnTask:
    """One (model, dataset) task: cross-validated error of ``model`` on ``dataset``.

    The objective is deterministic: the folds and the model's own randomness are fixed by
    ``split_seed``, so every optimizer sees the same function.

    Attributes:
        model: one of :data:`MODELS`.
        dataset: one of :data:`DATASETS`.
        n_splits: folds of the stratified cross-validation.
        split_seed: seed of the fold shuffling and of the model.
    """

    model: str
    dataset: str
    n_splits: int = 3
    split_seed: int = 0

    def __post_init__(self) -> None:
        model_space(self.model)  # validates the model name
        if self.dataset not in DATASETS:
            raise InvalidConfigError(
                f"unknown sklearn dataset {self.dataset!r}, expected one of {list(DATASETS)}"
            )
        if not isinstance(self.n_splits, int) or self.n_splits < 2:
            raise InvalidConfigError(f"n_splits must be an integer >= 2, got {self.n_splits!r}")

    @property
    def name(self) -> str:
        return f"{self.model}-{self.dataset}"

    @property
    def optimum(self) -> float:
        """A lower bound of the error (0), used as the reference of relative changes."""
        return 0.0

    def space(self) -> SearchSpace:
        return model_space(self.model)

    def __call__(self, params: Mapping[str, Any], ctx: Any = None) -> float:
        """Cross-validated error (1 - mean accuracy) of the model with ``params``."""
        from sklearn.model_selection import StratifiedKFold, cross_val_score

        p = self.space().validate(params)  # raises InvalidSearchSpaceError on a bad value
        X, y = _load(self.dataset)
        est = _estimator(self.model, p, X.shape[1], self.split_seed)
        cv = StratifiedKFold(self.n_splits, shuffle=True, random_state=self.split_seed)
        with warnings.catch_warnings():
            # capped iterations (lr, mlp) warn about convergence on purpose
            warnings.simplefilter("ignore")
            scores = cross_val_score(est, X, y, cv=cv, scoring="accuracy", error_score="raise")
        return float(1.0 - np.mean(scores))


def get_task(name: str) -> SklearnTask:
    """The task ``"<model>-<dataset>"`` (e.g. ``"svm-breast_cancer"``)."""
    model, sep, dataset = name.partition("-")
    if not sep:
        raise InvalidConfigError(
            f"sklearn task names are '<model>-<dataset>' (models {list(MODELS)}, datasets "
            f"{list(DATASETS)}), got {name!r}"
        )
    return SklearnTask(model, dataset)


def from_config(cfg: Mapping[str, Any]) -> Any:
    """``objective: {type: sklearn, model: svm, dataset: breast_cancer}`` -> ObjectiveSpec.

    Optional keys: ``n_splits`` (default 3) and ``split_seed`` (default 0). ``model: mlpcurve``
    is the learning-curve task :class:`~llmhpo.bench.curve_tasks.PartialFitTask` (metric
    ``val_error``, ``max_epochs`` default 27), for the multi-fidelity schedulers.
    """
    from llmhpo.objectives.registry import ObjectiveSpec

    extra = set(cfg) - {"model", "dataset", "n_splits", "split_seed", "max_epochs"}
    if extra:
        raise InvalidConfigError(
            f"unknown field(s) {sorted(extra)} for an sklearn objective, expected model, "
            f"dataset, n_splits, split_seed"
        )
    for key in ("model", "dataset"):
        if key not in cfg:
            raise InvalidConfigError(
                f"an sklearn objective needs {key!r} (models {list(MODELS)}, datasets "
                f"{list(DATASETS)})"
            )
    if cfg["model"] == "mlpcurve":  # the learning-curve task (epochs, early stopping)
        from llmhpo.bench.curve_tasks import PartialFitTask

        curve = PartialFitTask(str(cfg["dataset"]), int(cfg.get("max_epochs", 27)),
                               int(cfg.get("split_seed", 0)))
        return ObjectiveSpec(curve, curve.space(), "minimize", "val_error")
    task = SklearnTask(
        str(cfg["model"]), str(cfg["dataset"]),
        n_splits=int(cfg.get("n_splits", 3)), split_seed=int(cfg.get("split_seed", 0)),
    )
    return ObjectiveSpec(task, task.space(), "minimize", None)
