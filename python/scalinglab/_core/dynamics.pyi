"""_core.dynamics: GF/GD/SGD learning curves of linear random-feature models, kernel GF/GD.

Grid values are ints with INFINITE (-1) for infinity; outputs are (test, train), each of shape
(len(N) * len(P), len(times)) with grid point (i, j) at row i * len(P) + j.
"""

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]
Progress = Callable[[float], object] | None

INFINITE: int

def linear_learning_curves(
    spectrum: Vector,
    target: Vector,
    noise: float,
    N: Sequence[int],
    P: Sequence[int],
    times: Sequence[float],
    method: str,
    learning_rate: float,
    ensemble: int,
    wishart: bool,
    independent: bool,
    seed: int,
    n_threads: int = 0,
    progress: Progress = None,
) -> tuple[Matrix, Matrix]: ...
def sgd_learning_curves(
    spectrum: Vector,
    target: Vector,
    noise: float,
    N: Sequence[int],
    P: Sequence[int],
    steps: Sequence[int],
    batch_size: int,
    learning_rate: float,
    ensemble: int,
    gaussian_shortcut: bool,
    independent: bool,
    seed: int,
    n_threads: int = 0,
    progress: Progress = None,
) -> tuple[Matrix, Matrix]: ...
def kernel_learning_curves(
    K_train: Matrix,
    K_test: Matrix,
    y_train: Vector,
    y_test: Vector,
    P: Sequence[int],
    times: Sequence[float],
    method: str,
    learning_rate: float,
    n_threads: int = 0,
    progress: Progress = None,
) -> tuple[Matrix, Matrix]: ...
def projection_rows(seed: int, member: int, rows: int, M: int, n_threads: int = 0) -> Matrix: ...
def data_rows(
    spectrum: Vector,
    target: Vector,
    noise: float,
    seed: int,
    first: int,
    rows: int,
    n_threads: int = 0,
) -> tuple[Matrix, Vector]: ...
