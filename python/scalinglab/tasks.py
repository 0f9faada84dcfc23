"""Task specs: the data and target models that simulation and theory share.

Conventions (Bordelon, Atanasov & Pehlevan 2024, arXiv 2402.01092; "BAP"), used by
:mod:`scalinglab.dynamics` and :mod:`scalinglab.theory` alike:

* features psi in R^M are Gaussian with covariance diag(lambda_k);
* the target is y = w* . psi + eps with eps ~ N(0, sigma^2); ``noise`` is sigma^2 (a variance);
* the student is f(x) = w . (A psi) / sqrt(N) with A_ij ~ N(0, 1) and w(0) = 0;
* the test loss is the clean-target mean squared error E_x (f - w* . psi)^2, so at t = 0 it is
  sum_k lambda_k w*_k^2.

For :class:`PowerLawTask`, lambda_k = k^-b and lambda_k w*_k^2 = k^-a (the target variance carried
by mode k), i.e. w*_k = k^{-(a-b)/2}.

Exponent dictionary (see :meth:`PowerLawTask.ppxp_exponents`):

* Paquette, Paquette, Xiao & Pennington 2024 (arXiv 2405.15074, "PPXP"): data spectrum j^{-2 alpha}
  and target b_j = j^{-beta} give b = 2 alpha and a = 2 alpha + 2 beta, so alpha = b/2 and
  beta = (a - b)/2. Their model size d is our N; their W = A^T / sqrt(N).
* Lin, Wu, Kakade, Bartlett & Lee 2024 (arXiv 2406.08466): their spectrum exponent a_LWKBL = b, and
  under their isotropic prior our a equals their a (source condition: our a is their b).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from scalinglab._validation import positive_int, real_number


@dataclass(frozen=True, eq=False)
class LinearGaussianTask:
    """A linear target on Gaussian features with an arbitrary diagonal covariance.

    Parameters
    ----------
    spectrum : array, shape (M,)
        Feature variances lambda_k > 0 (the eigenvalues of E[psi psi^T]).
    target : array, shape (M,)
        Teacher weights w*_k.
    noise : float
        Label-noise variance sigma^2 >= 0 (a variance, not a standard deviation).
    """

    spectrum: np.ndarray
    target: np.ndarray
    noise: float = 0.0

    def __post_init__(self):
        spectrum = np.ascontiguousarray(self.spectrum, dtype=np.float64)
        target = np.ascontiguousarray(self.target, dtype=np.float64)
        if spectrum.ndim != 1 or spectrum.size == 0:
            raise ValueError(f"`spectrum`: expected a non-empty 1-D array, got shape {spectrum.shape}")
        if target.shape != spectrum.shape:
            raise ValueError(
                f"`target`: expected shape {spectrum.shape} (one weight per mode), got {target.shape}"
            )
        if not (np.isfinite(spectrum).all() and (spectrum > 0).all()):
            raise ValueError("`spectrum`: eigenvalues must be finite and > 0")
        if not np.isfinite(target).all():
            raise ValueError("`target`: contains NaN or infinity")
        spectrum.flags.writeable = False
        target.flags.writeable = False
        object.__setattr__(self, "spectrum", spectrum)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "noise", real_number(self.noise, "noise", minimum=0.0))

    @property
    def M(self) -> int:
        """Number of feature modes."""
        return int(self.spectrum.size)

    @property
    def target_power(self) -> np.ndarray:
        """lambda_k w*_k^2, shape (M,): the target variance carried by each mode."""
        return self.spectrum * self.target**2

    @property
    def initial_loss(self) -> float:
        """Test loss of the zero predictor, sum_k lambda_k w*_k^2 (clean target)."""
        return float(self.target_power.sum())

    def infinite_width_loss(self, t) -> np.ndarray:
        """Test loss of gradient flow with N = P = infinity: sum_k lambda_k w*_k^2 exp(-2 lambda_k t).

        Parameters
        ----------
        t : array_like
            Times (gradient-flow time with learning rate 1), any shape.
        """
        t = np.asarray(t, dtype=np.float64)
        decay = np.exp(-2.0 * np.multiply.outer(t, self.spectrum))
        return decay @ self.target_power


@dataclass(frozen=True, eq=True)
class PowerLawTask:
    """The power-law linear task of BAP: lambda_k = k^-b and lambda_k w*_k^2 = k^-a, k = 1..M.

    Parameters
    ----------
    a : float
        Target (source) exponent, a > 1 so that the target has finite variance as M -> inf.
    b : float
        Capacity exponent of the feature spectrum, b >= 1. With b > 1 the trace sum_k k^-b stays
        finite as M -> inf; b = 1 (the edge case where the data bottleneck saturates at 2b) is
        allowed at finite M, where the trace grows like log M, so results there depend on M.
    M : int
        Number of modes (the truncation of the infinite spectrum). Pick M much larger than N, P
        and t_max^(1/b), or the theory and simulation both miss the tail sum_{k>M} k^-a.
    noise : float
        Label-noise variance sigma^2 >= 0 (a variance, not a standard deviation).
    """

    a: float
    b: float
    M: int
    noise: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "a", real_number(self.a, "a", minimum=1.0, strict=True))
        object.__setattr__(self, "b", real_number(self.b, "b", minimum=1.0))
        object.__setattr__(self, "M", positive_int(self.M, "M"))
        object.__setattr__(self, "noise", real_number(self.noise, "noise", minimum=0.0))

    @cached_property
    def _linear(self) -> LinearGaussianTask:
        k = np.arange(1, self.M + 1, dtype=np.float64)
        return LinearGaussianTask(k ** (-self.b), k ** (-(self.a - self.b) / 2.0), self.noise)

    def as_linear(self) -> LinearGaussianTask:
        """The same task as a :class:`LinearGaussianTask` (explicit arrays)."""
        return self._linear

    @property
    def spectrum(self) -> np.ndarray:
        """lambda_k = k^-b, shape (M,)."""
        return self._linear.spectrum

    @property
    def target(self) -> np.ndarray:
        """w*_k = k^{-(a-b)/2}, shape (M,)."""
        return self._linear.target

    @property
    def target_power(self) -> np.ndarray:
        """lambda_k w*_k^2 = k^-a, shape (M,)."""
        return self._linear.target_power

    @property
    def initial_loss(self) -> float:
        """sum_{k<=M} k^-a."""
        return self._linear.initial_loss

    def infinite_width_loss(self, t) -> np.ndarray:
        """sum_k k^-a exp(-2 k^-b t), the N = P = infinity gradient-flow test loss."""
        return self._linear.infinite_width_loss(t)

    def ppxp_exponents(self) -> tuple[float, float]:
        """(alpha, beta) of Paquette et al. 2024: alpha = b/2, beta = (a - b)/2."""
        return self.b / 2.0, (self.a - self.b) / 2.0

    @classmethod
    def from_ppxp(cls, alpha: float, beta: float, M: int, noise: float = 0.0) -> "PowerLawTask":
        """The task with PPXP exponents (alpha, beta): b = 2 alpha, a = 2 alpha + 2 beta."""
        return cls(a=2 * alpha + 2 * beta, b=2 * alpha, M=M, noise=noise)


def as_linear_task(task) -> LinearGaussianTask:
    """Accept either task type and return explicit arrays."""
    if isinstance(task, PowerLawTask):
        return task.as_linear()
    if isinstance(task, LinearGaussianTask):
        return task
    raise TypeError(
        f"`task`: expected a PowerLawTask or LinearGaussianTask, got {type(task).__name__}"
    )
