"""Contenders of the benchmark behind one minimal ask/tell interface.

llmhpo optimizers are driven through their own ``ask``/``tell``; peers through their own
ask/tell interfaces, as their users would run them: Optuna's TPE, GP, CMA-ES and random
samplers through ``study.ask``/``study.tell`` on an in-memory study; SMAC3, Nevergrad and HEBO
in :mod:`llmhpo.bench.external_peers` (optional: a peer whose package is missing is skipped).
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol

from llmhpo.exceptions import InvalidConfigError
from llmhpo.space import SearchSpace

__all__ = [
    "AskTell", "PEERS", "OPTUNA_PEERS", "OTHER_PEERS", "VARIANTS", "BASELINES",
    "SLOW_CONTENDERS", "all_contenders", "available", "make_contender",
]

# peer name -> Optuna sampler class name
OPTUNA_PEERS: dict[str, str] = {
    "optuna-tpe": "TPESampler",
    "optuna-gp": "GPSampler",
    "optuna-random": "RandomSampler",
    "optuna-cmaes": "CmaEsSampler",
}
# peers outside Optuna: name -> (pip package, what it runs)
OTHER_PEERS: dict[str, tuple[str, str]] = {
    "smac": ("smac", "SMAC3's HyperparameterOptimizationFacade (random-forest BO)"),
    "ngopt": ("nevergrad", "Nevergrad's NGOpt portfolio"),
    "hebo": ("HEBO", "HEBO (Cowen-Rivers et al. 2022)"),
}
PEERS: dict[str, str] = {**OPTUNA_PEERS, **{k: v[1] for k, v in OTHER_PEERS.items()}}
# llmhpo optimizers run with non-default parameters: name -> (optimizer, parameters)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "soo-rand": ("soo", {"randomize": True}),
    "bamsoo-rand": ("bamsoo", {"randomize": True}),
    "bo-noisy": ("bo", {"noisy": True}),
    # BO-GP's defaults before Optuna's model and the lean search became the defaults
    # (docs/bench.md, "BO cost"): rows of the committed runs named "bo-rbf" ran these
    "bo-rbf": ("bo", {"kernel": "rbf", "fit": "full", "fast_posterior": False,
                      "fast_fit": False, "incumbent_start": False, "num_restarts": 10}),
    # ``auto`` with earlier settings, measured against its default (docs/optimizers/auto.md):
    # COBYLA for at most half the budget while it improves, no plateau rule, then BaMSOO
    "auto-short": ("auto", {"local_max_fraction": 0.5, "local_tol": 1e-3, "plateau_share": None,
                            "after_local": "bamsoo"}),
    "auto-noplateau": ("auto", {"plateau_share": None, "local_max_fraction": 1.0,
                                "after_local": "bamsoo"}),
    # the defaults before 2026-12-06: COBYLA until it converges, then BaMSOO
    "auto-bamsoo": ("auto", {"local_max_fraction": 1.0, "after_local": "bamsoo"}),
    # COBYLA until it converges, then BO-GP
    "auto-bo": ("auto", {"local_max_fraction": 1.0, "after_local": "bo"}),
    # The LLM optimizer (Zhang et al. 2023) on the built-in SmolLM2-135M-Instruct, greedy.
    "llm-compressed": ("llm", {"mode": "compressed"}),
    "llm-chat": ("llm", {"mode": "chat"}),
    "bo-llm": ("bo", {"init": "llm"}),
    "tpe-llm": ("tpe", {"init": "llm"}),
}
# Baselines for the LLM contenders (Zhang et al. 2023's caveat: much of an LLM's early advantage
# comes from starting at the defaults its prompt lists): the optimizer's first evaluation is
# the space's default point, then it goes on as usual with that result told to it.
DEFAULT_FIRST: dict[str, str] = {"random-default": "random", "tpe-default": "tpe"}
# Contenders left out of the default selection (the LLM ones: a model query per suggestion,
# seconds each on a CPU; their default-first baselines): name them with --optimizers.
OPT_IN_CONTENDERS: frozenset[str] = frozenset(
    {"llm", "llm-compressed", "llm-chat", "bo-llm", "tpe-llm", "random-default", "tpe-default"})
# baselines that are not optimizers: the centre of the box, evaluated once
BASELINES: tuple[str, ...] = ("centre",)
# Contenders that fit a model (0.2-1 s per suggestion on 2 cores; `bo` ~0.02 s since its
# lean defaults, docs/bench.md "BO cost"); the full run may give them fewer seeds.
SLOW_CONTENDERS: frozenset[str] = frozenset(
    {"bo", "bo-noisy", "bo-rbf", "optuna-gp", "smac", "hebo", "llm", "llm-compressed",
     "llm-chat", "bo-llm", "tpe-llm"})
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


def all_contenders(opt_in: bool = True) -> list[str]:
    """Every llmhpo optimizer, its bench variants, the baselines, then every peer
    (``opt_in=False``: without the LLM-based contenders, i.e. the default selection)."""
    from llmhpo.optimizers import OPTIMIZERS

    names = (list(OPTIMIZERS) + list(VARIANTS) + list(DEFAULT_FIRST) + list(BASELINES)
             + list(PEERS))
    return names if opt_in else [n for n in names if n not in OPT_IN_CONTENDERS]


def task_text(task: str | None) -> str | None:
    """What an LLM contender is told it tunes: for an ML task its model and dataset (as in
    Zhang et al. 2023's prompts); a synthetic function is posed as a training run without its
    name (the paper's Prompt 2/3, which avoids recalling a known optimum)."""
    if not task:
        return None
    models = {"svm": "a support vector machine (SVC)", "lr": "a linear classifier (SGD)",
              "rf": "a random forest", "mlp": "a neural network (MLP)"}
    model, _, dataset = task.partition("-")
    if model in models and dataset:
        return (f"{models[model]} on the {dataset.replace('_', ' ')} dataset, trained with "
                "scikit-learn; the loss is the validation error rate (1 - accuracy)")
    return "a machine learning model; the training process is deterministic"


def available(name: str) -> bool:
    """Whether contender ``name`` can run here (a peer's package is importable)."""
    import importlib.util

    if name in OTHER_PEERS:
        module = {"smac": "smac", "ngopt": "nevergrad", "hebo": "hebo"}[name]
        return importlib.util.find_spec(module) is not None
    return True


class _LLMHPORun:
    def __init__(
        self, name: str, space: SearchSpace, seed: int, budget: int,
        extra: dict[str, Any] | None = None, task: str | None = None,
    ) -> None:
        from llmhpo.optimizers import get_optimizer, make_optimizer

        params = inspect.signature(get_optimizer(name).__init__).parameters
        kwargs: dict[str, Any] = dict(extra or {})
        if "task" in params:  # the LLM optimizer is told what it tunes
            kwargs["task"] = task_text(task)
        if kwargs.get("init") == "llm":
            kwargs["llm"] = {"task": task_text(task), "budget": budget}
        # Optimizers whose design depends on the budget get it (LHS size, SOO/MADS budget).
        if "budget" in params:
            kwargs["budget"] = budget
        if "n_points" in params:
            kwargs["n_points"] = budget
        for name_ in _INIT_PARAMS:
            if name_ in params:
                kwargs[name_] = initial_design_size(budget)
        if "n_workers" in params:
            kwargs.setdefault("n_workers", 1)
        # Optimizers whose design depends on the budget take it (LHS size, SOO/MADS/auto
        # budget), as in a study: capabilities.budget_param.
        self.opt = make_optimizer(name, space, seed=seed, study_budget=budget, **kwargs)
        self._pending: Any = None

    def ask(self) -> dict[str, Any] | None:
        out = self.opt.ask(1)
        if not out:
            return None
        self._pending = out[0]
        return dict(out[0].params)

    def tell(self, value: float | None) -> None:
        self.opt.tell(self._pending, value)

    def recommend(self) -> dict[str, Any] | None:
        """The optimizer's incumbent (a noise-aware model's choice where it has one)."""
        return self.opt.recommend()

    def close(self) -> None:
        close = getattr(self.opt, "close", None)
        if close is not None:
            close()


class _DefaultFirstRun:
    """An llmhpo optimizer whose first evaluation is the space's default point (told to it as
    a point it did not ask for), then its own suggestions."""

    def __init__(self, run: _LLMHPORun, space: SearchSpace) -> None:
        self.run = run
        self._first: dict[str, Any] | None = dict(space.default_params())
        self._told_first = False

    def ask(self) -> dict[str, Any] | None:
        if self._first is not None and not self._told_first:
            return dict(self._first)
        return self.run.ask()

    def tell(self, value: float | None) -> None:
        if self._first is not None and not self._told_first:
            self.run.opt.tell_not_asked(self._first, value)
            self._told_first = True
            return
        self.run.tell(value)

    def recommend(self) -> dict[str, Any] | None:
        return self.run.recommend()

    def close(self) -> None:
        self.run.close()


class _CentreRun:
    """The centre of the box (the decoded point (0.5, ..., 0.5)), evaluated once: what any
    method that starts there gets for free."""

    def __init__(self, space: SearchSpace) -> None:
        import numpy as np

        self._params: dict[str, Any] | None = space.decode(np.full(space.dim, 0.5))

    def ask(self) -> dict[str, Any] | None:
        params, self._params = self._params, None
        return params

    def tell(self, value: float | None) -> None:
        pass


class _OptunaRun:
    def __init__(self, name: str, space: SearchSpace, seed: int, budget: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        cls = getattr(optuna.samplers, OPTUNA_PEERS[name])
        kwargs: dict[str, Any] = {}
        for name_ in _INIT_PARAMS:
            # CMA-ES keeps its own start-up default (1 trial): it has no random design
            if name != "optuna-cmaes" and name_ in inspect.signature(cls.__init__).parameters:
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


def make_contender(
    name: str, space: SearchSpace, seed: int, budget: int, noisy: bool = False,
    task: str | None = None,
) -> AskTell:
    """A fresh run of contender ``name`` on ``space`` (raises if it cannot be built).

    ``noisy`` tells ``auto`` that the task is noisy (as a user states it in the config); the
    other contenders are run as they are.
    """
    from llmhpo.bench import external_peers
    from llmhpo.optimizers import OPTIMIZERS

    if name in OPTUNA_PEERS:
        return _OptunaRun(name, space, seed, budget)
    if name in OTHER_PEERS:
        return external_peers.make(name, space, seed, budget, initial_design_size(budget))
    if name in VARIANTS:
        base, extra = VARIANTS[name]
        return _LLMHPORun(base, space, seed, budget, extra, task)
    if name == "centre":
        return _CentreRun(space)
    if name in DEFAULT_FIRST:
        return _DefaultFirstRun(_LLMHPORun(DEFAULT_FIRST[name], space, seed, budget), space)
    if name == "auto":
        return _LLMHPORun(name, space, seed, budget, {"noisy": noisy})
    if name in OPTIMIZERS:
        return _LLMHPORun(name, space, seed, budget, task=task)
    raise InvalidConfigError(
        f"unknown contender {name!r}, expected one of {all_contenders()}"
    )
