"""BO-GP: Bayesian optimization with a Gaussian process and log expected improvement.

Davouse & Talbi 2025, Algorithm 1: a Latin hypercube design of ``n_init`` points, then at each
step a
BoTorch ``SingleTaskGP`` is fitted to the successful observations and the next point maximizes
logEI, optimized by multi-start gradient ascent (``optimize_acqf``). Batches for parallel
workers use qLogEI with the pending points as ``X_pending`` (sequential greedy selection).
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np

from llmhpo.optimizers._gp_model import (
    KERNELS,
    derive_seed,
    fit_gp,
    hyperparameters,
    seeded_torch,
    to_tensor,
)
from llmhpo.optimizers.base import BaseOptimizer, Capabilities
from llmhpo.space import SearchSpace
from llmhpo.space.design import latin_hypercube, sobol
from llmhpo.validation import bad_value, check_bool, check_choice, check_int, check_number

__all__ = ["GPOptimizer", "ACQUISITIONS", "FIT_MODES", "gp_ucb_beta"]

#: Acquisition functions of :class:`GPOptimizer` (``acquisition=``).
ACQUISITIONS = ("logei", "ucb")
#: How :class:`GPOptimizer` obtains the GP's hyperparameters at each step (``fit=``).
FIT_MODES = ("full", "warm", "schedule")
DEFAULT_FIT = "schedule"


def gp_ucb_beta(dim: int, t: int, delta: float = 0.1) -> float:
    """GP-UCB's exploration weight (Srinivas et al. 2010, Theorem 1 for finite sets):
    ``2 log(d t^2 pi^2 / (6 delta))`` for dimension ``d`` at step ``t >= 1``."""
    return float(2.0 * np.log(max(1, dim) * max(1, t) ** 2 * np.pi**2 / (6.0 * delta)))

_MIN_SUCCESSES = 2  # a GP needs at least two distinct successful points to say anything
# L-BFGS-B options of a warm-started hyperparameter refit (fit="warm"): a looser gradient
# tolerance than scipy's 1e-5, as Optuna's GPSampler (gtol 1e-2 on its unnormalized loss;
# BoTorch's marginal log likelihood is divided by the number of points).
_WARM_LBFGS: dict[str, Any] = {"gtol": 1e-2, "maxiter": 50}


def schedule_point(n_ok: int) -> int:
    """The largest hyperparameter-refit point ``<= n_ok``: 2, then each point a fifth above
    the previous one (at least one more)."""
    point = _MIN_SUCCESSES
    while True:
        nxt = point + max(1, point // 5)
        if nxt > n_ok:
            return point
        point = nxt


class GPOptimizer(BaseOptimizer):
    """Gaussian-process Bayesian optimization (BoTorch), minimizing.

    The model works in the space's unit cube (log scales in log space, integers relaxed):
    a candidate is snapped to the value it decodes to, and a candidate that repeats a known
    point is replaced by the best unknown point of a Sobol set under the same acquisition.

    Failed trials (value ``None``) are left out of the GP fit, so they never poison it; they
    are passed to qLogEI as ``X_pending`` instead, so the acquisition treats them as points
    already being evaluated and does not suggest them (or their close neighbours) again.

    The GP is fitted to ``-loss``, so logEI is maximized as BoTorch expects. Every torch
    random draw is seeded from ``(seed, number of told and pending points)``: a fresh
    instance replaying a history suggests the same next point.

    Args:
        space: the search space.
        n_init: size of the initial Latin hypercube design (Davouse & Talbi 2025: 10). Warm-start
        points
            count towards it; if fewer than two points succeeded by then, the design goes on.
        num_restarts: starting points of the gradient optimization of the acquisition.
        raw_samples: quasi-random points scored to choose those starting points.
        acquisition: ``"logei"`` (log expected improvement, the default; qLogEI for batches)
            or ``"ucb"`` (upper confidence bound on ``-loss``; qUCB for batches).
        ucb_beta: UCB's exploration weight ``beta`` (the acquisition is ``mu + sqrt(beta) *
            sigma``): a positive number, or ``"gp-ucb"`` for the schedule of Srinivas et al.
            (2010), ``beta_t = 2 log(d t^2 pi^2 / (6 delta))`` with ``delta = 0.1`` and ``t``
            the number of observed and pending points plus one (it grows slowly with ``t``).
        noisy: ``True`` for noisy objectives: the acquisition (with ``"logei"``) is BoTorch's
            noisy expected improvement (qLogNEI, which integrates over the noise at the
            observed points instead of trusting the lowest observed loss), the GP infers its
            noise level (as
            always here), and :meth:`recommend` returns the observed point of lowest
            posterior mean, not the lowest (possibly lucky) observed loss.
        fit: how the GP's hyperparameters are obtained at each step. ``"schedule"``
            (default): a full fit only when the number of successes reaches a schedule point
            (each a fifth above the last: 2, 3, 4, ..., 10, 12, 14, 16, 19, 22, 26, 31, 37,
            44, 52, 62, ...), on that many successes; in between the GP keeps them and is
            only conditioned on the new data (one Cholesky factorization). ``"full"``: a full
            marginal-likelihood fit every step (the default before; with BoTorch's RBF model,
            0.26-0.39 s per suggestion at 40-50 trials). ``"warm"``: every step, a short
            L-BFGS run (gtol 1e-2, at most 50 iterations) started from the hyperparameters of
            the previous number of successes, as Optuna's GPSampler does.
        fast_posterior: ``True`` (default): the acquisition is evaluated on the fitted GP's
            posterior computed from a cached Cholesky factor
            (:mod:`llmhpo.optimizers._gp_posterior`; the same values as BoTorch's
            ``SingleTaskGP.posterior`` to ~1e-14), and a single point's LogEI / UCB (no
            pending points) is computed from it directly with a hand-written gradient
            (``LeanLogEI`` / ``LeanUCB``: BoTorch's values to ~1e-10) and maximized by
            BoTorch's batched L-BFGS-B from ``optimize_acqf``'s starting points, without
            ``optimize_acqf``'s per-evaluation overhead (the same end points). ``False``:
            BoTorch's posterior and ``optimize_acqf``. Not used by qLogNEI (``noisy``).
        fast_fit: ``True`` (default): the marginal likelihood is maximized in plain torch
            with scipy's L-BFGS-B (:mod:`llmhpo.optimizers._gp_fit`: the same objective,
            priors and bounds as BoTorch's ``fit_gpytorch_mll``, which it falls back to on
            failure; the same optimum on the test GPs, 2-3x less CPU; in log space for the
            ``matern52`` model). ``False``: ``fit_gpytorch_mll``.
        min_noise: lower bound of the inferred noise variance of the standardized outcomes
            (``None``: 1e-6, Optuna's, with ``kernel="matern52"``; BoTorch's 1e-4 with
            ``"rbf"``; at most 1e-4). A lower bound lets the GP interpolate a deterministic
            objective closely. With ``"rbf"`` a value also replaces BoTorch's noise prior by
            Optuna's Gamma(1.1, 30).
        incumbent_start: ``True`` (default): one of the ``num_restarts`` starting points of
            the acquisition search is the best observed point, nudged (as Optuna's GPSampler
            starts a local search from its best trial). ``False``: BoTorch's starts only.
        kernel: the GP model. ``"matern52"`` (default): Optuna's GPSampler's model in
            BoTorch's classes (Matern-5/2 with one lengthscale per variable times an output
            scale, Optuna's priors, noise bound 1e-6; see
            :func:`~llmhpo.optimizers._gp_model.fit_gp`). ``"rbf"``: BoTorch's default
            ``SingleTaskGP`` (RBF, dimension-scaled lengthscale prior, noise bound 1e-4), the
            model before. Defaults measured in ``benchmarks/bo_cost.py`` and ``llmhpo
            bench`` (docs/bench.md, "BO cost"); the settings before are
            ``{kernel: rbf, fit: full, fast_posterior: false, fast_fit: false,
            incumbent_start: false, num_restarts: 10}``.
        refit_schedule: the older spelling: ``True`` is ``fit="schedule"``, ``False`` is
            ``fit="full"``.
        init: ``"lhs"`` (default) or ``"llm"``: the initial points come from an LLM
            (Zhang et al. 2023, section 4.1), then the GP takes over.
        llm: options of the LLM (:class:`~llmhpo.optimizers.llm.LLMOptimizer` arguments:
            mode, backend, model, base_url, task, ...) when ``init`` is ``"llm"``.
        seed: seed of the design and of every torch random draw.
    """

    name: ClassVar[str] = "bo"
    capabilities: ClassVar[Capabilities] = Capabilities()
    # stored configurations before 2026-12-06 record neither (BoTorch's RBF model, no start
    # at the incumbent); the other changed defaults were always recorded
    legacy_defaults: ClassVar[dict[str, Any]] = {"kernel": "rbf", "incumbent_start": False}

    def __init__(
        self,
        space: SearchSpace,
        *,
        n_init: int = 10,
        num_restarts: int = 5,
        raw_samples: int = 512,
        acquisition: str = "logei",
        ucb_beta: float | str = "gp-ucb",
        noisy: bool = False,
        fit: str | None = None,
        refit_schedule: bool | None = None,
        fast_posterior: bool = True,
        fast_fit: bool = True,
        min_noise: float | None = None,
        incumbent_start: bool = True,
        kernel: str = "matern52",
        init: str = "lhs",
        llm: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(space, seed=seed)
        check_choice("optimizer.acquisition", acquisition, list(ACQUISITIONS))
        if ucb_beta != "gp-ucb" and (
            not isinstance(ucb_beta, (int, float)) or isinstance(ucb_beta, bool)
            or not ucb_beta > 0 or not np.isfinite(ucb_beta)
        ):
            raise bad_value("optimizer.ucb_beta", ucb_beta, "a positive number or 'gp-ucb'")
        self.acquisition = acquisition
        self.ucb_beta = ucb_beta
        if init not in ("lhs", "llm"):
            raise bad_value("optimizer.init", init, "'lhs' or 'llm'")
        self.init = init
        self.llm_options = dict(llm or {})
        self._llm_init: Any = None
        check_int("optimizer.n_init", n_init, low=1, high=100_000)
        check_int("optimizer.num_restarts", num_restarts, low=1, high=1_000)
        check_int("optimizer.raw_samples", raw_samples, low=1, high=100_000)
        self.n_init = int(n_init)
        self.num_restarts = int(num_restarts)
        self.raw_samples = int(raw_samples)
        if not isinstance(noisy, bool):
            raise ValueError(f"noisy must be true or false, got {noisy!r}")
        self.noisy = noisy
        self._designs: dict[int, np.ndarray] = {}
        self._model_cache: tuple[int, Any] | None = None  # (observations fitted, model)
        if fit is not None:
            check_choice("optimizer.fit", fit, list(FIT_MODES))
        if refit_schedule is not None:  # the older spelling of fit="schedule" / "full"
            on = check_bool("optimizer.refit_schedule", refit_schedule)
            implied = "schedule" if on else "full"
            if fit not in (None, implied):
                raise bad_value("optimizer.refit_schedule", refit_schedule,
                                f"to agree with fit={fit!r} (or be left out)")
            fit = implied
        self.fit = fit or DEFAULT_FIT
        self.fast_posterior = check_bool("optimizer.fast_posterior", fast_posterior)
        self.fast_fit = check_bool("optimizer.fast_fit", fast_fit)
        self.min_noise = check_number("optimizer.min_noise", min_noise, low=0.0, low_open=True,
                                      high=1e-4, none_ok=True)
        self.incumbent_start = check_bool("optimizer.incumbent_start", incumbent_start)
        check_choice("optimizer.kernel", kernel, list(KERNELS))
        self.kernel = kernel
        # (schedule point, hyperparameters optimized on that many successes)
        self._hyper: tuple[int, dict[str, Any]] | None = None

    # ----- initial design -------------------------------------------------------------------
    def _design_point(self, i: int) -> np.ndarray:
        k, j = divmod(i, self.n_init)
        if k not in self._designs:
            seed = derive_seed(self.seed, 0, k)
            self._designs[k] = latin_hypercube(self.n_init, self.space.dim, seed)
        return self._designs[k][j]

    def _next_design_index(self) -> int:
        # Continue after the last design point handed out (also when replayed on resume).
        attrs = [o.attrs for o in self.observations] + [s.attrs for s in self.in_flight]
        used = [int(a["design_index"]) for a in attrs if "design_index" in a]
        return max(used) + 1 if used else 0

    def _llm_point(self, batch: list[dict[str, Any]]) -> tuple[np.ndarray, dict[str, Any]]:
        """An initial point proposed by the LLM (``init: llm``)."""
        if self._llm_init is None:
            from llmhpo.optimizers.llm import LLMInitializer

            self._llm_init = LLMInitializer(self, self.llm_options)
        params, attrs = self._llm_init.propose(batch)
        return self.space.encode(params), {"phase": "init", "init": "llm", **attrs}

    def preflight(self) -> None:
        """With ``init: llm``: check the LLM backend before the study records anything."""
        if self.init == "llm":
            from llmhpo.optimizers.llm import LLMInitializer

            self._llm_init = self._llm_init or LLMInitializer(self, self.llm_options)
            self._llm_init.preflight()

    # ----- ask ------------------------------------------------------------------------------
    def _ask(self, n: int) -> list[tuple[np.ndarray, dict[str, Any]]]:
        out: list[tuple[np.ndarray, dict[str, Any]]] = []
        ok = [o for o in self.observations if o.value is not None]
        n_known = len(self.observations) + len(self.in_flight)
        model, best = None, 0.0
        for _ in range(n):
            if n_known + len(out) < self.n_init or len(ok) < _MIN_SUCCESSES:
                if self.init == "llm":
                    out.append(self._llm_point([self.space.decode(x) for x, _ in out]))
                    continue
                i = self._next_design_index() + sum(1 for _, a in out if "design_index" in a)
                out.append((self._design_point(i), {"phase": "init", "design_index": i}))
                continue
            if model is None:
                model = self._acq_model(self._model(ok))
                best = float(-min(float(o.value) for o in ok))  # type: ignore[arg-type]
            out.append(self._candidate(model, best, [x for x, _ in out], n_known + len(out)))
        return out

    def _model(self, ok: list[Any]) -> Any:
        """The GP of the successful observations (built once per history length).

        How its hyperparameters are obtained depends on ``fit`` (see the class docstring).
        Every mode makes the model a function of the history alone, so a fresh optimizer
        replaying a history suggests the same next point.
        """
        n = len(self.observations)
        if self._model_cache is not None and self._model_cache[0] == n:
            return self._model_cache[1]
        x_ok = np.array([o.x for o in ok])
        y_ok = -np.array([o.value for o in ok], dtype=float)  # the GP models -loss
        if self.fit == "full":
            model = self._fit_gp(x_ok, y_ok, seed=derive_seed(self.seed, 1, n))
        elif self.fit == "warm":
            model = self._warm_chain(x_ok, y_ok)
        else:
            m = schedule_point(len(ok))
            if self._hyper is None or self._hyper[0] != m:
                fitted = self._fit_gp(x_ok[:m], y_ok[:m], seed=derive_seed(self.seed, 1, m))
                self._hyper = (m, hyperparameters(fitted))
            model = self._fit_gp(x_ok, y_ok, init=self._hyper[1], optimize=False)
        self._model_cache = (n, model)
        return model

    def _warm_chain(self, x_ok: np.ndarray, y_ok: np.ndarray) -> Any:
        """``fit="warm"``: the hyperparameters for the first ``k`` successes start from those
        for the first ``k - 1`` and are refined by a short L-BFGS run (Optuna's GPSampler does
        the same); the chain starts with a full fit on the first ``min(k, n_init)`` successes.
        A resumed run recomputes the chain from its history (a few seconds at most)."""
        k, fitted = len(y_ok), None
        start = max(_MIN_SUCCESSES, min(k, self.n_init))
        if self._hyper is None or self._hyper[0] > k or self._hyper[0] < start:
            fitted = self._fit_gp(x_ok[:start], y_ok[:start],
                                  seed=derive_seed(self.seed, 1, start))
            self._hyper = (start, hyperparameters(fitted))
        while self._hyper[0] < k:
            j = self._hyper[0] + 1
            fitted = self._fit_gp(x_ok[:j], y_ok[:j], init=self._hyper[1], lbfgs=_WARM_LBFGS,
                                  seed=derive_seed(self.seed, 1, j))
            self._hyper = (j, hyperparameters(fitted))
        if fitted is None:
            fitted = self._fit_gp(x_ok, y_ok, init=self._hyper[1], optimize=False)
        return fitted

    def _acq_model(self, gp: Any) -> Any:
        """The model the acquisition sees: with ``fast_posterior``, ``gp``'s posterior from a
        cached Cholesky factor (:mod:`llmhpo.optimizers._gp_posterior`: same values, a
        fraction of the Python overhead per call). qLogNEI (``noisy``) keeps BoTorch's model:
        its cached root decomposition needs a ``GPyTorchModel``."""
        if not self.fast_posterior or (self.noisy and self.acquisition == "logei"):
            return gp
        from llmhpo.optimizers._gp_posterior import CachedPosteriorGP

        return CachedPosteriorGP(gp)

    def recommend(self) -> dict[str, Any] | None:
        """The incumbent: with ``noisy``, the observed point of lowest posterior mean (the
        model's estimate); otherwise the lowest observed loss."""
        ok = [o for o in self.observations if o.value is not None]
        if not self.noisy or len(ok) < _MIN_SUCCESSES:
            return super().recommend()
        from llmhpo.optimizers._gp_model import posterior_mean_std

        mu, _ = posterior_mean_std(self._model(ok), np.array([o.x for o in ok]))
        return dict(ok[int(np.argmax(mu))].params)  # the GP models -loss

    def _candidate(
        self, model: Any, best: float, batch: list[np.ndarray], step: int
    ) -> tuple[np.ndarray, dict[str, Any]]:
        import torch
        from botorch.exceptions.warnings import OptimizationWarning
        from botorch.optim import optimize_acqf
        from botorch.sampling import SobolQMCNormalSampler

        torch_seed = derive_seed(self.seed, 2, step)
        failed = [o.x for o in self.observations if o.value is None]
        avoid = [s.x for s in self.in_flight] + list(batch) + failed
        with seeded_torch(torch_seed):
            sampler = None
            if avoid or (self.noisy and self.acquisition == "logei"):
                n_mc = 128 if self.noisy else 256
                sampler = SobolQMCNormalSampler(sample_shape=torch.Size([n_mc]), seed=torch_seed)
            acq, acq_name = self._acquisition(model, best, sampler, avoid, step)
            bounds = to_tensor(np.stack([np.zeros(self.space.dim), np.ones(self.space.dim)]))
            options = {"seed": torch_seed} if torch_seed is not None else None
            starts = None
            if self.incumbent_start and self.num_restarts > 1:
                starts = self._starts_with_incumbent(acq, bounds, options, torch_seed)
            with warnings.catch_warnings():
                # A start whose L-BFGS-B line search ends early ("ABNORMAL", common on the
                # flat regions of LogEI) still yields its best point, and BoTorch retries
                # or keeps the others; the warning would repeat in a user's log every step.
                warnings.filterwarnings("ignore", message="Optimization failed",
                                        category=RuntimeWarning)
                warnings.filterwarnings("ignore", category=OptimizationWarning)
                if hasattr(acq, "_value_and_partials"):  # a lean q=1 acquisition
                    from llmhpo.optimizers._gp_posterior import optimize_lean

                    if starts is None:
                        starts = self._starts(acq, bounds, options)
                    cand = optimize_lean(acq, starts)
                else:
                    cand, _ = optimize_acqf(
                        acq,
                        bounds=bounds,
                        q=1,
                        num_restarts=self.num_restarts,
                        raw_samples=self.raw_samples,
                        options=options,
                        batch_initial_conditions=starts,
                    )
            x = self._snap(cand.detach().cpu().numpy().reshape(-1))
            known = {self._key(k) for k in self._known_x()} | {self._key(b) for b in batch}
            attrs: dict[str, Any] = {"phase": "bo", "acquisition": acq_name}
            if self._key(x) in known:
                x = self._best_unknown(acq, known, step)
                attrs["deduplicated"] = True
            with torch.no_grad():
                attrs["acq_value"] = float(acq(to_tensor(x.reshape(1, 1, -1))).item())
        return x, attrs

    def _starts(self, acq: Any, bounds: Any, options: dict[str, Any] | None) -> Any:
        """BoTorch's starting points of the acquisition search (those ``optimize_acqf``
        chooses: the best of ``raw_samples`` quasi-random points, Boltzmann-sampled)."""
        from botorch.optim.initializers import gen_batch_initial_conditions

        return gen_batch_initial_conditions(acq, bounds, q=1, num_restarts=self.num_restarts,
                                            raw_samples=self.raw_samples, options=options)

    def _starts_with_incumbent(
        self, acq: Any, bounds: Any, options: dict[str, Any] | None, seed: int | None
    ) -> Any:
        """BoTorch's starting points of the acquisition search, the last one replaced by the
        best observed point nudged by 1e-3 (Optuna's GPSampler also starts a local search
        from its best trial): the search then refines the incumbent's basin."""
        import torch

        starts = self._starts(acq, bounds, options)
        ok = [o for o in self.observations if o.value is not None]
        best = min(ok, key=lambda o: o.value).x
        rng = np.random.default_rng(seed)
        x = np.clip(best + 1e-3 * rng.standard_normal(best.shape), 0.0, 1.0)
        starts[-1] = torch.as_tensor(x, dtype=starts.dtype).reshape(starts[-1].shape)
        return starts

    def _acquisition(
        self, model: Any, best: float, sampler: Any, avoid: list[np.ndarray], step: int
    ) -> tuple[Any, str]:
        """The acquisition function (on ``-loss``, maximized) and its name for the attrs."""
        from botorch.acquisition import (
            LogExpectedImprovement,
            UpperConfidenceBound,
            qLogExpectedImprovement,
            qLogNoisyExpectedImprovement,
            qUpperConfidenceBound,
        )

        if self.noisy and self.acquisition == "logei":
            ok_x = np.array([o.x for o in self.observations if o.value is not None])
            return qLogNoisyExpectedImprovement(
                model, X_baseline=to_tensor(ok_x), sampler=sampler,
                X_pending=to_tensor(np.array(avoid)) if avoid else None, prune_baseline=True,
            ), "qLogNEI"

        # with the cached posterior, q=1 analytic acquisitions skip BoTorch's posterior
        # objects (same values, see _gp_posterior.LeanLogEI)
        lean = type(model).__name__ == "CachedPosteriorGP"
        if self.acquisition == "ucb":
            beta = (gp_ucb_beta(self.space.dim, step + 1) if self.ucb_beta == "gp-ucb"
                    else float(self.ucb_beta))
            if avoid:
                return qUpperConfidenceBound(model, beta=beta, sampler=sampler,
                                             X_pending=to_tensor(np.array(avoid))), "qUCB"
            if lean:
                from llmhpo.optimizers._gp_posterior import LeanUCB

                return LeanUCB(model, beta), "UCB"
            return UpperConfidenceBound(model, beta=beta, maximize=True), "UCB"
        if avoid:
            return qLogExpectedImprovement(model, best_f=best, sampler=sampler,
                                           X_pending=to_tensor(np.array(avoid))), "qLogEI"
        if lean:
            from llmhpo.optimizers._gp_posterior import LeanLogEI

            return LeanLogEI(model, best), "LogEI"
        return LogExpectedImprovement(model, best_f=best, maximize=True), "LogEI"

    def _best_unknown(self, acq: Any, known: set[tuple[Any, ...]], step: int) -> np.ndarray:
        """The best point of a snapped Sobol set that is not a known point."""
        import torch

        n_pts = 1 << max(6, (self.raw_samples - 1).bit_length())  # a power of 2 for Sobol
        raw = sobol(n_pts, self.space.dim, derive_seed(self.seed, 3, step))
        pts = np.array([self._snap(p) for p in raw])
        fresh = np.array([p for p in pts if self._key(p) not in known])
        if len(fresh) == 0:  # every sampled value is known (a tiny discrete space): repeat one
            return pts[0]
        with torch.no_grad():
            values = acq(to_tensor(fresh).unsqueeze(1)).cpu().numpy()
        return fresh[int(np.argmax(values))]

    def _snap(self, x: np.ndarray) -> np.ndarray:
        """The encoding of the value ``x`` decodes to (relax-and-round)."""
        return self.space.encode(self.space.decode(np.clip(x, 0.0, 1.0)))

    def _key(self, x: np.ndarray) -> tuple[Any, ...]:
        return self.space.key(self.space.decode(np.clip(x, 0.0, 1.0)))

    def _fit_gp(self, *args: Any, **kwargs: Any) -> Any:
        """:func:`fit_gp` with this optimizer's ``fast_fit``, ``min_noise`` and ``kernel``."""
        return fit_gp(*args, fast_fit=self.fast_fit, min_noise=self.min_noise,
                      kernel=self.kernel, **kwargs)

    def _config(self) -> dict[str, Any]:
        return {
            "n_init": self.n_init,
            "num_restarts": self.num_restarts,
            "raw_samples": self.raw_samples,
            "acquisition": self.acquisition,
            "ucb_beta": self.ucb_beta,
            "noisy": self.noisy,
            "fit": self.fit,
            "fast_posterior": self.fast_posterior,
            "fast_fit": self.fast_fit,
            **({"min_noise": self.min_noise} if self.min_noise is not None else {}),
            "incumbent_start": self.incumbent_start,
            "kernel": self.kernel,
            **({"init": "llm", "llm": self.llm_options} if self.init == "llm" else {}),
        }
