/// \file solvers.cpp
/// Eigendecomposition and ridge solvers over LAPACK/BLAS (see solvers.hpp for the convention).
#include "scalinglab/solvers.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "scalinglab/blas.hpp"
#include "scalinglab/errors.hpp"

namespace scalinglab {
namespace {

/// Column-major copy of a row-major square matrix's memory: the result is A^T, which for the
/// symmetric matrices here is A. LAPACK's lower triangle of it is A's upper triangle
/// (row-major sense). A straight copy, no transposing traversal.
template <class T>
ColMatrix<T> column_major_copy_of_symmetric(const ConstRowRef<T>& A) {
  ColMatrix<T> M(A.rows(), A.cols());
  Eigen::Map<RowMatrix<T>>(M.data(), A.cols(), A.rows()) = A;
  return M;
}

void require_ridge(double ridge) {
  require(std::isfinite(ridge) && ridge >= 0, "ridge",
          "must be finite and >= 0, got " + std::to_string(ridge));
}

template <class T>
void require_square(const ConstRowRef<T>& A, const char* name) {
  std::ostringstream got;
  got << "expected a square matrix, got shape (" << A.rows() << ", " << A.cols() << ")";
  require(A.rows() == A.cols(), name, got.str());
}

template <class T>
void require_rows(const ConstRowRef<T>& Y, Index rows, const char* name, const char* of) {
  std::ostringstream got;
  got << "expected " << rows << " rows (" << of << "), got shape (" << Y.rows() << ", "
      << Y.cols() << ")";
  require(Y.rows() == rows, name, got.str());
}

/// Cholesky with a message that says which system failed and what to do about it.
template <class T>
void cholesky(ColMatrix<T>& M, const char* what) {
  try {
    blas::potrf(M);
  } catch (const LinAlgError& e) {
    throw LinAlgError(std::string(what) +
                      " is not numerically positive definite (use ridge > 0, or the "
                      "eigendecomposition path, whose ridge = 0 limit is the pseudo-inverse): " +
                      e.what());
  }
}

// (A + shift I)^{-1} B for symmetric positive definite A + shift I (upper triangle of A read),
// by Cholesky; `what` names the matrix in the LinAlgError when it is not positive definite.
template <class T>
RowMatrix<T> solve_shifted_spd(const ConstRowRef<T>& A, const ConstRowRef<T>& B, double shift,
                               const char* what, const RunControl& control) {
  ColMatrix<T> M = column_major_copy_of_symmetric<T>(A);
  M.diagonal().array() += static_cast<T>(shift);
  ColMatrix<T> X = B;
  {
    BlasThreadScope threads(control.n_threads);
    cholesky(M, what);
    control.poll();
    if (X.cols() > 0) blas::potrs(M, X);
  }
  control.progress(1.0);
  return RowMatrix<T>(X);
}

}  // namespace

template <class T>
double require_symmetric(const ConstRowRef<T>& A, const char* name, double tolerance) {
  require_square<T>(A, name);
  const Index n = A.rows();
  constexpr Index tile = 64;  // compare A(i, j) with A(j, i) tile by tile to stay in cache
  double max_abs = 0, max_asym = 0;
  Index worst_i = 0, worst_j = 0;
  bool finite = true;
  for (Index bi = 0; bi < n; bi += tile) {
    for (Index bj = bi; bj < n; bj += tile) {
      const Index ei = std::min(n, bi + tile), ej = std::min(n, bj + tile);
      for (Index i = bi; i < ei; ++i) {
        for (Index j = std::max(bj, i); j < ej; ++j) {
          const double upper = A(i, j), lower = A(j, i);
          finite = finite && std::isfinite(upper) && std::isfinite(lower);
          max_abs = std::max(max_abs, std::max(std::abs(upper), std::abs(lower)));
          const double asym = std::abs(upper - lower);
          if (asym > max_asym) {
            max_asym = asym;
            worst_i = i;
            worst_j = j;
          }
        }
      }
    }
  }
  require(finite, name, "contains NaN or infinity");
  if (max_asym > tolerance * max_abs) {
    std::ostringstream msg;
    msg << "expected a symmetric matrix, but |A[" << worst_i << ", " << worst_j << "] - A["
        << worst_j << ", " << worst_i << "]| = " << max_asym << " exceeds " << tolerance
        << " * max|A| = " << tolerance * max_abs;
    require(false, name, msg.str());
  }
  return max_abs;
}

template <class T>
SymmetricEigen<T> eigh(const ConstRowRef<T>& A, bool compute_vectors, const RunControl& control) {
  require_square<T>(A, "a");
  control.poll();
  SymmetricEigen<T> result;
  ColMatrix<T> M = column_major_copy_of_symmetric<T>(A);
  {
    BlasThreadScope threads(eigen_threads(control.n_threads, M.rows()));
    blas::syevd(M, result.values, compute_vectors);
  }
  if (compute_vectors) result.vectors = std::move(M);
  control.progress(1.0);
  return result;
}

template <class T>
RowMatrix<T> ridge_dual(const ConstRowRef<T>& K, const ConstRowRef<T>& Y, double ridge,
                        const RunControl& control) {
  require_square<T>(K, "gram");
  require_rows<T>(Y, K.rows(), "y", "one per row of `gram`");
  require_ridge(ridge);
  control.poll();
  return solve_shifted_spd<T>(K, Y, static_cast<double>(K.rows()) * ridge, "gram + P * ridge * I",
                              control);
}

template <class T>
NormalEquations<T>::NormalEquations(Index n_features, Index n_outputs) {
  require(n_features > 0, "n_features", "must be > 0, got " + std::to_string(n_features));
  require(n_outputs >= 0, "n_outputs", "must be >= 0, got " + std::to_string(n_outputs));
  upper_gram_.setZero(n_features, n_features);
  rhs_.setZero(n_features, n_outputs);
}

template <class T>
void NormalEquations<T>::add(const ConstRowRef<T>& features, const ConstRowRef<T>& Y,
                             const RunControl& control) {
  const Index b = features.rows(), N = n_features();
  {
    std::ostringstream got;
    got << "expected " << N << " columns (n_features), got shape (" << b << ", "
        << features.cols() << ")";
    require(features.cols() == N, "features", got.str());
  }
  require_rows<T>(Y, b, "y", "one per row of `features`");
  {
    std::ostringstream got;
    got << "expected " << n_outputs() << " columns (outputs), got shape (" << Y.rows() << ", "
        << Y.cols() << ")";
    require(Y.cols() == n_outputs(), "y", got.str());
  }
  control.poll();
  if (b == 0) return;
  BlasThreadScope threads(control.n_threads);
  // Row-major Phi (b x N) is column-major Phi^T (N x b), so Phi^T Phi = (Phi^T)(Phi^T)^T is a
  // syrk with trans = 'N'. Row-major G's upper triangle is the column-major lower one.
  blas::syrk('L', 'N', static_cast<int>(N), static_cast<int>(b), static_cast<T>(1.0 / N),
             features.data(), static_cast<int>(features.outerStride()), T(1), upper_gram_.data(),
             static_cast<int>(N));
  if (n_outputs() > 0)
    blas::gemm_rowmajor(true, false, static_cast<T>(1.0 / std::sqrt(static_cast<double>(N))),
                        features, Y, T(1), rhs_);
  n_samples_ += b;
}

template <class T>
RowMatrix<T> NormalEquations<T>::gram() const {
  RowMatrix<T> G = upper_gram_;
  blas::symmetrize_from_upper(G);
  return G;
}

template <class T>
RowMatrix<T> NormalEquations<T>::solve(double ridge, const RunControl& control) const {
  require(n_samples_ > 0, "n_samples", "no samples were added");
  return ridge_primal<T>(upper_gram_, rhs_, n_samples_, ridge, control);
}

template <class T>
RowMatrix<T> ridge_primal(const ConstRowRef<T>& G, const ConstRowRef<T>& B, Index n_samples,
                          double ridge, const RunControl& control) {
  require_square<T>(G, "G");
  require_rows<T>(B, G.rows(), "B", "one per row of `G`");
  require(n_samples > 0, "n_samples", "must be > 0, got " + std::to_string(n_samples));
  require_ridge(ridge);
  control.poll();
  return solve_shifted_spd<T>(G, B, static_cast<double>(n_samples) * ridge,
                              "F^T F + P * ridge * I", control);
}

// ---- RidgePath ----------------------------------------------------------------------------

template <class T>
RidgePath<T>::RidgePath(const ConstRowRef<T>& K, const ConstRowRef<T>& Y,
                        const RunControl& control) {
  require_square<T>(K, "gram");
  require_rows<T>(Y, K.rows(), "y", "one per row of `gram`");
  eigen_ = eigh<T>(K, true, control);
  control.poll();
  const Index P = K.rows(), k = Y.cols();
  const double largest = P > 0 ? std::max(std::abs(static_cast<double>(eigen_.values(0))),
                                          std::abs(static_cast<double>(eigen_.values(P - 1))))
                               : 0.0;
  cutoff_ = static_cast<double>(P) * std::numeric_limits<T>::epsilon() * largest;
  projected_targets_.resize(P, k);
  if (P == 0 || k == 0) return;
  BlasThreadScope threads(control.n_threads);
  // U^T Y: row-major Y (P x k) is column-major Y^T (k x P), so op(B) = 'T' gives Y.
  blas::gemm('T', 'T', static_cast<int>(P), static_cast<int>(k), static_cast<int>(P), T(1),
             eigen_.vectors.data(), static_cast<int>(P), Y.data(),
             static_cast<int>(Y.outerStride()), T(0), projected_targets_.data(),
             static_cast<int>(P));
}

template <class T>
Vector<T> RidgePath<T>::inverse_shifted(double ridge) const {
  require_ridge(ridge);
  const Index P = n_samples();
  Vector<T> factors(P);
  for (Index i = 0; i < P; ++i) {
    const double shifted = static_cast<double>(eigen_.values(i)) + static_cast<double>(P) * ridge;
    factors(i) = shifted > cutoff_ ? static_cast<T>(1.0 / shifted) : T(0);
  }
  return factors;
}

template <class T>
RowMatrix<T> RidgePath<T>::dual_coef(double ridge, const RunControl& control) const {
  BlasThreadScope threads(control.n_threads);
  // alpha(r) = U diag(1 / (e + P r)) U^T Y: the test-prediction product with U as the left factor.
  return apply_filters(eigen_.vectors.data(), n_samples(), {ridge},
                       [this](double r) { return inverse_shifted(r); }, control)
      .front();
}

namespace {

/// Ridges per matrix product: all of them in one GEMM (the eigenvectors are read once, not
/// once per ridge: at P = 3000 and one output, 20 GEMVs re-read 72 MB each), in chunks of at
/// most ~128 MB of right-hand sides and results.
Index ridges_per_product(Index rows, Index k, std::size_t n_ridges) {
  const Index budget = Index{1} << 24;  // elements
  const Index per_ridge = std::max<Index>(1, std::max(rows, Index{1}) * std::max(k, Index{1}));
  return std::max<Index>(1, std::min<Index>(static_cast<Index>(n_ridges), budget / per_ridge));
}

}  // namespace

template <class T>
template <class Factors>
std::vector<RowMatrix<T>> RidgePath<T>::apply_filters(const T* left, Index rows,
                                                      const std::vector<double>& ridges,
                                                      Factors factors_of,
                                                      const RunControl& control) const {
  const Index P = n_samples(), k = n_outputs();
  std::vector<RowMatrix<T>> out;
  out.reserve(ridges.size());
  const Index chunk = ridges_per_product(std::max(rows, P), k, ridges.size());
  ColMatrix<T> scaled, prediction;
  for (std::size_t first = 0; first < ridges.size(); first += static_cast<std::size_t>(chunk)) {
    control.poll();
    const Index count = std::min<Index>(chunk, static_cast<Index>(ridges.size() - first));
    // Column block r of `scaled` is diag(f(ridge r)) U^T Y; one product left * scaled gives
    // every prediction of the chunk.
    scaled.resize(P, count * k);
    for (Index r = 0; r < count; ++r)
      scaled.middleCols(r * k, k) = factors_of(ridges[first + r]).asDiagonal() * projected_targets_;
    prediction.resize(rows, count * k);
    if (rows > 0 && k > 0 && P > 0)
      blas::gemm('N', 'N', static_cast<int>(rows), static_cast<int>(count * k),
                 static_cast<int>(P), T(1), left, static_cast<int>(rows), scaled.data(),
                 static_cast<int>(P), T(0), prediction.data(), static_cast<int>(rows));
    else
      prediction.setZero();
    for (Index r = 0; r < count; ++r) out.emplace_back(prediction.middleCols(r * k, k));
    control.progress(static_cast<double>(first + count) / ridges.size());
  }
  return out;
}

template <class T>
std::vector<RowMatrix<T>> RidgePath<T>::train_predictions(const std::vector<double>& ridges,
                                                          const RunControl& control) const {
  for (double ridge : ridges) require_ridge(ridge);
  BlasThreadScope threads(control.n_threads);
  // K alpha(r) = U diag(e / (e + P r)) U^T Y.
  return apply_filters(eigen_.vectors.data(), n_samples(), ridges,
                       [this](double ridge) -> Vector<T> {
                         return (inverse_shifted(ridge).array() * eigen_.values.array()).matrix();
                       },
                       control);
}

template <class T>
std::vector<RowMatrix<T>> RidgePath<T>::test_predictions(const ConstRowRef<T>& K_test,
                                                         const std::vector<double>& ridges,
                                                         const RunControl& control) const {
  const Index P = n_samples(), m = K_test.rows();
  {
    std::ostringstream got;
    got << "expected " << P << " columns (one per training sample), got shape (" << m << ", "
        << K_test.cols() << ")";
    require(K_test.cols() == P, "gram_test", got.str());
  }
  for (double ridge : ridges) require_ridge(ridge);
  control.poll();
  BlasThreadScope threads(control.n_threads);
  // K_test U (m x P), once. Row-major K_test is column-major K_test^T (P x m).
  ColMatrix<T> projected(m, P);
  if (m > 0 && P > 0)
    blas::gemm('T', 'N', static_cast<int>(m), static_cast<int>(P), static_cast<int>(P), T(1),
               K_test.data(), static_cast<int>(K_test.outerStride()), eigen_.vectors.data(),
               static_cast<int>(P), T(0), projected.data(), static_cast<int>(m));
  // K_test alpha(r) = (K_test U) diag(1 / (e + P r)) U^T Y.
  return apply_filters(projected.data(), m, ridges,
                       [this](double ridge) { return inverse_shifted(ridge); }, control);
}

// ---- explicit instantiations ------------------------------------------------------------

#define SCALINGLAB_INSTANTIATE_SOLVERS(T)                                                       \
  template double require_symmetric<T>(const ConstRowRef<T>&, const char*, double);            \
  template SymmetricEigen<T> eigh<T>(const ConstRowRef<T>&, bool, const RunControl&);          \
  template RowMatrix<T> ridge_dual<T>(const ConstRowRef<T>&, const ConstRowRef<T>&, double,    \
                                      const RunControl&);                                      \
  template RowMatrix<T> ridge_primal<T>(const ConstRowRef<T>&, const ConstRowRef<T>&, Index,   \
                                        double, const RunControl&);                            \
  template class NormalEquations<T>;                                                           \
  template class RidgePath<T>;

SCALINGLAB_INSTANTIATE_SOLVERS(float)
SCALINGLAB_INSTANTIATE_SOLVERS(double)

#undef SCALINGLAB_INSTANTIATE_SOLVERS

}  // namespace scalinglab
