"""The CPU check that runs before the compiled core is loaded, and the command line's version."""

import subprocess
import sys

import pytest

import scalinglab
from scalinglab import _native


def test_required_features_of_x86_64_levels():
    assert _native.required_cpu_features("-march=x86-64") == ()
    v3 = _native.required_cpu_features("-march=x86-64-v3")
    assert {"avx2", "fma", "bmi2", "sse4_2"} <= set(v3)
    assert "avx512f" not in v3
    assert "avx512f" in _native.required_cpu_features("-march=x86-64-v4")
    assert _native.required_cpu_features("-O2 -mavx2 -mfma") == ("avx2", "fma")
    # A named CPU model's requirements are not tabulated: nothing is checked.
    assert _native.required_cpu_features("-march=native") is None
    assert _native.required_cpu_features("") == ()


def test_missing_instructions_give_an_import_error_naming_them():
    nehalem = frozenset({"sse2", "ssse3", "sse4_1", "sse4_2", "popcnt", "cx16", "lahf_lm", "pni"})
    with pytest.raises(ImportError, match=r"lacks the instructions avx, avx2, bmi1, bmi2") as info:
        _native.check_cpu("-march=x86-64-v3", nehalem)
    assert "SCALINGLAB_ARCH_FLAGS=-march=x86-64" in str(info.value)
    _native.check_cpu("-march=x86-64-v2", nehalem)  # v2 is enough for -march=x86-64-v2
    _native.check_cpu("-march=x86-64-v3", None)  # unknown CPU flags: load and see


def test_this_cpu_runs_the_core_it_loaded():
    features = _native.cpu_features()
    if features is not None:
        from scalinglab import _build_config

        _native.check_cpu(_build_config.ARCH_FLAGS, features)


def test_version_from_console_entry_and_python_m():
    from scalinglab.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    printed = subprocess.run([sys.executable, "-m", "scalinglab", "--version"],
                             capture_output=True, text=True, check=True).stdout
    assert printed.strip() == f"scalinglab {scalinglab.__version__}"
