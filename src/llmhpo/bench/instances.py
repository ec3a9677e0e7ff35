"""Per-seed task instances: de-biased (shifted, rotated) and noisy objectives.

COCO/BBOB style (Hansen et al. 2021): a benchmark function is a family of instances, and each
seed of a run draws its own. Here an instance of a synthetic function ``f`` with a reference
minimizer ``m`` is

    g(x) = f(m + R (x - m')),

``m'`` drawn uniformly inside the box (10 % margins, as COCO draws optima in [-4, 4] of
[-5, 5]) and ``R`` a random rotation (``scipy.stats.special_ortho_group``); every function
used here is defined on all of R^d with the same minimal value, so ``g``'s optimum is ``f``'s,
reached at ``m'``. The functions whose optimum is far from the centre of the box on purpose
(styblinski_tang, schwefel, michalewicz) are not moved; their instance is a random reflection
of the axes, which keeps the optimum as far from the centre.

Noisy instances add heteroscedastic Gaussian noise to a de-biased instance: the standard
deviation is ``rel * scale * (0.25 + 1.5 u)`` with ``scale`` the instance's median gap to the
optimum over 64 fixed random points and ``u`` in [0, 1] the (unit) position along a random
direction, so the noise varies fourfold across the box. The noise of evaluation ``n`` of a
run comes from ``(seed, n)``: runs are reproducible. Noisy ML tasks cross-validate on a new
random split at every evaluation. Every noisy objective has ``true_value(params)``, the
noise-free value (the fixed-split error for ML tasks) used to score the incumbent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from llmhpo.objectives.synthetic import SyntheticFunction, get_function
from llmhpo.space import SearchSpace

__all__ = ["FAR_OPTIMUM", "SyntheticInstance", "NoisySynthetic", "NoisyCV", "stream_seed"]

#: functions whose optimum is far from the centre: reflected per seed, never shifted
FAR_OPTIMUM = ("styblinski_tang", "schwefel", "michalewicz")
_MARGIN = 0.1


def stream_seed(*parts: Any) -> int:
    """A 63-bit seed from ``parts`` (stable across processes, unlike ``hash``)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True)
class SyntheticInstance:
    """Instance ``seed`` of the synthetic function ``base`` (shift and rotation, or reflection).

    ``seed=None`` is the function itself. Picklable: the transform is rebuilt from the seed.
    """

    base: str
    seed: int | None
    rotate: bool = True

    @cached_property
    def function(self) -> SyntheticFunction:
        return get_function(self.base)

    @cached_property
    def _transform(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(m, m', R, reflect) of the instance."""
        f = self.function
        d = f.dim
        m = np.asarray(f.minimizers[0], dtype=float)
        lo = np.array([b[0] for b in f.bounds])
        hi = np.array([b[1] for b in f.bounds])
        if self.seed is None:
            return m, m, np.eye(d), np.zeros(d, dtype=bool)
        rng = np.random.default_rng(stream_seed("instance", self.base, self.seed))
        if any(f.name.startswith(n) for n in FAR_OPTIMUM):
            return m, m, np.eye(d), rng.random(d) < 0.5
        width = hi - lo
        m_new = lo + _MARGIN * width + rng.random(d) * (1 - 2 * _MARGIN) * width
        if self.rotate and d > 1:
            from scipy.stats import special_ortho_group

            rot = special_ortho_group.rvs(d, random_state=rng)
            # keep the landscape's scales: rotate in the unit-scaled coordinates of the box
            rot = np.diag(width) @ rot @ np.diag(1 / width)
        else:
            rot = np.eye(d)
        return m, m_new, np.atleast_2d(rot), np.zeros(d, dtype=bool)

    @property
    def name(self) -> str:
        return self.function.name

    @property
    def dim(self) -> int:
        return self.function.dim

    @property
    def optimum(self) -> float:
        return float(self.function.optimum)

    @property
    def minimizer(self) -> np.ndarray:
        """A minimizer of the instance, inside the box."""
        m, m_new, _, flip = self._transform
        lo = np.array([b[0] for b in self.function.bounds])
        hi = np.array([b[1] for b in self.function.bounds])
        return np.where(flip, lo + hi - m_new, m_new)

    def space(self) -> SearchSpace:
        return self.function.space()

    def evaluate(self, x: np.ndarray) -> float:
        f = self.function
        m, m_new, rot, flip = self._transform
        x = np.asarray(x, dtype=float)
        lo = np.array([b[0] for b in f.bounds])
        hi = np.array([b[1] for b in f.bounds])
        x = np.where(flip, lo + hi - x, x)
        return float(f.fn(m + rot @ (x - m_new)))

    def _x(self, params: Mapping[str, Any]) -> np.ndarray:
        return np.array([params[f"x{i + 1}"] for i in range(self.dim)], dtype=float)

    def __call__(self, params: Mapping[str, Any], ctx: Any = None) -> float:
        return self.evaluate(self._x(params))

    def true_value(self, params: Mapping[str, Any]) -> float:
        return self(params)


@dataclass(frozen=True)
class NoisySynthetic:
    """A synthetic instance observed with heteroscedastic Gaussian noise (module docstring)."""

    instance: SyntheticInstance
    rel: float = 0.1

    @cached_property
    def _noise_model(self) -> tuple[float, np.ndarray]:
        inst = self.instance
        rng = np.random.default_rng(stream_seed("noise", inst.base, inst.seed))
        space = inst.space()
        gaps = [inst(space.decode(u)) - inst.optimum for u in rng.random((64, inst.dim))]
        scale = float(np.median(gaps))
        direction = rng.normal(size=inst.dim)
        return scale, direction / np.linalg.norm(direction)

    @property
    def optimum(self) -> float:
        return self.instance.optimum

    def space(self) -> SearchSpace:
        return self.instance.space()

    def noise_sd(self, params: Mapping[str, Any]) -> float:
        scale, direction = self._noise_model
        space = self.instance.space()
        u_vec = space.encode(dict(params))
        u = float(np.clip(0.5 + (u_vec - 0.5) @ direction / np.sqrt(len(u_vec)), 0.0, 1.0))
        return self.rel * scale * (0.25 + 1.5 * u)

    def __call__(self, params: Mapping[str, Any], ctx: Any = None) -> float:
        number = getattr(ctx, "number", 0)
        rng = np.random.default_rng(stream_seed("eval", self.instance.base,
                                                self.instance.seed, number))
        return self.instance(params) + self.noise_sd(params) * float(rng.normal())

    def true_value(self, params: Mapping[str, Any]) -> float:
        return self.instance(params)


@dataclass(frozen=True)
class NoisyCV:
    """An ML task cross-validated on a new random split (and model seed) at every evaluation.

    ``true_value`` is the task's error on its fixed split (``split_seed`` 0), the function the
    noise-free ML suite optimizes.
    """

    task: Any  # llmhpo.bench.sklearn_tasks.SklearnTask
    seed: int

    @property
    def optimum(self) -> float:
        return float(self.task.optimum)

    def space(self) -> SearchSpace:
        return self.task.space()

    def __call__(self, params: Mapping[str, Any], ctx: Any = None) -> float:
        number = getattr(ctx, "number", 0)
        split = stream_seed("cv", self.task.name, self.seed, number) % (2**31 - 1)
        return float(replace(self.task, split_seed=split)(params))

    def true_value(self, params: Mapping[str, Any]) -> float:
        return float(self.task(params))
