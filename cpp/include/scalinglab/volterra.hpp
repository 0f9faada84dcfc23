#pragma once
/// \file volterra.hpp
/// Expected risk of one-pass SGD on a linear random-feature model with Gaussian data: the exact
/// risk recursion, its Volterra form, and the deterministic equivalent that removes the random
/// projection (Paquette, Paquette, Xiao & Pennington 2024, "4+3 phases of compute-optimal neural
/// scaling laws", arXiv 2405.15074; "PPXP").
///
/// Model (PPXP notation). Data x = D^{1/2} z in R^v with D = diag(lambda_j), target y = <x, b>
/// (+ label noise of variance sigma^2), projection W (v, d), features W^T x, parameters theta in
/// R^d, theta_0 = 0, and the batch-SUM step
///     theta <- theta - gamma * sum_{i<B} W^T x_i (<W^T x_i, theta> - y_i)    (fresh x_i each step).
/// The risk is the clean-target P(theta) = E_x (<W^T x, theta> - <x, b>)^2 (no factor 1/2).
///
/// With K = W^T D W = sum_i k_i u_i u_i^T, theta* = K^{-1} W^T D b, P* = P(theta*) and
/// rho_i(r) = E (u_i . (theta_r - theta*))^2, the expected risk obeys exactly (Gaussian data)
///     rho_i(r+1) = g_i rho_i(r) + gamma^2 B k_i (P(r) + sigma^2),
///     g_i = 1 - 2 gamma B k_i + gamma^2 B (B+1) k_i^2,     P(r) = P* + sum_i k_i rho_i(r).
/// Written per "risk component" e_i = k_i rho_i this is a linear recursion driven by atoms
/// (x_i = k_i, forcing e_i(0) = k_i rho_i(0), kernel weight k_i^2); the same recursion with
/// complex atoms on a contour evaluates the deterministic equivalent (see
/// deterministic_spectrum). Its Volterra form is
///     P(r) = F(r) + sum_{s<r} K(r-1-s) (P(s) + sigma^2),
///     F(r) = P* + sum_i e_i(0) g_i^r,     K(r) = gamma^2 B sum_i k_i^2 g_i^r.
#include <complex>
#include <cstdint>
#include <vector>

#include "scalinglab/parallel.hpp"
#include "scalinglab/types.hpp"

namespace scalinglab::volterra {

using Complex = std::complex<double>;

/// The measures that drive the risk recursion: P(r) = P* + Re sum_k e_k(r) with
/// e_k(0) = forcing_k and e_k(r+1) = g(x_k) e_k(r) + gamma^2 B kernel_k (P(r) + sigma^2).
/// S = double for an exact eigendecomposition, Complex for contour quadrature nodes.
template <class S>
struct SgdSpectrum {
  Vector<S> eigenvalues;     ///< (n) x_k: eigenvalues of K = W^T D W (or contour nodes)
  Vector<S> forcing;         ///< (n) x_k rho_k(0): the risk carried by each mode at step 0
  Vector<S> kernel;          ///< (n) x_k^2 (or the kernel measure's quadrature weights)
  double limit_level = 0.0;  ///< P* = min_theta P(theta) (PPXP's F_0 in the deterministic case)
};

/// How the target enters: fixed weights b, or a Gaussian prior b ~ N(0, diag(s)) averaged over
/// (Lin, Wu, Kakade, Bartlett & Lee 2024's isotropic-prior setting when s = 1).
enum class TargetKind { kWeights, kPriorVariance };

/// Exact spectrum of K = W^T D W for an explicit projection.
/// \param W (v, d) row-major projection (PPXP: entries N(0, 1/d); BAP: W = A^T / sqrt(N)).
/// \param data_eigenvalues (v) lambda_j > 0.
/// \param target (v) b_j (kWeights) or E b_j^2 (kPriorVariance).
/// Modes with k_i <= 64 d eps k_max are treated as the null space of K (no risk, no noise).
/// For d >= 384 BLAS/LAPACK run on control.n_threads threads, and their rounding (~1e-13
/// relative on eigenvalues) may depend on that count; smaller problems use one thread.
SgdSpectrum<double> exact_spectrum(const ConstRowRef<double>& W,
                                   const Eigen::Ref<const Vector<double>>& data_eigenvalues,
                                   const Eigen::Ref<const Vector<double>>& target, TargetKind kind,
                                   const RunControl& control);

/// Exact spectrum for the projection drawn from (seed, stream): W[k, i] = normal(seed, stream,
/// i * v + k) / sqrt(d), i.e. W = A^T / sqrt(d) for the row-major (d, v) matrix A of standard
/// normals whose row i (feature i) is counters [i v, (i+1) v). A model with d' < d features is
/// the prefix of the model with d. W is generated block by block and never stored whole.
SgdSpectrum<double> exact_spectrum_seeded(std::uint64_t seed, std::uint64_t stream, Index d,
                                          const Eigen::Ref<const Vector<double>>& data_eigenvalues,
                                          const Eigen::Ref<const Vector<double>>& target,
                                          TargetKind kind, const RunControl& control);

/// A piecewise-constant learning rate: gamma(r) = learning_rates[p] for
/// starts[p] <= r < starts[p+1]; starts[0] must be 0 and starts strictly increasing.
struct StepSchedule {
  std::vector<std::int64_t> starts{0};
  std::vector<double> learning_rates;
  static StepSchedule constant(double learning_rate) { return {{0}, {learning_rate}}; }
  void validate() const;
};

/// Log-time blocking of the recursion. Steps r < exact_steps (and every step when
/// block_fraction == 0) are taken one at a time, exactly. Later, a block of
/// n = floor(block_fraction * r) steps is taken in closed form with P(r..r+n) linear in the step
/// and its end value consistent with the recursion (solved exactly: the end value is affine in
/// the slope). Blocks never straddle an output step or a change of learning rate.
struct RecursionOptions {
  double block_fraction = 0.01;
  std::int64_t exact_steps = 1000;
};

/// Expected risk P(r) at each of `steps` (sorted ascending, >= 0).
/// \param batch_size B >= 1.   \param noise sigma^2 >= 0 (label-noise variance).
/// \return (steps.size()) the clean-target risk.
template <class S>
Vector<double> risk_curve(const SgdSpectrum<S>& spectrum, const StepSchedule& schedule,
                          Index batch_size, double noise, const std::vector<std::int64_t>& steps,
                          const RecursionOptions& options, const RunControl& control);

/// Forcing F(r), r = 0..n_steps, and kernel K(r), r = 0..n_steps, of the Volterra form for a
/// constant learning rate.
struct VolterraFunctions {
  Vector<double> forcing;  ///< (n_steps + 1) F(r)
  Vector<double> kernel;   ///< (n_steps + 1) K(r)
};
template <class S>
VolterraFunctions volterra_functions(const SgdSpectrum<S>& spectrum, double learning_rate,
                                     Index batch_size, Index n_steps, const RunControl& control);

/// Solves P(r) = F(r) + sum_{s<r} K(r-1-s) (P(s) + noise) for r = 0..F.size()-1 by direct
/// summation (O(n^2)). \param forcing (n) \param kernel (>= n - 1).
Vector<double> solve_volterra(const Eigen::Ref<const Vector<double>>& forcing,
                              const Eigen::Ref<const Vector<double>>& kernel, double noise);

/// ||K|| = sum_r K(r) = gamma^2 B Re sum_k kernel_k / (1 - g(x_k)); for an exact spectrum
/// gamma sum_i k_i / (2 - gamma (B+1) k_i); +inf if some |g(x_k)| >= 1. The risk converges iff
/// ||K|| < 1.
template <class S>
double kernel_norm(const SgdSpectrum<S>& spectrum, double learning_rate, Index batch_size);

/// lim_{r->inf} P(r) = (P* + ||K|| sigma^2) / (1 - ||K||); +inf when ||K|| >= 1.
template <class S>
double risk_limit(const SgdSpectrum<S>& spectrum, double learning_rate, Index batch_size,
                  double noise);

// ---- deterministic equivalents (PPXP, P10-P12) ---------------------------------------------

/// m(z) solving m + (1/d) sum_j lambda_j m / (lambda_j m - z) = 1 (PPXP's deterministic
/// equivalent: tr (K - z)^{-1} ~ -d m(z) / z, tr K (K - z)^{-1} ~ d (1 - m(z))), for Im z >= 0
/// (a real z means the limit z + i0). Newton along a path from z + i Y (Y large, m ~ 1) down to
/// Im z, which keeps the physical branch (Im(-m/z) >= 0). Throws LinAlgError when the
/// continuation fails and std::invalid_argument for z = 0 or Im z < 0.
Complex resolvent_m(const Eigen::Ref<const Vector<double>>& data_eigenvalues, Index d, Complex z);

/// m(z) at many points (each continued independently; parallel over points).
Vector<Complex> resolvent_m(const Eigen::Ref<const Vector<double>>& data_eigenvalues, Index d,
                            const Eigen::Ref<const Vector<Complex>>& z, const RunControl& control);

/// PPXP (P12): the limit level F_0 = sum_j lambda_j b_j^2 c / (c + lambda_j), where c > 0 solves
/// sum_j lambda_j / (lambda_j + c) = d (F_0 = c = 0 when v <= d: the target is representable).
struct LimitLevel {
  double level = 0.0;  ///< F_0
  double c = 0.0;      ///< the renormalised ridge c
};
/// \param target_power (v) lambda_j E b_j^2.
LimitLevel limit_level(const Eigen::Ref<const Vector<double>>& data_eigenvalues,
                       const Eigen::Ref<const Vector<double>>& target_power, Index d);

/// Densities per unit x of the deterministic-equivalent measures at z = x (1 + i eps):
/// eigenvalues of K (integrates to d), forcing sum_i k_i rho_i(0) delta(x - k_i) (integrates to
/// sum_j lambda_j b_j^2 - F_0) and kernel sum_i k_i^2 delta(x - k_i) (PPXP P11).
struct SpectralDensities {
  Vector<double> eigenvalue;
  Vector<double> forcing;
  Vector<double> kernel;
};
SpectralDensities spectral_densities(const Eigen::Ref<const Vector<double>>& data_eigenvalues,
                                     const Eigen::Ref<const Vector<double>>& target_power, Index d,
                                     const Eigen::Ref<const Vector<double>>& x,
                                     double relative_epsilon, const RunControl& control);

/// Quadrature of the deterministic-equivalent measures on a wedge contour z = x (1 + i slope),
/// x in (0, X], closed by a vertical segment at X = 1.1 x (upper edge of the spectrum), found by
/// scanning the density down from 1.5 tr D. Panels of width `slope`
/// in log x with `nodes_per_panel` Gauss-Legendre nodes; the wedge starts at
/// lower_factor * c (P12's c sets the bottom of the spectrum).
struct ContourOptions {
  double slope = 0.1;
  int nodes_per_panel = 8;
  double lower_factor = 1e-3;
};

/// Complex atoms whose risk recursion (risk_curve) is the deterministic equivalent of the
/// W-averaged forcing and kernel: F(r) ~ F_0 + Re sum_k f_k g(z_k)^r, K(r) ~ gamma^2 B Re
/// sum_k kappa_k g(z_k)^r, with the atom of the forcing at 0 (mass F_0) taken out exactly.
/// Requires v > d. Throws LinAlgError if the quadrature misses more than 1e-6 of the target
/// power (the contour did not enclose the spectrum).
SgdSpectrum<Complex> deterministic_spectrum(const Eigen::Ref<const Vector<double>>& data_eigenvalues,
                                            const Eigen::Ref<const Vector<double>>& target_power,
                                            Index d, const ContourOptions& options,
                                            const RunControl& control);

}  // namespace scalinglab::volterra
