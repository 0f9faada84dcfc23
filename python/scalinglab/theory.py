"""Theory curves for the linear random-feature model: DMFT learning curves, static deterministic
equivalents, bottleneck exponents and the compute-optimal frontier.

Model (Bordelon, Atanasov & Pehlevan 2024, arXiv 2402.01092, "BAP"; conventions of
:mod:`scalinglab.tasks`): Gaussian features psi with covariance diag(lambda_k), target
y = w* . psi + eps with noise variance sigma^2, student f = w . (A psi) / sqrt(N) with
A_ij ~ N(0, 1), trained on P samples from w = 0 on (1/(2P)) sum (y - f)^2 by gradient flow
dw/dt = -grad (time t, ``GradientFlow()`` / ``method="gf"``) or gradient descent with step eta
(``GradientDescent(eta)`` / ``method="gd"``), the specs of :mod:`scalinglab.optimizers`.
Test loss: clean-target E_x (f - w* . psi)^2; train loss: (1/P) sum (y - f)^2 on the noisy
labels. The ridge convention shared with the solvers is
(1/(2P)) sum (y - F w)^2 + (ridge/2) |w|^2 with F = A psi / sqrt(N).

How it is computed (all in the compiled core, ``cpp/src/theory.cpp``):

* one-point equation: the renormalised ridge kappa(s) solves
  s = kappa (1 - df/N)(1 - df/P), df = sum_k lambda_k / (lambda_k + kappa), on the physical branch
  df < min(N, P) (BAP's H_k = 1/(s + lambda_k R1 R3) with R1 = 1 - df/P, R3 = 1 - df/N);
* two-point equations: a 2x2 linear system for the correlations C0 (test) and C3 (projection
  field) per pair (s, s'), with the data-noise forcing sigma^2/(s s') in C1 = C0 + sigma^2/(s s')
  and the train loss from R1(s) R1(s') C1(s, s');
* time domain: a 2-D fixed Talbot inversion with about 16 nodes (the weights grow like e^{2n/5}
  and the 2-D sum squares them: n = 16 gives ~1e-11 relative accuracy, n = 32 ~1e-6);
* ensembles of E members sharing the data: L_E = L_x + (L - L_x)/E with the cross-member
  correlation C_x = [S1w + qq'T2 sigma^2/(P s s')] / (1 - qq'T2/P).

The static limits (t -> infinity, or ridge regression at any ridge) are the same two-point
system at real s = s' = ridge; for linear random features it is the deterministic equivalent of
Atanasov, Zavatone-Veth & Pehlevan 2024 (arXiv 2405.00592, "AZP").

Truncation: a :class:`~scalinglab.tasks.PowerLawTask` has M modes and the theory is exact for
that M-mode task (the simulator uses the same M). The infinite power law converges slowly in M
at finite N or P: every mode k > M adds lambda_k/kappa to df, sum_{k>M} k^-b ~ M^(1-b)/(b-1), so
for b = 1.5 the N = 100 plateau is 15% low at M = 1500 and still 1% low at M = 2e5. Keyword
``truncation``:

* ``"warn"`` (default): when M is too small for the requested t, N, P to stand for the
  M -> infinity power law, a :class:`TruncationWarning` says so with numbers (the result is
  recomputed with 2M modes at the latest time, or at every static point, and the warning fires
  when the test loss moves by more than 1%);
* ``"ignore"``: the M-mode task, silently;
* ``"extend"``: the tail correction: the power law continued to k = infinity. The modes k > M
  enter every sum of the theory through a quadrature of the integral from M + 1/2 (composite
  Gauss-Legendre in log k, a few hundred nodes, plus one lumped mode for the far tail where
  lambda_k is below 1e-9 x the smallest renormalised ridge probed). Accuracy: M = 1500 and
  M = 20000 agree to ~5e-9 (the Euler-Maclaurin remainder ~1/(24 M^2) relative to the tail); at
  N = P = inf the result equals sum_{k>=1} k^-a e^(-2 k^-b t) to 1e-8 (M = 1500).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalinglab import frontier as _frontier
from scalinglab._native import _core
from scalinglab._validation import (
    capacity,
    grid,
    n_threads_arg,
    positive_int,
    real_array,
    real_number,
)
from scalinglab._validation import times as as_times
from scalinglab.frontier import ComputeOptimalExponents
from scalinglab.optimizers import optimizer_argument
from scalinglab.tasks import PowerLawTask, as_linear_task

__all__ = [
    "BottleneckExponents",
    "ComputeOptimalExponents",
    "FiniteSizeWarning",
    "OnePointSolution",
    "TruncationWarning",
    "bottleneck_exponents",
    "compute_optimal",
    "compute_optimal_frontier_theory",
    "learning_curve_theory",
    "one_point",
    "ridge_test_error",
    "static_loss",
]

_NO_MULTIPLICITY = np.empty(0, dtype=np.float64)
# Relative change of the test loss under M -> 2M above which a TruncationWarning is raised.
_TRUNCATION_TOLERANCE = 0.01


class TruncationWarning(UserWarning):
    """The M-mode power-law task is too short to stand for the infinite power law here."""


class FiniteSizeWarning(UserWarning):
    """A theory is used outside the regime where it is accurate (docs/theory-finite-size.md)."""


# Below this finite N or P the uncorrected DMFT misses O(1/N), O(1/P) terms of several percent.
_FINITE_SIZE_WARN_BELOW = 50


def _finite_size_mode(finite_size, method="gf", ensemble=1.0) -> str | None:
    if finite_size not in (None, "leading"):
        raise ValueError(f"`finite_size`: expected None (the DMFT) or 'leading', got {finite_size!r}")
    if finite_size == "leading" and method != "gf":
        raise ValueError("`finite_size`: 'leading' is derived for gradient flow (method='gf')")
    if finite_size == "leading" and ensemble != 1.0:
        raise ValueError("`finite_size`: 'leading' is derived for a single model (ensemble=1)")
    return finite_size


def _finite_size_sides(N: float, P: float, rank: float) -> None:
    if math.isfinite(N) and math.isfinite(P) and N >= rank:
        raise ValueError("`finite_size`: 'leading' with both N and P finite needs N below the "
                         f"number of modes ({rank:g}); got N={N:g}, P={P:g}")


def _warn_finite_size(finite_size, Ns, Ps) -> None:
    finite = [x for x in list(Ns) + list(Ps) if math.isfinite(x)]
    if finite_size is None and finite and min(finite) <= _FINITE_SIZE_WARN_BELOW:
        warnings.warn(
            f"N or P = {min(finite):g} <= {_FINITE_SIZE_WARN_BELOW}: the DMFT / deterministic "
            "equivalent drops an O(1/N), O(1/P) term (a few percent of the loss here); use "
            "finite_size='leading' or see docs/theory-finite-size.md.",
            FiniteSizeWarning, stacklevel=3)


# ---- argument checks ------------------------------------------------------------------------


def _capacity(value, name: str) -> float:
    """A count (model size N, sample count P, ensemble size E): a positive integer or numpy.inf."""
    return capacity(value, name)


def _capacities(value, name: str) -> list[float]:
    return grid(value, name, sort=False)


def _times(t) -> np.ndarray:
    return as_times(t, "t")


def _truncation_mode(truncation, task=None) -> str:
    if truncation not in ("warn", "ignore", "extend"):
        raise ValueError(f"`truncation`: expected 'warn', 'ignore' or 'extend', got {truncation!r}")
    if truncation == "extend" and task is not None and not isinstance(task, PowerLawTask):
        raise ValueError("`truncation`: 'extend' continues a PowerLawTask's power law beyond its M "
                         f"modes; got a {type(task).__name__}")
    if truncation == "extend" and task is not None and task.b <= 1.0:
        raise ValueError("`truncation`: 'extend' needs b > 1 (the trace sum_k k^-b diverges as "
                         f"M -> infinity otherwise); got b = {task.b}")
    return truncation


@dataclass(frozen=True)
class _ModeArrays:
    """What the engine sums over: lambda_k, lambda_k w*_k^2, multiplicities (empty = all 1)."""

    spectrum: np.ndarray
    power: np.ndarray
    multiplicity: np.ndarray
    noise: float


# The tail k > M of a power law is integrated in u = log(k / (M + 1/2)) by composite
# Gauss-Legendre (panels of 0.5 in u, 8 nodes each): the integrand's poles sit at
# Im u = (pi - arg kappa)/b, >= 0.5 for the Talbot nodes whose weights matter (arg kappa <= 3pi/4),
# where this rule is accurate to ~1e-10. Beyond lambda = 1e-9 x (the smallest kappa the problem
# probes), where every term is linear in lambda/kappa to 1e-9, the rest of the tail is one lumped
# mode matching sum lambda, sum lambda^2 and sum lambda w*^2 exactly.
_TAIL_PANEL_WIDTH = 0.5
_TAIL_PANEL_NODES = 8
_TAIL_FAR = 1e-9


def _mode_arrays(task, kappa_floor: float | None = None) -> _ModeArrays:
    """Explicit modes, plus (kappa_floor given, PowerLawTask) the power law continued to infinity.

    Replacing sum_{k>M} F(k) by the integral from M + 1/2 (Euler-Maclaurin midpoint) leaves
    ~F''/24 ~ 1/(24 M^2) relative to the tail.
    """
    linear = as_linear_task(task)
    if kappa_floor is None:
        return _ModeArrays(linear.spectrum, linear.target_power, _NO_MULTIPLICITY, linear.noise)
    a, b, start = task.a, task.b, task.M + 0.5
    x_far = (_TAIL_FAR * kappa_floor) ** (-1.0 / b)
    span = max(math.log(max(x_far, start) / start), _TAIL_PANEL_WIDTH)
    panels = int(math.ceil(span / _TAIL_PANEL_WIDTH))
    width = span / panels
    nodes, weights = np.polynomial.legendre.leggauss(_TAIL_PANEL_NODES)
    u = ((np.arange(panels)[:, None] + 0.5 * (nodes[None, :] + 1.0)) * width).ravel()
    x = start * np.exp(u)
    multiplicity = np.tile(0.5 * width * weights, panels) * x  # dk = k du
    end = start * math.exp(span)
    moment_1 = end ** (1 - b) / (b - 1)          # int_end^inf k^-b dk
    moment_2 = end ** (1 - 2 * b) / (2 * b - 1)  # int k^-2b
    moment_p = end ** (1 - a) / (a - 1)          # int k^-a
    lump_lambda, lump_m = moment_2 / moment_1, moment_1**2 / moment_2
    return _ModeArrays(
        np.concatenate([linear.spectrum, x ** (-b), [lump_lambda]]),
        np.concatenate([linear.target_power, x ** (-a), [moment_p / lump_m]]),
        np.concatenate([np.ones(task.M), multiplicity, [lump_m]]),
        linear.noise,
    )


def _curve(modes: _ModeArrays, N: float, P: float, times: np.ndarray, optimizer: str,
           learning_rate: float, ensemble: float, talbot_nodes: int, n_threads: int):
    return _core.theory.learning_curve(
        modes.spectrum, modes.power, modes.multiplicity, N, P, times, optimizer=optimizer,
        learning_rate=learning_rate, ensemble=ensemble, noise=modes.noise,
        talbot_nodes=talbot_nodes, n_threads=n_threads,
    )


def _curve_kappa_floor(times: np.ndarray, optimizer: str, learning_rate: float, nodes: int) -> float:
    """A lower bound (x 0.1) on the |kappa| the Talbot nodes of these times reach: kappa >= s on
    the real node, whose s is smallest at the latest time."""
    t_max = float(times.max()) if times.size and times.max() > 0 else 1.0
    if optimizer == "gd":
        return 0.1 * math.expm1(min(2 * nodes / (5 * t_max), 1.5)) / learning_rate
    return 0.1 * 2 * nodes / (5 * learning_rate * t_max)


def _warn_truncation(task, worst: tuple | None) -> None:
    """worst = (relative change, loss at M, loss at 2M, N, P, where)."""
    if worst is None:
        return
    change, loss_m, loss_2m, N, P, where = worst
    if change <= _TRUNCATION_TOLERANCE:
        return
    scale = max(x for x in (N, P) if math.isfinite(x)) if any(math.isfinite(x) for x in (N, P)) else 0
    warnings.warn(
        f"PowerLawTask(M={task.M}) truncates the power law k^-{task.a:g} too early for this "
        f"request: at {where}, N={N:g}, P={P:g} the test loss moves by {100 * change:.1f}% when M is "
        f"doubled ({loss_m:.6g} -> {loss_2m:.6g}). The result is exact for the {task.M}-mode task "
        f"(which a simulation of this task also uses) but not for M = infinity: use "
        f"truncation='extend' for the infinite power law, or M >> max(N, P, t^(1/b)) (here "
        f"max(N, P) = {scale:g}), or truncation='ignore' to silence this.",
        TruncationWarning,
        stacklevel=3,
    )


def _doubled(task: PowerLawTask) -> PowerLawTask:
    return PowerLawTask(task.a, task.b, 2 * task.M, task.noise)


# ---- one-point equation -----------------------------------------------------------------------


@dataclass(frozen=True)
class OnePointSolution:
    """Solutions of the one-point equation s = kappa (1 - df/N)(1 - df/P) (BAP B4-B8).

    Attributes
    ----------
    s : complex ndarray, shape (K,)
        Laplace variables (a ridge when real and positive).
    kappa : complex ndarray, shape (K,)
        Renormalised ridge kappa(s) on the physical branch.
    R1 : complex ndarray, shape (K,)
        Data response 1 - df(kappa)/P (1 when P = inf).
    R3 : complex ndarray, shape (K,)
        Projection response 1 - df(kappa)/N (1 when N = inf).
    """

    s: np.ndarray
    kappa: np.ndarray
    R1: np.ndarray
    R3: np.ndarray


def one_point(task, N, P, s) -> OnePointSolution:
    """Solve BAP's one-point equations for the renormalised ridge at each Laplace variable.

    The renormalised ridge kappa(s) solves s = kappa (1 - df(kappa)/N)(1 - df(kappa)/P) with
    df(kappa) = sum_k lambda_k/(lambda_k + kappa) (BAP, arXiv 2402.01092, one-point equations
    H_k = 1/(s + lambda_k R1 R3); AZP, arXiv 2405.00592, Eq. for linear random features at
    s = ridge). Real s > 0 is solved by a bracketed Newton on the branch (kappa_c, inf) where
    df < min(N, P); complex s by continuation from |s| along the straight segment to s. s = 0
    gives the ridgeless limit kappa_c (df(kappa_c) = min(N, P), or 0 if min(N, P) >= M).

    Parameters
    ----------
    task : PowerLawTask or LinearGaussianTask
    N, P : int or numpy.inf
        Model size (number of random features) and number of training samples.
    s : complex or array_like of complex, shape (K,)
        Laplace variables with Re s > 0 or Im s != 0, or s = 0.

    Returns
    -------
    OnePointSolution
        kappa, R1, R3 as complex arrays of shape (K,).
    """
    N, P = _capacity(N, "N"), _capacity(P, "P")
    points = np.atleast_1d(np.asarray(s, dtype=np.complex128))
    if points.ndim != 1:
        raise ValueError(f"`s`: expected a scalar or 1-D array, got shape {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("`s`: contains NaN or infinity")
    bad = (points.imag == 0) & (points.real < 0)
    if bad.any():
        raise ValueError(f"`s`: real Laplace variables must be >= 0, got {points.real[bad][0]:g}")
    spectrum = _mode_arrays(task).spectrum
    kappa, r1, r3 = (np.empty(points.size, dtype=np.complex128) for _ in range(3))
    for i, point in enumerate(points):  # each point from its own start on the real axis
        k, a, b = _core.theory.one_point(spectrum, _NO_MULTIPLICITY, N, P, np.array([point]))
        kappa[i], r1[i], r3[i] = k[0], a[0], b[0]
    return OnePointSolution(points, kappa, r1, r3)


# ---- learning curves --------------------------------------------------------------------------


def learning_curve_theory(task, N, P, t, *, optimizer=None, method: str | None = None,
                          learning_rate: float | None = None, ensemble=1, talbot_nodes: int = 16,
                          truncation: str = "warn", n_threads: int = 0,
                          finite_size: str | None = None) -> pd.DataFrame:
    """DMFT test and train loss of the linear random-feature model at each time.

    Solves BAP's (arXiv 2402.01092) one-point equations (B4-B8 of the project's theory digest)
    and two-point equations (B9-B13) for gradient flow, inverted to time by a 2-D fixed Talbot
    contour (Abate & Valko 2004). For gradient descent the same equations are integrated against
    (1 + eta s)^t (1 + eta s')^t; the inversion is done in u = log(1 + eta s), where that factor
    is e^{u t}, which needs whole steps and eta * x_max < 1, x_max the top of the
    deterministic-equivalent spectrum of the kernel (computed; lambda_1 = 1 at N = P = inf, 1.26
    for the a = 2, b = 1.5 task at N = 100, P = 400); a larger rate raises ValueError with the
    numbers.

    Parameters
    ----------
    task : PowerLawTask or LinearGaussianTask
        Spectrum lambda_k, target w*_k and label-noise variance sigma^2 (``task.noise``).
    N : int, numpy.inf, or 1-D sequence of them
        Model sizes (number of random features). numpy.inf gives the kernel (infinite-width) limit.
    P : int, numpy.inf, or 1-D sequence of them
        Training-set sizes. numpy.inf gives the online / population-gradient limit (R1 = 1).
    t : float or array_like, shape (T,)
        Times >= 0: gradient-flow time, or numbers of steps for gradient descent.
    optimizer : GradientFlow, GradientDescent or {"gf", "gd"}, optional
        Gradient flow dw/dt = -grad (default; no learning rate, t is its time, as in
        :func:`scalinglab.dynamics.learning_curve`), or gradient descent w <- w - eta grad
        (``GradientDescent(eta)``). A flow with time scale eta is gradient flow at time eta t.
    method : {"gf", "gd"}, optional
        Shorthand for ``optimizer``.
    learning_rate : float, optional
        eta with the shorthand ``"gd"`` (required there; refused for gradient flow).
    ensemble : int or numpy.inf
        Number E of members averaged (independent projections A, the same P samples; BAP
        ensembles). numpy.inf gives the averaged-predictor ("bias") limit.
    talbot_nodes : int
        Talbot nodes in the upper half-plane (2n - 1 in all). Keep about 16: the 2-D inversion
        squares weights that grow like e^{2n/5}.
    truncation : {"warn", "ignore", "extend"}
        For a PowerLawTask: warn (:class:`TruncationWarning`) when doubling M moves the test loss
        at the latest time by more than 1%; ignore; or extend the power law to M = infinity
        (the tail correction, see the module notes).
    n_threads : int
        Threads over times (0 = all cores). Results do not depend on it.
    finite_size : {None, "leading"}
        None: the DMFT (exact in the proportional limit). "leading": add the O(1/N) and O(1/P)
        terms the DMFT drops (real-Gaussian resolvent corrections, see
        :mod:`scalinglab.theory_finite_size` and docs/theory-finite-size.md): one finite side
        (error O(1/n^2)), or both N and P finite (compiled too: conditional on A
        the P-side expansion of a regression on C = A Lam A^T / N, with the N-side averages to
        O(1/N); neglects O(1/N^2 + 1/P^2 + 1/(N P)); needs N below the number of modes);
        gradient flow, ensemble 1. With None, a :class:`FiniteSizeWarning` is raised when a
        finite N or P is <= 50.

    Returns
    -------
    pandas.DataFrame
        One row per (N, P, t), columns ``N``, ``P``, ``t``, ``train_loss``, ``test_loss`` (the
        columns of :func:`scalinglab.dynamics.learning_curve` without ``seed``); N and P are
        floats (numpy.inf allowed).

    Notes
    -----
    At t = 0 the losses are exact: test sum_k lambda_k w*_k^2, train the same plus sigma^2.
    Accuracy: ~1e-10 relative on the exactly solvable N = P = inf case for t in [0.1, 1e5], and
    an absolute floor of ~1e-15 x L(0): a loss that has converged to 0 (the train loss of an
    interpolating model, every mode learned) comes out as rounding noise of that size, possibly
    slightly negative.
    The N = P curve rises without bound at late times (interpolation peak), even at sigma = 0.
    """
    Ns, Ps = _capacities(N, "N"), _capacities(P, "P")
    times = _times(t)
    spec = optimizer_argument(optimizer, method, learning_rate, allowed=("gf", "gd"))
    method, eta = spec.name, spec.learning_rate
    if method == "gd" and not np.all(times == np.floor(times)):
        raise ValueError("`t`: gradient descent takes whole numbers of steps")
    E = _capacity(ensemble, "ensemble")
    nodes = positive_int(talbot_nodes, "talbot_nodes", minimum=4)
    if nodes > 64:
        raise ValueError(f"`talbot_nodes`: expected 4..64 (about 16), got {nodes}")
    threads = n_threads_arg(n_threads)
    mode = _truncation_mode(truncation, task)
    correct = _finite_size_mode(finite_size, method, E) == "leading"
    check = mode == "warn" and isinstance(task, PowerLawTask)
    optimizer = method
    modes = _mode_arrays(task, _curve_kappa_floor(times, optimizer, eta, nodes)
                         if mode == "extend" else None)

    frames, worst = [], None
    for n_features in Ns:
        for n_samples in Ps:
            if correct:
                test, train = _finite_size_curve(modes, n_features, n_samples, times, eta, nodes,
                                                 threads)
            else:
                test, train = _curve(modes, n_features, n_samples, times, optimizer, eta, E, nodes,
                                     threads)
            frames.append(pd.DataFrame({
                "N": n_features, "P": n_samples, "t": times, "train_loss": train, "test_loss": test,
            }))
            if check and times.max() > 0:
                t_check = np.array([times.max()])
                at_m = test[int(np.argmax(times))]
                at_2m = _curve(_mode_arrays(_doubled(task)), n_features, n_samples, t_check,
                               optimizer, eta, E, nodes, threads)[0][0]
                change = abs(at_2m - at_m) / abs(at_m) if at_m != 0 else math.inf
                if worst is None or change > worst[0]:
                    worst = (change, at_m, at_2m, n_features, n_samples, f"t={times.max():g}")
    _warn_truncation(task, worst)
    _warn_finite_size(finite_size, Ns, Ps)
    return pd.concat(frames, ignore_index=True)


def _rank(modes) -> float:
    return float(modes.multiplicity.sum()) if modes.multiplicity.size else float(modes.spectrum.size)


def _finite_size_curve(modes, N, P, times, eta, nodes, threads):
    """The DMFT curves plus the leading finite-size correction, in one pass (theory_finite_size)."""
    from scalinglab import theory_finite_size as fs

    _finite_size_sides(N, P, _rank(modes))
    if not (math.isfinite(N) or math.isfinite(P)):
        return _curve(modes, N, P, times, "gf", eta, 1.0, nodes, threads)
    test, train, d_test, d_train, unreliable = fs.corrected_curve(modes, N, P, times, eta, nodes,
                                                                  threads)
    if unreliable.any():
        bad = times[unreliable]
        warnings.warn(
            f"finite_size='leading': the O(1/P) test-loss correction is numerically unreliable at "
            f"t = {', '.join(f'{x:g}' for x in bad[:5])}{' ...' if bad.size > 5 else ''} (its "
            "2-D inversion cancels at very early or very late times); those test losses are NaN. "
            "The t -> inf limit is static_loss(..., finite_size='leading').",
            FiniteSizeWarning, stacklevel=4)
    return test + d_test, train + d_train


# ---- static limits -------------------------------------------------------------------------


def static_loss(task, N, P, *, ridge=0.0, ensemble=1, truncation: str = "warn",
                finite_size: str | None = None) -> pd.DataFrame:
    """Test and train error of linear random-feature ridge regression; ridge 0 is t -> infinity.

    The deterministic equivalent of Atanasov, Zavatone-Veth & Pehlevan 2024 (arXiv 2405.00592;
    digest Eqs. A4-A6) for features A psi / sqrt(N), ridge lambda in
    (1/(2P)) |y - F w|^2 + (lambda/2) |w|^2:

    * lambda = kappa (1 - df1/N)(1 - df1/P), df1 = tr Sigma (Sigma + kappa)^-1 (physical root,
      df1 < min(N, P)); df2 = tr Sigma^2 (Sigma + kappa)^-2;
    * gamma = df2/P + (df1 - df2)^2 / (P (N - df2));
    * E_g = [kappa^2 w*' Sigma (Sigma+kappa)^-2 w* + (df1 - df2) kappa w*' Sigma^2 (Sigma+kappa)^-2 w*
      / (N - df2) + sigma^2 gamma] / (1 - gamma);
    * E_train = R1^2 (E_g + sigma^2), R1 = 1 - df1/P (for N = inf this is AZP's (lambda/kappa)^2
      (E_g + sigma^2), the GCV identity).

    These are the BAP two-point equations at s = s' = lambda multiplied by s^2 (gradient flow's
    Laplace transform at s is 1/s times the ridge solution at ridge s), so ridge -> 0 gives the
    gradient-flow plateaus: BAP's model bottleneck (P = inf) sum lambda w*^2 kappa/(kappa+lambda)
    with df1 = N; the data bottleneck (N = inf, ridgeless kernel regression); and for N < P,
    [L_{P=inf}(N) + sigma^2 N/P] / (1 - N/P). At ridge 0 and N = P (below the number of modes)
    the test error is +inf (the interpolation peak) and the train error 0.

    Parameters
    ----------
    task : PowerLawTask or LinearGaussianTask
    N, P : int, numpy.inf, or 1-D sequences of them
        Model sizes and sample counts; the result covers every combination.
    ridge : float or 1-D sequence of floats >= 0
        Ridge lambda (0 = the gradient-flow limit t -> infinity).
    ensemble : int or numpy.inf
        Members averaged (independent projections, shared data).
    truncation : {"warn", "ignore", "extend"}
        For a PowerLawTask: warn when doubling M moves the test error by more than 1%; ignore;
        or extend the power law to M = infinity (see the module notes).
    finite_size : {None, "leading"}
        None: the deterministic equivalent. "leading": add the O(1/N) and/or O(1/P)
        correction (docs/theory-finite-size.md); ensemble 1. One finite side: at ridge 0 it must
        be below the number of modes. Both finite: N below the number of modes; ridge 0 by
        Richardson from ridges h, 2h, 4h (h = 3e-4 kappa_c(min(N, P))); at ridge 0 and N = P
        the loss is +inf (interpolation peak) and is returned uncorrected.

    Returns
    -------
    pandas.DataFrame
        One row per (N, P, ridge): columns ``N``, ``P``, ``ridge``, ``kappa`` (renormalised
        ridge), ``train_loss``, ``test_loss``.
    """
    Ns, Ps = _capacities(N, "N"), _capacities(P, "P")
    ridges = np.atleast_1d(real_array(ridge, "ridge").astype(np.float64))
    if ridges.ndim != 1 or not np.isfinite(ridges).all() or (ridges < 0).any():
        raise ValueError("`ridge`: expected finite values >= 0 (a scalar or 1-D sequence)")
    E = _capacity(ensemble, "ensemble")
    grid_n, grid_p, grid_r = (a.ravel() for a in np.meshgrid(Ns, Ps, ridges, indexing="ij"))
    mode = _truncation_mode(truncation, task)
    correct = _finite_size_mode(finite_size, "gf", E) == "leading"
    if correct:
        for n, p in zip(grid_n, grid_p):
            _finite_size_sides(n, p, as_linear_task(task).M)

    core_r, clamped = _clamped_ridges(grid_r, task)

    def errors(modes):
        kappa, test, train = _core.theory.ridge_errors(
            modes.spectrum, modes.power, modes.multiplicity, np.ascontiguousarray(grid_n),
            np.ascontiguousarray(grid_p), np.ascontiguousarray(core_r), noise=modes.noise,
            ensemble=E)
        kappa = np.where(clamped, grid_r, kappa)
        return kappa, test, train

    if mode == "extend":
        modes = _mode_arrays(task, _static_kappa_floor(task, grid_n, grid_p, grid_r))
    else:
        modes = _mode_arrays(task)
    kappa, test, train = errors(modes)
    core_kappa = np.where(clamped, np.nan, kappa)  # clamped ridges: the core solves kappa again
    if mode == "warn" and isinstance(task, PowerLawTask):
        _, test_2m, _ = errors(_mode_arrays(_doubled(task)))
        finite = np.isfinite(test) & np.isfinite(test_2m) & (test != 0)
        if finite.any():
            change = np.where(finite, np.abs(test_2m - test) / np.where(finite, np.abs(test), 1), 0)
            i = int(np.argmax(change))
            _warn_truncation(task, (change[i], test[i], test_2m[i], grid_n[i], grid_p[i],
                                    f"ridge={grid_r[i]:g}"))
    if correct:
        test, train = _finite_size_static(modes, grid_n, grid_p, grid_r, core_kappa, test,
                                          train)
    _warn_finite_size(finite_size, Ns, Ps)
    return pd.DataFrame({"N": grid_n, "P": grid_p, "ridge": grid_r, "kappa": kappa,
                         "train_loss": train, "test_loss": test})


def _clamped_ridges(ridges: np.ndarray, task):
    """Ridges above 1e30 trace(Lambda) replaced by that value (and which ones were).

    The renormalised ridge kappa >= ridge, and the errors differ from their ridge -> infinity
    limits (the zero predictor) by a relative O(trace / kappa): below 1e-30 there, so the clamp
    changes nothing in double precision, while the formulas' kappa^2 would overflow to inf (at
    ridge = 1e308 the test loss came out inf instead of L(0)).
    """
    cap = 1e30 * float(np.sum(as_linear_task(task).spectrum))
    clamped = ridges > cap
    return np.where(clamped, cap, ridges), clamped


def _finite_size_static(modes, grid_n, grid_p, grid_r, kappa, test, train):
    from scalinglab import theory_finite_size as fs

    # every point in one compiled call, reusing the DMFT's kappa (NaN: solved again). Both sides
    # finite at ridge 0: N = P is the interpolation peak (+inf, left uncorrected) and for P < N
    # the train loss is exactly 0; the core returns zero corrections there.
    d_test, d_train = fs.static_grid(modes, grid_n, grid_p, grid_r, kappa)
    return (np.array(test, dtype=np.float64) + d_test,
            np.array(train, dtype=np.float64) + d_train)


def _static_kappa_floor(task, grid_n, grid_p, grid_r) -> float:
    """A lower bound (x 0.1) on the renormalised ridge of every static point: kappa >= ridge, and
    at ridge 0 kappa = kappa_c, which the tail only raises (it adds to df) unless min(N, P) >= M,
    where the tail alone decides it (found by shrinking the floor until it is self-consistent)."""
    explicit = _mode_arrays(task)
    floor = task.spectrum[-1]
    for n, p, r in zip(grid_n, grid_p, grid_r):
        capacity = min(n, p)
        if r > 0:
            floor = min(floor, 0.1 * r)
        elif math.isfinite(capacity):
            if capacity < task.M:
                kappa_c = _core.theory.critical_kappa(explicit.spectrum, _NO_MULTIPLICITY, capacity)
                floor = min(floor, 0.1 * kappa_c)
            else:
                for _ in range(400):
                    extended = _mode_arrays(task, floor)
                    kappa_c = _core.theory.critical_kappa(extended.spectrum, extended.multiplicity,
                                                     capacity)
                    if kappa_c >= 10 * floor:
                        break
                    floor = max(kappa_c, 1e-300) / 10 if kappa_c > 0 else floor / 10
    return floor


def ridge_test_error(task, N, P, ridge, *, ensemble=1):
    """Deterministic-equivalent test error of linear random-feature ridge regression.

    AZP (arXiv 2405.00592) Eqs. A4-A6 of the digest, for the clean target (add sigma^2 for noisy
    test labels); see :func:`static_loss` for the formulas. N, P and ridge broadcast against each
    other (numpy rules); N and P may be numpy.inf.

    Parameters
    ----------
    task : PowerLawTask or LinearGaussianTask
    N, P : int, numpy.inf or array_like of them
    ridge : float or array_like of floats >= 0
        Ridge lambda in (1/(2P)) |y - F w|^2 + (lambda/2) |w|^2, F = A psi / sqrt(N).
    ensemble : int or numpy.inf

    Returns
    -------
    float or numpy.ndarray
        Test error with the broadcast shape of (N, P, ridge); a float when all are scalars.
    """
    arrays = [real_array(value, name).astype(np.float64)
              for value, name in ((N, "N"), (P, "P"), (ridge, "ridge"))]
    try:
        n_arr, p_arr, r_arr = np.broadcast_arrays(*arrays)
    except ValueError:
        raise ValueError(
            f"`ridge`: N, P and ridge must broadcast together, got shapes "
            f"{', '.join(str(a.shape) for a in arrays)}"
        ) from None
    shape = n_arr.shape
    for values, name in ((n_arr, "N"), (p_arr, "P")):
        for value in values.ravel():
            _capacity(float(value), name)
    if not np.isfinite(r_arr).all() or (r_arr < 0).any():
        raise ValueError("`ridge`: expected finite values >= 0")
    modes = _mode_arrays(task)
    core_r, _ = _clamped_ridges(r_arr.ravel(), task)
    _, test, _ = _core.theory.ridge_errors(
        modes.spectrum, modes.power, modes.multiplicity, np.ascontiguousarray(n_arr.ravel()),
        np.ascontiguousarray(p_arr.ravel()), np.ascontiguousarray(core_r), noise=modes.noise,
        ensemble=_capacity(ensemble, "ensemble"))
    return float(test[0]) if shape == () else test.reshape(shape)


# ---- exponents ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BottleneckExponents:
    """Exponents of the power laws L ~ X^-exponent when one resource X limits the loss.

    Attributes
    ----------
    time : float
        (a-1)/b: N = P = inf, L ~ t^-(a-1)/b.
    data : float
        min(a-1, 2b): N = t = inf, sigma = 0, L ~ P^-min(a-1, 2b) (ridgeless kernel regression).
    model : float
        min(a-1, b): P = t = inf, the full test loss L ~ N^-min(a-1, b).
    model_bias : float
        min(a-1, 2b): P = t = inf, the loss of the ensemble-averaged predictor (bias only).
    """

    time: float
    data: float
    model: float
    model_bias: float


def _check_exponents(a, b, allow_b_one: bool = False) -> tuple[float, float]:
    a = real_number(a, "a", minimum=1.0, strict=True)
    b = real_number(b, "b", minimum=1.0, strict=not allow_b_one)
    return a, b


def bottleneck_exponents(a: float, b: float) -> BottleneckExponents:
    """Bottleneck exponents of the power-law task (lambda_k = k^-b, lambda_k w*_k^2 = k^-a).

    Correction to BAP's headline (arXiv 2402.01092 and the authors' blog state the model
    bottleneck as N^-min(a-1, 2b)): that exponent belongs to the *bias*, the loss of the
    ensemble-averaged predictor sum_k lambda_k w*_k^2 kappa^2/(kappa+lambda_k)^2. The full
    late-time test loss at P = inf is the projection residual sum_k lambda_k w*_k^2
    kappa/(kappa+lambda_k) with df(kappa) = N, which scales as N^-min(a-1, b): the modes k > N
    carry k^-a (giving N^-(a-1)), and every learned mode keeps a fraction kappa/lambda_k ~
    (k/N)^b of its power (giving N^-b once sum k^-(a-b) converges, i.e. a - 1 > b). Evidence: the
    static formula (this module, ``static_loss``) at (a, b) = (3.5, 1.0), M = 12000 modes, has slope
    -1.05 over N in [25, 400] against -1.0 = -min(a-1, b), while the bias alone has slope -2.01
    (-2 = -min(a-1, 2b)); the theory digest reports simulations of the random-feature model
    at the same point with slope -1.08. This agrees with Paquette et al. (arXiv 2405.15074),
    F_0 ~ d^(-2 alpha + max(0, 1 - 2 beta)) = N^-min(a-1, b) in their variables. For a - 1 < b
    (most tasks of interest) all of model, data and bias exponents equal a - 1.

    Parameters
    ----------
    a : float
        Target (source) exponent, a > 1.
    b : float
        Capacity exponent of the spectrum, b >= 1 (b = 1 at finite M, see ``PowerLawTask``).

    Returns
    -------
    BottleneckExponents
        Positive exponents: L ~ t^-time, P^-data, N^-model (full loss), N^-model_bias.
    """
    a, b = _check_exponents(a, b, allow_b_one=True)
    return BottleneckExponents(time=(a - 1) / b, data=min(a - 1, 2 * b), model=min(a - 1, b),
                               model_bias=min(a - 1, 2 * b))


def compute_optimal(a: float, b: float) -> ComputeOptimalExponents:
    """Compute-optimal exponents of gradient flow on the power-law task, C = N t, P = inf.

    * Hard tasks, a - 1 < b: L ~ t^-(a-1)/b + N^-(a-1), so t* ~ N*^b and
      L* ~ C^-(a-1)/(1+b), N* ~ C^1/(1+b), t* ~ C^b/(1+b) (BAP, arXiv 2402.01092; the same as
      Paquette et al. 2405.15074 phase Ia and Lin et al. 2406.08466's C^-(a-1)/(a+1) in their
      variables).
    * Easy tasks, a - 1 > b: BAP's sum-of-bottlenecks rule with the bias exponent
      m = min(a-1, 2b), L* ~ C^-m(a-1)/(bm + a-1), is *wrong*. The finite-width "embedding
      distortion" term ||w*||^2 Gamma(1-1/b) (2t)^-(1-1/b) / (b N) (valid 1 << t << N^b; the
      analogue of Paquette et al.'s F_ac) dominates the trade-off against t^-(a-1)/b, which gives
      L* ~ C^-(a-1)/a, N* ~ C^(a-b)/a, t* ~ C^b/a (Paquette et al.'s phase II in BAP variables).
      Evidence (the full DMFT of this module: ``compute_optimal_frontier_theory`` of the infinite
      power law, ``truncation="extend"``, P = inf, N in [10, 5000] at 8 per decade, t in
      [1, 1e6] at 6 per decade; checked in tests/test_theory.py): at (a, b) = (3.8, 2.0) the
      frontier's L* slope is -0.740 over C in [1e3, 10^5.5] and -0.741 over [1e5, 10^7.5],
      against -(a-1)/a = -0.737 here, -m(a-1)/(bm + a-1) = -0.933 from BAP's formula
      (m = min(a-1, 2b) = 2.8) and -0.824 from the same sum-of-bottlenecks rule with the
      corrected model exponent m = min(a-1, b) = 2; the N* slope is 0.453 / 0.459 against
      (a-b)/a = 0.474 here and (a-1)/(bm + a-1) = 0.333 / 0.412 from those two rules. For the
      hard task (a, b) = (2, 1.5) the frontier gives L* slope -0.388 and N* slope 0.415 over
      C in [10^2.5, 10^6.5], and -0.3945 and 0.406 over [1e4, 1e8] (N up to 3e4, t up to 1e8),
      against -0.400 and 0.400.
    * At a - 1 = b both rules give L* ~ C^-b/(1+b), N* ~ C^1/(1+b).

    Parameters
    ----------
    a : float
        Target exponent, a > 1 (lambda_k w*_k^2 = k^-a).
    b : float
        Capacity exponent, b > 1 (lambda_k = k^-b).

    Returns
    -------
    ComputeOptimalExponents
        Signed exponents of C (:class:`scalinglab.frontier.ComputeOptimalExponents`, shared
        with the SGD theory) and the regime: "hard" (a - 1 < b), "easy" (a - 1 > b) or
        "boundary" (a - 1 = b).
    """
    a, b = _check_exponents(a, b)
    if a - 1 < b:
        return ComputeOptimalExponents(-(a - 1) / (1 + b), 1 / (1 + b), b / (1 + b), "hard")
    regime = "easy" if a - 1 > b else "boundary"
    return ComputeOptimalExponents(-(a - 1) / a, (a - b) / a, b / a, regime)


# ---- the numerical frontier ---------------------------------------------------------------


def compute_optimal_frontier_theory(task, N_grid, t_grid, *, P=np.inf, C=None, n_threads: int = 0,
                                    truncation: str = "warn") -> pd.DataFrame:
    """The compute-optimal frontier L*(C) = min_N L(N, t = C/N) from the full DMFT.

    For each model size in ``N_grid`` the gradient-flow test loss is computed on ``t_grid``
    (:func:`learning_curve_theory`), giving a table of (N, t, compute = N t, test_loss); the
    frontier is :func:`scalinglab.frontier.compute_optimal_frontier` of that table: for each
    compute C the loss at t = C/N is interpolated linearly in (log t, log L), minimised over the
    N grid, and the minimum is refined by the parabola through the three grid points around it
    in (log N, log L).

    Parameters
    ----------
    task : PowerLawTask or LinearGaussianTask
    N_grid : array_like of int, shape (K,)
        Model sizes, increasing; a log-spaced grid with >= 6 points per decade is advised.
    t_grid : array_like of float, shape (T,)
        Gradient-flow times > 0, increasing; >= 6 points per decade advised.
    P : int or numpy.inf
        Training-set size (inf: no data bottleneck, the setting of the compute-optimal rules).
    C : array_like of float, optional
        Compute values C = N t. Default: 8 per decade over [min N min t, max N max t].
    n_threads : int
        Threads (0 = all cores).
    truncation : {"warn", "ignore", "extend"}
        For a PowerLawTask: warn when doubling M moves the loss at the optimum of the largest
        interior C by more than 1%; ignore; or extend the power law to M = infinity (what the
        closed forms of :func:`compute_optimal` describe).

    Returns
    -------
    pandas.DataFrame
        One row per C: ``compute``, ``N`` (optimal size), ``t`` (= C/N), ``test_loss`` (L*),
        ``N_grid`` and ``test_loss_grid`` (the grid optimum before refinement) and ``interior``
        (True when the optimum has grid neighbours on both sides, i.e. is not at the edge of the
        N grid or of the t range; only interior rows are trustworthy). Fit its exponents with
        :func:`scalinglab.frontier.fit_frontier_exponents`.
    """
    Ns = np.asarray([_capacity(n, "N_grid") for n in np.atleast_1d(N_grid)], dtype=np.float64)
    if Ns.size < 3 or not np.all(np.diff(Ns) > 0) or not np.isfinite(Ns).all():
        raise ValueError("`N_grid`: expected >= 3 finite, increasing model sizes")
    times = _times(t_grid)
    if times.size < 2 or not np.all(np.diff(times) > 0) or times[0] <= 0:
        raise ValueError("`t_grid`: expected >= 2 increasing times > 0")
    P = _capacity(P, "P")
    threads = n_threads_arg(n_threads)
    mode = _truncation_mode(truncation, task)
    modes = _mode_arrays(task, _curve_kappa_floor(times, "gf", 1.0, 16) if mode == "extend" else None)
    if C is None:
        lo, hi = np.log10(Ns[0] * times[0]), np.log10(Ns[-1] * times[-1])
        C = np.logspace(lo, hi, int(np.ceil(8 * (hi - lo))) + 1)
    computes = np.atleast_1d(np.asarray(C, dtype=np.float64))
    if computes.ndim != 1 or not np.isfinite(computes).all() or (computes <= 0).any():
        raise ValueError("`C`: expected finite compute values > 0")

    curves = []
    for n_features in Ns:
        test, _ = _curve(modes, n_features, P, times, "gf", 1.0, 1.0, 16, threads)
        curves.append(pd.DataFrame({"N": n_features, "t": times, "compute": n_features * times,
                                    "test_loss": test}))
    frontier = _frontier.compute_optimal_frontier(pd.concat(curves, ignore_index=True),
                                                  computes=computes)
    frontier.insert(2, "t", frontier["compute"] / frontier["N"])

    if truncation == "warn" and isinstance(task, PowerLawTask) and frontier["interior"].any():
        last = frontier[frontier["interior"]].iloc[-1]
        n_check = float(Ns[np.argmin(np.abs(np.log(Ns / last["N"])))])
        t_check = np.array([last["compute"] / n_check])
        at_m = _curve(modes, n_check, P, t_check, "gf", 1.0, 1.0, 16, threads)[0][0]
        at_2m = _curve(_mode_arrays(_doubled(task)), n_check, P, t_check, "gf", 1.0, 1.0, 16,
                       threads)[0][0]
        _warn_truncation(task, (abs(at_2m - at_m) / at_m, at_m, at_2m, n_check, P,
                                f"t={t_check[0]:g}"))
    return frontier
