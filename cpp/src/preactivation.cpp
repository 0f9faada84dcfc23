/// \file preactivation.cpp
/// Z = scale * X W^T with one FMA chain per entry: packing, tiling, threads, and the SIMD
/// microkernels (generic std::fma, AVX2, AVX-512), chosen at run time.
#include "scalinglab/preactivation.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "scalinglab/errors.hpp"
#include "scalinglab/parallel.hpp"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SCALINGLAB_X86_KERNELS 1
#include <immintrin.h>
#endif

namespace scalinglab {
namespace {

template <class T>
using MicrokernelFn = void (*)(Index kc, const T* xp, const T* wp, T* c, Index ldc,
                               bool accumulate, bool finish, T scale);

// One microkernel and its tile: `rows` rows of X by `cols` features, k blocks of at most
// `max_kc` (the packed W micro-panel, max_kc x cols, then stays in L1 while the rows of a row
// block pass over it).
template <class T>
struct Microkernel {
  int rows;
  int cols;
  Index max_kc;
  MicrokernelFn<T> run;
};

// ---- generic: std::fma, the reference every SIMD lane reproduces ----------------------------
template <class T, int kRows, int kCols>
void generic_microkernel(Index kc, const T* xp, const T* wp, T* c, Index ldc, bool accumulate,
                         bool finish, T scale) {
  T acc[kRows][kCols];
  for (int r = 0; r < kRows; ++r)
    for (int l = 0; l < kCols; ++l) acc[r][l] = accumulate ? c[r * ldc + l] : T(0);
  for (Index k = 0; k < kc; ++k) {
    for (int r = 0; r < kRows; ++r)
      for (int l = 0; l < kCols; ++l) acc[r][l] = std::fma(xp[r], wp[l], acc[r][l]);
    xp += kRows;
    wp += kCols;
  }
  for (int r = 0; r < kRows; ++r)
    for (int l = 0; l < kCols; ++l) c[r * ldc + l] = finish ? acc[r][l] * scale : acc[r][l];
}

#if defined(SCALINGLAB_X86_KERNELS)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
struct F64 {
  using T = double;
  using V = __m256d;
  static constexpr int kLanes = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const T* p) { return _mm256_loadu_pd(p); }
  static V broadcast(const T* p) { return _mm256_broadcast_sd(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static void store(T* p, V v) { _mm256_storeu_pd(p, v); }
};
struct F32 {
  using T = float;
  using V = __m256;
  static constexpr int kLanes = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const T* p) { return _mm256_loadu_ps(p); }
  static V broadcast(const T* p) { return _mm256_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
};
#include "preactivation_microkernel.inc"
}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
namespace avx512 {
struct F64 {
  using T = double;
  using V = __m512d;
  static constexpr int kLanes = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const T* p) { return _mm512_loadu_pd(p); }
  static V broadcast(const T* p) { return _mm512_set1_pd(*p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
};
struct F32 {
  using T = float;
  using V = __m512;
  static constexpr int kLanes = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const T* p) { return _mm512_loadu_ps(p); }
  static V broadcast(const T* p) { return _mm512_set1_ps(*p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
};
#include "preactivation_microkernel.inc"
}  // namespace avx512
#pragma GCC pop_options
#endif

// Tiles (measured, bench/README.md): AVX2 has 16 vector registers, 6 x 2 accumulators + 2
// weight vectors + 1 broadcast; AVX-512 has 32, 8 x 3 + 3 + 1.
template <class T>
Microkernel<T> microkernel_for(SimdLevel level);

template <>
Microkernel<double> microkernel_for<double>(SimdLevel level) {
#if defined(SCALINGLAB_X86_KERNELS)
  if (level == SimdLevel::kAvx512)
    return {8, 24, 512, &avx512::microkernel<avx512::F64, 8, 3>};
  if (level == SimdLevel::kAvx2) return {6, 8, 512, &avx2::microkernel<avx2::F64, 6, 2>};
#endif
  (void)level;
  return {4, 8, 512, &generic_microkernel<double, 4, 8>};
}

template <>
Microkernel<float> microkernel_for<float>(SimdLevel level) {
#if defined(SCALINGLAB_X86_KERNELS)
  if (level == SimdLevel::kAvx512)
    return {8, 48, 1024, &avx512::microkernel<avx512::F32, 8, 3>};
  if (level == SimdLevel::kAvx2) return {6, 16, 1024, &avx2::microkernel<avx2::F32, 6, 2>};
#endif
  (void)level;
  return {4, 8, 1024, &generic_microkernel<float, 4, 8>};
}

// Rows of X per task (32 tiles: 256 rows with AVX-512, 192 with AVX2): every packed W panel
// fetched from memory serves this many rows before the next one is needed. Measured on the
// 2-core AVX-512 machine (P = 2000, d = 784, ReLU Gram, bench/README.md section 1): 8 tiles ran
// at 0.74-0.77 of OpenBLAS gemm on one thread, 32 tiles at 0.78-0.83 (float32 0.84 -> 0.92,
// the AVX2 kernel 20% faster); results are the same bits for any row block.
constexpr Index kRowBlockTiles = 32;
// Below this many multiply-adds one thread is faster than waking a team.
constexpr double kParallelWork = 4e6;

Index ceil_div(Index a, Index b) { return (a + b - 1) / b; }

// A buffer on 64-byte boundaries: the packed panels are read with full-width vector loads, and
// a 64-byte AVX-512 load that straddles two cache lines costs two.
template <class T>
class AlignedBuffer {
 public:
  explicit AlignedBuffer(Index size) {
    const std::size_t bytes = (static_cast<std::size_t>(size) * sizeof(T) + 63) / 64 * 64;
    data_ = static_cast<T*>(std::aligned_alloc(64, std::max<std::size_t>(bytes, 64)));
    if (data_ == nullptr) throw std::bad_alloc();
  }
  ~AlignedBuffer() { std::free(data_); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  T* data() { return data_; }

 private:
  T* data_;
};

}  // namespace

SimdLevel supported_simd_level() {
#if defined(SCALINGLAB_X86_KERNELS)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return SimdLevel::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SimdLevel::kAvx2;
#endif
  return SimdLevel::kGeneric;
}

SimdLevel default_simd_level() {
  static const SimdLevel level = [] {
    SimdLevel best = supported_simd_level();
    if (const char* requested = std::getenv("SCALINGLAB_SIMD")) {
      const std::string name(requested);
      SimdLevel wanted = best;
      if (name == "generic") wanted = SimdLevel::kGeneric;
      if (name == "avx2") wanted = SimdLevel::kAvx2;
      if (name == "avx512") wanted = SimdLevel::kAvx512;
      best = std::min(best, wanted);
    }
    return best;
  }();
  return level;
}

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAvx512:
      return "avx512";
    case SimdLevel::kAvx2:
      return "avx2";
    case SimdLevel::kGeneric:
      break;
  }
  return "generic";
}

namespace {

// C = [C +] scale * A B^T, entry (i, j) the FMA chain over k of row i of A and row j of B,
// continued from C(i, j) when `accumulate` (else from 0); with `upper_only`, tiles with no entry
// on or above the diagonal (j >= i) are skipped.
template <class T>
void chain_products(ConstRowRef<T> X, ConstRowRef<T> W, T scale, Eigen::Ref<RowMatrix<T>> Z,
                    bool accumulate_input, bool upper_only, int n_threads, SimdLevel level) {
  require(W.cols() == X.cols(), "W",
          "expected " + std::to_string(X.cols()) + " columns (those of X), got " +
              std::to_string(W.cols()));
  require(Z.rows() == X.rows() && Z.cols() == W.rows(), "Z",
          "expected shape (X.rows(), W.rows())");
  const Index n = X.rows(), width = W.rows(), d = X.cols();
  if (n == 0 || width == 0) return;
  if (d == 0) {
    if (!accumulate_input) Z.setZero();
    return;
  }
  const Microkernel<T> kernel = microkernel_for<T>(std::min(level, supported_simd_level()));
  const Index mr = kernel.rows, nr = kernel.cols;
  const Index panels = ceil_div(width, nr);
  const Index k_blocks = ceil_div(d, kernel.max_kc);
  const Index kc_max = ceil_div(d, k_blocks);
  const Index row_block = kRowBlockTiles * mr;
  const Index row_blocks = ceil_div(n, row_block);
  const double work = static_cast<double>(n) * static_cast<double>(width) * static_cast<double>(d);
  const int threads = work < kParallelWork ? 1 : resolve_threads(n_threads);
  // Enough (row block, feature group) tasks for every thread to get several.
  const Index groups = std::min(panels, ceil_div(4 * static_cast<Index>(threads), row_blocks));
  const Index panels_per_group = ceil_div(panels, groups);
  const Index tasks = row_blocks * groups;

  // W^T in panels of nr features, k-major, padded with zero features: wpack[(p d + k) nr + l]
  // is W(p nr + l, k).
  AlignedBuffer<T> wpack(panels * d * nr);
  const Index ldx = X.outerStride(), ldw = W.outerStride(), ldz = Z.outerStride();
  const T* x = X.data();
  const T* w = W.data();
  T* z = Z.data();

#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(static)
    for (Index p = 0; p < panels; ++p) {
      T* out = wpack.data() + p * d * nr;
      const Index valid = std::min(nr, width - p * nr);
      for (Index l = 0; l < nr; ++l) {
        if (l < valid) {
          const T* row = w + (p * nr + l) * ldw;
          for (Index k = 0; k < d; ++k) out[k * nr + l] = row[k];
        } else {
          for (Index k = 0; k < d; ++k) out[k * nr + l] = T(0);
        }
      }
    }
    // X rows of one row block, k block by k block, in tiles of mr rows, k-major, padded with
    // zero rows: xpack[(t kc + k) mr + r] is X(i0 + t mr + r, k0 + k).
    AlignedBuffer<T> xpack(row_block * kc_max);
    AlignedBuffer<T> edge(mr * nr);
#pragma omp for schedule(dynamic, 1)
    for (Index task = 0; task < tasks; ++task) {
      const Index i0 = (task / groups) * row_block;
      const Index rows = std::min(row_block, n - i0);
      const Index tiles = ceil_div(rows, mr);
      const Index p0 = (task % groups) * panels_per_group;
      const Index p1 = std::min(panels, p0 + panels_per_group);
      if (upper_only && i0 >= p1 * nr) continue;  // the whole task lies below the diagonal
      for (Index kb = 0; kb < k_blocks; ++kb) {
        const Index k0 = kb * kc_max;
        const Index kc = std::min(kc_max, d - k0);
        for (Index t = 0; t < tiles; ++t) {
          T* out = xpack.data() + t * kc * mr;
          for (Index r = 0; r < mr; ++r) {
            const Index i = t * mr + r;
            if (i < rows) {
              const T* row = x + (i0 + i) * ldx + k0;
              for (Index k = 0; k < kc; ++k) out[k * mr + r] = row[k];
            } else {
              for (Index k = 0; k < kc; ++k) out[k * mr + r] = T(0);
            }
          }
        }
        const bool accumulate = accumulate_input || kb > 0;
        const bool finish = kb + 1 == k_blocks && scale != T(1);
        for (Index p = p0; p < p1; ++p) {
          const T* wp = wpack.data() + (p * d + k0) * nr;
          const Index j = p * nr;
          const Index cols = std::min(nr, width - j);
          for (Index t = 0; t < tiles; ++t) {
            const T* xp = xpack.data() + t * kc * mr;
            const Index i = i0 + t * mr;
            if (upper_only && i >= j + nr) break;  // this tile and the ones below it
            const Index tile_rows = std::min(mr, n - i);
            T* c = z + i * ldz + j;
            if (tile_rows == mr && cols == nr) {
              kernel.run(kc, xp, wp, c, ldz, accumulate, finish, scale);
              continue;
            }
            // Edge tile: through a full-size buffer (the padding lanes are discarded).
            if (accumulate)
              for (Index r = 0; r < tile_rows; ++r)
                std::memcpy(edge.data() + r * nr, c + r * ldz, sizeof(T) * cols);
            kernel.run(kc, xp, wp, edge.data(), nr, accumulate, finish, scale);
            for (Index r = 0; r < tile_rows; ++r)
              std::memcpy(c + r * ldz, edge.data() + r * nr, sizeof(T) * cols);
          }
        }
      }
    }
  }
}

}  // namespace

template <class T>
void preactivations(ConstRowRef<T> X, ConstRowRef<T> W, T scale, Eigen::Ref<RowMatrix<T>> Z,
                    int n_threads, SimdLevel level) {
  chain_products<T>(X, W, scale, Z, false, false, n_threads, level);
}

template <class T>
void accumulate_products(ConstRowRef<T> A, ConstRowRef<T> B, Eigen::Ref<RowMatrix<T>> C,
                         bool upper_only, int n_threads, SimdLevel level) {
  require(!upper_only || A.rows() <= B.rows(), "C", "upper_only needs A.rows() <= B.rows()");
  chain_products<T>(A, B, T(1), C, true, upper_only, n_threads, level);
}

template void preactivations<float>(ConstRowRef<float>, ConstRowRef<float>, float,
                                    Eigen::Ref<RowMatrix<float>>, int, SimdLevel);
template void preactivations<double>(ConstRowRef<double>, ConstRowRef<double>, double,
                                     Eigen::Ref<RowMatrix<double>>, int, SimdLevel);
template void accumulate_products<float>(ConstRowRef<float>, ConstRowRef<float>,
                                         Eigen::Ref<RowMatrix<float>>, bool, int, SimdLevel);
template void accumulate_products<double>(ConstRowRef<double>, ConstRowRef<double>,
                                          Eigen::Ref<RowMatrix<double>>, bool, int, SimdLevel);

}  // namespace scalinglab
