#!/usr/bin/env python
"""Bad-input audit of scalinglab's public API (the harness of shared/reviews/reliability-audit.md
section 4, rebuilt from its description).

Every case is one call of a public name on one kind of bad (or good but unusual) input: NaN and
infinity, 0-D/1-D/3-D, a wrong d, integer/unsigned/float16/longdouble/bool/object/complex
dtypes, Fortran, strided, negative-stride and read-only arrays, lists, DataFrames, ragged lists,
empty rows or columns, None, strings, huge zero-stride views, sizes 0/-1/1.5/NaN/inf/True/10^12/
2^62/2^64, bad ridges, unknown strings and n_threads from -1 to 2^64.

A case is *good* when the call

* raises ValueError, TypeError, MemoryError or scalinglab.LinAlgError whose message names an
  argument in backticks (``\\`X\\`: ...``), or
* returns finite numbers (the loss columns of a table) equal, to 1e-9 relative, to the same call
  on clean C-contiguous float64 input (or on n_threads=1) when such a reference exists,

and emits no numpy ComplexWarning or RuntimeWarning (the signs of silently dropped imaginary parts
and of overflow). Anything else is *bad*: another exception, an unnamed message, a non-finite or
wrong result, a warning, a timeout, or a crash of the interpreter. Cases run in a persistent worker
subprocess (RLIMIT_AS = 12 GiB, as in the audit) that is restarted after a crash or a timeout, so
a crash costs only the case that hit it.

Usage: ``PYTHONPATH=python python tools/audit.py [--summary FILE] [--filter SUBSTRING] [-v]``.
Writes a per-name summary table (markdown) and exits 1 if any case is bad.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import pickle
import re
import select
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

TOOLS = os.path.dirname(os.path.abspath(__file__))
RLIMIT_AS_BYTES = 12 * 2**30
DEFAULT_TIMEOUT = 60.0


# ---------------------------------------------------------------------------------------------
# The worker: evaluates one expression per request in a namespace of prepared inputs.
# ---------------------------------------------------------------------------------------------


def namespace() -> dict:
    """Inputs shared by all cases (deterministic; built in the worker)."""
    import numpy as np
    import pandas as pd

    import scalinglab as sl

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 5))
    y = X[:, 0].copy()
    X2 = rng.standard_normal((8, 5))
    y2 = X2[:, 0].copy()
    S = X.T @ X / 20 + 0.1 * np.eye(5)  # symmetric positive definite, 5 x 5
    rf = sl.RandomFeatures(5, 300, rng=1)
    K, Kt = rf.train_test_gram(X, X2)
    task = sl.PowerLawTask(2.0, 1.5, 200)
    ns = dict(np=np, pd=pd, sl=sl, X=X, y=y, X2=X2, y2=y2, S=S, rf=rf, K=K, Kt=Kt, task=task)
    ns["M"] = {**matrix_variants(np, pd, X, "X"), **matrix_variants(np, pd, S, "S"),
               **matrix_variants(np, pd, K, "K")}
    ns["V"] = {**vector_variants(np, pd, y, "y"), **vector_variants(np, pd, np.abs(y) + 0.5, "p")}
    ns["clean"] = lambda a: np.ascontiguousarray(np.asarray(a, dtype=np.float64))
    return ns


def matrix_variants(np, pd, A, prefix):
    """Bad and unusual versions of a (n, d) float64 matrix A, keyed by kind."""
    n, d = A.shape
    out = {}
    for kind, value in {"nan": np.nan, "inf": np.inf, "ninf": -np.inf}.items():
        bad = A.copy()
        bad[1, 1] = value
        out[kind] = bad
    readonly = A.copy()
    readonly.flags.writeable = False
    out.update({
        "clean": A.copy(),
        "0d": np.float64(1.0), "1d": A[:, 0].copy(), "3d": A[None].copy(),
        "wrong_d": A[:, : d - 1].copy(),
        "int8": np.round(A * 10).astype(np.int8), "int64": np.round(A * 10).astype(np.int64),
        "uint64": np.round(np.abs(A) * 10).astype(np.uint64), "float16": A.astype(np.float16),
        "longdouble": A.astype(np.longdouble), "bool": A > 0, "object": A.astype(object),
        "object_str": np.array([["a"] * d] * n, dtype=object),
        "complex0": A + 0j, "complex1": A + 1j,
        "fortran": np.asfortranarray(A), "strided": np.repeat(A, 2, axis=0)[::2],
        "negstride": A[::-1].copy()[::-1], "readonly": readonly, "list": A.tolist(),
        "dataframe": pd.DataFrame(A), "ragged": [list(A[0]), list(A[1][:-1])],
        "empty_rows": np.zeros((0, d)), "empty_cols": np.zeros((n, 0)), "none": None,
        "string": "abc", "huge_rows": np.broadcast_to(A[0], (10**6, d)),
        "huge_square": np.broadcast_to(np.float64(0.0), (10**6, 10**6)),
        "big_1e80": A * 1e80, "big_1e160": A * 1e160, "big_1e200": A * 1e200,
        "tiny": A * 1e-300,
    })
    return {f"{prefix}:{k}": v for k, v in out.items()}


def vector_variants(np, pd, v, prefix):
    out = {}
    for kind, value in {"nan": np.nan, "inf": np.inf}.items():
        bad = v.copy()
        bad[2] = value
        out[kind] = bad
    out.update({
        "clean": v.copy(), "2d": v[:, None].copy(), "wrong_len": v[:-1].copy(),
        "int64": np.round(v * 10).astype(np.int64), "float16": v.astype(np.float16),
        "object": v.astype(object), "complex1": v + 1j, "list": v.tolist(),
        "series": pd.Series(v), "none": None, "string": "abc", "empty": np.zeros(0),
        "scalar": 1.0,
    })
    return {f"{prefix}:{k}": val for k, val in out.items()}


def _flatten(result, np):
    """The numbers of a result, as float64 arrays (tables: their loss/risk columns)."""
    import dataclasses

    import pandas as pd

    if result is None:
        return []
    if isinstance(result, pd.DataFrame):
        columns = [c for c in result.columns if any(s in str(c) for s in ("loss", "risk", "error"))]
        return [np.asarray(result[c], dtype=np.float64) for c in columns]
    if isinstance(result, (tuple, list)):
        return [a for item in result for a in _flatten(item, np)]
    if isinstance(result, dict):
        return [a for key in sorted(result, key=repr) for a in _flatten(result[key], np)]
    if isinstance(result, np.ndarray):
        if result.dtype == object or not np.issubdtype(result.dtype, np.number):
            return []
        return [np.asarray(result, dtype=np.float64)]
    if isinstance(result, (int, float, np.number)) and not isinstance(result, bool):
        return [np.asarray([float(result)])]
    if dataclasses.is_dataclass(result):
        return [a for f in dataclasses.fields(result) for a in _flatten(getattr(result, f.name), np)
                if isinstance(getattr(result, f.name), (int, float, np.number, np.ndarray))]
    return []  # objects (estimators, task specs, Axes): no numbers to compare


NAMED = re.compile(r"`[^`\s][^`]*`")


def classify(expr: str, ref: str | None, ns: dict) -> dict:
    """Evaluate ``expr`` (and ``ref``) and say whether the outcome is good."""
    import warnings

    np = ns["np"]
    sl = ns["sl"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = eval(expr, ns)
        except (ValueError, TypeError, MemoryError, sl.LinAlgError) as error:
            message = f"{type(error).__name__}: {error}"
            named = bool(NAMED.search(str(error))) or isinstance(error, sl.LinAlgError)
            return {"good": named, "kind": "error" if named else "unnamed error", "detail": message[:300]}
        except OSError as error:  # a missing or unreadable file (load_runs_csv): the OS's own error
            return {"good": error.filename is not None, "kind": "file error", "detail": str(error)[:300]}
        except Exception as error:  # noqa: BLE001 - any other type is a defect of the library
            return {"good": False, "kind": "unexpected exception",
                    "detail": f"{type(error).__name__}: {error}"[:300]}
    bad_warnings = [w for w in caught if issubclass(w.category, (np.exceptions.ComplexWarning, RuntimeWarning))]
    if bad_warnings:
        return {"good": False, "kind": "warning", "detail": str(bad_warnings[0].message)[:300]}
    values = _flatten(result, np)
    if any(not np.isfinite(a).all() for a in values):
        return {"good": False, "kind": "non-finite result", "detail": repr(values)[:300]}
    if ref is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = _flatten(eval(ref, ns), np)
        if len(expected) != len(values) or any(
                a.shape != b.shape or not np.allclose(a, b, rtol=1e-9, atol=1e-12)
                for a, b in zip(values, expected)):
            return {"good": False, "kind": "differs from reference", "detail": expr}
        return {"good": True, "kind": "result = reference", "detail": ""}
    return {"good": True, "kind": "finite result", "detail": ""}


def worker_loop() -> None:
    """Read one JSON request per line on stdin, answer one JSON line on stdout."""
    import faulthandler

    faulthandler.enable()
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (RLIMIT_AS_BYTES, RLIMIT_AS_BYTES))
    except (ImportError, ValueError, OSError):
        pass
    import matplotlib

    matplotlib.use("Agg")
    ns = namespace()
    out = sys.stdout
    sys.stdout = sys.stderr  # library prints must not corrupt the protocol
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        local = dict(ns)
        if request.get("bindings"):
            local.update(pickle.loads(base64.b64decode(request["bindings"])))
        answer = classify(request["expr"], request.get("ref"), local)
        import matplotlib.pyplot as plt

        plt.close("all")
        out.write(json.dumps(answer) + "\n")
        out.flush()


class Worker:
    """A persistent worker subprocess; restarted after a crash or a timeout."""

    def __init__(self, pythonpath: str | None = None):
        # The worker imports the same scalinglab as this process: an installed package (CI, a
        # user) or an in-place build under python/ (PYTHONPATH=python during development).
        if pythonpath is None:
            import scalinglab

            pythonpath = os.path.dirname(os.path.dirname(os.path.abspath(scalinglab.__file__)))
        self.pythonpath = pythonpath
        self.process = None

    def _start(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = self.pythonpath + os.pathsep + TOOLS + os.pathsep + env.get("PYTHONPATH", "")
        env.setdefault("OMP_NUM_THREADS", "2")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "import audit; audit.worker_loop()"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        ready = self._readline(120.0)
        if ready != "ready":
            raise RuntimeError(f"audit worker did not start (got {ready!r})")

    def _readline(self, timeout: float):
        readable, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not readable:
            return None
        line = self.process.stdout.readline()
        return line.strip() if line else ""

    def stop(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def run(self, expr: str, ref: str | None = None, bindings: dict | None = None,
            timeout: float = DEFAULT_TIMEOUT) -> dict:
        if self.process is None or self.process.poll() is not None:
            self._start()
        request = {"expr": expr, "ref": ref}
        if bindings:
            request["bindings"] = base64.b64encode(pickle.dumps(bindings)).decode()
        start = time.perf_counter()
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self._readline(timeout)
        elapsed = time.perf_counter() - start
        if line is None:
            self.stop()
            return {"good": False, "kind": "timeout", "detail": f"> {timeout:.0f} s", "seconds": elapsed}
        if line == "":
            rc = self.process.wait()
            self.process = None
            return {"good": False, "kind": "crash", "detail": f"worker exited rc {rc}", "seconds": elapsed}
        answer = json.loads(line)
        answer["seconds"] = elapsed
        return answer


# ---------------------------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str          # the public name the case exercises (summary row)
    expr: str          # the call
    ref: str | None = None  # the same call on clean input, when the call should succeed
    timeout: float = DEFAULT_TIMEOUT


VALID_MATRIX = ("clean", "int8", "int64", "uint64", "float16", "longdouble", "object", "fortran",
                "strided", "negstride", "readonly", "list", "dataframe")
MATRIX_KINDS = VALID_MATRIX + ("nan", "inf", "ninf", "0d", "1d", "3d", "wrong_d", "bool",
                               "object_str", "complex0", "complex1", "ragged", "empty_rows",
                               "empty_cols", "none", "string", "huge_rows", "huge_square",
                               "big_1e80", "big_1e160", "big_1e200", "tiny")
VECTOR_KINDS = ("clean", "nan", "inf", "2d", "wrong_len", "int64", "float16", "object", "complex1",
                "list", "series", "none", "string", "empty", "scalar")
VALID_VECTOR = ("clean", "int64", "float16", "object", "list", "series")
SIZES = ("0", "-1", "1.5", "float('nan')", "float('inf')", "True", "10**12", "2**62", "2**64",
         "'a'", "None", "np.int64(3)", "3.0")
THREADS = ("-1", "1", "2", "4", "1024", "1025", "40000", "10**5", "10**6", "2**31", "2**63",
           "2**64", "True", "1.5", "'a'", "None")
RIDGES = ("-1.0", "float('nan')", "float('inf')", "1e308", "0.0", "1e-3", "'a'", "None", "True")


def _matrix_cases(name, template, prefix="X", reference_kinds=VALID_MATRIX, timeout=DEFAULT_TIMEOUT):
    """One case per matrix variant: template has {A} for the variant (and {C} for the clean one)."""
    cases = []
    for kind in MATRIX_KINDS:
        expr = template.format(A=f"M['{prefix}:{kind}']")
        ref = template.format(A=f"clean(M['{prefix}:{kind}'])") if kind in reference_kinds else None
        if kind in ("big_1e80", "tiny"):  # valid finite float64 input: must be right or refused
            ref = template.format(A=f"clean(M['{prefix}:{kind}'])")
        cases.append(Case(name, expr, ref, timeout))
    return cases


def _vector_cases(name, template, prefix="y"):
    """One case per vector variant (prefix "p": a positive vector, for spectra and weights)."""
    return [Case(name, template.format(v=f"V['{prefix}:{kind}']"),
                 template.format(v=f"clean(V['{prefix}:{kind}'])") if kind in VALID_VECTOR else None)
            for kind in VECTOR_KINDS]


def _threads_cases(name, template):
    return [Case(name, template.format(n=n),
                 template.format(n="1") if n in ("1", "2", "4", "1024") else None)
            for n in THREADS]


def _size_cases(name, template, valid=("np.int64(3)", "3.0")):
    return [Case(name, template.format(s=s), template.format(s="3") if s in valid else None)
            for s in SIZES]


def all_cases() -> list[Case]:
    c: list[Case] = []
    # ---- tasks
    c += _vector_cases("LinearGaussianTask", "sl.LinearGaussianTask({v}, np.ones(20)).initial_loss", prefix="p")
    c += _vector_cases("LinearGaussianTask", "sl.LinearGaussianTask(np.ones(20), {v}).initial_loss")
    c += [Case("LinearGaussianTask", "sl.LinearGaussianTask(np.ones(3), np.ones(3), noise=-1)"),
          Case("LinearGaussianTask", "sl.LinearGaussianTask(-np.ones(3), np.ones(3))"),
          Case("LinearGaussianTask", "sl.LinearGaussianTask(np.ones(3) + 1j, np.ones(3)).initial_loss")]
    c += _size_cases("PowerLawTask", "sl.PowerLawTask(2.0, 1.5, {s}).initial_loss")
    c += [Case("PowerLawTask", e) for e in (
        "sl.PowerLawTask(0.5, 1.5, 10)", "sl.PowerLawTask(2.0, 0.5, 10)",
        "sl.PowerLawTask(float('nan'), 1.5, 10)", "sl.PowerLawTask(2.0, 1.5, 10, noise=-1.0)",
        "sl.PowerLawTask('a', 1.5, 10)", "sl.PowerLawTask(2.0, 1.5, 10**10).spectrum",
        "sl.PowerLawTask(2.0, 1.5, 10**12).target")]
    # ---- analytic kernels
    for kernel in ("linear_kernel", "rbf_kernel", "arcsin_kernel"):
        c += _matrix_cases(kernel, f"sl.{kernel}({{A}})")
        c += _matrix_cases(kernel, f"sl.{kernel}(X2, {{A}})", reference_kinds=VALID_MATRIX)
        c += _threads_cases(kernel, f"sl.{kernel}(X, n_threads={{n}})")
    c += _matrix_cases("arccos_kernel", "sl.arccos_kernel({A})")
    c += [Case("arccos_kernel", f"sl.arccos_kernel(X, degree={deg})", "sl.arccos_kernel(X, degree=2)" if deg == "2.0" else None)
          for deg in ("0", "1", "2", "3", "-1", "2.0", "True", "'a'", "None")]
    c += _threads_cases("arccos_kernel", "sl.arccos_kernel(X, n_threads={n})")
    c += [Case("rbf_kernel", f"sl.rbf_kernel(X, lengthscale={v})") for v in ("0.0", "-1.0", "float('nan')", "float('inf')", "1e-300", "1e300", "'a'")]
    for activation in ("linear", "relu", "erf", "cos", "sin", "fourier"):
        c += [Case("infinite_width_kernel", f"sl.infinite_width_kernel('{activation}', {a})",
                   f"sl.infinite_width_kernel('{activation}', clean({a}))" if k in VALID_MATRIX + ("big_1e80",) else None)
              for k in ("clean", "nan", "empty_cols", "1d", "complex1", "big_1e80", "big_1e160", "list")
              for a in [f"M['X:{k}']"]]
    c += [Case("infinite_width_kernel", e) for e in (
        "sl.infinite_width_kernel('tanh', X)", "sl.infinite_width_kernel('nope', X)",
        "sl.infinite_width_kernel(None, X)", "sl.infinite_width_kernel('relu', X, lengthscale=0)",
        "sl.infinite_width_kernel('relu', X, n_threads=10**6)")]
    # ---- random features
    c += _size_cases("RandomFeatures", "sl.RandomFeatures({s}, 10, rng=0).d")
    c += _size_cases("RandomFeatures", "sl.RandomFeatures(5, {s}, rng=0).n_features")
    c += [Case("RandomFeatures", e) for e in (
        "sl.RandomFeatures(5, 10, 'nope')", "sl.RandomFeatures(5, 10, None)",
        "sl.RandomFeatures(5, 10, dtype='int8')", "sl.RandomFeatures(5, 10, dtype='float16')",
        "sl.RandomFeatures(5, 10, lengthscale=0)", "sl.RandomFeatures(5, 10, lengthscale=float('nan'))",
        "sl.RandomFeatures(5, 10, rng='a')", "sl.RandomFeatures(5, 10, rng=-1)")]
    for method in ("gram", "transform"):
        c += _matrix_cases(f"RandomFeatures.{method}", f"rf.{method}({{A}})")
        c += _threads_cases(f"RandomFeatures.{method}", f"rf.{method}(X, n_threads={{n}})")
        for activation in ("linear", "erf", "tanh", "cos", "sin", "fourier"):
            c.append(Case(f"RandomFeatures.{method}",
                          f"sl.RandomFeatures(5, 50, '{activation}', rng=2).{method}(M['X:fortran'])",
                          f"sl.RandomFeatures(5, 50, '{activation}', rng=2).{method}(X)"))
        c += [Case(f"RandomFeatures.{method}", f"sl.RandomFeatures(5, 50, rng=2, dtype='float32').{method}({a})")
              for a in ("X", "X * 1e30", "X * 1e37", "M['X:float16']")]
    c += _matrix_cases("RandomFeatures.gram", "rf.gram(X2, {A})")
    c += [Case("RandomFeatures.gram", f"rf.gram(X, checkpoints={v})",
               "rf.gram(X, checkpoints=[10, 300])" if v == "[10.0, 300.0]" else None)
          for v in ("[10, 300]", "[300, 10]", "[0, 10]", "[10, 301]", "[]", "10", "['a']", "[10.0, 300.0]",
                    "[10.5]", "[True]", "np.array([[10]])")]
    c += [Case("RandomFeatures.gram", e) for e in (
        "sl.RandomFeatures(5, 10, lengthscale=1e-300, rng=0).gram(X)",
        "sl.RandomFeatures(5, 10, lengthscale=1e-160, rng=0).gram(X)",
        "rf.gram(X * 1e160)", "rf.gram(X, progress='a')",
        "sl.RandomFeatures(5, 10, rng=0).gram(np.broadcast_to(X[0], (200000, 5)))")]
    for start, stop in (("0", "None"), ("-1", "None"), ("0", "0"), ("5", "3"), ("0", "301"),
                        ("1.5", "None"), ("True", "None"), ("0", "10**12"), ("'a'", "None"), ("7", "300")):
        for method in ("weights", "phases"):
            c.append(Case(f"RandomFeatures.{method}", f"rf.{method}({start}, {stop})"))
        c.append(Case("RandomFeatures.transform", f"rf.transform(X, {start}, {stop})"))
    c += _threads_cases("RandomFeatures.weights", "rf.weights(n_threads={n})")
    c += [Case("RandomFeatures.phases", f"sl.RandomFeatures(5, 10**12, '{a}').phases()") for a in ("fourier", "relu")]
    c += [Case("RandomFeatures.weights", "sl.RandomFeatures(5, 10**12).weights()")]
    c += _matrix_cases("RandomFeatures.train_test_gram", "rf.train_test_gram({A}, X2)")
    c += _matrix_cases("RandomFeatures.train_test_gram", "rf.train_test_gram(X, {A})")
    c += _threads_cases("RandomFeatures.train_test_gram", "rf.train_test_gram(X, X2, n_threads={n})")
    # ---- ridge estimator
    fit = "sl.RandomFeatureRidge(16, rng=0)"
    c += _matrix_cases("RandomFeatureRidge", f"{fit}.fit({{A}}, y).coef_")
    c += _vector_cases("RandomFeatureRidge", f"{fit}.fit(X, {{v}}).coef_")
    c += _matrix_cases("RandomFeatureRidge", f"{fit}.fit(X, y).predict({{A}})")
    c += _vector_cases("RandomFeatureRidge", f"{fit}.fit(X, y).score(X, {{v}})")
    c += _vector_cases("RandomFeatureRidge", f"{fit}.fit(X, y).score(X, y, sample_weight={{v}})", prefix="p")
    c += _vector_cases("RandomFeatureRidge", f"{fit}.fit(X, y, sample_weight={{v}}).coef_", prefix="p")
    c += [Case("RandomFeatureRidge", f"sl.RandomFeatureRidge({s}, rng=0).fit(X, y).coef_",
               "sl.RandomFeatureRidge(3, rng=0).fit(X, y).coef_" if s in ("np.int64(3)", "3.0") else None) for s in SIZES]
    c += [Case("RandomFeatureRidge", f"sl.RandomFeatureRidge(16, ridge={r}, rng=0).fit(X, y).coef_") for r in RIDGES]
    c += _threads_cases("RandomFeatureRidge", "sl.RandomFeatureRidge(16, rng=0, n_threads={n}).fit(X, y).predict(X2)")
    c += [Case("RandomFeatureRidge", e, timeout=120.0) for e in (
        "sl.RandomFeatureRidge(16, solver='nope').fit(X, y)", "sl.RandomFeatureRidge(16, dtype='int8').fit(X, y)",
        "sl.RandomFeatureRidge(16, activation='nope').fit(X, y)", "sl.RandomFeatureRidge().predict(X)",
        "sl.RandomFeatureRidge(10**12, rng=0).fit(X[:, :2], y)",
        "sl.RandomFeatureRidge(3 * 10**9, rng=0).fit(np.ones((3, 1)), np.ones(3))",
        "sl.RandomFeatureRidge(16, rng=0, ridge=0.0, solver='dual').fit(np.ones((20, 5)), y)",
        "sl.RandomFeatureRidge(16, rng=0).fit(X, np.c_[y, y]).predict(X2)",
        "sl.RandomFeatureRidge(16, rng=0, dtype='float32').fit(X, y).predict(X2)")]
    # ---- solvers and spectra
    for fn in ("eigh", "eigvalsh", "kernel_spectrum"):
        c += _matrix_cases(fn, f"sl.{fn}({{A}})", prefix="S")
        c += _threads_cases(fn, f"sl.{fn}(S, n_threads={{n}})")
    c += [Case("eigh", e) for e in ("sl.eigh(X)", "sl.eigh(S + np.triu(np.ones((5, 5)), 1))",
                                     "sl.eigh(S, values_only='a')")]
    c += _matrix_cases("ridge_weights", "sl.ridge_weights({A}, y, 1e-2)")
    c += _vector_cases("ridge_weights", "sl.ridge_weights(X, {v}, 1e-2)")
    c += [Case("ridge_weights", f"sl.ridge_weights(X, y, {r})") for r in RIDGES]
    c += _threads_cases("ridge_weights", "sl.ridge_weights(X, y, 1e-2, n_threads={n})")
    c += [Case("ridge_weights", f"sl.ridge_weights(X, y, 1e-2, solver={s})") for s in ("'nope'", "None", "'primal'", "'dual'")]
    c += _matrix_cases("solvers.ridge_dual_coef", "sl.solvers.ridge_dual_coef({A}, y, 1e-2)", prefix="K")
    c += _vector_cases("solvers.ridge_dual_coef", "sl.solvers.ridge_dual_coef(K, {v}, 1e-2)")
    c += [Case("solvers.ridge_dual_coef", f"sl.solvers.ridge_dual_coef(K, y, {r})") for r in RIDGES]
    c += _threads_cases("solvers.ridge_dual_coef", "sl.solvers.ridge_dual_coef(K, y, 1e-2, n_threads={n})")
    c += _matrix_cases("ridge_path", "sl.ridge_path({A}, y, [1e-3, 1e-1])", prefix="K")
    c += _vector_cases("ridge_path", "sl.ridge_path(K, {v}, [1e-3, 1e-1])")
    c += [Case("ridge_path", f"sl.ridge_path(K, y, {r})") for r in ("[-1.0]", "[]", "[float('nan')]", "'a'", "None", "1e-2", "[1e308]", "[[1e-3]]")]
    c += _matrix_cases("ridge_path", "sl.ridge_path(K, y, [1e-2], gram_test={A}, y_test=y2)", prefix="K")
    c += _threads_cases("ridge_path", "sl.ridge_path(K, y, [1e-3, 1e-1], n_threads={n})")
    c += _vector_cases("spectrum_exponent", "sl.spectrum_exponent({v})", prefix="p")
    c += [Case("spectrum_exponent", e, r) for e, r in (
        ("sl.spectrum_exponent(np.arange(1, 101.0) ** -1.5, k_min=50, k_max=10)", None),
        ("sl.spectrum_exponent(np.arange(1, 101.0) ** -1.5, k_min=0)", None),
        ("sl.spectrum_exponent(np.arange(1, 101.0) ** -1.5, k_max=1000)", None),
        ("sl.spectrum_exponent(np.arange(1, 101.0) ** -1.5 + 0j)", None),
        ("sl.spectrum_exponent(np.arange(1, 101.0) ** -1.5, k_min=True)", None),
        ("sl.spectrum_exponent(-np.ones(100))", None),
        ("sl.spectrum_exponent(np.arange(1, 101.0) ** -1.5, k_min=2.0, k_max=50.0)",
         "sl.spectrum_exponent(np.arange(1, 101.0) ** -1.5, k_min=2, k_max=50)"))]
    # ---- fits
    c += _vector_cases("fit_power_law", "sl.fit_power_law(np.arange(1.0, 21.0), {v})", prefix="p")
    c += [Case("fit_power_law", e) for e in (
        "sl.fit_power_law([1, 2, 3, 4], np.array([1, 2, 3, 4]) + 1j)", "sl.fit_power_law([1, 2], [1, 2])",
        "sl.fit_power_law([-1, 2, 3, 4], [1, 2, 3, 4])", "sl.fit_power_law([1, 2, 3, 4], [1, 2, 3, 4], sigma=[1, 2])",
        "sl.fit_power_law([1, 2, 3, 4], [1, 2, 3, 4], n_bootstrap=-1)", "sl.fit_power_law('a', 'b')",
        "sl.fit_power_law([1, 2, 3, 4], [1, 2, 3, 4], confidence=1.5)",
        "sl.fit_power_law([1, 2, 3, 4, 5], [1, 0.5, 0.3, 0.26, 0.2], offset=True)")]
    # ---- dynamics
    lc = "sl.learning_curve(task, {N}, {P}, {t}{extra}, rng=0)"
    c += _size_cases("learning_curve", lc.format(N="{s}", P="30", t="[1.0, 10.0]", extra=""))
    c += _size_cases("learning_curve", lc.format(N="20", P="{s}", t="[1.0, 10.0]", extra=""))
    c += _size_cases("learning_curve", lc.format(N="20", P="30", t="[1.0, 10.0]", extra=", seeds={s}"))
    c += _size_cases("learning_curve", lc.format(N="20", P="30", t="[1.0, 10.0]", extra=", ensemble={s}"))
    c += _threads_cases("learning_curve", lc.format(N="[20, 40]", P="[30, 60]", t="[1.0, 10.0]", extra=", n_threads={n}"))
    c += [Case("learning_curve", lc.format(N="20", P="30", t=t, extra="")) for t in (
        "'a'", "[]", "[-1.0]", "[float('nan')]", "None", "[[1.0]]", "1.0")]
    c += [Case("learning_curve", e, timeout=120.0) for e in (
        "sl.learning_curve(task, 20, 30, [1, 10, 1000], method='gd', learning_rate=100.0, rng=0)",
        "sl.learning_curve(task, 20, 30, [1, 10, 1000], optimizer=sl.SGD(100.0, 1), rng=0)",
        "sl.learning_curve(task, 20, 30, [1, 10], method='nope', rng=0)",
        "sl.learning_curve(task, 20, 30, [1.5], method='gd', learning_rate=0.1, rng=0)",
        "sl.learning_curve(sl.LinearGaussianTask(np.ones(10), np.full(10, 1e200)), 5, 8, [1.0], rng=0)",
        "sl.learning_curve('task', 20, 30, [1.0], rng=0)",
        "sl.learning_curve(task, 10**7, 30, [1.0], rng=0)",
        "sl.learning_curve(task, 20, 30, [1.0], seeds=10**9, rng=0)",
        "sl.learning_curve(task, [50, 100, np.inf], [100, 300], [1.0, 10.0], rng=0)")]
    kl = "sl.kernel_learning_curve({Xt}, {yt}, X2, y2, features={f}, t={t}{extra})"
    c += _matrix_cases("kernel_learning_curve", kl.format(Xt="{A}", yt="y", f="rf", t="[0.0, 1.0, 10.0]", extra=""))
    c += _vector_cases("kernel_learning_curve", kl.format(Xt="X", yt="{v}", f="rf", t="[0.0, 1.0]", extra=""))
    c += _matrix_cases("kernel_learning_curve", kl.format(Xt="X", yt="y", f="({A}, Kt)", t="[0.0, 1.0]", extra=""), prefix="K")
    c += [Case("kernel_learning_curve", kl.format(Xt="X", yt="y", f=f, t="[0.0, 1.0]", extra="")) for f in (
        "(K, np.where(Kt > 0.5, np.nan, Kt))", "(K, Kt + np.inf)", "(K, Kt + 1j)", "(-K, Kt)",
        "(K + np.triu(np.ones_like(K), 1), Kt)", "(K,)", "(K, Kt[:, :3])", "None", "'a'", "{10: (K, Kt)}",
        "{'a': (K, Kt)}", "lambda r: sl.RandomFeatures(5, 40, rng=r)")]
    c += _threads_cases("kernel_learning_curve", kl.format(Xt="X", yt="y", f="rf", t="[0.0, 1.0]", extra=", n_threads={n}"))
    c += [Case("kernel_learning_curve", kl.format(Xt="X", yt="y", f="rf", t="[0, 10, 1000]", extra=e)) for e in (
        ", optimizer=sl.GradientDescent(1e6)", ", method='gd', learning_rate=0.5", ", method='nope'",
        ", N=[10, 300]", ", N=[301]", ", P=[5, 20]", ", P=[21]", ", seeds=3")]
    # ---- theory
    th = "sl.learning_curve_theory(task, {N}, {P}, [1.0, 10.0]{extra}, truncation='ignore')"
    c += _size_cases("learning_curve_theory", th.format(N="{s}", P="30", extra=""))
    c += _size_cases("learning_curve_theory", th.format(N="20", P="{s}", extra=""))
    c += _threads_cases("learning_curve_theory", th.format(N="20", P="30", extra=", n_threads={n}"))
    c += [Case("learning_curve_theory", th.format(N="20", P="30", extra=e)) for e in (
        ", method='gd', learning_rate=100.0", ", method='nope'", ", ensemble=0", ", talbot_nodes=0",
        ", finite_size='nope'", ", ensemble=np.inf")]
    for fn in ("static_loss", "ridge_test_error"):
        trunc = ", truncation='ignore'" if fn == "static_loss" else ""
        c += _size_cases(fn, f"sl.{fn}(task, {{s}}, 30{', ridge=0.1' if fn == 'static_loss' else ', 0.1'}{trunc})")
        c += [Case(fn, f"sl.{fn}(task, 20, 30{', ridge=' if fn == 'static_loss' else ', '}{r}{trunc})") for r in RIDGES]
    c += [Case("bottleneck_exponents", f"sl.bottleneck_exponents({a}, {b})") for a, b in (
        ("2.0", "1.5"), ("0.5", "1.5"), ("2.0", "0.5"), ("'a'", "1.5"), ("float('nan')", "1.5"), ("True", "1.5"), ("1e308", "1.5"))]
    c += [Case("compute_optimal", f"sl.compute_optimal({a}, {b})") for a, b in (("2.0", "1.5"), ("0.5", "1.5"), ("None", "1.5"))]
    curve = "sl.learning_curve_theory(task, [10, 20, 40], np.inf, np.logspace(0, 3, 20), truncation='ignore').assign(compute=lambda f: f['N'] * f['t'])"
    c += [Case("compute_optimal_frontier", e) for e in (
        f"sl.compute_optimal_frontier({curve})", "sl.compute_optimal_frontier(pd.DataFrame())",
        "sl.compute_optimal_frontier(None)", f"sl.compute_optimal_frontier({curve}, size='nope')",
        f"sl.compute_optimal_frontier({curve}.assign(test_loss=np.nan))", "sl.compute_optimal_frontier('a')",
        f"sl.compute_optimal_frontier({curve}, points_per_decade=0)",
        f"sl.compute_optimal_frontier({curve}, points_per_decade=float('nan'))",
        f"sl.fit_frontier_exponents(sl.compute_optimal_frontier({curve}))",
        "sl.fit_frontier_exponents(pd.DataFrame())")]
    # ---- SGD theory (sgd_theory re-exports volterra and sgd_scaling)
    sg = "sl.sgd_theory.sgd_risk_curve(task, {N}, [1, 10, 100], batch_size=1, learning_rate={lr}{extra}, rng=0)"
    c += _size_cases("sgd_theory.*", sg.format(N="{s}", lr="0.1", extra=""))
    c += _threads_cases("sgd_theory.*", sg.format(N="10", lr="0.1", extra=", n_threads={n}"))
    c += [Case("sgd_theory.*", sg.format(N="10", lr=lr, extra=e)) for lr, e in (
        ("-1.0", ""), ("float('nan')", ""), ("100.0", ""), ("0.1", ", spectrum='nope'"),
        ("0.1", ", projection=np.where(np.eye(10, 200) > 0, np.nan, 1.0)"), ("0.1", ", projection=np.ones((10, 200)) + 1j"),
        ("0.1", ", projection=np.ones((3, 3))"), ("0.1", ", spectrum='deterministic'"))]
    c += [Case("sgd_theory.*", e) for e in (
        "sl.sgd_theory.exact_volterra_spectrum(task.spectrum, task.target, d=10**6)",
        "sl.sgd_theory.exact_volterra_spectrum(task.spectrum, task.target, d=10**9)",
        "sl.sgd_theory.exact_volterra_spectrum(task.spectrum, task.target, projection=np.where(np.eye(200, 10) > 0, np.inf, 0.1))",
        "sl.sgd_theory.exact_volterra_spectrum(task.spectrum, task.target, projection=np.ones((200, 10)) + 1j)",
        "sl.sgd_theory.exact_volterra_spectrum(task.spectrum, task.target, d=10, rng=0).limit_level",
        "sl.sgd_theory.exact_volterra_spectrum(task.spectrum + 0j, task.target, d=10)",
        "sl.sgd_theory.exact_volterra_spectrum(task.spectrum, task.target)",
        "sl.sgd_theory.deterministic_volterra_spectrum(task.spectrum, task.target_power, 10).limit_level",
        "sl.sgd_theory.deterministic_volterra_spectrum(task.spectrum, task.target_power, True)",
        "sl.sgd_theory.limit_level(task.spectrum, task.target_power, 10)",
        "sl.sgd_theory.limit_level(task.spectrum, task.target_power, -1)",
        "sl.sgd_theory.resolvent_m(-1.0, task.spectrum, 10)",
        "sl.sgd_theory.resolvent_m('a', task.spectrum, 10)",
        "sl.sgd_theory.solve_volterra(np.ones(5), np.full(5, 0.1))",
        "sl.sgd_theory.solve_volterra(np.ones(5), np.full(4, 0.1))",
        "sl.sgd_theory.solve_volterra(np.ones(5) + 1j, np.full(5, 0.1))")]
    # ---- plots
    c += [Case("plot.*", e) for e in (
        "sl.plot.plot_scaling_curve([1, 2, 3], [1, 2])", "sl.plot.plot_spectrum(np.ones((3, 3)))",
        "sl.plot.plot_ridge_path(pd.DataFrame())", "sl.plot.plot_ridge_path(None)",
        "sl.plot.plot_scaling_curve([1, 2, 3], [1, 2, 3], fit='a')", "sl.plot.plot_spectrum(np.arange(1, 10.0))",
        "sl.plot.plot_scaling_curve([1, 2, 3], [3, 2, 1])", "sl.plot.plot_scaling_curve('a', 'b')",
        "sl.plot.plot_ridge_path(sl.ridge_path(K, y, [1e-3, 1e-1]))", "sl.plot.plot_spectrum(None)")]
    return c


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--summary", default=None, help="write the markdown summary here")
    parser.add_argument("--filter", default=None, help="only cases whose name contains this")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    cases = all_cases()
    if args.filter:
        cases = [c for c in cases if args.filter in c.name or args.filter in c.expr]
    worker = Worker()
    rows = defaultdict(Counter)
    bad = []
    kinds = Counter()
    start = time.perf_counter()
    try:
        for i, case in enumerate(cases):
            answer = worker.run(case.expr, case.ref, timeout=case.timeout)
            rows[case.name]["calls"] += 1
            rows[case.name]["good" if answer["good"] else "bad"] += 1
            kinds[answer["kind"]] += 1
            if not answer["good"]:
                bad.append((case, answer))
            if args.verbose:
                print(f"[{i + 1}/{len(cases)}] {'ok ' if answer['good'] else 'BAD'} {answer['kind']:<24} {case.expr[:110]}", flush=True)
    finally:
        worker.stop()
    elapsed = time.perf_counter() - start
    lines = ["| public name | calls | good | bad |", "|---|---|---|---|"]
    for name in sorted(rows):
        r = rows[name]
        lines.append(f"| `{name}` | {r['calls']} | {r['good']} | {r['bad']} |")
        total = Counter()
    for r in rows.values():
        total.update(r)
    lines.append(f"| **total** | **{total['calls']}** | **{total['good']}** | **{total['bad']}** |")
    lines.append("")
    lines.append("Outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    lines.append(f"Wall time: {elapsed:.0f} s")
    if bad:
        lines.append("")
        lines.append("Bad cases:")
        lines += [f"- `{case.expr}`: {answer['kind']}: {answer['detail']}" for case, answer in bad]
    text = "\n".join(lines)
    print(text)
    if args.summary:
        with open(args.summary, "w") as handle:
            handle.write("# Bad-input audit (tools/audit.py)\n\n" + text + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
