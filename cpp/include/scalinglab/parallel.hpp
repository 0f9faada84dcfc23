#pragma once
/// \file parallel.hpp
/// Thread counts and the control block that long computations poll.
///
/// Conventions: `n_threads == 0` means all cores. Results never depend on the thread count:
/// randomness is keyed by work item (see random.hpp), and reductions have a fixed order.
/// BLAS is never called inside an OpenMP region; BLAS itself is given the same thread count.
#include <exception>
#include <functional>

#include "scalinglab/errors.hpp"
#include "scalinglab/types.hpp"

namespace scalinglab {

/// Largest accepted `n_threads` (a guard against typos such as 10**6, not a tuning knob).
constexpr int kMaxThreads = 1024;

/// Resolves the `n_threads` convention: 0 -> all available cores (the CPU affinity mask),
/// otherwise min(n_threads, cores). Throws std::invalid_argument for n_threads < 0 or
/// n_threads > kMaxThreads. Results do not depend on the count (see the file comment), so
/// clamping never changes a result that is documented as thread-count independent.
int resolve_threads(int n_threads);

/// Sets the thread count of the BLAS library (a no-op for BLAS builds that cannot be told).
void set_blas_threads(int n_threads);
/// Current thread count of the BLAS library (1 if unknown).
int get_blas_threads();

/// Threads for one LAPACK symmetric eigendecomposition (?syevd) of dimension n. An explicit
/// n_threads > 0 is honoured as given. n_threads == 0 (automatic) gives all cores from
/// dimension parallel_eigen_dimension() on and one thread below it: syevd makes many small
/// BLAS calls, and below some size (machine- and load-dependent) threads cost more than they
/// save. The result is bit-identical for a fixed thread count only (ARCHITECTURE.md,
/// "Reproducibility guarantees").
int eigen_threads(int n_threads, Index n);
/// The automatic rule's crossover dimension (process-wide). Default 2700 (measured on a loaded
/// 2-core machine); the Python package replaces it by a per-machine calibration
/// (scalinglab._calibration) on first automatic use.
Index parallel_eigen_dimension();
/// Sets the crossover dimension of eigen_threads (>= 0; 0 = always all cores).
void set_parallel_eigen_dimension(Index n);

/// What a long computation needs from its caller: how many threads, how to know the caller
/// wants it to stop, and where to report progress. All callbacks run on the calling thread,
/// between blocks of work and never inside an OpenMP region.
struct RunControl {
  int n_threads = 0;                          ///< 0 = all cores
  std::function<bool()> should_stop;          ///< true -> throw Interrupted at the next poll
  std::function<void(double)> on_progress;    ///< fraction of the work done, in [0, 1]

  /// Throws Interrupted if the caller asked to stop.
  void poll() const {
    if (should_stop && should_stop()) throw Interrupted();
  }
  void progress(double fraction) const {
    if (on_progress) on_progress(fraction);
  }
  int threads() const { return resolve_threads(n_threads); }
};

/// Runs body(i) for every i in [begin, end) on `threads` OpenMP threads (dynamic schedule, one
/// index at a time). An exception must not leave an OpenMP region, so each one is caught; after
/// the loop the exception of the *smallest* failing index is rethrown with its original type
/// (LinAlgError stays LinAlgError, std::invalid_argument stays ValueError in Python). Which
/// error is reported is therefore the same for any thread count; the other indices still run.
template <class Body>
void parallel_for_collect(Index begin, Index end, int threads, Body&& body) {
  std::exception_ptr error;
  Index error_index = end;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (Index i = begin; i < end; ++i) {
    try {
      body(i);
    } catch (...) {
#pragma omp critical(scalinglab_parallel_for_collect)
      if (i < error_index) {
        error_index = i;
        error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

/// Sets the BLAS thread count for the lifetime of the scope and restores it afterwards.
class BlasThreadScope {
 public:
  explicit BlasThreadScope(int n_threads) : previous_(get_blas_threads()) {
    set_blas_threads(resolve_threads(n_threads));
  }
  ~BlasThreadScope() { set_blas_threads(previous_); }
  BlasThreadScope(const BlasThreadScope&) = delete;
  BlasThreadScope& operator=(const BlasThreadScope&) = delete;

 private:
  int previous_;
};

}  // namespace scalinglab
