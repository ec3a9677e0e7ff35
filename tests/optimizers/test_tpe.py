"""TPE through Optuna: conformance, batches, warm start and a Branin comparison with random."""

from __future__ import annotations

import numpy as np
import pytest

from llmhpo.objectives import get_function
from llmhpo.optimizers import RandomOptimizer
from llmhpo.optimizers.tpe import TPEOptimizer
from llmhpo.space import Float, SearchSpace
from llmhpo.testing.optimizer_suite import OptimizerSuite


class TestTPE(OptimizerSuite):
    @pytest.fixture
    def factory(self):
        # few startup trials so that the suite's 12 steps exercise the TPE model
        return lambda space, seed: TPEOptimizer(space, seed=seed, n_startup_trials=3)


class TestTPEIndependent(OptimizerSuite):
    @pytest.fixture
    def factory(self):
        return lambda space, seed: TPEOptimizer(
            space, seed=seed, n_startup_trials=3, multivariate=False
        )


def _best(opt, fn, n: int) -> float:
    values = []
    for _ in range(n):
        s = opt.ask(1)[0]
        values.append(fn(s.params))
        opt.tell(s, values[-1])
    return min(values)


def test_tpe_beats_random_on_branin():
    fn = get_function("branin")
    tpe = [_best(TPEOptimizer(fn.space(), seed=s), fn, 50) for s in range(5)]
    rand = [_best(RandomOptimizer(fn.space(), seed=s), fn, 50) for s in range(5)]
    assert np.median(tpe) < np.median(rand)
    assert np.median(tpe) < 0.397887 + 0.4 < np.median(rand)


def test_failures_do_not_count_as_startup_trials():
    space = SearchSpace([Float("a", 0, 1), Float("b", 0, 1)])
    opt = TPEOptimizer(space, seed=0, n_startup_trials=4)
    for i in range(6):
        opt.tell_not_asked({"a": i / 10, "b": 0.5}, None)
    assert opt.ask(1)[0].attrs["phase"] == "startup"
    for i in range(4):
        opt.tell_not_asked({"a": 0.9, "b": i / 10}, float(i))
    assert opt.ask(1)[0].attrs["phase"] == "tpe"


def test_warm_start_steers_the_model():
    """After a warm start the model proposes points near the good region it was shown."""
    space = SearchSpace([Float("a", 0, 1), Float("b", 0, 1)])
    rng = np.random.default_rng(0)
    opt = TPEOptimizer(space, seed=0, n_startup_trials=5)
    for a, b in rng.random((40, 2)):
        opt.tell_not_asked({"a": a, "b": b}, (a - 0.2) ** 2 + (b - 0.8) ** 2)
    pts = np.array([s.x for s in opt.ask(8)])
    assert len(pts) == 8 and len({tuple(p) for p in pts}) == 8  # a batch of distinct points
    dist = np.hypot(pts[:, 0] - 0.2, pts[:, 1] - 0.8)
    # uniform points lie on average ~0.5 from (0.2, 0.8)
    assert np.median(dist) < 0.25, dist


def test_pending_points_are_running_trials_and_failures_fail():
    from optuna.trial import TrialState

    space = SearchSpace([Float("a", 0, 1)])
    opt = TPEOptimizer(space, seed=0)
    a, b, c = opt.ask(3)
    opt.tell(a, 1.0)
    opt.tell(b, None)
    states = [t.state for t in opt._study.get_trials(deepcopy=False)]
    assert states == [TrialState.COMPLETE, TrialState.FAIL, TrialState.RUNNING]
    opt.cancel(c)
    assert opt._study.get_trials(deepcopy=False)[2].state == TrialState.FAIL
    assert opt._study.get_trials(deepcopy=False)[0].value == 1.0


def test_powers_of_two_and_ordinals_are_modelled_in_order():
    """Rank 2^k and an ordinal are integer exponent / index distributions in TPE's study (so
    its Parzen estimators see 16 next to 32); values round-trip both ways, including warm
    start; ``ordered=False`` keeps Optuna's unordered categoricals."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    from llmhpo.space import Ordinal, PowerOfTwo

    space = SearchSpace([PowerOfTwo("rank", 2, 256), Ordinal("drop", [0.0, 0.01, 0.1]),
                         Float("lr", 1e-5, 1e-2, log=True)])
    opt = TPEOptimizer(space, seed=0, n_startup_trials=2)
    assert opt._dists["rank"] == IntDistribution(1, 8)
    assert opt._dists["drop"] == IntDistribution(0, 2)
    opt.tell_not_asked({"rank": 64, "drop": 0.1, "lr": 1e-3}, 0.5)
    stored = opt._study.trials[0].params
    assert stored["rank"] == 6 and stored["drop"] == 2 and stored["lr"] == 1e-3
    seen = set()
    for _ in range(12):
        s = opt.ask(1)[0]
        assert s.params["rank"] in {2 ** e for e in range(1, 9)}
        assert s.params["drop"] in (0.0, 0.01, 0.1)
        internal = opt._study.trials[-1].params
        assert 2 ** internal["rank"] == s.params["rank"]
        assert [0.0, 0.01, 0.1][internal["drop"]] == s.params["drop"]
        seen.add(s.params["rank"])
        opt.tell(s.id, abs(np.log2(s.params["rank"]) - 5))
    assert len(seen) > 1
    plain = TPEOptimizer(space, seed=0, ordered=False)
    assert isinstance(plain._dists["rank"], CategoricalDistribution)
    assert plain.get_config()["ordered"] is False
