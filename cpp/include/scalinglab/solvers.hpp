#pragma once
/// \file solvers.hpp
/// Symmetric eigendecomposition and ridge regression on Gram matrices and feature blocks.
///
/// Ridge convention (shared with the theory helpers). With P training samples, unnormalised
/// features Phi (P x N) and F = Phi / sqrt(N), ridge regression minimises
///
///     (1/(2P)) sum_mu (y_mu - F_mu . w)^2 + (ridge/2) |w|^2,
///
/// so that, with K = F F^T = Phi Phi^T / N (P x P),
///
///     w = (F^T F + P ridge I)^{-1} F^T y      (primal, an N x N system)
///       = F^T (K + P ridge I)^{-1} y           (dual,   a  P x P system),
///
/// and predictions at test points are K_test,train (K + P ridge I)^{-1} y. Every function below
/// takes `ridge` in this convention and applies the shift P * ridge itself. Targets Y are
/// (P, k): k outputs are solved together.
///
/// Heavy work goes to LAPACK/BLAS (syevd, potrf/potrs, syrk, gemm) under a BlasThreadScope of
/// control.n_threads. A single LAPACK call cannot be interrupted; control.poll() runs between
/// calls, so a stop request takes effect at the next stage boundary.
#include <vector>

#include "scalinglab/parallel.hpp"
#include "scalinglab/types.hpp"

namespace scalinglab {

/// Eigenvalues (ascending) and, optionally, orthonormal eigenvectors of a symmetric matrix.
template <class T>
struct SymmetricEigen {
  Vector<T> values;      ///< (n) ascending
  ColMatrix<T> vectors;  ///< (n, n): column i belongs to values(i); (0, 0) when values only
};

/// Throws std::invalid_argument naming `name` unless A is square and symmetric to
/// |A_ij - A_ji| <= tolerance * max_ij |A_ij| (tolerance = 0 demands exact symmetry).
/// \param A (n, n)
/// \return max_ij |A_ij| (found on the way, for callers that need the scale too)
template <class T>
double require_symmetric(const ConstRowRef<T>& A, const char* name, double tolerance);

/// Symmetric eigendecomposition through LAPACK ?syevd (divide and conquer).
/// \param A (n, n) symmetric; only its upper triangle (row-major sense) is read.
/// \param compute_vectors false takes the values-only path (?syevd with jobz = 'N').
/// Throws LinAlgError if LAPACK fails to converge.
template <class T>
SymmetricEigen<T> eigh(const ConstRowRef<T>& A, bool compute_vectors, const RunControl& control);

/// Dual ridge coefficients alpha = (K + P ridge I)^{-1} Y by Cholesky (potrf + potrs).
/// \param K (P, P) Gram matrix Phi Phi^T / N, symmetric positive semi-definite; the upper
///          triangle (row-major sense) is read.
/// \param Y (P, k) targets.
/// \param ridge >= 0 (the shift is P * ridge).
/// \return alpha (P, k).
/// Throws LinAlgError if K + P ridge I is not numerically positive definite (e.g. ridge = 0 and
/// K singular).
template <class T>
RowMatrix<T> ridge_dual(const ConstRowRef<T>& K, const ConstRowRef<T>& Y, double ridge,
                        const RunControl& control);

/// Normal equations of the primal problem, accumulated over blocks of samples so that the
/// P x N feature matrix is never stored: G = sum_b Phi_b^T Phi_b / N = F^T F (N, N) and
/// B = sum_b Phi_b^T Y_b / sqrt(N) = F^T Y (N, k). Memory O(N^2 + N k).
template <class T>
class NormalEquations {
 public:
  /// \param n_features N (> 0). \param n_outputs k (>= 0).
  NormalEquations(Index n_features, Index n_outputs);

  /// Adds a block of samples.
  /// \param features (b, N) unnormalised features Phi of b samples.
  /// \param Y (b, k) their targets.
  void add(const ConstRowRef<T>& features, const ConstRowRef<T>& Y, const RunControl& control);

  Index n_features() const { return static_cast<Index>(upper_gram_.rows()); }
  Index n_outputs() const { return static_cast<Index>(rhs_.cols()); }
  /// P, the number of samples added so far.
  Index n_samples() const { return n_samples_; }
  /// G = F^T F, (N, N), symmetric.
  RowMatrix<T> gram() const;
  /// B = F^T Y, (N, k).
  const RowMatrix<T>& rhs() const { return rhs_; }
  /// w = (G + P ridge I)^{-1} B, (N, k), with P = n_samples(); see ridge_primal.
  RowMatrix<T> solve(double ridge, const RunControl& control) const;

 private:
  RowMatrix<T> upper_gram_;  ///< only the upper triangle (row-major sense) is accumulated
  RowMatrix<T> rhs_;
  Index n_samples_ = 0;
};

/// Primal ridge weights w = (G + P ridge I)^{-1} B by Cholesky.
/// \param G (N, N) F^T F = Phi^T Phi / N summed over the P samples (symmetric; the upper
///          triangle, row-major sense, is read).
/// \param B (N, k) F^T Y.
/// \param n_samples P, the number of samples summed into G and B (sets the shift P * ridge).
/// \return w (N, k); predictions are Phi_test w / sqrt(N).
template <class T>
RowMatrix<T> ridge_primal(const ConstRowRef<T>& G, const ConstRowRef<T>& B, Index n_samples,
                          double ridge, const RunControl& control);

/// Ridge regression at many ridges from one eigendecomposition K = U diag(e) U^T:
/// alpha(r) = U diag(1/(e + P r)) U^T Y. Directions with e_i + P r <= cutoff are dropped, where
/// cutoff = P * machine-epsilon * max|e|: at r = 0 this is the minimum-norm (pseudo-inverse)
/// interpolator instead of a failure.
template <class T>
class RidgePath {
 public:
  /// \param K (P, P) symmetric Gram (upper triangle read). \param Y (P, k) targets.
  RidgePath(const ConstRowRef<T>& K, const ConstRowRef<T>& Y, const RunControl& control);

  Index n_samples() const { return static_cast<Index>(eigen_.values.size()); }
  Index n_outputs() const { return static_cast<Index>(projected_targets_.cols()); }
  /// (P) ascending eigenvalues e of K.
  const Vector<T>& eigenvalues() const { return eigen_.values; }
  /// (P, P) eigenvectors U (columns).
  const ColMatrix<T>& eigenvectors() const { return eigen_.vectors; }
  /// (P, k) U^T Y.
  const ColMatrix<T>& projected_targets() const { return projected_targets_; }
  /// Eigenvalue cutoff below which e + P r counts as zero.
  double cutoff() const { return cutoff_; }

  /// alpha(ridge), (P, k).
  RowMatrix<T> dual_coef(double ridge, const RunControl& control) const;
  /// K alpha(r) for each r in `ridges`: one (P, k) matrix per ridge.
  std::vector<RowMatrix<T>> train_predictions(const std::vector<double>& ridges,
                                              const RunControl& control) const;
  /// K_test alpha(r) for each r: one (m, k) matrix per ridge. K_test U is formed once.
  /// \param K_test (m, P) Gram between test and training points.
  std::vector<RowMatrix<T>> test_predictions(const ConstRowRef<T>& K_test,
                                             const std::vector<double>& ridges,
                                             const RunControl& control) const;

 private:
  /// Filter factors f_i(r) = 1/(e_i + P r), 0 below the cutoff.
  Vector<T> inverse_shifted(double ridge) const;
  /// left (rows, P, column-major) times diag(factors_of(r)) U^T Y for every r, as one GEMM per
  /// chunk of ridges: one (rows, k) matrix per ridge.
  template <class Factors>
  std::vector<RowMatrix<T>> apply_filters(const T* left, Index rows,
                                          const std::vector<double>& ridges, Factors factors_of,
                                          const RunControl& control) const;

  SymmetricEigen<T> eigen_;
  ColMatrix<T> projected_targets_;
  double cutoff_ = 0;
};

}  // namespace scalinglab
