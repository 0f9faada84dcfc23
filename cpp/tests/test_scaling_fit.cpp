// Unit tests of scaling_fit.hpp: the LSE prediction against the closed form, the analytic gradient
// against central differences, noise-free recovery from a poor start, scale invariance of the
// optimum, thread-independent multi-start and bootstrap results, and cluster-bootstrap counts.
#include <cmath>
#include <cstdint>
#include <vector>

#include "check.hpp"
#include "scalinglab/scaling_fit.hpp"

using namespace scalinglab;
using namespace scalinglab::scaling_fit;

int main() {
  // Chinchilla truth (Hoffmann et al. rounded) on 9 budgets x 11 sizes around N_opt.
  const double E = 1.69, A = 406.4, B = 410.7, alpha = 0.34, beta = 0.28;
  const double G = std::pow(alpha * A / (beta * B), 1 / (alpha + beta)), a = beta / (alpha + beta);
  std::vector<double> x, y, target;
  for (int k = 0; k < 9; ++k) {
    const double C = 6e18 * std::pow(500.0, k / 8.0);
    for (int j = 0; j < 11; ++j) {
      const double N = G * std::pow(C / 6, a) * std::pow(10.0, -1 + 0.2 * j), D = C / (6 * N);
      x.push_back(std::log(N));
      y.push_back(std::log(D));
      target.push_back(std::log(E + A * std::pow(N, -alpha) + B * std::pow(D, -beta)));
    }
  }
  Problem pb;
  pb.form = Form::kChinchilla;
  pb.x = x.data();
  pb.y = y.data();
  pb.target = target.data();
  pb.n = Index(x.size());
  const double truth[5] = {std::log(A), std::log(B), std::log(E), alpha, beta};

  // 1. Prediction equals log(E + A N^-alpha + B D^-beta) to 1e-12.
  {
    std::vector<double> pred(x.size());
    log_prediction(pb, truth, pred.data(), nullptr);
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(pred[i] - target[i]));
    CHECK(worst < 1e-12);
  }
  // 2. Gradient against central differences (off the optimum, Huber branch mixed).
  {
    Workspace ws(pb);
    double theta[5] = {6.1, 5.9, 0.5, 0.35, 0.27}, g[5], scratch[5];
    objective(pb, theta, g, nullptr, ws);
    for (int j = 0; j < 5; ++j) {
      double up[5], down[5];
      for (int k = 0; k < 5; ++k) up[k] = down[k] = theta[k];
      up[j] += 1e-6;
      down[j] -= 1e-6;
      const double fd = (objective(pb, up, scratch, nullptr, ws) -
                         objective(pb, down, scratch, nullptr, ws)) / 2e-6;
      CHECK_CLOSE(g[j], fd, 1e-6 * std::abs(fd) + 1e-6);
    }
  }
  // 3. Noise-free recovery from a poor start; 4. the same optimum whatever the scale.
  for (double scale : {1e6, 1.0, 1.0 / 99}) {
    pb.scale = scale;
    Workspace ws(pb);
    Vector<double> start(5);
    start << 6.17, 7.67, 0.6, 0.347, 0.367;  // (478, 2143, 1.817, 0.347, 0.367)
    const MinimizeResult r = polish(pb, start, MinimizeOptions{}, nullptr, ws, 6);
    for (int j = 0; j < 5; ++j) CHECK_CLOSE(r.theta[j], truth[j], 1e-6 * std::abs(truth[j]));
  }
  pb.scale = 1e6;
  // 5. Multi-start and bootstrap: identical for 1 and 2 threads; counts are per cluster.
  {
    RowMatrix<double> starts(6, 5);
    for (int s = 0; s < 6; ++s) starts.row(s) << 5.0 * s, 25.0 - 5.0 * s, 0.5 - 0.2 * s, 0.5, 1.0;
    RunControl one, two;
    one.n_threads = 1;
    two.n_threads = 2;
    const MultiStartResult r1 = fit_multistart(pb, starts, MinimizeOptions{}, MinimizeOptions{}, 3, one);
    const MultiStartResult r2 = fit_multistart(pb, starts, MinimizeOptions{}, MinimizeOptions{}, 3, two);
    CHECK(r1.theta == r2.theta && r1.best_theta == r2.best_theta);
    CHECK(std::abs(r1.best_theta[3] - alpha) < 1e-6);
    std::vector<std::int64_t> group(x.size()), stratum(9, 0);
    for (std::size_t i = 0; i < x.size(); ++i) group[i] = std::int64_t(i / 11);
    const RowMatrix<std::int32_t> c1 = bootstrap_counts(3, group, stratum, 50, one);
    const RowMatrix<std::int32_t> c2 = bootstrap_counts(3, group, stratum, 50, two);
    CHECK(c1 == c2);
    bool constant_within_runs = true, nine_runs = true;
    for (Index b = 0; b < 50; ++b) {
      std::int64_t total = 0;
      for (Index i = 0; i < pb.n; ++i) {
        constant_within_runs &= c1(b, i) == c1(b, (i / 11) * 11);
        total += c1(b, i);
      }
      nine_runs &= total == 99;
    }
    CHECK(constant_within_runs && nine_runs);
    const BootstrapResult b1 = bootstrap_refits(pb, r1.best_theta, c1, MinimizeOptions{}, one);
    const BootstrapResult b2 = bootstrap_refits(pb, r1.best_theta, c1, MinimizeOptions{}, two);
    CHECK(b1.theta == b2.theta);
  }
  // 6. Bad input names the argument.
  CHECK(test::throws_invalid_argument([&] {
    Problem bad = pb;
    bad.delta = -1;
    bad.validate();
  }));
  TEST_MAIN_RETURN();
}
