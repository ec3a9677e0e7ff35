"""The search space: an ordered set of variables and the shared [0, 1]^d encoding."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from llmhpo.exceptions import InvalidSearchSpaceError
from llmhpo.space.variables import (
    Categorical,
    Fixed,
    Float,
    Int,
    Ordinal,
    PowerOfTwo,
    Variable,
)
from llmhpo.validation import short_repr

__all__ = ["SearchSpace", "variable_from_dict"]

Params = dict[str, Any]

_TYPES: dict[str, type[Variable]] = {
    "float": Float,
    "int": Int,
    "pow2": PowerOfTwo,
    "ordinal": Ordinal,
    "categorical": Categorical,
    "fixed": Fixed,
}
_ALLOWED_KEYS = {
    "float": {"low", "high", "log", "default"},
    "int": {"low", "high", "log", "default"},
    "pow2": {"low", "high", "default"},
    "ordinal": {"values", "default"},
    "categorical": {"choices", "default"},
    "fixed": {"value"},
}


def variable_from_dict(name: str, spec: Mapping[str, Any] | Any) -> Variable:
    """Build a variable from its dict form, e.g. ``{"type": "float", "low": 1e-5, ...}``.

    A bare scalar is shorthand for a fixed value.
    """
    if not isinstance(spec, Mapping):
        return Fixed(name, spec)
    kind = spec.get("type")
    description = spec.get("description")
    if kind not in _TYPES:
        raise InvalidSearchSpaceError(
            f"variable {name!r}: type: got {short_repr(kind)}, expected one of "
            f"{sorted(_TYPES)}"
        )
    extra = set(spec) - _ALLOWED_KEYS[kind] - {"type", "description"}
    if extra:
        raise InvalidSearchSpaceError(
            f"variable {name!r}: unknown field(s) {sorted(map(str, extra))} for type {kind!r}, "
            f"expected {sorted(_ALLOWED_KEYS[kind])}"
        )
    kwargs = {k: v for k, v in spec.items() if k not in ("type", "description")}
    try:
        var: Variable
        if kind == "ordinal":
            var = Ordinal(name, kwargs.pop("values"), **kwargs)
        elif kind == "categorical":
            var = Categorical(name, kwargs.pop("choices"), **kwargs)
        elif kind == "fixed":
            var = Fixed(name, kwargs["value"])
        else:
            var = _TYPES[kind](name, kwargs.pop("low"), kwargs.pop("high"), **kwargs)
        return var.describe(description)
    except KeyError as exc:
        raise InvalidSearchSpaceError(
            f"variable {name!r}: missing field {exc.args[0]!r} for type {kind!r}"
        ) from None


class SearchSpace:
    """An ordered collection of :class:`Variable` with the encoding shared by all optimizers.

    ``dim`` counts the non-fixed variables; ``encode``/``decode`` map parameter dicts to
    points of [0, 1]^dim and back (fixed variables are added back on decode).
    """

    def __init__(self, variables: Iterable[Variable]) -> None:
        self.variables: list[Variable] = list(variables)
        names = [v.name for v in self.variables]
        if not self.variables:
            raise InvalidSearchSpaceError("a search space needs at least one variable")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise InvalidSearchSpaceError(f"duplicate variable name(s): {dup}")
        for v in self.variables:
            if not isinstance(v, Variable):
                raise InvalidSearchSpaceError(
                    f"space: got {short_repr(v)}, expected Variable objects"
                )
        self.free: list[Variable] = [v for v in self.variables if not isinstance(v, Fixed)]
        if not self.free:
            raise InvalidSearchSpaceError("a search space needs at least one non-fixed variable")

    # ----- construction ----------------------------------------------------------------------
    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> SearchSpace:
        """Build a space from ``{name: {type: ..., ...}, ...}``."""
        if not isinstance(spec, Mapping) or not spec:
            raise InvalidSearchSpaceError(
                f"space: got {short_repr(spec)}, expected a non-empty mapping of variable names"
            )
        return cls(variable_from_dict(str(name), s) for name, s in spec.items())

    @classmethod
    def from_yaml(cls, path: str | Path) -> SearchSpace:
        import yaml

        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        if isinstance(data, Mapping) and "space" in data:
            data = data["space"]
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return {v.name: v.to_dict() for v in self.variables}

    # ----- shape --------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return len(self.free)

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.variables]

    def __len__(self) -> int:
        return len(self.variables)

    def __iter__(self) -> Iterator[Variable]:
        return iter(self.variables)

    def __getitem__(self, name: str) -> Variable:
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(f"no variable named {name!r}; variables are {self.names}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"SearchSpace({self.variables!r})"

    @property
    def kinds(self) -> list[str]:
        """The kind (``real``, ``integer``, ``categorical``) of each encoded dimension."""
        return [v.kind for v in self.free]

    # ----- values -------------------------------------------------------------------------------
    def validate(self, params: Mapping[str, Any]) -> Params:
        """Return ``params`` in canonical form; raise naming the variable and the bad value."""
        if not isinstance(params, Mapping):
            raise InvalidSearchSpaceError(
                f"parameters: got {short_repr(params)}, expected a mapping"
            )
        missing = [n for n in self.names if n not in params and not isinstance(self[n], Fixed)]
        unknown = [n for n in params if n not in self.names]
        if missing or unknown:
            raise InvalidSearchSpaceError(
                f"parameters do not match the space: missing {missing}, unknown {unknown}"
            )
        return {
            v.name: v.validate(params[v.name]) if v.name in params else v.default
            for v in self.variables
        }

    def contains(self, params: Mapping[str, Any]) -> bool:
        try:
            self.validate(params)
        except InvalidSearchSpaceError:
            return False
        return True

    def default_params(self) -> Params:
        """Each variable's default (or the centre of its range when it has none)."""
        return {v.name: v.default for v in self.variables}

    # ----- unit encoding ------------------------------------------------------------------------
    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """Map a parameter dict to a point of [0, 1]^dim (shape ``(dim,)``)."""
        p = self.validate(params)
        return np.array([v.to_unit(p[v.name]) for v in self.free], dtype=float)

    def decode(self, x: Iterable[float]) -> Params:
        """Map any point of [0, 1]^dim (clipped) to a legal parameter dict."""
        arr = np.asarray(list(x) if not isinstance(x, np.ndarray) else x, dtype=float)
        if arr.shape != (self.dim,):
            raise InvalidSearchSpaceError(
                f"expected a point of shape ({self.dim},), got shape {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise InvalidSearchSpaceError(f"a point must be finite, got {arr.tolist()}")
        values = iter(arr.tolist())
        return {
            v.name: v.value if isinstance(v, Fixed) else v.from_unit(next(values))
            for v in self.variables
        }

    def round(self, x: np.ndarray) -> np.ndarray:
        """Snap a unit point to the encoding of the value it decodes to (shape kept)."""
        arr = np.asarray(x, dtype=float)
        out = np.stack([self.encode(self.decode(row)) for row in np.atleast_2d(arr)])
        return out if arr.ndim == 2 else out[0]

    def key(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """A hashable identity of a configuration (for duplicate and cache look-ups)."""
        p = self.validate(params)
        return tuple(
            round(p[v.name], 12) if isinstance(p[v.name], float) else p[v.name]
            for v in self.variables
        )

    # ----- internal representation (MADS, trees) ------------------------------------------------
    def to_internal(self, params: Mapping[str, Any]) -> np.ndarray:
        p = self.validate(params)
        return np.array([v.to_internal(p[v.name]) for v in self.free], dtype=float)

    def from_internal(self, z: Iterable[float]) -> Params:
        values = iter(float(t) for t in z)
        return {
            v.name: v.value if isinstance(v, Fixed) else v.from_internal(next(values))
            for v in self.variables
        }

    @property
    def internal_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = zip(*(v.internal_bounds for v in self.free), strict=True)
        return np.array(lo, dtype=float), np.array(hi, dtype=float)

    # ----- sampling -----------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, n: int = 1) -> np.ndarray:
        """``n`` uniform points of [0, 1]^dim, shape ``(n, dim)``."""
        return rng.random((n, self.dim))

    def optuna_distributions(self) -> dict[str, Any]:
        """Optuna distributions matching each variable (for storage and the dashboard)."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        out: dict[str, Any] = {}
        for v in self.variables:
            if isinstance(v, Float):
                out[v.name] = FloatDistribution(v.low, v.high, log=v.log)
            elif isinstance(v, Int):
                out[v.name] = IntDistribution(v.low, v.high, log=v.log)
            elif isinstance(v, PowerOfTwo):
                lo, hi = (int(b) for b in v.internal_bounds)
                out[v.name] = CategoricalDistribution([2**e for e in range(lo, hi + 1)])
            elif isinstance(v, (Ordinal, Categorical)):
                out[v.name] = CategoricalDistribution(list(v.values))
            else:
                out[v.name] = CategoricalDistribution([v.value])
        return out
