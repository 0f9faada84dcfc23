"""Property-based bad-input suite (Hypothesis) over the public API.

Property: every call either returns finite numbers equal to a float64 reference computation
(numpy formulas for the kernels, features, spectra and solvers; the same call on clean
C-contiguous float64 input, or on one thread, for simulations and theories), or raises
ValueError / TypeError / MemoryError (or scalinglab.LinAlgError) whose message names an argument
in backticks. Numpy ComplexWarning and RuntimeWarning are errors here (they are how a dropped
imaginary part or an overflow would slip through).

Inputs: arbitrary shapes (0-3 dims, sides 0-6), dtypes (float64/32/16, longdouble, int8, int64,
uint64, bool, complex, object), orders (C, Fortran, negative strides, read-only, lists,
DataFrames), NaN and infinity, sizes from -2 to 2**64, floats, booleans, strings and None.
The riskiest draws (thread counts and sizes up to 2**64, garbage for every public name) run in
the persistent subprocess of tools/audit.py, so a segfault fails one example instead of
killing the test run.

Profiles (tests/conftest.py): ``scalinglab`` (default: deadline=None, derandomize=True, few
examples, < 2 minutes) and ``scalinglab-slow`` for the tests marked slow (more examples).
"""

from __future__ import annotations

import inspect
import math
import os
import re
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import scalinglab as sl  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import audit  # noqa: E402

NAMED = re.compile(r"`[^`\s][^`]*`")
ALLOWED_ERRORS = (ValueError, TypeError, MemoryError, sl.LinAlgError)

FAST = settings(max_examples=20)
SLOW = settings(max_examples=400)

# ---- strategies --------------------------------------------------------------------------------

DTYPES = (np.float64, np.float32, np.float16, np.longdouble, np.int8, np.int64, np.uint64,
          np.bool_, np.complex128, object)
LAYOUTS = ("C", "F", "negative", "readonly", "list", "dataframe")


def _elements(dtype, wild: bool):
    if dtype in (np.float64, np.float32, np.float16, np.longdouble, np.complex128, object):
        if wild:
            return st.floats(allow_nan=True, allow_infinity=True, width=16 if dtype == np.float16 else 64)
        return st.floats(-100, 100, width=16 if dtype == np.float16 else 64)
    if dtype == np.int8:
        return st.integers(-100, 100)
    if dtype == np.int64:
        return st.integers(-1000, 1000)
    if dtype == np.uint64:
        return st.integers(0, 1000)
    return st.booleans()


@st.composite
def arrays(draw, shape=None, *, wild=None):
    """An array-like of any dtype and layout (of ``shape`` if given)."""
    if shape is None:
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))
    dtype = draw(st.sampled_from(DTYPES))
    wild = draw(st.booleans()) if wild is None else wild
    base_dtype = {np.complex128: np.float64, object: np.float64, np.longdouble: np.float64}.get(dtype, dtype)
    values = draw(hnp.arrays(base_dtype, shape, elements=_elements(dtype, wild)))
    if dtype == np.complex128:
        values = values + 1j * draw(st.sampled_from([0.0, 1.0]))
    elif dtype is object:
        values = values.astype(object)
    elif dtype == np.longdouble:
        values = values.astype(np.longdouble)
    layout = draw(st.sampled_from(LAYOUTS))
    if layout == "F":
        return np.asfortranarray(values)
    if layout == "negative" and values.ndim >= 1:
        return values[::-1].copy()[::-1]
    if layout == "readonly" and values.ndim >= 1:
        values = values.copy()
        values.flags.writeable = False
        return values
    if layout == "list":
        return values.tolist()
    if layout == "dataframe" and values.ndim == 2:
        return pd.DataFrame(values)
    return values


@st.composite
def matrices(draw, d: int, rows=(1, 6)):
    """Mostly (n, d) matrices of any dtype/layout; sometimes any shape."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.one_of(arrays(), st.none(), st.text(max_size=3)))
    n = draw(st.integers(*rows))
    return draw(arrays((n, d)))


SIZES = st.one_of(st.integers(-2, 8), st.integers(0, 2**64),
                  st.sampled_from([True, False, 1.5, 3.0, math.nan, math.inf, -math.inf, None, "a",
                                   np.int64(4), np.float32(2.0), 2**31, 2**62, 2**63, 2**64]))
THREADS = st.one_of(st.integers(-2, 4), st.integers(0, 2**64),
                    st.sampled_from([True, None, "a", 1.5, 1024, 1025, 40000, 10**5, 10**6]))
ANYTHING = st.one_of(st.none(), st.text(max_size=4), SIZES, st.floats(),
                     arrays(), st.builds(lambda: pd.DataFrame({"N": [1.0, 2.0], "test_loss": [1.0, 0.5]})))


# ---- the property ------------------------------------------------------------------------------


def _numbers(result):
    return [np.asarray(a, dtype=np.float64) for a in audit._flatten(result, np)]


def clean(a):
    """The float64 C-contiguous version of an array-like that a valid call accepts."""
    return np.ascontiguousarray(np.asarray(a, dtype=np.float64))


def checked(call, reference=None, *, rtol=1e-9, atol=1e-12):
    """Run ``call``; assert the property; return the result (None when it raised)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        warnings.simplefilter("error", RuntimeWarning)
        try:
            result = call()
        except ALLOWED_ERRORS as error:
            assert NAMED.search(str(error)) or isinstance(error, sl.LinAlgError), \
                f"message names no argument: {type(error).__name__}: {error}"
            return None
    values = _numbers(result)
    for a in values:
        assert np.isfinite(a).all(), f"non-finite result {a}"
    if reference is not None:
        expected = _numbers(reference())
        assert len(expected) == len(values)
        for a, b in zip(values, expected):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    return result


def _valid_matrix(a, d):
    """Whether ``a`` is an input a correct implementation must accept as (n >= 1, d) float data."""
    if isinstance(a, (str, type(None))):
        return False
    array = np.asarray(a) if not isinstance(a, pd.DataFrame) else a.to_numpy()
    if array.dtype.kind not in "fiu" and array.dtype != object:
        return False
    try:
        values = array.astype(np.float64)
    except (TypeError, ValueError):
        return False
    # Entries up to 1e50: every product the API forms stays far inside the float64 range (larger
    # finite inputs may overflow, and refusing them with a ValueError is then correct).
    return values.ndim == 2 and values.shape[0] >= 1 and values.shape[1] == d and \
        np.isfinite(values).all() and np.abs(values).max() <= 1e50


def _accepted(call, a, d):
    """For a valid input the call must succeed (a refusal of valid data is a bug too)."""
    result = checked(call)
    if _valid_matrix(a, d):
        assert result is not None, "a valid input was refused"
    return result


# ---- numpy references ---------------------------------------------------------------------------


def ref_linear(X, Y):
    return X @ Y.T


def ref_rbf(X, Y, lengthscale=1.0):
    squared = (X**2).sum(1)[:, None] + (Y**2).sum(1)[None, :] - 2 * X @ Y.T
    return np.exp(-np.maximum(squared, 0) / (2 * lengthscale**2))


def ref_arccos(X, Y, degree):
    nx, ny = np.linalg.norm(X, axis=1)[:, None], np.linalg.norm(Y, axis=1)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.clip((X @ Y.T) / (nx * ny), -1, 1)
    cosine = np.nan_to_num(cosine)
    theta = np.arccos(cosine)
    sine = np.sqrt(np.maximum(0, 1 - cosine**2))
    J = {0: np.pi - theta, 1: sine + (np.pi - theta) * cosine,
         2: 3 * sine * cosine + (np.pi - theta) * (1 + 2 * cosine**2)}[degree]
    return (nx * ny) ** degree * J / (2 * np.pi) * ((nx * ny) > 0)  # Theta(0) = 0


def ref_arcsin(X, Y):
    qx, qy = (X**2).sum(1)[:, None], (Y**2).sum(1)[None, :]
    return 2 / np.pi * np.arcsin(np.clip(2 * X @ Y.T / np.sqrt((1 + 2 * qx) * (1 + 2 * qy)), -1, 1))


def ref_features(rf, X):
    from scipy.special import erf

    W = rf.weights().astype(np.float64)
    z = X @ W.T / (rf.lengthscale * np.sqrt(rf.d))
    b = rf.phases()
    return {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0), "erf": erf,
            "tanh": np.tanh, "cos": np.cos, "sin": np.sin,
            "fourier": lambda z: np.sqrt(2) * np.cos(z + b)}[rf.activation](z)


# ---- kernels -----------------------------------------------------------------------------------

D = 3


@FAST
@given(X=matrices(D), Y=st.one_of(st.none(), matrices(D)), kernel=st.sampled_from(
    ["linear", "rbf", "arccos0", "arccos1", "arccos2", "arcsin"]), n_threads=st.sampled_from([0, 1, 2]))
def test_kernels(X, Y, kernel, n_threads):
    functions = {
        "linear": (lambda A, B: sl.linear_kernel(A, B, n_threads=n_threads), ref_linear),
        "rbf": (lambda A, B: sl.rbf_kernel(A, B, n_threads=n_threads), ref_rbf),
        "arcsin": (lambda A, B: sl.arcsin_kernel(A, B, n_threads=n_threads), ref_arcsin),
        **{f"arccos{k}": (lambda A, B, k=k: sl.arccos_kernel(A, B, degree=k, n_threads=n_threads),
                          lambda A, B, k=k: ref_arccos(A, B, k)) for k in (0, 1, 2)},
    }
    function, reference = functions[kernel]
    valid = _valid_matrix(X, D) and (Y is None or _valid_matrix(Y, D))
    result = checked(lambda: function(X, Y),
                     (lambda: reference(clean(X), clean(X if Y is None else Y))) if valid else None,
                     rtol=1e-9, atol=1e-9)
    if valid:
        assert result is not None


@FAST
@given(X=matrices(D), activation=st.sampled_from(sorted(sl.kernels.ANALYTIC_ACTIVATIONS)))
def test_infinite_width_kernel(X, activation):
    _accepted(lambda: sl.infinite_width_kernel(activation, X), X, D)


# ---- random features ---------------------------------------------------------------------------


@FAST
@given(X=matrices(D), activation=st.sampled_from(sl.ACTIVATIONS), dtype=st.sampled_from(["float64", "float32"]),
       n_features=st.integers(1, 40), method=st.sampled_from(["gram", "transform", "cross", "train_test"]))
def test_random_features_against_numpy(X, activation, dtype, n_features, method):
    rf = sl.RandomFeatures(D, n_features, activation, rng=3, dtype=dtype)
    valid = _valid_matrix(X, D)
    tolerance = dict(rtol=1e-9, atol=1e-10) if dtype == "float64" else dict(rtol=2e-3, atol=2e-3)

    def reference():
        phi = ref_features(rf, clean(X))
        if method == "transform":
            return phi
        if method == "gram":
            return phi @ phi.T / n_features
        other = ref_features(rf, clean(X)[::-1].copy())
        if method == "cross":
            return phi @ other.T / n_features
        return phi @ phi.T / n_features, other @ phi.T / n_features

    def call():
        if method == "transform":
            return rf.transform(X)
        if method == "gram":
            return rf.gram(X)
        if method == "cross":
            return rf.gram(X, clean(X)[::-1].copy() if valid else X)
        return rf.train_test_gram(X, clean(X)[::-1].copy() if valid else X)

    # float32 pre-activations of size z carry an absolute rounding error ~ 1e-7 |z|: compare with
    # the float64 reference only where that is small (|x| <= 100); beyond, check the property's
    # other half (finite or a named error).
    comparable = valid and (dtype == "float64" or np.abs(clean(X)).max() <= 100)
    if comparable and dtype == "float64":
        # cos/sin/fourier of a pre-activation z carry an absolute error ~ eps |z| (the phase of a
        # large argument), z <= ~10 max|x|: the absolute tolerance follows it.
        tolerance["atol"] = 1e-10 + 1e-13 * float(np.abs(clean(X)).max())
    result = checked(call, reference if comparable else None, **tolerance)
    if valid:
        assert result is not None


@FAST
@given(d=SIZES, n_features=SIZES, activation=st.one_of(st.sampled_from(sl.ACTIVATIONS), ANYTHING),
       lengthscale=st.one_of(st.floats(), SIZES))
def test_random_features_constructor(d, n_features, activation, lengthscale):
    rf = checked(lambda: sl.RandomFeatures(d, n_features, activation, lengthscale=lengthscale, rng=0))
    if rf is not None:
        assert rf.d == int(d) and rf.n_features == int(n_features) and not isinstance(d, bool)
        part = checked(lambda: rf.weights(0, min(rf.n_features, 3)))
        assert part is not None and part.shape == (min(rf.n_features, 3), rf.d)


@FAST
@given(start=SIZES, stop=st.one_of(st.none(), SIZES), method=st.sampled_from(["weights", "phases", "transform"]))
def test_random_features_ranges(start, stop, method):
    rf = sl.RandomFeatures(D, 20, "fourier", rng=1)
    X = np.ones((2, D))
    call = {"weights": lambda: rf.weights(start, stop), "phases": lambda: rf.phases(start, stop),
            "transform": lambda: rf.transform(X, start, stop)}[method]
    full = {"weights": rf.weights, "phases": rf.phases, "transform": lambda: rf.transform(X)}[method]()
    result = checked(call)
    if result is not None:
        stop_value = 20 if stop is None else int(stop)
        np.testing.assert_array_equal(result, full[..., int(start):stop_value] if method == "transform"
                                      else full[int(start):stop_value])


# ---- estimator ---------------------------------------------------------------------------------


@FAST
@given(X=matrices(D, rows=(2, 8)), y=st.one_of(arrays(), st.none()), ridge=st.one_of(st.floats(), SIZES),
       n_features=st.one_of(st.integers(1, 30), SIZES), weight=st.one_of(st.none(), arrays()))
def test_random_feature_ridge(X, y, ridge, n_features, weight):
    model = sl.RandomFeatureRidge(n_features=n_features, ridge=ridge, rng=0)
    fitted = checked(lambda: model.fit(X, y, sample_weight=weight))
    if fitted is not None:
        checked(lambda: fitted.predict(X))
        checked(lambda: fitted.score(X, y, sample_weight=weight))


@FAST
@given(X=matrices(D), ridge=st.floats(1e-6, 10.0))
def test_ridge_weights_against_numpy(X, ridge):
    shape = np.shape(X) if not isinstance(X, (str, type(None))) else ()
    y = np.linspace(-1, 1, shape[0]) if len(shape) >= 1 else np.ones(2)
    valid = _valid_matrix(X, D)

    def reference():
        P, N = clean(X).shape
        F = clean(X) / np.sqrt(N)
        # w = (F^T F + P ridge I)^-1 F^T y with F = Phi / sqrt(N) (solvers.ridge_weights).
        return np.linalg.solve(F.T @ F + P * ridge * np.eye(N), F.T @ y)

    # Primal and dual forms (and numpy's solve) agree to ~ cond * eps of the ridge system, which
    # a drawn rank-deficient X with a tiny ridge makes large; the tolerance follows that bound.
    tolerance = 1e-9
    if valid:
        P, N = clean(X).shape
        F = clean(X) / np.sqrt(N)
        # float32 input is solved in float32 (solvers._working_dtype).
        single = not isinstance(X, (list, pd.DataFrame)) and np.asarray(X).dtype == np.float32
        eps = np.finfo(np.float32 if single else np.float64).eps
        tolerance += 100 * eps * np.linalg.cond(F.T @ F + P * ridge * np.eye(N))
    result = checked(lambda: sl.ridge_weights(X, y, ridge), reference if valid else None,
                     rtol=tolerance, atol=tolerance * (1 + float(np.abs(reference()).max()) if valid else 1))
    if valid:
        assert result is not None


# ---- solvers and spectra -----------------------------------------------------------------------


@FAST
@given(A=st.one_of(arrays(), matrices(4, rows=(4, 4))), function=st.sampled_from(["eigvalsh", "eigh", "kernel_spectrum"]))
def test_symmetric_eigensolvers(A, function):
    symmetric = _valid_matrix(A, 4) and np.allclose(clean(A), clean(A).T, rtol=0, atol=0)
    if _valid_matrix(A, 4) and not symmetric:
        A = clean(A) + clean(A).T  # exercise the valid path too
        symmetric = True
    call = {"eigvalsh": lambda: sl.eigvalsh(A), "eigh": lambda: sl.eigh(A)[0],
            "kernel_spectrum": lambda: sl.kernel_spectrum(A, normalize=False)[::-1]}[function]
    scale = max(1.0, float(np.abs(clean(A)).max())) if symmetric else 1.0
    result = checked(call, (lambda: np.linalg.eigvalsh(clean(A))) if symmetric else None,
                     rtol=1e-9, atol=1e-10 * scale)
    if symmetric:
        assert result is not None


@FAST
@given(values=arrays(), k_min=st.one_of(st.integers(1, 5), SIZES), k_max=st.one_of(st.none(), st.integers(1, 40), SIZES))
def test_spectrum_exponent(values, k_min, k_max):
    result = checked(lambda: sl.spectrum_exponent(values, k_min=k_min, k_max=k_max))
    if result is not None:
        assert result.k_min < result.k_max


@FAST
@given(x=arrays(), y=arrays(), offset=st.booleans())
def test_fit_power_law(x, y, offset):
    checked(lambda: sl.fit_power_law(x, y, offset=offset))


@FAST
@given(exponent=st.floats(0.5, 3.0), prefactor=st.floats(0.1, 10.0))
def test_fit_power_law_recovers_exact_power_laws(exponent, prefactor):
    x = np.geomspace(1, 1000, 12)
    fit = checked(lambda: sl.fit_power_law(x, prefactor * x**-exponent))
    assert fit.exponent == pytest.approx(exponent, rel=1e-8)


# ---- tasks, dynamics, theory -------------------------------------------------------------------


@FAST
@given(spectrum=arrays(), target=arrays(), noise=st.one_of(st.floats(), SIZES))
def test_linear_gaussian_task(spectrum, target, noise):
    task = checked(lambda: sl.LinearGaussianTask(spectrum, target, noise))
    if task is not None:
        expected = np.sum(clean(spectrum) * clean(target) ** 2)
        assert task.initial_loss == pytest.approx(expected, rel=1e-12)


@FAST
@given(a=st.one_of(st.floats(), SIZES), b=st.one_of(st.floats(), SIZES), M=SIZES)
def test_power_law_task(a, b, M):
    task = checked(lambda: sl.PowerLawTask(a, b, M))
    if task is not None and task.M <= 10**6:
        k = np.arange(1, task.M + 1.0)
        assert task.initial_loss == pytest.approx(np.sum(k ** -float(a)), rel=1e-10)


@FAST
@given(N=SIZES, P=SIZES, t=st.one_of(arrays(), SIZES), seeds=st.one_of(st.integers(1, 2), SIZES),
       optimizer=st.sampled_from([None, "gd", sl.GradientDescent(0.5), sl.GradientDescent(50.0), sl.SGD(0.2, 1)]))
def test_learning_curve(N, P, t, seeds, optimizer):
    task = sl.PowerLawTask(2.0, 1.5, 60)
    small = all(isinstance(v, (int, np.integer, float)) and not isinstance(v, bool) and math.isfinite(v)
                and 1 <= v <= 40 for v in (N, P))
    if not small:
        N, P = 10, 20  # huge sizes are exercised in the subprocess test below
    kwargs = {"optimizer": optimizer} if not isinstance(optimizer, str) else {"method": "gd", "learning_rate": 0.5}
    if isinstance(optimizer, sl.SGD) and np.size(t) and np.asarray(t).dtype.kind in "fiub":
        # SGD simulates every step: a drawn t = 1e300 is a (Ctrl-C-able) endless run, not a bug.
        assume(np.all(np.abs(np.asarray(t, dtype=float)) <= 1e4) or not np.isfinite(np.asarray(t, dtype=float)).all())
    checked(lambda: sl.learning_curve(task, N, P, t, seeds=seeds, rng=0, **kwargs))


@FAST
@given(N=SIZES, P=SIZES, ridge=st.one_of(st.floats(), SIZES, arrays()))
def test_static_theory(N, P, ridge):
    task = sl.PowerLawTask(2.0, 1.5, 100)
    checked(lambda: sl.static_loss(task, N, P, ridge=ridge, truncation="ignore"))
    checked(lambda: sl.ridge_test_error(task, N, P, ridge))


def test_static_loss_at_infinite_ridge_is_the_zero_predictor():
    task = sl.PowerLawTask(2.0, 1.5, 100)
    frame = sl.static_loss(task, 20, 30, ridge=[1e308], truncation="ignore")
    assert frame["test_loss"].iloc[0] == pytest.approx(task.initial_loss, rel=1e-12)
    assert sl.ridge_test_error(task, 20, 30, 1e308) == pytest.approx(task.initial_loss, rel=1e-12)


@FAST
@given(K_train=st.one_of(arrays(), matrices(6, rows=(6, 6))), K_test=st.one_of(arrays(), matrices(6, rows=(3, 3))),
       t=st.one_of(arrays(), st.just([0.0, 1.0])))
def test_kernel_learning_curve_precomputed(K_train, K_test, t):
    rng = np.random.default_rng(0)
    X, X2 = rng.standard_normal((6, 2)), rng.standard_normal((3, 2))
    checked(lambda: sl.kernel_learning_curve(X, X[:, 0], X2, X2[:, 0], features=(K_train, K_test), t=t))


# ---- everything in __all__, and the risky sizes, in a subprocess -------------------------------

PUBLIC = sorted(name for name in sl.__all__ if callable(getattr(sl, name))
                and not inspect.isclass(getattr(sl, name)) or name in (
                    "RandomFeatures", "RandomFeatureRidge", "LinearGaussianTask", "PowerLawTask",
                    "GradientDescent", "SGD"))


def _required_count(function) -> int:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 1
    return sum(1 for p in parameters if p.default is p.empty
               and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


@pytest.fixture(scope="module")
def worker():
    w = audit.Worker()
    yield w
    w.stop()


def _run_isolated(worker, expr, bindings, timeout=60.0):
    answer = worker.run(expr, None, bindings=bindings, timeout=timeout)
    assert answer["good"], f"{expr} with {bindings!r}: {answer['kind']}: {answer['detail']}"


# fitter_calibration's arguments all have defaults (task=None is its default study, minutes of
# fitting): garbage there goes to its counts instead, in test_fitter_calibration_arguments.
GARBAGE_EXEMPT = {"fitter_calibration"}


def test_fitter_calibration_arguments(worker):
    for expr in ("sl.fitter_calibration(n_datasets=0)", "sl.fitter_calibration(noise=-1.0)",
                 "sl.fitter_calibration(task='a')", "sl.fitter_calibration(approaches=('nope',))",
                 "sl.fitter_calibration(n_bootstrap=-1)", "sl.fitter_calibration(confidence=2.0)"):
        _run_isolated(worker, expr, {})


@pytest.mark.parametrize("name", sorted(set(PUBLIC) - GARBAGE_EXEMPT))
def test_garbage_for_every_public_name(worker, name):
    # Hypothesis draws the arguments here; the calls run in the subprocess worker.
    # At least one argument: with none, fitter_calibration() runs its full default study.
    count = max(1, _required_count(getattr(sl, name)))

    @settings(max_examples=6, deadline=None, derandomize=True)
    @given(args=st.lists(ANYTHING, min_size=count, max_size=count))
    def run(args):
        _run_isolated(worker, f"sl.{name}(*args)", {"args": args})

    run()


@FAST
@given(n=THREADS, call=st.sampled_from([
    "sl.rbf_kernel(X, n_threads=n)", "rf.gram(X, n_threads=n)", "rf.transform(X, n_threads=n)",
    "sl.RandomFeatureRidge(16, rng=0, n_threads=n).fit(X, y)", "sl.eigh(S, n_threads=n)",
    "sl.learning_curve(task, 10, 20, [1.0], n_threads=n, rng=0)",
    "sl.learning_curve_theory(task, 20, 30, [1.0], n_threads=n, truncation='ignore')",
    "sl.sgd_theory.sgd_risk_curve(task, 10, [1, 10], batch_size=1, learning_rate=0.1, rng=0, n_threads=n)"]))
def test_thread_counts_in_subprocess(worker, n, call):
    _run_isolated(worker, call, {"n": n})


@FAST
@given(size=SIZES, call=st.sampled_from([
    "sl.RandomFeatures(5, {n}, rng=0).phases()", "sl.RandomFeatures({n}, 4, rng=0).weights()",
    "sl.RandomFeatureRidge({n}, rng=0).fit(np.ones((3, 1)), np.ones(3))",
    "sl.PowerLawTask(2.0, 1.5, {n}).initial_loss", "sl.learning_curve(task, {n}, 30, [1.0], rng=0)",
    "sl.learning_curve(task, 10, 20, [1.0], seeds={n}, rng=0)",
    "sl.sgd_theory.exact_volterra_spectrum(task.spectrum, task.target, d={n})",
    "sl.learning_curve_theory(task, {n}, 30, [1.0], truncation='ignore')",
    "rf.gram(X, checkpoints=[{n}])"]))
def test_sizes_in_subprocess(worker, size, call):
    _run_isolated(worker, call.format(n="args"), {"args": size}, timeout=120.0)


@pytest.mark.slow
@SLOW
@given(X=matrices(D), Y=st.one_of(st.none(), matrices(D)), kernel=st.sampled_from(["linear", "rbf", "arcsin"]))
def test_kernels_many_examples(X, Y, kernel):
    test_kernels.hypothesis.inner_test(X=X, Y=Y, kernel=kernel, n_threads=0)


@pytest.mark.slow
@SLOW
@given(X=matrices(D), activation=st.sampled_from(sl.ACTIVATIONS), dtype=st.sampled_from(["float64", "float32"]),
       n_features=st.integers(1, 40), method=st.sampled_from(["gram", "transform", "cross", "train_test"]))
def test_random_features_many_examples(X, activation, dtype, n_features, method):
    test_random_features_against_numpy.hypothesis.inner_test(
        X=X, activation=activation, dtype=dtype, n_features=n_features, method=method)
