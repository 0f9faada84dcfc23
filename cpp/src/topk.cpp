/// \file topk.cpp
/// Randomized block subspace iteration with Rayleigh-Ritz for the top eigenpairs of a streamed
/// random-feature Gram (see topk.hpp).
#include "scalinglab/topk.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "scalinglab/blas.hpp"
#include "scalinglab/errors.hpp"
#include "scalinglab/random.hpp"

namespace scalinglab {
namespace {

// Columns of the residual block formed at a time: keeps the extra memory at O(P * 64).
constexpr Index kResidualChunk = 64;

/// W = K Q = sum_B Phi_B (Phi_B^T Q) / N over feature blocks of width `block`.
/// Q, W are (P, b) column-major; a row-major (P, B) feature block is, read column-major, the
/// (B, P) matrix Phi_B^T, so both products are plain column-major gemms with no transposition copy.
void gram_times_block(const RandomFeatureMap& map, ConstRowRef<double> X, const ColMatrix<double>& Q,
                      ColMatrix<double>& W, Index block, RowMatrix<double>& features,
                      ColMatrix<double>& projected, const RunControl& control, double done,
                      double total) {
  const int threads = control.threads();
  const Index P = X.rows(), b = Q.cols();
  const auto N = static_cast<Index>(map.n_features());
  W.setZero(P, b);
  RowMatrix<double> weights;
  Vector<double> phases;
  for (Index start = 0; start < N; start += block) {
    control.poll();
    const Index width = std::min(block, N - start);
    const auto first = static_cast<std::uint64_t>(start);
    map.weights<double>(first, first + static_cast<std::uint64_t>(width), weights, threads);
    map.phases<double>(first, first + static_cast<std::uint64_t>(width), phases);
    features.resize(P, width);
    map.features_from_weights<double>(X, weights, phases, features, threads);
    projected.resize(width, b);
    const int iw = static_cast<int>(width), ip = static_cast<int>(P), ib = static_cast<int>(b);
    // projected (B, b) = Phi_B^T Q
    blas::gemm('N', 'N', iw, ib, ip, 1.0, features.data(), iw, Q.data(), ip, 0.0,
               projected.data(), iw);
    // W (P, b) += Phi_B projected / N
    blas::gemm('T', 'N', ip, ib, iw, 1.0 / static_cast<double>(N), features.data(), iw,
               projected.data(), iw, 1.0, W.data(), ip);
    control.progress((done + static_cast<double>(start + width) / static_cast<double>(N)) / total);
  }
}

}  // namespace

const char* topk_status_name(TopKStatus status) {
  return status == TopKStatus::kConverged ? "converged" : "max_iterations";
}

TopKResult feature_gram_topk(const RandomFeatureMap& map, ConstRowRef<double> X,
                             const TopKOptions& options, const RunControl& control) {
  require(X.cols() == map.d(), "X",
          "expected " + std::to_string(map.d()) + " columns, got " + std::to_string(X.cols()));
  const Index P = X.rows();
  require(P >= 1, "X", "expected at least one row");
  require(options.k >= 1 && options.k <= P, "k",
          "must be in [1, P = " + std::to_string(P) + "], got " + std::to_string(options.k));
  require(options.oversample >= -1, "oversample", "must be >= 0 (or -1 for automatic)");
  require(options.max_iterations >= 1, "max_iterations", "must be >= 1");
  require(std::isfinite(options.tol) && options.tol > 0, "tol", "must be finite and > 0");
  require(options.block_size >= 0, "block_size", "must be >= 0 (0 = automatic)");
  const Index k = options.k;
  const Index extra = options.oversample >= 0 ? options.oversample : std::max<Index>(16, k / 4);
  const Index b = std::min(P, k + extra);
  const Index block = std::min<Index>(
      static_cast<Index>(map.n_features()),
      options.block_size > 0 ? options.block_size : default_block_size(P, map.d(), sizeof(double)));

  const int threads = control.threads();
  BlasThreadScope blas_threads(threads);
  BlasOnOpenMPScope blas_on_openmp;

  // Start block: entry (i, j) is normal number j * P + i of (seed, kStreamTopK).
  ColMatrix<double> Q(P, b), W(P, b), residual_block;
  random::fill_normal(options.seed, random::kStreamTopK, 0, Q.data(),
                      static_cast<std::size_t>(P * b));
  blas::orthonormalize_columns(Q);

  RowMatrix<double> features;
  ColMatrix<double> projected, H, S;
  Vector<double> theta_ascending;
  TopKResult result;
  result.block = b;
  const double total = static_cast<double>(options.max_iterations);
  Vector<double> theta(b), residuals(k);
  for (int iteration = 0; iteration < options.max_iterations; ++iteration) {
    gram_times_block(map, X, Q, W, block, features, projected, control, iteration, total);
    result.iterations = iteration + 1;
    // Rayleigh-Ritz: H = Q^T W (b x b), symmetrised (it is symmetric up to rounding).
    H.resize(b, b);
    const int ip = static_cast<int>(P), ib = static_cast<int>(b);
    blas::gemm('T', 'N', ib, ib, ip, 1.0, Q.data(), ip, W.data(), ip, 0.0, H.data(), ib);
    H = (0.5 * (H + H.transpose())).eval();
    blas::syevd(H, theta_ascending, true);
    // Descending order: theta_i and s_i = column b - 1 - i of H.
    S.resize(b, k);
    for (Index i = 0; i < k; ++i) {
      theta(i) = theta_ascending(b - 1 - i);
      S.col(i) = H.col(b - 1 - i);
    }
    // r_i = |W s_i - theta_i Q s_i|, in chunks of columns.
    for (Index c0 = 0; c0 < k; c0 += kResidualChunk) {
      const Index cols = std::min(kResidualChunk, k - c0);
      const int ic = static_cast<int>(cols);
      residual_block.resize(P, cols);
      blas::gemm('N', 'N', ip, ic, ib, 1.0, Q.data(), ip, S.data() + c0 * b, ib, 0.0,
                 residual_block.data(), ip);
      for (Index c = 0; c < cols; ++c) residual_block.col(c) *= -theta(c0 + c);
      blas::gemm('N', 'N', ip, ic, ib, 1.0, W.data(), ip, S.data() + c0 * b, ib, 1.0,
                 residual_block.data(), ip);
      for (Index c = 0; c < cols; ++c) residuals(c0 + c) = residual_block.col(c).norm();
    }
    // Relative to theta_i, with a floor at 1e-8 theta_1 so that a rank-deficient K (exact
    // zero eigenvalues, known only to rounding) can converge too.
    const double floor = 1e-8 * std::max(theta(0), 0.0);
    Index converged = 0;
    for (Index i = 0; i < k; ++i)
      if (residuals(i) <= options.tol * std::max(std::abs(theta(i)), floor)) ++converged;
    result.n_converged = converged;
    const bool done = converged == k;
    if (done || iteration + 1 == options.max_iterations) {
      result.status = done ? TopKStatus::kConverged : TopKStatus::kMaxIterations;
      result.eigenvalues = theta.head(k);
      result.residuals = residuals;
      if (options.vectors) {
        result.vectors.resize(P, k);
        blas::gemm('N', 'N', ip, static_cast<int>(k), ib, 1.0, Q.data(), ip, S.data(), ib, 0.0,
                   result.vectors.data(), ip);
      }
      break;
    }
    // Next block: an orthonormal basis of span(K Q), built in W's memory.
    std::swap(Q, W);
    blas::orthonormalize_columns(Q);
  }
  control.progress(1.0);
  return result;
}

}  // namespace scalinglab
