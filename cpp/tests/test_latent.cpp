// Unit tests of latent.hpp: samples keyed by sample index (any range, thread count), streamed
// moments equal to the explicit products for any block size, and argument checks.
#include <cmath>

#include "check.hpp"
#include "scalinglab/latent.hpp"
#include "scalinglab/random.hpp"

using namespace scalinglab;

int main() {
  const Index M = 37;
  Vector<double> sd(M), power(M);
  for (Index I = 0; I < M; ++I) {
    sd[I] = std::pow(I + 1.0, -1.0);
    power[I] = 1.0 / M * (1 + (I % 3));
  }
  RunControl one, many;
  one.n_threads = 1;
  many.n_threads = 3;

  // Sample s is the same whatever range and thread count produce it.
  const auto all = latent::samples(5, random::kStreamLatentData, sd, 0, 20, many);
  const auto part = latent::samples(5, random::kStreamLatentData, sd, 7, 12, one);
  CHECK(all.rows() == 20 && all.cols() == M);
  CHECK((part.array() == all.middleRows(7, 5).array()).all());
  const auto test = latent::samples(5, random::kStreamLatentTest, sd, 0, 4, one);
  CHECK((test.row(0).array() != all.row(0).array()).any());
  // Entry (s, I) is sqrt(lambda_I) times normal number s M + I.
  double raw[1024];
  random::fill_normal(5, random::kStreamLatentData, 0, raw, 1024);
  CHECK_CLOSE(all(3, 4), sd[4] * raw[3 * M + 4], 1e-15);

  // Moments against explicit products.
  const Index n_train = 9, n_test = 4, N = 11;
  const auto m1 = latent::moments(5, sd, power, n_train, n_test, 77, N, 8, many);
  const auto m2 = latent::moments(5, sd, power, n_train, n_test, 77, N, 0, one);
  RowMatrix<double> X(n_train + n_test, M);
  X.topRows(n_train) = all.topRows(n_train);
  X.bottomRows(n_test) = test;
  RowMatrix<double> u(N, M);
  for (Index j = 0; j < N; ++j) {
    Vector<double> row(M);
    random::fill_normal(77, random::kStreamFeatureWeights, static_cast<std::uint64_t>(j * M),
                        row.data(), static_cast<std::size_t>(M));
    u.row(j) = row.transpose() / std::sqrt(double(M));
  }
  const Vector<double> lambda = sd.array().square().matrix();
  const RowMatrix<double> Z = X * u.transpose();
  const RowMatrix<double> cross = X * (power.array() * lambda.array()).matrix().asDiagonal() * u.transpose();
  const RowMatrix<double> gram = X * power.asDiagonal() * X.transpose();
  const RowMatrix<double> q = u * lambda.asDiagonal() * u.transpose();
  CHECK((m1.preactivations - Z).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((m1.teacher_cross - cross).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((m1.teacher_gram - gram).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((m1.feature_covariance - q).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((m1.preactivations - m2.preactivations).cwiseAbs().maxCoeff() < 1e-13);

  // Bad input names the argument.
  CHECK(test::throws_invalid_argument(
      [&] { latent::moments(5, sd, power, 0, 0, 1, N, 0, one); }));
  CHECK(test::throws_invalid_argument(
      [&] { latent::moments(5, sd, Vector<double>::Ones(3), 2, 0, 1, N, 0, one); }));
  CHECK(test::throws_invalid_argument(
      [&] { latent::samples(5, random::kStreamLatentData, sd, 4, 2, one); }));
  TEST_MAIN_RETURN();
}
