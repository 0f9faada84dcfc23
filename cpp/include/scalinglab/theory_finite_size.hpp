#pragma once
/// \file theory_finite_size.hpp
/// The leading finite-size correction of the DMFT of theory.hpp: the O(1/N) term (N finite,
/// P = inf) or the O(1/P) term (P finite, N = inf) that the deterministic equivalent drops for
/// real Gaussian matrices (the X^T term of the Wishart moment E[B X B] = X + (X^T + tr(X) I)/N),
/// for gradient flow. Derivation, checks and validity: docs/theory-finite-size.md.
///
/// One resolvent (Gaussian integration by parts, exact to O(1/n^2)): S = X^T X / n, rows of X
/// i.i.d. N(0, Lambda), Q(s) = (S + s)^-1, kappa(s) the root of s = kappa (1 - df/n),
/// z_k = 1/(lambda_k + kappa), R = s/kappa, D_n = ds/dkappa = R + kappa sum m lambda z^2 / n:
///     E a^T Q a = sum m a^2 z / R + Delta_g + O(1/n^2),
///     Delta_g = [sum m a^2 lambda^2 z^3 - kappa E3 (sum m a^2 lambda z^2)/(n D_n)] / (n R D_n),
/// E3 = sum m lambda^2 z^3. Two resolvents (the test loss at finite P) reduce to one by the exact
/// identity for E[Q1 S Q2] of the docs page.
///
/// The time curve is evaluated at the DMFT's own Talbot nodes with the DMFT's kappa
/// (learning_curve_at): the N-side loss u^T e^{-2tG} u and the P-side train loss are 1-D
/// inversions at time 2t on the contour of time t (weights w_j e^{t s_j}; relative accuracy of
/// the correction ~1e-6, the contour's r is twice the optimum for 2t), the P-side test loss a
/// 2-D inversion on the same grid as the DMFT.
#include <complex>

#include "scalinglab/parallel.hpp"
#include "scalinglab/theory.hpp"
#include "scalinglab/types.hpp"

namespace scalinglab::theory {

/// The DMFT curve and its leading finite-size correction at each time.
struct FiniteSizeCurve {
  LearningCurve dmft;               ///< (T) the DMFT (identical to learning_curve)
  Vector<double> test_correction;   ///< (T) O(1/N) or O(1/P) correction of the test loss
  Vector<double> train_correction;  ///< (T) the same for the train loss
  /// (T) estimated round-off error of test_correction: the change of the P-side 2-D algebra
  /// when its inputs move by a relative 1e-15 (a few roundings of the mode sums; it overestimates by 3-30x); its divided
  /// differences cancel at very early and very late times. 0 on the N side.
  Vector<double> test_roundoff;
};

/// \param n_features N and \param n_samples P: one finite (the other +inf), or both finite
///        (the two-sided correction, N below the number of modes; test_roundoff 0 there); both
///        infinite gives zero corrections.
/// \param times (T) gradient-flow times t >= 0 (time scale learning_rate * t).
/// \param options gradient flow, ensemble 1 (otherwise std::invalid_argument).
/// Times are spread over OpenMP threads; results do not depend on control.n_threads.
FiniteSizeCurve finite_size_learning_curve(const ModeSpectrum& modes, double n_features,
                                           double n_samples,
                                           const Eigen::Ref<const Vector<double>>& times,
                                           const CurveOptions& options, const RunControl& control);

/// Corrections of the static (ridge, or t -> inf at ridge 0) test and train losses.
struct FiniteSizeStatic {
  double test_correction = 0;
  double train_correction = 0;
};

/// Both N and P finite: as finite_size_static_grid.
/// \param ridge >= 0 (ridge convention of ridge_errors). Ridge 0, P side: needs P below the
///        number of modes (std::invalid_argument naming `ridge` otherwise); Richardson
///        extrapolation from ridges h, 2h, 4h, h = 0.01 kappa_c (error O(h^3)). Ridge 0, N side:
///        the explicit limit [sum p lam^2 z^3 - E3 (sum p lam z^2)/D2]/D2 at kappa_c (0 when
///        N >= rank: the flow then learns the target exactly).
/// \param noise label-noise variance sigma^2 >= 0.
FiniteSizeStatic finite_size_static(const ModeSpectrum& modes, double n_features,
                                    double n_samples, double ridge, double noise);

/// finite_size_static at every grid point i, reusing the DMFT's renormalised ridge kappa[i]
/// (theory::ridge_errors at the same (N, P, ridge), which for one finite side is the root of the
/// same one-point equation) at ridge > 0; kappa[i] NaN: solved again. Both N and P finite: the
/// two-sided correction (docs/theory-finite-size.md; N below the number of modes; ridge 0 by
/// Richardson from 3e-4 kappa_c(min(N, P)) x {1, 2, 4}; zeros at ridge 0 with N = P, the
/// interpolation peak; train 0 at ridge 0 with P < N). All arrays have one length.
std::vector<FiniteSizeStatic> finite_size_static_grid(
    const ModeSpectrum& modes, const Eigen::Ref<const Vector<double>>& n_features,
    const Eigen::Ref<const Vector<double>>& n_samples, const Eigen::Ref<const Vector<double>>& ridge,
    const Eigen::Ref<const Vector<double>>& kappa, double noise);

/// E a^T (S + s)^-1 a = leading + correction + O(1/n^2) with a_k^2 = target_power_k / lambda_k
/// of `modes`, S the sample covariance of n draws of N(0, diag lambda).
struct ResolventExpansion {
  Complex leading;     ///< deterministic equivalent sum m a^2 z / R
  Complex correction;  ///< Delta_g
};
/// \param s Laplace variable, Re s > 0 or Im s != 0 (continued from |s| as solve_one_point).
ResolventExpansion resolvent_expansion(const ModeSpectrum& modes, double n, Complex s);

}  // namespace scalinglab::theory
