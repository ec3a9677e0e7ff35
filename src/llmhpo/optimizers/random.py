"""Random search and Latin hypercube sampling."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from llmhpo.optimizers.base import BaseOptimizer, Capabilities
from llmhpo.space import SearchSpace
from llmhpo.space.design import latin_hypercube
from llmhpo.validation import check_int

#: The largest Latin hypercube design drawn at once (n_points x dim floats in memory).
MAX_DESIGN_POINTS = 1_000_000

__all__ = ["RandomOptimizer", "LHSOptimizer"]


class RandomOptimizer(BaseOptimizer):
    """Uniform sampling of [0, 1]^d (so integers are equally likely, log scales log-uniform).

    The i-th point depends only on ``(seed, i)``; i (the ``draw`` attribute) continues after the
    highest draw told, pending or running in another driver, so a resumed study continues the
    same sequence instead of restarting it, and drivers sharing a study never draw the same i.
    """

    name: ClassVar[str] = "random"
    capabilities: ClassVar[Capabilities] = Capabilities()

    def _ask(self, n: int) -> list[tuple[np.ndarray, dict[str, Any]]]:
        start = self._next_draw()
        return [
            (self._rng(start + i).random(self.space.dim), {"draw": start + i}) for i in range(n)
        ]


class LHSOptimizer(BaseOptimizer):
    """Latin hypercube sampling (scipy.stats.qmc) of ``n_points`` points.

    The design is drawn once from the seed; points are handed out in order. Once the design
    is used up, a new design of the same size is drawn (stream 1, 2, ...), so the optimizer
    never runs dry.

    Args:
        space: the search space.
        n_points: size of one Latin hypercube design (set it to the study's budget).
        seed: seed of the design.
    """

    name: ClassVar[str] = "lhs"
    capabilities: ClassVar[Capabilities] = Capabilities(budget_param="n_points", budget_fixed=True)

    def __init__(self, space: SearchSpace, *, n_points: int = 20, seed: int | None = None) -> None:
        super().__init__(space, seed=seed)
        # bounded: the whole design (n_points x dim floats) is drawn at once
        self.n_points = check_int("optimizer.n_points", n_points, low=1, high=MAX_DESIGN_POINTS)
        self._designs: dict[int, np.ndarray] = {}

    def _design(self, k: int) -> np.ndarray:
        if k not in self._designs:
            seed = None if self.seed is None else int(self._rng(k).integers(2**31))
            self._designs[k] = latin_hypercube(self.n_points, self.space.dim, seed)
        return self._designs[k]

    def _ask(self, n: int) -> list[tuple[np.ndarray, dict[str, Any]]]:
        # Continue after the last design point handed out (also when replayed on resume);
        # warm-start points carry no design index and do not consume the design.
        used = [
            int(o.attrs["design_index"]) for o in self.observations if "design_index" in o.attrs
        ]
        used += [int(s.attrs["design_index"]) for s in self.in_flight if "design_index" in s.attrs]
        start = max(used) + 1 if used else 0
        out = []
        for i in range(start, start + n):
            k, j = divmod(i, self.n_points)
            out.append((self._design(k)[j], {"design_index": i}))
        return out

    def _config(self) -> dict[str, Any]:
        return {"n_points": self.n_points}
