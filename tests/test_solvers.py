"""scalinglab.solvers: eigh against numpy, the ridge forms against explicit numpy solves, the
ridge path against separate solves, and argument errors. Seeds are fixed (conftest `rng`)."""

import numpy as np
import pandas as pd
import pytest

import scalinglab
from scalinglab import solvers


def _features(rng, P, N):
    return np.maximum(rng.standard_normal((P, N)), 0.0) + 0.1 * rng.standard_normal((P, N))


def _numpy_weights(Phi, y, ridge):
    """The textbook primal solve w = (F^T F + P ridge I)^{-1} F^T y, F = Phi / sqrt(N)."""
    P, N = Phi.shape
    F = Phi / np.sqrt(N)
    return np.linalg.solve(F.T @ F + P * ridge * np.eye(N), F.T @ y)


def _relative_error(actual, expected):
    return np.max(np.abs(actual - expected)) / np.max(np.abs(expected))


# ---- eigh ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 7, 300])
def test_eigh_matches_numpy(rng, n):
    A = rng.standard_normal((n, n))
    A = A + A.T
    values, vectors = solvers.eigh(A, n_threads=2)
    expected_values, expected_vectors = np.linalg.eigh(A)
    scale = np.max(np.abs(expected_values))
    # Two backward-stable dsyevd runs: values agree to ~n eps of the spectral radius.
    assert np.max(np.abs(values - expected_values)) <= 1e-10 * scale
    # Vectors agree up to sign (the spectrum of a random symmetric matrix is simple).
    signs = np.sign(np.sum(vectors * expected_vectors, axis=0))
    np.testing.assert_allclose(vectors * signs, expected_vectors, atol=1e-8)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(n), atol=1e-12)


def test_values_only_path(rng):
    A = rng.standard_normal((250, 40))
    K = A @ A.T / 40  # rank 40: 210 zero eigenvalues
    values = solvers.eigvalsh(K)
    assert values.shape == (250,)
    expected = np.linalg.eigvalsh(K)
    assert np.max(np.abs(values - expected)) <= 1e-10 * expected[-1]
    np.testing.assert_array_equal(solvers.eigh(K, values_only=True), values)


def test_eigh_float32(rng):
    A = rng.standard_normal((60, 60))
    A = (A + A.T).astype(np.float32)
    values, vectors = solvers.eigh(A)
    assert values.dtype == np.float32 and vectors.dtype == np.float32
    expected = np.linalg.eigvalsh(A.astype(np.float64))
    assert np.max(np.abs(values - expected)) <= 1e-5 * np.max(np.abs(expected))


def test_eigh_bad_input(rng):
    A = rng.standard_normal((5, 5))
    with pytest.raises(ValueError, match="`a`.*symmetric"):
        solvers.eigh(A)
    with pytest.raises(ValueError, match="`a`.*square"):
        solvers.eigh(np.ones((3, 4)))
    bad = A + A.T
    bad[1, 2] = bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="`a`.*NaN"):
        solvers.eigh(bad)
    with pytest.raises(ValueError, match="`a`"):
        solvers.eigh(np.ones(4))
    with pytest.raises(TypeError, match="`a`"):
        solvers.eigh(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match="`n_threads`"):
        solvers.eigh(np.eye(3), n_threads=-1)


# ---- ridge solves --------------------------------------------------------------------------------


@pytest.mark.parametrize("P,N", [(80, 30), (30, 80)])  # primal branch (N < P), dual (N >= P)
@pytest.mark.parametrize("k", [None, 3])  # single output, multi-output
def test_ridge_forms_match_numpy(rng, P, N, k):
    Phi = _features(rng, P, N)
    y = rng.standard_normal(P if k is None else (P, k))
    ridge = 1e-3
    expected = _numpy_weights(Phi, y, ridge)
    for solver in ("auto", "primal", "dual"):
        w = solvers.ridge_weights(Phi, y, ridge, solver=solver)
        assert w.shape == expected.shape
        assert _relative_error(w, expected) < 1e-8, solver
    assert solvers.choose_solver(P, N) == ("primal" if N < P else "dual")

    K = Phi @ Phi.T / N
    alpha = solvers.ridge_dual_coef(K, y, ridge)
    assert alpha.shape == y.shape
    np.testing.assert_allclose((K + P * ridge * np.eye(P)) @ alpha, y, atol=1e-9)


def test_ridge_float32(rng):
    Phi = _features(rng, 50, 20)
    y = rng.standard_normal(50)
    w = solvers.ridge_weights(Phi.astype(np.float32), y, 1e-2)
    assert w.dtype == np.float32
    assert _relative_error(w, _numpy_weights(Phi, y, 1e-2)) < 1e-4


def test_ridge_zero_singular_raises_linalg_error(rng):
    Phi = _features(rng, 40, 10)  # K = Phi Phi^T / N has rank 10 < P = 40
    K = Phi @ Phi.T / 10
    with pytest.raises(scalinglab.LinAlgError, match="positive definite"):
        solvers.ridge_dual_coef(K, rng.standard_normal(40), 0.0)
    # numpy code that catches numpy's LinAlgError catches ours too.
    assert issubclass(scalinglab.LinAlgError, np.linalg.LinAlgError)
    # ridge = 0 with a full-rank Gram (N > P) is fine: it interpolates.
    Phi = _features(rng, 20, 60)
    K = Phi @ Phi.T / 60
    y = rng.standard_normal(20)
    np.testing.assert_allclose(K @ solvers.ridge_dual_coef(K, y, 0.0), y, atol=1e-8)


def test_ridge_bad_input(rng):
    K = np.eye(4)
    y = np.ones(4)
    with pytest.raises(ValueError, match="`ridge`"):
        solvers.ridge_dual_coef(K, y, -1.0)
    with pytest.raises(ValueError, match="`ridge`"):
        solvers.ridge_dual_coef(K, y, np.inf)
    with pytest.raises(ValueError, match="`y`.*4 rows"):
        solvers.ridge_dual_coef(K, np.ones(3), 1.0)
    with pytest.raises(ValueError, match="`y`.*NaN"):
        solvers.ridge_dual_coef(K, np.array([1.0, np.nan, 0, 0]), 1.0)
    with pytest.raises(ValueError, match="`gram`.*NaN"):
        solvers.ridge_dual_coef(np.full((4, 4), np.inf), y, 1.0)
    with pytest.raises(ValueError, match="`gram`.*square"):
        solvers.ridge_dual_coef(np.ones((4, 3)), y, 1.0)
    with pytest.raises(ValueError, match="`gram`.*symmetric"):
        solvers.ridge_dual_coef(np.triu(np.ones((4, 4))), y, 1.0)
    with pytest.raises(ValueError, match="`solver`"):
        solvers.ridge_weights(np.ones((4, 2)), y, 1.0, solver="cholesky")
    with pytest.raises(ValueError, match="`y`"):
        solvers.ridge_primal_weights(np.ones((4, 2)), np.ones((4, 2, 2)), 1.0)


def test_gram_too_large_raises_memory_error_before_work():
    # A 10^6 x 10^6 Gram (8 TB) is refused by size before anything is allocated or solved.
    huge = np.lib.stride_tricks.as_strided(np.zeros(1), shape=(10**6, 10**6), strides=(0, 0))
    with pytest.raises(MemoryError, match="`gram`"):
        solvers.ridge_path(huge, np.zeros(10**6), [1.0])
    with pytest.raises(MemoryError, match="`a`"):
        solvers.eigh(huge)


# ---- ridge path ----------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [None, 4])
def test_ridge_path_equals_separate_solves(rng, k):
    P, N, m = 60, 90, 25
    Phi = _features(rng, P + m, N)
    K_all = Phi @ Phi[:P].T / N
    K, K_test = K_all[:P], K_all[P:]
    y = rng.standard_normal(P if k is None else (P, k))
    ridges = [1e-4, 1e-2, 1.0]
    path = solvers.RidgePath(K, y)
    np.testing.assert_allclose(path.eigenvalues, np.linalg.eigvalsh(K), atol=1e-12)
    test_predictions = path.predict(K_test, ridges)
    train_predictions = path.predict_train(ridges)
    assert test_predictions.shape == (3, m) + (() if k is None else (k,))
    for i, ridge in enumerate(ridges):
        alpha = np.linalg.solve(K + P * ridge * np.eye(P), y)
        assert _relative_error(path.dual_coef(ridge), alpha) < 1e-8
        assert _relative_error(test_predictions[i], K_test @ alpha) < 1e-8
        assert _relative_error(train_predictions[i], K @ alpha) < 1e-8


def test_ridge_path_in_several_products_equals_one_product(rng):
    # All ridges go through one GEMM, in chunks of at most 2^24 result elements: with P = 300
    # and k = 600 outputs that is 93 ridges per product, so 200 ridges take three products.
    P, k = 300, 600
    Phi = _features(rng, P, 80)
    K = Phi @ Phi.T / 80
    y = rng.standard_normal((P, k))
    ridges = np.logspace(-5, 1, 200)
    path = solvers.RidgePath(K, y, n_threads=1)
    chunked = path.predict_train(ridges)
    assert chunked.shape == (200, P, k)
    for i in (0, 92, 93, 186, 199):  # both sides of each chunk boundary
        single = path.predict_train([ridges[i]])[0]
        assert _relative_error(chunked[i], single) < 1e-13
        alpha = np.linalg.solve(K + P * ridges[i] * np.eye(P), y)
        assert _relative_error(chunked[i], K @ alpha) < 1e-7


def test_ridge_path_table(rng):
    P, N, m = 50, 40, 30
    Phi = _features(rng, P + m, N)
    y_all = Phi @ rng.standard_normal(N) / np.sqrt(N) + 0.1 * rng.standard_normal(P + m)
    K_all = Phi @ Phi[:P].T / N
    ridges = np.logspace(-4, 1, 6)
    table = solvers.ridge_path(K_all[:P], y_all[:P], ridges, gram_test=K_all[P:],
                               y_test=y_all[P:])
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["ridge", "train_loss", "test_loss"]
    assert len(table) == 6
    for row in table.itertuples():
        alpha = np.linalg.solve(K_all[:P] + P * row.ridge * np.eye(P), y_all[:P])
        expected = np.mean((K_all[P:] @ alpha - y_all[P:]) ** 2)
        assert abs(row.test_loss - expected) < 1e-8 * expected
    # Train error grows monotonically with the ridge.
    assert np.all(np.diff(table["train_loss"].to_numpy()) > 0)
    with pytest.raises(ValueError, match="`ridges`"):
        solvers.ridge_path(K_all[:P], y_all[:P], [1.0, -1.0])
    with pytest.raises(ValueError, match="both or neither"):
        solvers.ridge_path(K_all[:P], y_all[:P], ridges, gram_test=K_all[P:])


def test_ridge_path_zero_ridge_is_minimum_norm_interpolator(rng):
    # N < P: K is singular; at ridge 0 the path gives the pseudo-inverse solution, whose fitted
    # values are the least-squares projection of y onto the features' column space.
    P, N = 50, 12
    Phi = _features(rng, P, N)
    K = Phi @ Phi.T / N
    y = rng.standard_normal(P)
    fitted = solvers.RidgePath(K, y).predict_train([0.0])[0]
    least_squares = Phi @ np.linalg.lstsq(Phi, y, rcond=None)[0]
    np.testing.assert_allclose(fitted, least_squares, atol=1e-8)
    alpha = solvers.RidgePath(K, y).dual_coef(0.0)
    np.testing.assert_allclose(alpha, np.linalg.pinv(K, rcond=1e-10) @ y, atol=1e-6)


def test_plot_ridge_path(rng):
    figure_module = pytest.importorskip("matplotlib.figure")
    from scalinglab.plot import plot_ridge_path

    Phi = _features(rng, 40, 30)
    K = Phi @ Phi.T / 30
    table = solvers.ridge_path(K[:30, :30], rng.standard_normal(30), [1e-3, 1e-2, 1e-1],
                               gram_test=K[30:, :30], y_test=rng.standard_normal(10))
    ax = figure_module.Figure().add_subplot()
    assert plot_ridge_path(table, ax=ax) is ax
    train_line, test_line = ax.get_lines()
    np.testing.assert_allclose(test_line.get_ydata(), table["test_loss"])

