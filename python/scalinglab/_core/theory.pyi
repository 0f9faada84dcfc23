"""_core.theory: DMFT one- and two-point equations and deterministic equivalents."""

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]
ComplexVector = npt.NDArray[np.complex128]

def learning_curve(
    eigenvalues: Vector,
    target_power: Vector,
    multiplicity: Vector,
    n_features: float,
    n_samples: float,
    times: Vector,
    optimizer: str = "gf",
    learning_rate: float = 1.0,
    ensemble: float = 1.0,
    noise: float = 0.0,
    talbot_nodes: int = 16,
    n_threads: int = 0,
    progress: Callable[[float], object] | None = None,
) -> tuple[Vector, Vector]: ...
def ridge_errors(
    eigenvalues: Vector,
    target_power: Vector,
    multiplicity: Vector,
    n_features: Vector,
    n_samples: Vector,
    ridge: Vector,
    noise: float = 0.0,
    ensemble: float = 1.0,
) -> tuple[Vector, Vector, Vector]: ...
def one_point(
    eigenvalues: Vector,
    multiplicity: Vector,
    n_features: float,
    n_samples: float,
    points: npt.ArrayLike,
) -> tuple[ComplexVector, ComplexVector, ComplexVector]: ...
def critical_kappa(eigenvalues: Vector, multiplicity: Vector, rank: float) -> float: ...
