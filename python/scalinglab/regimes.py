"""Bahri's four scaling regimes, measured on random features and classified.

Bahri, Dyer, Kaplan, Lee & Sharma, "Explaining Neural Scaling Laws" (arXiv 2102.06701; BDKLS)
distinguish, for a model of size N trained on P samples:

============================  ==============  ===================================================
regime                        what scales     law
============================  ==============  ===================================================
variance-limited, width       N >> P          L(N) - L_inf(P) ~ 1/N   (L_inf: the kernel limit)
variance-limited, data        P >> N          L(P) - L_inf(N) ~ 1/P   (L_inf: population fit)
resolution-limited, width     N << P          L(N) ~ N^-alpha_N
resolution-limited, data      P << N          L(P) ~ P^-alpha_P
============================  ==============  ===================================================

Set-up (the digest's T2 recipe, generalised). A :class:`Population` is a finite set of inputs
with a clean teacher value each; it *is* the data distribution: training samples are drawn from
it uniformly with replacement (Philox stream ``SAMPLING``, so the sample of P' < P is a prefix of
the sample of P) and the test loss is the exact population mean E_x (f(x) - y(x))^2 over all of
it. So the P = inf limit (least squares on the population) is computed exactly, not estimated.
The student is a :class:`Student`: N random features (``scalinglab.RandomFeatures``) of the inputs
with a constant bias coordinate appended, trained by ridge regression in the convention of
:mod:`scalinglab.solvers` (ridge 0 = minimum-norm least squares).

Engines (every curve in N or P from one pass):

* N >> P (variance-limited width): the streamed Gram engine,
  ``RandomFeatures.train_test_gram(checkpoints=N_values)`` + :class:`scalinglab.solvers.RidgePath`;
  the limit L_inf(P) is kernel ridge with ``infinite_width_kernel`` on the same sample.
* N = inf (resolution-limited data): the infinite-width kernel on prefixes of one sample.
* P >> N (resolution-limited width, variance-limited data): the P x P Gram is the wrong object
  there (P up to the whole population); instead the primal normal equations
  Phi^T Phi of the N_max features, whose leading N x N block is the N-feature model (nested in N),
  accumulated over sample prefixes (nested in P) and over the whole population (P = inf).

Exponents from spectra: the infinite-width kernel's eigenvalues on the population
(:func:`population_spectrum`; exact by FFT on a torus grid) decay as lambda_k ~ k^-b; with a
teacher of power lambda_k w_k^2 ~ k^-a the resolution-limited exponents are
alpha_N = min(a - 1, b), alpha_P = min(a - 1, 2 b) (:func:`scalinglab.theory.bottleneck_exponents`);
a GP teacher drawn from the student's own kernel has a = b, so alpha_N = alpha_P = b - 1 = alpha_K
(the duality, which holds exactly when a - 1 <= b). :func:`predict_exponents` gives both, plus the
slopes of the deterministic-equivalent curves over the fitted window.

A measured surprise recorded by the digest and checked here: for ReLU features on a d-torus the
kernel exponent is alpha_K ~ 3/d (1.54 at d = 2), not the 4/d of the piecewise-linear
"resolution" heuristic (Sharma & Kaplan, arXiv 2004.10802).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scalinglab._native import _core
from scalinglab._rng import seed_from_rng
from scalinglab._validation import check_memory, positive_int, real_number
from scalinglab.datasets import Dataset, with_bias_coordinate

__all__ = [
    "REGIMES",
    "ExponentPrediction",
    "Population",
    "RegimeClassification",
    "Student",
    "classify_regime",
    "four_regimes",
    "gaussian_process_teacher",
    "population_spectrum",
    "predict_exponents",
    "random_network_teacher",
    "resolution_limited_data",
    "resolution_limited_width",
    "variance_limited_data",
    "variance_limited_width",
]

#: The four regimes: name -> (resource that scales, kind).
REGIMES = {
    "variance_width": ("N", "variance-limited"),
    "variance_data": ("P", "variance-limited"),
    "resolution_width": ("N", "resolution-limited"),
    "resolution_data": ("P", "resolution-limited"),
}

# Sub-keys of one experiment seed (derive_seed(seed, index)).
_TEACHER, _FEATURES, _SAMPLES, _NOISE = 0, 1, 2, 3
# Pool rows per feature block in the primal engine.
_ROW_CHUNK = 2048


def _key(seed, index: int) -> int:
    return int(_core.random.derive_seed(seed_from_rng(seed), index))


# ---- student, teachers, population -------------------------------------------------------------


@dataclass(frozen=True)
class Student:
    """Random-feature student: sigma(w . x' / (lengthscale sqrt(D + 1))) with x' = (x, bias).

    Attributes
    ----------
    activation : str
        A ``scalinglab.ACTIVATIONS`` name with a closed-form kernel (default ``relu``).
    bias : float or None
        Value of the constant coordinate appended to every input (None: no bias coordinate).
        With w ~ N(0, I) this is a Gaussian bias of standard deviation ``bias``.
    lengthscale : float
        Pre-activation length scale (units of sqrt(D + 1)).
    """

    activation: str = "relu"
    bias: float | None = 1.0
    lengthscale: float = 1.0

    def inputs(self, X) -> np.ndarray:
        """The student's inputs x' (the bias coordinate appended)."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        return X if self.bias is None else with_bias_coordinate(X, self.bias)

    def features(self, D: int, N: int, rng):
        """``RandomFeatures`` of width N on inputs of dimension D (before the bias coordinate)."""
        from scalinglab.features import RandomFeatures

        return RandomFeatures(D + (self.bias is not None), N, self.activation, rng=rng,
                              lengthscale=self.lengthscale)

    def kernel(self, X, Y=None) -> np.ndarray:
        """The infinite-width kernel of the student between X and Y (float64)."""
        from scalinglab.kernels import infinite_width_kernel

        Xs = self.inputs(X)
        Ys = None if Y is None else self.inputs(Y)
        return infinite_width_kernel(self.activation, Xs, Ys, lengthscale=self.lengthscale)


@dataclass(frozen=True, eq=False)
class Population:
    """A finite data distribution: inputs, a clean teacher value for each, label noise.

    Attributes
    ----------
    X : ndarray, shape (n, D)
    y : ndarray, shape (n,)
        Clean teacher values (the test loss is measured against these).
    noise : float
        Variance of the Gaussian label noise added to training labels (stream ``NOISE``).
    name : str
    grid_shape : tuple or None
        Set for a torus grid (translation-invariant kernels are circulant there).
    """

    X: np.ndarray
    y: np.ndarray
    noise: float = 0.0
    name: str = "population"
    grid_shape: tuple | None = None

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    def sample(self, P: int, rng) -> np.ndarray:
        """Indices of P training samples drawn uniformly with replacement (prefix-nested in P)."""
        P = positive_int(P, "P")
        u = _core.random.uniform(seed_from_rng(rng), _core.random.streams.SAMPLING, 0, P)
        return np.minimum((u * self.n).astype(np.int64), self.n - 1)

    def labels(self, indices: np.ndarray, rng) -> np.ndarray:
        """Noisy training labels y[indices] + sqrt(noise) * eps_s, eps_s normal number s."""
        y = self.y[indices]
        if self.noise > 0:
            y = y + np.sqrt(self.noise) * _core.random.normal(seed_from_rng(rng), _core.random.streams.NOISE, 0,
                                                      indices.size)
        return y


def _grid_kernel_row(dataset: Dataset, student: Student) -> np.ndarray:
    """k(x_0, x_j) for every grid point j, shaped like the grid."""
    return student.kernel(dataset.X[:1], dataset.X)[0].reshape(dataset.grid_shape)


def gaussian_process_teacher(dataset: Dataset, student: Student = Student(), *, rng=0,
                             jitter: float = 1e-10) -> np.ndarray:
    """A sample y ~ GP(0, k) of the student's infinite-width kernel k on the data set's points.

    On a torus grid (``dataset.grid_shape``) the kernel is circulant and the sample is exact:
    y = ifft(sqrt(fft(k_row)) fft(z)) (digest T2). Otherwise y = L z with L the Cholesky factor
    of K + jitter * mean(diag K) I (O(n^3): fine to n ~ 10^4). z are normal numbers of
    (key, ``TEACHER``).

    Returns
    -------
    ndarray, shape (n,)
        E y^2 = the mean of k(x, x) (the teacher is isotropic in the kernel eigenbasis: a = b).
    """
    jitter = real_number(jitter, "jitter", minimum=0.0)
    n = dataset.n
    z = _core.random.normal(seed_from_rng(rng), _core.random.streams.TEACHER, 0, n)
    if dataset.grid_shape is not None:
        eigen = np.maximum(np.fft.fftn(_grid_kernel_row(dataset, student)).real, 0.0)
        field_ = np.fft.ifftn(np.sqrt(eigen) * np.fft.fftn(z.reshape(dataset.grid_shape))).real
        return np.ascontiguousarray(field_.ravel())
    check_memory(16.0 * n * n, "the teacher's kernel matrix and its factor", "dataset")
    from scipy.linalg import cholesky

    K = student.kernel(dataset.X)
    K[np.diag_indices(n)] += jitter * float(np.mean(np.diag(K)))
    return cholesky(K, lower=True, overwrite_a=True, check_finite=False) @ z


def random_network_teacher(X, *, n_features: int = 65536, activation: str = "relu",
                           bias: float | None = 1.0, rng=0) -> np.ndarray:
    """A wide random network y(x) = Phi(x') omega / sqrt(S), omega ~ N(0, I_S), streamed.

    S = ``n_features`` random features of x' = (x, bias) are generated block by block (never an
    n x S matrix); omega_j is normal number j of (key, ``TEACHER``). As S -> inf this is a GP
    sample with the infinite-width kernel of ``activation``; unlike a GP sample it is a function,
    evaluable at any new x with the same ``rng``.

    Returns
    -------
    ndarray, shape (n,)
    """
    student = Student(activation, bias)
    Xs = student.inputs(X)
    S = positive_int(n_features, "n_features")
    key = seed_from_rng(rng)
    features = student.features(Xs.shape[1] - (bias is not None), S, _core.random.derive_seed(key, 1))
    omega = _core.random.normal(key, _core.random.streams.TEACHER, 0, S)
    y = np.zeros(Xs.shape[0])
    block = int(_core.features.default_block_size(Xs.shape[0], Xs.shape[1], 8))
    for start in range(0, S, block):
        stop = min(S, start + block)
        y += features.transform(Xs, start, stop) @ omega[start:stop]
    return y / np.sqrt(S)


def make_population(dataset: Dataset, *, teacher: str = "gp", student: Student = Student(),
                    noise: float = 0.0, rng=0, teacher_features: int = 65536) -> Population:
    """A :class:`Population` of ``dataset``'s inputs with a teacher drawn from key ``rng``.

    teacher : {"gp", "network"}
        :func:`gaussian_process_teacher` of the student's kernel, or
        :func:`random_network_teacher` with ``teacher_features`` features.
    """
    noise = real_number(noise, "noise", minimum=0.0)
    if teacher == "gp":
        y = gaussian_process_teacher(dataset, student, rng=rng)
    elif teacher == "network":
        y = random_network_teacher(dataset.X, n_features=teacher_features,
                                   activation=student.activation, bias=student.bias, rng=rng)
    else:
        raise ValueError(f"`teacher`: expected 'gp' or 'network', got {teacher!r}")
    return Population(dataset.X, y, noise, dataset.name, dataset.grid_shape)


# ---- experiments ------------------------------------------------------------------------------


def _sizes(values, name: str) -> list[int]:
    values = [positive_int(v, name) for v in np.atleast_1d(values).tolist()]
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"`{name}`: must be strictly increasing, got {values}")
    return values


def _ridge_list(ridges) -> list[float]:
    values = np.atleast_1d(np.asarray(ridges, dtype=float)).tolist()
    if not values or any((not np.isfinite(r)) or r < 0 for r in values):
        raise ValueError(f"`ridges`: expected finite values >= 0, got {values}")
    return values


def _dual_rows(gram, y_train, gram_test, y_test, ridges, **columns) -> pd.DataFrame:
    from scalinglab.solvers import ridge_path

    table = ridge_path(gram, y_train, ridges, gram_test=gram_test, y_test=y_test)
    for name, value in columns.items():
        table[name] = value
    return table


def _finish(table: pd.DataFrame, regime: str, seed) -> pd.DataFrame:
    table["seed"] = int(seed) if isinstance(seed, (int, np.integer)) else 0
    table["regime"] = regime
    front = ["N", "P", "seed", "test_loss", "train_loss", "ridge"]
    rest = [c for c in table.columns if c not in front]
    table = table[front + rest].reset_index(drop=True)
    table["N"] = table["N"].astype(float)
    table["P"] = table["P"].astype(float)
    return table


def variance_limited_width(population: Population, P: int, N, *, student: Student = Student(),
                           ridges=(0.0,), seed=0, n_threads: int = 0) -> pd.DataFrame:
    """L(N) at fixed P for widths N >> P, and its kernel limit L_inf(P) on the same sample.

    Every N comes from one streamed pass (``train_test_gram(checkpoints=N)``); each is solved along
    the ridge path. Column ``test_loss_limit`` is infinite-width kernel ridge on the same sample
    and labels, so ``test_loss - test_loss_limit`` is the variance term ~ 1/N.

    Returns
    -------
    pandas.DataFrame
        One row per (N, ridge): ``N, P, seed, test_loss, train_loss, ridge, test_loss_limit,
        regime``.
    """
    P = positive_int(P, "P")
    widths = _sizes(N, "N")
    ridges = _ridge_list(ridges)
    indices = population.sample(P, _key(seed, _SAMPLES))
    y_train = population.labels(indices, _key(seed, _NOISE))
    X_train = population.X[indices]
    features = student.features(population.X.shape[1], widths[-1], _key(seed, _FEATURES))
    grams = features.train_test_gram(student.inputs(X_train), student.inputs(population.X),
                                     checkpoints=widths, n_threads=n_threads)
    limit = _dual_rows(student.kernel(X_train), y_train, student.kernel(population.X, X_train),
                       population.y, ridges)
    frames = []
    for width, (gram, gram_test) in grams.items():
        rows = _dual_rows(gram, y_train, gram_test, population.y, ridges, N=width, P=P)
        rows["test_loss_limit"] = limit["test_loss"].to_numpy()
        frames.append(rows)
    return _finish(pd.concat(frames), "variance_width", seed)


def resolution_limited_data(population: Population, P, *, student: Student = Student(),
                            ridges=(0.0,), seed=0) -> pd.DataFrame:
    """L(P) of infinite-width kernel ridge (N = inf) on prefixes of one sample.

    Returns
    -------
    pandas.DataFrame
        One row per (P, ridge), N = inf.
    """
    sizes = _sizes(P, "P")
    ridges = _ridge_list(ridges)
    indices = population.sample(sizes[-1], _key(seed, _SAMPLES))
    y_train = population.labels(indices, _key(seed, _NOISE))
    X_train = population.X[indices]
    check_memory(8.0 * sizes[-1] * (population.n + sizes[-1]), "the kernel blocks", "P")
    K = student.kernel(X_train)
    K_test = student.kernel(population.X, X_train)
    frames = [_dual_rows(K[:p, :p], y_train[:p], np.ascontiguousarray(K_test[:, :p]),
                         population.y, ridges, N=np.inf, P=p) for p in sizes]
    return _finish(pd.concat(frames), "resolution_data", seed)


def _normal_equations(features, student, X, y, n_features, chunks):
    """sum_rows (phi phi^T, phi y, y^2) over rows of X, with snapshots after each chunk end."""
    G = np.zeros((n_features, n_features))
    c = np.zeros(n_features)
    yy = 0.0
    snapshots = []
    start = 0
    for stop in chunks:
        for lo in range(start, stop, _ROW_CHUNK):
            hi = min(stop, lo + _ROW_CHUNK)
            phi = features.transform(student.inputs(X[lo:hi]))
            G += phi.T @ phi
            c += phi.T @ y[lo:hi]
            yy += float(y[lo:hi] @ y[lo:hi])
        snapshots.append((G.copy(), c.copy(), yy, stop))
        start = stop
    return snapshots


def _primal_losses(G, c, yy, rows, ridges, width, test=None):
    """Train (and test) losses of ridge on the first ``width`` features, along the ridge path.

    With F = Phi / sqrt(N) and rows P: A = F^T F / P, b = F^T y / P; w(r) = (A + r I)^+ b; the
    training loss is yy/P - 2 w.b + w^T A w. ``test`` = (G, c, yy, rows) of the population.
    """
    scale = 1.0 / width
    A = G[:width, :width] * scale / rows
    b = c[:width] * np.sqrt(scale) / rows
    values, vectors = np.linalg.eigh(A)
    beta = vectors.T @ b
    keep_floor = rows * np.finfo(float).eps * max(float(values.max()), 1e-300)
    out = []
    for r in ridges:
        denominator = values + r
        inverse = np.where(denominator > keep_floor, 1.0 / np.where(denominator > 0, denominator,
                                                                     1.0), 0.0)
        coef = beta * inverse
        train = yy / rows - 2 * coef @ beta + coef @ (values * coef)
        entry = {"ridge": r, "train_loss": max(train, 0.0)}
        if test is not None:
            Gt, ct, yyt, nt = test
            w = vectors @ coef
            At = Gt[:width, :width] * scale / nt
            bt = ct[:width] * np.sqrt(scale) / nt
            entry["test_loss"] = max(yyt / nt - 2 * w @ bt + w @ (At @ w), 0.0)
        out.append(entry)
    return out


def _primal_grid(population, widths, sizes, student, ridges, seed):
    """Rows for every (N in widths, P in sizes + [inf]) from one feature pass per data set."""
    n_max = widths[-1]
    check_memory(8.0 * 3 * n_max * n_max * (len(sizes) + 2), "the normal equations", "N")
    features = student.features(population.X.shape[1], n_max, _key(seed, _FEATURES))
    (pool,) = _normal_equations(features, student, population.X, population.y, n_max,
                                [population.n])
    rows = []
    for width in widths:
        for entry in _primal_losses(*pool[:3], pool[3], ridges, width, test=pool):
            # The population fit: train = test = the population loss (clean labels; noise
            # averages out at P = inf, adding only the constant noise to the training loss).
            entry["train_loss"] = entry["test_loss"] + population.noise
            rows.append({"N": width, "P": np.inf, **entry})
    if sizes:
        indices = population.sample(sizes[-1], _key(seed, _SAMPLES))
        y_train = population.labels(indices, _key(seed, _NOISE))
        for G, c, yy, p in _normal_equations(features, student, population.X[indices], y_train,
                                             n_max, sizes):
            for width in widths:
                for entry in _primal_losses(G, c, yy, p, ridges, width, test=pool):
                    rows.append({"N": width, "P": p, **entry})
    return pd.DataFrame(rows)


def resolution_limited_width(population: Population, N, *, P=None,
                             student: Student = Student(), ridges=(0.0,), seed=0) -> pd.DataFrame:
    """L(N) for N << P: by default P = inf (least squares on the whole population).

    Every N is the leading block of the normal equations of the widest model (nested in N).

    Parameters
    ----------
    P : int, optional
        A finite sample size instead of the population (P >> max N for this regime).

    Returns
    -------
    pandas.DataFrame
        One row per (N, ridge).
    """
    widths = _sizes(N, "N")
    ridges = _ridge_list(ridges)
    sizes = [] if P is None else _sizes([P], "P")
    table = _primal_grid(population, widths, sizes, student, ridges, seed)
    table = table[table["P"] == (np.inf if P is None else float(sizes[0]))]
    return _finish(table, "resolution_width", seed)


def variance_limited_data(population: Population, N: int, P, *, student: Student = Student(),
                          ridges=(0.0,), seed=0) -> pd.DataFrame:
    """L(P) at fixed N for P >> N, and its limit L_inf(N) (the same features on the population).

    Every P comes from one pass over one sample (cumulative normal equations at each P).
    ``test_loss_limit`` is the population least-squares loss of the same N features, so
    ``test_loss - test_loss_limit`` is the variance term ~ 1/P.
    """
    width = positive_int(N, "N")
    sizes = _sizes(P, "P")
    ridges = _ridge_list(ridges)
    table = _primal_grid(population, [width], sizes, student, ridges, seed)
    limit = table[np.isinf(table["P"])].set_index("ridge")["test_loss"]
    table = table[np.isfinite(table["P"])].copy()
    table["test_loss_limit"] = limit.loc[table["ridge"]].to_numpy()
    return _finish(table, "variance_data", seed)


@dataclass(frozen=True)
class RegimeSizes:
    """Sizes of a four-regime sweep (defaults: the digest's T2 ratios, scaled down).

    Attributes
    ----------
    variance_width_P : int
        Fixed P of the width-variance curve; its N run over ``variance_width_N`` (>> P).
    variance_data_N : int
        Fixed N of the data-variance curve; its P run over ``variance_data_P`` (>> N).
    resolution_width_N : sequence of int
        N of the resolution-limited width curve (at P = inf).
    resolution_data_P : sequence of int
        P of the resolution-limited data curve (at N = inf).
    """

    variance_width_P: int = 32
    variance_width_N: tuple = (128, 256, 512, 1024, 2048)
    variance_data_N: int = 16
    variance_data_P: tuple = (128, 256, 512, 1024, 2048)
    resolution_width_N: tuple = (16, 32, 64, 128, 256)
    resolution_data_P: tuple = (16, 32, 64, 128, 256)


def four_regimes(population: Population, sizes: RegimeSizes = RegimeSizes(), *,
                 student: Student = Student(), ridges=(0.0,), seed=0,
                 regimes=tuple(REGIMES), n_threads: int = 0) -> pd.DataFrame:
    """The four regime curves of one population and seed, concatenated (column ``regime``)."""
    if not isinstance(population, Population):
        raise TypeError(f"`population`: expected a scalinglab.regimes.Population (see "
                        f"make_population), got {type(population).__name__}")
    if not isinstance(sizes, RegimeSizes):
        raise TypeError(f"`sizes`: expected a RegimeSizes, got {type(sizes).__name__}")
    if not isinstance(student, Student):
        raise TypeError(f"`student`: expected a Student, got {type(student).__name__}")
    frames = []
    for regime in regimes:
        if regime == "variance_width":
            frames.append(variance_limited_width(population, sizes.variance_width_P,
                                                 sizes.variance_width_N, student=student,
                                                 ridges=ridges, seed=seed, n_threads=n_threads))
        elif regime == "variance_data":
            frames.append(variance_limited_data(population, sizes.variance_data_N,
                                                sizes.variance_data_P, student=student,
                                                ridges=ridges, seed=seed))
        elif regime == "resolution_width":
            frames.append(resolution_limited_width(population, sizes.resolution_width_N,
                                                   student=student, ridges=ridges, seed=seed))
        elif regime == "resolution_data":
            frames.append(resolution_limited_data(population, sizes.resolution_data_P,
                                                  student=student, ridges=ridges, seed=seed))
        else:
            raise ValueError(f"`regimes`: unknown regime {regime!r}; expected {list(REGIMES)}")
    return pd.concat(frames, ignore_index=True)


# ---- spectra and predicted exponents ------------------------------------------------------------


def population_spectrum(population: Population, student: Student = Student(), *,
                        k: int | None = None, n_features: int = 16384, rng=0) -> np.ndarray:
    """Descending eigenvalues of the student's infinite-width kernel on the population, / n.

    A torus grid gives the exact spectrum (FFT of one kernel row: the kernel is circulant); up to
    n = 6000 points the dense kernel's ``kernel_spectrum``; beyond, the top ``k`` (default 512)
    eigenvalues of a wide random-feature Gram by :func:`scalinglab.spectra.top_eigenvalues`
    (``n_features`` features; an estimate of the kernel's spectrum with O(1/sqrt(N)) error).
    """
    from scalinglab.spectra import kernel_spectrum, top_eigenvalues

    if population.grid_shape is not None:
        dataset = Dataset(population.X, None, population.name, grid_shape=population.grid_shape)
        values = np.fft.fftn(_grid_kernel_row(dataset, student)).real.ravel() / population.n
        return np.sort(values)[::-1]
    if population.n <= 6000 and k is None:
        return kernel_spectrum(student.kernel(population.X))
    features = student.features(population.X.shape[1], positive_int(n_features, "n_features"),
                                rng)
    result = top_eigenvalues(features, student.inputs(population.X), k or 512,
                             max_iterations=30, tol=1e-4, rng=rng)
    return result.eigenvalues


@dataclass(frozen=True)
class ExponentPrediction:
    """Resolution-limited exponents predicted from a kernel spectrum.

    Attributes
    ----------
    b, b_stderr : float
        Spectrum exponent lambda_k ~ k^-b and its error (fit window ``k_min..k_max``).
    a : float
        Target exponent (lambda_k w_k^2 ~ k^-a); a = b for a GP teacher of the same kernel.
    alpha_K : float
        b - 1, the kernel exponent of BDKLS (lambda_k ~ k^-(1 + alpha_K)).
    alpha_N, alpha_P : float
        min(a - 1, b) and min(a - 1, 2 b) (``theory.bottleneck_exponents``).
    duality : bool
        alpha_N == alpha_P (true iff a - 1 <= b).
    de_alpha_N, de_alpha_P : float
        Slopes of the deterministic-equivalent curves L(N, P = inf) and L(N = inf, P) built on
        the measured spectrum, over ``sizes`` (NaN when not requested).
    k_min, k_max : int
    four_over_d : float or None
        The 4/d heuristic for a manifold of intrinsic dimension d.
    """

    b: float
    b_stderr: float
    a: float
    alpha_K: float
    alpha_N: float
    alpha_P: float
    duality: bool
    de_alpha_N: float
    de_alpha_P: float
    k_min: int
    k_max: int
    four_over_d: float | None = None


def predict_exponents(eigenvalues, *, k_min: int, k_max: int, a: float | None = None,
                      sizes=None, intrinsic_dimension: int | None = None) -> ExponentPrediction:
    """Predicted resolution-limited exponents from a spectrum (see :class:`ExponentPrediction`).

    Parameters
    ----------
    eigenvalues : array_like
        Descending kernel eigenvalues (e.g. :func:`population_spectrum`).
    k_min, k_max : int
        Fit window of ranks; use the range of N or P swept (BDKLS compare over the same ranks).
    a : float, optional
        Target exponent; default b (a GP teacher of the same kernel).
    sizes : sequence of int, optional
        Sizes m at which to evaluate the deterministic-equivalent curves (``theory.static_loss``
        with the measured spectrum as the task, an isotropic target in its eigenbasis) and
        report their log-log slopes.
    intrinsic_dimension : int, optional
        d, to report 4/d alongside.
    """
    from scalinglab.spectra import spectrum_exponent
    from scalinglab.theory import bottleneck_exponents

    values = np.sort(np.asarray(eigenvalues, dtype=float))[::-1]
    fit = spectrum_exponent(values, k_min=k_min, k_max=k_max)
    b = fit.exponent
    a_value = b if a is None else real_number(a, "a")
    exponents = bottleneck_exponents(a_value, max(b, 1.0))
    de_n = de_p = float("nan")
    if sizes is not None:
        from scalinglab.tasks import LinearGaussianTask
        from scalinglab.theory import static_loss

        positive = values[values > values[0] * 1e-14]
        if a is None:
            target = np.ones_like(positive)
        else:
            k = np.arange(1, positive.size + 1)
            target = np.sqrt(k ** (-a_value) / positive)
        task = LinearGaussianTask(positive, target)
        m = np.asarray(_sizes(sizes, "sizes"), dtype=float)
        import warnings

        from scalinglab.theory import FiniteSizeWarning

        # The plain deterministic equivalent (kappa_0(m) m, the digest's comparison curve): only
        # its log-log slope is used, which the dropped O(1/m) term barely moves, so its
        # small-m warning is not the caller's concern here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FiniteSizeWarning)
            width = static_loss(task, m, np.inf, truncation="ignore")
            data = static_loss(task, np.inf, m, truncation="ignore")
        de_n = -float(np.polyfit(np.log(m), np.log(width["test_loss"].to_numpy()), 1)[0])
        de_p = -float(np.polyfit(np.log(m), np.log(data["test_loss"].to_numpy()), 1)[0])
    return ExponentPrediction(
        b=b, b_stderr=fit.stderr, a=a_value, alpha_K=b - 1, alpha_N=exponents.model,
        alpha_P=exponents.data, duality=bool(np.isclose(exponents.model, exponents.data)),
        de_alpha_N=de_n, de_alpha_P=de_p, k_min=fit.k_min, k_max=fit.k_max,
        four_over_d=None if intrinsic_dimension is None else 4.0 / intrinsic_dimension)


# ---- classifier -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RegimeClassification:
    """The regime of a measured curve L(x) at a fixed value of the other resource.

    Attributes
    ----------
    regime : str
        ``"variance-limited"`` (x >> other), ``"resolution-limited"`` (x << other) or
        ``"crossover"`` (every point within a factor ``crossover_factor`` of x = other).
    resource : str
        ``"N"`` or ``"P"``, the resource x that scales.
    other : float
        The fixed value of the other resource (inf allowed).
    exponent : float
        Fitted alpha of L - L_inf = c x^-alpha (L_inf given) or L = E + c x^-alpha (offset fitted).
    interval : tuple of float
        Bootstrap percentile interval of the exponent at ``confidence``.
    expected : float or None
        1 for variance-limited; the predicted alpha for resolution-limited, when given.
    consistent : bool or None
        Whether ``expected`` lies in the interval widened by ``tolerance``.
    evidence : str
        What was fitted, over which x and ratios x/other, and how it compares.
    n_points : int
        Points (seed means) used in the fit.
    fit : PowerLawFit or None
    crossover_points : int
        Points excluded for lying within the crossover band.
    """

    regime: str
    resource: str
    other: float
    exponent: float
    interval: tuple
    expected: float | None
    consistent: bool | None
    evidence: str
    n_points: int
    fit: object = field(default=None, repr=False)
    crossover_points: int = 0


def _curve_means(table, resource):
    columns = ["test_loss"] + (["test_loss_limit"] if "test_loss_limit" in table else [])
    grouped = table.groupby(resource)[columns]
    means = grouped.mean()
    sem = grouped.sem().fillna(0.0)
    return means, sem


def _classify_curve(table, resource, other_name, *, expected_resolution, crossover_factor,
                    tolerance, n_bootstrap, rng, confidence) -> RegimeClassification:
    from scalinglab.fit import fit_power_law

    other_values = table[other_name].unique()
    if other_values.size != 1:
        raise ValueError(f"`table`: a curve in {resource} needs one value of {other_name}, "
                         f"got {sorted(other_values)}")
    other = float(other_values[0])
    means, _ = _curve_means(table, resource)
    x = means.index.to_numpy(dtype=float)
    if np.isinf(x).any():
        raise ValueError(f"`table`: {resource} = inf cannot be a point of a curve in {resource}")
    ratio = x / other
    with np.errstate(divide="ignore"):  # other = inf: ratio 0, log -inf, never in the band
        band = np.abs(np.log(ratio)) < np.log(crossover_factor)
    far = ~band
    if not far.any():
        return RegimeClassification("crossover", resource, other, float("nan"),
                                    (float("nan"), float("nan")), None, None,
                                    f"every {resource}/{other_name} in [{ratio.min():.3g}, "
                                    f"{ratio.max():.3g}] is within a factor {crossover_factor} of 1",
                                    0, None, int(band.sum()))
    above, below = far & (ratio > 1), far & (ratio < 1)
    variance = above.sum() >= below.sum()
    use = above if variance else below
    regime = "variance-limited" if variance else "resolution-limited"
    xs = x[use]
    loss = means["test_loss"].to_numpy()[use]
    limit = means["test_loss_limit"].to_numpy()[use] if "test_loss_limit" in means else None
    if variance and limit is not None:
        excess = loss - limit
        keep = excess > 0
        what = f"log(L - L_inf) vs log {resource} (L_inf paired on the same seeds)"
        if keep.sum() >= 3:
            fit = fit_power_law(xs[keep], excess[keep], offset=False, n_bootstrap=n_bootstrap,
                                rng=rng, confidence=confidence)
        else:
            fit = None
    else:
        keep = np.ones_like(xs, dtype=bool)
        what = f"L = E + c {resource}^-alpha (offset fitted)"
        fit = (fit_power_law(xs, loss, offset=True, n_bootstrap=n_bootstrap, rng=rng,
                             confidence=confidence) if xs.size >= 4 else None)
    expected = 1.0 if variance else expected_resolution
    if fit is None:
        return RegimeClassification(regime, resource, other, float("nan"),
                                    (float("nan"), float("nan")), expected, None,
                                    f"too few points ({int(keep.sum())}) on the {regime} side to "
                                    f"fit {what}", int(keep.sum()), None, int(band.sum()))
    if fit.intervals is not None:
        row = fit.intervals.set_index("parameter").loc["exponent"]
        interval = (float(row["lower"]), float(row["upper"]))
    else:
        half = 1.96 * fit.exponent_stderr
        interval = (fit.exponent - half, fit.exponent + half)
    consistent = None
    if expected is not None:
        consistent = bool(interval[0] - tolerance <= expected <= interval[1] + tolerance)
    where = (f"{other_name} = inf" if np.isinf(other) else
             f"{resource}/{other_name} in [{ratio[use].min():.3g}, {ratio[use].max():.3g}] "
             f"({'>' if variance else '<'} {crossover_factor}{'' if variance else '^-1'})")
    evidence = (f"{regime}: {where}; fitted {what} over {resource} = "
                f"{xs[keep].min():g}..{xs[keep].max():g}: alpha = {fit.exponent:.3f} "
                f"[{interval[0]:.3f}, {interval[1]:.3f}]")
    if expected is not None:
        evidence += (f"; expected {expected:.3f}: "
                     f"{'consistent' if consistent else 'NOT consistent'} (tolerance {tolerance})")
    return RegimeClassification(regime, resource, other, fit.exponent, interval, expected,
                                consistent, evidence, int(keep.sum()), fit, int(band.sum()))


def classify_regime(table: pd.DataFrame, *, ridge: float | None = None,
                    predicted: ExponentPrediction | dict | None = None,
                    crossover_factor: float = 4.0, tolerance: float = 0.1,
                    n_bootstrap: int = 200, confidence: float = 0.95, rng=0):
    """Classify a measured curve in N or P, or the four corners of an (N, P) sweep.

    Rule (BDKLS; digest 2(c)): along x in {N, P} at fixed y (the other resource), points with
    x > 4 y are variance-limited, x < y / 4 resolution-limited, and those within a factor
    ``crossover_factor`` of x = y (the interpolation peak) are a crossover, excluded from fits.
    The side with more points names the regime; its curve is fitted to confirm it:

    * variance-limited: with a paired limit column ``test_loss_limit``, a power law of
      L - L_inf (no offset; a free L_inf is poorly determined); without, L = E + c x^-alpha;
      expected exponent 1;
    * resolution-limited: L = E + c x^-alpha (``fit_power_law(offset=True)``); expected
      exponent from ``predicted`` (alpha_N for x = N, alpha_P for x = P), when given.

    Parameters
    ----------
    table : pandas.DataFrame
        Schema columns ``N``, ``P``, ``test_loss`` (+ ``seed``, ``ridge``, ``test_loss_limit``).
        Seeds are averaged per point before fitting.
    ridge : float, optional
        The ridge to classify when the table holds several (default: the smallest).
    predicted : ExponentPrediction or dict, optional
        Predicted resolution-limited exponents (``alpha_N``, ``alpha_P``).
    crossover_factor : float
        Width of the crossover band (4: BDKLS's "within a factor 4 of N = P").
    tolerance : float
        Added to both ends of the exponent interval when testing consistency.
    n_bootstrap, confidence, rng
        Bootstrap intervals of the exponent (:func:`scalinglab.fit.fit_power_law`).

    Returns
    -------
    RegimeClassification
        When one of N, P is constant in the table (a single curve).
    pandas.DataFrame
        The four-corner table when both vary: one row per slice at fixed N or P (columns
        ``corner``, ``resource``, ``fixed``, ``regime``, ``exponent``, ``lower``, ``upper``,
        ``expected``, ``consistent``, ``n_points``, ``crossover_points``, ``evidence``), ordered
        variance-width, resolution-width, resolution-data, variance-data: the N curve at the
        smallest finite P, the N curve at the largest P, the P curve at the largest N and the P
        curve at the smallest N.
    """
    from scalinglab.results import check_schema

    check_schema(table, required=("N", "P", "test_loss"))
    crossover_factor = real_number(crossover_factor, "crossover_factor", minimum=1.0, strict=True)
    tolerance = real_number(tolerance, "tolerance", minimum=0.0)
    if "ridge" in table and table["ridge"].nunique() > 1:
        chosen = table["ridge"].min() if ridge is None else real_number(ridge, "ridge")
        table = table[np.isclose(table["ridge"], chosen)]
        if table.empty:
            raise ValueError(f"`ridge`: no rows with ridge = {ridge}")
    if isinstance(predicted, ExponentPrediction):
        predicted = {"alpha_N": predicted.alpha_N, "alpha_P": predicted.alpha_P}
    predicted = dict(predicted or {})
    options = dict(crossover_factor=crossover_factor, tolerance=tolerance,
                   n_bootstrap=n_bootstrap, rng=rng, confidence=confidence)
    varying = [name for name in ("N", "P") if table[name].nunique() > 1]
    if len(varying) == 1:
        resource = varying[0]
        other = "P" if resource == "N" else "N"
        return _classify_curve(table, resource, other,
                               expected_resolution=predicted.get(f"alpha_{resource}"), **options)
    if not varying:
        raise ValueError("`table`: N and P are both constant; nothing scales")
    # Slices: curves in N at each fixed P (with >= 3 distinct finite N), and in P at each fixed N.
    rows = []
    for resource, other in (("N", "P"), ("P", "N")):
        for fixed, group in table.groupby(other):
            if group[resource].replace(np.inf, np.nan).nunique() < 3:
                continue
            finite = group[np.isfinite(group[resource])]
            result = _classify_curve(finite, resource, other,
                                     expected_resolution=predicted.get(f"alpha_{resource}"),
                                     **options)
            rows.append({"resource": resource, "fixed": float(fixed), "regime": result.regime,
                         "exponent": result.exponent, "lower": result.interval[0],
                         "upper": result.interval[1], "expected": result.expected,
                         "consistent": result.consistent, "n_points": result.n_points,
                         "crossover_points": result.crossover_points,
                         "evidence": result.evidence})
    slices = pd.DataFrame(rows)
    if slices.empty:
        raise ValueError("`table`: no curve with at least 3 sizes at a fixed N or P")
    corners = []
    for corner, resource, pick in (("variance_width", "N", "min"),
                                   ("resolution_width", "N", "max"),
                                   ("resolution_data", "P", "max"),
                                   ("variance_data", "P", "min")):
        candidates = slices[slices["resource"] == resource]
        if candidates.empty:
            continue
        fixed = candidates["fixed"].min() if pick == "min" else candidates["fixed"].max()
        corners.append({"corner": corner, **candidates[candidates["fixed"] == fixed].iloc[0]})
    return pd.DataFrame(corners)
