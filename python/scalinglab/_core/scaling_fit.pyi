"""_core.scaling_fit: the scaling-law fitting core (forms, objectives, multistart, bootstrap)."""

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]
Progress = Callable[[float], object] | None

def n_parameters(form: int, n_breaks: int = 0) -> int: ...
def log_prediction(
    form: int, n_breaks: int, x: npt.ArrayLike, y: npt.ArrayLike | None, theta: Vector
) -> tuple[Vector, npt.NDArray[np.float64]]: ...
def objective(
    form: int,
    n_breaks: int,
    residual: int,
    x: npt.ArrayLike,
    y: npt.ArrayLike | None,
    target: Vector,
    weights: Vector | None,
    delta: float,
    scale: float,
    theta: Vector,
    multiplicity: Vector | None = None,
) -> tuple[float, Vector]: ...
def fit_multistart(
    form: int,
    n_breaks: int,
    residual: int,
    x: npt.ArrayLike,
    y: npt.ArrayLike | None,
    target: Vector,
    weights: Vector | None,
    delta: float,
    scale: float,
    starts: npt.NDArray[np.float64],
    options: Any,
    polish_options: Any,
    n_polish: int = 25,
    n_threads: int = 0,
    progress: Progress = None,
) -> dict[str, Any]: ...
def bootstrap_counts(
    seed: int,
    group: npt.NDArray[np.int64],
    stratum: npt.NDArray[np.int64],
    n_resamples: int,
    n_threads: int = 0,
) -> npt.NDArray[np.int64]: ...
def bootstrap_refits(
    form: int,
    n_breaks: int,
    residual: int,
    x: npt.ArrayLike,
    y: npt.ArrayLike | None,
    target: Vector,
    weights: Vector | None,
    delta: float,
    scale: float,
    start: Vector,
    counts: npt.NDArray[np.int64],
    options: Any,
    n_threads: int = 0,
    progress: Progress = None,
) -> dict[str, Any]: ...
