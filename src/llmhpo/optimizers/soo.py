"""SOO: Simultaneous Optimistic Optimization (Munos 2011; Davouse & Talbi 2025, Algorithm 2).

A deterministic partition method: the unit cube is cut into a K-ary tree of cells scored at
their centres. Each *sweep* goes down the depths of the tree and, at every depth, expands the
best leaf if it is no worse than the best leaf expanded at a smaller depth in this sweep. The
children created by one sweep form the parallel batch.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from llmhpo.optimizers._tree import Node, PartitionTree
from llmhpo.optimizers.base import BaseOptimizer, Capabilities, Observation, Suggestion
from llmhpo.space import SearchSpace
from llmhpo.validation import check_bool, check_int

__all__ = ["SOOOptimizer"]

_logger = logging.getLogger("llmhpo.optimizers.soo")

#: nodes created in one ``ask`` without handing out a point before the search is declared
#: exhausted (every new cell is already cached, or, for BaMSOO, approximated)
_MAX_NODES_PER_ASK = 2_000


class SOOOptimizer(BaseOptimizer):
    """Simultaneous Optimistic Optimization over the space's unit cube, minimizing.

    * The root cell is the whole cube; expanding a cell cuts its widest dimension (widths
      relative to the root; ties go to the lowest index) into ``k`` equal parts. A discrete
      dimension whose cell already holds a single value is not cut again.
    * A cell is scored at the decoded value of its centre. A child whose decoded centre
      equals its parent's (the middle child for odd ``k``, or an integer collapse) inherits
      the parent's score and costs no evaluation.
    * A sweep selects, at each depth ``h = 0 .. min(depth, h_max)``, the best leaf at that
      depth and expands it if its loss is ``<=`` the best loss expanded at a smaller depth
      in the same sweep. Only leaves existing when the sweep starts compete, so all the
      sweep's children can be evaluated at once: ``ask(n)`` hands out up to ``n`` of them and
      returns ``[]`` while the rest of the sweep is pending.
    * A told configuration is cached by ``space.key(params)``: a cell whose centre decodes to
      a cached configuration takes the cached loss without asking (warm start from the
      cache of Tribes et al. 2023; replay on resume).
    * A failed evaluation gives the node the worst loss observed when its sweep completes
      (``+inf`` if nothing succeeded yet), so the cell is kept but ranked last.

    Args:
        space: the search space.
        k: number of children per expansion (Davouse & Talbi 2025: 3).
        h_max: depth limit: ``None`` (no limit, the budget stops the run, as in Davouse & Talbi
        2025),
            an integer, or ``"sqrt"`` for Munos' ``h_max(t) = floor(sqrt(t))`` with ``t`` the
            number of expansions so far.
        budget: most evaluations this optimizer asks for (its own suggestions, also when
            replayed); ``ask`` returns ``[]`` once it is spent. ``None`` for no limit.
        randomize: ``False`` (default): the deterministic SOO of the papers; the seed is not
            used. ``True``: a seeded variant whose ties are broken at random: the order in
            which equally wide dimensions are cut, and the choice among leaves of equal score
            at one depth, come from ``seed``. The first point is still the centre of the box;
            different seeds then explore in different directions.
        seed: seed of the randomized variant (ignored when ``randomize`` is false).
    """

    name: ClassVar[str] = "soo"
    capabilities: ClassVar[Capabilities] = Capabilities(
        batch=True, warm_start=True, deterministic=True, may_exhaust=True,
        budget_param="budget",
    )

    def __init__(
        self,
        space: SearchSpace,
        *,
        k: int = 3,
        h_max: int | str | None = None,
        budget: int | None = None,
        randomize: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__(space, seed=seed)
        check_int("optimizer.k", k, low=2, high=64)
        if not (h_max is None or h_max == "sqrt"):
            check_int("optimizer.h_max", h_max, low=0, high=10_000)
        check_int("optimizer.budget", budget, low=1, none_ok=True)
        self.k = int(k)
        self.h_max = h_max
        self.budget = budget
        self.randomize = check_bool("optimizer.randomize", randomize)
        rng = np.random.default_rng(seed) if randomize else None
        self.tree = PartitionTree(space, self.k, rng=rng)
        self._sweep = 0
        self._current: list[int] = [0]  # nodes of the sweep being scored
        self._n_expansions = 0
        self._exhausted = False
        # configuration key -> [(node id that asked it, or None if external, loss)]
        self._cache: dict[tuple[Any, ...], list[tuple[int | None, float | None]]] = {}
        # points told with tell_not_asked that are not this optimizer's own history
        self._external: list[Observation] = []

    # ----- public views ------------------------------------------------------------------------
    @property
    def sweep(self) -> int:
        """Index of the sweep being scored (0 is the root alone)."""
        return self._sweep

    def nodes(self) -> list[dict[str, Any]]:
        """Every node of the tree as a JSON-able dict (state, score, cell...)."""
        return [n.to_dict() for n in self.tree.nodes]

    @property
    def n_evaluations(self) -> int:
        """Evaluations this optimizer asked for (told, replayed or pending)."""
        own = sum(1 for o in self.observations if _is_own(o))
        return own + len(self._pending)

    # ----- ask ---------------------------------------------------------------------------------
    def _ask(self, n: int) -> list[tuple[np.ndarray, dict[str, Any]]]:
        out: list[tuple[np.ndarray, dict[str, Any]]] = []
        start_nodes = len(self.tree.nodes)
        while len(out) < n and not self._exhausted:
            self._resolve()
            current = [self.tree.nodes[i] for i in self._current]
            todo = [nd for nd in current if nd.state == "new"]
            if todo:
                for nd in todo:
                    if len(out) >= n:
                        break
                    if self.budget is not None and self.n_evaluations + len(out) >= self.budget:
                        return out
                    if self._key_pending(nd):
                        nd.state = "waiting"
                        continue
                    nd.state = "pending"
                    out.append((nd.x.copy(), self._suggestion_attrs(nd)))
                break
            if any(not nd.scored for nd in current):
                break  # the rest of the sweep is being evaluated
            self._finish_sweep(current)
            if len(self.tree.nodes) - start_nodes > _MAX_NODES_PER_ASK:
                _logger.warning(
                    "%s created %d cells without finding one worth evaluating; the search "
                    "is exhausted (ask returns no point from now on)",
                    type(self).__name__,
                    len(self.tree.nodes) - start_nodes,
                )
                self._exhausted = True
                break
            self._start_sweep()
        return out

    def _suggestion_attrs(self, node: Node) -> dict[str, Any]:
        return {
            "node": node.id,
            "depth": node.depth,
            "sweep": node.sweep,
            "parent": node.parent,
            "score_state": "evaluated",
        }

    def _key_pending(self, node: Node) -> bool:
        return any(
            other.state == "pending" and other.key == node.key and other.id != node.id
            for other in (self.tree.nodes[i] for i in self._current)
        )

    # ----- scoring the current sweep -------------------------------------------------------------
    def _resolve(self) -> None:
        """Score every node of the sweep that can be scored without a new evaluation."""
        for i in self._current:
            node = self.tree.nodes[i]
            if node.state in ("new", "waiting"):
                self._try_score(node)

    def _try_score(self, node: Node) -> None:
        parent = None if node.parent is None else self.tree.nodes[node.parent]
        if parent is not None and parent.key == node.key and self._can_inherit(parent):
            node.state = "inherited"
            node.value, node.failed, node.score = parent.value, parent.failed, parent.score
            return
        hit = self._lookup(node)
        if hit is not None:
            node.state = "evaluated"
            node.value, node.failed = hit[1], hit[1] is None
            node.score = hit[1]
            return
        if self._key_pending(node):
            node.state = "waiting"
            return
        node.state = "new"
        self._score_new(node)

    def _can_inherit(self, parent: Node) -> bool:
        return parent.state in ("evaluated", "inherited")

    def _score_new(self, node: Node) -> None:
        """Hook for BaMSOO: score a node that would need an evaluation (SOO evaluates it)."""

    def _lookup(self, node: Node) -> tuple[int | None, float | None] | None:
        """The cached loss of the node's configuration, as it was known to this node.

        Entries told by this optimizer carry the id of the node that asked them; a replayed
        history is complete from the start, so an entry is visible only to that node and to
        nodes created after it, exactly as in the original run.
        """
        for tag, value in self._cache.get(node.key, ()):
            if tag is None or tag <= node.id:
                return tag, value
        return None

    def _finish_sweep(self, current: list[Node]) -> None:
        worst = self._worst_loss()
        for node in current:
            if node.failed and node.score is None:
                node.score = worst

    def _worst_loss(self) -> float:
        values = [n.value for n in self.tree.nodes if n.value is not None and n.scored]
        values += [o.value for o in self._external if o.value is not None]
        return max(values) if values else math.inf

    def _start_sweep(self) -> None:
        chosen = self.tree.select(self._depth_limit())
        if not chosen:
            self._exhausted = True
            _logger.info("SOO: no leaf can be expanded any more; the search is exhausted")
            return
        self._sweep += 1
        self._current = []
        for node in chosen:
            self._current += [c.id for c in self.tree.expand(node, self._sweep)]
            self._n_expansions += 1

    def _depth_limit(self) -> int | None:
        if self.h_max == "sqrt":
            return math.isqrt(self._n_expansions)
        return self.h_max  # type: ignore[return-value]

    # ----- tell -------------------------------------------------------------------------------
    def _tell(self, obs: Observation, suggestion: Suggestion | None) -> None:
        key = self.space.key(obs.params)
        tag: int | None = None
        if suggestion is not None and "node" in suggestion.attrs:
            tag = int(suggestion.attrs["node"])
            node = self.tree.nodes[tag]
            node.state = "evaluated"
            node.value, node.failed, node.score = obs.value, obs.failed, obs.value
        elif _is_own(obs):
            tag = int(obs.attrs["node"])
        else:
            self._external.append(obs)
        self._cache.setdefault(key, []).append((tag, obs.value))

    def _cancel(self, suggestion_id: int) -> None:
        asked = {int(s.attrs["node"]) for s in self._pending.values() if "node" in s.attrs}
        for i in self._current:
            node = self.tree.nodes[i]
            if node.state == "pending" and node.id not in asked:
                node.state = "new"

    def _config(self) -> dict[str, Any]:
        return {"k": self.k, "h_max": self.h_max, "budget": self.budget,
                "randomize": self.randomize}


def _is_own(obs: Observation) -> bool:
    """Told for one of this optimizer's suggestions, now or in a replayed history."""
    attrs: Mapping[str, Any] = obs.attrs
    return obs.suggestion_id is not None or ("node" in attrs and "sweep" in attrs)
