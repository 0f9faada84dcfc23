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

from scalinglab import sgd_scaling as _sgd_scaling
from scalinglab import volterra as _volterra
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

__all__ = ["SPECTRA", *_volterra.__all__, *_sgd_scaling.__all__, "ComputeOptimalExponents",
           "fit_frontier_exponents"]
