"""auto: conformance, the choice rules, the stall fallback to TPE."""

import pytest

from llmhpo.objectives import get_function
from llmhpo.optimizers import make_optimizer
from llmhpo.optimizers.auto import AutoOptimizer, choose
from llmhpo.space import Categorical, Float, Int, SearchSpace
from llmhpo.testing.optimizer_suite import OptimizerSuite


class TestAutoConformance(OptimizerSuite):
    @pytest.fixture
    def factory(self):
        return lambda space, seed: AutoOptimizer(space, seed=seed, budget=30)


def test_choice_follows_kinds_dimension_and_noise():
    real2 = SearchSpace([Float("a", 0, 1), Float("b", 1e-4, 1, log=True)])
    mixed = SearchSpace([Float("a", 0, 1), Int("n", 1, 9), Categorical("c", ["x", "y"])])
    real8 = SearchSpace([Float(f"x{i}", 0, 1) for i in range(8)])
    assert choose(real2, budget=20)[:2] == ("bamsoo", {"budget": 20})
    assert choose(mixed)[0] == "tpe"
    assert choose(real8)[0] == "tpe"
    assert choose(real2, noisy=True)[:2] == ("bo", {"noisy": True})


def test_stall_switches_to_tpe_with_every_observation():
    space = SearchSpace([Float("a", 0, 1), Float("b", 0, 1)])
    opt = make_optimizer("auto", space, seed=0, budget=30, stall_min=5, stall_fraction=0.1)
    assert opt.choice == "bamsoo"
    values = iter([1.0] + [2.0] * 40)  # the first point is never beaten: a stall
    for _ in range(12):
        s = opt.ask(1)[0]
        opt.tell(s, next(values))
    assert opt.choice == "tpe" and "no improvement in 5" in opt.reason
    assert len(opt.inner.observations) == len(opt.observations) - 1 or opt.pending == []
    assert opt.observations[-1].attrs["auto_choice"] == "tpe"


def test_auto_gets_close_to_the_branin_optimum():
    f = get_function("branin")
    opt = make_optimizer("auto", f.space(), seed=0, budget=40)
    best = min(_loop(opt, f, 40))
    assert best < f.optimum + 0.1


def _loop(opt, f, n):
    out = []
    for _ in range(n):
        s = opt.ask(1)[0]
        v = f(s.params)
        opt.tell(s, v)
        out.append(v)
    return out
