// Unit tests of dynamics.hpp: the eigenbasis evaluation against explicit iteration, the infinite
// limit, kernel GF with a linear Gram, SGD with B = P, thread independence, input checks.
#include <cmath>
#include <stdexcept>
#include <vector>

#include "check.hpp"
#include "scalinglab/dynamics.hpp"

using namespace scalinglab;
using namespace scalinglab::dynamics;

namespace {

LinearTask power_law(double a, double b, Index M, double noise) {
  LinearTask task;
  task.spectrum.resize(M);
  task.target.resize(M);
  for (Index k = 0; k < M; ++k) {
    task.spectrum[k] = std::pow(k + 1.0, -b);
    task.target[k] = std::pow(k + 1.0, -(a - b) / 2.0);
  }
  task.noise = noise;
  return task;
}

// Explicit GD iteration on the simulator's own draws: (test, train) after `steps` steps.
void iterate_gd(const LinearTask& task, Index N, Index P, double eta, int steps, std::uint64_t key,
                double& test, double& train) {
  RunControl control;
  control.n_threads = 1;
  RowMatrix<double> psi;
  Vector<double> eps;
  data_rows(task, key, 0, P, psi, eps, control);
  const RowMatrix<double> A = projection_rows(key, 0, N, task.M(), control);
  const Vector<double> y = psi * task.target + eps;
  const RowMatrix<double> F = psi * A.transpose() / std::sqrt(static_cast<double>(N));
  Vector<double> w = Vector<double>::Zero(N);
  for (int s = 0; s < steps; ++s) w += eta * F.transpose() * (y - F * w) / static_cast<double>(P);
  const Vector<double> v = task.target - A.transpose() * w / std::sqrt(static_cast<double>(N));
  test = v.cwiseAbs2().dot(task.spectrum);
  train = (y - F * w).squaredNorm() / static_cast<double>(P);
}

}  // namespace

int main() {
  // mode_factors: limits and precision.
  {
    Schedule gf;
    double decay, phi;
    mode_factors(0.0, 3.0, gf, decay, phi);
    CHECK(decay == 1.0 && phi == 3.0);
    mode_factors(1e-12, 2.0, gf, decay, phi);
    // (1 - e^{-mu t})/mu = t (1 - mu t / 2 + ...): full relative precision (a few ulp), where
    // the naive (1 - exp(-mu t))/mu would lose 4 digits.
    CHECK_CLOSE(phi, 2.0 * (1.0 - 1e-12), 4e-16);
    Schedule gd{Optimizer::kGradientDescent, 0.5};
    mode_factors(1.0, 4.0, gd, decay, phi);
    CHECK_CLOSE(decay, std::pow(0.5, 4), 1e-15);
    CHECK_CLOSE(phi, (1.0 - std::pow(0.5, 4)) / 1.0, 1e-15);
    mode_factors(3.0, 3.0, gd, decay, phi);  // eta mu = 1.5: oscillating, (-0.5)^3
    CHECK_CLOSE(decay, -0.125, 1e-15);
  }

  const LinearTask task = power_law(2.0, 1.5, 50, 0.1);
  RunControl control;
  control.n_threads = 1;

  // N = P = infinity: the closed form sum lambda w*^2 e^{-2 lambda t}.
  {
    GridSpec grid;
    grid.N = {kInfinite};
    grid.P = {kInfinite};
    grid.times = {0.0, 1.0, 10.0, 1000.0};
    RowMatrix<double> test(1, 4), train(1, 4);
    linear_learning_curves(task, grid, 1, test, train, control);
    for (Index j = 0; j < 4; ++j) {
      double exact = 0;
      for (Index k = 0; k < task.M(); ++k)
        exact += task.spectrum[k] * task.target[k] * task.target[k] *
                 std::exp(-2.0 * task.spectrum[k] * grid.times[static_cast<std::size_t>(j)]);
      CHECK_CLOSE(test(0, j), exact, 1e-12 * exact);
      CHECK_CLOSE(train(0, j), exact + task.noise, 1e-12);
    }
  }

  // GD in the eigenbasis = explicit GD iteration, on both sides (N < P and N > P).
  for (Index N : {12, 40}) {
    const Index P = 25;
    GridSpec grid;
    grid.N = {N};
    grid.P = {P};
    grid.times = {0.0, 1.0, 17.0, 60.0};
    grid.schedule = Schedule{Optimizer::kGradientDescent, 0.7};
    RowMatrix<double> test(1, 4), train(1, 4);
    linear_learning_curves(task, grid, 9, test, train, control);
    for (Index j = 0; j < 4; ++j) {
      double t_direct, tr_direct;
      iterate_gd(task, N, P, 0.7, static_cast<int>(grid.times[static_cast<std::size_t>(j)]), 9, t_direct,
                 tr_direct);
      CHECK_CLOSE(test(0, j), t_direct, 1e-10 * t_direct);
      CHECK_CLOSE(train(0, j), tr_direct, 1e-10 * tr_direct);
    }
  }

  // Kernel GD with the linear-RF Gram reproduces the train loss of the feature path.
  {
    const Index N = 20, P = 30;
    RowMatrix<double> psi;
    Vector<double> eps;
    data_rows(task, 4, 0, P, psi, eps, control);
    const RowMatrix<double> A = projection_rows(4, 0, N, task.M(), control);
    const RowMatrix<double> F = psi * A.transpose() / std::sqrt(static_cast<double>(N));
    const RowMatrix<double> K = F * F.transpose();
    const Vector<double> y = psi * task.target + eps;
    const std::vector<double> times = {0.0, 2.0, 50.0};
    RowMatrix<double> ktest(1, 3), ktrain(1, 3), test(1, 3), train(1, 3);
    const RowMatrix<double> no_test(0, P);
    const Vector<double> no_labels(0);
    kernel_learning_curves(K, no_test, y, no_labels, {P}, times, Schedule{}, ktest, ktrain, control);
    GridSpec grid;
    grid.N = {N};
    grid.P = {P};
    grid.times = times;
    linear_learning_curves(task, grid, 4, test, train, control);
    for (Index j = 0; j < 3; ++j) {
      CHECK_CLOSE(ktrain(0, j), train(0, j), 1e-10 * train(0, j));
      CHECK(std::isnan(ktest(0, j)));
    }
  }

  // SGD with B = P is full-batch GD whatever the sample order.
  {
    SgdSpec spec;
    spec.N = {15};
    spec.P = {20};
    spec.steps = {0, 5, 40};
    spec.batch_size = 20;
    spec.learning_rate = 0.6;
    RowMatrix<double> test(1, 3), train(1, 3);
    sgd_learning_curves(task, spec, 8, test, train, control);
    GridSpec grid;
    grid.N = {15};
    grid.P = {20};
    grid.times = {0.0, 5.0, 40.0};
    grid.schedule = Schedule{Optimizer::kGradientDescent, 0.6};
    RowMatrix<double> gd_test(1, 3), gd_train(1, 3);
    linear_learning_curves(task, grid, 8, gd_test, gd_train, control);
    for (Index j = 0; j < 3; ++j) {
      CHECK_CLOSE(test(0, j), gd_test(0, j), 1e-10 * gd_test(0, j));
      CHECK_CLOSE(train(0, j), gd_train(0, j), 1e-10 * gd_train(0, j));
    }
  }

  // Same numbers for 1 and 2 threads (ensemble, Wishart path, nested grid).
  {
    GridSpec grid;
    grid.N = {30, 80};
    grid.P = {40, kInfinite};
    grid.times = {1.0, 100.0};
    grid.ensemble = 2;
    grid.wishart = true;
    RowMatrix<double> a(4, 2), b(4, 2), c(4, 2), d(4, 2);
    linear_learning_curves(task, grid, 3, a, b, control);
    RunControl two;
    two.n_threads = 2;
    linear_learning_curves(task, grid, 3, c, d, two);
    CHECK(((a - c).cwiseAbs().array() <= 1e-13 * a.cwiseAbs().array()).all());
    CHECK(((b - d).cwiseAbs().array() <= 1e-13 * b.cwiseAbs().array()).all());
  }

  // Bad input names the argument.
  {
    GridSpec grid;
    grid.N = {50, 20};
    grid.P = {10};
    grid.times = {1.0};
    RowMatrix<double> test(2, 1), train(2, 1);
    bool threw = false;
    try {
      linear_learning_curves(task, grid, 1, test, train, control);
    } catch (const std::invalid_argument& e) {
      threw = std::string(e.what()).find("`N`") != std::string::npos;
    }
    CHECK(threw);
  }
  TEST_MAIN_RETURN();
}
