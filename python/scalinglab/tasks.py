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

import hashlib
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol, runtime_checkable

import math

import numpy as np

from scalinglab._validation import (
    assign_fields,
    check_memory,
    positive_int,
    real_array,
    real_number,
)


def power_law_spectrum(exponent: float, M: int, *, scale: float = 1.0) -> np.ndarray:
    """scale * k^-exponent for k = 1..M, shape (M,): the one place power-law spectra are built.

    Parameters
    ----------
    exponent : float
        The decay exponent (BAP's b for a spectrum, a for a target power; PPXP's 2 alpha).
    M : int
        Number of modes, >= 1.
    scale : float
        The value at k = 1.
    """
    M = positive_int(M, "M")
    exponent = real_number(exponent, "exponent")
    check_memory(16.0 * M, "the power-law spectrum (and its index array)", "M")
    k = np.arange(1, M + 1, dtype=np.float64)
    return scale * k ** (-exponent)


@runtime_checkable
class Task(Protocol):
    """What engines and theories need from a task (data and target model).

    A task is a frozen, hashable spec. Linear-Gaussian engines and theories work in the feature
    eigenbasis and call :func:`as_linear_task`, which asks the task for :meth:`as_linear`; a new
    task type plugs in by implementing this protocol, with no change to the engines.
    """

    @property
    def M(self) -> int:
        """Number of feature modes (the data dimension in the eigenbasis)."""

    @property
    def spectrum(self) -> np.ndarray:
        """Feature variances lambda_k, shape (M,)."""

    @property
    def target(self) -> np.ndarray:
        """Teacher weights w*_k in the eigenbasis, shape (M,)."""

    @property
    def noise(self) -> float:
        """Label-noise variance sigma^2."""

    def as_linear(self) -> "LinearGaussianTask":
        """The equivalent linear Gaussian task (explicit arrays)."""


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
        # real_array refuses complex (whose imaginary part numpy would drop), strings, ragged
        # and object data with a message naming the argument.
        spectrum = np.ascontiguousarray(real_array(self.spectrum, "spectrum"), dtype=np.float64)
        target = np.ascontiguousarray(real_array(self.target, "target"), dtype=np.float64)
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
        assign_fields(self, spectrum=spectrum, target=target,
                      noise=real_number(self.noise, "noise", minimum=0.0))

    @property
    def M(self) -> int:
        """Number of feature modes."""
        return int(self.spectrum.size)

    def as_linear(self) -> "LinearGaussianTask":
        """The task itself (it already holds explicit arrays)."""
        return self

    def __eq__(self, other) -> bool:
        # Value equality: the same spectrum, target and noise (the arrays compared exactly).
        if not isinstance(other, LinearGaussianTask):
            return NotImplemented
        return (self.noise == other.noise and np.array_equal(self.spectrum, other.spectrum)
                and np.array_equal(self.target, other.target))

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    @cached_property
    def fingerprint(self) -> str:
        """A stable hex digest of the task's values (the same in every process and session).

        Python's ``hash`` of a str is salted per process; a sweep that keys records on disk by
        a task uses this digest instead.
        """
        digest = hashlib.sha256()
        digest.update(b"LinearGaussianTask\0")
        digest.update(np.float64(self.noise).tobytes())
        digest.update(self.spectrum.tobytes())
        digest.update(self.target.tobytes())
        return digest.hexdigest()

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


class LinearEquivalent:
    """Mixin of a task described by an equivalent :class:`LinearGaussianTask`, ``self._linear``.

    The target, its per-mode power, the initial loss, the infinite-width curve and
    :meth:`as_linear` read through to it, so every such task (:class:`PowerLawTask`,
    :class:`scalinglab.latent.LatentPowerLawTask`) defines only its spectrum and ``_linear``.
    """

    def as_linear(self) -> "LinearGaussianTask":
        """The same task as a :class:`LinearGaussianTask` (explicit arrays)."""
        return self._linear

    @property
    def target(self) -> np.ndarray:
        """Teacher weights w*_k in the eigenbasis, shape (M,)."""
        return self._linear.target

    @property
    def target_power(self) -> np.ndarray:
        """lambda_k w*_k^2, shape (M,): the target variance carried by each mode."""
        return self._linear.target_power

    @property
    def initial_loss(self) -> float:
        """Test loss of the zero predictor, sum_k lambda_k w*_k^2 (clean target)."""
        return self._linear.initial_loss

    def infinite_width_loss(self, t) -> np.ndarray:
        """The N = P = infinity gradient-flow test loss sum_k lambda_k w*_k^2 exp(-2 lambda_k t)."""
        return self._linear.infinite_width_loss(t)


@dataclass(frozen=True, eq=True)
class PowerLawTask(LinearEquivalent):
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
        assign_fields(self, a=real_number(self.a, "a", minimum=1.0, strict=True),
                      b=real_number(self.b, "b", minimum=1.0), M=positive_int(self.M, "M"),
                      noise=real_number(self.noise, "noise", minimum=0.0))
        # The explicit arrays k^-b and w*_k^2 = k^(b-a) must be normal float64 numbers up to k = M
        # (b = 116 at M = 506 made w*^2 overflow and the initial loss inf).
        decades = math.log10(self.M)
        if self.b * decades > 300 or abs(self.a - self.b) * decades > 300:
            raise ValueError(
                f"`b`: the spectrum k^-b and the target weights k^((b-a)/2) leave the float64 range "
                f"for k up to M = {self.M} (need b log10 M <= 300 and |a - b| log10 M <= 300, got "
                f"{self.b * decades:.4g} and {abs(self.a - self.b) * decades:.4g})"
            )

    @cached_property
    def _linear(self) -> LinearGaussianTask:
        # Spectrum, target and the temporaries of building them: about four arrays of M doubles.
        check_memory(32.0 * self.M, "the task's spectrum and target arrays", "M")
        return LinearGaussianTask(power_law_spectrum(self.b, self.M),
                                  power_law_spectrum((self.a - self.b) / 2.0, self.M), self.noise)

    @property
    def spectrum(self) -> np.ndarray:
        """lambda_k = k^-b, shape (M,); the target is w*_k = k^{-(a-b)/2}, its power k^-a."""
        return self._linear.spectrum

    def ppxp_exponents(self) -> tuple[float, float]:
        """(alpha, beta) of Paquette et al. 2024: alpha = b/2, beta = (a - b)/2."""
        return self.b / 2.0, (self.a - self.b) / 2.0

    @classmethod
    def from_ppxp(cls, alpha: float, beta: float, M: int, noise: float = 0.0) -> "PowerLawTask":
        """The task with PPXP exponents (alpha, beta): b = 2 alpha, a = 2 alpha + 2 beta."""
        return cls(a=2 * alpha + 2 * beta, b=2 * alpha, M=M, noise=noise)


def as_linear_task(task) -> LinearGaussianTask:
    """The explicit linear Gaussian form of any task that follows the :class:`Task` protocol."""
    as_linear = getattr(task, "as_linear", None)
    if not callable(as_linear):
        raise TypeError(
            "`task`: expected a task (PowerLawTask, LinearGaussianTask or any object with an "
            f"as_linear() method, see scalinglab.tasks.Task), got {type(task).__name__}"
        )
    linear = as_linear()
    if not isinstance(linear, LinearGaussianTask):
        raise TypeError(
            f"`task`: {type(task).__name__}.as_linear() returned {type(linear).__name__}, "
            "expected a LinearGaussianTask"
        )
    return linear
