"""A scikit-learn-compatible random-feature ridge regressor (scikit-learn is not needed to use it).

:class:`RandomFeatureRidge` fits ``f(x) = phi(x) . w / sqrt(N)`` with N random features
``phi(x) = sigma(W x / sqrt(d))`` (:class:`scalinglab.features.RandomFeatures`) by ridge
regression in the convention of :mod:`scalinglab.solvers`:

    minimise (1 / (2 P)) sum_mu (y_mu - f(x_mu))^2 + (ridge / 2) |w|^2.

The N x P feature matrix is never stored: the primal form (N < P) accumulates ``F^T F`` and
``F^T y`` over blocks of samples, the dual form (N >= P) streams the P x P Gram
(``RandomFeatures.gram``), solves ``(K + P ridge I) alpha = y`` and forms ``w = F^T alpha``
over blocks of features. Both forms give the same ``w`` (push-through identity).
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from scalinglab._native import _core
from scalinglab._validation import (
    as_dtype,
    as_matrix,
    as_vector,
    check_memory,
    n_threads_arg,
    positive_int,
    real_array,
    real_number,
)
from scalinglab.solvers import SOLVERS, _normal_equations_class, choose_solver

__all__ = ["RandomFeatureRidge"]

# Explicit feature blocks are kept to about this many bytes, so that memory stays flat however
# many features or samples there are, while each block is still a large BLAS product.
_BLOCK_BYTES = 2**25


def _block_length(n_rows: int, total: int, itemsize: int) -> int:
    """Columns (or rows) per block so that a (n_rows, block) array is about _BLOCK_BYTES."""
    return int(max(1, min(total, _BLOCK_BYTES // max(1, n_rows * itemsize))))


class RandomFeatureRidge:
    """Ridge regression on N random features, with the scikit-learn estimator interface.

    Parameters
    ----------
    n_features : int
        N, the number of random features (>= 1).
    activation : str
        Nonlinearity sigma of the features (see :class:`scalinglab.features.RandomFeatures`).
    ridge : float
        Ridge >= 0 in the per-sample convention of :mod:`scalinglab.solvers` (the diagonal
        shift of the P x P dual system is ``P * ridge``). ``ridge = 0`` is allowed when the
        system is non-singular; otherwise fitting raises :class:`scalinglab.LinAlgError`.
    rng : None, int or numpy.random.Generator
        Randomness of the feature weights. An int gives the same features, hence identical
        predictions, on every fit; a Generator is advanced by each fit.
    dtype : {"float64", "float32"}
        Precision of features and solves.
    solver : {"auto", "primal", "dual"}
        ``"auto"``: primal (N x N system) when N < P, dual (P x P) otherwise.
    n_threads : int
        Threads for feature generation and BLAS/LAPACK (0 = all cores).
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        scikit-learn's name for the randomness, used only when ``rng`` is None (so that
        ``GridSearchCV(..., random_state=0)``-style code and scikit-learn's ``set_random_state``
        make the estimator deterministic).

    Attributes
    ----------
    coef_ : ndarray, shape (N,) or (N, k)
        Weights w of the normalised features ``phi / sqrt(N)``.
    features_ : RandomFeatures
        The fitted feature map.
    solver_ : str
        The form used by the last fit, ``"primal"`` or ``"dual"``.
    n_features_in_ : int
        Input dimension d.
    feature_names_in_ : ndarray of str, shape (d,)
        Column names of a DataFrame ``X`` passed to fit (only then); predict checks them as
        scikit-learn does.

    Notes
    -----
    There is no intercept: ``f(x)`` is linear in the features (ReLU features carry a constant
    component). Center ``y`` first if its mean matters.
    """

    _estimator_type = "regressor"  # scikit-learn < 1.6 reads this attribute
    _PARAMETERS = ("n_features", "activation", "ridge", "rng", "dtype", "solver", "n_threads",
                   "random_state")

    def __init__(self, n_features=1024, activation="relu", ridge=1e-3, rng=None,
                 dtype="float64", solver="auto", n_threads=0, random_state=None):
        # Stored unchanged and validated in fit (scikit-learn's convention, needed by clone).
        self.n_features = n_features
        self.activation = activation
        self.ridge = ridge
        self.rng = rng
        self.dtype = dtype
        self.solver = solver
        self.n_threads = n_threads
        self.random_state = random_state

    # ---- scikit-learn protocol -----------------------------------------------------------------

    def get_params(self, deep: bool = True) -> dict:
        """The constructor arguments, as stored."""
        return {name: getattr(self, name) for name in self._PARAMETERS}

    def set_params(self, **params) -> RandomFeatureRidge:
        """Set constructor arguments by name; returns self."""
        for name, value in params.items():
            if name not in self._PARAMETERS:
                raise ValueError(
                    f"`{name}`: not a parameter of RandomFeatureRidge "
                    f"(valid: {', '.join(self._PARAMETERS)})"
                )
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self):
        from sklearn.utils import InputTags, RegressorTags, Tags, TargetTags

        return Tags(
            estimator_type="regressor",
            target_tags=TargetTags(required=True, multi_output=True, single_output=True),
            regressor_tags=RegressorTags(),
            input_tags=InputTags(),
            non_deterministic=self._rng_argument() is None,
        )

    def __repr__(self) -> str:
        changed = [
            f"{name}={getattr(self, name)!r}"
            for name, default in zip(self._PARAMETERS, self.__init__.__defaults__)
            if getattr(self, name) is not default and getattr(self, name) != default
        ]
        return f"RandomFeatureRidge({', '.join(changed)})"

    # ---- fit / predict / score -----------------------------------------------------------------

    def _validated_parameters(self):
        n_features = positive_int(self.n_features, "n_features")
        ridge = real_number(self.ridge, "ridge", minimum=0.0)
        dtype = as_dtype(self.dtype)
        if self.solver not in SOLVERS:
            raise ValueError(f"`solver`: expected one of {', '.join(SOLVERS)}, got {self.solver!r}")
        n_threads = n_threads_arg(self.n_threads)
        return n_features, ridge, dtype, n_threads

    def fit(self, X, y, sample_weight=None) -> RandomFeatureRidge:
        """Fit the weights on training data.

        Parameters
        ----------
        X : array_like, shape (P, d)
            Training inputs (finite, real, dense). A DataFrame with string column names sets
            ``feature_names_in_``.
        y : array_like, shape (P,) or (P, k)
            Targets (finite, real).
        sample_weight : array_like, shape (P,), optional
            Weights c_mu >= 0 (not all zero) of the samples in the loss
            (1 / (2 sum c)) sum_mu c_mu (y_mu - f(x_mu))^2 + (ridge / 2) |w|^2, so that an integer
            weight is the same as repeating the sample and a zero weight the same as dropping it.

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            Invalid parameters or data (the message names the argument), before any work.
        MemoryError
            The P x P Gram (dual), the N x N normal equations (primal) or the N x k ``coef_``
            would not fit in memory; raised before any work.
        scalinglab.LinAlgError
            The ridge system is singular (only possible with ``ridge = 0``).
        """
        from scalinglab.features import RandomFeatures

        n_features, ridge, dtype, n_threads = self._validated_parameters()
        if y is None:
            raise ValueError(
                "`y`: RandomFeatureRidge requires y to be passed, but the target y is None"
            )
        feature_names = _feature_names(X)
        X = as_matrix(X, "X", dtype=dtype)
        n_samples, d = X.shape
        y_array = real_array(y, "y")
        if y_array.ndim not in (1, 2) or y_array.shape[0] != n_samples:
            raise ValueError(
                f"`y`: expected shape ({n_samples},) or ({n_samples}, k) to match `X`, "
                f"got {y_array.shape}"
            )
        Y = as_matrix(y_array.reshape(n_samples, -1), "y", dtype=dtype)
        weights_in = _sample_weight(sample_weight, n_samples)
        solver = choose_solver(n_samples, n_features, self.solver)
        itemsize = np.dtype(dtype).itemsize
        # coef_ (N x k) and, in the dual form, one (P, block) feature block beside it.
        check_memory(float(itemsize) * n_features * Y.shape[1], "the N x k weights `coef_`",
                     "n_features")
        if solver == "dual":
            check_memory(2.0 * n_samples**2 * itemsize,
                         "the P x P Gram and its Cholesky factor (dual ridge)", "X")
        else:
            check_memory(2.0 * n_features**2 * itemsize,
                         "the N x N normal equations and their Cholesky factor (primal ridge)",
                         "n_features")
        features = RandomFeatures(d, n_features, self.activation, rng=self._rng_argument(),
                                  dtype=dtype)

        # Weighted ridge = unweighted ridge on rows scaled by sqrt(c) with the shift P ridge
        # replaced by (sum c) ridge: the core's shift is P ridge', so ridge' = ridge sum(c) / P.
        if weights_in is None:
            root = None
            ridge_core = ridge
        else:
            root = np.sqrt(weights_in).astype(dtype)
            ridge_core = ridge * float(weights_in.sum()) / n_samples
            Y = Y * root[:, None]

        if solver == "primal":
            normal = _normal_equations_class(dtype)(n_features, Y.shape[1])
            rows = _block_length(n_features, n_samples, itemsize)
            for start in range(0, n_samples, rows):
                stop = min(n_samples, start + rows)
                block = features.transform(X[start:stop], n_threads=n_threads)
                if root is not None:
                    block *= root[start:stop, None]
                normal.add(block, np.ascontiguousarray(Y[start:stop]), n_threads)
            weights = normal.solve(ridge_core, n_threads)
        else:
            gram = features.gram(X, n_threads=n_threads)
            if root is not None:
                gram = gram * root[:, None] * root[None, :]
            alpha = _core.solvers.ridge_dual(np.ascontiguousarray(gram, dtype=dtype),
                                    np.ascontiguousarray(Y), ridge_core, n_threads)
            del gram
            if root is not None:
                alpha = np.ascontiguousarray(alpha * root[:, None])
            weights = np.empty((n_features, Y.shape[1]), dtype=dtype)
            columns = _block_length(n_samples, n_features, itemsize)
            scale = 1.0 / np.sqrt(n_features)
            for start in range(0, n_features, columns):
                stop = min(n_features, start + columns)
                block = features.transform(X, start, stop, n_threads=n_threads)
                np.matmul(block.T, alpha, out=weights[start:stop])
            weights *= scale

        self.features_ = features
        self.coef_ = weights[:, 0].copy() if y_array.ndim == 1 else weights
        self.solver_ = solver
        self.n_features_in_ = d
        if feature_names is not None:
            self.feature_names_in_ = feature_names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._fit_dtype = dtype
        return self

    def _rng_argument(self):
        """``rng``, or scikit-learn's ``random_state`` when ``rng`` is None."""
        if self.rng is not None:
            return self.rng
        state = self.random_state
        if state is not None and type(state).__name__ == "RandomState":
            # A legacy numpy RandomState (what sklearn.utils.check_random_state returns): one
            # draw of it seeds the features, so the RandomState is advanced by each fit.
            return int(state.randint(0, 2**63 - 1, dtype=np.int64))
        return state

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "coef_")

    def _check_fitted(self):
        if not hasattr(self, "coef_"):
            raise _not_fitted_error()(
                "This RandomFeatureRidge instance is not fitted yet: call `fit` before "
                "`predict` or `score`"
            )

    def _check_feature_names(self, X) -> None:
        """scikit-learn's rule: names seen in fit must match; a mismatch in kind only warns."""
        names = _feature_names(X)
        fitted = getattr(self, "feature_names_in_", None)
        if names is None and fitted is None:
            return
        if fitted is None:
            warnings.warn("X has feature names, but RandomFeatureRidge was fitted without feature "
                          "names", UserWarning, stacklevel=3)
            return
        if names is None:
            warnings.warn("X does not have valid feature names, but RandomFeatureRidge was fitted "
                          "with feature names", UserWarning, stacklevel=3)
            return
        if len(names) != len(fitted) or np.any(names != fitted):
            raise ValueError(
                "`X`: The feature names should match those that were passed during fit "
                f"(fit: {list(fitted)}, now: {list(names)})"
            )

    def predict(self, X) -> np.ndarray:
        """Predictions ``phi(X) w / sqrt(N)``, shape (n,) or (n, k) like the fitted ``y``.

        Parameters
        ----------
        X : array_like, shape (n, d)
        """
        self._check_fitted()
        self._check_feature_names(X)
        features = self.features_
        dtype = self._fit_dtype
        X = as_matrix(X, "X", dtype=dtype)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"`X`: X has {X.shape[1]} features, but RandomFeatureRidge is expecting "
                f"{self.n_features_in_} features as input"
            )
        n_threads = n_threads_arg(self.n_threads)
        coef = self.coef_.reshape(self.coef_.shape[0], -1)
        n_features = coef.shape[0]
        out = np.zeros((X.shape[0], coef.shape[1]), dtype=dtype)
        columns = _block_length(X.shape[0], n_features, np.dtype(dtype).itemsize)
        for start in range(0, n_features, columns):
            stop = min(n_features, start + columns)
            out += features.transform(X, start, stop, n_threads=n_threads) @ coef[start:stop]
        out *= 1.0 / np.sqrt(n_features)
        return out[:, 0] if self.coef_.ndim == 1 else out

    def score(self, X, y, sample_weight=None) -> float:
        """Coefficient of determination R^2 (averaged uniformly over outputs, as scikit-learn).

        Parameters
        ----------
        X : array_like, shape (n, d)
        y : array_like, shape (n,) or (n, k)
            Finite real targets.
        sample_weight : array_like, shape (n,), optional
            Finite weights >= 0, not all zero.
        """
        prediction = self.predict(X)
        y = real_array(y, "y")
        if y.shape != prediction.shape:
            raise ValueError(f"`y`: expected shape {prediction.shape}, got {y.shape}")
        y2 = as_matrix(y.reshape(len(y), -1), "y")
        p2 = prediction.reshape(len(y), -1).astype(np.float64)
        weights = _sample_weight(sample_weight, len(y))
        weights = (np.ones(len(y)) if weights is None else weights)[:, None]
        residual = np.sum(weights * (y2 - p2) ** 2, axis=0)
        mean = np.sum(weights * y2, axis=0) / np.sum(weights)
        total = np.sum(weights * (y2 - mean) ** 2, axis=0)
        # scikit-learn's convention for constant targets: R^2 = 1 if perfect, else 0.
        r2 = np.where(total > 0, 1.0 - residual / np.where(total > 0, total, 1.0),
                      np.where(residual == 0, 1.0, 0.0))
        return float(np.mean(r2))


class _NotFittedError(ValueError, AttributeError):
    """Raised by predict/score before fit (scikit-learn's NotFittedError when it is loaded)."""


def _not_fitted_error() -> type:
    # scikit-learn's own class when scikit-learn is already loaded (its checks test for it),
    # without importing it here: the estimator must work without scikit-learn.
    exceptions = sys.modules.get("sklearn.exceptions")
    return getattr(exceptions, "NotFittedError", _NotFittedError)


def _feature_names(X):
    """String column names of a DataFrame-like X (scikit-learn's feature_names_in_), else None."""
    columns = getattr(X, "columns", None)
    if columns is None or hasattr(X, "tocsr"):
        return None
    names = np.asarray(list(columns), dtype=object)
    if names.size == 0 or not all(isinstance(n, str) for n in names):
        return None
    return names


def _sample_weight(sample_weight, n_samples: int):
    """Validated sample weights (finite, >= 0, positive sum) as float64, or None for uniform."""
    if sample_weight is None:
        return None
    array = real_array(sample_weight, "sample_weight")
    if array.ndim == 0:
        value = real_number(float(array), "sample_weight", minimum=0.0, strict=True)
        return np.full(n_samples, value)
    weights = as_vector(array, "sample_weight", length=n_samples)
    if (weights < 0).any():
        raise ValueError("`sample_weight`: weights must be >= 0")
    if not weights.sum() > 0:
        raise ValueError("`sample_weight`: weights must not all be zero")
    return weights
