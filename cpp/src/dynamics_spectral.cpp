/// \file dynamics_spectral.cpp
/// The GF/GD solution from w(0) = 0 in an eigenbasis (explicit features or covariance
/// statistics) and the test and train losses at every time from it: shared by the explicit and
/// the Wishart engines. See dynamics.hpp for the conventions.
#include <algorithm>
#include <cmath>
#include <string>

#include "dynamics_internal.hpp"
#include "scalinglab/blas.hpp"
#include "scalinglab/errors.hpp"

namespace scalinglab::dynamics {
namespace detail {

void eigen_decompose(ColMatrix<double>& K, Vector<double>& mu, const RunControl& control) {
  BlasThreadScope blas_threads(eigen_threads(control.n_threads, K.rows()));
  blas::syevd(K, mu, true);
}

double null_threshold(const Vector<double>& mu) {
  if (mu.size() == 0) return 0.0;
  return std::max(mu.maxCoeff(), 0.0) * static_cast<double>(mu.size()) * kEps;
}

RowMatrix<double> cholesky_factor_t(const ColMatrix<double>& W, const RunControl& control) {
  const Index M = W.rows();
  ColMatrix<double> L = W;
  try {
    BlasThreadScope blas_threads(threads_for(control, cube(M) / 3.0));
    blas::potrf(L);
    L.triangularView<Eigen::StrictlyUpper>().setZero();
    return Eigen::Map<const RowMatrix<double>>(L.data(), M, M);
  } catch (const LinAlgError&) {
    ColMatrix<double> Q = W;
    Vector<double> d;
    eigen_decompose(Q, d, control);
    RowMatrix<double> Ct(M, M);
    for (Index i = 0; i < M; ++i) Ct.row(i) = std::sqrt(std::max(d[i], 0.0)) * Q.col(i).transpose();
    return Ct;
  }
}

CovarianceStats population_stats(const LinearTask& task) {
  CovarianceStats stats;
  stats.diagonal = task.spectrum;
  stats.q = Vector<double>::Zero(task.M());
  stats.e2 = task.noise;
  return stats;
}

}  // namespace detail

namespace {

using detail::cube;
using detail::eigen_decompose;
using detail::kTimeChunk;
using detail::null_threshold;
using detail::omp_threads_for;
using detail::threads_for;
using detail::to_int;

// Width side (the kernel K on the m model coordinates): eigendecomposes K in place (V becomes
// its eigenvectors) and fills the targets' spectral coordinates from h = the projected targets:
// g = V^T h and z2 = g^2 / mu; modes with mu at or below null_threshold are null (never move).
void width_side_spectrum(ColMatrix<double>& V, const Vector<double>& h, const RunControl& control,
                         SpectralSolution& sol) {
  const Index m = V.rows();
  eigen_decompose(V, sol.mu, control);
  sol.mu = sol.mu.cwiseMax(0.0);
  sol.g.resize(m);
  blas::gemm('T', 'N', to_int(m), 1, to_int(m), 1.0, V.data(), to_int(m), h.data(), to_int(m), 0.0,
             sol.g.data(), to_int(m));
  const double tol = null_threshold(sol.mu);
  sol.z2.resize(m);
  for (Index i = 0; i < m; ++i) {
    if (sol.mu[i] <= tol) {
      sol.mu[i] = 0.0;
      sol.g[i] = 0.0;
      sol.z2[i] = 0.0;
    } else {
      sol.z2[i] = sol.g[i] * sol.g[i] / sol.mu[i];
    }
  }
}

// The eigenvectors in latent coordinates, D = s A^T V (M, m), where the row-major projection
// A (m, M) is read as column-major A^T; with the identity projection D is V itself.
void latent_eigenvectors(ColMatrix<double>&& V, const Projection& projection, Index M,
                         SpectralSolution& sol) {
  if (projection.is_identity()) {
    sol.D = std::move(V);
    return;
  }
  const Index m = V.cols();
  sol.D.resize(M, m);
  blas::gemm('N', 'N', to_int(M), to_int(m), to_int(m), projection.scale(), projection.matrix().data(),
             to_int(projection.matrix().outerStride()), V.data(), to_int(m), 0.0, sol.D.data(), to_int(M));
}

}  // namespace

void mode_factors(double mu, double t, const Schedule& schedule, double& decay, double& phi) {
  if (schedule.optimizer == Optimizer::kGradientFlow) {
    if (mu <= 0.0) {
      decay = 1.0;
      phi = t;
      return;
    }
    const double x = -mu * t;
    decay = std::exp(x);
    phi = -std::expm1(x) / mu;
    return;
  }
  const double eta = schedule.learning_rate;
  if (mu <= 0.0) {
    decay = 1.0;
    phi = eta * t;
    return;
  }
  const double a = eta * mu;
  if (a < 1.0) {
    const double x = t * std::log1p(-a);
    decay = std::exp(x);
    phi = -std::expm1(x) / mu;
  } else {
    decay = std::pow(1.0 - a, t);
    phi = (1.0 - decay) / mu;
  }
}

SpectralSolution solve_from_features(const ConstRowRef<double>& F, double feature_scale,
                                     const Projection& projection,
                                     const Eigen::Ref<const Vector<double>>& y,
                                     bool keep_predictions, const RunControl& control) {
  const Index P = F.rows();
  const Index n = F.cols();
  require(P >= 1 && n >= 1, "F", "expected a non-empty (P, n) matrix");
  require(y.size() == P, "y", "expected " + std::to_string(P) + " labels, got " + std::to_string(y.size()));
  require(projection.is_identity() || projection.matrix().rows() == n, "projection",
          "expected " + std::to_string(n) + " rows (one per feature), got " + std::to_string(projection.matrix().rows()));
  const Index M = projection.is_identity() ? n : projection.matrix().cols();
  const Index r = std::min(n, P);
  BlasThreadScope blas_threads(threads_for(
      control, static_cast<double>(P) * n * r + 2.0 * static_cast<double>(M) * n * r));
  const int ldF = to_int(F.outerStride());
  const int ldA = projection.is_identity() ? 1 : to_int(projection.matrix().outerStride());
  const double inv_P = 1.0 / static_cast<double>(P);
  SpectralSolution sol;
  const double yy = y.squaredNorm() * inv_P;

  if (n <= P) {
    // Width side: K = F^T F / P (n, n). Row-major F (P, n) is column-major F^T (n, P).
    ColMatrix<double> V(n, n);
    blas::syrk('L', 'N', to_int(n), to_int(P), feature_scale * feature_scale * inv_P, F.data(), ldF,
               0.0, V.data(), to_int(n));
    Vector<double> h(n);  // F^T y / P
    blas::gemm('N', 'N', to_int(n), 1, to_int(P), feature_scale * inv_P, F.data(), ldF, y.data(),
               to_int(P), 0.0, h.data(), to_int(n));
    width_side_spectrum(V, h, control, sol);
    if (keep_predictions) {
      sol.Y.resize(P, n);
      blas::gemm('T', 'N', to_int(P), to_int(n), to_int(n), feature_scale, F.data(), ldF, V.data(),
                 to_int(n), 0.0, sol.Y.data(), to_int(P));
    }
    latent_eigenvectors(std::move(V), projection, M, sol);
    sol.residual_floor = std::max(0.0, yy - sol.z2.sum());
    return sol;
  }

  // Data side: K = F F^T / P (P, P).
  ColMatrix<double> U(P, P);
  blas::syrk('L', 'T', to_int(P), to_int(n), feature_scale * feature_scale * inv_P, F.data(), ldF, 0.0,
             U.data(), to_int(P));
  eigen_decompose(U, sol.mu, control);
  sol.mu = sol.mu.cwiseMax(0.0);
  sol.g.resize(P);  // z = U^T y / sqrt(P)
  blas::gemm('T', 'N', to_int(P), 1, to_int(P), std::sqrt(inv_P), U.data(), to_int(P), y.data(),
             to_int(P), 0.0, sol.g.data(), to_int(P));
  sol.z2 = sol.g.cwiseAbs2();
  const double tol = null_threshold(sol.mu);
  for (Index i = 0; i < P; ++i) {
    if (sol.mu[i] <= tol) {
      // A null mode never moves: its residual stays (z2 kept, decay 1), its weight is 0.
      sol.mu[i] = 0.0;
      sol.g[i] = 0.0;
    }
  }
  ColMatrix<double> FtU(n, P);  // F^T U (scaled)
  blas::gemm('N', 'N', to_int(n), to_int(P), to_int(P), feature_scale, F.data(), ldF, U.data(),
             to_int(P), 0.0, FtU.data(), to_int(n));
  const double root_inv_P = std::sqrt(inv_P);
  if (projection.is_identity()) {
    sol.D = FtU * root_inv_P;
  } else {
    sol.D.resize(M, P);
    blas::gemm('N', 'N', to_int(M), to_int(P), to_int(n), projection.scale() * root_inv_P,
               projection.matrix().data(), ldA, FtU.data(), to_int(n), 0.0, sol.D.data(), to_int(M));
  }
  if (keep_predictions) sol.Y = std::sqrt(static_cast<double>(P)) * U * sol.mu.asDiagonal();
  sol.residual_floor = 0.0;
  return sol;
}

SpectralSolution solve_from_covariance(const Projection& projection, const CovarianceStats& stats,
                                       const Eigen::Ref<const Vector<double>>& target,
                                       const RunControl& control) {
  const Index M = target.size();
  const bool diagonal = stats.sigma.size() == 0;
  require(diagonal ? stats.diagonal.size() == M : (stats.sigma.rows() == M && stats.sigma.cols() == M),
          "stats", "expected covariance statistics of dimension " + std::to_string(M));
  require(stats.q.size() == M, "stats", "expected q of length " + std::to_string(M));
  require(projection.is_identity() || projection.matrix().cols() == M, "projection",
          "expected " + std::to_string(M) + " columns, got " + std::to_string(projection.matrix().cols()));
  const Index m_work = projection.is_identity() ? M : projection.matrix().rows();
  BlasThreadScope blas_threads(threads_for(control, 2.0 * static_cast<double>(M) * M * m_work));
  SpectralSolution sol;
  Vector<double> sigma_w = diagonal ? stats.diagonal.cwiseProduct(target).eval()
                                    : (stats.sigma * target).eval();
  const Vector<double> r = sigma_w + stats.q;  // Psi^T y / P
  const double yy = target.dot(sigma_w) + 2.0 * target.dot(stats.q) + stats.e2;

  if (projection.is_identity() && diagonal) {
    // N = P = infinity: the kernel is Lambda itself and the eigenbasis is the standard basis.
    sol.mu = stats.diagonal;
    sol.g = r;
    sol.z2 = r.cwiseAbs2().cwiseQuotient(sol.mu);
    sol.residual_floor = std::max(0.0, yy - sol.z2.sum());
    return sol;
  }
  const Index m = projection.is_identity() ? M : projection.matrix().rows();
  const int ldA = projection.is_identity() ? 1 : to_int(projection.matrix().outerStride());
  ColMatrix<double> V(m, m);
  if (projection.is_identity()) {
    V = stats.sigma;
  } else if (diagonal) {
    // K = s^2 C^T Lambda C = X X^T with X = s C^T Lambda^{1/2} (m, M) row-major.
    RowMatrix<double> X = projection.scale() * projection.matrix() * stats.diagonal.cwiseSqrt().asDiagonal();
    blas::syrk('L', 'T', to_int(m), to_int(M), 1.0, X.data(), to_int(M), 0.0, V.data(), to_int(m));
  } else {
    // K = s^2 C^T Sigma C; row-major C^T (m, M) is column-major C (M, m).
    ColMatrix<double> SC(M, m);
    blas::gemm('N', 'N', to_int(M), to_int(m), to_int(M), projection.scale(), stats.sigma.data(),
               to_int(M), projection.matrix().data(), ldA, 0.0, SC.data(), to_int(M));
    blas::gemm('T', 'N', to_int(m), to_int(m), to_int(M), projection.scale(), projection.matrix().data(), ldA,
               SC.data(), to_int(M), 0.0, V.data(), to_int(m));
  }
  Vector<double> h(m);  // s C^T r
  if (projection.is_identity()) {
    h = r;
  } else {
    blas::gemm('T', 'N', to_int(m), 1, to_int(M), projection.scale(), projection.matrix().data(), ldA, r.data(),
               to_int(M), 0.0, h.data(), to_int(m));
  }
  width_side_spectrum(V, h, control, sol);
  latent_eigenvectors(std::move(V), projection, M, sol);
  sol.residual_floor = std::max(0.0, yy - sol.z2.sum());
  return sol;
}

void evaluate_losses(const std::vector<SpectralSolution>& members, const LinearTask& task,
                     const std::vector<double>& times, const Schedule& schedule,
                     const Vector<double>* train_labels, const CovarianceStats* train_stats,
                     double* test, double* train, const RunControl& control) {
  require(!members.empty(), "members", "expected at least one solution");
  const Index M = task.M();
  const Index E = static_cast<Index>(members.size());
  const Index T = static_cast<Index>(times.size());
  const bool by_labels = E > 1 && train_labels != nullptr;
  require(E == 1 || by_labels || train_stats != nullptr, "train_stats",
          "an ensemble's train loss needs the training labels or the covariance statistics");
  for (const SpectralSolution& s : members) {
    require(s.D.size() == 0 ? s.mu.size() == M : s.D.rows() == M, "members",
            "solution dimension does not match the task");
    require(!by_labels || s.Y.cols() == s.mu.size(), "members",
            "ensemble solutions must keep their train predictions (Y)");
  }
  double work = 0.0;
  for (const SpectralSolution& s : members)
    work += 2.0 * static_cast<double>(T) * s.mu.size() * (M + s.Y.rows());
  if (E > 1 && !by_labels && train_stats->sigma.size() > 0) work += 2.0 * static_cast<double>(T) * M * M;
  BlasThreadScope blas_threads(threads_for(control, work));
  const double inv_E = 1.0 / static_cast<double>(E);
  const int threads = omp_threads_for(control, 20.0 * work / static_cast<double>(M));

  for (Index t0 = 0; t0 < T; t0 += kTimeChunk) {
    const Index tc = std::min(kTimeChunk, T - t0);
    ColMatrix<double> Vt = task.target.replicate(1, tc);  // error vectors v(t) as columns
    ColMatrix<double> Rt;                                  // train residuals (ensemble)
    if (by_labels) Rt = train_labels->replicate(1, tc);
    Vector<double> member_train(tc);
    for (const SpectralSolution& s : members) {
      const Index r = s.mu.size();
      ColMatrix<double> C(r, tc), decay2(r, tc);
#pragma omp parallel for num_threads(threads) schedule(static)
      for (Index j = 0; j < tc; ++j) {
        for (Index i = 0; i < r; ++i) {
          double decay, phi;
          mode_factors(s.mu[i], times[static_cast<std::size_t>(t0 + j)], schedule, decay, phi);
          C(i, j) = phi * s.g[i];
          decay2(i, j) = decay * decay;
        }
      }
      if (s.D.size() == 0) {
        Vt.noalias() -= inv_E * C;
      } else {
        blas::gemm('N', 'N', to_int(M), to_int(tc), to_int(r), -inv_E, s.D.data(), to_int(M), C.data(),
                   to_int(r), 1.0, Vt.data(), to_int(M));
      }
      if (by_labels) {
        const Index P = s.Y.rows();
        blas::gemm('N', 'N', to_int(P), to_int(tc), to_int(r), -inv_E, s.Y.data(), to_int(P), C.data(),
                   to_int(r), 1.0, Rt.data(), to_int(P));
      }
      if (E == 1)
        for (Index j = 0; j < tc; ++j) member_train[j] = s.residual_floor + s.z2.dot(decay2.col(j));
    }
    for (Index j = 0; j < tc; ++j) test[t0 + j] = Vt.col(j).cwiseAbs2().dot(task.spectrum);
    if (E == 1) {
      for (Index j = 0; j < tc; ++j) train[t0 + j] = member_train[j];
    } else if (by_labels) {
      for (Index j = 0; j < tc; ++j)
        train[t0 + j] = Rt.col(j).squaredNorm() / static_cast<double>(Rt.rows());
    } else {
      // (1/P)|Psi v + eps|^2 = v^T Sigma v + 2 v . q + e2.
      ColMatrix<double> SV(M, tc);
      if (train_stats->sigma.size() == 0) {
        SV = train_stats->diagonal.asDiagonal() * Vt;
      } else {
        blas::gemm('N', 'N', to_int(M), to_int(tc), to_int(M), 1.0, train_stats->sigma.data(), to_int(M),
                   Vt.data(), to_int(M), 0.0, SV.data(), to_int(M));
      }
      for (Index j = 0; j < tc; ++j)
        train[t0 + j] = Vt.col(j).dot(SV.col(j)) + 2.0 * Vt.col(j).dot(train_stats->q) + train_stats->e2;
    }
    control.poll();
  }
}

}  // namespace scalinglab::dynamics
