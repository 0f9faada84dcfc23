/// \file dynamics_kernel.cpp
/// The kernel engine: gradient flow / descent with a precomputed Gram matrix of any feature
/// map, every t from one eigendecomposition per dataset size. See dynamics.hpp.
#include <algorithm>
#include <limits>
#include <sstream>
#include <string>

#include "dynamics_internal.hpp"
#include "scalinglab/blas.hpp"
#include "scalinglab/errors.hpp"
#include "scalinglab/solvers.hpp"

namespace scalinglab::dynamics {

using detail::eigen_decompose;
using detail::kTimeChunk;
using detail::null_threshold;
using detail::threads_for;
using detail::to_int;

void kernel_learning_curves(const ConstRowRef<double>& K_train, const ConstRowRef<double>& K_test,
                            const Eigen::Ref<const Vector<double>>& y_train,
                            const Eigen::Ref<const Vector<double>>& y_test,
                            const std::vector<Index>& P_grid, const std::vector<double>& times,
                            const Schedule& schedule, Eigen::Ref<RowMatrix<double>> test,
                            Eigen::Ref<RowMatrix<double>> train, const RunControl& control) {
  const Index P = K_train.rows();
  require(P >= 1 && K_train.cols() == P, "K_train", "expected a square (P, P) Gram matrix");
  require(y_train.size() == P, "y_train", "expected " + std::to_string(P) + " labels");
  const Index Q = K_test.rows();
  require(Q == 0 || K_test.cols() == P, "K_test", "expected shape (Q, " + std::to_string(P) + ")");
  require(y_test.size() == Q, "y_test", "expected " + std::to_string(Q) + " labels");
  detail::check_grid_values(P_grid, "P", false);
  require(P_grid.back() != kInfinite && P_grid.back() <= P, "P",
          "grid values must be <= the Gram size " + std::to_string(P));
  detail::check_times(times);
  detail::check_schedule(schedule);
  const Index T = static_cast<Index>(times.size());
  const Index nP = static_cast<Index>(P_grid.size());
  require(test.rows() == nP && test.cols() == T && train.rows() == nP && train.cols() == T, "test",
          "expected output shape (nP, T)");
  // A precomputed Gram is validated here, where it costs no extra factorisation: symmetry to
  // 1e-8 relative (the tolerance of solvers::eigh, one cache-blocked pass), and semi-
  // definiteness from the eigenvalues computed anyway (a Gram's smallest eigenvalue is >= about
  // -P eps max|K| from rounding, far above -1e-10 max|K|).
  const double max_abs = require_symmetric<double>(K_train, "K_train", 1e-8);
  BlasThreadScope blas_threads(threads_for(control, 2.0 * static_cast<double>(Q) * P * P));
  for (Index j = 0; j < nP; ++j) {
    const Index p = P_grid[static_cast<std::size_t>(j)];
    const double inv_p = 1.0 / static_cast<double>(p);
    // K is symmetric, so its row-major block read as column-major is the same matrix: a
    // contiguous copy instead of a transposing one.
    ColMatrix<double> U = Eigen::Map<const ColMatrix<double>, 0, Eigen::OuterStride<>>(
                              K_train.data(), p, p, Eigen::OuterStride<>(K_train.outerStride())) *
                          inv_p;
    Vector<double> mu;
    eigen_decompose(U, mu, control);
    if (p > 0 && mu.minCoeff() < -1e-10 * max_abs) {
      std::ostringstream msg;
      msg << "expected a positive semi-definite Gram matrix (a kernel's Gram has no negative "
             "eigenvalues), but its leading (" << p << ", " << p << ") block has the eigenvalue "
          << mu.minCoeff() * static_cast<double>(p) << " below -1e-10 * P * max|K| = "
          << -1e-10 * max_abs * static_cast<double>(p);
      require(false, "K_train", msg.str());
    }
    mu = mu.cwiseMax(0.0);
    const Vector<double> projected = U.transpose() * y_train.head(p);  // U^T y
    Vector<double> a = projected * inv_p;                              // U^T y / P
    const double tol = null_threshold(mu);
    for (Index i = 0; i < p; ++i)
      if (mu[i] <= tol) {
        mu[i] = 0.0;
        a[i] = 0.0;
      }
    ColMatrix<double> KU;  // K_test U (Q, p)
    if (Q > 0) {
      KU.resize(Q, p);
      // Row-major K_test block (Q, p) is column-major (p, Q) = K_test^T.
      blas::gemm('T', 'N', to_int(Q), to_int(p), to_int(p), 1.0, K_test.data(),
                 to_int(K_test.outerStride()), U.data(), to_int(p), 0.0, KU.data(), to_int(Q));
    }
    // Every time of a chunk at once: the (p, tc) matrices of squared decays and of prediction
    // coefficients, then one GEMV (train: sum_i (U^T y)_i^2 decay_i(t)^2 / P) and one GEMM
    // (test predictions K_test U C) for the whole chunk.
    const Vector<double> projected2 = projected.cwiseAbs2() * inv_p;
    for (Index t0 = 0; t0 < T; t0 += kTimeChunk) {
      const Index tc = std::min(kTimeChunk, T - t0);
      ColMatrix<double> C(p, tc), decay2(p, tc);
      for (Index k = 0; k < tc; ++k) {
        for (Index i = 0; i < p; ++i) {
          double decay, phi;
          mode_factors(mu[i], times[static_cast<std::size_t>(t0 + k)], schedule, decay, phi);
          C(i, k) = phi * a[i];
          decay2(i, k) = decay * decay;
        }
      }
      train.row(j).segment(t0, tc).noalias() = (decay2.transpose() * projected2).transpose();
      if (Q > 0) {
        ColMatrix<double> predictions(Q, tc);
        blas::gemm('N', 'N', to_int(Q), to_int(tc), to_int(p), 1.0, KU.data(), to_int(Q), C.data(),
                   to_int(p), 0.0, predictions.data(), to_int(Q));
        for (Index k = 0; k < tc; ++k)
          test(j, t0 + k) = (y_test - predictions.col(k)).squaredNorm() / static_cast<double>(Q);
      } else {
        for (Index k = 0; k < tc; ++k) test(j, t0 + k) = std::numeric_limits<double>::quiet_NaN();
      }
    }
    control.poll();
    control.progress(static_cast<double>(j + 1) / static_cast<double>(nP));
  }
}

}  // namespace scalinglab::dynamics
