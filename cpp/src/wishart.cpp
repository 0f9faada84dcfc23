/// \file wishart.cpp
/// Bartlett sampling of Wishart matrices and the chi-square variates it needs.
#include "scalinglab/wishart.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "scalinglab/blas.hpp"
#include "scalinglab/errors.hpp"
#include "scalinglab/random.hpp"

namespace scalinglab::wishart {
namespace {

// The uniforms of the rejection loop use a sub-stream of kStreamWishart so that they never share
// Philox words with the normals of the same key.
constexpr std::uint64_t kUniformSubstream =
    random::kStreamWishart | (std::uint64_t{1} << 32);

double normal_at(std::uint64_t key, std::uint64_t counter) {
  double z;
  random::fill_normal(key, random::kStreamWishart, counter, &z, 1);
  return z;
}

double uniform_at(std::uint64_t key, std::uint64_t counter) {
  double u;
  random::fill_uniform(key, kUniformSubstream, counter, &u, 1);
  return u;
}

// Gamma(shape >= 1, 1) by Marsaglia-Tsang; attempt k uses normal k and uniform k of `key`. The
// acceptance rate is above 95% for shape >= 1, so the loop ends after ~1 attempt.
double gamma_at_least_one(std::uint64_t key, double shape, std::uint64_t& attempt) {
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;; ++attempt) {
    const double x = normal_at(key, attempt);
    double v = 1.0 + c * x;
    if (v <= 0.0) continue;
    v = v * v * v;
    const double u = uniform_at(key, attempt);
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) {
      ++attempt;
      return d * v;
    }
  }
}

}  // namespace

double chi_square(std::uint64_t seed, std::uint64_t index, double dof) {
  require(std::isfinite(dof) && dof > 0.0, "dof", "must be > 0, got " + std::to_string(dof));
  const std::uint64_t key = random::derive_seed(seed, index);
  const double shape = 0.5 * dof;
  std::uint64_t attempt = 0;
  if (shape >= 1.0) return 2.0 * gamma_at_least_one(key, shape, attempt);
  // Gamma(a) = Gamma(a + 1) U^(1/a) for a < 1 (Marsaglia & Tsang, section 6). The boosting
  // uniform takes a counter far from those of the loop.
  const double boosted = gamma_at_least_one(key, shape + 1.0, attempt);
  const double u = uniform_at(key, std::uint64_t{1} << 62);
  return 2.0 * boosted * std::pow(u, 1.0 / shape);
}

Vector<double> chi_square_variates(std::uint64_t seed, double dof, Index count) {
  require(count >= 0, "count", "must be >= 0, got " + std::to_string(count));
  Vector<double> out(count);
  for (Index i = 0; i < count; ++i) out[i] = chi_square(seed, static_cast<std::uint64_t>(i), dof);
  return out;
}

ColMatrix<double> bartlett_factor(std::uint64_t seed, Index M, Index n) {
  require(M >= 1, "M", "must be >= 1, got " + std::to_string(M));
  require(n >= M, "n", "the Bartlett factor needs n >= M (got n = " + std::to_string(n) +
                           ", M = " + std::to_string(M) + "); use sample_wishart for n < M");
  ColMatrix<double> L = ColMatrix<double>::Zero(M, M);
  // Off-diagonal entry (i, j), i > j, is normal number i (i - 1) / 2 + j: row i is one
  // contiguous fill, independent of M.
  Vector<double> row(M);
  for (Index i = 1; i < M; ++i) {
    random::fill_normal(seed, random::kStreamWishart,
                        static_cast<std::uint64_t>(i) * static_cast<std::uint64_t>(i - 1) / 2,
                        row.data(), static_cast<std::size_t>(i));
    for (Index j = 0; j < i; ++j) L(i, j) = row[j];
  }
  for (Index i = 0; i < M; ++i)
    L(i, i) = std::sqrt(chi_square(seed, static_cast<std::uint64_t>(i),
                                   static_cast<double>(n - i)));
  return L;
}

RowMatrix<double> gaussian_rows(std::uint64_t seed, Index n, Index M, const RunControl& control) {
  require(n >= 0, "n", "must be >= 0, got " + std::to_string(n));
  require(M >= 1, "M", "must be >= 1, got " + std::to_string(M));
  RowMatrix<double> G(n, M);
  // Below ~1e6 numbers a second thread costs more than it saves.
  const int threads = static_cast<double>(n) * static_cast<double>(M) < 1e6 ? 1 : control.threads();
#pragma omp parallel for num_threads(threads) schedule(static)
  for (Index j = 0; j < n; ++j)
    random::fill_normal(seed, random::kStreamWishart,
                        static_cast<std::uint64_t>(j) * static_cast<std::uint64_t>(M),
                        G.row(j).data(), static_cast<std::size_t>(M));
  return G;
}

ColMatrix<double> sample_wishart(std::uint64_t seed, Index M, Index n, const RunControl& control) {
  require(M >= 1, "M", "must be >= 1, got " + std::to_string(M));
  require(n >= 1, "n", "must be >= 1, got " + std::to_string(n));
  // Small products run on one thread (see dynamics.cpp, threads_for).
  const double flops = static_cast<double>(M) * static_cast<double>(M) * static_cast<double>(std::min(n, M));
  BlasThreadScope blas_threads(flops < 2e8 ? 1 : control.n_threads);
  ColMatrix<double> W(M, M);
  const int m = static_cast<int>(M);
  if (n >= M) {
    const ColMatrix<double> L = bartlett_factor(seed, M, n);
    blas::syrk('L', 'N', m, m, 1.0, L.data(), m, 0.0, W.data(), m);  // W = L L^T
  } else {
    const RowMatrix<double> G = gaussian_rows(seed, n, M, control);
    // Row-major G (n x M) is column-major G^T (M x n): W = G^T G = (G^T)(G^T)^T.
    blas::syrk('L', 'N', m, static_cast<int>(n), 1.0, G.data(), m, 0.0, W.data(), m);
  }
  for (Index j = 0; j < M; ++j)
    for (Index i = 0; i < j; ++i) W(i, j) = W(j, i);
  return W;
}

}  // namespace scalinglab::wishart
