/// \file volterra.cpp
/// One-pass SGD risk: exact spectra (blocked syrk + syevd), the log-time blocked recursion, the
/// Volterra form, and the deterministic equivalent on a wedge contour (PPXP, arXiv 2405.15074).
#include "scalinglab/volterra.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "scalinglab/blas.hpp"
#include "scalinglab/errors.hpp"
#include "scalinglab/random.hpp"

namespace scalinglab::volterra {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr double kPi = 3.14159265358979323846264338327950288;

// ---- complex-or-real elementary functions that stay accurate near zero ------------------

inline double real_part(double x) { return x; }
inline double real_part(const Complex& x) { return x.real(); }

inline double expm1_s(double x) { return std::expm1(x); }
inline Complex expm1_s(const Complex& w) {
  // e^a (cos b + i sin b) - 1 = expm1(a) cos b - 2 sin^2(b/2) + i e^a sin b
  const double a = w.real(), b = w.imag();
  const double half_sin = std::sin(0.5 * b);
  return {std::expm1(a) * std::cos(b) - 2.0 * half_sin * half_sin, std::exp(a) * std::sin(b)};
}
inline double log1p_s(double x) { return std::log1p(x); }
inline Complex log1p_s(const Complex& w) {
  // log|1+w| = 0.5 log1p(2 Re w + |w|^2): no cancellation for small w.
  const double a = w.real(), b = w.imag();
  return {0.5 * std::log1p(2.0 * a + a * a + b * b), std::atan2(b, 1.0 + a)};
}

// phi(x) = (e^{-x} - 1 + x) / x^2, the weight of a linear ramp under geometric decay.
template <class S>
S phi(const S& x) {
  if (std::abs(x) < 0.5) {
    // sum_k (-x)^k / (k+2)!: 18 terms reach 1e-17 at |x| = 0.5.
    S term = S(0.5), sum = S(0.5);
    for (int k = 1; k < 18; ++k) {
      term *= -x / double(k + 2);
      sum += term;
    }
    return sum;
  }
  return (expm1_s(-x) + x) / (x * x);
}

// psi(x) = x / (1 - e^{-x}) = -x / expm1(-x), with psi(0) = 1.
template <class S>
S psi(const S& x) {
  if (std::abs(x) < 1e-8) return S(1.0) + x * 0.5;
  return -x / expm1_s(-x);
}

// ---- exact spectrum -------------------------------------------------------------------------

// Fills rows [k0, k1) of M = diag(sqrt(lambda)) W into `block` (row-major (k1-k0, d)).
using BlockFill = std::function<void(Index, Index, RowMatrix<double>&)>;

constexpr Index kRowsPerBlock = 512;

SgdSpectrum<double> exact_spectrum_impl(Index v, Index d, const BlockFill& fill,
                                        const Eigen::Ref<const Vector<double>>& lambda,
                                        const Eigen::Ref<const Vector<double>>& target,
                                        TargetKind kind, const RunControl& control) {
  // Small problems run BLAS on one thread: a fork/join costs more than the work (and much more
  // when the cores are shared).
  BlasThreadScope blas_threads(d >= 384 ? control.n_threads : 1);
  const int di = static_cast<int>(d);
  ColMatrix<double> K = ColMatrix<double>::Zero(d, d);
  Vector<double> h = Vector<double>::Zero(d);  // W^T D b (kWeights)
  Vector<double> scaled_target(v);             // sqrt(lambda_j) b_j
  for (Index j = 0; j < v; ++j) scaled_target[j] = std::sqrt(lambda[j]) * target[j];
  RowMatrix<double> block;
  const Index n_blocks = (v + kRowsPerBlock - 1) / kRowsPerBlock;
  // Pass 1: K = M^T M and h = M^T (sqrt(lambda) b), block by block.
  for (Index blk = 0; blk < n_blocks; ++blk) {
    const Index k0 = blk * kRowsPerBlock, k1 = std::min(v, k0 + kRowsPerBlock);
    fill(k0, k1, block);
    // Row-major block (nb, d) is column-major block^T (d, nb): K += block^T block.
    blas::syrk('L', 'N', di, static_cast<int>(k1 - k0), 1.0, block.data(), di, 1.0, K.data(), di);
    if (kind == TargetKind::kWeights)
      h.noalias() += block.transpose() * scaled_target.segment(k0, k1 - k0);
    control.poll();
    control.progress(0.4 * double(blk + 1) / double(n_blocks));
  }
  Vector<double> k_eig;
  blas::syevd(K, k_eig, /*vectors=*/true);  // K now holds the eigenvectors U
  control.progress(0.6);
  const double k_max = d > 0 ? std::max(k_eig[d - 1], 0.0) : 0.0;
  const double null_level = 64.0 * double(d) * kEps * k_max;

  SgdSpectrum<double> out;
  out.eigenvalues = k_eig;
  out.forcing = Vector<double>::Zero(d);
  for (Index i = 0; i < d; ++i)
    if (!(k_eig[i] > null_level)) out.eigenvalues[i] = 0.0;
  out.kernel = out.eigenvalues.array().square();

  if (kind == TargetKind::kWeights) {
    const Vector<double> c = K.transpose() * h;  // u_i . W^T D b
    Vector<double> coef = Vector<double>::Zero(d);  // u_i . theta*
    for (Index i = 0; i < d; ++i)
      if (out.eigenvalues[i] > 0.0) {
        coef[i] = c[i] / out.eigenvalues[i];
        out.forcing[i] = c[i] * coef[i];
      }
    const Vector<double> theta_star = K * coef;
    // Pass 2: P* = ||sqrt(lambda) b - M theta*||^2 directly (no cancellation against b^T D b).
    double p_star = 0.0;
    for (Index blk = 0; blk < n_blocks; ++blk) {
      const Index k0 = blk * kRowsPerBlock, k1 = std::min(v, k0 + kRowsPerBlock);
      fill(k0, k1, block);
      const Vector<double> residual = scaled_target.segment(k0, k1 - k0) - block * theta_star;
      p_star += residual.squaredNorm();
      control.poll();
      control.progress(0.6 + 0.4 * double(blk + 1) / double(n_blocks));
    }
    out.limit_level = p_star;
  } else {
    // E_b: rho_i(0) = sum_k s_k lambda_k Q_ki^2 / k_i^2 with Q = M U, and
    // P* = sum_k lambda_k s_k (1 - Pi_kk), Pi = M K^+ M^T the projection onto range(M).
    ColMatrix<double> QT(d, kRowsPerBlock);
    double p_star = 0.0;
    Vector<double> inv_k = Vector<double>::Zero(d);
    for (Index i = 0; i < d; ++i)
      if (out.eigenvalues[i] > 0.0) inv_k[i] = 1.0 / out.eigenvalues[i];
    for (Index blk = 0; blk < n_blocks; ++blk) {
      const Index k0 = blk * kRowsPerBlock, k1 = std::min(v, k0 + kRowsPerBlock);
      const int nb = static_cast<int>(k1 - k0);
      fill(k0, k1, block);
      // Q^T (d, nb) = U^T block^T, block^T being the column-major view of the row-major block.
      blas::gemm('T', 'N', di, nb, di, 1.0, K.data(), di, block.data(), di, 0.0, QT.data(), di);
      for (Index k = 0; k < nb; ++k) {
        const double weight = lambda[k0 + k] * target[k0 + k];
        double leverage = 0.0;
        for (Index i = 0; i < d; ++i) {
          const double q2 = QT(i, k) * QT(i, k) * inv_k[i];
          leverage += q2;
          out.forcing[i] += weight * q2;
        }
        p_star += weight * (1.0 - leverage);
      }
      control.poll();
      control.progress(0.6 + 0.4 * double(blk + 1) / double(n_blocks));
    }
    out.limit_level = std::max(p_star, 0.0);
  }
  return out;
}

void check_spectrum_inputs(Index v, const Eigen::Ref<const Vector<double>>& lambda,
                           const Eigen::Ref<const Vector<double>>& target, TargetKind kind) {
  require(lambda.size() == v, "data_eigenvalues",
          "expected length v = " + std::to_string(v) + ", got " + std::to_string(lambda.size()));
  require(target.size() == v, "target",
          "expected length v = " + std::to_string(v) + ", got " + std::to_string(target.size()));
  for (Index j = 0; j < v; ++j) {
    require(std::isfinite(lambda[j]) && lambda[j] > 0.0, "data_eigenvalues",
            "entries must be finite and > 0");
    require(std::isfinite(target[j]), "target", "entries must be finite");
    if (kind == TargetKind::kPriorVariance)
      require(target[j] >= 0.0, "target", "prior variances must be >= 0");
  }
}

// ---- blocked recursion ------------------------------------------------------------------------

template <class S>
S decay_factor(const S& x, double gamma, double batch) {
  // g - 1 = gamma B x (gamma (B+1) x - 2), computed without forming 1 - (1 - ...).
  return gamma * batch * x * (gamma * (batch + 1.0) * x - 2.0);
}

}  // namespace

// ---- public: exact spectra ----------------------------------------------------------------

SgdSpectrum<double> exact_spectrum(const ConstRowRef<double>& W,
                                   const Eigen::Ref<const Vector<double>>& data_eigenvalues,
                                   const Eigen::Ref<const Vector<double>>& target, TargetKind kind,
                                   const RunControl& control) {
  const Index v = W.rows(), d = W.cols();
  require(v >= 1 && d >= 1, "W", "expected a non-empty (v, d) matrix");
  check_spectrum_inputs(v, data_eigenvalues, target, kind);
  const BlockFill fill = [&](Index k0, Index k1, RowMatrix<double>& block) {
    block.resize(k1 - k0, d);
    for (Index k = k0; k < k1; ++k) block.row(k - k0) = std::sqrt(data_eigenvalues[k]) * W.row(k);
  };
  return exact_spectrum_impl(v, d, fill, data_eigenvalues, target, kind, control);
}

SgdSpectrum<double> exact_spectrum_seeded(std::uint64_t seed, std::uint64_t stream, Index d,
                                          const Eigen::Ref<const Vector<double>>& data_eigenvalues,
                                          const Eigen::Ref<const Vector<double>>& target,
                                          TargetKind kind, const RunControl& control) {
  const Index v = data_eigenvalues.size();
  require(v >= 1, "data_eigenvalues", "expected at least one mode");
  require(d >= 1, "d", "must be >= 1, got " + std::to_string(d));
  check_spectrum_inputs(v, data_eigenvalues, target, kind);
  const double inv_sqrt_d = 1.0 / std::sqrt(double(d));
  const int threads = control.threads();
  const BlockFill fill = [&, threads](Index k0, Index k1, RowMatrix<double>& block) {
    const Index nb = k1 - k0;
    block.resize(nb, d);
    // Column i of the block is feature i's normals at counters i v + [k0, k1): one contiguous
    // Philox run per feature, independent of the thread that draws it.
#pragma omp parallel num_threads(threads) if (nb * d >= 65536)
    {
      std::vector<double> column(static_cast<std::size_t>(nb));
#pragma omp for schedule(static)
      for (Index i = 0; i < d; ++i) {
        random::fill_normal(seed, stream, static_cast<std::uint64_t>(i) * v + k0, column.data(),
                            column.size());
        for (Index k = 0; k < nb; ++k)
          block(k, i) = std::sqrt(data_eigenvalues[k0 + k]) * inv_sqrt_d * column[k];
      }
    }
  };
  return exact_spectrum_impl(v, d, fill, data_eigenvalues, target, kind, control);
}

// ---- public: schedules and the recursion ------------------------------------------------

void StepSchedule::validate() const {
  require(!starts.empty() && starts.size() == learning_rates.size(), "schedule",
          "expected as many start steps as learning rates (at least one)");
  require(starts[0] == 0, "schedule", "the first piece must start at step 0");
  for (std::size_t p = 0; p < starts.size(); ++p) {
    if (p > 0) require(starts[p] > starts[p - 1], "schedule", "start steps must increase");
    require(std::isfinite(learning_rates[p]) && learning_rates[p] > 0.0, "learning_rate",
            "must be finite and > 0");
  }
}

template <class S>
Vector<double> risk_curve(const SgdSpectrum<S>& spectrum, const StepSchedule& schedule,
                          Index batch_size, double noise, const std::vector<std::int64_t>& steps,
                          const RecursionOptions& options, const RunControl& control) {
  schedule.validate();
  require(batch_size >= 1, "batch_size", "must be >= 1, got " + std::to_string(batch_size));
  require(std::isfinite(noise) && noise >= 0.0, "noise", "must be finite and >= 0");
  require(options.block_fraction >= 0.0 && options.block_fraction <= 0.5, "block_fraction",
          "must be in [0, 0.5]");
  require(options.exact_steps >= 0, "exact_steps", "must be >= 0");
  const Index n = spectrum.eigenvalues.size();
  require(spectrum.forcing.size() == n && spectrum.kernel.size() == n, "spectrum",
          "eigenvalues, forcing and kernel must have the same length");
  for (std::size_t i = 0; i < steps.size(); ++i) {
    require(steps[i] >= 0, "steps", "must be >= 0");
    if (i > 0) require(steps[i] >= steps[i - 1], "steps", "must be sorted ascending");
  }
  Vector<double> out(static_cast<Index>(steps.size()));
  if (steps.empty()) return out;

  const double batch = double(batch_size);
  const bool complex_atoms = !std::is_same<S, double>::value;
  const bool blocked = options.block_fraction > 0.0;
  const int threads = control.threads();
  // Below this many atoms a block's work (~10 ns per atom) is too small for a fork/join, which
  // costs milliseconds when the cores are shared.
  const bool parallel = n >= 32768 && threads > 1;

  Vector<S> e = spectrum.forcing;  // risk components e_k(r)
  Vector<S> e_start(n), g(n), minus_log_g(n), psi_mu(n), phi_mu(n), w_kernel(n);
  Vector<S> decay_n(n), sum0(n), sum1(n);

  auto total = [&](const Vector<S>& components) {
    double sum = spectrum.limit_level;  // fixed order: identical for any thread count
    for (Index k = 0; k < n; ++k) sum += real_part(components[k]);
    return sum;
  };

  std::int64_t r = 0;
  double risk = total(e);
  std::size_t next_out = 0;
  std::size_t piece = 0;
  const std::int64_t last = steps.back();
  double gamma = -1.0;
  std::uint64_t iterations = 0;
  while (true) {
    while (next_out < steps.size() && steps[next_out] == r) out[next_out++] = risk;
    if (r >= last) break;
    while (piece + 1 < schedule.starts.size() && schedule.starts[piece + 1] <= r) ++piece;
    if (schedule.learning_rates[piece] != gamma) {
      gamma = schedule.learning_rates[piece];
      for (Index k = 0; k < n; ++k) {
        const S gm1 = decay_factor(spectrum.eigenvalues[k], gamma, batch);
        g[k] = S(1.0) + gm1;
        minus_log_g[k] = -log1p_s(gm1);
        psi_mu[k] = psi(minus_log_g[k]);
        phi_mu[k] = phi(minus_log_g[k]);
        w_kernel[k] = gamma * gamma * batch * spectrum.kernel[k];
      }
      if (complex_atoms) {
        for (Index k = 0; k < n; ++k)
          if (std::abs(g[k]) > 1.0 + 1e-12)
            throw std::invalid_argument(
                "`learning_rate`: too large for the contour quadrature of the deterministic "
                "equivalent (|g(z)| > 1 on the contour); use a smaller learning rate or the exact "
                "spectrum");
      }
    }
    std::int64_t stop = last;
    if (next_out < steps.size()) stop = std::min(stop, steps[next_out]);
    if (piece + 1 < schedule.starts.size()) stop = std::min(stop, schedule.starts[piece + 1]);
    std::int64_t len = 1;
    if (blocked && r >= options.exact_steps)
      len = std::max<std::int64_t>(1, static_cast<std::int64_t>(options.block_fraction * double(r)));
    len = std::min(len, stop - r);

    const double driven = risk + noise;
    if (len == 1) {
#pragma omp parallel for num_threads(threads) if (parallel) schedule(static)
      for (Index k = 0; k < n; ++k) e[k] = g[k] * e[k] + w_kernel[k] * driven;
      risk = total(e);
    } else {
      // Closed form over len steps with P(r + j) = P0 + j delta, j < len:
      //   e <- g^len e + w [ (P0 + s2) G0 + delta G1 ],
      //   G0 = sum_{j<len} g^j = len psi(mu) / psi(len mu),
      //   G1 = sum_{j<len} (len-1-j) g^j = len psi(mu)^2 (len phi(len mu) - phi(mu)),  g = e^{-mu}.
      const double ln = double(len);
      e_start = e;
#pragma omp parallel for num_threads(threads) if (parallel) schedule(static)
      for (Index k = 0; k < n; ++k) {
        const S mu_n = minus_log_g[k] * ln;
        decay_n[k] = S(1.0) + expm1_s(-mu_n);
        sum0[k] = ln * psi_mu[k] / psi(mu_n);
        sum1[k] = ln * psi_mu[k] * psi_mu[k] * (ln * phi(mu_n) - phi_mu[k]);
      }
      // P(r + len) is affine in the slope delta: P_end(delta) = P_pred + b delta with
      // b = Re sum_k w_k G1_k. The linear interpolation is consistent when
      // risk + len delta = P_end(delta), which fixes delta in one solve (a fixed-point iteration
      // on delta would only converge at the rate ||K||).
#pragma omp parallel for num_threads(threads) if (parallel) schedule(static)
      for (Index k = 0; k < n; ++k)
        e[k] = decay_n[k] * e_start[k] + w_kernel[k] * (driven * sum0[k]);
      const double predicted = total(e);
      double slope_gain = 0.0;
      for (Index k = 0; k < n; ++k) slope_gain += real_part(w_kernel[k] * sum1[k]);
      const double delta = (predicted - risk) / (ln - slope_gain);
#pragma omp parallel for num_threads(threads) if (parallel) schedule(static)
      for (Index k = 0; k < n; ++k) e[k] += w_kernel[k] * (delta * sum1[k]);
      const double end_risk = total(e);
      risk = end_risk;
    }
    r += len;
    if (!std::isfinite(risk)) {
      // Diverged (learning rate beyond the stability threshold): report +inf from here on.
      while (next_out < steps.size()) out[next_out++] = std::numeric_limits<double>::infinity();
      break;
    }
    // Polling takes the GIL in Python: once per 256 iterations is plenty.
    if ((++iterations & 255u) == 0) {
      control.poll();
      control.progress(double(r) / double(last));
    }
  }
  control.progress(1.0);
  return out;
}

template <class S>
VolterraFunctions volterra_functions(const SgdSpectrum<S>& spectrum, double learning_rate,
                                     Index batch_size, Index n_steps, const RunControl& control) {
  require(std::isfinite(learning_rate) && learning_rate > 0.0, "learning_rate",
          "must be finite and > 0");
  require(batch_size >= 1, "batch_size", "must be >= 1");
  require(n_steps >= 0, "n_steps", "must be >= 0");
  const Index n = spectrum.eigenvalues.size();
  const double batch = double(batch_size);
  // Atoms in fixed chunks, each accumulating its own partial sums, combined in chunk order: the
  // result does not depend on the thread count.
  constexpr Index kChunk = 256;
  const Index n_chunks = (n + kChunk - 1) / kChunk;
  std::vector<Vector<double>> partial_f(n_chunks), partial_k(n_chunks);
#pragma omp parallel for num_threads(control.threads()) schedule(dynamic)
  for (Index c = 0; c < n_chunks; ++c) {
    const Index k0 = c * kChunk, k1 = std::min(n, k0 + kChunk);
    Vector<double> f = Vector<double>::Zero(n_steps + 1), kr = Vector<double>::Zero(n_steps + 1);
    for (Index k = k0; k < k1; ++k) {
      const S g = S(1.0) + decay_factor(spectrum.eigenvalues[k], learning_rate, batch);
      S power_f = spectrum.forcing[k], power_k = spectrum.kernel[k];
      for (Index r = 0; r <= n_steps; ++r) {
        f[r] += real_part(power_f);
        kr[r] += real_part(power_k);
        power_f *= g;
        power_k *= g;
      }
    }
    partial_f[c] = std::move(f);
    partial_k[c] = std::move(kr);
  }
  VolterraFunctions out;
  out.forcing = Vector<double>::Constant(n_steps + 1, spectrum.limit_level);
  out.kernel = Vector<double>::Zero(n_steps + 1);
  for (Index c = 0; c < n_chunks; ++c) {
    out.forcing += partial_f[c];
    out.kernel += partial_k[c];
  }
  out.kernel *= learning_rate * learning_rate * batch;
  control.poll();
  return out;
}

Vector<double> solve_volterra(const Eigen::Ref<const Vector<double>>& forcing,
                              const Eigen::Ref<const Vector<double>>& kernel, double noise) {
  const Index n = forcing.size();
  require(kernel.size() + 1 >= n, "kernel",
          "expected at least len(forcing) - 1 = " + std::to_string(n - 1) + " values");
  require(std::isfinite(noise) && noise >= 0.0, "noise", "must be finite and >= 0");
  Vector<double> risk(n);
  for (Index r = 0; r < n; ++r) {
    double sum = forcing[r];
    for (Index s = 0; s < r; ++s) sum += kernel[r - 1 - s] * (risk[s] + noise);
    risk[r] = sum;
  }
  return risk;
}

template <class S>
double kernel_norm(const SgdSpectrum<S>& spectrum, double learning_rate, Index batch_size) {
  require(std::isfinite(learning_rate) && learning_rate > 0.0, "learning_rate",
          "must be finite and > 0");
  require(batch_size >= 1, "batch_size", "must be >= 1");
  const double batch = double(batch_size);
  double norm = 0.0;
  for (Index k = 0; k < spectrum.eigenvalues.size(); ++k) {
    const S x = spectrum.eigenvalues[k];
    if (x == S(0.0)) continue;
    // kernel / (1 - g) with 1 - g = gamma B x (2 - gamma (B+1) x); sum_r K(r) diverges as soon
    // as one mode has |g| >= 1 (the step is beyond that mode's stability threshold).
    const S one_minus_g = -decay_factor(x, learning_rate, batch);
    if (std::abs(S(1.0) - one_minus_g) >= 1.0) return std::numeric_limits<double>::infinity();
    norm += real_part(learning_rate * learning_rate * batch * spectrum.kernel[k] / one_minus_g);
  }
  return norm;
}

template <class S>
double risk_limit(const SgdSpectrum<S>& spectrum, double learning_rate, Index batch_size,
                  double noise) {
  const double norm = kernel_norm(spectrum, learning_rate, batch_size);
  if (norm >= 1.0) return std::numeric_limits<double>::infinity();
  return (spectrum.limit_level + norm * noise) / (1.0 - norm);
}

// ---- deterministic equivalents --------------------------------------------------------------

namespace {

struct MEquation {
  const double* lambda;
  Index v;
  double inv_d;
};

// Newton on f(m) = m (1 + (1/d) sum_j lambda_j / (lambda_j m - z)) - 1 from `m`. Returns true
// when |dm| <= 1e-14 |m| within max_iter steps.
bool newton_m(const MEquation& eq, Complex z, Complex& m, int max_iter = 60) {
  for (int it = 0; it < max_iter; ++it) {
    double s1r = 0, s1i = 0, s2r = 0, s2i = 0;
    for (Index j = 0; j < eq.v; ++j) {
      const double l = eq.lambda[j];
      const double wr = l * m.real() - z.real(), wi = l * m.imag() - z.imag();
      const double inv = 1.0 / (wr * wr + wi * wi);
      const double tr = wr * inv, ti = -wi * inv;  // 1 / w
      s1r += l * tr;
      s1i += l * ti;
      s2r += l * (tr * tr - ti * ti);  // lambda / w^2
      s2i += l * (2.0 * tr * ti);
    }
    const Complex s1(s1r, s1i), s2(s2r, s2i);
    const Complex f = m * (1.0 + eq.inv_d * s1) - 1.0;
    const Complex fp = 1.0 - eq.inv_d * z * s2;
    const Complex dm = f / fp;
    if (!std::isfinite(dm.real()) || !std::isfinite(dm.imag())) return false;
    m -= dm;
    if (std::abs(dm) <= 1e-14 * std::abs(m)) return true;
  }
  return false;
}

bool physical_branch(Complex z, Complex m) {
  if (z.imag() <= 0.0) return true;
  const Complex s = -m / z;  // Stieltjes transform of K's spectrum / d: Im > 0 above the axis
  return s.imag() >= -1e-10 * std::abs(s);
}

// Continues m from `start` (known at z_from) to z_to along the straight segment, halving the step
// when Newton fails or leaves the physical branch.
bool continue_m(const MEquation& eq, Complex z_from, Complex z_to, Complex& m) {
  double t = 0.0, step = 1.0;
  Complex current = m;
  int failures = 0;
  while (t < 1.0) {
    const double t_next = std::min(1.0, t + step);
    const Complex z = z_from + t_next * (z_to - z_from);
    Complex trial = current;
    if (newton_m(eq, z, trial) && physical_branch(z, trial)) {
      current = trial;
      t = t_next;
      step = std::min(1.0, step * 2.0);
    } else {
      step *= 0.5;
      if (++failures > 60 || step < 1e-12) return false;
    }
  }
  m = current;
  return true;
}

// m(z) by continuation in Im z from x + iY (m ~ 1) geometrically down to Im z.
Complex solve_m_from_above(const MEquation& eq, double scale, Complex z) {
  const double x = z.real();
  const double target_im = z.imag();
  double y = 1e3 * (std::abs(x) + scale);
  Complex m(1.0, 0.0);
  if (!newton_m(eq, Complex(x, y), m))
    throw LinAlgError("resolvent_m: Newton failed at the start of the continuation");
  // Real targets are approached from above down to 1e-13 of their size, then solved exactly.
  const double floor_im = target_im > 0.0 ? target_im : 1e-13 * std::max(std::abs(x), 1e-300);
  while (y > floor_im) {
    const double y_next = std::max(floor_im, y * 0.25);
    if (!continue_m(eq, Complex(x, y), Complex(x, y_next), m))
      throw LinAlgError("resolvent_m: continuation in Im z failed near z = (" + std::to_string(x) +
                        ", " + std::to_string(y_next) + ")");
    y = y_next;
  }
  if (target_im == 0.0) {
    Complex trial = m;
    if (newton_m(eq, Complex(x, 0.0), trial)) m = trial;
  }
  return m;
}

double spectrum_scale(const Eigen::Ref<const Vector<double>>& lambda, Index d) {
  return lambda.sum() / double(d) + lambda.maxCoeff();
}

void check_data_eigenvalues(const Eigen::Ref<const Vector<double>>& lambda, Index d) {
  require(lambda.size() >= 1, "data_eigenvalues", "expected at least one eigenvalue");
  require(d >= 1, "d", "must be >= 1, got " + std::to_string(d));
  for (Index j = 0; j < lambda.size(); ++j)
    require(std::isfinite(lambda[j]) && lambda[j] > 0.0, "data_eigenvalues",
            "entries must be finite and > 0");
}


// sum_j power_j / (lambda_j m - z): the deterministic equivalent of the forcing's Stieltjes
// transform sum_i k_i rho_i(0) / (k_i - z) plus the atom F_0 / (0 - z) (PPXP P11).
Complex forcing_transform(const MEquation& eq, const double* power, Complex m, Complex z) {
  Complex sum(0.0, 0.0);
  for (Index j = 0; j < eq.v; ++j) sum += power[j] / (eq.lambda[j] * m - z);
  return sum;
}

// Gauss-Legendre nodes and weights on [-1, 1]: Newton on the Legendre polynomial P_q.
void gauss_legendre(int q, std::vector<double>& nodes, std::vector<double>& weights) {
  nodes.resize(q);
  weights.resize(q);
  // P_q(t) and P_q'(t) by the three-term recurrence.
  auto legendre = [q](double t, double& derivative) {
    double p0 = 1.0, p1 = t;
    for (int k = 2; k <= q; ++k) {
      const double p2 = ((2.0 * k - 1.0) * t * p1 - (k - 1.0) * p0) / k;
      p0 = p1;
      p1 = p2;
    }
    derivative = q * (t * p1 - p0) / (t * t - 1.0);
    return p1;
  };
  for (int i = 0; i < q; ++i) {
    double t = std::cos(kPi * (i + 0.75) / (q + 0.5));
    double derivative = 0.0;
    for (int it = 0; it < 100; ++it) {
      const double dt = legendre(t, derivative) / derivative;
      t -= dt;
      if (std::abs(dt) < 1e-16) break;
    }
    legendre(t, derivative);
    nodes[i] = t;
    weights[i] = 2.0 / ((1.0 - t * t) * derivative * derivative);
  }
}

// Upper edge of the deterministic-equivalent spectrum of K (within 0.5%): scanning down from
// 1.5 tr D (the spectrum lies below tr K ~ tr D), the first x whose density
// Im m(x (1 + 1e-10 i)) is not negligible. Points are solved 16 at a time in parallel.
double spectrum_upper_edge(const MEquation& eq, double scale, double trace,
                           const RunControl& control) {
  constexpr int kBatch = 16;
  constexpr double kStep = 0.995;
  double x = 1.5 * trace;
  for (int batch = 0; batch < 400; ++batch) {
    double inside[kBatch];
#pragma omp parallel for num_threads(control.threads()) schedule(static)
    for (int i = 0; i < kBatch; ++i) {
      const double xi = x * std::pow(kStep, i);
      try {
        const Complex m = solve_m_from_above(eq, scale, Complex(xi, 1e-10 * xi));
        inside[i] = std::abs(m.imag()) > 1e-6 * std::abs(m) ? 1.0 : 0.0;
      } catch (const LinAlgError&) {
        inside[i] = 1.0;  // no clean real solution: treat as support
      }
    }
    for (int i = 0; i < kBatch; ++i)
      if (inside[i] > 0.0) return x * std::pow(kStep, i - 1);
    x *= std::pow(kStep, kBatch);
  }
  throw LinAlgError("deterministic_spectrum: no spectrum found below 1.5 tr D");
}
}  // namespace

Complex resolvent_m(const Eigen::Ref<const Vector<double>>& data_eigenvalues, Index d, Complex z) {
  check_data_eigenvalues(data_eigenvalues, d);
  require(std::isfinite(z.real()) && std::isfinite(z.imag()) && z.imag() >= 0.0, "z",
          "must be finite with Im z >= 0");
  require(z != Complex(0.0, 0.0), "z", "m(z) is singular at z = 0");
  const MEquation eq{data_eigenvalues.data(), data_eigenvalues.size(), 1.0 / double(d)};
  return solve_m_from_above(eq, spectrum_scale(data_eigenvalues, d), z);
}

Vector<Complex> resolvent_m(const Eigen::Ref<const Vector<double>>& data_eigenvalues, Index d,
                            const Eigen::Ref<const Vector<Complex>>& z, const RunControl& control) {
  check_data_eigenvalues(data_eigenvalues, d);
  for (Index i = 0; i < z.size(); ++i) {
    require(std::isfinite(z[i].real()) && std::isfinite(z[i].imag()) && z[i].imag() >= 0.0, "z",
            "must be finite with Im z >= 0");
    require(z[i] != Complex(0.0, 0.0), "z", "m(z) is singular at z = 0");
  }
  const MEquation eq{data_eigenvalues.data(), data_eigenvalues.size(), 1.0 / double(d)};
  const double scale = spectrum_scale(data_eigenvalues, d);
  Vector<Complex> out(z.size());
  parallel_for_collect(0, z.size(), control.threads(),
                       [&](Index i) { out[i] = solve_m_from_above(eq, scale, z[i]); });
  control.poll();
  return out;
}

LimitLevel limit_level(const Eigen::Ref<const Vector<double>>& data_eigenvalues,
                       const Eigen::Ref<const Vector<double>>& target_power, Index d) {
  check_data_eigenvalues(data_eigenvalues, d);
  const Index v = data_eigenvalues.size();
  require(target_power.size() == v, "target_power", "expected one value per data eigenvalue");
  LimitLevel out;
  if (v <= d) return out;
  auto degrees = [&](double c) {
    double sum = 0.0;
    for (Index j = 0; j < v; ++j) sum += data_eigenvalues[j] / (data_eigenvalues[j] + c);
    return sum;
  };
  // sum_j lambda_j/(lambda_j + c) decreases from v (c = 0) to 0: bisection in log c.
  double lo = data_eigenvalues.minCoeff() * 1e-20;
  double hi = data_eigenvalues.sum();
  while (degrees(lo) < double(d)) lo *= 1e-10;
  while (degrees(hi) > double(d)) hi *= 10.0;
  for (int it = 0; it < 200 && hi / lo > 1.0 + 4 * kEps; ++it) {
    const double mid = std::sqrt(lo * hi);
    (degrees(mid) > double(d) ? lo : hi) = mid;
  }
  const double c = std::sqrt(lo * hi);
  double level = 0.0;
  for (Index j = 0; j < v; ++j) level += target_power[j] * c / (c + data_eigenvalues[j]);
  out.level = level;
  out.c = c;
  return out;
}

SpectralDensities spectral_densities(const Eigen::Ref<const Vector<double>>& data_eigenvalues,
                                     const Eigen::Ref<const Vector<double>>& target_power, Index d,
                                     const Eigen::Ref<const Vector<double>>& x,
                                     double relative_epsilon, const RunControl& control) {
  check_data_eigenvalues(data_eigenvalues, d);
  const Index v = data_eigenvalues.size();
  require(target_power.size() == v, "target_power", "expected one value per data eigenvalue");
  require(relative_epsilon > 0.0 && relative_epsilon < 1.0, "relative_epsilon",
          "must be in (0, 1)");
  for (Index i = 0; i < x.size(); ++i)
    require(std::isfinite(x[i]) && x[i] > 0.0, "x", "entries must be finite and > 0");
  Vector<Complex> z(x.size());
  for (Index i = 0; i < x.size(); ++i) z[i] = Complex(x[i], relative_epsilon * x[i]);
  const Vector<Complex> m = resolvent_m(data_eigenvalues, d, z, control);
  const MEquation eq{data_eigenvalues.data(), v, 1.0 / double(d)};
  SpectralDensities out;
  out.eigenvalue.resize(x.size());
  out.forcing.resize(x.size());
  out.kernel.resize(x.size());
  const double inv_pi = 1.0 / kPi;
#pragma omp parallel for num_threads(control.threads()) schedule(static)
  for (Index i = 0; i < x.size(); ++i) {
    const Complex forcing = forcing_transform(eq, target_power.data(), m[i], z[i]);
    out.eigenvalue[i] = inv_pi * (-double(d) * m[i] / z[i]).imag();
    out.forcing[i] = inv_pi * forcing.imag();
    out.kernel[i] = inv_pi * (z[i] * double(d) * (1.0 - m[i])).imag();
  }
  return out;
}

SgdSpectrum<Complex> deterministic_spectrum(const Eigen::Ref<const Vector<double>>& data_eigenvalues,
                                            const Eigen::Ref<const Vector<double>>& target_power,
                                            Index d, const ContourOptions& options,
                                            const RunControl& control) {
  check_data_eigenvalues(data_eigenvalues, d);
  const Index v = data_eigenvalues.size();
  require(v > d, "d", "the deterministic equivalent needs v > d (got v = " + std::to_string(v) +
                          ", d = " + std::to_string(d) + ")");
  require(target_power.size() == v, "target_power", "expected one value per data eigenvalue");
  for (Index j = 0; j < v; ++j)
    require(std::isfinite(target_power[j]) && target_power[j] >= 0.0, "target_power",
            "entries must be finite and >= 0");
  require(options.slope > 0.0 && options.slope <= 1.0, "slope", "must be in (0, 1]");
  require(options.nodes_per_panel >= 2 && options.nodes_per_panel <= 64, "nodes_per_panel",
          "must be in [2, 64]");
  require(options.lower_factor > 0.0 && options.lower_factor < 1.0, "lower_factor",
          "must be in (0, 1)");

  const LimitLevel f0 = limit_level(data_eigenvalues, target_power, d);
  const double total_power = target_power.sum();
  const double trace = data_eigenvalues.sum();
  const MEquation eq{data_eigenvalues.data(), v, 1.0 / double(d)};
  const double scale = spectrum_scale(data_eigenvalues, d);
  const double eta = options.slope;
  const int q = options.nodes_per_panel;

  std::vector<double> gl_x, gl_w;
  gauss_legendre(q, gl_x, gl_w);

  // Top of the contour: just beyond the upper edge of the spectrum, so that |g(z)| < 1 on the
  // contour for every stable learning rate; grown if the quadrature then misses target power.
  const double bottom = options.lower_factor * f0.c;
  double top = 1.1 * spectrum_upper_edge(eq, scale, trace, control);
  for (int attempt = 0; attempt < 6; ++attempt, top *= 1.25) {
    // Nodes and dz weights of: the wedge's apex segment [0, bottom (1 + i eta)], the wedge
    // z = e^u (1 + i eta) for u in [log bottom, log top], and the closing segment from
    // top (1 + i eta) down to top on the real axis.
    std::vector<Complex> nodes, weights;
    const Complex tilt(1.0, eta);
    for (int i = 0; i < q; ++i) {
      const double t = 0.5 * (gl_x[i] + 1.0);
      nodes.push_back(t * bottom * tilt);
      weights.push_back(0.5 * gl_w[i] * bottom * tilt);
    }
    const Index apex_count = q;
    const double u0 = std::log(bottom), u1 = std::log(top);
    const Index n_panels = std::max<Index>(1, static_cast<Index>(std::ceil((u1 - u0) / eta)));
    const double width = (u1 - u0) / double(n_panels);
    for (Index p = 0; p < n_panels; ++p)
      for (int i = 0; i < q; ++i) {
        const double u = u0 + width * (double(p) + 0.5 * (gl_x[i] + 1.0));
        const Complex z = std::exp(u) * tilt;
        nodes.push_back(z);
        weights.push_back(0.5 * width * gl_w[i] * z);
      }
    const Index wedge_end = static_cast<Index>(nodes.size());
    for (int i = 0; i < q; ++i) {
      const double tau = 0.5 * eta * (gl_x[i] + 1.0);
      nodes.push_back(Complex(top, top * tau));
      weights.push_back(Complex(0.0, -0.5 * eta * gl_w[i] * top));  // downwards: dz = -i top dtau
    }
    const Index n_nodes = static_cast<Index>(nodes.size());
    std::vector<Complex> m(n_nodes);

    // The wedge is solved in fixed chunks of consecutive nodes (largest x first): the chunk's
    // first node by continuation in Im z, the rest by continuation along the wedge. The chunking
    // does not depend on the thread count.
    constexpr Index kChunk = 64;
    const Index wedge_count = wedge_end - apex_count;
    const Index n_chunks = (wedge_count + kChunk - 1) / kChunk;
    parallel_for_collect(0, n_chunks + 2 * q, control.threads(), [&](Index c) {
      if (c < n_chunks) {
        const Index hi = wedge_end - 1 - c * kChunk;
        const Index lo = std::max(apex_count, hi - kChunk + 1);
        Complex mm = solve_m_from_above(eq, scale, nodes[hi]);
        m[hi] = mm;
        for (Index i = hi - 1; i >= lo; --i) {
          if (!continue_m(eq, nodes[i + 1], nodes[i], mm))
            throw LinAlgError("deterministic_spectrum: continuation along the contour failed");
          m[i] = mm;
        }
      } else {
        const Index k = c - n_chunks;
        const Index i = k < q ? k : wedge_end + (k - q);
        m[i] = solve_m_from_above(eq, scale, nodes[i]);
      }
    });
    control.poll();

    // Atoms: (1/pi) Im of the contour integral = Re of (-i/pi) dz G(z).
    SgdSpectrum<Complex> out;
    out.eigenvalues.resize(n_nodes);
    out.forcing.resize(n_nodes);
    out.kernel.resize(n_nodes);
    out.limit_level = f0.level;
    const Complex minus_i_over_pi(0.0, -1.0 / kPi);
#pragma omp parallel for num_threads(control.threads()) schedule(static)
    for (Index i = 0; i < n_nodes; ++i) {
      const Complex z = nodes[i];
      // Remove the atom of mass F_0 at z = 0.
      const Complex forcing = forcing_transform(eq, target_power.data(), m[i], z) + f0.level / z;
      const Complex kernel = z * double(d) * (1.0 - m[i]);
      out.eigenvalues[i] = z;
      out.forcing[i] = minus_i_over_pi * weights[i] * forcing;
      out.kernel[i] = minus_i_over_pi * weights[i] * kernel;
    }
    double captured = f0.level;
    for (Index i = 0; i < n_nodes; ++i) captured += out.forcing[i].real();
    if (std::abs(captured - total_power) <= 1e-6 * total_power) return out;
  }
  throw LinAlgError(
      "deterministic_spectrum: the contour quadrature does not reproduce the target power; "
      "increase nodes_per_panel or decrease slope");
}

// ---- explicit instantiations ------------------------------------------------------------

template Vector<double> risk_curve<double>(const SgdSpectrum<double>&, const StepSchedule&, Index,
                                           double, const std::vector<std::int64_t>&,
                                           const RecursionOptions&, const RunControl&);
template Vector<double> risk_curve<Complex>(const SgdSpectrum<Complex>&, const StepSchedule&, Index,
                                            double, const std::vector<std::int64_t>&,
                                            const RecursionOptions&, const RunControl&);
template VolterraFunctions volterra_functions<double>(const SgdSpectrum<double>&, double, Index,
                                                      Index, const RunControl&);
template VolterraFunctions volterra_functions<Complex>(const SgdSpectrum<Complex>&, double, Index,
                                                       Index, const RunControl&);
template double kernel_norm<double>(const SgdSpectrum<double>&, double, Index);
template double kernel_norm<Complex>(const SgdSpectrum<Complex>&, double, Index);
template double risk_limit<double>(const SgdSpectrum<double>&, double, Index, double);
template double risk_limit<Complex>(const SgdSpectrum<Complex>&, double, Index, double);

}  // namespace scalinglab::volterra
