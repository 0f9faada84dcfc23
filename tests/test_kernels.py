"""Analytic kernels: closed forms vs Monte Carlo, special values, and the convergence of the
random-feature Gram to its infinite-width limit with the N^-1/2 rate."""

import numpy as np
import pytest
from scipy.special import erf

import scalinglab._validation as validation
from scalinglab.features import RandomFeatures
from scalinglab.kernels import (
    ANALYTIC_ACTIVATIONS,
    arccos_kernel,
    arcsin_kernel,
    infinite_width_kernel,
    linear_kernel,
    rbf_kernel,
)


def monte_carlo(feature, X, n_samples, seed, with_phase=False):
    """E_w[f(w.x) f(w.y)] estimated with numpy's own RNG, and the standard error of each entry."""
    generator = np.random.default_rng(seed)
    W = generator.standard_normal((n_samples, X.shape[1]))
    Z = X @ W.T
    if with_phase:
        Z = Z + generator.uniform(0.0, 2 * np.pi, n_samples)
    phi = feature(Z)
    n = X.shape[0]
    mean = phi @ phi.T / n_samples
    se = np.empty((n, n))
    for i in range(n):
        products = phi[i] * phi  # (n, n_samples)
        se[i] = products.std(axis=1) / np.sqrt(n_samples)
    return mean, se


# Points of varied norms, including a pair at a small angle and a near-antiparallel pair.
def sample_points():
    generator = np.random.default_rng(17)
    X = generator.standard_normal((5, 4)) * np.array([[0.5], [1.0], [1.5], [0.8], [1.2]])
    X = np.vstack([X, X[1] + 0.05 * generator.standard_normal(4), -0.9 * X[2]])
    return X


CASES = {
    "arccos0": (lambda X: arccos_kernel(X, degree=0), lambda z: (z > 0).astype(float), False),
    "arccos1": (lambda X: arccos_kernel(X, degree=1), lambda z: np.maximum(z, 0), False),
    "arccos2": (lambda X: arccos_kernel(X, degree=2), lambda z: np.maximum(z, 0) ** 2, False),
    "arcsin": (arcsin_kernel, erf, False),
    "linear": (linear_kernel, lambda z: z, False),
    "rbf": (lambda X: rbf_kernel(X), lambda z: np.sqrt(2) * np.cos(z), True),
    "cos": (lambda X: infinite_width_kernel("cos", X * 2.0), np.cos, False),  # u = x
    "sin": (lambda X: infinite_width_kernel("sin", X * 2.0), np.sin, False),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_closed_forms_match_monte_carlo(name):
    kernel, feature, with_phase = CASES[name]
    X = sample_points()
    # infinite_width_kernel scales by 1/sqrt(d) = 1/2 for d = 4: the inputs above were doubled.
    K = kernel(X)
    estimate, se = monte_carlo(feature, X, 400_000, seed=100 + sorted(CASES).index(name), with_phase=with_phase)
    # 5 standard errors per entry (64 entries: a false alarm has probability ~4e-5).
    assert np.all(np.abs(K - estimate) <= 5 * se + 1e-12), np.max(np.abs(K - estimate) / (se + 1e-300))


def test_special_values():
    x = np.array([[3.0, 4.0, 0.0]])  # |x| = 5
    y = np.array([[0.0, 0.0, 2.0]])  # orthogonal to x, |y| = 2
    # relu: E[relu(z)^2] = |x|^2 / 2; orthogonal: |x||y| / (2 pi); antiparallel: 0.
    assert arccos_kernel(x)[0, 0] == pytest.approx(12.5, rel=1e-14)
    assert arccos_kernel(x, y)[0, 0] == pytest.approx(10 / (2 * np.pi), rel=1e-14)
    assert arccos_kernel(x, -x)[0, 0] == pytest.approx(0.0, abs=1e-14)
    # degree 0: P(w.x > 0) = 1/2 on the diagonal, 1/4 for orthogonal vectors; degree 2: 3|x|^4/2.
    assert arccos_kernel(x, degree=0)[0, 0] == pytest.approx(0.5, rel=1e-14)
    assert arccos_kernel(x, y, degree=0)[0, 0] == pytest.approx(0.25, rel=1e-14)
    assert arccos_kernel(x, degree=2)[0, 0] == pytest.approx(1.5 * 625, rel=1e-14)
    assert arccos_kernel(np.zeros((1, 3)), x)[0, 0] == 0.0
    # arcsin: (2/pi) asin(2 * 25 / (1 + 50)).
    assert arcsin_kernel(x)[0, 0] == pytest.approx(2 / np.pi * np.arcsin(50 / 51), rel=1e-14)
    assert arcsin_kernel(x, y)[0, 0] == 0.0
    assert rbf_kernel(x, y, lengthscale=2.0)[0, 0] == pytest.approx(np.exp(-29 / 8), rel=1e-14)
    np.testing.assert_array_equal(rbf_kernel(x), [[1.0]])


def test_symmetric_positive_semidefinite_and_cross_consistent(rng):
    X = rng.standard_normal((40, 6))
    Y = rng.standard_normal((9, 6))
    for kernel in (linear_kernel, rbf_kernel, arccos_kernel, arcsin_kernel):
        K = kernel(X)
        np.testing.assert_array_equal(K, K.T)
        assert np.linalg.eigvalsh(K).min() > -1e-10 * np.abs(K).max()
        # The symmetric (syrk) path and the cross (gemm) path agree.
        np.testing.assert_allclose(kernel(X, X.copy()), K, rtol=0, atol=1e-12 * np.abs(K).max())
        full = kernel(np.vstack([X, Y]))
        np.testing.assert_allclose(kernel(X, Y), full[:40, 40:], rtol=0, atol=1e-12)
    np.testing.assert_allclose(linear_kernel(X, Y), X @ Y.T, rtol=1e-14, atol=1e-14)


def test_infinite_width_kernels_are_the_named_kernels_of_scaled_inputs(rng):
    d, lengthscale = 7, 1.3
    X = rng.standard_normal((12, d))
    U = X / (lengthscale * np.sqrt(d))
    limit = {a: infinite_width_kernel(a, X, lengthscale=lengthscale) for a in ANALYTIC_ACTIVATIONS}
    np.testing.assert_allclose(limit["linear"], U @ U.T, rtol=1e-13)
    np.testing.assert_allclose(limit["relu"], arccos_kernel(U, degree=1), rtol=1e-13)
    np.testing.assert_allclose(limit["erf"], arcsin_kernel(U), rtol=1e-13)
    np.testing.assert_allclose(limit["fourier"], rbf_kernel(X, lengthscale=lengthscale * np.sqrt(d)),
                               rtol=1e-13)
    # cos^2 + sin^2 features: the two halves add up to the RBF (cos(a - b) identity).
    np.testing.assert_allclose(limit["cos"] + limit["sin"], limit["fourier"], rtol=1e-13)
    # RandomFeatures exposes the same limit.
    rf = RandomFeatures(d, 10, "erf", rng=0, lengthscale=lengthscale)
    np.testing.assert_array_equal(rf.infinite_width_kernel(X), limit["erf"])


@pytest.mark.parametrize("activation", ANALYTIC_ACTIVATIONS)
def test_random_feature_gram_converges_at_rate_one_half(activation):
    """Max-abs error of the width-N Gram vs the analytic kernel ~ N^-1/2 over N in [1e2, 1e5].

    The log error is averaged over 8 seeds before the fit: a single seed's slope scatters by
    about +-0.07 (the max over entries of a random matrix), the average by ~0.025, so the
    +-0.1 band is four standard deviations wide.
    """
    X = np.random.default_rng(3).standard_normal((20, 10))
    widths = np.unique(np.round(np.logspace(2, 5, 13)).astype(int))
    K = infinite_width_kernel(activation, X)
    log_errors = []
    for seed in range(8):
        grams = RandomFeatures(10, widths[-1], activation, rng=seed).gram(X, checkpoints=widths)
        log_errors.append([np.log(np.abs(grams[N] - K).max()) for N in widths])
    slope = np.polyfit(np.log(widths), np.mean(log_errors, axis=0), 1)[0]
    assert slope == pytest.approx(-0.5, abs=0.1)


def test_float32_gram_converges_to_the_same_limit():
    X = np.random.default_rng(4).standard_normal((20, 10))
    K = infinite_width_kernel("relu", X)
    gram = RandomFeatures(10, 10**5, "relu", rng=1, dtype="float32").gram(X)
    # Error ~ 3 sqrt(Var / N) with Var ~ K^2: a few 1e-3 at N = 1e5, far above float32 rounding.
    assert np.abs(gram - K).max() < 0.02 * np.abs(K).max()


# ---- bad input ---------------------------------------------------------------------------------


def test_tanh_has_no_closed_form():
    with pytest.raises(ValueError, match="`activation`.*tanh.*no closed-form"):
        infinite_width_kernel("tanh", np.ones((2, 3)))
    with pytest.raises(ValueError, match="`activation`"):
        RandomFeatures(3, 10, "tanh", rng=0).infinite_width_kernel(np.ones((2, 3)))
    with pytest.raises(ValueError, match="`activation`: expected one of"):
        infinite_width_kernel("softplus", np.ones((2, 3)))


def test_bad_kernel_arguments():
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="`Y`"):
        linear_kernel(X, np.ones((3, 5)))
    with pytest.raises(ValueError, match="`X`"):
        rbf_kernel(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="`X`"):
        arcsin_kernel(np.ones(3))
    with pytest.raises(TypeError, match="`X`"):
        arccos_kernel(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="`Y`"):
        arccos_kernel(X, np.array([[np.inf, 0.0]]))
    with pytest.raises(ValueError, match="`degree`"):
        arccos_kernel(X, degree=3)
    with pytest.raises(TypeError, match="`degree`"):
        arccos_kernel(X, degree=1.0)
    with pytest.raises(ValueError, match="`lengthscale`"):
        rbf_kernel(X, lengthscale=-1.0)
    with pytest.raises(ValueError, match="`lengthscale`"):
        infinite_width_kernel("relu", X, lengthscale=0.0)
    with pytest.raises(ValueError, match="`n_threads`"):
        linear_kernel(X, n_threads=-2)


def test_kernel_that_does_not_fit_raises_memory_error(monkeypatch):
    monkeypatch.setattr(validation, "available_memory_bytes", lambda: float(2**30))
    big = np.zeros((20000, 2))
    with pytest.raises(MemoryError, match="`X`"):
        rbf_kernel(big)
    with pytest.raises(MemoryError, match="`Y`"):
        infinite_width_kernel("relu", big, big + 1.0)
