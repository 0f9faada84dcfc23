#pragma once
/// \file blas.hpp
/// Thin wrappers over the few BLAS/LAPACK routines the core needs (gemm, syrk, syevd, potrf,
/// potrs, and the Householder QR geqrf/orgqr), for float and double.
///
/// The Fortran symbols may carry a prefix (`scipy_` for the scipy-openblas32 wheel), set at
/// build time through SCALINGLAB_BLAS_PREFIX. Integers are 32-bit (LP64 BLAS). Never call these
/// inside an OpenMP parallel region: the BLAS library has its own threads.
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "scalinglab/errors.hpp"
#include "scalinglab/types.hpp"

#ifndef SCALINGLAB_BLAS_PREFIX
#define SCALINGLAB_BLAS_PREFIX
#endif
#define SCALINGLAB_CONCAT_IMPL(a, b) a##b
#define SCALINGLAB_CONCAT(a, b) SCALINGLAB_CONCAT_IMPL(a, b)
#define SCALINGLAB_BLAS(name) SCALINGLAB_CONCAT(SCALINGLAB_BLAS_PREFIX, name)

// Fortran hidden string lengths are passed explicitly; a library that does not take them
// ignores the extra trailing arguments.
extern "C" {
void SCALINGLAB_BLAS(dgemm_)(const char*, const char*, const int*, const int*, const int*,
                             const double*, const double*, const int*, const double*, const int*,
                             const double*, double*, const int*, std::size_t, std::size_t);
void SCALINGLAB_BLAS(sgemm_)(const char*, const char*, const int*, const int*, const int*,
                             const float*, const float*, const int*, const float*, const int*,
                             const float*, float*, const int*, std::size_t, std::size_t);
void SCALINGLAB_BLAS(dsyrk_)(const char*, const char*, const int*, const int*, const double*,
                             const double*, const int*, const double*, double*, const int*,
                             std::size_t, std::size_t);
void SCALINGLAB_BLAS(ssyrk_)(const char*, const char*, const int*, const int*, const float*,
                             const float*, const int*, const float*, float*, const int*,
                             std::size_t, std::size_t);
void SCALINGLAB_BLAS(dsyevd_)(const char*, const char*, const int*, double*, const int*, double*,
                              double*, const int*, int*, const int*, int*, std::size_t,
                              std::size_t);
void SCALINGLAB_BLAS(ssyevd_)(const char*, const char*, const int*, float*, const int*, float*,
                              float*, const int*, int*, const int*, int*, std::size_t,
                              std::size_t);
void SCALINGLAB_BLAS(dpotrf_)(const char*, const int*, double*, const int*, int*, std::size_t);
void SCALINGLAB_BLAS(spotrf_)(const char*, const int*, float*, const int*, int*, std::size_t);
void SCALINGLAB_BLAS(dpotrs_)(const char*, const int*, const int*, const double*, const int*,
                              double*, const int*, int*, std::size_t);
void SCALINGLAB_BLAS(spotrs_)(const char*, const int*, const int*, const float*, const int*,
                              float*, const int*, int*, std::size_t);
void SCALINGLAB_BLAS(dgeqrf_)(const int*, const int*, double*, const int*, double*, double*,
                              const int*, int*);
void SCALINGLAB_BLAS(dorgqr_)(const int*, const int*, const int*, double*, const int*,
                              const double*, double*, const int*, int*);
}

namespace scalinglab::blas {

// ---- raw column-major calls ---------------------------------------------------------------

inline void gemm(char ta, char tb, int m, int n, int k, double alpha, const double* A, int lda,
                 const double* B, int ldb, double beta, double* C, int ldc) {
  SCALINGLAB_BLAS(dgemm_)(&ta, &tb, &m, &n, &k, &alpha, A, &lda, B, &ldb, &beta, C, &ldc, 1, 1);
}
inline void gemm(char ta, char tb, int m, int n, int k, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
  SCALINGLAB_BLAS(sgemm_)(&ta, &tb, &m, &n, &k, &alpha, A, &lda, B, &ldb, &beta, C, &ldc, 1, 1);
}
inline void syrk(char uplo, char trans, int n, int k, double alpha, const double* A, int lda,
                 double beta, double* C, int ldc) {
  SCALINGLAB_BLAS(dsyrk_)(&uplo, &trans, &n, &k, &alpha, A, &lda, &beta, C, &ldc, 1, 1);
}
inline void syrk(char uplo, char trans, int n, int k, float alpha, const float* A, int lda,
                 float beta, float* C, int ldc) {
  SCALINGLAB_BLAS(ssyrk_)(&uplo, &trans, &n, &k, &alpha, A, &lda, &beta, C, &ldc, 1, 1);
}

// ---- row-major helpers (the layout of our data matrices) ---------------------------------

/// C (m x n) = alpha * op(A) * op(B) + beta * C, all row-major. op(X) = X^T when trans_x.
/// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, hence the swapped operands.
template <class T, class MatA, class MatB, class MatC>
void gemm_rowmajor(bool trans_a, bool trans_b, T alpha, const MatA& A, const MatB& B, T beta,
                   MatC&& C) {
  static_assert(MatA::IsRowMajor && MatB::IsRowMajor, "gemm_rowmajor: row-major operands");
  const int m = static_cast<int>(C.rows());
  const int n = static_cast<int>(C.cols());
  const int k = static_cast<int>(trans_a ? A.rows() : A.cols());
  if (m == 0 || n == 0) return;
  gemm(trans_b ? 'T' : 'N', trans_a ? 'T' : 'N', n, m, k, alpha, B.data(),
       static_cast<int>(B.outerStride()), A.data(), static_cast<int>(A.outerStride()), beta,
       C.data(), static_cast<int>(C.outerStride()));
}

/// C (n x n) = alpha * A A^T + beta * C for row-major A (n x k); only the upper triangle of C
/// (in row-major terms) is referenced and written.
template <class T, class MatA, class MatC>
void syrk_rowmajor_upper(T alpha, const MatA& A, T beta, MatC&& C) {
  static_assert(MatA::IsRowMajor, "syrk_rowmajor_upper: row-major A");
  const int n = static_cast<int>(A.rows());
  const int k = static_cast<int>(A.cols());
  if (n == 0) return;
  // Row-major A is column-major A^T (k x n): A A^T = (A^T)^T (A^T) -> trans 'T'. The row-major
  // upper triangle is the column-major lower one.
  syrk('L', 'T', n, k, alpha, A.data(), static_cast<int>(A.outerStride()), beta, C.data(),
       static_cast<int>(C.outerStride()));
}

/// Copies the upper triangle of a square matrix onto its lower triangle.
template <class Mat>
void symmetrize_from_upper(Mat& C) {
  const Index n = C.rows();
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < i; ++j) C(i, j) = C(j, i);
}

// ---- LAPACK ----------------------------------------------------------------------------

namespace detail {
inline void syevd_call(char jobz, int n, double* a, int lda, double* w, double* work, int lwork,
                       int* iwork, int liwork, int* info) {
  const char uplo = 'L';
  SCALINGLAB_BLAS(dsyevd_)(&jobz, &uplo, &n, a, &lda, w, work, &lwork, iwork, &liwork, info, 1, 1);
}
inline void syevd_call(char jobz, int n, float* a, int lda, float* w, float* work, int lwork,
                       int* iwork, int liwork, int* info) {
  const char uplo = 'L';
  SCALINGLAB_BLAS(ssyevd_)(&jobz, &uplo, &n, a, &lda, w, work, &lwork, iwork, &liwork, info, 1, 1);
}
}  // namespace detail

/// Symmetric eigendecomposition in place (LAPACK ?syevd, divide and conquer).
/// \param A (n, n) column-major, symmetric; the lower triangle is read. On return with
///          vectors=true its columns are the orthonormal eigenvectors.
/// \param eigenvalues (n) ascending on return.
/// Throws LinAlgError if the algorithm failed to converge.
template <class T>
void syevd(ColMatrix<T>& A, Vector<T>& eigenvalues, bool vectors) {
  const int n = static_cast<int>(A.rows());
  eigenvalues.resize(n);
  if (n == 0) return;
  const char jobz = vectors ? 'V' : 'N';
  int info = 0;
  T work_query = 0;
  int iwork_query = 0;
  detail::syevd_call(jobz, n, A.data(), n, eigenvalues.data(), &work_query, -1, &iwork_query, -1,
                     &info);
  const int lwork = static_cast<int>(work_query) + 1;
  const int liwork = iwork_query;
  std::vector<T> work(static_cast<std::size_t>(lwork));
  std::vector<int> iwork(static_cast<std::size_t>(liwork > 0 ? liwork : 1));
  detail::syevd_call(jobz, n, A.data(), n, eigenvalues.data(), work.data(), lwork, iwork.data(),
                     liwork, &info);
  if (info != 0)
    throw LinAlgError("syevd failed to converge (LAPACK info = " + std::to_string(info) + ")");
}

/// Cholesky factor in place (lower triangle). Throws LinAlgError if A is not positive definite.
inline void potrf(ColMatrix<double>& A) {
  const int n = static_cast<int>(A.rows());
  int info = 0;
  const char uplo = 'L';
  SCALINGLAB_BLAS(dpotrf_)(&uplo, &n, A.data(), &n, &info, 1);
  if (info != 0)
    throw LinAlgError("Cholesky factorisation failed: matrix is not positive definite (info = " +
                      std::to_string(info) + ")");
}
inline void potrf(ColMatrix<float>& A) {
  const int n = static_cast<int>(A.rows());
  int info = 0;
  const char uplo = 'L';
  SCALINGLAB_BLAS(spotrf_)(&uplo, &n, A.data(), &n, &info, 1);
  if (info != 0)
    throw LinAlgError("Cholesky factorisation failed: matrix is not positive definite (info = " +
                      std::to_string(info) + ")");
}

/// Solves A X = B in place given the lower Cholesky factor from potrf. B is (n, nrhs) col-major.
inline void potrs(const ColMatrix<double>& L, ColMatrix<double>& B) {
  const int n = static_cast<int>(L.rows()), nrhs = static_cast<int>(B.cols());
  int info = 0;
  const char uplo = 'L';
  SCALINGLAB_BLAS(dpotrs_)(&uplo, &n, &nrhs, L.data(), &n, B.data(), &n, &info, 1);
  if (info != 0) throw LinAlgError("potrs failed (info = " + std::to_string(info) + ")");
}
inline void potrs(const ColMatrix<float>& L, ColMatrix<float>& B) {
  const int n = static_cast<int>(L.rows()), nrhs = static_cast<int>(B.cols());
  int info = 0;
  const char uplo = 'L';
  SCALINGLAB_BLAS(spotrs_)(&uplo, &n, &nrhs, L.data(), &n, B.data(), &n, &info, 1);
  if (info != 0) throw LinAlgError("potrs failed (info = " + std::to_string(info) + ")");
}

/// Thin QR in place by Householder reflections (LAPACK dgeqrf + dorgqr): on return the columns
/// of A (m x n, column-major, m >= n) are an orthonormal basis of the span of its columns (for
/// a rank-deficient A the extra columns still complete an orthonormal set). Householder rather
/// than Cholesky-QR because the blocks it orthogonalises (K Q for a kernel with a decaying
/// spectrum) have condition numbers far beyond the 1e8 where Cholesky-QR breaks down.
inline void orthonormalize_columns(ColMatrix<double>& A) {
  const int m = static_cast<int>(A.rows()), n = static_cast<int>(A.cols());
  require(m >= n, "A", "QR needs rows >= cols, got (" + std::to_string(m) + ", " +
                           std::to_string(n) + ")");
  if (n == 0) return;
  std::vector<double> tau(static_cast<std::size_t>(n));
  int info = 0, lwork = -1;
  double query = 0, query2 = 0;
  SCALINGLAB_BLAS(dgeqrf_)(&m, &n, A.data(), &m, tau.data(), &query, &lwork, &info);
  SCALINGLAB_BLAS(dorgqr_)(&m, &n, &n, A.data(), &m, tau.data(), &query2, &lwork, &info);
  lwork = static_cast<int>(std::max(query, query2)) + 1;
  std::vector<double> work(static_cast<std::size_t>(lwork));
  SCALINGLAB_BLAS(dgeqrf_)(&m, &n, A.data(), &m, tau.data(), work.data(), &lwork, &info);
  if (info != 0) throw LinAlgError("geqrf failed (LAPACK info = " + std::to_string(info) + ")");
  SCALINGLAB_BLAS(dorgqr_)(&m, &n, &n, A.data(), &m, tau.data(), work.data(), &lwork, &info);
  if (info != 0) throw LinAlgError("orgqr failed (LAPACK info = " + std::to_string(info) + ")");
}

}  // namespace scalinglab::blas
