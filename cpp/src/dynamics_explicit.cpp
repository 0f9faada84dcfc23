/// \file dynamics_explicit.cpp
/// The explicit engine: GF/GD on a nested (N, P) grid from explicit draws of the projections A
/// and the data Psi (prefixes give the smaller N and P). See dynamics.hpp for the conventions.
#include <algorithm>
#include <cmath>
#include <vector>

#include "dynamics_internal.hpp"
#include "scalinglab/blas.hpp"

namespace scalinglab::dynamics::detail {
namespace {

// The Gram A^T A (M, M) of the first N rows of A (lower triangle).
ColMatrix<double> projection_gram(const RowMatrix<double>& A, Index N, const RunControl& control) {
  const Index M = A.cols();
  ColMatrix<double> W(M, M);
  BlasThreadScope blas_threads(threads_for(control, static_cast<double>(N) * M * M));
  // Row-major A (N, M) is column-major A^T (M, N): W = A^T A = (A^T)(A^T)^T.
  blas::syrk('L', 'N', to_int(M), to_int(N), 1.0, A.data(), to_int(M), 0.0, W.data(), to_int(M));
  return W;
}

// Covariance statistics of the first P explicit samples: Psi^T Psi / P, Psi^T eps / P, |eps|^2/P.
CovarianceStats explicit_data_stats(const RowMatrix<double>& psi, const Vector<double>& eps, Index P,
                                    const RunControl& control) {
  const Index M = psi.cols();
  CovarianceStats stats;
  stats.sigma.resize(M, M);
  {
    BlasThreadScope blas_threads(threads_for(control, static_cast<double>(P) * M * M));
    blas::syrk('L', 'N', to_int(M), to_int(P), 1.0 / static_cast<double>(P), psi.data(), to_int(M), 0.0,
               stats.sigma.data(), to_int(M));
  }
  for (Index j = 0; j < M; ++j)
    for (Index i = 0; i < j; ++i) stats.sigma(i, j) = stats.sigma(j, i);
  stats.q = psi.topRows(P).transpose() * eps.head(P) / static_cast<double>(P);
  stats.e2 = eps.head(P).squaredNorm() / static_cast<double>(P);
  return stats;
}

}  // namespace

// Explicit draws of A and Psi. Each grid point is solved in the cheaper of two exact forms:
// from the features F = Psi A^T (eigendecomposition of dimension min(N, P)), or, when N and P
// both exceed M, from the M x M statistics A^T A and Psi^T Psi (dimension M).
void nested_explicit(const LinearTask& task, const GridSpec& grid, std::uint64_t key,
                     Eigen::Ref<RowMatrix<double>> test, Eigen::Ref<RowMatrix<double>> train,
                     const RunControl& control) {
  const Index M = task.M();
  const Index E = grid.ensemble;
  const Index Nmax = finite_max(grid.N);
  const Index Pmax = finite_max(grid.P);
  const Index nP = static_cast<Index>(grid.P.size());
  const Index n_points = static_cast<Index>(grid.N.size()) * nP;
  const auto covariance_point = [M](Index N, Index P) {
    return N != kInfinite && N > M && (P == kInfinite || P > M);
  };

  RowMatrix<double> psi;
  Vector<double> eps, y;
  if (Pmax > 0) {
    data_rows(task, key, 0, Pmax, psi, eps, control);
    y = psi * task.target + eps;
  }
  // Unscaled features U = Psi A^T of the feature-form points, all from one product.
  Index feature_rows = 0, feature_cols = 0;
  for (Index N : grid.N)
    for (Index P : grid.P)
      if (N != kInfinite && P != kInfinite && !covariance_point(N, P)) {
        feature_rows = std::max(feature_rows, P);
        feature_cols = std::max(feature_cols, N);
      }
  std::vector<RowMatrix<double>> A(static_cast<std::size_t>(E)), U(static_cast<std::size_t>(E));
  for (Index e = 0; e < E && Nmax > 0; ++e) {
    A[e] = projection_rows(key, e, Nmax, M, control);
    if (feature_cols > 0) {
      BlasThreadScope blas_threads(
          threads_for(control, 2.0 * static_cast<double>(feature_rows) * feature_cols * M));
      U[e].resize(feature_rows, feature_cols);
      blas::gemm_rowmajor(false, true, 1.0, psi.topRows(feature_rows), A[e].topRows(feature_cols),
                          0.0, U[e]);
    }
    control.poll();
  }
  const CovarianceStats population = population_stats(task);
  std::vector<CovarianceStats> data_stats(static_cast<std::size_t>(nP));
  std::vector<RowMatrix<double>> factors(static_cast<std::size_t>(E));  // C^T of A^T A, per member

  Index done = 0;
  for (std::size_t i = 0; i < grid.N.size(); ++i) {
    const Index N = grid.N[i];
    bool have_factors = false;
    for (std::size_t j = 0; j < grid.P.size(); ++j) {
      const Index P = grid.P[j];
      std::vector<SpectralSolution> members;
      Vector<double> labels;
      const Vector<double>* train_labels = nullptr;
      const CovarianceStats* train_stats = nullptr;
      const double scale = N == kInfinite ? 1.0 : 1.0 / std::sqrt(static_cast<double>(N));
      if (covariance_point(N, P)) {
        if (!have_factors) {
          for (Index e = 0; e < E; ++e) factors[e] = cholesky_factor_t(projection_gram(A[e], N, control), control);
          have_factors = true;
        }
        const CovarianceStats* stats = &population;
        if (P != kInfinite) {
          if (data_stats[j].q.size() == 0) data_stats[j] = explicit_data_stats(psi, eps, P, control);
          stats = &data_stats[j];
        }
        for (Index e = 0; e < E; ++e)
          members.push_back(
              solve_from_covariance(Projection(factors[e], scale), *stats, task.target, control));
        train_stats = stats;
      } else if (N != kInfinite && P != kInfinite) {
        for (Index e = 0; e < E; ++e)
          members.push_back(solve_from_features(U[e].topLeftCorner(P, N), scale,
                                                Projection(A[e].topRows(N), scale), y.head(P),
                                                E > 1, control));
        labels = y.head(P);
        train_labels = &labels;
      } else if (N == kInfinite && P != kInfinite) {
        // Infinite width: the features are psi itself; every member is the same model.
        members.push_back(solve_from_features(psi.topRows(P), 1.0, Projection::identity(),
                                              y.head(P), false, control));
      } else if (N != kInfinite) {
        for (Index e = 0; e < E; ++e)
          members.push_back(solve_from_covariance(Projection(A[e].topRows(N), scale), population,
                                                  task.target, control));
        train_stats = &population;
      } else {
        members.push_back(
            solve_from_covariance(Projection::identity(), population, task.target, control));
      }
      const Index row = static_cast<Index>(i) * nP + static_cast<Index>(j);
      evaluate_losses(members, task, grid.times, grid.schedule, train_labels, train_stats,
                      test.row(row).data(), train.row(row).data(), control);
      control.poll();
      control.progress(static_cast<double>(++done) / static_cast<double>(n_points));
    }
  }
}

}  // namespace scalinglab::dynamics::detail
