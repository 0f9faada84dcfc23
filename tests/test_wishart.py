"""The exact Gaussian shortcut: the learning curves built on Wishart sampling (the draws
themselves are tested in tests/test_core_bindings.py).

A^T A (A: N x M, i.i.d. N(0,1)) and [Z, xi]^T [Z, xi] (the data Gram augmented with the noise
direction) are Wishart matrices; sampling them directly makes the cost O(M^3) whatever N and P
are. The learning curves must agree in distribution with the explicit simulation.
"""

import numpy as np
import pytest

from scalinglab.dynamics import learning_curve
from scalinglab.tasks import PowerLawTask


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
