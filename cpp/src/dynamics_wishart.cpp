/// \file dynamics_wishart.cpp
/// The Wishart engine: GF/GD on a nested (N, P) grid from the covariance statistics of nested
/// datasets and the projection factors of nested widths, sampled with a cost independent of N
/// and P (wishart.hpp). See dynamics.hpp for the conventions.
#include <cmath>
#include <vector>

#include "dynamics_internal.hpp"
#include "scalinglab/blas.hpp"
#include "scalinglab/random.hpp"
#include "scalinglab/wishart.hpp"

namespace scalinglab::dynamics::detail {
namespace {

// Key salt of the data-side Wishart increments.
constexpr std::uint64_t kDataWishartSalt = 0xDA7A5157ull;

// Augmented data Gram [Z, xi]^T [Z, xi] with Z (P, M) and xi (P) i.i.d. N(0, 1): its blocks are
// Z^T Z, Z^T xi and xi^T xi, which is everything the training set contributes (Psi = Z
// Lambda^{1/2}, eps = sigma xi). Nested sizes add independent Wishart increments.
std::vector<CovarianceStats> wishart_data_stats(const LinearTask& task,
                                                const std::vector<Index>& P_values,
                                                std::uint64_t key, const RunControl& control) {
  const Index M = task.M();
  const Index Ma = M + 1;
  const Vector<double> root = task.spectrum.array().sqrt();
  const double sigma = std::sqrt(task.noise);
  const std::uint64_t data_key = random::derive_seed(key, kDataWishartSalt);
  std::vector<CovarianceStats> out;
  ColMatrix<double> W = ColMatrix<double>::Zero(Ma, Ma);
  Index accumulated = 0;
  for (std::size_t j = 0; j < P_values.size(); ++j) {
    const Index P = P_values[j];
    if (P == kInfinite) {
      out.push_back(population_stats(task));
      continue;
    }
    W += wishart::sample_wishart(random::derive_seed(data_key, j), Ma, P - accumulated, control);
    accumulated = P;
    CovarianceStats stats;
    stats.sigma = root.asDiagonal() * W.topLeftCorner(M, M) * root.asDiagonal();
    stats.sigma /= static_cast<double>(P);
    stats.q = (sigma / static_cast<double>(P)) * root.cwiseProduct(W.col(M).head(M));
    stats.e2 = task.noise * W(M, M) / static_cast<double>(P);
    out.push_back(std::move(stats));
    control.poll();
  }
  return out;
}

// The factor C^T (rows, M) of B = A^T A (unscaled) for nested widths of one ensemble member:
// explicit Gaussian rows while N < M (B is singular there), then the Cholesky factor of the
// accumulated Wishart matrix (Bartlett for the first full-rank increment).
class WishartProjection {
 public:
  WishartProjection(std::uint64_t key, Index M) : key_(key), M_(M) {}

  // C^T for width N (> the previous call's N). Row-major (rows, M), rows = min(N, M).
  const RowMatrix<double>& factor(Index N, const RunControl& control) {
    BlasThreadScope blas_threads(threads_for(control, cube(M_)));
    const int m = to_int(M_);
    if (N < M_) {
      factor_ = wishart::gaussian_rows(key_, N, M_, control);
    } else if (accumulated_ == 0) {
      const ColMatrix<double> L =
          wishart::bartlett_factor(random::derive_seed(key_, increment_), M_, N);
      factor_ = Eigen::Map<const RowMatrix<double>>(L.data(), M_, M_);  // L^T row-major = C^T
    } else {
      if (!have_gram_) {
        // A^T A of what was drawn so far, from its factor: row-major C^T (k, M) is column-major
        // C (M, k), and C C^T = A^T A (explicit rows G: G^T G; Bartlett L: L L^T).
        W_.resize(M_, M_);
        blas::syrk('L', 'N', m, to_int(factor_.rows()), 1.0, factor_.data(), m, 0.0, W_.data(), m);
        have_gram_ = true;
      }
      const ColMatrix<double> increment = wishart::sample_wishart(
          random::derive_seed(key_, increment_), M_, N - accumulated_, control);
      W_.triangularView<Eigen::Lower>() += increment;
      factor_ = cholesky_factor_t(W_, control);
    }
    accumulated_ = N;
    ++increment_;
    return factor_;
  }

 private:
  std::uint64_t key_;
  Index M_;
  Index accumulated_ = 0;
  std::uint64_t increment_ = 0;
  bool have_gram_ = false;
  ColMatrix<double> W_;        // accumulated A^T A once needed (lower triangle valid)
  RowMatrix<double> factor_;   // C^T
};

}  // namespace

void nested_wishart(const LinearTask& task, const GridSpec& grid, std::uint64_t key,
                    Eigen::Ref<RowMatrix<double>> test, Eigen::Ref<RowMatrix<double>> train,
                    const RunControl& control) {
  const Index M = task.M();
  const Index E = grid.ensemble;
  const Index nP = static_cast<Index>(grid.P.size());
  const Index n_points = static_cast<Index>(grid.N.size()) * nP;
  const std::vector<CovarianceStats> stats = wishart_data_stats(task, grid.P, key, control);
  std::vector<WishartProjection> projections;
  for (Index e = 0; e < E; ++e)
    projections.emplace_back(random::derive_seed(random::derive_seed(key, e), random::kStreamWishart), M);
  std::vector<RowMatrix<double>> factors(static_cast<std::size_t>(E));

  Index done = 0;
  for (std::size_t i = 0; i < grid.N.size(); ++i) {
    const Index N = grid.N[i];
    const bool infinite_width = N == kInfinite;
    if (!infinite_width)
      for (Index e = 0; e < E; ++e) factors[e] = projections[e].factor(N, control);
    const double scale = infinite_width ? 1.0 : 1.0 / std::sqrt(static_cast<double>(N));
    const Index members_needed = infinite_width ? 1 : E;
    for (std::size_t j = 0; j < grid.P.size(); ++j) {
      std::vector<SpectralSolution> members;
      for (Index e = 0; e < members_needed; ++e)
        members.push_back(solve_from_covariance(
            infinite_width ? Projection::identity() : Projection(factors[e], scale), stats[j],
            task.target, control));
      const Index row = static_cast<Index>(i) * nP + static_cast<Index>(j);
      evaluate_losses(members, task, grid.times, grid.schedule, nullptr, &stats[j],
                      test.row(row).data(), train.row(row).data(), control);
      control.poll();
      control.progress(static_cast<double>(++done) / static_cast<double>(n_points));
    }
  }
}

}  // namespace scalinglab::dynamics::detail
