"""Synthetic test functions with known optima (Davouse & Talbi 2025, Zhang et al. 2023 and the
BaMSOO literature).

Each :class:`SyntheticFunction` is an objective (``f(params, ctx) -> float``, to minimize)
and knows its search space, optimal value and minimizers. Shifted variants (Zhang et al. 2023) move
the landscape by a fixed vector so that a memorized optimum is wrong; the optimal value is
unchanged and at least one minimizer stays inside the domain.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmhpo.exceptions import InvalidConfigError
from llmhpo.space import Float, SearchSpace
from llmhpo.validation import check_int, check_str

__all__ = ["SyntheticFunction", "FUNCTIONS", "get_function"]


@dataclass(frozen=True)
class SyntheticFunction:
    """A test function on a box, to minimize.

    Attributes:
        name: registry name.
        bounds: ``[(low, high), ...]`` per dimension.
        fn: the function of a vector ``x`` of shape ``(d,)``.
        optimum: the minimal value.
        minimizers: known minimizers (within the box).
        shift: the vector the landscape is moved by (zeros for the original).
    """

    name: str
    bounds: tuple[tuple[float, float], ...]
    fn: Callable[[np.ndarray], float]
    optimum: float
    minimizers: tuple[tuple[float, ...], ...]
    shift: tuple[float, ...] = field(default=())

    @property
    def dim(self) -> int:
        return len(self.bounds)

    def space(self) -> SearchSpace:
        return SearchSpace(Float(f"x{i + 1}", lo, hi) for i, (lo, hi) in enumerate(self.bounds))

    def evaluate(self, x: Sequence[float]) -> float:
        arr = np.asarray(x, dtype=float)
        if self.shift:
            arr = arr - np.asarray(self.shift)
        return float(self.fn(arr))

    def __call__(self, params: dict[str, Any], ctx: Any = None) -> float:
        return self.evaluate([params[f"x{i + 1}"] for i in range(self.dim)])

    def check_space(self, space: SearchSpace) -> None:
        """Refuse, before any trial, a space that lacks a numeric ``x1..xd`` of the function."""
        want = [f"x{i + 1}" for i in range(self.dim)]
        missing = [n for n in want if n not in space.names]
        if missing:
            raise InvalidConfigError(
                f"space: {self.name} takes variables {want}; missing {missing} "
                f"(the space has {space.names})"
            )
        for n in want:
            v = space[n]
            values = getattr(v, "values", None) or ([v.default] if v.type_name == "fixed" else [])
            if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in values):
                raise InvalidConfigError(
                    f"space: variable {n!r} of {self.name}: got type {space[n].type_name!r}, "
                    "expected a numeric variable (float, int, pow2, ordinal of numbers)"
                )

    def regret(self, value: float) -> float:
        return value - self.optimum

    def shifted(self, shift: Sequence[float]) -> SyntheticFunction:
        s = tuple(float(t) for t in shift)
        mins = tuple(tuple(m + d for m, d in zip(mv, s, strict=True)) for mv in self.minimizers)
        inside = tuple(
            m
            for m in mins
            if all(lo <= t <= hi for t, (lo, hi) in zip(m, self.bounds, strict=True))
        )
        if not inside:
            raise ValueError(f"shift {s} moves every minimizer of {self.name} out of its box")
        return SyntheticFunction(
            f"shifted_{self.name}", self.bounds, self.fn, self.optimum, inside, s
        )


def _branin(x: np.ndarray) -> float:
    a, b, c = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x[1] - b * x[0] ** 2 + c * x[0] - r) ** 2 + s * (1 - t) * math.cos(x[0]) + s


def _himmelblau(x: np.ndarray) -> float:
    return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2


def _rosenbrock(x: np.ndarray) -> float:
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def _ackley(x: np.ndarray) -> float:
    d = len(x)
    return float(
        -20 * math.exp(-0.2 * math.sqrt(np.sum(x**2) / d))
        - math.exp(np.sum(np.cos(2 * math.pi * x)) / d)
        + 20
        + math.e
    )


def _quadratic(x: np.ndarray) -> float:
    return float(np.sum(x**2))


def _quadratic_illcond(x: np.ndarray) -> float:
    # condition number 1e4 along the first axis (axis-aligned, as in Zhang et al. 2023's
    # quad2d_illcond)
    w = np.logspace(0, 4, len(x))
    return float(np.sum(w * x**2))


_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _hartmann6(x: np.ndarray) -> float:
    inner = np.sum(_H6_A * (x[None, :] - _H6_P) ** 2, axis=1)
    return float(-np.sum(_H6_ALPHA * np.exp(-inner)))


def _styblinski_tang(x: np.ndarray) -> float:
    return float(0.5 * np.sum(x**4 - 16 * x**2 + 5 * x))


def _schwefel(x: np.ndarray) -> float:
    return float(418.9828872724338 * len(x) - np.sum(x * np.sin(np.sqrt(np.abs(x)))))


def _michalewicz(x: np.ndarray) -> float:
    i = np.arange(1, len(x) + 1)
    return float(-np.sum(np.sin(x) * np.sin(i * x**2 / math.pi) ** 20))


def _box(lo: float, hi: float, d: int) -> tuple[tuple[float, float], ...]:
    return tuple((lo, hi) for _ in range(d))


def _base(name: str, dim: int | None) -> SyntheticFunction:
    if name == "branin":
        return SyntheticFunction(
            "branin", ((-5.0, 10.0), (0.0, 15.0)), _branin, 0.397887357729738,
            ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)),
        )
    if name == "himmelblau":
        return SyntheticFunction(
            "himmelblau", _box(-5, 5, 2), _himmelblau, 0.0,
            ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)),
        )
    if name == "hartmann6":
        return SyntheticFunction(
            "hartmann6", _box(0, 1, 6), _hartmann6, -3.32236801141551,
            ((0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573),),
        )
    d = dim or 2
    # Optima far from the centre of the box, asymmetric around it (Surjanovic & Bingham's
    # library of test functions): a poor centre, so a centre start gets nothing for free.
    if name == "styblinski_tang":
        return SyntheticFunction(
            f"styblinski_tang{d}" if d != 2 else "styblinski_tang", _box(-5, 5, d),
            _styblinski_tang, -39.16616570377142 * d, (tuple([-2.903534027771177] * d),),
        )
    if name == "schwefel":
        return SyntheticFunction(
            f"schwefel{d}" if d != 2 else "schwefel", _box(-500, 500, d), _schwefel,
            0.0, (tuple([420.9687463] * d),),
        )
    if name == "michalewicz":
        if d != 2:
            raise InvalidConfigError("michalewicz is defined here in 2 dimensions only")
        return SyntheticFunction(
            "michalewicz", _box(0, math.pi, 2), _michalewicz, -1.8013034100985532,
            ((2.202905520, 1.570796327),),
        )
    if name == "rosenbrock":
        return SyntheticFunction(f"rosenbrock{d}" if d != 2 else "rosenbrock", _box(-2, 2, d),
                                 _rosenbrock, 0.0, (tuple([1.0] * d),))
    if name == "ackley":
        return SyntheticFunction(f"ackley{d}" if d != 2 else "ackley", _box(-5, 5, d), _ackley,
                                 0.0, (tuple([0.0] * d),))
    if name == "quadratic":
        return SyntheticFunction(f"quadratic{d}" if d != 2 else "quadratic", _box(-5, 5, d),
                                 _quadratic, 0.0, (tuple([0.0] * d),))
    if name == "quadratic_illcond":
        return SyntheticFunction(
            f"quadratic_illcond{d}" if d != 2 else "quadratic_illcond", _box(-5, 5, d),
            _quadratic_illcond, 0.0, (tuple([0.0] * d),),
        )
    raise InvalidConfigError(f"unknown synthetic function {name!r}, expected one of {FUNCTIONS}")


# Shifts of Zhang et al. 2023's variants: moved off the memorable optimum, kept inside the box.
_SHIFTS = {
    "branin": (1.3, -0.9),
    "himmelblau": (0.7, -0.6),
    "rosenbrock": (-0.6, 0.4),
    "ackley": (1.7, -2.3),
    "quadratic": (1.5, -2.5),
    "quadratic_illcond": (1.5, -2.5),
}

FUNCTIONS: list[str] = [
    "branin", "himmelblau", "rosenbrock", "ackley", "quadratic", "quadratic_illcond",
    "hartmann6", "styblinski_tang", "schwefel", "michalewicz",
] + [f"shifted_{n}" for n in _SHIFTS]


def get_function(name: str, dim: int | None = None) -> SyntheticFunction:
    """The synthetic function ``name`` (``shifted_<name>`` for a shifted variant).

    ``dim`` sets the dimension of the functions defined in any dimension (rosenbrock, ackley,
    quadratic, quadratic_illcond); a trailing number in the name does too (``rosenbrock10``).
    """
    shifted = name.startswith("shifted_")
    base = name.removeprefix("shifted_")
    stem = base.rstrip("0123456789")
    if stem != base and stem in ("rosenbrock", "ackley", "quadratic", "quadratic_illcond",
                                 "styblinski_tang", "schwefel"):
        dim = int(base[len(stem):])
        base = stem
    f = _base(base, dim)
    if shifted:
        if base not in _SHIFTS:
            raise InvalidConfigError(f"no shifted variant of {base!r}; shifted: {sorted(_SHIFTS)}")
        s = _SHIFTS[base]
        f = f.shifted(tuple(s[i % len(s)] * (1 if i < 2 else 0.5) for i in range(f.dim)))
    return f


def from_config(cfg: dict[str, Any]) -> Any:
    """``objective: {type: synthetic, name: branin, dim: 2}`` -> ObjectiveSpec."""
    from llmhpo.objectives.registry import ObjectiveSpec

    extra = set(cfg) - {"name", "dim"}
    if extra:
        raise InvalidConfigError(
            f"unknown field(s) {sorted(map(str, extra))} for a synthetic objective; "
            "expected name, dim"
        )
    if "name" not in cfg:
        raise InvalidConfigError(f"a synthetic objective needs a 'name', one of {FUNCTIONS}")
    check_str("objective.name", cfg["name"], what="a function name")
    check_int("objective.dim", cfg.get("dim"), low=1, high=1000, none_ok=True)
    f = get_function(cfg["name"], cfg.get("dim"))
    return ObjectiveSpec(f, f.space(), "minimize", None)
