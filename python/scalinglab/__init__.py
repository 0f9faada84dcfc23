"""scalinglab: simulate, predict and fit neural scaling laws in solvable models.

A C++17 core (Eigen, OpenBLAS, OpenMP, Philox counter-based randomness) under a Python API:
random-feature models with millions of features, learning dynamics on power-law tasks, exact
theory curves (DMFT, deterministic equivalents, Volterra), exponents and compute-optimal
frontiers.
"""

from __future__ import annotations

from scalinglab import fit, kernels, plot, scaling_laws, sgd_theory, solvers, spectra, theory
from scalinglab._native import LinAlgError
from scalinglab.dynamics import kernel_learning_curve, learning_curve
from scalinglab.estimators import RandomFeatureRidge
from scalinglab.features import ACTIVATIONS, RandomFeatures
from scalinglab.fit import PowerLawFit, fit_power_law
from scalinglab.kernels import (
    arccos_kernel,
    arcsin_kernel,
    infinite_width_kernel,
    linear_kernel,
    rbf_kernel,
)
from scalinglab.scaling_laws import (
    fit_envelope,
    fit_isoflop,
    fit_scaling_law,
    fitter_calibration,
    load_runs_csv,
)
from scalinglab.solvers import eigh, eigvalsh, ridge_path, ridge_weights
from scalinglab.spectra import kernel_spectrum, spectrum_exponent
from scalinglab.tasks import LinearGaussianTask, PowerLawTask
from scalinglab.theory import (
    TruncationWarning,
    bottleneck_exponents,
    compute_optimal,
    compute_optimal_frontier,
    learning_curve_theory,
    ridge_test_error,
    static_loss,
)

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "LinAlgError",
    "LinearGaussianTask",
    "PowerLawFit",
    "PowerLawTask",
    "RandomFeatureRidge",
    "RandomFeatures",
    "TruncationWarning",
    "__version__",
    "arccos_kernel",
    "arcsin_kernel",
    "bottleneck_exponents",
    "compute_optimal",
    "compute_optimal_frontier",
    "eigh",
    "eigvalsh",
    "fit",
    "fit_envelope",
    "fit_isoflop",
    "fit_power_law",
    "fit_scaling_law",
    "fitter_calibration",
    "load_runs_csv",
    "scaling_laws",
    "infinite_width_kernel",
    "kernel_learning_curve",
    "kernel_spectrum",
    "kernels",
    "learning_curve",
    "learning_curve_theory",
    "linear_kernel",
    "plot",
    "rbf_kernel",
    "ridge_path",
    "ridge_test_error",
    "ridge_weights",
    "sgd_theory",
    "solvers",
    "spectra",
    "spectrum_exponent",
    "static_loss",
    "theory",
]
