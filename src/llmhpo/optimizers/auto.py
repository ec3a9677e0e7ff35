"""``auto``: a portfolio that picks an optimizer from the problem, and switches when it stalls.

The rules come from what ``llmhpo bench`` measured (docs/bench.md, "Which optimizer does
``auto`` pick, and why"); they are not guesses:

* **noisy** objective (``noisy=True``): BO-GP with the noise-aware acquisition (qLogNEI) and
  the model's incumbent (``bo`` with ``noisy=True``).
* **every variable real** (floats, linear or log), at most :data:`MAX_DIM_TREE` of them:
  a **COBYLA start, then BO-GP**. BaMSOO alone had the best or a tied-best mean rank on the
  de-biased suite at 30 and 50 evaluations but was significantly behind Nevergrad's NGOpt
  (COBYLA from the centre) at 10. So COBYLA (SciPy's, with Nevergrad's settings: see
  :mod:`llmhpo.optimizers._local`) runs first, :data:`LOCAL_START` evaluations and, while it
  has not converged, up to a fifth of the budget (:data:`LOCAL_MAX_FRACTION`); BO-GP (``bo``,
  its defaults: Optuna's GP model, docs/optimizers/bo.md) then gets the rest of the budget,
  told every point so far, which stand in for its initial design. Before 2026-12-06 COBYLA ran
  until it converged and BaMSOO followed (``after_local="bamsoo"``,
  ``local_max_fraction=1.0``); with BO-GP's new defaults in the bench that was significantly
  behind ``bo`` on the de-biased suite at 50 evaluations, the current rule is not (mean rank
  lowest or tied at 10, 30 and 50 on the fixed, de-biased and ML suites; docs/optimizers/auto.md).
  **Plateaus**: when at most :data:`PLATEAU_SHARE` of COBYLA's first :data:`LOCAL_START` losses
  are distinct values (a quantized metric, such as a cross-validated error on a small
  dataset), TPE takes over instead. With several workers (``n_workers > 1``, or a batch
  asked) COBYLA, which is sequential, is skipped and BO-GP starts with its own design.
* otherwise (integers, powers of two, ordinals, categoricals, or a higher dimension): **TPE**
  (the best mean rank on the ML suite at 30 and 50 evaluations, where spaces mix integers).
  On an all-real space above :data:`MAX_DIM_TREE` dimensions, with one worker, the centre of
  the box is evaluated first (COBYLA's first point), then TPE goes on told that point.
* **fallback**: when the first choice is exhausted (SOO's tree or MADS' mesh used up, its
  budget spent before the study's), ``auto`` goes on with TPE, told every observation so
  far. An optional stall rule (``stall_fraction``) also switches when the best loss has not
  improved over the last ``max(stall_min, stall_fraction * budget)`` evaluations; it is off
  by default because it hurt where it was tried: on branin (seed 0, 40 evaluations) BaMSOO
  went 17 evaluations without improving before reaching 0.431, and switching to TPE after 12
  ended at 0.771.

The choice and the reason are recorded in every suggestion's attributes (``auto_choice``,
``auto_reason``) and in :meth:`get_config`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from llmhpo.optimizers._local import cobyla_next
from llmhpo.optimizers.base import BaseOptimizer, Capabilities, Observation, Suggestion
from llmhpo.space import SearchSpace

__all__ = [
    "AutoOptimizer", "choose", "local_start_size", "LOCAL_START", "LOCAL_MAX_FRACTION",
    "LOCAL_TOL", "MAX_DIM_TREE", "PLATEAU_SHARE",
]

#: the largest dimension the bench measured BaMSOO on (rosenbrock5, ackley5, styblinski_tang5
#: and hartmann6); above it, ``auto`` does not use the tree
MAX_DIM_TREE = 6
#: COBYLA evaluations from the centre before BaMSOO takes over (the bench's first checkpoint)
LOCAL_START = 10
#: COBYLA goes on after :data:`LOCAL_START` while it improves, up to this share of the budget
#: (a fifth: at a budget of 50, exactly :data:`LOCAL_START`)
LOCAL_MAX_FRACTION = 0.2
#: "improves": its best loss fell, over its last ``dim + 1`` evaluations, by more than this
#: share of the range of its losses; ``None`` (the default): no such test, COBYLA runs until
#: it converges (its trust region below 1e-6 of a range), a failure, or the budget
LOCAL_TOL: float | None = None
#: see ``plateau_share`` of :class:`AutoOptimizer` (``None``: the rule is off)
PLATEAU_SHARE: float | None = 0.6
#: the optimizer after the COBYLA start on real variables (and without it, with several
#: workers): ``"bamsoo"`` or ``"bo"`` (BO-GP)
AFTER_LOCAL = "bo"
AFTER_LOCAL_CHOICES = ("bamsoo", "bo")
_LABEL = {"bamsoo": "BaMSOO", "bo": "BO-GP"}
_LOCAL = "cobyla"


def choose(
    space: SearchSpace, *, budget: int | None = None, n_workers: int = 1, noisy: bool = False
) -> tuple[str, dict[str, Any], str]:
    """The first optimizer of ``auto``: ``(name, parameters, reason)``."""
    kinds = set(space.kinds)
    gp = gp_installed()
    if noisy and gp:
        return "bo", {"noisy": True}, "noisy objective: noise-aware BO-GP (qLogNEI)"
    if not gp and (noisy or kinds <= {"real"} and space.dim <= MAX_DIM_TREE):
        # BO and BaMSOO need the 'bo' extra; a core install still gets a working default
        return "tpe", {}, (f"{'noisy objective' if noisy else f'{space.dim} real variable(s)'}"
                           f": TPE (BoTorch is not installed: pip install 'llmhpo[bo]')")
    if kinds <= {"real"} and space.dim <= MAX_DIM_TREE:
        kw: dict[str, Any] = {} if budget is None else {"budget": budget}
        return "bamsoo", kw, f"{space.dim} real variable(s): BaMSOO"
    why = "discrete variables" if kinds - {"real"} else f"{space.dim} variables"
    return "tpe", {}, f"{why}: TPE"


def gp_installed() -> bool:
    """torch, BoTorch and GPyTorch (the ``bo`` extra, which BO-GP and BaMSOO need) are
    installed; checked without importing them."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("torch", "botorch", "gpytorch"))


def local_start_size(choice: str, dim: int, budget: int | None = None, n_workers: int = 1) -> int:
    """How many COBYLA evaluations ``auto`` runs before ``choice`` (0: none).

    Only before BaMSOO (real variables) and with one worker (COBYLA is sequential):
    :data:`LOCAL_START`, at most a third of the budget, and none unless COBYLA gets past its
    first simplex (``dim + 1`` points) by at least one step.
    """
    if choice != "bamsoo" or n_workers > 1:
        return 0
    k = LOCAL_START if budget is None else min(LOCAL_START, budget // 3)
    return k if k >= dim + 2 else 0


class AutoOptimizer(BaseOptimizer):
    """Pick an optimizer from the space, budget, workers and noise; fall back to TPE on a stall.

    Args:
        space: the search space.
        budget: the study's number of trials (sizes BaMSOO's budget and the stall window).
        n_workers: parallel workers (``ask(n)`` batches are supported by every choice).
        noisy: the objective is noisy (repeated evaluations of one point differ).
        stall_fraction: the stall window as a share of the budget; ``None`` (default): no
            stall rule, switch only when the first choice is exhausted.
        stall_min: the smallest stall window, in evaluations (default 10).
        local_start: COBYLA evaluations from the centre before BO-GP or BaMSOO (real
            variables only); ``None`` (default): :func:`local_start_size`; ``0``: none.
        local_max_fraction: COBYLA goes on after ``local_start`` while it improves, for at
            most this share of the budget (default :data:`LOCAL_MAX_FRACTION`, a fifth;
            ``1.0``: until it converges, the default before 2026-12-06).
        local_tol: "improves": its best loss fell, over its last ``dim + 1`` evaluations, by
            more than this share of the range of its losses (``0``: any decrease; ``None``,
            the default :data:`LOCAL_TOL`: no such test, COBYLA runs until it converges).
        plateau_share: when, after the COBYLA start's first ``local_start`` evaluations, at
            most this share of its losses are distinct values (a quantized metric such as an
            error rate on a small validation set: plateaus that stall COBYLA and BaMSOO),
            hand over to TPE instead; ``None``: never (default :data:`PLATEAU_SHARE`).
        after_local: the optimizer on real variables after the COBYLA start (or instead of
            it, with several workers): ``"bo"`` (default, :data:`AFTER_LOCAL`) or
            ``"bamsoo"`` (the default before 2026-12-06).
        seed: seed of the chosen optimizers.
    """

    name: ClassVar[str] = "auto"
    capabilities: ClassVar[Capabilities] = Capabilities(
        batch=True, warm_start=True, deterministic=True, may_exhaust=False,
        budget_param="budget",
    )
    # configurations stored before 2026-12-06 lack after_local: BaMSOO followed the start
    legacy_defaults: ClassVar[dict[str, Any]] = {"after_local": "bamsoo"}

    def __init__(
        self,
        space: SearchSpace,
        *,
        budget: int | None = None,
        n_workers: int = 1,
        noisy: bool = False,
        stall_fraction: float | None = None,
        stall_min: int = 10,
        local_start: int | None = None,
        local_max_fraction: float = LOCAL_MAX_FRACTION,
        local_tol: float | None = LOCAL_TOL,
        plateau_share: float | None = PLATEAU_SHARE,
        after_local: str = AFTER_LOCAL,
        seed: int | None = None,
    ) -> None:
        super().__init__(space, seed=seed)
        if budget is not None and (not isinstance(budget, (int, np.integer)) or budget < 1):
            raise ValueError(f"budget must be a positive integer or None, got {budget!r}")
        if not isinstance(n_workers, (int, np.integer)) or n_workers < 1:
            raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")
        if not isinstance(noisy, bool):
            raise ValueError(f"noisy must be true or false, got {noisy!r}")
        if stall_fraction is not None and not 0 < float(stall_fraction) <= 1:
            raise ValueError(f"stall_fraction must be in (0, 1], got {stall_fraction!r}")
        if not isinstance(stall_min, (int, np.integer)) or stall_min < 1:
            raise ValueError(f"stall_min must be a positive integer, got {stall_min!r}")
        self.budget = None if budget is None else int(budget)
        self.n_workers = int(n_workers)
        self.noisy = noisy
        self.stall_fraction = None if stall_fraction is None else float(stall_fraction)
        self.stall_min = int(stall_min)
        if local_start is not None and (
                not isinstance(local_start, (int, np.integer)) or local_start < 0):
            raise ValueError(f"local_start must be a non-negative integer or None, got "
                             f"{local_start!r}")
        self.local_start = None if local_start is None else int(local_start)
        if not isinstance(local_max_fraction, (int, float)) or not 0 < local_max_fraction <= 1:
            raise ValueError(f"local_max_fraction must be in (0, 1], got {local_max_fraction!r}")
        if local_tol is not None and (
                not isinstance(local_tol, (int, float)) or not 0 <= local_tol < 1):
            raise ValueError(f"local_tol must be in [0, 1), got {local_tol!r}")
        if plateau_share is not None and (
                not isinstance(plateau_share, (int, float)) or not 0 < plateau_share < 1):
            raise ValueError(f"plateau_share must be in (0, 1) or None, got {plateau_share!r}")
        self.local_max_fraction = float(local_max_fraction)
        self.local_tol = None if local_tol is None else float(local_tol)
        self.plateau_share = None if plateau_share is None else float(plateau_share)
        if after_local not in AFTER_LOCAL_CHOICES:
            raise ValueError(f"after_local must be one of {list(AFTER_LOCAL_CHOICES)}, got "
                             f"{after_local!r}")
        self.after_local = after_local
        self.choice, kwargs, self.reason = choose(
            space, budget=self.budget, n_workers=self.n_workers, noisy=noisy
        )
        k_choice = self.choice  # the COBYLA start is sized for the real-variable rule
        if self.choice == "bamsoo" and after_local == "bo":
            self.choice, kwargs = "bo", {}
            self.reason = self.reason.replace(": BaMSOO", ": BO-GP")
        k = (local_start_size(k_choice, space.dim, self.budget, self.n_workers)
             if local_start is None else int(local_start) if k_choice == "bamsoo" else 0)
        # most COBYLA evaluations while it keeps improving
        k_max = max(k, int(self.local_max_fraction * (self.budget or 5 * LOCAL_START)))
        centre = (local_start is None and self.choice == "tpe" and not noisy
                  and self.n_workers == 1 and set(space.kinds) <= {"real"})
        if centre:  # TPE on a large real space: COBYLA's first point (the centre) only
            k = k_max = 1
        self._n_local = k  # COBYLA evaluations before the first choice (0: none)
        self._n_local_max = k_max
        self._local: list[float] = []  # losses of COBYLA's points, in order
        self._local_asked = 0  # COBYLA's points told (failed ones included)
        self._local_failed = False
        self._foreign_points: list[tuple[Mapping[str, Any], Mapping[str, Any]]] = []
        self._first = (self.choice, kwargs)
        self._inner: Any = None
        if k:
            self.reason = (self.reason.replace(": TPE", ": the centre, then TPE") if centre
                           else self.reason.replace(
                               f": {_LABEL[self.choice]}",
                               f": COBYLA from the centre ({k}+ evaluations), then "
                               f"{_LABEL[self.choice]}"))
            self.choice = _LOCAL
        else:
            self._inner = _build(self.choice, space, seed, kwargs)
        self._switched = False

    @property
    def inner(self) -> BaseOptimizer | None:
        """The optimizer ``auto`` currently delegates to (``None`` during the COBYLA start)."""
        return self._inner

    def set_foreign_pending(
        self, points: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]
    ) -> None:
        """Other drivers' running points reach the optimizer that proposes (several drivers)."""
        super().set_foreign_pending(points)
        self._foreign_points = list(points)
        if self._inner is not None:
            self._inner.set_foreign_pending(points)

    # ----- the COBYLA start -------------------------------------------------------------------
    def _ask_local(self, n: int) -> list[tuple[np.ndarray, dict[str, Any]]] | None:
        """COBYLA's next point (``[]`` while its last one is pending), or ``None`` once the
        start is over (its evaluations spent, a failure, COBYLA converged, or a batch of
        several points asked: COBYLA is sequential)."""
        if n > 1:
            return None
        if self._pending:
            return []
        if self._plateaus():
            return None  # _hand_over starts TPE
        if not self._local_failed and (
                self._local_asked < self._n_local
                or self._local_asked < self._n_local_max and self._local_improving()):
            x = cobyla_next(self.space.dim, self._local)
            if x is not None:
                return [(x, {"auto_choice": _LOCAL, "auto_reason": self.reason,
                             "local_step": self._local_asked})]
        return None

    def _local_improving(self) -> bool:
        """COBYLA's best loss fell, over its last ``dim + 1`` evaluations, by more than
        :data:`LOCAL_TOL` of the range of its losses (``False`` with too few points to say)."""
        if self.local_tol is None:
            return True
        m = self.space.dim + 1
        v = self._local
        if len(v) <= m:
            return False
        return min(v) < min(v[:-m]) - self.local_tol * (max(v) - min(v))

    def _plateaus(self, final: bool = False) -> bool:
        """The start's first ``local_start`` losses hold at most ``plateau_share`` distinct
        values: checked once they are all in or, ``final``, when the start ends early (COBYLA
        converges at once on a flat metric) with at least ``dim + 2`` of them; ``False`` when
        the rule is off."""
        if self.plateau_share is None or not self._n_local:
            return False
        first = self._local[: self._n_local]
        if len(first) < (min(self._n_local, self.space.dim + 2) if final else self._n_local):
            return False
        return len(set(first)) <= self.plateau_share * len(first)

    def _hand_over(self, told: Sequence[Observation]) -> None:
        """Start the first choice, told every observation so far (COBYLA's included)."""
        if self._plateaus(final=True) and self._first[0] != "tpe":
            self._first = ("tpe", {})
            self.reason += "; plateaus (few distinct losses): TPE"
        name, kwargs = self._first
        if self.budget is not None and "budget" in kwargs:  # COBYLA's points (pending too)
            spent = self._local_asked + sum(
                1 for s in self._pending.values() if s.attrs.get("auto_choice") == _LOCAL)
            kwargs = {**kwargs, "budget": max(1, self.budget - spent)}
        self._inner = _build(name, self.space, self.seed, kwargs)
        self._inner.set_foreign_pending(self._foreign_points)
        for o in told:
            self._inner.tell_not_asked(o.params, o.value)
        self.choice = name

    def _stall_window(self) -> int:
        fraction = self.stall_fraction or 1.0
        return max(self.stall_min, math.ceil(fraction * (self.budget or 50)))

    def _stalled(self) -> bool:
        if self.stall_fraction is None:
            return False
        values = [o.value for o in self.observations]
        window = self._stall_window()
        if len(values) <= window or self._pending:
            return False
        ok_before = [v for v in values[:-window] if v is not None]
        ok_recent = [v for v in values[-window:] if v is not None]
        return bool(ok_before) and (not ok_recent or min(ok_recent) >= min(ok_before))

    def _switch(self) -> None:
        old = self._inner
        self._inner = _build("tpe", self.space, self.seed, {})
        for o in self.observations:
            self._inner.tell_not_asked(o.params, o.value)
        why = ("exhausted" if not self._stalled()
               else f"no improvement in {self._stall_window()} evaluations")
        self.reason += f"; {why}: TPE"
        self.choice = "tpe"
        self._switched = True
        close = getattr(old, "close", None)
        if close is not None:
            close()

    def _ask(self, n: int) -> list[tuple[np.ndarray, dict[str, Any]]]:
        if self._inner is None:
            local = self._ask_local(n)
            if local is not None:
                return local
            self._hand_over(self.observations)
        if not self._switched and self.choice != "tpe" and self._stalled():
            self._switch()
        out = self._inner.ask(n)
        if not out and not self._inner.pending and not self._switched:
            self._switch()  # the first choice is exhausted (its tree or budget is used up)
            out = self._inner.ask(n)
        return [
            (s.x, {**s.attrs, "auto_choice": self.choice, "auto_reason": self.reason,
                   "inner_id": s.id})
            for s in out
        ]

    def _tell(self, obs: Observation, suggestion: Suggestion | None) -> None:
        if self._inner is None:
            if obs.attrs.get("auto_choice") == _LOCAL:  # COBYLA's point (also when replayed)
                self._local_asked += 1
                if obs.value is None:
                    self._local_failed = True  # a failure ends the start
                elif not self._local_failed:
                    self._local.append(obs.value)
                return
            if "auto_choice" not in obs.attrs:
                return  # a warm-start point: told to the first choice when it starts
            self._hand_over(self.observations[:-1])  # a replayed point of the first choice
        inner_id = None if suggestion is None else suggestion.attrs.get("inner_id")
        if inner_id is not None and int(inner_id) in {s.id for s in self._inner.pending}:
            self._inner.tell(int(inner_id), obs.value)
        else:
            attrs = {k: v for k, v in obs.attrs.items()
                     if k not in ("auto_choice", "auto_reason", "inner_id")}
            self._inner.tell_not_asked(obs.params, obs.value, attrs if not self._switched
                                       and obs.attrs.get("auto_choice") == self.choice
                                       else None)

    def _cancel(self, suggestion_id: int) -> None:
        if self._inner is None:
            return  # COBYLA's point is asked again
        live = {int(s.attrs["inner_id"]) for s in self._pending.values() if "inner_id" in s.attrs}
        for s in self._inner.pending:
            if s.id not in live:
                self._inner.cancel(s)

    def recommend(self) -> dict[str, Any] | None:
        return super().recommend() if self._inner is None else self._inner.recommend()

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()

    def _config(self) -> dict[str, Any]:
        return {"budget": self.budget, "n_workers": self.n_workers, "noisy": self.noisy,
                "stall_fraction": self.stall_fraction, "stall_min": self.stall_min,
                "local_start": self.local_start, "local_max_fraction": self.local_max_fraction,
                "local_tol": self.local_tol, "plateau_share": self.plateau_share,
                "after_local": self.after_local}


def _build(name: str, space: SearchSpace, seed: int | None, kwargs: dict[str, Any]) -> Any:
    from llmhpo.optimizers import make_optimizer

    return make_optimizer(name, space, seed=seed, **kwargs)
