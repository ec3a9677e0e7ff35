"""Bilevel-BO-SWA (Bao et al. 2025): the outer loop of a nested BO with SWA model fusion.

The outer loop is BO-GP over the training hyperparameters, scored on the validation metric,
with its own acquisition function (``outer_acq``: EI or UCB). The inner loop — BO over the
fusion hyperparameters of one training run, scored on training loss, with ``inner_acq`` — runs
inside each outer trial, next to the checkpoints it averages
(:mod:`llmhpo.objectives.lora.fusion`). This optimizer stays a pure ask/tell state machine:
it does not run the inner loop, it says which objective mode it needs
(:attr:`BilevelBOOptimizer.objective_settings`), and the run assembly
(:func:`llmhpo.assembly.apply_objective_settings`) hands that to the objective
(``with_settings``), which refuses if it cannot fuse checkpoints.
"""

from __future__ import annotations

from typing import Any, ClassVar

from llmhpo.exceptions import InvalidConfigError
from llmhpo.optimizers.gp import GPOptimizer
from llmhpo.space import SearchSpace

__all__ = ["BilevelBOOptimizer", "PAIRINGS"]

_ACQ = {"ei": "logei", "ucb": "ucb"}

#: The four (outer, inner) acquisition pairings of Bao et al. (2025).
PAIRINGS = (("ei", "ei"), ("ei", "ucb"), ("ucb", "ei"), ("ucb", "ucb"))


class BilevelBOOptimizer(GPOptimizer):
    """Outer loop of Bilevel-BO-SWA: BO-GP with ``outer_acq`` on the validation metric.

    Args:
        space: the training hyperparameters (e.g. the LoRA space).
        outer_acq: ``"ei"`` (logEI) or ``"ucb"`` (GP-UCB schedule) for the outer loop.
        inner_acq: ``"ei"`` or ``"ucb"`` for the inner loop over fusion hyperparameters
            (Bao et al. 2025 report EI outer / UCB inner as the best pairing: the default).
        inner_budget: inner evaluations (fusions scored on training loss) per outer trial.
        inner_n_init: Latin-hypercube points of the inner loop before its GP takes over.
        checkpoint_every: optimizer steps between the checkpoints the inner loop averages.
        train_subset: training examples on which the inner loop measures training loss.
        **kwargs: the rest of :class:`~llmhpo.optimizers.gp.GPOptimizer`'s parameters
            (``n_init``, ``num_restarts``, ``raw_samples``, ``ucb_beta``, ``seed``).
    """

    name: ClassVar[str] = "bilevel_bo"

    def __init__(
        self,
        space: SearchSpace,
        *,
        outer_acq: str = "ei",
        inner_acq: str = "ucb",
        inner_budget: int = 8,
        inner_n_init: int = 3,
        checkpoint_every: int = 2,
        train_subset: int = 64,
        **kwargs: Any,
    ) -> None:
        for key, value in (("outer_acq", outer_acq), ("inner_acq", inner_acq)):
            if value not in _ACQ:
                raise InvalidConfigError(f"{key}: got {value!r}, expected one of {list(_ACQ)}")
        if "acquisition" in kwargs:
            raise InvalidConfigError(
                f"acquisition: got {kwargs['acquisition']!r}; bilevel_bo takes outer_acq "
                "and inner_acq instead"
            )
        for key, value, low in (("inner_budget", inner_budget, 1),
                                ("inner_n_init", inner_n_init, 1),
                                ("checkpoint_every", checkpoint_every, 1),
                                ("train_subset", train_subset, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise InvalidConfigError(f"{key}: got {value!r}, expected an integer >= {low}")
        super().__init__(space, acquisition=_ACQ[outer_acq], **kwargs)
        self.outer_acq = outer_acq
        self.inner_acq = inner_acq
        self.inner_budget = inner_budget
        self.inner_n_init = inner_n_init
        self.checkpoint_every = checkpoint_every
        self.train_subset = train_subset

    @property
    def objective_settings(self) -> dict[str, Any]:
        """The objective mode this optimizer needs: SWA fusion with an inner BO loop."""
        return {"fusion": {
            "enabled": True,
            "inner_acq": self.inner_acq,
            "inner_budget": self.inner_budget,
            "inner_n_init": self.inner_n_init,
            "checkpoint_every": self.checkpoint_every,
            "train_subset": self.train_subset,
        }}

    def _config(self) -> dict[str, Any]:
        cfg = super()._config()
        cfg.pop("acquisition")
        return {**cfg, "outer_acq": self.outer_acq, "inner_acq": self.inner_acq,
                "inner_budget": self.inner_budget, "inner_n_init": self.inner_n_init,
                "checkpoint_every": self.checkpoint_every, "train_subset": self.train_subset}
