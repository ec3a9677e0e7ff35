"""The posterior of a fitted ``SingleTaskGP`` from a Cholesky factor cached once (imported
lazily: it imports torch, gpytorch and BoTorch at module level).

Why this exists: BoTorch's own ``SingleTaskGP.posterior`` goes through gpytorch's lazy
kernel tensors, prediction strategy and outcome-transform wrappers, about 2 ms of Python per
call and per backward pass on 50 points (measured, ``benchmarks/bo_cost.py``), and
``optimize_acqf`` calls it 30-60 times per suggestion. The math is a kernel row and a
triangular solve, so this model computes it directly from the fitted GP's lengthscales,
output scale, noise, constant mean and ``Standardize`` statistics: only the two kernels
``fit_gp`` builds (BoTorch's default RBF, Optuna's scaled Matern-5/2) and the predictive
equations are written out. It is
a BoTorch :class:`~botorch.models.model.Model`, so BoTorch's acquisition functions and
``optimize_acqf`` use it unchanged; ``tests/optimizers/test_bo.py`` checks that it matches
``SingleTaskGP.posterior``.
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.analytic import _log_ei_helper
from botorch.models.model import Model
from botorch.posteriors.gpytorch import GPyTorchPosterior
from botorch.utils.probability.utils import log_ndtr
from gpytorch.distributions import MultivariateNormal
from linear_operator import to_linear_operator

from llmhpo.optimizers._gp_fit import kernel_kind, matern52

__all__ = ["CachedPosteriorGP", "LeanLogEI", "LeanUCB", "optimize_lean"]


def _sqdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``|a_i - b_j|^2`` for shapes ``(..., m, d)`` and ``(..., n, d)`` to ``(..., m, n)``."""
    cross = a @ b.transpose(-1, -2)
    sq = (a * a).sum(-1, keepdim=True) + (b * b).sum(-1).unsqueeze(-2) - 2 * cross
    return sq.clamp_min(0.0)


def _rbf(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``exp(-|a_i - b_j|^2 / 2)`` for lengthscale-scaled points, shapes ``(..., m, d)`` and
    ``(..., n, d)`` to ``(..., m, n)`` (gpytorch's ``RBFKernel`` without its lazy tensors)."""
    return torch.exp(-0.5 * _sqdist(a, b))


def _kernel_parts(kernel: Any) -> tuple[str, torch.Tensor, torch.Tensor]:
    """``(kind, lengthscales (1, d), output scale)`` of a fitted RBF or scaled Matern-5/2
    kernel (the two ``fit_gp`` builds; :func:`~llmhpo.optimizers._gp_fit.kernel_kind`)."""
    kind, inner = kernel_kind(kernel)
    scale = (torch.ones((), dtype=torch.float64) if kind == "rbf"
             else kernel.outputscale.detach().reshape(()))
    return kind, inner.lengthscale.detach().reshape(1, -1), scale


class CachedPosteriorGP(Model):
    """The latent posterior of a fitted ``SingleTaskGP`` (one output, no input transform).

    Args:
        gp: a fitted BoTorch ``SingleTaskGP`` in eval mode with a ``Standardize`` outcome
            transform (what :func:`llmhpo.optimizers._gp_model.fit_gp` returns).
    """

    def __init__(self, gp: Any) -> None:
        super().__init__()
        with torch.no_grad():
            x = gp.train_inputs[0].detach()  # (n, d)
            y = gp.train_targets.detach()  # (n,), standardized
            self._kind, self._lengthscale, self._outputscale = _kernel_parts(gp.covar_module)
            self._const = gp.mean_module.constant.detach().reshape(())
            x = x / self._lengthscale
            k = self._k(x, x)
            noise = gp.likelihood.noise.detach().reshape(-1)  # one value, or one per point
            k = k + torch.diag(noise.expand(len(x)))
            chol, info = torch.linalg.cholesky_ex(k)
            jitter = 1e-9
            while int(info) != 0 and jitter < 1e-2:  # as gpytorch's psd_safe_cholesky
                eye = torch.eye(len(x), dtype=x.dtype)
                chol, info = torch.linalg.cholesky_ex(k + jitter * eye)
                jitter *= 10
            self._x, self._chol = x, chol
            # L^-1 once, so that the q=1 variance below is a matrix product: its backward
            # pass is a matmul too, where a triangular solve per call costs ~4x as much
            eye = torch.eye(len(x), dtype=x.dtype)
            self._linv_t = torch.linalg.solve_triangular(chol, eye, upper=False).T.contiguous()
            self._alpha = torch.cholesky_solve((y - self._const).unsqueeze(-1), chol)  # (n, 1)
            tf = gp.outcome_transform
            self._shift = tf.means.detach().reshape(())
            self._scale = tf.stdvs.detach().reshape(())

    def _k(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The kernel of lengthscale-scaled points (differentiable by autograd)."""
        if self._kind == "rbf":
            return _rbf(a, b)
        return self._outputscale * matern52(_sqdist(a, b))

    def _k_and_slope(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The kernel ``k`` of lengthscale-scaled points and ``w = -2 dk / d|a_i - b_j|^2``,
        so that ``dk_ij / da_i = w_ij (b_j - a_i)`` (no autograd)."""
        if self._kind == "rbf":
            k = _rbf(a, b)
            return k, k
        # written out rather than through _gp_fit.matern52_and_slope: the same function,
        # in the arithmetic the measured runs used (the rounding differs in the last bits)
        root = torch.sqrt(5 * _sqdist(a, b))
        e = self._outputscale * torch.exp(-root)
        return e * (1 + root + root * root / 3), e * (5 / 3) * (1 + root)

    @property
    def num_outputs(self) -> int:
        return 1

    @property
    def batch_shape(self) -> torch.Size:
        return torch.Size()

    def posterior(
        self,
        X: torch.Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | torch.Tensor = False,
        posterior_transform: Any = None,
    ) -> GPyTorchPosterior:
        """The joint posterior of ``f`` at ``X`` (shape ``(b) x q x d``), in the units of
        the fitted outcomes (``observation_noise`` is not supported: the acquisition
        functions used here do not ask for it)."""
        if observation_noise is not False:
            raise NotImplementedError("CachedPosteriorGP gives the latent posterior only")
        z = X / self._lengthscale
        ks = self._k(z, self._x)  # (b, q, n)
        mean = self._const + (ks @ self._alpha).squeeze(-1)  # (b, q)
        v = torch.linalg.solve_triangular(self._chol, ks.transpose(-1, -2), upper=False)
        cov = self._k(z, z) - v.transpose(-1, -2) @ v  # (b, q, q)
        if cov.shape[-1] == 1:  # rounding can make a variance at a data point negative
            cov = cov.clamp_min(1e-12)
        # as a linear operator, so that the joint covariance of q > 1 points is factorized
        # by BoTorch's sampler with gpytorch's jitter (psd_safe_cholesky), as with its own
        # posterior: a pending point on (or next to) a data point makes it singular
        mvn = MultivariateNormal(self._shift + self._scale * mean,
                                 to_linear_operator(self._scale**2 * cov), validate_args=False)
        post = GPyTorchPosterior(mvn)
        return posterior_transform(post) if posterior_transform is not None else post

    def mean_var_q1(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and variance of ``f`` at single points: ``X`` of shape
        ``(b) x 1 x d`` to two tensors of shape ``(b)``, in the units of the fitted outcomes
        (the variance clamped as :meth:`posterior` and BoTorch's analytic acquisitions do).
        Differentiable by autograd; :class:`LeanLogEI` uses :meth:`_q1_parts` instead."""
        z = X.squeeze(-2) / self._lengthscale  # (b, d)
        ks = self._k(z, self._x)  # (b, n)
        mean = self._const + (ks @ self._alpha).squeeze(-1)
        v = ks @ self._linv_t  # (b, n): rows of L^-1 k(x, X)
        var = (self._outputscale - (v * v).sum(-1)).clamp_min(1e-12)  # k(x, x): output scale
        return self._shift + self._scale * mean, (self._scale**2 * var).clamp_min(1e-12)

    def _q1_parts(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Any]:
        """:meth:`mean_var_q1` as ``(mean, sigma, backward)`` without autograd:
        ``backward(d_mean, d_sigma)`` maps the derivatives of a scalar per point with respect
        to its mean and sigma (shape ``(b)``) to the derivative with respect to ``X``.

        Why by hand: autograd records ~20 small tensor operations per call, and at the sizes
        of BO (a handful of points against at most a few hundred observations) their
        bookkeeping costs more than the arithmetic. The derivatives are those of the
        expressions in :meth:`mean_var_q1` (``test_bo.py`` checks them against autograd)."""
        z = X.detach().squeeze(-2) / self._lengthscale  # (b, d)
        ks, slope = self._k_and_slope(z, self._x)  # (b, n) each
        mean = self._shift + self._scale * (self._const + (ks @ self._alpha).squeeze(-1))
        v = ks @ self._linv_t
        var_std = self._outputscale - (v * v).sum(-1)
        var = self._scale**2 * var_std.clamp_min(1e-12)
        sigma = var.clamp_min(1e-12).sqrt()

        def backward(d_mean: torch.Tensor, d_sigma: torch.Tensor) -> torch.Tensor:
            # d sigma / d var_std, zero where a clamp is active (as autograd's clamp_min)
            live = (var_std >= 1e-12) & (var >= 1e-12)
            d_var_std = torch.where(live, d_sigma * self._scale**2 / (2 * sigma), 0.0)
            # d/d ks of mean (scale * alpha) and of var_std (-2 L^-T v)
            g = ((d_mean * self._scale).unsqueeze(-1) * self._alpha.squeeze(-1)
                 - 2 * d_var_std.unsqueeze(-1) * (v @ self._linv_t.T))
            h = g * slope  # d ks_ij / d z_i = slope_ij (x_j - z_i)
            dz = h @ self._x - h.sum(-1, keepdim=True) * z
            return (dz / self._lengthscale).unsqueeze(-2).to(X)

        return mean, sigma, backward


class _Q1Acquisition(torch.autograd.Function):
    """Value of a lean acquisition with its derivative computed by hand (see
    :meth:`CachedPosteriorGP._q1_parts`), so ``optimize_acqf``'s autograd call is one
    multiplication."""

    @staticmethod
    def forward(ctx: Any, X: torch.Tensor, acq: Any) -> torch.Tensor:  # type: ignore[override]
        mean, sigma, backward = acq.model._q1_parts(X)
        value, d_mean, d_sigma = acq._value_and_partials(mean, sigma)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(backward(d_mean, d_sigma))
        return value

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (dx,) = ctx.saved_tensors
        return grad_out.reshape(*grad_out.shape, 1, 1) * dx, None


class _LeanAnalytic(AcquisitionFunction):
    """A q=1 analytic acquisition on :class:`CachedPosteriorGP` that skips BoTorch's
    posterior objects and autograd.

    Why this exists: with the cached posterior, one LogEI evaluation plus its gradient in
    ``optimize_acqf`` still costs ~1.3 ms on 50 points (measured), most of it building
    ``MultivariateNormal`` / ``GPyTorchPosterior`` objects and autograd's bookkeeping of
    small operations, not arithmetic. The mean and variance of a single point are two matrix
    products, so they and their derivatives are computed directly; the acquisition formula
    is BoTorch's own (``_log_ei_helper``), so the values equal ``LogExpectedImprovement`` /
    ``UpperConfidenceBound`` on the same GP (``tests/optimizers/test_bo.py``).
    """

    def __init__(self, model: CachedPosteriorGP) -> None:
        super().__init__(model)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if X.shape[-2] != 1:
            raise ValueError(f"expected q=1 points of shape (b) x 1 x d, got {tuple(X.shape)}")
        return _Q1Acquisition.apply(X, self)

    def _value_and_partials(
        self, mean: torch.Tensor, sigma: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class LeanLogEI(_LeanAnalytic):
    """BoTorch's ``LogExpectedImprovement(model, best_f, maximize=True)``, q=1."""

    def __init__(self, model: CachedPosteriorGP, best_f: float) -> None:
        super().__init__(model)
        self.best_f = float(best_f)

    def _value_and_partials(
        self, mean: torch.Tensor, sigma: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        u = (mean - self.best_f) / sigma
        log_h = _log_ei_helper(u)  # log(phi(u) + u Phi(u)), BoTorch's careful version
        # d log_h / du = Phi(u) / (phi(u) + u Phi(u)), in logs to stay finite for u << 0
        r = torch.exp(log_ndtr(u) - log_h)
        return log_h + sigma.log(), r / sigma, (1 - r * u) / sigma


class LeanUCB(_LeanAnalytic):
    """BoTorch's ``UpperConfidenceBound(model, beta, maximize=True)``, q=1."""

    def __init__(self, model: CachedPosteriorGP, beta: float) -> None:
        super().__init__(model)
        self.beta = float(beta)

    def _value_and_partials(
        self, mean: torch.Tensor, sigma: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        root = self.beta**0.5
        return mean + root * sigma, torch.ones_like(mean), torch.full_like(sigma, root)


def optimize_lean(
    acq: _LeanAnalytic, starts: torch.Tensor, *, maxiter: int = 2000
) -> torch.Tensor:
    """Maximize a lean acquisition over the unit cube from ``starts`` (``r x 1 x d``) with
    BoTorch's batched L-BFGS-B, as ``optimize_acqf`` does after choosing its starting points
    (same defaults: ``maxiter`` 2000, scipy's tolerances), and return the best end point
    (``1 x d``).

    Why not ``optimize_acqf`` itself: each of its ~30-40 evaluations per suggestion wraps the
    acquisition in numpy/torch conversions, ``fix_features`` and an autograd pass, which cost
    more than the lean acquisition's arithmetic on a few hundred points (measured,
    ``benchmarks/bo_cost.py``). Here the value and gradient come straight from
    :meth:`CachedPosteriorGP._q1_parts`; the iterates are the same (``test_bo.py``).
    """
    from botorch.optim.batched_lbfgs_b import fmin_l_bfgs_b_batched

    d = starts.shape[-1]
    model = acq.model

    def func(x: Any, batch_indices: Any = None) -> tuple[Any, Any]:
        X = torch.from_numpy(x).reshape(-1, 1, d)
        mean, sigma, backward = model._q1_parts(X)
        value, d_mean, d_sigma = acq._value_and_partials(mean, sigma)
        grad = backward(d_mean, d_sigma).reshape(-1, d)
        return (-value).numpy(), (-grad).numpy()

    x0 = starts.detach().reshape(-1, d).clamp(0.0, 1.0).numpy().astype("float64")
    xs, _, _ = fmin_l_bfgs_b_batched(func, x0=x0, bounds=[(0.0, 1.0)] * d, maxiter=maxiter,
                                     pass_batch_indices=True)
    cands = torch.as_tensor(xs, dtype=torch.float64).clamp(0.0, 1.0).reshape(-1, 1, d)
    with torch.no_grad():
        values = acq(cands)
    return cands[int(torch.argmax(values))]
