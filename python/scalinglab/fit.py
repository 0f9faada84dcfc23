"""Power-law fits of measured curves: ``L(x) = c x^-alpha`` and ``L(x) = E + c x^-alpha``.

These are the forms of a scaling law in one resource x (model size N, data P, time t or
compute), with E the irreducible loss (Kaplan et al. 2020, arXiv 2001.08361; Hoffmann et al.
2022, arXiv 2203.15556, eq. 2, in one variable).

Error models
------------
* ``sigma=None`` (default): multiplicative noise, ``log y_i = log L(x_i) + e_i`` with
  ``e_i ~ N(0, s^2)`` and s estimated from the residuals. Natural for losses spanning decades.
* ``sigma`` given: additive noise with known standard deviations, ``y_i = L(x_i) + sigma_i z_i``
  (``absolute_sigma`` in scipy's words: the covariance is not rescaled by the residuals).

Standard errors come from the Gauss-Newton covariance ``s^2 (J^T J)^{-1}`` at the optimum (for
the fit without offset in log space this is exactly ordinary least squares); ``n_bootstrap > 0``
adds residual-bootstrap percentile intervals, which do not rely on linearising the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scalinglab._rng import as_generator
from scalinglab._validation import positive_int, real_array, real_number

__all__ = ["PowerLawFit", "fit_power_law"]

_PARAMETERS_WITHOUT_OFFSET = ("exponent", "prefactor")
_PARAMETERS_WITH_OFFSET = ("exponent", "prefactor", "offset")


@dataclass(frozen=True, eq=False)
class PowerLawFit:
    """A fitted ``L(x) = offset + prefactor * x**(-exponent)``.

    Attributes
    ----------
    exponent, prefactor, offset : float
        alpha, c and E (E = 0 exactly when fitted without offset).
    exponent_stderr, prefactor_stderr, offset_stderr : float
        One-standard-deviation errors from the linearised covariance (offset_stderr is 0 when
        fitted without offset).
    covariance : ndarray, shape (p, p)
        Covariance of (exponent, prefactor[, offset]).
    with_offset : bool
    error_model : {"log", "absolute"}
        Multiplicative noise with estimated scale, or additive noise with the given sigma.
    residual_scale : float
        Root-mean-square residual with n - p degrees of freedom (in log units for "log", in
        units of sigma for "absolute", where about 1 means the sigmas are consistent).
    n_points : int
    intervals : pandas.DataFrame or None
        Bootstrap percentile intervals (columns ``parameter``, ``lower``, ``upper``,
        ``bootstrap_stderr``) at ``confidence``, when n_bootstrap > 0.
    confidence : float
    """

    exponent: float
    prefactor: float
    offset: float
    exponent_stderr: float
    prefactor_stderr: float
    offset_stderr: float
    covariance: np.ndarray
    with_offset: bool
    error_model: str
    residual_scale: float
    n_points: int
    intervals: pd.DataFrame | None = field(default=None, repr=False)
    confidence: float = 0.95

    def __call__(self, x) -> np.ndarray:
        """L(x), the fitted curve."""
        x = np.asarray(x, dtype=float)
        return self.offset + self.prefactor * x ** (-self.exponent)

    def to_frame(self) -> pd.DataFrame:
        """One row per parameter: ``parameter``, ``value``, ``stderr`` (+ bootstrap columns)."""
        names = _PARAMETERS_WITH_OFFSET if self.with_offset else _PARAMETERS_WITHOUT_OFFSET
        table = pd.DataFrame({
            "parameter": list(names),
            "value": [getattr(self, name) for name in names],
            "stderr": [getattr(self, f"{name}_stderr") for name in names],
        })
        if self.intervals is not None:
            table = table.merge(self.intervals, on="parameter", how="left")
        return table

    def __str__(self) -> str:
        text = f"L(x) = c x^-alpha{' + E' if self.with_offset else ''}: "
        text += f"alpha = {self.exponent:.4g} +- {self.exponent_stderr:.2g}, "
        text += f"c = {self.prefactor:.4g} +- {self.prefactor_stderr:.2g}"
        if self.with_offset:
            text += f", E = {self.offset:.4g} +- {self.offset_stderr:.2g}"
        return text


# ---- model -------------------------------------------------------------------------------------


def _model(params, x, with_offset):
    """L(x) for params = (alpha, log c[, E])."""
    alpha, log_c = params[0], params[1]
    power = np.exp(log_c - alpha * np.log(x))
    return power + params[2] if with_offset else power


def _model_jacobian(params, x, with_offset):
    """dL/d(alpha, c[, E]), shape (n, p): the natural parameters, for the covariance."""
    alpha, log_c = params[0], params[1]
    x_power = np.exp(-alpha * np.log(x))
    c = np.exp(log_c)
    columns = [-c * x_power * np.log(x), x_power]
    if with_offset:
        columns.append(np.ones_like(x))
    return np.stack(columns, axis=1)


def _residuals(params, x, y, sigma, with_offset):
    model = _model(params, x, with_offset)
    if sigma is None:
        return np.log(y) - np.log(np.maximum(model, 1e-300))
    return (y - model) / sigma


def _residual_jacobian(params, x, y, sigma, with_offset):
    """d residual / d(alpha, log c[, E]) (the optimiser's parameters)."""
    model = _model(params, x, with_offset)
    d_model = _model_jacobian(params, x, with_offset)
    d_model[:, 1] *= np.exp(params[1])  # dL/dlog c = c dL/dc
    scale = -1.0 / np.maximum(model, 1e-300) if sigma is None else -1.0 / sigma
    return d_model * scale[:, None]


def least_squares_line(u, v, weights=None) -> tuple[float, float, float]:
    """Ordinary (or weighted) least squares v = intercept + slope u: (slope, intercept, stderr).

    The one line fitter behind every log-log slope in the package (power-law initial guesses,
    spectrum exponents, frontier exponents): pass u = log x, v = log y. ``stderr`` is the
    standard error of the slope from the residual variance (NaN with fewer than 3 points).

    Parameters
    ----------
    u, v : array_like, shape (n,)
        Abscissae and ordinates (n >= 2).
    weights : array_like, shape (n,), optional
        Multiply each residual (e.g. 1 / sigma of v).
    """
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    design = np.stack([np.ones_like(u), u], axis=1)
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        design, v = design * weights[:, None], v * weights
    solution, *_ = np.linalg.lstsq(design, v, rcond=None)
    residual = v - design @ solution
    dof = u.size - 2
    variance = residual @ residual / dof if dof > 0 else np.nan
    stderr = np.sqrt(variance * np.linalg.inv(design.T @ design)[1, 1])
    return float(solution[1]), float(solution[0]), float(stderr)


def _log_linear(x, y, weights=None):
    """Least squares of log y = log c - alpha log x: returns (alpha, log c)."""
    slope, intercept, _ = least_squares_line(np.log(x), np.log(y), weights)
    return np.array([-slope, intercept])


def _initial_guess(x, y, sigma, with_offset):
    weights = None if sigma is None else np.abs(y) / sigma  # d log y ~ dy / y
    if not with_offset:
        if np.any(y <= 0):
            return np.array([0.0, np.log(np.mean(np.abs(y)) + 1e-300)])
        return _log_linear(x, y, weights)
    # Profile over the offset: for E on a grid below min(y), fit log(y - E) linearly and keep
    # the E whose full residuals are smallest. This lands in the right basin for the refinement.
    y_min = np.min(y)
    if y_min <= 0:
        return np.array([0.5, np.log(np.ptp(y) + 1e-300), 0.0])
    best, best_cost = None, np.inf
    for fraction in 1.0 - np.logspace(0, -4, 41):
        offset = fraction * y_min
        alpha, log_c = _log_linear(x, y - offset, None if weights is None else weights)
        params = np.array([alpha, log_c, offset])
        cost = np.sum(_residuals(params, x, y, sigma, True) ** 2)
        if np.isfinite(cost) and cost < best_cost:
            best, best_cost = params, cost
    return best


def _solve(x, y, sigma, with_offset, start):
    """Least squares on the residuals of the error model, by the compiled scaling-law fitter
    (:mod:`scalinglab.scaling_laws`' machinery: form "power_law_offset" / "kaplan_n" with Huber
    delta = inf). The offset E > 0 is fitted as log E, so the bound E >= 0 holds by
    construction; the result is returned as (alpha, log c[, E])."""
    from scalinglab._native import _core

    if not with_offset and sigma is None:
        return _log_linear(x, y)  # exact: the problem is linear in (alpha, log c)
    start = np.array(start, dtype=float)
    log_x = np.ascontiguousarray(np.log(x))
    if sigma is None:
        target, weights, residual = np.log(y), None, 0
    else:
        target, weights, residual = y, 1.0 / sigma**2, 1
    if with_offset:  # core theta = (log c, log E, alpha)
        floor = 1e-12 * max(float(np.max(np.abs(y))), 1e-300)
        theta0 = np.array([[start[1], np.log(max(start[2], floor)), start[0]]])
        form = 3
    else:  # core theta = (log c, alpha)
        theta0 = np.array([[start[1], start[0]]])
        form = 2
    result = _core.scaling_fit.fit_multistart(
        form, 0, residual, log_x, None, np.ascontiguousarray(target, dtype=float), weights,
        np.inf, 1.0, theta0, (2000, 10, 1e-15, 1e-12, 1e-15), (3000, 10, 1e-16, 1e-13, 1e-16),
        1, 1, None)
    theta = np.asarray(result["best_theta"])
    if with_offset:
        return np.array([theta[2], theta[0], np.exp(theta[1])])
    return np.array([theta[1], theta[0]])


def _covariance(params, x, y, sigma, with_offset):
    """Gauss-Newton covariance of (alpha, c[, E]) and the residual scale."""
    residual = _residuals(params, x, y, sigma, with_offset)
    d_model = _model_jacobian(params, x, with_offset)
    model = _model(params, x, with_offset)
    scale = 1.0 / model if sigma is None else 1.0 / sigma
    jacobian = d_model * scale[:, None]
    dof = len(x) - jacobian.shape[1]
    residual_scale = float(np.sqrt(np.sum(residual**2) / dof)) if dof > 0 else np.nan
    information = jacobian.T @ jacobian
    covariance = np.linalg.pinv(information)
    if sigma is None:
        covariance = covariance * residual_scale**2
    return covariance, residual_scale


def fit_power_law(x, y, *, offset: bool = False, sigma=None, n_bootstrap: int = 0,
                  confidence: float = 0.95, rng=None) -> PowerLawFit:
    """Fit ``L(x) = c x^-alpha`` (``offset=False``) or ``L(x) = E + c x^-alpha`` (``offset=True``).

    Parameters
    ----------
    x : array_like, shape (n,)
        Resource values (> 0), e.g. the number of features N.
    y : array_like, shape (n,)
        Measured loss or error (> 0 unless ``sigma`` is given).
    offset : bool
        Fit the irreducible offset E >= 0 as well.
    sigma : array_like, shape (n,) or float, optional
        Standard deviations of y (additive noise). None: multiplicative noise of unknown scale
        (residuals in log y).
    n_bootstrap : int
        Residual-bootstrap replicates for percentile intervals (0 = none).
    confidence : float
        Two-sided level of the bootstrap intervals, in (0, 1).
    rng : None, int or numpy.random.Generator
        Randomness of the bootstrap.

    Returns
    -------
    PowerLawFit
        Needs n >= 3 points without offset and n >= 4 with (one more than the parameters, so
        that the residual scale has at least one degree of freedom).
    """
    x = np.asarray(real_array(x, "x"), dtype=float)
    y = np.asarray(real_array(y, "y"), dtype=float)
    if x.ndim != 1:
        raise ValueError(f"`x`: expected a 1-D array, got shape {x.shape}")
    if y.shape != x.shape:
        raise ValueError(f"`y`: expected shape {x.shape} like `x`, got {y.shape}")
    if not np.isfinite(x).all() or (x <= 0).any():
        raise ValueError("`x`: every value must be finite and > 0")
    if not np.isfinite(y).all():
        raise ValueError("`y`: contains NaN or infinity")
    n_parameters = 3 if offset else 2
    if x.size < n_parameters + 1:
        raise ValueError(
            f"`x`: need at least {n_parameters + 1} points to fit {n_parameters} parameters with "
            f"an error estimate, got {x.size}"
        )
    if np.unique(x).size < n_parameters:
        raise ValueError(f"`x`: need at least {n_parameters} distinct values, got {np.unique(x)}")
    if sigma is None:
        if (y <= 0).any():
            raise ValueError("`y`: must be > 0 for the multiplicative (log) error model; "
                             "pass `sigma` for additive errors")
    else:
        sigma = np.asarray(real_array(sigma, "sigma"), dtype=float)
        try:
            sigma = np.broadcast_to(sigma, x.shape).copy()
        except ValueError:
            raise ValueError(f"`sigma`: expected a scalar or shape {x.shape} like `x`, got {sigma.shape}") from None
        if not np.isfinite(sigma).all() or (sigma <= 0).any():
            raise ValueError("`sigma`: every value must be finite and > 0")
    n_bootstrap = positive_int(n_bootstrap, "n_bootstrap", minimum=0)
    confidence = real_number(confidence, "confidence", minimum=0.0, strict=True)
    if confidence >= 1:
        raise ValueError(f"`confidence`: must be < 1, got {confidence}")

    params = _solve(x, y, sigma, offset, _initial_guess(x, y, sigma, offset))
    covariance, residual_scale = _covariance(params, x, y, sigma, offset)
    stderr = np.sqrt(np.maximum(np.diag(covariance), 0.0))
    names = _PARAMETERS_WITH_OFFSET if offset else _PARAMETERS_WITHOUT_OFFSET
    values = [params[0], float(np.exp(params[1]))] + ([params[2]] if offset else [])

    intervals = None
    if n_bootstrap > 0:
        generator = as_generator(rng)
        fitted = _model(params, x, offset)
        # Residuals deflate by sqrt((n - p) / n) at the fit; undo it before resampling.
        inflation = np.sqrt(x.size / (x.size - n_parameters))
        residual = _residuals(params, x, y, sigma, offset) * inflation
        samples = np.empty((n_bootstrap, n_parameters))
        for b in range(n_bootstrap):
            drawn = generator.choice(residual, size=x.size, replace=True)
            y_star = fitted * np.exp(drawn) if sigma is None else fitted + sigma * drawn
            if sigma is None and (y_star <= 0).any():
                samples[b] = np.nan
                continue
            start = params if offset else _initial_guess(x, y_star, sigma, offset)
            p_star = _solve(x, y_star, sigma, offset, start)
            samples[b] = [p_star[0], np.exp(p_star[1])] + ([p_star[2]] if offset else [])
        tail = 100 * (1 - confidence) / 2
        intervals = pd.DataFrame({
            "parameter": list(names),
            "lower": np.nanpercentile(samples, tail, axis=0),
            "upper": np.nanpercentile(samples, 100 - tail, axis=0),
            "bootstrap_stderr": np.nanstd(samples, axis=0, ddof=1),
        })

    return PowerLawFit(
        exponent=float(values[0]),
        prefactor=float(values[1]),
        offset=float(values[2]) if offset else 0.0,
        exponent_stderr=float(stderr[0]),
        prefactor_stderr=float(stderr[1]),
        offset_stderr=float(stderr[2]) if offset else 0.0,
        covariance=covariance,
        with_offset=offset,
        error_model="log" if sigma is None else "absolute",
        residual_scale=residual_scale,
        n_points=int(x.size),
        intervals=intervals,
        confidence=confidence,
    )
