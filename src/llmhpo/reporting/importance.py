"""Which hyperparameters mattered: importance from the stored trials.

Optuna's fANOVA evaluator (Hutter et al.'s functional ANOVA on a random forest fitted to the
complete trials; it needs scikit-learn) or, without scikit-learn, Optuna's PED-ANOVA, on the
study read through Optuna (``Study.to_optuna()``; nothing is written). One implementation for
the terminal summary and the HTML report. With a dozen trials the numbers are rough: they rank
variables, they do not measure them.
"""

from __future__ import annotations

from typing import Any

from llmhpo.study.trial import TrialState

__all__ = ["param_importances", "importance_text"]


def param_importances(study: Any) -> tuple[dict[str, float], str] | None:
    """Importance of each free hyperparameter for the objective, by Optuna's fANOVA evaluator
    (PED-ANOVA when scikit-learn is missing) on the stored COMPLETE trials.

    Returns ``(importances, evaluator name)`` (importances sum to 1, largest first), or
    ``None`` with fewer than 3 complete trials or a single free variable.
    """
    import optuna

    names = [v.name for v in study.space.free]
    done = [t for t in study.trials if t.state is TrialState.COMPLETE]
    if len(done) < 3 or len(names) < 2:
        return None
    try:
        import sklearn  # noqa: F401

        evaluator: Any = optuna.importance.FanovaImportanceEvaluator(seed=0)
        name = "fANOVA"
    except ImportError:
        evaluator = optuna.importance.PedAnovaImportanceEvaluator()
        name = "PED-ANOVA"
    ostudy = study.to_optuna()
    imp = optuna.importance.get_param_importances(ostudy, evaluator=evaluator, params=names)
    return {k: float(v) for k, v in imp.items()}, name


def importance_text(study: Any, *, min_trials: int = 8) -> str:
    """One line: ``Hyperparameter importance (fANOVA over 12 complete trials, rough with few):
    learning_rate 0.71, ...`` ("" with fewer than ``min_trials`` complete trials: too little
    to say, and not worth the evaluator's cost)."""
    if sum(t.state is TrialState.COMPLETE for t in study.trials) < min_trials:
        return ""
    try:
        res = param_importances(study)
    except (RuntimeError, ValueError):  # e.g. every trial has the same value
        return ""
    if res is None:
        return ""
    imp, name = res
    n = sum(t.state is TrialState.COMPLETE for t in study.trials)
    parts = ", ".join(f"{k} {v:.2f}" for k, v in imp.items())
    return f"Hyperparameter importance ({name} over {n} complete trials, rough with few): {parts}"
