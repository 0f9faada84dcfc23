"""Learning curves of random-feature models: exact gradient flow and gradient descent, minibatch
SGD, ensembles, label noise, nested (N, P) grids, the exact Wishart shortcut, and kernel gradient
flow for nonlinear random features on arbitrary data.

Conventions (Bordelon, Atanasov & Pehlevan 2024, arXiv 2402.01092, "BAP"; shared with
:mod:`scalinglab.tasks` and :mod:`scalinglab.theory`):

* features psi in R^M, Gaussian with covariance diag(lambda_k); for
  :class:`~scalinglab.tasks.PowerLawTask`, lambda_k = k^-b and lambda_k (w*_k)^2 = k^-a;
* target y = w* . psi + eps with eps ~ N(0, sigma^2) (``task.noise`` is sigma^2);
* student f(x) = w . (A psi) / sqrt(N), A (N, M) with i.i.d. N(0, 1) entries, w(0) = 0;
* training loss Lhat = (1/2P) sum_mu (f(x_mu) - y_mu)^2. Gradient flow ("gf") has learning rate 1
  and continuous time t; gradient descent ("gd") takes t steps w <- w - eta grad Lhat; SGD
  ("sgd") takes t steps of the batch-mean gradient, w <- w + (eta/B) sum_{mu in batch}
  (y_mu - f_mu) A psi_mu / sqrt(N) (BAP's step; Paquette et al.'s batch-sum step gamma = eta/B);
* reported losses are mean squared errors: ``test_loss`` = E_x (f - w* . psi)^2 = v^T Lambda v
  with v = w* - A^T w / sqrt(N), exact (no test sample: the clean target, add sigma^2 for noisy
  test labels); ``train_loss`` = (1/P) sum_mu (y_mu - f(x_mu))^2 on the noisy training labels.
  For P = infinity the train loss is the population loss, test_loss + sigma^2.

Map to other notations: Paquette, Paquette, Xiao & Pennington 2024 (arXiv 2405.15074):
alpha = b/2, beta = (a - b)/2, their d is our N, their W = A^T / sqrt(N), their risk is our
test loss, and their SGD step gamma is our eta/B. Lin, Wu, Kakade, Bartlett & Lee 2024 (arXiv
2406.08466): their spectrum exponent is our b, their model size M our N, their sample count our P
(one-pass SGD with B = 1), their sketch S = A / sqrt(N).

How it is computed: with F = Psi A^T / sqrt(N) (P, N) and F^T F / P = V diag(mu) V^T (or
F F^T / P, whichever is smaller), w(t) = V diag((1 - e^{-mu t}) / mu) V^T F^T y / P, and GD
replaces e^{-mu t} by (1 - eta mu)^t. One eigendecomposition gives the whole curve, evaluated at
every t with GEMMs in the compiled core. When N and P both exceed M, the same draws are solved in
M dimensions instead (from the Cholesky factor of A^T A and from Psi^T Psi: beta(t) only depends
on A through A^T A). The exact Gaussian shortcut (``wishart=True``) samples A^T A / N and
Psi^T Psi / P directly as Wishart matrices (Bartlett), so the cost is O(M^3) whatever N and P
are.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from scalinglab._native import _core
from scalinglab._progress import progress_reporter
from scalinglab._rng import seed_from_rng
from scalinglab._validation import (
    as_matrix,
    as_vector,
    check_memory,
    grid,
    n_threads_arg,
    positive_int,
    seed_labels,
    times as as_times,
)
from scalinglab.optimizers import SGD, optimizer_argument
from scalinglab.tasks import as_linear_task

__all__ = ["learning_curve", "kernel_learning_curve"]

# Show a progress bar automatically from this many (seed, grid point) curves on.
_AUTO_PROGRESS_CURVES = 40


# ---------------------------------------------------------------------------------------------
# Argument handling (the grammar itself is scalinglab._validation's)
# ---------------------------------------------------------------------------------------------


def _core_grid(values: list[float]) -> list[int]:
    return [_core.dynamics.INFINITE if np.isinf(v) else int(v) for v in values]


# ---------------------------------------------------------------------------------------------
# learning_curve
# ---------------------------------------------------------------------------------------------


def learning_curve(
    task,
    N,
    P,
    t,
    *,
    optimizer=None,
    method: str | None = None,
    learning_rate: float | None = None,
    batch_size: int | None = None,
    ensemble: int = 1,
    seeds=1,
    rng=None,
    independent: bool = False,
    wishart: bool = False,
    n_threads: int = 0,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Train and test learning curves of the linear random-feature model on a linear Gaussian task.

    Parameters
    ----------
    task : PowerLawTask or LinearGaussianTask
        The data and target model (``task.noise`` is the label-noise variance sigma^2).
    N : int, numpy.inf, or sequence of them
        Width(s): number of random features. ``numpy.inf`` is the infinite-width model (the
        features psi themselves; GF/GD only). A sequence is a grid.
    P : int, numpy.inf, or sequence of them
        Training-set size(s). ``numpy.inf``: infinite data (GF/GD: the population gradient flow;
        SGD: one pass, fresh samples every step).
    t : array_like, shape (T,)
        Times: GF time (learning rate 1) for ``"gf"``; step counts (integers) for ``"gd"`` and
        ``"sgd"``.
    optimizer : GradientFlow, GradientDescent, SGD or {"gf", "gd", "sgd"}, optional
        The optimizer spec of :mod:`scalinglab.optimizers` (default gradient flow): exact
        gradient flow, exact gradient descent (both from one eigendecomposition evaluated at
        every t), or minibatch SGD (iterated; the test loss stays exact). GD is stable for
        eta < 2 / mu_max with mu_max the top eigenvalue of F^T F / P. SGD's step uses the mean
        gradient of B samples; with finite P (B <= P) the samples are visited in a fresh random
        order every epoch (multi-epoch SGD); with P = inf every step draws B fresh samples (one
        pass; ``SGD(..., one_pass=True)`` requires P = inf).
    method : {"gf", "gd", "sgd"}, optional
        Shorthand for ``optimizer`` (one of the two).
    learning_rate, batch_size : optional
        With a shorthand: eta (required for ``"gd"`` and ``"sgd"``; gradient flow has no
        learning rate) and B (``"sgd"`` only).
    ensemble : int
        E: the loss is that of the average of E predictors with independent projections A_e,
        all trained on the same data (BAP section on ensembles).
    seeds : int or sequence of int
        A count (labels 0..n-1) or explicit labels. Seed s uses randomness keyed by
        ``derive_seed(key(rng), s)``, so adding seeds never changes the earlier ones.
    rng : None, int or numpy.random.Generator
        Base randomness.
    independent : bool
        False (default): one draw per seed serves the whole grid (the first N' rows of A and the
        first P' samples: nested prefixes), so grid points share randomness and differences
        between them are less noisy. True: fresh randomness for every grid point.
    wishart : bool
        The exact Gaussian shortcut. GF/GD: sample A^T A / N and [Psi, eps]^T [Psi, eps] / P as
        Wishart matrices (Bartlett for N, P >= M; explicit Gaussian rows for N, P < M where the
        Wishart matrix is singular), so the cost is O(M^3) whatever N and P are; equal in
        distribution to the explicit simulation. SGD: draw (A psi / sqrt(N), y) from their joint
        Gaussian law (dimension E N + 1) instead of psi in R^M. Neither changes the law of the
        results, only which random numbers produce them.
    n_threads : int
        Threads for the core (0 = all cores). The random draws do not depend on it; the losses
        agree to ~1e-14 relative across thread counts and BLAS kernels (LAPACK's and BLAS's
        summation order does), and are bit-identical for the same n_threads on the same machine
        (ARCHITECTURE.md, "Reproducibility guarantees").
    progress : bool or None
        Show a tqdm progress bar (True), never (False), or automatically (None: for long sweeps,
        at least 40 curves, on a terminal or notebook).

    Returns
    -------
    pandas.DataFrame
        One row per (seed, N, P, t), sorted in that order, with columns ``seed``, ``N``, ``P``
        (float; inf for infinity), ``t``, ``train_loss``, ``test_loss``, ``method``,
        ``ensemble``, ``learning_rate`` (NaN for GF), ``batch_size`` (0 unless SGD) and, for SGD,
        ``epoch`` = t B / P (NaN for one pass).

    Examples
    --------
    >>> from scalinglab.tasks import PowerLawTask
    >>> curve = learning_curve(PowerLawTask(2, 1.5, 1500), N=100, P=400,
    ...                        t=np.logspace(0, 4, 50), seeds=30, rng=0)
    """
    lin = as_linear_task(task)
    spec = optimizer_argument(optimizer, method, learning_rate, batch_size)
    method = spec.name
    sgd = isinstance(spec, SGD)
    eta = spec.learning_rate
    batch = spec.batch_size if sgd else 0
    Ns = grid(N, "N", allow_infinite=not sgd)
    Ps = grid(P, "P", allow_infinite=True)
    if sgd and any(batch > p for p in Ps if np.isfinite(p)):
        raise ValueError(f"`batch_size`: must be <= every finite P, got {batch} > {min(Ps)}")
    if sgd and spec.one_pass and any(np.isfinite(p) for p in Ps):
        raise ValueError("`P`: SGD(..., one_pass=True) draws fresh samples every step; use P=numpy.inf")
    times = as_times(t, "t", integer=method != "gf")
    E = positive_int(ensemble, "ensemble")
    labels = seed_labels(seeds)
    threads = n_threads_arg(n_threads)
    base_key = seed_from_rng(rng)
    _check_simulation_memory(lin.M, Ns, Ps, E, wishart and not sgd, method)
    # The result table: about 12 float64 columns (and their temporaries) per row.
    check_memory(8.0 * 12 * len(labels) * len(Ns) * len(Ps) * times.size, "the result table",
                 "seeds")

    n_points = len(Ns) * len(Ps)
    tests, trains = [], []
    with progress_reporter(progress, len(labels), desc="learning_curve", unit="seed",
                           long=n_points * len(labels) >= _AUTO_PROGRESS_CURVES) as reporter:
        for label in labels:
            key = _core.random.derive_seed(base_key, label)
            callback = reporter.stage(1.0)
            if sgd:
                test, train = _core.dynamics.sgd_learning_curves(
                    lin.spectrum, lin.target, lin.noise, _core_grid(Ns), _core_grid(Ps),
                    times.astype(np.int64).tolist(), batch, eta, E, bool(wishart),
                    bool(independent), key, threads, callback,
                )
            else:
                test, train = _core.dynamics.linear_learning_curves(
                    lin.spectrum, lin.target, lin.noise, _core_grid(Ns), _core_grid(Ps),
                    times.tolist(), method, eta, E, bool(wishart), bool(independent), key,
                    threads, callback,
                )
            if callback is not None:
                callback(1.0)
            _check_finite_losses((test, train), method, eta)
            tests.append(test)
            trains.append(train)

    T = times.size
    n_seeds = len(labels)
    grid_N = np.repeat(np.asarray(Ns), len(Ps) * T)
    grid_P = np.tile(np.repeat(np.asarray(Ps), T), len(Ns))
    frame = pd.DataFrame(
        {
            "seed": np.repeat(np.asarray(labels, dtype=np.int64), n_points * T),
            "N": np.tile(grid_N, n_seeds),
            "P": np.tile(grid_P, n_seeds),
            "t": np.tile(times, n_points * n_seeds),
            "train_loss": np.concatenate([a.ravel() for a in trains]),
            "test_loss": np.concatenate([a.ravel() for a in tests]),
        }
    )
    frame["method"] = method
    frame["ensemble"] = E
    frame["learning_rate"] = np.nan if method == "gf" else eta
    frame["batch_size"] = batch
    if sgd:
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["epoch"] = np.where(np.isinf(frame["P"]), np.nan, frame["t"] * batch / frame["P"])
    return frame


def _check_finite_losses(losses, method: str, eta) -> None:
    """Refuse inf/NaN losses: a divergent step size (GD, SGD) or overflowing task values (GF).

    The theory refuses an unstable rate up front; a simulation only knows after the fact,
    because stability depends on the sampled matrices (eta < 2 / lambda_max of the empirical
    Hessian for GD).
    """
    if all(np.isfinite(np.asarray(a)).all() for a in losses):
        return
    if method in ("gd", "sgd"):
        raise ValueError(
            f"`learning_rate`: {method.upper()} diverged with learning_rate = {eta:g} (the losses "
            "overflowed to inf/NaN): the step size is above the stability limit "
            "2 / lambda_max of the empirical loss Hessian; use a smaller learning_rate"
        )
    raise ValueError(
        "`task`: the losses overflowed float64 (inf/NaN); the task's spectrum or target values are "
        "too large (sum_k lambda_k w*_k^2 must be well below 1e308)"
    )


def _check_simulation_memory(M, Ns, Ps, E, wishart, method):
    """Raise MemoryError up front when the largest matrices would not fit."""
    Nmax = max((n for n in Ns if np.isfinite(n)), default=0.0)
    Pmax = max((p for p in Ps if np.isfinite(p)), default=0.0)
    if wishart:
        doubles = (len(Ps) + 2 * E + 4) * (M + 1.0) ** 2
    elif method == "sgd":
        doubles = E * Nmax * (M + Pmax) + Pmax * M + (E * Nmax + 1.0) ** 2
    else:
        side = min(Nmax or M, Pmax or M)  # the eigendecomposition's dimension
        doubles = Pmax * M + E * Nmax * (M + Pmax) + 3 * side**2 + (E + 1) * M * side
    check_memory(8.0 * doubles, "the simulation's matrices", "N")


# ---------------------------------------------------------------------------------------------
# kernel_learning_curve
# ---------------------------------------------------------------------------------------------


def kernel_learning_curve(
    X_train,
    y_train,
    X_test,
    y_test,
    features,
    N=None,
    t=None,
    *,
    P=None,
    optimizer=None,
    method: str | None = None,
    learning_rate: float | None = None,
    seeds=1,
    rng=None,
    n_threads: int = 0,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Learning curves of a random-feature model on arbitrary data by kernel gradient flow/descent.

    The model is f(x) = w . phi(x) / sqrt(N) with any feature map phi (e.g. nonlinear random
    features), w(0) = 0, trained on Lhat = (1/2P) sum_mu (f(x_mu) - y_mu)^2. With the Gram
    K = Phi Phi^T / N of the training inputs, the training predictions follow
    d yhat/dt = -(K/P)(yhat - y), so yhat(t) = (I - e^{-K t / P}) y and the test predictions are
    K_test,train K^{-1} yhat(t) (evaluated stably in the eigenbasis of K/P). Same conventions as
    :func:`learning_curve`; GD replaces e^{-mu t} by (1 - eta mu)^t.

    Parameters
    ----------
    X_train : array, shape (P_max, d)
    y_train : array, shape (P_max,)
    X_test : array, shape (Q, d)
    y_test : array, shape (Q,)
        Held-out inputs and labels; ``test_loss`` is the mean squared error against ``y_test``.
    features : RandomFeatures, callable, tuple or mapping
        * a :class:`scalinglab.features.RandomFeatures` (its ``gram(X, checkpoints=...)`` gives
          the Grams of nested widths from one pass); only one seed;
        * a callable ``rng -> RandomFeatures`` (a fresh draw of features per seed);
        * a precomputed ``(K_train, K_test)`` with K_train (P_max, P_max) and K_test
          (Q, P_max) (one width; pass ``N`` to label it);
        * a mapping ``{N: (K_train, K_test)}`` of precomputed Grams per width.
    N : int or sequence of int, optional
        Widths (checkpoints of the feature stream). Defaults to ``features.n_features`` for a
        RandomFeatures object, the mapping's keys, or NaN (unlabelled) for one Gram.
    t : array_like, shape (T,)
        GF times (learning rate 1) or GD step counts.
    P : int or sequence of int, optional
        Training-set sizes: prefixes of ``X_train`` (the leading block of the Gram). Default:
        all of it.
    optimizer : GradientFlow, GradientDescent or {"gf", "gd"}, optional
        Default gradient flow.
    method : {"gf", "gd"}, optional
        Shorthand for ``optimizer``.
    learning_rate : float, optional
        eta with the shorthand ``"gd"``.
    seeds : int or sequence of int
        Seeds (only with a callable ``features``): seed s calls ``features(rng_s)`` with the
        int key ``derive_seed(key(rng), s)``.
    rng : None, int or numpy.random.Generator
    n_threads : int
    progress : bool or None

    Returns
    -------
    pandas.DataFrame
        Columns ``seed``, ``N``, ``P``, ``t``, ``train_loss``, ``test_loss``, ``method``.
    """
    if t is None:
        raise TypeError("`t`: the times are required")
    spec = optimizer_argument(optimizer, method, learning_rate, allowed=("gf", "gd"))
    method, eta = spec.name, spec.learning_rate
    X_train = as_matrix(X_train, "X_train")
    X_test = as_matrix(X_test, "X_test", n_cols=X_train.shape[1])
    y_train = as_vector(y_train, "y_train", length=X_train.shape[0])
    y_test = as_vector(y_test, "y_test", length=X_test.shape[0])
    times = as_times(t, "t", integer=method == "gd")
    Pmax = X_train.shape[0]
    Ps = [int(p) for p in grid(Pmax if P is None else P, "P", allow_infinite=False)]
    if Ps[-1] > Pmax:
        raise ValueError(f"`P`: at most len(X_train) = {Pmax}, got {Ps[-1]}")
    labels = seed_labels(seeds)
    threads = n_threads_arg(n_threads)
    precomputed = isinstance(features, (tuple, list, Mapping))
    factory = callable(features) and not hasattr(features, "gram") and not precomputed
    if len(labels) > 1 and not factory:
        raise ValueError(
            "`seeds`: several seeds need a callable `features` (rng -> RandomFeatures) so that "
            "each seed draws its own features"
        )
    base_key = seed_from_rng(rng) if factory else 0
    Q = X_test.shape[0]
    rows = []
    with progress_reporter(progress, len(labels), desc="kernel_learning_curve", unit="seed",
                           long=len(labels) * len(Ps) >= _AUTO_PROGRESS_CURVES) as reporter:
        for label in labels:
            if factory:
                grams = _feature_grams(features(_core.random.derive_seed(base_key, label)), N, X_train,
                                       X_test, threads)
            elif precomputed:
                grams = _precomputed_grams(features, N, Pmax, Q)
            else:
                grams = _feature_grams(features, N, X_train, X_test, threads)
            for width, (K_train, K_test) in grams.items():
                test, train = _core.dynamics.kernel_learning_curves(
                    K_train, K_test, y_train, y_test, Ps, times.tolist(), method, eta, threads,
                )
                _check_finite_losses((test, train), method, eta)
                for j, p in enumerate(Ps):
                    rows.append(pd.DataFrame({
                        "seed": label, "N": width, "P": float(p), "t": times,
                        "train_loss": train[j], "test_loss": test[j],
                    }))
            reporter.advance(1)
    frame = pd.concat(rows, ignore_index=True)
    frame["method"] = method
    return frame


def _feature_grams(rf, N, X_train, X_test, n_threads) -> dict:
    """{N: (K_train, K_test)} from one pass of the feature stream.

    Uses ``rf.train_test_gram`` when the object has it (no test-by-test block), else
    ``rf.gram`` on the stacked inputs (the contract's minimum).
    """
    if not hasattr(rf, "gram"):
        raise TypeError(f"`features`: expected a RandomFeatures (with .gram), got {type(rf).__name__}")
    P = X_train.shape[0]
    widths = None if N is None else [int(n) for n in grid(N, "N", allow_infinite=False)]
    default_width = getattr(rf, "n_features", None)
    default_label = float(default_width) if default_width is not None else np.nan
    if hasattr(rf, "train_test_gram"):
        if widths is None:
            pairs = {default_label: rf.train_test_gram(X_train, X_test, n_threads=n_threads)}
        else:
            pairs = rf.train_test_gram(X_train, X_test, checkpoints=widths, n_threads=n_threads)
    else:
        X_all = np.concatenate([X_train, X_test], axis=0)
        check_memory(8.0 * X_all.shape[0] ** 2 * (1 if widths is None else len(widths)),
                     "the Gram matrices", "N")
        if widths is None:
            stacked = {default_label: rf.gram(X_all, n_threads=n_threads)}
        else:
            stacked = rf.gram(X_all, checkpoints=widths, n_threads=n_threads)
        pairs = {n: (K[:P, :P], K[P:, :P]) for n, K in stacked.items()}
    return {
        float(n): (np.ascontiguousarray(K_train, dtype=np.float64),
                   np.ascontiguousarray(K_test, dtype=np.float64))
        for n, (K_train, K_test) in sorted(pairs.items())
    }


def _precomputed_grams(features, N, P, Q) -> dict:
    if isinstance(features, Mapping):
        items = {float(positive_int(n, "features")): pair for n, pair in features.items()}
        if N is not None:
            wanted = grid(N, "N", allow_infinite=False)
            missing = [n for n in wanted if n not in items]
            if missing:
                raise ValueError(f"`N`: no Gram given for widths {missing}")
            items = {n: items[n] for n in wanted}
    else:
        if len(features) != 2:
            raise ValueError("`features`: a precomputed Gram is a pair (K_train, K_test)")
        width = np.nan if N is None else float(positive_int(N, "N"))
        items = {width: features}
    out = {}
    for n, pair in sorted(items.items()):
        K_train, K_test = pair
        K_train = as_matrix(K_train, "K_train")
        if K_train.shape != (P, P):
            raise ValueError(f"`K_train`: expected shape ({P}, {P}) (len(X_train) squared), got {K_train.shape}")
        K_test = as_matrix(K_test, "K_test")
        if K_test.shape != (Q, P):
            raise ValueError(f"`K_test`: expected shape ({Q}, {P}) (len(X_test), len(X_train)), got {K_test.shape}")
        # Symmetry and semi-definiteness of K_train are checked by the core (from the
        # eigenvalues it computes anyway, no second factorisation).
        out[n] = (K_train, K_test)
    return out
