"""The ask/tell optimizer base class.

Optimizers are pure state machines over a :class:`~llmhpo.space.SearchSpace`: they never run
objectives, touch storage or import training code. They always **minimize**; the study turns a
maximization into minimization before telling.

The public methods (:meth:`BaseOptimizer.ask`, :meth:`~BaseOptimizer.tell`,
:meth:`~BaseOptimizer.tell_not_asked`) validate input and keep the books (pending suggestions,
observations); subclasses implement only :meth:`~BaseOptimizer._ask` and, if they learn
incrementally, :meth:`~BaseOptimizer._tell` (the template-method pattern of Nevergrad).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from llmhpo.exceptions import (
    TellNotAskedNotSupportedError,
    UnknownSuggestionError,
)
from llmhpo.space import SearchSpace
from llmhpo.validation import check_int

__all__ = ["BaseOptimizer", "Capabilities", "Suggestion", "Observation"]


@dataclass(frozen=True)
class Capabilities:
    """What an optimizer can do; the study and the conformance suite read these flags.

    Attributes:
        batch: ``ask(n)`` may return several points before any of them is told.
        warm_start: :meth:`BaseOptimizer.tell_not_asked` is supported (warm start, resume).
        deterministic: the same seed and history give the same suggestions.
        may_exhaust: ``ask`` may return no point at all with nothing pending (the optimizer
            has converged or its design is used up).
        budget_param: the constructor argument that takes the study's total budget when the
            user does not set it (``"budget"`` for SOO, BaMSOO, MADS; ``"n_points"`` for
            LHS), or ``None``: :func:`~llmhpo.optimizers.make_optimizer` fills it in.
        budget_fixed: the budget argument is fixed when the study is created; a resumed study
            keeps the stored value (LHS continues the same design under a larger budget)
            instead of taking the new budget.
    """

    batch: bool = True
    warm_start: bool = True
    deterministic: bool = True
    may_exhaust: bool = False
    budget_param: str | None = None
    budget_fixed: bool = False


@dataclass(frozen=True)
class Suggestion:
    """A point handed out by :meth:`BaseOptimizer.ask`.

    Attributes:
        id: unique per optimizer instance; pass it (or the suggestion) back to ``tell``.
        x: the point in [0, 1]^dim, shape ``(dim,)`` (already snapped to the decoded value).
        params: the decoded hyperparameters.
        attrs: optimizer attributes to record with the trial (phase, depth, acquisition...).
    """

    id: int
    x: np.ndarray
    params: dict[str, Any]
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Observation:
    """A told result. ``value`` is the loss to minimize, ``None`` when the trial failed;
    ``error`` is the failure's text when the study knows it (the LLM optimizer shows it to the
    model)."""

    x: np.ndarray
    params: dict[str, Any]
    value: float | None
    suggestion_id: int | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.value is None


class BaseOptimizer(abc.ABC):
    """Base class of every llmhpo optimizer (ask/tell, minimization).

    Args:
        space: the search space.
        seed: seed of every random choice; with the same seed and history an optimizer whose
            ``capabilities.deterministic`` is true gives the same suggestions.
    """

    name: ClassVar[str] = "base"
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: Values of parameters added after studies were stored without them whose default then
    #: differs from today's: a resumed study whose stored configuration lacks one of them
    #: runs with the value it ran with, not today's default (see ``create_study``).
    legacy_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, space: SearchSpace, *, seed: int | None = None) -> None:
        if not isinstance(space, SearchSpace):
            raise TypeError(f"space must be a SearchSpace, got {type(space).__name__}")
        check_int("seed", seed, low=0, high=2**32 - 1, none_ok=True)
        self.space = space
        self.seed = seed
        self.observations: list[Observation] = []
        self._pending: dict[int, Suggestion] = {}
        self._foreign: list[Suggestion] = []  # other drivers' running points (not ours to tell)
        self._next_id = 0

    # ----- public API --------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[Suggestion]:
        """Return at most ``n`` new suggestions.

        Fewer than ``n`` (possibly none) means the optimizer must first be told some pending
        results, or (when nothing is pending) that it has nothing more to propose.
        """
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if not self.capabilities.batch:
            if self._pending:
                return []
            n = 1
        out: list[Suggestion] = []
        for x, attrs in self._ask(int(n)):
            x = np.asarray(x, dtype=float).reshape(-1)
            if x.shape != (self.space.dim,):
                raise RuntimeError(
                    f"{type(self).__name__}._ask returned a point of shape {x.shape}, "
                    f"expected ({self.space.dim},)"
                )
            params = self.space.decode(np.clip(x, 0.0, 1.0))
            x = self.space.encode(params)
            x.setflags(write=False)
            s = Suggestion(self._next_id, x, params, dict(attrs))
            self._next_id += 1
            self._pending[s.id] = s
            out.append(s)
        return out[:n]

    def tell(
        self, suggestion: Suggestion | int, value: float | None, *, error: str | None = None
    ) -> None:
        """Report the loss of a pending suggestion; ``None``, NaN or inf mark a failure
        (``error``: its text, when known)."""
        sid = suggestion.id if isinstance(suggestion, Suggestion) else int(suggestion)
        if sid not in self._pending:
            raise UnknownSuggestionError(
                f"suggestion id {sid} is not pending (already told, or never asked); "
                f"pending ids: {sorted(self._pending)}"
            )
        s = self._pending.pop(sid)
        obs = Observation(s.x, s.params, _clean(value), s.id, s.attrs, _error(value, error))
        self.observations.append(obs)
        self._tell(obs, s)

    def tell_not_asked(
        self,
        params: Mapping[str, Any],
        value: float | None,
        attrs: Mapping[str, Any] | None = None,
        *,
        error: str | None = None,
    ) -> None:
        """Learn from a point this optimizer did not suggest (warm start, replay on resume).

        ``attrs`` are the attributes the point was suggested with, when it is replayed from this
        optimizer's own history (the study passes them on resume); warm-start points have none.
        """
        if not self.capabilities.warm_start:
            raise TellNotAskedNotSupportedError(
                f"{type(self).__name__} cannot learn from points it did not suggest"
            )
        p = self.space.validate(params)
        x = self.space.encode(p)
        x.setflags(write=False)
        obs = Observation(x, p, _clean(value), None, dict(attrs or {}), _error(value, error))
        self.observations.append(obs)
        self._tell(obs, None)

    def cancel(self, suggestion: Suggestion | int) -> None:
        """Forget a pending suggestion without a result (e.g. the run was interrupted)."""
        sid = suggestion.id if isinstance(suggestion, Suggestion) else int(suggestion)
        if self._pending.pop(sid, None) is None:
            raise UnknownSuggestionError(f"suggestion id {sid} is not pending")
        self._cancel(sid)

    @property
    def pending(self) -> list[Suggestion]:
        """Suggestions asked but not yet told, oldest first."""
        return list(self._pending.values())

    def set_foreign_pending(
        self, points: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]
    ) -> None:
        """Declare the points other drivers of the same study are evaluating right now.

        ``points`` are ``(params, attrs)`` pairs; they replace the previous declaration. An
        optimizer treats them like its own pending suggestions when it proposes new points
        (stream indices, design indices, ``X_pending``, duplicate checks), but they are never
        told: once another driver finishes one, the study tells its result with
        :meth:`tell_not_asked`.
        """
        foreign = []
        for params, attrs in points:
            p = self.space.validate(params)
            x = self.space.encode(p)
            x.setflags(write=False)
            foreign.append(Suggestion(-1, x, p, dict(attrs)))
        self._foreign = foreign

    @property
    def in_flight(self) -> list[Suggestion]:
        """Own pending suggestions, then other drivers' running points."""
        return [*self._pending.values(), *self._foreign]

    def recommend(self) -> dict[str, Any] | None:
        """The best observed parameters (lowest loss), or ``None`` without a success."""
        best = self.best_observation()
        return None if best is None else dict(best.params)

    def best_observation(self) -> Observation | None:
        ok = [o for o in self.observations if o.value is not None]
        return min(ok, key=lambda o: o.value) if ok else None  # type: ignore[arg-type,return-value]

    def get_config(self) -> dict[str, Any]:
        """JSON-able keyword arguments that rebuild this optimizer (with the space)."""
        return {"name": self.name, "seed": self.seed, **self._config()}

    # ----- helpers for subclasses --------------------------------------------------------------
    def _known_x(self) -> np.ndarray:
        """Told, pending and other drivers' running points, shape ``(n, dim)``."""
        xs = [o.x for o in self.observations] + [s.x for s in self.in_flight]
        return np.array(xs, dtype=float).reshape(-1, self.space.dim)

    def _next_draw(self) -> int:
        """Index of the next random draw: one past the highest draw told, pending or running
        elsewhere (recorded as the ``draw`` attribute), else the number of known points.

        Counting up from the highest draw rather than counting points keeps draws unique when
        a trial in the middle of the history was interrupted (several drivers), and still
        re-draws the last one when it is the interrupted one (a resumed single driver).
        """
        known = [o.attrs for o in self.observations] + [s.attrs for s in self.in_flight]
        draws = [int(a["draw"]) for a in known if "draw" in a]
        if draws:
            return max(draws) + 1
        return len(self.observations) + len(self.in_flight)

    def _rng(self, *stream: int) -> np.random.Generator:
        """A generator determined by the seed and ``stream`` (e.g. the number of points asked)."""
        key = [0 if self.seed is None else int(self.seed) + 1, *map(int, stream)]
        if self.seed is None:
            return np.random.default_rng()
        return np.random.default_rng(key)

    # ----- to implement -----------------------------------------------------------------------
    @abc.abstractmethod
    def _ask(self, n: int) -> Sequence[tuple[np.ndarray, dict[str, Any]]]:
        """Propose at most ``n`` points of [0, 1]^dim, each with its attributes."""

    def _tell(self, obs: Observation, suggestion: Suggestion | None) -> None:  # noqa: B027
        """Update incremental state after ``obs`` was appended to ``self.observations``."""

    def _cancel(self, suggestion_id: int) -> None:  # noqa: B027
        """Forget state tied to a cancelled pending suggestion."""

    def _config(self) -> dict[str, Any]:
        return {}


def _clean(value: float | None) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"a told value must be a number or None, got {value!r}") from None
    return v if math.isfinite(v) else None


def _error(value: float | None, error: str | None) -> str | None:
    """The error text kept with a failed observation (``None`` for a success)."""
    if _clean(value) is not None:
        return None
    return None if error is None else str(error)
