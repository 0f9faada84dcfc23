"""Loads the compiled core, ``scalinglab._core``: the one name under which Python sees it.

Everything else imports it from here (``from scalinglab._native import _core``) and calls it by
area: ``_core.random``, ``_core.features``, ``_core.kernels``, ``_core.solvers``,
``_core.dynamics``, ``_core.wishart``, ``_core.theory``, ``_core.theory_finite_size``,
``_core.volterra``, ``_core.scaling_fit``, ``_core.latent``, ``_core.mlp``, ``_core.topk``.

``_core`` links ``libscipy_openblas.so`` from the ``scipy-openblas32`` wheel. An installed wheel
finds it through its RPATH; loading it here first (by absolute path) also makes in-place
development builds and unusual site layouts work, and guarantees one OpenBLAS per process
(the wheel does not vendor a second copy).

Before loading ``_core`` the CPU is checked against the instruction set the core was compiled
for (``_build_config.ARCH_FLAGS``, x86-64-v3 = AVX2 + FMA by default on x86-64): on an older CPU
importing it would kill the interpreter with SIGILL; instead this raises an ImportError that
names the missing instructions. ``SCALINGLAB_SKIP_CPU_CHECK=1`` skips the check (for emulators
that report CPU flags wrongly).
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

# /proc/cpuinfo flag names of the x86-64 micro-architecture levels (x86-64 psABI). "pni" is
# SSE3, "abm" is LZCNT.
_X86_64_V2 = ("cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3")
_X86_64_V3 = _X86_64_V2 + ("avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave")
_X86_64_V4 = _X86_64_V3 + ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")
_MARCH_LEVELS = {
    "x86-64": (),
    "x86-64-v2": _X86_64_V2,
    "x86-64-v3": _X86_64_V3,
    "x86-64-v4": _X86_64_V4,
}
# Single-feature flags (-mavx2, ...) with their /proc/cpuinfo names.
_FEATURE_FLAGS = {
    "-msse4.2": "sse4_2", "-mavx": "avx", "-mavx2": "avx2", "-mfma": "fma", "-mbmi2": "bmi2",
    "-mf16c": "f16c", "-mavx512f": "avx512f",
}


def required_cpu_features(arch_flags: str) -> tuple[str, ...] | None:
    """The /proc/cpuinfo flags a core compiled with ``arch_flags`` needs.

    ``None`` when the flags name a CPU model (``-march=haswell``, ``-march=native``) whose
    requirements are not tabulated here: then nothing is checked.
    """
    needed: list[str] = []
    for flag in arch_flags.split():
        if flag.startswith("-march="):
            level = _MARCH_LEVELS.get(flag[len("-march="):])
            if level is None:
                return None
            needed.extend(level)
        elif flag in _FEATURE_FLAGS:
            needed.append(_FEATURE_FLAGS[flag])
    return tuple(dict.fromkeys(needed))


def cpu_features() -> frozenset[str] | None:
    """The CPU's feature flags (Linux /proc/cpuinfo names), or ``None`` where unknown."""
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
                for line in cpuinfo:
                    if line.startswith("flags"):
                        return frozenset(line.partition(":")[2].split())
        except OSError:
            return None
        return None
    if sys.platform == "darwin" and platform.machine() == "x86_64":
        return _darwin_cpu_features()
    return None


def _darwin_cpu_features() -> frozenset[str] | None:
    import subprocess

    try:
        text = subprocess.run(
            ["sysctl", "-n", "machdep.cpu.features", "machdep.cpu.leaf7_features",
             "machdep.cpu.extfeatures"],
            capture_output=True, text=True, timeout=5, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    names = {word.lower().replace(".", "_") for word in text.split()}
    # sysctl spells a few of them differently from /proc/cpuinfo.
    renamed = {"sse3": "pni", "avx1_0": "avx", "lzcnt": "abm", "cx16": "cx16", "lahf": "lahf_lm",
               "sse4_1": "sse4_1", "sse4_2": "sse4_2"}
    return frozenset(renamed.get(name, name) for name in names)


def check_cpu(arch_flags: str, features: frozenset[str] | None) -> None:
    """Raise ImportError if a core compiled with ``arch_flags`` cannot run on a CPU with ``features``."""
    needed = required_cpu_features(arch_flags)
    if not needed or features is None:
        return
    missing = [flag for flag in needed if flag not in features]
    if missing:
        raise ImportError(
            f"scalinglab's compiled core was built with {arch_flags!r} and this CPU lacks the "
            f"instructions {', '.join(missing)} (it would crash with SIGILL). Build from source "
            "for this CPU: pip install --no-binary scalinglab "
            "-Ccmake.define.SCALINGLAB_ARCH_FLAGS=-march=x86-64 scalinglab (from a checkout: "
            "pip install . -Ccmake.define.SCALINGLAB_ARCH_FLAGS=-march=x86-64). "
            "Set SCALINGLAB_SKIP_CPU_CHECK=1 to load it anyway."
        )


def _check_this_cpu() -> None:
    if os.environ.get("SCALINGLAB_SKIP_CPU_CHECK", "") not in ("", "0"):
        return
    try:
        from scalinglab import _build_config
    except ImportError:  # a core built before _build_config existed: nothing to check against
        return
    check_cpu(_build_config.ARCH_FLAGS, cpu_features())


def _preload_openblas() -> None:
    import scipy_openblas32

    path = os.path.join(scipy_openblas32.get_lib_dir(), scipy_openblas32.get_library(fullname=True))
    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)


_check_this_cpu()
_preload_openblas()

try:
    from scalinglab import _core  # noqa: E402
except ImportError as error:  # pragma: no cover - depends on how the package was installed
    raise ImportError(
        f"scalinglab's compiled core (scalinglab._core) could not be loaded: {error}. Did you "
        "build it? Install the package (`pip install .`) or, in a source checkout, run "
        "`tools/dev-build.sh` and put `python/` on PYTHONPATH."
    ) from error

LinAlgError = _core.LinAlgError

__all__ = ["LinAlgError", "_core"]
