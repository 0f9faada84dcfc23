/// \file latent.cpp
/// Latent power-law samples and the streamed moments of random features on them (latent.hpp).
#include "scalinglab/latent.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "scalinglab/blas.hpp"
#include "scalinglab/errors.hpp"
#include "scalinglab/features.hpp"
#include "scalinglab/random.hpp"

namespace scalinglab::latent {
namespace {

// random::fill_normal's last bits can depend on where a fill starts (see features.cpp), so
// numbers are always produced in the same aligned runs of kRun counters: the value at a counter
// is then bit-identical whatever block, sample range or thread asks for it.
constexpr std::uint64_t kRun = 1024;

/// out[i] = normal number (first + i) of (seed, stream), i < count, from aligned runs.
/// \param run scratch of kRun doubles
void fill_normal_aligned(std::uint64_t seed, std::uint64_t stream, std::uint64_t first,
                         std::uint64_t count, double* out, double* run) {
  const std::uint64_t last = first + count;
  for (std::uint64_t run_start = first / kRun * kRun; run_start < last; run_start += kRun) {
    const std::uint64_t lo = std::max(first, run_start);
    const std::uint64_t hi = std::min(last, run_start + kRun);
    random::fill_normal(seed, stream, run_start, run, kRun);
    std::copy(run + (lo - run_start), run + (hi - run_start), out + (lo - first));
  }
}

void check_std_devs(const Vector<double>& std_devs) {
  require(std_devs.size() >= 1, "std_devs", "expected at least one latent coordinate");
  require((std_devs.array() > 0).all() && std_devs.allFinite(), "std_devs",
          "every sqrt(lambda_I) must be finite and > 0");
}

/// Rows of `out` (n, b): row r is coordinates [first_coord, first_coord + b) of row r of a
/// Philox matrix with `width` columns (row_of(r) gives its stream, key and row index), scaled
/// column-wise by `scale` (b values) when given.
template <class RowOf>
void fill_block(RowMatrix<double>& out, Index rows, std::uint64_t width, std::uint64_t first_coord,
                Index b, const double* scale, int threads, RowOf row_of) {
  out.resize(rows, b);
#pragma omp parallel num_threads(threads)
  {
    double run[kRun];
#pragma omp for schedule(static)
    for (Index r = 0; r < rows; ++r) {
      std::uint64_t seed, stream, row;
      row_of(r, seed, stream, row);
      double* dst = out.data() + r * b;
      fill_normal_aligned(seed, stream, row * width + first_coord, static_cast<std::uint64_t>(b),
                          dst, run);
      if (scale != nullptr)
        for (Index c = 0; c < b; ++c) dst[c] *= scale[c];
    }
  }
}

}  // namespace

RowMatrix<double> samples(std::uint64_t seed, std::uint64_t stream, const Vector<double>& std_devs,
                          std::uint64_t start, std::uint64_t stop, const RunControl& control) {
  check_std_devs(std_devs);
  require(start <= stop, "stop", "expected start <= stop, got [" + std::to_string(start) + ", " +
                                     std::to_string(stop) + ")");
  const Index M = std_devs.size();
  const Index rows = static_cast<Index>(stop - start);
  RowMatrix<double> out;
  fill_block(out, rows, static_cast<std::uint64_t>(M), 0, M, std_devs.data(), control.threads(),
             [&](Index r, std::uint64_t& s, std::uint64_t& st, std::uint64_t& row) {
               s = seed;
               st = stream;
               row = start + static_cast<std::uint64_t>(r);
             });
  control.poll();
  return out;
}

Moments moments(std::uint64_t data_seed, const Vector<double>& std_devs,
                const Vector<double>& teacher_power, Index n_train, Index n_test,
                std::uint64_t feature_seed, Index n_features, Index block_size,
                const RunControl& control) {
  check_std_devs(std_devs);
  require(teacher_power.size() == std_devs.size(), "teacher_power",
          "expected one value per latent coordinate (" + std::to_string(std_devs.size()) + "), got " +
              std::to_string(teacher_power.size()));
  require((teacher_power.array() >= 0).all() && teacher_power.allFinite(), "teacher_power",
          "every E w_I^2 must be finite and >= 0");
  require(n_train >= 0 && n_test >= 0 && n_train + n_test >= 1, "n_train",
          "expected n_train, n_test >= 0 with at least one sample");
  require(n_features >= 1, "n_features", "must be >= 1, got " + std::to_string(n_features));
  require(block_size >= 0, "block_size", "must be >= 0 (0 = automatic)");
  const Index M = std_devs.size();
  const Index n = n_train + n_test;
  const Index N = n_features;
  const int threads = control.threads();
  if (block_size == 0) {
    // About 64 MiB of blocks (X and its two scaled copies, W and W sqrt(Lambda)), within [128, 1024] coordinates.
    block_size = std::clamp<Index>((Index{64} << 20) / (8 * (3 * n + 2 * N)), 128, 1024);
  }
  block_size = std::min(block_size, M);

  Moments out;
  out.preactivations.setZero(n, N);
  out.teacher_cross.setZero(n, N);
  out.teacher_gram.setZero(n, n);
  out.feature_covariance.setZero(N, N);
  // X T Lambda (for the cross moment) and X sqrt(T) (for the Gram) per block.
  const Vector<double> lambda_power = (std_devs.array().square() * teacher_power.array()).matrix();
  const Vector<double> sqrt_power = teacher_power.array().sqrt().matrix();
  const auto width = static_cast<std::uint64_t>(M);

  RowMatrix<double> X, XL, XS, W, WS;
  BlasThreadScope blas_threads(threads);
  BlasOnOpenMPScope blas_on_openmp;
  const Index n_blocks = (M + block_size - 1) / block_size;
  for (Index blk = 0; blk < n_blocks; ++blk) {
    control.poll();
    const Index I0 = blk * block_size;
    const Index b = std::min(block_size, M - I0);
    const auto first = static_cast<std::uint64_t>(I0);
    fill_block(X, n, width, first, b, std_devs.data() + I0, threads,
               [&](Index r, std::uint64_t& s, std::uint64_t& st, std::uint64_t& row) {
                 s = data_seed;
                 const bool train = r < n_train;
                 st = train ? random::kStreamLatentData : random::kStreamLatentTest;
                 row = static_cast<std::uint64_t>(train ? r : r - n_train);
               });
    fill_block(W, N, width, first, b, nullptr, threads,
               [&](Index r, std::uint64_t& s, std::uint64_t& st, std::uint64_t& row) {
                 s = feature_seed;
                 st = random::kStreamFeatureWeights;
                 row = static_cast<std::uint64_t>(r);
               });
    XL = X * lambda_power.segment(I0, b).asDiagonal();
    XS = X * sqrt_power.segment(I0, b).asDiagonal();
    WS = W * std_devs.segment(I0, b).asDiagonal();
    // No BLAS inside OpenMP regions: the fills above are done before these calls.
    blas::gemm_rowmajor(false, true, 1.0, X, W, 1.0, out.preactivations);
    blas::gemm_rowmajor(false, true, 1.0, XL, W, 1.0, out.teacher_cross);
    blas::syrk_rowmajor_upper(1.0, XS, 1.0, out.teacher_gram);
    blas::syrk_rowmajor_upper(1.0, WS, 1.0, out.feature_covariance);
    control.progress(static_cast<double>(blk + 1) / static_cast<double>(n_blocks));
  }
  control.poll();
  blas::symmetrize_from_upper(out.teacher_gram);
  blas::symmetrize_from_upper(out.feature_covariance);
  // u = W / sqrt(M): pre-activations u . x, X T Lambda u^T and u Lambda u^T.
  const double inv_sqrt_m = 1.0 / std::sqrt(static_cast<double>(M));
  out.preactivations *= inv_sqrt_m;
  out.teacher_cross *= inv_sqrt_m;
  out.feature_covariance *= 1.0 / static_cast<double>(M);
  return out;
}

}  // namespace scalinglab::latent
