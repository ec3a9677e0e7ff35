"""SOO: conformance, the centres and sweeps the algorithm defines, budget, cache, failures."""

import math

import numpy as np
import pytest

from llmhpo.objectives import get_function
from llmhpo.optimizers import RandomOptimizer, make_optimizer
from llmhpo.optimizers.soo import SOOOptimizer
from llmhpo.space import Float, Int, SearchSpace
from llmhpo.testing.optimizer_suite import OptimizerSuite


class TestSOOConformance(OptimizerSuite):
    @pytest.fixture
    def factory(self):
        return lambda space, seed: SOOOptimizer(space, seed=seed)


def unit_square() -> SearchSpace:
    return SearchSpace([Float("a", 0.0, 1.0), Float("b", 0.0, 1.0)])


def corner_loss(p):
    return (p["a"] - 0.1) ** 2 + (p["b"] - 0.1) ** 2


def run(opt, loss, batch=1, limit=1000):
    """Ask/tell until the optimizer stops; returns the suggestions in the order asked."""
    asked = []
    while len(asked) < limit:
        sugg = opt.ask(batch)
        if not sugg:
            if not opt.pending:
                break
            continue
        asked += sugg
        for s in sugg:
            opt.tell(s, loss(s.params))
    return asked


def test_first_evaluations_are_the_centres_soo_defines():
    opt = SOOOptimizer(unit_square(), budget=9)
    pts = [(s.params["a"], s.params["b"]) for s in run(opt, corner_loss)]
    expected = [
        (1 / 2, 1 / 2),  # sweep 0: root centre
        (1 / 6, 1 / 2),
        (5 / 6, 1 / 2),  # sweep 1: root cut along a (middle child inherits)
        # sweep 2: best leaf of depth 1 is (1/6, 1/2); its cell [0,1/3]x[0,1] is widest in b
        (1 / 6, 1 / 6),
        (1 / 6, 5 / 6),
        # sweep 3: depth 1 best leaf is the inherited middle (1/2, 1/2), cut along b; depth 2
        # best (1/6, 1/6) has a lower loss so it is expanded too; its cell is square, the tie
        # goes to the first dimension a
        (1 / 2, 1 / 6),
        (1 / 2, 5 / 6),
        (1 / 18, 1 / 6),
        (5 / 18, 1 / 6),
    ]
    np.testing.assert_allclose(pts, expected, atol=1e-12)
    sweeps = [n.sweep for n in opt.tree.nodes if n.state == "evaluated"]
    assert sweeps == [0, 1, 1, 2, 2, 3, 3, 3, 3]


def test_middle_child_is_never_asked_and_inherits_the_parent_score():
    f = get_function("branin")
    opt = SOOOptimizer(f.space(), budget=40)
    asked = run(opt, f)
    asked_nodes = {s.attrs["node"] for s in asked}
    inherited = [n for n in opt.tree.nodes if n.state == "inherited"]
    assert inherited
    for n in opt.tree.nodes:
        if n.children:
            middle = opt.tree.nodes[n.children[1]]
            assert middle.state == "inherited" and middle.id not in asked_nodes
            assert middle.score == n.score
    assert all(s.attrs["score_state"] == "evaluated" for s in asked)
    assert len({tuple(s.x) for s in asked}) == len(asked)


def test_a_sweep_is_one_batch_and_waits_for_its_results():
    opt = SOOOptimizer(unit_square())
    root = opt.ask(5)
    assert len(root) == 1
    assert opt.ask(5) == []  # sweep 1 needs the root's score first
    opt.tell(root[0], 1.0)
    sweep1 = opt.ask(10)
    assert [s.attrs["sweep"] for s in sweep1] == [1, 1]
    assert opt.ask(10) == []
    opt.tell(sweep1[0], 0.5)
    assert opt.ask(10) == []  # still one pending in this sweep
    opt.tell(sweep1[1], 2.0)
    assert len(opt.ask(10)) == 2


def test_batch_size_does_not_change_the_points():
    f = get_function("branin")
    one = run(SOOOptimizer(f.space(), budget=30), f, batch=1)
    four = run(SOOOptimizer(f.space(), budget=30), f, batch=4)
    assert [s.params for s in one] == [s.params for s in four]


@pytest.mark.parametrize("batch", [1, 4])
def test_budget_is_never_exceeded(batch):
    f = get_function("branin")
    opt = SOOOptimizer(f.space(), budget=17)
    asked = run(opt, f, batch=batch)
    assert len(asked) == 17 and opt.n_evaluations == 17
    assert opt.ask(3) == []
    # a replayed history counts against the budget; warm-start points do not
    again = SOOOptimizer(f.space(), budget=17)
    again.tell_not_asked({"x1": 1.0, "x2": 1.0}, 30.0)
    for o in opt.observations:
        again.tell_not_asked(o.params, o.value, o.attrs)
    assert again.n_evaluations == 17 and again.ask(1) == []


def test_integer_collapse_inherits_and_the_search_exhausts():
    space = SearchSpace([Int("k", 1, 5)])
    opt = SOOOptimizer(space)
    asked = run(opt, lambda p: float((p["k"] - 4) ** 2))
    assert sorted(s.params["k"] for s in asked) == [1, 2, 3, 4, 5]
    # the cell [0, 1/3] (k in {1, 2}) has children decoding to 1, 1, 2: the first child is
    # not the middle one but collapses onto its parent's value and inherits
    collapsed = [
        n
        for n in opt.tree.nodes
        if n.state == "inherited"
        and n.parent is not None
        and opt.tree.nodes[n.parent].children.index(n.id) != 1
    ]
    assert collapsed
    assert opt.ask(1) == [] and opt.pending == []
    assert opt.capabilities.may_exhaust


def test_warm_start_cache_scores_the_root_without_asking():
    space = unit_square()
    opt = SOOOptimizer(space, budget=2)
    opt.tell_not_asked({"a": 0.5, "b": 0.5}, 3.0)
    first = opt.ask(5)
    pts = [(s.params["a"], s.params["b"]) for s in first]
    np.testing.assert_allclose(pts, [(1 / 6, 0.5), (5 / 6, 0.5)], atol=1e-12)
    assert opt.tree.root.state == "evaluated" and opt.tree.root.score == 3.0


def test_a_failed_node_gets_the_worst_observed_loss():
    opt = SOOOptimizer(unit_square())
    root = opt.ask(1)[0]
    opt.tell(root, 4.0)
    left, right = opt.ask(2)
    opt.tell(left, None)
    opt.tell(right, 7.0)
    opt.ask(1)  # completes sweep 1 and starts sweep 2
    node = opt.tree.nodes[left.attrs["node"]]
    assert node.failed and node.score == 7.0
    # the best leaf of depth 1 is now the middle child (4.0), not the failed one
    assert opt.tree.nodes[2].children


def test_depth_limit():
    f = get_function("branin")
    opt = SOOOptimizer(f.space(), h_max=2, budget=60)
    run(opt, f)
    assert max(n.depth for n in opt.tree.nodes) <= 3
    sq = SOOOptimizer(f.space(), h_max="sqrt", budget=30)
    run(sq, f)
    assert max(n.depth for n in sq.tree.nodes) <= math.isqrt(sq._n_expansions) + 1


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match=r"optimizer.k: got .*, expected an integer >= 2"):
        SOOOptimizer(unit_square(), k=1)
    with pytest.raises(ValueError, match="h_max"):
        SOOOptimizer(unit_square(), h_max="log")
    with pytest.raises(ValueError, match="budget"):
        SOOOptimizer(unit_square(), budget=0)
    assert isinstance(make_optimizer("soo", unit_square(), k=2), SOOOptimizer)


def test_gets_close_to_the_branin_optimum_where_random_search_does_not():
    f = get_function("branin")
    budget, threshold = 50, 0.5  # optimum 0.397887
    opt = SOOOptimizer(f.space(), budget=budget)
    run(opt, f)
    assert opt.best_observation().value < threshold
    for seed in range(5):
        rnd = RandomOptimizer(f.space(), seed=seed)
        run(rnd, f, limit=budget)
        assert rnd.best_observation().value > threshold


def test_equally_wide_dimensions_tie_to_the_lowest_index_whatever_the_float_rounding():
    # After a cut into thirds, a width of 1/3 computed as hi - lo is 0.3333333333333333 in
    # one cell and 0.33333333333333337 in another; the cut dimension must not depend on it.
    from llmhpo.optimizers._tree import PartitionTree

    space = SearchSpace([Float(f"x{i}", 0.0, 1.0) for i in range(3)])
    tree = PartitionTree(space, 3)
    frontier = [tree.root]
    for _ in range(4):
        frontier = [c for n in frontier for c in tree.expand(n, 0)]
    assert len(frontier) == 81
    widths = {tuple(n.hi - n.lo) for n in frontier}
    assert len(widths) > 1  # the rounding differs between cells...
    for n in frontier:
        # ...but every cell of depth 4 has cut x0 twice, x1 and x2 once: x1 is next
        assert n.cuts == (2, 1, 1)
        assert tree.split_dimension(n) == 1


def test_randomized_soo_depends_on_the_seed_and_the_default_does_not():
    def points(**kw):
        return [tuple(s.params.values()) for s in run(SOOOptimizer(unit_square(), budget=12,
                                                                   **kw), corner_loss)]

    assert points(seed=0) == points(seed=1)  # deterministic SOO ignores the seed
    a, b = points(randomize=True, seed=0), points(randomize=True, seed=1)
    assert a == points(randomize=True, seed=0)  # reproducible
    assert a[0] == b[0] == (0.5, 0.5)  # both start at the centre...
    assert len({tuple(points(randomize=True, seed=s)) for s in range(6)}) > 1  # ...then differ
    assert len(a) == 12
