"""Stubs of scalinglab._core, the compiled core (private: use the scalinglab package).

Hand-written; tests/test_core_bindings.py checks that they list exactly the compiled names.
"""

import numpy as np

from . import (
    dynamics,
    features,
    kernels,
    latent,
    mlp,
    random,
    scaling_fit,
    solvers,
    theory,
    theory_finite_size,
    topk,
    volterra,
    wishart,
)

__version__: str

class LinAlgError(np.linalg.LinAlgError):
    """A LAPACK routine failed, a matrix was not positive definite, or an iterative solver did
    not converge (the message names the solver and the point)."""
