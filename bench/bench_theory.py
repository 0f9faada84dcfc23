"""Benchmark: a DMFT test + train learning curve at 100 times with M = 10^4 modes.

scalinglab (``learning_curve_theory``, compiled core) against the same equations written in
numpy in this file: the one-point equation solved by vectorised Newton (all times at once,
node by node along the Talbot contour), the two-point sums as batched complex GEMMs over all
pairs of the 31 Talbot nodes (the digest's reference algorithm, shared/reference/
theory-dynamics.md 1(c)), the 2x2 system and the 2-D inversion. Both give the same numbers
(checked to 1e-8 before timing).

Run either way:
    PYTHONPATH=python pytest bench/bench_theory.py --benchmark-only      (pytest-benchmark)
    PYTHONPATH=python python bench/bench_theory.py                       (plain timings + ratio)
"""

from __future__ import annotations

import time

import numpy as np

from scalinglab.tasks import PowerLawTask
from scalinglab.theory import learning_curve_theory

TASK = PowerLawTask(a=2.0, b=1.5, M=10_000)
TIMES = np.logspace(0, 4, 100)
CASES = {"N1000_P4000": (1000.0, 4000.0), "N200_P200": (200.0, 200.0)}
TALBOT_NODES = 16


# ---- the numpy implementation --------------------------------------------------------------


def _talbot(times, n):
    """Upper-half Talbot nodes and weights, shape (T, n)."""
    r = 2 * n / (5 * times)[:, None]
    theta = np.arange(1, n) * np.pi / n
    cot = 1 / np.tan(theta)
    shape = np.concatenate([[1.0 + 0j], theta * (cot + 1j)])
    sigma = np.concatenate([[0.0], theta + (theta * cot - 1) * cot])
    nodes = r * shape[None, :]
    weights = r / (2 * n) * np.exp(times[:, None] * nodes) * (1 + 1j * sigma[None, :])
    weights[:, 0] = (r[:, 0] / (2 * n)) * np.exp(r[:, 0] * times)
    return nodes, weights


def _critical_kappa(lam, rank):
    if rank >= lam.size:
        return 0.0
    lo, hi = 1e-300, lam.sum() / rank
    for _ in range(200):
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if np.sum(lam / (lam + mid)) > rank else (lo, mid)
    return np.sqrt(lo * hi)


def _residual(kappa, s, lam, inv_n, inv_p):
    z = 1 / (kappa[:, None] + lam[None, :])
    df = (z * lam).sum(1)
    ddf = (z * z * lam).sum(1)
    a, b = 1 - df * inv_n, 1 - df * inv_p
    return kappa * a * b - s, a * b + kappa * ddf * (inv_n * b + inv_p * a), df


def _real_roots(s, lam, inv_n, inv_p, kappa_c):
    """Safeguarded Newton on the physical branch, vectorised over times."""
    lo = np.full_like(s, kappa_c)
    hi = 2 * s + lam.sum() * (inv_n + inv_p)
    kappa = hi.copy()
    for _ in range(200):
        value, slope, _ = (x.real for x in _residual(kappa + 0j, s + 0j, lam, inv_n, inv_p))
        hi = np.where(value > 0, kappa, hi)
        lo = np.where(value <= 0, kappa, lo)
        step = kappa - value / slope
        bad = ~((step > lo) & (step < hi))
        new = np.where(bad, np.where(lo > 0, np.sqrt(lo * np.maximum(hi, 1e-300)), 0.5 * hi), step)
        done = ~bad & (np.abs(new - kappa) <= 4e-16 * kappa)
        kappa = new
        if done.all():
            break
    return kappa


def _newton(kappa, s, lam, inv_n, inv_p):
    for _ in range(60):
        value, slope, _ = _residual(kappa, s, lam, inv_n, inv_p)
        step = value / slope
        kappa = kappa - step
        if np.all(np.abs(step) <= 1e-14 * np.abs(kappa)):
            return kappa, True
    return kappa, False


def numpy_one_point(nodes, lam, inv_n, inv_p, kappa_c):
    """kappa at every node (T, n), continued node to node for all times at once."""
    kappa = np.empty(nodes.shape, dtype=complex)
    if inv_n == 0 and inv_p == 0:
        return nodes.copy()
    kappa[:, 0] = _real_roots(nodes[:, 0].real, lam, inv_n, inv_p, kappa_c)
    for j in range(1, nodes.shape[1]):
        previous, s_prev, s = kappa[:, j - 1], nodes[:, j - 1], nodes[:, j]
        substeps = 1
        while True:  # halve the steps (for all times) until Newton converges on the branch
            current, s_now, ok = previous.copy(), s_prev.copy(), True
            for step in range(1, substeps + 1):
                target = s_prev + (s - s_prev) * step / substeps
                _, slope, _ = _residual(current, s_now, lam, inv_n, inv_p)
                current, converged = _newton(current + (target - s_now) / slope, target, lam,
                                             inv_n, inv_p)
                s_now = target
                ok = ok and converged and np.all(np.sign(current.imag) == np.sign(target.imag))
            if ok:
                break
            substeps *= 2
        kappa[:, j] = current
    return kappa


def numpy_learning_curve(task, N, P, times, n=TALBOT_NODES, chunk=5):
    lam, power, sigma2 = task.spectrum, task.target_power, task.noise
    inv_n = 0.0 if np.isinf(N) else 1 / N
    inv_p = 0.0 if np.isinf(P) else 1 / P
    kappa_c = 0.0 if np.isinf(min(N, P)) else _critical_kappa(lam, min(N, P))
    upper, upper_weights = _talbot(times, n)
    kappa_upper = numpy_one_point(upper, lam, inv_n, inv_p, kappa_c)
    # All 2n - 1 nodes: the upper half and the conjugates of nodes 1..n-1.
    s = np.concatenate([upper, upper[:, 1:].conj()], axis=1)
    c = np.concatenate([upper_weights, upper_weights[:, 1:].conj()], axis=1)
    kappa = np.concatenate([kappa_upper, kappa_upper[:, 1:].conj()], axis=1)
    df = np.stack([_residual(k, k * 0, lam, inv_n, inv_p)[2] for k in kappa])
    r1, r3 = 1 - df * inv_p, 1 - df * inv_n
    q = r1 * r3
    test, train = np.empty(times.size), np.empty(times.size)
    w2 = power / lam
    for start in range(0, times.size, chunk):
        sl = slice(start, start + chunk)
        H = 1 / (s[sl, :, None] + lam * q[sl, :, None])  # (chunk, 2n-1, M)
        Ht = H.transpose(0, 2, 1)
        S1w = (H * (lam * w2)) @ Ht
        S2w = (H * (lam**2 * w2)) @ Ht
        T1 = (H * lam) @ Ht
        T2 = (H * lam**2) @ Ht
        QQ = q[sl, :, None] * q[sl, None, :]
        SS = s[sl, :, None] * s[sl, None, :]
        noise = sigma2 / SS
        a11, a12 = 1 - QQ * T2 * inv_p, -QQ * T1 * inv_n
        a21, a22 = -SS * T1 * inv_p, 1 - QQ * T2 * inv_n
        b1, b2 = S1w + QQ * T2 * inv_p * noise, S2w + T1 * inv_p * sigma2
        C0 = (b1 * a22 - a12 * b2) / (a11 * a22 - a12 * a21)
        W = c[sl, :, None] * c[sl, None, :]
        test[sl] = np.real((W * C0).sum((1, 2)))
        R = r1[sl, :, None] * r1[sl, None, :]
        train[sl] = np.real((W * R * (C0 + noise)).sum((1, 2)))
    return test, train


# ---- the two ways -----------------------------------------------------------------------------


def run_scalinglab(N, P, n_threads=0):
    frame = learning_curve_theory(TASK, N, P, TIMES, truncation="ignore", n_threads=n_threads)
    return frame["test_loss"].to_numpy(), frame["train_loss"].to_numpy()


def run_numpy(N, P):
    return numpy_learning_curve(TASK, N, P, TIMES)


def check_agreement(N, P):
    fast, slow = run_scalinglab(N, P), run_numpy(N, P)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-14)


# ---- pytest-benchmark ------------------------------------------------------------------------

try:
    import pytest
except ImportError:  # plain-script use
    pytest = None

if pytest is not None:

    @pytest.fixture(scope="module", params=list(CASES))
    def case(request):
        N, P = CASES[request.param]
        check_agreement(N, P)
        return N, P

    @pytest.mark.benchmark(group="dmft-curve-100-times-M1e4")
    def test_numpy_same_equations(benchmark, case, record):
        benchmark.pedantic(run_numpy, args=case, rounds=2, iterations=1)
        record(benchmark, f"numpy-{case}")

    @pytest.mark.benchmark(group="dmft-curve-100-times-M1e4")
    def test_scalinglab_bench_threads(benchmark, case, record, bench_threads):
        benchmark(run_scalinglab, *case, n_threads=bench_threads)
        record(benchmark, f"scalinglab-{case}", f"numpy-{case}")

    @pytest.mark.benchmark(group="dmft-curve-100-times-M1e4")
    def test_scalinglab_one_thread(benchmark, case, record):
        benchmark(run_scalinglab, *case, n_threads=1)
        record(benchmark, f"scalinglab-1-thread-{case}", f"numpy-{case}")


def _best_of(function, repeats, *args, **kwargs):
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best


# ---- finite_size="leading" against the plain DMFT (issue 9) -----------------------------------

FINITE_SIZE_TASK = PowerLawTask(a=2.0, b=1.5, M=10_000)
FINITE_SIZE_CASES = {"N100_Pinf": (100.0, np.inf), "Ninf_P100": (np.inf, 100.0),
                     "N100_P100": (100.0, 100.0)}


def run_finite_size(N, P, finite_size, n_threads=0):
    return learning_curve_theory(FINITE_SIZE_TASK, N, P, TIMES, truncation="ignore",
                                 finite_size=finite_size, n_threads=n_threads)


try:
    import pytest

    @pytest.mark.parametrize("case", list(FINITE_SIZE_CASES.values()), ids=list(FINITE_SIZE_CASES))
    @pytest.mark.parametrize("finite_size", [None, "leading"], ids=["dmft", "leading"])
    @pytest.mark.benchmark(group="dmft-finite-size-100-times-M1e4")
    def test_finite_size_cost(benchmark, case, finite_size):
        benchmark.pedantic(run_finite_size, args=(*case, finite_size), rounds=2, iterations=1)
except ImportError:  # plain `python bench/bench_theory.py` without pytest
    pass


# ---- plain-script cost ratios of finite_size="leading" (issue 9) --------------------------------
#   PYTHONPATH=python python bench/bench_theory.py --finite-size [rounds]
# Every case is timed with and without the correction in the same round (interleaved), for
# `rounds` rounds; the ratio is min(corrected) / min(plain). static_loss: 40 ridges per call.

STATIC_RIDGES = np.logspace(-4, 0, 40)


def run_static(N, P, finite_size):
    from scalinglab.theory import static_loss

    return static_loss(FINITE_SIZE_TASK, N, P, ridge=STATIC_RIDGES, truncation="ignore",
                       finite_size=finite_size)


def finite_size_ratios(rounds=7, n_threads=1):
    calls = {}
    for name, (N, P) in FINITE_SIZE_CASES.items():
        for fs in (None, "leading"):
            calls[("curve", name, fs)] = (lambda N=N, P=P, fs=fs: run_finite_size(
                N, P, fs, n_threads))
            calls[("static", name, fs)] = lambda N=N, P=P, fs=fs: run_static(N, P, fs)
    best = {key: np.inf for key in calls}
    for call in calls.values():  # warm-up
        call()
    for _ in range(rounds):
        for key, call in calls.items():
            start = time.perf_counter()
            call()
            best[key] = min(best[key], time.perf_counter() - start)
    for kind in ("curve", "static"):
        for name in FINITE_SIZE_CASES:
            plain, corrected = best[(kind, name, None)], best[(kind, name, "leading")]
            print(f"{kind:6s} {name:12s} dmft {plain:.4f} s  leading {corrected:.4f} s  "
                  f"ratio {corrected / plain:.2f}")
    return best


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1 and sys.argv[1] == "--finite-size":
        finite_size_ratios(int(sys.argv[2]) if len(sys.argv) > 2 else 7)
    else:
        for name, (N, P) in CASES.items():
            check_agreement(N, P)
            fast_all = _best_of(run_scalinglab, 5, N, P)
            fast_one = _best_of(run_scalinglab, 5, N, P, n_threads=1)
            slow = _best_of(run_numpy, 2, N, P)
            # ratio = ours / baseline, as everywhere in bench/ (bench/conftest.py).
            print(f"{name}: scalinglab {fast_all:.3f} s (all cores), {fast_one:.3f} s (1 thread); "
                  f"numpy {slow:.2f} s; ratio {fast_all / slow:.3g} (all cores), "
                  f"{fast_one / slow:.3g} (1 thread)")

