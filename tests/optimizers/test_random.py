import numpy as np
import pytest

from llmhpo.optimizers import LHSOptimizer, RandomOptimizer
from llmhpo.space import Float, Int, SearchSpace
from llmhpo.testing.optimizer_suite import OptimizerSuite


class TestRandom(OptimizerSuite):
    @pytest.fixture
    def factory(self):
        return lambda space, seed: RandomOptimizer(space, seed=seed)


class TestLHS(OptimizerSuite):
    @pytest.fixture
    def factory(self):
        return lambda space, seed: LHSOptimizer(space, n_points=8, seed=seed)


def test_lhs_design_is_latin():
    space = SearchSpace([Float("a", 0, 1), Float("b", 0, 1)])
    opt = LHSOptimizer(space, n_points=10, seed=1)
    xs = np.array([s.x for s in opt.ask(10)])
    for d in range(2):
        # exactly one point per tenth of each axis
        assert sorted(np.floor(xs[:, d] * 10).astype(int)) == list(range(10))


def test_random_integers_equally_likely():
    space = SearchSpace([Int("k", 1, 4)])
    opt = RandomOptimizer(space, seed=0)
    counts = {1: 0, 2: 0, 3: 0, 4: 0}
    for _ in range(4000):
        s = opt.ask(1)[0]
        counts[s.params["k"]] += 1
        opt.tell(s, 0.0)
    assert all(abs(c / 4000 - 0.25) < 0.03 for c in counts.values()), counts
