"""The exact marginal log likelihood of BoTorch's default ``SingleTaskGP`` written out in
plain torch, and its maximization with scipy's L-BFGS-B (imported lazily: torch and scipy
at module level).

Why this exists: ``fit_gpytorch_mll`` evaluates the same objective through gpytorch's
modules, lazy tensors and closures, about 4 ms per evaluation on 50 points (measured,
``benchmarks/bo_cost.py``) and ~140 evaluations per fit from BoTorch's initial values. The
objective itself is one Cholesky factorization and a few small tensor operations. This
module computes it for exactly the model :func:`llmhpo.optimizers._gp_model.fit_gp` builds:
an RBF kernel with one lengthscale per dimension (no output scale), a constant mean,
homoskedastic Gaussian noise, gpytorch's ``LogNormalPrior`` on the lengthscales and on the
noise, and the constraints (lower bounds) of those parameters, read from the model itself
so that a change in BoTorch's defaults is noticed rather than silently diverged from.
``tests/optimizers/test_bo.py`` checks that the value equals gpytorch's
``ExactMarginalLogLikelihood`` (divided by the number of points, as BoTorch optimizes it)
at the same hyperparameters.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = ["MLLSpec", "fit_hyperparameters"]

_LS, _NOISE, _CONST = "covar_module.raw_lengthscale", "likelihood.noise_covar.raw_noise", \
    "mean_module.raw_constant"


class MLLSpec:
    """What the objective needs from a ``SingleTaskGP`` (RBF-ARD, constant mean, inferred
    noise, no input transform), checked on construction.

    Args:
        model: a ``SingleTaskGP`` as :func:`~llmhpo.optimizers._gp_model.fit_gp` builds it.
    """

    def __init__(self, model: Any) -> None:
        kernel, noise = model.covar_module, model.likelihood.noise_covar
        if (type(kernel).__name__ != "RBFKernel" or getattr(kernel, "active_dims", None)
                is not None or type(model.mean_module).__name__ != "ConstantMean"
                or type(noise).__name__ != "HomoskedasticNoise"
                or getattr(model, "input_transform", None) is not None):
            raise NotImplementedError("expected SingleTaskGP's default RBF model")
        priors = {name: prior for name, _, prior, _, _ in model.named_priors()}
        ls_prior = priors["covar_module.lengthscale_prior"]
        noise_prior = priors["likelihood.noise_covar.noise_prior"]
        if {type(ls_prior).__name__, type(noise_prior).__name__} != {"LogNormalPrior"} \
                or len(priors) != 2:
            raise NotImplementedError(f"expected two LogNormal priors, got {priors}")
        constraints = dict(model.named_constraints())
        for key in ("covar_module.raw_lengthscale_constraint",
                    "likelihood.noise_covar.raw_noise_constraint"):
            c = constraints[key]
            # no transform: the bound is left to the optimizer (fit_gpytorch_mll's bounds)
            if type(c).__name__ != "GreaterThan" or c.enforced:
                raise NotImplementedError(f"expected an untransformed lower bound, got {c!r}")
        self.ls_loc = float(ls_prior.loc)
        self.ls_scale = float(ls_prior.scale)
        self.noise_loc = float(noise_prior.loc)
        self.noise_scale = float(noise_prior.scale)
        self.ls_low = float(constraints["covar_module.raw_lengthscale_constraint"].lower_bound)
        self.noise_low = float(
            constraints["likelihood.noise_covar.raw_noise_constraint"].lower_bound)
        self.x = model.train_inputs[0].detach()  # (n, d)
        self.y = model.train_targets.detach()  # (n,), standardized
        self.dim = self.x.shape[-1]

    def unpack(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``theta = (lengthscales..., noise, constant)`` to its three parts."""
        return theta[: self.dim], theta[self.dim], theta[self.dim + 1]

    def neg_mll(self, theta: torch.Tensor) -> torch.Tensor:
        """Minus BoTorch's fitting objective: ``(log N(y; c, K + s I) + log priors) / n``
        with ``K`` the RBF kernel matrix of the lengthscaled inputs."""
        ls, noise, const = self.unpack(theta)
        n = self.x.shape[0]
        z = self.x / ls
        z = z - z.mean(0)  # gpytorch centres the inputs before the distances, too
        sq = (z * z).sum(-1)
        d2 = (sq.unsqueeze(-1) + sq.unsqueeze(-2) - 2 * (z @ z.T)).clamp_min(0.0)
        d2 = d2 - torch.diag(torch.diagonal(d2))  # exact zeros on the diagonal
        k = torch.exp(-0.5 * d2) + noise * torch.eye(n, dtype=z.dtype)
        chol = torch.linalg.cholesky(k)
        r = (self.y - const).unsqueeze(-1)
        a = torch.linalg.solve_triangular(chol, r, upper=False)
        loglik = (-0.5 * (a * a).sum() - torch.log(torch.diagonal(chol)).sum()
                  - 0.5 * n * math.log(2 * math.pi))
        logprior = (_lognormal_logpdf(ls, self.ls_loc, self.ls_scale).sum()
                    + _lognormal_logpdf(noise, self.noise_loc, self.noise_scale))
        return -(loglik + logprior) / n


def _lognormal_logpdf(v: torch.Tensor, loc: float, scale: float) -> torch.Tensor:
    lv = torch.log(v)
    return -lv - math.log(scale) - 0.5 * math.log(2 * math.pi) - (lv - loc) ** 2 / (
        2 * scale**2)


def theta_of(state: dict[str, Any], dim: int) -> np.ndarray:
    """``(lengthscales..., noise, constant)`` from a model's state dict (raw parameters:
    BoTorch's default constraints have no transform, so raw values are the values)."""
    return np.concatenate([
        np.asarray(state[_LS], dtype=float).reshape(-1)[:dim],
        np.asarray(state[_NOISE], dtype=float).reshape(-1)[:1],
        np.asarray(state[_CONST], dtype=float).reshape(-1)[:1],
    ])


def fit_hyperparameters(model: Any, *, options: dict[str, Any] | None = None) -> float:
    """Maximize ``model``'s marginal likelihood (plus log priors) with L-BFGS-B from its
    current hyperparameters, as ``fit_gpytorch_mll`` does, and load the optimum into it.

    Args:
        model: a ``SingleTaskGP`` (see :class:`MLLSpec`) in train mode.
        options: scipy L-BFGS-B options (``gtol``, ``maxiter``, ...); ``None``: scipy's.

    Returns:
        The objective ``-mll / n`` at the optimum.

    Raises:
        RuntimeError: the optimization failed (a non-finite objective, or scipy's
            ``ABNORMAL`` line-search end); the caller falls back to ``fit_gpytorch_mll``.
    """
    from scipy.optimize import minimize

    spec = MLLSpec(model)
    state = model.state_dict()
    theta0 = theta_of(state, spec.dim)

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        t = torch.as_tensor(theta, dtype=torch.float64).requires_grad_(True)
        try:
            loss = spec.neg_mll(t)
        except torch.linalg.LinAlgError:
            return float("inf"), np.zeros_like(theta)
        (grad,) = torch.autograd.grad(loss, t)
        return float(loss), grad.numpy()

    bounds = [(spec.ls_low, None)] * spec.dim + [(spec.noise_low, None), (None, None)]
    res = minimize(fun, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                   options=dict(options or {}))
    if not np.isfinite(res.fun) or "ABNORMAL" in str(res.message):
        raise RuntimeError(f"marginal-likelihood fit failed: {res.message}")
    ls, noise, const = np.split(res.x, [spec.dim, spec.dim + 1])
    model.load_state_dict({
        _LS: torch.as_tensor(ls, dtype=torch.float64).reshape(state[_LS].shape),
        _NOISE: torch.as_tensor(noise, dtype=torch.float64).reshape(state[_NOISE].shape),
        _CONST: torch.as_tensor(const[0], dtype=torch.float64).reshape(state[_CONST].shape),
    }, strict=False)
    return float(res.fun)
