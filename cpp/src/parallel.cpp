#include "scalinglab/parallel.hpp"

#include <omp.h>

#include <atomic>
#include <stdexcept>
#include <string>

#include "scalinglab/blas.hpp"

#if defined(SCALINGLAB_HAVE_OPENBLAS)
extern "C" {
void SCALINGLAB_BLAS(openblas_set_num_threads)(int);
int SCALINGLAB_BLAS(openblas_get_num_threads)(void);
}
#endif

namespace scalinglab {

int resolve_threads(int n_threads) {
  if (n_threads < 0)
    throw std::invalid_argument("`n_threads`: must be >= 0 (0 = all cores), got " +
                                std::to_string(n_threads));
  if (n_threads > kMaxThreads)
    throw std::invalid_argument("`n_threads`: must be <= " + std::to_string(kMaxThreads) +
                                " (0 = all cores), got " + std::to_string(n_threads));
  // omp_get_num_procs honours the process's CPU affinity mask (cgroups, taskset). More threads
  // than cores never speed up these compute-bound loops, and tens of thousands of threads make
  // libgomp fail (or per-thread buffers exhaust memory), so requests are clamped to the cores.
  const int cores = omp_get_num_procs() > 0 ? omp_get_num_procs() : 1;
  if (n_threads == 0) return cores;
  return n_threads < cores ? n_threads : cores;
}

namespace {
std::atomic<Index> g_parallel_eigen_dimension{2700};
}  // namespace

Index parallel_eigen_dimension() { return g_parallel_eigen_dimension.load(); }

void set_parallel_eigen_dimension(Index n) {
  if (n < 0)
    throw std::invalid_argument("`dimension`: must be >= 0, got " + std::to_string(n));
  g_parallel_eigen_dimension.store(n);
}

int eigen_threads(int n_threads, Index n) {
  if (n_threads != 0) return resolve_threads(n_threads);
  return n < parallel_eigen_dimension() ? 1 : resolve_threads(0);
}

void set_blas_threads(int n_threads) {
#if defined(SCALINGLAB_HAVE_OPENBLAS)
  SCALINGLAB_BLAS(openblas_set_num_threads)(n_threads);
#else
  (void)n_threads;
#endif
}

int get_blas_threads() {
#if defined(SCALINGLAB_HAVE_OPENBLAS)
  return SCALINGLAB_BLAS(openblas_get_num_threads)();
#else
  return 1;
#endif
}

}  // namespace scalinglab
