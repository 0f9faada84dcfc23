"""scalinglab: simulate, predict and fit neural scaling laws in solvable models.

A C++17 core (Eigen, OpenBLAS, OpenMP, Philox counter-based randomness) under a Python API:
random-feature models with millions of features, learning dynamics on power-law tasks, exact
theory curves (DMFT, deterministic equivalents, Volterra), exponents and compute-optimal
frontiers.
"""

from __future__ import annotations

from scalinglab import (
    datasets,
    fit,
    frontier,
    kernels,
    latent,
    optimizers,
    plot,
    regimes,
    resource,
    results,
    scaling_laws,
    sgd_scaling,
    sgd_theory,
    solvers,
    spectra,
    theory,
    volterra,
)
from scalinglab._native import LinAlgError
from scalinglab.dynamics import kernel_learning_curve, learning_curve
from scalinglab.estimators import RandomFeatureRidge
from scalinglab.features import ACTIVATIONS, RandomFeatures
from scalinglab.fit import PowerLawFit, fit_power_law
from scalinglab.frontier import (
    ComputeOptimalExponents,
    compute_optimal_frontier,
    fit_frontier_exponents,
)
from scalinglab.kernels import (
    arccos_kernel,
    arcsin_kernel,
    infinite_width_kernel,
    linear_kernel,
    rbf_kernel,
)
from scalinglab.latent import LatentPowerLawTask, latent_learning_curve, latent_test_loss
from scalinglab.optimizers import SGD, GradientDescent, GradientFlow
from scalinglab.results import check_schema, to_xarray
from scalinglab.resource import CompositeTask, MLPTraining, Subtask, resource_experiment
from scalinglab.scaling_laws import (
    fit_envelope,
    fit_isoflop,
    fit_scaling_law,
    fitter_calibration,
    load_runs_csv,
)
from scalinglab.solvers import eigh, eigvalsh, ridge_path, ridge_weights
from scalinglab.regimes import classify_regime, four_regimes
from scalinglab.spectra import kernel_spectrum, spectrum_exponent, top_eigenvalues
from scalinglab.tasks import LinearGaussianTask, PowerLawTask
from scalinglab.theory import (
    FiniteSizeWarning,
    TruncationWarning,
    bottleneck_exponents,
    compute_optimal,
    compute_optimal_frontier_theory,
    learning_curve_theory,
    ridge_test_error,
    static_loss,
)

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "CompositeTask",
    "ComputeOptimalExponents",
    "FiniteSizeWarning",
    "GradientDescent",
    "GradientFlow",
    "LatentPowerLawTask",
    "LinAlgError",
    "LinearGaussianTask",
    "MLPTraining",
    "PowerLawFit",
    "PowerLawTask",
    "RandomFeatureRidge",
    "RandomFeatures",
    "SGD",
    "Subtask",
    "TruncationWarning",
    "__version__",
    "arccos_kernel",
    "arcsin_kernel",
    "bottleneck_exponents",
    "check_schema",
    "classify_regime",
    "compute_optimal",
    "compute_optimal_frontier",
    "compute_optimal_frontier_theory",
    "datasets",
    "eigh",
    "eigvalsh",
    "fit",
    "fit_envelope",
    "fit_frontier_exponents",
    "fit_isoflop",
    "fit_power_law",
    "fit_scaling_law",
    "fitter_calibration",
    "four_regimes",
    "frontier",
    "infinite_width_kernel",
    "kernel_learning_curve",
    "kernel_spectrum",
    "kernels",
    "latent",
    "latent_learning_curve",
    "latent_test_loss",
    "learning_curve",
    "learning_curve_theory",
    "linear_kernel",
    "load_runs_csv",
    "optimizers",
    "plot",
    "rbf_kernel",
    "regimes",
    "resource",
    "resource_experiment",
    "results",
    "ridge_path",
    "ridge_test_error",
    "ridge_weights",
    "scaling_laws",
    "sgd_scaling",
    "sgd_theory",
    "solvers",
    "spectra",
    "spectrum_exponent",
    "static_loss",
    "theory",
    "to_xarray",
    "top_eigenvalues",
    "volterra",
]
