"""Reference evaluations stored with a study: the base model and the defaults to beat.

Tribes et al. (2023) report every optimized model next to the base model without fine-tuning
and the model fine-tuned with their default LoRA hyperparameters. A user's real question is
whether tuning beats the recipe they would have used anyway, so the LoRA objective adds a
widely used recipe, ``llmhpo run`` adds the search space's own default point when it differs,
and a config can name its own points (``references:``). An objective that supports this
exposes (duck-typed, nothing to inherit):

* ``references() -> {name: params or None}``, e.g. ``{"base": None, "paper_default": {...}}``;
* ``evaluate_reference(params_or_None, ctx) -> {metric: value}``, where ``None`` means the
  base model without fine-tuning.

:func:`record_references` evaluates each reference once and stores the results in the study's
user attributes under ``"references"``, so a resumed study never recomputes them. A failed
reference is stored too, with its error text, like a failed trial.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmhpo.executors import Executor
from llmhpo.objectives.base import Outcome, TrialContext, evaluate
from llmhpo.study.trial import TrialState

__all__ = [
    "REFERENCES_KEY",
    "REFERENCE_LABELS",
    "record_references",
    "get_references",
    "reference_label",
    "unwrap_objective",
]

_logger = logging.getLogger("llmhpo.evaluation")

REFERENCES_KEY = "references"
BASE = "base"

#: Display names of the usual references; other names are shown as they are.
REFERENCE_LABELS = {
    "base": "base model (no fine-tuning)",
    "paper_default": "paper default (Tribes et al. 2023)",
    # the name older studies stored for the same point (it never was PEFT's LoraConfig default)
    "peft_default": "paper default (Tribes et al. 2023)",
    "lora_recipe": "common LoRA recipe (lr 2e-4, r 16, alpha 32, dropout 0.05)",
    "space_default": "search space default",
    "default": "default hyperparameters",
}


def reference_label(name: str) -> str:
    """The display name of reference ``name``."""
    return REFERENCE_LABELS.get(name, name)


def unwrap_objective(objective: Any) -> Any:
    """The objective callable behind an :class:`~llmhpo.objectives.registry.ObjectiveSpec`."""
    from llmhpo.objectives.registry import ObjectiveSpec

    return objective.objective if isinstance(objective, ObjectiveSpec) else objective


@dataclass(frozen=True)
class _ReferenceCall:
    """A picklable ``(params, ctx) -> metrics`` evaluating one reference (for executors)."""

    objective: Any
    params: dict[str, Any] | None

    def __call__(self, _params: dict[str, Any], ctx: TrialContext) -> Any:
        evaluate = getattr(self.objective, "evaluate_reference", None)
        if evaluate is not None:
            return evaluate(None if self.params is None else dict(self.params), ctx)
        if self.params is None:
            raise NotImplementedError(
                f"{type(self.objective).__name__} has no evaluate_reference(), so the base "
                "model cannot be evaluated"
            )
        return self.objective(dict(self.params), ctx)


def get_references(study: Any) -> dict[str, dict[str, Any]]:
    """The stored reference records: ``{name: {"params", "state", "metrics", "error", ...}}``."""
    refs = study.user_attrs.get(REFERENCES_KEY) or {}
    out = {str(k): dict(v) for k, v in refs.items() if isinstance(v, Mapping)}
    for k, v in out.items():  # known names read with today's label (older studies stored
        if k in REFERENCE_LABELS:  # "default hyperparameters (PEFT)" for the paper's point)
            v["label"] = REFERENCE_LABELS[k]
    return out


def _record(name: str, params: dict[str, Any] | None, outcome: Outcome) -> dict[str, Any]:
    return {
        "label": reference_label(name),
        "params": None if params is None else dict(params),
        "state": outcome.state.value,
        "metrics": dict(outcome.metrics),
        "error": outcome.error_line,
        "wall_time": round(outcome.wall_time, 3),
    }


def record_references(
    study: Any,
    objective: Any,
    *,
    executor: Executor | None = None,
    names: Iterable[str] | None = None,
    workdir: str | Path | None = None,
    time_limit: float | None = None,
    retry_failed: bool = False,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Evaluate the objective's references that the study has not stored yet.

    Args:
        study: the :class:`~llmhpo.study.Study` to store the results in.
        objective: an objective with ``references()`` (and usually ``evaluate_reference``),
            or an ``ObjectiveSpec`` wrapping one. Objectives without ``references()`` have no
            references; the stored ones are returned unchanged.
        executor: where to run the evaluations (e.g. the study's process pool, so the base
            model is loaded in the worker); ``None`` runs them in this process.
        names: evaluate only these references (default: all the objective declares).
        workdir: parent directory of the references' work directories (``reference_<name>``).
        time_limit: seconds each evaluation may take (passed in the context).
        retry_failed: evaluate again references whose stored evaluation failed.
        extra: further named points ``{name: params}`` evaluated like the objective's own
            (the space's default point, the config's ``references:``); evaluated with
            ``evaluate_reference`` when the objective has it, else as a trial.

    Returns:
        Every stored reference record, the new ones included.
    """
    objective = unwrap_objective(objective)
    stored = get_references(study)
    declare = getattr(objective, "references", None)
    if declare is None and not extra:
        return stored
    specs = dict(declare()) if declare is not None else {}
    for name, params in (extra or {}).items():
        specs.setdefault(str(name), dict(params))
    wanted = list(specs) if names is None else [n for n in names if n in specs]
    for i, name in enumerate(wanted):
        old = stored.get(name)
        if old is not None and (old.get("state") == TrialState.COMPLETE.value or not retry_failed):
            continue
        params = specs[name]
        ctx = TrialContext(
            number=-(i + 1),
            seed=0,
            workdir=None if workdir is None else str(Path(workdir) / f"reference_{name}"),
            time_limit=time_limit,
        )
        call = _ReferenceCall(objective, None if params is None else dict(params))
        _logger.info("Evaluating reference %r (%s)", name, reference_label(name))
        outcome = evaluate(call, {}, ctx, executor)
        stored[name] = _record(name, params, outcome)
        if outcome.state is not TrialState.COMPLETE:
            _logger.warning(
                "Reference %r %s: %s", name, outcome.state.value, stored[name]["error"]
            )
        study.set_user_attr(REFERENCES_KEY, stored)  # after each one: a kill loses nothing
    return stored
