"""BO-GP: conformance, initial design, failures, batches and convergence on Branin/Hartmann-6."""

import numpy as np
import pytest

from llmhpo.objectives import get_function
from llmhpo.optimizers import RandomOptimizer, make_optimizer
from llmhpo.optimizers.gp import GPOptimizer
from llmhpo.space import Float, Int, SearchSpace
from llmhpo.testing.optimizer_suite import OptimizerSuite


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny GPs gain nothing from threads, and on a shared CPU they slow down tenfold."""
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class TestBOConformance(OptimizerSuite):
    n_steps = 8

    @pytest.fixture
    def factory(self):
        return lambda space, seed: GPOptimizer(
            space, n_init=3, num_restarts=2, raw_samples=32, seed=seed
        )


def run(opt, f, budget, batch=1):
    while len(opt.observations) < budget:
        sugg = opt.ask(min(batch, budget - len(opt.observations)))
        for s in sugg:
            opt.tell(s, f(s.params))
    return opt


def test_initial_design_is_a_latin_hypercube_then_logei():
    f = get_function("branin")
    opt = run(GPOptimizer(f.space(), n_init=6, seed=0), f, 8)
    phases = [o.attrs["phase"] for o in opt.observations]
    assert phases == ["init"] * 6 + ["bo"] * 2
    xs = np.array([o.x for o in opt.observations[:6]])
    for d in range(2):  # one point per sixth of each axis
        assert sorted(np.floor(xs[:, d] * 6).astype(int)) == list(range(6))
    for o in opt.observations[6:]:
        assert o.attrs["acquisition"] == "LogEI"
        assert np.isfinite(o.attrs["acq_value"])


def test_failures_are_kept_out_of_the_gp_and_not_suggested_again():
    space = SearchSpace([Float("a", 0.0, 1.0), Float("b", 0.0, 1.0)])
    opt = GPOptimizer(space, n_init=4, num_restarts=4, raw_samples=64, seed=1)
    # a bowl with its minimum at (0.7, 0.7) and a failure right at the minimum
    for a, b in [(0.1, 0.1), (0.9, 0.2), (0.2, 0.9), (0.5, 0.5), (0.8, 0.8)]:
        opt.tell_not_asked({"a": a, "b": b}, (a - 0.7) ** 2 + (b - 0.7) ** 2)
    opt.tell_not_asked({"a": 0.7, "b": 0.7}, None)
    s = opt.ask(1)[0]
    assert s.attrs["phase"] == "bo" and s.attrs["acquisition"] == "qLogEI"
    assert np.isfinite(s.attrs["acq_value"])  # the GP was fitted on the 5 successes only
    assert np.linalg.norm(s.x - np.array([0.7, 0.7])) > 1e-3
    # with too few successes it keeps sampling the design instead of fitting a GP
    bad = GPOptimizer(space, n_init=2, seed=0)
    for _ in range(3):
        t = bad.ask(1)[0]
        bad.tell(t, None)
    assert bad.ask(1)[0].attrs["phase"] == "init"


def test_batch_uses_pending_points_and_does_not_repeat():
    f = get_function("branin")
    opt = run(GPOptimizer(f.space(), n_init=5, num_restarts=4, raw_samples=128, seed=2), f, 5)
    batch = opt.ask(3)
    assert [s.attrs["acquisition"] for s in batch] == ["LogEI", "qLogEI", "qLogEI"]
    xs = np.array([s.x for s in batch])
    dists = [np.linalg.norm(xs[i] - xs[j]) for i in range(3) for j in range(i)]
    assert min(dists) > 1e-3


def test_integers_are_rounded_and_never_repeated():
    space = SearchSpace([Int("i", 1, 4), Int("j", 1, 4)])
    opt = GPOptimizer(space, n_init=4, num_restarts=2, raw_samples=32, seed=0)
    run(opt, lambda p: float((p["i"] - 3) ** 2 + (p["j"] - 2) ** 2), 12)
    keys = [space.key(o.params) for o in opt.observations]
    assert len(set(keys)) == len(keys)
    assert all(isinstance(o.params["i"], int) for o in opt.observations)


def test_config_and_validation():
    space = SearchSpace([Float("a", 0.0, 1.0)])
    with pytest.raises(ValueError, match="n_init"):
        GPOptimizer(space, n_init=0)
    opt = make_optimizer("bo", space, seed=3, n_init=4, raw_samples=64)
    assert opt.get_config() == {
        "name": "bo",
        "seed": 3,
        "n_init": 4,
        "num_restarts": 5,
        "raw_samples": 64,
        "acquisition": "logei",
        "ucb_beta": "gp-ucb",
        "noisy": False,
        "fit": "schedule",
        "fast_posterior": True,
        "fast_fit": True,
        "incumbent_start": True,
        "kernel": "matern52",
    }


def _best_random(f, budget, seed):
    return run(RandomOptimizer(f.space(), seed=seed), f, budget).best_observation().value


@pytest.mark.parametrize("seed", [0, 1])
def test_branin_gets_close_to_the_optimum_where_random_search_does_not(seed):
    f = get_function("branin")
    budget, threshold = 30, f.optimum + 0.2
    best = run(GPOptimizer(f.space(), seed=seed), f, budget).best_observation().value
    assert best < threshold
    assert _best_random(f, budget, seed) > threshold


def test_hartmann6_gets_close_to_the_optimum_where_random_search_does_not():
    f = get_function("hartmann6")
    budget, threshold = 40, f.optimum + 0.5  # optimum -3.32237
    best = run(GPOptimizer(f.space(), seed=0), f, budget).best_observation().value
    assert best < threshold
    assert _best_random(f, budget, 0) > threshold


class TestBOUCBConformance(OptimizerSuite):
    n_steps = 6

    @pytest.fixture
    def factory(self):
        return lambda space, seed: GPOptimizer(
            space, n_init=3, num_restarts=2, raw_samples=32, acquisition="ucb", seed=seed
        )


def test_ucb_acquisition_and_gp_ucb_beta_schedule():
    from llmhpo.optimizers.gp import gp_ucb_beta

    # Srinivas et al. (2010): 2 log(d t^2 pi^2 / (6 delta)), delta = 0.1
    assert gp_ucb_beta(2, 10) == pytest.approx(2 * np.log(2 * 100 * np.pi**2 / 0.6))
    assert gp_ucb_beta(2, 20) > gp_ucb_beta(2, 10)  # exploration grows slowly with t
    f = get_function("branin")
    opt = run(GPOptimizer(f.space(), n_init=4, num_restarts=2, raw_samples=64,
                          acquisition="ucb", seed=0), f, 7)
    assert [o.attrs["acquisition"] for o in opt.observations[4:]] == ["UCB"] * 3
    batch = opt.ask(2)  # the second point of a batch: qUCB with the first one pending
    assert [s.attrs["acquisition"] for s in batch] == ["UCB", "qUCB"]
    assert opt.get_config()["acquisition"] == "ucb"


@pytest.mark.parametrize("kwargs", [{"acquisition": "pi"}, {"ucb_beta": -1.0},
                                    {"ucb_beta": "x"}, {"ucb_beta": True}])
def test_bad_acquisition_settings_are_config_errors(kwargs):
    from llmhpo.exceptions import InvalidConfigError

    with pytest.raises(InvalidConfigError, match="got"):
        GPOptimizer(SearchSpace([Float("a", 0.0, 1.0)]), **kwargs)


def test_refit_schedule_keeps_replay_exact_and_noisy_recommends_from_the_model():
    from llmhpo.optimizers.gp import schedule_point

    assert [schedule_point(n) for n in (2, 9, 10, 11, 12, 50)] == [2, 9, 10, 10, 12, 44]
    f = get_function("branin")
    opt = GPOptimizer(f.space(), seed=0, n_init=4, raw_samples=32, num_restarts=2,
                      refit_schedule=True, noisy=True)
    run(opt, f, 12)
    fresh = GPOptimizer(f.space(), seed=0, n_init=4, raw_samples=32, num_restarts=2,
                        refit_schedule=True, noisy=True)
    for o in opt.observations:
        fresh.tell_not_asked(o.params, o.value, o.attrs)
    assert fresh.ask(1)[0].params == opt.ask(1)[0].params
    assert opt.observations[-1].attrs["acquisition"] == "qLogNEI"
    rec = opt.recommend()
    assert rec in [o.params for o in opt.observations]


class TestBOWarmFitConformance(OptimizerSuite):
    n_steps = 8

    @pytest.fixture
    def factory(self):
        return lambda space, seed: GPOptimizer(
            space, n_init=3, num_restarts=2, raw_samples=32, fit="warm", fast_posterior=True,
            seed=seed,
        )


@pytest.mark.parametrize("fit", ["full", "warm", "schedule"])
def test_every_fit_mode_replays_exactly(fit):
    f = get_function("branin")
    kw = dict(seed=0, n_init=4, raw_samples=32, num_restarts=2, fit=fit)
    opt = run(GPOptimizer(f.space(), **kw), f, 9)
    fresh = GPOptimizer(f.space(), **kw)
    for o in opt.observations:
        fresh.tell_not_asked(o.params, o.value, o.attrs)
    assert fresh.ask(1)[0].params == opt.ask(1)[0].params
    assert opt.get_config()["fit"] == fit


def test_fit_option_validation_and_the_older_refit_schedule_spelling():
    from llmhpo.exceptions import InvalidConfigError

    space = SearchSpace([Float("a", 0.0, 1.0)])
    assert GPOptimizer(space, refit_schedule=True).fit == "schedule"
    assert GPOptimizer(space, refit_schedule=False).fit == "full"
    assert "refit_schedule" not in GPOptimizer(space).get_config()
    with pytest.raises(InvalidConfigError, match="fit"):
        GPOptimizer(space, fit="sometimes")
    with pytest.raises(InvalidConfigError, match="refit_schedule"):
        GPOptimizer(space, fit="warm", refit_schedule=True)
    with pytest.raises(InvalidConfigError, match="fast_posterior"):
        GPOptimizer(space, fast_posterior="yes")


def test_schedule_keeps_hyperparameters_between_schedule_points_and_warm_refits():
    from llmhpo.optimizers._gp_model import hyperparameters

    f = get_function("branin")
    lengthscales = {}
    for fit in ("schedule", "warm"):
        opt = GPOptimizer(f.space(), seed=0, n_init=4, raw_samples=32, num_restarts=2, fit=fit)
        run(opt, f, 10)  # 10 successes: a schedule point; 11 is not
        ok = [o for o in opt.observations]
        a = hyperparameters(opt._model(ok))
        s = opt.ask(1)[0]
        opt.tell(s, f(s.params))
        b = hyperparameters(opt._model(list(opt.observations)))
        # the default model's lengthscales (Matern-5/2 inside an output scale)
        lengthscales[fit] = [m["covar_module.base_kernel.raw_lengthscale"] for m in (a, b)]
    assert np.array_equal(*lengthscales["schedule"])  # only conditioned on the new point
    assert not np.array_equal(*lengthscales["warm"])  # re-optimized from the last ones


@pytest.mark.parametrize("kernel", ["rbf", "matern52"])
def test_cached_posterior_matches_botorchs_posterior(kernel):
    torch = pytest.importorskip("torch")
    from llmhpo.optimizers._gp_model import fit_gp
    from llmhpo.optimizers._gp_posterior import CachedPosteriorGP

    rng = np.random.default_rng(0)
    x = rng.random((20, 3))
    gp = fit_gp(x, np.sin(5 * x).sum(1) * 100 + 7, seed=0, kernel=kernel)
    fast = CachedPosteriorGP(gp)
    xt = torch.as_tensor(rng.random((4, 3, 3)), dtype=torch.float64)
    with torch.no_grad():
        want, got = gp.posterior(xt), fast.posterior(xt)
        torch.testing.assert_close(got.mean, want.mean)
        torch.testing.assert_close(got.distribution.covariance_matrix,
                                   want.distribution.covariance_matrix)
    with pytest.raises(NotImplementedError):
        fast.posterior(xt, observation_noise=True)


def test_fast_posterior_runs_the_acquisition_on_the_cached_model():
    f = get_function("branin")
    opt = run(GPOptimizer(f.space(), seed=0, n_init=4, raw_samples=32, num_restarts=2,
                          fast_posterior=True), f, 6)
    assert opt.observations[-1].attrs["phase"] == "bo"
    assert type(opt._acq_model(opt._model(list(opt.observations)))).__name__ == \
        "CachedPosteriorGP"
    assert opt.get_config()["fast_posterior"] is True


@pytest.mark.parametrize("kernel", ["rbf", "matern52"])
@pytest.mark.parametrize("kind", ["logei", "ucb"])
def test_lean_acquisition_equals_botorchs_values_and_gradients(kind, kernel):
    torch = pytest.importorskip("torch")
    from botorch.acquisition import LogExpectedImprovement, UpperConfidenceBound

    from llmhpo.optimizers._gp_model import fit_gp
    from llmhpo.optimizers._gp_posterior import CachedPosteriorGP, LeanLogEI, LeanUCB

    rng = np.random.default_rng(1)
    x = rng.random((30, 4))
    y = np.sin(5 * x).sum(1) * 100 + 7
    gp = fit_gp(x, y, seed=0, kernel=kernel)
    fast = CachedPosteriorGP(gp)
    if kind == "logei":
        # a best_f far above the data too: u << 0, where only the careful log formula is finite
        # (best_f as a float64 tensor: BoTorch stores a Python float as float32)
        pairs = [(LogExpectedImprovement(gp, best_f=torch.tensor(b, dtype=torch.float64),
                                         maximize=True), LeanLogEI(fast, b))
                 for b in (float(y.max()), float(y.max()) + 1e4)]
    else:
        pairs = [(UpperConfidenceBound(gp, beta=b, maximize=True), LeanUCB(fast, b))
                 for b in (0.5, 9.0)]
    # random points, and the data points themselves (variance near its clamp)
    pts = np.concatenate([rng.random((40, 4)), x[:5]])
    for want_acq, got_acq in pairs:
        xw = torch.as_tensor(pts, dtype=torch.float64).unsqueeze(1).requires_grad_(True)
        xg = xw.detach().clone().requires_grad_(True)
        want, got = want_acq(xw), got_acq(xg)
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
        want.sum().backward()
        got.sum().backward()
        torch.testing.assert_close(xg.grad, xw.grad, rtol=1e-8, atol=1e-8)
        with torch.no_grad():  # the no-gradient path used for the raw samples
            torch.testing.assert_close(got_acq(xg.detach()), want.detach(), rtol=1e-10,
                                       atol=1e-10)
    with pytest.raises(ValueError, match="q=1"):
        pairs[0][1](torch.zeros(2, 2, 4, dtype=torch.float64))


@pytest.mark.parametrize("kernel", ["rbf", "matern52"])
def test_lean_moments_derivative_matches_autograd(kernel):
    torch = pytest.importorskip("torch")
    from llmhpo.optimizers._gp_model import fit_gp
    from llmhpo.optimizers._gp_posterior import CachedPosteriorGP

    rng = np.random.default_rng(2)
    x = rng.random((25, 3))
    fast = CachedPosteriorGP(fit_gp(x, np.cos(4 * x).sum(1), seed=0, kernel=kernel))
    X = torch.as_tensor(rng.random((7, 1, 3)), dtype=torch.float64).requires_grad_(True)
    mean, var = fast.mean_var_q1(X)
    a, b = torch.as_tensor(rng.normal(size=7)), torch.as_tensor(rng.normal(size=7))
    (a * mean + b * var.sqrt()).sum().backward()
    m2, s2, backward = fast._q1_parts(X)
    torch.testing.assert_close(m2, mean.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(s2, var.detach().sqrt(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(backward(a, b), X.grad, rtol=1e-9, atol=1e-10)


def test_hand_written_mll_equals_gpytorchs_and_fits_the_same_optimum():
    torch = pytest.importorskip("torch")
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from llmhpo.optimizers._gp_fit import MLLSpec, theta_of
    from llmhpo.optimizers._gp_model import fit_gp, hyperparameters

    rng = np.random.default_rng(3)
    for n, d in [(15, 2), (40, 6)]:
        x = rng.random((n, d))
        y = np.sin(5 * x).sum(1) * 10 + 3
        model = SingleTaskGP(torch.as_tensor(x), torch.as_tensor(y).reshape(-1, 1),
                             outcome_transform=Standardize(m=1))
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        for _ in range(3):  # random hyperparameters within the bounds
            model.load_state_dict({
                "covar_module.raw_lengthscale": torch.as_tensor(rng.uniform(0.05, 2, (1, d))),
                "likelihood.noise_covar.raw_noise": torch.as_tensor(rng.uniform(1e-4, 0.5, 1)),
                "mean_module.raw_constant": torch.as_tensor(rng.normal()),
            }, strict=False)
            model.train()
            with torch.no_grad():
                want = float(mll(model(*model.train_inputs), model.train_targets))
                theta = torch.as_tensor(theta_of(model.state_dict(), d))
                got = -float(MLLSpec(model).neg_mll(theta))
            assert got == pytest.approx(want, abs=1e-8)
        slow, fast = fit_gp(x, y, seed=0), fit_gp(x, y, seed=0, fast_fit=True)
        for k, v in hyperparameters(slow).items():
            np.testing.assert_allclose(hyperparameters(fast)[k].numpy(), v.numpy(), rtol=2e-2,
                                       atol=1e-3)
    with pytest.raises(NotImplementedError):  # a model it does not describe
        MLLSpec(fit_gp(x, y, noise=1e-6))


def test_fast_fit_option_replays_and_reaches_branins_optimum():
    f = get_function("branin")
    kw = dict(seed=0, n_init=4, raw_samples=32, num_restarts=2, fit="warm", fast_fit=True,
              fast_posterior=True, kernel="rbf", incumbent_start=False)  # BoTorch's model
    opt = run(GPOptimizer(f.space(), **kw), f, 25)
    assert opt.get_config()["fast_fit"] is True
    assert min(o.value for o in opt.observations) < 0.397887 + 0.05
    fresh = GPOptimizer(f.space(), **kw)
    for o in opt.observations:
        fresh.tell_not_asked(o.params, o.value, o.attrs)
    assert fresh.ask(1)[0].params == opt.ask(1)[0].params


def test_min_noise_lowers_the_noise_bound_of_both_fits():
    pytest.importorskip("botorch")
    from llmhpo.optimizers._gp_model import fit_gp

    rng = np.random.default_rng(0)
    x = rng.random((12, 2))
    y = np.sin(6 * x[:, 0]) + x[:, 1] ** 2  # deterministic: the fit wants the smallest noise
    for fast in (False, True):
        default = fit_gp(x, y, seed=0, fast_fit=fast)
        low = fit_gp(x, y, seed=0, fast_fit=fast, min_noise=1e-6)
        assert low.likelihood.noise_covar.raw_noise_constraint.lower_bound.item() == (
            pytest.approx(1e-6))
        assert float(default.likelihood.noise) >= 1e-4
        assert float(low.likelihood.noise) < 1e-4  # below BoTorch's bound
    f = get_function("branin")
    opt = GPOptimizer(f.space(), seed=0, n_init=4, raw_samples=32, num_restarts=2,
                      min_noise=1e-6)
    assert opt.get_config()["min_noise"] == 1e-6
    assert "min_noise" not in GPOptimizer(f.space(), seed=0).get_config()
    for bad in (0, -1e-6, 1e-3, True, "1e-6"):
        with pytest.raises(Exception, match="min_noise"):
            GPOptimizer(f.space(), seed=0, min_noise=bad)


def test_incumbent_start_puts_the_best_point_among_the_search_starts():
    pytest.importorskip("botorch")
    f = get_function("branin")
    kw = dict(seed=0, n_init=5, raw_samples=32, num_restarts=3, min_noise=1e-6,
              incumbent_start=True)
    opt = run(GPOptimizer(f.space(), **kw), f, 8)
    assert opt.get_config()["incumbent_start"] is True
    assert GPOptimizer(f.space(), seed=0).get_config()["incumbent_start"] is True  # default
    assert GPOptimizer(f.space(), incumbent_start=False).get_config()["incumbent_start"] is False
    import torch
    from botorch.acquisition import LogExpectedImprovement

    ok = [o for o in opt.observations if o.value is not None]
    model = opt._model(ok)
    acq = LogExpectedImprovement(model, best_f=-min(o.value for o in ok), maximize=True)
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    starts = opt._starts_with_incumbent(acq, bounds, {"seed": 0}, 0)
    best = min(ok, key=lambda o: o.value).x
    assert starts.shape == (3, 1, 2)
    assert np.abs(starts[-1, 0].numpy() - best).max() < 5e-3  # the incumbent, nudged
    assert np.abs(starts[0, 0].numpy() - best).max() > 5e-3  # the others are BoTorch's
    fresh = GPOptimizer(f.space(), **kw)  # replays to the same next point
    for o in opt.observations:
        fresh.tell_not_asked(o.params, o.value, o.attrs)
    assert fresh.ask(1)[0].params == opt.ask(1)[0].params
    with pytest.raises(Exception, match="incumbent_start"):
        GPOptimizer(f.space(), seed=0, incumbent_start="yes")


def test_hand_written_mll_of_optunas_model_equals_gpytorchs():
    torch = pytest.importorskip("torch")
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from llmhpo.optimizers._gp_fit import MLLSpec
    from llmhpo.optimizers._gp_model import fit_gp, hyperparameters

    rng = np.random.default_rng(4)
    for n, d in [(12, 2), (40, 5)]:
        x = rng.random((n, d))
        y = np.cos(4 * x).sum(1) * 10 - 2
        model = fit_gp(x, y, seed=0, kernel="matern52")
        spec = MLLSpec(model)
        assert spec.kind == "matern52"
        assert spec.lows[-1] == pytest.approx(1e-6)  # Optuna's noise bound
        model.requires_grad_(True)
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        for _ in range(3):
            theta = np.concatenate([rng.uniform(0.05, 2, d), rng.uniform(0.2, 3, 1),
                                    rng.uniform(1e-6, 0.3, 1), rng.normal(size=1)])
            model.load_state_dict(spec.state_of(theta, model.state_dict()), strict=False)
            model.train()
            with torch.no_grad():
                want = float(mll(model(*model.train_inputs), model.train_targets))
                got = -float(spec.neg_mll(torch.as_tensor(theta)))
            assert got == pytest.approx(want, abs=1e-8)
            np.testing.assert_array_equal(spec.theta_of(model.state_dict()), theta)
        slow = fit_gp(x, y, seed=0, kernel="matern52")
        fast = fit_gp(x, y, seed=0, kernel="matern52", fast_fit=True)
        nll = [float(MLLSpec(m).neg_mll(torch.as_tensor(MLLSpec(m).theta_of(m.state_dict()))))
               for m in (slow, fast)]
        assert nll[1] <= nll[0] + 1e-4  # the same (or a better) optimum of the same objective
        assert set(hyperparameters(fast)) == set(hyperparameters(slow))


def test_matern52_kernel_has_an_exact_gradient_at_zero_distance():
    torch = pytest.importorskip("torch")
    from llmhpo.optimizers._gp_fit import matern52

    d2 = torch.tensor([0.0, 1e-3, 0.5, 4.0], dtype=torch.float64, requires_grad=True)
    value = matern52(d2)
    s = np.sqrt(5 * d2.detach().numpy())
    np.testing.assert_allclose(value.detach().numpy(), (1 + s + s**2 / 3) * np.exp(-s))
    value.sum().backward()
    assert torch.isfinite(d2.grad).all() and float(d2.grad[0]) == pytest.approx(-5 / 6)
    assert torch.autograd.gradcheck(matern52, (d2.detach()[1:].clone().requires_grad_(True),))


def test_kernel_option_optunas_model_replays_and_reaches_branins_optimum():
    f = get_function("branin")
    kw = dict(seed=0, n_init=4, raw_samples=32, num_restarts=2, fit="schedule",
              fast_fit=True, fast_posterior=True, kernel="matern52")
    opt = run(GPOptimizer(f.space(), **kw), f, 25)
    assert opt.get_config()["kernel"] == "matern52"
    assert GPOptimizer(f.space()).get_config()["kernel"] == "matern52"  # the default
    # near the optimum (branin spans 0.4-300; random search's best of 25 is ~2 on average)
    assert min(o.value for o in opt.observations) < 0.397887 + 0.1
    gp = opt._model([o for o in opt.observations if o.value is not None])
    assert type(gp.covar_module.base_kernel).__name__ == "MaternKernel"
    again = GPOptimizer(f.space(), **kw)
    for o in opt.observations[:-1]:
        again.tell(again.ask(1)[0], o.value)
    assert again.ask(1)[0].params == opt.observations[-1].params
    with pytest.raises(ValueError, match="optimizer.kernel.*matern52"):
        GPOptimizer(f.space(), kernel="matern32")


def test_acquisition_search_failures_do_not_flood_the_log():
    import warnings

    # this run's L-BFGS-B acquisition search ends "ABNORMAL" on some starts (BoTorch warns
    # each time); the point found is still used, so the optimizer keeps it out of the log
    f = get_function("branin")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(GPOptimizer(f.space(), seed=0, kernel="matern52", incumbent_start=True), f, 25)
    assert not [w for w in caught if "Optimization failed" in str(w.message)]


@pytest.mark.parametrize("kernel", ["rbf", "matern52"])
def test_lean_search_ends_where_optimize_acqf_ends(kernel):
    torch = pytest.importorskip("torch")
    from botorch.optim import optimize_acqf
    from botorch.optim.initializers import gen_batch_initial_conditions

    from llmhpo.optimizers._gp_model import fit_gp
    from llmhpo.optimizers._gp_posterior import CachedPosteriorGP, LeanLogEI, optimize_lean

    rng = np.random.default_rng(5)
    x = rng.random((30, 4))
    y = np.sin(5 * x).sum(1)
    acq = LeanLogEI(CachedPosteriorGP(fit_gp(x, y, seed=0, kernel=kernel)), float(y.max()))
    bounds = torch.tensor([[0.0] * 4, [1.0] * 4], dtype=torch.float64)
    starts = gen_batch_initial_conditions(acq, bounds, q=1, num_restarts=5, raw_samples=128,
                                          options={"seed": 3})
    want, _ = optimize_acqf(acq, bounds, q=1, num_restarts=5, raw_samples=128,
                            batch_initial_conditions=starts)
    got = optimize_lean(acq, starts)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-9)
    assert float(acq(got.unsqueeze(0))) >= float(acq(starts).max())  # it climbed
