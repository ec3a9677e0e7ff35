"""Peers outside Optuna, each behind the bench's ask/tell interface (optional packages).

* ``smac``: SMAC3's ``HyperparameterOptimizationFacade`` (random-forest surrogate, its own
  Sobol initial design of ``n_init`` configurations, ``deterministic=True``), driven through
  ``smac.ask()``/``smac.tell()``.
* ``ngopt``: Nevergrad's ``NGOpt`` portfolio for the run's budget, one worker.
* ``hebo``: not run. ``pip install HEBO`` (0.3.6) pins old NumPy/pandas/matplotlib releases
  and tries to build matplotlib 3.4 from source on Python 3.11; it does not install next to
  this project's stack, so the bench reports it as unavailable.

The space is translated from Optuna's distributions (:meth:`SearchSpace.optuna_distributions`),
so every peer sees the same variables, scales and choices as Optuna's samplers. A failed
evaluation is told as the worst loss seen so far (the peers here take no "failed" result).
"""

from __future__ import annotations

import math
import tempfile
from typing import Any

from llmhpo.exceptions import OptionalDependencyError
from llmhpo.space import SearchSpace

__all__ = ["make"]


def make(name: str, space: SearchSpace, seed: int, budget: int, n_init: int) -> Any:
    """A fresh run of the peer ``name`` (raises :class:`OptionalDependencyError` if missing)."""
    if name == "smac":
        return _SMACRun(space, seed, budget, n_init)
    if name == "ngopt":
        return _NGOptRun(space, seed, budget)
    raise OptionalDependencyError(
        f"peer {name!r} is not available: HEBO does not install next to this project's "
        "dependencies (it pins old NumPy/pandas/matplotlib releases)"
    )


class _FailureAsWorst:
    """Turns a failed evaluation into the worst loss seen so far (1e9 before any success)."""

    def __init__(self) -> None:
        self._worst = -math.inf

    def loss(self, value: float | None) -> float:
        if value is None or not math.isfinite(value):
            return self._worst if math.isfinite(self._worst) else 1e9
        self._worst = max(self._worst, value)
        return value


def _constants(space: SearchSpace) -> dict[str, Any]:
    return {n: d.choices[0] for n, d in space.optuna_distributions().items()
            if type(d).__name__ == "CategoricalDistribution" and len(d.choices) == 1}


class _SMACRun:
    def __init__(self, space: SearchSpace, seed: int, budget: int, n_init: int) -> None:
        try:
            from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer
            from smac import HyperparameterOptimizationFacade as HPO
            from smac import Scenario
        except ImportError as exc:
            raise OptionalDependencyError(
                f"the smac peer needs SMAC3 (pip install smac): {exc}") from None
        self._const = _constants(space)
        cs = ConfigurationSpace(seed=seed)
        for n, d in space.optuna_distributions().items():
            if n in self._const:
                continue
            kind = type(d).__name__
            if kind == "FloatDistribution":
                cs.add(Float(n, (d.low, d.high), log=d.log))
            elif kind == "IntDistribution":
                cs.add(Integer(n, (d.low, d.high), log=d.log))
            else:
                cs.add(Categorical(n, list(d.choices)))
        self._tmp = tempfile.TemporaryDirectory(prefix="llmhpo-smac-")
        scenario = Scenario(cs, deterministic=True, n_trials=budget, seed=seed,
                            output_directory=f"{self._tmp.name}/smac")
        design = HPO.get_initial_design(scenario, n_configs=n_init)
        self._smac = HPO(scenario, target_function=_never_called, initial_design=design,
                         overwrite=True, logging_level=40)
        self._info: Any = None
        self._fail = _FailureAsWorst()

    def ask(self) -> dict[str, Any] | None:
        self._info = self._smac.ask()
        return {**dict(self._info.config), **self._const}

    def tell(self, value: float | None) -> None:
        from smac.runhistory.dataclasses import TrialValue

        self._smac.tell(self._info, TrialValue(cost=self._fail.loss(value)))

    def close(self) -> None:
        self._tmp.cleanup()


def _never_called(config: Any, seed: int = 0) -> float:  # SMAC's facade wants a target
    raise RuntimeError("the bench drives SMAC through ask/tell")


class _NGOptRun:
    def __init__(self, space: SearchSpace, seed: int, budget: int) -> None:
        try:
            import nevergrad as ng
            import numpy as np
        except ImportError as exc:
            raise OptionalDependencyError(
                f"the ngopt peer needs Nevergrad (pip install nevergrad): {exc}") from None
        self._const = _constants(space)
        params: dict[str, Any] = {}
        for n, d in space.optuna_distributions().items():
            if n in self._const:
                continue
            kind = type(d).__name__
            if kind in ("FloatDistribution", "IntDistribution"):
                p = (ng.p.Log(lower=d.low, upper=d.high) if d.log
                     else ng.p.Scalar(lower=d.low, upper=d.high))
                params[n] = p.set_integer_casting() if kind == "IntDistribution" else p
            else:
                params[n] = ng.p.Choice(list(d.choices))
        param = ng.p.Dict(**params)
        param.random_state = np.random.RandomState(seed)
        self._opt = ng.optimizers.NGOpt(parametrization=param, budget=budget, num_workers=1)
        self._cand: Any = None
        self._fail = _FailureAsWorst()

    def ask(self) -> dict[str, Any] | None:
        self._cand = self._opt.ask()
        return {**dict(self._cand.value), **self._const}

    def tell(self, value: float | None) -> None:
        self._opt.tell(self._cand, self._fail.loss(value))
