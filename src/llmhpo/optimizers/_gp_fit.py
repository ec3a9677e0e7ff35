"""The exact marginal log likelihood of the ``SingleTaskGP`` models of ``fit_gp`` written out
in plain torch, and its maximization with scipy's L-BFGS-B (imported lazily: torch and scipy
at module level).

Why this exists: ``fit_gpytorch_mll`` evaluates the same objective through gpytorch's
modules, lazy tensors and closures, about 4 ms per evaluation on 50 points (measured,
``benchmarks/bo_cost.py``) and ~140 evaluations per fit from BoTorch's initial values. The
objective itself is one Cholesky factorization and a few small tensor operations. This
module computes it for exactly the models :func:`llmhpo.optimizers._gp_model.fit_gp` builds:
BoTorch's default (an RBF kernel with one lengthscale per dimension, no output scale) or
Optuna's (Matern-5/2 with one lengthscale per dimension times an output scale), a constant
mean, homoskedastic Gaussian noise, the model's own prior objects and the constraints (lower
bounds) of its parameters, read from the model itself so that a change in BoTorch's defaults
is noticed rather than silently diverged from.
``tests/optimizers/test_bo.py`` checks that the value equals gpytorch's
``ExactMarginalLogLikelihood`` (divided by the number of points, as BoTorch optimizes it)
at the same hyperparameters.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = ["MLLSpec", "fit_hyperparameters", "kernel_kind", "matern52"]

_NOISE, _CONST = "likelihood.noise_covar.raw_noise", "mean_module.raw_constant"


def matern52(d2: torch.Tensor) -> torch.Tensor:
    """The Matern-5/2 kernel ``(1 + s + s^2 / 3) exp(-s)``, ``s = sqrt(5 d2)``, of squared
    distances ``d2``, with the exact derivative at ``d2 = 0`` (autograd through the square
    root gives ``0 * inf`` there: the diagonal of every kernel matrix)."""
    return _Matern52.apply(d2)


def matern52_and_slope(d2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`matern52` of ``d2`` and its derivative with respect to ``d2``, without
    autograd (``-5/6 (1 + s) exp(-s)``, finite at ``d2 = 0``)."""
    s = torch.sqrt(5 * d2)
    e = torch.exp(-s)
    return e * ((5 / 3) * d2 + s + 1), (-5 / 6) * (s + 1) * e


def kernel_kind(kernel: Any) -> tuple[str, Any]:
    """``("rbf", kernel)`` for BoTorch's RBF kernel, ``("matern52", base)`` for a
    ``ScaleKernel`` around a Matern-5/2 ``base`` (the two kernels ``fit_gp`` builds): the
    kind and the module holding the lengthscales.

    Raises:
        NotImplementedError: any other kernel, or one restricted to ``active_dims``.
    """
    base = getattr(kernel, "base_kernel", None)
    if type(kernel).__name__ == "RBFKernel":
        kind, inner = "rbf", kernel
    elif (type(kernel).__name__ == "ScaleKernel" and type(base).__name__ == "MaternKernel"
          and float(base.nu) == 2.5):
        kind, inner = "matern52", base
    else:
        raise NotImplementedError(f"expected an RBF or a scaled Matern-5/2 kernel, got "
                                  f"{kernel!r}")
    if getattr(inner, "active_dims", None) is not None:
        raise NotImplementedError(f"expected a kernel on every input, got {kernel!r}")
    return kind, inner


class _Matern52(torch.autograd.Function):
    """Why by hand: see :func:`matern52` (Optuna's GP writes the same function)."""

    @staticmethod
    def forward(ctx: Any, d2: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        value, slope = matern52_and_slope(d2)
        ctx.save_for_backward(slope)
        return value

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (slope,) = ctx.saved_tensors
        return grad * slope


class MLLSpec:
    """What the objective needs from a ``SingleTaskGP`` as ``fit_gp`` builds it, checked on
    construction: BoTorch's default RBF-ARD kernel, or Optuna's model (a Matern-5/2 ARD
    kernel times an output scale); a constant mean, inferred homoskedastic noise, no input
    transform; priors on every kernel parameter and the noise, and untransformed lower
    bounds. The priors are the model's own objects (their ``log_prob``).

    Args:
        model: a ``SingleTaskGP`` as :func:`~llmhpo.optimizers._gp_model.fit_gp` builds it.
    """

    def __init__(self, model: Any) -> None:
        noise = model.likelihood.noise_covar
        self.kind, _ = kernel_kind(model.covar_module)
        ls_path, scale_path = (("covar_module.", None) if self.kind == "rbf" else
                               ("covar_module.base_kernel.", "covar_module."))
        if (type(model.mean_module).__name__ != "ConstantMean"
                or type(noise).__name__ != "HomoskedasticNoise"
                or getattr(model, "input_transform", None) is not None):
            raise NotImplementedError("expected SingleTaskGP's constant mean, inferred "
                                      "homoskedastic noise and no input transform")
        # (raw parameter, prior, constraint) per fitted positive parameter, in theta's order
        parts = [(ls_path + "raw_lengthscale", ls_path + "lengthscale_prior",
                  ls_path + "raw_lengthscale_constraint")]
        if scale_path is not None:
            parts.append((scale_path + "raw_outputscale", scale_path + "outputscale_prior",
                          scale_path + "raw_outputscale_constraint"))
        parts.append((_NOISE, "likelihood.noise_covar.noise_prior",
                      "likelihood.noise_covar.raw_noise_constraint"))
        priors = {name: prior for name, _, prior, _, _ in model.named_priors()}
        if set(priors) != {prior for _, prior, _ in parts}:
            raise NotImplementedError(f"expected priors on {[p for _, p, _ in parts]}, got "
                                      f"{sorted(priors)}")
        constraints = dict(model.named_constraints())
        self.names, self.priors, self.lows = [], [], []
        for raw, prior, constraint in parts:
            c = constraints[constraint]
            # no transform: the bound is left to the optimizer (fit_gpytorch_mll's bounds)
            if type(c).__name__ != "GreaterThan" or c.enforced:
                raise NotImplementedError(f"expected an untransformed lower bound, got {c!r}")
            self.names.append(raw)
            self.priors.append(priors[prior])
            self.lows.append(float(c.lower_bound))
        self.x = model.train_inputs[0].detach()  # (n, d)
        self.y = model.train_targets.detach()  # (n,), standardized
        self.dim = self.x.shape[-1]
        self.sizes = [self.dim] + [1] * (len(parts) - 1)

    def bounds(self) -> list[tuple[float | None, float | None]]:
        """L-BFGS-B bounds of ``theta``: the lower bounds, none on the constant."""
        pairs = zip(self.lows, self.sizes, strict=True)
        return [b for low, n in pairs for b in [(low, None)] * n] + [(None, None)]

    def theta_of(self, state: dict[str, Any]) -> np.ndarray:
        """``(lengthscales..., [output scale,] noise, constant)`` from a state dict (raw
        parameters: the constraints have no transform, so raw values are the values)."""
        return np.concatenate(
            [np.asarray(state[k], dtype=float).reshape(-1)[:n]
             for k, n in zip(self.names, self.sizes, strict=True)]
            + [np.asarray(state[_CONST], dtype=float).reshape(-1)[:1]])

    def state_of(self, theta: np.ndarray, like: dict[str, Any]) -> dict[str, Any]:
        """The state-dict entries of ``theta`` (shaped as in ``like``)."""
        out, i = {}, 0
        for k, n in zip([*self.names, _CONST], [*self.sizes, 1], strict=True):
            out[k] = torch.as_tensor(theta[i:i + n], dtype=torch.float64).reshape(like[k].shape)
            i += n
        return out

    def neg_mll(self, theta: torch.Tensor) -> torch.Tensor:
        """Minus BoTorch's fitting objective: ``(log N(y; c, K + s I) + log priors) / n``."""
        values = list(torch.split(theta, [*self.sizes, 1]))
        ls, const, noise = values[0], values[-1][0], values[-2][0]
        n = self.x.shape[0]
        z = self.x / ls
        z = z - z.mean(0)  # gpytorch centres the inputs before the distances, too
        sq = (z * z).sum(-1)
        d2 = (sq.unsqueeze(-1) + sq.unsqueeze(-2) - 2 * (z @ z.T)).clamp_min(0.0)
        d2 = d2 - torch.diag(torch.diagonal(d2))  # exact zeros on the diagonal
        if self.kind == "rbf":
            k = torch.exp(-0.5 * d2)
        else:
            k = values[1][0] * matern52(d2)
        k = k + noise * torch.eye(n, dtype=z.dtype)
        chol = torch.linalg.cholesky(k)
        r = (self.y - const).unsqueeze(-1)
        a = torch.linalg.solve_triangular(chol, r, upper=False)
        loglik = (-0.5 * (a * a).sum() - torch.log(torch.diagonal(chol)).sum()
                  - 0.5 * n * math.log(2 * math.pi))
        logprior = sum(_log_prior(prior, v).sum()
                       for prior, v in zip(self.priors, values[:-1], strict=True))
        return -(loglik + logprior) / n


def _log_prior(prior: Any, v: torch.Tensor) -> torch.Tensor:
    """``prior.log_prob(v)``; BoTorch's LogNormal priors written out (the formula this module
    has always used: the same value, and the same rounding as the fits measured with it)."""
    if type(prior).__name__ == "LogNormalPrior":
        loc, scale = float(prior.loc), float(prior.scale)
        lv = torch.log(v)
        return -lv - math.log(scale) - 0.5 * math.log(2 * math.pi) - (lv - loc) ** 2 / (
            2 * scale**2)
    return prior.log_prob(v)


def theta_of(state: dict[str, Any], dim: int) -> np.ndarray:
    """``(lengthscales..., noise, constant)`` of BoTorch's default RBF model from its state
    dict (:meth:`MLLSpec.theta_of` for any model)."""
    return np.concatenate([
        np.asarray(state["covar_module.raw_lengthscale"], dtype=float).reshape(-1)[:dim],
        np.asarray(state[_NOISE], dtype=float).reshape(-1)[:1],
        np.asarray(state[_CONST], dtype=float).reshape(-1)[:1],
    ])


def fit_hyperparameters(
    model: Any, *, options: dict[str, Any] | None = None, log_space: bool = False
) -> float:
    """Maximize ``model``'s marginal likelihood (plus log priors) with L-BFGS-B from its
    current hyperparameters, as ``fit_gpytorch_mll`` does, and load the optimum into it.

    Args:
        model: a ``SingleTaskGP`` (see :class:`MLLSpec`) in train mode.
        options: scipy L-BFGS-B options (``gtol``, ``maxiter``, ...); ``None``: scipy's.
        log_space: search the logarithms of the positive hyperparameters (lengthscales,
            output scale, noise), as Optuna's GPSampler does, instead of their values (as
            ``fit_gpytorch_mll`` does with BoTorch's untransformed bounds): the same
            objective and bounds, better conditioned, so far fewer evaluations from a cold
            start (Optuna's model starts every parameter at 1, and its noise bound is 1e-6).

    Returns:
        The objective ``-mll / n`` at the optimum.

    Raises:
        RuntimeError: the optimization failed (a non-finite objective, or scipy's
            ``ABNORMAL`` line-search end); the caller falls back to ``fit_gpytorch_mll``.
    """
    from scipy.optimize import minimize

    spec = MLLSpec(model)
    state = model.state_dict()
    theta0 = spec.theta_of(state)
    bounds = spec.bounds()
    n_pos = len(theta0) - 1  # every entry but the constant mean is positive
    if log_space:
        theta0 = np.concatenate([np.log(np.maximum(theta0[:n_pos],
                                                   [lo for lo, _ in bounds[:n_pos]])),
                                 theta0[n_pos:]])
        bounds = [(np.log(lo), None) for lo, _ in bounds[:n_pos]] + bounds[n_pos:]

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        t = torch.as_tensor(theta, dtype=torch.float64).requires_grad_(True)
        try:
            loss = spec.neg_mll(torch.cat([t[:n_pos].exp(), t[n_pos:]]) if log_space else t)
        except torch.linalg.LinAlgError:
            return float("inf"), np.zeros_like(theta)
        (grad,) = torch.autograd.grad(loss, t)
        return float(loss), grad.numpy()

    res = minimize(fun, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                   options=dict(options or {}))
    if not np.isfinite(res.fun) or "ABNORMAL" in str(res.message):
        raise RuntimeError(f"marginal-likelihood fit failed: {res.message}")
    theta = np.concatenate([np.exp(res.x[:n_pos]), res.x[n_pos:]]) if log_space else res.x
    model.load_state_dict(spec.state_of(theta, state), strict=False)
    return float(res.fun)
