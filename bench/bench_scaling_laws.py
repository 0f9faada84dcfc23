"""Benchmark: the published Approach-3 recipe (Hoffmann et al. 2022 / Besiroglu et al. 2024):
4,500 grid starts + polish, then 4,000 bootstrap refits, on 240 points.

scalinglab (``fit_scaling_law(starts="grid", n_bootstrap=4000)``, compiled L-BFGS over starts and
resamples with OpenMP) against a plain SciPy loop doing the same work: ``scipy.optimize.minimize
(method="L-BFGS-B")`` with the analytic numpy gradient, once per start and once per resample
(tolerances ftol = 1e-15, gtol = 1e-12 so that it does not stop at the loss-scale trap). The SciPy
loop is timed on a fraction of the starts and resamples and scaled to the full recipe (it is
linear in their number; the fraction is printed).

Data: synthetic (Hoffmann et al.'s rounded law, 1% noise), 8 budgets x 30 sizes = 240 points.

Run either way:
    PYTHONPATH=python pytest bench/bench_scaling_laws.py --benchmark-only
    PYTHONPATH=python python bench/bench_scaling_laws.py
The thread count comes from SCALINGLAB_BENCH_THREADS (default 2).
"""

from __future__ import annotations

import os
import time

import numpy as np

from scalinglab import scaling_laws as sl

THREADS = int(os.environ.get("SCALINGLAB_BENCH_THREADS", "2"))
N_STARTS, N_BOOTSTRAP = 4500, 4000
FRACTION_STARTS, FRACTION_BOOTSTRAP = 300, 200  # what the SciPy loop is timed on


def _data():
    E, A, B, alpha, beta = 1.69, 406.4, 410.7, 0.34, 0.28
    G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
    a = beta / (alpha + beta)
    N, D = [], []
    for budget in np.geomspace(6e18, 3e21, 8):
        sizes = G * (budget / 6) ** a * np.logspace(-1, 1, 30)
        N += list(sizes)
        D += list(budget / (6 * sizes))
    N, D = np.array(N), np.array(D)
    loss = sl.chinchilla_law(N, D, E, A, B, alpha, beta)
    return N, D, loss * np.exp(0.01 * np.random.default_rng(0).standard_normal(N.size))


N, D, LOSS = _data()
X, Y, ELL = np.log(N), np.log(D), np.log(LOSS)
DELTA = 1e-3


def run_scalinglab(n_threads=THREADS):
    return sl.fit_scaling_law(N, D, LOSS, starts="grid", n_bootstrap=N_BOOTSTRAP, rng=42,
                              n_threads=n_threads, progress=False)


# ---- the plain SciPy loop ------------------------------------------------------------------


def _objective(theta, x, y, ell, weights):
    """Sum of Huber terms / delta^2 on log residuals and its analytic gradient (numpy)."""
    u_a, u_b, u_e, alpha, beta = theta
    terms = np.stack([u_a - alpha * x, u_b - beta * y, np.full_like(x, u_e)])
    m = terms.max(axis=0)
    w = np.exp(terms - m)
    s = w.sum(axis=0)
    r = m + np.log(s) - ell
    psi = np.clip(r, -DELTA, DELTA)
    f = np.sum(weights * psi * (r - 0.5 * psi)) / DELTA**2
    p = w / s
    q = weights * psi / DELTA**2
    grad = np.array([q @ p[0], q @ p[1], q @ p[2], -(q * p[0]) @ x, -(q * p[1]) @ y])
    return f, grad


def _minimize(start, weights):
    from scipy.optimize import minimize

    return minimize(_objective, start, args=(X, Y, ELL, weights), jac=True, method="L-BFGS-B",
                    options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 1000})


def run_scipy(n_starts=FRACTION_STARTS, n_bootstrap=FRACTION_BOOTSTRAP):
    grid = sl.chinchilla_grid()
    picks = np.linspace(0, len(grid) - 1, n_starts).astype(int)
    ones = np.ones(X.size)
    best = min((_minimize(grid[i], ones) for i in picks), key=lambda r: r.fun)
    rng = np.random.default_rng(42)
    for _ in range(n_bootstrap):
        counts = np.bincount(rng.integers(0, X.size, X.size), minlength=X.size).astype(float)
        _minimize(best.x, counts)
    return best


def scipy_full_recipe_seconds():
    """Seconds of the SciPy loop timed on a fraction, scaled to 4,500 starts + 4,000 resamples."""
    start = time.perf_counter()
    run_scipy(FRACTION_STARTS, 0)
    per_start = (time.perf_counter() - start) / FRACTION_STARTS
    start = time.perf_counter()
    run_scipy(1, FRACTION_BOOTSTRAP)
    per_resample = (time.perf_counter() - start - per_start) / FRACTION_BOOTSTRAP
    return per_start * N_STARTS + per_resample * N_BOOTSTRAP, per_start, per_resample


# ---- pytest-benchmark ----------------------------------------------------------------------

try:
    import pytest
except ImportError:  # plain `python bench/...` without pytest
    pytest = None

if pytest is not None:

    @pytest.mark.benchmark(group="chinchilla-recipe-4500-starts-4000-bootstraps-240-points")
    def test_scalinglab_recipe(benchmark):
        benchmark.pedantic(run_scalinglab, rounds=2, iterations=1)

    @pytest.mark.benchmark(group="chinchilla-recipe-4500-starts-4000-bootstraps-240-points")
    def test_scipy_lbfgsb_loop_fraction(benchmark):
        # 300 starts + 200 resamples (1/15 and 1/20 of the recipe): scale by the printed factors.
        benchmark.pedantic(run_scipy, rounds=1, iterations=1)


if __name__ == "__main__":
    ours = min(_time for _time in (
        (lambda t0: (run_scalinglab(), time.perf_counter() - t0)[1])(time.perf_counter())
        for _ in range(2)))
    ours_one = (lambda t0: (run_scalinglab(1), time.perf_counter() - t0)[1])(time.perf_counter())
    total, per_start, per_resample = scipy_full_recipe_seconds()
    print(f"scalinglab full recipe: {ours:.2f} s ({THREADS} threads), {ours_one:.2f} s (1 thread)")
    print(f"scipy L-BFGS-B loop: {per_start * 1e3:.1f} ms per start ({FRACTION_STARTS} timed), "
          f"{per_resample * 1e3:.1f} ms per resample ({FRACTION_BOOTSTRAP} timed); scaled to the "
          f"full recipe {total:.0f} s")
    print(f"ratio {total / ours:.0f}x ({THREADS} threads), {total / ours_one:.0f}x (1 thread)")
