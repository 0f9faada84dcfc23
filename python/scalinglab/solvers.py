"""Symmetric eigendecomposition and ridge regression (LAPACK ``?syevd``, ``?potrf``/``?potrs``).

Ridge convention (the theory modules use the same one). With P training samples, unnormalised
features ``Phi`` of shape (P, N) and ``F = Phi / sqrt(N)``, ridge regression minimises

    (1 / (2 P)) sum_mu (y_mu - F_mu . w)^2 + (ridge / 2) |w|^2,

so that, with the Gram matrix ``K = F F^T = Phi Phi^T / N`` (P x P),

    w = (F^T F + P ridge I)^{-1} F^T y        (primal: an N x N system)
      = F^T (K + P ridge I)^{-1} y             (dual:   a  P x P system),

and the prediction at test points is ``K_test,train (K + P ridge I)^{-1} y``. ``ridge`` is
dimensionless in this convention (the diagonal shift is ``P * ridge``); it is the lambda of
Bordelon, Atanasov & Pehlevan (arXiv 2402.01092) and of Atanasov, Zavatone-Veth & Pehlevan
(arXiv 2405.00592, eq. A1), with the loss normalised per sample.

Targets ``y`` may be 1-D (P,) or 2-D (P, k); k outputs are solved together and results keep the
shape of ``y``. float32 inputs are solved in float32, everything else in float64.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scalinglab._native import _core
from scalinglab._validation import (
    as_matrix,
    check_memory,
    n_threads_arg,
    positive_int,
    real_array,
    real_number,
)

__all__ = [
    "RidgePath",
    "choose_solver",
    "eigh",
    "eigvalsh",
    "ridge_dual_coef",
    "ridge_path",
    "ridge_primal_weights",
    "ridge_weights",
]

SOLVERS = ("auto", "primal", "dual")
"""Valid values of the ``solver`` argument."""

# Allowed asymmetry of a Gram, relative to max|K|: a Gram accumulated with gemm instead of syrk
# is symmetric only to rounding, which grows like sqrt(N) * eps with the number of features.
_SYMMETRY_TOLERANCE = {np.float64: 1e-8, np.float32: 1e-3}


# ---- argument handling --------------------------------------------------------------------------


def _working_dtype(array, name: str) -> type:
    """float32 for float32 input, float64 otherwise (a non-numeric input is refused by name)."""
    return np.float32 if real_array(array, name).dtype == np.float32 else np.float64


def _square_matrix(a, name: str, dtype, *, symmetric: bool, copies: int, what: str) -> np.ndarray:
    """Checks memory for ``copies`` working copies first (before converting anything)."""
    shape = real_array(a, name).shape
    if len(shape) == 2:
        check_memory(copies * float(shape[0]) * float(shape[1]) * np.dtype(dtype).itemsize, what,
                     name)
    a = as_matrix(a, name, dtype=dtype)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"`{name}`: expected a square matrix, got shape {a.shape}")
    if symmetric:
        _core.solvers.require_symmetric(a, name, _SYMMETRY_TOLERANCE[dtype])
    return a


def _targets(y, n_rows: int, dtype, name: str = "y", rows_of: str = "`gram`"):
    """``y`` as a finite C-contiguous (n_rows, k) array, and whether it was 1-D."""
    array = np.asarray(y)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise TypeError(f"`{name}`: expected a real numeric array, got dtype {array.dtype}")
    if array.ndim not in (1, 2):
        raise ValueError(f"`{name}`: expected shape (P,) or (P, k), got {array.shape}")
    if array.shape[0] != n_rows:
        raise ValueError(
            f"`{name}`: expected {n_rows} rows (one per row of {rows_of}), got shape {array.shape}"
        )
    one_d = array.ndim == 1
    array = np.ascontiguousarray(array.reshape(n_rows, -1), dtype=dtype)
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}`: contains NaN or infinity")
    return array, one_d


def _ridge(ridge) -> float:
    return real_number(ridge, "ridge", minimum=0.0)


def _ridges(ridges) -> list[float]:
    values = np.atleast_1d(real_array(ridges, "ridges").astype(float))
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"`ridges`: expected a non-empty 1-D sequence, got shape {values.shape}")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"`ridges`: every ridge must be finite and >= 0, got {values.tolist()}")
    return values.tolist()


def choose_solver(n_samples: int, n_features: int, solver: str = "auto") -> str:
    """The ridge form to use: ``"primal"`` (N x N system) when N < P, else ``"dual"`` (P x P).

    Parameters
    ----------
    n_samples : int
        P, the number of training samples.
    n_features : int
        N, the number of features.
    solver : {"auto", "primal", "dual"}
        ``"auto"`` picks the smaller system; the others force a form.
    """
    if solver not in SOLVERS:
        raise ValueError(f"`solver`: expected one of {', '.join(SOLVERS)}, got {solver!r}")
    positive_int(n_samples, "n_samples")
    positive_int(n_features, "n_features")
    if solver != "auto":
        return solver
    return "primal" if n_features < n_samples else "dual"


def _shape_like(result: np.ndarray, one_d: bool) -> np.ndarray:
    return result[..., 0] if one_d else result


# ---- eigendecomposition ------------------------------------------------------------------------


def eigh(a, *, values_only: bool = False, n_threads: int = 0):
    """Eigenvalues and eigenvectors of a real symmetric matrix (LAPACK ``?syevd``).

    Parameters
    ----------
    a : array_like, shape (n, n)
        Symmetric matrix (checked to a relative tolerance of 1e-8 in float64, 1e-3 in float32);
        float32 input is decomposed in float32, anything else in float64.
    values_only : bool
        Take the values-only path (``jobz = 'N'``: tridiagonal QR/root-free, about 3x cheaper).
    n_threads : int
        BLAS/LAPACK threads (0 = all cores).

    Returns
    -------
    values : ndarray, shape (n,)
        Ascending eigenvalues.
    vectors : ndarray, shape (n, n)
        Orthonormal eigenvectors as columns (``vectors[:, i]`` belongs to ``values[i]``), as in
        ``numpy.linalg.eigh``; not returned when ``values_only``. Signs are arbitrary.

    Notes
    -----
    The LAPACK call itself cannot be interrupted: Ctrl-C takes effect when it returns.
    """
    return _eigh(a, "a", values_only, n_threads)


def _eigh(a, name: str, values_only: bool, n_threads):
    """eigh with the matrix argument called ``name`` in error messages."""
    n_threads = n_threads_arg(n_threads)
    dtype = _working_dtype(a, name)
    a = _square_matrix(a, name, dtype, symmetric=True, copies=1 if values_only else 2,
                       what="the working copy of the matrix and LAPACK's workspace")
    return _core.solvers.eigh(a, not values_only, n_threads)


def eigvalsh(a, *, n_threads: int = 0) -> np.ndarray:
    """Ascending eigenvalues of a real symmetric matrix; ``eigh(a, values_only=True)``."""
    return eigh(a, values_only=True, n_threads=n_threads)


# ---- single ridge solves -----------------------------------------------------------------------


def ridge_dual_coef(gram, y, ridge: float, *, n_threads: int = 0) -> np.ndarray:
    """Dual ridge coefficients ``alpha = (K + P ridge I)^{-1} y`` by Cholesky.

    Parameters
    ----------
    gram : array_like, shape (P, P)
        Training Gram ``K = Phi Phi^T / N`` (symmetric positive semi-definite).
    y : array_like, shape (P,) or (P, k)
        Targets.
    ridge : float
        Ridge >= 0 in the module's convention (diagonal shift ``P * ridge``).
    n_threads : int
        BLAS/LAPACK threads (0 = all cores).

    Returns
    -------
    ndarray, shape of ``y``
        alpha; predictions are ``gram_test @ alpha`` and the primal weights ``F^T alpha``.

    Raises
    ------
    scalinglab.LinAlgError
        ``K + P ridge I`` is not numerically positive definite (e.g. ``ridge = 0`` with a
        singular Gram); :class:`RidgePath` gives the pseudo-inverse limit instead.
    """
    ridge = _ridge(ridge)
    n_threads = n_threads_arg(n_threads)
    dtype = _working_dtype(gram, "gram")
    gram = _square_matrix(gram, "gram", dtype, symmetric=True, copies=1,
                          what="the Cholesky factor of the P x P Gram")
    y, one_d = _targets(y, gram.shape[0], dtype)
    return _shape_like(_core.solvers.ridge_dual(gram, y, ridge, n_threads), one_d)


def _normal_equations_class(dtype):
    return _core.solvers.NormalEquationsF32 if dtype == np.float32 else _core.solvers.NormalEquationsF64


def ridge_primal_weights(features, y, ridge: float, *, n_threads: int = 0) -> np.ndarray:
    """Primal ridge weights ``w = (F^T F + P ridge I)^{-1} F^T y`` with ``F = Phi / sqrt(N)``.

    Parameters
    ----------
    features : array_like, shape (P, N)
        Unnormalised features ``Phi`` of the training samples.
    y : array_like, shape (P,) or (P, k)
        Targets.
    ridge : float
        Ridge >= 0 (diagonal shift ``P * ridge``).
    n_threads : int
        BLAS/LAPACK threads (0 = all cores).

    Returns
    -------
    ndarray, shape (N,) or (N, k)
        w; predictions are ``Phi_test @ w / sqrt(N)``.
    """
    ridge = _ridge(ridge)
    n_threads = n_threads_arg(n_threads)
    dtype = _working_dtype(features, "features")
    features = as_matrix(features, "features", dtype=dtype)
    y, one_d = _targets(y, features.shape[0], dtype, rows_of="`features`")
    n_features = features.shape[1]
    check_memory(2 * n_features**2 * np.dtype(dtype).itemsize,
                 "the N x N normal equations and their Cholesky factor", "features")
    normal = _normal_equations_class(dtype)(n_features, y.shape[1])
    normal.add(features, y, n_threads)
    return _shape_like(normal.solve(ridge, n_threads), one_d)


def ridge_weights(features, y, ridge: float, *, solver: str = "auto",
                  n_threads: int = 0) -> np.ndarray:
    """Ridge weights from explicit features, by the primal (N < P) or the dual (N >= P) form.

    Both forms give the same ``w`` (push-through identity); ``solver`` forces one. The dual
    forms ``K = Phi Phi^T / N``, solves for alpha and returns ``w = Phi^T alpha / sqrt(N)``.

    Parameters
    ----------
    features : array_like, shape (P, N)
        Unnormalised features ``Phi``.
    y : array_like, shape (P,) or (P, k)
    ridge : float
        Ridge >= 0 (diagonal shift ``P * ridge``).
    solver : {"auto", "primal", "dual"}
    n_threads : int

    Returns
    -------
    ndarray, shape (N,) or (N, k)
    """
    if solver not in SOLVERS:
        raise ValueError(f"`solver`: expected one of {', '.join(SOLVERS)}, got {solver!r}")
    dtype = _working_dtype(features, "features")
    features = as_matrix(features, "features", dtype=dtype)
    n_samples, n_features = features.shape
    if choose_solver(n_samples, n_features, solver) == "primal":
        return ridge_primal_weights(features, y, ridge, n_threads=n_threads)
    ridge = _ridge(ridge)
    y_matrix, one_d = _targets(y, n_samples, dtype, rows_of="`features`")
    check_memory(2 * n_samples**2 * np.dtype(dtype).itemsize,
                 "the P x P Gram and its Cholesky factor", "features")
    gram = features @ features.T
    gram /= n_features
    alpha = ridge_dual_coef(gram, y_matrix, ridge, n_threads=n_threads)
    weights = features.T @ alpha / np.sqrt(n_features)
    return _shape_like(weights, one_d)


# ---- ridge path ----------------------------------------------------------------------------------


class RidgePath:
    """Ridge regression at any number of ridges from one eigendecomposition of the Gram.

    ``K = U diag(e) U^T`` once (LAPACK ``?syevd``); then
    ``alpha(r) = U diag(1 / (e + P r)) U^T y`` costs O(P^2 k) per ridge, and test predictions
    ``K_test U diag(1 / (e + P r)) U^T y`` cost one (m x P x P) product for all ridges.

    At ``ridge = 0`` directions with ``e + P r <= P * eps * max|e|`` are dropped: the result is
    the minimum-norm interpolator (pseudo-inverse), not an error.

    Parameters
    ----------
    gram : array_like, shape (P, P)
        Training Gram ``K = Phi Phi^T / N`` (symmetric).
    y : array_like, shape (P,) or (P, k)
        Training targets.
    n_threads : int
        BLAS/LAPACK threads (0 = all cores).
    """

    def __init__(self, gram, y, *, n_threads: int = 0):
        self._n_threads = n_threads_arg(n_threads)
        dtype = _working_dtype(gram, "gram")
        gram = _square_matrix(gram, "gram", dtype, symmetric=True, copies=2,
                              what="the eigenvectors of the P x P Gram and LAPACK's workspace")
        y, self._one_d = _targets(y, gram.shape[0], dtype)
        self._dtype = dtype
        self._y = y
        path_class = _core.solvers.RidgePathF32 if dtype == np.float32 else _core.solvers.RidgePathF64
        self._path = path_class(gram, y, self._n_threads)

    @property
    def n_samples(self) -> int:
        """P."""
        return int(self._path.n_samples)

    @property
    def eigenvalues(self) -> np.ndarray:
        """Ascending eigenvalues e of the Gram, shape (P,)."""
        return np.array(self._path.eigenvalues)

    @property
    def eigenvectors(self) -> np.ndarray:
        """Eigenvectors U of the Gram as columns, shape (P, P) (a read-only view)."""
        view = np.asarray(self._path.eigenvectors)
        view.flags.writeable = False
        return view

    def dual_coef(self, ridge: float) -> np.ndarray:
        """alpha(ridge), shape of ``y``."""
        return _shape_like(self._path.dual_coef(_ridge(ridge), self._n_threads), self._one_d)

    def predict_train(self, ridges) -> np.ndarray:
        """Fitted training values ``K alpha(r)``, shape (len(ridges), P) or (len(ridges), P, k)."""
        out = self._path.train_predictions(_ridges(ridges), self._n_threads)
        return _shape_like(out, self._one_d)

    def predict(self, gram_test, ridges) -> np.ndarray:
        """Test predictions ``K_test alpha(r)``.

        Parameters
        ----------
        gram_test : array_like, shape (m, P)
            Gram between test points and the training points.
        ridges : sequence of float

        Returns
        -------
        ndarray, shape (len(ridges), m) or (len(ridges), m, k)
        """
        gram_test = as_matrix(gram_test, "gram_test", dtype=self._dtype, n_cols=self.n_samples)
        out = self._path.test_predictions(gram_test, _ridges(ridges), self._n_threads)
        return _shape_like(out, self._one_d)

    def errors(self, ridges, *, gram_test=None, y_test=None) -> pd.DataFrame:
        """Mean squared errors along the path as a tidy table, one row per ridge.

        Parameters
        ----------
        ridges : sequence of float
        gram_test : array_like, shape (m, P), optional
        y_test : array_like, shape (m,) or (m, k), optional
            Both or neither.

        Returns
        -------
        pandas.DataFrame
            Columns ``ridge``, ``train_loss`` and, with test data, ``test_loss``. An MSE is the
            mean of the squared residual over samples and outputs.
        """
        ridges = _ridges(ridges)
        if (gram_test is None) != (y_test is None):
            raise ValueError("`gram_test`, `y_test`: give both or neither")
        fitted = self._path.train_predictions(ridges, self._n_threads)
        table = {
            "ridge": np.asarray(ridges),
            "train_loss": ((fitted - self._y[None]) ** 2).mean(axis=(1, 2)),
        }
        if gram_test is not None:
            gram_test = as_matrix(gram_test, "gram_test", dtype=self._dtype,
                                  n_cols=self.n_samples)
            y_test, _ = _targets(y_test, gram_test.shape[0], self._dtype, name="y_test",
                                 rows_of="`gram_test`")
            if y_test.shape[1] != self._y.shape[1]:
                raise ValueError(
                    f"`y_test`: expected {self._y.shape[1]} outputs like `y`, got shape "
                    f"{y_test.shape}"
                )
            predicted = self._path.test_predictions(gram_test, ridges, self._n_threads)
            table["test_loss"] = ((predicted - y_test[None]) ** 2).mean(axis=(1, 2))
        return pd.DataFrame(table)


def ridge_path(gram, y, ridges, *, gram_test=None, y_test=None, n_threads: int = 0) -> pd.DataFrame:
    """Train (and test) mean squared errors at many ridges from one eigendecomposition.

    ``RidgePath(gram, y).errors(ridges, gram_test=..., y_test=...)``; see :class:`RidgePath`.

    Returns
    -------
    pandas.DataFrame
        One row per ridge: ``ridge``, ``train_loss`` and (with test data) ``test_loss``.
    """
    ridges = _ridges(ridges)
    return RidgePath(gram, y, n_threads=n_threads).errors(ridges, gram_test=gram_test,
                                                          y_test=y_test)
