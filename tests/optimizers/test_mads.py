"""MADS through PyNomad: conformance, X0, cache warm start, blocks, convergence vs random."""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest

pytest.importorskip("PyNomad")

from llmhpo.objectives import get_function  # noqa: E402
from llmhpo.optimizers import RandomOptimizer  # noqa: E402
from llmhpo.optimizers._recast import NomadProcessError  # noqa: E402
from llmhpo.optimizers.mads import MADSOptimizer  # noqa: E402
from llmhpo.space import Float, Int, SearchSpace  # noqa: E402
from llmhpo.space.presets import tribes2023_space  # noqa: E402
from llmhpo.testing.optimizer_suite import OptimizerSuite  # noqa: E402


class TestMADS(OptimizerSuite):
    @pytest.fixture
    def factory(self):
        return lambda space, seed: MADSOptimizer(space, seed=seed)


class TestMADSBlocks(OptimizerSuite):
    @pytest.fixture
    def factory(self):
        return lambda space, seed: MADSOptimizer(space, seed=seed, block_size=3, budget=40)


def _minimize(opt, fn, n: int) -> list[float]:
    """Sequential ask/tell loop; returns the values in order."""
    values: list[float] = []
    while len(values) < n:
        sugg = opt.ask(1)
        if not sugg:
            break
        v = fn(sugg[0].params)
        values.append(v)
        opt.tell(sugg[0], v)
    return values


def test_first_point_is_the_default_point():
    space = tribes2023_space()
    opt = MADSOptimizer(space, seed=0)
    s = opt.ask(1)[0]
    assert s.params == space.default_params()  # PEFT's defaults: r=8, dropout 0.1, alpha 32, 1e-5
    assert s.attrs["phase"] == "x0"


def test_integer_variables_stay_on_their_grid():
    space = tribes2023_space()
    opt = MADSOptimizer(space, seed=1)
    seen = set()
    for v in _minimize_params(opt, 25):
        z = space.to_internal(v)
        assert np.all(z[:3] == np.round(z[:3]))  # rank exponent, dropout code, alpha
        seen.add(space.key(v))
    assert len(seen) == 25  # NOMAD never asks the same point twice


def _minimize_params(opt, n):
    out = []
    for _ in range(n):
        s = opt.ask(1)[0]
        out.append(s.params)
        z = opt.space.encode(s.params)
        opt.tell(s, float(np.sum((z - 0.7) ** 2)))
    return out


def test_warm_start_points_are_not_evaluated_again():
    space = tribes2023_space()
    rng = np.random.default_rng(0)
    warm = [space.default_params()] + [space.decode(rng.random(space.dim)) for _ in range(8)]
    opt = MADSOptimizer(space, seed=0, budget=30)
    for i, p in enumerate(warm):
        opt.tell_not_asked(p, float(10 + i) if i != 3 else None)
    warm_keys = {space.key(p) for p in warm}
    asked = _minimize_params(opt, 30)
    assert asked[0] != space.default_params()  # X0 is a cache hit
    assert not warm_keys & {space.key(p) for p in asked}
    assert opt.ask(1) == []  # the budget counts only new evaluations


def test_block_evaluation_hands_out_several_points():
    space = SearchSpace([Float("a", 0, 1), Float("b", 0, 1), Float("c", 0, 1)])
    opt = MADSOptimizer(space, seed=0, block_size=4)
    first = opt.ask(4)
    assert len(first) == 1  # X0 is evaluated alone
    opt.tell(first[0], 1.0)
    block = opt.ask(4)
    assert 2 <= len(block) <= 4
    assert opt.ask(4) == []  # NOMAD waits for the whole block
    for i, s in enumerate(block):
        opt.tell(s, 2.0 + i)
    assert len(opt.ask(4)) >= 1


def test_budget_is_never_exceeded():
    space = SearchSpace([Float("a", 0, 1), Int("k", 1, 9)])
    opt = MADSOptimizer(space, seed=0, budget=7, block_size=3)
    told = 0
    while True:
        sugg = opt.ask(3)
        if not sugg:
            break
        for s in sugg:
            opt.tell(s, float(s.params["a"] + s.params["k"]))
            told += 1
    assert told == 7
    assert opt.pending == []


def test_failed_initial_point_starts_a_new_run():
    space = SearchSpace([Float("a", 0, 1), Float("b", 0, 1)])
    opt = MADSOptimizer(space, seed=0, budget=20)
    s0 = opt.ask(1)[0]
    opt.tell(s0, None)
    s1 = opt.ask(1)[0]
    assert s1.params != s0.params
    assert s1.attrs["nomad_run"] == 1 and s1.attrs["phase"] == "restart"


def test_bad_nomad_parameters_raise_instead_of_aborting():
    space = SearchSpace([Float("a", 0, 1), Float("b", 0, 1)])
    opt = MADSOptimizer(space, seed=0, nomad_params=["BB_INPUT_TYPE ( R R R R )"])
    with pytest.raises(NomadProcessError):
        opt.ask(1)


def test_process_is_released_and_nothing_printed(capfd):
    space = SearchSpace([Float("a", 0, 1), Float("b", 0, 1)])
    opt = MADSOptimizer(space, seed=0, nomad_params=["NOT_A_NOMAD_PARAMETER 1"])
    s = opt.ask(1)[0]
    pid = opt._holder[0]._proc.pid
    opt.tell(s, 1.0)
    del opt, s
    gc.collect()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_close_then_ask_replays_the_run():
    space = SearchSpace([Float("a", -2, 2), Float("b", -2, 2)])
    fn = lambda p: (p["a"] - 0.3) ** 2 + (p["b"] + 0.7) ** 2  # noqa: E731
    ref = MADSOptimizer(space, seed=4)
    _minimize(ref, fn, 12)
    opt = MADSOptimizer(space, seed=4)
    _minimize(opt, fn, 6)
    opt.close()
    _minimize(opt, fn, 6)
    assert [o.params for o in opt.observations] == [o.params for o in ref.observations]


@pytest.mark.parametrize(
    ("name", "budget", "target"),
    [("branin", 60, 0.397887 + 0.05), ("hartmann6", 150, -3.32237 + 0.3)],
)
def test_mads_beats_random_on_known_optima(name, budget, target):
    fn = get_function(name)
    bests = []
    for seed in (0, 1, 2):
        mads = _minimize(MADSOptimizer(fn.space(), seed=seed, budget=budget), fn, budget)
        rand = _minimize(RandomOptimizer(fn.space(), seed=seed), fn, budget)
        assert min(mads) < min(rand), (seed, min(mads), min(rand))
        assert min(rand) > target, (seed, min(rand))
        bests.append(min(mads))
    assert np.median(bests) <= target, bests


def test_replay_through_a_restart_continues_the_run():
    space = SearchSpace([Float("a", 0, 1), Int("k", 0, 20)])
    fn = lambda p: None if p == space.default_params() else (p["a"] - 0.2) ** 2 + p["k"]  # noqa: E731
    a = MADSOptimizer(space, seed=3, block_size=2)
    while len(a.observations) < 9:
        for s in a.ask(2):
            a.tell(s, fn(s.params))
    assert {o.attrs["nomad_run"] for o in a.observations} == {0, 1}
    b = MADSOptimizer(space, seed=3, block_size=2)
    for o in a.observations:
        b.tell_not_asked(o.params, o.value, o.attrs)
    assert [s.params for s in a.ask(2)] == [s.params for s in b.ask(2)]


def test_same_warm_start_same_suggestions():
    space = tribes2023_space()
    rng = np.random.default_rng(1)
    warm = [space.decode(rng.random(space.dim)) for _ in range(6)]
    runs = []
    for _ in range(2):
        opt = MADSOptimizer(space, seed=5)
        for i, p in enumerate(warm):
            opt.tell_not_asked(p, float(i))
        runs.append(_minimize_params(opt, 8))
    assert runs[0] == runs[1]


def test_granularity_from_nomad_params():
    space = SearchSpace([Float("a", 0, 1), Float("b", -1, 1)])
    opt = MADSOptimizer(space, seed=0, budget=15, nomad_params=["GRANULARITY ( 0.25 0 )"])
    fn = lambda p: (p["a"] - 0.3) ** 2 + p["b"] ** 2  # noqa: E731
    _minimize(opt, fn, 15)
    a = np.array([o.params["a"] for o in opt.observations])
    assert len(a) == 15
    assert np.allclose(a * 4, np.round(a * 4))  # every value on the 0.25 grid
    assert len({o.params["b"] for o in opt.observations}) > 5  # b stays continuous


def test_converged_mesh_exhausts_the_optimizer():
    space = SearchSpace([Int("i", 0, 6), Int("j", 0, 6)])
    opt = MADSOptimizer(space, seed=0)  # no budget: run until NOMAD stops
    values = _minimize(opt, lambda p: (p["i"] - 2) ** 2 + (p["j"] - 5) ** 2, 49)
    assert len(values) < 49  # stopped before enumerating the grid
    assert min(values) == 0.0  # at the minimizer (2, 5)
    assert opt.ask(1) == [] and opt.pending == []
    assert opt.last_result is not None and opt.last_result["run_flag"] in (0, 1)


def test_warm_points_told_mid_run_start_a_new_run_from_the_best_point():
    space = SearchSpace([Float("a", 0, 1), Float("b", 0, 1)])
    opt = MADSOptimizer(space, seed=0)
    fn = lambda p: (p["a"] - 0.9) ** 2 + (p["b"] - 0.1) ** 2  # noqa: E731
    _minimize(opt, fn, 5)
    best_warm = {"a": 0.88, "b": 0.12}
    opt.tell_not_asked(best_warm, fn(best_warm))  # better than anything asked so far
    opt.tell_not_asked({"a": 0.1, "b": 0.9}, 2.0)
    nxt = opt.ask(1)[0]
    assert nxt.attrs["nomad_run"] == 1
    assert space.key(nxt.params) not in {space.key(o.params) for o in opt.observations}
    # NOMAD polls around its new X0, the best warm point, not around the first run's X0
    # (0.5, 0.5): the first polls are centred nearer the warm point
    polls = [nxt.params]
    opt.tell(nxt, fn(nxt.params))
    for _ in range(3):
        s = opt.ask(1)[0]
        polls.append(s.params)
        opt.tell(s, fn(s.params))
    centre = np.mean([[p["a"], p["b"]] for p in polls], axis=0)
    assert np.linalg.norm(centre - [0.88, 0.12]) < np.linalg.norm(centre - [0.5, 0.5])


def test_different_seeds_give_different_runs():
    # NOMAD's own SEED gives identical runs for 4 and 6, 5 and 7, 12 and 14 (PyNomad 4.5);
    # the seed is hashed before it reaches NOMAD.
    f = get_function("branin")

    def points(seed: int) -> list[tuple[float, ...]]:
        opt = MADSOptimizer(f.space(), seed=seed, budget=8)
        out = []
        try:
            while len(out) < 8 and (sugg := opt.ask(1)):
                out.append(tuple(sugg[0].params.values()))
                opt.tell(sugg[0], f(sugg[0].params))
        finally:
            opt.close()
        return out

    runs = {s: points(s) for s in (4, 5, 6, 7)}
    assert runs[4] != runs[6] and runs[5] != runs[7]
    assert points(4) == runs[4]  # still reproducible
