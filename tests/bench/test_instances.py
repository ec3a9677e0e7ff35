"""Per-seed instances: de-biased optimum placement, noise, and the suites that use them."""

from __future__ import annotations

import numpy as np
import pytest

from llmhpo.bench.instances import NoisyCV, NoisySynthetic, SyntheticInstance
from llmhpo.bench.suites import get_task


@pytest.mark.parametrize("base", ["branin", "hartmann6", "rosenbrock5", "ackley"])
def test_instance_keeps_the_optimum_value_and_moves_the_minimizer(base: str) -> None:
    minimizers = []
    for seed in range(4):
        inst = SyntheticInstance(base, seed)
        m = inst.minimizer
        lo = np.array([b[0] for b in inst.function.bounds])
        hi = np.array([b[1] for b in inst.function.bounds])
        assert np.all(m >= lo + 0.1 * (hi - lo) - 1e-12) and np.all(m <= hi - 0.1 * (hi - lo))
        assert inst.evaluate(m) == pytest.approx(inst.optimum, abs=1e-6)
        # no sampled point of the box is below the optimum
        rng = np.random.default_rng(seed)
        xs = lo + rng.random((200, len(lo))) * (hi - lo)
        assert min(inst.evaluate(x) for x in xs) >= inst.optimum - 1e-9
        minimizers.append(tuple(np.round(m, 6)))
    assert len(set(minimizers)) == 4  # every seed its own instance
    assert SyntheticInstance(base, 1).evaluate(minimizers[1]) == pytest.approx(
        SyntheticInstance(base, 1).optimum, abs=1e-5)


def test_far_optimum_functions_are_reflected_not_moved_towards_the_centre() -> None:
    for seed in range(6):
        inst = SyntheticInstance("styblinski_tang", seed)
        m = inst.minimizer
        assert np.all(np.abs(np.abs(m) - 2.9035) < 1e-3)  # at a corner-ish point, never 0
        assert inst.evaluate(m) == pytest.approx(inst.optimum)
    assert {tuple(np.sign(SyntheticInstance("styblinski_tang", s).minimizer))
            for s in range(8)} != {(-1.0, -1.0)}


def test_noise_is_reproducible_heteroscedastic_and_true_value_is_noise_free() -> None:
    class Ctx:
        def __init__(self, n: int) -> None:
            self.number = n

    f = NoisySynthetic(SyntheticInstance("branin", 3))
    p = {"x1": 1.0, "x2": 4.0}
    draws = [f(p, Ctx(n)) for n in range(30)]
    assert f(p, Ctx(7)) == draws[7]  # the same evaluation number gives the same draw
    assert np.std(draws) > 0 and f.true_value(p) == f.instance(p)
    sds = {round(f.noise_sd({"x1": a, "x2": b}), 6) for a in (-5, 2, 10) for b in (0, 7, 15)}
    assert max(sds) > 2 * min(sds)  # heteroscedastic


def test_noisy_ml_task_draws_a_new_split_per_evaluation() -> None:
    pytest.importorskip("sklearn")
    from llmhpo.bench.sklearn_tasks import get_task as sk_task

    class Ctx:
        def __init__(self, n: int) -> None:
            self.number = n

    task = sk_task("svm-iris")
    cv = NoisyCV(task, seed=0)
    p = {"C": 1.0, "gamma": 0.01}
    values = {cv(p, Ctx(n)) for n in range(6)}
    assert len(values) > 1
    assert cv.true_value(p) == task(p)


def test_per_seed_suites_resolve_their_tasks() -> None:
    a, b = get_task("rs_branin", 0), get_task("rs_branin", 1)
    x = {"x1": 0.0, "x2": 5.0}
    assert a.objective(x) != b.objective(x) and a.optimum == b.optimum
    noisy = get_task("noisy_hartmann6", 2)
    assert noisy.true_value is not None and noisy.suite == "noisy"
