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

# No vendored OpenBLAS: the core calls the scipy-openblas32 copy.
if sys.platform.startswith("linux"):
    with open("/proc/self/maps") as maps:
        blas = {line.split()[-1] for line in maps if "openblas" in line.split()[-1]}
    # numpy (numpy.libs, ILP64) and scipy (scipy.libs, LP64) map their own vendored copies; those
    # are theirs and are loaded whenever scipy is imported. What this checks is ours: the core
    # must not bring a vendored OpenBLAS (nothing under scalinglab/ or scalinglab.libs/), and the
    # one it calls comes from the scipy-openblas32 dependency (only the core loads that copy).
    ours = [path for path in blas if "scalinglab" in os.path.relpath(path, os.path.dirname(here))
            .split(os.sep)[0]]
    assert not ours, f"the wheel vendors an OpenBLAS: {ours} (all mapped: {sorted(blas)})"
    assert any(f"scipy_openblas32{os.sep}" in path for path in blas), \
        f"the core's OpenBLAS from scipy-openblas32 is not mapped; mapped: {sorted(blas)}"

# The command line.
version = subprocess.run([sys.executable, "-m", "scalinglab", "--version"],
                         capture_output=True, text=True, check=True).stdout.strip()
assert version == f"scalinglab {sl.__version__}", version
print(f"wheel smoke test passed: {version}, Gram error ratio {ratio:.2f}, BLAS {sorted(blas)}"
      if sys.platform.startswith("linux") else f"wheel smoke test passed: {version}")
