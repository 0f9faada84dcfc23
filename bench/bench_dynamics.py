"""Learning curves: one eigendecomposition against iterating GD, and the Wishart shortcut.

Run (about five minutes on 2 cores; -s prints the ratios):

    PYTHONPATH=python python -m pytest bench/bench_dynamics.py -s --benchmark-only \
        --benchmark-columns=min,median,rounds

Groups
------
gd-curve-P2000-t1e4, gd-curve-P2000-t1e5
    A 200-point gradient-descent learning curve (test and train loss at 200 distinct
    log-spaced steps from 1 to t_max; eta = 0.5) of the linear random-feature model with
    N = 1000, P = 2000 on the power-law task a = 2, b = 1.5, M = 2000.
    ``scalinglab.dynamics.learning_curve(method="gd")`` end to end (drawing A and Psi, forming
    F = Psi A^T / sqrt(N), one eigendecomposition, all 200 points as GEMMs) against iterating
    w <- w + eta F^T (y - F w) / P in numpy on the same draws (F, y and A given, so only the
    iteration and the loss evaluations are timed). The spectral cost does not depend on t_max;
    the iteration's grows linearly. t_max = 1e5 is where this curve reaches its plateau (the
    smallest kernel eigenvalues are ~ lambda_N = N^-1.5 = 3e-5, so eta mu t ~ 1 at t ~ 6e4).
    Target >= 50x.
wishart-N1e5-M2000
    A 200-point GF curve at N = 1e5, P = 4000, M = 2000: the Wishart path (A^T A / N and
    Psi^T Psi / P sampled by Bartlett, cost independent of N and P) against explicit
    projections (A drawn, A^T A formed: O(N M^2); the feature route F = Psi A^T would be
    O(P N M) and a 4000 x 4000 eigendecomposition). The Wishart path is also timed at N = 1e7,
    where explicit projections would need 160 GB.

Everything runs on one thread by default (``DEFAULT_BENCH_THREADS = 1``: scalinglab
``n_threads=1``, numpy limited to one BLAS thread; ``SCALINGLAB_BENCH_THREADS`` overrides both):
the benchmark machine's two cores are shared, and multi-threaded LAPACK is erratic there.
Ratios of best rounds, ratio = ours / baseline (bench/conftest.py), are printed and stored in
extra_info.
"""

from __future__ import annotations

import numpy as np
import pytest

from scalinglab import _core
from scalinglab._rng import seed_from_rng
from scalinglab.dynamics import learning_curve
from scalinglab.tasks import PowerLawTask

threadpoolctl = pytest.importorskip("threadpoolctl")

DEFAULT_BENCH_THREADS = 1  # see the module docstring

CURVES: dict[str, np.ndarray] = {}

CURVE_TASK = PowerLawTask(2.0, 1.5, 2000)
CURVE_N, CURVE_P, ETA = 1000, 2000, 0.5


def _log_steps(t_max: float, count: int = 200) -> np.ndarray:
    """`count` distinct integer steps, log-spaced from 1 to t_max."""
    n = count
    while True:
        steps = np.unique(np.round(np.geomspace(1, t_max, n)))
        if steps.size >= count:
            return steps[np.round(np.linspace(0, steps.size - 1, count)).astype(int)]
        n += 1


CURVE_STEPS = {"t1e4": _log_steps(1e4), "t1e5": _log_steps(1e5)}
WISHART_TASK = PowerLawTask(2.0, 1.5, 2000)
WISHART_TIMES = np.logspace(-1, 5, 200)


# ---- gd-curve-P2000 ------------------------------------------------------------------------


def _numpy_gd_curve(F, y, A, task, steps, eta):
    """GD by iteration, recording the exact test loss and the train loss at `steps`."""
    P, N = F.shape
    lam, w_star = task.spectrum, task.target
    w = np.zeros(N)
    test, train = [], []
    step = 0
    for target in steps:
        while step < target:
            w += (eta / P) * (F.T @ (y - F @ w))
            step += 1
        v = w_star - A.T @ w / np.sqrt(N)
        test.append(lam @ v**2)
        train.append(np.mean((y - F @ w) ** 2))
    return np.array(test), np.array(train)


@pytest.mark.parametrize("horizon", ["t1e4", "t1e5"])
def test_gd_curve_numpy_iteration(benchmark, horizon, record):
    benchmark.group = f"gd-curve-P2000-{horizon}"
    key = _core.random.derive_seed(seed_from_rng(0), 0)
    psi, eps = _core.dynamics.data_rows(CURVE_TASK.spectrum, CURVE_TASK.target, 0.0, key, 0, CURVE_P)
    A = _core.dynamics.projection_rows(key, 0, CURVE_N, CURVE_TASK.M)
    F = psi @ A.T / np.sqrt(CURVE_N)
    y = psi @ CURVE_TASK.target + eps
    result = benchmark.pedantic(
        lambda: _numpy_gd_curve(F, y, A, CURVE_TASK, CURVE_STEPS[horizon], ETA), rounds=1,
        iterations=1,
    )
    CURVES[f"numpy-{horizon}"] = result[0]
    record(benchmark, f"gd-curve-numpy-{horizon}")


@pytest.mark.parametrize("horizon", ["t1e4", "t1e5"])
def test_gd_curve_scalinglab(benchmark, horizon, record, bench_threads):
    benchmark.group = f"gd-curve-P2000-{horizon}"

    def run():
        return learning_curve(CURVE_TASK, N=CURVE_N, P=CURVE_P, t=CURVE_STEPS[horizon],
                              method="gd", learning_rate=ETA, rng=0, n_threads=bench_threads)

    frame = benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0)
    if f"numpy-{horizon}" in CURVES:  # same draws: the two curves must coincide
        rel = np.max(np.abs(frame["test_loss"].to_numpy() / CURVES[f"numpy-{horizon}"] - 1))
        benchmark.extra_info["max_rel_diff_to_numpy"] = rel
        print(f"\nmax relative difference to the numpy iteration: {rel:.2e}")
        assert rel < 1e-8
    record(benchmark, f"gd-curve-scalinglab-{horizon}", f"gd-curve-numpy-{horizon}")


# ---- wishart-N1e5-M2000 --------------------------------------------------------------------


def test_wishart_explicit_projections(benchmark, record, bench_threads):
    benchmark.group = "wishart-N1e5-M2000"

    def run():
        return learning_curve(WISHART_TASK, N=10**5, P=4000, t=WISHART_TIMES, rng=0, n_threads=bench_threads)

    frame = benchmark.pedantic(run, rounds=1, iterations=1)
    CURVES["explicit"] = frame["test_loss"].to_numpy()
    record(benchmark, "wishart-explicit-N1e5")


@pytest.mark.parametrize("N", [10**5, 10**7])
def test_wishart_path(benchmark, N, record, bench_threads):
    benchmark.group = "wishart-N1e5-M2000"

    def run():
        return learning_curve(WISHART_TASK, N=N, P=4000, t=WISHART_TIMES, rng=0, wishart=True,
                              n_threads=bench_threads)

    frame = benchmark.pedantic(run, rounds=2, iterations=1)
    if N == 10**5 and "explicit" in CURVES:
        # Different draws, same law: one-seed curves agree to the seed-to-seed spread (~5%).
        rel = np.max(np.abs(frame["test_loss"].to_numpy() / CURVES["explicit"] - 1))
        benchmark.extra_info["max_rel_diff_to_explicit_one_seed"] = rel
        print(f"\nmax relative difference to the explicit curve (other draws): {rel:.3f}")
    record(benchmark, f"wishart-N{N:.0e}", "wishart-explicit-N1e5")
