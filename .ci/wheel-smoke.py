"""Smoke test of an installed scalinglab wheel (run from outside the source tree).

Used by .ci/wheel-check (fresh venv, compilers and cmake replaced by failing traps) and by
cibuildwheel's test-command. Exits non-zero with a message on the first failure.
"""

import os
import subprocess
import sys

import numpy as np

import scalinglab as sl

here = os.path.dirname(os.path.abspath(sl.__file__))
assert "site-packages" in here, f"imported scalinglab from {here}, not from an installed wheel"

# A streamed ReLU Gram converges to the arc-cosine kernel like N^-1/2 (fixed seeds).
X = np.random.default_rng(0).standard_normal((50, 20))
exact = sl.infinite_width_kernel("relu", X)
errors = [np.abs(sl.RandomFeatures(20, n, "relu", rng=1).gram(X) - exact).max() for n in (500, 8000)]
ratio = errors[0] / errors[1]  # 16x the features: expect ~4 (sqrt 16)
assert 2.0 < ratio < 8.0, f"Gram error ratio {ratio:.2f} for 16x the features, expected ~4"

# LAPACK through the core.
A = X @ X.T + np.eye(50)
assert np.allclose(sl.eigvalsh(A), np.linalg.eigvalsh(A), rtol=1e-10, atol=1e-9)

# One OpenBLAS in the process: the scipy-openblas32 copy, not a second vendored one.
if sys.platform.startswith("linux"):
    with open("/proc/self/maps") as maps:
        blas = {line.split()[-1] for line in maps if "openblas" in line.split()[-1]}
    # numpy's own ILP64 copy (numpy.libs/libscipy_openblas64_*) is a different library with
    # different symbols; the LP64 one the core calls must be mapped once, from the dependency.
    lp64 = [path for path in blas if os.path.basename(path).startswith("libscipy_openblas")
            and not os.path.basename(path).startswith("libscipy_openblas64")]
    assert len(lp64) == 1, f"expected one LP64 libscipy_openblas mapped, found {sorted(blas)}"
    assert "scipy_openblas32" in lp64[0], lp64

# The command line.
version = subprocess.run([sys.executable, "-m", "scalinglab", "--version"],
                         capture_output=True, text=True, check=True).stdout.strip()
assert version == f"scalinglab {sl.__version__}", version
print(f"wheel smoke test passed: {version}, Gram error ratio {ratio:.2f}, BLAS {sorted(blas)}"
      if sys.platform.startswith("linux") else f"wheel smoke test passed: {version}")
