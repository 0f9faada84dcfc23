"""Eigendecomposition and ridge solves: scalinglab against scipy/numpy in the same run.

Run (about three minutes on 2 cores; -s prints the ratios):

    PYTHONPATH=python python -m pytest bench/bench_solvers.py -s --benchmark-only \
        --benchmark-columns=min,median,rounds

Groups
------
eigh-P4000 / eigh-P1000
    Eigenvalues and eigenvectors of a symmetric positive semi-definite matrix (a Wishart-like
    Gram A A^T / P). ``scalinglab.solvers.eigh`` (LAPACK dsyevd from the scipy-openblas32 wheel)
    against ``scipy.linalg.eigh(driver="evd")`` (the same algorithm from scipy's own OpenBLAS)
    and ``numpy.linalg.eigh`` (also dsyevd, numpy's OpenBLAS). Target: scalinglab within 1.1x
    of scipy's evd at P = 4000.
eigvalsh-P4000
    Values only: ``scalinglab.solvers.eigvalsh`` against ``scipy.linalg.eigh(driver="evd",
    eigvals_only=True)`` and ``numpy.linalg.eigvalsh``.
ridge-dual-P4000
    (K + P ridge I)^{-1} Y for 10 outputs: ``scalinglab.solvers.ridge_dual_coef`` (Cholesky)
    against ``numpy.linalg.solve`` (LU) and ``scipy.linalg.solve(assume_a="pos")`` (Cholesky).
ridge-path-P1500
    P = 1500 train, 500 test points, 10 outputs, predictions at 20 ridges: one ``RidgePath``
    (one eigendecomposition) against 20 separate Cholesky solves with ``ridge_dual_coef``.

Threads: ``SCALINGLAB_BENCH_THREADS`` (default 0 = all cores) for scalinglab's ``n_threads``,
and the same count for numpy's and scipy's OpenBLAS through threadpoolctl (when installed). On
a machine shared with other work use 1: threaded OpenBLAS pools spin while waiting, and three
of them in one process (numpy's, scipy's and the scipy-openblas32 one that scalinglab links)
plus foreign load made the 2-thread timings swing by 3x between rounds.
Ratios of best rounds (time / time of the baseline) are printed and stored in extra_info.
"""

from __future__ import annotations


import numpy as np
import pytest
import scipy.linalg

from scalinglab import solvers

RIDGES = list(np.logspace(-6, 0, 20))


def _gram(P: int, seed: int = 0) -> np.ndarray:
    """A P x P Gram with a spread spectrum: A A^T / P for A of shape (P, P)."""
    A = np.random.default_rng(seed).standard_normal((P, P))
    K = A @ A.T
    K /= P
    return K


@pytest.fixture(scope="module")
def grams():
    return {P: _gram(P) for P in (1000, 2000, 4000)}


def _rounds(P: int) -> int:
    return 3 if P >= 4000 else 5


# ---- eigh ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("P", [1000, 4000])
def test_eigh_scipy_evd(benchmark, grams, P, record):
    benchmark.group = f"eigh-P{P}"
    K = grams[P]
    benchmark.pedantic(lambda: scipy.linalg.eigh(K, driver="evd"), rounds=_rounds(P),
                       iterations=1, warmup_rounds=1)
    record(benchmark, f"eigh-P{P}-scipy_evd")


@pytest.mark.parametrize("P", [1000, 4000])
def test_eigh_numpy(benchmark, grams, P, record):
    benchmark.group = f"eigh-P{P}"
    K = grams[P]
    benchmark.pedantic(lambda: np.linalg.eigh(K), rounds=_rounds(P), iterations=1,
                       warmup_rounds=1)
    record(benchmark, f"eigh-P{P}-numpy", f"eigh-P{P}-scipy_evd")


@pytest.mark.parametrize("P", [1000, 4000])
def test_eigh_scalinglab(benchmark, grams, P, record, bench_threads):
    benchmark.group = f"eigh-P{P}"
    K = grams[P]
    values, vectors = benchmark.pedantic(lambda: solvers.eigh(K, n_threads=bench_threads),
                                         rounds=_rounds(P), iterations=1, warmup_rounds=1)
    # Same answer as scipy (values to ~P eps of the largest).
    reference = scipy.linalg.eigh(K, eigvals_only=True, driver="evd")
    assert np.max(np.abs(values - reference)) < 1e-10 * reference[-1]
    record(benchmark, f"eigh-P{P}-scalinglab", f"eigh-P{P}-scipy_evd")


def test_eigvalsh_scipy_evd(benchmark, grams, record):
    benchmark.group = "eigvalsh-P4000"
    K = grams[4000]
    benchmark.pedantic(lambda: scipy.linalg.eigh(K, driver="evd", eigvals_only=True), rounds=3,
                       iterations=1, warmup_rounds=1)
    record(benchmark, "eigvalsh-P4000-scipy_evd")


def test_eigvalsh_numpy(benchmark, grams, record):
    benchmark.group = "eigvalsh-P4000"
    K = grams[4000]
    benchmark.pedantic(lambda: np.linalg.eigvalsh(K), rounds=3, iterations=1, warmup_rounds=1)
    record(benchmark, "eigvalsh-P4000-numpy", "eigvalsh-P4000-scipy_evd")


def test_eigvalsh_scalinglab(benchmark, grams, record, bench_threads):
    benchmark.group = "eigvalsh-P4000"
    K = grams[4000]
    benchmark.pedantic(lambda: solvers.eigvalsh(K, n_threads=bench_threads), rounds=3, iterations=1,
                       warmup_rounds=1)
    record(benchmark, "eigvalsh-P4000-scalinglab", "eigvalsh-P4000-scipy_evd")


# ---- ridge ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def targets():
    return np.random.default_rng(1).standard_normal((4000, 10))


def _shifted(K: np.ndarray, ridge: float) -> np.ndarray:
    M = K.copy()
    M[np.diag_indices_from(M)] += K.shape[0] * ridge
    return M


def test_ridge_numpy_solve(benchmark, grams, targets, record):
    benchmark.group = "ridge-dual-P4000"
    K = grams[4000]
    benchmark.pedantic(lambda: np.linalg.solve(_shifted(K, 1e-3), targets), rounds=3,
                       iterations=1, warmup_rounds=1)
    record(benchmark, "ridge-P4000-numpy_solve")


def test_ridge_scipy_cholesky(benchmark, grams, targets, record):
    benchmark.group = "ridge-dual-P4000"
    K = grams[4000]
    benchmark.pedantic(
        lambda: scipy.linalg.solve(_shifted(K, 1e-3), targets, assume_a="pos",
                                   overwrite_a=True),
        rounds=3, iterations=1, warmup_rounds=1)
    record(benchmark, "ridge-P4000-scipy_pos", "ridge-P4000-numpy_solve")


def test_ridge_scalinglab(benchmark, grams, targets, record, bench_threads):
    benchmark.group = "ridge-dual-P4000"
    K = grams[4000]
    alpha = benchmark.pedantic(
        lambda: solvers.ridge_dual_coef(K, targets, 1e-3, n_threads=bench_threads), rounds=3,
        iterations=1, warmup_rounds=1)
    expected = np.linalg.solve(_shifted(K, 1e-3), targets)
    assert np.max(np.abs(alpha - expected)) < 1e-8 * np.max(np.abs(expected))
    record(benchmark, "ridge-P4000-scalinglab", "ridge-P4000-numpy_solve")


def test_ridge_path_separate_solves(benchmark, grams, targets, record, bench_threads):
    benchmark.group = "ridge-path-P1500"
    K, Y = grams[2000][:1500, :1500].copy(), targets[:1500]
    K_test = grams[2000][1500:, :1500].copy()

    def separate():
        return [K_test @ solvers.ridge_dual_coef(K, Y, ridge, n_threads=bench_threads)
                for ridge in RIDGES]

    benchmark.pedantic(separate, rounds=3, iterations=1, warmup_rounds=1)
    record(benchmark, "ridge-path-separate")


def test_ridge_path_one_eigh(benchmark, grams, targets, record, bench_threads):
    benchmark.group = "ridge-path-P1500"
    K, Y = grams[2000][:1500, :1500].copy(), targets[:1500]
    K_test = grams[2000][1500:, :1500].copy()
    predictions = benchmark.pedantic(
        lambda: solvers.RidgePath(K, Y, n_threads=bench_threads).predict(K_test, RIDGES), rounds=3,
        iterations=1, warmup_rounds=1)
    expected = K_test @ solvers.ridge_dual_coef(K, Y, RIDGES[5])
    assert np.max(np.abs(predictions[5] - expected)) < 1e-6 * np.max(np.abs(expected))
    record(benchmark, "ridge-path-one_eigh", "ridge-path-separate")
