"""Space-filling designs in the unit cube (scipy.stats.qmc)."""

from __future__ import annotations

import numpy as np

__all__ = ["latin_hypercube", "sobol"]


def latin_hypercube(n: int, dim: int, seed: int | None) -> np.ndarray:
    """``n`` Latin hypercube points in [0, 1]^dim, shape ``(n, dim)``."""
    from scipy.stats import qmc

    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return qmc.LatinHypercube(d=dim, seed=seed).random(n)


def sobol(n: int, dim: int, seed: int | None) -> np.ndarray:
    """``n`` scrambled Sobol points in [0, 1]^dim, shape ``(n, dim)``."""
    from scipy.stats import qmc

    return qmc.Sobol(d=dim, scramble=True, seed=seed).random(n)
