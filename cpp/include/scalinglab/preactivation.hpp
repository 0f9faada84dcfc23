#pragma once
/// \file preactivation.hpp
/// Pre-activations Z = scale * X W^T whose every entry is computed the same way whatever the
/// shape, the thread count or the CPU.
///
/// Entry (i, j) is the one sequential fused-multiply-add chain
///     acc = 0;  for k = 0 .. d-1: acc = fma(X(i, k), W(j, k), acc);  Z(i, j) = acc * scale,
/// rounded exactly like that, so it depends on row i of X and row j of W only: not on how many
/// rows X has, on which columns of Z are computed with it, on the thread split, or on the SIMD
/// width (IEEE fma is correctly rounded, so an AVX-512 lane, an AVX2 lane and std::fma agree).
/// BLAS gemm gives no such guarantee: OpenBLAS forwards 1-column products to gemv, uses
/// "small matrix" kernels below M N K ~ 1e6 on SkylakeX, and picks kernels by CPU, each with its
/// own summation order (1-ulp differences between a feature computed alone and in a block).
///
/// The kernel is a register-blocked GEMM microkernel (a few rows of X times two to three SIMD
/// vectors of features, W packed transposed) that never splits the k sum across threads; the
/// sum is blocked over k only by storing the partial chain in Z and reloading it, which leaves
/// the chain unchanged. Threads share (row block, feature group) tiles.
#include "scalinglab/types.hpp"

namespace scalinglab {

/// The SIMD microkernels; every level gives bit-identical results (see the file comment).
enum class SimdLevel { kGeneric = 0, kAvx2 = 1, kAvx512 = 2 };

/// The best level this CPU runs (kGeneric off x86-64).
SimdLevel supported_simd_level();
/// The level used by default: supported_simd_level(), lowered to the one named by the
/// environment variable SCALINGLAB_SIMD ("generic", "avx2", "avx512") when that is set (read
/// once; a level the CPU lacks is never chosen).
SimdLevel default_simd_level();
/// "generic", "avx2" or "avx512".
const char* simd_level_name(SimdLevel level);

/// Z = scale * X W^T, every entry one FMA chain over k (see the file comment).
/// \param X (n, d) inputs, row-major
/// \param W (B, d) weight rows, row-major
/// \param scale applied once to each finished chain
/// \param Z (n, B) output; may be a block of a wider row-major matrix
/// \param n_threads 0 = all cores
/// \param level the microkernel (clamped to supported_simd_level(); same numbers at any level)
template <class T>
void preactivations(ConstRowRef<T> X, ConstRowRef<T> W, T scale, Eigen::Ref<RowMatrix<T>> Z,
                    int n_threads, SimdLevel level = default_simd_level());

/// C += A B^T with entry (i, j) the FMA chain over k of row i of A and row j of B continued
/// from the stored C(i, j): calling it on consecutive column blocks of A and B gives exactly the
/// chain over all the columns, so a sum streamed block by block does not depend on where the
/// blocks end (the streamed Grams of kernel.hpp rely on this).
/// \param A (n, k)
/// \param B (m, k)
/// \param C (n, m), updated in place
/// \param upper_only only the entries with j >= i are needed (n <= m; a symmetric update):
///        tiles entirely below the diagonal are skipped, the others are computed whole
template <class T>
void accumulate_products(ConstRowRef<T> A, ConstRowRef<T> B, Eigen::Ref<RowMatrix<T>> C,
                         bool upper_only, int n_threads, SimdLevel level = default_simd_level());

}  // namespace scalinglab
