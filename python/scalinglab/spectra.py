"""Kernel eigenspectra and their power-law exponents.

The eigenvalues of ``K / P`` for a Gram ``K`` of P samples estimate the eigenvalues of the
kernel's integral operator (Nystrom; Koltchinskii & Gine 2000), which in the scaling-law models
decay as a power law ``lambda_k ~ k^-b`` (the capacity exponent b of Bordelon, Atanasov &
Pehlevan 2024, arXiv 2402.01092; 2 alpha in Paquette et al. 2024, arXiv 2405.15074).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalinglab._native import _core
from scalinglab._progress import progress_reporter
from scalinglab._rng import seed_from_rng
from scalinglab._validation import (
    as_matrix,
    check_memory,
    n_threads_arg,
    positive_int,
    real_array,
    real_number,
)
from scalinglab.fit import least_squares_line
from scalinglab.solvers import _eigh

__all__ = [
    "SpectrumExponent",
    "TopEigenvalues",
    "kernel_spectrum",
    "spectrum_exponent",
    "top_eigenvalues",
]


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


# ---- matrix-free top-k spectrum of a random-feature Gram -----------------------------------------


@dataclass(frozen=True, eq=False)
class TopEigenvalues:
    """The top-k eigenvalues of a random-feature Gram and how the iteration ended.

    Attributes
    ----------
    eigenvalues : ndarray, shape (k,)
        Descending Ritz values of ``K = Phi Phi^T / N`` (divided by P when ``normalize``).
    vectors : ndarray, shape (P, k) or None
        Orthonormal Ritz vectors (when requested).
    residuals : ndarray, shape (k,)
        ``|K v_i - theta_i v_i|`` in the units of ``eigenvalues``. The eigenvalue error is about
        ``residual^2 / gap`` (Rayleigh-Ritz), far smaller than the residual itself.
    converged : bool
        Every requested pair met ``residual_i <= tol * max(theta_i, 1e-8 theta_1)``.
    status : str
        ``"converged"`` or ``"max_iterations"`` (non-convergence is reported, never raised).
    n_converged : int
        How many of the k pairs meet the tolerance (the leading ones converge first).
    iterations : int
        Products ``K Q`` done, i.e. passes over the N features.
    block : int
        Width b of the iterated block (k + oversampling).
    tol : float
    """

    eigenvalues: np.ndarray
    vectors: np.ndarray | None
    residuals: np.ndarray
    converged: bool
    status: str
    n_converged: int
    iterations: int
    block: int
    tol: float

    def __str__(self) -> str:
        return (f"top {self.eigenvalues.size} eigenvalues: {self.status} after {self.iterations} "
                f"passes ({self.n_converged}/{self.eigenvalues.size} pairs within tol "
                f"{self.tol:g}, block {self.block})")


def top_eigenvalues(features, X, k: int, *, normalize: bool = True, return_vectors: bool = False,
                    oversample: int | None = None, tol: float = 1e-6, max_iterations: int = 100,
                    rng=0, block_size: int = 0, n_threads: int = 0,
                    progress=None) -> TopEigenvalues:
    """Top-k eigenpairs of ``K = Phi(X) Phi(X)^T / N`` without ever forming K.

    Randomized block subspace iteration with a Rayleigh-Ritz step after every product (Halko,
    Martinsson & Tropp 2011, arXiv 0909.4061, Alg. 4.4), in the compiled core: each product
    ``K Q = Phi (Phi^T Q) / N`` regenerates the N features block by block from their Philox
    streams, so memory is O(P b + P d + P B) (b = k + oversampling, B the feature block), not
    O(P^2); time per pass is about 4 P N b flops plus the feature generation.

    Parameters
    ----------
    features : scalinglab.RandomFeatures
        The feature map (all its ``n_features`` are used). Computed in float64 whatever its dtype.
    X : array_like, shape (P, d)
        Inputs.
    k : int
        Number of eigenpairs, 1 <= k <= P.
    normalize : bool
        Divide the eigenvalues (and residuals) by P, as :func:`kernel_spectrum` does, so that
        they estimate the kernel operator's eigenvalues.
    return_vectors : bool
        Also return the (P, k) Ritz vectors.
    oversample : int, optional
        Extra block columns (default ``max(16, k // 4)``). The pair of index i converges like
        ``(lambda_{b+1} / lambda_i)^q`` in q passes: more oversampling, fewer passes.
    tol : float
        Residual tolerance relative to each eigenvalue (floor 1e-8 of the largest).
    max_iterations : int
        Passes at most; if reached, ``status == "max_iterations"`` and the residuals say how far
        each pair got.
    rng : int or numpy.random.Generator
        Key of the random start block (Philox stream ``TOPK``); the same int, the same result.
    block_size : int
        Features per streamed block (0 = automatic, about 64 MiB of features).
    n_threads : int
        Threads (0 = all cores).
    progress : None or bool
        A progress bar over the passes (None: automatic for long runs).

    Returns
    -------
    TopEigenvalues
    """
    from scalinglab.features import RandomFeatures

    if not isinstance(features, RandomFeatures):
        raise TypeError(f"`features`: expected a scalinglab.RandomFeatures, got "
                        f"{type(features).__name__}")
    X = as_matrix(X, "X", dtype=np.float64, n_cols=features.d)
    P = X.shape[0]
    k = positive_int(k, "k")
    if k > P:
        raise ValueError(f"`k`: must be <= the number of rows P = {P}, got {k}")
    if oversample is None:
        oversample = -1
    else:
        oversample = positive_int(oversample, "oversample", minimum=0)
    tol = real_number(tol, "tol", minimum=0.0, strict=True)
    max_iterations = positive_int(max_iterations, "max_iterations")
    block_size = positive_int(block_size, "block_size", minimum=0)
    n_threads = n_threads_arg(n_threads)
    width = min(P, k + (oversample if oversample >= 0 else max(16, k // 4)))
    feature_block = block_size or _core.features.default_block_size(P, features.d, 8)
    check_memory(8.0 * (3 * P * width + P * feature_block + P * k * return_vectors),
                 "the iterated blocks and the feature block", "k")
    work = float(max_iterations) * features.n_features * P * width
    with progress_reporter(progress, 1.0, desc="top-k spectrum", long=work > 2e11) as bar:
        out = _core.topk.feature_gram(features._map, X, k, oversample, max_iterations, tol,
                                     return_vectors, seed_from_rng(rng), block_size, n_threads,
                                     bar.stage(1.0))
    scale = 1.0 / P if normalize else 1.0
    return TopEigenvalues(
        eigenvalues=np.asarray(out["eigenvalues"]) * scale,
        vectors=None if out["vectors"] is None else np.asarray(out["vectors"]),
        residuals=np.asarray(out["residuals"]) * scale,
        converged=out["status"] == "converged",
        status=str(out["status"]),
        n_converged=int(out["n_converged"]),
        iterations=int(out["iterations"]),
        block=int(out["block"]),
        tol=tol,
    )
