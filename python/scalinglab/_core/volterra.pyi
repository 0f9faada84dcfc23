"""_core.volterra: one-pass SGD risk theory (Paquette et al., arXiv 2405.15074)."""

from collections.abc import Callable
from typing import TypedDict

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]
AnyVector = npt.NDArray[np.float64] | npt.NDArray[np.complex128]
Ints = npt.NDArray[np.int64]

class _Spectrum(TypedDict):
    eigenvalues: AnyVector
    forcing: AnyVector
    kernel: AnyVector
    limit_level: float

def exact_spectrum(
    W: npt.NDArray[np.float64],
    data_eigenvalues: Vector,
    target: Vector,
    target_is_variance: bool = False,
    n_threads: int = 0,
) -> _Spectrum: ...
def exact_spectrum_seeded(
    seed: int,
    stream: int,
    d: int,
    data_eigenvalues: Vector,
    target: Vector,
    target_is_variance: bool = False,
    n_threads: int = 0,
) -> _Spectrum: ...
def deterministic_spectrum(
    data_eigenvalues: Vector,
    target_power: Vector,
    d: int,
    slope: float = 0.1,
    nodes_per_panel: int = 8,
    lower_factor: float = 1e-3,
    n_threads: int = 0,
) -> _Spectrum: ...
def risk_curve(
    eigenvalues: AnyVector,
    forcing: AnyVector,
    kernel: AnyVector,
    limit_level: float,
    schedule_starts: Ints,
    learning_rates: Vector,
    batch_size: int,
    noise: float,
    steps: Ints,
    block_fraction: float = 0.01,
    exact_steps: int = 1000,
    n_threads: int = 0,
    progress: Callable[[float], object] | None = None,
) -> Vector: ...
def volterra_functions(
    eigenvalues: AnyVector,
    forcing: AnyVector,
    kernel: AnyVector,
    limit_level: float,
    learning_rate: float,
    batch_size: int,
    n_steps: int,
    n_threads: int = 0,
) -> tuple[Vector, Vector]: ...
def solve_volterra(forcing: Vector, kernel: Vector, noise: float = 0.0) -> Vector: ...
def kernel_norm(
    eigenvalues: AnyVector,
    forcing: AnyVector,
    kernel: AnyVector,
    limit_level: float,
    learning_rate: float,
    batch_size: int,
) -> float: ...
def risk_limit(
    eigenvalues: AnyVector,
    forcing: AnyVector,
    kernel: AnyVector,
    limit_level: float,
    learning_rate: float,
    batch_size: int,
    noise: float = 0.0,
) -> float: ...
def resolvent_m(
    data_eigenvalues: Vector, d: int, z: npt.ArrayLike, n_threads: int = 0
) -> npt.NDArray[np.complex128]: ...
def limit_level(data_eigenvalues: Vector, target_power: Vector, d: int) -> tuple[float, float]: ...
def spectral_densities(
    data_eigenvalues: Vector,
    target_power: Vector,
    d: int,
    x: Vector,
    relative_epsilon: float = 1e-8,
    n_threads: int = 0,
) -> tuple[Vector, Vector, Vector]: ...
