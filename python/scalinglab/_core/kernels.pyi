"""_core.kernels: analytic kernels K (n, m) of X (n, d) and Y (m, d) (Y = None: X)."""

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]

def linear_kernel(X: Matrix, Y: Matrix | None = None, n_threads: int = 0) -> Matrix: ...
def rbf_kernel(
    X: Matrix, Y: Matrix | None = None, lengthscale: float = 1.0, n_threads: int = 0
) -> Matrix: ...
def arccos_kernel(
    X: Matrix, Y: Matrix | None = None, degree: int = 1, n_threads: int = 0
) -> Matrix: ...
def arcsin_kernel(X: Matrix, Y: Matrix | None = None, n_threads: int = 0) -> Matrix: ...
def infinite_width_kernel(
    activation: str,
    X: Matrix,
    Y: Matrix | None = None,
    lengthscale: float = 1.0,
    n_threads: int = 0,
) -> Matrix: ...
