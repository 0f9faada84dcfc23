"""The raw compiled core, ``scalinglab._core``, seen from Python (STYLE rule 12).

The public modules are tested in ``tests/test_<module>.py``; this file holds what belongs to the
core itself: its layout (one submodule per area, matching the hand-written stubs), the Philox
streams, the Wishart and chi-square draws, the stream contract of the feature maps, and the
release of the GIL.
"""

import ast
import pathlib

import numpy as np
import pytest
from scipy import special, stats

import scalinglab
from scalinglab import _core
from scalinglab.features import RandomFeatures

AREAS = (
    "random", "features", "kernels", "solvers", "dynamics", "wishart", "theory", "volterra",
    "scaling_fit", "latent", "mlp", "topk", "theory_finite_size",
)
STUBS = pathlib.Path(scalinglab.__file__).parent / "_core"


def _public(namespace):
    return {name for name in dir(namespace) if not name.startswith("_")}


def _stub_names(path):
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:  # submodules
            names.update(alias.asname or alias.name for alias in node.names)
    return {name for name in names if not name.startswith("_")}


def test_one_submodule_per_area_and_nothing_flat():
    # Everything lives in an area's submodule; the top level keeps only the exception type.
    assert _public(_core) == set(AREAS) | {"LinAlgError"}
    for area in AREAS:
        assert type(getattr(_core, area)).__name__ == "module"
    assert issubclass(_core.LinAlgError, np.linalg.LinAlgError)


@pytest.mark.parametrize("area", AREAS)
def test_stubs_list_exactly_the_compiled_names(area):
    # The hand-written .pyi stubs shipped in the package must not drift from the module.
    path = STUBS / f"{area}.pyi"
    if not path.exists():  # an area with submodules of its own is a stub package
        path = STUBS / area / "__init__.pyi"
    assert _stub_names(path) == _public(getattr(_core, area))


def test_stream_stubs_list_every_stream():
    assert _stub_names(STUBS / "random" / "streams.pyi") == _public(_core.random.streams)


def test_stub_package_lists_the_areas():
    assert _stub_names(STUBS / "__init__.pyi") == set(AREAS) | {"LinAlgError"}
    assert (pathlib.Path(scalinglab.__file__).parent / "py.typed").is_file()


def test_dead_bindings_are_gone():
    # Unused by the package and the tests (design review 4.3); the core keeps them for C++.
    assert not hasattr(_core.theory, "spectrum_edge")
    assert not hasattr(_core.theory, "talbot_contour")
    assert not {"resolve_threads", "blas_threads", "set_blas_threads"} & _public(_core.random)


def test_activation_list_is_the_cores():
    from scalinglab import features, kernels
    from scalinglab._activations import ACTIVATIONS

    assert ACTIVATIONS == ("linear", "relu", "erf", "tanh", "cos", "sin", "fourier")
    assert features.ACTIVATIONS is ACTIVATIONS and scalinglab.ACTIVATIONS is ACTIVATIONS
    assert set(kernels.ANALYTIC_ACTIVATIONS) <= set(ACTIVATIONS)


def test_optimizer_names_are_parsed_once_for_both_engines():
    spectrum = np.array([1.0, 0.5])
    target = np.array([1.0, 1.0])
    with pytest.raises(ValueError, match="`method`: expected 'gf' or 'gd', got 'sgd'"):
        _core.dynamics.linear_learning_curves(spectrum, target, 0.0, [1], [1], [1.0], "sgd", 1.0,
                                              1, False, False, 0)
    with pytest.raises(ValueError, match="`optimizer`: expected 'gf' or 'gd', got 'sgd'"):
        _core.theory.learning_curve(spectrum, spectrum * target**2, np.empty(0), 1.0, 1.0,
                                    np.array([1.0]), optimizer="sgd")


def test_ridge_errors_triples_must_have_equal_lengths():
    spectrum = np.array([1.0, 0.5])
    with pytest.raises(ValueError, match="`n_samples`"):
        _core.theory.ridge_errors(spectrum, spectrum, np.empty(0), np.array([10.0, 20.0]),
                                  np.array([10.0]), np.array([0.1, 0.1]))


# ---------------------------------------------------------------------------------------------
# _core.random: Philox4x32-10 streams
# ---------------------------------------------------------------------------------------------

def test_philox_known_answer():
    # Random123 known-answer vector for Philox4x32-10 with zero counter and key.
    assert _core.random.philox4x32(0, 0, 0) == (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)


def test_normal_depends_only_on_counter():
    whole = _core.random.normal(7, 3, 0, 4096)
    for start, n in [(1, 5), (333, 100), (4000, 96)]:
        np.testing.assert_array_equal(_core.random.normal(7, 3, start, n), whole[start : start + n])
    single = _core.random.normal(7, 3, 0, 4096, single_precision=True)
    np.testing.assert_array_equal(single, whole.astype(np.float32))


def test_normal_is_box_muller_of_the_philox_words():
    # Numbers 4b .. 4b+3 are the Box-Muller pairs of block b's words (w0, w1) and (w2, w3), with
    # u = (w + 1/2) / 2^32. The core reduces the angle in integer arithmetic and uses its own
    # polynomials, so it must agree with numpy's log/cos/sin to rounding.
    blocks = np.array([_core.random.philox4x32(7, 3, b) for b in range(300)], dtype=np.float64)
    u = (blocks + 0.5) / 2.0**32
    radius = np.sqrt(-2 * np.log(u[:, [0, 2]]))
    angle = 2 * np.pi * u[:, [1, 3]]
    expected = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=-1).reshape(-1)
    # Order within a block: r0 cos, r0 sin, r2 cos, r2 sin.
    got = _core.random.normal(7, 3, 0, 1200)
    np.testing.assert_allclose(got, expected, rtol=0, atol=5e-15)


def test_normal_bits_do_not_depend_on_fill_start():
    # Every start offset within and across the core's vectorised groups of 256 numbers.
    whole = _core.random.normal(19, 2, 0, 1400)
    for start in range(0, 300):
        n = 1400 - start - (start % 7)
        np.testing.assert_array_equal(_core.random.normal(19, 2, start, n), whole[start : start + n])


def test_normal_moments():
    z = _core.random.normal(11, 0, 0, 2**20)
    n = z.size
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    # Tail mass beyond 3 sigma: 0.0026998 for a standard normal.
    tail = np.mean(np.abs(z) > 3)
    assert abs(tail - 0.0026998) < 5 * np.sqrt(0.0027 / n)

# ---------------------------------------------------------------------------------------------
# _core.features: the feature maps draw their weights and phases from the named streams
# ---------------------------------------------------------------------------------------------

def test_weights_are_the_philox_normals():
    rf = RandomFeatures(7, 50, "relu", rng=3)
    W = rf.weights()
    expected = _core.random.normal(rf.seed, _core.random.streams.FEATURE_WEIGHTS, 0, 50 * 7).reshape(50, 7)
    np.testing.assert_array_equal(W, expected)
    np.testing.assert_array_equal(rf.weights(13, 29), W[13:29])
    single = RandomFeatures(7, 50, "relu", rng=3, dtype="float32").weights()
    assert single.dtype == np.float32
    np.testing.assert_array_equal(single, W.astype(np.float32))


def test_fourier_phases_are_uniform_numbers():
    rf = RandomFeatures(4, 20000, "fourier", rng=5)
    b = rf.phases()
    u = _core.random.uniform(rf.seed, _core.random.streams.FEATURE_PHASES, 0, 20000)
    np.testing.assert_allclose(b, 2 * np.pi * u, rtol=1e-15)
    assert b.min() >= 0 and b.max() < 2 * np.pi
    # Mean of U(0, 2 pi) is pi, standard error 2 pi / sqrt(12 n).
    assert abs(b.mean() - np.pi) < 5 * 2 * np.pi / np.sqrt(12 * b.size)
    np.testing.assert_array_equal(RandomFeatures(4, 10, "relu", rng=5).phases(), 0.0)

# ---------------------------------------------------------------------------------------------
# _core.wishart: chi-square, Bartlett and Wishart draws
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dof", [1.0, 2.5, 7.0, 40.0])
def test_chi_square_distribution(dof):
    # Kolmogorov-Smirnov against scipy's chi^2 (covers both branches of the gamma sampler:
    # shape dof/2 < 1 and >= 1). Fixed seed; p > 1e-3.
    x = _core.wishart.chi_square(5, dof, 20000)
    assert stats.kstest(x, stats.chi2(dof).cdf).pvalue > 1e-3
    assert np.all(x > 0)


def test_chi_square_large_dof_moments():
    dof, n = 1e5, 20000
    x = _core.wishart.chi_square(6, dof, n)
    assert abs(x.mean() - dof) < 4 * np.sqrt(2 * dof / n)
    # Var = 2 dof; the standard error of a sample variance is ~ sqrt(2/n) Var for near-normal x.
    assert abs(x.var() / (2 * dof) - 1) < 4 * np.sqrt(2 / n)
    assert stats.kstest(x, stats.chi2(dof).cdf).pvalue > 1e-3


def test_chi_square_is_a_function_of_its_counter():
    a = _core.wishart.chi_square(9, 3.0, 100)
    b = _core.wishart.chi_square(9, 3.0, 50)
    np.testing.assert_array_equal(a[:50], b)
    assert not np.array_equal(a, _core.wishart.chi_square(10, 3.0, 100))


def test_bartlett_factor_structure():
    L = _core.wishart.bartlett_factor(3, 6, 10)
    assert L.shape == (6, 6)
    assert np.all(np.triu(L, 1) == 0) and np.all(np.diag(L) > 0)
    np.testing.assert_array_equal(L, _core.wishart.bartlett_factor(3, 6, 10))
    # Entry (i, j) depends on (seed, i, j, n) only, so a smaller M is the leading block.
    np.testing.assert_array_equal(_core.wishart.bartlett_factor(3, 4, 10), L[:4, :4])
    with pytest.raises(ValueError, match="`n`"):
        _core.wishart.bartlett_factor(3, 6, 5)


@pytest.mark.parametrize("n", [2, 4, 9])
def test_wishart_moments(n):
    # E W = n I, Var W_ij = n (1 + delta_ij) for W ~ W_M(n, I); n < M is the singular case
    # (explicit G^T G), n >= M the Bartlett case.
    M, draws = 4, 4000
    W = np.array([_core.wishart.sample_wishart(s, M, n) for s in range(draws)])
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
    logdet = np.array([np.linalg.slogdet(_core.wishart.sample_wishart(100 + s, M, n))[1] for s in range(draws)])
    expected = special.digamma((n - np.arange(M)) / 2).sum() + M * np.log(2)
    assert abs(logdet.mean() - expected) < 4 * logdet.std() / np.sqrt(draws)
    rng = np.random.default_rng(0)
    explicit = np.array([np.linalg.slogdet(g.T @ g)[1] for g in rng.standard_normal((draws, n, M))])
    assert stats.ks_2samp(logdet, explicit).pvalue > 1e-3

# ---------------------------------------------------------------------------------------------
# The GIL is released around compute
# ---------------------------------------------------------------------------------------------

def test_compute_releases_the_gil(rng):
    # A Python thread keeps counting at close to its free rate while this thread is inside the
    # compiled eigh. If the binding held the GIL, the counter would only run in the short gaps
    # the interpreter's switch interval allows (measured: < 10% of the free rate with the
    # 10 us interval set here; > 50% with the GIL released).
    import sys
    import threading
    import time

    A = rng.standard_normal((900, 900))
    A = A + A.T
    state = {"ticks": 0, "stop": False}

    def count():
        while not state["stop"]:
            state["ticks"] += 1

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    counter = threading.Thread(target=count)
    try:
        counter.start()
        while state["ticks"] == 0:
            time.sleep(0.001)
        start, ticks = time.perf_counter(), state["ticks"]
        time.sleep(0.1)
        free_rate = (state["ticks"] - ticks) / (time.perf_counter() - start)
        start, ticks = time.perf_counter(), state["ticks"]
        _core.solvers.eigh(A, True, 1)  # ~0.2 s of LAPACK on one thread
        busy_rate = (state["ticks"] - ticks) / (time.perf_counter() - start)
    finally:
        state["stop"] = True
        counter.join()
        sys.setswitchinterval(interval)
    assert busy_rate > 0.25 * free_rate, (busy_rate, free_rate)
