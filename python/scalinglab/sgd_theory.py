"""One-pass SGD theory: a stable import path for :mod:`scalinglab.volterra` and
:mod:`scalinglab.sgd_scaling`.

The Volterra engine wrapper (step schedules, spectral measures, risk curves) lives in
:mod:`scalinglab.volterra`; PPXP's phases and compute-optimal exponents and LWKBL's results
(Paquette, Paquette, Xiao & Pennington 2024, arXiv 2405.15074; Lin, Wu, Kakade, Bartlett & Lee
2024, arXiv 2406.08466) in :mod:`scalinglab.sgd_scaling`. The frontier and its exponent fit are
the shared ones of :mod:`scalinglab.frontier`. Code written against ``scalinglab.sgd_theory``
keeps working: every public name is re-exported here.
"""

from __future__ import annotations

from scalinglab.frontier import ComputeOptimalExponents, fit_frontier_exponents
from scalinglab.sgd_scaling import (
    PLRFProblem,
    lwkbl_exponents,
    lwkbl_risk_curve,
    ppxp_phase,
    ppxp_risk_curve,
    ppxp_spectrum,
    sgd_compute_optimal,
    sgd_compute_optimal_frontier,
)
from scalinglab.volterra import (
    SPECTRA,
    StepSchedule,
    VolterraSpectrum,
    deterministic_volterra_spectrum,
    exact_volterra_spectrum,
    limit_level,
    resolvent_m,
    sgd_risk_curve,
    solve_volterra,
    spectral_densities,
)

__all__ = [
    "SPECTRA",
    "StepSchedule",
    "VolterraSpectrum",
    "exact_volterra_spectrum",
    "deterministic_volterra_spectrum",
    "solve_volterra",
    "resolvent_m",
    "limit_level",
    "spectral_densities",
    "sgd_risk_curve",
    "PLRFProblem",
    "ppxp_spectrum",
    "ppxp_risk_curve",
    "ppxp_phase",
    "ComputeOptimalExponents",
    "sgd_compute_optimal",
    "sgd_compute_optimal_frontier",
    "fit_frontier_exponents",
    "lwkbl_risk_curve",
    "lwkbl_exponents",
]
