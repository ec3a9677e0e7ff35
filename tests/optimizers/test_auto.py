"""auto: conformance, the choice rules, the COBYLA start, the stall fallback to TPE."""

import pytest

from llmhpo.objectives import get_function
from llmhpo.optimizers import make_optimizer
from llmhpo.optimizers.auto import LOCAL_START, AutoOptimizer, choose, local_start_size
from llmhpo.optimizers.bamsoo import BaMSOOOptimizer
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
    opt = make_optimizer("auto", space, seed=0, budget=30, stall_min=5, stall_fraction=0.1,
                         local_start=0, after_local="bamsoo")
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


# auto's defaults before 2026-12-06: COBYLA until it converges, then BaMSOO
OLD = {"after_local": "bamsoo", "local_max_fraction": 1.0}


def _loop(opt, f, n):
    out = []
    for _ in range(n):
        s = opt.ask(1)[0]
        v = f(s.params)
        opt.tell(s, v)
        out.append(v)
    return out


# ----- the COBYLA start (the budget-10 rule) ----------------------------------------------------
def test_local_start_size_rule():
    assert local_start_size("bamsoo", 2, 50) == LOCAL_START == 10
    assert local_start_size("bamsoo", 2, None) == 10
    assert local_start_size("bamsoo", 2, 21) == 7  # a third of a short budget
    assert local_start_size("bamsoo", 6, 21) == 0  # COBYLA would not get past its simplex
    assert local_start_size("bamsoo", 2, 50, n_workers=2) == 0  # COBYLA is sequential
    assert local_start_size("tpe", 2, 50) == 0
    assert local_start_size("bo", 2, 50) == 0


def test_cobyla_from_the_centre_then_bamsoo_told_every_point():
    space = SearchSpace([Float("a", -5, 5), Float("b", 0, 10)])
    # the settings before COBYLA ran until it converges: at most half the budget
    opt = make_optimizer("auto", space, seed=0, budget=50, local_max_fraction=0.5,
                         local_tol=1e-3, after_local="bamsoo")
    assert opt.choice == "cobyla" and opt.inner is None
    assert "COBYLA from the centre (10+ evaluations), then BaMSOO" in opt.reason
    while opt.choice == "cobyla":
        _loop(opt, _bowl, 1)
    choices = [o.attrs["auto_choice"] for o in opt.observations]
    n = choices.index("bamsoo")
    assert choices == ["cobyla"] * n + ["bamsoo"]
    assert 10 < n <= 25  # COBYLA still improved on the bowl after 10, at most half the budget
    assert opt.observations[0].params == {"a": 0.0, "b": 5.0}  # the centre
    # COBYLA's first simplex: one step of a sixth of the range per variable
    assert opt.observations[1].params["a"] == pytest.approx(5 / 3)
    assert opt.observations[2].params["b"] == pytest.approx(5 + 10 / 6)
    inner = opt.inner
    assert isinstance(inner, BaMSOOOptimizer) and inner.budget == 50 - n
    assert [o.params for o in inner.observations[:n]] == [o.params for o in
                                                          opt.observations[:n]]
    assert opt.get_config()["local_start"] is None


def test_by_default_cobyla_runs_a_fifth_of_the_budget_then_bo_gp():
    pytest.importorskip("botorch")
    space = SearchSpace([Float("a", -5, 5), Float("b", 0, 10)])
    opt = make_optimizer("auto", space, seed=0, budget=50)
    assert opt.get_config()["after_local"] == "bo"
    assert opt.get_config()["local_max_fraction"] == 0.2
    _loop(opt, _bowl, 12)
    assert [o.attrs["auto_choice"] for o in opt.observations] == ["cobyla"] * 10 + ["bo"] * 2
    longer = make_optimizer("auto", space, seed=0, budget=100)  # a fifth of 100: 20
    _loop(longer, _bowl, 21)
    assert [o.attrs["auto_choice"] for o in longer.observations] == ["cobyla"] * 20 + ["bo"]


def test_with_the_whole_budget_cobyla_runs_while_it_has_not_converged():
    space = SearchSpace([Float("a", -5, 5), Float("b", 0, 10)])
    opt = make_optimizer("auto", space, seed=0, budget=50, **OLD)
    _loop(opt, _bowl, 50)  # the bowl's minimum is inside: COBYLA keeps making progress
    assert [o.attrs["auto_choice"] for o in opt.observations] == ["cobyla"] * 50
    assert min(o.value for o in opt.observations) < 1e-8


def test_cobyla_hands_over_when_it_converges():
    space = SearchSpace([Float("a", 0, 1), Float("b", 0, 1)])
    opt = make_optimizer("auto", space, seed=0, budget=50, plateau_share=None, **OLD)
    _loop(opt, lambda p: 1.0, 11)  # a flat loss: COBYLA's trust region shrinks to nothing
    choices = [o.attrs["auto_choice"] for o in opt.observations]
    n = choices.index("bamsoo")
    assert 3 <= n <= 10 and choices == ["cobyla"] * n + ["bamsoo"] * (11 - n)


def test_cobyla_goes_on_only_while_it_improves():
    space = SearchSpace([Float("a", 0, 1), Float("b", 0, 1)])
    opt = make_optimizer("auto", space, seed=0, budget=50, local_tol=1e-3)
    opt._local = [5.0, 4.0, 3.0, 2.0, 1.0]
    assert opt._local_improving()  # fell by 3 over the last 3 (range 4)
    opt._local = [5.0, 1.0, 1.0, 1.0, 1.0 - 1e-4]
    assert not opt._local_improving()  # fell by 1e-4 < 1e-3 * range


def test_cobyla_start_is_sequential_and_off_with_workers_or_zero():
    space = SearchSpace([Float("a", 0, 1), Float("b", 0, 1)])
    opt = make_optimizer("auto", space, seed=0, budget=50)
    assert len(opt.ask(1)) == 1 and opt.ask(1) == []  # waits for its point
    opt.ask(3)  # a batch (several workers) ends the start
    assert opt.choice == "bo"
    assert make_optimizer("auto", space, seed=0, budget=50, n_workers=2).choice == "bo"
    assert make_optimizer("auto", space, seed=0, budget=50, local_start=0).choice == "bo"
    assert make_optimizer("auto", space, seed=0, budget=50, n_workers=2,
                          after_local="bamsoo").choice == "bamsoo"
    with pytest.raises(ValueError, match="local_start"):
        make_optimizer("auto", space, seed=0, budget=50, local_start=-1)


def test_a_failure_ends_the_cobyla_start():
    space = SearchSpace([Float("a", 0, 1), Float("b", 0, 1)])
    opt = make_optimizer("auto", space, seed=0, budget=50)
    for v in (1.0, 2.0, None):
        opt.tell(opt.ask(1)[0], v)
    s = opt.ask(1)[0]
    assert s.attrs["auto_choice"] == "bo" and len(opt.inner.observations) == 3
    old = make_optimizer("auto", space, seed=0, budget=50, **OLD)
    for v in (1.0, 2.0, None):
        old.tell(old.ask(1)[0], v)
    s = old.ask(1)[0]
    assert s.attrs["auto_choice"] == "bamsoo" and old.inner.budget == 47


@pytest.mark.parametrize("stop", [4, 10, 13, 20])
def test_replay_reproduces_the_run_across_the_handover(stop):
    space = SearchSpace([Float("a", -5, 5), Float("b", 0, 10)])
    a = make_optimizer("auto", space, seed=3, budget=30)
    _loop(a, _bowl, stop)
    b = make_optimizer("auto", space, seed=3, budget=30)
    for o in a.observations:
        b.tell_not_asked(o.params, o.value, o.attrs)
    assert b.choice == a.choice
    assert _loop(a, _bowl, 3) == _loop(b, _bowl, 3)


def test_warm_start_points_reach_bamsoo_at_the_handover():
    space = SearchSpace([Float("a", 0, 1), Float("b", 0, 1)])
    opt = make_optimizer("auto", space, seed=0, budget=50, local_start=3, plateau_share=None,
                         local_tol=1e-3, after_local="bamsoo")
    opt.tell_not_asked({"a": 0.1, "b": 0.2}, 0.5)
    assert opt.recommend() == {"a": 0.1, "b": 0.2}
    _loop(opt, lambda p: 1.0, 4)
    assert opt.choice == "bamsoo" and len(opt.inner.observations) == 5


def test_cobyla_start_follows_nevergrads_cobyla():
    """The first points are those of Nevergrad's NGOpt (COBYLA on bounded real spaces)."""
    ng = pytest.importorskip("nevergrad")
    import numpy as np

    space = SearchSpace([Float("a", -5, 5), Float("b", 0, 10)])
    param = ng.p.Dict(a=ng.p.Scalar(lower=-5, upper=5), b=ng.p.Scalar(lower=0, upper=10))
    param.random_state = np.random.RandomState(0)
    peer = ng.optimizers.NGOpt(parametrization=param, budget=50, num_workers=1)
    opt = make_optimizer("auto", space, seed=0, budget=50)
    for _ in range(10):
        c, s = peer.ask(), opt.ask(1)[0]
        assert [s.params["a"], s.params["b"]] == pytest.approx([c.value["a"], c.value["b"]],
                                                               abs=1e-6)
        peer.tell(c, _bowl(c.value))
        opt.tell(s, _bowl(s.params))


def _bowl(p):
    return (p["a"] - 1.3) ** 2 + 0.5 * (p["b"] - 7.1) ** 2


# ----- how long COBYLA goes on, and the plateau rule ---------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"local_max_fraction": 0}, "local_max_fraction must be in \\(0, 1\\], got 0"),
    ({"local_max_fraction": 1.5}, "local_max_fraction"),
    ({"local_tol": -0.1}, "local_tol must be in \\[0, 1\\), got -0.1"),
    ({"local_tol": 1}, "local_tol"),
    ({"plateau_share": 0}, "plateau_share must be in \\(0, 1\\) or None, got 0"),
    ({"plateau_share": 1.0}, "plateau_share"),
    ({"plateau_share": "0.8"}, "plateau_share"),
])
def test_bad_local_settings_are_refused(kwargs, match):
    space = SearchSpace([Float("a", 0, 1), Float("b", 0, 1)])
    with pytest.raises(ValueError, match=match):
        make_optimizer("auto", space, seed=0, budget=50, **kwargs)


def test_local_settings_are_in_the_config():
    space = SearchSpace([Float("a", 0, 1), Float("b", 0, 1)])
    cfg = make_optimizer("auto", space, seed=0, budget=50, local_max_fraction=1.0,
                         local_tol=None, plateau_share=0.8).get_config()
    assert (cfg["local_max_fraction"], cfg["local_tol"], cfg["plateau_share"]) == (1.0, None, 0.8)


def test_local_tol_none_lets_cobyla_run_until_it_converges():
    space = SearchSpace([Float("a", -5, 5), Float("b", 0, 10)])
    opt = make_optimizer("auto", space, seed=0, budget=40, local_max_fraction=1.0,
                         local_tol=None)
    opt._local = [5.0, 1.0, 1.0, 1.0, 1.0]
    assert opt._local_improving()  # no improvement test
    opt = make_optimizer("auto", space, seed=0, budget=40, local_max_fraction=1.0,
                         local_tol=None)
    _loop(opt, _bowl, 40)
    choices = [o.attrs["auto_choice"] for o in opt.observations]
    n = choices.count("cobyla")
    assert choices == ["cobyla"] * n + ["bamsoo"] * (40 - n)
    # past the default's cap (half the budget) on the bowl, and it got close to the minimum
    assert n > 20 and min(o.value for o in opt.observations[:n]) < 1e-4


def _steps(p):
    """A quantized loss: an error rate on a small validation set has few distinct values."""
    return round(_bowl(p) / 20) * 0.05


def test_plateaus_hand_over_to_tpe():
    space = SearchSpace([Float("a", -5, 5), Float("b", 0, 10)])
    opt = make_optimizer("auto", space, seed=0, budget=50, plateau_share=0.8)
    values = _loop(opt, _steps, 12)
    choices = [o.attrs["auto_choice"] for o in opt.observations]
    n = choices.count("cobyla")
    assert n <= 10 and choices == ["cobyla"] * n + ["tpe"] * (12 - n)
    assert len(set(values[:n])) <= 0.8 * n
    assert "plateaus (few distinct losses): TPE" in opt.reason
    assert len(opt.inner.observations) == 12
    # without the rule the same run goes on to BO-GP (BaMSOO with the earlier settings)
    off = make_optimizer("auto", space, seed=0, budget=50, plateau_share=None)
    _loop(off, _steps, 12)
    assert off.observations[-1].attrs["auto_choice"] == "bo"
    off = make_optimizer("auto", space, seed=0, budget=50, plateau_share=None, **OLD)
    _loop(off, _steps, 12)
    assert off.observations[-1].attrs["auto_choice"] == "bamsoo"


def test_a_flat_start_that_converges_early_hands_over_to_tpe():
    space = SearchSpace([Float("a", 0, 1), Float("b", 0, 1)])
    opt = make_optimizer("auto", space, seed=0, budget=50, plateau_share=0.8)
    _loop(opt, lambda p: 1.0, 11)  # COBYLA converges after a few points, all equal
    choices = [o.attrs["auto_choice"] for o in opt.observations]
    n = choices.count("cobyla")
    assert 4 <= n < 10 and choices == ["cobyla"] * n + ["tpe"] * (11 - n)


def test_distinct_losses_keep_bamsoo_with_the_plateau_rule():
    space = SearchSpace([Float("a", -5, 5), Float("b", 0, 10)])
    opt = make_optimizer("auto", space, seed=0, budget=30, plateau_share=0.8, local_tol=1e-3,
                         after_local="bamsoo")
    _loop(opt, _bowl, 30)
    assert opt.choice == "bamsoo" and "plateaus" not in opt.reason


@pytest.mark.parametrize("stop", [5, 10, 11, 15])
def test_replay_reproduces_a_plateau_run(stop):
    space = SearchSpace([Float("a", -5, 5), Float("b", 0, 10)])
    kw = dict(seed=2, budget=30, plateau_share=0.8)
    a = make_optimizer("auto", space, **kw)
    _loop(a, _steps, stop)
    b = make_optimizer("auto", space, **kw)
    for o in a.observations:
        b.tell_not_asked(o.params, o.value, o.attrs)
    assert b.choice == a.choice
    assert _loop(a, _steps, 4) == _loop(b, _steps, 4)
    assert a.choice == b.choice
    if stop >= 10:
        assert a.choice == "tpe"


def test_points_outside_the_box_bounce_back_as_in_nevergrad():
    import numpy as np

    from llmhpo.optimizers._local import bounce

    x = bounce(np.array([-0.1, 0.5, 1.2, 1.0, 2.5]))
    assert x == pytest.approx([0.1, 0.5, 0.8, 1.0, 0.0])  # reflected once, then clipped


def test_cobyla_start_follows_nevergrad_where_steps_leave_the_box():
    """An optimum outside the box: COBYLA's steps cross the border; NGOpt bounces them back
    (an earlier version clipped them and left NGOpt's path at the seventh point here)."""
    ng = pytest.importorskip("nevergrad")
    import numpy as np

    def corner(p):
        return (p["a"] - 6.0) ** 2 + 3.0 * (p["b"] - 11.0) ** 2 + p["a"] * p["b"] / 10

    space = SearchSpace([Float("a", -5, 5), Float("b", 0, 10)])
    param = ng.p.Dict(a=ng.p.Scalar(lower=-5, upper=5), b=ng.p.Scalar(lower=0, upper=10))
    param.random_state = np.random.RandomState(0)
    peer = ng.optimizers.NGOpt(parametrization=param, budget=50, num_workers=1)
    opt = make_optimizer("auto", space, seed=0, budget=50, local_max_fraction=1.0,
                         local_tol=None)
    for _ in range(12):  # the same points until the trust region is small (tiny rounding
        c, s = peer.ask(), opt.ask(1)[0]  # differences then lead them apart)
        assert s.attrs["auto_choice"] == "cobyla"
        assert [s.params["a"], s.params["b"]] == pytest.approx([c.value["a"], c.value["b"]],
                                                               abs=1e-6)
        peer.tell(c, corner(c.value))
        opt.tell(s, corner(s.params))


def test_a_large_real_space_starts_at_the_centre_then_tpe():
    space = SearchSpace([Float(f"x{i}", -1, 3) for i in range(10)])
    opt = make_optimizer("auto", space, seed=0, budget=50)
    assert "10 variables: the centre, then TPE" in opt.reason
    values = _loop(opt, lambda p: sum((v - 2) ** 2 for v in p.values()), 5)
    assert opt.observations[0].params == {f"x{i}": 1.0 for i in range(10)}
    assert opt.choice == "tpe" and len(opt.inner.observations) == 5
    assert values[0] == 10.0
    # not with several workers, a given local_start, or discrete variables
    assert make_optimizer("auto", space, seed=0, budget=50, n_workers=2).choice == "tpe"
    assert make_optimizer("auto", space, seed=0, budget=50, local_start=0).choice == "tpe"
    mixed = SearchSpace([Float("a", 0, 1), Int("n", 1, 9)])
    assert make_optimizer("auto", mixed, seed=0, budget=50).choice == "tpe"


def test_the_default_works_on_a_core_install_without_botorch():
    """A real subprocess in which torch, BoTorch and GPyTorch cannot be imported (the core
    install): ``auto`` picks TPE instead of BaMSOO / noise-aware BO, and a study runs."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import sys
        for m in ("torch", "botorch", "gpytorch"):
            sys.modules[m] = None  # import fails, importlib.util.find_spec gives None
        import llmhpo
        from llmhpo.objectives import get_function
        from llmhpo.optimizers.auto import choose
        f = get_function("branin")
        study = llmhpo.create_study(f.space(), budget=15)
        for _ in range(15):
            t = study.ask()[0]
            study.tell(t, f(t.params))
        opt = study.optimizer
        print(opt.choice, "|", opt.reason, "|", choose(f.space(), noisy=True)[0])
        print(len(study.trials), "torch" in sys.modules and sys.modules["torch"] is not None)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    first, second = out.stdout.strip().splitlines()[-2:]
    choice, reason, noisy_choice = (p.strip() for p in first.split("|"))
    assert choice == "tpe" and noisy_choice == "tpe"
    assert "TPE (BoTorch is not installed: pip install 'llmhpo[bo]')" in reason
    assert second == "15 False"


def test_after_local_bo_hands_cobylas_points_to_bo_gp_and_replays():
    pytest.importorskip("botorch")
    from llmhpo.optimizers.gp import GPOptimizer

    space = SearchSpace([Float("a", -5, 5), Float("b", 0, 10)])
    kw = dict(seed=0, budget=50, after_local="bo", local_max_fraction=0.2)
    opt = make_optimizer("auto", space, **kw)
    assert "COBYLA from the centre (10+ evaluations), then BO-GP" in opt.reason
    _loop(opt, _bowl, 12)
    choices = [o.attrs["auto_choice"] for o in opt.observations]
    assert choices == ["cobyla"] * 10 + ["bo"] * 2  # a fifth of the budget, then BO-GP
    assert isinstance(opt.inner, GPOptimizer)
    # COBYLA's points are the GP's first data: its design is not run
    assert [o.params for o in opt.inner.observations[:10]] == [
        o.params for o in opt.observations[:10]]
    assert opt.observations[10].attrs["phase"] == "bo"
    assert opt.get_config()["after_local"] == "bo"
    again = make_optimizer("auto", space, **kw)
    for o in opt.observations:
        again.tell_not_asked(o.params, o.value, o.attrs)
    assert _loop(again, _bowl, 2) == _loop(opt, _bowl, 2)
    with pytest.raises(ValueError, match="after_local must be one of \\['bamsoo', 'bo'\\]"):
        make_optimizer("auto", space, seed=0, after_local="tpe")
