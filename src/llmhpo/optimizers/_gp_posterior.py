"""The posterior of a fitted ``SingleTaskGP`` from a Cholesky factor cached once (imported
lazily: it imports torch, gpytorch and BoTorch at module level).

Why this exists: BoTorch's own ``SingleTaskGP.posterior`` goes through gpytorch's lazy
kernel tensors, prediction strategy and outcome-transform wrappers, about 2 ms of Python per
call and per backward pass on 50 points (measured, ``benchmarks/bo_cost.py``), and
``optimize_acqf`` calls it 30-60 times per suggestion. The math is a kernel row and a
triangular solve, so this model computes it directly from the fitted GP's lengthscales,
noise, constant mean and ``Standardize`` statistics: only the RBF kernel (BoTorch's default,
what ``fit_gp`` builds) and the predictive equations are written out. It is
a BoTorch :class:`~botorch.models.model.Model`, so BoTorch's acquisition functions and
``optimize_acqf`` use it unchanged; ``tests/optimizers/test_bo.py`` checks that it matches
``SingleTaskGP.posterior``.
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.models.model import Model
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.distributions import MultivariateNormal

__all__ = ["CachedPosteriorGP"]


def _rbf(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``exp(-|a_i - b_j|^2 / 2)`` for lengthscale-scaled points, shapes ``(..., m, d)`` and
    ``(..., n, d)`` to ``(..., m, n)`` (gpytorch's ``RBFKernel`` without its lazy tensors)."""
    cross = a @ b.transpose(-1, -2)
    sq = (a * a).sum(-1, keepdim=True) + (b * b).sum(-1).unsqueeze(-2) - 2 * cross
    return torch.exp(-0.5 * sq.clamp_min(0.0))


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
            kernel = gp.covar_module
            if type(kernel).__name__ != "RBFKernel" or getattr(kernel, "active_dims", None):
                raise NotImplementedError(f"expected an RBF kernel, got {kernel!r}")
            self._lengthscale = kernel.lengthscale.detach().reshape(1, -1)  # (1, d)
            self._const = gp.mean_module.constant.detach().reshape(())
            x = x / self._lengthscale
            k = _rbf(x, x)
            noise = gp.likelihood.noise.detach().reshape(-1)  # one value, or one per point
            k = k + torch.diag(noise.expand(len(x)))
            chol, info = torch.linalg.cholesky_ex(k)
            jitter = 1e-9
            while int(info) != 0 and jitter < 1e-2:  # as gpytorch's psd_safe_cholesky
                eye = torch.eye(len(x), dtype=x.dtype)
                chol, info = torch.linalg.cholesky_ex(k + jitter * eye)
                jitter *= 10
            self._x, self._chol = x, chol
            self._alpha = torch.cholesky_solve((y - self._const).unsqueeze(-1), chol)  # (n, 1)
            tf = gp.outcome_transform
            self._shift = tf.means.detach().reshape(())
            self._scale = tf.stdvs.detach().reshape(())

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
        ks = _rbf(z, self._x)  # (b, q, n)
        mean = self._const + (ks @ self._alpha).squeeze(-1)  # (b, q)
        v = torch.linalg.solve_triangular(self._chol, ks.transpose(-1, -2), upper=False)
        cov = _rbf(z, z) - v.transpose(-1, -2) @ v  # (b, q, q)
        if cov.shape[-1] == 1:  # rounding can make a variance at a data point negative
            cov = cov.clamp_min(1e-12)
        mvn = MultivariateNormal(self._shift + self._scale * mean, self._scale**2 * cov,
                                 validate_args=False)
        post = GPyTorchPosterior(mvn)
        return posterior_transform(post) if posterior_transform is not None else post
