"""Benchmarks of the MRS latent power-law model (scalinglab.latent).

1. Theory: ``latent_test_loss`` on a 100 x 100 (N, P) grid at M = 10^4 with gamma = 1e-3 (the
   compiled deterministic-equivalent engine) against the same equations (M1-M3: bisection on the
   physical branch in log kappa, then the finite sums) in plain numpy, vectorised over chunks of
   grid points. Both give the same numbers (checked to 1e-6 before timing).
2. Simulation: N = P = 2000 features and samples at M = 10^4, linear and ReLU features, gamma =
   1e-3: ``latent_learning_curve`` (streamed moments, no X or U held, teacher and x averaged
   analytically) against numpy doing the same with explicit X (P x M), U (N x M), a Monte Carlo
   teacher, held-out test samples and ``numpy.linalg.lstsq`` on the ridge-augmented system.

Run:
    PYTHONPATH=python python bench/bench_latent.py [seeds]        (plain timings + ratios)
    PYTHONPATH=python pytest bench/bench_latent.py --benchmark-only
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np

from scalinglab.latent import LatentPowerLawTask, latent_learning_curve, latent_test_loss

M = 10_000
TASK = LatentPowerLawTask(1.0, M)
GRID = np.geomspace(10, 5000, 100)
RIDGE = 1e-3


# ---- theory in numpy -----------------------------------------------------------------------------


def numpy_theory(task, Ns, Ps, ridge, chunk=256):
    lam = task.spectrum
    power = task.target_power
    n, p = (a.ravel() for a in np.meshgrid(Ns, Ps, indexing="ij"))
    bap = ridge * task.M / (n * p)
    out = np.empty(n.size)
    for start in range(0, n.size, chunk):
        sl = slice(start, start + chunk)
        nn, pp, rr = n[sl, None], p[sl, None], bap[sl, None]
        m = np.minimum(nn, pp)
        # kappa_c: df1(kappa_c) = min(N, P), df1 decreasing in kappa.
        lo, hi = np.full_like(m, -60.0), np.full_like(m, 10.0)
        for _ in range(70):
            mid = 0.5 * (lo + hi)
            df = np.sum(lam / (lam + np.exp(mid)), axis=1, keepdims=True)
            above = df > m
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        lo, hi = hi, np.full_like(m, 10.0)
        # physical branch: F(kappa) = kappa (1 - df/N)(1 - df/P) - lambda increasing.
        for _ in range(70):
            mid = 0.5 * (lo + hi)
            kappa = np.exp(mid)
            df = np.sum(lam / (lam + kappa), axis=1, keepdims=True)
            f = kappa * (1 - df / nn) * (1 - df / pp) - rr
            lo, hi = np.where(f < 0, mid, lo), np.where(f < 0, hi, mid)
        kappa = np.exp(0.5 * (lo + hi))
        z = 1.0 / (lam + kappa)
        df1 = np.sum(lam * z, axis=1, keepdims=True)
        df2 = np.sum((lam * z) ** 2, axis=1, keepdims=True)
        s1 = np.sum(power * z**2, axis=1, keepdims=True)
        s2 = np.sum(lam * power * z**2, axis=1, keepdims=True)
        g = df2 / pp + (df1 - df2) ** 2 / (pp * (nn - df2))
        loss = (kappa**2 * s1 + (df1 - df2) * kappa * s2 / (nn - df2)) / (1 - g)
        out[sl] = loss[:, 0]
    return out


def time_theory():
    start = time.perf_counter()
    fast = latent_test_loss(TASK, GRID, GRID, RIDGE)["test_loss"].to_numpy()
    t_fast = time.perf_counter() - start
    start = time.perf_counter()
    slow = numpy_theory(TASK, GRID, GRID, RIDGE)
    t_slow = time.perf_counter() - start
    assert np.allclose(fast, slow, rtol=1e-6), np.max(np.abs(fast / slow - 1))
    return t_fast, t_slow


# ---- simulation in numpy -------------------------------------------------------------------------


def numpy_simulation(task, N, P, ridge, activation, seed, n_test=2000):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((P, task.M)) * task.std_devs
    X_test = rng.standard_normal((n_test, task.M)) * task.std_devs
    U = rng.standard_normal((N, task.M)) / np.sqrt(task.M)
    w = rng.standard_normal(task.M) / np.sqrt(task.M)
    phi = X @ U.T
    phi_test = X_test @ U.T
    if activation == "relu":
        np.maximum(phi, 0, out=phi)
        np.maximum(phi_test, 0, out=phi_test)
    augmented = np.vstack([phi, np.sqrt(ridge) * np.eye(N)])
    target = np.concatenate([X @ w, np.zeros(N)])
    theta = np.linalg.lstsq(augmented, target, rcond=None)[0]
    return float(np.mean((phi_test @ theta - X_test @ w) ** 2))


# ---- pytest-benchmark ----------------------------------------------------------------------------


def test_theory_scalinglab(benchmark):
    benchmark.group = "latent theory 100x100, M=1e4"
    benchmark(lambda: latent_test_loss(TASK, GRID, GRID, RIDGE))


def test_theory_numpy(benchmark):
    benchmark.group = "latent theory 100x100, M=1e4"
    benchmark.pedantic(lambda: numpy_theory(TASK, GRID, GRID, RIDGE), rounds=1, iterations=1)


def test_simulation_scalinglab_relu(benchmark):
    benchmark.group = "latent simulation N=P=2000, M=1e4"
    benchmark.pedantic(lambda: latent_learning_curve(TASK, 2000, 2000, RIDGE, activation="relu",
                                                     seeds=1, rng=0), rounds=1, iterations=1)


def test_simulation_numpy_relu(benchmark):
    benchmark.group = "latent simulation N=P=2000, M=1e4"
    benchmark.pedantic(lambda: numpy_simulation(TASK, 2000, 2000, RIDGE, "relu", 0), rounds=1,
                       iterations=1)


def _peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _contender(which, activation, seeds):
    """One contender alone in this process: (seconds, mean test loss, peak RSS in MiB)."""
    start = time.perf_counter()
    if which == "scalinglab":
        frame = latent_learning_curve(TASK, 2000, 2000, RIDGE, activation=activation, seeds=seeds,
                                      rng=0, progress=False)
        loss = float(frame["test_loss"].mean())
    else:
        loss = float(np.mean([numpy_simulation(TASK, 2000, 2000, RIDGE, activation, s)
                              for s in range(seeds)]))
    seconds = time.perf_counter() - start
    return seconds, loss, _peak_rss_mib()


if __name__ == "__main__":
    import json
    import os
    import subprocess

    if len(sys.argv) > 1 and sys.argv[1] == "--contender":
        if sys.argv[2] == "idle":
            print(json.dumps({"rss": _peak_rss_mib()}))  # only numpy and scalinglab imported
        else:
            seconds, loss, rss = _contender(sys.argv[2], sys.argv[3], int(sys.argv[4]))
            print(json.dumps({"seconds": seconds, "loss": loss, "rss": rss}))
        sys.exit(0)
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    fast, slow = time_theory()
    print(f"theory 100x100 M=1e4: scalinglab {fast:.2f} s, numpy {slow:.2f} s, ratio {slow/fast:.1f}")

    def run(*args):
        # Each contender in a fresh process, so that its peak RSS is its own.
        out = subprocess.run([sys.executable, __file__, "--contender", *args], check=True,
                             capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    idle = run("idle")["rss"]
    print(f"peak RSS of a process that only imports scalinglab: {idle:.0f} MiB")
    for activation in ("linear", "relu"):
        ours = run("scalinglab", activation, str(seeds))
        load = os.getloadavg()[0]
        theirs = run("numpy", activation, str(seeds))
        print(f"simulation {activation} N=P=2000 M=1e4 seeds={seeds}: scalinglab "
              f"{ours['seconds']:.1f} s, numpy {theirs['seconds']:.1f} s, speed-up "
              f"{theirs['seconds'] / ours['seconds']:.2f}x; mean test loss {ours['loss']:.4g} "
              f"(teacher-averaged) vs {theirs['loss']:.4g} (Monte Carlo teacher, 2000 held out); "
              f"peak RSS {ours['rss']:.0f} vs {theirs['rss']:.0f} MiB; load {load:.1f} -> "
              f"{os.getloadavg()[0]:.1f}", flush=True)
