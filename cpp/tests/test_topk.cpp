// Unit tests of topk.hpp: the streamed top-k eigenvalues against syevd of the explicit Gram,
// orthonormal Ritz vectors with small residuals, the same result for any thread count and
// feature block size, the non-convergence status, argument checks.
#include <algorithm>
#include <cmath>

#include "check.hpp"
#include "scalinglab/blas.hpp"
#include "scalinglab/random.hpp"
#include "scalinglab/topk.hpp"

using namespace scalinglab;

int main() {
  const Index P = 300, d = 5;
  RowMatrixXd X(P, d);
  random::fill_normal(7, random::kStreamUser, 0, X.data(), static_cast<std::size_t>(X.size()));
  const RandomFeatureMap map(d, 700, Activation::kRelu, 3);
  RunControl control;
  control.n_threads = 2;

  // Dense reference: K = Phi Phi^T / N, eigenvalues by syevd.
  const RowMatrixXd Phi = map.transform<double>(X, 0, 700, control);
  ColMatrix<double> K = (Phi * Phi.transpose() / 700.0).eval();
  Vector<double> dense;
  blas::syevd(K, dense, false);
  std::reverse(dense.data(), dense.data() + dense.size());

  TopKOptions options;
  options.k = 40;
  options.vectors = true;
  options.tol = 1e-8;
  options.max_iterations = 300;
  options.seed = 11;
  const TopKResult result = feature_gram_topk(map, X, options, control);
  CHECK(result.status == TopKStatus::kConverged);
  CHECK(result.n_converged == 40);
  for (Index i = 0; i < 40; ++i)
    CHECK_CLOSE(result.eigenvalues(i) / dense(i), 1.0, 1e-10);
  const Eigen::MatrixXd gram = result.vectors.transpose() * result.vectors;
  CHECK((gram - Eigen::MatrixXd::Identity(40, 40)).cwiseAbs().maxCoeff() < 1e-10);
  const Eigen::MatrixXd KV = (Phi * (Phi.transpose() * result.vectors)) / 700.0;
  for (Index i = 0; i < 40; ++i)
    CHECK((KV.col(i) - result.eigenvalues(i) * result.vectors.col(i)).norm() <=
          1e-8 * result.eigenvalues(i) * 1.01 + 1e-14);

  // Same numbers for one thread and a different feature block size.
  RunControl one;
  one.n_threads = 1;
  TopKOptions other = options;
  other.block_size = 64;
  const TopKResult again = feature_gram_topk(map, X, other, one);
  CHECK(again.iterations == result.iterations);
  CHECK((again.eigenvalues - result.eigenvalues).cwiseAbs().maxCoeff() <= 1e-12 * dense(0));

  // Too few passes: a status, not an exception.
  TopKOptions short_run = options;
  short_run.max_iterations = 2;
  const TopKResult stopped = feature_gram_topk(map, X, short_run, control);
  CHECK(stopped.status == TopKStatus::kMaxIterations);
  CHECK(stopped.iterations == 2 && stopped.n_converged < 40);

  TopKOptions bad = options;
  bad.k = P + 1;
  CHECK(test::throws_invalid_argument([&] { feature_gram_topk(map, X, bad, control); }));
  bad = options;
  bad.tol = 0;
  CHECK(test::throws_invalid_argument([&] { feature_gram_topk(map, X, bad, control); }));
  return test::failures();
}
