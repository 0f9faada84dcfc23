"""Analytic kernels and the infinite-width limits of random features.

Each function returns the float64 Gram matrix K[i, k] = k(x_i, y_k), shape (n, m), for X (n, d)
and Y (m, d); ``Y=None`` means Y = X (then K is exactly symmetric, computed with syrk). The
expectations are over w ~ N(0, I_d):

* :func:`linear_kernel`: x . y.
* :func:`rbf_kernel`: exp(-|x - y|^2 / (2 lengthscale^2)) = E_w,b[2 cos(w.x/l + b) cos(w.y/l + b)]
  (Rahimi & Recht, NIPS 2007).
* :func:`arccos_kernel`: E[Theta(w.x) Theta(w.y) (w.x)^n (w.y)^n] = |x|^n |y|^n J_n(theta) / (2 pi),
  theta the angle between x and y, J_0 = pi - theta, J_1 = sin theta + (pi - theta) cos theta,
  J_2 = 3 sin theta cos theta + (pi - theta)(1 + 2 cos^2 theta). This is half of the arc-cosine
  kernel k_n of Cho & Saul (NIPS 2009, eqs. 1-3): it is exactly E[relu(w.x) relu(w.y)] for n = 1.
* :func:`arcsin_kernel`: E[erf(w.x) erf(w.y)] = (2/pi) arcsin(2 x.y / sqrt((1 + 2|x|^2)(1 + 2|y|^2)))
  (Williams, "Computing with infinite networks", NIPS 1997, with input covariance I).
* :func:`infinite_width_kernel`: the N -> infinity limit of ``RandomFeatures(d, N, activation,
  lengthscale=l).gram``, i.e. the kernels above evaluated at u = x / (l sqrt(d)):

  ========  =============================================================
  linear    x . y / (d l^2)
  relu      arccos_kernel(u_x, u_y, degree=1)
  erf       arcsin_kernel(u_x, u_y)
  cos       exp(-(|u_x|^2 + |u_y|^2)/2) cosh(u_x . u_y)
  sin       exp(-(|u_x|^2 + |u_y|^2)/2) sinh(u_x . u_y)
  fourier   rbf_kernel(x, y, lengthscale=l sqrt(d)) = exp(-|x - y|^2 / (2 d l^2))
  tanh      no closed form: ValueError
  ========  =============================================================

  (cos and sin: E[cos a cos b] = (E cos(a - b) + E cos(a + b)) / 2 with E cos(g) = exp(-var(g)/2)
  for a centred Gaussian g.)
"""

from __future__ import annotations

import numpy as np

from scalinglab._activations import ACTIVATIONS
from scalinglab._native import _core
from scalinglab._validation import (
    as_matrix,
    check_memory,
    finite_result,
    n_threads_arg,
    real_number,
)

ANALYTIC_ACTIVATIONS = ("linear", "relu", "erf", "cos", "sin", "fourier")
"""Activations whose infinite-width kernel has a closed form."""

__all__ = [
    "ANALYTIC_ACTIVATIONS",
    "arccos_kernel",
    "arcsin_kernel",
    "infinite_width_kernel",
    "linear_kernel",
    "rbf_kernel",
]


def _pair(X, Y):
    """Validated float64 (X, Y or None); Y = None (or X itself) selects the symmetric path."""
    symmetric = Y is None or Y is X
    X = as_matrix(X, "X", dtype=np.float64)
    if symmetric:
        check_memory(8.0 * X.shape[0] ** 2, "the kernel matrix", "X")
        return X, None
    Y = as_matrix(Y, "Y", dtype=np.float64, n_cols=X.shape[1])
    check_memory(8.0 * X.shape[0] * Y.shape[0], "the kernel matrix", "Y")
    return X, Y


def _finite(K: np.ndarray) -> np.ndarray:
    return finite_result(
        K, "X", "the kernel overflowed float64 (inf or NaN entries): the inputs are too large "
        "(|x|^2 or x . y exceeds 1.8e308); rescale X"
    )


def linear_kernel(X, Y=None, *, n_threads=0) -> np.ndarray:
    """K = X Y^T, shape (n, m).

    Parameters
    ----------
    X : array_like, shape (n, d)
    Y : array_like, shape (m, d), optional (default: X)
    n_threads : int
        BLAS threads (0 = all cores).
    """
    X, Y = _pair(X, Y)
    return _finite(_core.kernels.linear_kernel(X, Y, n_threads_arg(n_threads)))


def rbf_kernel(X, Y=None, *, lengthscale=1.0, n_threads=0) -> np.ndarray:
    """Gaussian (RBF) kernel exp(-|x - y|^2 / (2 lengthscale^2)), shape (n, m).

    Parameters
    ----------
    X : array_like, shape (n, d)
    Y : array_like, shape (m, d), optional (default: X)
    lengthscale : float
        Length scale l > 0, in the units of x.
    n_threads : int
        Threads (0 = all cores).
    """
    lengthscale = real_number(lengthscale, "lengthscale", minimum=0.0, strict=True)
    X, Y = _pair(X, Y)
    return _finite(_core.kernels.rbf_kernel(X, Y, lengthscale, n_threads_arg(n_threads)))


def arccos_kernel(X, Y=None, *, degree=1, n_threads=0) -> np.ndarray:
    """Arc-cosine kernel E_w[Theta(w.x) Theta(w.y) (w.x)^n (w.y)^n], w ~ N(0, I), shape (n, m).

    Equals |x|^n |y|^n J_n(theta) / (2 pi): half of Cho & Saul's k_n (NIPS 2009, eqs. 1-3), so
    that degree 1 is exactly E[relu(w.x) relu(w.y)] and degree 0 is P(w.x > 0, w.y > 0).
    A zero input gives 0 (Theta(0) = 0).

    Parameters
    ----------
    X : array_like, shape (n, d)
    Y : array_like, shape (m, d), optional (default: X)
    degree : {0, 1, 2}
    n_threads : int
        Threads (0 = all cores).
    """
    if isinstance(degree, (bool, np.bool_)) or not isinstance(degree, (int, np.integer)):
        raise TypeError(f"`degree`: expected an integer 0, 1 or 2, got {degree!r}")
    if degree not in (0, 1, 2):
        raise ValueError(f"`degree`: must be 0, 1 or 2, got {degree}")
    X, Y = _pair(X, Y)
    return _finite(_core.kernels.arccos_kernel(X, Y, int(degree), n_threads_arg(n_threads)))


def arcsin_kernel(X, Y=None, *, n_threads=0) -> np.ndarray:
    """Arcsine kernel E_w[erf(w.x) erf(w.y)], w ~ N(0, I), shape (n, m).

    (2/pi) arcsin(2 x.y / sqrt((1 + 2|x|^2)(1 + 2|y|^2))) (Williams, NIPS 1997).

    Parameters
    ----------
    X : array_like, shape (n, d)
    Y : array_like, shape (m, d), optional (default: X)
    n_threads : int
        Threads (0 = all cores).
    """
    X, Y = _pair(X, Y)
    return _finite(_core.kernels.arcsin_kernel(X, Y, n_threads_arg(n_threads)))


def infinite_width_kernel(activation, X, Y=None, *, lengthscale=1.0, n_threads=0) -> np.ndarray:
    """The N -> infinity limit of ``RandomFeatures(d, N, activation, lengthscale=...).gram(X, Y)``.

    Parameters
    ----------
    activation : str
        One of ``linear``, ``relu``, ``erf``, ``cos``, ``sin``, ``fourier`` (``tanh`` has no
        closed form and raises ValueError).
    X : array_like, shape (n, d)
    Y : array_like, shape (m, d), optional (default: X)
    lengthscale : float
        The random features' length scale l > 0 (pre-activations w.x / (l sqrt(d))).
    n_threads : int
        Threads (0 = all cores).

    Returns
    -------
    ndarray, shape (n, m), float64
        E_w[sigma(w.u_x + b) sigma(w.u_y + b)] with u = x / (l sqrt(d)); the table in the module
        docstring lists the closed forms.
    """
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(
            f"`activation`: expected one of {', '.join(ANALYTIC_ACTIVATIONS)}, got {activation!r}"
        )
    if activation not in ANALYTIC_ACTIVATIONS:
        raise ValueError(
            f"`activation`: {activation!r} has no closed-form infinite-width kernel; the ones with "
            f"one are {', '.join(ANALYTIC_ACTIVATIONS)} (estimate it with a large "
            "RandomFeatures(...).gram instead)"
        )
    lengthscale = real_number(lengthscale, "lengthscale", minimum=0.0, strict=True)
    X, Y = _pair(X, Y)
    return _finite(_core.kernels.infinite_width_kernel(activation, X, Y, lengthscale, n_threads_arg(n_threads)))
