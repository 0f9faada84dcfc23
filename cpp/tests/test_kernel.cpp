// Unit tests of kernel.hpp: streamed Grams against explicit features, checkpoints, cross Grams,
// interruption and progress, analytic kernels and the convergence of one to the other.
#include <omp.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "check.hpp"
#include "scalinglab/kernel.hpp"
#include "scalinglab/random.hpp"

using namespace scalinglab;

namespace {

RowMatrix<double> gaussian_matrix(Index rows, Index cols, std::uint64_t seed) {
  RowMatrix<double> M(rows, cols);
  random::fill_normal(seed, random::kStreamUser, 0, M.data(), static_cast<std::size_t>(M.size()));
  return M;
}

double max_abs(const RowMatrix<double>& A) { return A.cwiseAbs().maxCoeff(); }

}  // namespace

int main() {
  const Index d = 8;
  const RowMatrix<double> X = gaussian_matrix(25, d, 1);
  const RowMatrix<double> Z = gaussian_matrix(6, d, 2);
  RunControl control;
  control.n_threads = 2;

  // Streamed Grams equal Phi Phi^T / N built from explicit features, at every checkpoint.
  RandomFeatureMap map(d, 3000, Activation::kTanh, 31);
  const RowMatrix<double> phi_x = map.transform<double>(X, 0, 3000, control);
  const RowMatrix<double> phi_z = map.transform<double>(Z, 0, 3000, control);
  const std::vector<std::uint64_t> marks = {1, 50, 1000, 3000};
  auto grams = streamed_grams<double>(map, X, Z, true, marks, 256, control);
  CHECK(grams.gram.size() == 4 && grams.cross.size() == 4);
  for (std::size_t k = 0; k < marks.size(); ++k) {
    const Index N = static_cast<Index>(marks[k]);
    const RowMatrix<double> expected = phi_x.leftCols(N) * phi_x.leftCols(N).transpose() / N;
    const RowMatrix<double> expected_cross = phi_z.leftCols(N) * phi_x.leftCols(N).transpose() / N;
    CHECK_CLOSE(max_abs(grams.gram[k] - expected), 0.0, 1e-13);
    CHECK_CLOSE(max_abs(grams.cross[k] - expected_cross), 0.0, 1e-13);
    CHECK(grams.gram[k] == grams.gram[k].transpose());
  }
  CHECK_CLOSE(max_abs(streamed_gram<double>(map, X, control) - grams.gram.back()), 0.0, 1e-13);
  CHECK_CLOSE(max_abs(streamed_cross_gram<double>(map, Z, X, control) - grams.cross.back()), 0.0,
              1e-13);

  // float32 Grams agree with float64 to float32 accuracy.
  const RowMatrix<float> X32 = X.cast<float>();
  const RowMatrix<float> gram32 = streamed_gram<float>(map, X32, control);
  CHECK_CLOSE(max_abs(gram32.cast<double>() - grams.gram.back()), 0.0, 1e-5);

  // Bad checkpoints name the argument.
  bool named = false;
  try {
    streamed_grams<double>(map, X, Z, true, {10, 5}, 0, control);
  } catch (const std::invalid_argument& e) {
    named = std::string(e.what()).find("`checkpoints`") != std::string::npos;
  }
  CHECK(named);

  // A stop request ends the pass between blocks; progress reaches 1 in increasing steps.
  RunControl stopping = control;
  int polls = 0;
  stopping.should_stop = [&polls] { return ++polls > 3; };
  bool interrupted = false;
  try {
    streamed_grams<double>(map, X, Z, true, {}, 100, stopping);
  } catch (const Interrupted&) {
    interrupted = true;
  }
  CHECK(interrupted && polls == 4);
  std::vector<double> fractions;
  RunControl reporting = control;
  reporting.on_progress = [&fractions](double f) { fractions.push_back(f); };
  streamed_grams<double>(map, X, Z, true, {}, 1000, reporting);
  CHECK(fractions.size() == 3 && fractions.back() == 1.0 && fractions[0] < fractions[1]);

  // Called from inside an embedding program's OpenMP parallel region, the threaded BLAS jobs still
  // all run at once (no deadlock) and the Gram is unchanged. Sizes large enough for OpenBLAS to
  // split its calls into several jobs.
  {
    const RowMatrix<double> X_big = gaussian_matrix(300, 50, 7);
    RandomFeatureMap wide(50, 2000, Activation::kRelu, 8);
    const RowMatrix<double> alone = streamed_gram<double>(wide, X_big, control);
    RowMatrix<double> nested[2];
#pragma omp parallel num_threads(2)
    nested[omp_get_thread_num()] = streamed_gram<double>(wide, X_big, control);
    CHECK_CLOSE(max_abs(nested[0] - alone), 0.0, 1e-12);
    CHECK_CLOSE(max_abs(nested[1] - alone), 0.0, 1e-12);
  }

  // Analytic kernels: special values.
  RowMatrix<double> x(1, 3), y(1, 3);
  x << 3, 4, 0;
  y << 0, 0, 2;
  CHECK_CLOSE(arccos_kernel(x, x, 1)(0, 0), 12.5, 1e-13);
  CHECK_CLOSE(arccos_kernel(x, y, 1)(0, 0), 10.0 / (2 * M_PI), 1e-13);
  CHECK_CLOSE(arccos_kernel(x, y, 0)(0, 0), 0.25, 1e-15);
  CHECK_CLOSE(arcsin_kernel(x, x)(0, 0), 2 / M_PI * std::asin(50.0 / 51.0), 1e-15);
  CHECK_CLOSE(rbf_kernel(x, y, 2.0)(0, 0), std::exp(-29.0 / 8.0), 1e-15);
  CHECK_CLOSE(linear_kernel(x, y)(0, 0), 0.0, 0.0);
  bool tanh_refused = false;
  try {
    infinite_width_kernel(Activation::kTanh, 1.0, x, x);
  } catch (const std::invalid_argument& e) {
    tanh_refused = std::string(e.what()).find("`activation`") != std::string::npos;
  }
  CHECK(tanh_refused);

  // The ReLU Gram converges to the arc-cosine kernel: error at N = 2^16 within 6 / sqrt(N)
  // times the kernel scale (the max over 325 entries of ~N(0, Var/N) errors, Var <= 2 K^2).
  const Index n_big = 1 << 16;
  RandomFeatureMap relu(d, n_big, Activation::kRelu, 5);
  const RowMatrix<double> limit = infinite_width_kernel(Activation::kRelu, 1.0, X, X);
  const RowMatrix<double> gram = streamed_gram<double>(relu, X, control);
  const double error = max_abs(gram - limit);
  CHECK(error < 6.0 / std::sqrt(double(n_big)) * max_abs(limit));
  CHECK(error > 0.05 / std::sqrt(double(n_big)) * max_abs(limit));  // it is a random estimate
  TEST_MAIN_RETURN();
}
