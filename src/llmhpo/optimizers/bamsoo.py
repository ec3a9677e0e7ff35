"""BaMSOO: Bayesian Multi-Scale Optimistic Optimization (Wang et al. 2014; Davouse & Talbi 2025,
Alg. 3).

SOO in which each new cell is first scored by a Gaussian process fitted on the evaluated
cells: the cell is evaluated for real only if its confidence bound says it may beat the best
loss so far; otherwise the bound becomes the cell's score and no evaluation is spent.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from llmhpo.optimizers._gp_model import derive_seed, fit_gp, posterior_mean_std
from llmhpo.optimizers._tree import Node
from llmhpo.optimizers.base import Observation, Suggestion
from llmhpo.optimizers.soo import SOOOptimizer, _is_own
from llmhpo.space import SearchSpace
from llmhpo.validation import check_number

__all__ = ["BaMSOOOptimizer", "confidence_width"]

_MIN_POINTS = 2  # fewer successful points than this: evaluate without consulting a GP


def confidence_width(n: int, eta: float) -> float:
    """BaMSOO's ``B_N = sqrt(2 log(pi^2 N^2 / (6 eta)))``."""
    if n < 1:
        raise ValueError(f"N must be >= 1, got {n}")
    return math.sqrt(2.0 * math.log(math.pi**2 * n**2 / (6.0 * eta)))


class BaMSOOOptimizer(SOOOptimizer):
    """BaMSOO over the space's unit cube, minimizing.

    The tree, the sweeps, the batches, the cache and the budget are SOO's
    (:class:`~llmhpo.optimizers.soo.SOOOptimizer`). A new cell that would need an evaluation
    is first scored by a GP (BoTorch ``SingleTaskGP``, standardized outcomes, a small fixed
    noise so that it nearly interpolates the evaluated cells) with mean ``mu``
    and standard deviation ``sigma`` at the cell's centre:

    * ``LCB = mu - B_N sigma`` and ``UCB = mu + B_N sigma``, with
      ``B_N = sqrt(2 log(pi^2 N^2 / (6 eta)))`` and ``N`` the number of nodes of the tree so
      far (the union bound runs over every node scored, as in the seed code);
    * if ``LCB <= f_best`` (the best loss observed) the cell may beat it and is evaluated;
    * otherwise its score is ``UCB`` (state ``approximated``) and no evaluation is spent.

    This is the paper's rule (stated for maximization: evaluate if ``UCB >= f+``, else score
    ``LCB``) mirrored for minimization. The GP of a sweep is fitted on the cells evaluated in
    the previous sweeps (and on warm-start points), and ``f_best`` is the best of those
    losses, so the decisions do not depend on how many workers run the sweep; the GP is
    refitted only when new evaluated data arrived. Failed evaluations are left out of the
    GP (their cells get the worst loss as in SOO). The middle child of an approximated cell
    is scored by the GP again rather than inheriting the approximation.

    Every approximation is recorded in :attr:`approximated`; each suggestion's attributes
    carry ``n_approximated``, the approximations made since the previous suggestion.

    Args:
        space: the search space.
        k: number of children per expansion (3).
        eta: ``eta`` in ``(0, 1]`` of ``B_N``; smaller means wider bounds, hence more real
            evaluations. Default 0.5 (the seed code's default; its final run used 1).
        gp_noise: noise variance of the GP relative to the variance of the losses; the small
            default makes the GP nearly interpolate, as BaMSOO's analysis assumes (a
            deterministic objective). ``None`` infers the noise (BoTorch's default), which
            smooths the best loss away and can leave every new cell approximated, so that the
            search stalls.
        h_max: depth limit, as for SOO.
        budget: most real evaluations this optimizer asks for; approximations are free.
        randomize: the seeded variant of SOO (random tie-breaking from ``seed``; see
            :class:`~llmhpo.optimizers.soo.SOOOptimizer`).
        seed: seed of torch's RNG while fitting the GP (and of the ties when ``randomize``).
    """

    name: ClassVar[str] = "bamsoo"

    def __init__(
        self,
        space: SearchSpace,
        *,
        k: int = 3,
        eta: float = 0.5,
        gp_noise: float | None = 1e-6,
        h_max: int | str | None = None,
        budget: int | None = None,
        randomize: bool = False,
        seed: int | None = None,
    ) -> None:
        check_number("optimizer.eta", eta, low=0, high=1, low_open=True)
        check_number("optimizer.gp_noise", gp_noise, low=0, low_open=True, none_ok=True)
        super().__init__(
            space, k=k, h_max=h_max, budget=budget, randomize=randomize, seed=seed
        )
        self.eta = float(eta)
        self.gp_noise = None if gp_noise is None else float(gp_noise)
        #: one record per approximated node: params, mu, sigma, beta, lcb, ucb, bound...
        self.approximated: list[dict[str, Any]] = []
        self._n_fits = 0
        self._model: Any = None
        self._model_data: tuple[Any, ...] | None = None
        self._model_best = math.inf
        self._posterior: dict[int, tuple[float, float]] = {}  # node id -> (mu, sigma)
        self._last_suggested = -1  # node id of the latest suggestion (also when replayed)

    @property
    def n_gp_fits(self) -> int:
        """How many times the GP was fitted."""
        return self._n_fits

    # ----- scoring ----------------------------------------------------------------------------
    def _can_inherit(self, parent: Node) -> bool:
        # an approximated parent has no real value: its middle child is scored afresh
        return parent.state in ("evaluated", "inherited")

    def _score_new(self, node: Node) -> None:
        if "gp" in node.info:  # decided already (it waits for its evaluation)
            return
        model = self._sweep_model()
        if model is None:
            node.info["gp"] = False
            return
        if node.id not in self._posterior:
            # one posterior call for every cell of the sweep still to be decided
            current = [self.tree.nodes[i] for i in self._current]
            todo = [n for n in current if n.state in ("new", "waiting") and "gp" not in n.info]
            mus, sigmas = posterior_mean_std(model, np.array([n.x for n in todo]))
            self._posterior = {
                n.id: (float(m), float(v)) for n, m, v in zip(todo, mus, sigmas, strict=True)
            }
        mu, sigma = self._posterior[node.id]
        n = node.id + 1
        beta = confidence_width(n, self.eta)
        lcb, ucb = mu - beta * sigma, mu + beta * sigma
        bounds = {
            "gp": True,
            "mu": mu,
            "sigma": sigma,
            "beta": beta,
            "lcb": lcb,
            "ucb": ucb,
            "f_best": self._model_best,
            "N": n,
        }
        node.info.update(bounds)
        if lcb <= self._model_best:
            return  # it may beat the best loss: evaluate it
        node.state = "approximated"
        node.score = ucb
        self.approximated.append(
            {
                "node": node.id,
                "depth": node.depth,
                "sweep": node.sweep,
                "params": dict(node.params),
                "bound": ucb,
                **{k: v for k, v in bounds.items() if k != "gp"},
            }
        )

    def _sweep_model(self) -> Any:
        """The GP of the evaluated cells of earlier sweeps and warm-start points (or None)."""
        xs: dict[tuple[Any, ...], tuple[np.ndarray, float]] = {}
        for o in self._external:
            if o.value is not None:
                xs.setdefault(self.space.key(o.params), (o.x, o.value))
        for n in self.tree.nodes:
            if n.sweep < self._sweep and n.state == "evaluated" and n.value is not None:
                xs.setdefault(n.key, (n.x, n.value))
        if len(xs) < _MIN_POINTS:
            return None
        signature = tuple(sorted(xs, key=repr))
        if signature != self._model_data:
            x = np.array([v[0] for v in xs.values()])
            y = np.array([v[1] for v in xs.values()], dtype=float)
            self._model = fit_gp(x, y, seed=derive_seed(self.seed, len(xs)), noise=self.gp_noise)
            self._model_data = signature
            self._model_best = float(y.min())
            self._n_fits += 1
        return self._model

    def _suggestion_attrs(self, node: Node) -> dict[str, Any]:
        attrs = super()._suggestion_attrs(node)
        # approximations of the nodes between the previous suggestion and this one (by node
        # id, so that a replayed history gives the same counts)
        prev, self._last_suggested = self._last_suggested, max(self._last_suggested, node.id)
        attrs["n_approximated"] = sum(1 for r in self.approximated if prev < r["node"] < node.id)
        attrs["gp"] = bool(node.info.get("gp", False))
        for k in ("mu", "sigma", "beta", "lcb", "ucb", "f_best"):
            if k in node.info:
                attrs[k] = node.info[k]
        return attrs

    def _tell(self, obs: Observation, suggestion: Suggestion | None) -> None:
        super()._tell(obs, suggestion)
        if suggestion is None and _is_own(obs):
            self._last_suggested = max(self._last_suggested, int(obs.attrs["node"]))

    def _config(self) -> dict[str, Any]:
        return {**super()._config(), "eta": self.eta, "gp_noise": self.gp_noise}
