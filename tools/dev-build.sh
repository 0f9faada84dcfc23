#!/usr/bin/env bash
# Development build: compiles scalinglab._core in place (python/scalinglab/_core*.so) so that
# `PYTHONPATH=python pytest` runs against the working tree. Usage: tools/dev-build.sh [build-dir]
# Needs numpy, pybind11, cmeel-eigen, scipy-openblas32, cmake and ninja in the active Python.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build/dev}
python=${PYTHON:-python3}
launcher=()
# ccache (if installed) makes rebuilds in several work trees cheap.
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
  -DSCALINGLAB_PYTHON=ON -DSCALINGLAB_INPLACE=ON -DPython_EXECUTABLE="$(command -v "$python")" >/dev/null
cmake --build "$build_dir" -j"${JOBS:-2}"
