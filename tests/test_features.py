"""RandomFeatures: feature identity across blocks/threads, streamed Grams vs explicit numpy,
checkpoints, bad input, Ctrl-C and the GIL."""

import os
import pickle
import signal
import threading
import time

import numpy as np
import pytest
from scipy.special import erf

import scalinglab._validation as validation
from scalinglab.features import ACTIVATIONS, RandomFeatures

SIGMA = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "erf": erf,
    "tanh": np.tanh,
    "cos": np.cos,
    "sin": np.sin,
    "fourier": lambda z: np.sqrt(2.0) * np.cos(z),  # phases added before sigma
}


def explicit_features(rf, X, start=0, stop=None):
    """Phi from the definition, in float64 numpy: sigma(X W^T / (l sqrt(d)) + b)."""
    stop = rf.n_features if stop is None else stop
    W = rf.weights(start, stop).astype(np.float64)
    Z = np.asarray(X, dtype=np.float64) @ W.T / (rf.lengthscale * np.sqrt(rf.d))
    return SIGMA[rf.activation](Z + rf.phases(start, stop))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_feature_j_same_for_any_range_block_and_threads(activation, dtype, rng):
    X = rng.standard_normal((9, 13))
    rf = RandomFeatures(13, 3000, activation, rng=11, dtype=dtype)
    full = rf.transform(X, n_threads=1)
    # Ranges that cut Philox blocks of 4 numbers and feature blocks anywhere.
    for start, stop in [(0, 1), (1, 2), (5, 1234), (1233, 3000), (2999, 3000)]:
        np.testing.assert_array_equal(rf.transform(X, start, stop, n_threads=2), full[:, start:stop])
    for block_size in (1, 7, 256, 5000):
        np.testing.assert_array_equal(rf._map.transform(X.astype(dtype), 0, 3000, 2, block_size),
                                      full)
    # Any subset of the rows of X: the pre-activation of (x_i, w_j) sees only x_i and w_j.
    np.testing.assert_array_equal(rf.transform(X[4:5]), full[4:5])
    np.testing.assert_array_equal(rf.transform(X[[8, 0, 3]], 17, 18), full[[8, 0, 3], 17:18])
    # A map with fewer features is a prefix of the map with more (same seed).
    np.testing.assert_array_equal(
        RandomFeatures(13, 100, activation, rng=11, dtype=dtype).transform(X), full[:, :100])


def test_features_same_for_large_shapes_and_many_threads(rng):
    # Shapes where BLAS would switch kernels (1 column -> gemv, small-matrix kernels, threaded
    # splits): the pre-activation kernel runs multi-threaded here and must still agree.
    X = rng.standard_normal((1000, 300))
    rf = RandomFeatures(300, 700, "linear", rng=3)
    full = rf.transform(X, n_threads=1)
    for n_threads in (2, 3, 4):
        np.testing.assert_array_equal(rf.transform(X, n_threads=n_threads), full)
    np.testing.assert_array_equal(rf.transform(X, 699, 700, n_threads=2), full[:, 699:700])
    np.testing.assert_array_equal(rf.transform(X[:1], n_threads=2), full[:1])
    np.testing.assert_array_equal(rf._map.transform(X, 0, 700, 3, 13), full)


SIMD_PROBE = """
import sys, numpy as np
from scalinglab.features import RandomFeatures
X = np.random.default_rng(5).standard_normal((70, 37))
out = {}
for dtype in ("float64", "float32"):
    rf = RandomFeatures(37, 1100, "erf", rng=2, dtype=dtype)
    out["phi_" + dtype] = rf.transform(X, n_threads=2)
    out["gram_" + dtype] = rf.gram(X, n_threads=2)
    out["cross_" + dtype] = rf.gram(X[:9], X, n_threads=2)
np.savez(sys.argv[1], **out)
"""


@pytest.mark.parametrize("level", ["generic", "avx2"])
def test_features_and_grams_same_on_every_simd_level(level, tmp_path):
    # The FMA chains give the same bits on any CPU; here the narrower kernels are forced
    # (SCALINGLAB_SIMD) and compared with the default one (AVX-512 where the CPU has it).
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    script = tmp_path / "probe.py"
    script.write_text(SIMD_PROBE)
    results = {}
    for name, value in (("default", None), (level, level)):
        run_env = dict(env)
        run_env.pop("SCALINGLAB_SIMD", None)
        if value is not None:
            run_env["SCALINGLAB_SIMD"] = value
        subprocess.run([sys.executable, str(script), str(tmp_path / f"{name}.npz")], env=run_env,
                       check=True)
        results[name] = np.load(tmp_path / f"{name}.npz")
    for key in results["default"].files:
        np.testing.assert_array_equal(results[level][key], results["default"][key], err_msg=key)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_transform_matches_definition(activation, rng):
    X = rng.standard_normal((11, 6))
    rf = RandomFeatures(6, 700, activation, rng=1, lengthscale=0.7)
    phi = rf.transform(X)
    assert phi.shape == (11, 700) and phi.dtype == np.float64
    np.testing.assert_allclose(phi, explicit_features(rf, X), rtol=0, atol=1e-12)
    rf32 = RandomFeatures(6, 700, activation, rng=1, lengthscale=0.7, dtype="float32")
    phi32 = rf32.transform(X)
    assert phi32.dtype == np.float32
    # float32 pre-activations carry ~1e-7 relative rounding (inputs and weights rounded).
    np.testing.assert_allclose(phi32, explicit_features(rf32, X.astype(np.float32)), rtol=0,
                               atol=2e-5 * max(1.0, np.abs(phi).max()))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gram_equals_explicit(activation, rng):
    X = rng.standard_normal((30, 8))
    Y = rng.standard_normal((12, 8))
    N = 5000  # two blocks of the default size (4096 for these shapes)
    rf = RandomFeatures(8, N, activation, rng=21)
    phi_x, phi_y = explicit_features(rf, X), explicit_features(rf, Y)
    K = rf.gram(X)
    assert K.shape == (30, 30) and K.dtype == np.float64
    np.testing.assert_array_equal(K, K.T)  # symmetrised exactly
    np.testing.assert_allclose(K, phi_x @ phi_x.T / N, rtol=0, atol=1e-12)
    K_xy = rf.gram(X, Y)
    assert K_xy.shape == (30, 12)
    np.testing.assert_allclose(K_xy, phi_x @ phi_y.T / N, rtol=0, atol=1e-12)
    # Many small blocks (block boundaries inside the stream) give the same Gram, bit for bit:
    # each entry is one FMA chain over the features, continued from block to block.
    _, grams, crosses = rf._map.grams(X, Y, True, [N], 333, 2, None)
    np.testing.assert_array_equal(grams[0], K)
    np.testing.assert_array_equal(crosses[0], rf.gram(Y, X))


@pytest.mark.parametrize("activation", ["relu", "erf", "fourier"])
def test_float32_gram_close_to_float64(activation, rng):
    X = rng.standard_normal((25, 16))
    rf32 = RandomFeatures(16, 20000, activation, rng=2, dtype="float32")
    K32 = rf32.gram(X)
    assert K32.dtype == np.float32
    phi = explicit_features(rf32, X.astype(np.float32))  # float64 maths on the float32 inputs
    exact = phi @ phi.T / rf32.n_features
    scale = np.abs(exact).max()
    # Summing 20000 float32 products in blocks: relative error ~ sqrt(blocks) * 6e-8 << 1e-5.
    np.testing.assert_allclose(K32, exact, rtol=0, atol=1e-5 * scale)
    K_xy = rf32.gram(X[:5], X)
    np.testing.assert_allclose(K_xy, exact[:5], rtol=0, atol=1e-5 * scale)


def test_train_test_gram_is_gram_and_cross(rng):
    X, X_test = rng.standard_normal((40, 10)), rng.standard_normal((15, 10))
    rf = RandomFeatures(10, 4000, "relu", rng=8)
    K, K_test = rf.train_test_gram(X, X_test)
    np.testing.assert_array_equal(K, rf.gram(X))
    np.testing.assert_array_equal(K_test, rf.gram(X_test, X))
    grid = rf.train_test_gram(X, X_test, checkpoints=[10, 4000])
    assert set(grid) == {10, 4000}
    np.testing.assert_array_equal(grid[4000][1], K_test)
    np.testing.assert_array_equal(grid[10][0], RandomFeatures(10, 10, "relu", rng=8).gram(X))


def test_checkpoints_equal_separate_computations(rng):
    X = rng.standard_normal((20, 5))
    Y = rng.standard_normal((6, 5))
    widths = [1, 7, 100, 2048, 2049, 5000]
    rf = RandomFeatures(5, 6000, "erf", rng=4)
    grid = rf.gram(X, checkpoints=widths)
    assert list(grid) == widths
    cross = rf.gram(X, Y, checkpoints=np.array(widths))
    phi_x, phi_y = explicit_features(rf, X, 0, 5000), explicit_features(rf, Y, 0, 5000)
    for N in widths:
        alone = RandomFeatures(5, N, "erf", rng=4).gram(X)
        np.testing.assert_array_equal(grid[N], alone)  # the same chains, cut at N
        np.testing.assert_allclose(grid[N], phi_x[:, :N] @ phi_x[:, :N].T / N, rtol=0, atol=1e-13)
        np.testing.assert_allclose(cross[N], phi_x[:, :N] @ phi_y[:, :N].T / N, rtol=0, atol=1e-13)


def test_long_block_updates_are_split_into_panels(rng):
    # 2500^2 x 4096 flops in one block's syrk exceed the core's 2e10 flops between two polls, so
    # the update runs in row panels (syrk on the diagonal, gemm off it); 1024-feature blocks do not.
    X, Z = rng.standard_normal((2500, 10)), rng.standard_normal((2500, 10))
    rf = RandomFeatures(10, 4096, "relu", rng=12)
    _, panelled, panelled_cross = rf._map.grams(X, Z, True, [4096], 4096, 0, None)
    _, whole, whole_cross = rf._map.grams(X, Z, True, [4096], 1024, 0, None)
    np.testing.assert_array_equal(panelled[0], whole[0])
    np.testing.assert_array_equal(panelled[0], panelled[0].T)
    np.testing.assert_array_equal(panelled_cross[0], whole_cross[0])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gram_independent_of_thread_count_block_size_and_rows(dtype, rng):
    X = rng.standard_normal((300, 50))
    Y = rng.standard_normal((40, 50))
    rf = RandomFeatures(50, 3000, "tanh", rng=6, dtype=dtype)
    one = rf.gram(X, n_threads=1)
    cross = rf.gram(Y, X, n_threads=1)
    for n_threads in (2, 3):
        np.testing.assert_array_equal(rf.gram(X, n_threads=n_threads), one)
        np.testing.assert_array_equal(rf.gram(Y, X, n_threads=n_threads), cross)
    _, grams, crosses = rf._map.grams(X.astype(dtype), Y.astype(dtype), True, [1000, 3000], 77, 2,
                                      None)
    np.testing.assert_array_equal(grams[1], one)
    np.testing.assert_array_equal(crosses[1], cross)
    # Entry (i, k) depends on x_i and x_k only: a Gram of some rows is a block of the full one.
    np.testing.assert_array_equal(rf.gram(X[:37]), one[:37, :37])
    np.testing.assert_array_equal(rf.gram(X[[5, 250]], X[[7]]), one[[5, 250]][:, [7]])


def test_pickle_and_equality():
    rf = RandomFeatures(3, 100, "fourier", rng=9, lengthscale=2.0, dtype="float32")
    clone = pickle.loads(pickle.dumps(rf))
    assert clone == rf and hash(clone) == hash(rf)
    X = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(clone.transform(X), rf.transform(X))
    assert RandomFeatures(3, 100, "fourier", rng=10) != rf
    assert "fourier" in repr(rf)


def test_progress_bar_reaches_the_end(rng, capsys):
    rf = RandomFeatures(4, 3000, "relu", rng=1)
    rf.gram(rng.standard_normal((5, 4)), progress=True)
    err = capsys.readouterr().err
    assert "100%" in err and "3.00k" in err


# ---- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(d=0, n_features=5), ValueError, "`d`"),
        (dict(d=2.5, n_features=5), TypeError, "`d`"),
        (dict(d=3, n_features=0), ValueError, "`n_features`"),
        (dict(d=3, n_features=-4), ValueError, "`n_features`"),
        (dict(d=3, n_features=5, activation="softplus"), ValueError, "`activation`"),
        (dict(d=3, n_features=5, activation=None), ValueError, "`activation`"),
        (dict(d=3, n_features=5, dtype="int32"), ValueError, "`dtype`"),
        (dict(d=3, n_features=5, lengthscale=0.0), ValueError, "`lengthscale`"),
        (dict(d=3, n_features=5, lengthscale=float("nan")), ValueError, "`lengthscale`"),
        (dict(d=3, n_features=5, rng=-1), ValueError, "`rng`"),
        (dict(d=3, n_features=5, rng="seed"), TypeError, "`rng`"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        RandomFeatures(**kwargs)


def test_unknown_activation_lists_the_valid_ones():
    with pytest.raises(ValueError, match="linear, relu, erf, tanh, cos, sin, fourier"):
        RandomFeatures(3, 5, "gelu")


@pytest.mark.parametrize(
    "X, error",
    [
        (np.array([[0.0, np.nan, 1.0]]), ValueError),
        (np.array([[0.0, np.inf, 1.0]]), ValueError),
        (np.zeros(3), ValueError),  # 1-D: shape (n, d) must be explicit
        (np.zeros((2, 4)), ValueError),  # wrong d
        (np.zeros((0, 3)), ValueError),
        (np.array([["a", "b", "c"]]), TypeError),
        (np.zeros((2, 3), dtype=complex), ValueError),  # "Complex data not supported"
    ],
)
def test_bad_X_is_refused_before_work(X, error):
    rf = RandomFeatures(3, 10, "relu", rng=0)
    for call in (rf.transform, rf.gram, lambda A: rf.gram(np.ones((2, 3)), A),
                 lambda A: rf.train_test_gram(np.ones((2, 3)), A)):
        with pytest.raises(error, match="`(X|Y|X_test)`"):
            call(X)


def test_bad_ranges_checkpoints_and_threads():
    rf = RandomFeatures(3, 10, "relu", rng=0)
    X = np.ones((2, 3))
    with pytest.raises(ValueError, match="`stop`"):
        rf.transform(X, 0, 11)
    with pytest.raises(ValueError, match="`stop`"):
        rf.transform(X, 5, 5)
    with pytest.raises(ValueError, match="`start`"):
        rf.transform(X, -1, 5)
    with pytest.raises(TypeError, match="`start`"):
        rf.weights(1.5)
    with pytest.raises(ValueError, match="`n_threads`"):
        rf.gram(X, n_threads=-1)
    for bad in ([5, 3], [3, 3], [0, 5], [4, 11], [], [[1, 2]]):
        with pytest.raises(ValueError, match="`checkpoints`"):
            rf.gram(X, checkpoints=bad)
    with pytest.raises(TypeError, match="`checkpoints`"):
        rf.gram(X, checkpoints=[1.5, 3])


def test_grams_that_do_not_fit_raise_memory_error(monkeypatch):
    monkeypatch.setattr(validation, "available_memory_bytes", lambda: float(2**30))
    rf = RandomFeatures(1, 10, "relu", rng=0)
    big = np.zeros((20000, 1))  # a 20000^2 float64 Gram is 3.2 GB
    with pytest.raises(MemoryError, match="`X`"):
        rf.gram(big)
    with pytest.raises(MemoryError, match="`Y`"):
        rf.gram(big, big + 1.0)  # a (20000, 20000) cross Gram
    medium = np.zeros((6000, 1))  # 288 MB per Gram: one fits, six do not
    with pytest.raises(MemoryError, match="`checkpoints`"):
        rf.gram(medium, checkpoints=[1, 2, 3, 4, 5, 6])
    with pytest.raises(MemoryError, match="`stop`"):
        RandomFeatures(1, 10**6, "relu", rng=0).transform(np.zeros((1000, 1)))


# ---- Ctrl-C and the GIL ------------------------------------------------------------------------


def test_long_gram_releases_the_gil_and_stops_on_ctrl_c(rng):
    X = rng.standard_normal((1500, 400))
    rf = RandomFeatures(400, 10**7, "relu", rng=0)  # ~ 10 minutes if not stopped
    ticks = []
    running = threading.Event()

    def interrupt_later():
        running.wait()
        start = time.perf_counter()
        # This thread only runs while the Gram is being computed if the GIL is released.
        while time.perf_counter() - start < 0.5:
            ticks.append(time.perf_counter())
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    helper = threading.Thread(target=interrupt_later)
    helper.start()
    began = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        running.set()
        rf.gram(X)
    elapsed = time.perf_counter() - began
    helper.join()
    assert len(ticks) >= 20
    # One block of 1500 x ~2900 features takes ~0.2 s on 2 cores; allow a slow shared machine.
    assert elapsed < 5.0
