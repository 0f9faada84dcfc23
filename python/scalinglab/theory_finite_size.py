"""The leading finite-size (O(1/N), O(1/P)) correction that the DMFT of :mod:`scalinglab.theory`
drops, for gradient flow with one finite side (N finite and P = inf, or P finite and N = inf).

Used through ``finite_size="leading"`` of :func:`scalinglab.theory.learning_curve_theory` and
:func:`scalinglab.theory.static_loss`; the derivation, its checks and the validity table are in
``docs/theory-finite-size.md``. The computation is in the compiled core
(``cpp/src/theory_finite_size.cpp``), inside the DMFT's loop over times and at the DMFT's own
Talbot nodes and renormalised ridge kappa(s); this module only adapts arrays.

Why the DMFT misses it: the DMFT is the deterministic equivalent of the resolvents of the
sample covariances B = A^T A / N and Sigma_hat = Psi^T Psi / P. For *real* Gaussian matrices the
expected resolvent carries, besides the deterministic equivalent, a term of relative order 1/n
(n = N or P) that is absent for complex Gaussian matrices (it is the X^T term of the Wishart
moment E[B X B] = X + (X^T + tr(X) I)/N). For power-law spectra with a finite trace it is as
large as the finite-n part the DMFT keeps.

One resolvent (Gaussian integration by parts, exact to O(1/n^2)). Let S = X^T X / n, rows of X
i.i.d. N(0, Lambda), Q(s) = (S + s)^-1, kappa(s) the root of s = kappa (1 - df(kappa)/n),
z_k = 1/(lambda_k + kappa), R = s/kappa, D_n = ds/dkappa = R + kappa sum_k lambda_k z_k^2 / n. For
any weights a_k^2::

    E a^T Q(s) a = sum a^2 z / R + Delta_g(s) + O(1/n^2),
    Delta_g(s) = [sum a^2 lambda^2 z^3 - kappa (sum lambda^2 z^3)(sum a^2 lambda z^2)/(n D_n)]
                 / (n R D_n).

Two resolvents: E a^T Q1 Lambda Q2 a follows from the exact identity::

    E[Q1 S Q2] = E[(1 - tau2) Q1 Lambda Q2] - E[tr(Lambda Q1)/n Q1 S Q2]
                 - E[Q1 Lambda Q1 S Q2 + Q1 Lambda Q2 S Q2]/n,  tau = tr(S Q)/n,

in which Q1 S Q2 and the two last products reduce to one resolvent and to the leading-order
two-point function by Q1 Q2 = (Q1 - Q2)/(s2 - s1).

Numerical range: the P-side test correction is a 2-D inversion of divided differences that
cancel at very early times (t << 1/lambda_1) and very late times (t kappa_c >> 1e3); the core
estimates the round-off, and times where it exceeds 1% of the correction are returned as NaN
with a :class:`~scalinglab.theory.FiniteSizeWarning` (for (2, 1.5), M = 1500: reliable for
t in [0.01, 1e6] at P = 25 and [0.01, 1e7] at P = 100).
"""

from __future__ import annotations

import math

import numpy as np

from scalinglab._native import _core

_engine = _core.theory_finite_size

# The P-side test correction is reported as NaN where its estimated round-off exceeds this
# fraction of it (or of 1e-8 x the initial loss, for corrections that pass through 0).
_ROUNDOFF_TOLERANCE = 0.01


def corrected_curve(modes, N: float, P: float, times: np.ndarray, learning_rate: float = 1.0,
                    talbot_nodes: int = 16, n_threads: int = 0):
    """DMFT losses and their leading finite-size corrections in one pass over times.

    Parameters
    ----------
    modes : scalinglab.theory._ModeArrays
        Spectrum lambda_k, target power lambda_k w*_k^2, multiplicities, noise sigma^2.
    N, P : float
        One finite (the other inf), or both finite (N below the number of modes).
    times : ndarray, shape (T,)
        Gradient-flow times >= 0 (time scale learning_rate * t).

    Returns
    -------
    dmft_test, dmft_train, test_correction, train_correction : ndarray, shape (T,)
        test_correction is NaN where its round-off estimate exceeds 1% of it (see the module
        notes); ``unreliable`` (bool, shape (T,)) marks those times.
    unreliable : ndarray of bool, shape (T,)
    """
    test, train, d_test, d_train, roundoff = _engine.learning_curve(
        modes.spectrum, modes.power, modes.multiplicity, float(N), float(P),
        np.ascontiguousarray(times, dtype=np.float64), learning_rate=learning_rate,
        noise=modes.noise, talbot_nodes=talbot_nodes, n_threads=n_threads)
    floor = 1e-8 * float(np.sum(modes.power * (modes.multiplicity if modes.multiplicity.size
                                                 else 1.0)))
    unreliable = roundoff > _ROUNDOFF_TOLERANCE * np.maximum(np.abs(d_test), floor)
    d_test = np.where(unreliable, np.nan, d_test)
    return test, train, d_test, d_train, unreliable


def width_correction(modes, N: float, times: np.ndarray, nodes: int = 16) -> np.ndarray:
    """O(1/N) correction of the test loss (and of the train loss) at P = inf, gradient flow.

    L(t) = u^T exp(-2 t G) u with G = Lambda^1/2 B Lambda^1/2 and u_k^2 = lambda_k w*_k^2: a
    one-resolvent form, inverted at time 2t on the DMFT's Talbot contour of time t. Shape (T,).
    """
    return corrected_curve(modes, N, math.inf, times, talbot_nodes=nodes)[2]


def sample_correction(modes, P: float, times: np.ndarray, nodes: int = 16):
    """O(1/P) corrections (test, train) at N = inf, gradient flow, label noise included.

    Test: E w*^T e^{-t S} Lambda e^{-t S} w* + noise, a two-resolvent form (2-D Talbot, NaN where
    numerically unreliable); train: E w*^T S e^{-2tS} w* + (sigma^2/P) tr e^{-2tK} (1-D at 2t).
    Shapes (T,), (T,).
    """
    out = corrected_curve(modes, math.inf, P, times, talbot_nodes=nodes)
    return out[2], out[3]


def width_static(modes, N: float, ridge: float) -> float:
    """O(1/N) correction of the ridge / t = inf test loss at P = inf (train = test + sigma^2).

    Ridge 0 with N below the rank: the limit s Delta_g(s) as s -> 0, which is explicit,
    [sum p lambda^2 z^3 - (sum lambda^2 z^3)(sum p lambda z^2)/D2] / D2 at kappa = kappa_c."""
    return _engine.static(modes.spectrum, modes.power, modes.multiplicity, float(N), math.inf,
                          float(ridge), modes.noise)[0]


def sample_static(modes, P: float, ridge: float):
    """O(1/P) corrections (test, train) of the ridge / t = inf losses at N = inf.

    Ridge 0: Richardson extrapolation from ridges h, 2h, 4h with h = 1e-2 kappa_c (the corrected
    losses are analytic in the ridge at 0 while P is below the rank, so the error is O(h^3));
    P at or above the number of modes raises ValueError."""
    return _engine.static(modes.spectrum, modes.power, modes.multiplicity, math.inf, float(P),
                          float(ridge), modes.noise)


def static_grid(modes, grid_n, grid_p, grid_r, kappa):
    """(test_correction, train_correction), shapes (G,), of the static losses at every grid point
    (one or both sides finite; zeros where neither is), in one compiled call. Both finite at
    ridge 0: zeros at N = P (the interpolation peak) and a zero train correction for P < N.

    kappa (G,): the DMFT's renormalised ridge at each point (``ridge_errors``), reused at
    ridge > 0; NaN where it must be solved again (e.g. clamped ridges). Equal to
    :func:`width_static` / :func:`sample_static` point by point."""
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (grid_n, grid_p, grid_r, kappa)]
    return _engine.static_grid(modes.spectrum, modes.power, modes.multiplicity, *arrays,
                               noise=modes.noise)


def resolvent_expansion(spectrum, weights, n: float, s: complex):
    """(deterministic equivalent, O(1/n) correction) of E a^T (S + s)^-1 a, a_k^2 = weights_k,
    S the sample covariance of n draws of N(0, diag spectrum). Complex scalars."""
    return _engine.resolvent_expansion(np.ascontiguousarray(spectrum, dtype=np.float64),
                                       np.ascontiguousarray(weights, dtype=np.float64),
                                       np.empty(0), float(n), complex(s))
