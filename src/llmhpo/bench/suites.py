"""Benchmark suites: named tasks, each an objective with its search space.

* ``synthetic``: test functions with known optima (Zhang et al. 2023 and the BaMSOO literature),
from
  :func:`llmhpo.objectives.get_function`.
* ``ml``: Zhang et al. 2023's HPOBench spaces on scikit-learn's bundled datasets
  (:mod:`llmhpo.objectives.sklearn_tasks`).
* ``debiased``: COCO/BBOB-style instances drawn per seed (random shift and rotation of the
  optimum inside the box; functions whose optimum is far from the centre, reflected per seed),
  :mod:`llmhpo.bench.instances`. Task ``rs_<function>``.
* ``noisy``: de-biased synthetic instances with heteroscedastic noise (``noisy_<function>``)
  and ML tasks cross-validated on a random split per evaluation (``noisy_<model>-<data>``).
  Incumbents are scored by their noise-free value.
* ``llm``: the LoRA fine-tuning objective (optional; skipped when unavailable).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from llmhpo.exceptions import InvalidConfigError
from llmhpo.space import SearchSpace

__all__ = ["Task", "SUITES", "QUICK_TASKS", "suite_tasks", "get_task", "suite_of"]

logger = logging.getLogger("llmhpo.bench")

SYNTHETIC_TASKS: list[str] = [
    "branin", "himmelblau", "rosenbrock", "ackley", "quadratic", "quadratic_illcond",
    "hartmann6",
    "shifted_branin", "shifted_himmelblau", "shifted_rosenbrock", "shifted_ackley",
    "shifted_quadratic", "shifted_quadratic_illcond",
    "rosenbrock5", "ackley5", "ackley10", "quadratic_illcond5",
]
# The MLP tasks are left out by default (minutes per evaluation at the corners of their space,
# see llmhpo.objectives.sklearn_tasks); name them with --tasks to run them.
ML_TASKS: list[str] = [
    f"{m}-{d}" for m in ("svm", "lr", "rf") for d in ("breast_cancer", "digits", "wine", "iris")
]
ML_EXTRA_TASKS: list[str] = [f"mlp-{d}" for d in ("iris", "wine", "breast_cancer", "digits")]
LLM_TASKS: list[str] = ["lora"]
DEBIASED_FUNCTIONS: list[str] = [
    "branin", "himmelblau", "rosenbrock", "ackley", "quadratic_illcond", "hartmann6",
    "rosenbrock5", "ackley5", "styblinski_tang", "styblinski_tang5", "schwefel", "michalewicz",
]
DEBIASED_TASKS: list[str] = [f"rs_{f}" for f in DEBIASED_FUNCTIONS]
NOISY_TASKS: list[str] = [
    "noisy_branin", "noisy_rosenbrock", "noisy_hartmann6", "noisy_ackley5",
    "noisy_styblinski_tang", "noisy_svm-wine", "noisy_lr-iris", "noisy_rf-iris",
]
#: suites whose task instance depends on the seed (normalized per (task, seed))
PER_SEED_SUITES = ("debiased", "noisy")

SUITES: dict[str, list[str]] = {
    "synthetic": SYNTHETIC_TASKS, "debiased": DEBIASED_TASKS, "noisy": NOISY_TASKS,
    "ml": ML_TASKS, "llm": LLM_TASKS,
}
QUICK_TASKS: dict[str, list[str]] = {
    "synthetic": ["branin", "shifted_rosenbrock", "hartmann6"],
    "debiased": ["rs_branin", "rs_styblinski_tang"],
    "noisy": ["noisy_branin", "noisy_svm-wine"],
    "ml": ["svm-wine", "rf-iris"],
    "llm": LLM_TASKS,
}


@dataclass(frozen=True)
class Task:
    """A benchmark task.

    Attributes:
        name: task name (unique across suites).
        suite: ``"synthetic"``, ``"ml"`` or ``"llm"``.
        objective: ``objective(params, ctx=None) -> float`` to minimize (picklable).
        space: the search space.
        optimum: the optimal value, or a lower bound of it (reference of relative changes).
        metric: the key of the objective's value when it returns a dict of metrics.
        true_value: for a noisy objective, the noise-free value of a configuration (the
            incumbent is scored with it); ``None`` for a deterministic one.
    """

    name: str
    suite: str
    objective: Callable[..., Any]
    space: SearchSpace
    optimum: float
    metric: str | None = None
    true_value: Callable[..., float] | None = None


def suite_of(name: str) -> str:
    """The suite a task name belongs to."""
    if name in LLM_TASKS:
        return "llm"
    if name.startswith("rs_"):
        return "debiased"
    if name.startswith("noisy_"):
        return "noisy"
    if name in ML_TASKS or name in ML_EXTRA_TASKS or "-" in name:
        return "ml"
    return "synthetic"


def get_task(name: str, seed: int | None = None) -> Task:
    """Build the task ``name``; ``seed`` draws the instance of a per-seed suite (``debiased``,
    ``noisy``; ``None``: the untransformed function). Raises :class:`InvalidConfigError` for
    an unknown name."""
    suite = suite_of(name)
    if suite == "debiased":
        from llmhpo.bench.instances import SyntheticInstance

        inst = SyntheticInstance(_function_name(name.removeprefix("rs_")), seed)
        return Task(name, suite, inst, inst.space(), inst.optimum)
    if suite == "noisy":
        from llmhpo.bench.instances import NoisyCV, NoisySynthetic, SyntheticInstance

        base = name.removeprefix("noisy_")
        if "-" in base:
            from llmhpo.objectives.sklearn_tasks import get_task as sk_task

            cv = NoisyCV(sk_task(base), 0 if seed is None else seed)
            return Task(name, suite, cv, cv.space(), cv.optimum, true_value=cv.true_value)
        noisy = NoisySynthetic(SyntheticInstance(_function_name(base), seed))
        return Task(name, suite, noisy, noisy.space(), noisy.optimum,
                    true_value=noisy.true_value)
    if suite == "synthetic":
        from llmhpo.objectives import get_function

        f = get_function(name)
        return Task(name, suite, f, f.space(), float(f.optimum))
    if suite == "ml":
        from llmhpo.objectives.sklearn_tasks import get_task as sk_task

        t = sk_task(name)
        return Task(name, suite, t, t.space(), t.optimum)
    return _lora_task()


def _function_name(name: str) -> str:
    from llmhpo.objectives import get_function

    get_function(name)  # raises InvalidConfigError for an unknown function
    return name


#: The ``lora`` task: the built-in model and data, validation loss after 10 steps, no accuracy
#: pass (~30 s per evaluation on 2 CPU cores, a third of a main-job trial).
LORA_TASK_CONFIG: dict = {"type": "lora", "train": {"steps": 10, "warmup_steps": 2,
                                                    "system_prompt": "Answer briefly."},
                          "eval": {"accuracy": "none"}}


def _lora_task() -> Task:
    from llmhpo.objectives.registry import build_objective

    spec = build_objective(LORA_TASK_CONFIG)
    if spec.space is None:
        raise InvalidConfigError("the lora objective did not provide a search space")
    if spec.direction not in (None, "minimize"):
        raise InvalidConfigError(
            f"the bench minimizes; the lora objective's direction is {spec.direction!r}"
        )
    return Task("lora", "llm", spec.objective, spec.space, 0.0, spec.metric)


def suite_tasks(suite: str, tasks: Sequence[str] | None = None, quick: bool = False) -> list[str]:
    """Task names of ``suite`` (``tasks`` filters them; ``quick`` picks the CI subset).

    The ``llm`` suite is skipped, with a warning, when the LoRA objective cannot be built.
    """
    if suite not in SUITES:
        raise InvalidConfigError(f"unknown suite {suite!r}, expected one of {sorted(SUITES)}")
    names = list(QUICK_TASKS[suite] if quick else SUITES[suite])
    if tasks:
        known = set(SUITES[suite]) | (set(ML_EXTRA_TASKS) if suite == "ml" else set())
        names = [t for t in tasks if t in known or suite_of(t) == suite]
        if suite != "llm":
            for t in names:
                get_task(t)  # an unknown name fails here, not in every run
    if suite == "llm" and names:
        try:
            _lora_task()
        except Exception as exc:  # noqa: BLE001 - any failure means "not available here"
            logger.warning("skipping the llm suite: the lora objective is unavailable (%s)", exc)
            return []
    return names
