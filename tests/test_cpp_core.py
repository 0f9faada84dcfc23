"""Builds the C++ core standalone and runs its ctest suite: the unit tests under cpp/tests and
the examples/ program that links the core through find_package(scalinglab)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _cmake():
    try:
        import cmake  # the PyPI cmake wheel, listed in the test extra

        return os.path.join(cmake.CMAKE_BIN_DIR, "cmake"), os.path.join(cmake.CMAKE_BIN_DIR, "ctest")
    except ImportError:
        return shutil.which("cmake"), shutil.which("ctest")


@pytest.mark.skipif(not (ROOT / "CMakeLists.txt").exists(), reason="needs the source tree")
def test_ctest_suite_passes(tmp_path):
    cmake, ctest = _cmake()
    if cmake is None:
        pytest.skip("cmake not installed")
    build = tmp_path / "build"
    generator = ["-G", "Ninja"] if shutil.which("ninja") or _has_ninja_module() else []
    configure = [
        cmake, "-S", str(ROOT), "-B", str(build), *generator,
        "-DSCALINGLAB_BUILD_TESTS=ON", "-DSCALINGLAB_DEPS_FROM_PYTHON=ON",
        f"-DPython_EXECUTABLE={sys.executable}",
    ]
    subprocess.run(configure, check=True, capture_output=True, text=True)
    built = subprocess.run([cmake, "--build", str(build), "-j2"], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    result = subprocess.run([ctest, "--output-on-failure"], cwd=build, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-6000:]
    assert "100% tests passed" in result.stdout
    assert "example_find_package" in result.stdout


def _has_ninja_module():
    try:
        import ninja  # noqa: F401

        os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ["PATH"]
        return True
    except ImportError:
        return False
