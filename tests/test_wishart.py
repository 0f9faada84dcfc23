"""The exact Gaussian shortcut: Wishart sampling (Bartlett) and the learning curves built on it.

A^T A (A: N x M, i.i.d. N(0,1)) and [Z, xi]^T [Z, xi] (the data Gram augmented with the noise
direction) are Wishart matrices; sampling them directly makes the cost O(M^3) whatever N and P
are. The learning curves must agree in distribution with the explicit simulation.
"""

import numpy as np
import pytest
from scipy import special, stats

from scalinglab import _core
from scalinglab.dynamics import learning_curve
from scalinglab.tasks import PowerLawTask


@pytest.mark.parametrize("dof", [1.0, 2.5, 7.0, 40.0])
def test_chi_square_distribution(dof):
    # Kolmogorov-Smirnov against scipy's chi^2 (covers both branches of the gamma sampler:
    # shape dof/2 < 1 and >= 1). Fixed seed; p > 1e-3.
    x = _core.chi_square(5, dof, 20000)
    assert stats.kstest(x, stats.chi2(dof).cdf).pvalue > 1e-3
    assert np.all(x > 0)


def test_chi_square_large_dof_moments():
    dof, n = 1e5, 20000
    x = _core.chi_square(6, dof, n)
    assert abs(x.mean() - dof) < 4 * np.sqrt(2 * dof / n)
    # Var = 2 dof; the standard error of a sample variance is ~ sqrt(2/n) Var for near-normal x.
    assert abs(x.var() / (2 * dof) - 1) < 4 * np.sqrt(2 / n)
    assert stats.kstest(x, stats.chi2(dof).cdf).pvalue > 1e-3


def test_chi_square_is_a_function_of_its_counter():
    a = _core.chi_square(9, 3.0, 100)
    b = _core.chi_square(9, 3.0, 50)
    np.testing.assert_array_equal(a[:50], b)
    assert not np.array_equal(a, _core.chi_square(10, 3.0, 100))


def test_bartlett_factor_structure():
    L = _core.bartlett_factor(3, 6, 10)
    assert L.shape == (6, 6)
    assert np.all(np.triu(L, 1) == 0) and np.all(np.diag(L) > 0)
    np.testing.assert_array_equal(L, _core.bartlett_factor(3, 6, 10))
    # Entry (i, j) depends on (seed, i, j, n) only, so a smaller M is the leading block.
    np.testing.assert_array_equal(_core.bartlett_factor(3, 4, 10), L[:4, :4])
    with pytest.raises(ValueError, match="`n`"):
        _core.bartlett_factor(3, 6, 5)


@pytest.mark.parametrize("n", [2, 4, 9])
def test_wishart_moments(n):
    # E W = n I, Var W_ij = n (1 + delta_ij) for W ~ W_M(n, I); n < M is the singular case
    # (explicit G^T G), n >= M the Bartlett case.
    M, draws = 4, 4000
    W = np.array([_core.wishart(s, M, n) for s in range(draws)])
    np.testing.assert_allclose(W, np.transpose(W, (0, 2, 1)))
    mean, var = W.mean(axis=0), W.var(axis=0)
    expected_var = n * (1 + np.eye(M))
    assert np.all(np.abs(mean - n * np.eye(M)) < 4 * np.sqrt(expected_var / draws))
    # Fourth moments of Wishart entries: Var of the sample variance <~ 10 Var^2 / draws here.
    assert np.all(np.abs(var / expected_var - 1) < 4 * np.sqrt(10 / draws))
    ranks = np.linalg.matrix_rank(W[:20])
    assert np.all(ranks == min(n, M))


def test_wishart_log_determinant_and_explicit_samples():
    # E log det W = sum_{i<M} digamma((n - i)/2) + M log 2: sensitive to every Bartlett degree
    # of freedom. And a two-sample KS test of log det against explicit numpy G^T G samples.
    M, n, draws = 5, 8, 4000
    logdet = np.array([np.linalg.slogdet(_core.wishart(100 + s, M, n))[1] for s in range(draws)])
    expected = special.digamma((n - np.arange(M)) / 2).sum() + M * np.log(2)
    assert abs(logdet.mean() - expected) < 4 * logdet.std() / np.sqrt(draws)
    rng = np.random.default_rng(0)
    explicit = np.array([np.linalg.slogdet(g.T @ g)[1] for g in rng.standard_normal((draws, n, M))])
    assert stats.ks_2samp(logdet, explicit).pvalue > 1e-3


# ---------------------------------------------------------------------------------------------
# Learning curves: Wishart path vs explicit projections
# ---------------------------------------------------------------------------------------------

TASK = PowerLawTask(2.0, 1.5, 150, noise=0.1)
TIMES = [1.0, 10.0, 100.0, 1000.0]


def _compare(kwargs, seeds=40, sigmas=3.0):
    explicit = learning_curve(TASK, t=TIMES, seeds=seeds, rng=1, **kwargs)
    wishart = learning_curve(TASK, t=TIMES, seeds=seeds, rng=2, wishart=True, **kwargs)
    for column in ("test_loss", "train_loss"):
        a = explicit.groupby(["N", "P", "t"])[column]
        b = wishart.groupby(["N", "P", "t"])[column]
        z = ((a.mean() - b.mean()) / np.sqrt(a.sem() ** 2 + b.sem() ** 2)).to_numpy()
        assert np.all(np.abs(z) < sigmas), (column, z)


@pytest.mark.parametrize(
    "N, P, E",
    [
        (300, 600, 1),  # N, P >= M: Bartlett on both sides
        (60, 600, 1),   # N < M: singular projection Wishart (explicit rows)
        (300, 80, 2),   # P < M: singular data Wishart; ensemble train loss from the statistics
    ],
)
def test_wishart_path_agrees_with_explicit_projections(N, P, E):
    # Means within 3 standard errors over 40 independent seeds per path, test and train loss at
    # four times (8 comparisons per case).
    _compare(dict(N=N, P=P, ensemble=E))


def test_nested_wishart_grid_agrees_with_explicit():
    # Nested widths and sizes crossing M add independent Wishart increments (60 explicit rows,
    # then a W_M(240) increment; P: 80 then 520 more samples), plus P = infinity. 6 grid points x
    # 4 times x 2 losses = 48 comparisons: 3.5 standard errors keeps the chance of a false alarm
    # per run near 2%.
    _compare(dict(N=[60, 300], P=[80, 600, np.inf]), seeds=30, sigmas=3.5)


def test_fully_infinite_point_is_the_same_on_both_paths():
    # N = P = infinity samples nothing: both paths give the deterministic closed form.
    a = learning_curve(TASK, N=np.inf, P=np.inf, t=TIMES, rng=0)
    b = learning_curve(TASK, N=np.inf, P=np.inf, t=TIMES, rng=0, wishart=True)
    np.testing.assert_allclose(a["test_loss"], b["test_loss"], rtol=1e-12)


def test_wishart_cost_does_not_grow_with_N_and_P():
    # N = P = 1e12 would need 8e12 * M bytes explicitly; the Wishart path only draws M x M
    # matrices (chi^2 with 1e12 degrees of freedom on the diagonal), and the curve sits on the
    # infinite limit to ~1/sqrt(N).
    task = PowerLawTask(2.0, 1.5, 50)
    t = np.array([1.0, 10.0, 100.0])
    frame = learning_curve(task, N=10**12, P=10**12, t=t, rng=0, wishart=True)
    np.testing.assert_allclose(frame["test_loss"], task.infinite_width_loss(t), rtol=1e-4)
