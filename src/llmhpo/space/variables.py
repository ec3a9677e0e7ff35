"""Variables of a search space and their encodings.

Every variable has three representations:

* the *value* the trainer receives (``1e-4``, ``16``, ``"adamw"``);
* the *internal* number optimizers such as MADS work on (the integer exponent of a power of
  two, the index of a choice, log10 of a log-scaled float...), with ``kind`` telling whether it
  is ``"real"``, ``"integer"`` or ``"categorical"``;
* the *unit* coordinate in [0, 1] that every numeric optimizer shares.

Integers use relax-and-round: the unit interval covers ``[low - 0.5, high + 0.5]`` so that,
after rounding to the nearest integer and clipping, every integer owns an interval of the same
width (the encoding Optuna's ``_SearchSpaceTransform`` uses). Categorical and ordinal variables
are index bins of equal width. Every point of [0, 1] decodes to a legal value and
``from_unit(to_unit(v)) == v`` holds exactly for every legal ``v``.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Any, ClassVar

from llmhpo.exceptions import InvalidSearchSpaceError
from llmhpo.validation import check_bool, short_repr

__all__ = [
    "Variable",
    "Float",
    "Int",
    "PowerOfTwo",
    "Ordinal",
    "Categorical",
    "Fixed",
]

_MISSING: Any = object()


# Integer bounds stay within the integers a float represents exactly (2**53): the shared
# [0, 1] encoding goes through floats, so wider bounds would make every trial fail.
_MAX_INT = 2**53
# Float bounds keep high - low finite (the unit encoding divides by it).
_MAX_FLOAT = 1e300


def _as_float(name: str, field: str, value: Any) -> float:
    """Parse a number (YAML gives ``1e-5`` as a string) or raise naming the field."""
    if isinstance(value, bool):
        out = math.nan
    else:
        try:
            out = float(value)
        except (TypeError, ValueError, OverflowError):
            out = math.nan
    if not math.isfinite(out) or abs(out) > _MAX_FLOAT:
        raise InvalidSearchSpaceError(
            f"variable {name!r}: {field}: got {short_repr(value)}, expected a finite number "
            f"within +-{_MAX_FLOAT:g}"
        )
    return out


def _as_int(name: str, field: str, value: Any) -> int:
    out = _as_float(name, field, value)
    if out != int(out) or abs(out) > _MAX_INT:
        raise InvalidSearchSpaceError(
            f"variable {name!r}: {field}: got {short_repr(value)}, expected an integer "
            f"within +-2**53"
        )
    return int(out)


def _as_log(name: str, log: Any) -> bool:
    """``log`` must be a real boolean: YAML's quoted ``'false'`` is a non-empty string."""
    return check_bool(f"variable {name!r}: log", log, InvalidSearchSpaceError)


def _exact_preimage(f: Any, v: float, u: float) -> float:
    """A u' near ``u`` with ``f(u') == v`` for the non-decreasing map ``f``, else ``u``.

    Bisection on the floats of [u - 1e-9, u + 1e-9]: the smallest u' with f(u') >= v.
    """
    lo, hi = max(0.0, u - 1e-9), min(1.0, u + 1e-9)
    if not f(lo) <= v <= f(hi):
        return u
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if f(mid) >= v:
            hi = mid
        else:
            lo = mid
    return hi if f(hi) == v else u


class Variable(abc.ABC):
    """One hyperparameter: its legal values and its encodings."""

    type_name: ClassVar[str]
    kind: ClassVar[str]  # "real", "integer" or "categorical" (internal representation)
    #: What the variable means, in words (shown to an LLM optimizer); optional.
    description: str | None = None

    def __init__(self, name: str, default: Any = _MISSING) -> None:
        if not isinstance(name, str) or not name:
            raise InvalidSearchSpaceError(
                f"variable name: got {short_repr(name)}, expected a non-empty string"
            )
        self.name = name
        self._default = _MISSING
        if default is not _MISSING and default is not None:
            self._default = self.validate(default)

    # ----- legal values -------------------------------------------------------------------
    @abc.abstractmethod
    def validate(self, value: Any) -> Any:
        """Return ``value`` in canonical form or raise :class:`InvalidSearchSpaceError`."""

    def _bad(self, value: Any, expected: str) -> InvalidSearchSpaceError:
        return InvalidSearchSpaceError(
            f"variable {self.name!r}: got {short_repr(value)}, expected {expected}"
        )

    @property
    def has_default(self) -> bool:
        return self._default is not _MISSING

    @property
    def default(self) -> Any:
        """The default value, or the value at the centre of the unit interval if none was set."""
        if self.has_default:
            return self._default
        return self.from_unit(0.5)

    # ----- internal representation (MADS, trees) ------------------------------------------
    @property
    @abc.abstractmethod
    def internal_bounds(self) -> tuple[float, float]:
        """Bounds of the internal representation (inclusive)."""

    @abc.abstractmethod
    def to_internal(self, value: Any) -> float:
        """Map a legal value to its internal number."""

    @abc.abstractmethod
    def from_internal(self, z: float) -> Any:
        """Map an internal number (rounded and clipped if needed) to a legal value."""

    # ----- unit encoding (every numeric optimizer) ------------------------------------------
    def to_unit(self, value: Any) -> float:
        """Map a legal value to [0, 1]."""
        z = self.to_internal(self.validate(value))
        lo, hi = self._unit_span()
        return min(1.0, max(0.0, (z - lo) / (hi - lo)))

    def from_unit(self, u: float) -> Any:
        """Map any u (clipped to [0, 1]) to a legal value."""
        if not math.isfinite(u):
            raise InvalidSearchSpaceError(
                f"variable {self.name!r}: unit coordinate must be finite, got {u!r}"
            )
        lo, hi = self._unit_span()
        u = min(1.0, max(0.0, float(u)))
        return self.from_internal(lo + u * (hi - lo))

    def _unit_span(self) -> tuple[float, float]:
        lo, hi = self.internal_bounds
        if self.kind == "real":
            return lo, hi
        return lo - 0.5, hi + 0.5  # relax-and-round: equal width for every integer

    def _round_clip(self, z: float) -> int:
        lo, hi = self.internal_bounds
        return int(min(hi, max(lo, math.floor(z + 0.5))))

    # ----- serialization ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type_name, **self._fields()}
        if self.has_default:
            out["default"] = self._default
        if self.description:
            out["description"] = self.description
        return out

    def describe(self, text: str | None) -> Variable:
        """Set the variable's description (``None`` removes it); returns the variable."""
        if text is not None and not isinstance(text, str):
            raise InvalidSearchSpaceError(
                f"variable {self.name!r}: description must be a string, got {text!r}"
            )
        self.description = text or None
        return self

    @abc.abstractmethod
    def _fields(self) -> dict[str, Any]: ...

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "type")
        return f"{type(self).__name__}({self.name!r}, {fields})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Variable)
            and self.name == other.name
            and self.to_dict() == other.to_dict()
        )

    def __hash__(self) -> int:
        return hash((self.name, self.type_name))


class Float(Variable):
    """A real number in ``[low, high]``, linear or log10 scale."""

    type_name = "float"
    kind = "real"

    def __init__(
        self, name: str, low: float, high: float, *, log: bool = False, default: Any = _MISSING
    ) -> None:
        self.name = name
        self.low = _as_float(name, "low", low)
        self.high = _as_float(name, "high", high)
        self.log = _as_log(name, log)
        if not self.low < self.high:
            raise InvalidSearchSpaceError(
                f"variable {name!r}: low < high must hold, got low={short_repr(low)}, "
                f"high={short_repr(high)}"
            )
        if not math.isfinite(self.high - self.low):
            raise InvalidSearchSpaceError(
                f"variable {name!r}: high - low must be finite, got low={low!r}, high={high!r}"
            )
        if self.log and self.low <= 0:
            raise InvalidSearchSpaceError(
                f"variable {name!r}: a log-scale float needs low > 0, got low={low!r}"
            )
        super().__init__(name, default)

    def validate(self, value: Any) -> float:
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise self._bad(value, f"a number in [{self.low}, {self.high}]") from None
        # Tolerate the float error of a log/exp round trip at the bounds.
        tol = 1e-12 * max(1.0, abs(self.low), abs(self.high))
        if not (self.low - tol <= v <= self.high + tol):
            raise self._bad(value, f"a number in [{self.low}, {self.high}]")
        return min(self.high, max(self.low, v))

    @property
    def internal_bounds(self) -> tuple[float, float]:
        if self.log:
            return math.log10(self.low), math.log10(self.high)
        return self.low, self.high

    def to_internal(self, value: Any) -> float:
        v = float(value)
        return math.log10(v) if self.log else v

    def from_internal(self, z: float) -> float:
        lo, hi = self.internal_bounds
        z = min(hi, max(lo, float(z)))
        v = 10.0**z if self.log else z
        return min(self.high, max(self.low, v))

    def to_unit(self, value: Any) -> float:
        v = self.validate(value)
        if v == self.low:  # exact at the bounds, whatever log10 rounds to
            return 0.0
        if v == self.high:
            return 1.0
        u = super().to_unit(v)
        # The affine (or log) map can be one ulp off; step u to a neighbour that decodes back
        # to exactly v, so that every value the space produced round-trips exactly.
        if self.from_unit(u) != v:
            return _exact_preimage(self.from_unit, v, u)
        return u

    def from_unit(self, u: float) -> float:
        if u <= 0.0:
            return self.low
        if u >= 1.0:
            return self.high
        return super().from_unit(u)

    def _fields(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log}


class Int(Variable):
    """An integer in ``[low, high]`` (relax-and-round), linear or log scale."""

    type_name = "int"
    kind = "integer"

    def __init__(
        self, name: str, low: int, high: int, *, log: bool = False, default: Any = _MISSING
    ) -> None:
        self.name = name
        self.low = _as_int(name, "low", low)
        self.high = _as_int(name, "high", high)
        self.log = _as_log(name, log)
        if not self.low <= self.high:
            raise InvalidSearchSpaceError(
                f"variable {name!r}: low <= high must hold, got low={low!r}, high={high!r}"
            )
        if self.log and self.low < 1:
            raise InvalidSearchSpaceError(
                f"variable {name!r}: a log-scale integer needs low >= 1, got low={low!r}"
            )
        super().__init__(name, default)

    def validate(self, value: Any) -> int:
        if isinstance(value, bool):
            raise self._bad(value, f"an integer in [{self.low}, {self.high}]")
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise self._bad(value, f"an integer in [{self.low}, {self.high}]") from None
        if f != math.floor(f) or not (self.low <= f <= self.high):
            raise self._bad(value, f"an integer in [{self.low}, {self.high}]")
        return int(f)

    @property
    def internal_bounds(self) -> tuple[float, float]:
        return float(self.low), float(self.high)

    def to_internal(self, value: Any) -> float:
        return float(value)

    def from_internal(self, z: float) -> int:
        return self._round_clip(z)

    def _unit_span(self) -> tuple[float, float]:
        if self.log:
            return math.log(self.low - 0.5), math.log(self.high + 0.5)
        return super()._unit_span()

    def to_unit(self, value: Any) -> float:
        if not self.log:
            return super().to_unit(value)
        v = self.validate(value)
        lo, hi = self._unit_span()
        return (math.log(v) - lo) / (hi - lo)

    def from_unit(self, u: float) -> int:
        if not self.log:
            return super().from_unit(u)
        lo, hi = self._unit_span()
        u = min(1.0, max(0.0, float(u)))
        return self._round_clip(math.exp(lo + u * (hi - lo)))

    def _fields(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log}


class PowerOfTwo(Variable):
    """A power of two ``2**e`` between ``low`` and ``high`` (both powers of two).

    The internal number is the integer exponent ``e`` (relax-and-round), so every power is
    equally likely under uniform sampling. Tribes et al. 2023's rank ``2**(r+1), r in [1, 8]`` is
    ``PowerOfTwo("rank", 4, 512)``.
    """

    type_name = "pow2"
    kind = "integer"

    def __init__(self, name: str, low: int, high: int, *, default: Any = _MISSING) -> None:
        self.name = name
        self.low = _as_int(name, "low", low)
        self.high = _as_int(name, "high", high)
        for field, v in (("low", self.low), ("high", self.high)):
            if v < 1 or v & (v - 1):
                raise InvalidSearchSpaceError(
                    f"variable {name!r}: {field} must be a power of two >= 1, got {v!r}"
                )
        if not self.low <= self.high:
            raise InvalidSearchSpaceError(
                f"variable {name!r}: low <= high must hold, got low={low!r}, high={high!r}"
            )
        super().__init__(name, default)

    def validate(self, value: Any) -> int:
        try:
            f = float(value)
        except (TypeError, ValueError):
            f = float("nan")
        v = int(f) if math.isfinite(f) and f == math.floor(f) else -1
        if isinstance(value, bool) or v < 1 or v & (v - 1) or not self.low <= v <= self.high:
            raise self._bad(value, f"a power of two in [{self.low}, {self.high}]")
        return v

    @property
    def internal_bounds(self) -> tuple[float, float]:
        return float(self.low.bit_length() - 1), float(self.high.bit_length() - 1)

    def to_internal(self, value: Any) -> float:
        return float(int(value).bit_length() - 1)

    def from_internal(self, z: float) -> int:
        return 2 ** self._round_clip(z)

    def _fields(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high}


class _Choices(Variable):
    """Shared code of :class:`Ordinal` and :class:`Categorical` (index bins)."""

    def __init__(self, name: str, values: Sequence[Any], *, default: Any = _MISSING) -> None:
        self.name = name
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise InvalidSearchSpaceError(
                f"variable {name!r}: got {short_repr(values)}, expected a non-empty list of "
                "values"
            )
        values = list(values)
        for v in values:
            if not isinstance(v, (str, int, float, bool)) and v is not None:
                raise InvalidSearchSpaceError(
                    f"variable {name!r}: value: got {short_repr(v)}, expected a str, int, "
                    "float, bool or null"
                )
        if len(set(map(repr, values))) != len(values):
            raise InvalidSearchSpaceError(
                f"variable {name!r}: got {short_repr(values)}, expected distinct values"
            )
        self.values = values
        super().__init__(name, default)

    def index(self, value: Any) -> int:
        for i, v in enumerate(self.values):
            if v == value and type(v) is type(value):
                return i
        for i, v in enumerate(self.values):  # 0.1 == 0.1 across int/float, not across str
            numeric = not isinstance(value, (str, bool)) and not isinstance(v, (str, bool))
            if v == value and numeric:
                return i
        raise self._bad(value, f"one of {short_repr(self.values, 300)}")

    def validate(self, value: Any) -> Any:
        return self.values[self.index(value)]

    @property
    def internal_bounds(self) -> tuple[float, float]:
        return 0.0, float(len(self.values) - 1)

    def to_internal(self, value: Any) -> float:
        return float(self.index(value))

    def from_internal(self, z: float) -> Any:
        return self.values[self._round_clip(z)]


class Ordinal(_Choices):
    """An ordered finite set of values; the internal number is the (ordered) index.

    Tribes et al. 2023's dropout code ``d`` is an ordinal over ``[0, 1e-4, 1e-3, 1e-2, 0.1]``.
    """

    type_name = "ordinal"
    kind = "integer"

    def _fields(self) -> dict[str, Any]:
        return {"values": list(self.values)}


class Categorical(_Choices):
    """An unordered finite set of choices (index bins in the unit encoding)."""

    type_name = "categorical"
    kind = "categorical"

    def _fields(self) -> dict[str, Any]:
        return {"choices": list(self.values)}


class Fixed(Variable):
    """A constant passed to the trainer; it takes no dimension of the encoded space."""

    type_name = "fixed"
    kind = "real"

    def __init__(self, name: str, value: Any) -> None:
        self.name = name
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            raise InvalidSearchSpaceError(
                f"variable {name!r}: fixed value: got {short_repr(value)}, expected a str, "
                "int, float, bool or null"
            )
        self.value = value
        super().__init__(name)

    def validate(self, value: Any) -> Any:
        if value != self.value:
            raise self._bad(value, f"the fixed value {short_repr(self.value)}")
        return self.value

    @property
    def default(self) -> Any:
        return self.value

    @property
    def internal_bounds(self) -> tuple[float, float]:
        return 0.0, 0.0

    def to_internal(self, value: Any) -> float:
        return 0.0

    def from_internal(self, z: float) -> Any:
        return self.value

    def to_unit(self, value: Any) -> float:
        self.validate(value)
        return 0.0

    def from_unit(self, u: float) -> Any:
        return self.value

    def _fields(self) -> dict[str, Any]:
        return {"value": self.value}
