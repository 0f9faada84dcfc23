"""Scaling laws of one-pass SGD from the Volterra equation: PPXP's phases and LWKBL.

Paquette, Paquette, Xiao & Pennington 2024, "4+3 Phases of Compute-Optimal Neural Scaling Laws",
arXiv 2405.15074 ("PPXP"): the power-law random-features problem (:class:`PLRFProblem`), its risk
curves, phase diagram and compute-optimal exponents, and the numerical compute-optimal frontier
of the Volterra equation. Lin, Wu, Kakade, Bartlett & Lee 2024, arXiv 2406.08466 ("LWKBL"):
sketched linear regression, the same recursion with beta = 0.

Built on :mod:`scalinglab.volterra` (the engine wrapper, whose notes give the recursion) and
:mod:`scalinglab.frontier` (one frontier and exponent fit for every model). Notation: PPXP's
data lambda_j = j^{-2 alpha}, target b_j = j^{-beta}, model size d (our ``N``), steps r (our
``t``), compute f = B d r (our ``compute``). ``learning_rate`` is the mean-gradient eta of
:mod:`scalinglab.optimizers`; PPXP's batch-sum gamma = eta / B.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalinglab import frontier as _frontier
from scalinglab._rng import seed_from_rng
from scalinglab._validation import (
    as_vector,
    assign_fields,
    positive_int,
    real_number,
)
from scalinglab._validation import steps as as_steps
from scalinglab.frontier import ComputeOptimalExponents
from scalinglab.tasks import LinearGaussianTask, PowerLawTask, power_law_spectrum
from scalinglab.volterra import (
    _check_spectrum,
    deterministic_volterra_spectrum,
    exact_volterra_spectrum,
    one_pass_sgd,
    risk_table,
)

__all__ = [
    "PLRFProblem",
    "ppxp_spectrum",
    "ppxp_risk_curve",
    "ppxp_phase",
    "sgd_compute_optimal",
    "sgd_compute_optimal_frontier",
    "lwkbl_risk_curve",
    "lwkbl_exponents",
]

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
        assign_fields(self, alpha=real_number(self.alpha, "alpha", minimum=0.0, strict=True),
                      beta=real_number(self.beta, "beta"), v=positive_int(self.v, "v"),
                      noise=real_number(self.noise, "noise", minimum=0.0))

    @property
    def data_spectrum(self) -> np.ndarray:
        """lambda_j = j^{-2 alpha}, shape (v,)."""
        return power_law_spectrum(2.0 * self.alpha, self.v)

    @property
    def target(self) -> np.ndarray:
        """b_j = j^{-beta}, shape (v,)."""
        return power_law_spectrum(self.beta, self.v)

    @property
    def target_power(self) -> np.ndarray:
        """lambda_j b_j^2 = j^{-2 alpha - 2 beta}, shape (v,)."""
        return power_law_spectrum(2.0 * (self.alpha + self.beta), self.v)

    # The Task protocol (scalinglab.tasks.Task): the problem in BAP notation.
    @property
    def M(self) -> int:
        """Number of modes, v."""
        return self.v

    @property
    def spectrum(self) -> np.ndarray:
        """The feature variances lambda_j (= :attr:`data_spectrum`)."""
        return self.data_spectrum

    def as_linear(self) -> LinearGaussianTask:
        """The same problem as a :class:`~scalinglab.tasks.LinearGaussianTask` (:meth:`to_task`)."""
        return self.to_task()

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
        exponents = getattr(task, "ppxp_exponents", None)
        if not callable(exponents):
            raise TypeError("`task`: expected a power-law task with ppxp_exponents() (a "
                            f"PowerLawTask), got {type(task).__name__}")
        alpha, beta = exponents()
        return cls(alpha, beta, task.M, task.noise)


def ppxp_spectrum(alpha: float, beta: float, v: int) -> tuple[np.ndarray, np.ndarray]:
    """PPXP's power-law random features: lambda_j = j^{-2 alpha}, b_j = j^{-beta}, j = 1..v.

    Returns
    -------
    data_spectrum, target : ndarray, shape (v,)
    """
    alpha = real_number(alpha, "alpha", minimum=0.0, strict=True)
    beta = real_number(beta, "beta")
    v = positive_int(v, "v")
    return power_law_spectrum(2.0 * alpha, v), power_law_spectrum(beta, v)


def ppxp_risk_curve(alpha: float, beta: float, d: int, steps, *, optimizer=None,
                    method: str | None = None, learning_rate=None, v: int | None = None,
                    batch_size: int | None = None, spectrum: str = "exact", rng=None,
                    projection=None, noise: float = 0.0, n_threads: int = 0,
                    block_fraction: float = 0.01, progress: bool | None = None) -> pd.DataFrame:
    """Expected risk of one-pass SGD on PPXP's power-law random features (arXiv 2405.15074).

    Parameters
    ----------
    alpha, beta : float
        Data and target complexity: lambda_j = j^{-2 alpha}, b_j = j^{-beta}.
    d : int
        Model size.
    steps : array_like of int
    optimizer : SGD, optional
        ``SGD(eta, B, one_pass=True)``, or the shorthand keywords.
    learning_rate : float or StepSchedule
        eta, the rate on the mean gradient (:mod:`scalinglab.optimizers`); PPXP's batch-sum
        gamma is eta / B (``SGD.batch_sum_learning_rate``). The authors' notebooks use
        gamma = c / sum_j lambda_j with c in {0.25, 0.5, 0.75}, i.e. eta = B c / sum_j lambda_j.
    v : int, optional
        Data dimension (default 10 d, as in the authors' notebooks).
    batch_size : int
        B (default 1).
    spectrum : {"exact", "deterministic"}
    projection : array, shape (v, d), optional
        W (entries N(0, 1/d)); otherwise drawn from ``rng``.
    noise : float
        Label-noise variance (the risk returned is clean-target).

    Returns
    -------
    DataFrame
        One row per step in the shared schema: ``N`` (= d), ``P`` (inf), ``t`` (the step),
        ``test_loss`` (PPXP's risk), ``compute`` (= B d t, PPXP's flops), ``batch_size``, ``v``.
    """
    d = positive_int(d, "d")
    v = 10 * d if v is None else positive_int(v, "v")
    schedule, batch_size = one_pass_sgd(optimizer, method, learning_rate, batch_size,
                                        default_batch_size=1)
    _check_spectrum(spectrum)
    lam, b = ppxp_spectrum(alpha, beta, v)
    steps = as_steps(steps)
    if spectrum == "exact":
        measures = exact_volterra_spectrum(lam, b, projection=projection, d=d, rng=rng,
                                           n_threads=n_threads)
    else:
        measures = deterministic_volterra_spectrum(lam, lam * b * b, d, n_threads=n_threads)
    risk = measures.risk(steps, learning_rate=schedule, batch_size=batch_size, noise=noise,
                         block_fraction=block_fraction, n_threads=n_threads, progress=progress)
    table = risk_table(d, steps, risk, batch_size)
    table["v"] = v
    return table


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

    Returns
    -------
    ComputeOptimalExponents
        :class:`scalinglab.frontier.ComputeOptimalExponents` (shared with the DMFT theory):
        ``loss`` the slope of log P* against log f, ``N`` that of PPXP's d*, ``t`` that of the
        step count r* (= 1 - N) and ``regime`` the phase name.

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
    return ComputeOptimalExponents(loss, size, 1.0 - size, phase)


def sgd_compute_optimal_frontier(alpha: float, beta: float, N_grid, computes, *,
                                 v_ratio: float = 10.0, batch_size: int = 1,
                                 learning_rate_multiplier: float = 0.5,
                                 spectrum: str = "deterministic", n_draws: int = 1, rng=None,
                                 n_threads: int = 0) -> pd.DataFrame:
    """Numerical compute-optimal frontier of one-pass SGD from the Volterra equation (PPXP).

    For each model size d in ``N_grid`` (with v = v_ratio d and PPXP's batch-sum rate
    gamma = multiplier / sum_{j<=v} j^{-2 alpha}, as in the authors' notebooks, i.e. the
    mean-gradient learning rate eta = B gamma) the risk is computed at r = rint(f / (B d)) steps
    for every budget f; the table of (d, f, risk) goes to
    :func:`scalinglab.frontier.compute_optimal_frontier`, which takes the minimum over d at each
    f and refines it by a parabola in log d through the best grid point and its neighbours.

    Parameters
    ----------
    N_grid : array_like of int
        Model sizes d (at least 3), e.g. a log grid.
    computes : array_like of float
        Compute budgets f = B d r (PPXP's flops).
    spectrum : {"deterministic", "exact"}
        ``"exact"`` averages the exact risk over ``n_draws`` projections W per d drawn from
        ``rng``. One draw is noisy: at (alpha, beta) = (0.75, 0.25), d = 100 a single W is 20%
        off the average, enough to bias fitted slopes by 0.05.

    Returns
    -------
    DataFrame
        One row per budget reached by some d: ``compute`` (f), ``N`` (refined d*), ``t``
        (r* = f / (B d*)), ``test_loss`` (refined P*), ``N_grid`` and ``test_loss_grid`` (the
        best grid point), ``interior`` (False when the best d is at the edge of the grid, where
        the frontier is not resolved). Fit with :func:`scalinglab.frontier.fit_frontier_exponents`.
    """
    _check_spectrum(spectrum)
    d_grid = np.unique(np.asarray(N_grid, dtype=np.int64))
    if d_grid.size < 3 or np.any(d_grid < 1):
        raise ValueError("`N_grid`: expected at least 3 distinct model sizes >= 1")
    flops = np.unique(as_vector(computes, "computes"))
    if np.any(flops <= 0):
        raise ValueError("`computes`: budgets must be > 0")
    batch_size = positive_int(batch_size, "batch_size")
    v_ratio = real_number(v_ratio, "v_ratio", minimum=1.0, strict=True)
    multiplier = real_number(learning_rate_multiplier, "learning_rate_multiplier", minimum=0.0,
                             strict=True)
    n_draws = positive_int(n_draws, "n_draws")
    generator = np.random.default_rng(seed_from_rng(rng)) if spectrum == "exact" else None
    curves = []
    for d in d_grid:
        v = int(round(v_ratio * d))
        lam, b = ppxp_spectrum(alpha, beta, v)
        eta = batch_size * multiplier / lam.sum()  # gamma = multiplier / sum lambda
        steps = np.rint(flops / (batch_size * d)).astype(np.int64)
        valid = steps >= 1
        if not valid.any():
            continue
        unique_steps = np.unique(steps[valid])
        if spectrum == "exact":
            risk = np.mean([
                exact_volterra_spectrum(lam, b, d=int(d), rng=generator, n_threads=n_threads).risk(
                    unique_steps, learning_rate=eta, batch_size=batch_size, n_threads=n_threads)
                for _ in range(n_draws)], axis=0)
        else:
            measures = deterministic_volterra_spectrum(lam, lam * b * b, int(d), n_threads=n_threads)
            risk = measures.risk(unique_steps, learning_rate=eta, batch_size=batch_size,
                                 n_threads=n_threads)
        curves.append(pd.DataFrame({"N": float(d), "compute": flops[valid],
                                    "test_loss": risk[np.searchsorted(unique_steps, steps[valid])]}))
    table = pd.concat(curves, ignore_index=True)
    frontier = _frontier.compute_optimal_frontier(table, computes=flops)
    frontier.insert(2, "t", frontier["compute"] / (batch_size * frontier["N"]))
    return frontier


# ---------------------------------------------------------------------------------------------
# LWKBL: sketched linear regression
# ---------------------------------------------------------------------------------------------


def lwkbl_risk_curve(a: float, M: int, steps, *, optimizer=None, learning_rate=None,
                     ambient_dim: int, noise: float = 0.0, spectrum: str = "deterministic",
                     rng=None, n_threads: int = 0, progress: bool | None = None) -> pd.DataFrame:
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
    optimizer : SGD, optional
        ``SGD(gamma, 1, one_pass=True)``; or ``learning_rate``.
    learning_rate : float or StepSchedule
        gamma (constant or, e.g., :meth:`scalinglab.volterra.StepSchedule.step_decay`); with B = 1 the mean- and
        batch-sum rates coincide.
    ambient_dim : int
        Truncation of the infinite spectrum (> M).
    noise : float
        sigma^2; the risk returned is the excess risk E R - sigma^2.
    spectrum : {"deterministic", "exact"}
        ``"exact"`` draws one sketch from ``rng`` (the prior is still averaged exactly).

    Returns
    -------
    DataFrame in the shared schema: ``N`` (= M, the sketch size), ``P`` (inf), ``t`` (the sample
    count = steps), ``test_loss`` (the excess risk: the clean-target test loss), ``compute``
    (= M t), ``batch_size`` (1).
    """
    a = real_number(a, "a", minimum=1.0, strict=True)
    M = positive_int(M, "M")
    ambient_dim = positive_int(ambient_dim, "ambient_dim")
    schedule, batch_size = one_pass_sgd(optimizer, None, learning_rate, 1)
    if batch_size != 1:
        raise ValueError(f"`optimizer`: LWKBL's SGD has batch size 1, got {batch_size}")
    _check_spectrum(spectrum)
    lam = power_law_spectrum(a, ambient_dim)
    steps = as_steps(steps)
    if spectrum == "exact":
        measures = exact_volterra_spectrum(lam, np.ones_like(lam), d=M, rng=rng,
                                           target_is_variance=True, n_threads=n_threads)
    else:
        measures = deterministic_volterra_spectrum(lam, lam, M, n_threads=n_threads)
    risk = measures.risk(steps, learning_rate=schedule, batch_size=1, noise=noise,
                         n_threads=n_threads, progress=progress)
    return risk_table(M, steps, risk, 1)


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
