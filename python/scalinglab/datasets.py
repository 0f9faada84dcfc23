"""Data sets that need no network at run time: two real ones and synthetic manifolds.

Every loader returns float64 arrays with a stated standardisation:

* :func:`load_digits`: scikit-learn's bundled 8x8 digits (1797 images, d = 64; extra ``sklearn``).
* :func:`load_mnist1d`: MNIST-1D (Greydanus 2020, arXiv 2011.14439; d = 40), built procedurally by
  ``mnist1d.data.make_dataset`` (extra ``datasets``); the downloading ``get_dataset`` is never
  called.
* :func:`torus`, :func:`sphere`, :func:`cube`: points on a d-dimensional manifold embedded in R^D
  by a random isometry, from the core's counter-based Philox streams, so point i is the same for
  any sample size n (a sample of n' < n points is a prefix of the sample of n).

Standardisation of the real data sets (``standardize=True``): each input coordinate is centred
and divided by its standard deviation over the whole data set (constant coordinates, such as the
always-blank pixels of digits, are left at 0), then every vector is divided by sqrt(d_used), with
d_used the number of non-constant coordinates, so the mean squared norm is exactly 1. Manifolds are
not standardised: their scale is geometric (see each function).

These are the inputs of the regime experiments of Bahri et al. 2021 (arXiv 2102.06701), which
explain resolution-limited exponents by the intrinsic dimension of the data manifold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalinglab._native import _core
from scalinglab._rng import seed_from_rng
from scalinglab._validation import as_matrix, positive_int, real_number

__all__ = [
    "Dataset",
    "cube",
    "load_digits",
    "load_mnist1d",
    "sphere",
    "standardize",
    "torus",
    "torus_grid",
    "with_bias_coordinate",
]

_EMBEDDING_SUBSTREAM = 1 << 32


@dataclass(frozen=True, eq=False)
class Dataset:
    """Inputs (and, for real data, class labels) of a data set.

    Attributes
    ----------
    X : ndarray, shape (n, D), float64
        Inputs (standardised as the loader documents).
    labels : ndarray, shape (n,), int64, or None
        Class labels of the real data sets (None for manifolds).
    name : str
    intrinsic_dimension : int or None
        d of a manifold (None for real data).
    coordinates : ndarray, shape (n, d), or None
        Intrinsic coordinates of manifold points (angles of a torus, points of the cube).
    grid_shape : tuple of int or None
        (G,) * d for :func:`torus_grid` (points in C order of the angle grid), else None.
    """

    X: np.ndarray
    labels: np.ndarray | None
    name: str
    intrinsic_dimension: int | None = None
    coordinates: np.ndarray | None = None
    grid_shape: tuple | None = None

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    @property
    def D(self) -> int:
        return int(self.X.shape[1])


# ---- real data ---------------------------------------------------------------------------------


def standardize(X) -> np.ndarray:
    """Centre and scale each coordinate to unit variance, then the vectors to mean |x|^2 = 1.

    Parameters
    ----------
    X : array_like, shape (n, d)

    Returns
    -------
    ndarray, shape (n, d), float64
        Constant coordinates become 0 and do not count in the final 1/sqrt(d_used) scaling.
    """
    X = as_matrix(X, "X", dtype=np.float64)
    centred = X - X.mean(axis=0)
    scale = centred.std(axis=0)
    used = scale > 1e-12 * max(float(np.abs(X).max()), 1e-300)
    if not used.any():
        raise ValueError("`X`: every coordinate is constant; nothing to standardise")
    out = np.zeros_like(centred)
    out[:, used] = centred[:, used] / scale[used]
    return out / np.sqrt(used.sum())


def load_digits(*, standardize_inputs: bool = True) -> Dataset:
    """scikit-learn's bundled handwritten digits: 1797 images of 8x8 pixels (d = 64), 10 classes.

    Parameters
    ----------
    standardize_inputs : bool
        Apply :func:`standardize` (default); otherwise the raw pixel values 0..16 as float64.

    Raises
    ------
    ImportError
        scikit-learn is missing (``pip install 'scalinglab[datasets]'``).
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as error:  # pragma: no cover - exercised without scikit-learn
        raise ImportError(
            "load_digits needs scikit-learn: pip install 'scalinglab[datasets]'"
        ) from error
    bunch = sklearn_digits()
    X = np.asarray(bunch.data, dtype=np.float64)
    return Dataset(standardize(X) if standardize_inputs else X,
                   np.asarray(bunch.target, dtype=np.int64), "digits")


def load_mnist1d(n_samples: int = 4000, *, seed: int = 0, standardize_inputs: bool = True) -> Dataset:
    """MNIST-1D (Greydanus 2020, arXiv 2011.14439): 1-D digit templates, shifted, scaled, noised.

    Built procedurally with ``mnist1d.data.make_dataset`` (no network; its train/test split is
    joined back into one array of ``n_samples`` rows, train rows first).

    Parameters
    ----------
    n_samples : int
        Number of sequences (>= 10).
    seed : int
        The generator's seed (``args.seed``). ``make_dataset`` seeds numpy's global generator;
        its state is saved and restored around the call.
    standardize_inputs : bool
        Apply :func:`standardize` (default).

    Returns
    -------
    Dataset
        X of shape (n_samples, 40), labels 0..9.

    Raises
    ------
    ImportError
        mnist1d is missing (``pip install 'scalinglab[datasets]'``).
    """
    n_samples = positive_int(n_samples, "n_samples", minimum=10)
    seed = positive_int(seed, "seed", minimum=0)
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as error:  # pragma: no cover - exercised without mnist1d
        raise ImportError(
            "load_mnist1d needs the mnist1d package: pip install 'scalinglab[datasets]'"
        ) from error
    args = get_dataset_args()
    args.num_samples = n_samples
    args.seed = seed
    state = np.random.get_state()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(state)
    X = np.concatenate([np.asarray(data["x"]), np.asarray(data["x_test"])]).astype(np.float64)
    labels = np.concatenate([np.asarray(data["y"]), np.asarray(data["y_test"])]).astype(np.int64)
    return Dataset(standardize(X) if standardize_inputs else X, labels, "mnist1d")


# ---- manifolds ---------------------------------------------------------------------------------


def _uniform(seed: int, first: int, count: int) -> np.ndarray:
    return _core.random.uniform(seed, _core.random.streams.DATASET, first, count)


def _normal(seed: int, first: int, count: int) -> np.ndarray:
    return _core.random.normal(seed, _core.random.streams.DATASET, first, count)


def _isometry(seed: int, m: int, D: int | None) -> np.ndarray | None:
    """A (m, D) matrix with orthonormal rows (QR of a Philox Gaussian), or None for D = m."""
    if D is None:
        return None
    D = positive_int(D, "D")
    if D < m:
        raise ValueError(f"`D`: the embedding dimension must be >= {m} for this manifold, got {D}")
    gaussian = _core.random.normal(seed, _core.random.streams.DATASET | _EMBEDDING_SUBSTREAM, 0, D * m)
    q, r = np.linalg.qr(gaussian.reshape(D, m))
    q *= np.sign(np.diag(r))  # a unique Q (Haar distributed) for the given Gaussian
    return q.T.copy()


def _embed(points: np.ndarray, seed: int, D: int | None) -> np.ndarray:
    rotation = _isometry(seed, points.shape[1], D)
    return np.ascontiguousarray(points if rotation is None else points @ rotation)


def _sample_args(n, d, rng):
    return positive_int(n, "n"), positive_int(d, "d"), seed_from_rng(rng)


def torus(n: int, d: int, *, D: int | None = None, rng=0) -> Dataset:
    """n points uniform on the flat d-torus, x(theta) = (cos theta_i, sin theta_i)_{i<d} in R^{2d}.

    Angle i of point s is 2 pi times uniform number s d + i of (seed, ``DATASET``). |x|^2 = d
    exactly, E x = 0. With ``D`` the points are mapped by a random isometry R^{2d} -> R^D
    (orthonormal rows from the sub-stream ``DATASET | 2^32``), which keeps every inner product.

    Returns
    -------
    Dataset
        X (n, 2d or D), coordinates = the angles (n, d).
    """
    n, d, seed = _sample_args(n, d, rng)
    theta = 2 * np.pi * _uniform(seed, 0, n * d).reshape(n, d)
    points = np.concatenate([np.cos(theta), np.sin(theta)], axis=1)
    return Dataset(_embed(points, seed, D), None, f"torus{d}", d, theta)


def torus_grid(G: int, d: int, *, D: int | None = None, rng=0) -> Dataset:
    """The G^d grid theta = 2 pi (j_1, ..., j_d) / G of the flat d-torus, embedded as in :func:`torus`.

    Points are in C order of the index (j_1, ..., j_d). A translation-invariant kernel on the
    grid is circulant, so its eigenvalues are the d-dimensional FFT of one row (used by
    :func:`scalinglab.regimes.population_spectrum` and the grid GP teacher). ``rng`` only keys
    the isometry.
    """
    G = positive_int(G, "G", minimum=2)
    d = positive_int(d, "d")
    seed = seed_from_rng(rng)
    axes = np.meshgrid(*([2 * np.pi * np.arange(G) / G] * d), indexing="ij")
    theta = np.stack([a.ravel() for a in axes], axis=1)
    points = np.concatenate([np.cos(theta), np.sin(theta)], axis=1)
    return Dataset(_embed(points, seed, D), None, f"torus{d}-grid{G}", d, theta, (G,) * d)


def sphere(n: int, d: int, *, D: int | None = None, rng=0) -> Dataset:
    """n points uniform on the unit d-sphere S^d in R^{d+1} (normalised Gaussians), embedded in R^D.

    Coordinate j of point s is normal number s (d + 1) + j of (seed, ``DATASET``) before
    normalisation; |x| = 1.
    """
    n, d, seed = _sample_args(n, d, rng)
    g = _normal(seed, 0, n * (d + 1)).reshape(n, d + 1)
    points = g / np.linalg.norm(g, axis=1, keepdims=True)
    return Dataset(_embed(points, seed, D), None, f"sphere{d}", d, None)


def cube(n: int, d: int, *, D: int | None = None, rng=0) -> Dataset:
    """n points uniform in the cube [-sqrt 3, sqrt 3]^d (unit variance per coordinate), embedded in R^D.

    Coordinate j of point s is 2 sqrt(3) (u - 1/2) with u uniform number s d + j of
    (seed, ``DATASET``); E |x|^2 = d.
    """
    n, d, seed = _sample_args(n, d, rng)
    points = 2 * np.sqrt(3.0) * (_uniform(seed, 0, n * d).reshape(n, d) - 0.5)
    return Dataset(_embed(points, seed, D), None, f"cube{d}", d, points.copy())


def with_bias_coordinate(X, value: float = 1.0) -> np.ndarray:
    """X with a constant column ``value`` appended, shape (n, D + 1).

    With features sigma(w . x'), w ~ N(0, I), the extra coordinate gives each feature a Gaussian
    bias w_0 * value. Without a bias, ReLU features kill every odd harmonic above degree 1 on a
    symmetric manifold (Bahri et al. 2021, arXiv 2102.06701; digest T2), so half the kernel
    spectrum of a torus or sphere would be zero.
    """
    X = as_matrix(X, "X", dtype=np.float64)
    value = real_number(value, "value")
    return np.ascontiguousarray(np.concatenate([X, np.full((X.shape[0], 1), value)], axis=1))
