"""Kernel eigenspectra and their power-law exponents.

The eigenvalues of ``K / P`` for a Gram ``K`` of P samples estimate the eigenvalues of the
kernel's integral operator (Nystrom; Koltchinskii & Gine 2000), which in the scaling-law models
decay as a power law ``lambda_k ~ k^-b`` (the capacity exponent b of Bordelon, Atanasov &
Pehlevan 2024, arXiv 2402.01092; 2 alpha in Paquette et al. 2024, arXiv 2405.15074).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalinglab._validation import positive_int, real_array
from scalinglab.fit import least_squares_line
from scalinglab.solvers import _eigh

__all__ = ["SpectrumExponent", "kernel_spectrum", "spectrum_exponent"]


def kernel_spectrum(gram, *, normalize: bool = True, n_threads: int = 0) -> np.ndarray:
    """Eigenvalues of a Gram matrix, largest first (LAPACK ``?syevd``, values only).

    Parameters
    ----------
    gram : array_like, shape (P, P)
        Symmetric Gram matrix, e.g. ``RandomFeatures.gram(X)`` (``Phi Phi^T / N``).
    normalize : bool
        Divide by P, so that the values estimate the integral operator's eigenvalues
        (``sum_k lambda_k = trace(K) / P`` = the mean of k(x, x)).
    n_threads : int
        LAPACK threads (0 = all cores).

    Returns
    -------
    ndarray, shape (P,)
        Descending eigenvalues (rank k = 1, 2, ... at index k - 1). Tiny negative values are
        rounding noise of a positive semi-definite Gram.
    """
    values = _eigh(gram, "gram", True, n_threads)[::-1].copy()
    return values / values.size if normalize else values


@dataclass(frozen=True)
class SpectrumExponent:
    """Power-law fit ``lambda_k = prefactor * k^-exponent`` over ranks [k_min, k_max].

    Attributes
    ----------
    exponent : float
        b.
    stderr : float
        Total one-sigma error: ``sqrt(statistical_stderr^2 + window_stderr^2)``.
    statistical_stderr : float
        Least-squares error of the log-log slope from the scatter about the line.
    window_stderr : float
        Half the difference of the slopes fitted on the lower and upper halves (in log k) of
        the window, in excess of what their own scatter explains (added in quadrature): the
        curvature that a single power law does not describe. 0 when a half has < 3 points.
    prefactor : float
    k_min, k_max : int
        The rank window (1-based, inclusive).
    n_points : int
        Number of (log-spaced) ranks used.
    """

    exponent: float
    stderr: float
    statistical_stderr: float
    window_stderr: float
    prefactor: float
    k_min: int
    k_max: int
    n_points: int

    def __str__(self) -> str:
        return (f"lambda_k ~ k^-b over ranks {self.k_min}..{self.k_max}: "
                f"b = {self.exponent:.4g} +- {self.stderr:.2g}")


def _slope(log_k, log_values):
    """OLS of log lambda = a - b log k: (b, a, standard error of b)."""
    slope, intercept, stderr = least_squares_line(log_k, log_values)
    return -slope, intercept, stderr


def spectrum_exponent(eigenvalues, *, k_min: int = 1, k_max: int | None = None,
                      n_points: int = 40) -> SpectrumExponent:
    """Estimate b in ``lambda_k ~ k^-b`` from a spectrum, with a standard error.

    The slope of log lambda_k against log k is fitted by least squares at ``n_points``
    log-spaced ranks, so that every decade of ranks weighs the same (all ranks would let the
    last decade dominate).

    Parameters
    ----------
    eigenvalues : array_like, shape (n,)
        A spectrum; sorted descending here (e.g. :func:`kernel_spectrum`).
    k_min, k_max : int
        Rank window (1-based, inclusive). Default k_max: n // 10, the ranks where the
        eigenvalues of a P-sample Gram track the population's (sample eigenvalues at ranks
        comparable to P are inflated, which flattens the slope).
    n_points : int
        Number of log-spaced ranks (duplicates after rounding are merged).

    Returns
    -------
    SpectrumExponent

    Notes
    -----
    The error describes the fit to the spectrum given. The eigenvalues of a P-sample Gram
    differ from the population's by relative amounts of order k / P at rank k (to first order
    lambda_hat_k / lambda_k - 1 ~ (k / P)(2 - b)/(b - 1) for Gaussian data), which flattens
    the fitted slope when b < 2: with k_max = P / 10 and b = 1.5 the estimate is low by
    about 0.02-0.03. Keep k_max << P, or compare fits at two values of P.
    """
    values = np.asarray(real_array(eigenvalues, "eigenvalues"), dtype=float)
    if values.ndim != 1:
        raise ValueError(f"`eigenvalues`: expected a 1-D array, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("`eigenvalues`: contains NaN or infinity")
    values = np.sort(values)[::-1]
    k_min = positive_int(k_min, "k_min")
    if k_max is None:
        k_max = max(values.size // 10, min(values.size, k_min + 2))
    k_max = positive_int(k_max, "k_max")
    if k_max <= k_min:
        raise ValueError(f"`k_max`: must be > k_min = {k_min}, got {k_max}")
    if k_max > values.size:
        raise ValueError(
            f"`k_max`: must be <= the number of eigenvalues {values.size}, got {k_max}"
        )
    n_points = positive_int(n_points, "n_points", minimum=3)
    ranks = np.unique(np.round(np.geomspace(k_min, k_max, n_points)).astype(np.int64))
    if ranks.size < 3:
        raise ValueError(
            f"`k_max`: the window [{k_min}, {k_max}] has fewer than 3 distinct ranks"
        )
    selected = values[ranks - 1]
    if (selected <= 0).any():
        first = int(ranks[np.argmax(selected <= 0)])
        raise ValueError(
            f"`k_max`: eigenvalue at rank {first} is <= 0 (rounding noise or rank deficiency); "
            "choose a smaller k_max"
        )
    log_k, log_values = np.log(ranks.astype(float)), np.log(selected)
    exponent, intercept, statistical = _slope(log_k, log_values)
    middle = 0.5 * (log_k[0] + log_k[-1])
    lower, upper = log_k <= middle, log_k >= middle
    window = 0.0
    if lower.sum() >= 3 and upper.sum() >= 3:
        b_lower, _, se_lower = _slope(log_k[lower], log_values[lower])
        b_upper, _, se_upper = _slope(log_k[upper], log_values[upper])
        # Only the part of the half-difference beyond what the scatter alone would produce.
        excess = 0.25 * ((b_lower - b_upper) ** 2 - se_lower**2 - se_upper**2)
        window = float(np.sqrt(max(excess, 0.0)))
    return SpectrumExponent(
        exponent=exponent,
        stderr=float(np.hypot(statistical, window)),
        statistical_stderr=statistical,
        window_stderr=window,
        prefactor=float(np.exp(intercept)),
        k_min=int(ranks[0]),
        k_max=int(ranks[-1]),
        n_points=int(ranks.size),
    )
