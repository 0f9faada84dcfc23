"""Cost of an x86-64 baseline build of the core against the default x86-64-v3 (AVX2 + FMA) one.

Decides whether wheels could be compiled for the baseline (any x86-64 CPU) instead of
x86-64-v3 (which needs AVX2/FMA and raises ImportError elsewhere). Times, in the same run and
alternating between the two builds (each in its own subprocess, so both cores are loaded as
"scalinglab._core"):

* ``gram-relu-f64`` / ``gram-relu-f32``: ``RandomFeatures(784, N, "relu").gram(X)``, P = 1000,
  N = 20000 (BLAS-bound: OpenBLAS picks its own kernels at run time, so only scalinglab's own
  code, the Philox normals and the activations, changes with -march);
* ``normal-fill``: 2e7 standard normals from the Philox stream (``_core.normal``), float64 and
  float32: the vectorised RNG, the part the compiler's ISA affects most.

Usage (the v3 build is the in-place one of tools/dev-build.sh):

    tools/dev-build.sh
    cmake -S . -B build/isa-x86-64 -G Ninja -DSCALINGLAB_PYTHON=ON \\
        -DSCALINGLAB_ARCH_FLAGS=-march=x86-64 -DPython_EXECUTABLE="$(command -v python)"
    cmake --build build/isa-x86-64
    python bench/isa_baseline.py --baseline-build build/isa-x86-64 [--rounds 5] [--threads 0]

Prints the best time of each build and the ratio baseline / v3 (> 1: the baseline is slower).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(threads: int) -> None:
    import numpy as np

    import scalinglab as sl
    from scalinglab import _build_config
    from scalinglab._native import _core

    X = np.random.default_rng(0).standard_normal((1000, 784))
    times = {}
    for dtype in ("float64", "float32"):
        features = sl.RandomFeatures(784, 20_000, "relu", rng=1, dtype=dtype)
        start = time.perf_counter()
        features.gram(X, n_threads=threads)
        times[f"gram-relu-{dtype}"] = time.perf_counter() - start
    for single in (False, True):
        start = time.perf_counter()
        _core.random.normal(7, 1, 0, 20_000_000, single)
        times[f"normal-fill-{'float32' if single else 'float64'}"] = time.perf_counter() - start
    print(json.dumps({"arch": _build_config.ARCH_FLAGS, "times": times}))


def package_with_core(build_dir: str, into: str) -> str:
    """A copy of python/scalinglab whose _core and _build_config come from build_dir."""
    target = os.path.join(into, "scalinglab")
    shutil.copytree(os.path.join(ROOT, "python", "scalinglab"), target,
                    ignore=shutil.ignore_patterns("_core*.so", "_build_config.py", "__pycache__"))
    cores = glob.glob(os.path.join(build_dir, "_core*.so"))
    if len(cores) != 1:
        raise SystemExit(f"expected one _core*.so in {build_dir}, found {cores}")
    shutil.copy2(cores[0], target)
    shutil.copy2(os.path.join(build_dir, "_build_config.py"), target)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-build", required=False, help="build dir of the -march=x86-64 core")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.threads)
        return
    if not args.baseline_build:
        parser.error("--baseline-build is required")
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"x86-64-v3": os.path.join(ROOT, "python"),
                 "x86-64": package_with_core(args.baseline_build, tmp)}
        best: dict[str, dict[str, float]] = {name: {} for name in paths}
        for _ in range(args.rounds):
            for name, path in paths.items():  # alternate: both see the same machine load
                env = {**os.environ, "PYTHONPATH": path}
                out = subprocess.run([sys.executable, __file__, "--worker", "--threads",
                                      str(args.threads)], env=env, capture_output=True,
                                     text=True, check=True).stdout
                result = json.loads(out.strip().splitlines()[-1])
                assert result["arch"] == f"-march={name}", (name, result["arch"])
                for key, seconds in result["times"].items():
                    best[name][key] = min(seconds, best[name].get(key, float("inf")))
    print(f"{'benchmark':<22} {'x86-64-v3 (s)':>14} {'x86-64 (s)':>11} {'baseline/v3':>12}")
    for key in best["x86-64-v3"]:
        v3, base = best["x86-64-v3"][key], best["x86-64"][key]
        print(f"{key:<22} {v3:>14.3f} {base:>11.3f} {base / v3:>12.2f}")


if __name__ == "__main__":
    main()
