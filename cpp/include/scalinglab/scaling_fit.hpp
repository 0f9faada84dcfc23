#pragma once
/// \file scaling_fit.hpp
/// Fitting empirical scaling laws: robust (Huber) least squares on log-loss residuals, minimised
/// by a small-problem L-BFGS with a strong-Wolfe line search, from many starts and for many
/// bootstrap resamples in parallel.
///
/// Forms (log L-hat as a function of x = log N, y = log D; every form is a log-sum-exp or a
/// linear function of its parameters, so the prediction stays positive and never overflows):
///   - kChinchilla, theta = (u_A, u_B, u_E, alpha, beta):
///     log L = LSE(u_A - alpha x, u_B - beta y, u_E) (Hoffmann et al. 2022, arXiv 2203.15556,
///     eq. 2 in the LSE form of their appendix D.2).
///   - kKaplanND, theta = (log N_c, log D_c, alpha_N, alpha_D):
///     log L = alpha_D LSE((alpha_N / alpha_D)(log N_c - x), log D_c - y)
///     (Kaplan et al. 2020, arXiv 2001.08361, eq. 1.5).
///   - kPowerLaw, theta = (u_c, alpha): log L = u_c - alpha x (Kaplan's L(N) with
///     u_c = alpha_N log N_c).
///   - kPowerLawOffset, theta = (u_c, u_E, alpha): log L = LSE(u_c - alpha x, u_E).
///   - kBrokenPowerLaw with n breaks, theta = (u_a, u_b, c_0, then per break i: c_i, log d_i,
///     log f_i): log L = LSE(u_a, u_b - c_0 x - sum_i c_i f_i softplus((x - log d_i) / f_i)),
///     i.e. y = a + b X^-c0 prod_i (1 + (X / d_i)^(1/f_i))^(-c_i f_i) (Caballero et al. 2022,
///     arXiv 2210.14891, eq. 1).
///
/// Objective: F(theta) = scale * sum_i w_i Huber_delta(r_i) with r_i = log L-hat_i - log L_i
/// (kLog residuals) or r_i = L-hat_i - L_i (kLinear residuals, for additive errors with
/// w_i = 1 / sigma_i^2). Huber_delta(r) = r^2 / 2 for |r| <= delta, delta (|r| - delta / 2)
/// beyond; delta = +inf is least squares. The minimiser's stopping rules are relative (to f, to
/// theta, and to the gradient scale of the start), so the optimum does not depend on `scale`
/// (the loss-scale trap of Besiroglu et al. 2024, arXiv 2404.10102).
#include <cstdint>
#include <vector>

#include "scalinglab/parallel.hpp"
#include "scalinglab/types.hpp"

namespace scalinglab::scaling_fit {

enum class Form : int {
  kChinchilla = 0,
  kKaplanND = 1,
  kPowerLaw = 2,
  kPowerLawOffset = 3,
  kBrokenPowerLaw = 4,
};

enum class Residual : int { kLog = 0, kLinear = 1 };

/// How a minimisation ended. Every status except kNonFinite leaves the best point seen.
enum class Status : int {
  kConvergedF = 0,        ///< relative decrease of f below ftol
  kConvergedG = 1,        ///< gradient below gtol times the start's gradient scale
  kConvergedX = 2,        ///< relative step below xtol
  kMaxIterations = 3,
  kLineSearchFailed = 4,  ///< no step satisfied the Wolfe conditions (often: at the optimum)
  kNonFinite = 5,         ///< the objective was not finite at the start
};

/// Number of parameters of a form (n_breaks only matters for kBrokenPowerLaw).
int n_parameters(Form form, int n_breaks = 0);

/// The data and loss of one fitting problem. Views: the arrays must outlive the problem.
struct Problem {
  Form form = Form::kChinchilla;
  int n_breaks = 0;
  Residual residual = Residual::kLog;
  const double* x = nullptr;        ///< (n,) log N (or log of the one resource)
  const double* y = nullptr;        ///< (n,) log D; unused by one-variable forms
  const double* target = nullptr;   ///< (n,) log L for kLog residuals, L for kLinear
  const double* weights = nullptr;  ///< (n,) weights >= 0, or nullptr for ones
  Index n = 0;
  double delta = 1e-3;  ///< Huber threshold in residual units; +inf = least squares
  double scale = 1e6;   ///< objective multiplier (the stopping rules do not depend on it)
  /// Checks sizes and values; throws std::invalid_argument naming the bad field.
  void validate() const;
};

/// log L-hat at every point and its Jacobian with respect to theta.
/// \param theta (p,)  \param log_prediction (n,) output  \param jacobian (n, p) output or nullptr
void log_prediction(const Problem& problem, const double* theta, double* log_prediction,
                    double* jacobian);

/// Per-thread scratch space for objective evaluations.
struct Workspace {
  Eigen::ArrayXd prediction, residual, psi, factor;
  Eigen::Array<double, Eigen::Dynamic, Eigen::Dynamic> jacobian;  // (n, p), column-major
  explicit Workspace(const Problem& problem);
};

/// F(theta) and (if gradient != nullptr) dF/dtheta. `multiplicity` (n,) multiplies the weights
/// (bootstrap counts), or nullptr.
double objective(const Problem& problem, const double* theta, double* gradient,
                 const double* multiplicity, Workspace& workspace);

struct MinimizeOptions {
  int max_iterations = 1000;
  int history = 10;      ///< L-BFGS memory
  double ftol = 1e-13;   ///< stop when (f_prev - f) <= ftol * max(|f|, |f_prev|)
  double gtol = 1e-10;   ///< stop when |g|_inf <= gtol * |g_0|_inf
  double xtol = 1e-13;   ///< stop when |step|_inf <= xtol * (1 + |theta|_inf)
};

struct MinimizeResult {
  Vector<double> theta;
  double objective = 0;
  int iterations = 0;
  int evaluations = 0;
  Status status = Status::kMaxIterations;
};

/// L-BFGS (Nocedal & Wright, Numerical Optimization, Alg. 7.4) with the strong-Wolfe line search
/// of their Alg. 3.5-3.6 (c1 = 1e-4, c2 = 0.9, safeguarded cubic interpolation; a non-finite
/// trial value is treated as too long a step). Deterministic: no randomness, no threads.
MinimizeResult minimize(const Problem& problem, const Vector<double>& start,
                        const MinimizeOptions& options, const double* multiplicity,
                        Workspace& workspace);

/// `minimize` restarted (fresh memory) from its own result until f stops improving, at most
/// `rounds` times: the Huber objective is only C^1, and a fresh curvature model gets L-BFGS past
/// the kinks where a stale one stalls.
MinimizeResult polish(const Problem& problem, const Vector<double>& start,
                      const MinimizeOptions& options, const double* multiplicity,
                      Workspace& workspace, int rounds = 4);

struct MultiStartResult {
  RowMatrix<double> theta;           ///< (S, p) end points of the first pass
  Vector<double> objective;          ///< (S,)
  std::vector<int> iterations;       ///< (S,)
  std::vector<int> status;           ///< (S,) Status as int
  Vector<double> best_theta;         ///< (p,) after polishing the n_polish best end points
  double best_objective = 0;
  int best_start = -1;               ///< index of the start whose polished end point won
};

/// Minimises from every row of `starts` (OpenMP over starts, dynamic schedule; each start's
/// result depends only on that start), then polishes the `n_polish` best end points with
/// `polish_options` and keeps the lowest. Polls `control` between chunks of starts.
/// \param starts (S, p)
MultiStartResult fit_multistart(const Problem& problem, const RowMatrix<double>& starts,
                                const MinimizeOptions& options,
                                const MinimizeOptions& polish_options, int n_polish,
                                const RunControl& control);

/// Bootstrap resampling counts: row i of resample b gets the number of times its group was
/// drawn. Groups are resampled with replacement within their stratum (a cluster bootstrap when
/// groups are runs, a stratified one when strata are compute budgets). Group draws of resample b
/// are uniforms b * G .. b * G + G - 1 of (seed, kStreamBootstrap), G = number of groups, taken in
/// stratum order, so the counts never depend on threads.
/// \param group (n,) group id of each row, in [0, G)   \param stratum (G,) stratum of each group
/// \returns (n_resamples, n) counts
RowMatrix<std::int32_t> bootstrap_counts(std::uint64_t seed, const std::vector<std::int64_t>& group,
                                         const std::vector<std::int64_t>& stratum,
                                         Index n_resamples, const RunControl& control);

struct BootstrapResult {
  RowMatrix<double> theta;      ///< (B, p)
  Vector<double> objective;     ///< (B,)
  std::vector<int> status;      ///< (B,)
};

/// Refits every resample of `counts` from `start` (a single start, the full-data optimum, as
/// Besiroglu et al. do) with `polish`. OpenMP over resamples.
/// \param counts (B, n) from bootstrap_counts
BootstrapResult bootstrap_refits(const Problem& problem, const Vector<double>& start,
                                 const RowMatrix<std::int32_t>& counts,
                                 const MinimizeOptions& options, const RunControl& control);

}  // namespace scalinglab::scaling_fit
