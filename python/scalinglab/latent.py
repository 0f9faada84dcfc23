"""The solvable model of Maloney, Roberts & Sully: latent power-law data and random features.

Model (Maloney, Roberts & Sully 2022, arXiv 2210.16859, "MRS"; with the general-ridge analysis of
Zhang 2024, arXiv 2405.19398). The paper's own text was not available to this project: the
formulas below are those of the project's theory digest (``shared/reference/mrs-bahri.md``, 1(b)
M1-M8), derived in the deterministic-equivalent framework and checked against simulation; the
normalisations are the digest's "MRS units", chosen and tested here.

* latent data x in R^M, x ~ N(0, Lambda), Lambda = diag(lambda_I), lambda_I = lambda_+ I^-(1+alpha);
* target y = w . x + eps, eps ~ N(0, sigma_eps^2); the isotropic teacher draws
  w_I ~ N(0, sigma_w^2 / M);
* features phi_j(x) = sigma(u_j . x), j < N, u_jI ~ N(0, sigma_u^2 / M) (sigma_u = 1 unless a
  function takes ``feature_scale``); these are exactly ``RandomFeatures(M, N, activation,
  lengthscale=1/sigma_u)`` applied to x;
* ridge regression on P samples: minimise 1/2 sum_mu (theta . phi(x_mu) - y_mu)^2 + gamma/2 |theta|^2,
  theta = (Phi^T Phi + gamma)^-1 Phi^T y; gamma = 0 is the minimum-norm (pseudo-inverse) solution;
* test loss: the clean-target mean squared error E_x (theta . phi(x) - w . x)^2, averaged over the
  teacher (no factor 1/2, like every test loss of scalinglab; MRS's per-output 1/2 and noisy test
  labels would give (L + sigma_eps^2) / 2).

Map to BAP (:mod:`scalinglab.tasks`): psi = x, spectrum lambda_k = lambda_+ k^-b with b = 1 + alpha,
target power lambda_k E w_k^2 = (sigma_w^2 lambda_+ / M) k^-a with a = b for the isotropic teacher,
projection A = (sqrt(M)/sigma_u) u, and ridge lambda_BAP = gamma M / (sigma_u^2 N P)
(:func:`mrs_to_bap_ridge`). The map is symmetric in N <-> P, so the MRS duality L(N, P) = L(P, N) of
the isotropic teacher holds at every fixed gamma.

Simulation (:func:`latent_learning_curve`): samples and features come from counter-based Philox
streams in the compiled core (``cpp/src/latent.cpp``); one streamed pass per seed accumulates
X u^T, X T Lambda u^T, X T X^T and u Lambda u^T (T = E w w^T) over blocks of latent coordinates,
so neither X nor u is held; every (N, P) of a nested grid is a prefix of that pass, and every
ridge comes from one eigendecomposition. The teacher and the noise are averaged analytically;
for activations with closed-form Gaussian moments (linear, relu, erf, cos, sin, fourier) the
test expectation over x is exact as well (population second moments, Stein's lemma for
E[x sigma(u . x)]), otherwise it is taken over held-out samples.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import special

from scalinglab._native import _core
from scalinglab._progress import progress_reporter
from scalinglab._rng import seed_from_rng
from scalinglab._validation import check_memory, n_threads_arg, positive_int, real_number
from scalinglab.features import ACTIVATIONS
from scalinglab.results import check_schema
from scalinglab.tasks import LinearEquivalent, LinearGaussianTask, power_law_spectrum

__all__ = [
    "LatentPowerLawTask",
    "POPULATION_ACTIVATIONS",
    "critical_kappa",
    "feature_kernel_spectrum",
    "feature_second_moment",
    "feature_stein_factor",
    "gaussian_equivalent_loss",
    "gaussian_equivalent_task",
    "latent_asymptotic_loss",
    "latent_continuum_loss",
    "latent_equiparameterization",
    "latent_learning_curve",
    "latent_optimal_ridge",
    "latent_ridgeless_loss",
    "latent_test_loss",
    "mrs_to_bap_ridge",
    "power_law_constant",
    "sampled_feature_spectrum",
]

_engine = _core.theory
_NO_MULTIPLICITY = np.empty(0, dtype=np.float64)
POPULATION_ACTIVATIONS = ("linear", "relu", "erf", "cos", "sin", "fourier")
"""Activations whose Gaussian second moments have closed forms (exact population test loss)."""


# ---- the task ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LatentPowerLawTask(LinearEquivalent):
    """MRS latent power-law data with a linear teacher (a :class:`~scalinglab.tasks.Task`).

    Parameters
    ----------
    alpha : float
        Spectral exponent alpha > 0: lambda_I = scale * I^-(1 + alpha), I = 1..M.
    M : int
        Latent dimension (up to ~1e5 and beyond for the streamed simulator).
    noise : float
        Label-noise variance sigma_eps^2 >= 0.
    teacher : "isotropic" or array_like, shape (M,)
        ``"isotropic"``: w_I ~ N(0, teacher_variance / M), averaged over in theory and simulation.
        An array: fixed teacher weights w_I; theory and simulation then average over the sign
        flips of w (the expected loss over data and features depends only on w_I^2).
    scale : float
        lambda_+ > 0, the top latent eigenvalue.
    teacher_variance : float
        sigma_w^2 > 0 of the isotropic teacher (must stay 1 with explicit weights).

    Notes
    -----
    BAP notation (:mod:`scalinglab.tasks`): b = 1 + alpha and, for the isotropic teacher,
    a = b (lambda_I E w_I^2 = (sigma_w^2 scale / M) I^-b). ``as_linear()`` is the equivalent
    :class:`~scalinglab.tasks.LinearGaussianTask` with the root-mean-square teacher
    w_I = sqrt(E w_I^2), so ``learning_curve``, ``static_loss`` and the other linear engines accept
    this task; their result is its teacher-averaged loss (the loss is linear in w w^T and only the
    diagonal of E w w^T survives the average over data and projections).
    """

    alpha: float
    M: int
    noise: float = 0.0
    teacher: object = "isotropic"
    scale: float = 1.0
    teacher_variance: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "alpha", real_number(self.alpha, "alpha", minimum=0.0,
                                                      strict=True))
        object.__setattr__(self, "M", positive_int(self.M, "M"))
        object.__setattr__(self, "noise", real_number(self.noise, "noise", minimum=0.0))
        object.__setattr__(self, "scale", real_number(self.scale, "scale", minimum=0.0,
                                                      strict=True))
        object.__setattr__(self, "teacher_variance",
                           real_number(self.teacher_variance, "teacher_variance", minimum=0.0,
                                       strict=True))
        if isinstance(self.teacher, str):
            if self.teacher != "isotropic":
                raise ValueError(
                    f"`teacher`: expected 'isotropic' or an array of M = {self.M} weights, got "
                    f"{self.teacher!r}")
        else:
            weights = np.array(self.teacher, dtype=np.float64)
            if weights.shape != (self.M,):
                raise ValueError(
                    f"`teacher`: expected 'isotropic' or shape ({self.M},), got {weights.shape}")
            if not np.isfinite(weights).all():
                raise ValueError("`teacher`: contains NaN or infinity")
            if self.teacher_variance != 1.0:
                raise ValueError("`teacher_variance`: only for the isotropic teacher (explicit "
                                 "weights carry their own scale)")
            weights.flags.writeable = False
            object.__setattr__(self, "teacher", weights)

    # ---- description ---------------------------------------------------------------------------
    @property
    def isotropic(self) -> bool:
        """True for the isotropic (MRS) teacher."""
        return isinstance(self.teacher, str)

    @property
    def b(self) -> float:
        """BAP's capacity exponent b = 1 + alpha."""
        return 1.0 + self.alpha

    @property
    def a(self) -> float | None:
        """BAP's source exponent: a = b for the isotropic teacher, None for explicit weights."""
        return self.b if self.isotropic else None

    @cached_property
    def spectrum(self) -> np.ndarray:
        """lambda_I = scale * I^-(1 + alpha), shape (M,)."""
        values = power_law_spectrum(1.0 + self.alpha, self.M, scale=self.scale)
        values.flags.writeable = False
        return values

    @cached_property
    def std_devs(self) -> np.ndarray:
        """sqrt(lambda_I), shape (M,)."""
        values = np.sqrt(self.spectrum)
        values.flags.writeable = False
        return values

    @cached_property
    def teacher_power(self) -> np.ndarray:
        """E w_I^2: teacher_variance / M (isotropic) or w_I^2, shape (M,)."""
        if self.isotropic:
            values = np.full(self.M, self.teacher_variance / self.M)
        else:
            values = np.square(self.teacher)
        values.flags.writeable = False
        return values

    @cached_property
    def _linear(self) -> LinearGaussianTask:
        # The root-mean-square teacher sqrt(E w_I^2): the loss is quadratic in w, so this task
        # gives exactly the teacher-averaged loss (see the class notes). target, target_power,
        # initial_loss and as_linear() read through to it (LinearEquivalent).
        return LinearGaussianTask(self.spectrum, np.sqrt(self.teacher_power), self.noise)

    @cached_property
    def fingerprint(self) -> str:
        """A stable hex digest of the task's values (the same in every process)."""
        digest = hashlib.sha256()
        digest.update(b"LatentPowerLawTask\0")
        digest.update(np.array([self.alpha, self.M, self.noise, self.scale,
                                self.teacher_variance], dtype=np.float64).tobytes())
        digest.update(b"isotropic" if self.isotropic else self.teacher.tobytes())
        return digest.hexdigest()

    def __eq__(self, other) -> bool:
        if not isinstance(other, LatentPowerLawTask):
            return NotImplemented
        same_teacher = (self.isotropic and other.isotropic) or (
            not self.isotropic and not other.isotropic
            and np.array_equal(self.teacher, other.teacher))
        return (same_teacher and self.alpha == other.alpha and self.M == other.M
                and self.noise == other.noise and self.scale == other.scale
                and self.teacher_variance == other.teacher_variance)

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        teacher = "'isotropic'" if self.isotropic else f"<{self.M} weights>"
        return (f"LatentPowerLawTask(alpha={self.alpha}, M={self.M}, noise={self.noise}, "
                f"teacher={teacher}, scale={self.scale}, teacher_variance={self.teacher_variance})")

    # ---- sampling ------------------------------------------------------------------------------
    def samples(self, P, *, rng=None, start=0, held_out=False, n_threads=0) -> np.ndarray:
        """Latent samples x_s for s in [start, start + P), shape (P, M), from the core's Philox.

        Sample s is the same for any P, ``start``, block or thread count; ``held_out`` selects
        the independent stream of held-out samples (``kStreamLatentTest``).
        """
        P = positive_int(P, "P")
        start = positive_int(start, "start", minimum=0)
        stream = _core.latent.STREAM_TEST if held_out else _core.latent.STREAM_DATA
        check_memory(8.0 * P * self.M, "the latent samples", "P")
        return _core.latent.samples(seed_from_rng(rng), stream, np.ascontiguousarray(self.std_devs),
                                   start, start + P, n_threads_arg(n_threads))

    def draw_teacher(self, *, rng=None) -> np.ndarray:
        """A teacher w, shape (M,): N(0, teacher_variance/M) draws (isotropic) or the weights."""
        if not self.isotropic:
            return np.array(self.teacher)
        normals = _core.random.normal(seed_from_rng(rng), _core.latent.STREAM_TEACHER, 0, self.M)
        return normals * math.sqrt(self.teacher_variance / self.M)


def _latent_task(task) -> LatentPowerLawTask:
    if not isinstance(task, LatentPowerLawTask):
        raise TypeError(f"`task`: expected a LatentPowerLawTask, got {type(task).__name__}")
    return task


def _isotropic(task, what: str) -> LatentPowerLawTask:
    task = _latent_task(task)
    if not task.isotropic:
        raise ValueError(f"`task`: {what} is the closed form of the isotropic teacher; use "
                         "latent_test_loss for explicit teacher weights")
    return task


# ---- argument grids ------------------------------------------------------------------------------


def _sizes(value, name: str) -> np.ndarray:
    """Model sizes or sample counts: real numbers > 0 or +inf (the theory is continuous in both)."""
    values = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"`{name}`: expected a scalar or a non-empty 1-D sequence, got shape "
                         f"{values.shape}")
    if np.isnan(values).any() or (values <= 0).any():
        raise ValueError(f"`{name}`: every value must be > 0 (or numpy.inf), got {values.tolist()}")
    return values


def _ridges(value) -> np.ndarray:
    values = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"`ridge`: expected a scalar or a non-empty 1-D sequence, got shape "
                         f"{values.shape}")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"`ridge`: every ridge must be finite and >= 0, got {values.tolist()}")
    return values


def _grid(N, P, ridge=None):
    Ns, Ps = _sizes(N, "N"), _sizes(P, "P")
    if ridge is None:
        n, p = (a.ravel() for a in np.meshgrid(Ns, Ps, indexing="ij"))
        return np.ascontiguousarray(n), np.ascontiguousarray(p)
    n, p, r = (a.ravel() for a in np.meshgrid(Ns, Ps, _ridges(ridge), indexing="ij"))
    return np.ascontiguousarray(n), np.ascontiguousarray(p), np.ascontiguousarray(r)


def mrs_to_bap_ridge(ridge, N, P, M, *, feature_scale=1.0):
    """lambda_BAP = gamma M / (sigma_u^2 N P): the MRS ridge gamma in BAP's per-sample convention.

    MRS: 1/2 sum (theta . u x - y)^2 + gamma/2 |theta|^2 with u ~ N(0, sigma_u^2/M); BAP:
    1/(2P) sum (w . A x / sqrt(N) - y)^2 + lambda/2 |w|^2. With A = sqrt(M) u / sigma_u and
    w = sigma_u sqrt(N/M) theta the two objectives are proportional (digest 0.1). N or P infinite
    gives 0 (the fixed gamma is negligible against the growing Gram). Arrays broadcast.
    """
    ridge, N, P = (np.asarray(v, dtype=np.float64) for v in (ridge, N, P))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = ridge * M / (feature_scale**2 * N * P)
    value = np.where(np.isinf(N) | np.isinf(P), 0.0, value)
    return float(value) if value.ndim == 0 else value


# ---- theory: the deterministic equivalent (M1-M4) ----------------------------------------------


def latent_test_loss(task, N, P, ridge=0.0) -> pd.DataFrame:
    """Deterministic-equivalent test loss of linear random-feature ridge regression (MRS units).

    Digest M1-M3 (the AZP / BAP deterministic equivalent with finite sums over the M latent
    modes, solved on the physical branch df1 < min(N, P)); for the isotropic teacher they collapse
    to M4, whose signal part is exactly symmetric under N <-> P at every gamma (the MRS/Z24
    duality). Ridgeless (gamma = 0) it is M5-M6 with the interpolation peak at N = P.

    Finite latent dimension, gamma = 0, min(N, P) >= M: the features span the M-dimensional latent
    space, so the loss is 0 without noise, and with noise the exact Gaussian ordinary least
    squares variance sigma^2 M / (P - M - 1) for P > M + 1 (infinite for P <= M + 1: the
    interpolation peak has moved to P = M). The deterministic equivalent would give M / (P - M)
    there; the exact value is returned instead.

    Parameters
    ----------
    task : LatentPowerLawTask
    N, P : float, numpy.inf or 1-D sequences of them (> 0)
        Numbers of features and of training samples; every combination is evaluated. Real
        values are allowed (the theory is continuous).
    ridge : float or 1-D sequence of floats >= 0
        gamma of 1/2 sum (theta . phi - y)^2 + gamma/2 |theta|^2, features phi = u x with
        u_jI ~ N(0, 1/M).

    Returns
    -------
    pandas.DataFrame
        One row per (N, P, ridge): ``N``, ``P``, ``ridge`` (gamma), ``bap_ridge``
        (lambda_BAP = gamma M / (N P)), ``kappa`` (renormalised ridge, BAP units),
        ``test_loss`` (clean-target MSE, teacher-averaged), ``train_loss`` (teacher-averaged
        (1/P) |y - Phi theta|^2 on the noisy labels).
    """
    task = _latent_task(task)
    n, p, r = _grid(N, P, ridge)
    bap = np.ascontiguousarray(mrs_to_bap_ridge(r, n, p, task.M), dtype=np.float64)
    linear = task.as_linear()
    kappa, test, train = _engine.ridge_errors(
        np.ascontiguousarray(linear.spectrum), np.ascontiguousarray(linear.target_power),
        _NO_MULTIPLICITY, n, p, bap, noise=task.noise, ensemble=1.0)
    kappa, test, train = np.array(kappa), np.array(test), np.array(train)
    # Exact finite-M regime (see the docstring): the least-squares problem in the latent span.
    full_rank = (r == 0) & (np.minimum(n, p) >= task.M)
    if full_rank.any():
        M, sigma2 = task.M, task.noise
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = np.where(p > M + 1, sigma2 * M / (p - M - 1), np.inf)
            residual = np.where(np.isinf(p), sigma2, sigma2 * (1 - M / p))
        test[full_rank] = 0.0 if sigma2 == 0 else variance[full_rank]
        train[full_rank] = residual[full_rank]
        kappa[full_rank] = 0.0
    frame = pd.DataFrame({"N": n, "P": p, "ridge": r, "bap_ridge": bap, "kappa": kappa,
                          "test_loss": test, "train_loss": train})
    return check_schema(frame)


def critical_kappa(task, m) -> np.ndarray:
    """kappa_0(m): the root of df1(kappa) = sum_I lambda_I/(lambda_I + kappa) = m (finite sums).

    The ridgeless renormalised ridge at capacity m = min(N, P); 0 for m >= M.

    Parameters
    ----------
    task : LatentPowerLawTask (or any task with a ``spectrum``)
    m : float or array_like (> 0)
    """
    spectrum = np.ascontiguousarray(task.as_linear().spectrum)
    m = np.asarray(m, dtype=np.float64)
    flat = m.ravel()
    if (flat <= 0).any() or np.isnan(flat).any():
        raise ValueError("`m`: every capacity must be > 0")
    out = np.empty_like(flat)
    cache: dict[float, float] = {}
    for i, value in enumerate(flat):
        if value >= spectrum.size:
            out[i] = 0.0
            continue
        if value not in cache:
            cache[value] = float(_engine.critical_kappa(spectrum, _NO_MULTIPLICITY, float(value)))
        out[i] = cache[value]
    return float(out[0]) if m.ndim == 0 else out.reshape(m.shape)


def latent_ridgeless_loss(task, N, P) -> pd.DataFrame:
    """The ridgeless closed form of the isotropic teacher (digest M5, M6), any noise.

    With m = min(N, P) < M and kappa_0 = :func:`critical_kappa` (m):

    * signal: (sigma_w^2/M) kappa_0 m / (1 - m / max(N, P))  (M5; symmetric in N <-> P);
    * noise, N < P: sigma^2 (N/P) / (1 - N/P);
    * noise, N > P: sigma^2 [df2 (N - df2) + (P - df2)^2] / [(P - df2)(N - P)], df2 at kappa_0(P).

    N = P gives +inf (the interpolation peak). For min(N, P) >= M see :func:`latent_test_loss`
    (0 without noise, sigma^2 M / (P - M - 1) with N >= M).

    Returns
    -------
    pandas.DataFrame
        ``N``, ``P``, ``ridge`` (0), ``kappa`` (kappa_0(m)), ``test_loss``.
    """
    task = _isotropic(task, "latent_ridgeless_loss")
    n, p = _grid(N, P)
    M, sigma2, w2 = task.M, task.noise, task.teacher_variance / task.M
    m = np.minimum(n, p)
    big = np.maximum(n, p)
    kappa = critical_kappa(task, m)
    lam = task.spectrum
    test = np.empty_like(n)
    for i in range(n.size):
        if m[i] >= M:
            if sigma2 == 0:
                test[i] = 0.0
            elif n[i] >= M and p[i] > M + 1:
                test[i] = sigma2 * M / (p[i] - M - 1) if np.isfinite(p[i]) else 0.0
            else:
                test[i] = np.inf
            continue
        if n[i] == p[i]:
            test[i] = np.inf
            continue
        ratio = 0.0 if np.isinf(big[i]) else m[i] / big[i]
        signal = w2 * kappa[i] * m[i] / (1 - ratio)
        if sigma2 == 0:
            noise = 0.0
        elif n[i] < p[i]:
            noise = sigma2 * ratio / (1 - ratio)
        elif np.isinf(n[i]):
            df2 = float(np.sum((lam / (lam + kappa[i])) ** 2))
            noise = sigma2 * df2 / (p[i] - df2)
        else:
            df2 = float(np.sum((lam / (lam + kappa[i])) ** 2))
            noise = sigma2 * (df2 * (n[i] - df2) + (p[i] - df2) ** 2) / (
                (p[i] - df2) * (n[i] - p[i]))
        test[i] = signal + noise
    return pd.DataFrame({"N": n, "P": p, "ridge": 0.0, "kappa": kappa, "test_loss": test})


# ---- theory: the large-N, P continuum (M7, M8) ---------------------------------------------------


def power_law_constant(alpha) -> float:
    """C_alpha = A_b^(1+alpha) = [Gamma((2+alpha)/(1+alpha)) Gamma(alpha/(1+alpha))]^(1+alpha).

    A_b = (pi/b)/sin(pi/b) with b = 1 + alpha is the continuum df1 = A_b (lambda_+/kappa)^(1/b);
    C_1 = pi^2/4 (digest M7).
    """
    alpha = real_number(alpha, "alpha", minimum=0.0, strict=True)
    b = 1.0 + alpha
    return float((special.gamma(1 + 1 / b) * special.gamma(1 - 1 / b)) ** b)


def latent_asymptotic_loss(task, N, P) -> pd.DataFrame:
    """The large-N, P power law (digest M7), isotropic teacher, ridgeless, no noise:

    L = (sigma_w^2 lambda_+ / M) C_alpha m^-alpha / (1 - m / max(N, P)),  m = min(N, P),

    valid for 1 << m << M (finite-M bias: +4.6% at m = 25, +9.3% at m = 400 for alpha = 1,
    M = 4000; compare with :func:`latent_test_loss` for the finite sums).

    Returns
    -------
    pandas.DataFrame
        ``N``, ``P``, ``test_loss``.
    """
    task = _isotropic(task, "latent_asymptotic_loss")
    n, p = _grid(N, P)
    m, big = np.minimum(n, p), np.maximum(n, p)
    prefactor = task.teacher_variance * task.scale / task.M * power_law_constant(task.alpha)
    with np.errstate(divide="ignore"):
        ratio = np.where(np.isinf(big), 0.0, m / np.where(np.isinf(big), 1.0, big))
        test = np.where(ratio < 1, prefactor * m ** (-task.alpha) / (1 - ratio), np.inf)
    return pd.DataFrame({"N": n, "P": p, "test_loss": test})


def latent_continuum_loss(task, N, P, ridge=0.0) -> pd.DataFrame:
    """Continuum loss with ridge (digest M8), isotropic teacher, signal part (no noise).

    Parametrised by D = df1 in (0, m): kappa(D) = lambda_+ (A_b / D)^b solves
    lambda_BAP = kappa(D)(1 - D/N)(1 - D/P) (monotone in D), and
    L = (sigma_w^2/M) kappa(D) (D/b) N P / [(P - (1 - 1/b) D)(N - (1 - 1/b) D) - (D/b)^2].

    Returns
    -------
    pandas.DataFrame
        ``N``, ``P``, ``ridge``, ``bap_ridge``, ``kappa``, ``test_loss``.
    """
    task = _isotropic(task, "latent_continuum_loss")
    n, p, r = _grid(N, P, ridge)
    b = task.b
    A_b = (math.pi / b) / math.sin(math.pi / b)
    inv_n = np.where(np.isinf(n), 0.0, 1.0 / n)
    inv_p = np.where(np.isinf(p), 0.0, 1.0 / p)
    m = 1.0 / np.maximum(inv_n, inv_p)
    if np.isinf(m).any():
        raise ValueError("`N`, `P`: at least one of them must be finite at every point")
    bap = mrs_to_bap_ridge(r, n, p, task.M)

    def kappa_of(D):
        return task.scale * (A_b / D) ** b

    # Vectorised bisection in log D on (0, m): F(D) = kappa(D)(1 - D/N)(1 - D/P) - lambda falls.
    lo = np.log(m) - 60.0
    hi = np.log(m)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        D = np.exp(mid)
        value = kappa_of(D) * (1 - D * inv_n) * (1 - D * inv_p) - bap
        lo = np.where(value > 0, mid, lo)
        hi = np.where(value > 0, hi, mid)
    D = np.where(bap == 0, m, np.exp(0.5 * (lo + hi)))
    kappa = kappa_of(D)
    c = 1.0 - 1.0 / b
    denominator = (1 - c * D * inv_p) * (1 - c * D * inv_n) - (D / b) ** 2 * inv_n * inv_p
    with np.errstate(divide="ignore"):
        test = np.where(denominator > 0,
                        task.teacher_variance / task.M * kappa * (D / b) / denominator, np.inf)
    return pd.DataFrame({"N": n, "P": p, "ridge": r, "bap_ridge": bap, "kappa": kappa,
                         "test_loss": test})


# ---- theory: optimal ridge and equiparameterization ----------------------------------------------


def _loss_at(task, n, p, log_ridges):
    """latent_test_loss at one (n, p) and several ridges, without building a table."""
    ridges = np.exp(np.asarray(log_ridges, dtype=np.float64))
    if not (math.isinf(n) or math.isinf(p)) and min(n, p) >= task.M:
        return latent_test_loss(task, n, p, ridges)["test_loss"].to_numpy()
    linear = task.as_linear()
    size = ridges.size
    _, test, _ = _engine.ridge_errors(
        np.ascontiguousarray(linear.spectrum), np.ascontiguousarray(linear.target_power),
        _NO_MULTIPLICITY, np.full(size, float(n)), np.full(size, float(p)),
        np.ascontiguousarray(mrs_to_bap_ridge(ridges, np.full(size, float(n)),
                                              np.full(size, float(p)), task.M)),
        noise=task.noise, ensemble=1.0)
    return np.asarray(test)


def latent_optimal_ridge(task, N, P, *, ridge_range=(1e-9, 1e4)) -> pd.DataFrame:
    """The ridge gamma* that minimises :func:`latent_test_loss` at each (N, P), and the loss there.

    A scan of 33 ridges log-spaced over ``ridge_range`` brackets the minimum; golden-section
    search in log gamma refines it to 1e-6 relative in gamma. For alpha = 1 in the continuum,
    gamma* = (pi/2)^2 lambda_+ / M at N = P (independent of N), with L_opt = 2 L(inf, N) (digest
    1(b)6).

    Returns
    -------
    pandas.DataFrame
        ``N``, ``P``, ``ridge`` (gamma*), ``test_loss``, ``interior`` (False when the minimum
        sits at an end of ``ridge_range``).
    """
    task = _latent_task(task)
    n, p = _grid(N, P)
    lo_r, hi_r = (real_number(v, "ridge_range", minimum=0.0, strict=True) for v in ridge_range)
    if not lo_r < hi_r:
        raise ValueError(f"`ridge_range`: expected (low, high) with low < high, got {ridge_range}")
    scan = np.linspace(math.log(lo_r), math.log(hi_r), 33)
    golden = (math.sqrt(5) - 1) / 2
    ridges, losses, interior = [], [], []
    for ni, pi in zip(n, p):
        values = _loss_at(task, ni, pi, scan)
        i = int(np.argmin(values))
        if i in (0, scan.size - 1):
            ridges.append(math.exp(scan[i]))
            losses.append(float(values[i]))
            interior.append(False)
            continue
        a, c = scan[i - 1], scan[i + 1]
        x1, x2 = c - golden * (c - a), a + golden * (c - a)
        f1, f2 = _loss_at(task, ni, pi, np.array([x1, x2]))
        while c - a > 1e-6:
            if f1 < f2:
                c, x2, f2 = x2, x1, f1
                x1 = c - golden * (c - a)
                f1 = _loss_at(task, ni, pi, np.array([x1]))[0]
            else:
                a, x1, f1 = x1, x2, f2
                x2 = a + golden * (c - a)
                f2 = _loss_at(task, ni, pi, np.array([x2]))[0]
        best = 0.5 * (a + c)
        ridges.append(math.exp(best))
        losses.append(float(_loss_at(task, ni, pi, np.array([best]))[0]))
        interior.append(True)
    return pd.DataFrame({"N": n, "P": p, "ridge": ridges, "test_loss": losses,
                         "interior": interior})


def latent_equiparameterization(task, compute, *, sizes_per_decade=8, span=100.0):
    """Optimal-ridge loss at fixed "compute" C = N P, and the frontier over the split of C.

    For each C, N runs over a log grid from sqrt(C)/span to sqrt(C)*span (``sizes_per_decade``
    per decade, including N = sqrt(C)), P = C/N, and the ridge is optimised at every point
    (:func:`latent_optimal_ridge`). The frontier (the best N at each C) comes from
    :func:`scalinglab.frontier.compute_optimal_frontier`. MRS's equiparameterization: the
    optimum is N = P = sqrt(C), with L* ~ C^(-alpha/2) (digest 1(b)6; exact symmetry of the
    isotropic teacher makes the loss even in log(N/sqrt(C))).

    Parameters
    ----------
    task : LatentPowerLawTask
    compute : float or 1-D sequence of floats > 0
        Values of C = N P.
    sizes_per_decade : int
    span : float
        Ratio sqrt(C)/N_min = N_max/sqrt(C) (> 1).

    Returns
    -------
    table : pandas.DataFrame
        One row per (C, N): ``N``, ``P``, ``compute``, ``ridge`` (gamma*), ``test_loss``.
    frontier : pandas.DataFrame
        One row per C: ``compute``, ``N`` (optimal), ``P`` = C/N, ``test_loss``, ``interior``.
    """
    from scalinglab.frontier import compute_optimal_frontier

    task = _latent_task(task)
    computes = _sizes(compute, "compute")
    if np.isinf(computes).any():
        raise ValueError("`compute`: every value must be finite")
    sizes_per_decade = positive_int(sizes_per_decade, "sizes_per_decade", minimum=2)
    span = real_number(span, "span", minimum=1.0, strict=True)
    half = int(math.ceil(sizes_per_decade * math.log10(span)))
    offsets = np.linspace(-math.log10(span), math.log10(span), 2 * half + 1)
    rows = []
    for C in computes:
        n = math.sqrt(C) * 10.0**offsets
        best = latent_optimal_ridge(task, n, C / n)
        best = best[best["N"] * best["P"] > 0]
        pairs = best[np.isclose(best["N"] * best["P"], C, rtol=1e-9)]
        pairs = pairs.assign(compute=C)
        rows.append(pairs[["N", "P", "compute", "ridge", "test_loss"]])
    table = pd.concat(rows, ignore_index=True)
    # The frontier helper interpolates each size across computes; here every C has its own
    # sizes, so the table is indexed by the size ratio N / sqrt(C) (shared by every C) and
    # mapped back.
    ratio_table = table.assign(
        ratio=10.0 ** np.round(np.log10(table["N"] / np.sqrt(table["compute"])), 9))
    frontier = compute_optimal_frontier(ratio_table, size="ratio", compute="compute",
                                        loss="test_loss", computes=computes)
    frontier = frontier.rename(columns={"ratio": "N_over_sqrt_C"})
    frontier["N"] = np.sqrt(frontier["compute"]) * frontier["N_over_sqrt_C"]
    frontier["P"] = frontier["compute"] / frontier["N"]
    return check_schema(table), frontier


# ---- population moments of nonlinear features ----------------------------------------------------


def _activation(activation) -> str:
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"`activation`: expected one of {', '.join(ACTIVATIONS)}, got "
                         f"{activation!r}")
    return activation


def feature_second_moment(activation, covariance, phases=None) -> np.ndarray:
    """E_x[sigma_j sigma_k] for Gaussian pre-activations with covariance q (closed forms).

    For x ~ N(0, Lambda), the pre-activations z_j = u_j . x are jointly Gaussian with
    q_jk = u_j^T Lambda u_k, so the population (uncentred) second moment of the features needs
    no samples of x (digest 1(b)7; the same kernels as :mod:`scalinglab.kernels`):

    =========  ===================================================================================
    linear     q_jk
    relu       sqrt(q_jj q_kk) (sin t + (pi - t) cos t) / (2 pi), cos t = q_jk / sqrt(q_jj q_kk)
    erf        (2/pi) arcsin(2 q_jk / sqrt((1 + 2 q_jj)(1 + 2 q_kk)))
    cos        exp(-(q_jj + q_kk)/2) cosh(q_jk)
    sin        exp(-(q_jj + q_kk)/2) sinh(q_jk)
    fourier    exp(-(q_jj + q_kk)/2) [e^{q_jk} cos(b_j - b_k) + e^{-q_jk} cos(b_j + b_k)]
    =========  ===================================================================================

    (fourier: sqrt(2) cos(z + b_j) with the map's fixed phases b_j; averaged over phases it is the
    RBF kernel.) ``tanh`` has no closed form: ValueError.

    Parameters
    ----------
    activation : str
    covariance : array_like, shape (N, N)
        q = u Lambda u^T (symmetric positive semi-definite).
    phases : array_like, shape (N,), optional
        The phases b_j (``fourier`` only).
    """
    activation = _activation(activation)
    if activation not in POPULATION_ACTIVATIONS:
        raise ValueError(f"`activation`: {activation!r} has no closed-form Gaussian moments; "
                         f"those with one are {', '.join(POPULATION_ACTIVATIONS)}")
    q = np.asarray(covariance, dtype=np.float64)
    if q.ndim != 2 or q.shape[0] != q.shape[1]:
        raise ValueError(f"`covariance`: expected a square matrix, got shape {q.shape}")
    diag = np.clip(np.diag(q), 0.0, None)
    if activation == "linear":
        return q.copy()
    if activation == "relu":
        norms = np.sqrt(np.outer(diag, diag))
        with np.errstate(divide="ignore", invalid="ignore"):
            cosine = np.clip(np.where(norms > 0, q / norms, 0.0), -1.0, 1.0)
        theta = np.arccos(cosine)
        return norms * (np.sqrt(1 - cosine**2) + (np.pi - theta) * cosine) / (2 * np.pi)
    if activation == "erf":
        ratio = 2 * q / np.sqrt(np.outer(1 + 2 * diag, 1 + 2 * diag))
        return (2 / np.pi) * np.arcsin(np.clip(ratio, -1.0, 1.0))
    damping = np.exp(-0.5 * np.add.outer(diag, diag))
    if activation == "cos":
        return damping * np.cosh(q)
    if activation == "sin":
        return damping * np.sinh(q)
    if phases is None:
        raise ValueError("`phases`: required for the fourier activation")
    b = np.asarray(phases, dtype=np.float64)
    if b.shape != diag.shape:
        raise ValueError(f"`phases`: expected shape {diag.shape}, got {b.shape}")
    return damping * (np.exp(q) * np.cos(np.subtract.outer(b, b))
                      + np.exp(-q) * np.cos(np.add.outer(b, b)))


def feature_stein_factor(activation, variances, phases=None) -> np.ndarray:
    """E[sigma'(z_j)] for z_j ~ N(0, q_jj), so that E_x[x sigma(u_j . x)] = Lambda u_j E sigma'.

    (Stein's lemma for Gaussian x.) linear 1; relu 1/2; erf (2/sqrt(pi)) / sqrt(1 + 2 q);
    cos 0; sin exp(-q/2); fourier -sqrt(2) sin(b_j) exp(-q/2); tanh by 64-point Gauss-Hermite.

    Parameters
    ----------
    activation : str
    variances : array_like, shape (N,)
        q_jj >= 0.
    phases : array_like, shape (N,), optional (``fourier``)
    """
    activation = _activation(activation)
    q = np.clip(np.asarray(variances, dtype=np.float64), 0.0, None)
    if activation == "linear":
        return np.ones_like(q)
    if activation == "relu":
        return np.full_like(q, 0.5)
    if activation == "erf":
        return (2 / np.sqrt(np.pi)) / np.sqrt(1 + 2 * q)
    if activation == "cos":
        return np.zeros_like(q)
    if activation == "sin":
        return np.exp(-q / 2)
    if activation == "fourier":
        if phases is None:
            raise ValueError("`phases`: required for the fourier activation")
        return -np.sqrt(2) * np.sin(np.asarray(phases, dtype=np.float64)) * np.exp(-q / 2)
    nodes, weights = np.polynomial.hermite_e.hermegauss(64)
    z = np.sqrt(q)[:, None] * nodes[None, :]
    return (1 - np.tanh(z) ** 2) @ weights / np.sqrt(2 * np.pi)


def _activate(activation, Z, phases):
    """sigma(Z) in place for pre-activations Z (n, N) (the RandomFeatures definitions)."""
    if activation == "linear":
        return Z
    if activation == "relu":
        np.maximum(Z, 0.0, out=Z)
    elif activation == "erf":
        special.erf(Z, out=Z)
    elif activation == "tanh":
        np.tanh(Z, out=Z)
    elif activation == "cos":
        np.cos(Z, out=Z)
    elif activation == "sin":
        np.sin(Z, out=Z)
    else:
        Z += phases[None, :]
        np.cos(Z, out=Z)
        Z *= math.sqrt(2.0)
    return Z


def _feature_map(M, n_features, activation, seed, feature_scale):
    from scalinglab.features import _rebuild

    return _rebuild(M, n_features, activation, seed, np.float64, 1.0 / feature_scale)


# ---- simulation ------------------------------------------------------------------------------------


def _seed_labels(seeds) -> list[int]:
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, (bool, np.bool_)):
        return list(range(positive_int(seeds, "seeds")))
    labels = [positive_int(s, "seeds", minimum=0) for s in np.atleast_1d(seeds).tolist()]
    if not labels or len(set(labels)) != len(labels):
        raise ValueError(f"`seeds`: expected a count or distinct labels, got {seeds!r}")
    return labels


def _counts(value, name: str) -> list[int]:
    values = np.atleast_1d(np.asarray(value))
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"`{name}`: expected a count or a non-empty 1-D sequence")
    return sorted({positive_int(v.item(), name) for v in values})


def _pinv_weights(e, ridge):
    """h = 1/(e + gamma); at gamma = 0 the pseudo-inverse (directions below the cutoff dropped)."""
    e = np.clip(e, 0.0, None)
    if ridge > 0:
        return 1.0 / (e + ridge)
    cutoff = 100 * e.size * np.finfo(np.float64).eps * max(float(e.max(initial=0.0)), 1e-300)
    with np.errstate(divide="ignore"):
        return np.where(e > cutoff, 1.0 / np.where(e > cutoff, e, 1.0), 0.0)


def _ridge_losses(Phi, gram, cross, second_moment, trace, noise, ridges, n_threads=0):
    """Teacher- and noise-averaged test and train losses along a ridge path (one eigh).

    Phi (P, N) features; gram (P, P) = X T X^T; cross (P, N) = E_w[y_clean (E_x' phi y_clean')];
    second_moment (N, N) = E_x' phi phi^T; trace = E_x' E_w (w . x')^2. With
    G = (Phi^T Phi + gamma)^-1 Phi^T, the test loss is
    trace - 2 tr(G cross) + tr(G^T C G gram) + sigma^2 tr(G^T C G); see the module notes.
    """
    from scalinglab.solvers import eigh

    P, N = Phi.shape
    primal = N <= P
    if primal:
        e, R = eigh(Phi.T @ Phi, n_threads=n_threads)
        Lh = Phi @ R                       # columns of norm sqrt(e): Phi R
        A_K = Lh.T @ gram @ Lh
        A_C = R.T @ second_moment @ R
        b1 = np.einsum("pi,pi->i", Lh, cross @ R)
    else:
        e, L = eigh(Phi @ Phi.T, n_threads=n_threads)
        Rh = Phi.T @ L                     # columns of norm sqrt(e): Phi^T L
        A_K = L.T @ gram @ L
        A_C = Rh.T @ second_moment @ Rh
        b1 = np.einsum("pi,pi->i", L, cross @ Rh)
    H = A_C * A_K
    diag_K, diag_C = np.diag(A_K), np.diag(A_C)
    trace_K = float(np.trace(gram))
    e = np.clip(e, 0.0, None)
    test, train = [], []
    for ridge in ridges:
        h = _pinv_weights(e, ridge)
        t1 = float(h @ b1)
        t2 = float(h @ H @ h)
        if primal:
            t3 = float(np.sum(h**2 * e * diag_C))
            cross_train = float(h @ diag_K)
            quad_train = float(np.sum(e * h**2 * diag_K))
        else:
            t3 = float(np.sum(h**2 * diag_C))
            cross_train = float(np.sum(e * h * diag_K))
            quad_train = float(np.sum(e**2 * h**2 * diag_K))
        eh = e * h
        noise_train = P - 2 * float(eh.sum()) + float(np.sum(eh**2))
        test.append(trace - 2 * t1 + t2 + noise * t3)
        train.append((trace_K - 2 * cross_train + quad_train + noise * noise_train) / P)
    return np.array(test), np.array(train)


def latent_learning_curve(task, N, P, ridge=0.0, *, activation="linear", seeds=1, rng=None,
                          n_test=None, feature_scale=1.0, n_threads=0, progress=None,
                          block_size=0) -> pd.DataFrame:
    """Simulated ridge / ridgeless regression on N random features of latent power-law data.

    For each seed one streamed pass of the compiled core draws P_max training samples (and
    ``n_test`` held-out ones) and N_max features and accumulates their moments; every (N, P) of
    the grid uses the first N features and the first P samples of that pass (nested), and every
    ridge comes from one eigendecomposition of the smaller Gram (Phi^T Phi or Phi Phi^T).

    The loss is averaged over the teacher (w ~ N(0, T), T = ``task.teacher_power``) and over the
    label noise analytically. Over the test point x it is exact ("population") for the
    activations with closed-form Gaussian moments (:data:`POPULATION_ACTIVATIONS`, via
    :func:`feature_second_moment` and :func:`feature_stein_factor`), or an average over
    ``n_test`` held-out samples ("held_out", always for ``tanh``).

    Parameters
    ----------
    task : LatentPowerLawTask
    N, P : int or 1-D sequences of int
        Numbers of features and training samples (a grid; every combination).
    ridge : float or 1-D sequence of floats >= 0
        gamma of 1/2 sum (theta . phi - y)^2 + gamma/2 |theta|^2 (0 = minimum-norm solution).
    activation : str
        One of ``scalinglab.features.ACTIVATIONS``; phi_j = sigma(u_j . x) exactly as
        ``RandomFeatures(M, N, activation, lengthscale=1/feature_scale)``.
    seeds : int or sequence of int
        A count (labels 0..n-1) or labels; seed s is keyed by derive_seed(key(rng), s).
    rng : None, int or numpy.random.Generator
    n_test : int, optional
        Held-out samples for the test average (default: population moments where they exist,
        otherwise 4 max(P)).
    feature_scale : float
        sigma_u: u_jI ~ N(0, sigma_u^2 / M).
    n_threads : int
        Threads (0 = all cores).
    progress : None, True or False
        A progress bar (None: automatic for long runs).
    block_size : int
        Latent coordinates per streamed block (0 = automatic); results agree to rounding.

    Returns
    -------
    pandas.DataFrame
        One row per (seed, N, P, ridge): ``seed``, ``N``, ``P``, ``ridge``, ``test_loss``,
        ``train_loss``, ``evaluation`` ("population" or "held_out").
    """
    task = _latent_task(task)
    activation = _activation(activation)
    Ns, Ps = _counts(N, "N"), _counts(P, "P")
    ridges = _ridges(ridge).tolist()
    labels = _seed_labels(seeds)
    feature_scale = real_number(feature_scale, "feature_scale", minimum=0.0, strict=True)
    n_threads = n_threads_arg(n_threads)
    block_size = positive_int(block_size, "block_size", minimum=0)
    if n_test is None:
        n_test = 0 if activation in POPULATION_ACTIVATIONS else 4 * Ps[-1]
    else:
        n_test = positive_int(n_test, "n_test")
    evaluation = "held_out" if n_test > 0 else "population"
    n_max, p_max = Ns[-1], Ps[-1]
    n_rows = p_max + n_test
    check_memory(8.0 * (2 * n_rows * n_max + n_rows**2 + 4 * n_max**2 + 3 * min(n_max, p_max)**2),
                 "the streamed moments and the eigendecompositions", "N")
    key = seed_from_rng(rng)
    sd = np.ascontiguousarray(task.std_devs)
    power = np.ascontiguousarray(task.teacher_power)
    trace_population = float(np.sum(task.spectrum * task.teacher_power))
    work_per_seed = float(task.M) * (n_rows + n_max) ** 2
    rows = []
    with progress_reporter(progress, len(labels) * work_per_seed, desc="latent simulation",
                           long=len(labels) * work_per_seed > 2e10) as bar:
        for label in labels:
            seed_key = int(_core.random.derive_seed(key, label))
            data_seed = int(_core.random.derive_seed(seed_key, 0))
            feature_seed = int(_core.random.derive_seed(seed_key, 1))
            Z, cross_x, gram_x, q = _core.latent.moments(
                data_seed, sd, power, p_max, n_test, feature_seed, n_max, block_size, n_threads,
                bar.stage(work_per_seed))
            if feature_scale != 1.0:
                Z *= feature_scale
                cross_x *= feature_scale
                q *= feature_scale**2
            phases = (_feature_map(task.M, n_max, activation, feature_seed,
                                   feature_scale).phases() if activation == "fourier" else None)
            Phi = _activate(activation, Z, phases)
            if n_test == 0:
                second = feature_second_moment(activation, q, phases)
                stein = feature_stein_factor(activation, np.diag(q), phases)
                cross = cross_x[:p_max] * stein[None, :]
                trace = trace_population
            else:
                Phi_test = Phi[p_max:]
                second = Phi_test.T @ Phi_test / n_test
                cross = gram_x[:p_max, p_max:] @ Phi_test / n_test
                trace = float(np.trace(gram_x[p_max:, p_max:])) / n_test
            for n in Ns:
                for p in Ps:
                    test, train = _ridge_losses(
                        Phi[:p, :n], gram_x[:p, :p], cross[:p, :n], second[:n, :n], trace,
                        task.noise, ridges, n_threads)
                    for r, te, tr in zip(ridges, test, train):
                        rows.append((label, float(n), float(p), r, te, tr))
    frame = pd.DataFrame(rows, columns=["seed", "N", "P", "ridge", "test_loss", "train_loss"])
    frame["evaluation"] = evaluation
    return check_schema(frame)


# ---- spectra of nonlinear features ----------------------------------------------------------------


def feature_kernel_spectrum(task, n_features, activation, *, rng=None, feature_scale=1.0,
                            centered=False, n_threads=0) -> np.ndarray:
    """Population spectrum of N random features of the latent data, without sampling x.

    The eigenvalues of C / N, C_jk = E_x[sigma(u_j . x) sigma(u_k . x)] in closed form from
    q = u Lambda u^T (:func:`feature_second_moment`), are the top N eigenvalues of the N-feature
    kernel operator (1/N) sum_j phi_j(x) phi_j(x'). Linear features have rank M; a nonlinearity
    with Hermite content above degree 1 adds a tail beyond rank M (digest 1(b)7, D4).

    Parameters
    ----------
    task : LatentPowerLawTask
    n_features : int
    activation : str (not ``tanh``)
    rng : None, int or Generator
        Key of the features (the same key gives the features of :func:`sampled_feature_spectrum`).
    feature_scale : float
        sigma_u (the mean pre-activation variance is sigma_u^2 sum(lambda) / M).
    centered : bool
        Use the covariance (subtract the feature means E sigma = 0 / sqrt(q/2 pi) / ...) instead of
        the second moment; only relu has a non-zero mean among the closed forms (besides cos).

    Returns
    -------
    ndarray, shape (n_features,)
        Descending eigenvalues (clipped at 0).
    """
    task = _latent_task(task)
    n_features = positive_int(n_features, "n_features")
    q, phases, activation = _population_covariance(task, n_features, activation, rng,
                                                   feature_scale, n_threads)
    C = feature_second_moment(activation, q, phases)
    if centered:
        mean = _feature_mean(activation, np.diag(q), phases)
        C = C - np.outer(mean, mean)
    from scalinglab.solvers import eigvalsh

    values = eigvalsh(0.5 * (C + C.T)) / n_features
    return np.clip(values[::-1], 0.0, None)


def _feature_mean(activation, variances, phases):
    q = np.clip(variances, 0.0, None)
    if activation == "relu":
        return np.sqrt(q / (2 * np.pi))
    if activation == "cos":
        return np.exp(-q / 2)
    if activation == "fourier":
        return np.sqrt(2) * np.cos(phases) * np.exp(-q / 2)
    return np.zeros_like(q)


def _population_covariance(task, n_features, activation, rng, feature_scale, n_threads):
    activation = _activation(activation)
    if activation not in POPULATION_ACTIVATIONS:
        raise ValueError(f"`activation`: {activation!r} has no closed-form Gaussian moments; "
                         f"those with one are {', '.join(POPULATION_ACTIVATIONS)}")
    feature_scale = real_number(feature_scale, "feature_scale", minimum=0.0, strict=True)
    feature_seed = seed_from_rng(rng)
    check_memory(8.0 * 3 * n_features**2, "the feature covariance", "n_features")
    # One (dummy) sample: the pass is dominated by u Lambda u^T.
    *_, q = _core.latent.moments(0, np.ascontiguousarray(task.std_devs),
                                np.ascontiguousarray(task.teacher_power), 1, 0, feature_seed,
                                n_features, 0, n_threads_arg(n_threads), None)
    q *= feature_scale**2
    phases = (_feature_map(task.M, n_features, activation, feature_seed, feature_scale).phases()
              if activation == "fourier" else None)
    return q, phases, activation


def sampled_feature_spectrum(task, n_features, activation, n_samples, *, rng=None, data_rng=None,
                             feature_scale=1.0, n_threads=0) -> np.ndarray:
    """Spectrum of the empirical feature second moment Phi^T Phi / (n N) from n samples.

    The same features as :func:`feature_kernel_spectrum` with the same ``rng``; it converges to
    that population spectrum as n_samples grows (an O(sqrt(N / n)) distortion at finite n).

    Returns
    -------
    ndarray, shape (n_features,)
        Descending eigenvalues.
    """
    task = _latent_task(task)
    n_features = positive_int(n_features, "n_features")
    n_samples = positive_int(n_samples, "n_samples")
    activation = _activation(activation)
    feature_scale = real_number(feature_scale, "feature_scale", minimum=0.0, strict=True)
    feature_seed = seed_from_rng(rng)
    Z, *_ = _core.latent.moments(seed_from_rng(data_rng), np.ascontiguousarray(task.std_devs),
                                np.ascontiguousarray(task.teacher_power), n_samples, 0,
                                feature_seed, n_features, 0, n_threads_arg(n_threads), None)
    Z *= feature_scale
    phases = (_feature_map(task.M, n_features, activation, feature_seed, feature_scale).phases()
              if activation == "fourier" else None)
    Phi = _activate(activation, Z, phases)
    from scalinglab.solvers import eigvalsh

    values = eigvalsh(Phi.T @ Phi) / (n_samples * n_features)
    return np.clip(values[::-1], 0.0, None)


# ---- Gaussian equivalence for nonlinear features --------------------------------------------------


def gaussian_equivalent_task(task, activation, n_modes, *, teacher_weights, rng=None,
                             feature_scale=1.0, noise=None, n_threads=0) -> LinearGaussianTask:
    """A linear Gaussian task standing for nonlinear random features of the latent data.

    The kernel of the features, k(x, x') = E_u sigma(u . x) sigma(u . x'), is represented by a
    pool of ``n_modes`` features (key ``rng``) whose population second moment C is exact
    (:func:`feature_second_moment`): its eigenpairs C V = n_modes mu V give the kernel spectrum mu
    and eigenfunctions e_k = phi . V_k / sqrt(n_modes mu_k). The target
    f* = sum_j teacher_weights_j phi_j (a combination of pool features: a target with nonlinear
    content) has power c_k^2 = (teacher_weights^T C V_k)^2 / (n_modes mu_k) on mode k.

    Gaussian equivalence (an approximation, exact only for linear features) replaces the
    features by Gaussian ones with the same spectrum: nonlinear random features on N of them
    are then the linear random-feature model of this task (:func:`gaussian_equivalent_loss`).

    Returns
    -------
    LinearGaussianTask
        spectrum mu (modes with mu > 1e-12 mu_max), target c_k / sqrt(mu_k), noise
        (``task.noise`` unless given).
    """
    task = _latent_task(task)
    n_modes = positive_int(n_modes, "n_modes")
    v = np.asarray(teacher_weights, dtype=np.float64)
    if v.shape != (n_modes,):
        raise ValueError(f"`teacher_weights`: expected shape ({n_modes},), got {v.shape}")
    q, phases, activation = _population_covariance(task, n_modes, activation, rng,
                                                   feature_scale, n_threads)
    C = feature_second_moment(activation, q, phases)
    from scalinglab.solvers import eigh

    values, vectors = eigh(0.5 * (C + C.T))
    values, vectors = values[::-1] / n_modes, vectors[:, ::-1]
    keep = values > 1e-12 * values[0]
    mu = values[keep]
    coefficients = (v @ C @ vectors[:, keep]) / np.sqrt(n_modes * mu)
    noise = task.noise if noise is None else real_number(noise, "noise", minimum=0.0)
    return LinearGaussianTask(mu, coefficients / np.sqrt(mu), noise)


def gaussian_equivalent_loss(equivalent_task, N, P, ridge=0.0) -> pd.DataFrame:
    """Deterministic-equivalent test loss of N random features in the Gaussian-equivalent model.

    The MRS ridge gamma of 1/2 sum (theta . phi - y)^2 + gamma/2 |theta|^2 maps to
    lambda_BAP = gamma / (N P) for features phi = A psi, A ~ N(0, 1) (the normalisation of
    :func:`gaussian_equivalent_task`, where E psi psi^T = diag(mu)).

    Returns
    -------
    pandas.DataFrame
        ``N``, ``P``, ``ridge``, ``bap_ridge``, ``kappa``, ``test_loss``, ``train_loss``.
    """
    if not isinstance(equivalent_task, LinearGaussianTask):
        raise TypeError("`equivalent_task`: expected the LinearGaussianTask of "
                        f"gaussian_equivalent_task, got {type(equivalent_task).__name__}")
    n, p, r = _grid(N, P, ridge)
    bap = np.ascontiguousarray(mrs_to_bap_ridge(r, n, p, 1.0))
    kappa, test, train = _engine.ridge_errors(
        np.ascontiguousarray(equivalent_task.spectrum),
        np.ascontiguousarray(equivalent_task.target_power), _NO_MULTIPLICITY, n, p, bap,
        noise=equivalent_task.noise, ensemble=1.0)
    return check_schema(pd.DataFrame({"N": n, "P": p, "ridge": r, "bap_ridge": bap,
                                      "kappa": kappa, "test_loss": test, "train_loss": train}))
