"""Expected risk of one-pass SGD on random features: the Volterra equation and its engine.

This module wraps the compiled Volterra engine (``cpp/include/scalinglab/volterra.hpp``): step
schedules, the spectral measures that drive the risk (exact or deterministic equivalent), the
risk recursion, PPXP's resolvent and densities, and the risk curve of a task in BAP notation.
The scaling results built on it (PPXP's phases and compute-optimal exponents, LWKBL) live in
:mod:`scalinglab.sgd_scaling`; :mod:`scalinglab.sgd_theory` re-exports both.

Paquette, Paquette, Xiao & Pennington 2024, "4+3 Phases of Compute-Optimal Neural Scaling Laws",
arXiv 2405.15074 ("PPXP"), and its use for sketched linear regression by Lin, Wu, Kakade,
Bartlett & Lee 2024, arXiv 2406.08466 ("LWKBL").

Conventions
-----------
PPXP notation (the functions ``ppxp_*``, :class:`VolterraSpectrum`): data x = D^{1/2} z in R^v with
D = diag(lambda_j), target y = <x, b> (+ label noise of variance sigma^2), projection W (v, d) with
entries N(0, 1/d), features W^T x, parameters theta in R^d, theta_0 = 0, and the batch-SUM step

    theta <- theta - gamma * sum_{i<B} W^T x_i (<W^T x_i, theta> - y_i)      (fresh x_i per step),

as in the authors' public notebooks. Every ``learning_rate`` argument of scalinglab is the
*mean*-gradient rate eta of :mod:`scalinglab.optimizers` (the same unit as in
:func:`scalinglab.dynamics.learning_curve`); the functions here convert it to PPXP's gamma =
eta / B (:attr:`scalinglab.optimizers.SGD.batch_sum_learning_rate`) before calling the engine,
so the recursions below are written with gamma. The risk is the clean-target mean squared error

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
from scalinglab._progress import progress_reporter
from scalinglab._rng import seed_from_rng
from scalinglab._validation import (
    as_matrix,
    as_vector,
    assign_fields,
    check_memory,
    finite_result,
    n_threads_arg,
    positive_int,
    real_array,
    real_number,
)
from scalinglab._validation import steps as as_steps
from scalinglab.optimizers import SGD, optimizer_argument
from scalinglab.tasks import as_linear_task

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
]

#: The two ways to get the spectral measures (keyword ``spectrum`` of the risk curves).
SPECTRA = ("exact", "deterministic")
# An automatic progress bar from this many atom-steps of the recursion on (a few seconds).
_AUTO_PROGRESS_WORK = 2e9



# ---------------------------------------------------------------------------------------------
# Schedules and the spectrum object
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepSchedule:
    """A piecewise-constant learning rate.

    The rate is ``learning_rates[p]`` for ``starts[p] <= step < starts[p+1]`` (the last piece
    lasts forever). The unit is the mean-gradient learning rate eta of
    :mod:`scalinglab.optimizers`, as everywhere in scalinglab; :meth:`batch_sum` gives PPXP's
    gamma = eta / B that the engine uses.

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
        assign_fields(self, starts=starts, learning_rates=rates)

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
        """The same schedule with every rate multiplied by ``factor``."""
        return StepSchedule(self.starts, tuple(r * factor for r in self.learning_rates))

    def batch_sum(self, batch_size: int) -> "StepSchedule":
        """PPXP's batch-sum rates gamma = eta / B of every piece
        (:attr:`scalinglab.optimizers.SGD.batch_sum_learning_rate` piece by piece)."""
        return StepSchedule(self.starts, tuple(SGD(r, batch_size, one_pass=True)
                                               .batch_sum_learning_rate
                                               for r in self.learning_rates))


def _as_schedule(learning_rate, name="learning_rate") -> StepSchedule:
    if isinstance(learning_rate, StepSchedule):
        return learning_rate
    if isinstance(learning_rate, numbers.Real) and not isinstance(learning_rate, bool):
        return StepSchedule.constant(real_number(learning_rate, name, minimum=0.0, strict=True))
    raise TypeError(f"`{name}`: expected a positive float or a StepSchedule, got {learning_rate!r}")


def one_pass_sgd(optimizer=None, method=None, learning_rate=None, batch_size=None, *,
                 default_batch_size: int | None = None) -> tuple[StepSchedule, int]:
    """The one-pass SGD of a theory function: (schedule of the mean-gradient rate eta, B).

    ``optimizer`` is an ``SGD(eta, B, one_pass=True)`` spec or the shorthand ``"sgd"``
    (``method="sgd"`` likewise) with ``learning_rate`` (a float or a :class:`StepSchedule`) and
    ``batch_size`` (default ``default_batch_size``). Convert to the engine's batch-sum gamma with
    :meth:`StepSchedule.batch_sum`.
    """
    if method in SPECTRA:
        raise ValueError(
            f"`method`: means the optimizer; the {method!r} spectral measures are chosen with "
            f"spectrum={method!r}"
        )
    if optimizer is None and method is None and batch_size is None:
        batch_size = default_batch_size
    if isinstance(learning_rate, StepSchedule):
        if optimizer is not None or method not in (None, "sgd"):
            raise ValueError("`learning_rate`: a StepSchedule goes with the shorthand "
                             "(learning_rate=..., batch_size=...), not with an optimizer spec")
        if batch_size is None:
            raise ValueError("`batch_size`: required for one-pass SGD")
        return learning_rate, positive_int(batch_size, "batch_size")
    if optimizer is None and method is None:
        method = "sgd"
    spec = optimizer_argument(optimizer, method, learning_rate, batch_size, allowed=("sgd",),
                              one_pass=True)
    return StepSchedule.constant(spec.learning_rate), spec.batch_size


def _batch_sum_rate(learning_rate, batch_size) -> float:
    """gamma = eta / B for a constant mean-gradient rate (SGD.batch_sum_learning_rate)."""
    schedule, batch = one_pass_sgd(learning_rate=learning_rate, batch_size=batch_size)
    if len(schedule.learning_rates) != 1:
        raise TypeError("`learning_rate`: expected a constant rate (a float) here")
    return SGD(schedule.learning_rates[0], batch, one_pass=True).batch_sum_learning_rate


def _check_spectrum(spectrum):
    if spectrum not in SPECTRA:
        raise ValueError(f"`spectrum`: expected one of {SPECTRA}, got {spectrum!r}")


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

    def risk(self, steps, *, optimizer=None, learning_rate=None, batch_size: int | None = None,
             noise: float = 0.0, block_fraction: float = 0.01, exact_steps: int = 1000,
             n_threads: int = 0, progress: bool | None = None) -> np.ndarray:
        """Expected risk P(r) at ``steps`` (sorted, duplicates removed).

        Parameters
        ----------
        steps : array_like of int
            SGD steps r >= 0.
        optimizer : SGD, optional
            ``SGD(eta, B, one_pass=True)``; or the shorthand keywords below.
        learning_rate : float or StepSchedule
            eta, the rate on the *mean* gradient of the batch (:mod:`scalinglab.optimizers`);
            the engine runs with PPXP's gamma = eta / B (``SGD.batch_sum_learning_rate``).
        batch_size : int
            B >= 1 (default 1).
        noise : float
            Label-noise variance sigma^2 (drives SGD noise; the returned risk is clean-target).
        block_fraction, exact_steps :
            Log-time blocking: single exact steps below ``exact_steps``, then blocks of
            ``block_fraction * r`` steps. ``block_fraction=0`` takes every step exactly.
        progress : bool or None
            A progress bar: True, False, or None (automatic, for long recursions on a terminal).

        Returns
        -------
        ndarray, shape (len(unique(steps)),)
        """
        schedule, batch_size = one_pass_sgd(optimizer, None, learning_rate, batch_size,
                                            default_batch_size=1)
        schedule = schedule.batch_sum(batch_size)
        steps = as_steps(steps)
        block_fraction = real_number(block_fraction, "block_fraction", minimum=0.0)
        exact_steps = positive_int(exact_steps, "exact_steps", minimum=0)
        last = float(steps[-1])
        iterations = (last if block_fraction == 0 or last <= exact_steps else
                      exact_steps + math.log(last / max(exact_steps, 1)) / math.log1p(block_fraction))
        with progress_reporter(progress, 1.0, desc="Volterra risk",
                               long=self.eigenvalues.size * iterations > _AUTO_PROGRESS_WORK) as bar:
            progress = bar.stage(1.0)
            risk = _core.volterra.risk_curve(
                *self._arrays(), np.asarray(schedule.starts, dtype=np.int64),
                np.asarray(schedule.learning_rates, dtype=np.float64),
                positive_int(batch_size, "batch_size"), real_number(noise, "noise", minimum=0.0),
                steps, block_fraction=block_fraction,
                exact_steps=exact_steps,
                n_threads=n_threads_arg(n_threads), progress=progress)
        # The risk of a divergent rate grows geometrically and overflows: refuse, do not return inf.
        return finite_result(
            risk, "learning_rate",
            "SGD diverges at this learning rate (the expected risk overflowed to inf/NaN); the "
            "Volterra kernel norm must stay below 1 (see VolterraSpectrum.kernel_norm): use a "
            "smaller learning_rate",
        )

    def volterra_functions(self, n_steps: int, *, learning_rate: float, batch_size: int = 1,
                           n_threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Forcing F(r) and kernel K(r) for r = 0..n_steps (PPXP's Volterra form, constant rate).

        ``learning_rate`` is the mean-gradient eta; the forms use gamma = eta / B.

        Returns
        -------
        forcing, kernel : ndarray, shape (n_steps + 1,)
        """
        gamma = _batch_sum_rate(learning_rate, batch_size)
        return _core.volterra.volterra_functions(
            *self._arrays(), gamma,
            positive_int(batch_size, "batch_size"), positive_int(n_steps, "n_steps", minimum=0),
            n_threads=n_threads_arg(n_threads))

    def kernel_norm(self, *, learning_rate: float, batch_size: int = 1) -> float:
        """||K|| = sum_r K(r) = gamma sum_i k_i / (2 - gamma (B+1) k_i) (PPXP); < 1 to converge.

        ``learning_rate`` is the mean-gradient eta; gamma = eta / B.
        """
        gamma = _batch_sum_rate(learning_rate, batch_size)
        return _core.volterra.kernel_norm(
            *self._arrays(), gamma,
            positive_int(batch_size, "batch_size"))

    def risk_limit(self, *, learning_rate: float, batch_size: int = 1, noise: float = 0.0) -> float:
        """lim_{r->inf} P(r) = (P* + ||K|| sigma^2) / (1 - ||K||) (inf if ||K|| >= 1).

        ``learning_rate`` is the mean-gradient eta; gamma = eta / B.
        """
        gamma = _batch_sum_rate(learning_rate, batch_size)
        return _core.volterra.risk_limit(
            *self._arrays(), gamma,
            positive_int(batch_size, "batch_size"), real_number(noise, "noise", minimum=0.0))


def _spectrum_from_dict(values: dict, d: int, kind: str) -> VolterraSpectrum:
    return VolterraSpectrum(values["eigenvalues"], values["forcing"], values["kernel"],
                            float(values["limit_level"]), int(d), kind)


def _check_spectrum_memory(d: int, name: str) -> None:
    """The d x d matrix K = W^T D W, its eigenvectors and the syevd workspace (~2 d^2)."""
    check_memory(8.0 * 4.0 * float(d) ** 2, "the d x d matrix W^T D W and its eigendecomposition",
                 name)


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
        W = np.asarray(real_array(projection, "projection"))
        if W.ndim != 2 or W.shape[0] != lam.size:
            raise ValueError(f"`projection`: expected shape (v, d) = ({lam.size}, d), got {W.shape}")
        W = as_matrix(W, "projection")  # finite (NaN would reach LAPACK's syevd), float64
        if d is not None and W.shape[1] != d:
            raise ValueError(f"`d`: {d} does not match the projection's {W.shape[1]} columns")
        _check_spectrum_memory(W.shape[1], "projection")
        values = _core.volterra.exact_spectrum(W, lam, target, bool(target_is_variance), threads)
        return _spectrum_from_dict(values, W.shape[1], "exact")
    if d is None:
        raise TypeError("`d`: required when no projection is given")
    d = positive_int(d, "d")
    _check_spectrum_memory(d, "d")
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
    z_array = np.asarray(z)
    if z_array.dtype == object or not np.issubdtype(z_array.dtype, np.number):
        raise TypeError(f"`z`: expected real or complex numbers, got dtype {z_array.dtype}")
    z_array = z_array.astype(np.complex128)
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


def sgd_risk_curve(task, N: int, steps, *, optimizer=None, method: str | None = None,
                   learning_rate=None, batch_size: int | None = None, rng=None,
                   spectrum: str = "exact", projection=None, n_threads: int = 0,
                   block_fraction: float = 0.01, progress: bool | None = None) -> pd.DataFrame:
    """Expected test loss of one-pass SGD on a random-feature model (BAP notation).

    Student f = w . (A psi) / sqrt(N), w(0) = 0, trained by batch-mean SGD on fresh samples,
    w <- w - (eta / B) sum_b (f(x_b) - y_b) A psi_b / sqrt(N). This is PPXP's model with
    W = A^T / sqrt(N), d = N, v = M, b = w*, gamma = eta / B (arXiv 2405.15074, Volterra P7-P9).

    Parameters
    ----------
    task : Task (PowerLawTask, LinearGaussianTask, PLRFProblem, ...)
        Feature variances lambda_k, teacher w*, label-noise variance sigma^2.
    N : int
        Number of random features (model size).
    steps : array_like of int
        SGD steps (each uses B fresh samples).
    optimizer : SGD, optional
        ``SGD(eta, B, one_pass=True)`` (:mod:`scalinglab.optimizers`), or the shorthand
        ``"sgd"`` / ``method="sgd"`` with ``learning_rate`` and ``batch_size``.
    learning_rate : float or StepSchedule
        eta of the batch-mean step (per step); the engine uses gamma = eta / B.
    batch_size : int
        B.
    rng : None, int or numpy.random.Generator
        Draws A for ``spectrum="exact"`` (A[i, k] = Philox PROJECTION normal i*M + k of the key
        drawn from rng).
    spectrum : {"exact", "deterministic"}
        ``"exact"``: the exact recursion for one draw of A. ``"deterministic"``: PPXP's
        deterministic equivalent (the average over A), needs M > N.
    projection : array, shape (N, M), optional
        A itself (overrides ``rng``).
    progress : bool or None
        Progress bar of the recursion (None: automatic).

    Returns
    -------
    DataFrame
        One row per step in the shared schema (:mod:`scalinglab.results`): ``N``, ``P`` (inf:
        fresh samples), ``t`` (the step), ``test_loss`` = E (f - w* . psi)^2, the clean-target
        test loss (PPXP's risk, no factor 1/2), ``compute`` (= B N t, PPXP's flops proxy) and
        ``batch_size``.
    """
    linear = as_linear_task(task)
    N = positive_int(N, "N")
    schedule, batch_size = one_pass_sgd(optimizer, method, learning_rate, batch_size)
    _check_spectrum(spectrum)
    steps = as_steps(steps)
    if spectrum == "exact":
        W = None
        if projection is not None:
            A = np.asarray(real_array(projection, "projection"))
            if A.shape != (N, linear.M):
                raise ValueError(f"`projection`: expected shape (N, M) = ({N}, {linear.M}), got {A.shape}")
            A = as_matrix(A, "projection")  # finite: NaN would reach LAPACK's syevd
            W = np.ascontiguousarray(A.T) / math.sqrt(N)
        measures = exact_volterra_spectrum(linear.spectrum, linear.target, projection=W, d=N,
                                           rng=rng, n_threads=n_threads)
    else:
        measures = deterministic_volterra_spectrum(linear.spectrum, linear.target_power, N,
                                                   n_threads=n_threads)
    risk = measures.risk(steps, learning_rate=schedule, batch_size=batch_size,
                         noise=linear.noise, block_fraction=block_fraction, n_threads=n_threads,
                         progress=progress)
    return risk_table(N, steps, risk, batch_size)


def risk_table(N: int, steps: np.ndarray, risk: np.ndarray, batch_size: int) -> pd.DataFrame:
    """A one-pass SGD risk curve in the shared result schema (compute = B N t)."""
    t = steps.astype(np.float64)
    return pd.DataFrame({"N": float(N), "P": np.inf, "t": t, "test_loss": risk,
                         "compute": float(batch_size * N) * t, "batch_size": batch_size})

