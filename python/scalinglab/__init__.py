"""scalinglab: simulate, predict and fit neural scaling laws in solvable models.

A C++17 core (Eigen, OpenBLAS, OpenMP, Philox counter-based randomness) under a Python API:
random-feature models with millions of features, learning dynamics on power-law tasks, exact
theory curves (DMFT, deterministic equivalents, Volterra), exponents and compute-optimal
frontiers.
"""

from __future__ import annotations

from scalinglab._native import LinAlgError

__version__ = "0.1.0"

__all__ = ["LinAlgError", "__version__"]
