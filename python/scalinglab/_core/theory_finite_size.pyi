"""_core.theory_finite_size: the leading O(1/N), O(1/P) correction to the DMFT."""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

def learning_curve(eigenvalues: npt.ArrayLike, target_power: npt.ArrayLike, multiplicity: npt.ArrayLike, n_features: float, n_samples: float, times: npt.ArrayLike, learning_rate: float = 1.0, noise: float = 0.0, talbot_nodes: int = 16, n_threads: int = 0, progress: object = None) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
def resolvent_expansion(eigenvalues: npt.ArrayLike, weights: npt.ArrayLike, multiplicity: npt.ArrayLike, n: float, s: complex) -> tuple[complex, complex]: ...
def static(eigenvalues: npt.ArrayLike, target_power: npt.ArrayLike, multiplicity: npt.ArrayLike, n_features: float, n_samples: float, ridge: float, noise: float = 0.0) -> tuple[float, float]: ...
