"""Expected risk of one-pass SGD on power-law random features: the Volterra equation.

Paquette, Paquette, Xiao & Pennington 2024, "4+3 Phases of Compute-Optimal Neural Scaling Laws",
arXiv 2405.15074 ("PPXP"), and its use for sketched linear regression by Lin, Wu, Kakade,
Bartlett & Lee 2024, arXiv 2406.08466 ("LWKBL").

Conventions
-----------
PPXP notation (the functions ``ppxp_*``, :class:`VolterraSpectrum`): data x = D^{1/2} z in R^v with
D = diag(lambda_j), target y = <x, b> (+ label noise of variance sigma^2), projection W (v, d) with
entries N(0, 1/d), features W^T x, parameters theta in R^d, theta_0 = 0, and the batch-SUM step

    theta <- theta - gamma * sum_{i<B} W^T x_i (<W^T x_i, theta> - y_i)      (fresh x_i per step),

as in the authors' public notebooks. If a text writes the step as a batch mean with rate gamma',
then gamma = gamma' / B. The risk is the clean-target mean squared error

    P(theta) = E_x (<W^T x, theta> - <x, b>)^2          (no factor 1/2),

and compute is f = B d r flops-proxy after r steps. Power-law instance: lambda_j = j^{-2 alpha},
b_j = j^{-beta}, j = 1..v.

BAP notation (:func:`sgd_risk_curve`, the tasks of :mod:`scalinglab.tasks`; Bordelon, Atanasov &
Pehlevan 2024, arXiv 2402.01092): features psi in R^M with variances lambda_k, target w*, student
f = w . (A psi) / sqrt(N), A_ij ~ N(0, 1). It is the same model with W = A^T / sqrt(N), d = N,
v = M, b = w*, D = diag(lambda_k); a batch-MEAN step with learning rate eta (on the loss
(f - y)^2 / 2) is the PPXP step with gamma = eta / B. For :class:`~scalinglab.tasks.PowerLawTask`,
alpha = b_BAP / 2 and beta = (a_BAP - b_BAP) / 2. The risk returned is E_x (f - w* . psi)^2, the
same quantity as the clean test loss of :func:`scalinglab.dynamics.learning_curve`, so the curves
overlay (the Volterra curve is the expectation over SGD's samples for the drawn A; the
``"deterministic"`` method is also averaged over A).

The exact risk recursion (PPXP; exact for Gaussian data, conditional on W): with K = W^T D W =
sum_i k_i u_i u_i^T, theta* = K^{-1} W^T D b, P* = P(theta*), rho_i(r) = E (u_i . (theta_r - theta*))^2,

    rho_i(r+1) = g_i rho_i(r) + gamma^2 B k_i (P(r) + sigma^2),   P(r) = P* + sum_i k_i rho_i(r),
    g_i = 1 - 2 gamma B k_i + gamma^2 B (B+1) k_i^2,

equivalently the discrete Volterra equation P(r) = F(r) + sum_{s<r} K(r-1-s) (P(s) + sigma^2) with
F(r) = P* + sum_i k_i rho_i(0) g_i^r and K(r) = gamma^2 B sum_i k_i^2 g_i^r; ||K|| = sum_r K(r) =
gamma sum_i k_i / (2 - gamma (B+1) k_i) < 1 is needed for convergence, and then
P(inf) = (P* + ||K|| sigma^2) / (1 - ||K||).

The deterministic equivalent replaces the W-dependent measures by those of PPXP's m(z):
m + (1/d) sum_j lambda_j m / (lambda_j m - z) = 1, forcing Stieltjes transform
sum_j lambda_j b_j^2 / (lambda_j m(z) - z) (with an atom F_0 at 0, the limit level of P12), and
kernel z d (1 - m(z)). Here it is evaluated by quadrature on a wedge contour around the spectrum,
which gives complex "atoms" driven by the same recursion (see :func:`deterministic_volterra_spectrum`).

Long horizons (10^6 - 10^8 steps) are cheap: after ``exact_steps`` single steps the recursion takes
blocks of 1% of the elapsed steps in closed form, with the risk interpolated linearly inside the
block and its end value solved consistently (relative error ~1e-5 against step-by-step).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalinglab._native import _core
from scalinglab._rng import seed_from_rng
from scalinglab._validation import as_vector, n_threads_arg, positive_int, real_number
from scalinglab.tasks import LinearGaussianTask, PowerLawTask, as_linear_task

__all__ = [
    "StepSchedule",
    "VolterraSpectrum",
    "exact_volterra_spectrum",
    "deterministic_volterra_spectrum",
    "solve_volterra",
    "resolvent_m",
    "limit_level",
    "spectral_densities",
    "sgd_risk_curve",
    "PLRFProblem",
    "ppxp_spectrum",
    "ppxp_risk_curve",
    "ppxp_phase",
    "ComputeOptimalExponents",
    "sgd_compute_optimal",
    "sgd_compute_optimal_frontier",
    "fit_frontier_exponents",
    "lwkbl_risk_curve",
    "lwkbl_exponents",
]

_METHODS = ("exact", "deterministic")


# ---------------------------------------------------------------------------------------------
# Schedules and the spectrum object
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepSchedule:
    """A piecewise-constant learning rate.

    The rate is ``learning_rates[p]`` for ``starts[p] <= step < starts[p+1]`` (the last piece
    lasts forever). The unit is whatever the receiving function calls ``learning_rate``: PPXP's
    batch-sum gamma in PPXP functions, BAP's batch-mean eta in :func:`sgd_risk_curve`.

    Parameters
    ----------
    starts : tuple of int
        First step of each piece; ``starts[0] == 0``, strictly increasing.
    learning_rates : tuple of float
        Rate of each piece, > 0.
    """

    starts: tuple
    learning_rates: tuple

    def __post_init__(self):
        starts = tuple(positive_int(s, "starts", minimum=0) for s in self.starts)
        rates = tuple(real_number(r, "learning_rates", minimum=0.0, strict=True)
                      for r in self.learning_rates)
        if not starts or len(starts) != len(rates):
            raise ValueError("`starts`/`learning_rates`: expected equal, non-zero lengths, got "
                             f"{len(starts)} and {len(rates)}")
        if starts[0] != 0:
            raise ValueError(f"`starts`: the first piece must start at step 0, got {starts[0]}")
        if any(b <= a for a, b in zip(starts, starts[1:])):
            raise ValueError(f"`starts`: must be strictly increasing, got {starts}")
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "learning_rates", rates)

    @classmethod
    def constant(cls, learning_rate: float) -> "StepSchedule":
        """One piece: the same rate at every step."""
        return cls((0,), (learning_rate,))

    @classmethod
    def step_decay(cls, n_steps: int, learning_rate: float, *, factor: float = 0.5,
                   n_pieces: int | None = None) -> "StepSchedule":
        """Geometric step decay: ``n_pieces`` equal pieces over ``n_steps``, each ``factor``
        times the previous rate (default ``n_pieces = ceil(log2 n_steps)``).

        This is the step-decay family of one-pass SGD analyses (e.g. Ge, Kakade, Kidambi &
        Netrapalli 2019); LWKBL's exact constants are not reproduced here.
        """
        n_steps = positive_int(n_steps, "n_steps")
        factor = real_number(factor, "factor", minimum=0.0, strict=True)
        if n_pieces is None:
            n_pieces = max(1, math.ceil(math.log2(max(n_steps, 2))))
        n_pieces = min(positive_int(n_pieces, "n_pieces"), n_steps)
        starts = tuple(int(round(p * n_steps / n_pieces)) for p in range(n_pieces))
        return cls(starts, tuple(learning_rate * factor**p for p in range(n_pieces)))

    def scaled(self, factor: float) -> "StepSchedule":
        """The same schedule with every rate multiplied by ``factor`` (eta -> gamma = eta / B)."""
        return StepSchedule(self.starts, tuple(r * factor for r in self.learning_rates))


def _as_schedule(learning_rate, name="learning_rate") -> StepSchedule:
    if isinstance(learning_rate, StepSchedule):
        return learning_rate
    if isinstance(learning_rate, numbers.Real) and not isinstance(learning_rate, bool):
        return StepSchedule.constant(real_number(learning_rate, name, minimum=0.0, strict=True))
    raise TypeError(f"`{name}`: expected a positive float or a StepSchedule, got {learning_rate!r}")


def _as_steps(steps) -> np.ndarray:
    array = np.asarray(steps)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"`steps`: expected a non-empty 1-D array of step counts, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        if not (np.issubdtype(array.dtype, np.floating) and np.all(np.isfinite(array))
                and np.all(array == np.round(array))):
            raise TypeError("`steps`: expected integer step counts")
    array = array.astype(np.int64)
    if np.any(array < 0):
        raise ValueError("`steps`: step counts must be >= 0")
    return np.unique(array)


@dataclass(frozen=True, eq=False)
class VolterraSpectrum:
    """The measures that drive the expected SGD risk (PPXP notation).

    P(r) = P* + Re sum_k e_k(r), e_k(0) = ``forcing[k]``,
    e_k(r+1) = g(x_k) e_k(r) + gamma^2 B ``kernel[k]`` (P(r) + sigma^2), x_k = ``eigenvalues[k]``,
    g(x) = 1 - 2 gamma B x + gamma^2 B (B+1) x^2.

    For an exact spectrum (``kind="exact"``) x_k are the eigenvalues k_i of K = W^T D W, forcing
    k_i rho_i(0) and kernel k_i^2 (real arrays). For the deterministic equivalent
    (``kind="deterministic"``) they are complex quadrature nodes and weights on a contour.

    Attributes
    ----------
    eigenvalues, forcing, kernel : ndarray, shape (n,)
        float64 (exact) or complex128 (deterministic).
    limit_level : float
        P* = min_theta P(theta) (PPXP's F_0 for the deterministic equivalent).
    d : int
        Number of parameters (model size).
    kind : str
        ``"exact"`` or ``"deterministic"``.
    """

    eigenvalues: np.ndarray
    forcing: np.ndarray
    kernel: np.ndarray
    limit_level: float
    d: int
    kind: str

    def _arrays(self):
        return self.eigenvalues, self.forcing, self.kernel, float(self.limit_level)

    def risk(self, steps, *, learning_rate, batch_size: int = 1, noise: float = 0.0,
             block_fraction: float = 0.01, exact_steps: int = 1000, n_threads: int = 0,
             progress=None) -> np.ndarray:
        """Expected risk P(r) at ``steps`` (sorted, duplicates removed).

        Parameters
        ----------
        steps : array_like of int
            SGD steps r >= 0.
        learning_rate : float or StepSchedule
            PPXP's batch-sum gamma (per step).
        batch_size : int
            B >= 1.
        noise : float
            Label-noise variance sigma^2 (drives SGD noise; the returned risk is clean-target).
        block_fraction, exact_steps :
            Log-time blocking: single exact steps below ``exact_steps``, then blocks of
            ``block_fraction * r`` steps. ``block_fraction=0`` takes every step exactly.

        Returns
        -------
        ndarray, shape (len(unique(steps)),)
        """
        schedule = _as_schedule(learning_rate)
        steps = _as_steps(steps)
        return _core.volterra.risk_curve(
            *self._arrays(), np.asarray(schedule.starts, dtype=np.int64),
            np.asarray(schedule.learning_rates, dtype=np.float64),
            positive_int(batch_size, "batch_size"), real_number(noise, "noise", minimum=0.0),
            steps, block_fraction=real_number(block_fraction, "block_fraction", minimum=0.0),
            exact_steps=positive_int(exact_steps, "exact_steps", minimum=0),
            n_threads=n_threads_arg(n_threads), progress=progress)

    def volterra_functions(self, n_steps: int, *, learning_rate: float, batch_size: int = 1,
                           n_threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Forcing F(r) and kernel K(r) for r = 0..n_steps (PPXP's Volterra form, constant gamma).

        Returns
        -------
        forcing, kernel : ndarray, shape (n_steps + 1,)
        """
        return _core.volterra.volterra_functions(
            *self._arrays(), real_number(learning_rate, "learning_rate", minimum=0.0, strict=True),
            positive_int(batch_size, "batch_size"), positive_int(n_steps, "n_steps", minimum=0),
            n_threads=n_threads_arg(n_threads))

    def kernel_norm(self, *, learning_rate: float, batch_size: int = 1) -> float:
        """||K|| = sum_r K(r) = gamma sum_i k_i / (2 - gamma (B+1) k_i) (PPXP); < 1 to converge."""
        return _core.volterra.kernel_norm(
            *self._arrays(), real_number(learning_rate, "learning_rate", minimum=0.0, strict=True),
            positive_int(batch_size, "batch_size"))

    def risk_limit(self, *, learning_rate: float, batch_size: int = 1, noise: float = 0.0) -> float:
        """lim_{r->inf} P(r) = (P* + ||K|| sigma^2) / (1 - ||K||) (inf if ||K|| >= 1)."""
        return _core.volterra.risk_limit(
            *self._arrays(), real_number(learning_rate, "learning_rate", minimum=0.0, strict=True),
            positive_int(batch_size, "batch_size"), real_number(noise, "noise", minimum=0.0))


def _spectrum_from_dict(values: dict, d: int, kind: str) -> VolterraSpectrum:
    return VolterraSpectrum(values["eigenvalues"], values["forcing"], values["kernel"],
                            float(values["limit_level"]), int(d), kind)


def exact_volterra_spectrum(data_spectrum, target, *, projection=None, d: int | None = None,
                            rng=None, target_is_variance: bool = False,
                            n_threads: int = 0) -> VolterraSpectrum:
    """Exact spectrum of K = W^T D W and the forcing of the SGD risk (PPXP notation).

    Parameters
    ----------
    data_spectrum : array, shape (v,)
        lambda_j > 0, the data covariance D.
    target : array, shape (v,)
        b_j (or E b_j^2 with ``target_is_variance=True``: a Gaussian prior b ~ N(0, diag(s)),
        averaged exactly, LWKBL's setting).
    projection : array, shape (v, d), optional
        W itself. If omitted, W is drawn from ``rng``: W[k, i] = z[i, k] / sqrt(d) where row i of
        the (d, v) standard-normal matrix z is the Philox stream PROJECTION at counters
        [i v, (i+1) v) of the key drawn from ``rng`` (BAP's A = z, W = A^T / sqrt(N)).
    d : int
        Model size when ``projection`` is omitted.
    rng : None, int or numpy.random.Generator
        Randomness for W.
    n_threads : int
        0 = all cores. The drawn W does not depend on it; eigen-solver rounding may (1e-13).
    """
    lam = as_vector(data_spectrum, "data_spectrum")
    if np.any(lam <= 0):
        raise ValueError("`data_spectrum`: eigenvalues must be > 0")
    target = as_vector(target, "target", length=lam.size)
    if target_is_variance and np.any(target < 0):
        raise ValueError("`target`: prior variances must be >= 0")
    threads = n_threads_arg(n_threads)
    if projection is not None:
        W = np.ascontiguousarray(projection, dtype=np.float64)
        if W.ndim != 2 or W.shape[0] != lam.size:
            raise ValueError(f"`projection`: expected shape (v, d) = ({lam.size}, d), got {W.shape}")
        if d is not None and W.shape[1] != d:
            raise ValueError(f"`d`: {d} does not match the projection's {W.shape[1]} columns")
        values = _core.volterra.exact_spectrum(W, lam, target, bool(target_is_variance), threads)
        return _spectrum_from_dict(values, W.shape[1], "exact")
    if d is None:
        raise TypeError("`d`: required when no projection is given")
    d = positive_int(d, "d")
    values = _core.volterra.exact_spectrum_seeded(seed_from_rng(rng), int(_core.random.streams.PROJECTION),
                                                 d, lam, target, bool(target_is_variance), threads)
    return _spectrum_from_dict(values, d, "exact")


def deterministic_volterra_spectrum(data_spectrum, target_power, d: int, *, slope: float = 0.1,
                                    nodes_per_panel: int = 8, lower_factor: float = 1e-3,
                                    n_threads: int = 0) -> VolterraSpectrum:
    """Deterministic-equivalent forcing and kernel measures (PPXP P10-P12) as contour atoms.

    The W-averaged F(r) - F_0 = int g(x)^r dmu_F and K(r) = gamma^2 B int g(x)^r dmu_K are written
    as (1/pi) Im of contour integrals of g(z)^r times the Stieltjes transforms
    sum_j lambda_j b_j^2 / (lambda_j m(z) - z) + F_0 / z and z d (1 - m(z)) along the wedge
    z = x (1 + i slope), 0 < x <= X, closed at X beyond the spectrum. |g(z)| < 1 on the wedge,
    so the quadrature stays stable for any number of steps. Gauss-Legendre panels of width
    ``slope`` in log x; the risk is insensitive to these choices at the 1e-8 level.

    Parameters
    ----------
    data_spectrum : array, shape (v,)
        lambda_j > 0.
    target_power : array, shape (v,)
        lambda_j E b_j^2 (the target variance carried by mode j).
    d : int
        Model size, d < v.
    """
    lam = as_vector(data_spectrum, "data_spectrum")
    power = as_vector(target_power, "target_power", length=lam.size)
    d = positive_int(d, "d")
    if d >= lam.size:
        raise ValueError(f"`d`: the deterministic equivalent needs d < v = {lam.size}, got {d}")
    values = _core.volterra.deterministic_spectrum(
        lam, power, d, real_number(slope, "slope", minimum=0.0, strict=True),
        positive_int(nodes_per_panel, "nodes_per_panel", minimum=2),
        real_number(lower_factor, "lower_factor", minimum=0.0, strict=True), n_threads_arg(n_threads))
    return _spectrum_from_dict(values, d, "deterministic")


def solve_volterra(forcing, kernel, noise: float = 0.0) -> np.ndarray:
    """Solve P(r) = F(r) + sum_{s<r} K(r-1-s) (P(s) + noise) by direct summation (O(n^2)).

    Parameters
    ----------
    forcing : array, shape (n,)
    kernel : array, shape (>= n - 1,)
    noise : float
        sigma^2 added to P in the convolution (label noise).
    """
    forcing = as_vector(forcing, "forcing")
    kernel = as_vector(kernel, "kernel")
    return _core.volterra.solve_volterra(forcing, kernel, real_number(noise, "noise", minimum=0.0))


# ---------------------------------------------------------------------------------------------
# Deterministic equivalents (PPXP P10-P12)
# ---------------------------------------------------------------------------------------------


def resolvent_m(z, data_spectrum, d: int, *, n_threads: int = 0) -> np.ndarray:
    """PPXP's m(z): m + (1/d) sum_j lambda_j m / (lambda_j m - z) = 1 (arXiv 2405.15074, P10).

    tr (K - z)^{-1} ~ -d m(z) / z and tr K (K - z)^{-1} ~ d (1 - m(z)) for K = W^T D W. Solved by
    Newton continuation from z + i Y (m ~ 1) down to Im z, which keeps the physical branch.

    Parameters
    ----------
    z : complex or array of complex
        Points with Im z >= 0, z != 0 (a real z means the limit z + i0).
    data_spectrum : array, shape (v,)
    d : int

    Returns
    -------
    complex ndarray of z's shape.
    """
    lam = as_vector(data_spectrum, "data_spectrum")
    z_array = np.asarray(z, dtype=np.complex128)
    flat = np.ascontiguousarray(z_array.reshape(-1))
    if not np.all(np.isfinite(flat)):
        raise ValueError("`z`: contains NaN or infinity")
    if np.any(flat.imag < 0):
        raise ValueError("`z`: expected Im z >= 0 (m is continued from the upper half plane)")
    if np.any(flat == 0):
        raise ValueError("`z`: m(z) is singular at z = 0")
    out = _core.volterra.resolvent_m(lam, positive_int(d, "d"), flat, n_threads_arg(n_threads))
    return np.asarray(out).reshape(z_array.shape)


def limit_level(data_spectrum, target_power, d: int) -> tuple[float, float]:
    """PPXP's limit level F_0 (P12): the deterministic equivalent of P* = min_theta P(theta).

    F_0 = sum_j lambda_j b_j^2 c / (c + lambda_j) with c > 0 solving sum_j lambda_j/(lambda_j+c) = d
    (BAP's projection residual (B14) with kappa_0 = c). F_0 = c = 0 when v <= d.

    Returns
    -------
    (F_0, c) : tuple of float
    """
    lam = as_vector(data_spectrum, "data_spectrum")
    power = as_vector(target_power, "target_power", length=lam.size)
    level, c = _core.volterra.limit_level(lam, power, positive_int(d, "d"))
    return float(level), float(c)


def spectral_densities(x, data_spectrum, target_power, d: int, *, relative_epsilon: float = 1e-8,
                       n_threads: int = 0) -> pd.DataFrame:
    """Deterministic-equivalent densities of K = W^T D W (PPXP P11) at z = x (1 + i eps).

    Columns: ``x``; ``eigenvalue_density`` (integrates to d); ``forcing_density``
    (sum_i k_i rho_i(0) delta(x - k_i), integrates to sum_j lambda_j b_j^2 - F_0);
    ``kernel_density`` (sum_i k_i^2 delta(x - k_i)). Per unit x.
    """
    lam = as_vector(data_spectrum, "data_spectrum")
    power = as_vector(target_power, "target_power", length=lam.size)
    x = as_vector(x, "x")
    if np.any(x <= 0):
        raise ValueError("`x`: expected points > 0")
    eig, forcing, kernel = _core.volterra.spectral_densities(
        lam, power, positive_int(d, "d"), x,
        real_number(relative_epsilon, "relative_epsilon", minimum=0.0, strict=True),
        n_threads_arg(n_threads))
    return pd.DataFrame({"x": x, "eigenvalue_density": eig, "forcing_density": forcing,
                         "kernel_density": kernel})


# ---------------------------------------------------------------------------------------------
# BAP notation: the tasks of scalinglab.tasks
# ---------------------------------------------------------------------------------------------


def _check_method(method):
    if method not in _METHODS:
        raise ValueError(f"`method`: expected one of {_METHODS}, got {method!r}")


def sgd_risk_curve(task, N: int, steps, *, batch_size: int, learning_rate, rng=None,
                   method: str = "exact", projection=None, n_threads: int = 0,
                   block_fraction: float = 0.01) -> pd.DataFrame:
    """Expected test loss of one-pass SGD on a random-feature model (BAP notation).

    Student f = w . (A psi) / sqrt(N), w(0) = 0, trained by batch-mean SGD on fresh samples,
    w <- w - (eta / B) sum_b (f(x_b) - y_b) A psi_b / sqrt(N). This is PPXP's model with
    W = A^T / sqrt(N), d = N, v = M, b = w*, gamma = eta / B (arXiv 2405.15074, Volterra P7-P9).

    Parameters
    ----------
    task : PowerLawTask or LinearGaussianTask
        Feature variances lambda_k, teacher w*, label-noise variance sigma^2.
    N : int
        Number of random features (model size).
    steps : array_like of int
        SGD steps (each uses B fresh samples).
    batch_size : int
        B.
    learning_rate : float or StepSchedule
        eta of the batch-mean step (per step).
    rng : None, int or numpy.random.Generator
        Draws A for ``method="exact"`` (A[i, k] = Philox PROJECTION normal i*M + k of the key
        drawn from rng).
    method : {"exact", "deterministic"}
        ``"exact"``: the exact recursion for one draw of A. ``"deterministic"``: PPXP's
        deterministic equivalent (the average over A), needs M > N.
    projection : array, shape (N, M), optional
        A itself (overrides ``rng``).

    Returns
    -------
    DataFrame
        One row per step: ``N``, ``batch_size``, ``step``, ``compute`` (= B N step, the flops
        proxy), ``risk`` = E (f - w* . psi)^2, the clean-target test loss (no factor 1/2).
    """
    linear = as_linear_task(task)
    N = positive_int(N, "N")
    batch_size = positive_int(batch_size, "batch_size")
    _check_method(method)
    gamma_schedule = _as_schedule(learning_rate).scaled(1.0 / batch_size)
    steps = _as_steps(steps)
    if method == "exact":
        W = None
        if projection is not None:
            A = np.asarray(projection, dtype=np.float64)
            if A.shape != (N, linear.M):
                raise ValueError(f"`projection`: expected shape (N, M) = ({N}, {linear.M}), got {A.shape}")
            W = np.ascontiguousarray(A.T) / math.sqrt(N)
        spectrum = exact_volterra_spectrum(linear.spectrum, linear.target, projection=W, d=N,
                                           rng=rng, n_threads=n_threads)
    else:
        spectrum = deterministic_volterra_spectrum(linear.spectrum, linear.target_power, N,
                                                   n_threads=n_threads)
    risk = spectrum.risk(steps, learning_rate=gamma_schedule, batch_size=batch_size,
                         noise=linear.noise, block_fraction=block_fraction, n_threads=n_threads)
    return pd.DataFrame({"N": N, "batch_size": batch_size, "step": steps,
                         "compute": float(batch_size * N) * steps.astype(np.float64),
                         "risk": risk})


# ---------------------------------------------------------------------------------------------
# PPXP notation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PLRFProblem:
    """PPXP's power-law random-features problem (arXiv 2405.15074, section 2).

    Parameters
    ----------
    alpha : float
        Data complexity: lambda_j = j^{-2 alpha} (> 0).
    beta : float
        Target complexity: b_j = j^{-beta}.
    v : int
        Data dimension (number of modes).
    noise : float
        Label-noise variance sigma^2 >= 0.
    """

    alpha: float
    beta: float
    v: int
    noise: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "alpha", real_number(self.alpha, "alpha", minimum=0.0, strict=True))
        object.__setattr__(self, "beta", real_number(self.beta, "beta"))
        object.__setattr__(self, "v", positive_int(self.v, "v"))
        object.__setattr__(self, "noise", real_number(self.noise, "noise", minimum=0.0))

    @property
    def data_spectrum(self) -> np.ndarray:
        """lambda_j = j^{-2 alpha}, shape (v,)."""
        return np.arange(1, self.v + 1, dtype=np.float64) ** (-2.0 * self.alpha)

    @property
    def target(self) -> np.ndarray:
        """b_j = j^{-beta}, shape (v,)."""
        return np.arange(1, self.v + 1, dtype=np.float64) ** (-self.beta)

    @property
    def target_power(self) -> np.ndarray:
        """lambda_j b_j^2 = j^{-2 alpha - 2 beta}, shape (v,)."""
        return np.arange(1, self.v + 1, dtype=np.float64) ** (-2.0 * (self.alpha + self.beta))

    @property
    def phase(self) -> str:
        """:func:`ppxp_phase` of (alpha, beta)."""
        return ppxp_phase(self.alpha, self.beta)

    def to_task(self) -> LinearGaussianTask:
        """The same problem in BAP notation: features psi = x (lambda_k = j^{-2 alpha}),
        w* = b, so b_BAP = 2 alpha and a_BAP = 2 alpha + 2 beta."""
        return LinearGaussianTask(self.data_spectrum, self.target, self.noise)

    @classmethod
    def from_task(cls, task: PowerLawTask) -> "PLRFProblem":
        """PPXP exponents of a BAP power-law task: alpha = b/2, beta = (a - b)/2, v = M."""
        if not isinstance(task, PowerLawTask):
            raise TypeError(f"`task`: expected a PowerLawTask, got {type(task).__name__}")
        alpha, beta = task.ppxp_exponents()
        return cls(alpha, beta, task.M, task.noise)


def ppxp_spectrum(alpha: float, beta: float, v: int) -> tuple[np.ndarray, np.ndarray]:
    """PPXP's power-law random features: lambda_j = j^{-2 alpha}, b_j = j^{-beta}, j = 1..v.

    Returns
    -------
    data_spectrum, target : ndarray, shape (v,)
    """
    alpha = real_number(alpha, "alpha", minimum=0.0, strict=True)
    beta = real_number(beta, "beta")
    j = np.arange(1, positive_int(v, "v") + 1, dtype=np.float64)
    return j ** (-2.0 * alpha), j ** (-beta)


def ppxp_risk_curve(alpha: float, beta: float, d: int, steps, *, learning_rate, v: int | None = None,
                    batch_size: int = 1, method: str = "exact", rng=None, projection=None,
                    noise: float = 0.0, n_threads: int = 0, block_fraction: float = 0.01) -> pd.DataFrame:
    """Expected risk of one-pass SGD on PPXP's power-law random features (arXiv 2405.15074).

    Parameters
    ----------
    alpha, beta : float
        Data and target complexity: lambda_j = j^{-2 alpha}, b_j = j^{-beta}.
    d : int
        Model size.
    steps : array_like of int
    learning_rate : float or StepSchedule
        PPXP's batch-sum gamma. The authors' notebooks use gamma = c / sum_j lambda_j with
        c in {0.25, 0.5, 0.75}.
    v : int, optional
        Data dimension (default 10 d, as in the authors' notebooks).
    method : {"exact", "deterministic"}
    projection : array, shape (v, d), optional
        W (entries N(0, 1/d)); otherwise drawn from ``rng``.
    noise : float
        Label-noise variance (the risk returned is clean-target).

    Returns
    -------
    DataFrame
        One row per step: ``d``, ``v``, ``batch_size``, ``step``, ``flops`` (= B d step), ``risk``.
    """
    d = positive_int(d, "d")
    v = 10 * d if v is None else positive_int(v, "v")
    batch_size = positive_int(batch_size, "batch_size")
    _check_method(method)
    lam, b = ppxp_spectrum(alpha, beta, v)
    steps = _as_steps(steps)
    if method == "exact":
        spectrum = exact_volterra_spectrum(lam, b, projection=projection, d=d, rng=rng,
                                           n_threads=n_threads)
    else:
        spectrum = deterministic_volterra_spectrum(lam, lam * b * b, d, n_threads=n_threads)
    risk = spectrum.risk(steps, learning_rate=learning_rate, batch_size=batch_size, noise=noise,
                         block_fraction=block_fraction, n_threads=n_threads)
    return pd.DataFrame({"d": d, "v": v, "batch_size": batch_size, "step": steps,
                         "flops": float(batch_size * d) * steps.astype(np.float64), "risk": risk})


def ppxp_phase(alpha: float, beta: float) -> str:
    """Name of the PPXP phase of (alpha, beta) (arXiv 2405.15074).

    * ``"Ia"``: 2 beta < 1 < 2 alpha (capacity-limited: F_pp vs F_0);
    * ``"II"``: 1 < 2 beta, beta < alpha (feature-embedding distortion F_ac vs F_pp);
    * ``"III"``: 1 < 2 alpha, beta > alpha (SGD noise K_pp vs F_ac);
    * ``"Ib"``: 2 beta < 1, 2 alpha < 1, alpha + beta > 1/2 (proved by PPXP for alpha > 1/4,
      conjectured below);
    * ``"Ic"``: 2 beta > 1, alpha < 1/4;
    * ``"IV"``: 2 beta > 1, 1/4 < alpha < 1/2. PPXP split this into IVa and IVb; that boundary
      could not be verified here, so the sub-phase is not named;
    * ``"degenerate"``: alpha + beta <= 1/2 (only a vanishing fraction of the target is learnable).

    Points on a boundary go to the phase named first when read left to right in
    Ia < II < III (the exponents of adjacent verified phases agree on their common boundary).
    """
    alpha = real_number(alpha, "alpha", minimum=0.0, strict=True)
    beta = real_number(beta, "beta")
    if alpha + beta <= 0.5:
        return "degenerate"
    if 2 * alpha > 1:
        if 2 * beta <= 1:
            return "Ia"
        return "II" if beta <= alpha else "III"
    if 2 * beta < 1:
        return "Ib"
    return "Ic" if alpha < 0.25 else "IV"


@dataclass(frozen=True)
class ComputeOptimalExponents:
    """Compute-optimal scaling of one-pass SGD (PPXP): P*(f) ~ f^{loss_exponent},
    d*(f) ~ f^{size_exponent}, at fixed batch size, f = B d r.

    Attributes
    ----------
    phase : str
    loss_exponent : float
        Negative: the slope of log P* against log f.
    size_exponent : float
        The slope of log d* against log f.
    steps_exponent : float
        1 - size_exponent (r* = f / (B d*)).
    """

    phase: str
    loss_exponent: float
    size_exponent: float
    steps_exponent: float


_UNVERIFIED = {
    "Ib": "Phase Ib (2 alpha < 1, 2 beta < 1)",
    "Ic": "Phase Ic (2 beta > 1, alpha < 1/4)",
    "IV": "Phase IV (2 beta > 1, 1/4 < alpha < 1/2)",
}


def sgd_compute_optimal(alpha: float, beta: float) -> ComputeOptimalExponents:
    """Compute-optimal exponents of one-pass SGD on PPXP's model, for the verified phases.

    * Ia: d* ~ f^{1/(2a+1)}, P* ~ f^{-(2a+2b-1)/(2a+1)} (F_pp balances F_0);
    * II: d* ~ f^{b/(a+b)}, P* ~ f^{-(2a+2b-1)/(2(a+b))} (F_pp balances F_ac);
    * III: d* ~ f^{1/2}, P* ~ f^{-(4a-1)/(4a)} (SGD noise K_pp balances F_ac),

    with a = alpha, b = beta (arXiv 2405.15074; checked numerically here against the Volterra
    frontier, see :func:`sgd_compute_optimal_frontier`). In BAP variables (b_BAP = 2 alpha,
    a_BAP = 2 alpha + 2 beta), Ia is BAP's N* ~ C^{1/(1+b)}, L* ~ C^{-(a-1)/(1+b)}.

    Raises
    ------
    NotImplementedError
        For phases Ib, Ic and IV (2 alpha < 1): their exponents depend on how the learning rate
        and v scale with d there, and they were not verified against the Volterra equation.
    ValueError
        For alpha + beta <= 1/2, where no compute-optimal power law exists.
    """
    phase = ppxp_phase(alpha, beta)
    if phase == "degenerate":
        raise ValueError(f"(alpha, beta) = ({alpha}, {beta}): alpha + beta <= 1/2, the problem "
                         "degenerates (no compute-optimal power law)")
    if phase in _UNVERIFIED:
        raise NotImplementedError(
            f"{_UNVERIFIED[phase]}: the compute-optimal exponents of the 2 alpha < 1 phases are "
            "not shipped because they could not be verified numerically here (they depend on how "
            "v and the learning rate scale with d); compute a numerical frontier with "
            "sgd_compute_optimal_frontier instead")
    a, b = float(alpha), float(beta)
    if phase == "Ia":
        size, loss = 1 / (2 * a + 1), -(2 * a + 2 * b - 1) / (2 * a + 1)
    elif phase == "II":
        size, loss = b / (a + b), -(2 * a + 2 * b - 1) / (2 * (a + b))
    else:
        size, loss = 0.5, -(4 * a - 1) / (4 * a)
    return ComputeOptimalExponents(phase, loss, size, 1.0 - size)


def sgd_compute_optimal_frontier(alpha: float, beta: float, d_grid, flops, *,
                                 v_ratio: float = 10.0, batch_size: int = 1,
                                 learning_rate_multiplier: float = 0.5, method: str = "deterministic",
                                 n_draws: int = 1, rng=None, n_threads: int = 0) -> pd.DataFrame:
    """Numerical compute-optimal frontier of one-pass SGD from the Volterra equation (PPXP).

    For each model size d in ``d_grid`` (with v = v_ratio d and gamma = multiplier /
    sum_{j<=v} j^{-2 alpha}, as in the authors' notebooks) the risk is computed at
    r = f / (B d) steps for every budget f; the frontier is the minimum over d, refined by a
    parabola in log d through the best grid point and its neighbours.

    Parameters
    ----------
    d_grid : array_like of int
        Model sizes (at least 3), e.g. a log grid.
    flops : array_like of float
        Compute budgets f = B d r.
    method : {"deterministic", "exact"}
        ``"exact"`` averages the exact risk over ``n_draws`` projections W per d drawn from
        ``rng``. One draw is noisy: at (alpha, beta) = (0.75, 0.25), d = 100 a single W is 20%
        off the average, enough to bias fitted slopes by 0.05.

    Returns
    -------
    DataFrame
        One row per budget: ``flops``, ``d_opt`` (refined), ``risk_opt`` (refined), ``d_grid_opt``
        (best grid point), ``risk_grid_opt``, ``interior`` (False when the best d is at the edge
        of the grid, where the frontier is not resolved).
    """
    _check_method(method)
    d_grid = np.unique(np.asarray(d_grid, dtype=np.int64))
    if d_grid.size < 3 or np.any(d_grid < 1):
        raise ValueError("`d_grid`: expected at least 3 distinct model sizes >= 1")
    flops = as_vector(flops, "flops")
    if np.any(flops <= 0):
        raise ValueError("`flops`: budgets must be > 0")
    batch_size = positive_int(batch_size, "batch_size")
    v_ratio = real_number(v_ratio, "v_ratio", minimum=1.0, strict=True)
    multiplier = real_number(learning_rate_multiplier, "learning_rate_multiplier", minimum=0.0,
                             strict=True)
    n_draws = positive_int(n_draws, "n_draws")
    generator = np.random.default_rng(seed_from_rng(rng)) if method == "exact" else None
    table = np.full((d_grid.size, flops.size), np.inf)
    for row, d in enumerate(d_grid):
        v = int(round(v_ratio * d))
        lam, b = ppxp_spectrum(alpha, beta, v)
        gamma = multiplier / lam.sum()
        steps = np.rint(flops / (batch_size * d)).astype(np.int64)
        valid = steps >= 1
        if not valid.any():
            continue
        unique_steps = np.unique(steps[valid])
        if method == "exact":
            risk = np.mean([
                exact_volterra_spectrum(lam, b, d=int(d), rng=generator, n_threads=n_threads).risk(
                    unique_steps, learning_rate=gamma, batch_size=batch_size, n_threads=n_threads)
                for _ in range(n_draws)], axis=0)
        else:
            spectrum = deterministic_volterra_spectrum(lam, lam * b * b, int(d), n_threads=n_threads)
            risk = spectrum.risk(unique_steps, learning_rate=gamma, batch_size=batch_size,
                                 n_threads=n_threads)
        table[row, valid] = risk[np.searchsorted(unique_steps, steps[valid])]
    log_d = np.log(d_grid.astype(np.float64))
    rows = []
    for col, f in enumerate(flops):
        column = table[:, col]
        best = int(np.argmin(column))
        interior = 0 < best < d_grid.size - 1 and np.all(np.isfinite(column[best - 1:best + 2]))
        d_opt, risk_opt = float(d_grid[best]), float(column[best])
        if interior:
            x = log_d[best - 1:best + 2]
            y = np.log(column[best - 1:best + 2])
            curvature, slope, intercept = np.polyfit(x, y, 2)
            if curvature > 0:
                x_star = float(np.clip(-slope / (2 * curvature), x[0], x[2]))
                d_opt = math.exp(x_star)
                risk_opt = math.exp(curvature * x_star**2 + slope * x_star + intercept)
        rows.append({"flops": float(f), "d_opt": d_opt, "risk_opt": risk_opt,
                     "d_grid_opt": int(d_grid[best]), "risk_grid_opt": float(column[best]),
                     "interior": bool(interior)})
    return pd.DataFrame(rows)


def fit_frontier_exponents(frontier: pd.DataFrame, *, flops_range=None) -> dict:
    """Least-squares slopes of log risk_opt and log d_opt against log flops.

    Uses the interior rows of :func:`sgd_compute_optimal_frontier` within ``flops_range``
    ((low, high), inclusive; default all).

    Returns
    -------
    dict with ``loss_exponent``, ``size_exponent`` and ``n_points``.
    """
    rows = frontier[frontier["interior"]]
    if flops_range is not None:
        low, high = flops_range
        rows = rows[(rows["flops"] >= low) & (rows["flops"] <= high)]
    if len(rows) < 2:
        raise ValueError("`frontier`: fewer than 2 interior points in the flops range")
    log_f = np.log(rows["flops"].to_numpy())
    loss = np.polyfit(log_f, np.log(rows["risk_opt"].to_numpy()), 1)[0]
    size = np.polyfit(log_f, np.log(rows["d_opt"].to_numpy()), 1)[0]
    return {"loss_exponent": float(loss), "size_exponent": float(size), "n_points": int(len(rows))}


# ---------------------------------------------------------------------------------------------
# LWKBL: sketched linear regression
# ---------------------------------------------------------------------------------------------


def lwkbl_risk_curve(a: float, M: int, steps, *, learning_rate, ambient_dim: int,
                     noise: float = 0.0, method: str = "deterministic", rng=None,
                     n_threads: int = 0) -> pd.DataFrame:
    """Expected excess risk of LWKBL's sketched linear regression under one-pass SGD.

    Lin, Wu, Kakade, Bartlett & Lee 2024 (arXiv 2406.08466): covariates with spectrum
    lambda_i = i^{-a} (truncated at ``ambient_dim``), isotropic prior w* ~ N(0, I), model
    <v, S x> with a Gaussian sketch S (M x ambient_dim, entries N(0, 1/M)), batch-1 SGD
    v <- v - gamma (<v, S x> - y) S x on fresh samples. This is PPXP's recursion with d = M,
    W = S^T, B = 1 and the target averaged over the prior (exactly, since the risk is quadratic
    in w*), i.e. PPXP alpha = a/2, beta = 0.

    Parameters
    ----------
    a : float
        Spectrum exponent, a > 1.
    M : int
        Sketch size (parameters).
    steps : array_like of int
        N, the number of samples (= steps).
    learning_rate : float or StepSchedule
        gamma (constant or, e.g., :meth:`StepSchedule.step_decay`).
    ambient_dim : int
        Truncation of the infinite spectrum (> M).
    noise : float
        sigma^2; the risk returned is the excess risk E R - sigma^2.
    method : {"deterministic", "exact"}
        ``"exact"`` draws one sketch from ``rng`` (the prior is still averaged exactly).

    Returns
    -------
    DataFrame with ``M``, ``step``, ``compute`` (= M step), ``excess_risk``.
    """
    a = real_number(a, "a", minimum=1.0, strict=True)
    M = positive_int(M, "M")
    ambient_dim = positive_int(ambient_dim, "ambient_dim")
    _check_method(method)
    j = np.arange(1, ambient_dim + 1, dtype=np.float64)
    lam = j ** (-a)
    steps = _as_steps(steps)
    if method == "exact":
        spectrum = exact_volterra_spectrum(lam, np.ones_like(lam), d=M, rng=rng,
                                           target_is_variance=True, n_threads=n_threads)
    else:
        spectrum = deterministic_volterra_spectrum(lam, lam, M, n_threads=n_threads)
    risk = spectrum.risk(steps, learning_rate=learning_rate, batch_size=1, noise=noise,
                         n_threads=n_threads)
    return pd.DataFrame({"M": M, "step": steps, "compute": float(M) * steps.astype(np.float64),
                         "excess_risk": risk})


def lwkbl_exponents(a: float) -> dict:
    """LWKBL's scaling exponents for the isotropic prior (arXiv 2406.08466), as slopes:

    ``model``: E R - sigma^2 ~ M^{-(a-1)} (N -> inf); ``data``: ~ (N gamma)^{-(a-1)/a}
    (M -> inf); ``size_exponent``: M* ~ C^{1/(a+1)}; ``loss_exponent``: ~ C^{-(a-1)/(a+1)} at
    compute C = M N. These are PPXP Phase Ia at alpha = a/2, beta = 0, and are checked against
    the Volterra equation in the test-suite.
    """
    a = real_number(a, "a", minimum=1.0, strict=True)
    return {"model": -(a - 1), "data": -(a - 1) / a, "size_exponent": 1 / (a + 1),
            "loss_exponent": -(a - 1) / (a + 1)}
