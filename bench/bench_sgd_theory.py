"""One-pass SGD theory (scalinglab.volterra via scalinglab.sgd_theory) against plain numpy, in one run.

Run (about a minute on 2 cores; -s prints the ratios):

    PYTHONPATH=python python -m pytest bench/bench_sgd_theory.py -s --benchmark-only \
        --benchmark-columns=min,median,rounds

Groups
------
risk-recursion
    Expected SGD risk at PPXP's Phase II point (alpha, beta) = (1.25, 0.75), d = 1600 exact
    eigenvalues, B = 1, over 10^5 steps (40 output steps on a log grid).
    * ``numpy_step_by_step``: the recursion rho <- g rho + gamma^2 B k P, vectorised over modes,
      one Python iteration per step.
    * ``scalinglab_step_by_step``: the same recursion in C++ (block_fraction = 0).
    * ``scalinglab_blocked``: log-time blocks (1% of the elapsed steps) after 1000 exact steps.
    * ``scalinglab_blocked_1e8``: the blocked recursion to 10^8 steps (no baseline: 10^8 numpy
      iterations would take hours), to show the cost grows with log(steps).
exact-spectrum
    K = W^T D W for a drawn W (v = 8000, d = 800), its eigendecomposition, theta* and P*.
    * ``numpy``: Generator.standard_normal for W, M = sqrt(lambda) W, M.T @ M, numpy.linalg.eigh,
      P* from the least-squares residual.
    * ``scalinglab``: exact_volterra_spectrum (W streamed in blocks from Philox, syrk, syevd).
deterministic-equivalent
    PPXP's m(z) on the same ~1700 contour nodes (d = 400, v = 4000).
    * ``numpy_newton``: vectorised-over-j Newton, node after node (continuation along the contour).
    * ``scalinglab``: deterministic_volterra_spectrum (Newton in C++, chunks of nodes in parallel,
      plus the upper-edge scan and the atoms).
"""

from __future__ import annotations

import numpy as np
import pytest

from scalinglab import sgd_theory as st

RESULTS: dict[str, float] = {}


def _best(benchmark) -> float:
    return float(benchmark.stats.stats.min)


# ---- risk-recursion --------------------------------------------------------------------------

ALPHA, BETA, D_MODEL = 1.25, 0.75, 1600
STEPS = np.unique(np.logspace(0, 5, 40).astype(np.int64))


@pytest.fixture(scope="module")
def phase_ii():
    lam, b = st.ppxp_spectrum(ALPHA, BETA, 10 * D_MODEL)
    spectrum = st.exact_volterra_spectrum(lam, b, d=D_MODEL, rng=0)
    return spectrum, 0.5 / lam.sum()


def numpy_recursion(spectrum, gamma, batch, steps):
    k = spectrum.eigenvalues
    rho = np.divide(spectrum.forcing, k, out=np.zeros_like(k), where=k > 0)
    g = 1 - 2 * gamma * batch * k + gamma**2 * batch * (batch + 1) * k**2
    noise_gain = gamma**2 * batch * k
    out, wanted = [], set(int(s) for s in steps)
    for r in range(int(steps[-1]) + 1):
        risk = spectrum.limit_level + k @ rho
        if r in wanted:
            out.append(risk)
        rho = g * rho + noise_gain * risk
    return np.array(out)


def test_numpy_step_by_step(benchmark, phase_ii):
    benchmark.group = "risk-recursion"
    spectrum, gamma = phase_ii
    result = benchmark.pedantic(numpy_recursion, args=(spectrum, gamma, 1, STEPS), rounds=1,
                                iterations=1)
    RESULTS["numpy_step_by_step"] = _best(benchmark)
    RESULTS["numpy_risk"] = result


def test_scalinglab_step_by_step(benchmark, phase_ii):
    benchmark.group = "risk-recursion"
    spectrum, gamma = phase_ii
    result = benchmark.pedantic(spectrum.risk, args=(STEPS,),
                                kwargs={"learning_rate": gamma, "block_fraction": 0.0},
                                rounds=3, iterations=1)
    RESULTS["scalinglab_step_by_step"] = _best(benchmark)
    if "numpy_risk" in RESULTS:
        np.testing.assert_allclose(result, RESULTS["numpy_risk"], rtol=1e-10)
    RESULTS["exact_risk"] = result


def test_scalinglab_blocked(benchmark, phase_ii):
    benchmark.group = "risk-recursion"
    spectrum, gamma = phase_ii
    result = benchmark.pedantic(spectrum.risk, args=(STEPS,), kwargs={"learning_rate": gamma},
                                rounds=5, iterations=1)
    RESULTS["scalinglab_blocked"] = _best(benchmark)
    if "exact_risk" in RESULTS:
        error = np.max(np.abs(result / RESULTS["exact_risk"] - 1))
        benchmark.extra_info["max_relative_error_vs_exact"] = float(error)
    for name in ("numpy_step_by_step", "scalinglab_step_by_step"):
        if name in RESULTS:
            ratio = RESULTS[name] / RESULTS["scalinglab_blocked"]
            benchmark.extra_info[f"speedup_over_{name}"] = ratio
            print(f"\nrisk-recursion: blocked is {ratio:.0f}x faster than {name}")


def test_scalinglab_blocked_1e8(benchmark, phase_ii):
    benchmark.group = "risk-recursion"
    spectrum, gamma = phase_ii
    steps = np.unique(np.logspace(0, 8, 60).astype(np.int64))
    benchmark.pedantic(spectrum.risk, args=(steps,), kwargs={"learning_rate": gamma}, rounds=3,
                       iterations=1)
    if "scalinglab_blocked" in RESULTS:
        ratio = _best(benchmark) / RESULTS["scalinglab_blocked"]
        benchmark.extra_info["cost_ratio_1e8_over_1e5_steps"] = ratio
        print(f"\nrisk-recursion: 1e8 steps cost {ratio:.1f}x the 1e5-step curve")


# ---- exact-spectrum ----------------------------------------------------------------------------

V_SPEC, D_SPEC = 8000, 800


def numpy_exact_spectrum(lam, b, d, seed):
    W = np.random.default_rng(seed).standard_normal((lam.size, d)) / np.sqrt(d)
    M = np.sqrt(lam)[:, None] * W
    k, U = np.linalg.eigh(M.T @ M)
    theta = np.linalg.lstsq(M, np.sqrt(lam) * b, rcond=None)[0]
    p_star = np.sum((np.sqrt(lam) * b - M @ theta) ** 2)
    forcing = (U.T @ (M.T @ (np.sqrt(lam) * b))) ** 2 / k
    return k, forcing, p_star


@pytest.fixture(scope="module")
def spectrum_inputs():
    return st.ppxp_spectrum(ALPHA, BETA, V_SPEC)


def test_exact_spectrum_numpy(benchmark, spectrum_inputs):
    benchmark.group = "exact-spectrum"
    lam, b = spectrum_inputs
    benchmark.pedantic(numpy_exact_spectrum, args=(lam, b, D_SPEC, 0), rounds=3, iterations=1)
    RESULTS["spectrum_numpy"] = _best(benchmark)


def test_exact_spectrum_scalinglab(benchmark, spectrum_inputs):
    benchmark.group = "exact-spectrum"
    lam, b = spectrum_inputs
    benchmark.pedantic(st.exact_volterra_spectrum, args=(lam, b), kwargs={"d": D_SPEC, "rng": 0},
                       rounds=3, iterations=1)
    if "spectrum_numpy" in RESULTS:
        ratio = RESULTS["spectrum_numpy"] / _best(benchmark)
        benchmark.extra_info["speedup_over_numpy"] = ratio
        print(f"\nexact-spectrum: scalinglab is {ratio:.1f}x faster than numpy")


# ---- deterministic-equivalent --------------------------------------------------------------

V_DE, D_DE = 4000, 400


def numpy_m_on_nodes(lam, d, nodes):
    """m(z) at each node by Newton from the previous node's solution (largest |z| first)."""
    order = np.argsort(-np.abs(nodes))
    m = 1.0 + 0j
    out = np.empty(nodes.size, dtype=np.complex128)
    for index in order:
        z = nodes[index]
        for _ in range(50):
            w = lam * m - z
            f = m * (1 + np.sum(lam / w) / d) - 1
            step = f / (1 - z * np.sum(lam / (w * w)) / d)
            m -= step
            if abs(step) < 1e-14 * abs(m):
                break
        out[index] = m
    return out


@pytest.fixture(scope="module")
def contour():
    lam, b = st.ppxp_spectrum(ALPHA, BETA, V_DE)
    spectrum = st.deterministic_volterra_spectrum(lam, lam * b * b, D_DE)
    return lam, b, spectrum.eigenvalues


def test_deterministic_numpy(benchmark, contour):
    benchmark.group = "deterministic-equivalent"
    lam, _, nodes = contour
    benchmark.pedantic(numpy_m_on_nodes, args=(lam, D_DE, nodes), rounds=1, iterations=1)
    RESULTS["de_numpy"] = _best(benchmark)


def test_deterministic_scalinglab(benchmark, contour):
    benchmark.group = "deterministic-equivalent"
    lam, b, _ = contour
    benchmark.pedantic(st.deterministic_volterra_spectrum, args=(lam, lam * b * b, D_DE),
                       rounds=3, iterations=1)
    if "de_numpy" in RESULTS:
        ratio = RESULTS["de_numpy"] / _best(benchmark)
        benchmark.extra_info["speedup_over_numpy"] = ratio
        print(f"\ndeterministic-equivalent: scalinglab is {ratio:.1f}x faster than numpy")
