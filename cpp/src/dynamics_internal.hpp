#pragma once
/// \file dynamics_internal.hpp
/// Private to the dynamics engines (cpp/src/dynamics*.cpp), not installed: the thread-count
/// rules, the shared spectral helpers and the argument checks used by more than one engine,
/// and the engine entry points that dynamics.cpp dispatches to.
///
///   dynamics.cpp           public entry points: checks, dispatch, independent grid points,
///                          the data and projection draws
///   dynamics_spectral.cpp  the GF/GD solution in an eigenbasis and the losses at every t
///                          (solve_from_features, solve_from_covariance, evaluate_losses)
///   dynamics_explicit.cpp  nested (N, P) grids from explicit draws of A and Psi
///   dynamics_wishart.cpp   nested (N, P) grids from Wishart draws (cost independent of N, P)
///   dynamics_sgd.cpp       minibatch SGD by iteration
///   dynamics_kernel.cpp    kernel GF/GD with a precomputed Gram
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "scalinglab/dynamics.hpp"

namespace scalinglab::dynamics::detail {

inline constexpr double kEps = std::numeric_limits<double>::epsilon();
// Times evaluated per GEMM in evaluate_losses (bounds the (M, chunk) work matrices).
inline constexpr Index kTimeChunk = 64;

inline int to_int(Index value) { return static_cast<int>(value); }

// Threads for a piece of BLAS work of about `flops` floating-point operations. An explicit
// n_threads > 0 is honoured; automatic (0) keeps work below ~2e8 flops (a few tens of ms on
// one core) on one thread, where thread start-up and synchronisation cost more than they save.
// Symmetric eigendecompositions follow eigen_threads (parallel.hpp): explicit counts honoured,
// automatic from a per-machine calibrated dimension. The thread count never changes which
// random numbers are drawn.
inline constexpr double kParallelWork = 2e8;
inline int threads_for(const RunControl& control, double flops) {
  if (control.n_threads != 0) return control.n_threads;
  return flops < kParallelWork ? 1 : control.n_threads;
}
inline int omp_threads_for(const RunControl& control, double count) {
  return count < kParallelWork / 100.0 ? 1 : control.threads();
}
inline double cube(Index n) {
  return static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
}

inline Index finite_max(const std::vector<Index>& values) {
  Index out = 0;
  for (Index v : values)
    if (v != kInfinite) out = std::max(out, v);
  return out;
}

// ---- dynamics_spectral.cpp -------------------------------------------------------------------

// Symmetric eigendecomposition with its own thread count (eigen_threads, parallel.hpp: an
// explicit n_threads honoured, automatic from the per-machine calibrated dimension): LAPACK's
// many small internal BLAS calls are where oversubscribed threads hurt most.
void eigen_decompose(ColMatrix<double>& K, Vector<double>& mu, const RunControl& control);

// Eigenvalues below this are indistinguishable from 0 in double precision (syevd's absolute
// error is O(eps ||K||) per eigenvalue, times a modest factor in the dimension): such modes are
// treated as null, i.e. they never move.
double null_threshold(const Vector<double>& mu);

// C^T (M, M) row-major with C C^T = W (lower triangle of W read): the Cholesky factor, or the
// eigen factor diag(sqrt(d)) Q^T if W is numerically singular.
RowMatrix<double> cholesky_factor_t(const ColMatrix<double>& W, const RunControl& control);

// The diagonal statistics of an infinite dataset: Sigma = Lambda, q = 0, e2 = sigma^2.
CovarianceStats population_stats(const LinearTask& task);

// ---- dynamics.cpp: checks shared by the engines ------------------------------------------------

// The (test, train) outputs of a grid engine: one row per grid point, one column per time.
void check_curve_outputs(const Eigen::Ref<RowMatrix<double>>& test,
                         const Eigen::Ref<RowMatrix<double>>& train, Index points, Index times);
void check_grid_values(const std::vector<Index>& values, const char* name, bool allow_empty);
void check_times(const std::vector<double>& times);
void check_schedule(const Schedule& schedule);

// ---- the engines: one seed, the whole nested grid ---------------------------------------------

// Explicit draws of A and Psi (dynamics_explicit.cpp).
void nested_explicit(const LinearTask& task, const GridSpec& grid, std::uint64_t key,
                     Eigen::Ref<RowMatrix<double>> test, Eigen::Ref<RowMatrix<double>> train,
                     const RunControl& control);
// Wishart draws of A^T A and Psi^T Psi (dynamics_wishart.cpp).
void nested_wishart(const LinearTask& task, const GridSpec& grid, std::uint64_t key,
                    Eigen::Ref<RowMatrix<double>> test, Eigen::Ref<RowMatrix<double>> train,
                    const RunControl& control);
// Minibatch SGD on every width and dataset size of the spec (dynamics_sgd.cpp).
void sgd_nested(const LinearTask& task, const SgdSpec& spec, std::uint64_t key,
                Eigen::Ref<RowMatrix<double>> test, Eigen::Ref<RowMatrix<double>> train,
                const RunControl& control);

}  // namespace scalinglab::dynamics::detail
