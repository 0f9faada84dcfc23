/// \file features.cpp
/// Random feature maps: weights from Philox, pre-activations by the FMA-chain kernel of
/// preactivation.hpp (the same bits for any shape, thread count or CPU; BLAS gemm is not),
/// vectorised activations (Eigen array functions, which the compiler turns into SIMD code).
#include "scalinglab/features.hpp"

#include <omp.h>

#include <unsupported/Eigen/SpecialFunctions>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "scalinglab/blas.hpp"
#include "scalinglab/errors.hpp"
#include "scalinglab/preactivation.hpp"
#include "scalinglab/random.hpp"

#if defined(SCALINGLAB_HAVE_OPENBLAS)
extern "C" {
typedef void (*scalinglab_openblas_dojob)(int thread_num, void* jobdata, int dojob_data);
typedef void (*scalinglab_openblas_threads)(int sync, scalinglab_openblas_dojob dojob, int numjobs,
                                            std::size_t jobdata_elsize, void* jobdata,
                                            int dojob_data);
void SCALINGLAB_BLAS(openblas_set_threads_callback_function)(scalinglab_openblas_threads callback);
}
#endif

namespace scalinglab {
namespace {

#if defined(SCALINGLAB_HAVE_OPENBLAS)
// OpenBLAS hands us the jobs of one threaded call. The jobs of a level-3 call wait for each
// other's packed panels, so all of them must run at the same time: one OpenMP thread per job
// when the runtime guarantees a full team, otherwise (nested in a parallel region, dynamic
// teams, a thread limit) one std::thread per extra job.
extern "C" void run_openblas_jobs_on_openmp(int /*sync*/, scalinglab_openblas_dojob dojob,
                                            int numjobs, std::size_t jobdata_elsize,
                                            void* jobdata, int dojob_data) {
  char* jobs = static_cast<char*>(jobdata);
  if (numjobs <= 1) {
    if (numjobs == 1) dojob(0, jobs, dojob_data);
    return;
  }
  const bool full_team =
      !omp_in_parallel() && !omp_get_dynamic() && omp_get_thread_limit() >= numjobs;
  if (full_team) {
#pragma omp parallel num_threads(numjobs)
    {
      const int job = omp_get_thread_num();
      dojob(job, jobs + static_cast<std::size_t>(job) * jobdata_elsize, dojob_data);
    }
    return;
  }
  std::vector<std::thread> helpers;
  for (int job = 1; job < numjobs; ++job)
    helpers.emplace_back(dojob, job, jobs + static_cast<std::size_t>(job) * jobdata_elsize,
                         dojob_data);
  dojob(0, jobs, dojob_data);
  for (auto& helper : helpers) helper.join();
}

// OpenBLAS keeps one callback for the whole process: scopes are counted so that the last one
// to end restores OpenBLAS's own threads.
std::mutex& blas_on_openmp_mutex() {
  static std::mutex mutex;
  return mutex;
}
int& blas_on_openmp_users() {
  static int users = 0;
  return users;
}
#endif

constexpr double kTwoPi = 6.283185307179586476925286766559;
// Normals per call of random::fill_normal (a multiple of its 1024-number internal chunk).
constexpr std::uint64_t kNormalRun = 1024;

struct ActivationEntry {
  Activation activation;
  const char* name;
};
constexpr ActivationEntry kActivations[] = {
    {Activation::kLinear, "linear"}, {Activation::kRelu, "relu"}, {Activation::kErf, "erf"},
    {Activation::kTanh, "tanh"},     {Activation::kCos, "cos"},   {Activation::kSin, "sin"},
    {Activation::kFourier, "fourier"},
};

// Applies `f` in place to every row of Z (and the matching phases), rows shared among threads,
// in fixed chunks of kChunk columns: a chunk is copied into an aligned fixed-size array
// (zero-padded at the end of a row) so that every entry goes through the same vectorised code.
// Eigen evaluates the head and tail of a dynamic-size row, and any misaligned start, with its
// scalar functions, whose float tanh/erf/cos/sin differ from the packet ones in the last bits:
// applied to whole rows, an entry's value would depend on where the block of features starts.
constexpr Index kChunk = 16;
template <class T, class F>
void for_each_chunk(Eigen::Ref<RowMatrix<T>>& Z, const Vector<T>& b, int n_threads, F f) {
  using Chunk = Eigen::Array<T, kChunk, 1>;
  const Index rows = Z.rows(), cols = Z.cols();
  const bool with_phases = b.size() == cols;
#pragma omp parallel for num_threads(n_threads) schedule(static)
  for (Index i = 0; i < rows; ++i) {
    T* row = Z.row(i).data();
    Chunk z, phase = Chunk::Zero();
    for (Index j0 = 0; j0 < cols; j0 += kChunk) {
      const Index len = std::min(kChunk, cols - j0);
      z.setZero();
      z.head(len) = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(row + j0, len);
      if (with_phases) phase.head(len) = b.segment(j0, len).array();
      f(z, phase);
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(row + j0, len) = z.head(len);
    }
  }
}

}  // namespace

BlasOnOpenMPScope::BlasOnOpenMPScope() {
#if defined(SCALINGLAB_HAVE_OPENBLAS)
  std::lock_guard<std::mutex> lock(blas_on_openmp_mutex());
  if (blas_on_openmp_users()++ == 0)
    SCALINGLAB_BLAS(openblas_set_threads_callback_function)(&run_openblas_jobs_on_openmp);
#endif
}

BlasOnOpenMPScope::~BlasOnOpenMPScope() {
#if defined(SCALINGLAB_HAVE_OPENBLAS)
  std::lock_guard<std::mutex> lock(blas_on_openmp_mutex());
  if (--blas_on_openmp_users() == 0)
    SCALINGLAB_BLAS(openblas_set_threads_callback_function)(nullptr);
#endif
}

Activation parse_activation(const std::string& name) {
  for (const auto& entry : kActivations)
    if (name == entry.name) return entry.activation;
  throw std::invalid_argument("`activation`: unknown activation '" + name + "', expected one of " +
                              activation_names());
}

const char* activation_name(Activation activation) {
  for (const auto& entry : kActivations)
    if (entry.activation == activation) return entry.name;
  return "unknown";
}

const char* activation_names() { return "linear, relu, erf, tanh, cos, sin, fourier"; }

RandomFeatureMap::RandomFeatureMap(Index d, std::uint64_t n_features, Activation activation,
                                   std::uint64_t seed, double lengthscale)
    : d_(d),
      n_features_(n_features),
      activation_(activation),
      seed_(seed),
      lengthscale_(lengthscale),
      input_scale_(1.0 / (lengthscale * std::sqrt(static_cast<double>(d)))) {
  require(d >= 1, "d", "must be >= 1, got " + std::to_string(d));
  require(n_features >= 1, "n_features", "must be >= 1, got " + std::to_string(n_features));
  require(std::isfinite(lengthscale) && lengthscale > 0, "lengthscale",
          "must be finite and > 0, got " + std::to_string(lengthscale));
  // Counters j * d + i must not wrap around 2^64.
  require(n_features <= ~std::uint64_t(0) / static_cast<std::uint64_t>(d), "n_features",
          "n_features * d overflows the 64-bit counter space");
}

template <class T>
void RandomFeatureMap::weights(std::uint64_t start, std::uint64_t stop, RowMatrix<T>& out,
                               int n_threads) const {
  require(start <= stop && stop <= n_features_, "stop",
          "expected start <= stop <= n_features = " + std::to_string(n_features_) + ", got [" +
              std::to_string(start) + ", " + std::to_string(stop) + ")");
  const Index rows = static_cast<Index>(stop - start);
  out.resize(rows, d_);
  if (rows == 0) return;
  const int threads = resolve_threads(n_threads);
  // Counters [first, last) are generated in runs of kNormalRun numbers that start at multiples of
  // kNormalRun. random::fill_normal's last bits can depend on where a fill starts (its vectorised
  // log runs over whole SIMD packets and the tail of a call is done in scalar code); always asking
  // it for the same aligned runs makes every number bit-identical whatever the block, the
  // start/stop range or the thread that produces it.
  const auto d = static_cast<std::uint64_t>(d_);
  const std::uint64_t first = start * d;
  const std::uint64_t last = stop * d;
  const auto first_run = static_cast<std::int64_t>(first / kNormalRun);
  const auto end_run = static_cast<std::int64_t>((last + kNormalRun - 1) / kNormalRun);
  T* data = out.data();
#pragma omp parallel num_threads(threads)
  {
    T run[kNormalRun];
#pragma omp for schedule(static)
    for (std::int64_t r = first_run; r < end_run; ++r) {
      const std::uint64_t run_start = static_cast<std::uint64_t>(r) * kNormalRun;
      const std::uint64_t lo = std::max(first, run_start);
      const std::uint64_t hi = std::min(last, run_start + kNormalRun);
      if (lo == run_start && hi == run_start + kNormalRun) {
        random::fill_normal(seed_, random::kStreamFeatureWeights, run_start, data + (lo - first),
                            kNormalRun);
      } else {
        random::fill_normal(seed_, random::kStreamFeatureWeights, run_start, run, kNormalRun);
        std::copy(run + (lo - run_start), run + (hi - run_start), data + (lo - first));
      }
    }
  }
}

template <class T>
void RandomFeatureMap::phases(std::uint64_t start, std::uint64_t stop, Vector<T>& out) const {
  require(start <= stop && stop <= n_features_, "stop",
          "expected start <= stop <= n_features = " + std::to_string(n_features_));
  const Index n = static_cast<Index>(stop - start);
  out.resize(n);
  if (activation_ != Activation::kFourier) {
    out.setZero();
    return;
  }
  Vector<double> uniform(n);
  random::fill_uniform(seed_, random::kStreamFeaturePhases, start, uniform.data(),
                       static_cast<std::size_t>(n));
  out = (kTwoPi * uniform.array()).template cast<T>().matrix();
}

template <class T>
void RandomFeatureMap::activate(Eigen::Ref<RowMatrix<T>> Z, const Vector<T>& b,
                                int n_threads) const {
  const int threads = resolve_threads(n_threads);
  switch (activation_) {
    case Activation::kLinear:
      return;
    case Activation::kRelu:
      for_each_chunk<T>(Z, b, threads, [](auto& z, const auto&) { z = z.max(T(0)); });
      return;
    case Activation::kErf:
      for_each_chunk<T>(Z, b, threads, [](auto& z, const auto&) { z = z.erf(); });
      return;
    case Activation::kTanh:
      for_each_chunk<T>(Z, b, threads, [](auto& z, const auto&) { z = z.tanh(); });
      return;
    case Activation::kCos:
      for_each_chunk<T>(Z, b, threads, [](auto& z, const auto&) { z = z.cos(); });
      return;
    case Activation::kSin:
      for_each_chunk<T>(Z, b, threads, [](auto& z, const auto&) { z = z.sin(); });
      return;
    case Activation::kFourier: {
      require(b.size() == Z.cols(), "b", "expected one phase per feature column");
      const T root_two = static_cast<T>(std::sqrt(2.0));
      for_each_chunk<T>(Z, b, threads, [root_two](auto& z, const auto& phase) {
        z = root_two * (z + phase).cos();
      });
      return;
    }
  }
}

template <class T>
void RandomFeatureMap::features_from_weights(ConstRowRef<T> X, const RowMatrix<T>& W,
                                             const Vector<T>& b, Eigen::Ref<RowMatrix<T>> out,
                                             int n_threads) const {
  require(X.cols() == d_, "X",
          "expected " + std::to_string(d_) + " columns, got " + std::to_string(X.cols()));
  require(W.cols() == d_, "W", "expected " + std::to_string(d_) + " columns");
  require(out.rows() == X.rows() && out.cols() == W.rows(), "out",
          "expected shape (X.rows(), W.rows())");
  if (out.rows() == 0 || out.cols() == 0) return;
  preactivations<T>(X, W, static_cast<T>(input_scale_), out, n_threads);
  activate<T>(out, b, n_threads);
}

template <class T>
RowMatrix<T> RandomFeatureMap::transform(ConstRowRef<T> X, std::uint64_t start,
                                         std::uint64_t stop, const RunControl& control,
                                         Index block_size) const {
  require(X.cols() == d_, "X",
          "expected " + std::to_string(d_) + " columns, got " + std::to_string(X.cols()));
  require(start <= stop && stop <= n_features_, "stop",
          "expected start <= stop <= n_features = " + std::to_string(n_features_) + ", got [" +
              std::to_string(start) + ", " + std::to_string(stop) + ")");
  require(block_size >= 0, "block_size", "must be >= 0 (0 = automatic)");
  const Index total = static_cast<Index>(stop - start);
  RowMatrix<T> out(X.rows(), total);
  if (total == 0 || X.rows() == 0) return out;
  const Index block =
      std::min(total, block_size > 0 ? block_size : default_block_size(X.rows(), d_, sizeof(T)));
  const int threads = control.threads();
  BlasThreadScope blas_threads(threads);
  BlasOnOpenMPScope blas_on_openmp;
  RowMatrix<T> W;
  Vector<T> b;
  for (Index done = 0; done < total; done += block) {
    control.poll();
    const Index width = std::min(block, total - done);
    const std::uint64_t first = start + static_cast<std::uint64_t>(done);
    weights<T>(first, first + static_cast<std::uint64_t>(width), W, threads);
    phases<T>(first, first + static_cast<std::uint64_t>(width), b);
    features_from_weights<T>(X, W, b, out.middleCols(done, width), threads);
    control.progress(static_cast<double>(done + width) / static_cast<double>(total));
  }
  return out;
}

Index default_block_size(Index rows, Index d, std::size_t scalar_bytes) {
  constexpr double kBudgetBytes = 64.0 * 1024 * 1024;
  const double per_feature = static_cast<double>(rows + d) * static_cast<double>(scalar_bytes);
  const double fit = kBudgetBytes / std::max(per_feature, 1.0);
  Index block = static_cast<Index>(std::min(fit, 4096.0));
  block = std::max<Index>(256, block - block % 64);
  return block;
}

#define SCALINGLAB_INSTANTIATE_FEATURES(T)                                                      \
  template void RandomFeatureMap::weights<T>(std::uint64_t, std::uint64_t, RowMatrix<T>&, int) \
      const;                                                                                    \
  template void RandomFeatureMap::phases<T>(std::uint64_t, std::uint64_t, Vector<T>&) const;    \
  template void RandomFeatureMap::activate<T>(Eigen::Ref<RowMatrix<T>>, const Vector<T>&, int) \
      const;                                                                                    \
  template void RandomFeatureMap::features_from_weights<T>(                                     \
      ConstRowRef<T>, const RowMatrix<T>&, const Vector<T>&, Eigen::Ref<RowMatrix<T>>, int)     \
      const;                                                                                    \
  template RowMatrix<T> RandomFeatureMap::transform<T>(ConstRowRef<T>, std::uint64_t,           \
                                                       std::uint64_t, const RunControl&, Index) \
      const;

SCALINGLAB_INSTANTIATE_FEATURES(float)
SCALINGLAB_INSTANTIATE_FEATURES(double)
#undef SCALINGLAB_INSTANTIATE_FEATURES

}  // namespace scalinglab
