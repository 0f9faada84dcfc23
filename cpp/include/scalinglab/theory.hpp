#pragma once
/// \file theory.hpp
/// Dynamical mean-field theory (DMFT) of gradient flow / gradient descent for the linear
/// random-feature model, and its static (t -> infinity, ridge) limits.
///
/// Model and conventions (Bordelon, Atanasov & Pehlevan 2024, arXiv 2402.01092, "BAP"):
/// Gaussian features psi with covariance diag(lambda_k); target y = w* . psi + eps, eps ~ N(0,
/// sigma^2); student f = w . (A psi) / sqrt(N), A_ij ~ N(0, 1); P training samples; the loss
/// (1/(2P)) sum_mu (y_mu - f_mu)^2 is minimised by gradient flow dw/dt = -eta grad, or by
/// gradient descent w <- w - eta grad, from w = 0. The test loss is the clean-target error
/// E_x (f - w* . psi)^2, the train loss (1/P) sum_mu (y_mu - f_mu)^2 (noisy labels).
///
/// Everything is expressed through the renormalised ridge kappa(s), the root of
///     s = kappa (1 - df(kappa)/N) (1 - df(kappa)/P),   df(kappa) = sum_k m_k lambda_k/(lambda_k+kappa)
/// on the physical branch (df < min(N, P)), with R1 = 1 - df/P and R3 = 1 - df/N (BAP one-point
/// equations; the same equation at real s = ridge is the ridge deterministic equivalent of
/// Atanasov, Zavatone-Veth & Pehlevan 2024, arXiv 2405.00592, "AZP"). The two-point equations
/// form a 2x2 linear system per pair of Laplace variables (s, s'); losses come from a 2-D fixed
/// Talbot inversion (Abate & Valko 2004).
///
/// Infinite N or P is passed as +infinity. A mode may carry a multiplicity m_k (a quadrature
/// weight when a continuous tail of modes is represented by a few nodes); ordinary modes have
/// m_k = 1.
#include <complex>
#include <vector>

#include "scalinglab/optimizer.hpp"
#include "scalinglab/parallel.hpp"
#include "scalinglab/types.hpp"

namespace scalinglab::theory {

using Complex = std::complex<double>;

/// The modes of a linear Gaussian task, sorted by decreasing eigenvalue, with the products the
/// theory sums over precomputed (every sum is a weighted sum over modes).
class ModeSpectrum {
 public:
  /// \param eigenvalues (M) feature variances lambda_k > 0 (any order).
  /// \param target_power (M) lambda_k w*_k^2 >= 0, the target variance carried by each mode.
  /// \param multiplicity (M) m_k > 0, or an empty vector for m_k = 1.
  /// Throws std::invalid_argument naming the argument on bad sizes or values.
  ModeSpectrum(const Eigen::Ref<const Vector<double>>& eigenvalues,
               const Eigen::Ref<const Vector<double>>& target_power,
               const Eigen::Ref<const Vector<double>>& multiplicity);

  Index size() const { return lambda_.size(); }
  /// Effective number of modes, sum_k m_k (= df(0)).
  double rank() const { return rank_; }
  /// sum_k m_k lambda_k.
  double trace() const { return trace_; }
  /// sum_k m_k p_k: the test loss of the zero predictor.
  double initial_loss() const { return initial_loss_; }
  /// Largest eigenvalue.
  double top() const { return lambda_[0]; }

  const Vector<double>& lambda() const { return lambda_; }   ///< (M) decreasing
  const Vector<double>& m_lambda() const { return m_lambda_; }    ///< m lambda
  const Vector<double>& m_power() const { return m_power_; }      ///< m p
  const Vector<double>& m_lambda_power() const { return m_lambda_power_; }  ///< m lambda p
  const Vector<double>& m_lambda2() const { return m_lambda2_; }  ///< m lambda^2

  /// Number of leading modes with lambda_k > threshold.
  Index count_above(double threshold) const;

 private:
  Vector<double> lambda_, m_lambda_, m_power_, m_lambda_power_, m_lambda2_;
  double rank_ = 0, trace_ = 0, initial_loss_ = 0;
};

/// df(kappa) = sum_k m_k lambda_k / (lambda_k + kappa) for real kappa >= 0.
double degrees_of_freedom(const ModeSpectrum& modes, double kappa);

/// The edge of the physical branch: the kappa_c > 0 with df(kappa_c) = rank, or 0 when
/// rank >= modes.rank() (then every kappa > 0 is physical).
double critical_kappa(const ModeSpectrum& modes, double rank);

/// One solution of the one-point equation.
struct OnePointSolution {
  Complex s;       ///< Laplace variable (ridge when real)
  Complex kappa;   ///< renormalised ridge kappa(s)
  Complex R1;      ///< data response 1 - df/P (1 when P = inf)
  Complex R3;      ///< projection response 1 - df/N (1 when N = inf)
};

/// kappa(s) for real s > 0 on the physical branch (safeguarded Newton in the bracket
/// (kappa_c, kappa_hi), polished to full precision).
/// \param n_features N (may be +inf); \param n_samples P (may be +inf).
double renormalized_ridge(const ModeSpectrum& modes, double n_features, double n_samples, double s);

/// kappa, R1, R3 at each s of `points`, continued along the physical branch: the first point
/// is solved on the positive real axis (taking |s| as the start when it is complex) and the
/// path is followed by Newton steps with a predictor and sub-stepping (halving the step when
/// Newton fails or leaves the branch: Im kappa must have the sign of Im s).
/// \param points (K) Laplace variables, each with Re s > 0 or Im s != 0; consecutive points are
///        joined by straight segments, which must not cross the spectrum on the negative axis.
/// Throws LinAlgError when the continuation fails.
std::vector<OnePointSolution> solve_one_point(const ModeSpectrum& modes, double n_features,
                                              double n_samples, const std::vector<Complex>& points);

/// The fixed Talbot contour (Abate & Valko 2004) for inverting a Laplace transform at time t:
/// f(t) ~= Re[w_0 F(s_0)] + 2 Re sum_{j=1}^{n-1} w_j F(s_j), s_0 = r real, s_j = r theta_j
/// (cot theta_j + i), theta_j = j pi / n, r = 2n/(5t) (or `r` when given > 0). Only the upper
/// half is returned: F is real on the real axis, so the lower half is the conjugate.
struct TalbotContour {
  std::vector<Complex> nodes;    ///< (n) s_0 real, then Im s_j > 0
  /// (n) w_0 = (r/2n) e^{rt}, w_j = (r/2n) e^{t s_j} (1 + i sigma_j),
  /// sigma_j = theta_j + (theta_j cot theta_j - 1) cot theta_j
  std::vector<Complex> weights;
  double r = 0;
};
TalbotContour talbot_contour(double t, int n, double r = 0.0);

/// Options of learning_curve.
struct CurveOptions {
  Optimizer optimizer = Optimizer::kGradientFlow;
  /// Learning rate eta: GF solves dw/dt = -eta grad (time scale eta t); GD takes steps of eta.
  double learning_rate = 1.0;
  /// Number E >= 1 of ensemble members (independent projections A_e, shared data); +inf gives
  /// the infinite-ensemble (averaged-predictor) loss.
  double ensemble = 1.0;
  /// Label-noise variance sigma^2 >= 0.
  double noise = 0.0;
  /// Talbot nodes n in the upper half-plane (2n - 1 nodes in all); about 16 in double precision:
  /// the 2-D inversion squares the weights, which grow like e^{2n/5}.
  int talbot_nodes = 16;
};

/// Test and train losses at each requested time.
struct LearningCurve {
  Vector<double> test_loss;   ///< (T) clean-target test loss
  Vector<double> train_loss;  ///< (T) train loss on the noisy labels
};

/// The DMFT learning curve (BAP one- and two-point equations, 2-D Talbot inversion) at each
/// time. For gradient descent the inversion runs in u = log(1 + eta s), where the GD factor
/// (1 + eta s)^t is e^{u t}; this needs integer t and eta * x_max < 1, x_max the top of the
/// spectrum of the kernel (spectrum_edge), and for t < n/(5 * 0.75) it uses r = 1.5 with 2n nodes.
/// Times are independent work items spread over OpenMP threads: results do not depend on
/// control.n_threads.
/// \param times (T) times t >= 0 (GF time, or GD steps).
LearningCurve learning_curve(const ModeSpectrum& modes, double n_features, double n_samples,
                             const Eigen::Ref<const Vector<double>>& times,
                             const CurveOptions& options, const RunControl& control);

/// learning_curve at one time, with the renormalised ridge on its Talbot nodes: what
/// corrections evaluated at the same nodes reuse (theory_finite_size.hpp).
struct TimeSolution {
  double test_loss = 0;
  double train_loss = 0;
  /// (n) kappa(s_j) at the upper-half nodes s_j of talbot_contour(learning_rate t, n) for gradient
  /// flow (of the u-contour for gradient descent); empty at t = 0.
  std::vector<Complex> kappa;
};
/// No argument checks beyond N, P and t (learning_curve checks the options).
TimeSolution learning_curve_at(const ModeSpectrum& modes, double n_features, double n_samples,
                               double t, const CurveOptions& options);

/// Static errors of ridge regression on the random features at ridge lambda (AZP Eqs. A4-A6),
/// which are also the t -> infinity limit of gradient flow when ridge = 0 (BAP B14-B17).
struct RidgeErrors {
  double kappa = 0;       ///< renormalised ridge
  double test_loss = 0;   ///< clean-target test error (+inf at the N = P interpolation peak)
  double train_loss = 0;  ///< train error on the noisy labels
};
/// \param ridge lambda >= 0 in the convention (1/(2P)) |y - F w|^2 + (lambda/2) |w|^2.
RidgeErrors ridge_errors(const ModeSpectrum& modes, double n_features, double n_samples,
                         double ridge, double noise, double ensemble);
/// ridge_errors at each triple (n_features[i], n_samples[i], ridge[i]).
/// \param n_features, n_samples, ridge (K) each, equal lengths.
/// \return (K) errors, in the order of the triples.
std::vector<RidgeErrors> ridge_errors(const ModeSpectrum& modes,
                                      const Eigen::Ref<const Vector<double>>& n_features,
                                      const Eigen::Ref<const Vector<double>>& n_samples,
                                      const Eigen::Ref<const Vector<double>>& ridge, double noise,
                                      double ensemble);

/// Top edge x_max of the deterministic-equivalent spectrum of the kernel K = B Sigma whose
/// exponential e^{-tK} drives gradient flow: -max s(kappa) over real kappa < -lambda_1.
double spectrum_edge(const ModeSpectrum& modes, double n_features, double n_samples);

}  // namespace scalinglab::theory
