"""Loads the compiled core, ``scalinglab._core``: the one name under which Python sees it.

Everything else imports it from here (``from scalinglab._native import _core``) and calls it by
area: ``_core.random``, ``_core.features``, ``_core.kernels``, ``_core.solvers``,
``_core.dynamics``, ``_core.wishart``, ``_core.theory``, ``_core.volterra``,
``_core.scaling_fit``.

``_core`` links ``libscipy_openblas.so`` from the ``scipy-openblas32`` wheel. An installed wheel
finds it through its RPATH; loading it here first (by absolute path) also makes in-place
development builds and unusual site layouts work.
"""

from __future__ import annotations

import ctypes
import os


def _preload_openblas() -> None:
    import scipy_openblas32

    path = os.path.join(scipy_openblas32.get_lib_dir(), scipy_openblas32.get_library(fullname=True))
    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)


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
