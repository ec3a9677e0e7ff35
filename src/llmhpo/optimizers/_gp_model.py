"""Gaussian-process helpers shared by BO-GP and BaMSOO (BoTorch, imported lazily).

Every model here works on points of the search space's unit cube [0, 1]^d (log scales are
already in log space, integers relaxed), in double precision. Outcomes are standardized by
BoTorch's ``Standardize`` transform, so the GP never sees raw losses such as 1e-10 and its
hyperparameter priors apply as designed (the public seed code fitted on raw values).
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from llmhpo._imports import require

__all__ = [
    "fit_gp", "posterior_mean_std", "seeded_torch", "derive_seed", "to_tensor",
    "hyperparameters", "KERNELS",
]

#: GP kernels of :func:`fit_gp` (``kernel=``): BoTorch's default RBF, or Optuna's model.
KERNELS = ("rbf", "matern52")
#: Optuna's GPSampler's lower bound on the noise variance (the ``matern52`` model's default).
OPTUNA_MIN_NOISE = 1e-6

# state-dict prefixes of the GP's own hyperparameters (not the outcome transform's statistics,
# which belong to the data they were computed on)
_HYPER_PREFIXES = ("likelihood.", "mean_module.", "covar_module.")


def hyperparameters(model: Any) -> dict[str, Any]:
    """The fitted hyperparameters of a model from :func:`fit_gp` (to warm-start the next fit)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()
            if k.startswith(_HYPER_PREFIXES)}


def _torch() -> Any:
    return require("torch", feature="Gaussian-process optimizers")


def derive_seed(seed: int | None, *stream: int) -> int | None:
    """A 31-bit seed determined by ``seed`` and ``stream`` (``None`` stays ``None``)."""
    if seed is None:
        return None
    ss = np.random.SeedSequence([int(seed), *map(int, stream)])
    return int(ss.generate_state(1, dtype=np.uint32)[0] & 0x7FFFFFFF)


@contextlib.contextmanager
def seeded_torch(seed: int | None) -> Iterator[None]:
    """Run a block with torch's global RNG seeded, then restore the caller's RNG state."""
    torch = _torch()
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def to_tensor(x: np.ndarray | Sequence[Sequence[float]]) -> Any:
    """A float64 tensor of shape ``(n, d)``."""
    torch = _torch()
    return torch.as_tensor(np.asarray(x, dtype=float), dtype=torch.float64)


def fit_gp(
    x: np.ndarray,
    y: np.ndarray,
    *,
    seed: int | None = None,
    noise: float | None = None,
    init: dict[str, Any] | None = None,
    optimize: bool = True,
    lbfgs: dict[str, Any] | None = None,
    fast_fit: bool = False,
    min_noise: float | None = None,
    kernel: str = "rbf",
) -> Any:
    """Fit BoTorch's ``SingleTaskGP`` (its default kernel: RBF with ARD lengthscales and a
    dimension-scaled LogNormal prior on them, BoTorch >= 0.12; or Optuna's model, see
    ``kernel``).

    Args:
        x: inputs in [0, 1]^d, shape ``(n, d)``; they are already in the unit cube, so no
            input normalization is applied.
        y: outcomes, shape ``(n,)``; standardized by an outcome transform.
        seed: seed of torch's RNG during fitting (used by retries after a failed fit).
        noise: ``None`` to infer the observation noise (BoTorch's default); a number to fix
            the noise variance at ``noise`` times the variance of ``y`` (a near-interpolating
            GP, as BaMSOO's analysis assumes for deterministic objectives).
        init: hyperparameters of a previous fit (:func:`hyperparameters`) to start the
            optimization of the marginal likelihood from. One more point moves the optimum
            little, so L-BFGS needs a fraction of the iterations of a cold start (measured:
            fitting was 72 % of a BO suggestion at 30 trials on hartmann6).
        optimize: ``False`` with ``init``: keep those hyperparameters and only condition the
            GP on the data (one Cholesky factorization instead of an L-BFGS run).
        lbfgs: options of scipy's L-BFGS-B for the marginal-likelihood fit (``gtol``,
            ``ftol``, ``maxiter``); ``None``: scipy's defaults.
        fast_fit: maximize the marginal likelihood written out in plain torch
            (:mod:`llmhpo.optimizers._gp_fit`: the same objective and bounds, scipy's
            L-BFGS-B, no gpytorch in the loop) instead of ``fit_gpytorch_mll``; falls back
            to ``fit_gpytorch_mll`` if that run fails. Only without ``noise``.
        min_noise: the lower bound of the inferred noise variance (of the standardized
            outcomes); ``None``: BoTorch's (1e-4). A smaller bound lets the GP interpolate a
            deterministic objective more closely (Optuna's GPSampler uses 1e-6), with
            Optuna's Gamma(1.1, 30) prior on the noise instead of BoTorch's LogNormal(-4, 1).
            Only without ``noise``.
        kernel: ``"rbf"`` (default): BoTorch's default model above. ``"matern52"``: the
            model of Optuna's GPSampler in BoTorch's classes: a Matern-5/2 kernel with ARD
            lengthscales times an output scale, Optuna's priors (``-0.1 (l^2 + 1/l^2)`` on
            each lengthscale ``l``, Gamma(2, 1) on the output scale, Gamma(1.1, 30) on the
            noise) and its noise bound (``min_noise``, default 1e-6); a constant mean.

    Returns:
        The fitted model in eval mode, its parameters frozen (``requires_grad`` off); its
        posterior is in the units of ``y``.
    """
    require("botorch", feature="Gaussian-process optimizers")
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    torch = _torch()
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {list(KERNELS)}, got {kernel!r}")
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float).reshape(-1)
    if x.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] < 1:
        raise ValueError(
            f"expected x of shape (n, d) and y of shape (n,), got {x.shape} and {y.shape}"
        )
    if np.any(x < -1e-9) or np.any(x > 1 + 1e-9):
        raise ValueError("GP inputs must lie in the unit cube [0, 1]^d")
    train_x = to_tensor(x)
    train_y = to_tensor(y.reshape(-1, 1))
    with seeded_torch(seed), warnings.catch_warnings():
        # Fitting on few points routinely warns about ill-conditioning or early stops; the
        # fit is still usable and these warnings would flood a user's log every step.
        warnings.simplefilter("ignore")
        yvar = None
        if noise is not None:
            scale = float(np.var(y)) if y.size > 1 and np.var(y) > 0 else 1.0
            yvar = torch.full_like(train_y, noise * scale)
        likelihood, covar_module = None, None
        if kernel == "matern52":
            covar_module = _optuna_kernel(x.shape[1])
            if min_noise is None:
                min_noise = OPTUNA_MIN_NOISE
        if min_noise is not None and noise is None:
            from gpytorch.constraints import GreaterThan
            from gpytorch.likelihoods import GaussianLikelihood
            from gpytorch.priors import GammaPrior

            # Optuna's GPSampler's noise prior, Gamma(1.1, rate 30): nearly exponential, so
            # a deterministic objective can pull the noise down to the bound. BoTorch's
            # LogNormal(-4, 1) keeps it near 5e-3 on such data whatever the bound.
            prior = GammaPrior(1.1, 30.0)
            likelihood = GaussianLikelihood(noise_prior=prior, noise_constraint=GreaterThan(
                float(min_noise), transform=None, initial_value=1e-2))
        model = SingleTaskGP(train_x, train_y, train_Yvar=yvar, likelihood=likelihood,
                             covar_module=covar_module, outcome_transform=Standardize(m=1))
        if init:
            own = model.state_dict()
            usable = {k: v for k, v in init.items() if k in own and own[k].shape == v.shape}
            model.load_state_dict(usable, strict=False)
        if optimize or not init:
            done = False
            if fast_fit and noise is None:
                from llmhpo.optimizers._gp_fit import fit_hyperparameters

                try:
                    fit_hyperparameters(model, options=lbfgs,
                                        log_space=kernel == "matern52")
                    done = True
                except (RuntimeError, NotImplementedError):  # the model is left unchanged
                    pass
            if not done:
                mll = ExactMarginalLogLikelihood(model.likelihood, model)
                fit_gpytorch_mll(mll, optimizer_kwargs={"options": dict(lbfgs or {})})
    model.eval()
    # The hyperparameters are fixed from here on: without this, every gradient of the
    # acquisition (taken with respect to the candidate points) also runs back through them.
    model.requires_grad_(False)
    return model


def _optuna_kernel(dim: int) -> Any:
    """Optuna's GPSampler's kernel as a gpytorch module: Matern-5/2, ARD, times an output
    scale, with Optuna's priors and initial values (every parameter 1); the bounds have no
    transform, so that L-BFGS-B sees them, as BoTorch's defaults do."""
    from gpytorch.constraints import GreaterThan
    from gpytorch.kernels import MaternKernel, ScaleKernel
    from gpytorch.priors import GammaPrior

    prior = _optuna_lengthscale_prior_class()()
    base = MaternKernel(nu=2.5, ard_num_dims=dim, lengthscale_prior=prior,
                        lengthscale_constraint=GreaterThan(1e-4, transform=None,
                                                           initial_value=1.0))
    return ScaleKernel(base, outputscale_prior=GammaPrior(2.0, 1.0),
                       outputscale_constraint=GreaterThan(1e-4, transform=None,
                                                          initial_value=1.0))


@functools.cache
def _optuna_lengthscale_prior_class() -> Any:
    """The class of Optuna's lengthscale prior (built on first use: it subclasses gpytorch's
    ``Prior``, and gpytorch is imported lazily)."""
    from gpytorch.priors import Prior
    from torch.distributions import constraints

    class OptunaLengthscalePrior(Prior):  # type: ignore[misc]
        """Optuna's GPSampler's prior on a lengthscale ``l``: ``-0.1 (l^2 + 1/l^2)``, up to a
        constant (Optuna writes it on ``1/l^2`` without a Jacobian, so the value, hence the
        maximum a posteriori, is the same in ``l``). gpytorch has no such prior; a
        ``Prior`` needs only ``log_prob``."""

        arg_constraints: dict[str, Any] = {}
        support = constraints.positive

        def __init__(self) -> None:
            super().__init__(validate_args=False)

        def log_prob(self, value: Any) -> Any:
            return -0.1 * (value**2 + value ** -2)

    return OptunaLengthscalePrior


def posterior_mean_std(model: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and standard deviation of the latent function (no observation noise).

    Args:
        model: a model from :func:`fit_gp`.
        x: points of [0, 1]^d, shape ``(n, d)``.

    Returns:
        ``(mu, sigma)``, each of shape ``(n,)``, in the units of the fitted outcomes.
    """
    torch = _torch()
    with torch.no_grad():
        post = model.posterior(to_tensor(np.atleast_2d(x)))
        mu = post.mean.reshape(-1).cpu().numpy()
        var = post.variance.reshape(-1).clamp_min(0.0).cpu().numpy()
    return mu.astype(float), np.sqrt(var).astype(float)
