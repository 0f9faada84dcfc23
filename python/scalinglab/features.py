"""Random features with millions of columns: explicit blocks and streamed Gram matrices.

A :class:`RandomFeatures` map sends x in R^d to the N features

    phi_j(x) = sigma(w_j . x / (lengthscale * sqrt(d)) + b_j),    j = 0 .. N-1,

where w_j ~ N(0, I_d) is row j of a weight matrix W that is never stored: entry (j, i) of W is
normal number j*d + i of a Philox4x32-10 stream keyed by the map's seed (``scalinglab._core``), and
the pre-activation w_j . x_i is one fused-multiply-add chain over the d inputs (the core's own
kernel, not BLAS), so phi_j(x_i) is bit-identical whatever block, start/stop range, other rows of
X, ``n_threads``, BLAS kernel or CPU (AVX2, AVX-512) it is computed with, and the map with N' < N
features is a prefix of the map with N. The phases are b_j = 0, except for the
``fourier`` activation where b_j = 2 pi u_j with u_j uniform (a second Philox stream).

Activations and the N -> infinity limit of the Gram (see :mod:`scalinglab.kernels`; u = x /
(lengthscale sqrt(d))):

=========  ==============================  ==========================================================
name       sigma(z)                        infinite-width kernel
=========  ==============================  ==========================================================
linear     z                               u_x . u_y = x . y / (d lengthscale^2)
relu       max(z, 0)                       degree-1 arc-cosine kernel of u (Cho & Saul 2009) / 2
erf        erf(z)                          arcsine kernel of u (Williams 1997)
tanh       tanh(z)                         no closed form (estimate it with a large N)
cos        cos(z)                          exp(-(|u_x|^2 + |u_y|^2)/2) cosh(u_x . u_y)
sin        sin(z)                          exp(-(|u_x|^2 + |u_y|^2)/2) sinh(u_x . u_y)
fourier    sqrt(2) cos(z + b_j)            exp(-|x - y|^2 / (2 d lengthscale^2))  (RBF)
=========  ==============================  ==========================================================

``fourier`` is the random Fourier feature map of Rahimi & Recht (NIPS 2007); ``cos`` and ``sin``
without phases are the two halves of the same construction (their kernels add up to the RBF).

Gram matrices are accumulated block by block in the compiled core: each block of features is
generated (Philox, parallel), its pre-activations computed, activated in place, and added to
K = Phi(X) Phi(X)^T (upper triangle) or Phi(X) Phi(Y)^T, each entry one FMA chain over the
features continued from block to block; so every Gram is bit-identical for any block size,
checkpoint list, ``n_threads``, row subset or CPU, and ``gram(X, checkpoints=[.., N, ..])[N]``
equals the Gram of the map with N features bit for bit. Memory is O(n^2 + n * block),
never O(n N). The Grams at a whole grid of widths N1 < N2 < ... come from one pass: the blocks
are split at the checkpoints and a scaled copy of the running sum is taken there.
"""

from __future__ import annotations

import numpy as np

from scalinglab._activations import ACTIVATIONS
from scalinglab._native import _core
from scalinglab._progress import progress_reporter
from scalinglab._rng import seed_from_rng
from scalinglab._validation import (
    as_dtype,
    as_matrix,
    check_memory,
    finite_result,
    increasing_widths,
    n_threads_arg,
    positive_int,
    real_number,
)


__all__ = ["ACTIVATIONS", "RandomFeatures"]

# progress=None shows a bar for Gram passes above this many flops (several seconds).
_AUTO_PROGRESS_FLOPS = 2e10


def _activation_arg(activation) -> str:
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(
            f"`activation`: expected one of {', '.join(ACTIVATIONS)}, got {activation!r}"
        )
    return activation


def _index_arg(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}`: expected an integer, got {value!r}")
    return int(value)


def _rebuild(d, n_features, activation, seed, dtype, lengthscale):
    """Unpickling helper: a map from its exact 64-bit seed."""
    features = RandomFeatures.__new__(RandomFeatures)
    features._init(d, n_features, activation, seed, dtype, lengthscale)
    return features


class RandomFeatures:
    """A random feature map phi(x) = sigma(W x / (lengthscale sqrt(d)) + b) that never stores W.

    Parameters
    ----------
    d : int
        Input dimension (number of columns of the data).
    n_features : int
        Number of features N >= 1 (the model width). Millions are fine: nothing of size N x d or
        n x N is ever held unless :meth:`transform` is asked for it.
    activation : str
        One of ``linear``, ``relu``, ``erf``, ``tanh``, ``cos``, ``sin``, ``fourier`` (see the
        module docstring for the functions and their infinite-width kernels).
    rng : None, int or numpy.random.Generator
        Source of the 64-bit Philox key of W (and of the phases b). The same int gives the same
        features, bit for bit, on every x86-64 machine and for any ``n_threads``.
    dtype : {"float64", "float32"}
        Precision of the features and Grams. float32 runs twice as many SIMD lanes (about twice as fast).
    lengthscale : float
        Pre-activations are w . x / (lengthscale sqrt(d)); for ``fourier`` the kernel is the RBF
        exp(-|x - y|^2 / (2 d lengthscale^2)). Must be > 0; default 1.

    Notes
    -----
    The normalisation 1/sqrt(d) keeps the pre-activation variance |x|^2 / d of order one for
    inputs with O(1) entries; the Grams are averages, K = Phi Phi^T / N, so they converge to the
    infinite-width kernel (:meth:`infinite_width_kernel`) with an O(N^-1/2) error.
    """

    __slots__ = ("_d", "_n_features", "_activation", "_seed", "_dtype", "_lengthscale", "_map")

    def __init__(self, d, n_features, activation="relu", *, rng=None, dtype="float64",
                 lengthscale=1.0):
        d = positive_int(d, "d")
        n_features = positive_int(n_features, "n_features")
        activation = _activation_arg(activation)
        dtype = as_dtype(dtype, "dtype")
        lengthscale = real_number(lengthscale, "lengthscale", minimum=0.0, strict=True)
        self._init(d, n_features, activation, seed_from_rng(rng), dtype, lengthscale)

    def _init(self, d, n_features, activation, seed, dtype, lengthscale):
        self._d = d
        self._n_features = n_features
        self._activation = activation
        self._seed = seed
        self._dtype = np.dtype(dtype).type
        self._lengthscale = lengthscale
        self._map = _core.features.RandomFeatureMap(d, n_features, activation, seed, lengthscale)

    # ---- description -------------------------------------------------------------------------
    @property
    def d(self) -> int:
        """Input dimension."""
        return self._d

    @property
    def n_features(self) -> int:
        """Number of features N."""
        return self._n_features

    @property
    def activation(self) -> str:
        """Name of the nonlinearity."""
        return self._activation

    @property
    def seed(self) -> int:
        """The 64-bit Philox key of W (drawn from ``rng``)."""
        return self._seed

    @property
    def dtype(self) -> type:
        """``numpy.float64`` or ``numpy.float32``."""
        return self._dtype

    @property
    def lengthscale(self) -> float:
        """Pre-activation length scale (in units of sqrt(d))."""
        return self._lengthscale

    def __repr__(self) -> str:
        return (
            f"RandomFeatures(d={self._d}, n_features={self._n_features}, "
            f"activation={self._activation!r}, seed={self._seed}, "
            f"dtype={np.dtype(self._dtype).name!r}, lengthscale={self._lengthscale})"
        )

    def __eq__(self, other) -> bool:
        return isinstance(other, RandomFeatures) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self):
        return (_rebuild, self._key())

    def _key(self):
        return (self._d, self._n_features, self._activation, self._seed,
                np.dtype(self._dtype).name, self._lengthscale)

    # ---- explicit parts ------------------------------------------------------------------------
    def _range(self, start, stop) -> tuple[int, int]:
        start = _index_arg(start, "start")
        stop = self._n_features if stop is None else _index_arg(stop, "stop")
        if not 0 <= start < self._n_features:
            raise ValueError(f"`start`: must be in [0, n_features = {self._n_features}), got {start}")
        if not start < stop <= self._n_features:
            raise ValueError(
                f"`stop`: must be in (start = {start}, n_features = {self._n_features}], got {stop}"
            )
        return start, stop

    def weights(self, start=0, stop=None, *, n_threads=0) -> np.ndarray:
        """Rows [start, stop) of the weight matrix W, shape (stop - start, d), in ``dtype``.

        Entry (j, i) is standard normal number j*d + i of the map's Philox stream.
        """
        start, stop = self._range(start, stop)
        n_threads = n_threads_arg(n_threads)
        itemsize = np.dtype(self._dtype).itemsize
        check_memory((stop - start) * self._d * itemsize, "the weight rows", "stop")
        return self._map.weights(start, stop, self._dtype == np.float32, n_threads)

    def phases(self, start=0, stop=None) -> np.ndarray:
        """Phases b_j in [0, 2 pi) for j in [start, stop), float64 (zeros unless ``fourier``)."""
        start, stop = self._range(start, stop)
        check_memory(8.0 * (stop - start), "the phases", "stop")
        return self._map.phases(start, stop)

    def transform(self, X, start=0, stop=None, *, n_threads=0) -> np.ndarray:
        """Explicit features phi_j(x_i) for j in [start, stop).

        Parameters
        ----------
        X : array_like, shape (n, d)
            Inputs (converted to ``dtype``; must be finite).
        start, stop : int
            Feature range, 0 <= start < stop <= n_features (stop=None: n_features). Feature j is
            bit-identical whatever range, rows of X, ``n_threads`` or CPU it is computed with.
        n_threads : int
            Threads (0 = all cores).

        Returns
        -------
        ndarray, shape (n, stop - start), ``dtype``
            Unnormalised features (the Gram is ``Phi @ Phi.T / N``).
        """
        start, stop = self._range(start, stop)
        X = as_matrix(X, "X", dtype=self._dtype, n_cols=self._d)
        n_threads = n_threads_arg(n_threads)
        itemsize = np.dtype(self._dtype).itemsize
        check_memory(X.shape[0] * (stop - start) * itemsize, "the feature matrix", "stop")
        return self._finite(self._map.transform(X, start, stop, n_threads), "features")

    def _finite(self, array, what: str):
        """Refuse inf/NaN produced from finite inputs (float overflow), naming the cause."""
        return finite_result(
            array, "X",
            f"the {what} overflowed {np.dtype(self._dtype).name} (inf or NaN entries): |w . x| / "
            f"(lengthscale sqrt(d)) is too large for lengthscale = {self._lengthscale:g}; "
            "rescale X, increase the lengthscale or use dtype='float64'",
        )

    # ---- Gram matrices -------------------------------------------------------------------------
    def _checkpoints(self, checkpoints) -> list[int] | None:
        if checkpoints is None:
            return None
        return increasing_widths(checkpoints, "checkpoints", maximum=self._n_features,
                                 maximum_name="n_features")

    def _check_gram_memory(self, n, m, with_gram, n_snapshots, name):
        itemsize = np.dtype(self._dtype).itemsize
        block = _core.features.default_block_size(n + m, self._d, itemsize)
        per_snapshot = (n * n if with_gram else 0) + m * n
        buffers = (n + m) * block + block * self._d
        check_memory(itemsize * (per_snapshot + buffers), "the Gram and its feature blocks", name)
        if n_snapshots > 1:
            check_memory(itemsize * (n_snapshots * per_snapshot + buffers),
                         f"the Grams at {n_snapshots} checkpoints", "checkpoints")

    def _stream(self, X, Z, with_gram, checkpoints, n_threads, progress):
        marks = checkpoints if checkpoints is not None else [self._n_features]
        total = marks[-1]
        n, m = X.shape[0], 0 if Z is None else Z.shape[0]
        work = total * ((n * n if with_gram else 0) + 2.0 * (n + m) * self._d + m * n)
        with progress_reporter(progress, total, desc="Gram", unit="feature", unit_scale=True,
                               long=work > _AUTO_PROGRESS_FLOPS) as reporter:
            callback = reporter.stage(total)
            return self._map.grams(X, Z, with_gram, marks, 0, n_threads, callback)

    def gram(self, X, Y=None, *, checkpoints=None, n_threads=0, progress=None):
        """Random-feature Gram K[i, k] = (1/N) sum_{j<N} phi_j(x_i) phi_j(y_k), streamed.

        Parameters
        ----------
        X : array_like, shape (n, d)
        Y : array_like, shape (m, d), optional
            None means Y = X: K is symmetric and only its upper triangle is accumulated (half
            the flops).
        checkpoints : sequence of int, optional
            Strictly increasing widths N1 < N2 < ... <= n_features. All Grams come from one pass
            over the first max(checkpoints) features. Default: N = n_features only.
        n_threads : int
            Threads (0 = all cores). The result is bit-identical for any value (and any block
            size, checkpoint list or CPU); K[i, k] depends only on x_i, y_k and the features.
        progress : bool or None
            A tqdm progress bar: True, False, or None (automatic: for passes of more than
            ~2e10 flops, on a terminal or notebook).

        Returns
        -------
        ndarray, shape (n, m) (``dtype``), or dict {N: ndarray} when ``checkpoints`` is given.

        Raises
        ------
        MemoryError
            If the Gram(s) and the feature blocks would not fit in the available memory.
        KeyboardInterrupt
            Ctrl-C stops the pass between two blocks of features.
        """
        symmetric = Y is None or Y is X
        X = as_matrix(X, "X", dtype=self._dtype, n_cols=self._d)
        if not symmetric:
            Y = as_matrix(Y, "Y", dtype=self._dtype, n_cols=self._d)
        marks = self._checkpoints(checkpoints)
        n_threads = n_threads_arg(n_threads)
        n_snapshots = 1 if marks is None else len(marks)
        if symmetric:
            self._check_gram_memory(X.shape[0], 0, True, n_snapshots, "X")
            widths, grams, _ = self._stream(X, None, True, marks, n_threads, progress)
        else:
            # The core streams (X_core, Z) -> Phi(Z) Phi(X_core)^T: Z holds the rows of K.
            self._check_gram_memory(Y.shape[0], X.shape[0], False, n_snapshots, "Y")
            widths, _, grams = self._stream(Y, X, False, marks, n_threads, progress)
        for g in grams:
            self._finite(g, "Gram")
        if marks is None:
            return grams[0]
        return dict(zip((int(w) for w in widths), grams))

    def train_test_gram(self, X, X_test, *, checkpoints=None, n_threads=0, progress=None):
        """The train Gram and the test-by-train Gram from one pass (features generated once).

        Parameters
        ----------
        X : array_like, shape (n, d)
            Training inputs.
        X_test : array_like, shape (m, d)
            Test inputs.
        checkpoints, n_threads, progress
            As in :meth:`gram`.

        Returns
        -------
        (K, K_test) : ndarrays of shapes (n, n) and (m, n), equal to ``gram(X)`` and
            ``gram(X_test, X)``; or a dict {N: (K, K_test)} when ``checkpoints`` is given.
        """
        X = as_matrix(X, "X", dtype=self._dtype, n_cols=self._d)
        X_test = as_matrix(X_test, "X_test", dtype=self._dtype, n_cols=self._d)
        marks = self._checkpoints(checkpoints)
        n_threads = n_threads_arg(n_threads)
        n_snapshots = 1 if marks is None else len(marks)
        self._check_gram_memory(X.shape[0], X_test.shape[0], True, n_snapshots, "X")
        widths, grams, crosses = self._stream(X, X_test, True, marks, n_threads, progress)
        for g in (*grams, *crosses):
            self._finite(g, "Gram")
        if marks is None:
            return grams[0], crosses[0]
        return {int(w): (g, c) for w, g, c in zip(widths, grams, crosses)}

    def infinite_width_kernel(self, X, Y=None, *, n_threads=0) -> np.ndarray:
        """The N -> infinity limit of :meth:`gram` (float64); see
        :func:`scalinglab.kernels.infinite_width_kernel`. Raises ValueError for ``tanh``."""
        from scalinglab.kernels import infinite_width_kernel

        return infinite_width_kernel(self._activation, X, Y, lengthscale=self._lengthscale,
                                     n_threads=n_threads)
