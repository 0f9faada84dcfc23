"""Fitting empirical scaling laws: Chinchilla's L(N, D) by Approaches 1, 2 and 3, Kaplan's forms,
a power law with offset and broken neural scaling laws, with bootstrap intervals and the
compute-optimal allocation.

Forms (``form=``; every fit is a robust fit of log L, see below):

* ``"chinchilla"``: L = E + A N^-alpha + B D^-beta (Hoffmann et al. 2022, arXiv 2203.15556,
  eq. 2), fitted as log L = LSE(log A - alpha log N, log B - beta log D, log E) (their
  appendix D.2). Parameters E, A, B, alpha, beta.
* ``"kaplan"``: L = [(N_c / N)^(alpha_N / alpha_D) + D_c / D]^alpha_D (Kaplan et al. 2020,
  arXiv 2001.08361, eq. 1.5). Parameters N_c, D_c, alpha_N, alpha_D.
* ``"kaplan_n"``: L = (N_c / N)^alpha_N (their eq. 1.1; no offset: a warning says so when an
  offset is plausible). Parameters N_c, alpha_N.
* ``"power_law_offset"``: L = E + A x^-alpha in one resource x (the form of
  :func:`scalinglab.fit.fit_power_law` with ``offset=True``). Parameters E, A, alpha.
* ``"bnsl"``: y = a + b x^-c0 prod_i (1 + (x / d_i)^(1/f_i))^(-c_i f_i) with ``n_breaks`` breaks
  (Caballero et al. 2022, arXiv 2210.14891, eq. 1). Parameters a, b, c0, c1, d1, f1, c2, ...

Objective (Approach 3; digest B.7.1): sum_i w_i Huber_delta(log L-hat_i - log L_i), delta = 1e-3
by default, multiplied by 1/delta^2 (``objective="rescaled"``), 1 (``"sum"``) or 1/sum w
(``"mean"``). The compiled minimiser (``cpp/src/scaling_fit.cpp``: L-BFGS with a strong-Wolfe
line search and analytic gradients) stops on *relative* tests, so all three give the same optimum;
SciPy's L-BFGS-B with default tolerances does not, which is how Hoffmann et al.'s fit stopped
early (Besiroglu et al. 2024, arXiv 2404.10102). Starts: ``"grid"`` (Hoffmann et al.'s 4,500
points), ``"auto"`` (variable projection: E, A, B by non-negative least squares on a 20 x 20
(alpha, beta) grid), or an array of starts; the best end points are then polished with tight
tolerances.

Uncertainty: a nonparametric bootstrap (rows resampled with replacement, or runs when rows share
a run id: a cluster bootstrap), each resample refitted from the full-data optimum; standard errors
are the bootstrap SDs, intervals the percentiles. With delta << the noise the Huber fit is in
effect least absolute deviations, where Gauss-Newton errors are ~20% too small (digest B(c') 2),
so none are offered.

Compute-optimal allocation with C = k N D (k = ``compute_factor``, 6 for transformers; 1 for the
DMFT simulators, where C = N t): N_opt = G (C/k)^a, D_opt = C / (k N_opt),
G = (alpha A / (beta B))^(1/(alpha+beta)), a = beta/(alpha+beta), b = alpha/(alpha+beta)
(Hoffmann et al. eq. 4). Approaches 1 (:func:`fit_envelope`) and 2 (:func:`fit_isoflop`) return
the same :class:`ComputeOptimalAllocation`.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np
import pandas as pd

from scalinglab._native import _core
from scalinglab._rng import seed_from_rng
from scalinglab._validation import n_threads_arg, positive_int, real_floats, real_number
from scalinglab.frontier import compute_optimal_frontier, fit_frontier_exponents

__all__ = [
    "ComputeOptimalAllocation",
    "ConvergenceReport",
    "IsoFLOPWarning",
    "ScalingLawFit",
    "bnsl_law",
    "chinchilla_grid",
    "chinchilla_law",
    "fit_envelope",
    "fit_isoflop",
    "fit_scaling_law",
    "fitter_calibration",
    "kaplan_law",
    "load_runs_csv",
    "simulated_training_curves",
]

_sf = _core.scaling_fit

# Core form ids (scaling_fit.hpp) and the natural parameter names of each form.
_FORM_ID = {"chinchilla": 0, "kaplan": 1, "kaplan_n": 2, "power_law_offset": 3, "bnsl": 4}
_TWO_VARIABLE = ("chinchilla", "kaplan")
# Options (max_iterations, history, ftol, gtol, xtol) of the first pass and of the polish.
_FIRST_PASS = (1000, 10, 1e-10, 1e-8, 1e-10)
_POLISH = (3000, 10, 1e-15, 1e-12, 1e-15)
_BOOTSTRAP = (1000, 10, 1e-12, 1e-10, 1e-12)
_STATUS = ("converged_f", "converged_g", "converged_x", "max_iterations", "line_search_failed",
           "non_finite")


class IsoFLOPWarning(UserWarning):
    """An IsoFLOP budget was dropped: its parabola opens downwards or its vertex lies outside
    the sampled model sizes (the sampling was off-centre)."""


def _names(form: str, n_breaks: int) -> tuple[str, ...]:
    if form == "chinchilla":
        return ("E", "A", "B", "alpha", "beta")
    if form == "kaplan":
        return ("N_c", "D_c", "alpha_N", "alpha_D")
    if form == "kaplan_n":
        return ("N_c", "alpha_N")
    if form == "power_law_offset":
        return ("E", "A", "alpha")
    names = ["a", "b", "c0"]
    for i in range(1, n_breaks + 1):
        names += [f"c{i}", f"d{i}", f"f{i}"]
    return tuple(names)


def _natural(form: str, theta: np.ndarray) -> np.ndarray:
    """Core parameters theta (..., p) -> natural parameters (..., p) in `_names` order."""
    theta = np.asarray(theta, dtype=float)
    out = np.array(theta, copy=True)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if form == "chinchilla":  # (u_A, u_B, u_E, alpha, beta) -> (E, A, B, alpha, beta)
            out[..., 0] = np.exp(theta[..., 2])
            out[..., 1] = np.exp(theta[..., 0])
            out[..., 2] = np.exp(theta[..., 1])
        elif form == "kaplan":
            out[..., 0] = np.exp(theta[..., 0])
            out[..., 1] = np.exp(theta[..., 1])
        elif form == "kaplan_n":  # (u_c, alpha) with u_c = alpha log N_c
            out[..., 0] = np.exp(theta[..., 0] / theta[..., 1])
        elif form == "power_law_offset":  # (u_c, u_E, alpha) -> (E, A, alpha)
            out[..., 0] = np.exp(theta[..., 1])
            out[..., 1] = np.exp(theta[..., 0])
        else:  # bnsl: (u_a, u_b, c0, [c, log d, log f]...)
            out[..., 0] = np.exp(theta[..., 0])
            out[..., 1] = np.exp(theta[..., 1])
            out[..., 4::3] = np.exp(theta[..., 4::3])
            out[..., 5::3] = np.exp(theta[..., 5::3])
    return out


def _theta_from_natural(form: str, values: Mapping[str, float], n_breaks: int) -> np.ndarray:
    v = [float(values[name]) for name in _names(form, n_breaks)]
    if form == "chinchilla":
        return np.array([math.log(v[1]), math.log(v[2]), math.log(v[0]), v[3], v[4]])
    if form == "kaplan":
        return np.array([math.log(v[0]), math.log(v[1]), v[2], v[3]])
    if form == "kaplan_n":
        return np.array([v[1] * math.log(v[0]), v[1]])
    if form == "power_law_offset":
        return np.array([math.log(v[1]), math.log(v[0]), v[2]])
    theta = np.array(v)
    theta[0], theta[1] = math.log(v[0]), math.log(v[1])
    theta[4::3] = np.log(theta[4::3])
    theta[5::3] = np.log(theta[5::3])
    return theta


# ---- the laws as plain functions ---------------------------------------------------------------


def chinchilla_law(N, D, E, A, B, alpha, beta):
    """L = E + A N^-alpha + B D^-beta (Hoffmann et al. 2022, arXiv 2203.15556, eq. 2)."""
    N, D = real_floats(N, "N"), real_floats(D, "D")
    return E + A * N ** (-alpha) + B * D ** (-beta)


def kaplan_law(N, D, N_c, D_c, alpha_N, alpha_D):
    """L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D (Kaplan et al. 2020, arXiv 2001.08361,
    eq. 1.5); D = inf gives (N_c/N)^alpha_N and N = inf gives (D_c/D)^alpha_D."""
    N, D = real_floats(N, "N"), real_floats(D, "D")
    return ((N_c / N) ** (alpha_N / alpha_D) + D_c / D) ** alpha_D


def bnsl_law(x, a, b, c0, breaks=()):
    """Broken neural scaling law y = a + b x^-c0 prod_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i)
    (Caballero et al. 2022, arXiv 2210.14891, eq. 1). ``breaks``: sequence of (c_i, d_i, f_i)."""
    x = real_floats(x, "x")
    log_y = math.log(b) - c0 * np.log(x)
    for c, d, f in breaks:
        log_y = log_y - c * f * np.logaddexp(0.0, (np.log(x) - math.log(d)) / f)
    return a + np.exp(log_y)


# ---- inputs -------------------------------------------------------------------------------------


def _column(frame: pd.DataFrame, names, what: str):
    for name in names:
        if name in frame.columns:
            return frame[name].to_numpy(dtype=float), name
    return None, None


def _positive(values, name: str) -> np.ndarray:
    array = real_floats(values, name).ravel()
    if not np.isfinite(array).all() or (array <= 0).any():
        raise ValueError(f"`{name}`: every value must be finite and > 0")
    return array


@dataclass(frozen=True)
class _Data:
    N: np.ndarray
    D: np.ndarray | None
    loss: np.ndarray
    weights: np.ndarray | None
    runs: np.ndarray | None
    frame: pd.DataFrame  # the rows used, with N, D (if any), loss
    dropped: pd.DataFrame
    outlier_rule: str


def _prepare(N, D, loss, C, weights, runs, drop_outliers, two_variable: bool,
             compute_factor: float) -> _Data:
    if isinstance(N, pd.DataFrame):
        frame = N
        n_values, _ = _column(frame, ("N", "x"), "N")
        if n_values is None:
            raise ValueError("`N`: a DataFrame needs a column `N` (or `x` for one-variable forms)")
        loss_values, _ = _column(frame, ("loss", "test_loss", "L", "y"), "loss")
        if loss_values is None:
            raise ValueError("`N`: a DataFrame needs a column `loss` (or `test_loss`)")
        d_values, _ = _column(frame, ("D", "tokens", "t"), "D")
        if d_values is None and "C" in frame.columns:
            C = frame["C"].to_numpy(dtype=float)
        elif d_values is None and "compute" in frame.columns:
            C = frame["compute"].to_numpy(dtype=float)
        if weights is None and "weight" in frame.columns:
            weights = frame["weight"].to_numpy(dtype=float)
        if runs is None and "run" in frame.columns:
            runs = frame["run"].to_numpy()
        N, D, loss = n_values, d_values, loss_values
    N = _positive(N, "N")
    if loss is None:
        raise ValueError("`loss`: required (an array, or a column of the DataFrame)")
    loss = real_floats(loss, "loss").ravel()
    if loss.shape != N.shape:
        raise ValueError(f"`loss`: expected shape {N.shape} like `N`, got {loss.shape}")
    if not np.isfinite(loss).all() or (loss <= 0).any():
        raise ValueError("`loss`: every value must be finite and > 0 (the fit is in log L)")
    if two_variable:
        if D is None:
            if C is None:
                raise ValueError("`D`: this form needs D (tokens) or C (compute, D = C / (k N))")
            D = _positive(C, "C") / (compute_factor * N)
        D = _positive(D, "D")
        if D.shape != N.shape:
            raise ValueError(f"`D`: expected shape {N.shape} like `N`, got {D.shape}")
    else:
        D = None
    if weights is not None:
        weights = real_floats(weights, "weights").ravel()
        if weights.shape != N.shape or not np.isfinite(weights).all() or (weights < 0).any():
            raise ValueError("`weights`: expected finite values >= 0, one per point")
    if runs is not None:
        runs = np.asarray(runs).ravel()
        if runs.shape != N.shape:
            raise ValueError(f"`runs`: expected one run id per point, got shape {runs.shape}")
    frame = pd.DataFrame({"N": N, "loss": loss})
    if D is not None:
        frame.insert(1, "D", D)
    if runs is not None:
        frame["run"] = runs
    if weights is not None:
        frame["weight"] = weights

    # Outliers: only by an explicit rule, and the dropped rows are kept in the result.
    rule = "none"
    drop = np.zeros(N.size, dtype=bool)
    if drop_outliers is not None:
        if callable(drop_outliers):
            drop = np.asarray(drop_outliers(frame.copy()), dtype=bool)
            if drop.shape != (N.size,):
                raise ValueError("`drop_outliers`: the callable must return one bool per row")
            rule = f"callable {getattr(drop_outliers, '__name__', 'rule')}"
        else:
            k = positive_int(drop_outliers, "drop_outliers", minimum=0)
            if k >= N.size:
                raise ValueError(f"`drop_outliers`: cannot drop {k} of {N.size} points")
            if k:
                drop[np.argsort(-loss, kind="stable")[:k]] = True
            rule = f"the {k} highest losses (Besiroglu et al. 2024)"
    keep = ~drop
    return _Data(
        N=N[keep], D=None if D is None else D[keep], loss=loss[keep],
        weights=None if weights is None else weights[keep],
        runs=None if runs is None else runs[keep],
        frame=frame[keep].reset_index(drop=True), dropped=frame[drop].reset_index(drop=True),
        outlier_rule=rule)


# ---- starts -------------------------------------------------------------------------------------


def chinchilla_grid() -> np.ndarray:
    """Hoffmann et al.'s 4,500 starts in core order (u_A, u_B, u_E, alpha, beta), shape (4500, 5):
    alpha, beta in {0, 0.5, 1, 1.5, 2}, u_E in {-1, -0.5, 0, 0.5, 1}, u_A, u_B in {0, 5, ..., 25}
    (arXiv 2203.15556 appendix D.2, as re-implemented by Besiroglu et al., arXiv 2404.10102)."""
    u = np.arange(0.0, 26.0, 5.0)
    e = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    exponent = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    mesh = np.meshgrid(u, u, e, exponent, exponent, indexing="ij")
    return np.ascontiguousarray(np.stack([m.ravel() for m in mesh], axis=1))


def _nnls3(design: np.ndarray, target: np.ndarray):
    """Non-negative least squares for 3 columns by enumerating active sets (exact for p = 3).
    design (K, n, 3), target (n,) -> coefficients (K, 3), residual sums (K,)."""
    K = design.shape[0]
    best_coef = np.zeros((K, 3))
    best_cost = np.full(K, np.sum(target**2))
    for mask in range(1, 8):
        cols = [j for j in range(3) if mask >> j & 1]
        X = design[:, :, cols]
        gram = np.einsum("kni,knj->kij", X, X)
        rhs = np.einsum("kni,n->ki", X, target)
        try:
            coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
        except np.linalg.LinAlgError:
            continue
        cost = np.sum((np.einsum("kni,ki->kn", X, coef) - target) ** 2, axis=1)
        ok = (coef >= 0).all(axis=1) & np.isfinite(cost) & (cost < best_cost)
        full = np.zeros((K, 3))
        full[:, cols] = coef
        best_coef[ok], best_cost[ok] = full[ok], cost[ok]
    return best_coef, best_cost


def _variable_projection_starts(N, D, loss, n_best: int = 5) -> np.ndarray:
    """Digest B.7.1 item 4: for (alpha, beta) on a 20 x 20 grid over [0.05, 1]^2, (E, A, B) >= 0
    minimise the relative residuals sum ((E + A N^-alpha + B D^-beta) / L - 1)^2; the n_best
    pairs become starts (zero coefficients are lifted to a small positive value for the LSE)."""
    grid = np.linspace(0.05, 1.0, 20)
    alphas, betas = np.meshgrid(grid, grid, indexing="ij")
    alphas, betas = alphas.ravel(), betas.ravel()
    design = np.stack([
        np.broadcast_to(1.0 / loss, (alphas.size, loss.size)),
        N[None, :] ** -alphas[:, None] / loss,
        D[None, :] ** -betas[:, None] / loss,
    ], axis=2)
    coef, cost = _nnls3(design, np.ones_like(loss))
    order = np.argsort(cost, kind="stable")[:n_best]
    floor = 1e-6 * np.min(loss)
    starts = []
    for k in order:
        E, A, B = np.maximum(coef[k], floor)
        starts.append([math.log(A), math.log(B), math.log(E), alphas[k], betas[k]])
    return np.ascontiguousarray(starts, dtype=float)


def _default_starts(form: str, data: _Data, n_breaks: int) -> np.ndarray:
    x, log_l = np.log(data.N), np.log(data.loss)
    if form == "chinchilla":
        return _variable_projection_starts(data.N, data.D, data.loss)
    if form == "kaplan":
        y = np.log(data.D)
        rows = []
        for a_n in (0.05, 0.1, 0.3, 0.7):
            for a_d in (0.05, 0.1, 0.3, 0.7):
                for shift_n in (1.0, 5.0, 15.0):
                    for shift_d in (1.0, 5.0, 15.0):
                        rows.append([x.max() + shift_n, y.max() + shift_d, a_n, a_d])
        return np.asarray(rows)
    slope, intercept = np.polyfit(x, log_l, 1)
    if form == "kaplan_n":
        return np.array([[intercept, -slope]])
    if form == "power_law_offset":
        rows = []
        lowest = np.min(data.loss)
        for fraction in 1.0 - np.logspace(0, -4, 9):
            E = max(fraction * lowest, 1e-8 * lowest)
            s, c = np.polyfit(x, np.log(data.loss - fraction * lowest), 1)
            rows.append([c, math.log(E), -s])
        return np.asarray(rows)
    # bnsl: a grid in the spirit of the authors' brute-force search.
    quantiles = np.quantile(x, [0.25, 0.5, 0.75])
    rows = []
    lowest = np.min(data.loss)
    for u_a in (math.log(1e-3 * lowest), math.log(0.5 * lowest)):
        for c0 in (0.0, 0.2, 0.5):
            for c1 in (0.1, 0.5, 1.0):
                for first_break in quantiles:
                    for log_f in (math.log(0.1), 0.0):
                        row = [u_a, 0.0, c0]
                        positions = np.linspace(first_break, x.max(), n_breaks + 1)[:-1] \
                            if n_breaks > 1 else [first_break]
                        for i in range(n_breaks):
                            row += [c1 if i == 0 else 0.3, positions[i], log_f]
                        # u_b so that the power-law part matches the data at the median x.
                        theta = np.asarray(row)
                        pred, _ = _sf.log_prediction(4, n_breaks, np.array([np.median(x)]), None,
                                                     theta)
                        row[1] = float(np.median(log_l) - pred[0])
                        rows.append(row)
    return np.asarray(rows)


# ---- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvergenceReport:
    """How the multi-start fit went.

    Attributes
    ----------
    n_starts : int
    n_at_optimum : int
        First-pass end points whose objective is within 1e-6 (relative) of the polished optimum
        or whose parameters are within 1e-4 of it.
    best_objective : float
        The polished optimum (in the units of ``objective``).
    converged : bool
        True when at least one first-pass end point reached the polished optimum.
    status_counts : Mapping[str, int]
        How the first-pass minimisations ended.
    """

    n_starts: int
    n_at_optimum: int
    best_objective: float
    converged: bool
    status_counts: Mapping[str, int]

    @property
    def fraction_at_optimum(self) -> float:
        return self.n_at_optimum / self.n_starts


@dataclass(frozen=True, eq=False)
class ComputeOptimalAllocation:
    """Compute-optimal model size and data, N_opt = exp(log_prefactor) C^a and
    D_opt = C / (compute_factor N_opt), with bootstrap intervals.

    The result type of all three Chinchilla approaches (``method`` "parametric" for Approach 3,
    "isoflop" for Approach 2, "envelope" for Approach 1).

    Attributes
    ----------
    method : str
    a, b : float
        Exponents of N_opt ~ C^a and D_opt ~ C^b (a + b = 1).
    log_prefactor : float
        log N_opt at C = 1.
    a_stderr : float
        Bootstrap SD of a (nan without a bootstrap).
    a_interval, b_interval : (float, float)
        Percentile intervals at ``confidence``.
    samples : ndarray, shape (B, 2)
        Bootstrap replicates of (a, log_prefactor); empty without a bootstrap.
    compute_factor : float
        k in C = k N D.
    C : ndarray, shape (m,)
        The budgets of ``table``.
    table : pandas.DataFrame
        Columns ``C``, ``N_opt``, ``N_opt_lower``, ``N_opt_upper``, ``D_opt``, ``D_opt_lower``,
        ``D_opt_upper``, ``tokens_per_parameter``.
    diagnostics : pandas.DataFrame or None
        Per-budget (Approach 2) or per-compute (Approach 1) points behind the regression.
    """

    method: str
    a: float
    log_prefactor: float
    samples: np.ndarray
    confidence: float
    compute_factor: float
    C: np.ndarray
    diagnostics: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def b(self) -> float:
        return 1.0 - self.a

    @property
    def a_stderr(self) -> float:
        return float(np.std(self.samples[:, 0], ddof=1)) if len(self.samples) > 1 else math.nan

    @property
    def b_stderr(self) -> float:
        return self.a_stderr

    def _tails(self):
        tail = 100 * (1 - self.confidence) / 2
        return tail, 100 - tail

    @property
    def a_interval(self) -> tuple[float, float]:
        if len(self.samples) < 2:
            return (math.nan, math.nan)
        lo, hi = np.percentile(self.samples[:, 0], self._tails())
        return (float(lo), float(hi))

    @property
    def b_interval(self) -> tuple[float, float]:
        lo, hi = self.a_interval
        return (1.0 - hi, 1.0 - lo)

    def N_opt(self, C) -> np.ndarray:
        """Compute-optimal model size at budgets C (FLOPs or the simulator's units)."""
        C = real_floats(C, "C")
        return np.exp(self.log_prefactor + self.a * np.log(C))

    def D_opt(self, C) -> np.ndarray:
        """Compute-optimal data (tokens) at budgets C: C / (k N_opt)."""
        C = real_floats(C, "C")
        return C / (self.compute_factor * self.N_opt(C))

    def at(self, C) -> pd.DataFrame:
        """The allocation table (see ``table``) at budgets C."""
        C = np.atleast_1d(real_floats(C, "C"))
        if C.ndim != 1 or not np.isfinite(C).all() or (C <= 0).any():
            raise ValueError("`C`: expected finite budgets > 0")
        n_opt = self.N_opt(C)
        table = pd.DataFrame({"C": C, "N_opt": n_opt})
        if len(self.samples) > 1:
            log_n = self.samples[:, 1][:, None] + self.samples[:, 0][:, None] * np.log(C)[None]
            lo, hi = np.percentile(np.exp(log_n), self._tails(), axis=0)
        else:
            lo = hi = np.full(C.size, math.nan)
        d_opt = C / (self.compute_factor * n_opt)
        table["N_opt_lower"], table["N_opt_upper"] = lo, hi
        table["D_opt"] = d_opt
        table["D_opt_lower"] = C / (self.compute_factor * hi)
        table["D_opt_upper"] = C / (self.compute_factor * lo)
        table["tokens_per_parameter"] = d_opt / n_opt
        return table

    @property
    def table(self) -> pd.DataFrame:
        return self.at(self.C)

    def __str__(self) -> str:
        lo, hi = self.a_interval
        return (f"{self.method}: N_opt ~ C^{self.a:.4f} [{lo:.4f}, {hi:.4f}], "
                f"D_opt ~ C^{self.b:.4f}")


@dataclass(frozen=True, eq=False)
class ScalingLawFit:
    """A fitted scaling law (see :func:`fit_scaling_law`).

    Attributes
    ----------
    form : str
    params : Mapping[str, float]
        Natural parameters (for "chinchilla": E, A, B, alpha, beta).
    stderr : Mapping[str, float]
        Bootstrap standard deviations (nan without a bootstrap).
    intervals : pandas.DataFrame
        ``parameter``, ``lower``, ``upper`` (percentile intervals at ``confidence``).
    bootstrap : pandas.DataFrame
        One row per resample, one column per parameter (empty without a bootstrap).
    theta : ndarray
        The core's parameters (log-scale where the form says so).
    convergence : ConvergenceReport
    objective : float
    residuals : ndarray, shape (n,)
        log L-hat - log L at the data used.
    data : pandas.DataFrame
        The rows used (N, D, loss[, run, weight]).
    dropped : pandas.DataFrame
        Rows removed by the outlier rule ``outlier_rule``.
    huber_delta : float
    confidence : float
    compute_factor : float
    n_breaks : int
    """

    form: str
    params: Mapping[str, float]
    stderr: Mapping[str, float]
    intervals: pd.DataFrame
    bootstrap: pd.DataFrame
    theta: np.ndarray
    convergence: ConvergenceReport
    objective: float
    residuals: np.ndarray
    data: pd.DataFrame = field(repr=False)
    dropped: pd.DataFrame = field(repr=False)
    outlier_rule: str
    huber_delta: float
    confidence: float
    compute_factor: float
    n_breaks: int = 0

    def predict(self, N, D=None) -> np.ndarray:
        """L-hat at N (and D for the two-variable forms); arrays broadcast."""
        if self.form in _TWO_VARIABLE:
            if D is None:
                raise ValueError("`D`: this form needs D")
            N, D = np.broadcast_arrays(real_floats(N, "N"), real_floats(D, "D"))
            shape = N.shape
            pred, _ = _sf.log_prediction(_FORM_ID[self.form], 0, np.log(N).ravel(),
                                         np.log(D).ravel(), self.theta)
        else:
            N = real_floats(N, "N")
            shape = N.shape
            pred, _ = _sf.log_prediction(_FORM_ID[self.form], self.n_breaks, np.log(N).ravel(),
                                         None, self.theta)
        return np.exp(pred).reshape(shape)

    def _chinchilla_only(self, what: str):
        if self.form != "chinchilla":
            raise ValueError(f"{what}: defined for form='chinchilla', this fit is {self.form!r}")

    @property
    def a(self) -> float:
        """Exponent of N_opt ~ C^a: beta / (alpha + beta)."""
        self._chinchilla_only("a")
        return self.params["beta"] / (self.params["alpha"] + self.params["beta"])

    @property
    def b(self) -> float:
        """Exponent of D_opt ~ C^b: alpha / (alpha + beta)."""
        self._chinchilla_only("b")
        return self.params["alpha"] / (self.params["alpha"] + self.params["beta"])

    @property
    def G(self) -> float:
        """G = (alpha A / (beta B))^(1/(alpha+beta)) (Hoffmann et al. eq. 4)."""
        self._chinchilla_only("G")
        p = self.params
        return (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / (p["alpha"] + p["beta"]))

    def compute_optimal(self, C) -> ComputeOptimalAllocation:
        """N_opt(C), D_opt(C) minimising L-hat subject to C = k N D, with bootstrap intervals."""
        self._chinchilla_only("compute_optimal")
        C = np.atleast_1d(real_floats(C, "C"))
        a, log_prefactor = _allocation(self.params["E"], self.params["A"], self.params["B"],
                                       self.params["alpha"], self.params["beta"],
                                       self.compute_factor)
        samples = np.empty((0, 2))
        if len(self.bootstrap):
            b = self.bootstrap
            s_a, s_k = _allocation(b["E"].to_numpy(), b["A"].to_numpy(), b["B"].to_numpy(),
                                   b["alpha"].to_numpy(), b["beta"].to_numpy(), self.compute_factor)
            samples = np.stack([s_a, s_k], axis=1)
            samples = samples[np.isfinite(samples).all(axis=1)]
        return ComputeOptimalAllocation("parametric", float(a), float(log_prefactor), samples,
                                        self.confidence, self.compute_factor, C)

    def to_frame(self) -> pd.DataFrame:
        """One row per parameter (+ a, b for Chinchilla): value, stderr, lower, upper."""
        rows = [{"parameter": name, "value": self.params[name], "stderr": self.stderr[name]}
                for name in self.params]
        table = pd.DataFrame(rows).merge(self.intervals, on="parameter", how="left")
        if self.form == "chinchilla":
            allocation = self.compute_optimal([1.0])
            lo, hi = allocation.a_interval
            extra = pd.DataFrame([
                {"parameter": "a", "value": self.a, "stderr": allocation.a_stderr, "lower": lo,
                 "upper": hi},
                {"parameter": "b", "value": self.b, "stderr": allocation.b_stderr,
                 "lower": 1 - hi, "upper": 1 - lo}])
            table = pd.concat([table, extra], ignore_index=True)
        return table

    def __str__(self) -> str:
        parts = [f"{k} = {v:.6g} +- {self.stderr[k]:.2g}" for k, v in self.params.items()]
        text = f"{self.form}: " + ", ".join(parts)
        if self.form == "chinchilla":
            text += f"; a = {self.a:.4f}, b = {self.b:.4f}"
        return text


def _allocation(E, A, B, alpha, beta, compute_factor):
    """(a, log N_opt at C = 1) of Hoffmann et al. eq. 4 with C = k N D."""
    with np.errstate(all="ignore"):
        a = beta / (alpha + beta)
        log_g = (np.log(alpha * A) - np.log(beta * B)) / (alpha + beta)
        return a, log_g - a * math.log(compute_factor)


# ---- Approach 3 ---------------------------------------------------------------------------------


def _objective_scale(objective: str, delta: float, weights, n: int) -> float:
    if objective == "rescaled":
        return 1.0 / delta**2 if math.isfinite(delta) else 1.0
    if objective == "sum":
        return 1.0
    if objective == "mean":
        return 1.0 / (float(np.sum(weights)) if weights is not None else n)
    raise ValueError(f"`objective`: expected 'rescaled', 'sum' or 'mean', got {objective!r}")


def _progress_callback(progress, work: float, desc: str):
    """A (callback, close) pair: a tqdm bar over the core's fraction, or (None, no-op)."""
    if progress is None:
        progress = work > 2e7  # point-evaluations; about a second of core time
        disable = None
    else:
        disable = False
    if not progress:
        return None, lambda: None
    from tqdm.auto import tqdm

    bar = tqdm(total=1.0, desc=desc, disable=disable, leave=False,
               bar_format="{l_bar}{bar}| {elapsed}")
    state = {"done": 0.0}

    def report(fraction):
        if fraction > state["done"]:
            bar.update(fraction - state["done"])
            state["done"] = fraction

    return report, bar.close


def fit_scaling_law(N, D=None, loss=None, form: str = "chinchilla", *, C=None, weights=None,
                    runs=None, huber_delta: float = 1e-3, objective: str = "rescaled",
                    starts="auto", n_polish: int = 25, n_bootstrap: int = 1000,
                    confidence: float = 0.95, n_breaks: int = 1, drop_outliers=None,
                    compute_factor: float = 6.0, rng=None, n_threads: int = 0,
                    progress=None, residuals: str = "log") -> ScalingLawFit:
    """Fit a scaling law to final losses (Chinchilla Approach 3 for ``form="chinchilla"``).

    Parameters
    ----------
    N : array_like, shape (n,), or pandas.DataFrame
        Model sizes (parameters), or the one resource x of the one-variable forms. A DataFrame
        supplies the columns ``N``, ``loss`` (or ``test_loss``), ``D`` (or ``tokens``/``t``) or
        ``C`` (or ``compute``), and optionally ``weight`` and ``run``.
    D : array_like, shape (n,), optional
        Training tokens; for the two-variable forms give D or C.
    loss : array_like, shape (n,)
        Final losses (> 0, e.g. nats per token).
    form : {"chinchilla", "kaplan", "kaplan_n", "power_law_offset", "bnsl"}
    C : array_like, shape (n,), optional
        Training compute; then D = C / (compute_factor N).
    weights : array_like, shape (n,), optional
        Non-negative weights of the Huber terms.
    runs : array_like, shape (n,), optional
        Run id of each row (e.g. checkpoints of one run): the bootstrap then resamples runs.
    huber_delta : float
        Huber threshold on log-loss residuals (numpy.inf: least squares).
    objective : {"rescaled", "sum", "mean"}
        Multiplier 1/delta^2, 1 or 1/sum(w) of the summed Huber terms (same optimum).
    starts : "auto", "grid" or array_like, shape (S, p)
        "grid": Hoffmann et al.'s 4,500 starts (Chinchilla only); "auto": variable projection
        (Chinchilla) or a small form-specific grid; an array: starts in the natural parameters
        (columns in ``params`` order) or a mapping of one start.
    n_polish : int
        Best first-pass end points re-minimised with tight tolerances.
    n_bootstrap : int
        Bootstrap resamples (0: none; Besiroglu et al. used 4,000).
    confidence : float
        Level of the percentile intervals.
    n_breaks : int
        Breaks of the "bnsl" form (>= 1; <= 2 advised: 3 + 3 n parameters are poorly identified).
    drop_outliers : None, int or callable
        None: keep every row; k: drop the k highest losses (Besiroglu et al. dropped 5); a
        callable frame -> bool mask of rows to drop. The rule and the rows are recorded.
    compute_factor : float
        k in C = k N D (6 for transformers; 1 for C = N t).
    rng : None, int or numpy.random.Generator
        Randomness of the bootstrap (the same seed gives the same resamples for any n_threads).
    n_threads : int
        Threads over starts and resamples (0 = all cores).
    progress : None, bool
        A progress bar (None: automatic for long fits).
    residuals : {"log", "linear"}
        Residuals in log L (default) or in L (additive errors; pass weights 1/sigma^2).

    Returns
    -------
    ScalingLawFit
    """
    if form not in _FORM_ID:
        raise ValueError(f"`form`: expected one of {sorted(_FORM_ID)}, got {form!r}")
    delta = float(huber_delta) if huber_delta == np.inf else \
        real_number(huber_delta, "huber_delta", minimum=0.0, strict=True)
    n_bootstrap = positive_int(n_bootstrap, "n_bootstrap", minimum=0)
    n_polish = positive_int(n_polish, "n_polish")
    n_breaks = positive_int(n_breaks, "n_breaks", minimum=1) if form == "bnsl" else 0
    compute_factor = real_number(compute_factor, "compute_factor", minimum=0.0, strict=True)
    confidence = real_number(confidence, "confidence", minimum=0.0, strict=True)
    if confidence >= 1:
        raise ValueError(f"`confidence`: must be < 1, got {confidence}")
    if residuals not in ("log", "linear"):
        raise ValueError(f"`residuals`: expected 'log' or 'linear', got {residuals!r}")
    threads = n_threads_arg(n_threads)
    data = _prepare(N, D, loss, C, weights, runs, drop_outliers, form in _TWO_VARIABLE,
                    compute_factor)
    names = _names(form, n_breaks)
    p = len(names)
    if data.N.size < p:
        raise ValueError(f"`N`: need at least {p} points to fit {p} parameters, got {data.N.size}")
    scale = _objective_scale(objective, delta, data.weights, data.N.size)

    if isinstance(starts, str):
        if starts == "grid":
            if form != "chinchilla":
                raise ValueError("`starts`: 'grid' is Hoffmann et al.'s grid, only for chinchilla")
            start_matrix = chinchilla_grid()
        elif starts == "auto":
            start_matrix = _default_starts(form, data, n_breaks)
        else:
            raise ValueError(f"`starts`: expected 'auto', 'grid' or an array, got {starts!r}")
    else:
        if isinstance(starts, Mapping):
            starts = [starts]
        rows = []
        for row in starts:
            if isinstance(row, Mapping):
                rows.append(_theta_from_natural(form, row, n_breaks))
            else:
                row = np.asarray(row, dtype=float)
                if row.shape != (p,):
                    raise ValueError(f"`starts`: each start needs {p} values {names}")
                rows.append(_theta_from_natural(form, dict(zip(names, row)), n_breaks))
        start_matrix = np.asarray(rows)
    start_matrix = np.ascontiguousarray(start_matrix, dtype=float)

    x = np.ascontiguousarray(np.log(data.N))
    y = None if data.D is None else np.ascontiguousarray(np.log(data.D))
    target = np.log(data.loss) if residuals == "log" else data.loss
    residual_id = 0 if residuals == "log" else 1
    args = (_FORM_ID[form], n_breaks, residual_id, x, y, np.ascontiguousarray(target),
            data.weights, delta, scale)
    work = float(start_matrix.shape[0] * 60 + n_bootstrap * 150) * data.N.size
    report, close = _progress_callback(progress, work, f"fit {form}")
    try:
        result = _sf.fit_multistart(*args, start_matrix, _FIRST_PASS, _POLISH,
                                    min(n_polish, start_matrix.shape[0]), threads, report)
        theta = np.asarray(result["best_theta"])
        best = float(result["best_objective"])
        samples = np.empty((0, p))
        if n_bootstrap:
            seed = seed_from_rng(rng)
            if data.runs is not None:
                _, group = np.unique(data.runs, return_inverse=True)
                n_groups = int(group.max()) + 1
            else:
                group, n_groups = np.arange(data.N.size), data.N.size
            counts = _sf.bootstrap_counts(seed, group.astype(np.int64),
                                          np.zeros(n_groups, dtype=np.int64), n_bootstrap, threads)
            boot = _sf.bootstrap_refits(*args, theta, counts, _BOOTSTRAP, threads, None)
            finite = np.isfinite(boot["objective"])
            samples = _natural(form, boot["theta"][finite])
    finally:
        close()

    objective_values = np.asarray(result["objective"])
    end_points = np.asarray(result["theta"])
    near_value = objective_values <= best + 1e-6 * abs(best)
    near_theta = np.max(np.abs(end_points - theta[None, :]), axis=1) <= 1e-4
    n_at = int(np.sum(near_value | near_theta))
    status = np.bincount(np.asarray(result["status"]), minlength=len(_STATUS))
    report_obj = ConvergenceReport(
        n_starts=int(start_matrix.shape[0]), n_at_optimum=n_at, best_objective=best,
        converged=bool(n_at >= 1 and math.isfinite(best)),
        status_counts=MappingProxyType({name: int(c) for name, c in zip(_STATUS, status)}))
    if not report_obj.converged:
        warnings.warn(f"fit_scaling_law({form!r}): no first-pass start reached the polished "
                      f"optimum (objective {best:.6g}); try starts='grid' or more starts",
                      RuntimeWarning, stacklevel=2)

    values = _natural(form, theta)
    params = MappingProxyType({name: float(v) for name, v in zip(names, values)})
    if len(samples) > 1:
        sd = np.std(samples, axis=0, ddof=1)
        tail = 100 * (1 - confidence) / 2
        lo, hi = np.percentile(samples, [tail, 100 - tail], axis=0)
    else:
        sd = lo = hi = np.full(p, math.nan)
    stderr = MappingProxyType({name: float(s) for name, s in zip(names, sd)})
    intervals = pd.DataFrame({"parameter": list(names), "lower": lo, "upper": hi})
    pred, _ = _sf.log_prediction(_FORM_ID[form], n_breaks, x, y, theta)
    fit = ScalingLawFit(
        form=form, params=params, stderr=stderr, intervals=intervals,
        bootstrap=pd.DataFrame(samples, columns=list(names)), theta=theta,
        convergence=report_obj, objective=best, residuals=pred - np.log(data.loss),
        data=data.frame, dropped=data.dropped, outlier_rule=data.outlier_rule,
        huber_delta=delta, confidence=confidence, compute_factor=compute_factor,
        n_breaks=n_breaks)
    if form == "kaplan_n":
        _warn_if_offset_plausible(fit, data)
    return fit


def _warn_if_offset_plausible(fit: ScalingLawFit, data: _Data) -> None:
    """Kaplan's L(N) has no offset; on a curve with one it measures the local slope
    alpha (L - E) / L, not alpha (digest B(b-1)). Warn when an offset fits clearly better."""
    if data.N.size < 4:
        return
    x, log_l = np.log(data.N), np.log(data.loss)
    starts = _default_starts("power_law_offset", data, 0)
    result = _sf.fit_multistart(3, 0, 0, x, None, log_l, data.weights, np.inf, 1.0, starts,
                                _FIRST_PASS, _POLISH, 3, 1, None)
    offset = math.exp(result["best_theta"][1])
    plain = float(np.sum(fit.residuals**2))
    with_offset = 2.0 * float(result["best_objective"])
    if offset > 0.05 * np.min(data.loss) and with_offset < 0.5 * plain:
        warnings.warn(
            f"kaplan_n: an offset E = {offset:.4g} ({offset / np.min(data.loss):.0%} of the "
            f"smallest loss) halves the squared residuals ({plain:.3g} -> {with_offset:.3g}); "
            "without it the exponent is the local slope alpha (L - E) / L, not alpha. Consider "
            "form='power_law_offset'.", UserWarning, stacklevel=3)


# ---- frontier helpers ----------------------------------------------------------------------------


def _loglog_slopes(log_c: np.ndarray, log_n: np.ndarray):
    """Least-squares slope and intercept of log N on log C along the last axis (vectorised over
    bootstrap replicates; NaN entries are left out)."""
    mask = np.isfinite(log_n) & np.isfinite(log_c)
    count = mask.sum(axis=-1)
    lc = np.where(mask, log_c, 0.0)
    ln = np.where(mask, log_n, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_c = lc.sum(axis=-1) / count
        mean_n = ln.sum(axis=-1) / count
        dc = np.where(mask, log_c - mean_c[..., None], 0.0)
        dn = np.where(mask, log_n - mean_n[..., None], 0.0)
        slope = (dc * dn).sum(axis=-1) / (dc * dc).sum(axis=-1)
    slope = np.where(count >= 2, slope, np.nan)
    return slope, mean_n - slope * mean_c


def _frontier_exponent(compute: np.ndarray, size: np.ndarray, loss: np.ndarray):
    """(a, log prefactor) of size ~ compute^a by scalinglab.frontier.fit_frontier_exponents."""
    frontier = pd.DataFrame({"compute": compute, "N": size, "test_loss": loss,
                             "interior": np.ones(compute.size, dtype=bool)})
    a = float(fit_frontier_exponents(frontier, size="N", min_points=2).N)
    intercept = float(np.mean(np.log(size)) - a * np.mean(np.log(compute)))
    return a, intercept


# ---- Approach 2: IsoFLOP profiles ---------------------------------------------------------------


def _weighted_parabolas(t: np.ndarray, loss: np.ndarray, weights: np.ndarray):
    """Weighted least-squares parabolas loss ~ c0 + c1 (t - m) + c2 (t - m)^2, m = mean(t), for
    each row of weights (B, n). Returns (vertex t*, curvature c2, loss at the vertex), each (B,);
    NaN where the weighted design has fewer than 3 distinct t."""
    centre = float(np.mean(t))
    u = (t - centre) / max(float(np.ptp(t)), 1e-300)  # well conditioned on any window
    powers = np.stack([np.ones_like(u), u, u * u], axis=1)  # (n, 3)
    gram = np.einsum("bn,ni,nj->bij", weights, powers, powers)
    rhs = np.einsum("bn,ni,n->bi", weights, powers, loss)
    distinct = (weights > 0).astype(float) @ np.ones(t.size)
    ok = (np.abs(np.linalg.det(gram)) > 1e-12) & (distinct >= 3)
    coef = np.full((weights.shape[0], 3), np.nan)
    if ok.any():
        coef[ok] = np.linalg.solve(gram[ok], rhs[ok][..., None])[..., 0]
    scale = max(float(np.ptp(t)), 1e-300)
    with np.errstate(invalid="ignore", divide="ignore"):
        u_star = -coef[:, 1] / (2 * coef[:, 2])
        value = coef[:, 0] + coef[:, 1] * u_star + coef[:, 2] * u_star**2
    return centre + scale * u_star, coef[:, 2] / scale**2, value


def fit_isoflop(N, C=None, loss=None, *, n_bootstrap: int = 1000, confidence: float = 0.95,
                compute_factor: float = 6.0, bad_budgets: str = "raise", rng=None,
                n_threads: int = 0) -> ComputeOptimalAllocation:
    """Chinchilla Approach 2: a parabola in log N per compute budget, its vertex N_opt(C), and the
    regression of log N_opt on log C (Hoffmann et al. 2022, arXiv 2203.15556, section 3.2).

    Each budget's losses are fitted as L ~ c0 + c1 t + c2 t^2 with t = log N (least squares, in L
    not log L: with the additive law and centred windows the vertex error is then the same factor
    at every budget, so the exponent has no window bias; digest B.9 item 7). A budget whose
    parabola opens downwards (c2 <= 0) or whose vertex lies outside its sampled sizes is
    off-centre: ``bad_budgets="raise"`` raises ValueError, ``"drop"`` leaves it out with an
    :class:`IsoFLOPWarning`. The bootstrap resamples points within each budget.

    Parameters
    ----------
    N : array_like, shape (n,), or pandas.DataFrame
        Model sizes, or a frame with columns ``N``, ``C`` (or ``compute``) and ``loss``.
    C : array_like, shape (n,)
        The budget of each run (runs of one budget share the exact value).
    loss : array_like, shape (n,)
    n_bootstrap, confidence, rng, n_threads
        As in :func:`fit_scaling_law`.
    compute_factor : float
        k in C = k N D (D_opt = C / (k N_opt)).
    bad_budgets : {"raise", "drop"}

    Returns
    -------
    ComputeOptimalAllocation
        ``method="isoflop"``; ``diagnostics`` has one row per budget: ``C``, ``N_opt``,
        ``loss_opt``, ``curvature`` (c2), ``n_points``, ``asymmetry`` (sampled decades above
        minus below the vertex), ``used``.
    """
    if isinstance(N, pd.DataFrame):
        frame = N
        C = frame["C"] if "C" in frame.columns else frame.get("compute")
        loss = frame["loss"] if "loss" in frame.columns else frame.get("test_loss")
        N = frame["N"]
        if C is None or loss is None:
            raise ValueError("`N`: the frame needs columns N, C (or compute) and loss")
    N = _positive(N, "N")
    C = _positive(C, "C")
    loss = _positive(loss, "loss")
    if not (N.shape == C.shape == loss.shape):
        raise ValueError("`C`, `loss`: expected one value per model size")
    if bad_budgets not in ("raise", "drop"):
        raise ValueError(f"`bad_budgets`: expected 'raise' or 'drop', got {bad_budgets!r}")
    n_bootstrap = positive_int(n_bootstrap, "n_bootstrap", minimum=0)
    compute_factor = real_number(compute_factor, "compute_factor", minimum=0.0, strict=True)
    confidence = real_number(confidence, "confidence", minimum=0.0, strict=True)
    if confidence >= 1:
        raise ValueError(f"`confidence`: must be < 1, got {confidence}")
    budgets, budget_of = np.unique(C, return_inverse=True)
    t = np.log(N)

    rows, used = [], []
    for k, budget in enumerate(budgets):
        members = budget_of == k
        tk, lk = t[members], loss[members]
        row = {"C": budget, "N_opt": math.nan, "loss_opt": math.nan, "curvature": math.nan,
               "n_points": int(members.sum()), "asymmetry": math.nan, "used": False}
        problem = None
        if np.unique(tk).size < 3:
            problem = f"budget C = {budget:.4g} has {np.unique(tk).size} distinct sizes (< 3)"
        else:
            vertex, c2, at_vertex = (float(v[0]) for v in
                                     _weighted_parabolas(tk, lk, np.ones((1, tk.size))))
            row["curvature"] = c2
            if not c2 > 0:
                problem = (f"budget C = {budget:.4g}: the parabola in log N opens downwards "
                           f"(c2 = {c2:.3g}); the sizes do not bracket the optimum")
            else:
                row.update(N_opt=math.exp(vertex), loss_opt=at_vertex,
                           asymmetry=((tk.max() - vertex) - (vertex - tk.min())) / math.log(10))
                if not tk.min() <= vertex <= tk.max():
                    problem = (f"budget C = {budget:.4g}: the vertex N = {math.exp(vertex):.4g} "
                               f"lies outside the sampled sizes [{N[members].min():.4g}, "
                               f"{N[members].max():.4g}]")
        if problem is not None:
            if bad_budgets == "raise":
                raise ValueError(f"`N`: {problem} (pass bad_budgets='drop' to leave it out)")
            warnings.warn(problem + "; dropped", IsoFLOPWarning, stacklevel=2)
        else:
            row["used"] = True
            used.append(k)
        rows.append(row)
    diagnostics = pd.DataFrame(rows)
    good = diagnostics[diagnostics["used"]]
    if len(good) < 2:
        raise ValueError(f"`C`: need at least 2 usable budgets, got {len(good)}")
    a, log_prefactor = _frontier_exponent(good["C"].to_numpy(), good["N_opt"].to_numpy(),
                                          good["loss_opt"].to_numpy())

    samples = np.empty((0, 2))
    if n_bootstrap:
        # Resample points within each budget (strata = budgets, groups = rows).
        counts = _sf.bootstrap_counts(seed_from_rng(rng), np.arange(N.size, dtype=np.int64),
                                      budget_of.astype(np.int64), n_bootstrap,
                                      n_threads_arg(n_threads)).astype(float)
        log_n = np.full((n_bootstrap, len(used)), np.nan)
        for j, k in enumerate(used):
            members = budget_of == k
            tk = t[members]
            vertex, c2, _ = _weighted_parabolas(tk, loss[members], counts[:, members])
            fine = (c2 > 0) & (vertex >= tk.min()) & (vertex <= tk.max())
            log_n[:, j] = np.where(fine, vertex, np.nan)
        log_c = np.broadcast_to(np.log(budgets[used]), log_n.shape)
        s_a, s_k = _loglog_slopes(log_c, log_n)
        samples = np.stack([s_a, s_k], axis=1)
        samples = samples[np.isfinite(samples).all(axis=1)]
    return ComputeOptimalAllocation("isoflop", a, log_prefactor, samples, confidence,
                                    compute_factor, budgets, diagnostics)


# ---- Approach 1: the envelope of training curves ------------------------------------------------


def fit_envelope(curves: pd.DataFrame, *, run: str = "run", N: str = "N", tokens: str = "tokens",
                 loss: str = "loss", n_compute: int = 100, compute_range=None,
                 n_bootstrap: int = 200, confidence: float = 0.95, compute_factor: float = 6.0,
                 rng=None, n_threads: int = 0) -> ComputeOptimalAllocation:
    """Chinchilla Approach 1: the lower envelope of training curves over compute, and the
    regression of log N on log C along it (Hoffmann et al. 2022, arXiv 2203.15556, section 3.1).

    Each run's loss is interpolated linearly in (log compute, log loss), compute = k N tokens, on
    ``n_compute`` log-spaced budgets inside its own range; the frontier over sizes is
    :func:`scalinglab.frontier.compute_optimal_frontier` (lowest loss, refined by the parabola
    through the neighbouring sizes) and the exponent
    :func:`scalinglab.frontier.fit_frontier_exponents`. Budgets whose optimum is the smallest or largest model of the zoo
    are not interior (the optimum may lie beyond the zoo) and are left out. The bootstrap
    resamples runs (a cluster bootstrap) and recomputes the frontier for each resample.

    Parameters
    ----------
    curves : pandas.DataFrame
        Training curves, one row per (run, checkpoint): columns ``run``, ``N``, ``tokens``
        (seen so far) and ``loss`` (names configurable). Checkpoints should be losses of runs
        whose schedule suits that length (Hoffmann et al. used 4 cosine horizons per size).
    n_compute : int
        Budgets of the envelope (Hoffmann et al. used 1,500).
    compute_range : (float, float), optional
        Only budgets inside it enter the regression.
    n_bootstrap, confidence, compute_factor, rng, n_threads
        As in :func:`fit_isoflop`.

    Returns
    -------
    ComputeOptimalAllocation
        ``method="envelope"``; ``diagnostics``: the frontier with ``C``, ``N_opt``, ``loss_opt``,
        ``N_grid``, ``test_loss_grid``, ``interior``.
    """
    if not isinstance(curves, pd.DataFrame):
        raise TypeError("`curves`: expected a pandas DataFrame of (run, N, tokens, loss) rows")
    for column in (run, N, tokens, loss):
        if column not in curves.columns:
            raise ValueError(f"`curves`: missing column {column!r}")
    n_compute = positive_int(n_compute, "n_compute", minimum=3)
    n_bootstrap = positive_int(n_bootstrap, "n_bootstrap", minimum=0)
    compute_factor = real_number(compute_factor, "compute_factor", minimum=0.0, strict=True)
    sizes = _positive(curves[N], "N")
    seen = _positive(curves[tokens], "tokens")
    losses = _positive(curves[loss], "loss")
    run_ids, run_of = np.unique(curves[run].to_numpy(), return_inverse=True)
    n_runs = run_ids.size
    if n_runs < 3:
        raise ValueError(f"`curves`: need at least 3 runs, got {n_runs}")
    compute = compute_factor * sizes * seen
    grid = np.geomspace(compute.min(), compute.max(), n_compute)
    log_grid = np.log(grid)
    # Interpolated log loss of every run on the budget grid; +inf outside a run's range.
    table = np.full((n_runs, n_compute), np.inf)
    run_size = np.empty(n_runs)
    for r in range(n_runs):
        members = run_of == r
        if np.unique(sizes[members]).size != 1:
            raise ValueError(f"`curves`: run {run_ids[r]!r} has more than one N")
        run_size[r] = sizes[members][0]
        order = np.argsort(compute[members], kind="stable")
        lc, ll = np.log(compute[members][order]), np.log(losses[members][order])
        inside = (log_grid >= lc[0]) & (log_grid <= lc[-1])
        table[r, inside] = np.interp(log_grid[inside], lc, ll)
    smallest, largest = run_size.min(), run_size.max()
    sizes_unique, size_of_run = np.unique(run_size, return_inverse=True)

    def envelope(mask):
        """scalinglab.frontier on the drawn runs: per size the lowest of its runs on the budget
        grid, then the frontier (minimum over sizes, parabola-refined, interior flag)."""
        per_size = np.full((sizes_unique.size, n_compute), np.inf)
        for r in np.nonzero(mask)[0]:
            per_size[size_of_run[r]] = np.minimum(per_size[size_of_run[r]], table[r])
        present = np.isfinite(per_size).any(axis=1)
        rows_n, rows_c = np.nonzero(np.isfinite(per_size) & present[:, None])
        long = pd.DataFrame({"N": sizes_unique[rows_n], "compute": grid[rows_c],
                             "test_loss": np.exp(per_size[rows_n, rows_c])})
        frontier = compute_optimal_frontier(long, size="N", compute="compute", loss="test_loss",
                                            computes=grid)
        return frontier

    frontier = envelope(np.ones(n_runs, dtype=bool))
    diagnostics = frontier.rename(columns={"compute": "C", "N": "N_opt", "test_loss": "loss_opt"})
    used_mask = diagnostics["interior"].to_numpy().copy()
    if compute_range is not None:
        used_mask &= ((diagnostics["C"] >= compute_range[0])
                      & (diagnostics["C"] <= compute_range[1])).to_numpy()
    if used_mask.sum() < 3:
        raise ValueError(f"`curves`: the envelope has {int(used_mask.sum())} interior budgets "
                         f"(< 3): the zoo ({smallest:.3g}..{largest:.3g}) does not bracket the "
                         "optimum over the compute range")
    exponents = fit_frontier_exponents(frontier, size="N", compute_range=compute_range)
    a = float(exponents.N)
    used = diagnostics[used_mask]
    log_prefactor = float(np.mean(np.log(used["N_opt"])) - a * np.mean(np.log(used["C"])))
    samples = np.empty((0, 2))
    if n_bootstrap:
        counts = _sf.bootstrap_counts(seed_from_rng(rng), np.arange(n_runs, dtype=np.int64),
                                      np.zeros(n_runs, dtype=np.int64), n_bootstrap,
                                      n_threads_arg(n_threads))
        rows = []
        for b in range(n_bootstrap):
            drawn = counts[b] > 0
            if np.unique(run_size[drawn]).size < 3:
                continue
            resampled = envelope(drawn)
            inner = resampled["interior"].to_numpy().copy()
            if compute_range is not None:
                inner &= ((resampled["compute"] >= compute_range[0])
                          & (resampled["compute"] <= compute_range[1])).to_numpy()
            if inner.sum() < 3:
                continue
            log_c = np.log(resampled["compute"].to_numpy()[inner])
            log_n = np.log(resampled["N"].to_numpy()[inner])
            slope, intercept = _loglog_slopes(log_c, log_n)
            rows.append((float(slope), float(intercept)))
        samples = np.asarray(rows, dtype=float).reshape(-1, 2)
    return ComputeOptimalAllocation("envelope", a, log_prefactor, samples,
                                    real_number(confidence, "confidence", 0.0, True),
                                    compute_factor, used["C"].to_numpy(), diagnostics)


# ---- user data ----------------------------------------------------------------------------------


def load_runs_csv(path, **read_csv_kwargs) -> pd.DataFrame:
    """Read a CSV of training runs for these fitters.

    Columns (case-insensitive; extra columns are kept):

    * ``N`` (required): parameters of the model.
    * ``loss`` (required): final (or checkpoint) loss, > 0.
    * ``D`` or ``tokens``: training tokens; or ``C`` / ``compute``: training FLOPs (then
      D = C / (6 N) in the fitters).
    * ``run`` (optional): run id; rows sharing one are checkpoints of a run (cluster bootstrap,
      :func:`fit_envelope`).
    * ``weight`` (optional): weight of the row in the fit.

    Returns
    -------
    pandas.DataFrame
        With the canonical column names N, loss, D / tokens / C, run, weight.
    """
    if not (isinstance(path, (str, os.PathLike)) or hasattr(path, "read")):
        raise TypeError(f"`path`: expected a file path or a readable file object, got {path!r}")
    frame = pd.read_csv(path, **read_csv_kwargs)
    canonical = {"n": "N", "loss": "loss", "d": "D", "tokens": "tokens", "c": "C",
                 "compute": "C", "flops": "C", "run": "run", "run_id": "run", "weight": "weight"}
    frame = frame.rename(columns={c: canonical[c.strip().lower()] for c in frame.columns
                                  if c.strip().lower() in canonical})
    for required in ("N", "loss"):
        if required not in frame.columns:
            raise ValueError(f"`path`: the CSV needs a column {required!r}; got "
                             f"{list(frame.columns)}")
    if not {"D", "tokens", "C"} & set(frame.columns):
        raise ValueError("`path`: the CSV needs D (or tokens) or C (compute)")
    for column in ("N", "loss", "D", "tokens", "C"):
        if column in frame.columns:
            _positive(frame[column], f"{path}: {column}")
    return frame


# ---- ground truth from the package's theory ------------------------------------------------------


def simulated_training_curves(task=None, N=None, t=None, *, irreducible: float = 0.0,
                              n_threads: int = 0) -> pd.DataFrame:
    """Gradient-flow training curves of the linear random-feature model from the DMFT
    (:func:`scalinglab.theory.learning_curve_theory`, P = inf, the power law extended to
    M = inf), as a table for the fitters: one row per (N, t) with ``run``, ``N``, ``tokens`` (= t),
    ``D`` (= t), ``C`` (= N t, so ``compute_factor=1``) and ``loss`` = test loss + ``irreducible``.

    Known exponents (:func:`scalinglab.theory.bottleneck_exponents`,
    :func:`scalinglab.theory.compute_optimal`): L ~ N^-min(a-1, b) at t = inf, L ~ t^-(a-1)/b at
    N = inf, N_opt ~ C^1/(1+b) for a - 1 < b.

    Parameters
    ----------
    task : PowerLawTask, optional
        Default PowerLawTask(a=2, b=1.5, M=4000).
    N : array_like of int, optional
        Model sizes (default 13 log-spaced in [64, 4096]).
    t : array_like of float, optional
        Times (default 25 log-spaced in [1e2, 1e6]).
    irreducible : float
        Added to every loss (E; e.g. the label-noise variance of a noisy test set).
    """
    from scalinglab.tasks import PowerLawTask
    from scalinglab.theory import learning_curve_theory

    task = PowerLawTask(a=2.0, b=1.5, M=4000) if task is None else task
    N = np.unique(np.round(np.geomspace(64, 4096, 13)).astype(int)) if N is None else N
    t = np.geomspace(1e2, 1e6, 25) if t is None else real_floats(t, "t")
    irreducible = real_number(irreducible, "irreducible", minimum=0.0)
    curves = learning_curve_theory(task, list(np.atleast_1d(N)), np.inf, t, truncation="extend",
                                   n_threads=n_threads)
    frame = pd.DataFrame({"run": curves["N"].astype(int), "N": curves["N"].astype(float),
                          "tokens": curves["t"].astype(float)})
    frame["D"] = frame["tokens"]
    frame["C"] = frame["N"] * frame["tokens"]
    frame["loss"] = curves["test_loss"].to_numpy() + irreducible
    return frame


def _isoflop_design(truth_a: float, log_prefactor: float, budgets, half_width_decades: float,
                    n_sizes: int):
    rows = []
    for budget in budgets:
        centre = log_prefactor + truth_a * math.log(budget)
        for t in np.linspace(-half_width_decades, half_width_decades, n_sizes) * math.log(10):
            rows.append((budget, math.exp(centre + t)))
    return np.asarray(rows)


def fitter_calibration(task=None, *, n_datasets: int = 20, noise: float = 0.01,
                       irreducible: float = 0.05, approaches=("parametric", "isoflop",
                                                              "envelope"),
                       n_bootstrap: int = 200, confidence: float = 0.95, rng=0,
                       n_threads: int = 0, N=None, t=None) -> pd.DataFrame:
    """Bias and interval coverage of the three Chinchilla estimators on a surface whose exponents
    are known in closed form: the DMFT of gradient flow on a power-law task over (N, t), C = N t
    (:func:`simulated_training_curves`), with multiplicative noise exp(noise z) on every loss.

    Truth: alpha = min(a - 1, b) (model bottleneck), beta = (a - 1) / b (time bottleneck), and
    the compute-optimal a_N = beta / (alpha + beta) = 1/(1+b) for a - 1 < b
    (:func:`scalinglab.theory.bottleneck_exponents`, :func:`scalinglab.theory.compute_optimal`).
    The additive Chinchilla form is not the DMFT's form (the N term is suppressed while
    t << N^b), so a part of the bias is model misspecification and finite-range corrections: this
    function measures it rather than assuming it away.

    * "parametric": Approach 3 on the full (N, t) grid.
    * "isoflop": Approach 2 on 7 budgets with 9 sizes each over +-0.6 decades around the
      theory's N_opt(C) (interpolated from the noise-free grid).
    * "envelope": Approach 1 on the training curves.

    Returns
    -------
    pandas.DataFrame
        One row per (approach, parameter): ``truth``, ``mean``, ``bias``, ``sd``, ``coverage``
        (fraction of datasets whose interval holds the truth), ``mean_width``, ``n_datasets``.
    """
    from scalinglab.tasks import PowerLawTask
    from scalinglab.theory import bottleneck_exponents, learning_curve_theory

    task = PowerLawTask(a=2.0, b=1.5, M=4000) if task is None else task
    known = ("parametric", "isoflop", "envelope")
    if isinstance(approaches, str) or not approaches or any(a not in known for a in approaches):
        raise ValueError(f"`approaches`: expected a non-empty sequence of {', '.join(known)}, "
                         f"got {approaches!r}")
    if not isinstance(task, PowerLawTask):
        raise TypeError(f"`task`: expected a PowerLawTask (its exponents a, b give the closed-form "
                        f"answers), got {type(task).__name__}")
    n_datasets = positive_int(n_datasets, "n_datasets")
    noise = real_number(noise, "noise", minimum=0.0)
    exponents = bottleneck_exponents(task.a, task.b)
    alpha, beta = exponents.model, exponents.time
    truth = {"alpha": alpha, "beta": beta, "a": beta / (alpha + beta)}
    generator = np.random.default_rng(seed_from_rng(rng))
    curves = simulated_training_curves(task, N, t, irreducible=irreducible, n_threads=n_threads)
    # IsoFLOP design from the noise-free surface: exact losses at sizes around the envelope.
    n_sizes_iso, half_width = 9, 0.6
    if "isoflop" in approaches:
        reference = fit_envelope(curves, n_bootstrap=0, compute_factor=1.0)
        c_lo, c_hi = np.quantile(reference.diagnostics.loc[reference.diagnostics["interior"],
                                                           "C"], [0.2, 0.8])
        budgets = np.geomspace(c_lo, c_hi, 7)
        design = _isoflop_design(reference.a, reference.log_prefactor, budgets, half_width,
                                 n_sizes_iso)
        # Exact DMFT loss at each design point (each size at its budget's time).
        iso_loss = np.empty(len(design))
        for i, (budget, size) in enumerate(design):
            n_int = int(round(size))
            curve = learning_curve_theory(task, [n_int], np.inf, [budget / n_int],
                                          truncation="extend", n_threads=n_threads)
            iso_loss[i] = float(curve["test_loss"].iloc[0]) + irreducible
    records = {name: [] for name in approaches}
    for _ in range(n_datasets):
        factor = np.exp(noise * generator.standard_normal(len(curves)))
        noisy = curves.assign(loss=curves["loss"] * factor)
        seed = int(generator.integers(2**31))
        if "parametric" in approaches:
            fit = fit_scaling_law(noisy, form="chinchilla", n_bootstrap=n_bootstrap,
                                  confidence=confidence, compute_factor=1.0, rng=seed,
                                  n_threads=n_threads, progress=False)
            alloc = fit.compute_optimal([1.0])
            intervals = fit.intervals.set_index("parameter")
            records["parametric"].append({
                "alpha": (fit.params["alpha"], *intervals.loc["alpha", ["lower", "upper"]]),
                "beta": (fit.params["beta"], *intervals.loc["beta", ["lower", "upper"]]),
                "a": (fit.a, *alloc.a_interval)})
        if "isoflop" in approaches:
            noisy_iso = iso_loss * np.exp(noise * generator.standard_normal(len(iso_loss)))
            alloc = fit_isoflop(np.round(design[:, 1]), design[:, 0], noisy_iso,
                                n_bootstrap=n_bootstrap, confidence=confidence,
                                compute_factor=1.0, bad_budgets="drop", rng=seed,
                                n_threads=n_threads)
            records["isoflop"].append({"a": (alloc.a, *alloc.a_interval)})
        if "envelope" in approaches:
            alloc = fit_envelope(noisy, n_bootstrap=n_bootstrap, confidence=confidence,
                                 compute_factor=1.0, rng=seed, n_threads=n_threads)
            records["envelope"].append({"a": (alloc.a, *alloc.a_interval)})
    rows = []
    for approach, reps in records.items():
        for parameter in reps[0]:
            values = np.array([r[parameter] for r in reps], dtype=float)
            estimate, lower, upper = values[:, 0], values[:, 1], values[:, 2]
            true = truth[parameter]
            rows.append({
                "approach": approach, "parameter": parameter, "truth": true,
                "mean": float(np.mean(estimate)), "bias": float(np.mean(estimate) - true),
                "sd": float(np.std(estimate, ddof=1)) if len(estimate) > 1 else math.nan,
                "coverage": float(np.mean((lower <= true) & (true <= upper))),
                "mean_width": float(np.mean(upper - lower)), "n_datasets": len(estimate)})
    return pd.DataFrame(rows)
