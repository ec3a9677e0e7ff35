"""The K-ary partition tree of SOO and BaMSOO over the unit cube [0, 1]^d.

Each node is a cell (a box of the unit cube) scored at its centre. Expanding a node cuts its
widest dimension into ``K`` equal parts; since the search space's encoding maps every variable
to [0, 1], widths in the unit cube are already relative to the root, as the SOO papers ask.
The width of a dimension is ``K ** -cuts``, so "widest" is decided on the integer number of cuts
per dimension, never on float widths (which differ by an ulp after cuts: 1/3 computed as
``hi - lo`` is 0.3333333333333333 or 0.33333333333333337 depending on the cell).
The tree was written by hand (no maintained Python library offers SOO's tree with the
partial, resumable sweeps an ask/tell interface needs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmhpo.space import SearchSpace

__all__ = ["Node", "PartitionTree", "SCORED_STATES"]

#: states in which a node has a score and needs nothing more
SCORED_STATES = frozenset({"evaluated", "inherited", "approximated"})

_MIN_WIDTH = 1e-9  # a real dimension narrower than this (relative to the root) is not cut


@dataclass
class Node:
    """A cell of the partition.

    Attributes:
        id: creation order (0 is the root).
        depth: depth in the tree.
        parent: id of the parent (``None`` for the root).
        sweep: the sweep in which the node was created.
        lo, hi: bounds of the cell in the unit cube.
        x: the encoding of the value the cell's centre decodes to (the point evaluated).
        params: the decoded centre.
        key: ``space.key(params)``, the identity used for cache look-ups.
        state: ``new`` (needs an evaluation), ``pending`` (handed out), ``waiting`` (the same
            configuration is pending for another node), or a scored state: ``evaluated``,
            ``inherited`` (same configuration as its parent) or ``approximated`` (BaMSOO).
        value: the observed loss (``None`` if not evaluated, or failed).
        failed: the evaluation (or the inherited one) failed.
        score: the loss used for selection (lower is better).
        children: ids of the children (empty for a leaf).
        terminal: the cell cannot be cut any further (every dimension is resolved).
        info: extra data recorded with the node (BaMSOO's bounds).
        cuts: number of times each dimension was cut on the way from the root.
    """

    id: int
    depth: int
    parent: int | None
    sweep: int
    lo: np.ndarray
    hi: np.ndarray
    x: np.ndarray
    params: dict[str, Any]
    key: tuple[Any, ...]
    state: str = "new"
    value: float | None = None
    failed: bool = False
    score: float | None = None
    children: list[int] = field(default_factory=list)
    terminal: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    cuts: tuple[int, ...] = ()

    @property
    def scored(self) -> bool:
        return self.state in SCORED_STATES

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary of the node."""
        return {
            "node": self.id,
            "depth": self.depth,
            "parent": self.parent,
            "sweep": self.sweep,
            "params": dict(self.params),
            "state": self.state,
            "value": self.value,
            "failed": self.failed,
            "score": self.score,
            "lo": self.lo.tolist(),
            "hi": self.hi.tolist(),
            **self.info,
        }


class PartitionTree:
    """A K-ary partition of the unit cube of ``space``.

    Args:
        space: the search space.
        k: number of children of an expanded node (``K >= 2``).
        rng: ``None`` for the deterministic tree (ties go to the lowest dimension index and the
            lowest node id); a generator for a randomized tree: ties between equally wide
            dimensions follow a random order of the dimensions, and ties between leaves of
            equal score at one depth a random priority of the nodes.
    """

    def __init__(self, space: SearchSpace, k: int, rng: np.random.Generator | None = None) -> None:
        self.space = space
        self.k = k
        self.nodes: list[Node] = []
        dim = space.dim
        self._rng = rng
        # rank of each dimension among equally wide ones (lower is cut first)
        self._dim_rank = (np.arange(dim) if rng is None else rng.permutation(dim)).tolist()
        self._priority: list[float] = []
        self._add(np.zeros(dim), np.ones(dim), depth=0, parent=None, sweep=0, cuts=(0,) * dim)

    @property
    def root(self) -> Node:
        return self.nodes[0]

    def _add(
        self,
        lo: np.ndarray,
        hi: np.ndarray,
        *,
        depth: int,
        parent: int | None,
        sweep: int,
        cuts: tuple[int, ...],
    ) -> Node:
        params = self.space.decode((lo + hi) / 2.0)
        node = Node(
            id=len(self.nodes),
            depth=depth,
            parent=parent,
            sweep=sweep,
            lo=lo,
            hi=hi,
            x=self.space.encode(params),
            params=params,
            key=self.space.key(params),
            cuts=cuts,
        )
        self._priority.append(float(node.id) if self._rng is None else float(self._rng.random()))
        node.terminal = self.split_dimension(node) is None
        self.nodes.append(node)
        return node

    def split_dimension(self, node: Node) -> int | None:
        """The widest dimension of the cell that still holds more than one value.

        Widest = cut the fewest times (widths are ``K ** -cuts``, compared exactly); ties go to
        the lowest index (the tree's random dimension order when it has an ``rng``). A
        discrete dimension whose cell decodes to a single value is skipped (cutting it again
        only copies the parent); ``None`` means no dimension can be cut.
        """
        widths = node.hi - node.lo
        best: int | None = None
        best_key: tuple[int, int] | None = None
        for d, var in enumerate(self.space.free):
            w = float(widths[d])
            if var.kind == "real":
                splittable = w > _MIN_WIDTH
            else:
                eps = w * 1e-6  # stay inside the cell: its edges are bin edges after cuts
                splittable = var.from_unit(node.lo[d] + eps) != var.from_unit(node.hi[d] - eps)
            key = (node.cuts[d], self._dim_rank[d])
            if splittable and (best_key is None or key < best_key):
                best, best_key = d, key
        return best

    def expand(self, node: Node, sweep: int) -> list[Node]:
        """Cut ``node`` into ``k`` children along its split dimension and add them."""
        d = self.split_dimension(node)
        if d is None or node.children:
            raise ValueError(f"node {node.id} cannot be expanded")
        step = (node.hi[d] - node.lo[d]) / self.k
        children = []
        for i in range(self.k):
            lo, hi = node.lo.copy(), node.hi.copy()
            lo[d] = node.lo[d] + i * step
            hi[d] = node.hi[d] if i == self.k - 1 else node.lo[d] + (i + 1) * step
            cuts = tuple(c + (j == d) for j, c in enumerate(node.cuts))
            child = self._add(
                lo, hi, depth=node.depth + 1, parent=node.id, sweep=sweep, cuts=cuts
            )
            children.append(child)
        node.children = [c.id for c in children]
        return children

    def leaves(self) -> list[Node]:
        """Leaves that can still be expanded."""
        return [n for n in self.nodes if not n.children and not n.terminal]

    def select(self, h_max: int | None) -> list[Node]:
        """SOO's selection of one sweep (minimization).

        For each depth ``h = 0 .. min(depth(T), h_max)``, take the leaf of lowest score at
        that depth (ties: lowest id, or the random priority of a randomized tree) and keep it
        if its score is ``<= v_min``, the lowest score kept at a smaller depth in this sweep
        (Munos 2011 writes ``f >= v_max`` for maximization). Only leaves that exist when the
        sweep starts compete, so that the children of all selected nodes can be evaluated in
        parallel.
        """
        leaves = self.leaves()
        if not leaves:
            return []
        top = max(n.depth for n in leaves)
        if h_max is not None:
            top = min(top, h_max)
        v_min = math.inf
        chosen: list[Node] = []
        for h in range(top + 1):
            at_h = [n for n in leaves if n.depth == h]
            if not at_h:
                continue
            best = min(at_h, key=lambda n: (_score(n), self._priority[n.id], n.id))
            if _score(best) <= v_min:
                chosen.append(best)
                v_min = _score(best)
        return chosen


def _score(node: Node) -> float:
    if node.score is None:
        raise RuntimeError(f"node {node.id} has no score yet")
    return node.score
