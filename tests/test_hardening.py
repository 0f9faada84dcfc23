"""Regression tests for the bad-input audit (shared/reviews/reliability-audit.md, section 4-7).

One test (or parametrised case) per reproducer of the audit. Each asserts the exact outcome:
the exception type and the argument its message names, or a number equal to a float64
reference. The cases that crashed the interpreter run in a subprocess, so a regression fails
the test instead of killing the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import scalinglab as sl
from scalinglab import _validation as validation
from scalinglab._native import _core

SETUP = "import numpy as np, scalinglab as sl; X = np.random.default_rng(0).standard_normal((20, 5)); y = X[:, 0]"


@pytest.fixture
def X():
    return np.random.default_rng(0).standard_normal((20, 5))


@pytest.fixture
def y(X):
    return X[:, 0].copy()


# The folder holding the scalinglab this process imported (an installed package, or python/ of an
# in-place build): subprocesses must import the same one.
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(sl.__file__)))


def run_isolated(code: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Run ``SETUP; code`` in a fresh interpreter (a segfault there is rc -11, not our crash)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = _PACKAGE_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", SETUP + "\n" + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout, env=env)


# ---- 1. crashes: n_threads -----------------------------------------------------------------------

CRASHERS = {
    "gram": "sl.RandomFeatures(5, 300, rng=1).gram(X, n_threads={n})",
    "transform": "sl.RandomFeatures(5, 300, rng=1).transform(X, n_threads={n})",
    "rbf": "sl.rbf_kernel(X, n_threads={n})",
    "theory": "sl.learning_curve_theory(sl.PowerLawTask(2, 1.5, 200), 20, 30, [1.0], "
              "n_threads={n}, truncation='ignore')",
    "ridge": "sl.RandomFeatureRidge(64, n_threads={n}).fit(X, y)",
    "learning_curve": "sl.learning_curve(sl.PowerLawTask(2, 1.5, 100), 10, 20, [1.0], n_threads={n})",
    "eigh": "sl.eigh(X.T @ X, n_threads={n})",
}


@pytest.mark.parametrize("n", [40000, 100000, 10**6, 2**31, 2**63, 2**64])
def test_huge_thread_counts_are_value_errors_not_crashes(n):
    # One subprocess for all entry points at this count (these segfaulted, killed the process
    # from libgomp, or gave pybind11's generic TypeError).
    code = "\n".join(
        f"try:\n    {call.format(n=n)}\nexcept ValueError as e:\n    assert '`n_threads`' in str(e), e\n"
        f"    print('ok {name}')\nelse:\n    raise SystemExit('accepted {name}')"
        for name, call in CRASHERS.items()
    )
    result = run_isolated(code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("ok ") == len(CRASHERS)


def test_thread_count_rule(X):
    # The core's own check (C++ resolve_threads, so embedders are safe too), reached by calling
    # _core directly past the Python validation: above MAX_THREADS or negative is refused.
    for bad in (validation.MAX_THREADS + 1, -1):
        with pytest.raises(ValueError, match="n_threads"):
            _core.kernels.rbf_kernel(X, X, 1.0, bad)
    # Above the cores but <= MAX_THREADS: clamped to the cores, same result as one thread.
    np.testing.assert_array_equal(_core.kernels.rbf_kernel(X, X, 1.0, validation.MAX_THREADS),
                                  _core.kernels.rbf_kernel(X, X, 1.0, 1))
    # The largest accepted count gives the same kernel as one thread.
    np.testing.assert_array_equal(sl.rbf_kernel(X, n_threads=validation.MAX_THREADS),
                                  sl.rbf_kernel(X, n_threads=1))
    with pytest.raises(ValueError, match="`n_threads`: must be <= 1024"):
        validation.n_threads_arg(1025)
    with pytest.raises(TypeError, match="n_threads"):
        validation.n_threads_arg(True)


# ---- 2. silent garbage -------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", [sl.linear_kernel, sl.rbf_kernel, sl.arccos_kernel,
                                    sl.arcsin_kernel])
def test_zero_column_inputs_are_refused(kernel):
    with pytest.raises(ValueError, match=r"`X`: found array with 0 feature\(s\)"):
        kernel(np.zeros((3, 0)))
    with pytest.raises(ValueError, match="`Y`"):
        kernel(np.ones((3, 2)), np.zeros((2, 0)))


def test_zero_columns_refused_in_the_core_too():
    with pytest.raises(ValueError, match="at least one column"):
        _core.kernels.linear_kernel(np.zeros((3, 0)), None, 1)


def test_arcsin_kernel_of_huge_inputs_is_the_scale_free_limit(X):
    # (2/pi) arcsin(2 x.y / sqrt((1+2|x|^2)(1+2|y|^2))) -> (2/pi) arcsin(cos theta) as |x| -> inf;
    # the diagonal tends to (2/pi) arcsin(1) = 1 (it came out 0 at 1e80 before).
    K = sl.arcsin_kernel(X * 1e80)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    reference = (2 / np.pi) * np.arcsin(np.clip(unit @ unit.T, -1, 1))
    np.testing.assert_allclose(K, reference, atol=1e-12)
    np.testing.assert_allclose(np.diag(K), 1.0, atol=1e-12)
    # arccos degree 1 at 1e80: |x||y| J_1 / (2 pi) ~ 1e160 is representable.
    K1 = sl.arccos_kernel(X * 1e80)
    np.testing.assert_allclose(K1 / 1e160, sl.arccos_kernel(X), rtol=1e-12)


@pytest.mark.parametrize("call", [
    lambda X: sl.arcsin_kernel(X * 1e200),
    lambda X: sl.linear_kernel(X * 1e200),
    lambda X: sl.infinite_width_kernel("relu", X * 1e160),
    lambda X: sl.RandomFeatures(5, 10, lengthscale=1e-300, rng=0).gram(X),
    lambda X: sl.RandomFeatures(5, 10, rng=0).gram(X * 1e160),
    lambda X: sl.RandomFeatures(5, 10, rng=0, dtype="float32").gram(X * 1e30),
    lambda X: sl.RandomFeatures(5, 10, rng=0, dtype="float32", lengthscale=1e-37).transform(X * 1e3),
])
def test_overflow_is_an_error_naming_X(X, call):
    with pytest.raises(ValueError, match="`X`: .*overflowed"):
        call(X)


def _grams(X, rng):
    X2 = rng.standard_normal((8, 5))
    rf = sl.RandomFeatures(5, 200, rng=0)
    K, Kt = rf.train_test_gram(X, X2)
    return X2, X2[:, 0].copy(), K, Kt


@pytest.mark.parametrize("edit, name", [
    (lambda K, Kt: (K, np.where(np.arange(Kt.size).reshape(Kt.shape) == 3, np.nan, Kt)), "K_test"),
    (lambda K, Kt: (K, Kt + np.inf), "K_test"),
    (lambda K, Kt: (K, Kt + 1j), "K_test"),
    (lambda K, Kt: (K + 1j, Kt), "K_train"),
    (lambda K, Kt: (K + np.triu(np.ones_like(K), 1), Kt), "K_train"),
    (lambda K, Kt: (-K, Kt), "K_train"),
])
def test_precomputed_grams_are_validated(X, y, rng, edit, name):
    X2, y2, K, Kt = _grams(X, rng)
    with pytest.raises(ValueError, match=f"`{name}`"):
        sl.kernel_learning_curve(X, y, X2, y2, features=edit(K, Kt), t=[0.0, 1.0])


def test_precomputed_gram_still_accepted(X, y, rng):
    X2, y2, K, Kt = _grams(X, rng)
    curve = sl.kernel_learning_curve(X, y, X2, y2, features=(K, Kt), t=[0.0, 1.0, 10.0])
    # t = 0: the zero predictor, test loss = mean(y_test^2).
    assert curve["test_loss"].iloc[0] == pytest.approx(np.mean(y2**2), rel=1e-12)
    assert np.isfinite(curve["test_loss"]).all()


@pytest.mark.parametrize("kwargs, name", [
    ({"y": np.full(20, np.nan)}, "y"),
    ({"y": np.full(20, np.inf)}, "y"),
    ({"y": np.ones(20) + 1j}, "y"),
    ({"sample_weight": np.full(20, np.nan)}, "sample_weight"),
    ({"sample_weight": np.zeros(20)}, "sample_weight"),
    ({"sample_weight": -np.ones(20)}, "sample_weight"),
])
def test_ridge_score_validates_y_and_weights(X, y, kwargs, name):
    model = sl.RandomFeatureRidge(16, rng=0).fit(X, y)
    arguments = {"y": y, **kwargs}
    with pytest.raises(ValueError, match=f"`{name}`"):
        model.score(X, **arguments)


def test_ridge_score_weights_reference(X, y):
    model = sl.RandomFeatureRidge(16, rng=0).fit(X, y)
    weights = np.random.default_rng(1).uniform(0.1, 2.0, 20)
    p = model.predict(X)
    mean = np.average(y, weights=weights)
    expected = 1 - np.sum(weights * (y - p) ** 2) / np.sum(weights * (y - mean) ** 2)
    assert model.score(X, y, sample_weight=weights) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("call, name", [
    (lambda: sl.LinearGaussianTask(np.ones(3) + 1j, np.ones(3)), "spectrum"),
    (lambda: sl.LinearGaussianTask(np.ones(3), np.ones(3) + 1j), "target"),
    (lambda: sl.fit_power_law([1, 2, 3, 4], np.array([1, 2, 3, 4]) + 1j), "y"),
    (lambda: sl.spectrum_exponent(np.arange(100, 0, -1.0) + 0j), "eigenvalues"),
    (lambda: sl.volterra.exact_volterra_spectrum(np.ones(4), np.ones(4),
                                                  projection=np.ones((4, 2)) + 1j), "projection"),
    (lambda: sl.rbf_kernel(np.ones((3, 2)) + 0j), "X"),
])
def test_complex_input_is_refused(call, name):
    with pytest.raises(ValueError, match=f"`{name}`: Complex data not supported"):
        call()


@pytest.mark.parametrize("call, name", [
    (lambda: sl.RandomFeatures(True, 10), "d"),
    (lambda: sl.RandomFeatures(5, True), "n_features"),
    (lambda: sl.learning_curve(sl.PowerLawTask(2, 1.5, 50), True, 10, [1.0]), "N"),
    (lambda: sl.PowerLawTask(2, 1.5, np.True_), "M"),
])
def test_booleans_are_not_sizes(call, name):
    with pytest.raises(TypeError, match=f"`{name}`: expected an integer, got the boolean"):
        call()


def test_whole_floats_still_accepted_as_sizes():
    assert sl.RandomFeatures(5.0, 10.0).n_features == 10


@pytest.mark.parametrize("optimizer", [sl.GradientDescent(100.0), sl.SGD(100.0, 1)])
def test_divergent_learning_rate_is_refused(optimizer):
    task = sl.PowerLawTask(2, 1.5, 200)
    with pytest.raises(ValueError, match="`learning_rate`: .*diverged"):
        sl.learning_curve(task, 20, 30, [1, 10, 1000], optimizer=optimizer, rng=0)
    # The theory refuses the same GD rate up front.
    if isinstance(optimizer, sl.GradientDescent):
        with pytest.raises(ValueError, match="learning_rate"):
            sl.learning_curve_theory(task, 20, 30, [1, 10, 1000], optimizer=optimizer)


def test_divergent_kernel_gd_is_refused(X, y, rng):
    X2, y2, K, Kt = _grams(X, rng)
    with pytest.raises(ValueError, match="`learning_rate`"):
        sl.kernel_learning_curve(X, y, X2, y2, features=(K, Kt), t=[0, 10, 1000],
                                 optimizer=sl.GradientDescent(1e6))


def test_overflowing_task_is_refused():
    task = sl.LinearGaussianTask(np.ones(10), np.full(10, 1e200))
    with pytest.raises(ValueError, match="`task`"):
        sl.learning_curve(task, 5, 8, [0.0, 1.0], rng=0)


# ---- 3. late failures: memory ------------------------------------------------------------------


def test_huge_ridge_fit_is_refused_before_work():
    import time

    start = time.perf_counter()
    with pytest.raises(MemoryError, match="`n_features`: the N x k weights"):
        sl.RandomFeatureRidge(3 * 10**9, rng=0).fit(np.ones((3, 1)), np.ones(3))
    with pytest.raises(MemoryError, match="`n_features`"):
        sl.RandomFeatureRidge(10**12, rng=0).fit(np.ones((20, 2)), np.ones(20))
    assert time.perf_counter() - start < 5.0  # it took 57 s of Gram work before


@pytest.mark.parametrize("call, name", [
    (lambda: sl.RandomFeatures(5, 10**12, "fourier").phases(), "stop"),
    (lambda: sl.RandomFeatures(5, 10**12, "relu").phases(), "stop"),
    (lambda: sl.volterra.exact_volterra_spectrum(np.ones(3), np.ones(3), d=10**6), "d"),
    (lambda: sl.volterra.exact_volterra_spectrum(np.ones(3), np.ones(3), d=10**9), "d"),
    (lambda: sl.PowerLawTask(2, 1.5, 10**12).spectrum, "M"),
    (lambda: sl.learning_curve(sl.PowerLawTask(2, 1.5, 100), 10, 20, [1.0], seeds=10**12), "seeds"),
    (lambda: sl.learning_curve(sl.PowerLawTask(2, 1.5, 3000), 10**9, 30, [1.0]), "N"),
])
def test_allocations_are_estimated_up_front(call, name):
    with pytest.raises(MemoryError, match=f"`{name}`"):
        call()


def test_memory_check_honours_rlimit_as():
    # In a child with `ulimit -v` 3 GiB, a 20000 x 20000 Gram (3.2 GB) is refused up front
    # instead of failing as std::bad_alloc.
    result = run_isolated("""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
        from scalinglab import _validation as v
        assert v.available_memory_bytes() < 3 * 2**30, v.available_memory_bytes()
        try:
            sl.linear_kernel(np.broadcast_to(np.ones(3), (20000, 3)))
        except MemoryError as e:
            assert '`X`' in str(e), e
            print('refused')
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "refused" in result.stdout


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cgroup_memory_limit_is_read(tmp_path, version):
    if version == "v2":
        (tmp_path / "proc").write_text("0::/job/step\n")
        for directory, limit, usage in (("job", "1073741824", "0"), ("job/step", "max", "5")):
            (tmp_path / "cg" / directory).mkdir(parents=True, exist_ok=True)
            (tmp_path / "cg" / directory / "memory.max").write_text(limit + "\n")
            (tmp_path / "cg" / directory / "memory.current").write_text("268435456\n")
        expected = 2**30 - 2**28
    else:
        (tmp_path / "proc").write_text("4:memory:/job\n3:cpu:/job\n")
        directory = tmp_path / "cg" / "memory" / "job"
        directory.mkdir(parents=True)
        (directory / "memory.limit_in_bytes").write_text("2147483648\n")
        (directory / "memory.usage_in_bytes").write_text("1073741824\n")
        (tmp_path / "cg" / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
        expected = 2**30
    room = validation._cgroup_available(str(tmp_path / "cg"), str(tmp_path / "proc"))
    assert room == expected


def test_check_memory_uses_the_smallest_limit(monkeypatch):
    monkeypatch.setattr(validation, "_meminfo_available", lambda: 64.0 * 2**30)
    monkeypatch.setattr(validation, "_rlimit_available", lambda: None)
    monkeypatch.setattr(validation, "_cgroup_available", lambda: 2.0 * 2**30)
    assert validation.available_memory_bytes() == 2.0 * 2**30
    with pytest.raises(MemoryError, match=r"`X`: .* 3\.0 GiB, more than 80% of the 2\.0 GiB"):
        validation.check_memory(3.0 * 2**30, "the thing", "X")
    with pytest.raises(MemoryError, match="addressed"):
        validation.check_memory(float("inf"), "the thing", "X")


# ---- 4. unhelpful errors -----------------------------------------------------------------------


def test_nan_projection_is_refused_before_lapack():
    task = sl.PowerLawTask(2, 1.5, 20)
    A = np.ones((10, 20))
    A[0, 0] = np.nan
    with pytest.raises(ValueError, match="`projection`: contains NaN"):
        sl.sgd_theory.sgd_risk_curve(task, 10, [1, 10], batch_size=1, learning_rate=0.1,
                                     projection=A)
    W = np.ones((20, 10))
    W[1, 1] = np.inf
    with pytest.raises(ValueError, match="`projection`: contains NaN"):
        sl.sgd_theory.exact_volterra_spectrum(task.spectrum, task.target, projection=W)


@pytest.mark.parametrize("call, error, name", [
    (lambda p: p.plot_scaling_curve([1, 2, 3], [1, 2]), ValueError, "y"),
    (lambda p: p.plot_spectrum(np.ones((3, 3))), ValueError, "eigenvalues"),
    (lambda p: p.plot_ridge_path(pd.DataFrame()), ValueError, "table"),
    (lambda p: p.plot_ridge_path(None), TypeError, "table"),
    (lambda p: p.plot_scaling_curve([1, 2, 3], [1, 2, 3], fit="x"), TypeError, "fit"),
])
def test_plot_helpers_name_the_bad_argument(call, error, name):
    pytest.importorskip("matplotlib")
    with pytest.raises(error, match=f"`{name}`"):
        call(sl.plot)


def test_spectrum_exponent_window_must_be_ordered():
    v = np.arange(1, 101, dtype=float) ** -1.5
    with pytest.raises(ValueError, match="`k_max`: must be > k_min = 50, got 10"):
        sl.spectrum_exponent(v, k_min=50, k_max=10)


@pytest.mark.parametrize("bad, error", [
    ([[1.0, 2.0], [3.0]], ValueError),   # ragged
    ("abc", TypeError),
    (np.array([[{"a": 1}, 2.0]], dtype=object), TypeError),
])
def test_generic_numpy_messages_name_the_argument(bad, error):
    with pytest.raises(error, match="`X`"):
        sl.linear_kernel(bad)


def test_object_array_of_numbers_is_converted(X):
    np.testing.assert_array_equal(sl.linear_kernel(X.astype(object)), sl.linear_kernel(X))


def test_sparse_input_is_refused_clearly(X):
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="`X`: sparse input is not supported"):
        sl.rbf_kernel(sparse.csr_matrix(X))


# ---- 5. scikit-learn ---------------------------------------------------------------------------


def test_fit_sample_weight_equals_repetition(X, y):
    # Integer weights = repeated samples; zero weight = dropped sample (both solver forms).
    weights = np.ones(20)
    weights[:5] = 2
    weights[5:8] = 0
    repeated = np.concatenate([X, X[:5]])[np.r_[0:5, 8:25]]
    repeated_y = np.concatenate([y, y[:5]])[np.r_[0:5, 8:25]]
    for n_features in (8, 64):  # primal (N < P) and dual
        weighted = sl.RandomFeatureRidge(n_features, rng=0, ridge=0.1).fit(X, y, sample_weight=weights)
        plain = sl.RandomFeatureRidge(n_features, rng=0, ridge=0.1).fit(repeated, repeated_y)
        np.testing.assert_allclose(weighted.coef_, plain.coef_, rtol=1e-9, atol=1e-12)


def test_feature_names_in(X, y):
    frame = pd.DataFrame(X, columns=list("abcde"))
    model = sl.RandomFeatureRidge(16, rng=0).fit(frame, y)
    np.testing.assert_array_equal(model.feature_names_in_, list("abcde"))
    with pytest.raises(ValueError, match="feature names should match"):
        model.predict(frame[list("edcba")])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_array = model.predict(X)
    np.testing.assert_array_equal(model.predict(frame), from_array)
    assert not hasattr(sl.RandomFeatureRidge(16, rng=0).fit(X, y), "feature_names_in_")


def test_not_fitted_error_without_sklearn_loaded():
    result = run_isolated("""
        import sys
        try:
            sl.RandomFeatureRidge().predict(X)
        except ValueError as e:
            assert isinstance(e, AttributeError) and 'not fitted' in str(e), e
        assert 'sklearn' not in sys.modules
        print('ok')
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok" in result.stdout


def test_estimator_module_does_not_import_sklearn():
    result = run_isolated("import sys; print('sklearn' in sys.modules)")
    assert result.stdout.strip() == "False"


try:
    from sklearn.utils.estimator_checks import parametrize_with_checks
except ImportError:  # scikit-learn is optional
    parametrize_with_checks = None

if parametrize_with_checks is not None:

    @parametrize_with_checks([sl.RandomFeatureRidge(), sl.RandomFeatureRidge(n_features=64, rng=0)])
    def test_sklearn_check_estimator(estimator, check):
        check(estimator)


@pytest.mark.slow
def test_the_whole_audit_has_no_bad_case(tmp_path):
    # tools/audit.py: 1,794 calls (all categories of the audit and its 45 reproducers), each in
    # a crash-isolated worker; ~1-2 minutes.
    summary = tmp_path / "audit.md"
    env = dict(os.environ)
    env["PYTHONPATH"] = _PACKAGE_ROOT
    tool = os.path.join(os.path.dirname(__file__), "..", "tools", "audit.py")
    result = subprocess.run([sys.executable, tool, "--summary", str(summary)], capture_output=True,
                            text=True, timeout=1800, env=env)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "| **0** |" in summary.read_text()
