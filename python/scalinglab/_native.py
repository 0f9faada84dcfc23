"""Loads the compiled core.

``scalinglab._core`` links ``libscipy_openblas.so`` from the ``scipy-openblas32`` wheel. An
installed wheel finds it through its RPATH; loading it here first (by absolute path) also makes
in-place development builds and unusual site layouts work.
"""

from __future__ import annotations

import ctypes
import os


def _preload_openblas() -> None:
    import scipy_openblas32

    path = os.path.join(scipy_openblas32.get_lib_dir(), scipy_openblas32.get_library(fullname=True))
    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)


_preload_openblas()

from scalinglab import _core  # noqa: E402

core = _core
LinAlgError = _core.LinAlgError
