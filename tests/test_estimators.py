"""RandomFeatureRidge: equal to an explicit-features numpy solve, reproducible with an int rng,
usable by scikit-learn (clone, cross_val_score), and strict about its arguments."""

import numpy as np
import pytest

import scalinglab
from scalinglab.estimators import RandomFeatureRidge
from scalinglab.features import RandomFeatures


def _data(rng, P, d=5, k=None):
    X = rng.standard_normal((P, d))
    signal = np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2]
    if k is None:
        y = signal + 0.1 * rng.standard_normal(P)
    else:
        y = np.stack([signal * (j + 1) + 0.1 * rng.standard_normal(P) for j in range(k)], axis=1)
    return X, y


def _explicit_predictions(X, y, X_test, n_features, ridge, seed, activation="relu"):
    """The textbook solve with the explicit feature matrix (numpy only)."""
    rf = RandomFeatures(X.shape[1], n_features, activation, rng=seed)
    Phi, Phi_test = rf.transform(X), rf.transform(X_test)
    P = X.shape[0]
    F, F_test = Phi / np.sqrt(n_features), Phi_test / np.sqrt(n_features)
    w = np.linalg.solve(F.T @ F + P * ridge * np.eye(n_features), F.T @ y)
    return F_test @ w


@pytest.mark.parametrize("n_features", [20, 150])  # primal (N < P = 100) and dual (N >= P)
@pytest.mark.parametrize("k", [None, 3])
def test_predictions_equal_explicit_numpy_solve(rng, n_features, k):
    X, y = _data(rng, 100, k=k)
    X_test, _ = _data(rng, 40)
    ridge, seed = 1e-3, 7
    expected = _explicit_predictions(X, y, X_test, n_features, ridge, seed)
    for solver in ("auto", "primal", "dual"):
        model = RandomFeatureRidge(n_features=n_features, ridge=ridge, rng=seed, solver=solver)
        prediction = model.fit(X, y).predict(X_test)
        assert prediction.shape == expected.shape
        relative = np.max(np.abs(prediction - expected)) / np.max(np.abs(expected))
        assert relative < 1e-8, (solver, relative)
        assert model.coef_.shape == ((n_features,) if k is None else (n_features, k))
    auto = RandomFeatureRidge(n_features=n_features, ridge=ridge, rng=seed).fit(X, y)
    assert auto.solver_ == ("primal" if n_features < 100 else "dual")
    assert auto.n_features_in_ == 5


def test_float32(rng):
    X, y = _data(rng, 80)
    expected = _explicit_predictions(X, y, X, 40, 1e-2, 3)
    prediction = RandomFeatureRidge(n_features=40, ridge=1e-2, rng=3, dtype="float32").fit(
        X, y).predict(X)
    assert prediction.dtype == np.float32
    # float32 features and Cholesky: ~1e-6 relative error, amplified by the condition number.
    assert np.max(np.abs(prediction - expected)) / np.max(np.abs(expected)) < 1e-3


def test_int_rng_reproducible_generator_advances(rng):
    X, y = _data(rng, 60)
    model = RandomFeatureRidge(n_features=30, rng=11)
    first = model.fit(X, y).predict(X)
    np.testing.assert_array_equal(model.fit(X, y).predict(X), first)
    np.testing.assert_array_equal(RandomFeatureRidge(n_features=30, rng=11).fit(X, y).predict(X),
                                  first)
    generator_model = RandomFeatureRidge(n_features=30, rng=np.random.default_rng(0))
    a = generator_model.fit(X, y).predict(X)
    b = generator_model.fit(X, y).predict(X)
    assert np.max(np.abs(a - b)) > 1e-3  # new features on the second fit


def test_score_is_r2(rng):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    X, y = _data(rng, 120, k=2)
    model = RandomFeatureRidge(n_features=60, ridge=1e-3, rng=1).fit(X[:80], y[:80])
    expected = sklearn_metrics.r2_score(y[80:], model.predict(X[80:]))
    assert abs(model.score(X[80:], y[80:]) - expected) < 1e-12
    weights = rng.uniform(0.5, 2.0, size=40)
    expected_weighted = sklearn_metrics.r2_score(y[80:], model.predict(X[80:]),
                                                 sample_weight=weights)
    assert abs(model.score(X[80:], y[80:], sample_weight=weights) - expected_weighted) < 1e-12
    assert 0.5 < model.score(X[80:], y[80:]) <= 1.0  # it learns the smooth target


def test_sklearn_clone_and_cross_val_score(rng):
    base = pytest.importorskip("sklearn.base")
    model_selection = pytest.importorskip("sklearn.model_selection")
    X, y = _data(rng, 150)
    model = RandomFeatureRidge(n_features=80, ridge=1e-2, rng=5, activation="relu")
    copy = base.clone(model)
    assert copy.get_params() == model.get_params()
    assert base.is_regressor(model)
    scores = model_selection.cross_val_score(model, X, y, cv=3)
    assert scores.shape == (3,)
    # Each fold equals fitting the estimator by hand on that fold.
    folds = model_selection.KFold(3).split(X)
    for score, (train, test) in zip(scores, folds):
        by_hand = RandomFeatureRidge(n_features=80, ridge=1e-2, rng=5).fit(X[train], y[train])
        assert abs(score - by_hand.score(X[test], y[test])) < 1e-12
    assert np.all(scores > 0.3)
    search = model_selection.GridSearchCV(model, {"ridge": [1e-4, 1e-2]}, cv=2).fit(X, y)
    assert search.best_params_["ridge"] in (1e-4, 1e-2)


def test_get_set_params():
    model = RandomFeatureRidge(n_features=10)
    params = model.get_params()
    assert params == dict(n_features=10, activation="relu", ridge=1e-3, rng=None,
                          dtype="float64", solver="auto", n_threads=0, random_state=None)
    assert model.set_params(ridge=0.5, n_features=20) is model
    assert model.ridge == 0.5 and model.n_features == 20
    with pytest.raises(ValueError, match="`alpha`"):
        model.set_params(alpha=1.0)
    assert "n_features=20" in repr(model)


def test_bad_input_raises_named_errors(rng):
    X, y = _data(rng, 30)
    cases = [
        (dict(n_features=0), "n_features"),
        (dict(ridge=-1.0), "ridge"),
        (dict(activation="sigmoidal"), "activation"),
        (dict(solver="qr"), "solver"),
        (dict(dtype="int32"), "dtype"),
        (dict(n_threads=-2), "n_threads"),
    ]
    for params, name in cases:
        with pytest.raises(ValueError, match=f"`{name}`"):
            RandomFeatureRidge(**params).fit(X, y)
    bad_X = X.copy()
    bad_X[3, 1] = np.nan
    with pytest.raises(ValueError, match="`X`.*NaN"):
        RandomFeatureRidge(n_features=10).fit(bad_X, y)
    with pytest.raises(ValueError, match="`y`.*NaN"):
        RandomFeatureRidge(n_features=10).fit(X, np.where(np.arange(30) == 2, np.inf, y))
    with pytest.raises(ValueError, match="`y`"):
        RandomFeatureRidge(n_features=10).fit(X, y[:-1])
    with pytest.raises(ValueError, match="`X`"):
        RandomFeatureRidge(n_features=10).fit(X[:, 0], y)
    # ValueError, not TypeError: scikit-learn's check_complex_data requires it.
    with pytest.raises(ValueError, match="`X`: Complex data not supported"):
        RandomFeatureRidge(n_features=10).fit(X.astype(complex), y)
    model = RandomFeatureRidge(n_features=10, rng=0)
    # scikit-learn's NotFittedError (a ValueError and AttributeError) when it is loaded.
    with pytest.raises(ValueError, match="not fitted yet: call `fit`"):
        model.predict(X)
    model.fit(X, y)
    with pytest.raises(ValueError, match="`X`"):
        model.predict(X[:, :3])


def test_ridge_zero_singular_raises_linalg_error(rng):
    # Dual form forced with N = 5 < P = 60: K = F F^T has rank 5, so K + 0 I is singular (the
    # Cholesky's trailing 55 x 55 Schur complement is rounding noise, never positive definite).
    X, y = _data(rng, 60)
    with pytest.raises(scalinglab.LinAlgError, match="positive definite"):
        RandomFeatureRidge(n_features=5, ridge=0.0, rng=0, solver="dual").fit(X, y)
    # The primal form of the same problem is well posed at ridge 0 (least squares on 5 features).
    model = RandomFeatureRidge(n_features=5, ridge=0.0, rng=0, solver="primal").fit(X, y)
    Phi = RandomFeatures(X.shape[1], 5, rng=0).transform(X)
    least_squares = Phi @ np.linalg.lstsq(Phi, y, rcond=None)[0]
    np.testing.assert_allclose(model.predict(X), least_squares, rtol=1e-8, atol=1e-10)


def test_gram_too_large_raises_memory_error_before_work():
    # 10^6 samples: the dual Gram alone would be 8 TB. Refused before any feature is computed.
    X = np.lib.stride_tricks.as_strided(np.zeros(1), shape=(10**6, 2), strides=(0, 0))
    y = np.zeros(10**6)
    with pytest.raises(MemoryError, match="`X`"):
        RandomFeatureRidge(n_features=2 * 10**6, rng=0).fit(X, y)
    with pytest.raises(MemoryError, match="`n_features`"):
        RandomFeatureRidge(n_features=10**6 - 1, rng=0).fit(X, y)
