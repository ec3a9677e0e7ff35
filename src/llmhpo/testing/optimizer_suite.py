"""The conformance suite every llmhpo optimizer must pass.

Subclass :class:`OptimizerSuite` in a test module and provide the ``factory`` fixture::

    class TestRandom(OptimizerSuite):
        @pytest.fixture
        def factory(self):
            return lambda space, seed: RandomOptimizer(space, seed=seed)

The suite checks, on a space with every variable kind: suggestions decode to legal values,
determinism given seed and history, failures as data, bookkeeping of pending suggestions,
batches, warm start, and that replaying a history (what a resumed study does) continues the
run exactly where it stopped.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from llmhpo.exceptions import TellNotAskedNotSupportedError, UnknownSuggestionError
from llmhpo.optimizers import BaseOptimizer, make_optimizer
from llmhpo.space import (
    Categorical,
    Fixed,
    Float,
    Int,
    Ordinal,
    PowerOfTwo,
    SearchSpace,
)

__all__ = ["OptimizerSuite", "mixed_space", "continuous_space", "toy_loss"]

Factory = Callable[[SearchSpace, int], BaseOptimizer]


def mixed_space() -> SearchSpace:
    """A space with every variable kind."""
    return SearchSpace(
        [
            Float("lr", 1e-6, 1e-2, log=True, default=1e-4),
            Float("dropout", 0.0, 0.5, default=0.1),
            Int("alpha", 1, 64, default=16),
            Int("depth", 1, 50, log=True, default=10),
            PowerOfTwo("rank", 4, 512, default=8),
            Ordinal("code", [0.0, 1e-3, 0.1], default=0.1),
            Categorical("opt", ["adamw", "sgd", "lion"], default="adamw"),
            Fixed("epochs", 1),
        ]
    )


def continuous_space() -> SearchSpace:
    return SearchSpace([Float("x1", -5.0, 5.0), Float("x2", -5.0, 5.0)])


def toy_loss(opt: BaseOptimizer, x: np.ndarray) -> float:
    """A deterministic smooth loss of the encoded point (minimum near 0.3)."""
    return float(np.sum((np.asarray(x) - 0.3) ** 2))


def _run(opt: BaseOptimizer, n: int, batch: int = 1) -> list[dict]:
    """Ask/tell ``n`` points (in batches); returns the params in the order asked."""
    out: list[dict] = []
    while len(out) < n:
        sugg = opt.ask(min(batch, n - len(out)))
        if not sugg:
            if not opt.pending:
                break  # exhausted
            s = opt.pending[0]
            opt.tell(s, toy_loss(opt, s.x))
            continue
        for s in sugg:
            out.append(dict(s.params))
        for s in sugg:
            opt.tell(s, toy_loss(opt, s.x))
    return out


class OptimizerSuite:
    """Conformance tests; subclasses provide ``factory(space, seed) -> optimizer``."""

    #: number of ask/tell steps the suite runs (keep small for slow optimizers)
    n_steps: int = 12

    @pytest.fixture
    def factory(self) -> Factory:  # pragma: no cover - must be overridden
        raise NotImplementedError("subclasses must provide a `factory` fixture")

    # ----- legal values ------------------------------------------------------------------------
    def test_suggestions_are_legal(self, factory: Factory) -> None:
        space = mixed_space()
        opt = factory(space, 0)
        params = _run(opt, self.n_steps)
        assert len(params) >= 1
        for p in params:
            assert space.contains(p), p
            assert p["epochs"] == 1
        for o in opt.observations:
            assert o.x.shape == (space.dim,)
            assert np.all((o.x >= 0) & (o.x <= 1))

    # ----- determinism ---------------------------------------------------------------------------
    def test_same_seed_same_history_same_suggestions(self, factory: Factory) -> None:
        a = factory(mixed_space(), 3)
        if not a.capabilities.deterministic:
            pytest.skip("optimizer declares itself non-deterministic")
        b = factory(mixed_space(), 3)
        assert _run(a, self.n_steps) == _run(b, self.n_steps)

    # ----- failures ------------------------------------------------------------------------------
    def test_failures_are_accepted(self, factory: Factory) -> None:
        space = continuous_space()
        opt = factory(space, 0)
        told = 0
        for i in range(self.n_steps):
            sugg = opt.ask(1)
            if not sugg:
                break
            bad = [None, math.nan, math.inf][i % 3] if i % 2 == 0 else toy_loss(opt, sugg[0].x)
            opt.tell(sugg[0], bad)
            told += 1
        assert told >= min(3, self.n_steps)
        assert len(opt.observations) == told
        assert any(o.failed for o in opt.observations)
        assert all(o.value is None or math.isfinite(o.value) for o in opt.observations)
        best = opt.best_observation()
        if best is not None:
            assert not best.failed

    def test_all_failures_then_still_asks(self, factory: Factory) -> None:
        opt = factory(continuous_space(), 0)
        for _ in range(4):
            sugg = opt.ask(1)
            if not sugg:
                break
            opt.tell(sugg[0], None)
        assert opt.recommend() is None
        more = opt.ask(1)
        assert more == [] and opt.capabilities.may_exhaust or len(more) == 1

    # ----- bookkeeping ---------------------------------------------------------------------------
    def test_double_and_unknown_tells_raise(self, factory: Factory) -> None:
        opt = factory(continuous_space(), 0)
        s = opt.ask(1)[0]
        opt.tell(s, 1.0)
        with pytest.raises(UnknownSuggestionError):
            opt.tell(s, 1.0)
        with pytest.raises(UnknownSuggestionError):
            opt.tell(10_000, 1.0)
        with pytest.raises(ValueError):
            opt.ask(0)

    def test_pending_is_tracked(self, factory: Factory) -> None:
        opt = factory(continuous_space(), 0)
        s = opt.ask(1)[0]
        assert [p.id for p in opt.pending] == [s.id]
        opt.tell(s.id, 2.0)
        assert opt.pending == []
        assert opt.observations[-1].value == 2.0

    # ----- batches -------------------------------------------------------------------------------
    def test_batch(self, factory: Factory) -> None:
        opt = factory(continuous_space(), 0)
        sugg = opt.ask(4)
        if not opt.capabilities.batch:
            assert len(sugg) == 1
            assert opt.ask(4) == []  # waits for the pending point
            return
        assert 1 <= len(sugg) <= 4
        assert len({s.id for s in sugg}) == len(sugg)
        keys = {tuple(np.round(s.x, 9)) for s in sugg}
        assert len(keys) == len(sugg), "a batch must not repeat a point"
        params = _run(opt, self.n_steps, batch=3)
        assert len(params) >= 1

    # ----- warm start and replay -----------------------------------------------------------------
    def test_warm_start(self, factory: Factory) -> None:
        space = continuous_space()
        opt = factory(space, 0)
        if not opt.capabilities.warm_start:
            with pytest.raises(TellNotAskedNotSupportedError):
                opt.tell_not_asked({"x1": 0.0, "x2": 0.0}, 1.0)
            return
        pts = [{"x1": 0.5, "x2": -1.0}, {"x1": -3.0, "x2": 2.0}, {"x1": 1.0, "x2": 1.0}]
        for i, p in enumerate(pts):
            opt.tell_not_asked(p, float(i))
        opt.tell_not_asked({"x1": 4.0, "x2": 4.0}, None)
        assert len(opt.observations) == 4
        assert opt.recommend() == pts[0]
        sugg = opt.ask(1)
        assert len(sugg) == 1 and space.contains(sugg[0].params)

    def test_replay_continues_the_run(self, factory: Factory) -> None:
        """A resumed study replays its history with tell_not_asked: the run must go on as if
        it had never stopped."""
        space = mixed_space()
        a = factory(space, 7)
        if not (a.capabilities.warm_start and a.capabilities.deterministic):
            pytest.skip("needs warm start and determinism")
        _run(a, self.n_steps // 2)
        b = factory(space, 7)
        for o in a.observations:
            b.tell_not_asked(o.params, o.value, o.attrs)
        nxt_a = a.ask(1)
        nxt_b = b.ask(1)
        assert [s.params for s in nxt_a] == [s.params for s in nxt_b]

    # ----- configuration -------------------------------------------------------------------------
    def test_config_rebuilds(self, factory: Factory) -> None:
        space = continuous_space()
        opt = factory(space, 5)
        cfg = dict(opt.get_config())
        name, seed = cfg.pop("name"), cfg.pop("seed")
        assert seed == 5
        clone = make_optimizer(name, space, seed=seed, **cfg)
        assert type(clone) is type(opt)
        assert clone.get_config() == opt.get_config()
