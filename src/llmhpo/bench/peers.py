"""Contenders of the benchmark behind one minimal ask/tell interface.

llmhpo optimizers are driven through their own ``ask``/``tell``; peers (Optuna's TPE, GP and
random samplers) through Optuna's own ``study.ask``/``study.tell`` loop on an in-memory study,
so that each runs exactly as its users would run it.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol

from llmhpo.exceptions import InvalidConfigError
from llmhpo.space import SearchSpace

__all__ = ["AskTell", "PEERS", "SLOW_CONTENDERS", "all_contenders", "make_contender"]

# peer name -> Optuna sampler class name
PEERS: dict[str, str] = {
    "optuna-tpe": "TPESampler",
    "optuna-gp": "GPSampler",
    "optuna-random": "RandomSampler",
}
# Contenders that fit a Gaussian process at every step (0.2-1 s per suggestion on
# 2 cores); the full run may give them fewer seeds.
SLOW_CONTENDERS: frozenset[str] = frozenset({"bo", "optuna-gp"})
# Initial-design parameters of the model-based contenders (ours and Optuna's), all 10 by default.
_INIT_PARAMS = ("n_init", "n_startup_trials")


def initial_design_size(budget: int, default: int = 10) -> int:
    """Random/LHS points before a model-based contender uses its model: a third of the run's
    budget, at most the default 10 and at least 2. Runs to 30 evaluations or more keep every
    default; a short run (the llm suite, ``--quick``) still gets model-based suggestions."""
    return max(2, min(default, budget // 3))


class AskTell(Protocol):
    """One optimizer run: ``ask()`` gives parameters (``None``: exhausted), ``tell`` the loss."""

    def ask(self) -> dict[str, Any] | None: ...

    def tell(self, value: float | None) -> None: ...


def all_contenders() -> list[str]:
    """Every llmhpo optimizer, then every peer."""
    from llmhpo.optimizers import OPTIMIZERS

    return list(OPTIMIZERS) + list(PEERS)


class _LLMHPORun:
    def __init__(self, name: str, space: SearchSpace, seed: int, budget: int) -> None:
        from llmhpo.optimizers import get_optimizer

        cls = get_optimizer(name)
        params = inspect.signature(cls.__init__).parameters
        kwargs: dict[str, Any] = {}
        # Optimizers whose design depends on the budget get it (LHS size, SOO/MADS budget).
        if "budget" in params:
            kwargs["budget"] = budget
        if "n_points" in params:
            kwargs["n_points"] = budget
        for name_ in _INIT_PARAMS:
            if name_ in params:
                kwargs[name_] = initial_design_size(budget)
        self.opt = cls(space, seed=seed, **kwargs)
        self._pending: Any = None

    def ask(self) -> dict[str, Any] | None:
        out = self.opt.ask(1)
        if not out:
            return None
        self._pending = out[0]
        return dict(out[0].params)

    def tell(self, value: float | None) -> None:
        self.opt.tell(self._pending, value)


class _OptunaRun:
    def __init__(self, name: str, space: SearchSpace, seed: int, budget: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        cls = getattr(optuna.samplers, PEERS[name])
        kwargs: dict[str, Any] = {}
        for name_ in _INIT_PARAMS:
            if name_ in inspect.signature(cls.__init__).parameters:
                kwargs[name_] = initial_design_size(budget)
        sampler = cls(seed=seed, **kwargs)
        self.study = optuna.create_study(direction="minimize", sampler=sampler)
        self.dists = space.optuna_distributions()
        self._trial: Any = None

    def ask(self) -> dict[str, Any] | None:
        self._trial = self.study.ask(self.dists)
        return dict(self._trial.params)

    def tell(self, value: float | None) -> None:
        import optuna

        if value is None:
            self.study.tell(self._trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(self._trial, value)


def make_contender(name: str, space: SearchSpace, seed: int, budget: int) -> AskTell:
    """A fresh run of contender ``name`` on ``space`` (raises if it cannot be built)."""
    from llmhpo.optimizers import OPTIMIZERS

    if name in PEERS:
        return _OptunaRun(name, space, seed, budget)
    if name in OPTIMIZERS:
        return _LLMHPORun(name, space, seed, budget)
    raise InvalidConfigError(
        f"unknown contender {name!r}, expected one of {all_contenders()}"
    )
