"""Matrix-free top-k spectrum of a random-feature Gram (spectra.top_eigenvalues)."""

import numpy as np
import pytest

from scalinglab import RandomFeatures
from scalinglab.spectra import kernel_spectrum, top_eigenvalues


def _problem(P, N, d=6, seed=0):
    X = np.random.default_rng(seed).standard_normal((P, d))
    return X, RandomFeatures(d, N, "relu", rng=seed + 1)


def test_small_against_dense_and_report():
    X, features = _problem(500, 800)
    dense = kernel_spectrum(features.gram(X))
    result = top_eigenvalues(features, X, 60, tol=1e-8, max_iterations=300, rng=3,
                             return_vectors=True)
    assert result.converged and result.status == "converged" and result.n_converged == 60
    np.testing.assert_allclose(result.eigenvalues, dense[:60], rtol=1e-10)
    V = result.vectors
    np.testing.assert_allclose(V.T @ V, np.eye(60), atol=1e-10)
    # Same seed, same numbers for another thread count and feature block size.
    again = top_eigenvalues(features, X, 60, tol=1e-8, max_iterations=300, rng=3, n_threads=1,
                            block_size=128)
    np.testing.assert_allclose(again.eigenvalues, result.eigenvalues, rtol=1e-12)
    # Non-convergence is a readable status.
    short = top_eigenvalues(features, X, 60, tol=1e-8, max_iterations=2, rng=3)
    assert not short.converged and short.status == "max_iterations" and short.iterations == 2
    assert short.n_converged < 60 and "max_iterations" in str(short)


@pytest.mark.slow
def test_top500_at_P4000_top100_within_1e_8():
    """The issue's accuracy check: top 500 at P = 4000, top 100 within 1e-8 of dense eigvalsh."""
    X, features = _problem(4000, 1000, d=8)
    dense = np.sort(np.linalg.eigvalsh(features.gram(X)))[::-1]
    result = top_eigenvalues(features, X, 500, normalize=False, max_iterations=6, rng=0)
    relative = np.abs(result.eigenvalues - dense[:500]) / dense[:500]
    assert relative[:100].max() <= 1e-8, relative[:100].max()
    # After 6 passes the tail is not converged, and the report says so.
    assert result.status == "max_iterations" and 100 <= result.n_converged < 500


def test_bad_arguments():
    X, features = _problem(50, 100)
    with pytest.raises(ValueError, match="`k`"):
        top_eigenvalues(features, X, 51)
    with pytest.raises(ValueError, match="`X`"):
        top_eigenvalues(features, X[:, :3], 5)
    with pytest.raises(TypeError, match="`features`"):
        top_eigenvalues(np.eye(3), X, 5)
    with pytest.raises(ValueError, match="`tol`"):
        top_eigenvalues(features, X, 5, tol=0.0)
